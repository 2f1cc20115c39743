// Username/password authentication as DHIS2's TwoFactorAuthenticationProvider
// (a DaoAuthenticationProvider) runs it, for HTTP Basic and /api/auth/login,
// with the lockout bookkeeping its event listener does.
'use strict';

const crypto = require('node:crypto');
const lockout = require('./lockout');
const { mustEnrol } = require('./users');
const { verifyTotp } = require('./totp');
const { isTwoFactorEnabled, accountExpired } = require('./pat');

const EMAIL_CODE_MS = 15 * 60 * 1000; // TWOFA_EMAIL_CODE_EXPIRY_MILLIS

// Outcomes. `counts` says whether Spring publishes an authentication failure
// event for it, which is what records a failed login: only the stock
// exception classes are mapped (DefaultAuthenticationEventPublisher looks up
// the exact class), so DHIS2's own 2FA exceptions never count.
const LOCKED = { error: 'LOCKED', counts: true };
const DISABLED = { error: 'DISABLED', counts: true };
const EXPIRED = { error: 'EXPIRED', counts: true };
const BAD_CREDENTIALS = { error: 'BAD_CREDENTIALS', counts: true };
const CREDENTIALS_EXPIRED = { error: 'CREDENTIALS_EXPIRED', counts: true };
const ENROL = { error: 'ENROL', counts: false };
const TWO_FA_NOT_FORM = { error: 'TWO_FA_NOT_FORM', counts: false };

function constantTimeEqual(a, b) {
  const x = crypto.createHash('sha256').update(String(a)).digest();
  const y = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(x, y);
}

// Runs the provider. `form` is null for HTTP Basic, or { code } for the
// login endpoint. Returns { user } or an outcome above (plus `type` for 2FA).
function authenticate(ctx, username, password, form) {
  const { state, fixture } = ctx;
  const result = provider();
  if (result.user) {
    lockout.registerSuccess(state, username);
  } else if (result.counts) {
    lockout.registerFailure(state, username);
  }
  return result;

  function provider() {
    if (lockout.isLocked(state, username)) return LOCKED;
    const user = fixture.users.get(username);
    // Unknown user: UsernameNotFoundException, hidden as bad credentials.
    if (!user) return BAD_CREDENTIALS;
    const now = state.now();
    // Spring's pre-authentication checks, before the password.
    if (user.locked) return LOCKED;
    if (user.disabled) return DISABLED;
    if (accountExpired(user, now)) return EXPIRED;
    if (password == null || !constantTimeEqual(password, user.password)) {
      return BAD_CREDENTIALS;
    }
    // Post-authentication check: the password was right but has expired.
    if (user.passwordExpired) return CREDENTIALS_EXPIRED;
    const enabled = isTwoFactorEnabled(user);
    if (!enabled && mustEnrol(fixture, user)) return ENROL;
    if (!enabled) return { user };
    if (!form) return TWO_FA_NOT_FORM;
    return twoFactor(ctx, user, form.code, now);
  }
}

function twoFactor(ctx, user, code, now) {
  const { state } = ctx;
  const type = user.twoFactorType;
  const blank = code == null || String(code).trim() === '';
  if (type === 'EMAIL_ENABLED' && state.atLeast('2.42')) {
    // TwoFactorAuthenticationProvider validates the code only when the
    // user's 2FA type is switched on in dhis.conf; email is off by default,
    // and then the password alone signs the user in.
    if (!state.email2fa) return { user };
    if (blank) {
      // Each send replaces the stored code (the user's "secret").
      const fresh = String(crypto.randomInt(0, 1000000)).padStart(6, '0');
      state.emailCodes.set(user.username, {
        code: fresh,
        expires: now + EMAIL_CODE_MS,
      });
      return { error: 'TWO_FA_CODE_SENT', counts: false, type };
    }
    const stored = state.emailCodes.get(user.username);
    const c = String(code).replace(/\s+/g, '');
    if (stored && stored.expires >= now && /^[0-9]{6}$/.test(c) &&
        c === stored.code) {
      return { user };
    }
    return { error: 'TWO_FA_BAD_CODE', counts: false, type };
  }
  if (type === 'TOTP_ENABLED' && !blank && verifyTotp(user.secret, code, now)) {
    return { user };
  }
  return { error: 'TWO_FA_BAD_CODE', counts: false, type };
}

// Spring's BasicAuthenticationConverter. Returns null when the header is not
// Basic, { error } when it is but cannot be read (these fail before the
// provider runs, so they record nothing), else { username, password }.
function parseBasic(header) {
  if (!header || !/^basic /i.test(header)) {
    if (header && /^basic$/i.test(header.trim())) return { error: true };
    return null;
  }
  const b64 = header.slice(6).trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    return { error: true };
  }
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return { error: true };
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

// Sessions: Tomcat-style ids, at most 10 per user (max.sessions.per_user);
// the oldest is expired when an 11th is made.
const MAX_SESSIONS = 10;

function createSession(state, username) {
  const id = crypto.randomBytes(16).toString('hex').toUpperCase();
  state.sessions.set(id, { username, created: state.now() });
  state.sessionsCreated++;
  const mine = [...state.sessions].filter(([, s]) => s.username === username);
  while (mine.length > MAX_SESSIONS) state.sessions.delete(mine.shift()[0]);
  return id;
}

function sessionCookie(id, secure) {
  return `JSESSIONID=${id}; Path=/; ${secure ? 'Secure; ' : ''}HttpOnly`;
}

const CLEAR_COOKIE =
  'JSESSIONID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:10 GMT';

module.exports = {
  authenticate,
  parseBasic,
  createSession,
  sessionCookie,
  CLEAR_COOKIE,
};
