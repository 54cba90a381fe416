// GraphiQL in a real headless Chromium, as a person would use it, with every request
// that does not go to the server on loopback refused: `node graphiql-browser.cjs
// <base url>` (CHROMIUM names the browser binary; /usr/bin/chromium by default).
// It signs up through the API, opens /graphiql, waits for the documentation explorer
// to list the fields of Query, runs a query with the new access token and reads its
// result, then runs a subscription over /graphql/ws and sees the event a rename
// causes. Exits 1 on the first step that does not happen.
'use strict';

const puppeteer = require('puppeteer-core');

const STEP_TIMEOUT_MS = 20000;

async function graphql(base, query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function step(name, action) {
  process.stdout.write(`${name} … `);
  const result = await action();
  console.log('ok');
  return result;
}

// Sets the text of one of GraphiQL's editors (CodeMirror 5 keeps its instance on the
// wrapper element).
async function setEditor(page, selector, text) {
  await page.waitForSelector(`${selector} .CodeMirror`, { timeout: STEP_TIMEOUT_MS });
  await page.evaluate(
    (sel, value) => document.querySelector(`${sel} .CodeMirror`).CodeMirror.setValue(value),
    selector,
    text,
  );
  // GraphiQL parses the editor's text after a short debounce; running before that would
  // send the new text with the old document's operation type.
  await new Promise((resolve) => setTimeout(resolve, 800));
}

// The text of the documentation explorer, for a failure's message.
async function explorerText(page) {
  return page.evaluate(() => {
    const explorer = document.querySelector('.graphiql-doc-explorer');
    return explorer ? explorer.textContent : '(no explorer)';
  });
}

async function resultText(page) {
  return page.evaluate(() => {
    const result = document.querySelector('.result-window .CodeMirror');
    return result ? result.CodeMirror.getValue() : '';
  });
}

async function waitForResult(page, needle) {
  await page.waitForFunction(
    (text) => {
      const result = document.querySelector('.result-window .CodeMirror');
      return result && result.CodeMirror.getValue().includes(text);
    },
    { timeout: STEP_TIMEOUT_MS },
    needle,
  );
}

async function main() {
  const base = process.argv[2];
  if (!base) throw new Error('usage: graphiql-browser.cjs <base url>');
  const origin = new URL(base).origin;
  const email = `browser-${Date.now()}@example.com`;
  const { signUp } = await graphql(
    base,
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
    {
      input: {
        email,
        password: 'a long enough password',
        displayName: 'Browser Check',
        tenantName: 'Browser Check',
      },
    },
  );
  const token = signUp.accessToken;

  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    ],
  });
  const outside = [];
  const failures = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const url = request.url();
      if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
        request.continue();
      } else {
        outside.push(url);
        request.abort('blockedbyclient');
      }
    });
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => {
      if (request.url().startsWith(origin)) failures.push(`request failed: ${request.url()}`);
    });

    await step('GraphiQL loads', async () => {
      await page.goto(`${base}/graphiql`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('.graphiql-container');
    });

    await step('the documentation explorer lists the fields of Query', async () => {
      await page.click('button[aria-label="Show Documentation Explorer"]');
      await page
        .waitForFunction(
          () => [...document.querySelectorAll('.graphiql-doc-explorer a')].some((a) => a.textContent === 'Query'),
        )
        .catch(async (error) => {
          throw new Error(`${error.message}; the explorer shows: ${await explorerText(page)}`);
        });
      await page.evaluate(() => {
        [...document.querySelectorAll('.graphiql-doc-explorer a')].find((a) => a.textContent === 'Query').click();
      });
      await page.waitForFunction(() => {
        const names = [...document.querySelectorAll('.graphiql-doc-explorer-field-name')].map((n) => n.textContent);
        return names.includes('me') && names.includes('members');
      });
      const text = await page.evaluate(() => document.querySelector('.graphiql-doc-explorer').textContent);
      if (text.includes('Error fetching schema')) throw new Error('the explorer says: Error fetching schema');
    });

    await step('a query runs with the access token and shows its result', async () => {
      await page.evaluate(() => {
        [...document.querySelectorAll('.graphiql-editor-tools button')].find((b) => b.textContent === 'Headers').click();
      });
      await setEditor(
        page,
        '.graphiql-editor-tool .graphiql-editor:not(.hidden)',
        JSON.stringify({ Authorization: `Bearer ${token}` }),
      );
      await setEditor(page, '.graphiql-query-editor', '{ me { email } }');
      await page.click('.graphiql-execute-button');
      await waitForResult(page, email);
    });

    await step('a subscription runs over /graphql/ws and shows an event', async () => {
      await setEditor(page, '.graphiql-query-editor', 'subscription { tenantEvents { type payload } }');
      await page.click('.graphiql-execute-button');
      // Rename the tenant's first workspace until the event shows (the socket has to
      // be subscribed before an event can reach it).
      const { workspaces } = await graphql(base, '{ workspaces(first: 1) { nodes { id } } }', {}, token);
      const id = workspaces.nodes[0].id;
      let seen = false;
      for (let attempt = 0; attempt < 40 && !seen; attempt += 1) {
        await graphql(
          base,
          'mutation($id: ID!, $name: String!) { renameWorkspace(input: { id: $id, name: $name }) { id } }',
          { id, name: `Renamed ${attempt}` },
          token,
        );
        await new Promise((resolve) => setTimeout(resolve, 250));
        seen = (await resultText(page)).includes('workspace.renamed');
      }
      if (!seen) throw new Error(`no event in the result pane: ${await resultText(page)}`);
    });
  } finally {
    await browser.close();
  }
  if (outside.length > 0) console.log(`requests outside the server, refused: ${outside.join(', ')}`);
  if (failures.length > 0) throw new Error(failures.join('\n'));
}

main().catch((error) => {
  console.error(`\n${error.stack || error}`);
  process.exit(1);
});
