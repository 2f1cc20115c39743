// Personal Access Tokens: the V1/V2 formats, DHIS2's checksum (with its
// 2.41+ zero-byte quirk), hashing, and the ApiToken authentication steps.
'use strict';

const crypto = require('node:crypto');

const TYPES = {
  d2pat: { version: 1, prefix: 'd2pat', length: 32, checksum: 'CRC32' },
  d2p: { version: 2, prefix: 'd2p', length: 44, checksum: 'CRC32_B62' },
};

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

let crcTable = null;
function crc32(buf) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// CRC32Utils.generateCRC32Checksum hashes Charset.encode(...).array(): the
// encoder's whole backing array, sized (int)(chars * 1.1f), so an ASCII code
// is followed by zero bytes (3 for 32 chars, 4 for 44). Reproduced here.
function quirkBytes(code) {
  const raw = Buffer.from(code, 'utf8');
  const n = Math.max(Math.trunc(code.length * Math.fround(1.1)), raw.length);
  const out = Buffer.alloc(n);
  raw.copy(out);
  return out;
}

function base62(num, width = 6) {
  let s = '';
  for (let i = 0; i < width; i++) {
    s = B62[num % 62] + s;
    num = Math.floor(num / 62);
  }
  return s;
}

// The checksum text DHIS2 2.41+ generates for `code` of the given type.
function checksumFor(type, code) {
  const crc = crc32(quirkBytes(code));
  return type.checksum === 'CRC32' ? String(crc).padStart(10, '0')
    : base62(crc);
}

function typeOf(token) {
  const us = token.indexOf('_');
  if (us < 0) return null;
  return TYPES[token.slice(0, us)] || null;
}

// ApiKeyTokenGenerator.isValidTokenChecksum; anything that throws there
// (no prefix, unknown prefix, too short, V1 checksum not a number) is a
// failure too.
function isValidChecksum(token) {
  const type = typeOf(token);
  if (!type) return false;
  const start = type.prefix.length + 1;
  if (token.length < start + type.length) return false;
  const code = token.slice(start, start + type.length);
  const sum = token.slice(start + type.length);
  const crc = crc32(quirkBytes(code));
  if (type.checksum === 'CRC32') {
    // Long.parseLong then ==: leading zeros and width do not matter.
    if (!/^[+-]?[0-9]+$/.test(sum) || sum.replace(/^\+/, '').length > 19) {
      return false;
    }
    return BigInt(sum) === BigInt(crc);
  }
  return sum === base62(crc);
}

function hashToken(token) {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

function makeToken(version, code) {
  const type = version === 1 ? TYPES.d2pat : TYPES.d2p;
  if (!code) {
    const bytes = crypto.randomBytes(type.length * 2);
    code = '';
    for (const b of bytes) {
      if (b < 248) code += B62[b % 62]; // 248 = 4*62: no modulo bias
      if (code.length === type.length) break;
    }
  }
  if (code.length !== type.length || !/^[0-9A-Za-z]+$/.test(code)) {
    throw new Error(`code must be ${type.length} characters of [0-9A-Za-z]`);
  }
  return `${type.prefix}_${code}${checksumFor(type, code)}`;
}

const HEADER_RE = /^ApiToken (?<token>[a-z0-9-._~+/]+=*)$/i;

// Outcome of the ApiToken filter for one request. Returns null when the
// request carries no ApiToken header (the next filter decides), else
// { error: { status, message } } or { username }.
// Steps and strings from Dhis2ApiTokenFilter, ApiTokenResolver and
// ApiTokenAuthManager.
function authenticate(ctx) {
  const { state, fixture, req } = ctx;
  const header = req.headers.authorization;
  if (!header || !header.toLowerCase().startsWith('apitoken')) return null;

  const v241 = state.atLeast('2.41');
  const m = HEADER_RE.exec(header);
  if (!m) {
    // invalidRequest (400) since 2.41; invalidToken (401) before.
    return fail(v241 ? 400 : 401, 'Api token is malformed');
  }
  const token = m.groups.token;
  if (v241 && !isValidChecksum(token)) {
    return fail(400, 'Checksum validation failed');
  }
  const key = hashToken(token);
  const now = state.now();

  let entry = fixture.tokensByKey.get(key);
  const cached = state.patCache.get(key);
  if (cached && cached.cachedUntil > now && entry) {
    // A cached token only has its expiry re-checked: owner state changes
    // (disabled, locked) go unnoticed until the cache entry ages out.
    if (entry.def.expire <= now) return expired();
  } else {
    if (!entry) return fail(401, 'The API token does not exists');
    if (entry.def.expire <= now) return expired();
    const u = entry.user;
    // 2FA owners are refused from 2.37.0 (ApiTokenAuthManager checks
    // isTwoFA beside enabled and locked).
    if (u.disabled || u.locked || isTwoFactorEnabled(u) || u.passwordExpired ||
        accountExpired(u, now) || ctx.isLocked(u.username)) {
      return fail(401, 'The API token is disabled, locked or 2FA is enabled.');
    }
    state.patCache.set(key, { cachedUntil: now + 3600 * 1000 });
  }

  const def = entry.def;
  const errors = [];
  if (def.allowedIps && def.allowedIps.length) {
    // The whole X-Forwarded-For value, else the peer; compared as a string.
    const ip = req.headers['x-forwarded-for'] ?? peerAddress(req);
    if (!def.allowedIps.includes(ip)) {
      errors.push(
        'Failed to authenticate API token, request ip address is not allowed.');
    }
  }
  if (def.allowedReferrers && def.allowedReferrers.length) {
    const ref = req.headers.referer;
    if (ref == null || !def.allowedReferrers.includes(ref.toLowerCase())) {
      errors.push('Failed to authenticate API token, request http referrer ' +
        'is missing or not allowed.');
    }
  }
  if (def.allowedMethods && def.allowedMethods.length) {
    if (!def.allowedMethods.includes(req.method)) {
      errors.push(
        'Failed to authenticate API token, request http method is not allowed.');
    }
  }
  if (errors.length) return fail(401, errors[0]);
  return { username: entry.user.username };
}

function fail(status, message) {
  return { error: { status, message } };
}

function expired() {
  return fail(401, 'Failed to authenticate API token, token has expired.');
}

function isTwoFactorEnabled(u) {
  return u.twoFactorType === 'TOTP_ENABLED' || u.twoFactorType === 'EMAIL_ENABLED';
}

function accountExpired(u, now) {
  return u.accountExpiry != null && Date.parse(u.accountExpiry) <= now;
}

function peerAddress(req) {
  const a = req.socket.remoteAddress || '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

module.exports = {
  TYPES,
  crc32,
  quirkBytes,
  base62,
  checksumFor,
  isValidChecksum,
  hashToken,
  makeToken,
  authenticate,
  isTwoFactorEnabled,
  accountExpired,
};
