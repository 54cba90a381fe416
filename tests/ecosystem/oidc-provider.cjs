// An OpenID Connect provider for the single sign-on tests, built on the certified
// `oidc-provider` package (not on Tessera's code): `node oidc-provider.cjs --port <n|0>
// --client-id <id> --client-secret <secret> --redirect-uri <relying party callback>`.
// One confidential client (client_secret_basic or _post), code flow only, PKCE S256
// required, scopes `openid email profile`, RS256 ID tokens that carry `email` and
// `email_verified`. Sign-in is the package's development login form: any login name is
// an account whose `sub` and `email` are that name, verified unless it starts with
// `unverified-`; consent is granted without asking. Besides the provider's own routes:
// `POST /__rotate` replaces the signing key with a new RSA key (answers `{"kid"}`), and
// `GET /__health` answers 200. Once listening it prints one JSON line
// `{"issuer","port"}`; it runs until killed or until its stdin closes.
'use strict';

const crypto = require('crypto');
const http = require('http');
const { pathToFileURL } = require('url');

function options() {
  const wanted = ['port', 'client-id', 'client-secret', 'redirect-uri'];
  const found = {};
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '');
    if (!wanted.includes(name) || args[i + 1] === undefined) usage(`bad argument ${args[i]}`);
    found[name] = args[i + 1];
  }
  for (const name of wanted) if (found[name] === undefined) usage(`--${name} is missing`);
  return found;
}

function usage(problem) {
  console.error(`${problem}\nusage: oidc-provider.cjs --port <n|0> --client-id <id> `
    + '--client-secret <secret> --redirect-uri <url>');
  process.exit(2);
}

// A fresh RSA signing key as a private JWK with its own kid.
function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `key-${crypto.randomBytes(6).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

// The account behind a login name.
function account(name) {
  return {
    accountId: name,
    claims: () => ({
      sub: name,
      email: name,
      email_verified: !name.startsWith('unverified-'),
      preferred_username: name,
    }),
  };
}

async function main() {
  const args = options();
  // The package is ES modules only: resolve it through NODE_PATH (which `import()`
  // ignores) and import the file.
  const load = async (name) => import(pathToFileURL(require.resolve(name)).href);
  const { default: Provider } = await load('oidc-provider');
  // The package's in-memory store, one for all the providers made here, so that a key
  // rotation keeps sessions, sign-ins under way and codes not yet redeemed.
  const { createMemoryAdapter } = await load('oidc-provider/lib/adapters/memory_adapter.js');
  const adapter = createMemoryAdapter();
  const cookieKeys = [crypto.randomBytes(32).toString('hex')];

  // A provider for `issuer` signing with `key`; re-made on each rotation.
  function makeProvider(issuer, key) {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: args['client-id'],
        client_secret: args['client-secret'],
        redirect_uris: [args['redirect-uri']],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      }],
      clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
      responseTypes: ['code'],
      pkce: { required: () => true }, // S256 is the only method this version knows
      scopes: ['openid', 'email', 'profile'],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['preferred_username'],
      },
      // Scope claims go into the ID token even when an access token is issued too.
      conformIdTokenClaims: false,
      features: { devInteractions: { enabled: true } },
      findAccount: (ctx, sub) => account(sub),
      // Consent without asking: an existing grant, else one for all three scopes.
      async loadExistingGrant(ctx) {
        const grantId = ctx.oidc.result?.consent?.grantId
          || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        const existing = grantId && await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
        const grant = new ctx.oidc.provider.Grant({
          accountId: ctx.oidc.session.accountId,
          clientId: ctx.oidc.client.clientId,
        });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
      },
      jwks: { keys: [key] },
      cookies: { keys: cookieKeys },
      adapter,
    });
    return provider;
  }

  let handle = null;
  let issuer = null;
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/__health' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/__rotate' && req.method === 'POST') {
      const key = signingKey();
      handle = makeProvider(issuer, key).callback();
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kid: key.kid }));
    } else {
      handle(req, res);
    }
  });
  await new Promise((listening) => server.listen(Number(args.port), '127.0.0.1', listening));
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  const provider = makeProvider(issuer, signingKey());
  // The client is checked when first used: check it now (e.g. a secret must be ASCII).
  await provider.Client.find(args['client-id']);
  handle = provider.callback();
  console.log(JSON.stringify({ issuer, port }));

  // Stop with the test that started it: its end of stdin closes when it exits.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
