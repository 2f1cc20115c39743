// Fault switches for the main listener: what a sick server or a hostile
// network path does to a client (slow, cut off, 5xx, redirected, flooded,
// garbled, a Date header missing or unreadable).
'use strict';

const h = require('./http');

const MODES = ['delay', 'close', 'status', 'redirect', 'huge', 'malformed',
  'date'];

// Checks a fault spec from the control API; returns an error text or null.
function validate(f) {
  if (!f || !MODES.includes(f.mode)) return `mode must be one of ${MODES}`;
  if (f.mode === 'delay' && !(Number.isInteger(f.ms) && f.ms >= 0)) {
    return 'delay needs ms >= 0';
  }
  // 403: what a web application firewall or proxy in front answers.
  if (f.mode === 'status' && ![403, 500, 502, 503].includes(f.code)) {
    return 'status needs code 403, 500, 502 or 503';
  }
  if (f.mode === 'huge' && f.bytes != null &&
      !(Number.isInteger(f.bytes) && f.bytes > 0)) {
    return 'huge needs bytes > 0';
  }
  if (f.mode === 'date' && f.value != null &&
      !(typeof f.value === 'string' && /^[\x20-\x7e]*$/.test(f.value))) {
    return 'date needs value: printable ASCII text, or none to send no Date';
  }
  if (f.path != null && typeof f.path !== 'string') return 'path is a prefix';
  if (f.times != null && !(Number.isInteger(f.times) && f.times > 0)) {
    return 'times must be > 0';
  }
  return null;
}

// Applies the armed fault to this request if it matches. Resolves to true
// when the reply has been dealt with (or deliberately not given).
async function apply(ctx) {
  const { state, req, res, path } = ctx;
  const f = state.fault;
  if (!f) return false;
  if (f.path && !path.startsWith(f.path)) return false;
  if (f.remaining != null) {
    if (f.remaining <= 0) return false;
    f.remaining--;
  }
  switch (f.mode) {
    case 'delay':
      await new Promise((r) => setTimeout(r, f.ms));
      return res.destroyed; // then answer normally
    case 'date':
      if (f.value == null) {
        res.removeHeader('Date');
        res.sendDate = false;
      } else {
        res.setHeader('Date', f.value);
      }
      return false; // then answer normally
    case 'close':
      req.socket.destroy();
      return true;
    case 'status':
      if (f.code === 500) {
        h.sendWebMessage(res, 500, 'Internal server error');
      } else {
        const text = h.STATUS_TEXT[f.code];
        h.send(res, f.code,
          `<html>\r\n<head><title>${f.code} ${text}</title></head>\r\n` +
          `<body>\r\n<center><h1>${f.code} ${text}</h1></center>\r\n` +
          '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
          { 'Content-Type': 'text/html', Server: 'nginx' });
      }
      return true;
    case 'redirect':
      h.send(res, 302, '', { Location: `${ctx.sinkBase}${req.url}` });
      return true;
    case 'huge':
      huge(res, f.bytes || 2 * 1024 * 1024, !!f.chunked);
      return true;
    case 'malformed':
      h.send(res, 200, '{"id":"xE7jOejl9FI","username":"adm',
        { 'Content-Type': 'application/json;charset=UTF-8' });
      return true;
    default:
      return false;
  }
}

// A valid JSON object a little larger than `bytes`, with Content-Length or
// chunked, written in slices so memory stays flat.
function huge(res, bytes, chunked) {
  const head = '{"id":"xE7jOejl9FI","username":"admin","padding":"';
  const tail = '"}';
  const pad = bytes + 1 - head.length - tail.length;
  const n = Math.max(pad, 1);
  const headers = { 'Content-Type': 'application/json;charset=UTF-8' };
  if (!chunked) headers['Content-Length'] = head.length + n + tail.length;
  res.writeHead(200, headers);
  res.write(head);
  const slice = Buffer.alloc(64 * 1024, 'a');
  let left = n;
  const pump = () => {
    while (left > 0) {
      const part = slice.subarray(0, Math.min(left, slice.length));
      left -= part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  res.on('close', () => { left = 0; });
  pump();
}

module.exports = { validate, apply, MODES };
