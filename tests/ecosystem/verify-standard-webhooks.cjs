// Verifies webhook deliveries with the Standard Webhooks reference library (npm
// `standardwebhooks`), not with Tessera's code: `node verify-standard-webhooks.cjs
// <cases.json>`, where the file holds `[{ name, secret, headers, body, valid }]`. Each
// case must verify exactly when `valid` says; exits 1 otherwise.
'use strict';

const fs = require('fs');
const { Webhook } = require('standardwebhooks');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let wrong = 0;
for (const { name, secret, headers, body, valid } of cases) {
  let verified;
  let reason = '';
  try {
    new Webhook(secret).verify(body, headers);
    verified = true;
  } catch (error) {
    verified = false;
    reason = `: ${error.message}`;
  }
  const ok = verified === valid;
  if (!ok) wrong += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${verified ? 'verified' : 'refused'}${reason})`);
}
console.log(`${cases.length} cases, ${wrong} wrong`);
process.exit(wrong === 0 && cases.length > 0 ? 0 : 1);
