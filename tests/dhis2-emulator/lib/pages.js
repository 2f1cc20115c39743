// The HTML pages of the OAuth2 side: login, consent, the legacy approval
// page and the device-flow pages. Plain forms without scripts, so curl with
// a cookie jar and a real browser drive them the same way. Field names and
// element ids are part of the emulator's contract (see README, "OAuth2").
'use strict';

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function page(title, body) {
  return '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<title>${esc(title)}</title>` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}' +
    'label,input,button{display:block;margin:.4em 0}' +
    '.error{color:#b00}</style></head>\n' +
    `<body>\n<h1>${esc(title)}</h1>\n${body}\n</body></html>\n`;
}

// error: { code, text } or null. code is machine readable (data-error).
function errorLine(error) {
  if (!error) return '';
  return `<p class="error" id="error" data-error="${esc(error.code)}">` +
    `${esc(error.text)}</p>\n`;
}

// The sign-in form: POST `action` with username, password and, for 2FA
// users, twoFactorCode.
function login({ title = 'DHIS2 sign in', action, client, username, error,
  hidden = {} }) {
  const extra = Object.entries(hidden).map(([k, v]) =>
    `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n');
  return page(title, `${client ? `<p>to continue to <b id="client">${esc(client)}</b></p>\n` : ''}` +
    errorLine(error) +
    `<form id="login" method="post" action="${esc(action)}">\n${extra}\n` +
    '<label for="username">Username</label>\n' +
    `<input id="username" name="username" autocomplete="username" value="${esc(username)}" autofocus>\n` +
    '<label for="password">Password</label>\n' +
    '<input id="password" name="password" type="password" autocomplete="current-password">\n' +
    '<label for="twoFactorCode">Two-factor code (if enabled)</label>\n' +
    '<input id="twoFactorCode" name="twoFactorCode" autocomplete="one-time-code">\n' +
    '<button id="submit" type="submit">Sign in</button>\n</form>');
}

// The consent page: POST `action` with decision=approve or decision=deny.
function consent({ action, client, username, scopes }) {
  const list = scopes.map((s) => `<li class="scope">${esc(s)}</li>`).join('');
  return page('Authorize access', `<p><b id="client">${esc(client)}</b> asks ` +
    `to act as <b id="user">${esc(username)}</b> on this DHIS2 server.</p>\n` +
    `<ul id="scopes">${list}</ul>\n` +
    `<form id="consent" method="post" action="${esc(action)}">\n` +
    '<button id="approve" type="submit" name="decision" value="approve">Approve</button>\n' +
    '<button id="deny" type="submit" name="decision" value="deny">Deny</button>\n' +
    '</form>');
}

// Spring Security OAuth2's (legacy) approval form, as DHIS2 <= 2.40 used:
// user_oauth_approval=true|false and one scope.X=true per scope.
function uaaApproval({ action, client, scopes }) {
  const inputs = scopes.map((s) =>
    `<input type="hidden" name="scope.${esc(s)}" value="true">`).join('\n');
  return page('OAuth Approval', `<p>Do you authorize "<b id="client">${esc(client)}</b>" ` +
    'to access your protected resources?</p>\n' +
    `<form id="confirmationForm" name="confirmationForm" action="${esc(action)}" method="post">\n` +
    `<input name="user_oauth_approval" value="true" type="hidden">\n${inputs}\n` +
    '<button id="authorize" type="submit" name="authorize" value="Authorize">Authorize</button>\n' +
    '</form>\n' +
    `<form id="denialForm" name="denialForm" action="${esc(action)}" method="post">\n` +
    '<input name="user_oauth_approval" value="false" type="hidden">\n' +
    '<button id="deny" type="submit" name="deny" value="Deny">Deny</button>\n</form>');
}

function message(title, text, status) {
  return page(title, `<p id="message"${status ? ` data-status="${esc(status)}"` : ''}>` +
    `${esc(text)}</p>`);
}

module.exports = { esc, page, login, consent, uaaApproval, message };
