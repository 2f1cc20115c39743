// DHIS2's CSRF protection, `http.security.csrf.enabled = on` in dhis.conf
// (2.42.0+, off by default; DhisWebApiWebSecurityConfig.filterChain):
// Spring Security's CsrfFilter with CookieCsrfTokenRepository.withHttpOnlyFalse()
// and DHIS2's SpaCsrfTokenRequestHandler, plus DHIS2's CsrfCookieFilter
// (after BasicAuthenticationFilter) that hands the token out as a cookie on
// every request that gets that far without one.
//
// - Every method but GET, HEAD, TRACE and OPTIONS needs the token, whoever
//   the caller is (no ignoringRequestMatchers): /api/auth/login and the
//   logout included. The check comes before any authentication, so a refused
//   login never reaches the password (no lockout count).
// - The token is the XSRF-TOKEN cookie's value (a UUID); send it back raw in
//   the X-XSRF-TOKEN header, with the cookie. Without that header the `_csrf`
//   parameter is read, but only in the XOR-masked form a server-rendered
//   page would carry (XorCsrfTokenRequestAttributeHandler).
// - A refusal is Spring's AccessDeniedHandlerImpl: sendError(403, "Forbidden"),
//   rendered by the servlet container (Tomcat's error report page here). If
//   the request had no cookie, the refusal itself carries a fresh one.
// - With CSRF on, the logout URL is a logout only for POST (Spring's
//   LogoutConfigurer), and logging out clears the cookie (CsrfLogoutHandler).
'use strict';

const crypto = require('node:crypto');
const h = require('./http');

const COOKIE = 'XSRF-TOKEN';
const HEADER = 'x-xsrf-token';
const PARAM = '_csrf';
const SAFE = new Set(['GET', 'HEAD', 'TRACE', 'OPTIONS']);
const CLEAR_COOKIE =
  `${COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:10 GMT; Path=/`;

function active(state) {
  return state.csrf && state.atLeast('2.42');
}

// CookieCsrfTokenRepository.loadToken: the cookie, unless empty.
function load(ctx) {
  if (ctx.csrfToken) return ctx.csrfToken;
  const v = h.parseCookies(ctx.req.headers.cookie)[COOKIE];
  return v ? v : null;
}

// generateToken + saveToken: a random UUID in a cookie that scripts can read
// (not HttpOnly), Path = the context path, Secure on HTTPS, session lifetime.
function issue(ctx) {
  const token = crypto.randomUUID();
  ctx.csrfToken = token;
  h.addCookie(ctx.res,
    `${COOKIE}=${token}; Path=/${ctx.scheme === 'https' ? '; Secure' : ''}`);
  return token;
}

// DHIS2's CsrfCookieFilter: load the (deferred) token, which makes and sends
// a cookie when the request brought none.
function handOut(ctx) {
  if (!active(ctx.state) || load(ctx)) return;
  issue(ctx);
}

// XorCsrfTokenRequestAttributeHandler.getTokenValue: base64url of random
// bytes followed by (token XOR random), both as long as the token.
function unmask(masked, token) {
  if (masked == null) return null;
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(masked)) return null;
  const bytes = Buffer.from(masked, 'base64url');
  const t = Buffer.from(token, 'utf8');
  if (bytes.length !== t.length * 2) return null;
  const out = Buffer.alloc(t.length);
  for (let i = 0; i < t.length; i++) out[i] = bytes[i] ^ bytes[t.length + i];
  return out.toString('utf8');
}

function param(ctx) {
  const q = ctx.query.get(PARAM);
  if (q != null) return q;
  const type = String(ctx.req.headers['content-type'] || '');
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    return new URLSearchParams(ctx.body.toString('utf8')).get(PARAM);
  }
  return null;
}

// SpaCsrfTokenRequestHandler.resolveCsrfTokenValue.
function resolve(ctx, token) {
  const header = ctx.req.headers[HEADER];
  if (header != null && header.trim() !== '') return header;
  return unmask(header != null ? header : param(ctx), token);
}

function sameToken(a, b) {
  if (a == null) return false;
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Spring's CsrfFilter. Returns true when it refused the request (the reply
// has been sent).
function reject(ctx) {
  if (!active(ctx.state) || SAFE.has(ctx.req.method)) return false;
  const token = load(ctx) || issue(ctx);
  if (sameToken(resolve(ctx, token), token)) return false;
  forbidden(ctx.res);
  return true;
}

// response.sendError(403, "Forbidden") as Tomcat's ErrorReportValve renders
// it (the page's exact text depends on the container: unverified).
function forbidden(res) {
  h.send(res, 403,
    '<!doctype html><html lang="en"><head><title>HTTP Status 403 – Forbidden' +
    '</title><style type="text/css">body {font-family:Tahoma,Arial,sans-serif;} ' +
    'h1, h2, h3, b {color:white;background-color:#525D76;} h1 {font-size:22px;} ' +
    'h2 {font-size:16px;} h3 {font-size:14px;} p {font-size:12px;} ' +
    'a {color:black;} .line {height:1px;background-color:#525D76;border:none;}' +
    '</style></head><body><h1>HTTP Status 403 – Forbidden</h1>' +
    '<hr class="line" /><p><b>Type</b> Status Report</p><p><b>Message</b> ' +
    'Forbidden</p><p><b>Description</b> The server understood the request ' +
    'but refuses to authorize it.</p><hr class="line" /><h3>Apache ' +
    'Tomcat/11.0.20</h3></body></html>',
    { 'Content-Type': 'text/html;charset=utf-8', 'Content-Language': 'en' });
}

// A logout under CSRF protection: POST only.
function isLogoutMethod(state, method) {
  return !active(state) || method === 'POST';
}

module.exports = {
  active, reject, handOut, isLogoutMethod, unmask,
  COOKIE, HEADER, PARAM, CLEAR_COOKIE,
};
