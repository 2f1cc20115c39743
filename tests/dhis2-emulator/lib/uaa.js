// The legacy OAuth2 endpoints of DHIS2 <= 2.41 (Spring Security OAuth2, the
// project "spring-security-oauth" DHIS2 mounted under /uaa):
// /uaa/oauth/authorize and /uaa/oauth/token, opaque UUID tokens, client
// authentication by HTTP Basic only, no revocation endpoint.
'use strict';

const crypto = require('node:crypto');
const querystring = require('node:querystring');
const h = require('./http');
const auth = require('./auth');
const pages = require('./pages');

const REDIRECT = 'http://127.0.0.1:8765/callback';

// Clients as an administrator registers them with POST /api/oAuth2Clients
// (cid, secret, grantTypes, redirectUris). Legacy clients always have a
// secret; the public dhis2-auth client of 2.42 has no counterpart here.
const CLIENTS = new Map([
  ['dhis2-auth-basic', { secret: 'dhis2-auth-basic-secret' }],
  ['dhis2-auth-post', { secret: 'dhis2-auth-post-secret' }],
].map(([id, c]) => [id, {
  id,
  ...c,
  grantTypes: ['authorization_code', 'refresh_token', 'password'],
  redirectUris: [REDIRECT],
}]));

// DefaultTokenServices: access tokens valid 12 h, refresh tokens 30 days.
const ACCESS_TTL = 12 * 3600;
const REFRESH_TTL = 30 * 24 * 3600;
const CODE_TTL = 300;
const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function newState() {
  return {
    codes: new Map(), // code -> { clientId, username, redirectUri, scope, expires }
    access: new Map(), // token -> { clientId, username, scope, expires, refresh }
    refresh: new Map(), // token -> { clientId, username, scope, expires }
    pending: new Map(), // JSESSIONID -> the authorization request awaiting approval
  };
}

// RandomValueStringGenerator: 6 characters.
function newCode() {
  let s = '';
  for (let i = 0; i < 6; i++) s += CODE_ALPHABET[crypto.randomInt(CODE_ALPHABET.length)];
  return s;
}

function oauthError(res, status, error, description, headers = {}) {
  h.sendJson(res, status, { error, error_description: description },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
}

function redirectWith(res, uri, params) {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) {
    if (v != null) u.searchParams.set(k, v);
  }
  h.send(res, 302, '', { Location: u.href });
}

// The user behind the request: an existing session (a Basic login or
// /uaa/login made one) or Basic credentials on this very request.
function currentUser(ctx) {
  const { req, res, state } = ctx;
  const sid = h.parseCookies(req.headers.cookie).JSESSIONID;
  const s = sid && state.sessions.get(sid);
  if (s && ctx.fixture.users.has(s.username)) return { username: s.username, sid };
  const basic = auth.parseBasic(req.headers.authorization);
  if (basic && !basic.error) {
    const r = auth.authenticate(ctx, basic.username, basic.password, null);
    if (r.user) {
      const id = auth.createSession(state, r.user.username);
      res.setHeader('Set-Cookie', auth.sessionCookie(id, ctx.scheme === 'https'));
      return { username: r.user.username, sid: id };
    }
  }
  return null;
}

function handle(ctx, u) {
  const { req, res, path } = ctx;
  if (path === '/uaa/oauth/authorize') return authorize(ctx, u);
  if (path === '/uaa/oauth/token') {
    if (req.method !== 'POST') {
      return oauthError(res, 405, 'method_not_allowed',
        `Request method '${req.method}' not supported`, { Allow: 'POST' });
    }
    return token(ctx, u);
  }
  if (path === '/uaa/login') return loginForm(ctx);
  return h.sendWebMessage(res, 404, `No endpoint ${req.method} ${path}`);
}

function authorize(ctx, u) {
  const { req, res, query } = ctx;
  const form = req.method === 'POST'
    ? querystring.parse(ctx.body.toString('utf8')) : {};
  const who = currentUser(ctx);

  if (req.method === 'POST' && form.user_oauth_approval != null) {
    // The approval form: needs the session that saw the request.
    const p = who && u.pending.get(who.sid);
    if (!p) {
      return h.send(res, 400, pages.message('OAuth Error',
        'error="invalid_request", error_description="Cannot approve ' +
        'uninitialized authorization request."', 'invalid_request'),
      { 'Content-Type': 'text/html;charset=UTF-8' });
    }
    u.pending.delete(who.sid);
    if (form.user_oauth_approval !== 'true') {
      return redirectWith(res, p.redirectUri, {
        error: 'access_denied', error_description: 'User denied access', state: p.state,
      });
    }
    const code = newCode();
    u.codes.set(code, { ...p, username: who.username,
      expires: Date.now() + CODE_TTL * 1000 });
    return redirectWith(res, p.redirectUri, { code, state: p.state });
  }

  const params = Object.fromEntries(query);
  const client = CLIENTS.get(params.client_id);
  if (!client) {
    return h.send(res, 401, pages.message('OAuth Error',
      'error="invalid_client", error_description="Bad client credentials"',
      'invalid_client'), { 'Content-Type': 'text/html;charset=UTF-8' });
  }
  // The registered URIs: the uaa_redirect_uri switch, else the client's.
  const registered = u.redirectUris || client.redirectUris;
  const redirectUri = params.redirect_uri || registered[0];
  if (!registered.includes(redirectUri)) {
    // DefaultRedirectResolver: scheme, host, port and path must match.
    return h.send(res, 400, pages.message('OAuth Error',
      `error="invalid_grant", error_description="Invalid redirect: ${redirectUri} ` +
      'does not match one of the registered values."', 'invalid_grant'),
    { 'Content-Type': 'text/html;charset=UTF-8' });
  }
  if (params.response_type !== 'code') {
    return redirectWith(res, redirectUri, {
      error: 'unsupported_response_type',
      error_description: `Unsupported response types: [${params.response_type || ''}]`,
      state: params.state,
    });
  }
  if (!who) {
    // DHIS2 sends the browser to its login page and back; the emulator has
    // its own small form for that (/uaa/login).
    const back = `/uaa/oauth/authorize?${new URLSearchParams(params)}`;
    return h.send(res, 302, '', {
      Location: `/uaa/login?${new URLSearchParams({ next: back })}`,
    });
  }
  const scope = 'ALL';
  u.pending.set(who.sid, { clientId: client.id, redirectUri,
    requestedRedirect: params.redirect_uri || null, scope, state: params.state });
  return h.send(res, 200, pages.uaaApproval({ action: '/uaa/oauth/authorize',
    client: client.id, scopes: [scope] }), { 'Content-Type': 'text/html;charset=UTF-8' });
}

// GET shows the form; POST username + password (+ next) signs in, starts a
// DHIS2 session (JSESSIONID) and goes back to `next`.
function loginForm(ctx) {
  const { req, res, query, state } = ctx;
  const html = { 'Content-Type': 'text/html;charset=UTF-8' };
  if (req.method === 'GET') {
    return h.send(res, 200, pages.login({ action: '/uaa/login',
      hidden: { next: query.get('next') || '/' } }), html);
  }
  const form = querystring.parse(ctx.body.toString('utf8'));
  const next = typeof form.next === 'string' && form.next.startsWith('/uaa/')
    ? form.next : '/';
  const r = auth.authenticate(ctx, String(form.username ?? ''),
    String(form.password ?? ''), null);
  if (!r.user) {
    return h.send(res, 401, pages.login({ action: '/uaa/login',
      username: form.username, hidden: { next },
      error: { code: r.error, text: 'Invalid login' } }), html);
  }
  const sid = auth.createSession(state, r.user.username);
  return h.send(res, 302, '', {
    Location: next,
    'Set-Cookie': auth.sessionCookie(sid, ctx.scheme === 'https'),
  });
}

function issue(u, clientId, username, scope, now) {
  // DefaultTokenServices hands back the stored, still valid access token for
  // the same client, user and scope instead of minting a new one.
  for (const [value, t] of u.access) {
    if (t.clientId === clientId && t.username === username && t.scope === scope &&
        t.expires > now && u.refresh.has(t.refresh)) {
      return tokenResponse(value, t, now);
    }
  }
  const refresh = crypto.randomUUID();
  u.refresh.set(refresh, { clientId, username, scope,
    expires: now + REFRESH_TTL * 1000 });
  return mintAccess(u, clientId, username, scope, refresh, now);
}

function mintAccess(u, clientId, username, scope, refresh, now) {
  const ttl = u.accessTtl || ACCESS_TTL;
  const value = crypto.randomUUID();
  const t = { clientId, username, scope, refresh, expires: now + ttl * 1000 };
  u.access.set(value, t);
  return tokenResponse(value, t, now);
}

function tokenResponse(value, t, now) {
  return {
    access_token: value,
    token_type: 'bearer',
    refresh_token: t.refresh,
    expires_in: Math.max(0, Math.floor((t.expires - now) / 1000) - 1),
    scope: t.scope,
  };
}

function token(ctx, u) {
  const { req, res } = ctx;
  const now = Date.now();
  const basic = auth.parseBasic(req.headers.authorization);
  const realm = { 'WWW-Authenticate': 'Basic realm="oauth2/client"' };
  if (!basic) {
    return oauthError(res, 401, 'unauthorized',
      'Full authentication is required to access this resource', realm);
  }
  const client = !basic.error && CLIENTS.get(basic.username);
  if (!client || basic.password !== client.secret) {
    return oauthError(res, 401, 'unauthorized', 'Bad credentials', realm);
  }
  const form = querystring.parse(ctx.body.toString('utf8'));
  const grant = form.grant_type;
  if (!client.grantTypes.includes(grant)) {
    return oauthError(res, 400, 'unsupported_grant_type',
      `Unsupported grant type: ${grant ?? ''}`);
  }
  const ok = (body) => h.sendJson(res, 200, body,
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' });

  if (grant === 'authorization_code') {
    const c = u.codes.get(form.code);
    u.codes.delete(form.code);
    if (!c || c.expires < now) {
      return oauthError(res, 400, 'invalid_grant', `Invalid authorization code: ${form.code ?? ''}`);
    }
    if (c.clientId !== client.id) {
      return oauthError(res, 400, 'invalid_client', 'Client ID mismatch');
    }
    if ((c.requestedRedirect || form.redirect_uri) &&
        form.redirect_uri !== c.requestedRedirect) {
      return oauthError(res, 400, 'invalid_grant', 'Redirect URI mismatch.');
    }
    return ok(issue(u, client.id, c.username, c.scope, now));
  }
  if (grant === 'refresh_token') {
    const r = u.refresh.get(form.refresh_token);
    if (!r || r.clientId !== client.id) {
      return oauthError(res, 400, 'invalid_grant', `Invalid refresh token: ${form.refresh_token ?? ''}`);
    }
    if (r.expires < now) {
      u.refresh.delete(form.refresh_token);
      return oauthError(res, 400, 'invalid_token', `Invalid refresh token (expired): ${form.refresh_token}`);
    }
    // The refresh token is reused (reuseRefreshToken = true); the old
    // access token goes.
    for (const [value, t] of u.access) {
      if (t.refresh === form.refresh_token) u.access.delete(value);
    }
    return ok(mintAccess(u, client.id, r.username, r.scope, form.refresh_token, now));
  }
  // password
  const r = auth.authenticate(ctx, String(form.username ?? ''),
    String(form.password ?? ''), null);
  if (!r.user) {
    const text = r.error === 'LOCKED' ? 'User account is locked'
      : r.error === 'DISABLED' ? 'User is disabled' : 'Bad credentials';
    return oauthError(res, 400, 'invalid_grant', text);
  }
  return ok(issue(u, client.id, r.user.username, 'ALL', now));
}

// Authorization: Bearer on /api (<= 2.41): the opaque token store.
// Returns { username } or { error } (the legacy message).
function lookup(u, value, now = Date.now()) {
  const t = u.access.get(value);
  if (!t) return { error: `Invalid access token: ${value}` };
  if (t.expires <= now) {
    u.access.delete(value);
    return { error: `Access token expired: ${value}` };
  }
  return { username: t.username };
}

// For the control API and tests: expire every access token now.
function expireAll(u) {
  for (const t of u.access.values()) t.expires = 0;
}

module.exports = { newState, handle, lookup, expireAll, CLIENTS, REDIRECT };
