// bad_token modes: the next tokens issued are wrong in exactly one way, and
// a verifier (ours with the JWKS, and /api/me) can tell.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../support/testkit');
const k = require('../support/oauthkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const BASIC = ['dhis2-auth-basic', 'dhis2-auth-basic-secret'];
const CB = 'http://127.0.0.1:8765/callback';
const NONCE = 'nonce-4711';

async function tokens() {
  const { verifier, challenge } = k.pkce();
  const a = await k.authorize({ base: emu.url, client: BASIC[0], challenge, nonce: NONCE,
    username: 'alice', password: 'Alice-pw-1' });
  const r = await k.post(`${emu.url}/oauth2/token`, { grant_type: 'authorization_code',
    code: a.params.get('code'), redirect_uri: CB, code_verifier: verifier }, { basic: BASIC });
  assert.equal(r.status, 200);
  return r.json;
}

// What a careful client checks; returns the list of failed checks.
function problems(t, jwks) {
  const out = [];
  const now = Math.floor(Date.now() / 1000);
  for (const [name, tok] of [['access', t.access_token], ['id', t.id_token]]) {
    const { payload: p } = k.decodeJwt(tok);
    if (!k.verifyWithJwks(tok, jwks).ok) out.push(`${name}:signature`);
    if (p.iss !== emu.url) out.push(`${name}:iss`);
    if (![].concat(p.aud).includes(BASIC[0])) out.push(`${name}:aud`);
    if (!(p.exp > now)) out.push(`${name}:expired`);
    if (name === 'id' && p.nonce !== NONCE) out.push(`${name}:nonce`);
  }
  return out;
}

async function me(at) {
  return emu.request('/api/me?fields=username', { headers: { Authorization: `Bearer ${at}` } });
}

test('no mode: tokens pass every check and /api/me takes them', async () => {
  await emu.ctl('POST', '/oauth2', { jwt_bearer: true });
  const t = await tokens();
  const jwks = (await emu.request('/oauth2/jwks')).json;
  assert.deepEqual(problems(t, jwks), []);
  assert.equal((await me(t.access_token)).status, 200);
});

const EXPECT = {
  signature: { problems: ['access:signature', 'id:signature'], message: /Invalid signature/ },
  iss: { problems: ['access:iss', 'id:iss'], message: /^Invalid issuer$/ },
  aud: { problems: ['access:aud', 'id:aud'], message: /^Invalid audience$/ },
  expired: { problems: ['access:expired', 'id:expired'], message: /Jwt expired at/ },
  nonce: { problems: ['id:nonce'], message: null },
};

for (const [mode, want] of Object.entries(EXPECT)) {
  test(`bad_token=${mode}: wrong in that one way`, async () => {
    await emu.ctl('POST', '/oauth2', { jwt_bearer: true, bad_token: mode });
    const t = await tokens();
    const jwks = (await emu.request('/oauth2/jwks')).json;
    assert.deepEqual(problems(t, jwks), want.problems);
    const r = await me(t.access_token);
    if (want.message) {
      assert.equal(r.status, 401);
      assert.match(r.json.message, want.message);
      assert.match(r.headers['www-authenticate'], /^Bearer error="invalid_token"/);
    } else {
      assert.equal(r.status, 200);
    }
    // Still armed for the refresh response; cleared by null.
    const again = await k.post(`${emu.url}/oauth2/token`,
      { grant_type: 'refresh_token', refresh_token: t.refresh_token }, { basic: BASIC });
    assert.deepEqual(problems({ ...again.json, id_token: again.json.id_token }, jwks)
      .filter((x) => x.startsWith('access')), want.problems.filter((x) => x.startsWith('access')));
    await emu.ctl('POST', '/oauth2', { bad_token: null });
    assert.deepEqual(problems(await tokens(), jwks), []);
  });
}
