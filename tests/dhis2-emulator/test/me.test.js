// /api/me per version, the fields filter, /api/me/authorization, and what an
// anonymous /api request gets.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start, webMessage } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const ADMIN = ['admin', 'district'];
const FIELDS = 'id,username,displayName,firstName,surname,twoFactorType,' +
  'userGroups[id,name],userRoles[id,name],authorities,' +
  'userCredentials[username,userRoles[id,name]]';

async function me(version, fields, auth = ADMIN) {
  await emu.ctl('POST', '/version', { version });
  const q = fields == null ? '' : `?fields=${encodeURIComponent(fields)}`;
  const r = await emu.request(`/api/me${q}`, { auth });
  assert.equal(r.status, 200);
  return r.json;
}

test('2.42: username, roles and groups at top level; no userCredentials',
  async () => {
    const j = await me('2.42', FIELDS, ['alice', 'Alice-pw-1']);
    assert.deepEqual(j, {
      id: 'AliceUsr001',
      username: 'alice',
      displayName: 'Alice Admin',
      firstName: 'Alice',
      surname: 'Admin',
      twoFactorType: 'NOT_ENABLED',
      userGroups: [{ id: 'LinuxAdmGrp', name: 'Linux admins' }],
      userRoles: [{ id: 'DataEntryRl', name: 'Data entry' }],
      authorities: ['F_DATAVALUE_ADD', 'F_DATAVALUE_DELETE',
        'M_dhis-web-aggregate-data-entry', 'M_dhis-web-dashboard'],
    });
  });

test('2.41 and 2.40: username at top level and in userCredentials', async () => {
  for (const v of ['2.40', '2.41']) {
    const j = await me(v, FIELDS);
    assert.equal(j.username, 'admin', v);
    assert.deepEqual(j.userCredentials, {
      username: 'admin',
      userRoles: [{ id: 'yrB6vc5Ip3r', name: 'Superuser' }],
    });
    assert.equal(j.twoFactorType, undefined, 'twoFactorType is 2.42+');
    assert.deepEqual(j.userGroups, [{ id: 'wl5cDMuUhmF', name: 'Administrators' }]);
  }
});

test('2.37: username only inside userCredentials, groups at top level',
  async () => {
    const j = await me('2.37', FIELDS);
    assert.equal(j.username, undefined);
    assert.equal(j.userRoles, undefined);
    assert.equal(j.userCredentials.username, 'admin');
    assert.deepEqual(j.userCredentials.userRoles,
      [{ id: 'yrB6vc5Ip3r', name: 'Superuser' }]);
    assert.deepEqual(j.userGroups, [{ id: 'wl5cDMuUhmF', name: 'Administrators' }]);
  });

test('default fields are *: references collapse to { id }', async () => {
  const j = await me('2.42', null);
  assert.equal(j.username, 'admin');
  assert.equal(j.name, 'John Traore');
  assert.deepEqual(j.userGroups, [{ id: 'wl5cDMuUhmF' }]);
  assert.deepEqual(j.userRoles, [{ id: 'yrB6vc5Ip3r' }]);
  assert.deepEqual(j.authorities, ['ALL']);
  const j37 = await me('2.37', '*');
  assert.equal(j37.userCredentials.username, 'admin');
  assert.deepEqual(j37.userCredentials.userRoles, [{ id: 'yrB6vc5Ip3r' }]);
});

test('unknown fields are ignored, known ones kept', async () => {
  const j = await me('2.42', 'id,noSuchField,username,nested[deep]');
  assert.deepEqual(j, { id: 'xE7jOejl9FI', username: 'admin' });
});

test('fields may come as several parameters and with exclusions', async () => {
  const r = await emu.request('/api/me?fields=id&fields=username',
    { auth: ADMIN });
  assert.deepEqual(r.json, { id: 'xE7jOejl9FI', username: 'admin' });
  const j = await me('2.42', '*,!authorities,!settings');
  assert.equal(j.authorities, undefined);
  assert.equal(j.username, 'admin');
});

test('versioned path /api/33/me answers like /api/me', async () => {
  const r = await emu.request('/api/33/me?fields=username', { auth: ADMIN });
  assert.deepEqual(r.json, { username: 'admin' });
});

test('/api/me/authorization lists authorities; /{AUTH} answers true|false',
  async () => {
    const alice = ['alice', 'Alice-pw-1'];
    for (const p of ['/api/me/authorization', '/api/me/authorities']) {
      const r = await emu.request(p, { auth: alice });
      assert.equal(r.status, 200);
      assert.ok(r.json.includes('F_DATAVALUE_ADD'));
      assert.match(r.headers['cache-control'], /no-store/);
    }
    const yes = await emu.request('/api/me/authorization/F_DATAVALUE_ADD',
      { auth: alice });
    assert.equal(yes.text, 'true');
    const no = await emu.request('/api/me/authorization/ALL', { auth: alice });
    assert.equal(no.text, 'false');
    // A superuser ("ALL") holds every authority.
    const su = await emu.request('/api/me/authorization/F_ANYTHING',
      { auth: ADMIN });
    assert.equal(su.text, 'true');
  });

test('anonymous /api without X-Requested-With: 302 to the login page',
  async () => {
    const pages = { '2.37': '/dhis-web-commons/security/login.action',
      '2.40': '/dhis-web-commons/security/login.action',
      '2.41': '/dhis-web-login/', '2.42': '/dhis-web-login/' };
    for (const [v, page] of Object.entries(pages)) {
      await emu.ctl('POST', '/version', { version: v });
      const r = await emu.request('/api/me', { xhr: false });
      assert.equal(r.status, 302, v);
      assert.equal(r.headers.location, `${emu.url}${page}`);
    }
  });

test('anonymous /api with X-Requested-With: 401 WebMessage', async () => {
  const r = await emu.request('/api/me');
  assert.equal(r.status, 401);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.deepEqual(r.json, webMessage(401, 'Unauthorized'));
});

test('Bearer is ignored (JWT auth off by default): anonymous 401', async () => {
  const r = await emu.request('/api/me',
    { headers: { Authorization: 'Bearer abc.def.ghi' } });
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, webMessage(401, 'Unauthorized'));
});

test('a session cookie from a Basic login authenticates later requests',
  async () => {
    const r = await emu.request('/api/me', { auth: ADMIN });
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    assert.match(cookie, /^JSESSIONID=[0-9A-F]{32}$/);
    const again = await emu.request('/api/me?fields=username', { cookie });
    assert.deepEqual(again.json, { username: 'admin' });
    const bogus = await emu.request('/api/me',
      { cookie: 'JSESSIONID=0123456789ABCDEF0123456789ABCDEF' });
    assert.equal(bogus.status, 401);
  });

test('/api/system/info names the version', async () => {
  await emu.ctl('POST', '/version', { version: '2.40' });
  const r = await emu.request('/api/system/info', { auth: ADMIN });
  assert.equal(r.json.version, '2.40.0');
});

test('an unknown /api path, authenticated, is 404', async () => {
  const r = await emu.request('/api/nothingHere', { auth: ADMIN });
  assert.equal(r.status, 404);
});

const PEGGY = ['peggy', 'Peggy-pw-1'];
const SHARED = 'userGroups[id],userRoles[id],authorities';

test('2.42.5 and master: groups and roles the user may not read are left out; authorities are not',
  async () => {
    for (const v of ['2.42.5', 'master']) {
      const j = await me(v, SHARED, PEGGY);
      assert.deepEqual(j.userGroups, [{ id: 'LinuxAdmGrp' }], v);
      assert.deepEqual(j.userRoles, [{ id: 'DataEntryRl' }], v);
      assert.ok(j.authorities.includes('M_dhis-web-hidden-app'), v);
    }
  });

test('before 2.42.5 the private group and role are listed', async () => {
  for (const v of ['2.40', '2.41', '2.42', '2.42.4']) {
    const j = await me(v, SHARED, PEGGY);
    assert.deepEqual(j.userGroups.map((g) => g.id).sort(),
      ['HiddenAdmGp', 'LinuxAdmGrp'], v);
    assert.deepEqual(j.userRoles.map((r) => r.id).sort(),
      ['DataEntryRl', 'HiddenRole1'], v);
  }
});
