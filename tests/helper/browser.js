#!/usr/bin/env node
// The user's browser, for real: Debian's chromium, headless, driven by
// playwright-core. Opens the authorization URL dhis2-auth printed, signs in
// on the emulator's login page, approves on its consent page and waits for
// dhis2-auth's loopback page ("... return to the terminal").
//
//   node tests/helper/browser.js URL USERNAME PASSWORD CA_FILE [PIDFILE]
//
// TLS: the browser really verifies the emulator's certificate. CA_FILE (the
// test CA) is added as a trust anchor to an NSS database in a throwaway
// HOME ($HOME/.pki/nssdb is where Chromium on Linux reads locally trusted
// CAs from), made with certutil (libnss3-tools). No certificate errors are
// ignored, so a wrong CA fails with net::ERR_CERT_AUTHORITY_INVALID.
//
// Everything (that HOME, the profile, Playwright's scratch files) lives in
// one directory under $TMPDIR, removed at the end. The browser's pid goes
// to PIDFILE, so the caller can kill it if this script itself is killed.
// Exits 0 when the loopback page was shown, 1 on failure (with the step and
// the page's address on stderr), 2 on a usage error. Bounded: DEADLINE_MS.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createRequire } = require('node:module');

// playwright-core is a devDependency of the emulator (pinned in its lock
// file); it never downloads a browser.
const { chromium } = createRequire(
  path.join(__dirname, '..', 'dhis2-emulator', 'package.json'))(
  'playwright-core');

const CHROMIUM = '/usr/bin/chromium';
const DEADLINE_MS = 30000; // the whole run
const STEP_MS = 10000; // one launch, navigation or wait

// Only 127.0.0.1 is ever to be contacted: no proxy, no background fetches,
// no QUIC, no component or sync traffic. Root needs --no-sandbox.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-proxy-server',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
];

const t0 = Date.now();
function log(msg) {
  process.stderr.write(`browser: ${((Date.now() - t0) / 1000).toFixed(1)}s ` +
    `${msg}\n`);
}

// A new NSS database in HOME trusting CA for TLS servers ("C,,").
function trustCa(home, ca) {
  const dir = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const opts = { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 };
  try {
    execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password'],
      opts);
    execFileSync('certutil', ['-A', '-d', `sql:${dir}`, '-n',
      'pam_dhis2 test CA', '-t', 'C,,', '-i', ca], opts);
  } catch (e) {
    if (e.code === 'ENOENT') {
      throw new Error('certutil is not installed (Debian: libnss3-tools)');
    }
    throw new Error(`certutil: ${String(e.stderr || e.message).trim()}`);
  }
}

async function signIn(page, url, user, password) {
  let step = 'authorization request';
  try {
    await page.goto(url);
    step = 'login page';
    const login = page.locator('form#login');
    await login.waitFor();
    await login.locator('[name="username"]').fill(user);
    await login.locator('[name="password"]').fill(password);
    await page.locator('#submit').click();
    log('login submitted');

    step = 'consent page';
    await page.locator('form#consent, #error').first().waitFor();
    const error = page.locator('#error');
    if (await error.count()) {
      throw new Error('the login was refused: ' +
        `${await error.getAttribute('data-error')}`);
    }
    await page.locator('#approve').click();
    log('consent approved');

    step = 'loopback page';
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    const text = await page.locator('body').innerText();
    if (!text.includes('return to the terminal')) {
      throw new Error(`the loopback answered: ${text.trim()}`);
    }
    log(`loopback page: ${text.trim()}`);
  } catch (e) {
    e.message = `${step}: ${e.message.split('\n')[0]} (at ${page.url()})`;
    throw e;
  }
}

async function main(argv) {
  if (argv.length < 4 || argv.length > 5) {
    process.stderr.write('usage: node browser.js URL USERNAME PASSWORD ' +
      'CA_FILE [PIDFILE]\n');
    return 2;
  }
  const [url, user, password, ca, pidfile] = argv;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dhis2-auth-browser-'));
  // Playwright's own scratch files (the empty profile) go there too.
  process.env.TMPDIR = dir;
  let server = null;
  let browser = null;

  const watchdog = setTimeout(() => {
    log(`gave up after ${DEADLINE_MS / 1000} s`);
    if (server) server.process().kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }, DEADLINE_MS);

  try {
    const home = path.join(dir, 'home');
    trustCa(home, ca);
    server = await chromium.launchServer({
      executablePath: CHROMIUM,
      headless: true,
      host: '127.0.0.1',
      args: ARGS,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: `${home}/.config`,
        XDG_CACHE_HOME: `${home}/.cache` },
      timeout: STEP_MS,
    });
    if (pidfile) fs.writeFileSync(pidfile, `${server.process().pid}\n`);
    browser = await chromium.connect(server.wsEndpoint(), { timeout: STEP_MS });
    log(`chromium ${browser.version()} started, pid ${server.process().pid}`);
    // No ignoreHTTPSErrors: the emulator's certificate is verified.
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.setDefaultNavigationTimeout(STEP_MS);
    await signIn(page, url, user, password);
    return 0;
  } catch (e) {
    log(`failed: ${e.message}`);
    return 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.close().catch(() => {});
    clearTimeout(watchdog);
    fs.rmSync(dir, { recursive: true, force: true });
    if (pidfile) fs.rmSync(pidfile, { force: true });
  }
}

main(process.argv.slice(2)).then((rc) => {
  if (rc !== 2) log('done');
  process.exit(rc);
});
