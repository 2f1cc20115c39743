// The release profiles: which ones there are, how they order, and that
// each one starts and says which release it is.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { VERSIONS, RELEASES, vnum } = require('../lib/state');
const { start } = require('../support/testkit');

test('profiles order as releases do, master after every tag', () => {
  const order = VERSIONS.map(vnum);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(vnum('2.42.5') > vnum('2.42.4'));
  assert.ok(vnum('2.42.4') > vnum('2.42'));
  assert.ok(vnum('2.37.10') > vnum('2.37') && vnum('2.37.10') < vnum('2.38'));
  assert.ok(vnum('master') > vnum('2.43.1'));
});

for (const v of VERSIONS.filter((x) => vnum(x) >= vnum('2.41'))) {
  test(`profile ${v} names release ${RELEASES[v]} in loginConfig`, async () => {
    const emu = await start({ version: v });
    try {
      const r = await emu.request('/api/loginConfig');
      assert.equal(r.status, 200);
      assert.equal(r.json.apiVersion, RELEASES[v]);
    } finally {
      await emu.stop();
    }
  });
}
