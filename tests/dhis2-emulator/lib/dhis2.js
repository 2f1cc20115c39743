// The main listener: DHIS2's /api authentication behaviour per version,
// behind the fault switches.
'use strict';

const h = require('./http');
const auth = require('./auth');
const pat = require('./pat');
const lockout = require('./lockout');
const fields = require('./fields');
const users = require('./users');
const bearer = require('./bearer');
const oauth2 = require('./oauth2');
const faults = require('./faults');
const csrf = require('./csrf');

const VERSION_INFO = require('./state').RELEASES;

const LOGOUT_PATH = '/dhis-web-commons-security/logout.action';

function loginPage(state) {
  return state.atLeast('2.41') ? '/dhis-web-login/'
    : '/dhis-web-commons/security/login.action';
}

// Spring builds an absolute URL to the login page from the request.
function absolute(ctx, path) {
  const host = ctx.req.headers.host || `${ctx.host}:${ctx.port}`;
  return `${ctx.scheme}://${host}${path}`;
}

function makeHandler(env) {
  return async function handle(req, res) {
    // The OAuth2 side is built when first needed; only such requests wait.
    if (!env.oauth2 && oauth2.mayNeed(req)) await env.oauth2Ready;
    const { state } = env;
    // DHIS2's clock, as Tomcat sends it, is the emulator's "now": moved by
    // POST /clock, so a test can show a server clock apart from ours.
    res.setHeader('Date', new Date(state.now()).toUTCString());
    const body = await h.readBody(req);
    const path = req.url.split('?')[0];
    state.total++;
    state.byPath[path] = (state.byPath[path] || 0) + 1;
    state.requests.push(h.recordOf(req, body));
    if (state.requests.length > 2000) state.requests.shift();
    env.log(`${req.method} ${req.url}`);

    const ctx = {
      ...env,
      req,
      res,
      body,
      path,
      query: new URL(req.url, 'http://x').searchParams,
      isLocked: (u) => lockout.isLocked(state, u),
    };
    if (env.outage && env.outage.holds(res)) return;
    if (await faults.apply(ctx)) return;
    try {
      route(ctx);
    } catch (e) {
      env.log(`handler error: ${e.stack}`);
      h.sendWebMessage(res, 500, e.message);
    }
  };
}

function route(ctx) {
  const { req, res, path, state } = ctx;
  // The OAuth2 side (lib/oauth2.js): /oauth2/* and discovery on 2.42,
  // /uaa/* before.
  if (ctx.oauth2 && ctx.oauth2.handles(ctx)) return ctx.oauth2.handle(ctx);
  // Outside Spring Security altogether (webSecurityCustomizer ignoring).
  if (path === '/api/ping') return h.send(res, 200, 'pong',
    { 'Content-Type': 'text/plain;charset=UTF-8' });
  // CsrfFilter (only with http.security.csrf.enabled, 2.42+) comes before
  // the logout and every authentication filter.
  if (csrf.reject(ctx)) return;
  if (path === LOGOUT_PATH && csrf.isLogoutMethod(state, req.method)) {
    return logout(ctx);
  }
  if (path === loginPage(state)) {
    csrf.handOut(ctx);
    return h.send(res, 200, '<!doctype html><title>DHIS2 login</title>',
      { 'Content-Type': 'text/html;charset=UTF-8' });
  }

  // /api/loginConfig is open to anonymous callers from 2.41 on: the new
  // login app reads it before anyone signs in, and clients use it to tell
  // a 2.41+ server (200 with apiVersion) from an older one (entry point).
  if (state.atLeast('2.41') && /^\/api\/(\d+\/)?loginConfig$/.test(path)) {
    // 2.42.x/2.43.x hand out the XSRF-TOKEN cookie here too (master no
    // longer runs loginConfig through the security chain).
    csrf.handOut(ctx);
    return h.send(res, 200, JSON.stringify({
      applicationTitle: 'DHIS2 emulator',
      apiVersion: VERSION_INFO[state.version],
      allowAccountRecovery: false,
      selfRegistrationEnabled: false,
      emailConfigured: true,
      oidcProviders: [],
    }), { 'Content-Type': 'application/json;charset=UTF-8' });
  }

  // /api/auth/login is open to anonymous callers from 2.41 on. Before that
  // the path does not exist and sits behind "/api/** authenticated", so an
  // anonymous caller meets the entry point (401 or 302) like anywhere else.
  if (state.atLeast('2.41') && /^\/api\/(\d+\/)?auth\/login$/.test(path)) {
    csrf.handOut(ctx);
    if (req.method !== 'POST') return methodNotAllowed(ctx);
    return login(ctx);
  }

  const who = identify(ctx);
  if (who.done) return;
  if (!who.username) return entryPoint(ctx);
  return api(ctx, who.username);
}

// Works out who the request is from, in DHIS2's filter order: ApiToken,
// Basic, Bearer (JWT, off by default), then an existing session.
// Returns { done } when an error reply was already sent.
function identify(ctx) {
  const { req, res, state, fixture } = ctx;
  const header = req.headers.authorization;

  const p = pat.authenticate(ctx);
  if (p && p.error) {
    h.sendWebMessage(res, p.error.status, p.error.message,
      { 'WWW-Authenticate': 'ApiToken' });
    return { done: true };
  }
  if (p) {
    lockout.registerSuccess(state, p.username);
    csrf.handOut(ctx);
    return { username: p.username };
  }

  const basic = auth.parseBasic(header);
  if (basic && basic.error) {
    basicFailure(ctx, 'Unauthorized');
    return { done: true };
  }
  if (basic) {
    const r = auth.authenticate(ctx, basic.username, basic.password, null);
    if (!r.user) {
      const msg = r.error === 'LOCKED' ? 'Account locked'
        : r.error === 'DISABLED' ? 'Account disabled' : 'Unauthorized';
      basicFailure(ctx, msg);
      return { done: true };
    }
    // SessionCreationPolicy.ALWAYS: a Basic login also starts a session.
    const sid = auth.createSession(state, r.user.username);
    h.addCookie(res, auth.sessionCookie(sid, ctx.scheme === 'https'));
    csrf.handOut(ctx);
    return { username: r.user.username };
  }

  // DHIS2's CsrfCookieFilter sits right after BasicAuthenticationFilter.
  csrf.handOut(ctx);

  if (header && /^bearer /i.test(header)) {
    const b = bearer.authenticate(ctx, header.slice(7).trim());
    if (b && b.done) return b;
    if (b && b.username) return b;
  }

  const sid = h.parseCookies(req.headers.cookie).JSESSIONID;
  const s = sid && state.sessions.get(sid);
  if (s && fixture.users.has(s.username)) return { username: s.username };
  return {};
}

// FormLoginBasicAuthenticationEntryPoint: always JSON for a Basic failure.
// 2.37.9.1 and 2.37.10 set no entry point on httpBasic(), so Spring's own
// BasicAuthenticationEntryPoint answers there.
function basicFailure(ctx, message) {
  if (springBasicEntryPoint(ctx.state)) return basicChallenge(ctx);
  h.sendWebMessage(ctx.res, 401, message);
}

// 2.37.9.1 and 2.37.10 (DhisWebApiWebSecurityConfig: `.httpBasic()` with
// no authenticationEntryPoint) for everything under /api.
function springBasicEntryPoint(state) {
  return state.atLeast('2.37.10') && !state.atLeast('2.38');
}

// Spring's BasicAuthenticationEntryPoint: sendError(401) with the default
// realm, so the body is the servlet container's error page, not JSON.
function basicChallenge(ctx) {
  return h.send(ctx.res, 401,
    '<!doctype html><title>HTTP Status 401 – Unauthorized</title>' +
    '<h1>HTTP Status 401 – Unauthorized</h1>',
    { 'Content-Type': 'text/html;charset=utf-8',
      'WWW-Authenticate': 'Basic realm="Realm"' });
}

// Http401LoginUrlAuthenticationEntryPoint: 401 for XHR, else off to the
// login page.
function entryPoint(ctx) {
  const { req, res, state, path } = ctx;
  if (springBasicEntryPoint(state) && /^\/api(\/|$)/.test(path)) {
    return basicChallenge(ctx);
  }
  if (req.headers['x-requested-with'] === 'XMLHttpRequest') {
    return h.sendWebMessage(res, 401, 'Unauthorized');
  }
  return h.send(res, 302, '', { Location: absolute(ctx, loginPage(state)) });
}

function methodNotAllowed(ctx) {
  h.sendWebMessage(ctx.res, 405,
    `Request method '${ctx.req.method}' is not supported`,
    { Allow: 'POST' });
}

// POST /api/auth/login (AuthenticationController).
function login(ctx) {
  const { res, state, body } = ctx;
  let creds;
  try {
    creds = JSON.parse(body.toString('utf8') || 'null');
  } catch {
    return h.sendWebMessage(res, 400, 'JSON parse error');
  }
  if (!creds || typeof creds !== 'object') {
    return h.sendWebMessage(res, 400, 'Required request body is missing');
  }
  const username = typeof creds.username === 'string' ? creds.username : null;
  const user = username != null ? ctx.fixture.users.get(username) : null;
  // validateRequest runs before the provider: an unknown name never reaches
  // it, so it is neither counted nor reported as locked.
  if (!user) return h.sendWebMessage(res, 401, 'Bad credentials');

  const password = typeof creds.password === 'string' ? creds.password : null;
  const code = creds.twoFactorCode == null ? null
    : String(creds.twoFactorCode);
  const r = auth.authenticate(ctx, username, password, { code });
  if (r.user) {
    const sid = auth.createSession(state, r.user.username);
    // 2.41 sends the browser to the start module (setting startModule,
    // default dhis-web-dashboard); 2.42+ to the root, the new app shell.
    const redirectUrl = state.atLeast('2.42') ? '/' : '/dhis-web-dashboard';
    return h.sendJson(res, 200, { loginStatus: 'SUCCESS', redirectUrl },
      { 'Set-Cookie': auth.sessionCookie(sid, ctx.scheme === 'https') });
  }
  if (r.error === 'BAD_CREDENTIALS') {
    return h.sendWebMessage(res, 401, 'Bad credentials');
  }
  const status = loginStatus(state, r);
  // No session is made for anything but SUCCESS; nulls are omitted.
  return h.sendJson(res, 200, { loginStatus: status });
}

function loginStatus(state, r) {
  switch (r.error) {
    case 'LOCKED': return 'ACCOUNT_LOCKED';
    case 'DISABLED': return 'ACCOUNT_DISABLED';
    case 'EXPIRED': return 'ACCOUNT_EXPIRED';
    case 'CREDENTIALS_EXPIRED': return 'PASSWORD_EXPIRED';
    case 'ENROL': return 'REQUIRES_TWO_FACTOR_ENROLMENT';
    case 'TWO_FA_CODE_SENT': return 'EMAIL_TWO_FACTOR_CODE_SENT';
    case 'TWO_FA_BAD_CODE':
      if (!state.atLeast('2.42')) return 'INCORRECT_TWO_FACTOR_CODE';
      return r.type === 'EMAIL_ENABLED' ? 'INCORRECT_TWO_FACTOR_CODE_EMAIL'
        : 'INCORRECT_TWO_FACTOR_CODE_TOTP';
    default: return 'ACCOUNT_LOCKED';
  }
}

// Spring's LogoutFilter, on any method while CSRF is off (the default), on
// POST only while it is on: drop the session, clear the cookie, then
// DhisOidcLogoutSuccessHandler, which redirects to / on every line.
function logout(ctx) {
  const { req, res, state } = ctx;
  const sid = h.parseCookies(req.headers.cookie).JSESSIONID;
  if (sid) state.sessions.delete(sid);
  // CsrfLogoutHandler clears the CSRF cookie too.
  const headers = { 'Set-Cookie': csrf.active(state)
    ? [csrf.CLEAR_COOKIE, auth.CLEAR_COOKIE] : auth.CLEAR_COOKIE };
  headers.Location = absolute(ctx, '/');
  return h.send(res, 302, '', headers);
}

function api(ctx, username) {
  const { req, res, path, state, fixture, query } = ctx;
  const user = fixture.users.get(username);
  const rest = path.replace(/^\/api\/(\d+\/)?/, '/api/');
  const noStore = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate' };

  if (rest === '/api/me' && req.method === 'GET') {
    const spec = query.getAll('fields').join(',');
    const doc = users.meDocument(fixture, user, state.version);
    return h.sendJson(res, 200, fields.filter(doc, spec));
  }
  let m = /^\/api\/me\/(authorization|authorities)$/.exec(rest);
  if (m && req.method === 'GET') {
    return h.sendJson(res, 200, users.authorities(fixture, user), noStore);
  }
  m = /^\/api\/me\/(authorization|authorities)\/([^/]+)$/.exec(rest);
  if (m && req.method === 'GET') {
    const a = decodeURIComponent(m[2]);
    return h.sendJson(res, 200, users.isAuthorized(fixture, user, a), noStore);
  }
  if (rest === '/api/users' && req.method === 'GET') {
    return listUsers(ctx, user);
  }
  m = /^\/api\/organisationUnits\/([^/]+)$/.exec(rest);
  if (m && req.method === 'GET') {
    // No READ authority in OrganisationUnitSchemaDescriptor and no sharing:
    // any signed-in user reads any unit.
    const id = decodeURIComponent(m[1]);
    const doc = users.orgUnitDocument(fixture, id);
    if (!doc) {
      return h.sendWebMessage(res, 404,
        `OrganisationUnit with id ${id} could not be found.`);
    }
    const spec = query.getAll('fields').join(',');
    return h.sendJson(res, 200, fields.filter(doc, spec));
  }
  if (rest === '/api/system/info' && req.method === 'GET') {
    return h.sendJson(res, 200, {
      version: VERSION_INFO[state.version],
      revision: 'emulator',
      serverDate: new Date(state.now()).toISOString(),
      contextPath: absolute(ctx, ''),
    });
  }
  return h.sendWebMessage(res, 404, `No endpoint ${req.method} ${path}`);
}

// GET /api/users, for what a username lookup needs: `filter=` with `eq`
// on the username (`userCredentials.username` too; 2.37 has no top-level
// `username` property), `fields=`, `paging=false`.
function listUsers(ctx, caller) {
  const { res, state, fixture, query } = ctx;
  // AbstractFullReadOnlyController: aclService.canRead(user, User.class),
  // i.e. F_USER_VIEW from UserSchemaDescriptor, or ALL.
  if (!users.isAuthorized(fixture, caller, 'F_USER_VIEW')) {
    return h.sendWebMessage(res, 403,
      "You don't have the proper permissions to read objects of this type.");
  }
  let list = [...fixture.users.values()];
  for (const f of query.getAll('filter')) {
    const r = userFilter(state, f);
    if (r.error) return h.sendWebMessage(res, r.status, r.error);
    list = list.filter((u) => u.username === r.value);
  }
  // 2.37-2.41 always run the query through DefaultUserService: a caller
  // without ALL does not see users holding any of its own roles (system
  // setting keyCanGrantOwnUserAuthorityGroups, off by default). 2.42+ do
  // that only for special parameters (query, ou, canManage, ...).
  if (!state.atLeast('2.42') && !users.isAuthorized(fixture, caller, 'ALL')) {
    list = list.filter((u) =>
      !u.userRoles.some((id) => caller.userRoles.includes(id)));
  }
  // Collections default to id,displayName.
  const spec = query.getAll('fields').join(',') || 'id,displayName';
  const docs = list.map((u) =>
    fields.filter(users.userDocument(fixture, u, state.version), spec));
  const out = {};
  if (query.get('paging') !== 'false') {
    out.pager = { page: 1, total: docs.length, pageSize: 50, pageCount: 1 };
  }
  out.users = docs;
  return h.sendJson(res, 200, out);
}

// One `filter=` value: `username:eq:NAME` (2.38+) or
// `userCredentials.username:eq:NAME`, case-sensitive (EqualOperator,
// String.equals). DHIS2 answers its parser's errors with 409; what DHIS2
// supports but the emulator does not is a 400 saying so.
function userFilter(state, f) {
  const parts = f.split(':');
  if (parts.length < 2) {
    return { status: 409, error: `Invalid filter => ${f}` };
  }
  const [path, op] = parts;
  const value = parts.slice(2).join(':');
  const known = path === 'userCredentials.username' ||
    (path === 'username' && state.atLeast('2.38'));
  if (path === 'username' && !known) {
    return { status: 409, error: 'Unknown path property: username' };
  }
  if (!known || op !== 'eq') {
    return { status: 400, error: `emulator: unsupported filter ${f}` };
  }
  return { value };
}

module.exports = { makeHandler, loginPage, LOGOUT_PATH };
