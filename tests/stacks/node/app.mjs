// A departmental application on Node.js, signed in through Tessera with openid-client (code
// flow, PKCE, ID-token checks) and told of logouts over the back channel (logout token checked
// with jose, OpenID Connect Back-Channel Logout 1.0 §2.6). Driven by tests/tests/e2e/stacks.rs;
// docs/integrating.md explains each setting.
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=nodeapp CLIENT_SECRET=… APP_BASE=http://127.0.0.1:3000 node app.mjs
//
// Routes: GET /login, GET /callback, GET /session (JSON), POST /backchannel-logout.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import * as jose from 'jose';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, APP_BASE } = process.env;
if (!ISSUER || !CLIENT_ID || !CLIENT_SECRET || !APP_BASE) {
  console.error('set ISSUER, CLIENT_ID, CLIENT_SECRET and APP_BASE');
  process.exit(2);
}
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const redirectUri = `${APP_BASE}/callback`;
const cookieName = `sid_${CLIENT_ID}`;

// Plain http is allowed only because the test provider listens on loopback.
const insecure = new URL(ISSUER).protocol === 'http:';
const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  undefined,
  client.ClientSecretBasic(CLIENT_SECRET),
  insecure ? { execute: [client.allowInsecureRequests] } : undefined,
);
const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));

/** Local sessions by cookie value: { pending?, user? }. One process, so memory will do. */
const sessions = new Map();

function cookieOf(req) {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookieName) return value.join('=');
  }
  return undefined;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end(body);
}

async function login(req, res) {
  const id = randomBytes(32).toString('base64url');
  const pending = {
    verifier: client.randomPKCECodeVerifier(),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  sessions.set(id, { pending });
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  send(res, 303, '', {
    location: url.href,
    'set-cookie': `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax`,
  });
}

async function callback(req, res) {
  const session = sessions.get(cookieOf(req));
  if (!session?.pending) return send(res, 400, 'no login in progress');
  const { verifier, state, nonce } = session.pending;
  delete session.pending;
  const tokens = await client.authorizationCodeGrant(config, new URL(req.url, APP_BASE), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  session.user = { sub: claims.sub, sid: claims.sid, idToken: tokens.id_token };
  send(res, 303, '', { location: '/session' });
}

function sessionInfo(req, res) {
  const user = sessions.get(cookieOf(req))?.user;
  const body = user ? { logged_in: true, sub: user.sub, sid: user.sid } : { logged_in: false };
  send(res, 200, JSON.stringify(body), { 'content-type': 'application/json' });
}

/** Back-Channel Logout 1.0 §2.6: verify the logout token, then end the sessions it names. */
async function backchannelLogout(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const token = new URLSearchParams(body).get('logout_token');
  try {
    if (!token) throw new Error('no logout_token');
    const { payload } = await jose.jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: CLIENT_ID,
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'jti', 'events'],
    });
    if (!payload.events || typeof payload.events[BACKCHANNEL_EVENT] !== 'object') {
      throw new Error('not a back-channel logout event');
    }
    if ('nonce' in payload) throw new Error('a logout token carries no nonce');
    if (!payload.sid && !payload.sub) throw new Error('neither sid nor sub');
    for (const [id, s] of sessions) {
      const u = s.user;
      if (u && (payload.sid ? u.sid === payload.sid : u.sub === payload.sub)) sessions.delete(id);
    }
    send(res, 200, '');
  } catch (e) {
    send(res, 400, JSON.stringify({ error: 'invalid_request', error_description: String(e.message ?? e) }), {
      'content-type': 'application/json',
    });
  }
}

const routes = {
  'GET /login': login,
  'GET /callback': callback,
  'GET /session': sessionInfo,
  'POST /backchannel-logout': backchannelLogout,
};

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, APP_BASE).pathname;
  const handler = routes[`${req.method} ${path}`];
  if (!handler) return send(res, 404, 'not found');
  try {
    await handler(req, res);
  } catch (e) {
    console.error(e);
    send(res, 500, String(e.message ?? e));
  }
});
const { hostname, port } = new URL(APP_BASE);
server.listen(Number(port), hostname, () => console.log('READY'));
