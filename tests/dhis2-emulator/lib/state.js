// Everything the emulator remembers between requests; /reset puts it back.
'use strict';

const VERSIONS = ['2.37', '2.40', '2.41', '2.42'];

// "2.41" -> 241 so versions compare as numbers.
function vnum(v) {
  const [maj, min] = String(v).split('.');
  return Number(maj) * 100 + Number(min);
}

class State {
  constructor(startVersion) {
    this.startVersion = startVersion;
    this.reset();
  }

  reset() {
    this.version = this.startVersion;
    // keyLockMultipleFailedLogins: off in a stock DHIS2, on here so tests
    // notice a client that burns attempts; /settings switches it.
    this.lockout = true;
    // dhis.conf http.security.csrf.enabled (2.42+): off, as in a stock DHIS2.
    this.csrf = false;
    this.offsetMs = 0;
    this.fault = null;
    this.total = 0;
    this.byPath = {};
    this.requests = [];
    this.sinkRequests = [];
    this.sessionsCreated = 0;
    // username -> { count, expires }: DHIS2's userFailedLoginAttemptCache.
    this.failures = new Map();
    // username -> { code, expires }: the "secret" email 2FA stores.
    this.emailCodes = new Map();
    // JSESSIONID -> { username, created }
    this.sessions = new Map();
    // token hash -> { username, cachedUntil }: ApiTokenAuthManager's cache.
    this.patCache = new Map();
  }

  now() {
    return Date.now() + this.offsetMs;
  }

  atLeast(v) {
    return vnum(this.version) >= vnum(v);
  }
}

module.exports = { State, VERSIONS, vnum };
