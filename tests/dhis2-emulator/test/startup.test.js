// The start-up contract the C harness relies on: one ready line, three
// listeners, clean exit on SIGTERM and on stdin EOF.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { start, fetchRaw, ROOT, FIXTURE } = require('../support/testkit');

test('plain HTTP: the ready line names three distinct ports', async () => {
  const emu = await start();
  try {
    const r = emu.ready;
    assert.deepEqual(Object.keys(r).sort(),
      ['control_port', 'idp_port', 'port', 'ready', 'scheme', 'sink_port']);
    assert.equal(r.ready, true);
    assert.equal(r.scheme, 'http');
    assert.equal(new Set([r.port, r.sink_port, r.control_port]).size, 3);
    assert.equal((await emu.ctl('GET', '/health')).status, 200);
    assert.equal((await fetchRaw(`${emu.sinkUrl}/x`)).status, 200);
  } finally {
    assert.equal(await emu.stop(), 0);
  }
});

test('TLS: main and sink speak HTTPS with the test CA, control stays HTTP',
  async () => {
    const emu = await start({ tls: true });
    try {
      assert.equal(emu.ready.scheme, 'https');
      const me = await emu.request('/api/me', { auth: ['admin', 'district'] });
      assert.equal(me.status, 200);
      const sink = await fetchRaw(`${emu.sinkUrl}/api/me`, { ca: emu.ca });
      assert.equal(sink.status, 200);
      // Without the CA the certificate is refused.
      await assert.rejects(fetchRaw(`${emu.url}/api/me`));
      assert.equal((await emu.ctl('GET', '/health')).status, 200);
    } finally {
      await emu.stop();
    }
  });

test('stdout carries the ready line and nothing else', async () => {
  const emu = await start();
  let extra = '';
  emu.child.stdout.on('data', (d) => { extra += d; });
  await emu.request('/api/me', { auth: ['admin', 'district'] });
  await emu.request('/api/me', { auth: ['admin', 'wrong'] });
  await emu.stop();
  assert.equal(extra, '');
});

test('exits when stdin reaches EOF', async () => {
  const emu = await start();
  const code = await new Promise((resolve) => {
    emu.child.once('exit', (c) => resolve(c));
    emu.child.stdin.end();
  });
  assert.equal(code, 0);
});

test('exits on SIGINT', async () => {
  const emu = await start();
  const code = await new Promise((resolve) => {
    emu.child.once('exit', (c) => resolve(c));
    emu.child.kill('SIGINT');
  });
  assert.equal(code, 0);
});

test('bad options: exit 2 with usage on stderr, nothing on stdout', async () => {
  for (const args of [[], ['--fixture', FIXTURE, '--version', '2.99'],
    ['--fixture', FIXTURE, '--tls-cert', 'x.pem'], ['--bogus']]) {
    const child = spawn(process.execPath, [path.join(ROOT, 'server.js'), ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 2, args.join(' '));
    assert.equal(out, '');
    assert.match(err, /usage:/);
  }
});

test('--version sets the start version that /reset returns to', async () => {
  const emu = await start({ version: '2.37' });
  try {
    assert.equal((await emu.ctl('GET', '/health')).json.version, '2.37');
    await emu.ctl('POST', '/version', { version: '2.42' });
    await emu.reset();
    assert.equal((await emu.ctl('GET', '/health')).json.version, '2.37');
  } finally {
    await emu.stop();
  }
});

test('--host ::1 listens on IPv6 and builds [::1] URLs', async (t) => {
  let emu;
  try {
    emu = await start({ args: ['--host', '::1'] });
  } catch (e) {
    t.skip(`no IPv6 loopback here: ${e.message}`);
    return;
  }
  try {
    const base = `http://[::1]:${emu.ready.port}`;
    const r = await fetchRaw(`${base}/api/me`);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, `${base}/dhis-web-login/`);
    await emu.ctl('POST', '/fault', { mode: 'redirect' });
    const f = await fetchRaw(`${base}/api/me`);
    assert.equal(f.headers.location,
      `http://[::1]:${emu.ready.sink_port}/api/me`);
  } finally {
    await emu.stop();
  }
});

test('--key-cache: the first keys are made once, kept 0600, and reused',
  async () => {
    const os = require('node:os');
    const fs = require('node:fs');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-keys-'));
    const file = path.join(dir, 'keys.json');
    const kids = async () => {
      const emu = await start({ version: '2.42', args: ['--key-cache', file] });
      try {
        const r = await emu.request('/oauth2/jwks');
        assert.equal(r.status, 200);
        const first = r.json.keys.map((k) => k.kid).sort();
        // Rotation still makes new keys.
        assert.equal((await emu.ctl('POST', '/oauth2/rotate', {})).status, 200);
        const after = (await emu.request('/oauth2/jwks')).json.keys.map((k) => k.kid);
        assert.ok(!after.some((k) => first.includes(k)), 'rotated keys are new');
        return first;
      } finally {
        await emu.stop();
      }
    };
    try {
      const a = await kids();
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(await kids(), a);
      fs.writeFileSync(file, 'not json');
      const c = await kids();
      assert.notDeepEqual(c, a, 'an unreadable cache is made again');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
