// The legacy /uaa endpoints (DHIS2 <= 2.41): authorization code with the
// approval form, opaque tokens with Basic client authentication, refresh,
// the password grant, and those tokens as Bearer on /api.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, webMessage } = require('../support/testkit');
const k = require('../support/oauthkit');

let emu;
test.before(async () => { emu = await start({ version: '2.40' }); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const BASIC = ['dhis2-auth-basic', 'dhis2-auth-basic-secret'];
const CB = 'http://127.0.0.1:8765/callback';

function tokenReq(params, basic = BASIC) {
  return k.post(`${emu.url}/uaa/oauth/token`, params, basic ? { basic } : {});
}

// Login form, approval form, redirect with the code.
async function authorizeCode({ state = 'st-1', approve = true } = {}) {
  const jar = new k.CookieJar();
  const q = new URLSearchParams({ response_type: 'code', client_id: BASIC[0],
    redirect_uri: CB, state });
  const first = await k.browse(jar, `${emu.url}/uaa/oauth/authorize?${q}`);
  assert.equal(first.status, 302);
  const loginUrl = new URL(first.headers.location, emu.url).href;
  assert.match(loginUrl, /\/uaa\/login\?next=/);
  const form = await k.browse(jar, loginUrl);
  assert.equal(form.status, 200);
  const next = k.hiddenInputs(form.text, 'login').next;
  const login = await k.browse(jar, `${emu.url}/uaa/login`, { method: 'POST',
    form: { username: 'alice', password: 'Alice-pw-1', next } });
  assert.equal(login.status, 302);
  const approval = await k.browse(jar, new URL(login.headers.location, emu.url).href);
  assert.equal(approval.status, 200);
  assert.match(approval.text, /OAuth Approval/);
  const done = await k.browse(jar, `${emu.url}/uaa/oauth/authorize`, { method: 'POST',
    form: approve ? { user_oauth_approval: 'true', 'scope.ALL': 'true', authorize: 'Authorize' }
      : { user_oauth_approval: 'false' } });
  assert.equal(done.status, 302);
  return new URL(done.headers.location);
}

function me(tok) {
  return emu.request('/api/me?fields=username', { headers: { Authorization: `Bearer ${tok}` } });
}

test('authorization code: login, approval, code, opaque tokens, /api/me', async () => {
  const back = await authorizeCode();
  assert.equal(`${back.origin}${back.pathname}`, CB);
  assert.equal(back.searchParams.get('state'), 'st-1');
  const code = back.searchParams.get('code');
  assert.match(code, /^[A-Za-z0-9]{6}$/);
  const r = await tokenReq({ grant_type: 'authorization_code', code, redirect_uri: CB });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json).sort(),
    ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
  assert.equal(r.json.token_type, 'bearer');
  assert.equal(r.json.scope, 'ALL');
  assert.equal(r.json.expires_in, 43199);
  assert.match(r.json.access_token, /^[0-9a-f-]{36}$/);
  const ok = await me(r.json.access_token);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { username: 'alice' });
  // Codes are single use.
  const again = await tokenReq({ grant_type: 'authorization_code', code, redirect_uri: CB });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');
});

test('denied approval; unknown client; foreign redirect URI', async () => {
  const back = await authorizeCode({ approve: false });
  assert.equal(back.searchParams.get('error'), 'access_denied');
  const unknown = await emu.request('/uaa/oauth/authorize?response_type=code&client_id=nope');
  assert.equal(unknown.status, 401);
  const foreign = await emu.request(`/uaa/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: BASIC[0], redirect_uri: 'http://127.0.0.1:9999/callback' })}`);
  assert.equal(foreign.status, 400);
  assert.match(foreign.text, /does not match one of the registered values/);
});

test('token endpoint: Basic client auth required; refresh reuses the refresh token',
  async () => {
    const none = await tokenReq({ grant_type: 'password', username: 'alice', password: 'Alice-pw-1' }, null);
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'unauthorized');
    const bad = await tokenReq({ grant_type: 'password', username: 'alice', password: 'Alice-pw-1' },
      [BASIC[0], 'wrong']);
    assert.equal(bad.status, 401);

    const pw = await tokenReq({ grant_type: 'password', username: 'alice', password: 'Alice-pw-1' });
    assert.equal(pw.status, 200);
    // DefaultTokenServices hands back the same live token.
    const same = await tokenReq({ grant_type: 'password', username: 'alice', password: 'Alice-pw-1' });
    assert.equal(same.json.access_token, pw.json.access_token);

    const ref = await tokenReq({ grant_type: 'refresh_token', refresh_token: pw.json.refresh_token });
    assert.equal(ref.status, 200);
    assert.notEqual(ref.json.access_token, pw.json.access_token);
    assert.equal(ref.json.refresh_token, pw.json.refresh_token);
    const old = await me(pw.json.access_token);
    assert.equal(old.status, 401);
    assert.equal(old.json.error, 'invalid_token');
    assert.equal((await me(ref.json.access_token)).status, 200);

    const wrongPw = await tokenReq({ grant_type: 'password', username: 'alice', password: 'x' });
    assert.equal(wrongPw.status, 400);
    assert.equal(wrongPw.json.error, 'invalid_grant');
  });

test('expired opaque token; no revocation endpoint; not on 2.42', async () => {
  const pw = await tokenReq({ grant_type: 'password', username: 'admin', password: 'district' });
  await emu.ctl('POST', '/oauth2/uaa-expire');
  const r = await me(pw.json.access_token);
  assert.equal(r.status, 401);
  assert.match(r.json.error_description, /^Access token expired: /);
  const rv = await tokenReq({ token: pw.json.refresh_token }, BASIC);
  assert.equal(rv.status, 400);
  const revoke = await k.post(`${emu.url}/uaa/oauth/revoke`, { token: pw.json.access_token },
    { basic: BASIC });
  // No such endpoint: the client's Basic credentials are tried as a user.
  assert.equal(revoke.status, 401);
  await emu.ctl('POST', '/version', { version: '2.42' });
  const gone = await emu.request('/uaa/oauth/token', { method: 'POST' });
  assert.equal(gone.status, 401);
  assert.deepEqual(gone.json, webMessage(401, 'Unauthorized'));
});

test('access_ttl applies to uaa tokens too', async () => {
  await emu.ctl('POST', '/oauth2', { access_ttl: 120 });
  const pw = await tokenReq({ grant_type: 'password', username: 'admin', password: 'district' });
  assert.equal(pw.json.expires_in, 119);
});

test('uaa_redirect_uri: the clients are registered with another loopback port',
  async () => {
    const q = (redirect) => `/uaa/oauth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: BASIC[0], redirect_uri: redirect })}`;
    await emu.ctl('POST', '/oauth2', { uaa_redirect_uri: 'http://127.0.0.1:9999/callback' });
    const other = await emu.request(q('http://127.0.0.1:9999/callback'));
    assert.equal(other.status, 302);
    const old = await emu.request(q(CB));
    assert.equal(old.status, 400);
    assert.equal((await emu.ctl('POST', '/oauth2',
      { uaa_redirect_uri: 'http://10.0.0.1:9999/callback' })).status, 400);
  });
