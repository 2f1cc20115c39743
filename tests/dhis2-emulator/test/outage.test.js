// The outage switch: DHIS2 down (refused) or wedged (hang), and back.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { start } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

const ADMIN = ['admin', 'district'];

// Resolves to 'connected' or the error code of a bare TCP connect.
function tcpConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e) => resolve(e.code));
  });
}

// A GET that resolves to its status, or to 'timeout' after ms, or to the
// error's code.
function getWithin(url, ms, agent = false) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(ms, () => { req.destroy(); resolve('timeout'); });
    req.on('error', (e) => resolve(e.code || e.message));
  });
}

test('refuse: connections to the main listener are refused', async () => {
  const r = await emu.ctl('POST', '/outage', { mode: 'refuse' });
  assert.equal(r.status, 200);
  assert.equal(await tcpConnect(emu.ready.port), 'ECONNREFUSED');
  // The control API and the sink stay up.
  assert.equal((await emu.ctl('GET', '/health')).status, 200);
  assert.equal(await tcpConnect(emu.ready.sink_port), 'connected');
});

test('refuse also cuts a connection a client kept open', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal(await getWithin(`${emu.url}/api/loginConfig`, 2000, agent),
      200);
    await emu.ctl('POST', '/outage', { mode: 'refuse' });
    const got = await getWithin(`${emu.url}/api/loginConfig`, 2000, agent);
    assert.notEqual(got, 200);
    assert.notEqual(got, 'timeout');
  } finally {
    agent.destroy();
  }
});

test('off listens again on the same port', async () => {
  await emu.ctl('POST', '/outage', { mode: 'refuse' });
  assert.equal((await emu.ctl('POST', '/outage', { mode: 'off' })).status, 200);
  const r = await emu.request('/api/me', { auth: ADMIN });
  assert.equal(r.status, 200);
});

test('reset listens again on the same port', async () => {
  await emu.ctl('POST', '/outage', { mode: 'refuse' });
  await emu.reset();
  assert.equal(await tcpConnect(emu.ready.port), 'connected');
  assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
});

test('refuse twice and off twice are harmless', async () => {
  for (const mode of ['refuse', 'refuse', 'off', 'off']) {
    assert.equal((await emu.ctl('POST', '/outage', { mode })).status, 200);
  }
  assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
});

test('hang: connections are accepted, requests never answered', async () => {
  await emu.ctl('POST', '/outage', { mode: 'hang' });
  assert.equal(await tcpConnect(emu.ready.port), 'connected');
  assert.equal(await getWithin(`${emu.url}/api/me`, 500), 'timeout');
  // The request reached the server: it is counted.
  assert.equal((await emu.counters()).by_path['/api/me'], 1);
});

test('hang then off: held requests are cut, new ones answered', async () => {
  await emu.ctl('POST', '/outage', { mode: 'hang' });
  const held = getWithin(`${emu.url}/api/loginConfig`, 5000);
  await new Promise((r) => setTimeout(r, 200));
  await emu.ctl('POST', '/outage', { mode: 'off' });
  const got = await held;
  assert.notEqual(got, 200);
  assert.notEqual(got, 'timeout');
  assert.equal(await getWithin(`${emu.url}/api/loginConfig`, 2000), 200);
});

test('an unknown mode is refused and changes nothing', async () => {
  const r = await emu.ctl('POST', '/outage', { mode: 'flaky' });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /off,refuse,hang/);
  assert.equal((await emu.request('/api/me', { auth: ADMIN })).status, 200);
});
