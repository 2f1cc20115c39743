// Test kit for the node tests: start the emulator as a child process and
// speak HTTP(S) to it. Lives outside test/ so node --test does not run it.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');

const ROOT = path.resolve(__dirname, '..');
const FIXTURE = path.join(ROOT, 'fixtures', 'users.json');
const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));

let pkiDir = null;
// One throwaway PKI per test process, made by the project's mkpki.sh.
function pki() {
  if (!pkiDir) {
    pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-pki-'));
    execFileSync(path.join(ROOT, '..', 'support', 'mkpki.sh'), [pkiDir]);
    process.on('exit', () => fs.rmSync(pkiDir, { recursive: true, force: true }));
  }
  return pkiDir;
}

// Starts server.js; resolves once the ready line is read.
function start({ version, tls = false, args = [] } = {}) {
  const argv = [path.join(ROOT, 'server.js'), '--fixture', FIXTURE, ...args];
  if (version) argv.push('--version', version);
  let ca = null;
  if (tls) {
    const d = pki();
    argv.push('--tls-cert', path.join(d, 'server.pem'),
      '--tls-key', path.join(d, 'server.key'));
    ca = fs.readFileSync(path.join(d, 'ca.pem'));
  }
  const child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line; stderr: ${stderr}`));
    }, 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const ready = JSON.parse(out.slice(0, nl));
      resolve(new Emu(child, ready, ca, () => stderr));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}; stderr: ${stderr}`));
    });
  });
}

class Emu {
  constructor(child, ready, ca, stderr) {
    this.child = child;
    this.ready = ready;
    this.ca = ca;
    this.stderr = stderr;
    this.url = `${ready.scheme}://127.0.0.1:${ready.port}`;
    this.sinkUrl = `${ready.scheme}://127.0.0.1:${ready.sink_port}`;
    this.ctlUrl = `http://127.0.0.1:${ready.control_port}`;
  }

  // A request to the main listener. opts: method, headers, body (string or
  // object -> JSON), xhr (default true), auth ([user, pass]), token, cookie.
  request(p, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (opts.xhr !== false) headers['X-Requested-With'] = 'XMLHttpRequest';
    if (opts.auth) {
      headers.Authorization = 'Basic ' +
        Buffer.from(`${opts.auth[0]}:${opts.auth[1]}`, 'utf8').toString('base64');
    }
    if (opts.token) headers.Authorization = `ApiToken ${opts.token}`;
    if (opts.cookie) headers.Cookie = opts.cookie;
    let body = opts.body;
    if (body && typeof body === 'object') {
      body = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    return fetchRaw(this.url + p, { method: opts.method || 'GET', headers, body,
      ca: this.ca });
  }

  login(username, password, twoFactorCode) {
    const body = { username, password };
    if (twoFactorCode !== undefined) body.twoFactorCode = twoFactorCode;
    return this.request('/api/auth/login', { method: 'POST', body });
  }

  async ctl(method, p, body) {
    const r = await fetchRaw(this.ctlUrl + p, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return r;
  }

  reset() {
    return this.ctl('POST', '/reset');
  }

  async counters() {
    return (await this.ctl('GET', '/counters')).json;
  }

  stop() {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve(this.child.exitCode);
      this.child.once('exit', (code) => resolve(code));
      this.child.kill('SIGTERM');
    });
  }
}

// Minimal client: never follows redirects, collects the whole body.
function fetchRaw(url, { method = 'GET', headers = {}, body, ca } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, ca, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body != null) req.write(body);
    req.end();
  });
}

function user(name) {
  return fixture.users.find((u) => u.username === name);
}

function token(username, id) {
  return user(username).tokens.find((t) => t.id === id).token;
}

function webMessage(code, message) {
  const text = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found' }[code];
  return { httpStatus: text, httpStatusCode: code, status: 'ERROR', message };
}

module.exports = { start, fetchRaw, fixture, user, token, webMessage, ROOT,
  FIXTURE, pki };
