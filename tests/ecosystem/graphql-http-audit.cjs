// The GraphQL-over-HTTP audit of the `graphql-http` package, run against a Tessera
// server: `node graphql-http-audit.cjs <url of /graphql>`. Every MUST and every SHOULD
// has to pass; a MAY that is not offered is listed and allowed. Exits 1 otherwise.
'use strict';

const { auditServer } = require('graphql-http');

async function main() {
  const url = process.argv[2];
  if (!url) throw new Error('usage: graphql-http-audit.cjs <url>');
  const results = await auditServer({ url });
  let required = 0;
  let missed = 0;
  for (const result of results) {
    const level = result.name.split(' ')[0];
    const counts = level === 'MUST' || level === 'SHOULD';
    if (counts) required += 1;
    if (result.status === 'ok') {
      console.log(`ok    ${result.name}`);
    } else {
      if (counts) missed += 1;
      console.log(`${counts ? 'FAIL ' : 'note '} ${result.name}: ${result.reason}`);
    }
  }
  console.log(`${results.length} audits: ${required - missed} of ${required} MUST/SHOULD pass`);
  process.exit(missed === 0 && required > 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
