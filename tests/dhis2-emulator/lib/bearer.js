// Hook for `Authorization: Bearer`: the OAuth2 side (lib/oauth2.js) checks
// JWTs from the emulator's authorization server or its external IdP, and the
// legacy opaque /uaa tokens. Without it the request stays anonymous.
'use strict';

// Returns null (not handled), { username } or { done: true } when a reply
// was already sent.
function authenticate(ctx, token) {
  if (!ctx.oauth2) return null;
  return ctx.oauth2.authenticateBearer(ctx, token);
}

module.exports = { authenticate };
