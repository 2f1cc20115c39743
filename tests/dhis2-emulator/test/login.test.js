// POST /api/auth/login (2.41+): statuses, 2FA, sessions, logout; and what
// older versions answer on that path.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, user, webMessage } = require('../support/testkit');
const { totp } = require('../lib/totp');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const CAROL_SECRET = user('carol').secret;

function cookieOf(r) {
  const c = r.headers['set-cookie'];
  return c ? c[0].split(';')[0] : null;
}

test('SUCCESS: 200, redirectUrl "/", a JSESSIONID session', async () => {
  const r = await emu.login('alice', 'Alice-pw-1');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
  assert.match(r.headers['set-cookie'][0],
    /^JSESSIONID=[0-9A-F]{32}; Path=\/; HttpOnly$/);
  const me = await emu.request('/api/me?fields=username',
    { cookie: cookieOf(r) });
  assert.deepEqual(me.json, { username: 'alice' });
});

test('bad password and unknown user: 401 "Bad credentials"', async () => {
  for (const [u, p] of [['alice', 'nope'], ['nobody', 'x'], [null, 'x']]) {
    const r = await emu.login(u, p);
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, webMessage(401, 'Bad credentials'));
    assert.equal(r.headers['set-cookie'], undefined);
  }
});

test('account states come before the password check', async () => {
  const cases = [['erin', 'ACCOUNT_DISABLED'], ['frank', 'ACCOUNT_LOCKED'],
    ['grace', 'ACCOUNT_EXPIRED']];
  for (const [u, status] of cases) {
    for (const p of [`${u[0].toUpperCase()}${u.slice(1)}-pw-1`, 'wrong']) {
      const r = await emu.login(u, p);
      assert.equal(r.status, 200, u);
      assert.deepEqual(r.json, { loginStatus: status }, `${u}/${p}`);
      assert.equal(r.headers['set-cookie'], undefined);
    }
  }
});

test('PASSWORD_EXPIRED only with the right password, and no session',
  async () => {
    const r = await emu.login('heidi', 'Heidi-pw-1');
    assert.deepEqual(r.json, { loginStatus: 'PASSWORD_EXPIRED' });
    assert.equal(r.headers['set-cookie'], undefined);
    const bad = await emu.login('heidi', 'wrong');
    assert.equal(bad.status, 401);
  });

test('REQUIRES_TWO_FACTOR_ENROLMENT for a role demanding 2FA', async () => {
  const r = await emu.login('ivan', 'Ivan-pw-1');
  assert.deepEqual(r.json, { loginStatus: 'REQUIRES_TWO_FACTOR_ENROLMENT' });
  assert.equal((await emu.login('ivan', 'wrong')).status, 401);
});

test('TOTP (2.42): no code and a wrong code give INCORRECT_TWO_FACTOR_CODE_TOTP',
  async () => {
    for (const code of [undefined, '', '000000', 'abcdef']) {
      const r = await emu.login('carol', 'Carol-pw-1', code);
      assert.deepEqual(r.json, { loginStatus: 'INCORRECT_TWO_FACTOR_CODE_TOTP' },
        String(code));
    }
    // 2FA is checked after the password: a wrong password is still 401.
    assert.equal((await emu.login('carol', 'wrong', '000000')).status, 401);
  });

test('TOTP: the current and the previous step pass, the next one does not',
  async () => {
    const now = Date.now();
    for (const [dt, ok] of [[0, true], [-30000, true], [-60000, false],
      [30000, false]]) {
      const code = totp(CAROL_SECRET, now + dt);
      const r = await emu.login('carol', 'Carol-pw-1', code);
      // Skip the rare run that straddles a 30 s boundary.
      if (Math.floor(Date.now() / 30000) !== Math.floor(now / 30000)) return;
      assert.equal(r.json.loginStatus,
        ok ? 'SUCCESS' : 'INCORRECT_TWO_FACTOR_CODE_TOTP', `dt=${dt}`);
    }
  });

test('TOTP follows the clock offset', async () => {
  await emu.ctl('POST', '/clock', { offset_s: 3600 });
  const code = totp(CAROL_SECRET, Date.now() + 3600 * 1000);
  const r = await emu.login('carol', 'Carol-pw-1', ` ${code} `);
  assert.equal(r.json.loginStatus, 'SUCCESS');
});

test('email 2FA is off by default: an email 2FA user signs in without a code',
  async () => {
    const r = await emu.login('dave', 'Dave-pw-1');
    assert.deepEqual(r.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
    assert.equal((await emu.ctl('GET', '/email-code?username=dave')).status,
      404, 'no code was sent');
    // Basic and PATs still treat the user as a 2FA user.
    const basic = await emu.request('/api/me', { auth: ['dave', 'Dave-pw-1'] });
    assert.equal(basic.status, 401);
  });

test('email 2FA (2.42): first call sends a code, a wrong code fails, the code works',
  async () => {
    await emu.ctl('POST', '/settings', { email_2fa: true });
    const none = await emu.ctl('GET', '/email-code?username=dave');
    assert.equal(none.status, 404);
    const first = await emu.login('dave', 'Dave-pw-1');
    assert.deepEqual(first.json, { loginStatus: 'EMAIL_TWO_FACTOR_CODE_SENT' });
    const { code } = (await emu.ctl('GET', '/email-code?username=dave')).json;
    assert.match(code, /^[0-9]{6}$/);
    const wrong = await emu.login('dave', 'Dave-pw-1',
      code === '123456' ? '654321' : '123456');
    assert.deepEqual(wrong.json, { loginStatus: 'INCORRECT_TWO_FACTOR_CODE_EMAIL' });
    const ok = await emu.login('dave', 'Dave-pw-1', code);
    assert.equal(ok.json.loginStatus, 'SUCCESS');
    assert.ok(cookieOf(ok));
  });

test('email 2FA: the code expires after 15 minutes', async () => {
  await emu.ctl('POST', '/settings', { email_2fa: true });
  await emu.login('dave', 'Dave-pw-1');
  const { code } = (await emu.ctl('GET', '/email-code?username=dave')).json;
  await emu.ctl('POST', '/clock', { offset_s: 16 * 60 });
  const r = await emu.login('dave', 'Dave-pw-1', code);
  assert.deepEqual(r.json, { loginStatus: 'INCORRECT_TWO_FACTOR_CODE_EMAIL' });
});

test('2.41: SUCCESS redirects to the start module, /dhis-web-dashboard',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.41' });
    const r = await emu.login('alice', 'Alice-pw-1');
    assert.deepEqual(r.json,
      { loginStatus: 'SUCCESS', redirectUrl: '/dhis-web-dashboard' });
  });

test('2.41: any 2FA failure is plain INCORRECT_TWO_FACTOR_CODE', async () => {
  await emu.ctl('POST', '/version', { version: '2.41' });
  for (const [u, p] of [['carol', 'Carol-pw-1'], ['dave', 'Dave-pw-1']]) {
    const r = await emu.login(u, p);
    assert.deepEqual(r.json, { loginStatus: 'INCORRECT_TWO_FACTOR_CODE' }, u);
  }
  const code = totp(CAROL_SECRET, Date.now());
  assert.equal((await emu.login('carol', 'Carol-pw-1', code)).json.loginStatus,
    'SUCCESS');
});

test('2.37 and 2.40: the path is behind authentication (401 XHR, else 302)',
  async () => {
    for (const v of ['2.37', '2.40']) {
      await emu.ctl('POST', '/version', { version: v });
      const r = await emu.login('alice', 'Alice-pw-1');
      assert.equal(r.status, 401, v);
      assert.deepEqual(r.json, webMessage(401, 'Unauthorized'));
      const noXhr = await emu.request('/api/auth/login', {
        method: 'POST', xhr: false,
        body: { username: 'alice', password: 'Alice-pw-1' },
      });
      assert.equal(noXhr.status, 302);
      assert.equal(noXhr.headers.location,
        `${emu.url}/dhis-web-commons/security/login.action`);
    }
  });

test('loginConfig: anonymous 200 with apiVersion from 2.41, entry point before',
  async () => {
    for (const v of ['2.41', '2.42']) {
      await emu.ctl('POST', '/version', { version: v });
      const r = await emu.request('/api/loginConfig');
      assert.equal(r.status, 200, v);
      assert.match(r.json.apiVersion, new RegExp(`^${v}`));
    }
    for (const v of ['2.37', '2.40']) {
      await emu.ctl('POST', '/version', { version: v });
      const r = await emu.request('/api/loginConfig');
      assert.equal(r.status, 401, v);
    }
  });

test('GET on the login endpoint is 405', async () => {
  const r = await emu.request('/api/auth/login');
  assert.equal(r.status, 405);
});

test('a body that is not JSON is 400', async () => {
  const r = await emu.request('/api/auth/login', {
    method: 'POST', body: '{nope', headers: { 'Content-Type': 'application/json' },
  });
  assert.equal(r.status, 400);
});

test('logout.action ends the session: 302 to / and the cookie cleared',
  async () => {
    const cookie = cookieOf(await emu.login('alice', 'Alice-pw-1'));
    const out = await emu.request('/dhis-web-commons-security/logout.action',
      { cookie, method: 'POST' });
    assert.equal(out.status, 302);
    assert.equal(out.headers.location, `${emu.url}/`);
    assert.match(out.headers['set-cookie'][0], /^JSESSIONID=; .*Max-Age=0/);
    const after = await emu.request('/api/me', { cookie });
    assert.equal(after.status, 401);
  });

test('logout.action answers any method', async () => {
  const cookie = cookieOf(await emu.login('alice', 'Alice-pw-1'));
  const out = await emu.request('/dhis-web-commons-security/logout.action',
    { cookie });
  assert.equal(out.status, 302);
  assert.equal((await emu.request('/api/me', { cookie })).status, 401);
});

test('logout.action answers 302 to / on every line', async () => {
  for (const version of ['2.37', '2.37.10', '2.40', '2.41', '2.42', 'master']) {
    await emu.ctl('POST', '/version', { version });
    const r = await emu.request('/dhis-web-commons-security/logout.action',
      { method: 'POST' });
    assert.equal(r.status, 302, version);
    assert.equal(r.headers.location, `${emu.url}/`, version);
  }
});

test('2.37.10: anonymous requests get a bare 401 with a Basic challenge, never a 302',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.37.10' });
    for (const path of ['/api/loginConfig', '/api/auth/login', '/api/me']) {
      for (const xhr of [true, false]) {
        const r = await emu.request(path, { xhr,
          method: path === '/api/auth/login' ? 'POST' : 'GET' });
        assert.equal(r.status, 401, `${path} xhr=${xhr}`);
        assert.equal(r.headers['www-authenticate'], 'Basic realm="Realm"');
        assert.equal(r.json, undefined, 'no WebMessage');
      }
    }
  });

test('there is no /api/auth/logout: an authenticated caller gets 404',
  async () => {
    const cookie = cookieOf(await emu.login('alice', 'Alice-pw-1'));
    const r = await emu.request('/api/auth/logout', { cookie, method: 'POST' });
    assert.equal(r.status, 404);
  });

test('at most 10 sessions per user: the oldest is expired', async () => {
  const cookies = [];
  for (let i = 0; i < 11; i++) {
    cookies.push(cookieOf(await emu.login('bob', 'Bob-pw-1')));
  }
  assert.equal((await emu.request('/api/me', { cookie: cookies[0] })).status, 401);
  assert.equal((await emu.request('/api/me', { cookie: cookies[10] })).status, 200);
});
