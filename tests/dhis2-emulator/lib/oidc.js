// Builds one oidc-provider instance from a spec: DHIS2 2.42's Spring
// Authorization Server on the main listener, or the external IdP. What
// differs between the two lives in the spec (lib/oauth2.js makes them); this
// file holds what they share: storage, interaction pages, device pages.
'use strict';

const crypto = require('node:crypto');
const pages = require('./pages');

// Everything a provider stores (sessions, grants, codes, refresh tokens,
// device codes). Kept outside the Provider so a rebuild (key rotation, alg
// switch) keeps sessions and refresh tokens, as a key rotation would;
// /reset clears it.
class Store {
  constructor() {
    this.clear();
  }

  clear() {
    this.items = new Map();
    this.byGrant = new Map();
    this.byUserCode = new Map();
    this.byUid = new Map();
  }
}

// The adapter oidc-provider calls for each model. Expired entries are kept:
// oidc-provider checks expiry itself, and a device code must still be found
// once expired to answer expired_token rather than invalid_grant.
function adapterFor(store) {
  return class Adapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload) {
      const key = this.key(id);
      store.items.set(key, { ...payload });
      if (payload.grantId) {
        if (!store.byGrant.has(payload.grantId)) store.byGrant.set(payload.grantId, new Set());
        store.byGrant.get(payload.grantId).add(key);
      }
      if (payload.userCode) store.byUserCode.set(payload.userCode, key);
      if (payload.uid) store.byUid.set(`${this.name}:${payload.uid}`, key);
    }

    async find(id) {
      const p = store.items.get(this.key(id));
      return p ? { ...p } : undefined;
    }

    async findByUserCode(userCode) {
      const key = store.byUserCode.get(userCode);
      const p = key && store.items.get(key);
      return p ? { ...p } : undefined;
    }

    async findByUid(uid) {
      const key = store.byUid.get(`${this.name}:${uid}`);
      const p = key && store.items.get(key);
      return p ? { ...p } : undefined;
    }

    async consume(id) {
      const p = store.items.get(this.key(id));
      if (p) p.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      store.items.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of store.byGrant.get(grantId) || []) store.items.delete(key);
      store.byGrant.delete(grantId);
    }
  };
}

// spec: {
//   issuer, routes, jwks (private JWKs, current first), signKid(alg), alg(),
//   clients, store, cookiePrefix, interactionUrl(uid), resource, rsScope,
//   scopes, claims, ttl: { access(), idToken, refresh, code, device() },
//   issueRefreshToken(client), findAccount(id) -> { accountId, claims() } | undefined,
//   customizeAccessToken(ctx, token, jwt), deviceFlow, autoConsent, log
// }
function createProvider(mod, spec) {
  const { default: Provider, interactionPolicy, errors } = mod;
  const policy = interactionPolicy.base();
  if (spec.autoConsent) {
    // Keycloak's default: no consent screen, even for native clients.
    policy.get('consent').checks.remove('native_client_prompt');
  }
  const cookieSecret = crypto.randomBytes(32).toString('hex');
  const p = spec.cookiePrefix;
  const cookieOpts = { httpOnly: true, sameSite: 'lax', signed: true };

  const features = {
    devInteractions: { enabled: false },
    introspection: {
      enabled: true,
      // A public client may introspect only its own tokens.
      allowedPolicy: async (ctx, client, token) =>
        !(client.clientAuthMethod === 'none' && token.clientId !== client.clientId),
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    pushedAuthorizationRequests: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = pages.page('Sign out', `${form}<button id="logout" type="submit" ` +
          'form="op.logoutForm" name="logout" value="yes">Sign out</button>');
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = pages.message('Signed out', 'You are signed out.');
      },
    },
    resourceIndicators: {
      enabled: true,
      // Every token is for "the API": a JWT access token whose audience is
      // the client, as Spring Authorization Server issues them.
      defaultResource: async () => spec.resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource, client) => {
        if (resource !== spec.resource) throw new errors.InvalidTarget();
        const alg = spec.alg();
        return {
          scope: spec.rsScope,
          audience: client.clientId,
          accessTokenTTL: spec.ttl.access(),
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg, kid: spec.signKid(alg) } },
        };
      },
    },
    deviceFlow: { enabled: false },
  };
  if (spec.deviceFlow) {
    features.deviceFlow = {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      userCodeInputSource: async (ctx, form, out, err) => {
        let msg = '<p id="message">Enter the code shown on your device.</p>';
        if (err) {
          const code = err.name === 'AbortedError' ? 'aborted'
            : (err.userCode || err.name === 'NoCodeError') ? 'bad_code' : 'error';
          const text = code === 'aborted' ? 'The sign-in was cancelled.'
            : code === 'bad_code' ? 'The code you entered is incorrect or expired.'
              : 'There was an error processing your request.';
          msg = `<p class="error" id="error" data-error="${code}">${text}</p>`;
        }
        ctx.body = pages.page('Device sign in', `${msg}\n${form}\n` +
          '<button id="continue" type="submit" form="op.deviceInputForm">Continue</button>');
      },
      userCodeConfirmSource: async (ctx, form, client, deviceInfo, userCode) => {
        ctx.body = pages.page('Confirm device', '<p>Is this the code shown on ' +
          `your device?</p><p><code id="user_code">${pages.esc(userCode)}</code></p>` +
          `<p>Client: <b id="client">${pages.esc(client.clientName || client.clientId)}</b></p>\n` +
          `${form}\n<button id="confirm" type="submit" form="op.deviceConfirmForm">Continue</button>\n` +
          '<button id="abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>');
      },
      successSource: async (ctx) => {
        ctx.body = pages.message('Device signed in',
          'The device is signed in; you can close this page.', 'success');
      },
    };
  }

  const ttl = {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || spec.ttl.access(),
    AuthorizationCode: spec.ttl.code,
    DeviceCode: () => spec.ttl.device(),
    IdToken: spec.ttl.idToken,
    RefreshToken: spec.ttl.refresh,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 14 * 24 * 3600,
    ClientCredentials: 600,
    BackchannelAuthenticationRequest: 600,
  };

  async function loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId ||
      oidc.session.grantIdFor(oidc.client.clientId);
    if (grantId) {
      const found = await oidc.provider.Grant.find(grantId);
      if (found || !spec.autoConsent) return found;
    }
    if (!spec.autoConsent || !oidc.session.accountId) return undefined;
    // Pre-consented: grant whatever was asked within what exists.
    const grant = new oidc.provider.Grant({
      clientId: oidc.client.clientId,
      accountId: oidc.session.accountId,
    });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addResourceScope(spec.resource, spec.rsScope);
    await grant.save();
    return grant;
  }

  const provider = new Provider(spec.issuer, {
    adapter: adapterFor(spec.store),
    clients: spec.clients,
    jwks: { keys: spec.jwks },
    cookies: {
      keys: [cookieSecret],
      names: {
        session: `${p}_session`,
        interaction: `${p}_interaction`,
        resume: `${p}_interaction_resume`,
      },
      long: cookieOpts,
      short: cookieOpts,
    },
    routes: spec.routes,
    scopes: spec.scopes,
    claims: spec.claims,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: spec.alg(),
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    features,
    formats: {
      customizers: {
        jwt: async (ctx, token, jwt) => spec.customizeAccessToken(ctx, token, jwt),
      },
    },
    findAccount: async (ctx, id) => spec.findAccount(id),
    interactions: {
      policy,
      url: (ctx, interaction) => spec.interactionUrl(interaction.uid),
    },
    loadExistingGrant,
    issueRefreshToken: async (ctx, client) => spec.issueRefreshToken(client),
    rotateRefreshToken: false,
    ttl,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = pages.message('Sign-in error',
        `${out.error}: ${out.error_description || ''}`, out.error);
    },
  });
  provider.on('server_error', (ctx, err) => spec.log(`oidc ${spec.cookiePrefix}: ${err.stack}`));
  return provider;
}

// Approves or denies a pending device code directly (the control API's
// shortcut for the user's browser steps). Returns { status, error? }.
async function settleDeviceCode(provider, spec, userCode, { approve, accountId }) {
  const normalized = String(userCode || '').toUpperCase().replace(/\W/g, '');
  const code = await provider.DeviceCode.findByUserCode(normalized,
    { ignoreExpiration: true });
  if (!code) return { status: 404, error: 'no such user code' };
  if (code.isExpired) return { status: 409, error: 'user code expired' };
  if (code.error || code.accountId || code.inFlight) {
    return { status: 409, error: 'user code already used' };
  }
  if (!approve) {
    code.error = 'access_denied';
    code.errorDescription = 'End-User aborted interaction';
    await code.save();
    return { status: 200 };
  }
  const grant = new provider.Grant({ clientId: code.clientId, accountId });
  const asked = String(code.params.scope || '').split(' ').filter(Boolean);
  const oidcScopes = asked.filter((s) => spec.scopes.includes(s));
  grant.addOIDCScope(oidcScopes.join(' '));
  grant.addResourceScope(spec.resource, spec.rsScope);
  const grantId = await grant.save();
  Object.assign(code, {
    accountId,
    authTime: Math.floor(Date.now() / 1000),
    grantId,
    scope: asked.join(' '),
    resource: spec.resource,
  });
  await code.save();
  return { status: 200 };
}

module.exports = { Store, createProvider, settleDeviceCode };
