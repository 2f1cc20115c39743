// DHIS2 2.42's authorization server on the main listener: discovery, the
// authorization code flow with PKCE through the login and consent pages,
// token exchange, refresh, revocation, introspection, userinfo, JWT Bearer
// on /api, keys and the switches.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, fetchRaw, webMessage, user: fixtureUser } = require('../support/testkit');
const { totp } = require('../lib/totp');
const k = require('../support/oauthkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const BASIC = ['dhis2-auth-basic', 'dhis2-auth-basic-secret'];
const POST = ['dhis2-auth-post', 'dhis2-auth-post-secret'];
const CB = 'http://127.0.0.1:8765/callback';

function token(params, opts = {}) {
  return k.post(`${emu.url}/oauth2/token`, params, opts);
}

// The whole flow for one client; returns the token response and more. The
// default profile is 2.42.0, whose /api finds the user by the email claim.
async function codeFlow({ client = 'dhis2-auth-basic', user = 'alice',
  password = 'Alice-pw-1', scope = 'ALL openid email', redirect = CB, nonce } = {}) {
  const { verifier, challenge } = k.pkce();
  const a = await k.authorize({ base: emu.url, client, scope, challenge, nonce,
    username: user, password, redirect_uri: redirect });
  assert.ok(a.params, `no redirect: ${a.stoppedAt && a.stoppedAt.status} ${a.stoppedAt && a.stoppedAt.text}`);
  const params = { grant_type: 'authorization_code', code: a.params.get('code'),
    redirect_uri: redirect, code_verifier: verifier };
  let r;
  if (client === 'dhis2-auth-basic') r = await token(params, { basic: BASIC });
  else if (client === 'dhis2-auth-post') {
    r = await token({ ...params, client_id: POST[0], client_secret: POST[1] });
  } else r = await token({ ...params, client_id: client });
  return { a, r, verifier };
}

function me(bearer) {
  return emu.request('/api/me?fields=username', {
    headers: { Authorization: `Bearer ${bearer}` } });
}

test('discovery: endpoints on DHIS2 paths, issuer = base URL, S256 only',
  async () => {
    const r = await emu.request('/.well-known/openid-configuration');
    assert.equal(r.status, 200);
    const d = r.json;
    assert.equal(d.issuer, emu.url);
    assert.equal(d.authorization_endpoint, `${emu.url}/oauth2/authorize`);
    assert.equal(d.token_endpoint, `${emu.url}/oauth2/token`);
    assert.equal(d.jwks_uri, `${emu.url}/oauth2/jwks`);
    assert.equal(d.revocation_endpoint, `${emu.url}/oauth2/revoke`);
    assert.equal(d.introspection_endpoint, `${emu.url}/oauth2/introspect`);
    assert.equal(d.userinfo_endpoint, `${emu.url}/userinfo`);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(d.grant_types_supported, ['authorization_code', 'refresh_token']);
    // Spring AS always lists it; no client DHIS2 registers holds the grant.
    assert.equal(d.device_authorization_endpoint, `${emu.url}/oauth2/device_authorization`);
    const pub = await k.post(d.device_authorization_endpoint, { client_id: 'dhis2-auth', scope: 'openid' });
    assert.equal(pub.status, 401);
    assert.equal(pub.json.error, 'invalid_client');
    const conf = await k.post(d.device_authorization_endpoint, { scope: 'openid' }, { basic: BASIC });
    assert.equal(conf.status, 400);
    assert.equal(conf.json.error, 'unauthorized_client');
    const as = await emu.request('/.well-known/oauth-authorization-server');
    assert.equal(as.json.issuer, emu.url);
    const jwks = await emu.request('/oauth2/jwks');
    assert.equal(jwks.status, 200);
    assert.deepEqual(jwks.json.keys.map((x) => x.kty).sort(), ['EC', 'RSA']);
  });

test('switches: no server, no discovery, no jwks', async () => {
  await emu.ctl('POST', '/oauth2', { discovery: false });
  assert.equal((await emu.request('/.well-known/openid-configuration')).status, 404);
  assert.equal((await emu.request('/oauth2/jwks')).status, 200);
  await emu.reset();
  await emu.ctl('POST', '/oauth2', { jwks: false });
  const d = await emu.request('/.well-known/openid-configuration');
  assert.equal(d.json.jwks_uri, undefined);
  assert.equal((await emu.request('/oauth2/jwks')).status, 404);
  await emu.reset();
  await emu.ctl('POST', '/oauth2', { enabled: false });
  for (const p of ['/.well-known/openid-configuration', '/oauth2/authorize', '/oauth2/token']) {
    assert.equal((await emu.request(p)).status, 404, p);
  }
  await emu.reset();
  await emu.ctl('POST', '/oauth2', { authorization_endpoint: 'http://127.0.0.1:1/a' });
  const hostile = await emu.request('/.well-known/openid-configuration');
  assert.equal(hostile.json.authorization_endpoint, 'http://127.0.0.1:1/a');
  assert.equal((await emu.ctl('POST', '/oauth2', { authorization_endpoint: 1 })).status, 400);
  assert.equal((await emu.ctl('POST', '/oauth2', { bogus: 1 })).status, 400);
  assert.equal((await emu.ctl('POST', '/oauth2', { bad_token: 'nope' })).status, 400);
});

test('before 2.42 there is no /oauth2: the entry point answers', async () => {
  await emu.ctl('POST', '/version', { version: '2.40' });
  const r = await emu.request('/oauth2/authorize?client_id=dhis2-auth');
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, webMessage(401, 'Unauthorized'));
});

test('code flow (client_secret_basic): login, consent, redirect, tokens', async () => {
  const { a, r } = await codeFlow({ nonce: 'n-0S6_WzA2Mj' });
  assert.equal(a.pages.length, 2);
  assert.match(a.pages[0], /id="login"/);
  assert.match(a.pages[1], /id="consent"/);
  assert.match(a.pages[1], /<li class="scope">ALL<\/li>/);
  assert.equal(a.params.get('iss'), emu.url);
  assert.ok(a.location.startsWith(`${CB}?code=`));
  assert.equal(r.status, 200);
  const t = r.json;
  assert.equal(t.token_type, 'Bearer');
  assert.equal(t.expires_in, 300);
  assert.ok(t.refresh_token);
  const at = k.decodeJwt(t.access_token);
  assert.equal(at.header.alg, 'RS256');
  assert.equal(at.header.typ, undefined);
  assert.equal(at.payload.iss, emu.url);
  assert.equal(at.payload.sub, 'alice');
  assert.equal(at.payload.email, 'alice@example.org');
  assert.equal(at.payload.username, undefined, '2.42.0 has no username claim');
  assert.deepEqual(at.payload.aud, ['dhis2-auth-basic']);
  assert.deepEqual(at.payload.scope, ['ALL', 'openid', 'email']);
  assert.equal(at.payload.nbf, at.payload.iat);
  assert.equal(at.payload.exp - at.payload.iat, 300);
  const id = k.decodeJwt(t.id_token);
  assert.equal(id.payload.nonce, 'n-0S6_WzA2Mj');
  assert.deepEqual(id.payload.aud, ['dhis2-auth-basic']);
  assert.equal(id.payload.azp, 'dhis2-auth-basic');
  assert.equal(id.payload.sub, 'alice');
  assert.equal(id.payload.exp - id.payload.iat, 1800);
  const jwks = (await emu.request('/oauth2/jwks')).json;
  assert.ok(k.verifyWithJwks(t.access_token, jwks).ok);
  assert.ok(k.verifyWithJwks(t.id_token, jwks).ok);
});

test('client_secret_post works; wrong secrets and methods are refused', async () => {
  const { r } = await codeFlow({ client: 'dhis2-auth-post', user: 'admin', password: 'district' });
  assert.equal(r.status, 200);
  assert.equal(k.decodeJwt(r.json.access_token).payload.sub, 'admin');
  const bad = await token({ grant_type: 'refresh_token', refresh_token: r.json.refresh_token,
    client_id: POST[0], client_secret: 'wrong' });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error, 'invalid_client');
  // The post client may not use Basic.
  const basic = await token({ grant_type: 'refresh_token', refresh_token: r.json.refresh_token },
    { basic: POST });
  assert.equal(basic.json.error, 'invalid_client', basic.text);
});

test('public client: any loopback port, no refresh token (Spring AS), lenient switch',
  async () => {
    const { r, a } = await codeFlow({ client: 'dhis2-auth', redirect: 'http://127.0.0.1:41234/callback' });
    assert.ok(a.location.startsWith('http://127.0.0.1:41234/callback?'));
    assert.equal(r.status, 200);
    assert.ok(r.json.access_token);
    assert.equal(r.json.refresh_token, undefined);
    // A public client cannot authenticate for anything but the code exchange.
    const rv = await k.post(`${emu.url}/oauth2/revoke`, { token: r.json.access_token, client_id: 'dhis2-auth' });
    assert.equal(rv.status, 401);
    assert.equal(rv.json.error, 'invalid_client');
    await emu.ctl('POST', '/oauth2', { public_client: 'lenient' });
    const l = await codeFlow({ client: 'dhis2-auth' });
    assert.ok(l.r.json.refresh_token);
    const again = await token({ grant_type: 'refresh_token', refresh_token: l.r.json.refresh_token,
      client_id: 'dhis2-auth' });
    assert.equal(again.status, 200);
    assert.ok(again.json.access_token);
  });

test('authorization request errors: localhost, foreign redirect, no PKCE', async () => {
  const { challenge } = k.pkce();
  const q = (o) => `/oauth2/authorize?${new URLSearchParams({ response_type: 'code',
    client_id: 'dhis2-auth', scope: 'ALL', state: 's', code_challenge: challenge,
    code_challenge_method: 'S256', redirect_uri: CB, ...o })}`;
  const lh = await emu.request(q({ redirect_uri: 'http://localhost:8765/callback' }));
  assert.equal(lh.status, 400);
  assert.match(lh.json.error_description, /localhost is not allowed/);
  const other = await emu.request(q({ redirect_uri: 'http://10.0.0.1:8765/callback' }));
  assert.equal(other.status, 400);
  assert.equal(other.headers.location, undefined);
  const nopkce = await emu.request(`/oauth2/authorize?${new URLSearchParams({
    response_type: 'code', client_id: 'dhis2-auth', scope: 'ALL', state: 's', redirect_uri: CB })}`);
  assert.equal(nopkce.status, 303);
  const loc = new URL(nopkce.headers.location);
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.equal(loc.searchParams.get('state'), 's');
});

test('login page: bad password, disabled and locked users stay on the form',
  async () => {
    for (const [user, password, code] of [['alice', 'nope', 'BAD_CREDENTIALS'],
      ['erin', 'Erin-pw-1', 'ACCOUNT_DISABLED'], ['frank', 'Frank-pw-1', 'ACCOUNT_LOCKED']]) {
      const { challenge } = k.pkce();
      const a = await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
        username: user, password });
      assert.equal(a.stoppedAt.status, 401, user);
      assert.match(a.stoppedAt.text, new RegExp(`data-error="${code}"`), user);
    }
  });

test('login page: a TOTP user needs the code field; failures count for lockout',
  async () => {
    const { challenge } = k.pkce();
    const no = await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
      username: 'carol', password: 'Carol-pw-1' });
    assert.match(no.stoppedAt.text, /data-error="INCORRECT_TWO_FACTOR_CODE"/);
    const yes = await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
      username: 'carol', password: 'Carol-pw-1',
      twoFactorCode: totp(fixtureUser('carol').secret, Date.now()) });
    assert.ok(yes.params && yes.params.get('code'));
    // Four wrong passwords lock mallory out, as on the DHIS2 login form.
    for (let i = 0; i < 4; i++) {
      await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
        username: 'mallory', password: 'wrong' });
    }
    const locked = await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
      username: 'mallory', password: 'Mallory-pw-1' });
    assert.match(locked.stoppedAt.text, /data-error="ACCOUNT_LOCKED"/);
  });

test('consent denied: access_denied back to the client', async () => {
  const { challenge } = k.pkce();
  const a = await k.authorize({ base: emu.url, client: 'dhis2-auth', challenge,
    username: 'alice', password: 'Alice-pw-1', decision: 'deny', state: 'xyz' });
  assert.equal(a.params.get('error'), 'access_denied');
  assert.equal(a.params.get('state'), 'xyz');
  assert.equal(a.params.get('code'), null);
});

test('code: single use, bound to the verifier and the redirect URI', async () => {
  const { verifier, challenge } = k.pkce();
  const a = await k.authorize({ base: emu.url, client: 'dhis2-auth-basic', challenge,
    username: 'alice', password: 'Alice-pw-1' });
  const code = a.params.get('code');
  const wrongVerifier = await token({ grant_type: 'authorization_code', code,
    redirect_uri: CB, code_verifier: k.pkce().verifier }, { basic: BASIC });
  assert.equal(wrongVerifier.json.error, 'invalid_grant');
  const { challenge: c2, verifier: v2 } = k.pkce();
  const b = await k.authorize({ base: emu.url, client: 'dhis2-auth-basic', challenge: c2,
    username: 'alice', password: 'Alice-pw-1' });
  const ok = await token({ grant_type: 'authorization_code', code: b.params.get('code'),
    redirect_uri: CB, code_verifier: v2 }, { basic: BASIC });
  assert.equal(ok.status, 200);
  const replay = await token({ grant_type: 'authorization_code', code: b.params.get('code'),
    redirect_uri: CB, code_verifier: v2 }, { basic: BASIC });
  assert.equal(replay.json.error, 'invalid_grant');
  assert.ok(verifier);
});

test('refresh, revoke, introspect, userinfo', async () => {
  const { r } = await codeFlow({ scope: 'ALL openid email' });
  const t = r.json;
  const ref = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token },
    { basic: BASIC });
  assert.equal(ref.status, 200);
  assert.notEqual(ref.json.access_token, t.access_token);
  assert.equal(ref.json.refresh_token, t.refresh_token, 'not rotated (Spring AS reuses it)');
  assert.ok(ref.json.id_token);

  const intro = await k.post(`${emu.url}/oauth2/introspect`, { token: t.access_token }, { basic: BASIC });
  assert.equal(intro.json.active, true);
  assert.equal(intro.json.sub, 'alice');
  assert.equal(intro.json.client_id, 'dhis2-auth-basic');
  assert.equal(intro.json.scope, 'ALL openid email');
  const introRt = await k.post(`${emu.url}/oauth2/introspect`, { token: t.refresh_token }, { basic: BASIC });
  assert.equal(introRt.json.active, true);
  const anon = await k.post(`${emu.url}/oauth2/introspect`, { token: t.access_token });
  assert.equal(anon.status, 401);

  const ui = await fetchRaw(`${emu.url}/userinfo`, { headers: { Authorization: `Bearer ${t.access_token}` } });
  assert.deepEqual(ui.json, { sub: 'alice', email: 'alice@example.org', email_verified: false });

  // Revoking the access token: introspection says inactive.
  const rv = await k.post(`${emu.url}/oauth2/revoke`, { token: t.access_token }, { basic: BASIC });
  assert.equal(rv.status, 200);
  const after = await k.post(`${emu.url}/oauth2/introspect`, { token: t.access_token }, { basic: BASIC });
  assert.equal(after.json.active, false);
  // Revoking the refresh token ends refreshing.
  const rvr = await k.post(`${emu.url}/oauth2/revoke`,
    { token: t.refresh_token, token_type_hint: 'refresh_token' }, { basic: BASIC });
  assert.equal(rvr.status, 200);
  const dead = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token },
    { basic: BASIC });
  assert.equal(dead.json.error, 'invalid_grant');
});

test('/api/me with the JWT: off by default, on with jwt_bearer', async () => {
  const { r } = await codeFlow();
  const at = r.json.access_token;
  // As DHIS2 without oidc.jwt.token.authentication.enabled: anonymous.
  const off = await me(at);
  assert.equal(off.status, 401);
  assert.deepEqual(off.json, webMessage(401, 'Unauthorized'));
  await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
  const on = await me(at);
  assert.equal(on.status, 200);
  assert.deepEqual(on.json, { username: 'alice' });
  const junk = await me('abc.def.ghi');
  assert.equal(junk.status, 401);
  assert.match(junk.headers['www-authenticate'], /^Bearer error="invalid_token"/);
  await emu.ctl('POST', '/oauth2', { jwt_bearer: false });
  assert.equal((await me(at)).status, 401);
});

test('alg ES256 and key rotation (new kid; old tokens refused unless kept)',
  async () => {
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true, alg: 'ES256' });
    const { r } = await codeFlow();
    const es = r.json;
    assert.equal(k.decodeJwt(es.access_token).header.alg, 'ES256');
    assert.equal(k.decodeJwt(es.id_token).header.alg, 'ES256');
    assert.equal((await me(es.access_token)).status, 200);

    await emu.ctl('POST', '/oauth2', { alg: 'RS256' });
    const old = (await codeFlow()).r.json.access_token;
    const oldKid = k.decodeJwt(old).header.kid;
    const rot = await emu.ctl('POST', '/oauth2/rotate', {});
    assert.notEqual(rot.json.main, oldKid);
    const jwks = (await emu.request('/oauth2/jwks')).json;
    assert.ok(!jwks.keys.some((x) => x.kid === oldKid));
    const refused = await me(old);
    assert.equal(refused.status, 401);
    assert.match(refused.json.message, /no matching key/);
    const fresh = (await codeFlow()).r.json.access_token;
    assert.equal(k.decodeJwt(fresh).header.kid, rot.json.main);
    assert.equal((await me(fresh)).status, 200);

    const kid2 = rot.json.main;
    const rot2 = await emu.ctl('POST', '/oauth2/rotate', { keep_old: true });
    assert.notEqual(rot2.json.main, kid2);
    assert.equal((await me(fresh)).status, 200, 'old key kept');
    const jwks2 = (await emu.request('/oauth2/jwks')).json;
    assert.ok(jwks2.keys.some((x) => x.kid === kid2));
    // reset brings the first keys back.
    await emu.reset();
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
    assert.equal((await me(old)).status, 200);
  });

test('access_ttl sets expires_in and exp', async () => {
  await emu.ctl('POST', '/oauth2', { access_ttl: 60 });
  const { r } = await codeFlow();
  assert.equal(r.json.expires_in, 60);
  const p = k.decodeJwt(r.json.access_token).payload;
  assert.equal(p.exp - p.iat, 60);
});

test('2.42.5: the username claim only with its scope; /api maps by it without jwt_bearer',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.42.5' });
    const plain = (await codeFlow({ scope: 'openid' })).r.json;
    assert.equal(k.decodeJwt(plain.access_token).payload.username, undefined);
    const r = await me(plain.access_token);
    assert.equal(r.status, 401);
    assert.equal(r.json.message,
      "Found no matching DHIS2 user for the mapping claim: 'username' with the value: 'null'");
    const withScope = (await codeFlow({ scope: 'openid username' })).r.json;
    assert.equal(k.decodeJwt(withScope.access_token).payload.username, 'alice');
    assert.equal(k.decodeJwt(withScope.id_token).payload.username, 'alice');
    assert.equal((await me(withScope.access_token)).status, 200);
  });

test('2.42.0-2.42.4: no username claim; /api maps mapping_claim through the OpenID field',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.42.4' });
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
    const plain = (await codeFlow({ scope: 'ALL openid username' })).r.json.access_token;
    assert.equal(k.decodeJwt(plain).payload.username, undefined);
    const r = await me(plain);
    assert.equal(r.json.message,
      "Found no matching DHIS2 user for the mapping claim: 'email' with the value: 'null'");
    // A user with no e-mail gets the username in the email claim.
    const bob = (await codeFlow({ user: 'bob', password: 'Bob-pw-1' })).r.json.access_token;
    assert.equal(k.decodeJwt(bob).payload.email, 'bob');
    assert.equal((await me(bob)).json.username, 'bob');
    await emu.ctl('POST', '/oauth2', { mapping_claim: 'sub', openid_field: 'username' });
    assert.equal((await me(plain)).json.username, 'alice');
  });

test('2.42.5: the email scope fails the grant for a user without an e-mail', async () => {
  await emu.ctl('POST', '/version', { version: '2.42.5' });
  const { r } = await codeFlow({ user: 'bob', password: 'Bob-pw-1', scope: 'openid email' });
  assert.notEqual(r.status, 200);
  assert.equal(r.json.access_token, undefined);
});

test('issuer per release: the request, server.base.url, then base url plus "/"', async () => {
  const iss = async () => (await emu.request('/.well-known/openid-configuration')).json.issuer;
  await emu.ctl('POST', '/oauth2', { base_url: 'https://dhis.example.org' });
  assert.equal(await iss(), emu.url, '2.42.0: from the request');
  await emu.ctl('POST', '/version', { version: '2.42.4' });
  assert.equal(await iss(), 'https://dhis.example.org');
  await emu.ctl('POST', '/version', { version: '2.42.5' });
  assert.equal(await iss(), 'https://dhis.example.org/');
  await emu.ctl('POST', '/oauth2', { base_url: null });
  assert.equal(await iss(), `${emu.url}/`);
  const t = (await codeFlow({ scope: 'openid username' })).r.json;
  assert.equal(k.decodeJwt(t.access_token).payload.iss, `${emu.url}/`);
  assert.equal(k.decodeJwt(t.id_token).payload.iss, `${emu.url}/`);
  assert.equal((await me(t.access_token)).json.username, 'alice');
});

test('master refuses the scope ALL at the authorization endpoint', async () => {
  await emu.ctl('POST', '/version', { version: 'master' });
  const { challenge } = k.pkce();
  const a = await k.authorize({ base: emu.url, client: 'dhis2-auth', scope: 'ALL openid',
    challenge, username: 'alice', password: 'Alice-pw-1', state: 'st' });
  assert.equal(a.params.get('error'), 'invalid_scope');
  assert.equal(a.params.get('state'), 'st');
  const ok = (await codeFlow({ scope: 'openid profile username' })).r.json;
  assert.equal((await me(ok.access_token)).json.username, 'alice');
});

test('up to 2.41 a server takes UAA tokens or JWTs, never both; 2.41.0 has no /uaa',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.41' });
    const none = await emu.request('/uaa/oauth/token', { method: 'POST' });
    assert.deepEqual(none.json, webMessage(401, 'Unauthorized'));
    await emu.ctl('POST', '/version', { version: '2.40' });
    const opaque = '0b8f8d5e-7f0e-4a8e-9d3c-6c1e1f2a3b4c';
    const uaaOnly = await me(opaque);
    assert.equal(uaaOnly.json.error, 'invalid_token', 'the legacy filter reads it');
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
    const jwtOnly = await me(opaque);
    assert.equal(jwtOnly.json.message, 'Invalid JWT serialization: Missing dot delimiter(s)');
  });

test('over TLS: https issuer, the flow and the JWT on /api/me', async () => {
  const tls = await start({ tls: true });
  try {
    const base = tls.url;
    assert.ok(base.startsWith('https://127.0.0.1:'));
    const d = await fetchRaw(`${base}/.well-known/openid-configuration`, { ca: tls.ca });
    assert.equal(d.json.issuer, base);
    const { verifier, challenge } = k.pkce();
    const a = await k.authorize({ base, client: 'dhis2-auth-basic', challenge, ca: tls.ca,
      username: 'alice', password: 'Alice-pw-1' });
    assert.ok(a.params, a.stoppedAt && a.stoppedAt.text);
    const r = await k.post(`${base}/oauth2/token`, { grant_type: 'authorization_code',
      code: a.params.get('code'), redirect_uri: CB, code_verifier: verifier },
    { basic: BASIC, ca: tls.ca });
    assert.equal(r.status, 200);
    assert.equal(k.decodeJwt(r.json.access_token).payload.iss, base);
    await tls.ctl('POST', '/oauth2', { jwt_bearer: true });
    const ok = await tls.request('/api/me?fields=username',
      { headers: { Authorization: `Bearer ${r.json.access_token}` } });
    assert.deepEqual(ok.json, { username: 'alice' });
    const idp = await fetchRaw(`https://127.0.0.1:${tls.ready.idp_port}/realms/dhis2/.well-known/openid-configuration`,
      { ca: tls.ca });
    assert.equal(idp.json.issuer, `https://127.0.0.1:${tls.ready.idp_port}/realms/dhis2`);
  } finally {
    await tls.stop();
  }
});

test('mint: a token shaped as the token endpoint issues it, accepted as Bearer',
  async () => {
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
    const { r } = await codeFlow({ client: 'dhis2-auth-basic' });
    const real = k.decodeJwt(r.json.access_token);
    const m = await emu.ctl('POST', '/oauth2/mint', { username: 'alice' });
    assert.equal(m.status, 200);
    const minted = k.decodeJwt(m.json.access_token);
    assert.deepEqual(Object.keys(minted.payload).sort(), Object.keys(real.payload).sort());
    assert.deepEqual(Object.keys(minted.header).sort(), Object.keys(real.header).sort());
    assert.equal(minted.header.kid, real.header.kid);
    assert.equal(minted.payload.iss, real.payload.iss);
    assert.deepEqual(minted.payload.aud, ['dhis2-auth']);
    assert.equal(m.json.expires_at, minted.payload.exp);
    const ok = await me(m.json.access_token);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.username, 'alice');
  });

test('mint: exp_in and spoil make tokens /api/me refuses', async () => {
  await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
  const old = await emu.ctl('POST', '/oauth2/mint', { username: 'bob', exp_in: -120 });
  assert.equal((await me(old.json.access_token)).status, 401);
  for (const spoil of ['signature', 'iss', 'aud', 'expired']) {
    const t = await emu.ctl('POST', '/oauth2/mint', { username: 'bob', spoil });
    assert.equal((await me(t.json.access_token)).status, 401, spoil);
  }
  assert.equal((await emu.ctl('POST', '/oauth2/mint', {})).status, 400);
  assert.equal((await emu.ctl('POST', '/oauth2/mint', { username: 'bob', spoil: 'x' })).status, 400);
});
