// Hook for `Authorization: Bearer`: DHIS2 ignores it unless JWT
// authentication is configured, so the request stays anonymous. The OAuth2
// side (a later issue) replaces authenticate().
'use strict';

// Returns null (not handled), { username } or { done: true } when a reply
// was already sent.
function authenticate(_ctx, _token) {
  return null;
}

module.exports = { authenticate };
