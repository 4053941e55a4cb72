// A real OpenID Provider for the end-to-end tests: npm's oidc-provider (OpenID Certified), with
// its development sign-in form, which accepts any login name and any password.
//
//   node server.mjs CLIENT_ID CLIENT_SECRET
//
// Listens on a free port of 127.0.0.1 and prints `listening PORT`; the issuer is
// http://127.0.0.1:PORT. It then reads the client's redirect URI from its first line of input
// (the client, started with the issuer, only then knows its own address) and prints `ready`. The account a login names has the e-mail LOGIN@example.org (verified)
// and, for the logins listed in ROLES, a `roles` claim. The ID token of the code flow leaves
// the e-mail out (oidc-provider's default, as the spec prefers): the client reads it from
// userinfo.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

const [clientId, clientSecret] = process.argv.slice(2);
if (!clientId || !clientSecret) {
  console.error('usage: node server.mjs CLIENT_ID CLIENT_SECRET');
  process.exit(2);
}

const ROLES = {
  ana: ['restorer'],
  olga: ['staff', 'operator', 'viewer'],
};

const server = createServer();
const input = createInterface({ input: process.stdin });

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`listening ${port}`);
  const [redirectUri] = await input[Symbol.asyncIterator]().next().then(({ value }) => [value?.trim()]);
  if (!redirectUri) {
    console.error('no redirect URI on the first line of input');
    process.exit(2);
  }
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    // `roles` comes with every token, like Keycloak's realm roles mapper.
    claims: { openid: ['sub', 'roles'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['a key only the tests use, never a secret'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          const claims = { sub: id, email: `${id}@example.org`, email_verified: true, name: id };
          if (ROLES[id]) claims.roles = ROLES[id];
          return claims;
        },
      };
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log('ready');
});
// The test that started it is gone when its input closes.
input.on('close', () => process.exit(0));

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
