// Everything the emulator remembers between requests; /reset puts it back.
'use strict';

// The release profiles: a line ("2.41": its first release) or an exact
// release where a line changed inside ("2.37.10", "2.42.4", "2.42.5"), and
// "master", newer than any tag. "2.42" is 2.42.0.
const VERSIONS = ['2.37', '2.37.10', '2.40', '2.41', '2.42', '2.42.4',
  '2.42.5', 'master'];

// The release each profile answers as (loginConfig's apiVersion and
// /api/system/info); master is the next line's snapshot.
const RELEASES = {
  '2.37': '2.37.0',
  '2.37.10': '2.37.10',
  '2.40': '2.40.0',
  '2.41': '2.41.0',
  '2.42': '2.42.0',
  '2.42.4': '2.42.4',
  '2.42.5': '2.42.5',
  master: '2.44-SNAPSHOT',
};

// "2.41" -> 24100, "2.42.5" -> 24205, "master" above every tag, so
// versions compare as numbers: atLeast('2.42') holds for 2.42.5 and master.
function vnum(v) {
  if (v === 'master') return 999999;
  const [maj, min, patch] = String(v).split('.');
  return Number(maj) * 10000 + Number(min) * 100 + Number(patch || 0);
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
    // dhis.conf login.security.email_2fa.enabled (2.42+): off, as in a stock
    // DHIS2; then an email 2FA user's login asks for no code at all.
    this.email2fa = false;
    this.offsetMs = 0;
    this.fault = null;
    this.total = 0;
    this.byPath = {};
    this.requests = [];
    this.sinkRequests = [];
    this.sessionsCreated = 0;
    // TCP connections the main listener accepted, and the TLS version each
    // TLS one settled on ({"TLSv1.3": n}): a client should need one a login.
    this.connections = 0;
    this.tlsVersions = {};
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

module.exports = { State, VERSIONS, RELEASES, vnum };
