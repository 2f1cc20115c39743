// The benchmark of DESIGN.md section 9, run by `make bench`: a PAT login
// and a password login through libpam and pam_dhis2, beside the curl CLI
// sending the same requests and the pam_exec + curl script an
// administrator would otherwise write, all against the DHIS2 emulator on
// 127.0.0.1. Prints markdown tables; not part of make check.
//
//   node bench/run.js          (after make; make bench does both)
//
// BENCH_ROUNDS (default 21) alternating runs a variant on loopback,
// BENCH_DELAY_ROUNDS (default 5) over each delay, BENCH_RTTS (50,150,300)
// the delays in ms, BENCH_PARALLEL (50), BENCH_COSTS (3,4,5,6,7,8) the
// yescrypt costs of the offline sign-in table.
'use strict';

const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const ROOT = path.resolve(__dirname, '..');
const B = path.join(ROOT, 'build');
const MEASURE = path.join(B, 'bench', 'measure');
const PAMLOGIN = path.join(B, 'bench', 'pamlogin');
const OFFLINE = path.join(B, 'bench', 'offline');
const MODULE = path.join(B, 'pam_dhis2.so');
const PKI = path.join(B, 'test-pki');
const CA = path.join(PKI, 'ca.pem');
const FIXTURE = path.join(ROOT, 'tests', 'dhis2-emulator', 'fixtures',
  'users.json');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 21);
const DELAY_ROUNDS = Number(process.env.BENCH_DELAY_ROUNDS || 5);
const PARALLEL = Number(process.env.BENCH_PARALLEL || 50);
const RTTS = (process.env.BENCH_RTTS || '50,150,300').split(',').map(Number);
const COSTS = (process.env.BENCH_COSTS || '3,4,5,6,7,8').split(',');
// The module's own field lists (include/dhis2/api.h), so that curl sends
// the same requests.
const ME = '/api/me?fields=' + encodeURIComponent('id,username,displayName,' +
  'twoFactorType,userGroups[id,name],userRoles[id,name],authorities,' +
  'organisationUnits[id,path],userCredentials[username,userRoles[id,name]]')
  .replace(/%2C/g, ',');
const LOOKUP = '/api/users?filter=username:eq:alice&fields=' +
  encodeURIComponent('id,username,disabled,accountExpiry,' +
  'userGroups[id,name],userRoles[id,name,authorities],' +
  'organisationUnits[id,path],userCredentials[username,disabled,' +
  'accountExpiry,userRoles[id,name,authorities]]').replace(/%2C/g, ',') +
  '&paging=false';
const LOGOUT = '/dhis-web-commons-security/logout.action';
const XHR = ['-H', 'Accept: application/json',
  '-H', 'X-Requested-With: XMLHttpRequest'];

const users = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')).users;
const alice = users.find((u) => u.username === 'alice');
const PW = alice.password;
const PAT = alice.tokens.find((t) => t.token.startsWith('d2p_')).token;
// The service token of account_check = lookup (a user with F_USER_VIEW).
const LOOKUP_PAT = users.find((u) => u.username === 'svclookup').tokens
  .find((t) => t.token.startsWith('d2p_')).token;

const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

// Starts a node script whose first stdout line is JSON; resolves to it.
function startNode(args) {
  const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    c.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
}

function ctl(port, method, p) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method },
      (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve(b ? JSON.parse(b) : null));
      });
    req.on('error', reject);
    req.end();
  });
}

// What one run of argv cost, from bench/measure; throws unless it
// succeeded.
function parse(out, argv) {
  const m = /measure wall_us=(\d+) cpu_us=(\d+) maxrss_kb=(\d+) status=(\d+)/
    .exec(out);
  if (!m || m[4] !== '0') {
    // Only the measure line: the output may hold a token.
    throw new Error(`failed: ${argv.join(' ').replaceAll(PAT, 'PAT')
      .replaceAll(PW, 'PW')}\n${(out.match(/^pamlogin .*$/gm) || []).join('\n')}\n${
      m ? m[0] : 'no measure line'}`);
  }
  const r = { wall: m[1] / 1000, cpu: m[2] / 1000, rss: Number(m[3]) };
  const p = /inproc_us=(\d+) inproc_cpu_us=(\d+)/.exec(out);
  if (p) {
    r.inWall = p[1] / 1000;
    r.inCpu = p[2] / 1000;
  }
  return r;
}

function runOnce(argv, env = process.env) {
  const r = spawnSync(MEASURE, argv, { encoding: 'utf8', env });
  return parse(`${r.stdout}${r.stderr}`, argv);
}

function runAsync(argv) {
  return new Promise((resolve, reject) => {
    const c = spawn(MEASURE, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    c.on('close', () => { // after exit, once its output is all read
      try { resolve(parse(out, argv)); } catch (e) { reject(e); }
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const f1 = (x) => (x === undefined ? '-' : x.toFixed(1));
const f2 = (x) => x.toFixed(2);

function table(head, rows) {
  const lines = [`| ${head.join(' | ')} |`,
    `|${head.map((h, i) => (i ? '---:' : '---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  console.log(`${lines.join('\n')}\n`);
}

// The files of one target URL: pam.d services for the module and for
// pam_exec, the script pam_exec runs.
function services(dir, tag, url, extra = '') {
  const state = path.join(dir, `state-${tag}`);
  fs.mkdirSync(state, { mode: 0o700 });
  const args = `conf=${dir}/empty.conf url=${url} ca_file=${CA} ` +
    `state_dir=${state} user_map=${dir}/user_map${extra}`;
  const svc = (name, line) => fs.writeFileSync(
    path.join(dir, 'pam.d', `${name}-${tag}`), `${line}\n`);
  svc('pat', `auth required ${MODULE} ${args} methods=pat`);
  svc('pw', `auth required ${MODULE} ${args} methods=password`);
  svc('acct', `account required ${MODULE} ${args} account_check=lookup ` +
    `lookup_pat_file=${dir}/lookup.pat`);
  for (const kind of ['pat', 'pw']) {
    svc(`exec-${kind}`, 'auth required pam_exec.so expose_authtok quiet ' +
      `${dir}/check-${kind}.sh ${url} alice`);
  }
}

const SCRIPTS = {
  // What an administrator writes: the secret from pam_exec on stdin, into
  // curl's headers through stdin (never argv), success on a 200.
  pat: `#!/bin/sh
IFS= read -r tok
printf 'Authorization: ApiToken %s\\n' "$tok" |
  curl -sS --fail -o /dev/null --cacert ${CA} -H @- \\
    -H 'Accept: application/json' -H 'X-Requested-With: XMLHttpRequest' \\
    "$1/api/me?fields=username"
`,
  pw: `#!/bin/sh
IFS= read -r pw
printf 'Authorization: Basic %s\\n' "$(printf '%s:%s' "$2" "$pw" | base64 -w0)" |
  curl -sS --fail -o /dev/null --cacert ${CA} -H @- \\
    -H 'Accept: application/json' -H 'X-Requested-With: XMLHttpRequest' \\
    "$1/api/me?fields=username"
`,
};

// The variants, for a target URL and its tag: name, argv, floor of round
// trips (TCP + TLS + one a request).
function variants(dir, tag, url) {
  const pd = path.join(dir, 'pam.d');
  const body = JSON.stringify({ username: 'alice', password: PW });
  return [
    { name: 'pam_dhis2 PAT', floor: 3,
      argv: [PAMLOGIN, pd, `pat-${tag}`, 'root', PAT] },
    { name: 'curl PAT', floor: 3,
      argv: ['curl', '-sS', '--fail', '-o', '/dev/null', '--cacert', CA,
        ...XHR, '-H', `Authorization: ApiToken ${PAT}`, url + ME] },
    { name: 'pam_exec+curl PAT', floor: 3,
      argv: [PAMLOGIN, pd, `exec-pat-${tag}`, 'root', PAT] },
    { name: 'pam_dhis2 password', floor: 5,
      argv: [PAMLOGIN, pd, `pw-${tag}`, 'root', PW] },
    // The same three requests on one connection (--next keeps it, and
    // the cookie engine, -b '', carries the session).
    { name: 'curl password', floor: 5,
      argv: ['curl', '-sS', '--fail', '-b', '', '-o', '/dev/null',
        '--cacert', CA, ...XHR, '-H', 'Content-Type: application/json',
        '-d', body, `${url}/api/auth/login`,
        '--next', '-sS', '--fail', '-b', '', '-o', '/dev/null',
        '--cacert', CA, ...XHR, url + ME,
        '--next', '-sS', '-b', '', '-o', '/dev/null', '--cacert', CA,
        ...XHR, '-X', 'POST', url + LOGOUT] },
    { name: 'pam_exec+curl password (Basic)', floor: 3,
      argv: [PAMLOGIN, pd, `exec-pw-${tag}`, 'root', PW] },
    // An SSH key login's account phase with account_check = lookup.
    { name: 'pam_dhis2 account lookup', floor: 3,
      argv: [PAMLOGIN, pd, `acct-${tag}`, 'root', '-', 'acct'] },
    { name: 'curl account lookup', floor: 3,
      argv: ['curl', '-sS', '--fail', '-o', '/dev/null', '--cacert', CA,
        ...XHR, '-H', `Authorization: ApiToken ${LOOKUP_PAT}`,
        url + LOOKUP] },
  ];
}

function machine() {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8')
    .match(/model name\s*:\s*(.*)/) || [])[1] || 'unknown CPU';
  const osr = (fs.readFileSync('/etc/os-release', 'utf8')
    .match(/PRETTY_NAME="?([^"\n]*)/) || [])[1] || 'Linux';
  const v = (cmd, a) => {
    try { return execFileSync(cmd, a, { encoding: 'utf8' }).split('\n')[0]; } catch { return '?'; }
  };
  return `${osr}, kernel ${os.release()}, ${os.cpus().length} cores (${cpu}), ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB; ${v('curl', ['--version'])}; ` +
    `node ${process.version}`;
}

async function main() {
  for (const f of [MEASURE, PAMLOGIN, MODULE, OFFLINE]) {
    if (!fs.existsSync(f)) throw new Error(`${f} missing: run make bench`);
  }
  execFileSync(path.join(ROOT, 'tests', 'support', 'mkpki.sh'), [PKI],
    { stdio: 'ignore' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pam_dhis2-bench.'));
  process.on('exit', () => {
    cleanup(); // no login may still be writing to dir
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  fs.mkdirSync(path.join(dir, 'pam.d'));
  fs.writeFileSync(path.join(dir, 'empty.conf'), '', { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'user_map'), 'alice root\n', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'lookup.pat'), `${LOOKUP_PAT}\n`,
    { mode: 0o600 });
  for (const k of ['pat', 'pw']) {
    fs.writeFileSync(path.join(dir, `check-${k}.sh`), SCRIPTS[k], { mode: 0o755 });
  }

  const emu = await startNode([path.join(ROOT, 'tests', 'dhis2-emulator',
    'server.js'), '--fixture', FIXTURE, '--tls-cert', path.join(PKI,
    'server.pem'), '--tls-key', path.join(PKI, 'server.key')]);
  const url = `https://127.0.0.1:${emu.port}`;
  const proxy = await startNode([path.join(__dirname, 'delay-proxy.js'),
    '--to', String(emu.port), '--rtt', RTTS.join(',')]);

  console.log('# pam_dhis2 benchmark\n');
  console.log(`Machine: ${machine()}\n`);
  console.log(`Emulator (DHIS2 2.42 profile) over TLS on 127.0.0.1; medians of ` +
    `${ROUNDS} alternating runs (after one warm-up each); each run is a new ` +
    'process, as su or sshd would start.\n');

  services(dir, 'lo', url);
  const vs = variants(dir, 'lo', url);

  // Requests and connections a login, each variant by itself.
  for (const v of vs) {
    await ctl(emu.control_port, 'POST', '/reset');
    runOnce(v.argv); // warm-up: the module remembers the server's kind
    await ctl(emu.control_port, 'POST', '/reset');
    runOnce(v.argv);
    const c = await ctl(emu.control_port, 'GET', '/counters');
    v.requests = c.total;
    v.connections = c.connections;
    v.tls = Object.keys(c.tls_versions).join(',');
  }

  const res = new Map(vs.map((v) => [v.name, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const v of vs) res.get(v.name).push(runOnce(v.argv));
  }
  const med = (name, k) => median(res.get(name).map((r) => r[k]));
  const base = (v) => (v.name.includes('PAT') ? 'curl PAT'
    : v.name.includes('lookup') ? 'curl account lookup' : 'curl password');
  console.log('## One login on loopback\n');
  table(['variant', 'wall ms', 'CPU ms', 'wall / curl', 'CPU / curl',
    'requests', 'connections', 'TLS', 'peak RSS KiB'], vs.map((v) => [
    v.name, f1(med(v.name, 'wall')), f1(med(v.name, 'cpu')),
    f2(med(v.name, 'wall') / med(base(v), 'wall')),
    f2(med(v.name, 'cpu') / med(base(v), 'cpu')),
    v.requests, v.connections, v.tls, Math.round(med(v.name, 'rss'))]));

  console.log('Inside the process (pam_start to pam_end, module loading ' +
    'included), against the whole curl process:\n');
  table(['variant', 'in-process wall ms', 'in-process CPU ms',
    'curl process wall ms', 'curl process CPU ms'],
  vs.filter((v) => v.name.startsWith('pam_dhis2')).map((v) => [v.name,
    f1(med(v.name, 'inWall')), f1(med(v.name, 'inCpu')),
    f1(med(base(v), 'wall')), f1(med(base(v), 'cpu'))]));

  console.log(`## Round trips through a delay proxy (medians of ` +
    `${DELAY_ROUNDS} alternating runs)\n`);
  const rows = [];
  for (const rtt of RTTS) {
    const tag = `d${rtt}`;
    const purl = `https://127.0.0.1:${proxy[rtt]}`;
    services(dir, tag, purl);
    const dv = variants(dir, tag, purl);
    for (const v of dv) runOnce(v.argv); // warm-up
    const dres = new Map(dv.map((v) => [v.name, []]));
    for (let i = 0; i < DELAY_ROUNDS; i++) {
      for (const v of dv) dres.get(v.name).push(runOnce(v.argv).wall);
    }
    for (const v of dv) {
      const w = median(dres.get(v.name));
      rows.push([`${rtt} ms`, v.name, f1(w), f2(w / rtt), v.floor]);
    }
  }
  table(['RTT', 'variant', 'wall ms', 'rounds (wall / RTT)', 'floor'], rows);

  console.log(`## ${PARALLEL} logins at once on loopback\n`);
  // Passwords of one user in flight are bounded by failure_limit (3 by
  // default: DHIS2's lockout); raised here, as for 50 different users.
  services(dir, 'par', url, ` failure_limit=${PARALLEL}`);
  const prow = [];
  for (const v of variants(dir, 'par', url)
    .filter((x) => x.name.startsWith('pam_dhis2'))) {
    runOnce(v.argv); // warm-up
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: PARALLEL },
      () => runAsync(v.argv)));
    const total = Date.now() - t0;
    const w = all.map((r) => r.wall);
    prow.push([v.name, `${all.length}/${PARALLEL}`, f1(pct(w, 50)),
      f1(pct(w, 99)), total]);
  }
  table(['variant', 'succeeded', 'p50 ms', 'p99 ms', 'all done ms'], prow);

  // A store signed in once, by the emulator's own OAuth2 server.
  const home = path.join(dir, 'auth-home');
  execFileSync(path.join(__dirname, 'warm-store.sh'), [home], {
    stdio: 'ignore',
    env: { ...process.env, EMU_URL: url, EMU_CA: CA,
      EMU_CONTROL_PORT: String(emu.control_port) },
  });
  const env = { ...process.env, HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_STATE_HOME: path.join(home, '.local', 'state') };
  const tokenArgv = [path.join(B, 'dhis2-auth'), 'token'];
  await ctl(emu.control_port, 'POST', '/reset');
  const tr = Array.from({ length: ROUNDS }, () => runOnce(tokenArgv, env));
  const sent = (await ctl(emu.control_port, 'GET', '/counters')).total;
  console.log('## `dhis2-auth token` on a warm store\n');
  table(['command', 'wall ms', 'CPU ms', 'peak RSS KiB', 'requests'],
    [['dhis2-auth token', f1(median(tr.map((r) => r.wall))),
      f1(median(tr.map((r) => r.cpu))),
      Math.round(median(tr.map((r) => r.rss))), sent]]);

  offline();
}

// One offline sign-in (DHIS2 unreachable): dhis2_cache_check() with the
// right password, a yescrypt verification and the record rewritten, at
// each cost; the project's DHIS2_CACHE_COST marked.
function offline() {
  const h = fs.readFileSync(path.join(ROOT, 'include', 'dhis2', 'cache.h'),
    'utf8');
  const def = (/#define DHIS2_CACHE_COST (\d+)/.exec(h) || [])[1];
  const out = execFileSync(OFFLINE, [String(ROUNDS), ...COSTS],
    { encoding: 'utf8' });
  const rows = [];
  for (const m of out.matchAll(
    /offline cost=(\d+) rounds=\d+ wall_us=(\d+) cpu_us=(\d+)/g)) {
    // libxcrypt's yescrypt: r = 32 and N = 2^(cost + 7) from cost 3 on.
    const mib = Number(m[1]) >= 3 ? 2 ** (Number(m[1]) - 1) : '-';
    rows.push([`${m[1]}${m[1] === def ? ' (default)' : ''}`, mib,
      f1(m[2] / 1000), f1(m[3] / 1000)]);
  }
  console.log(`## Offline sign-in: one yescrypt verification (medians of ` +
    `${ROUNDS})\n`);
  table(['yescrypt cost', 'memory MiB', 'wall ms', 'CPU ms'], rows);
}

main().then(() => process.exit(0), (e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
