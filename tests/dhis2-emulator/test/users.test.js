// GET /api/users (a service account looking another user up), the
// organisation units in /api/me, and GET /api/organisationUnits/{uid}.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, token, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const SVC = token('svclookup', 'SvcLookPat1');
const WEAK = token('svcweak', 'SvcWeakPat1');
const LOOKUP = 'id,username,disabled,accountExpiry,twoFactorEnabled,' +
  'userGroups[id,name],userRoles[id,name,authorities],' +
  'organisationUnits[id,path],' +
  'userCredentials[username,disabled,accountExpiry,twoFA,userRoles[id,name]]';
const NURSE_OU = [{ id: 'DiszpKrYNg8',
  path: '/ImspTQPwCqd/O6uvpzGd5pu/DiszpKrYNg8' }];
const DATA_ENTRY = { id: 'DataEntryRl', name: 'Data entry' };
const DATA_ENTRY_AUTHS = ['F_DATAVALUE_ADD', 'F_DATAVALUE_DELETE',
  'M_dhis-web-aggregate-data-entry', 'M_dhis-web-dashboard'];
const LINUX_ADMINS = [{ id: 'LinuxAdmGrp', name: 'Linux admins' }];

async function lookup(version, name, opts = {}) {
  await emu.ctl('POST', '/version', { version });
  const path = opts.path || (version === '2.37' || version === '2.37.10'
    ? 'userCredentials.username' : 'username');
  const q = `filter=${encodeURIComponent(`${path}:eq:${name}`)}` +
    `&fields=${encodeURIComponent(opts.fields || LOOKUP)}&paging=false`;
  return emu.request(`/api/users?${q}`, { token: opts.token || SVC,
    auth: opts.auth });
}

test('2.42+: the account at top level only, no 2FA field', async () => {
  for (const v of ['2.42', '2.42.5', 'master']) {
    const r = await lookup(v, 'nurse');
    assert.equal(r.status, 200, v);
    assert.deepEqual(r.json, { users: [{
      id: 'NurseUser01',
      username: 'nurse',
      disabled: false,
      userGroups: LINUX_ADMINS,
      userRoles: [{ ...DATA_ENTRY, authorities: DATA_ENTRY_AUTHS }],
      organisationUnits: NURSE_OU,
    }] }, v);
  }
});

test('2.40 and 2.41: top level plus a userCredentials copy', async () => {
  for (const v of ['2.40', '2.41']) {
    const r = await lookup(v, 'nurse');
    assert.equal(r.status, 200, v);
    assert.deepEqual(r.json.users, [{
      id: 'NurseUser01',
      username: 'nurse',
      disabled: false,
      twoFactorEnabled: false,
      userGroups: LINUX_ADMINS,
      userRoles: [{ ...DATA_ENTRY, authorities: DATA_ENTRY_AUTHS }],
      organisationUnits: NURSE_OU,
      userCredentials: { username: 'nurse', disabled: false, twoFA: false,
        userRoles: [DATA_ENTRY] },
    }], v);
  }
});

test('2.37: the account only under userCredentials', async () => {
  for (const v of ['2.37', '2.37.10']) {
    const r = await lookup(v, 'nurse');
    assert.equal(r.status, 200, v);
    assert.deepEqual(r.json.users, [{
      id: 'NurseUser01',
      userGroups: LINUX_ADMINS,
      organisationUnits: NURSE_OU,
      userCredentials: { username: 'nurse', disabled: false, twoFA: false,
        userRoles: [DATA_ENTRY] },
    }], v);
  }
});

test('2.37 has no top-level username to filter on: 409', async () => {
  const r = await lookup('2.37', 'nurse', { path: 'username' });
  assert.equal(r.status, 409);
  assert.deepEqual(r.json, { ...webMessage(409, 'Unknown path property: username'),
    httpStatus: 'Conflict' });
});

test('the filter is case-sensitive: NURSE finds nobody, Bob is not bob',
  async () => {
    let r = await lookup('2.42', 'NURSE');
    assert.deepEqual(r.json, { users: [] });
    r = await lookup('2.42', 'Bob', { fields: 'id,username' });
    assert.deepEqual(r.json.users, [{ id: 'BobCapital1', username: 'Bob' }]);
  });

test('disabled and expired users are listed, with their state', async () => {
  let r = await lookup('2.42', 'erin', { fields: 'username,disabled' });
  assert.deepEqual(r.json.users, [{ username: 'erin', disabled: true }]);
  r = await lookup('2.42', 'grace', { fields: 'username,accountExpiry' });
  assert.equal(r.json.users.length, 1);
  assert.match(r.json.users[0].accountExpiry, /^2020-/);
  await emu.ctl('POST', '/user', { username: 'nurse', disabled: true,
    accountExpiry: '2021-01-01T00:00:00.000' });
  r = await lookup('2.41', 'nurse',
    { fields: 'disabled,accountExpiry,userCredentials[disabled]' });
  assert.deepEqual(r.json.users, [{ disabled: true,
    accountExpiry: '2021-01-01T00:00:00.000',
    userCredentials: { disabled: true } }]);
});

test('without F_USER_VIEW: 403 on every release', async () => {
  for (const v of ['2.37', '2.40', '2.41', '2.42', 'master']) {
    const r = await lookup(v, 'nurse', { token: WEAK });
    assert.equal(r.status, 403, v);
    assert.deepEqual(r.json, { httpStatus: 'Forbidden', httpStatusCode: 403,
      status: 'ERROR',
      message: "You don't have the proper permissions to read objects of this type." });
  }
});

test('ALL reads users too, by Basic and by session', async () => {
  let r = await lookup('2.42', 'dho',
    { token: null, auth: ['admin', 'district'], fields: 'username' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.users, [{ username: 'dho' }]);
  const login = await emu.login('admin', 'district');
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  r = await emu.request('/api/users?filter=username:eq:moh&fields=username' +
    '&paging=false', { cookie });
  assert.deepEqual(r.json.users, [{ username: 'moh' }]);
});

test('no credentials: the entry point, as everywhere under /api', async () => {
  const r = await emu.request('/api/users?filter=username:eq:nurse');
  assert.equal(r.status, 401);
});

test('2.37-2.41 hide users sharing a role with a non-superuser caller',
  async () => {
    // svclookup holds "User lookup" only, so it is hidden from itself there;
    // 2.42+ no longer apply that rule to a plain filter.
    for (const v of ['2.37', '2.40', '2.41']) {
      const r = await lookup(v, 'svclookup',
        { fields: 'id', path: 'userCredentials.username' });
      assert.deepEqual(r.json.users, [], v);
    }
    const r = await lookup('2.42', 'svclookup', { fields: 'username' });
    assert.deepEqual(r.json.users, [{ username: 'svclookup' }]);
  });

test('paging: a pager unless paging=false; default fields id,displayName',
  async () => {
    await emu.ctl('POST', '/version', { version: '2.42' });
    const r = await emu.request('/api/users?filter=username:eq:dho',
      { token: SVC });
    assert.deepEqual(r.json, {
      pager: { page: 1, total: 1, pageSize: 50, pageCount: 1 },
      users: [{ id: 'DhoUser0001', displayName: 'Dan District' }],
    });
  });

test('org unit paths of each level', async () => {
  const want = {
    moh: [{ id: 'ImspTQPwCqd', path: '/ImspTQPwCqd' }],
    dho: [{ id: 'O6uvpzGd5pu', path: '/ImspTQPwCqd/O6uvpzGd5pu' }],
    nurse: NURSE_OU,
    bombali: [{ id: 'fdc6uOvgoji', path: '/ImspTQPwCqd/fdc6uOvgoji' }],
  };
  for (const [name, ous] of Object.entries(want)) {
    const r = await lookup('2.42', name,
      { fields: 'organisationUnits[id,path]' });
    assert.deepEqual(r.json.users, [{ organisationUnits: ous }], name);
  }
});

test('/api/me: organisationUnits on every release, [id,path] too',
  async () => {
    for (const v of ['2.37', '2.37.10', '2.40', '2.41', '2.42', '2.42.5',
      'master']) {
      await emu.ctl('POST', '/version', { version: v });
      let r = await emu.request('/api/me?fields=organisationUnits%5Bid,path%5D',
        { auth: ['nurse', 'Nurse-pw-1'] });
      assert.deepEqual(r.json, { organisationUnits: NURSE_OU }, v);
      r = await emu.request('/api/me', { auth: ['nurse', 'Nurse-pw-1'] });
      assert.deepEqual(r.json.organisationUnits, [{ id: 'DiszpKrYNg8' }], v);
    }
  });

test('control: POST /user moves a user to other units', async () => {
  await emu.ctl('POST', '/user', { username: 'nurse',
    organisationUnits: ['Rp268JB6Ne4'] });
  let r = await lookup('2.42', 'nurse', { fields: 'organisationUnits[id,path]' });
  assert.deepEqual(r.json.users[0].organisationUnits,
    [{ id: 'Rp268JB6Ne4', path: '/ImspTQPwCqd/fdc6uOvgoji/Rp268JB6Ne4' }]);
  const bad = await emu.ctl('POST', '/user', { username: 'nurse',
    organisationUnits: ['NoSuchUnit1'] });
  assert.equal(bad.status, 400);
  await emu.reset();
  r = await lookup('2.42', 'nurse', { fields: 'organisationUnits[id]' });
  assert.deepEqual(r.json.users[0].organisationUnits, [{ id: 'DiszpKrYNg8' }]);
});

test('GET /api/organisationUnits/{uid}: path for anyone signed in; 404',
  async () => {
    let r = await emu.request(
      '/api/organisationUnits/DiszpKrYNg8?fields=id,name,path',
      { auth: ['bombali', 'Bombali-pw-1'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id: 'DiszpKrYNg8', name: 'Ngelehun CHC',
      path: '/ImspTQPwCqd/O6uvpzGd5pu/DiszpKrYNg8' });
    r = await emu.request('/api/organisationUnits/NoSuchUnit1?fields=path',
      { token: SVC });
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, webMessage(404,
      'OrganisationUnit with id NoSuchUnit1 could not be found.'));
  });
