// The emulator's OAuth2 side: DHIS2 2.42's authorization server (an
// oidc-provider instance on /oauth2/*), the legacy /uaa endpoints of older
// versions, an external identity provider on its own port (a second
// oidc-provider, laid out like Keycloak, with the device flow), Bearer
// authentication on /api, and the control switches.
'use strict';

const fs = require('node:fs');

const crypto = require('node:crypto');
const querystring = require('node:querystring');
const h = require('./http');
const jwt = require('./jwt');
const pages = require('./pages');
const auth = require('./auth');
const uaa = require('./uaa');
const { accountExpired } = require('./pat');
const { Store, createProvider, settleDeviceCode } = require('./oidc');

const REDIRECT = 'http://127.0.0.1:8765/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const IDP_PREFIX = '/realms/dhis2';
const MAIN_SCOPES = ['ALL', 'openid', 'offline_access', 'profile', 'email', 'username'];
// The scopes the newest DHIS2 code lets a client ask for (ALL refused).
const NEWEST_SCOPES = ['openid', 'profile', 'username', 'email'];
const IDP_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'ALL'];
const HTML = { 'Content-Type': 'text/html;charset=UTF-8', 'Cache-Control': 'no-store' };

// DHIS2 2.42: clients registered through /api/oAuth2Clients, with only the
// authorization_code and refresh_token grants.
const MAIN_CLIENTS = [
  { client_id: 'dhis2-auth', client_name: 'dhis2-auth',
    token_endpoint_auth_method: 'none' },
  { client_id: 'dhis2-auth-basic', client_name: 'dhis2-auth (basic)',
    client_secret: 'dhis2-auth-basic-secret',
    token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'dhis2-auth-post', client_name: 'dhis2-auth (post)',
    client_secret: 'dhis2-auth-post-secret',
    token_endpoint_auth_method: 'client_secret_post' },
].map((c) => ({
  ...c,
  // "native" makes oidc-provider accept any port on a loopback redirect
  // URI (RFC 8252 section 7.3), as Spring Authorization Server does.
  application_type: 'native',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
}));

// The IdP: a public client with the device grant (what dhis2-auth uses)
// and "dhis2", the confidential client DHIS2 itself is registered as.
const IDP_CLIENTS = [
  { client_id: 'dhis2-auth', client_name: 'dhis2-auth',
    token_endpoint_auth_method: 'none' },
  { client_id: 'dhis2', client_name: 'DHIS2', client_secret: 'dhis2-secret',
    token_endpoint_auth_method: 'client_secret_basic' },
].map((c) => ({
  ...c,
  application_type: 'native',
  redirect_uris: [REDIRECT],
  grant_types: [DEVICE_GRANT, 'authorization_code', 'refresh_token'],
  response_types: ['code'],
}));

const DEFAULTS = {
  enabled: true, // oauth2.server.enabled (2.42)
  discovery: true,
  jwks: true,
  // oidc.jwt.token.authentication.enabled: off by default, as in DHIS2
  // (the JWT filter is only added when it is on).
  jwt_bearer: false,
  // The "username" claim: 'profile' as the release does (2.42.5+: only
  // with the "username" scope; before: never), 'scope' (2.42.5+'s rule on
  // any 2.42 profile), 'always'.
  username_claim: 'profile',
  // dhis.conf server.base.url: null is the emulator's own URL. The issuer
  // is built from it on 2.42.2+ (see issuerFor).
  base_url: null,
  // oidc.provider.dhis2.mapping_claim (2.42.0-2.42.4: how /api finds the
  // user of one of our own JWTs, through the user's OpenID field).
  mapping_claim: 'email',
  // What the administrator stored in each user's OpenID field: 'email'
  // (the user's e-mail, or the username where there is none, as 2.42.0-
  // 2.42.4 put the username in the email claim then), or 'username'.
  openid_field: 'email',
  bad_token: null,
  alg: 'RS256',
  access_ttl: null, // null: 300 s (Spring AS, the IdP), 43200 s (uaa)
  public_client: 'spring',
  device_expires_in: 600,
  device_interval: 5,
  device_slow_down: 0, // the next N device polls answer slow_down, however timed
  // Members laid over the IdP's device authorization reply: a hostile or
  // broken provider (an http address, escape sequences in the user code).
  device_reply: null,
  // null: the device authorization answer's expires_in is the code's life;
  // seconds: it says this instead (a code that dies before it says).
  device_expires_in_said: null,
  idp_device: true, // false: the IdP's discovery offers no device endpoint
  idp_mapping_claim: 'email',
  idp_audiences: ['dhis2', 'dhis2-auth'],
  // A hostile or broken server: discovery names this authorization_endpoint.
  authorization_endpoint: null,
  // The redirect URI the legacy (uaa) clients are registered with.
  uaa_redirect_uri: uaa.REDIRECT,
};
const BAD_TOKEN = ['signature', 'iss', 'aud', 'expired', 'nonce'];

function urlHost(host) {
  return host.includes(':') ? `[${host}]` : host;
}

// Collects what a handler writes and lets `transform(buffer, status)`
// replace it before it goes out (null keeps it).
function capture(res, transform) {
  const chunks = [];
  const { write, end } = res;
  const add = (c, enc) => {
    if (c != null && typeof c !== 'function') {
      chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c, typeof enc === 'string' ? enc : 'utf8'));
    }
  };
  res.write = function w(c, enc, cb) {
    add(c, enc);
    const done = typeof enc === 'function' ? enc : cb;
    if (done) process.nextTick(done);
    return true;
  };
  res.end = function e(c, enc, cb) {
    add(c, enc);
    res.write = write;
    res.end = end;
    let body = Buffer.concat(chunks);
    try {
      const out = transform(body, res.statusCode);
      if (out) body = out;
    } catch { /* keep the original */ }
    if (!res.headersSent) res.setHeader('Content-Length', body.length);
    const done = typeof c === 'function' ? c : typeof enc === 'function' ? enc : cb;
    return end.call(res, body, done);
  };
}

function jsonTransform(fn) {
  return (buf, status) => {
    const j = JSON.parse(buf.toString('utf8'));
    const out = fn(j, status);
    return out ? Buffer.from(JSON.stringify(out)) : null;
  };
}

function userUsable(user, now) {
  if (user.locked) return 'Account locked';
  if (user.disabled) return 'Account disabled';
  if (accountExpired(user, now)) return 'Account expired';
  return null;
}

class OAuth2 {
  // mod: the oidc-provider module (ESM, loaded by server.js).
  constructor(env, mod, keys) {
    this.env = env;
    this.mod = mod;
    this.log = env.log;
    const host = urlHost(env.host);
    // The URL clients reach the emulator at; the issuer follows the
    // profile (issuerFor).
    this.origin = `${env.scheme}://${host}:${env.port}`;
    this.issuer = this.origin;
    this.idpIssuer = `${env.scheme}://${host}:${env.idpPort}${IDP_PREFIX}`;
    this.resource = `${this.origin}/api`;
    this.idpResource = `${this.idpIssuer}/api`;
    this.initialKeys = keys;
    this.stores = { main: new Store(), idp: new Store() };
    this.reset();
  }

  reset() {
    this.settings = structuredClone(DEFAULTS);
    this.keys = {
      main: { current: this.initialKeys.main, old: [] },
      idp: { current: this.initialKeys.idp, old: [] },
    };
    this.stores.main.clear();
    this.stores.idp.clear();
    this.uaaState = uaa.newState();
    this.revokedJti = new Set();
    this.polls = new Map(); // device_code -> { last, interval }
    this.idpRequests = [];
    this.issuer = this.origin;
    this.rebuild();
  }

  // The issuer as the profile's release sets it (AuthorizationServerConfig
  // authorizationServerSettings()): 2.42.0 and 2.42.1 leave it to Spring AS,
  // which takes it from the request (here: the emulator's own URL); 2.42.2
  // to 2.42.4 server.base.url; 2.42.5+ server.base.url plus "/".
  issuerFor(state) {
    const base = this.settings.base_url ?? this.origin;
    if (!state.atLeast('2.42.2')) return this.origin;
    if (!state.atLeast('2.42.5')) return base;
    return base.endsWith('/') ? base : `${base}/`;
  }

  // Rebuilds the authorization server when the profile (or base_url) moved
  // its issuer: oidc-provider takes the issuer once, at construction.
  syncIssuer(state) {
    const issuer = this.issuerFor(state);
    if (issuer === this.issuer) return;
    this.issuer = issuer;
    this.rebuild();
  }

  // The claims the token customizer adds for the granted scopes, on the
  // profile's release (AuthorizationServerConfig tokenCustomizer()), to the
  // access token and the id_token alike. 2.42.0-2.42.4: "email" only, the
  // username standing in for a missing e-mail. 2.42.5+: "email" fails the
  // whole grant for a user without one; "username" with its scope.
  scopeClaims(user, sub, granted) {
    const { state } = this.env;
    const s = this.settings;
    const out = {};
    const newer = state.atLeast('2.42.5');
    if (granted.includes('email')) {
      if (user && user.email) out.email = user.email;
      else if (newer) throw new Error("User has no email address, cannot include 'email' claim");
      else out.email = sub;
    }
    const username = s.username_claim === 'always' ||
      (granted.includes('username') && (s.username_claim === 'scope' || newer));
    if (username) out.username = sub;
    return out;
  }

  // Keys a verifier accepts and the JWKS publishes: current first.
  keyList(which) {
    const k = this.keys[which];
    return [k.current.RS256, k.current.ES256, ...k.old];
  }

  rebuild() {
    const alg = () => this.settings.alg;
    const s = this.settings;
    const { fixture } = this.env;
    const log = this.log;

    this.mainSpec = {
      issuer: this.issuer,
      routes: {
        authorization: '/oauth2/authorize',
        token: '/oauth2/token',
        jwks: '/oauth2/jwks',
        revocation: '/oauth2/revoke',
        introspection: '/oauth2/introspect',
        userinfo: '/userinfo',
        end_session: '/connect/logout',
        registration: '/connect/register',
        device_authorization: '/oauth2/device_authorization',
        code_verification: '/oauth2/device_verification',
        pushed_authorization_request: '/oauth2/par',
        backchannel_authentication: '/oauth2/backchannel',
      },
      jwks: this.keyList('main').map((k) => k.privateJwk),
      signKid: (a) => this.keys.main.current[a].kid,
      alg,
      clients: MAIN_CLIENTS.map((c) => ({ ...c, id_token_signed_response_alg: s.alg })),
      store: this.stores.main,
      cookiePrefix: 'dhis2',
      interactionUrl: (uid) => `/oauth2/interaction/${uid}`,
      resource: this.resource,
      rsScope: MAIN_SCOPES.join(' '),
      scopes: ['openid', 'offline_access', 'profile', 'email', 'username'],
      claims: { openid: ['sub'], profile: [], email: ['email'], username: ['username'] },
      ttl: {
        // Spring AS TokenSettings defaults: access 5 min, refresh 60 min,
        // code 5 min; id_token 30 min (JwtGenerator).
        access: () => s.access_ttl ?? 300,
        idToken: 1800,
        refresh: 3600,
        code: 300,
        device: () => 600,
      },
      // Spring AS issues no refresh token to a public client (auth method
      // "none"); public_client=lenient lifts that.
      issueRefreshToken: (client) => client.grantTypeAllowed('refresh_token') &&
        !(client.clientAuthMethod === 'none' && s.public_client === 'spring'),
      findAccount: (id) => {
        const user = fixture.users.get(id);
        if (!user) return undefined;
        return {
          accountId: id,
          // Spring AS puts no scope claims in the id_token itself: the
          // token customizer adds them (scopeClaims, armTokenTransform).
          claims: async () => ({ sub: id }),
        };
      },
      // Shapes the access token like Spring AS's JwtGenerator: iss, sub,
      // aud [client_id], iat, exp, jti, nbf, scope as an array; no typ.
      customizeAccessToken: (ctx, token, t) => {
        const p = t.payload;
        delete p.client_id;
        p.aud = [].concat(p.aud);
        p.nbf = p.iat;
        p.scope = p.scope ? p.scope.split(' ') : [];
        Object.assign(p, this.scopeClaims(fixture.users.get(p.sub), p.sub, p.scope));
        t.header = { typ: undefined };
      },
      deviceFlow: false,
      autoConsent: false,
      log,
    };

    const idpUser = (id) => [...fixture.users.values()].find((u) => u.id === id);
    this.idpSpec = {
      issuer: this.idpIssuer,
      routes: {
        authorization: '/protocol/openid-connect/auth',
        token: '/protocol/openid-connect/token',
        jwks: '/protocol/openid-connect/certs',
        userinfo: '/protocol/openid-connect/userinfo',
        revocation: '/protocol/openid-connect/revoke',
        introspection: '/protocol/openid-connect/token/introspect',
        end_session: '/protocol/openid-connect/logout',
        device_authorization: '/protocol/openid-connect/auth/device',
        code_verification: '/device',
        registration: '/clients-registrations/openid-connect',
        pushed_authorization_request: '/protocol/openid-connect/ext/par/request',
        backchannel_authentication: '/protocol/openid-connect/ext/ciba/auth',
      },
      jwks: this.keyList('idp').map((k) => k.privateJwk),
      signKid: (a) => this.keys.idp.current[a].kid,
      alg,
      clients: IDP_CLIENTS.map((c) => ({ ...c, id_token_signed_response_alg: s.alg })),
      store: this.stores.idp,
      cookiePrefix: 'idp',
      interactionUrl: (uid) => `${IDP_PREFIX}/login-actions/${uid}`,
      resource: this.idpResource,
      rsScope: IDP_SCOPES.join(' '),
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['preferred_username', 'name', 'given_name', 'family_name'],
      },
      ttl: {
        access: () => s.access_ttl ?? 300,
        idToken: 300,
        refresh: 1800,
        code: 60,
        device: () => s.device_expires_in,
      },
      issueRefreshToken: (client) => client.grantTypeAllowed('refresh_token'),
      findAccount: (id) => {
        const user = idpUser(id);
        if (!user) return undefined;
        return { accountId: id, claims: async () => this.idpClaims(user) };
      },
      // Keycloak-like access token: sub is the IdP's own id (here the DHIS2
      // UID), so DHIS2 has to map it through a claim (email by default).
      customizeAccessToken: (ctx, token, t) => {
        const p = t.payload;
        const user = idpUser(p.sub);
        p.azp = p.client_id;
        delete p.client_id;
        p.typ = 'Bearer';
        // As if a "username" mapper were configured in the realm.
        if (user) Object.assign(p, this.idpClaims(user), { username: user.username });
        t.header = { typ: 'JWT' };
      },
      deviceFlow: true,
      autoConsent: true,
      log,
    };

    this.main = createProvider(this.mod, this.mainSpec);
    this.idp = createProvider(this.mod, this.idpSpec);
    this.mainHandler = this.main.callback();
    this.idpHandler = this.idp.callback();
  }

  idpClaims(user) {
    return {
      sub: user.id,
      preferred_username: user.username,
      name: `${user.firstName} ${user.surname}`,
      given_name: user.firstName,
      family_name: user.surname,
      ...(user.email ? { email: user.email, email_verified: true } : {}),
    };
  }

  // ---- main listener ------------------------------------------------------

  // Whether the main listener's request is ours: the authorization server
  // on 2.42, the legacy /uaa endpoints before.
  handles(ctx) {
    const p = ctx.path;
    if (ctx.state.atLeast('2.42')) {
      return p === '/.well-known/openid-configuration' ||
        p === '/.well-known/oauth-authorization-server' ||
        p.startsWith('/oauth2/') || p === '/userinfo' ||
        p === '/connect/logout' || p === '/connect/register';
    }
    // 2.41.0 dropped the legacy server; 2.41.0.1 brought it back (a line
    // profile is its first release).
    if (ctx.state.version === '2.41') return false;
    return p === '/uaa/oauth/authorize' || p === '/uaa/oauth/token' || p === '/uaa/login';
  }

  async handle(ctx) {
    try {
      await this.route(ctx);
    } catch (e) {
      this.log(`oauth2 error: ${e.stack}`);
      h.sendWebMessage(ctx.res, 500, e.message);
    }
  }

  async route(ctx) {
    const { req, res, path, body } = ctx;
    const s = this.settings;
    if (!ctx.state.atLeast('2.42')) {
      this.uaaState.accessTtl = s.access_ttl;
      this.uaaState.redirectUris = [s.uaa_redirect_uri];
      return uaa.handle(ctx, this.uaaState);
    }
    // Without oauth2.server.enabled none of this is mounted.
    if (!s.enabled) return h.sendWebMessage(res, 404, 'Not Found');
    this.syncIssuer(ctx.state);
    if (path.startsWith('/.well-known/')) {
      if (!s.discovery) return h.sendWebMessage(res, 404, 'Not Found');
      const [, query = ''] = req.url.split('?');
      req.url = `/.well-known/openid-configuration${query ? `?${query}` : ''}`;
      capture(res, jsonTransform((j, status) => {
        if (status !== 200) return null;
        if (!s.jwks) delete j.jwks_uri;
        // Spring AS's discovery always lists the device endpoint, though
        // no client DHIS2 registers can hold the grant.
        j.device_authorization_endpoint = `${this.origin}/oauth2/device_authorization`;
        if (s.authorization_endpoint != null) {
          j.authorization_endpoint = s.authorization_endpoint;
        }
        return j;
      }));
      return this.pass('main', req, res, body);
    }
    if (path === '/oauth2/jwks' && !s.jwks) return h.sendWebMessage(res, 404, 'Not Found');
    if (path.startsWith('/oauth2/interaction/')) return this.interaction(ctx, 'main');
    if (path === '/userinfo') return this.userinfo(ctx, 'main');
    if (path === '/connect/register') return h.sendWebMessage(res, 404, 'Not Found');
    if (path === '/oauth2/device_authorization') return this.deviceRefused(ctx);
    if (path === '/connect/logout') this.fixLogoutHint(ctx);

    if (path === '/oauth2/authorize') {
      const ru = ctx.query.get('redirect_uri');
      let host = null;
      try { host = ru ? new URL(ru).hostname : null; } catch { /* oidc-provider says */ }
      if (host === 'localhost') {
        // Spring AS refuses "localhost" and asks for the IP literal.
        return h.sendJson(res, 400, { error: 'invalid_request',
          error_description: `localhost is not allowed for the redirect_uri (${ru}). ` +
            'Use the IP literal (127.0.0.1) instead.' });
      }
      const asked = String(ctx.query.get('scope') || '').split(' ').filter(Boolean);
      const bad = asked.find((x) => !NEWEST_SCOPES.includes(x));
      if (ctx.state.version === 'master' && bad && ru) {
        // The newest code allows only openid profile username email.
        const back = new URL(ru);
        back.searchParams.set('error', 'invalid_scope');
        back.searchParams.set('error_description', `OAuth 2.0 Parameter: scope (${bad})`);
        if (ctx.query.get('state')) back.searchParams.set('state', ctx.query.get('state'));
        return h.send(res, 302, '', { Location: back.toString() });
      }
    }

    if (req.method === 'POST' && ['/oauth2/token', '/oauth2/revoke',
      '/oauth2/introspect'].includes(path)) {
      const form = querystring.parse(body.toString('utf8'));
      const client = this.clientAuth('main', req, form);
      if (client && !client.ok) {
        // ClientSecretAuthenticationProvider: the method must be one the
        // client is registered with (oidc-provider would take either).
        return h.sendJson(res, 401, { error: 'invalid_client' },
          { 'Cache-Control': 'no-store' });
      }
      if (client && client.method === 'none' && s.public_client === 'spring' &&
          !(path === '/oauth2/token' && form.grant_type === 'authorization_code' &&
            form.code_verifier)) {
        // PublicClientAuthenticationConverter only recognises a PKCE code
        // exchange: a public client cannot refresh, revoke or introspect.
        return h.sendJson(res, 401, { error: 'invalid_client' },
          { 'Cache-Control': 'no-store' });
      }
      if (path !== '/oauth2/token' && jwt.decode(form.token)) {
        return this.jwtTokenEndpoint(ctx, 'main', path === '/oauth2/revoke'
          ? 'revoke' : 'introspect', form, client);
      }
      if (path === '/oauth2/token') this.armTokenTransform(res, 'main');
    }
    return this.pass('main', req, res, ctx.body);
  }

  // POST /oauth2/device_authorization: Spring AS checks the client first
  // (a public client cannot authenticate here), then the grant, which no
  // client registered through DHIS2 holds.
  deviceRefused(ctx) {
    const form = querystring.parse(ctx.body.toString('utf8'));
    const client = this.clientAuth('main', ctx.req, form);
    const noStore = { 'Cache-Control': 'no-store' };
    if (ctx.req.method !== 'POST') return h.sendWebMessage(ctx.res, 405, 'Method Not Allowed');
    if (!client || !client.ok || client.method === 'none') {
      return h.sendJson(ctx.res, 401, { error: 'invalid_client' }, noStore);
    }
    return h.sendJson(ctx.res, 400, { error: 'unauthorized_client' }, noStore);
  }

  // oidc-provider reads the client from a string `aud` in id_token_hint;
  // ours carry Spring's array: hand it the token as oidc-provider made it.
  fixLogoutHint(ctx) {
    const { req } = ctx;
    const fix = (hint) => {
      const d = jwt.decode(hint);
      const key = d && this.keyList('main').find((x) => x.kid === d.header.kid);
      if (!key || !Array.isArray(d.payload.aud) || !jwt.verifySignature(d, key)) return hint;
      return jwt.sign(d.header, { ...d.payload, aud: d.payload.aud[0] }, key);
    };
    const u = new URL(req.url, 'http://x');
    if (u.searchParams.has('id_token_hint')) {
      u.searchParams.set('id_token_hint', fix(u.searchParams.get('id_token_hint')));
      req.url = `${u.pathname}${u.search}`;
    }
    if (req.method === 'POST') {
      const form = new URLSearchParams(ctx.body.toString('utf8'));
      if (form.has('id_token_hint')) {
        form.set('id_token_hint', fix(form.get('id_token_hint')));
        ctx.body = Buffer.from(form.toString());
      }
    }
  }

  pass(which, req, res, body) {
    // The body was read already (for the request log); oidc-provider takes
    // an already read body from req.body.
    req.body = body;
    return (which === 'main' ? this.mainHandler : this.idpHandler)(req, res);
  }

  // Which client a token/revoke/introspect request authenticates as, and
  // how; null when it names none we know. Checks the secret (for our own
  // JWT introspection/revocation; oidc-provider checks it again).
  clientAuth(which, req, form) {
    const clients = which === 'main' ? MAIN_CLIENTS : IDP_CLIENTS;
    const basic = auth.parseBasic(req.headers.authorization);
    const dec = (x) => {
      try { return decodeURIComponent(x); } catch { return x; }
    };
    if (basic && !basic.error) {
      const id = dec(basic.username);
      const c = clients.find((x) => x.client_id === id);
      if (!c) return null;
      return { id, method: 'client_secret_basic',
        ok: c.token_endpoint_auth_method === 'client_secret_basic' &&
          dec(basic.password) === c.client_secret };
    }
    const c = clients.find((x) => x.client_id === form.client_id);
    if (!c) return null;
    if (form.client_secret != null) {
      return { id: c.client_id, method: 'client_secret_post',
        ok: c.token_endpoint_auth_method === 'client_secret_post' &&
          form.client_secret === c.client_secret };
    }
    return { id: c.client_id, method: 'none',
      ok: c.token_endpoint_auth_method === 'none' };
  }

  // Introspection and revocation of our JWT access tokens, which
  // oidc-provider does not store (Spring AS keeps every token it issued, so
  // it can answer for them).
  jwtTokenEndpoint(ctx, which, op, form, client) {
    const { res } = ctx;
    if (!client || !client.ok) {
      return h.sendJson(res, 401, { error: 'invalid_client' }, { 'Cache-Control': 'no-store' });
    }
    const v = jwt.verify(form.token, {
      keys: this.keyList(which),
      issuer: which === 'main' ? this.issuer : this.idpIssuer,
      audiences: [client.id],
    });
    if (op === 'revoke') {
      if (v.payload) this.revokedJti.add(v.payload.jti);
      return h.send(res, 200, '', { 'Cache-Control': 'no-store' });
    }
    if (!v.payload || this.revokedJti.has(v.payload.jti)) {
      return h.sendJson(res, 200, { active: false }, { 'Cache-Control': 'no-store' });
    }
    const p = v.payload;
    const out = {
      active: true,
      sub: p.sub,
      aud: Array.isArray(p.aud) ? p.aud : [p.aud],
      nbf: p.nbf,
      scope: Array.isArray(p.scope) ? p.scope.join(' ') : p.scope,
      iss: p.iss,
      exp: p.exp,
      iat: p.iat,
      jti: p.jti,
      client_id: client.id,
      token_type: 'Bearer',
    };
    if (p.username) out.username = p.username;
    return h.sendJson(res, 200, out, { 'Cache-Control': 'no-store' });
  }

  // ---- bad tokens -----------------------------------------------------------

  // Token responses: the main server's id_token gets Spring AS's shape
  // (aud as an array, azp), the IdP's replies Keycloak's refresh_expires_in,
  // then an armed bad_token mode spoils the tokens.
  armTokenTransform(res, which) {
    const mode = this.settings.bad_token;
    capture(res, jsonTransform((j, status) => {
      if (status !== 200) return null;
      if (which === 'idp' && typeof j.refresh_token === 'string') {
        // Keycloak says how long the refresh token has left (its SSO
        // session idle time, 1800 s by default) in every token reply.
        const rt = this.stores.idp.items.get(`RefreshToken:${j.refresh_token}`);
        if (rt && rt.exp) j.refresh_expires_in = Math.max(0, rt.exp - Math.floor(Date.now() / 1000));
      }
      if (which === 'main' && typeof j.id_token === 'string') {
        const d = jwt.decode(j.id_token);
        const key = d && this.keyList('main').find((k) => k.kid === d.header.kid);
        if (key) {
          const aud = [].concat(d.payload.aud);
          // The customizer's claims, as on the access token.
          const at = jwt.decode(j.access_token);
          const extra = {};
          for (const c of ['email', 'username']) {
            if (at && at.payload[c] != null) extra[c] = at.payload[c];
          }
          const p = { ...d.payload, aud, azp: aud[0], ...extra };
          if (!extra.email) delete p.email;
          delete p.email_verified;
          j.id_token = jwt.sign(d.header, p, key);
        }
      }
      if (!mode) return j;
      for (const field of ['access_token', 'id_token']) {
        if (typeof j[field] === 'string' && jwt.decode(j[field])) {
          j[field] = this.spoil(j[field], mode, field, which);
        }
      }
      return j;
    }));
  }

  // Makes a token wrong in exactly one way, and signs it again (except for
  // "signature") with the key that signed it, so only that one check fails.
  spoil(token, mode, field, which) {
    const d = jwt.decode(token);
    if (mode === 'signature') {
      const sig = Buffer.from(d.signature);
      sig[sig.length >> 1] ^= 0x5a;
      return `${d.input}.${sig.toString('base64url')}`;
    }
    const key = this.keyList(which).find((k) => k.kid === d.header.kid);
    const p = { ...d.payload };
    const now = Math.floor(Date.now() / 1000);
    switch (mode) {
      case 'iss':
        p.iss = 'https://issuer.invalid';
        break;
      case 'aud':
        p.aud = Array.isArray(p.aud) ? ['someone-else'] : 'someone-else';
        break;
      case 'expired':
        p.iat = now - 7200;
        p.exp = now - 3600;
        if (p.nbf != null) p.nbf = p.iat;
        break;
      case 'nonce':
        if (field !== 'id_token') return token;
        p.nonce = `wrong-${crypto.randomBytes(8).toString('hex')}`;
        break;
      default:
        return token;
    }
    return jwt.sign(d.header, p, key);
  }

  // ---- interaction pages (login, consent) -----------------------------------

  async interaction(ctx, which) {
    const { req, res, path } = ctx;
    const provider = which === 'main' ? this.main : this.idp;
    const base = which === 'main' ? '/oauth2/interaction' : `${IDP_PREFIX}/login-actions`;
    const m = new RegExp(`^${base}/([A-Za-z0-9_-]+)(/login|/consent)?$`).exec(path);
    if (!m) return h.send(res, 404, pages.message('Not found', 'No such page.'), HTML);
    const [, uid, step = ''] = m;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return h.send(res, 400, pages.message('Sign-in error',
        'This sign-in request is unknown or has expired; start again.', 'expired'), HTML);
    }
    if (details.uid !== uid) {
      return h.send(res, 400, pages.message('Sign-in error',
        'This sign-in request does not belong to this browser.', 'mismatch'), HTML);
    }
    const prompt = details.prompt.name;
    const clientId = details.params.client_id;
    const form = req.method === 'POST'
      ? querystring.parse(ctx.body.toString('utf8')) : {};

    if (req.method === 'GET' && !step) {
      if (prompt === 'login') {
        return h.send(res, 200, pages.login({ action: `${base}/${uid}/login`,
          client: clientId }), HTML);
      }
      return h.send(res, 200, pages.consent({ action: `${base}/${uid}/consent`,
        client: clientId, username: details.session?.accountId,
        scopes: String(details.params.scope || '').split(' ').filter(Boolean) }), HTML);
    }
    if (req.method !== 'POST' || (step === '/login') !== (prompt === 'login')) {
      return h.send(res, 400, pages.message('Sign-in error',
        `This step is not expected now (${prompt}).`, 'wrong_step'), HTML);
    }

    if (step === '/login') {
      const r = which === 'main' ? this.checkDhis2Login(ctx, form)
        : this.checkIdpLogin(ctx, form);
      if (r.error) {
        return h.send(res, 401, pages.login({ action: `${base}/${uid}/login`,
          client: clientId, username: form.username, error: r.error }), HTML);
      }
      return provider.interactionFinished(req, res,
        { login: { accountId: r.accountId } }, { mergeWithLastSubmission: false });
    }

    // consent
    if (form.decision !== 'approve') {
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User denied the authorization',
      }, { mergeWithLastSubmission: false });
    }
    const { details: missing } = details.prompt;
    let grant;
    if (details.grantId) grant = await provider.Grant.find(details.grantId);
    if (!grant) {
      grant = new provider.Grant({ accountId: details.session.accountId, clientId });
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
  }

  // The DHIS2 login behind the authorization server: the same provider as
  // form login (lockout, disabled, expired, 2FA).
  checkDhis2Login(ctx, form) {
    const username = String(form.username ?? '');
    const code = form.twoFactorCode ? String(form.twoFactorCode) : null;
    const r = auth.authenticate(ctx, username, String(form.password ?? ''), { code });
    if (r.user) return { accountId: r.user.username };
    const map = {
      LOCKED: ['ACCOUNT_LOCKED', 'Account locked'],
      DISABLED: ['ACCOUNT_DISABLED', 'Account disabled'],
      EXPIRED: ['ACCOUNT_EXPIRED', 'Account expired'],
      CREDENTIALS_EXPIRED: ['PASSWORD_EXPIRED', 'Password expired'],
      ENROL: ['REQUIRES_TWO_FACTOR_ENROLMENT', 'Two-factor enrolment required'],
      TWO_FA_CODE_SENT: ['EMAIL_TWO_FACTOR_CODE_SENT', 'A code was sent by email'],
      TWO_FA_BAD_CODE: ['INCORRECT_TWO_FACTOR_CODE', 'Incorrect two-factor code'],
    };
    const [c, text] = map[r.error] || ['BAD_CREDENTIALS', 'Invalid username or password'];
    return { error: { code: c, text } };
  }

  // The IdP's own login: same users and passwords, its own rules (no DHIS2
  // lockout, no DHIS2 2FA).
  checkIdpLogin(ctx, form) {
    const user = ctx.fixture.users.get(String(form.username ?? ''));
    const bad = { error: { code: 'BAD_CREDENTIALS', text: 'Invalid username or password.' } };
    if (!user || typeof form.password !== 'string' || form.password !== user.password) return bad;
    if (user.disabled || user.locked) {
      return { error: { code: 'ACCOUNT_DISABLED', text: 'Account is disabled, contact your administrator.' } };
    }
    return { accountId: user.id };
  }

  // ---- userinfo --------------------------------------------------------------

  userinfo(ctx, which) {
    const { req, res } = ctx;
    const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization || '');
    const fail = (status, error) => h.send(res, status, '', {
      'WWW-Authenticate': `Bearer error="${error}"`, 'Cache-Control': 'no-store' });
    if (!m) return fail(401, 'invalid_token');
    const clients = which === 'main' ? MAIN_CLIENTS : IDP_CLIENTS;
    const v = jwt.verify(m[1], {
      keys: this.keyList(which),
      issuer: which === 'main' ? this.issuer : this.idpIssuer,
      audiences: clients.map((c) => c.client_id),
    });
    if (!v.payload || this.revokedJti.has(v.payload.jti)) return fail(401, 'invalid_token');
    const p = v.payload;
    const scopes = Array.isArray(p.scope) ? p.scope : String(p.scope || '').split(' ');
    if (!scopes.includes('openid')) return fail(403, 'insufficient_scope');
    if (which === 'idp') {
      const user = [...ctx.fixture.users.values()].find((u) => u.id === p.sub);
      return h.sendJson(res, 200, user ? this.idpClaims(user) : { sub: p.sub });
    }
    const user = ctx.fixture.users.get(p.sub);
    const out = { sub: p.sub };
    if (user && scopes.includes('username')) out.username = p.sub;
    if (user && user.email && scopes.includes('email')) {
      out.email = user.email;
      out.email_verified = !!user.emailVerified;
    }
    return h.sendJson(res, 200, out);
  }

  // ---- Authorization: Bearer on /api ---------------------------------------

  // Called by lib/bearer.js. Returns null (not authenticated: go on as
  // anonymous), { username } or { done: true } (an error reply was sent).
  authenticateBearer(ctx, token) {
    const { state } = ctx;
    const s = this.settings;
    const d = jwt.decode(token);
    if (!state.atLeast('2.42')) {
      // Up to 2.41 a server takes UAA tokens or JWTs, never both: with
      // oidc.jwt.token.authentication.enabled the JWT filter replaces the
      // legacy resource filter. 2.41.0 has no /uaa at all: no filter reads
      // opaque tokens, and the request goes on as anonymous.
      if (!s.jwt_bearer) {
        if (state.version === '2.41') return null;
        const r = uaa.lookup(this.uaaState, token);
        if (r.error) {
          h.sendJson(ctx.res, 401, { error: 'invalid_token', error_description: r.error }, {
            'WWW-Authenticate': `Bearer realm="oauth", error="invalid_token", error_description="${r.error}"`,
            'Cache-Control': 'no-store' });
          return { done: true };
        }
        return this.userFor(ctx, r.username, 'username', r.username);
      }
    } else {
      this.syncIssuer(state);
    }
    // The JWT filter is there with oidc.jwt.token.authentication.enabled,
    // and on 2.42.5+ also with oauth2.server.enabled alone (the built-in
    // provider for the server's own tokens). Without it the header is
    // ignored and the request goes on as anonymous.
    const internal = state.atLeast('2.42.5') && s.enabled;
    if (!s.jwt_bearer && !internal) return null;
    // Dhis2JwtAuthenticationManagerResolver: pick the provider by the
    // token's issuer, decode with that issuer's keys, check the audience,
    // then find the user through the provider's mapping claim.
    const pre = 'An error occurred while attempting to decode the Jwt: ';
    if (!d) return this.bearerFail(ctx, 'Invalid JWT serialization: Missing dot delimiter(s)');
    if (typeof d.payload.iss !== 'string') return this.bearerFail(ctx, 'Missing issuer');
    const idp = d.payload.iss === this.idpIssuer;
    const own = state.atLeast('2.42') && d.payload.iss === this.issuer;
    if (!idp && !own) return this.bearerFail(ctx, 'Invalid issuer');
    const v = jwt.verify(token, idp
      ? { keys: this.keyList('idp'), issuer: this.idpIssuer, audiences: s.idp_audiences }
      : { keys: this.keyList('main'), issuer: this.issuer, audMode: 'all',
        audiences: MAIN_CLIENTS.map((c) => c.client_id) });
    if (v.error) {
      const msg = {
        'unknown kid': `${pre}Signed JWT rejected: Another algorithm expected, or no matching key(s) found`,
        'bad signature': `${pre}Signed JWT rejected: Invalid signature`,
        'invalid audience': 'Invalid audience',
        expired: `${pre}Jwt expired at ${new Date((d.payload.exp || 0) * 1000).toISOString()}`,
        'not yet valid': `${pre}Jwt used before ${new Date((d.payload.nbf || 0) * 1000).toISOString()}`,
      }[v.error] || `${pre}${v.error}`;
      return this.bearerFail(ctx, msg);
    }
    // Our own tokens: 2.42.5+ the built-in provider maps by "username";
    // 2.42.0-2.42.4 the configured provider's mapping_claim, always
    // through the user's OpenID field (getUserByOpenId).
    let claim;
    let byOpenId;
    if (idp) {
      claim = s.idp_mapping_claim;
      byOpenId = claim === 'email';
    } else if (state.atLeast('2.42.5')) {
      claim = 'username';
      byOpenId = false;
    } else {
      claim = s.mapping_claim;
      byOpenId = true;
    }
    const value = v.payload[claim];
    let user;
    if (typeof value !== 'string') {
      user = undefined;
    } else if (byOpenId) {
      user = [...ctx.fixture.users.values()].find((u) => this.openIdOf(u) === value);
    } else if (claim === 'username') {
      user = ctx.fixture.users.get(value);
    } else {
      return this.bearerFail(ctx, 'Invalid mapping claim');
    }
    return this.userFor(ctx, user && user.username, claim, value);
  }

  // A user's OpenID field: the fixture has none, so openid_field says what
  // the administrator stored there (the e-mail, or the username where
  // there is none; or the username).
  openIdOf(u) {
    if (u.openId != null) return u.openId;
    return this.settings.openid_field === 'username' ? u.username : (u.email || u.username);
  }

  userFor(ctx, username, claim, value) {
    const user = username != null && ctx.fixture.users.get(username);
    if (!user) {
      return this.bearerFail(ctx, 'Found no matching DHIS2 user for the mapping claim: ' +
        `'${claim}' with the value: '${value ?? 'null'}'`);
    }
    const why = userUsable(user, ctx.state.now());
    if (why) return this.bearerFail(ctx, why);
    return { username: user.username };
  }

  // BearerTokenAuthenticationEntryPoint's header, then DHIS2's exception
  // handler's WebMessage.
  bearerFail(ctx, message) {
    const desc = message.replace(/["\\]/g, "'");
    h.sendWebMessage(ctx.res, 401, message, {
      'WWW-Authenticate': `Bearer error="invalid_token", error_description="${desc}", ` +
        'error_uri="https://tools.ietf.org/html/rfc6750#section-3.1"',
    });
    return { done: true };
  }

  // ---- the IdP listener ----------------------------------------------------

  makeIdpHandler() {
    return async (req, res) => {
      const body = await h.readBody(req);
      this.idpRequests.push(h.recordOf(req, body));
      if (this.idpRequests.length > 2000) this.idpRequests.shift();
      this.log(`idp: ${req.method} ${req.url}`);
      try {
        await this.routeIdp(req, res, body);
      } catch (e) {
        this.log(`idp error: ${e.stack}`);
        h.sendJson(res, 500, { error: 'server_error', error_description: e.message });
      }
    };
  }

  async routeIdp(req, res, body) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (path !== IDP_PREFIX && !path.startsWith(`${IDP_PREFIX}/`)) {
      return h.sendJson(res, 404, { error: 'Unable to find matching target resource method' });
    }
    const rest = path.slice(IDP_PREFIX.length) || '/';
    const ctx = { ...this.env, req, res, body, path, query: url.searchParams };
    if (rest.startsWith('/login-actions/')) return this.interaction(ctx, 'idp');
    if (rest === '/protocol/openid-connect/userinfo') return this.userinfo(ctx, 'idp');
    const s = this.settings;

    if (rest === '/.well-known/openid-configuration' && !s.idp_device) {
      capture(res, jsonTransform((j, status) => {
        if (status !== 200) return null;
        delete j.device_authorization_endpoint;
        return j;
      }));
    }
    if (rest === '/protocol/openid-connect/auth/device' && req.method === 'POST') {
      capture(res, jsonTransform((j, status) => {
        if (status !== 200 || !j.device_code) return null;
        this.polls.set(j.device_code, { last: 0, interval: s.device_interval });
        const said = s.device_expires_in_said;
        return { ...j, interval: s.device_interval,
          ...(said != null ? { expires_in: said } : {}), ...(s.device_reply || {}) };
      }));
    }
    if (req.method === 'POST' && ['/protocol/openid-connect/token',
      '/protocol/openid-connect/revoke',
      '/protocol/openid-connect/token/introspect'].includes(rest)) {
      const form = querystring.parse(body.toString('utf8'));
      if (rest !== '/protocol/openid-connect/token' && jwt.decode(form.token)) {
        return this.jwtTokenEndpoint(ctx, 'idp',
          rest.endsWith('/revoke') ? 'revoke' : 'introspect', form,
          this.clientAuth('idp', req, form));
      }
      if (rest === '/protocol/openid-connect/token') {
        if (form.grant_type === DEVICE_GRANT && this.slowDown(res, form.device_code)) return undefined;
        this.armTokenTransform(res, 'idp');
      }
    }
    req.originalUrl = req.url;
    req.url = rest + url.search;
    return this.pass('idp', req, res, body);
  }

  // RFC 8628 section 3.5: polling faster than `interval` gets slow_down, and
  // the interval grows by 5 s for this and every later request.
  // The device_slow_down switch forces it on the next polls, so a test sees
  // a client back off without having to make it poll early.
  slowDown(res, deviceCode) {
    const p = this.polls.get(deviceCode);
    if (!p) return false;
    const now = Date.now();
    const early = p.interval > 0 && p.last && now - p.last < p.interval * 1000;
    const forced = !early && this.settings.device_slow_down > 0;
    p.last = now;
    if (!early && !forced) return false;
    if (forced) this.settings.device_slow_down -= 1;
    p.interval += 5;
    h.sendJson(res, 400, { error: 'slow_down',
      error_description: `Polling too fast; wait ${p.interval} s between requests` },
    { 'Cache-Control': 'no-store' });
    return true;
  }

  // ---- control API ---------------------------------------------------------

  describe() {
    const s = this.settings;
    return {
      settings: s,
      issuer: this.issuer,
      idp_issuer: this.idpIssuer,
      kids: {
        main: this.keyList('main').map((k) => k.kid),
        idp: this.keyList('idp').map((k) => k.kid),
      },
      signing_kid: {
        main: this.keys.main.current[s.alg].kid,
        idp: this.keys.idp.current[s.alg].kid,
      },
      clients: {
        main: MAIN_CLIENTS.map((c) => ({ client_id: c.client_id,
          client_secret: c.client_secret, token_endpoint_auth_method: c.token_endpoint_auth_method })),
        uaa: [...uaa.CLIENTS.values()].map((c) => ({ client_id: c.id, client_secret: c.secret })),
        idp: IDP_CLIENTS.map((c) => ({ client_id: c.client_id,
          client_secret: c.client_secret, token_endpoint_auth_method: c.token_endpoint_auth_method })),
      },
      idp_requests: this.idpRequests.length,
    };
  }

  // Returns true when it answered.
  async control(req, res, url, body) {
    const route = `${req.method} ${url.pathname}`;
    const bad = (error) => h.sendJson(res, 400, { error });
    switch (route) {
      case 'GET /oauth2':
        return h.sendJson(res, 200, this.describe());
      case 'POST /oauth2': {
        const err = this.validate(body);
        if (err) return bad(err);
        const rebuild = body.alg != null && body.alg !== this.settings.alg;
        Object.assign(this.settings, body);
        if (rebuild) this.rebuild();
        return h.sendJson(res, 200, { ok: true, settings: this.settings });
      }
      case 'POST /oauth2/rotate': {
        const which = body.which || 'main';
        if (!['main', 'idp', 'both'].includes(which)) return bad('which: main, idp or both');
        for (const w of which === 'both' ? ['main', 'idp'] : [which]) {
          const k = this.keys[w];
          k.old = body.keep_old ? [k.current.RS256, k.current.ES256, ...k.old] : [];
          k.current = jwt.makeKeySet();
        }
        this.rebuild();
        return h.sendJson(res, 200, { ok: true, ...this.describe().signing_kid });
      }
      case 'POST /oauth2/device': {
        if (typeof body.user_code !== 'string') return bad('user_code: string');
        if (!['approve', 'deny'].includes(body.action)) return bad('action: approve or deny');
        let accountId;
        if (body.action === 'approve') {
          const user = this.env.fixture.users.get(body.username || 'alice');
          if (!user) return bad('username: a fixture user');
          accountId = user.id;
        }
        const r = await settleDeviceCode(this.idp, this.idpSpec, body.user_code,
          { approve: body.action === 'approve', accountId });
        if (r.error) return h.sendJson(res, r.status, { error: r.error });
        return h.sendJson(res, 200, { ok: true });
      }
      case 'POST /oauth2/mint': {
        // An access token for a fixture user as the token endpoint would
        // issue it after a code flow (customizeAccessToken's shape), signed
        // by the current key: for tests that need a stored token without
        // the browser. "spoil" makes it wrong in one way, as bad_token does.
        const err = this.validateMint(body);
        if (err) return bad(err);
        const clientId = body.client_id || 'dhis2-auth';
        const now = Math.floor(Date.now() / 1000);
        const { state } = this.env;
        if (state.atLeast('2.42')) this.syncIssuer(state);
        // What a client asks for by default on this release (dhis2-auth's
        // default scope): what /api needs to find the user.
        const scope = state.atLeast('2.42.5') ? ['openid', 'username'] : ['ALL', 'openid', 'email'];
        const iat = now + (body.exp_in < 0 ? body.exp_in - 60 : 0);
        const p = {
          iss: this.issuer,
          sub: body.username,
          aud: [clientId],
          nbf: iat,
          scope,
          iat,
          exp: now + (body.exp_in ?? (this.settings.access_ttl ?? 300)),
          jti: crypto.randomUUID(),
        };
        Object.assign(p, this.scopeClaims(this.env.fixture.users.get(body.username),
          body.username, scope));
        const key = this.keys.main.current[this.settings.alg];
        let t = jwt.sign({ alg: key.alg, kid: key.kid }, p, key);
        if (body.spoil) t = this.spoil(t, body.spoil, 'access_token', 'main');
        return h.sendJson(res, 200, { access_token: t, expires_at: p.exp, kid: key.kid });
      }
      case 'GET /oauth2/idp-requests':
        return h.sendJson(res, 200, this.idpRequests);
      case 'POST /oauth2/uaa-expire':
        uaa.expireAll(this.uaaState);
        return h.sendJson(res, 200, { ok: true });
      default:
        return h.sendJson(res, 404, { error: `no control route ${route}` });
    }
  }

  validateMint(b) {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return 'body: a JSON object';
    if (typeof b.username !== 'string' || !b.username) return 'username: string';
    for (const k of Object.keys(b)) {
      if (!['username', 'client_id', 'exp_in', 'spoil'].includes(k)) return `unknown member ${k}`;
    }
    if (b.client_id != null && typeof b.client_id !== 'string') return 'client_id: string';
    if (b.exp_in != null && !Number.isInteger(b.exp_in)) return 'exp_in: integer seconds';
    if (b.spoil != null && !['signature', 'iss', 'aud', 'expired'].includes(b.spoil)) {
      return 'spoil: signature, iss, aud or expired';
    }
    return null;
  }

  validate(b) {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return 'body: a JSON object';
    for (const [k, v] of Object.entries(b)) {
      switch (k) {
        case 'enabled': case 'discovery': case 'jwks': case 'jwt_bearer':
          if (typeof v !== 'boolean') return `${k}: boolean`;
          break;
        case 'bad_token':
          if (v !== null && !BAD_TOKEN.includes(v)) return `bad_token: null or one of ${BAD_TOKEN}`;
          break;
        case 'alg':
          if (!['RS256', 'ES256'].includes(v)) return 'alg: RS256 or ES256';
          break;
        case 'access_ttl':
          if (v !== null && !(Number.isInteger(v) && v > 0)) return 'access_ttl: null or seconds > 0';
          break;
        case 'public_client':
          if (!['spring', 'lenient'].includes(v)) return 'public_client: spring or lenient';
          break;
        case 'device_expires_in':
          if (!(Number.isInteger(v) && v > 0)) return 'device_expires_in: seconds > 0';
          break;
        case 'device_interval':
          if (!(Number.isInteger(v) && v >= 0)) return 'device_interval: seconds >= 0';
          break;
        case 'device_slow_down':
          if (!(Number.isInteger(v) && v >= 0)) return 'device_slow_down: a count >= 0';
          break;
        case 'device_reply':
          if (v !== null && (typeof v !== 'object' || Array.isArray(v))) {
            return 'device_reply: null or an object';
          }
          break;
        case 'device_expires_in_said':
          if (v !== null && !(Number.isInteger(v) && v > 0)) {
            return 'device_expires_in_said: null or seconds > 0';
          }
          break;
        case 'idp_device':
          if (typeof v !== 'boolean') return 'idp_device: boolean';
          break;
        case 'idp_mapping_claim':
          if (!['email', 'username'].includes(v)) return 'idp_mapping_claim: email or username';
          break;
        case 'username_claim':
          if (!['profile', 'always', 'scope'].includes(v)) return 'username_claim: profile, always or scope';
          break;
        case 'base_url':
          if (v !== null && !(typeof v === 'string' && /^https?:\/\/[^/]/.test(v))) {
            return 'base_url: null or an http(s) URL';
          }
          break;
        case 'mapping_claim':
          if (!['email', 'sub', 'username'].includes(v)) return 'mapping_claim: email, sub or username';
          break;
        case 'openid_field':
          if (!['email', 'username'].includes(v)) return 'openid_field: email or username';
          break;
        case 'authorization_endpoint':
          if (v !== null && typeof v !== 'string') return 'authorization_endpoint: null or a string';
          break;
        case 'uaa_redirect_uri':
          if (typeof v !== 'string' || !/^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(v)) {
            return 'uaa_redirect_uri: http://127.0.0.1:PORT/callback';
          }
          break;
        case 'idp_audiences':
          if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
            return 'idp_audiences: array of strings';
          }
          break;
        default:
          return `unknown switch ${k}`;
      }
    }
    return null;
  }
}

// The first key sets, from --key-cache FILE when it holds them (test
// harnesses start an emulator per test, and making four keys costs about
// a second of CPU each time), else made now and kept there. Rotation
// (POST /oauth2/rotate) always makes new ones.
async function firstKeys(file) {
  const sets = ['main', 'idp'];
  if (file) {
    try {
      const j = JSON.parse(fs.readFileSync(file, 'utf8'));
      const out = {};
      for (const w of sets) {
        out[w] = { RS256: jwt.keyFromJwk('RS256', j[w].RS256),
          ES256: jwt.keyFromJwk('ES256', j[w].ES256) };
      }
      return out;
    } catch {
      // missing or unreadable: make them
    }
  }
  const [main, idp] = await Promise.all([jwt.makeKeySetAsync(), jwt.makeKeySetAsync()]);
  if (file) {
    const keep = {};
    for (const [w, k] of Object.entries({ main, idp })) {
      keep[w] = { RS256: k.RS256.privateJwk, ES256: k.ES256.privateJwk };
    }
    // Two emulators may make them at once: each renames its own whole file.
    const tmp = `${file}.${process.pid}`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(keep), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {
      try { fs.unlinkSync(tmp); } catch { /* gone */ }
    }
  }
  return { main, idp };
}

async function create(env) {
  const [mod, keys] = await Promise.all([import('oidc-provider'), firstKeys(env.keyCache)]);
  return new OAuth2(env, mod, keys);
}

// Whether a main-listener request may need the OAuth2 side (it is built in
// the background after the ready line): its paths, on any version, and
// any Bearer header.
function mayNeed(req) {
  return /^\/(oauth2\/|\.well-known\/|uaa\/|userinfo$|connect\/)/.test(req.url) ||
    /^bearer/i.test(req.headers.authorization || '');
}

module.exports = { create, mayNeed, OAuth2, MAIN_CLIENTS, IDP_CLIENTS, REDIRECT, IDP_PREFIX };
