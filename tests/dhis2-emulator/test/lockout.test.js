// The username lockout (keyLockMultipleFailedLogins): 4 recorded failures
// lock the name for 15 minutes after the last one.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, token, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const basic = (u, p) => emu.request('/api/me?fields=username', { auth: [u, p] });

async function fail(n, u = 'mallory') {
  for (let i = 0; i < n; i++) assert.equal((await basic(u, 'wrong')).status, 401);
}

test('4 failures lock the account; then even the right password is refused',
  async () => {
    await fail(3);
    assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200,
      'three failures do not lock (and success clears them)');
    await fail(4);
    const r = await basic('mallory', 'Mallory-pw-1');
    assert.deepEqual(r.json, webMessage(401, 'Account locked'));
    const l = await emu.login('mallory', 'Mallory-pw-1');
    assert.deepEqual(l.json, { loginStatus: 'ACCOUNT_LOCKED' });
  });

test('a success before the 4th failure resets the count', async () => {
  await fail(3);
  assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200);
  await fail(3);
  assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200);
});

test('the lock is per username, not per client', async () => {
  await fail(4);
  assert.equal((await basic('alice', 'Alice-pw-1')).status, 200);
});

test('the lock lifts 15 minutes after the last failure', async () => {
  await fail(4);
  await emu.ctl('POST', '/clock', { offset_s: 16 * 60 });
  assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200);
});

test('every attempt while locked, even with the right password, renews it',
  async () => {
    await fail(4);
    await emu.ctl('POST', '/clock', { offset_s: 10 * 60 });
    assert.deepEqual((await basic('mallory', 'Mallory-pw-1')).json,
      webMessage(401, 'Account locked'));
    await emu.ctl('POST', '/clock', { offset_s: 20 * 60 });
    assert.deepEqual((await basic('mallory', 'Mallory-pw-1')).json,
      webMessage(401, 'Account locked'), 'renewed at 10 min, so still locked');
    await emu.ctl('POST', '/clock', { offset_s: 36 * 60 });
    assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200);
  });

test('/api/auth/login failures count the same as Basic ones', async () => {
  for (let i = 0; i < 4; i++) {
    assert.equal((await emu.login('mallory', 'wrong')).status, 401);
  }
  assert.deepEqual((await emu.login('mallory', 'Mallory-pw-1')).json,
    { loginStatus: 'ACCOUNT_LOCKED' });
});

test('unknown names: counted via Basic, never via /api/auth/login', async () => {
  await fail(4, 'ghost');
  assert.deepEqual((await basic('ghost', 'x')).json,
    webMessage(401, 'Account locked'));
  // The login endpoint rejects unknown names before the provider runs.
  assert.deepEqual((await emu.login('ghost', 'x')).json,
    webMessage(401, 'Bad credentials'));
});

test('2FA failures do not count; PASSWORD_EXPIRED does', async () => {
  for (let i = 0; i < 5; i++) await emu.login('carol', 'Carol-pw-1', '000000');
  assert.equal((await emu.login('carol', 'Carol-pw-1', '000000')).json.loginStatus,
    'INCORRECT_TWO_FACTOR_CODE_TOTP');
  for (let i = 0; i < 4; i++) await emu.login('heidi', 'Heidi-pw-1');
  assert.deepEqual((await emu.login('heidi', 'Heidi-pw-1')).json,
    { loginStatus: 'ACCOUNT_LOCKED' });
});

test('PAT failures do not count toward any lockout', async () => {
  for (let i = 0; i < 6; i++) {
    await emu.request('/api/me', { token: token('judy', 'JudyPatExpd') });
  }
  assert.equal((await basic('judy', 'Judy-pw-1')).status, 200);
});

test('a locked owner cannot use a PAT; a PAT success clears the count',
  async () => {
    const t = token('mallory', 'MalloryPat1');
    await fail(3);
    assert.equal((await emu.request('/api/me', { token: t })).status, 200);
    await fail(3);
    assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200,
      'the PAT success reset the count');
    await emu.reset();
    await fail(4);
    const r = await emu.request('/api/me', { token: t });
    assert.deepEqual(r.json,
      webMessage(401, 'The API token is disabled, locked or 2FA is enabled.'));
  });

test('with the setting off nothing is counted or locked', async () => {
  await emu.ctl('POST', '/settings', { lockout: false });
  await fail(6);
  assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200);
  await emu.ctl('POST', '/settings', { lockout: true });
  await fail(3);
  assert.equal((await basic('mallory', 'Mallory-pw-1')).status, 200,
    'failures made while off were never recorded');
});
