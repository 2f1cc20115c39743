// DHIS2's temporary lockout: failures counted per username (never per IP),
// 4 of them lock the name for 15 minutes after the last write.
'use strict';

const MAX_FAILED_ATTEMPTS = 4; // UserConstants.LOGIN_MAX_FAILED_ATTEMPTS
const LOCK_MS = 15 * 60 * 1000; // cache expireAfterWrite

function entry(state, username) {
  const e = state.failures.get(username);
  if (e && e.expires <= state.now()) {
    state.failures.delete(username);
    return null;
  }
  return e || null;
}

// Nothing is recorded or checked while the setting is off, as in
// DefaultSecurityService/UserService: turning it on starts from zero.
function isLocked(state, username) {
  if (!state.lockout || username == null) return false;
  const e = entry(state, username);
  return !!e && e.count >= MAX_FAILED_ATTEMPTS;
}

// Every write renews the expiry, so a failure while locked extends the lock.
function registerFailure(state, username) {
  if (!state.lockout || username == null) return;
  const e = entry(state, username);
  state.failures.set(username, {
    count: (e ? e.count : 0) + 1,
    expires: state.now() + LOCK_MS,
  });
}

function registerSuccess(state, username) {
  if (!state.lockout || username == null) return;
  state.failures.delete(username);
}

module.exports = { isLocked, registerFailure, registerSuccess,
  MAX_FAILED_ATTEMPTS, LOCK_MS };
