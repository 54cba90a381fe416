// Signs in through the test OpenID Connect provider (oidc-provider.cjs) the way a browser
// would: follows redirects with a cookie jar, fills the provider's login form (and its
// consent form, if one shows) and stops at the first redirect that leaves the provider.
//
//   node oidc-sign-in.cjs <start-url> <login-name> [--stop-at-callback]
//     Starts at the relying party (its /sso/start answers a redirect to the provider),
//     then requests the callback with the relying party's cookies and prints
//     {"status","location","body"} of its answer; with --stop-at-callback prints
//     {"callback","cookie"} (the Cookie header the browser would send) without
//     requesting it.
//   node oidc-sign-in.cjs --raw-tokens <issuer> <client-id> <client-secret> <redirect-uri> <login-name>
//     Plays the relying party too (PKCE S256, state, nonce, client_secret_basic) and
//     prints {"id_token","nonce","code_verifier"}.
//
// Exits 1 with the last status and the start of the body on anything unexpected.
'use strict';

const crypto = require('crypto');

function fail(message, status, body) {
  // An HTML page shows as its text (the provider's error pages say what went wrong).
  const text = String(body).replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  const detail = status === undefined ? '' : `\nlast status ${status}: ${text.slice(0, 600)}`;
  console.error(`oidc-sign-in: ${message}${detail}`);
  process.exit(1);
}

// Cookies by host:port, name → value (paths and expiry dates are not kept apart: one
// sign-in at a time).
const jar = new Map();

function cookiesFor(url) {
  const cookies = jar.get(new URL(url).host);
  return cookies ? [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') : '';
}

function keepCookies(url, response) {
  const host = new URL(url).host;
  if (!jar.has(host)) jar.set(host, new Map());
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const at = pair.indexOf('=');
    const name = pair.slice(0, at).trim();
    const gone = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)
      || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
    if (gone) jar.get(host).delete(name);
    else jar.get(host).set(name, pair.slice(at + 1).trim());
  }
}

// One request, no redirects followed; answers { status, location (absolute), body }.
async function request(url, { method = 'GET', form, headers = {} } = {}) {
  const cookie = cookiesFor(url);
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    headers: { ...headers, ...(cookie && { cookie }), ...(form && { 'content-type': 'application/x-www-form-urlencoded' }) },
    body: form && new URLSearchParams(form).toString(),
  }).catch((error) => fail(`${method} ${url}: ${error.cause?.message ?? error.message}`));
  keepCookies(url, response);
  const location = response.headers.get('location');
  return {
    status: response.status,
    location: location && new URL(location, url).href,
    rawLocation: location,
    body: await response.text(),
  };
}

const unescape = (text) => text.replace(/&quot;/g, '"').replace(/&#39;|&#x27;/g, "'")
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// The first POST form of a page: its action and the fields to send, the login name in
// the `login` field and any password in a password field.
function fillForm(html, pageUrl, login) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const attribute = (tag, name) => {
    const match = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
    return match ? unescape(match[2] ?? match[3]) : undefined;
  };
  const fields = {};
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const name = attribute(input, 'name');
    if (!name) continue;
    const type = (attribute(input, 'type') || 'text').toLowerCase();
    if (name === 'login') fields[name] = login;
    else if (type === 'password') fields[name] = 'any password';
    else fields[name] = attribute(input, 'value') ?? '';
  }
  return { action: new URL(attribute(form[1], 'action') || pageUrl, pageUrl).href, fields };
}

// Walks from `url` through the provider until a redirect leaves `providerOrigin` (when
// null: the origin of the first redirect that leaves the start's origin); answers that
// redirect's URL.
async function signIn(url, login, providerOrigin) {
  const startOrigin = new URL(url).origin;
  let step = { method: 'GET' };
  let forms = 0;
  for (let hops = 0; hops < 30; hops += 1) {
    const answer = await request(url, step);
    if (answer.status >= 300 && answer.status < 400) {
      if (!answer.location) fail(`redirect without a Location from ${url}`, answer.status, answer.body);
      const origin = new URL(answer.location).origin;
      if (!providerOrigin) {
        if (origin === startOrigin) fail(`${url} redirects to its own origin`, answer.status, answer.body);
        providerOrigin = origin;
      } else if (origin !== providerOrigin) {
        return answer.location;
      }
      url = answer.location;
      step = { method: 'GET' };
    } else if (answer.status === 200 && providerOrigin && new URL(url).origin === providerOrigin) {
      const form = fillForm(answer.body, url, login);
      if (!form) fail(`no form on ${url}`, answer.status, answer.body);
      if ((forms += 1) > 3) fail('the provider keeps asking', answer.status, answer.body);
      url = form.action;
      step = { method: 'POST', form: form.fields };
    } else {
      fail(`unexpected answer from ${url}`, answer.status, answer.body);
    }
  }
  return fail('too many redirects');
}

const base64url = (bytes) => bytes.toString('base64url');

async function rawTokens([issuer, clientId, clientSecret, redirectUri, login]) {
  if (!login) fail('usage: --raw-tokens <issuer> <client-id> <client-secret> <redirect-uri> <login-name>');
  const discovery = await request(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (discovery.status !== 200) fail('no discovery document', discovery.status, discovery.body);
  const { authorization_endpoint: authorize, token_endpoint: tokenEndpoint } = JSON.parse(discovery.body);

  const state = base64url(crypto.randomBytes(16));
  const nonce = base64url(crypto.randomBytes(16));
  const codeVerifier = base64url(crypto.randomBytes(32));
  const start = new URL(authorize);
  start.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: base64url(crypto.createHash('sha256').update(codeVerifier).digest()),
    code_challenge_method: 'S256',
  }).toString();

  const callback = new URL(await signIn(start.href, login, new URL(issuer).origin));
  const got = Object.fromEntries(callback.searchParams);
  if (got.error) fail(`the provider refused: ${got.error} ${got.error_description ?? ''}`);
  if (got.state !== state || !got.code) fail(`unexpected callback ${callback.href}`);

  // client_secret_basic: both halves form-encoded, as RFC 6749 section 2.3.1 says.
  const encode = (text) => encodeURIComponent(text).replace(/%20/g, '+');
  const basic = Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64');
  const token = await request(tokenEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}` },
    form: { grant_type: 'authorization_code', code: got.code, redirect_uri: redirectUri, code_verifier: codeVerifier },
  });
  if (token.status !== 200) fail('the token request failed', token.status, token.body);
  const { id_token: idToken } = JSON.parse(token.body);
  console.log(JSON.stringify({ id_token: idToken, nonce, code_verifier: codeVerifier }));
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--raw-tokens') return rawTokens(args.slice(1));
  const stop = args.includes('--stop-at-callback');
  const [startUrl, login] = args.filter((arg) => arg !== '--stop-at-callback');
  if (!login) fail('usage: oidc-sign-in.cjs <start-url> <login-name> [--stop-at-callback]');

  const callback = await signIn(startUrl, login, null);
  if (stop) {
    console.log(JSON.stringify({ callback, cookie: cookiesFor(callback) }));
    return;
  }
  const answer = await request(callback);
  console.log(JSON.stringify({ status: answer.status, location: answer.rawLocation, body: answer.body }));
}

main().catch((error) => fail(error.stack));
