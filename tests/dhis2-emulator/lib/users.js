// The fixture (users, roles, groups, organisation units, tokens) and the
// /api/me and /api/users documents each DHIS2 version would render.
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
  const orgUnits = new Map();

  for (const r of doc.userRoles || []) {
    checkUid(r.id, `role ${r.name}`);
    roles.set(r.id, { authorities: [], restrictions: [], ...r });
  }
  for (const g of doc.userGroups || []) {
    checkUid(g.id, `group ${g.name}`);
    groups.set(g.id, g);
  }
  for (const o of doc.organisationUnits || []) {
    checkUid(o.id, `organisation unit ${o.name}`);
    orgUnits.set(o.id, o);
  }
  for (const o of orgUnits.values()) checkPath(orgUnits, o);
  for (const u of doc.users || []) {
    checkUid(u.id, `user ${u.username}`);
    const user = {
      twoFactorType: 'NOT_ENABLED',
      userRoles: [],
      userGroups: [],
      organisationUnits: [],
      tokens: [],
      ...u,
    };
    for (const id of user.organisationUnits) {
      if (!orgUnits.has(id)) {
        throw new Error(`user ${u.username}: unknown organisation unit ${id}`);
      }
    }
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
  return { roles, groups, users, tokensByKey, orgUnits };
}

function checkUid(id, what) {
  if (!UID_RE.test(id || '')) throw new Error(`${what}: bad UID ${id}`);
}

// A unit's path is its parent's path plus its own UID, as DHIS2 stores it:
// a fixture typo there would make every org unit test lie.
function checkPath(orgUnits, o) {
  const parent = o.parent ? orgUnits.get(o.parent) : null;
  if (o.parent && !parent) throw new Error(`unit ${o.id}: unknown parent`);
  const want = `${parent ? parent.path : ''}/${o.id}`;
  if (o.path !== want) throw new Error(`unit ${o.id}: path should be ${want}`);
}

// GET /api/organisationUnits/{uid} before `fields=`; null if unknown.
function orgUnitDocument(fixture, id) {
  const o = fixture.orgUnits.get(id);
  if (!o) return null;
  const doc = {
    id: o.id,
    name: o.name,
    shortName: o.name,
    displayName: o.name,
    displayShortName: o.name,
    created: '2012-02-17T15:54:39.987',
    lastUpdated: '2024-01-01T00:00:00.000',
    openingDate: '1970-01-01T00:00:00.000',
    level: o.level,
    path: o.path,
    leaf: ![...fixture.orgUnits.values()].some((c) => c.parent === o.id),
    children: [...fixture.orgUnits.values()]
      .filter((c) => c.parent === o.id).map((c) => ({ id: c.id })),
  };
  if (o.parent) doc.parent = { id: o.parent };
  return doc;
}

// A user's units as references: id and name, plus path for `[id,path]`.
function orgUnitRefs(fixture, user) {
  return user.organisationUnits.map((id) => {
    const o = fixture.orgUnits.get(id);
    return { id, name: o.name, displayName: o.name, path: o.path,
      level: o.level };
  });
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
    organisationUnits: orgUnitRefs(fixture, user),
    dataViewOrganisationUnits: orgUnitRefs(fixture, user),
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

// One user as GET /api/users renders it, before `fields=`. Read at the
// tags (README "Users lookup and organisation units"): 2.37 keeps the
// account under `userCredentials` (User.getUsername has no @JsonProperty);
// 2.38-2.41 have it top level plus a `userCredentials` copy, the 2FA flag
// being `twoFA` up to 2.39 and `twoFactorEnabled` from 2.40; 2.42+ top
// level only and no 2FA field (@JsonIgnore on both). Roles carry their
// authorities for `userRoles[id,name,authorities]`; nulls are omitted.
function userDocument(fixture, user, version) {
  const v = vnum(version);
  const name = `${user.firstName} ${user.surname}`;
  const roles = user.userRoles.map((id) => {
    const r = fixture.roles.get(id);
    return { id, name: r.name, displayName: r.name,
      authorities: [...r.authorities] };
  });
  const groups = user.userGroups.map((id) => {
    const g = fixture.groups.get(id);
    return { id, name: g.name, displayName: g.name };
  });
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
    organisationUnits: orgUnitRefs(fixture, user),
    dataViewOrganisationUnits: orgUnitRefs(fixture, user),
    teiSearchOrganisationUnits: [],
    userGroups: groups,
  };
  if (user.email != null) doc.email = user.email;
  const account = {
    username: user.username,
    externalAuth: false,
    disabled: !!user.disabled,
    passwordLastUpdated: '2024-01-01T00:00:00.000',
  };
  if (user.accountExpiry != null) account.accountExpiry = user.accountExpiry;
  const credentials = { id: user.id, ...account, twoFA: twoFa,
    userRoles: roles };
  if (v >= vnum('2.42')) {
    Object.assign(doc, account, { userRoles: roles });
  } else if (v >= vnum('2.38')) {
    Object.assign(doc, account, { userRoles: roles });
    if (v >= vnum('2.40')) doc.twoFactorEnabled = twoFa;
    else doc.twoFA = twoFa;
    doc.userCredentials = credentials;
  } else {
    doc.userCredentials = credentials;
  }
  return doc;
}

module.exports = {
  loadFixture,
  userDocument,
  orgUnitDocument,
  authorities,
  isAuthorized,
  mustEnrol,
  meDocument,
  filtersBySharing,
};
