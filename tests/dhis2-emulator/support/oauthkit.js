// Helpers for the OAuth2 tests: a cookie jar, PKCE, a "browser" that walks
// the login and consent pages without following the final redirect, and
// form posts to token endpoints. Lives outside test/ so node --test does not
// run it.
'use strict';

const crypto = require('node:crypto');
const { fetchRaw } = require('./testkit');

// Cookies by name and path, sent to paths they cover (host and port are
// ignored: everything is 127.0.0.1, as in a browser where cookies do not
// care about ports).
class CookieJar {
  constructor() {
    this.cookies = new Map(); // `${path}\n${name}` -> { name, value, path }
  }

  store(setCookie, requestPath) {
    for (const line of [].concat(setCookie || [])) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = requestPath.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path') path = v.trim();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) < Date.now()) expired = true;
      }
      const id = `${path}\n${name}`;
      if (expired || value === '') this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(path) {
    const list = [...this.cookies.values()]
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length);
    return list.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

// One request with the jar; never follows redirects.
async function browse(jar, url, { method = 'GET', form, headers = {}, ca } = {}) {
  const u = new URL(url);
  const h = { ...headers };
  const cookie = jar.header(u.pathname);
  if (cookie) h.Cookie = cookie;
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  const r = await fetchRaw(url, { method, headers: h, body, ca });
  jar.store(r.headers['set-cookie'], u.pathname);
  return r;
}

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// Pulls a form's action out of a page (by form id).
function formAction(html, id) {
  const m = new RegExp(`<form[^>]*id="${id}"[^>]*action="([^"]*)"`).exec(html) ||
    new RegExp(`<form[^>]*action="([^"]*)"[^>]*id="${id}"`).exec(html);
  return m ? m[1].replace(/&amp;/g, '&') : null;
}

function hiddenInputs(html, formId) {
  const start = html.indexOf(`id="${formId}"`);
  const end = html.indexOf('</form>', start);
  const part = html.slice(start, end);
  const out = {};
  for (const m of part.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/?>/g)) {
    out[m[1]] = m[2].replace(/&amp;/g, '&');
  }
  return out;
}

// Follows redirects that stay on `base` (absolute or relative Location),
// stopping at the first page (200) or at a redirect elsewhere. Returns
// { res, url } of the last response.
async function follow(jar, base, url, ca, limit = 10) {
  let r = await browse(jar, url, { ca });
  let cur = url;
  for (let i = 0; i < limit && r.status >= 300 && r.status < 400; i++) {
    const next = new URL(r.headers.location, cur).href;
    if (!next.startsWith(base)) return { res: r, url: cur, location: next };
    cur = next;
    r = await browse(jar, cur, { ca });
  }
  return { res: r, url: cur, location: r.headers.location };
}

// Drives the authorization code flow from the authorization request to the
// redirect back to the client (captured, not followed).
// o: { base (issuer URL), authorizePath, client, scope, redirect_uri, state,
//      nonce, challenge, username, password, decision, ca, jar }
// Returns { location, params (of the redirect), pages: [html...] } or
// { stoppedAt: response } when a page refuses to go on.
async function authorize(o) {
  const jar = o.jar || new CookieJar();
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: o.client,
    redirect_uri: o.redirect_uri || 'http://127.0.0.1:8765/callback',
    scope: o.scope || 'ALL openid email',
    state: o.state || crypto.randomBytes(8).toString('hex'),
    code_challenge: o.challenge,
    code_challenge_method: 'S256',
  });
  if (o.nonce) q.set('nonce', o.nonce);
  const pages = [];
  let step = await follow(jar, o.base, `${o.base}${o.authorizePath || '/oauth2/authorize'}?${q}`, o.ca);
  for (let i = 0; i < 4; i++) {
    if (step.location && !step.location.startsWith(o.base)) {
      return { location: step.location, params: new URL(step.location).searchParams, pages, jar };
    }
    const r = step.res;
    if (r.status !== 200) return { stoppedAt: r, pages, jar };
    pages.push(r.text);
    let next;
    if (r.text.includes('id="login"')) {
      next = await browse(jar, new URL(formAction(r.text, 'login'), step.url).href, {
        method: 'POST', ca: o.ca,
        form: { username: o.username, password: o.password,
          ...(o.twoFactorCode ? { twoFactorCode: o.twoFactorCode } : {}) },
      });
    } else if (r.text.includes('id="consent"')) {
      next = await browse(jar, new URL(formAction(r.text, 'consent'), step.url).href, {
        method: 'POST', ca: o.ca, form: { decision: o.decision || 'approve' },
      });
    } else {
      return { stoppedAt: r, pages, jar };
    }
    if (next.status < 300 || next.status >= 400) return { stoppedAt: next, pages, jar };
    const loc = new URL(next.headers.location, step.url).href;
    if (!loc.startsWith(o.base)) {
      return { location: loc, params: new URL(loc).searchParams, pages, jar };
    }
    step = await follow(jar, o.base, loc, o.ca);
  }
  return { stoppedAt: step.res, pages, jar };
}

// POSTs a form to a token-style endpoint. auth: { basic: [id, secret] } or
// nothing (the params carry client_id / client_secret).
async function post(url, params, { basic, ca, headers = {} } = {}) {
  const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (basic) {
    h.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:` +
      `${encodeURIComponent(basic[1])}`).toString('base64')}`;
  }
  return fetchRaw(url, { method: 'POST', headers: h,
    body: new URLSearchParams(params).toString(), ca });
}

function decodeJwt(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

// Verifies a JWT against a JWKS document the way a client would: by kid.
// Returns { ok, reason }.
function verifyWithJwks(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { ok: false, reason: 'unknown kid' };
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok = header.alg === 'ES256'
    ? crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
    : crypto.verify('sha256', data, key, sig);
  return { ok, reason: ok ? null : 'bad signature' };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { CookieJar, browse, pkce, formAction, hiddenInputs, follow,
  authorize, post, decodeJwt, verifyWithJwks, sleep };
