// The Date header of the main listener: the emulator's clock, or a fault.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../support/testkit');

let emu;
test.before(async () => { emu = await start(); });
test.after(() => emu.stop());
test.beforeEach(() => emu.reset());

function secondsOff(dateHeader) {
  return (Date.parse(dateHeader) - Date.now()) / 1000;
}

test('every reply has an HTTP date of now', async () => {
  for (const p of ['/api/me', '/api/loginConfig', '/api/ping']) {
    const r = await emu.request(p);
    assert.match(r.headers.date, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.ok(Math.abs(secondsOff(r.headers.date)) < 5, r.headers.date);
  }
});

test('the Date follows the clock offset', async () => {
  await emu.ctl('POST', '/clock', { offset_s: 86400 });
  const r = await emu.request('/api/me');
  assert.ok(Math.abs(secondsOff(r.headers.date) - 86400) < 5, r.headers.date);
  await emu.ctl('POST', '/clock', { offset_s: -3600 });
  const b = await emu.request('/api/me');
  assert.ok(Math.abs(secondsOff(b.headers.date) + 3600) < 5, b.headers.date);
});

test('a fault reply has the Date too', async () => {
  await emu.ctl('POST', '/clock', { offset_s: 600 });
  await emu.ctl('POST', '/fault', { mode: 'status', code: 503 });
  const r = await emu.request('/api/me');
  assert.equal(r.status, 503);
  assert.ok(Math.abs(secondsOff(r.headers.date) - 600) < 5, r.headers.date);
});

test('date fault: a value replaces the Date, the answer stays', async () => {
  await emu.ctl('POST', '/fault', { mode: 'date', value: 'not a date' });
  const r = await emu.request('/api/me', { auth: ['admin', 'district'] });
  assert.equal(r.status, 200);
  assert.equal(r.headers.date, 'not a date');
});

test('date fault without a value: no Date at all', async () => {
  await emu.ctl('POST', '/fault', { mode: 'date' });
  const r = await emu.request('/api/me');
  assert.equal(r.status, 401);
  assert.equal(r.headers.date, undefined);
});

test('date fault refuses a value with a line break', async () => {
  const r = await emu.ctl('POST', '/fault', { mode: 'date', value: 'x\r\nY: 1' });
  assert.equal(r.status, 400);
});
