// Small HTTP helpers shared by the DHIS2 handlers, the sink and the control API.
'use strict';

const STATUS_TEXT = {
  200: 'OK',
  302: 'Found',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

// Reads the whole request body, up to `limit` bytes (the rest is drained and
// dropped so a huge upload cannot exhaust memory). Resolves to a Buffer.
function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      if (size < limit) chunks.push(c.subarray(0, limit - size));
      size += c.length;
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '', 'utf8');
  const all = { 'Content-Length': buf.length, ...headers };
  // Cookies added earlier in the request (addCookie) stay beside these.
  const earlier = res.getHeader('Set-Cookie');
  if (earlier != null && headers['Set-Cookie'] != null) {
    all['Set-Cookie'] = [].concat(earlier, headers['Set-Cookie']);
  }
  res.writeHead(status, all);
  res.end(buf);
}

// Adds a Set-Cookie line to the reply being built, keeping earlier ones.
function addCookie(res, cookie) {
  const earlier = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', earlier == null ? [cookie]
    : [].concat(earlier, cookie));
}

function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj), {
    'Content-Type': 'application/json;charset=UTF-8',
    ...headers,
  });
}

// DHIS2's WebMessage as its Jackson mapper writes it: null members omitted.
function webMessage(code, message) {
  const m = {
    httpStatus: STATUS_TEXT[code] || String(code),
    httpStatusCode: code,
    status: 'ERROR',
  };
  if (message != null) m.message = message;
  return m;
}

function sendWebMessage(res, code, message, headers = {}) {
  sendJson(res, code, webMessage(code, message), headers);
}

// Parses a Cookie header into a name -> value map (first value wins, as
// servlet containers do for JSESSIONID).
function parseCookies(header) {
  const out = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

// Records a request in the shape the control API returns: lower-case header
// names with full values, the body as text cut to 4 KiB.
function recordOf(req, body) {
  return {
    method: req.method,
    path: req.url,
    headers: { ...req.headers },
    body: body.subarray(0, 4096).toString('utf8'),
    body_length: body.length,
  };
}

module.exports = {
  STATUS_TEXT,
  readBody,
  send,
  addCookie,
  sendJson,
  webMessage,
  sendWebMessage,
  parseCookies,
  recordOf,
};
