// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) as DHIS2 verifies it, plus the
// RFC 4648 base32 its secrets are stored in.
'use strict';

const crypto = require('node:crypto');

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// Returns a Buffer, or null when the text is not base32.
function base32Decode(text) {
  const s = String(text).replace(/=+$/, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) return null;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function base32Encode(buf) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = crypto.createHmac('sha1', key).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) |
    (h[off + 2] << 8) | h[off + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

function totp(secretBase32, nowMs, digits = 6) {
  const key = base32Decode(secretBase32);
  return hotp(key, Math.floor(nowMs / 1000 / 30), digits);
}

// TwoFactorAuthUtils.verifyTOTP2FACode: whitespace dropped, exactly six
// digits, a secret that decodes to 20 bytes; then aerogear's Totp.verify,
// which accepts the current step and the one before it (DELAY_WINDOW = 1,
// looking back only, never ahead).
function verifyTotp(secretBase32, code, nowMs) {
  const c = String(code).replace(/\s+/g, '');
  if (!/^[0-9]{6}$/.test(c)) return false;
  const key = base32Decode(secretBase32 || '');
  if (!key || key.length !== 20) return false;
  const step = Math.floor(nowMs / 1000 / 30);
  for (const s of [step - 1, step]) {
    if (hotp(key, s) === c) return true;
  }
  return false;
}

module.exports = { base32Decode, base32Encode, hotp, totp, verifyTotp };
