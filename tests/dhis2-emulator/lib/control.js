// The control API (plain HTTP on 127.0.0.1): lets tests reset the emulator,
// switch version and settings, move the clock, arm faults, take the main
// listener down and read what the main and sink listeners saw.
'use strict';

const h = require('./http');
const faults = require('./faults');
const outage = require('./outage');
const { VERSIONS } = require('./state');

// What an administrator changes on a DHIS2 user while the tests run:
// password, disabled, accountExpiry (ISO string or null), userGroups and
// organisationUnits (ids).
// The fixture's values come back on POST /reset.
const USER_KEYS = {
  password: (v) => typeof v === 'string' && v.length > 0,
  disabled: (v) => typeof v === 'boolean',
  accountExpiry: (v) => v === null || (typeof v === 'string' && !Number.isNaN(Date.parse(v))),
  userGroups: (v) => Array.isArray(v) && v.every((id) => typeof id === 'string'),
  organisationUnits: (v) => Array.isArray(v) && v.every((id) => typeof id === 'string'),
};

function patchUser(env, body) {
  const user = env.fixture.users.get(body.username);
  if (!user) return `no user ${body.username}`;
  const keys = Object.keys(body).filter((k) => k !== 'username');
  if (!keys.length) return `user: one of ${Object.keys(USER_KEYS)}`;
  for (const k of keys) {
    if (!USER_KEYS[k]) return `user: unknown key ${k}`;
    if (!USER_KEYS[k](body[k])) return `user: bad ${k}`;
  }
  if (body.userGroups && !body.userGroups.every((id) => env.fixture.groups.has(id))) {
    return 'user: unknown group';
  }
  if (body.organisationUnits &&
      !body.organisationUnits.every((id) => env.fixture.orgUnits.has(id))) {
    return 'user: unknown organisation unit';
  }
  env.userOriginals ??= new Map();
  if (!env.userOriginals.has(user.username)) {
    env.userOriginals.set(user.username, structuredClone(user));
  }
  for (const k of keys) {
    if (body[k] === null) delete user[k];
    else user[k] = structuredClone(body[k]);
  }
  return null;
}

function restoreUsers(env) {
  if (!env.userOriginals) return;
  for (const [name, orig] of env.userOriginals) {
    const user = env.fixture.users.get(name);
    for (const k of Object.keys(USER_KEYS)) delete user[k];
    Object.assign(user, orig);
  }
  env.userOriginals.clear();
}

function makeHandler(env) {
  const { state } = env;
  return async function handle(req, res) {
    const raw = await h.readBody(req);
    const url = new URL(req.url, 'http://x');
    const route = `${req.method} ${url.pathname}`;
    let body = {};
    if (req.method === 'POST' && raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return h.sendJson(res, 400, { error: 'body is not JSON' });
      }
    }
    const ok = () => h.sendJson(res, 200, { ok: true });
    const bad = (error) => h.sendJson(res, 400, { error });

    switch (route) {
      case 'GET /health':
        return h.sendJson(res, 200, { ok: true, version: state.version });
      case 'POST /reset':
        restoreUsers(env);
        state.reset();
        if (env.oauth2) env.oauth2.reset();
        try {
          await env.outage.set('off');
        } catch (e) {
          return h.sendJson(res, 500, { error: `listen again: ${e.message}` });
        }
        return ok();
      case 'POST /outage':
        if (!outage.MODES.includes(body.mode)) {
          return bad(`mode must be one of ${outage.MODES}`);
        }
        try {
          await env.outage.set(body.mode);
        } catch (e) {
          return h.sendJson(res, 500, { error: `listen again: ${e.message}` });
        }
        return ok();
      case 'POST /version':
        if (!VERSIONS.includes(body.version)) {
          return bad(`version must be one of ${VERSIONS}`);
        }
        state.version = body.version;
        return ok();
      case 'POST /settings': {
        // lockout: keyLockMultipleFailedLogins; csrf: dhis.conf
        // http.security.csrf.enabled; email_2fa: dhis.conf
        // login.security.email_2fa.enabled (both act on 2.42+ only, as in
        // DHIS2).
        const names = { lockout: 'lockout', csrf: 'csrf', email_2fa: 'email2fa' };
        const keys = Object.keys(body);
        if (!keys.length) return bad(`settings: ${Object.keys(names)}`);
        for (const k of keys) {
          if (!names[k]) return bad(`unknown setting ${k}`);
          if (typeof body[k] !== 'boolean') return bad(`${k}: boolean`);
        }
        for (const k of keys) state[names[k]] = body[k];
        return ok();
      }
      case 'POST /clock':
        if (!Number.isFinite(body.offset_s)) return bad('offset_s: number');
        state.offsetMs = Math.round(body.offset_s * 1000);
        return ok();
      case 'POST /fault': {
        const err = faults.validate(body);
        if (err) return bad(err);
        // One fault at a time: the last one armed wins.
        state.fault = { ...body, remaining: body.times ?? null };
        return ok();
      }
      case 'POST /user': {
        const err = patchUser(env, body);
        if (err) return bad(err);
        return ok();
      }
      case 'GET /counters':
        return h.sendJson(res, 200, {
          total: state.total,
          by_path: state.byPath,
          sink: state.sinkRequests.length,
          sessions: state.sessionsCreated,
          connections: state.connections,
          tls_versions: state.tlsVersions,
        });
      case 'GET /requests':
        return h.sendJson(res, 200, state.requests);
      case 'GET /sink':
        return h.sendJson(res, 200, state.sinkRequests);
      case 'GET /email-code': {
        const e = state.emailCodes.get(url.searchParams.get('username'));
        if (!e) return h.sendJson(res, 404, { error: 'no code' });
        return h.sendJson(res, 200, { code: e.code });
      }
      default:
        // The OAuth2 side's switches (lib/oauth2.js).
        if (/^\/oauth2(\/|$)/.test(url.pathname)) {
          const o = await env.oauth2Ready;
          if (!o) return h.sendJson(res, 503, { error: 'OAuth2 side unavailable' });
          return o.control(req, res, url, body);
        }
        return h.sendJson(res, 404, { error: `no control route ${route}` });
    }
  };
}

// The sink plays "some other host": it records everything and answers like
// a friendly /api/me, so a client that followed a redirect would "succeed".
function makeSinkHandler(env) {
  const { state } = env;
  return async function handle(req, res) {
    const body = await h.readBody(req);
    state.sinkRequests.push(h.recordOf(req, body));
    if (state.sinkRequests.length > 2000) state.sinkRequests.shift();
    env.log(`sink: ${req.method} ${req.url}`);
    h.sendJson(res, 200, {
      id: 'xE7jOejl9FI',
      username: 'admin',
      displayName: 'John Traore',
      userCredentials: { username: 'admin' },
      authorities: ['ALL'],
      userGroups: [{ id: 'wl5cDMuUhmF', name: 'Administrators' }],
      loginStatus: 'SUCCESS',
    });
  };
}

module.exports = { makeHandler, makeSinkHandler };
