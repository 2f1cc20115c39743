#!/usr/bin/env node
// Makes DHIS2 Personal Access Tokens (V1 d2pat_ or V2 d2p_) with the
// checksum DHIS2 2.41+ accepts, and prints the fixture entry for each.
//
//   node tools/mkpat.js --v1|--v2 [--code CODE] [--id UID] [--expire MS]
//                       [--ip A.B.C.D]... [--method POST]... [--plain-crc]
//
// --plain-crc makes a V1 token the way DHIS2 2.37-2.40 did (CRC32 over the
// code bytes alone): 2.41+ rejects those with "Checksum validation failed".
'use strict';

const crypto = require('node:crypto');
const pat = require('../lib/pat');

const UID_CHARS =
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// DHIS2 UIDs: 11 characters, the first a letter.
function uid() {
  let s = UID_CHARS[crypto.randomInt(0, 52)];
  while (s.length < 11) s += UID_CHARS[crypto.randomInt(0, UID_CHARS.length)];
  return s;
}

function main(argv) {
  let version = 2;
  let code = null;
  let id = null;
  let expire = Date.UTC(2099, 0, 1);
  const ips = [];
  const methods = [];
  let plain = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--v1') version = 1;
    else if (a === '--v2') version = 2;
    else if (a === '--code') code = argv[++i];
    else if (a === '--id') id = argv[++i];
    else if (a === '--expire') expire = Number(argv[++i]);
    else if (a === '--ip') ips.push(argv[++i]);
    else if (a === '--method') methods.push(argv[++i].toUpperCase());
    else if (a === '--plain-crc') plain = true;
    else {
      process.stderr.write(`unknown option ${a}\n`);
      return 2;
    }
  }
  let token = pat.makeToken(version, code);
  if (plain) {
    if (version !== 1) {
      process.stderr.write('--plain-crc is for V1 tokens\n');
      return 2;
    }
    const body = token.slice(6, 38);
    token = `d2pat_${body}${String(pat.crc32(Buffer.from(body))).padStart(10, '0')}`;
  }
  const entry = {
    id: id || uid(),
    token,
    key: pat.hashToken(token),
    expire,
  };
  if (ips.length) entry.allowedIps = ips;
  if (methods.length) entry.allowedMethods = methods;
  process.stdout.write(`${JSON.stringify(entry, null, 2)}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
