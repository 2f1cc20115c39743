// DHIS2 2.42+'s http.security.csrf.enabled, switched by POST /settings
// {"csrf":true}: what needs the token, how it is handed out, what a refusal
// looks like.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { start, token, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(async () => {
  await emu.reset();
  await emu.ctl('POST', '/settings', { csrf: true });
});

const LOGOUT = '/dhis-web-commons-security/logout.action';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function cookies(r) {
  return [].concat(r.headers['set-cookie'] || []);
}

// The XSRF-TOKEN value a reply hands out, or null.
function xsrfOf(r) {
  for (const c of cookies(r)) {
    const m = /^XSRF-TOKEN=([^;]*)/.exec(c);
    if (m && m[1]) return m[1];
  }
  return null;
}

function sessionOf(r) {
  const c = cookies(r).find((x) => x.startsWith('JSESSIONID='));
  return c ? c.split(';')[0] : null;
}

function login(body, { xsrf, header = xsrf, extra } = {}) {
  const headers = { ...(extra || {}) };
  if (header != null) headers['X-XSRF-TOKEN'] = header;
  return emu.request('/api/auth/login', {
    method: 'POST',
    body,
    headers,
    cookie: xsrf ? `XSRF-TOKEN=${xsrf}` : undefined,
  });
}

async function fetchToken() {
  const r = await emu.request('/api/loginConfig');
  assert.equal(r.status, 200);
  const t = xsrfOf(r);
  assert.match(t, UUID_RE);
  return t;
}

test('off by default: no cookie, login and logout need nothing', async () => {
  await emu.reset();
  const cfg = await emu.request('/api/loginConfig');
  assert.equal(cfg.headers['set-cookie'], undefined);
  const r = await emu.login('alice', 'Alice-pw-1');
  assert.equal(r.status, 200);
  const out = await emu.request(LOGOUT, { cookie: sessionOf(r) });
  assert.equal(out.status, 302);
});

test('settings: csrf must be a boolean, unknown keys refused', async () => {
  assert.equal((await emu.ctl('POST', '/settings', { csrf: 'on' })).status, 400);
  assert.equal((await emu.ctl('POST', '/settings', { csrf: true, x: 1 })).status,
    400);
  assert.equal((await emu.ctl('POST', '/settings',
    { csrf: false, lockout: true })).status, 200);
});

test('login without the token: 403 Forbidden page, a fresh cookie, no count',
  async () => {
    for (let i = 0; i < 6; i++) {
      const r = await login({ username: 'alice', password: 'Alice-pw-1' });
      assert.equal(r.status, 403);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.match(r.text, /HTTP Status 403 – Forbidden/);
      assert.equal(r.json, undefined);
      // The refusal itself hands out a token (the deferred token was made).
      assert.match(xsrfOf(r), UUID_RE);
      assert.equal(sessionOf(r), null);
    }
    // Refused before the password: six tries did not lock alice out.
    const t = await fetchToken();
    const ok = await login({ username: 'alice', password: 'Alice-pw-1' },
      { xsrf: t });
    assert.deepEqual(ok.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
  });

test('the token: cookie XSRF-TOKEN (readable, Path=/) from any anonymous GET',
  async () => {
    for (const p of ['/api/loginConfig', '/dhis-web-login/', '/api/me']) {
      const r = await emu.request(p);
      const c = cookies(r).find((x) => x.startsWith('XSRF-TOKEN='));
      assert.match(c, /^XSRF-TOKEN=[0-9a-f-]{36}; Path=\/$/, p);
      assert.doesNotMatch(c, /HttpOnly/);
    }
    // A request that already carries one gets no new one.
    const t = await fetchToken();
    const again = await emu.request('/api/loginConfig',
      { cookie: `XSRF-TOKEN=${t}` });
    assert.equal(again.headers['set-cookie'], undefined);
    // /api/ping is outside Spring Security: nothing.
    const ping = await emu.request('/api/ping');
    assert.equal(ping.headers['set-cookie'], undefined);
  });

test('login with cookie + X-XSRF-TOKEN works; statuses unchanged', async () => {
  const t = await fetchToken();
  const r = await login({ username: 'alice', password: 'Alice-pw-1' },
    { xsrf: t });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
  assert.ok(sessionOf(r));
  assert.equal(xsrfOf(r), null, 'the token is not rotated by /api/auth/login');
  const bad = await login({ username: 'alice', password: 'nope' }, { xsrf: t });
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.json, webMessage(401, 'Bad credentials'));
  const dis = await login({ username: 'erin', password: 'x' }, { xsrf: t });
  assert.deepEqual(dis.json, { loginStatus: 'ACCOUNT_DISABLED' });
});

test('wrong, empty or cookie-less header: 403', async () => {
  const t = await fetchToken();
  const body = { username: 'alice', password: 'Alice-pw-1' };
  // header without the cookie: the server has no token to compare with
  let r = await login(body, { header: t });
  assert.equal(r.status, 403);
  assert.notEqual(xsrfOf(r), t);
  // cookie without the header
  r = await login(body, { xsrf: t, header: null });
  assert.equal(r.status, 403);
  assert.equal(xsrfOf(r), null, 'the cookie was there: no new one');
  // mismatch, and blank
  r = await login(body, { xsrf: t, header: crypto.randomUUID() });
  assert.equal(r.status, 403);
  r = await login(body, { xsrf: t, header: ' ' });
  assert.equal(r.status, 403);
  // X-CSRF-TOKEN is not the header DHIS2 reads
  r = await login(body, { xsrf: t, header: null,
    extra: { 'X-CSRF-TOKEN': t } });
  assert.equal(r.status, 403);
  // a raw token in _csrf is refused: that parameter is XOR-masked
  r = await emu.request(`/api/auth/login?_csrf=${t}`,
    { method: 'POST', body, cookie: `XSRF-TOKEN=${t}` });
  assert.equal(r.status, 403);
});

test('_csrf parameter with the XOR-masked token is accepted', async () => {
  const t = await fetchToken();
  const tb = Buffer.from(t, 'utf8');
  const rnd = crypto.randomBytes(tb.length);
  const x = Buffer.from(tb.map((b, i) => b ^ rnd[i]));
  const masked = Buffer.concat([rnd, x]).toString('base64url');
  const r = await emu.request(`/api/auth/login?_csrf=${masked}`, {
    method: 'POST',
    body: { username: 'alice', password: 'Alice-pw-1' },
    cookie: `XSRF-TOKEN=${t}`,
  });
  assert.equal(r.status, 200);
});

test('logout: POST with the token only; clears both cookies', async () => {
  const t = await fetchToken();
  const r = await login({ username: 'alice', password: 'Alice-pw-1' },
    { xsrf: t });
  const sess = sessionOf(r);
  const both = `${sess}; XSRF-TOKEN=${t}`;
  // GET is no logout any more: the session stays.
  const get = await emu.request(LOGOUT, { cookie: both });
  assert.notEqual(get.status, 302);
  let me = await emu.request('/api/me?fields=username', { cookie: both });
  assert.deepEqual(me.json, { username: 'alice' });
  // POST without the header: 403, session still alive.
  const no = await emu.request(LOGOUT, { method: 'POST', cookie: both });
  assert.equal(no.status, 403);
  me = await emu.request('/api/me?fields=username', { cookie: both });
  assert.equal(me.status, 200);
  // POST with it: 302 to /, JSESSIONID and XSRF-TOKEN cleared.
  const out = await emu.request(LOGOUT, { method: 'POST', cookie: both,
    headers: { 'X-XSRF-TOKEN': t } });
  assert.equal(out.status, 302);
  assert.match(out.headers.location, /\/$/);
  const set = cookies(out);
  assert.ok(set.some((c) => /^XSRF-TOKEN=; Max-Age=0/.test(c)), set.join());
  assert.ok(set.some((c) => /^JSESSIONID=;/.test(c)), set.join());
  me = await emu.request('/api/me?fields=username', { cookie: both });
  assert.equal(me.status, 401);
});

test('GET with Basic, ApiToken or a session is never checked', async () => {
  let r = await emu.request('/api/me?fields=username',
    { auth: ['alice', 'Alice-pw-1'] });
  assert.deepEqual(r.json, { username: 'alice' });
  // the session cookie and a token both handed out
  assert.ok(sessionOf(r));
  assert.match(xsrfOf(r), UUID_RE);
  r = await emu.request('/api/me?fields=username',
    { token: token('alice', 'AlicePatV02') });
  assert.deepEqual(r.json, { username: 'alice' });
  // A failed Basic or PAT ends before the cookie filter: no token.
  r = await emu.request('/api/me', { auth: ['alice', 'nope'] });
  assert.equal(r.status, 401);
  assert.equal(xsrfOf(r), null);
  r = await emu.request('/api/me', { token: 'd2p_nonsense' });
  assert.notEqual(r.status, 200);
  assert.equal(xsrfOf(r), null);
});

test('POST with Basic needs the token as well', async () => {
  const r = await emu.request('/api/me', { method: 'POST',
    auth: ['alice', 'Alice-pw-1'] });
  assert.equal(r.status, 403);
});

test('no effect before 2.42 (no such dhis.conf key)', async () => {
  for (const v of ['2.41', '2.40']) {
    await emu.ctl('POST', '/version', { version: v });
    const cfg = await emu.request('/api/loginConfig');
    assert.equal(xsrfOf(cfg), null, v);
    const out = await emu.request(LOGOUT);
    assert.notEqual(out.status, 403, v);
  }
  await emu.ctl('POST', '/version', { version: '2.41' });
  const r = await emu.login('alice', 'Alice-pw-1');
  assert.equal(r.status, 200);
});

test('HTTPS: the cookie is Secure', async () => {
  const tls = await start({ tls: true });
  try {
    await tls.ctl('POST', '/settings', { csrf: true });
    const r = await tls.request('/api/loginConfig');
    assert.match(cookies(r)[0], /^XSRF-TOKEN=[0-9a-f-]{36}; Path=\/; Secure$/);
  } finally {
    await tls.stop();
  }
});

test('/reset turns CSRF off again', async () => {
  await emu.reset();
  const r = await emu.login('alice', 'Alice-pw-1');
  assert.equal(r.status, 200);
});
