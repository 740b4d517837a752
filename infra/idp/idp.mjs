// The local identity provider of the privacy team's console: oidc-provider
// (a certified OpenID Connect provider, from npm), standing in for the
// stack's Amazon Cognito user pool. It issues what Cognito's hosted login
// does for the console's app client: the authorization-code flow with PKCE
// (S256, required), ID tokens signed RS256 with the key its JWKS publishes,
// carrying email and the user's groups as "cognito:groups", with an
// access token its userinfo endpoint answers for and a refresh token, both
// revocable (RFC 7009), as Cognito's are. It holds one seeded user per
// group, printed at start; their passwords are for development only.
// POST /local/remove-from-group (username, group) takes a user out of a
// group and revokes every token of theirs, as an administrator does in
// Cognito with admin-remove-user-from-group and admin-user-global-sign-out.
//
//   node infra/idp/idp.mjs PORT REDIRECT_URI [REDIRECT_URI...]
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// oidc-provider is installed by `make tools` into .tools/node.
const modules = process.env.PK_NODE_MODULES ||
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.tools', 'node', 'node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const [port, ...redirectUris] = process.argv.slice(2);
if (!port || redirectUris.length === 0) {
  console.error('usage: idp.mjs PORT REDIRECT_URI [REDIRECT_URI...]');
  process.exit(2);
}
const issuer = `http://localhost:${port}`;
const clientId = 'privacykeeper-console';

// One user per group, as the template's user pool has them.
const users = {
  'team@example.com': { password: 'team-local-password', name: 'Tess Team', groups: ['privacy-team'] },
  'viewer@example.com': { password: 'viewer-local-password', name: 'Vic Viewer', groups: ['privacy-viewer'] },
};

// Each user's grants (every token the user holds was issued under one).
const grantsOf = new Map();

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: randomBytes(8).toString('hex') };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    redirect_uris: redirectUris,
    // Signing out of the console ends this session too, and comes back.
    post_logout_redirect_uris: redirectUris.map((u) => u.replace(/\/console\/callback$/, '/console/signed-out')),
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none', // a public client: PKCE is its proof
  }],
  pkce: { required: () => true },
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'cognito:groups'] },
  // The claims go in the ID token, as Cognito's do.
  conformIdTokenClaims: false,
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  // A refresh token with every sign-in, as Cognito's code flow gives (the
  // console keeps it only to revoke it at sign-out).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // The console is the pool's own app: no consent screen.
  async loadExistingGrant(ctx) {
    const { accountId } = ctx.oidc.session;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
    grant.addOIDCScope('openid email profile');
    const id = await grant.save();
    if (!grantsOf.has(accountId)) grantsOf.set(accountId, new Set());
    grantsOf.get(accountId).add(id);
    return grant;
  },
  async findAccount(ctx, id) {
    const u = users[id];
    if (!u) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, name: u.name, 'cognito:groups': u.groups };
      },
    };
  },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in</title></head><body><main>
<h1>Sign in to the privacy console</h1>${error ? `<p role="alert" id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<p><label for="username">Email</label><br><input id="username" name="username" type="email" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form></main></body></html>`;

const same = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// Out of a group, and signed out everywhere: every grant of the user, and
// every token issued under it, revoked (the console's authorizer asks the
// userinfo endpoint, which then refuses the user's access tokens).
provider.use(async (ctx, next) => {
  if (ctx.path !== '/local/remove-from-group' || ctx.method !== 'POST') return next();
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  const form = new URLSearchParams(raw);
  const id = (form.get('username') || '').trim().toLowerCase();
  const u = users[id];
  if (!u) {
    ctx.status = 404;
    return undefined;
  }
  u.groups = u.groups.filter((g) => g !== form.get('group'));
  for (const grantId of grantsOf.get(id) || []) {
    await provider.AccessToken.revokeByGrantId(grantId);
    await provider.RefreshToken.revokeByGrantId(grantId);
    const grant = await provider.Grant.find(grantId);
    if (grant) await grant.destroy();
  }
  grantsOf.delete(id);
  ctx.status = 204;
  return undefined;
});

provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !m[2]) {
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  if (ctx.method === 'POST' && m[2]) {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    const form = new URLSearchParams(raw);
    const id = (form.get('username') || '').trim().toLowerCase();
    const u = users[id];
    if (!u || !same(form.get('password') || '', u.password)) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = page(details.uid, 'That email and password do not match a user.');
      return undefined;
    }
    return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: id } }, { mergeWithLastSubmission: false });
  }
  return next();
});

provider.listen(+port, '127.0.0.1', () => {
  console.log(`idp: OpenID provider on ${issuer} (client ${clientId})`);
  for (const [email, u] of Object.entries(users)) {
    console.log(`idp: user ${email} password ${u.password} (group ${u.groups.join(',')})`);
  }
});
