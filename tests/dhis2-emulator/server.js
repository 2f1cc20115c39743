// Entry point of the DHIS2 emulator: parses options, starts the main, sink
// and control listeners, prints the one ready line, exits on signal or EOF.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const util = require('node:util');
const { State, VERSIONS } = require('./lib/state');
const { loadFixture } = require('./lib/users');
const dhis2 = require('./lib/dhis2');
const control = require('./lib/control');
const { Outage } = require('./lib/outage');
const oauth2 = require('./lib/oauth2');

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node server.js --fixture PATH ` +
    '[--tls-cert PEM --tls-key PEM] [--version 2.42] [--host 127.0.0.1] ' +
    '[--key-cache FILE] [--verbose]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { version: '2.42', host: '127.0.0.1', verbose: false };
  const takes = { '--fixture': 'fixture', '--tls-cert': 'cert',
    '--tls-key': 'key', '--version': 'version', '--host': 'host',
    '--key-cache': 'keyCache' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose') {
      o.verbose = true;
    } else if (takes[a]) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      o[takes[a]] = argv[++i];
    } else {
      usage(`unknown option ${a}`);
    }
  }
  if (!o.fixture) usage('--fixture is required');
  if (!!o.cert !== !!o.key) usage('--tls-cert and --tls-key go together');
  if (!VERSIONS.includes(o.version)) usage(`--version: one of ${VERSIONS}`);
  return o;
}

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

function urlHost(host) {
  return host.includes(':') ? `[${host}]` : host;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = opts.verbose
    ? (m) => process.stderr.write(`dhis2-emulator: ${m}\n`)
    : () => {};
  // stdout carries the ready line and nothing else: oidc-provider prints its
  // notices with console.info, so every console line goes to the log.
  for (const k of ['log', 'info', 'warn', 'debug']) {
    console[k] = (...a) => log(util.format(...a));
  }
  const fixture = loadFixture(opts.fixture);
  const state = new State(opts.version);
  const tls = opts.cert
    ? { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }
    : null;
  const scheme = tls ? 'https' : 'http';
  const make = (handler) => (tls ? https.createServer(tls, handler)
    : http.createServer(handler));

  const env = { state, fixture, log, scheme, host: opts.host, keyCache: opts.keyCache };
  const sink = make(control.makeSinkHandler(env));
  const sinkPort = await listen(sink, opts.host);
  env.sinkBase = `${scheme}://${urlHost(opts.host)}:${sinkPort}`;
  const main = make(dhis2.makeHandler(env));
  // Counted per accepted socket, before any request on it: a client that
  // reuses its connection shows one however many requests it sends.
  main.on('connection', () => { state.connections += 1; });
  main.on('secureConnection', (sock) => {
    const v = sock.getProtocol() || 'unknown';
    state.tlsVersions[v] = (state.tlsVersions[v] || 0) + 1;
  });
  const port = await listen(main, opts.host);
  env.port = port;
  env.outage = new Outage(main, opts.host, port);
  const ctl = http.createServer(control.makeHandler(env));
  const ctlPort = await listen(ctl, '127.0.0.1');
  // The external identity provider (lib/oauth2.js), same host and scheme.
  // The OAuth2 side loads oidc-provider and makes its keys (about a
  // second) when first needed: the requests that need it wait for it
  // (env.oauth2Ready). Should it fail (npm ci not
  // run), the DHIS2 API goes on without it.
  const idp = make(async (req, res) => {
    const o = await env.oauth2Ready;
    if (o) return env.idpHandle(req, res);
    res.writeHead(503, { 'Content-Type': 'text/plain' });
    return res.end('OAuth2 side unavailable\n');
  });
  env.idpPort = await listen(idp, opts.host);
  // Built at the first request that needs it, not at start-up: most test
  // processes never touch OAuth2, and loading oidc-provider and making
  // keys is most of what an emulator's start costs.
  let building = null;
  Object.defineProperty(env, 'oauth2Ready', {
    get() {
      building ??= oauth2.create(env).then((o) => {
        env.oauth2 = o;
        env.idpHandle = o.makeIdpHandler();
        return o;
      }, (e) => {
        process.stderr.write(`dhis2-emulator: OAuth2 side unavailable: ${e.message}\n`);
        return null;
      });
      return building;
    },
  });

  const servers = [main, sink, ctl, idp];
  let stopping = false;
  const stop = (why) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    for (const s of servers) {
      s.close();
      if (s.closeAllConnections) s.closeAllConnections();
    }
    // Do not wait for slow clients (a delay fault may hold a socket).
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Dies with the test process that spawned it: its end of our stdin pipe
  // closes when it exits, however it exits.
  process.stdin.on('end', () => stop('stdin EOF'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({
    ready: true, scheme, port, sink_port: sinkPort, control_port: ctlPort,
    idp_port: env.idpPort,
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`dhis2-emulator: ${e.message}\n`);
  process.exit(1);
});
