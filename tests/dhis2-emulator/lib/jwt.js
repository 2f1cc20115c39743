// Signing keys and compact JWS (RS256, ES256) with node:crypto: what the
// emulator needs to verify the tokens it hands out, to re-sign the ones a
// bad_token mode spoils, and to publish its keys.
'use strict';

const crypto = require('node:crypto');
const util = require('node:util');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const b64uJson = (obj) => b64u(JSON.stringify(obj));

const generateKeyPair = util.promisify(crypto.generateKeyPair);

function keyParams(alg) {
  return alg === 'ES256' ? ['ec', { namedCurve: 'P-256' }]
    : ['rsa', { modulusLength: 2048 }];
}

// One signing key: kid (a UUID, as DHIS2's ephemeral key has), alg, the
// private KeyObject and the public JWK.
function makeKey(alg) {
  return keyObject(alg, crypto.generateKeyPairSync(...keyParams(alg)));
}

// The same off the main thread (start-up makes four keys while it loads
// oidc-provider).
async function makeKeyAsync(alg) {
  return keyObject(alg, await generateKeyPair(...keyParams(alg)));
}

function keyObject(alg, { privateKey, publicKey }) {
  const kid = crypto.randomUUID();
  // Published as DHIS2 publishes its key (Nimbus RSAKey with a kid only):
  // no "use" and no "alg" member, so clients must not require them.
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid };
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    jwk,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid },
  };
}

// A key read back from its private JWK (as keyObject made it), with the
// same kid: for a key cache.
function keyFromJwk(alg, privateJwk) {
  const { kid, ...jwk } = privateJwk;
  const privateKey = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const publicKey = crypto.createPublicKey(privateKey);
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid },
    privateJwk,
  };
}

// A key set: one RSA key for RS256 (the default, as DHIS2) and one P-256 key
// for ES256, both published.
function makeKeySet() {
  return { RS256: makeKey('RS256'), ES256: makeKey('ES256') };
}

async function makeKeySetAsync() {
  const [RS256, ES256] = await Promise.all([makeKeyAsync('RS256'), makeKeyAsync('ES256')]);
  return { RS256, ES256 };
}

function signingInput(header, payload) {
  return `${b64uJson(header)}.${b64uJson(payload)}`;
}

function signRaw(input, key) {
  const sig = key.alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(input),
      { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    : crypto.sign('sha256', Buffer.from(input), key.privateKey);
  return b64u(sig);
}

function sign(header, payload, key) {
  const input = signingInput(header, payload);
  return `${input}.${signRaw(input, key)}`;
}

// Splits a compact JWS; null when it is not one.
function decode(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!header || typeof header !== 'object' || !payload ||
        typeof payload !== 'object') {
      return null;
    }
    return { header, payload, input: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return null;
  }
}

function verifySignature(d, key) {
  if (d.header.alg !== key.alg) return false;
  try {
    if (key.alg === 'ES256') {
      return crypto.verify('sha256', Buffer.from(d.input),
        { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, d.signature);
    }
    return crypto.verify('sha256', Buffer.from(d.input), key.publicKey,
      d.signature);
  } catch {
    return false;
  }
}

// Verifies a JWT the way a resource server does: signature by one of `keys`
// (found by kid), iss, aud containing one of `audiences`, exp/nbf with a
// little leeway. Returns { payload, header } or { error } with a short reason.
// audMode "all": every aud value must be in `audiences` (DHIS2's rule for
// its own authorization server's tokens); "any": one is enough.
function verify(token, { keys, issuer, audiences, audMode = 'any', now = Date.now(),
  leeway = 5 }) {
  const d = decode(token);
  if (!d) return { error: 'not a JWT' };
  const key = keys.find((k) => k.kid === d.header.kid);
  if (!key) return { error: 'unknown kid' };
  if (!verifySignature(d, key)) return { error: 'bad signature' };
  const p = d.payload;
  if (p.iss !== issuer) return { error: 'invalid issuer' };
  const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
  const okAud = audMode === 'all'
    ? aud.length > 0 && aud.every((a) => audiences.includes(a))
    : aud.some((a) => audiences.includes(a));
  if (!okAud) return { error: 'invalid audience' };
  const t = Math.floor(now / 1000);
  if (!Number.isFinite(p.exp) || p.exp + leeway <= t) return { error: 'expired' };
  if (Number.isFinite(p.nbf) && p.nbf - leeway > t) return { error: 'not yet valid' };
  return { header: d.header, payload: p };
}

module.exports = { makeKey, makeKeySet, makeKeySetAsync, keyFromJwk, sign, signRaw, decode, verify,
  verifySignature };
