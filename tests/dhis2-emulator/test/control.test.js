// The control API: reset, counters, request logs, the sink, and each fault.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { start, fetchRaw } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const ADMIN = ['admin', 'district'];

test('counters count by path without the query; sink counted apart',
  async () => {
    await emu.request('/api/me?fields=id', { auth: ADMIN });
    await emu.request('/api/me', { auth: ADMIN });
    await emu.login('alice', 'Alice-pw-1');
    await fetchRaw(`${emu.sinkUrl}/api/me`);
    const c = await emu.counters();
    assert.equal(c.total, 3);
    assert.deepEqual(c.by_path, { '/api/me': 2, '/api/auth/login': 1 });
    assert.equal(c.sink, 1);
  });

test('connections counts accepted sockets, not requests', async () => {
  // fetchRaw opens a socket a request (agent: false); one keep-alive agent
  // sends both requests over one.
  await emu.request('/api/me', { auth: ADMIN });
  await emu.request('/api/me', { auth: ADMIN });
  assert.equal((await emu.counters()).connections, 2);
  await emu.reset();
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise((resolve, reject) => {
    http.get(`${emu.url}/api/loginConfig`, { agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  await get();
  await get();
  agent.destroy();
  const c = await emu.counters();
  assert.equal(c.total, 2);
  assert.equal(c.connections, 1);
});

test('/requests logs method, path with query, all headers, body', async () => {
  await emu.request('/api/me?fields=id', { auth: ADMIN });
  await emu.login('alice', 'Alice-pw-1');
  const log = (await emu.ctl('GET', '/requests')).json;
  assert.equal(log.length, 2);
  assert.equal(log[0].method, 'GET');
  assert.equal(log[0].path, '/api/me?fields=id');
  assert.match(log[0].headers.authorization, /^Basic /);
  assert.equal(log[0].headers['x-requested-with'], 'XMLHttpRequest');
  assert.equal(log[1].method, 'POST');
  assert.deepEqual(JSON.parse(log[1].body),
    { username: 'alice', password: 'Alice-pw-1' });
});

test('/sink logs what reached the other host', async () => {
  await fetchRaw(`${emu.sinkUrl}/api/me?x=1`,
    { headers: { Authorization: 'Basic Zm9vOmJhcg==' } });
  const log = (await emu.ctl('GET', '/sink')).json;
  assert.equal(log.length, 1);
  assert.equal(log[0].path, '/api/me?x=1');
  assert.equal(log[0].headers.authorization, 'Basic Zm9vOmJhcg==');
});

test('reset clears logs, counters, faults, sessions, version, clock', async () => {
  const r = await emu.request('/api/me', { auth: ADMIN });
  const cookie = r.headers['set-cookie'][0].split(';')[0];
  await emu.ctl('POST', '/version', { version: '2.37' });
  await emu.ctl('POST', '/clock', { offset_s: 99999 });
  await emu.ctl('POST', '/fault', { mode: 'status', code: 500 });
  await emu.reset();
  assert.deepEqual(await emu.counters(),
    { total: 0, by_path: {}, sink: 0, sessions: 0, connections: 0,
      tls_versions: {} });
  assert.deepEqual((await emu.ctl('GET', '/requests')).json, []);
  assert.equal((await emu.request('/api/me', { cookie })).status, 401);
  assert.equal((await emu.ctl('GET', '/health')).json.version, '2.42');
});

test('bad control input is 400; unknown routes 404', async () => {
  assert.equal((await emu.ctl('POST', '/version', { version: '9.9' })).status, 400);
  assert.equal((await emu.ctl('POST', '/fault', { mode: 'explode' })).status, 400);
  assert.equal((await emu.ctl('POST', '/fault', { mode: 'status', code: 418 })).status, 400);
  assert.equal((await emu.ctl('POST', '/settings', {})).status, 400);
  assert.equal((await emu.ctl('POST', '/settings', { email_2fa: 'on' })).status, 400);
  assert.equal((await emu.ctl('GET', '/nope')).status, 404);
});

test('fault delay: the answer comes late but right', async () => {
  await emu.ctl('POST', '/fault', { mode: 'delay', ms: 300 });
  const t0 = Date.now();
  const r = await emu.request('/api/me', { auth: ADMIN });
  assert.ok(Date.now() - t0 >= 290);
  assert.equal(r.status, 200);
});

test('fault close: the socket is cut with no reply', async () => {
  await emu.ctl('POST', '/fault', { mode: 'close' });
  await assert.rejects(emu.request('/api/me', { auth: ADMIN }),
    /socket hang up|ECONNRESET/);
  assert.equal((await emu.counters()).total, 1, 'still counted');
});

test('fault status 500 (WebMessage) and 502/503 (proxy HTML)', async () => {
  await emu.ctl('POST', '/fault', { mode: 'status', code: 500 });
  const r500 = await emu.request('/api/me', { auth: ADMIN });
  assert.equal(r500.status, 500);
  assert.equal(r500.json.httpStatusCode, 500);
  for (const code of [502, 503]) {
    await emu.ctl('POST', '/fault', { mode: 'status', code });
    const r = await emu.request('/api/me', { auth: ADMIN });
    assert.equal(r.status, code);
    assert.match(r.headers['content-type'], /text\/html/);
    assert.match(r.text, new RegExp(`<h1>${code} `));
  }
});

test('fault redirect: 302 to the sink with the same path and query',
  async () => {
    await emu.ctl('POST', '/fault', { mode: 'redirect' });
    const r = await emu.request('/api/me?fields=id', { auth: ADMIN });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, `${emu.sinkUrl}/api/me?fields=id`);
    assert.equal((await emu.counters()).sink, 0, 'nothing followed it');
  });

test('fault huge: a valid JSON body larger than N, with and without length',
  async () => {
    for (const chunked of [false, true]) {
      await emu.ctl('POST', '/fault', { mode: 'huge', bytes: 300000, chunked });
      const r = await emu.request('/api/me', { auth: ADMIN });
      assert.equal(r.status, 200);
      assert.ok(r.text.length > 300000);
      assert.equal(JSON.parse(r.text).username, 'admin');
      if (chunked) {
        assert.equal(r.headers['content-length'], undefined);
        assert.equal(r.headers['transfer-encoding'], 'chunked');
      } else {
        assert.equal(Number(r.headers['content-length']), r.text.length);
      }
    }
    await emu.ctl('POST', '/fault', { mode: 'huge' });
    const big = await emu.request('/api/me', { auth: ADMIN });
    assert.ok(big.text.length > 2 * 1024 * 1024, 'default 2 MiB');
  });

test('fault malformed: 200 application/json that does not parse', async () => {
  await emu.ctl('POST', '/fault', { mode: 'malformed' });
  const r = await emu.request('/api/me', { auth: ADMIN });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.throws(() => JSON.parse(r.text));
});

test('fault path filter and times', async () => {
  await emu.ctl('POST', '/fault',
    { mode: 'status', code: 503, path: '/api/auth/login', times: 2 });
  assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 503);
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 503);
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 200);
});

test('the last fault armed wins', async () => {
  await emu.ctl('POST', '/fault', { mode: 'status', code: 502 });
  await emu.ctl('POST', '/fault', { mode: 'malformed' });
  assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
});

test('a client that hangs up during a delay does not upset the server',
  async () => {
    await emu.ctl('POST', '/fault', { mode: 'delay', ms: 200, times: 1 });
    await new Promise((resolve) => {
      const s = net.connect(emu.ready.port, '127.0.0.1', () => {
        s.end('GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n');
        s.destroy();
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
  });

test('sessions counter counts sessions made', async () => {
  await emu.request('/api/me', { auth: ADMIN });
  await emu.login('alice', 'Alice-pw-1');
  await emu.login('alice', 'wrong');
  assert.equal((await emu.counters()).sessions, 2);
});

test('settings email_2fa: on makes email 2FA ask for a code; reset turns it off',
  async () => {
    assert.equal((await emu.ctl('POST', '/settings', { email_2fa: true })).status,
      200);
    assert.equal((await emu.login('dave', 'Dave-pw-1')).json.loginStatus,
      'EMAIL_TWO_FACTOR_CODE_SENT');
    await emu.reset();
    assert.equal((await emu.login('dave', 'Dave-pw-1')).json.loginStatus,
      'SUCCESS');
  });

test('tls_versions counts the version each TLS connection settled on',
  async () => {
    const tls = await start({ tls: true });
    try {
      await tls.request('/api/loginConfig');
      const c = await tls.counters();
      assert.equal(c.connections, 1);
      assert.deepEqual(c.tls_versions, { 'TLSv1.3': 1 });
    } finally {
      await tls.stop();
    }
  });

test('POST /user changes a user until reset', async () => {
  const ctl = (body) => emu.ctl('POST', '/user', body);
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 200);
  assert.equal((await ctl({ username: 'alice', password: 'Alice-pw-2' })).status, 200);
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 401);
  assert.equal((await emu.login('alice', 'Alice-pw-2')).status, 200);
  assert.equal((await ctl({ username: 'alice', disabled: true })).status, 200);
  const r = await emu.login('alice', 'Alice-pw-2');
  assert.equal(r.json.loginStatus, 'ACCOUNT_DISABLED');
  await emu.reset();
  assert.equal((await emu.login('alice', 'Alice-pw-1')).status, 200);
  assert.equal((await ctl({ username: 'nobody' , disabled: true })).status, 400);
  assert.equal((await ctl({ username: 'alice', disabled: 'yes' })).status, 400);
  assert.equal((await ctl({ username: 'alice', colour: 'red' })).status, 400);
  assert.equal((await ctl({ username: 'alice', userGroups: ['NoSuchGrp01'] })).status, 400);
});
