// Reference OpenID Provider for Canopy's benchmark: the npm package `oidc-provider`,
// configured for the same jobs as the Canopy bench tenant. Bench use only.
//
//   node server.mjs [port]        (or PEER_PORT=... node server.mjs); listens on 127.0.0.1 only
//
// Jobs (same as Canopy's bench tenant):
//   (a) client_credentials, confidential client `bench-cc` / `bench-cc-secret`,
//       client_secret_basic, JWT access token (RFC 9068) signed RS256;
//   (b) authorization_code exchange (PKCE S256) + userinfo for client `bench-web` /
//       `bench-web-secret`, account `alice`, scope "openid profile".
//
// Bench-only route (not part of the OP): POST /__bench/mint-codes?n=N mints N authorization
// codes for alice through provider.AuthorizationCode (one Grant each, as N sign-ins would) and
// answers {"redirect_uri": ..., "codes": [{"code": ..., "code_verifier": ...}, ...]}.
// GET /__bench/health answers 200 "ok".
//
// Storage: an unbounded in-process Map with expiry (the package's own memory adapter is an
// LRU capped at 1,000 entries, too small to hold thousands of minted codes). The peer therefore
// keeps no database round trip, which Canopy (PostgreSQL) does: docs/benchmarks.md says so.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';
const port = Number.parseInt(process.argv[2] || process.env.PEER_PORT || '8766', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bad port: ${process.argv[2] || process.env.PEER_PORT}`);
  process.exit(2);
}
const ISSUER = `http://${HOST}:${port}`;
const RESOURCE = `${ISSUER}/api`; // the default resource server for client credentials
const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
const MAX_MINT = 200000; // per request: keeps the bench bounded

// --- storage -----------------------------------------------------------------------
const store = new Map(); // key -> { payload, expiresAt }
const grantIndex = new Map(); // grantId -> Set(keys)
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.payload;
}

class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload, expiresAt });
    if (this.model === 'Session' && payload.uid) store.set(`sessionUid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let members = grantIndex.get(payload.grantId);
      if (!members) { members = new Set(); grantIndex.set(payload.grantId, members); }
      members.add(key);
    }
  }

  async find(id) { return live(this.key(id)); }

  async findByUid(uid) {
    const id = live(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = live(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = live(key);
    store.delete(key);
    if (payload?.grantId) grantIndex.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantIndex.get(grantId) ?? []) store.delete(key);
    grantIndex.delete(grantId);
  }
}

// Sweep expired entries now and then so a long run does not grow without bound.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) store.delete(key);
  }
  for (const [grantId, members] of grantIndex) {
    for (const key of members) if (!store.has(key)) members.delete(key);
    if (members.size === 0) grantIndex.delete(grantId);
  }
}, 30000).unref();

// --- accounts -----------------------------------------------------------------------
const ACCOUNTS = {
  alice: {
    sub: 'alice', preferred_username: 'alice', name: 'Alice Bench', given_name: 'Alice', family_name: 'Bench',
  },
};

async function findAccount(ctx, sub) {
  const profile = ACCOUNTS[sub];
  if (!profile) return undefined;
  return {
    accountId: sub,
    async claims() { return { ...profile }; },
  };
}

// --- keys: one RSA 2048 signing key, generated at start ------------------------------
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  adapter: MapAdapter,
  findAccount,
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  clients: [
    {
      client_id: 'bench-cc',
      client_secret: 'bench-cc-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'bench-web',
      client_secret: 'bench-web-secret',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  },
  scopes: ['openid', 'profile'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Client credentials get the bench API as their audience unless they ask for another.
      defaultResource: async (ctx, client, oneOf) => {
        if (oneOf) return oneOf;
        return ctx.oidc.params?.grant_type === 'client_credentials' ? RESOURCE : undefined;
      },
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new Error('unknown resource');
        return {
          scope: '',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
      useGrantedResource: async () => false,
    },
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 600,
    ClientCredentials: 600,
    IdToken: 600,
    Grant: 3600,
    Session: 3600,
    Interaction: 600,
    RefreshToken: 86400,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// --- bench-only routes ----------------------------------------------------------------
function b64url(buf) { return Buffer.from(buf).toString('base64url'); }

async function mintCodes(n) {
  const client = await provider.Client.find('bench-web');
  const authTime = Math.floor(Date.now() / 1000);
  const codes = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: 'alice', clientId: 'bench-web' });
    grant.addOIDCScope('openid profile');
    const grantId = await grant.save();
    const verifier = b64url(crypto.randomBytes(32));
    const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
    const code = new provider.AuthorizationCode({
      accountId: 'alice',
      authTime,
      amr: ['pwd'],
      client,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      grantId,
      redirectUri: REDIRECT_URI,
      scope: 'openid profile',
      expiresIn: 600,
    });
    codes.push({ code: await code.save(), code_verifier: verifier });
  }
  return codes;
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

const opCallback = provider.callback();
const server = http.createServer((req, res) => {
  if (!req.url.startsWith('/__bench/')) {
    opCallback(req, res);
    return;
  }
  const url = new URL(req.url, ISSUER);
  if (url.pathname === '/__bench/health' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  if (url.pathname === '/__bench/mint-codes' && req.method === 'POST') {
    const n = Number.parseInt(url.searchParams.get('n') || '1', 10);
    if (!Number.isInteger(n) || n < 1 || n > MAX_MINT) {
      sendJson(res, 400, { error: `n must be 1..${MAX_MINT}` });
      return;
    }
    req.resume();
    mintCodes(n).then(
      (codes) => sendJson(res, 200, { redirect_uri: REDIRECT_URI, client_id: 'bench-web', codes }),
      (err) => { console.error(err); sendJson(res, 500, { error: String(err) }); },
    );
    return;
  }
  sendJson(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 65000;
server.listen(port, HOST, () => {
  console.log(`peer oidc-provider listening on ${ISSUER}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
