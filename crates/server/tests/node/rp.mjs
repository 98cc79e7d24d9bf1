// A relying party built on openid-client (a certified OpenID Connect client), run by
// tests/node_rp.rs: discovery, authorisation with PKCE, the login and consent forms as a
// browser would post them, the code exchange with ID-token validation, UserInfo and refresh.
// Prints one JSON line with what it saw.
//
//   node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI PHONE PASSWORD

import * as client from 'openid-client';

const [issuer, clientId, clientSecret, redirectUri, phone, password] = process.argv.slice(2);

// The test server is plain HTTP on loopback.
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
  execute: [client.allowInsecureRequests],
});

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});

// A minimal browser: cookies per this one host, no automatic redirects.
const jar = new Map();
async function go(target, form) {
  const headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  const init = { redirect: 'manual', headers };
  if (form) {
    init.method = 'POST';
    init.body = new URLSearchParams(form);
  }
  const res = await fetch(new URL(target, issuer), init);
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    const value = pair.slice(at + 1);
    if (value === '' || /Max-Age=0/.test(c)) jar.delete(pair.slice(0, at));
    else jar.set(pair.slice(0, at), value);
  }
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}
const field = (html, name) => {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no field ${name} in ${html}`);
  return m[1];
};

const login = await go(url.href);
const loggedIn = await go('/oauth/login', {
  request: field(login.body, 'request'),
  form_token: field(login.body, 'form_token'),
  phone,
  password,
});
if (loggedIn.status !== 303) throw new Error(`login: ${loggedIn.status} ${loggedIn.body}`);
const consent = await go(loggedIn.location);
const back = await go('/oauth/consent', {
  request: field(consent.body, 'request'),
  form_token: field(consent.body, 'form_token'),
  decision: 'allow',
});
if (back.status !== 303) throw new Error(`consent: ${back.status} ${back.body}`);

const tokens = await client.authorizationCodeGrant(config, new URL(back.location), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
});
const claims = tokens.claims();
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
let reuseRefused = false;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
  reuseRefused = e.error === 'invalid_grant';
}
console.log(JSON.stringify({
  sub: claims.sub,
  acr: claims.acr,
  name: info.name,
  refreshed: typeof refreshed.access_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
  reuse_refused: reuseRefused,
}));
