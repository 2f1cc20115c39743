// DHIS2's `fields=` filter for the subset /api/me needs: names, nested
// `a[b,c]`, `*` (and the :all/:owner presets), `!name` exclusions; unknown
// names are dropped silently, as DHIS2's field filter does.
'use strict';

// "id,userGroups[id,name]" -> Map { id -> null, userGroups -> Map {...} }
function parse(spec) {
  const root = new Map();
  const stack = [root];
  let name = '';
  let lastName = null;
  const flush = () => {
    const n = name.trim();
    name = '';
    if (!n) return;
    stack[stack.length - 1].set(n, null);
    lastName = n;
  };
  for (const ch of String(spec)) {
    if (ch === ',') {
      flush();
    } else if (ch === '[' || ch === '(') {
      flush();
      const sub = new Map();
      const top = stack[stack.length - 1];
      if (lastName != null && top.has(lastName)) top.set(lastName, sub);
      stack.push(sub);
      lastName = null;
    } else if (ch === ']' || ch === ')') {
      flush();
      if (stack.length > 1) stack.pop();
      lastName = null;
    } else {
      name += ch;
    }
  }
  flush();
  return root;
}

// Keys whose value is a value object rendered whole; every other object that
// carries an `id` is a reference and collapses to { id } unless sub-fields
// were asked for.
const EMBEDDED = new Set(['userCredentials', 'settings', 'access', 'sharing']);

function isRef(v) {
  return v && typeof v === 'object' && !Array.isArray(v) && 'id' in v;
}

function renderDefault(key, v) {
  if (Array.isArray(v)) return v.map((x) => renderDefault(key, x));
  if (v && typeof v === 'object') {
    if (!EMBEDDED.has(key) && isRef(v)) return { id: v.id };
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = renderDefault(k, x);
    return o;
  }
  return v;
}

function applyTree(v, tree) {
  if (Array.isArray(v)) return v.map((x) => applyTree(x, tree));
  if (!v || typeof v !== 'object') return v;
  const all = [...tree.keys()].some((k) => k === '*' || k.startsWith(':'));
  const out = {};
  if (all) {
    for (const [k, x] of Object.entries(v)) out[k] = renderDefault(k, x);
  }
  for (const [k, sub] of tree) {
    if (k === '*' || k.startsWith(':') || k.startsWith('!')) continue;
    if (!(k in v)) continue; // unknown field: ignored
    out[k] = sub && sub.size ? applyTree(v[k], sub) : renderDefault(k, v[k]);
  }
  for (const k of tree.keys()) {
    if (k.startsWith('!')) delete out[k.slice(1)];
  }
  return out;
}

function filter(obj, spec) {
  const s = spec == null || spec === '' ? '*' : spec;
  return applyTree(obj, parse(s));
}

module.exports = { parse, filter };
