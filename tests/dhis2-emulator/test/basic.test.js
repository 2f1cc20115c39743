// HTTP Basic on /api/me: which users get in, and the exact 401 messages.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

async function basic(user, pass, opts = {}) {
  return emu.request('/api/me?fields=username', { auth: [user, pass], ...opts });
}

test('right password: 200 and a session cookie', async () => {
  const r = await basic('alice', 'Alice-pw-1');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { username: 'alice' });
  assert.match(r.headers['set-cookie'][0], /^JSESSIONID=\w+; Path=\/; HttpOnly$/);
});

test('a password with ":" and non-ASCII (UTF-8) works', async () => {
  const r = await basic('uma', 'pä:ss wörd');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { username: 'uma' });
  assert.equal((await basic('uma', 'pä:ss')).status, 401);
});

test('failures are 401 "Unauthorized" JSON, even without X-Requested-With',
  async () => {
    const cases = [
      ['alice', 'wrong'], // bad password
      ['nobody', 'x'], // unknown user
      ['grace', 'Grace-pw-1'], // account expired
      ['heidi', 'Heidi-pw-1'], // password expired
      ['carol', 'Carol-pw-1'], // TOTP 2FA user
      ['dave', 'Dave-pw-1'], // email 2FA user
      ['ivan', 'Ivan-pw-1'], // must enrol in 2FA
    ];
    for (const [u, p] of cases) {
      const r = await basic(u, p, { xhr: false });
      assert.equal(r.status, 401, u);
      assert.deepEqual(r.json, webMessage(401, 'Unauthorized'), u);
    }
  });

test('disabled user: "Account disabled", whatever the password', async () => {
  for (const p of ['Erin-pw-1', 'wrong']) {
    const r = await basic('erin', p);
    assert.deepEqual(r.json, webMessage(401, 'Account disabled'));
  }
});

test('locked user: "Account locked", whatever the password', async () => {
  for (const p of ['Frank-pw-1', 'wrong']) {
    const r = await basic('frank', p);
    assert.deepEqual(r.json, webMessage(401, 'Account locked'));
  }
});

test('unreadable Basic headers are 401 and not counted as failures',
  async () => {
    for (const h of ['Basic', 'Basic !!!notbase64', 'Basic ' +
      Buffer.from('nocolon').toString('base64')]) {
      const r = await emu.request('/api/me', { headers: { Authorization: h } });
      assert.equal(r.status, 401, h);
      assert.deepEqual(r.json, webMessage(401, 'Unauthorized'));
    }
  });

test('the scheme name is case-insensitive', async () => {
  const r = await emu.request('/api/me?fields=username', {
    headers: { Authorization: 'basic ' +
      Buffer.from('alice:Alice-pw-1').toString('base64') },
  });
  assert.equal(r.status, 200);
});

test('clock offset moves account expiry', async () => {
  // bob has no expiry; grace expired in 2020: moving back makes her valid.
  const back = -(Date.now() - Date.UTC(2019, 0, 1)) / 1000;
  await emu.ctl('POST', '/clock', { offset_s: back });
  assert.equal((await basic('grace', 'Grace-pw-1')).status, 200);
});

test('2.37.10: a Basic failure is a bare 401 with a Basic challenge',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.37.10' });
    for (const [u, p] of [['alice', 'wrong'], ['erin', 'Erin-pw-1'],
      ['frank', 'Frank-pw-1']]) {
      const r = await basic(u, p);
      assert.equal(r.status, 401, u);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="Realm"', u);
      assert.equal(r.json, undefined, `${u}: no WebMessage`);
    }
    const ok = await emu.request('/api/me?fields=userCredentials[username]',
      { auth: ['alice', 'Alice-pw-1'] });
    assert.deepEqual(ok.json, { userCredentials: { username: 'alice' } });
  });
