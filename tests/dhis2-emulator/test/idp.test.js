// The external identity provider (Keycloak-like, own port): discovery, the
// device authorization grant (approve, deny, expire, slow_down, the
// verification page), and its JWTs on the main emulator's /api/me through
// the mapping claim.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, fetchRaw } = require('../support/testkit');
const k = require('../support/oauthkit');

let emu;
let idp;
test.before(async () => {
  emu = await start();
  idp = `http://127.0.0.1:${emu.ready.idp_port}/realms/dhis2`;
});
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

async function deviceStart(scope = 'openid email') {
  const r = await k.post(`${idp}/protocol/openid-connect/auth/device`,
    { client_id: 'dhis2-auth', scope });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

function poll(deviceCode) {
  return k.post(`${idp}/protocol/openid-connect/token`,
    { grant_type: DEVICE, device_code: deviceCode, client_id: 'dhis2-auth' });
}

function settle(userCode, action, username) {
  return emu.ctl('POST', '/oauth2/device', { user_code: userCode, action, username });
}

function me(at) {
  return emu.request('/api/me?fields=username', { headers: { Authorization: `Bearer ${at}` } });
}

test('discovery: its own issuer with a device_authorization_endpoint', async () => {
  const r = await fetchRaw(`${idp}/.well-known/openid-configuration`);
  assert.equal(r.status, 200);
  assert.equal(r.json.issuer, idp);
  assert.equal(r.json.device_authorization_endpoint,
    `${idp}/protocol/openid-connect/auth/device`);
  assert.equal(r.json.token_endpoint, `${idp}/protocol/openid-connect/token`);
  assert.equal(r.json.jwks_uri, `${idp}/protocol/openid-connect/certs`);
  assert.ok(r.json.grant_types_supported.includes(DEVICE));
  const other = await fetchRaw(`http://127.0.0.1:${emu.ready.idp_port}/nothing`);
  assert.equal(other.status, 404);
});

test('device flow approved: pending, then tokens that /api/me maps by email',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0, jwt_bearer: true });
    const d = await deviceStart();
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(d.verification_uri, `${idp}/device`);
    assert.equal(d.verification_uri_complete, `${idp}/device?user_code=${d.user_code}`);
    assert.equal(d.expires_in, 600);
    assert.equal(d.interval, 0);
    const pending = await poll(d.device_code);
    assert.equal(pending.status, 400);
    assert.equal(pending.json.error, 'authorization_pending');
    assert.equal((await settle(d.user_code, 'approve', 'alice')).status, 200);
    const t = await poll(d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.ok(t.json.refresh_token);
    assert.ok(t.json.id_token);
    const at = k.decodeJwt(t.json.access_token).payload;
    assert.equal(at.iss, idp);
    assert.equal(at.sub, 'AliceUsr001');
    assert.equal(at.email, 'alice@example.org');
    assert.equal(at.preferred_username, 'alice');
    assert.equal(at.azp, 'dhis2-auth');
    const jwks = (await fetchRaw(`${idp}/protocol/openid-connect/certs`)).json;
    assert.ok(k.verifyWithJwks(t.json.access_token, jwks).ok);
    const ok = await me(t.json.access_token);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { username: 'alice' });
    // Refresh works for this public client at the IdP.
    const refresh = () => k.post(`${idp}/protocol/openid-connect/token`,
      { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: 'dhis2-auth' });
    assert.equal((await refresh()).status, 200);
    // The code is spent; polling again revokes the grant (oidc-provider's
    // replay rule), refresh token included.
    assert.equal((await poll(d.device_code)).json.error, 'invalid_grant');
    assert.equal((await refresh()).json.error, 'invalid_grant');
  });

test('mapping claim: a user without email is not found; username mapping finds them',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0, jwt_bearer: true });
    const d = await deviceStart();
    await settle(d.user_code, 'approve', 'bob');
    const t = (await poll(d.device_code)).json;
    const r = await me(t.access_token);
    assert.equal(r.status, 401);
    assert.equal(r.json.message,
      "Found no matching DHIS2 user for the mapping claim: 'email' with the value: 'null'");
    await emu.ctl('POST', '/oauth2', { idp_mapping_claim: 'username' });
    assert.deepEqual((await me(t.access_token)).json, { username: 'bob' });
    await emu.ctl('POST', '/oauth2', { idp_audiences: ['dhis2'] });
    assert.equal((await me(t.access_token)).json.message, 'Invalid audience');
  });

test('device flow denied: access_denied', async () => {
  await emu.ctl('POST', '/oauth2', { device_interval: 0 });
  const d = await deviceStart();
  assert.equal((await settle(d.user_code, 'deny')).status, 200);
  const r = await poll(d.device_code);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'access_denied');
  assert.equal((await settle(d.user_code, 'approve')).status, 409);
  assert.equal((await settle('BBBB-BBBB', 'approve')).status, 404);
});

test('device_reply lays members over the device authorization reply', async () => {
  await emu.ctl('POST', '/oauth2', { device_reply: { verification_uri: 'http://evil.example/d' } });
  const d = await deviceStart();
  assert.equal(d.verification_uri, 'http://evil.example/d');
  assert.ok(d.device_code && d.user_code, 'the rest of the reply is the IdP\'s');
  assert.equal((await emu.ctl('POST', '/oauth2', { device_reply: [1] })).status, 400);
});

test('device code expiry: expired_token after device_expires_in', async () => {
  await emu.ctl('POST', '/oauth2', { device_interval: 0, device_expires_in: 1 });
  const d = await deviceStart();
  assert.equal(d.expires_in, 1);
  await k.sleep(1100);
  const r = await poll(d.device_code);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'expired_token');
  assert.equal((await settle(d.user_code, 'approve')).status, 409);
});

test('device_expires_in_said: the answer says a longer life than the code has',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0, device_expires_in: 1,
      device_expires_in_said: 30 });
    const d = await deviceStart();
    assert.equal(d.expires_in, 30);
    await k.sleep(1100);
    assert.equal((await poll(d.device_code)).json.error, 'expired_token');
    assert.equal((await emu.ctl('POST', '/oauth2', { device_expires_in_said: 0 })).status, 400);
  });

test('idp_device false: discovery offers no device_authorization_endpoint', async () => {
  await emu.ctl('POST', '/oauth2', { idp_device: false });
  const r = await fetchRaw(`${idp}/.well-known/openid-configuration`);
  assert.equal(r.status, 200);
  assert.equal(r.json.device_authorization_endpoint, undefined);
  assert.equal(r.json.token_endpoint, `${idp}/protocol/openid-connect/token`);
  assert.equal((await emu.ctl('POST', '/oauth2', { idp_device: 'no' })).status, 400);
});

test('interval: polling too fast gets slow_down and the interval grows by 5 s',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 1 });
    const d = await deviceStart();
    assert.equal(d.interval, 1);
    assert.equal((await poll(d.device_code)).json.error, 'authorization_pending');
    const fast = await poll(d.device_code);
    assert.equal(fast.status, 400);
    assert.equal(fast.json.error, 'slow_down');
    await k.sleep(1100);
    // 1 s was enough before; now the interval is 6 s.
    assert.equal((await poll(d.device_code)).json.error, 'slow_down');
  });

test('device_slow_down: the next polls answer slow_down however they are timed',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0, device_slow_down: 1 });
    const first = await deviceStart();
    const second = await deviceStart();
    const slow = await poll(first.device_code);
    assert.equal(slow.status, 400);
    assert.equal(slow.json.error, 'slow_down');
    assert.match(slow.json.error_description, /wait 5 s/);
    // One forced answer, spent: the other code is polled on time.
    assert.equal((await poll(second.device_code)).json.error, 'authorization_pending');
    assert.equal((await emu.ctl('GET', '/oauth2')).json.settings.device_slow_down, 0);
    assert.equal((await emu.ctl('POST', '/oauth2', { device_slow_down: -1 })).status, 400);
  });

test('token replies carry Keycloak\'s refresh_expires_in: the refresh token\'s life left',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0 });
    const d = await deviceStart();
    await settle(d.user_code, 'approve', 'alice');
    const t = (await poll(d.device_code)).json;
    assert.ok(t.refresh_expires_in > 1790 && t.refresh_expires_in <= 1800,
      String(t.refresh_expires_in));
    const r = (await k.post(`${idp}/protocol/openid-connect/token`, { grant_type:
      'refresh_token', refresh_token: t.refresh_token, client_id: 'dhis2-auth' })).json;
    assert.ok(r.access_token);
    // Not rotated, so the same refresh token with no more life than before.
    assert.ok(r.refresh_expires_in > 1790 && r.refresh_expires_in <= t.refresh_expires_in,
      String(r.refresh_expires_in));
  });

test('verification page driven like curl: code, confirm, login, success', async () => {
  await emu.ctl('POST', '/oauth2', { device_interval: 0 });
  const d = await deviceStart();
  const jar = new k.CookieJar();
  // The page for typing the code.
  const input = await k.browse(jar, d.verification_uri);
  assert.equal(input.status, 200);
  const xsrf = k.hiddenInputs(input.text, 'op.deviceInputForm').xsrf;
  assert.ok(xsrf);
  const confirm = await k.browse(jar, d.verification_uri, { method: 'POST',
    form: { xsrf, user_code: d.user_code.toLowerCase() } });
  assert.equal(confirm.status, 200);
  assert.match(confirm.text, /id="op.deviceConfirmForm"/);
  const hidden = k.hiddenInputs(confirm.text, 'op.deviceConfirmForm');
  assert.equal(hidden.confirm, 'yes');
  const go = await k.browse(jar, d.verification_uri, { method: 'POST', form: hidden });
  assert.equal(go.status, 303);
  const loginUrl = new URL(go.headers.location, idp).href;
  const login = await k.browse(jar, loginUrl);
  assert.match(login.text, /id="login"/);
  const done = await k.browse(jar, new URL(k.formAction(login.text, 'login'), loginUrl).href,
    { method: 'POST', form: { username: 'alice', password: 'Alice-pw-1' } });
  assert.equal(done.status, 303);
  const { res } = await k.follow(jar, `http://127.0.0.1:${emu.ready.idp_port}`,
    new URL(done.headers.location, loginUrl).href);
  assert.equal(res.status, 200);
  assert.match(res.text, /data-status="success"/);
  const t = await poll(d.device_code);
  assert.equal(t.status, 200, t.text);
  assert.equal(k.decodeJwt(t.json.access_token).payload.preferred_username, 'alice');
});

test('bad_token applies to the IdP too: a bad signature is refused by /api/me',
  async () => {
    await emu.ctl('POST', '/oauth2', { device_interval: 0, jwt_bearer: true,
      bad_token: 'signature' });
    const d = await deviceStart();
    await settle(d.user_code, 'approve', 'alice');
    const t = (await poll(d.device_code)).json;
    const jwks = (await fetchRaw(`${idp}/protocol/openid-connect/certs`)).json;
    assert.equal(k.verifyWithJwks(t.access_token, jwks).ok, false);
    const r = await me(t.access_token);
    assert.equal(r.status, 401);
    assert.match(r.json.message, /Invalid signature/);
  });
