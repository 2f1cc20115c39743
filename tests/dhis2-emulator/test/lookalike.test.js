// Look-alike groups and roles (names that copy another group's or role's
// UID, or its name in other case) and the case twins "Bob" and "bob":
// DHIS2 allows all of them, and looks usernames up case-sensitively.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, token, user, fixture, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const FIELDS = 'username,userGroups[id,name],userRoles[id,name],authorities';

async function me(auth, version = '2.42') {
  await emu.ctl('POST', '/version', { version });
  return emu.request(`/api/me?fields=${FIELDS}`, { auth });
}

test('fixture: the look-alikes sit beside the real group and role', () => {
  const group = (id) => fixture.userGroups.find((g) => g.id === id);
  const role = (id) => fixture.userRoles.find((r) => r.id === id);
  assert.equal(group('LinuxAdmGrp').name, 'Linux admins');
  assert.equal(group('MimicUidGrp').name, 'LinuxAdmGrp');
  assert.equal(group('TrudyCaseGp').name, 'LINUX ADMINS');
  assert.equal(role('yrB6vc5Ip3r').name, 'Superuser');
  assert.equal(role('MimicUidRol').name, 'yrB6vc5Ip3r');
  assert.equal(role('TrudyCaseRl').name, 'SUPERUSER');
  assert.deepEqual(role('MimicUidRol').authorities, ['M_dhis-web-dashboard']);
  assert.deepEqual(role('TrudyCaseRl').authorities, ['M_dhis-web-dashboard']);
});

test('mimicgrp: only in the group NAMED "LinuxAdmGrp"', async () => {
  const r = await me(['mimicgrp', 'Mimicgrp-pw-1']);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.userGroups, [{ id: 'MimicUidGrp', name: 'LinuxAdmGrp' }]);
});

test('trudy: only in "LINUX ADMINS"; her PAT works', async () => {
  const r = await me(['trudy', 'Trudy-pw-1']);
  assert.deepEqual(r.json.userGroups, [{ id: 'TrudyCaseGp', name: 'LINUX ADMINS' }]);
  const p = await emu.request('/api/me?fields=username,userGroups[id,name]',
    { token: token('trudy', 'TrudyPatV21') });
  assert.deepEqual(p.json, { username: 'trudy',
    userGroups: [{ id: 'TrudyCaseGp', name: 'LINUX ADMINS' }] });
});

test('mimicrole and trudyrole: look-alike roles, no ALL', async () => {
  let r = await me(['mimicrole', 'Mimicrole-pw-1']);
  assert.deepEqual(r.json.userRoles, [{ id: 'MimicUidRol', name: 'yrB6vc5Ip3r' }]);
  assert.deepEqual(r.json.userGroups, []);
  assert.deepEqual(r.json.authorities, ['M_dhis-web-dashboard']);
  r = await me(['trudyrole', 'Trudyrole-pw-1']);
  assert.deepEqual(r.json.userRoles, [{ id: 'TrudyCaseRl', name: 'SUPERUSER' }]);
  assert.deepEqual(r.json.authorities, ['M_dhis-web-dashboard']);
  const all = await emu.request('/api/me/authorization/ALL',
    { auth: ['trudyrole', 'Trudyrole-pw-1'] });
  assert.equal(all.json, false);
});

test('2.37 shape: roles only under userCredentials, same look-alikes',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.37' });
    const r = await emu.request('/api/me?fields=userCredentials[username,userRoles[id,name]],userGroups[id,name]',
      { auth: ['mimicrole', 'Mimicrole-pw-1'] });
    assert.deepEqual(r.json.userCredentials, { username: 'mimicrole',
      userRoles: [{ id: 'MimicUidRol', name: 'yrB6vc5Ip3r' }] });
  });

test('Bob and bob are two users with their own passwords', async () => {
  assert.notEqual(user('Bob').password, user('bob').password);
  for (const v of ['2.37', '2.40', '2.41', '2.42']) {
    await emu.reset();
    await emu.ctl('POST', '/version', { version: v });
    const big = await emu.request('/api/me?fields=id',
      { auth: ['Bob', 'BigBob-pw-1'] });
    assert.deepEqual(big.json, { id: 'BobCapital1' }, v);
    const small = await emu.request('/api/me?fields=id',
      { auth: ['bob', 'Bob-pw-1'] });
    assert.deepEqual(small.json, { id: 'BobUser0001' }, v);
    // Each password only for its own name; other spellings are unknown.
    for (const [u, p] of [['bob', 'BigBob-pw-1'], ['Bob', 'Bob-pw-1'],
      ['BOB', 'BigBob-pw-1'], ['BOB', 'Bob-pw-1']]) {
      const r = await emu.request('/api/me', { auth: [u, p] });
      assert.equal(r.status, 401, `${v} ${u}/${p}`);
    }
  }
});

test('Bob on /api/auth/login: exact name only', async () => {
  let r = await emu.login('Bob', 'BigBob-pw-1');
  assert.deepEqual(r.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
  const cookie = r.headers['set-cookie'][0].split(';')[0];
  const m = await emu.request('/api/me?fields=username,userGroups[id]', { cookie });
  assert.deepEqual(m.json, { username: 'Bob', userGroups: [{ id: 'LinuxAdmGrp' }] });
  for (const [u, p] of [['bob', 'BigBob-pw-1'], ['BOB', 'BigBob-pw-1']]) {
    r = await emu.login(u, p);
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, webMessage(401, 'Bad credentials'));
  }
});

test("Bob's PAT is Bob's, not bob's", async () => {
  const r = await emu.request('/api/me?fields=username,id',
    { token: token('Bob', 'BobCapPatV2') });
  assert.deepEqual(r.json, { username: 'Bob', id: 'BobCapital1' });
  const s = await emu.request('/api/me?fields=username',
    { token: token('bob', 'BobPatV2001') });
  assert.deepEqual(s.json, { username: 'bob' });
});

test('lockout is per exact name: locking "bob" leaves "Bob" alone',
  async () => {
    for (let i = 0; i < 4; i++) await emu.login('bob', 'wrong');
    const locked = await emu.login('bob', 'Bob-pw-1');
    assert.deepEqual(locked.json, { loginStatus: 'ACCOUNT_LOCKED' });
    const big = await emu.login('Bob', 'BigBob-pw-1');
    assert.deepEqual(big.json, { loginStatus: 'SUCCESS', redirectUrl: '/' });
  });
