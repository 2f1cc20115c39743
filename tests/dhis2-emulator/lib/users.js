// The fixture (users, roles, groups, tokens) and the /api/me document each
// DHIS2 version would render for a user.
'use strict';

const fs = require('node:fs');
const { vnum } = require('./state');

const UID_RE = /^[A-Za-z][A-Za-z0-9]{10}$/;
const TWO_FACTOR_TYPES = ['NOT_ENABLED', 'TOTP_ENABLED', 'EMAIL_ENABLED',
  'ENROLLING_TOTP', 'ENROLLING_EMAIL'];

function loadFixture(path) {
  const doc = JSON.parse(fs.readFileSync(path, 'utf8'));
  const roles = new Map();
  const groups = new Map();
  const users = new Map();
  const tokensByKey = new Map();

  for (const r of doc.userRoles || []) {
    checkUid(r.id, `role ${r.name}`);
    roles.set(r.id, { authorities: [], restrictions: [], ...r });
  }
  for (const g of doc.userGroups || []) {
    checkUid(g.id, `group ${g.name}`);
    groups.set(g.id, g);
  }
  for (const u of doc.users || []) {
    checkUid(u.id, `user ${u.username}`);
    const user = {
      twoFactorType: 'NOT_ENABLED',
      userRoles: [],
      userGroups: [],
      tokens: [],
      ...u,
    };
    if (!TWO_FACTOR_TYPES.includes(user.twoFactorType)) {
      throw new Error(`user ${u.username}: bad twoFactorType`);
    }
    for (const id of [...user.userRoles, ...user.userGroups]) {
      if (!roles.has(id) && !groups.has(id)) {
        throw new Error(`user ${u.username}: unknown role/group ${id}`);
      }
    }
    users.set(user.username, user);
    for (const t of user.tokens) {
      checkUid(t.id, `token of ${u.username}`);
      // Looked up by hash only, like DHIS2; `token` stays in the fixture for
      // the tests that need to send it.
      tokensByKey.set(t.key, { user, def: t });
    }
  }
  return { roles, groups, users, tokensByKey };
}

function checkUid(id, what) {
  if (!UID_RE.test(id || '')) throw new Error(`${what}: bad UID ${id}`);
}

function authorities(fixture, user) {
  const set = new Set();
  for (const id of user.userRoles) {
    for (const a of fixture.roles.get(id).authorities) set.add(a);
  }
  return [...set].sort();
}

// User.isAuthorized: a superuser ("ALL") holds every authority.
function isAuthorized(fixture, user, auth) {
  const all = authorities(fixture, user);
  return all.includes('ALL') || all.includes(auth);
}

// A role carrying the R_ENABLE_2FA restriction, or the fixture's shortcut
// `mustEnrol`, demands 2FA before any login.
function mustEnrol(fixture, user) {
  if (user.mustEnrol) return true;
  return user.userRoles.some((id) =>
    (fixture.roles.get(id).restrictions || []).includes('R_ENABLE_2FA'));
}

function refs(map, ids) {
  return ids.map((id) => ({ id, name: map.get(id).name }));
}

// From 2.40.11, 2.41.8, 2.42.5 and 2.43.0 MeController keeps only the
// groups and roles the user may read (aclService.canRead); authorities
// stay whole. The fixture's `"sharing": "private"` stands for sharing that
// gives the members no metadata read access.
function filtersBySharing(version) {
  const v = vnum(version);
  return v >= vnum('2.42.5') || (v >= vnum('2.41.8') && v < vnum('2.42')) ||
    (v >= vnum('2.40.11') && v < vnum('2.41'));
}

// DefaultAclService.canRead: a superuser reads everything; others need
// read sharing.
function readable(fixture, user, obj) {
  return obj.sharing !== 'private' || isAuthorized(fixture, user, 'ALL');
}

// The full /api/me document before `fields=` filtering. Shapes per version
// as listed in DHIS2-API.md: 2.42 MeDto (username top level, twoFactorType);
// 2.40-2.41 username top level plus a userCredentials copy; 2.37 username
// only inside userCredentials.
function meDocument(fixture, user, version) {
  const v = vnum(version);
  const name = `${user.firstName} ${user.surname}`;
  const acl = filtersBySharing(version);
  const roles = refs(fixture.roles, user.userRoles.filter((id) =>
    !acl || readable(fixture, user, fixture.roles.get(id))));
  const groups = refs(fixture.groups, user.userGroups.filter((id) =>
    !acl || readable(fixture, user, fixture.groups.get(id))));
  const twoFa = user.twoFactorType === 'TOTP_ENABLED' ||
    user.twoFactorType === 'EMAIL_ENABLED';
  const doc = {
    id: user.id,
    created: user.created || '2024-01-01T00:00:00.000',
    lastUpdated: user.lastUpdated || '2024-01-01T00:00:00.000',
    name,
    displayName: name,
    firstName: user.firstName,
    surname: user.surname,
    externalAccess: false,
    organisationUnits: [{ id: 'ImspTQPwCqd', name: 'Sierra Leone' }],
    dataViewOrganisationUnits: [{ id: 'ImspTQPwCqd', name: 'Sierra Leone' }],
    teiSearchOrganisationUnits: [],
    userGroups: groups,
    authorities: authorities(fixture, user),
    programs: [],
    dataSets: [],
    settings: { keyUiLocale: 'en', keyDbLocale: 'en' },
  };
  if (user.email != null) doc.email = user.email;
  const credentials = {
    id: user.id,
    username: user.username,
    externalAuth: false,
    twoFA: twoFa,
    disabled: !!user.disabled,
    passwordLastUpdated: '2024-01-01T00:00:00.000',
    userRoles: roles,
  };
  if (user.accountExpiry != null) credentials.accountExpiry = user.accountExpiry;
  if (v >= vnum('2.42')) {
    doc.username = user.username;
    doc.emailVerified = !!user.emailVerified;
    doc.userRoles = roles;
    doc.twoFactorType = user.twoFactorType;
    doc.patTokens = user.tokens.map((t) => ({ id: t.id }));
  } else if (v >= vnum('2.38')) {
    doc.username = user.username;
    doc.userRoles = roles;
    doc.twoFA = twoFa;
    doc.userCredentials = credentials;
  } else {
    doc.userCredentials = credentials;
  }
  return doc;
}

module.exports = {
  loadFixture,
  authorities,
  isAuthorized,
  mustEnrol,
  meDocument,
  filtersBySharing,
};
