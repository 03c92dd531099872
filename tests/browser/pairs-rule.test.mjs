// The page's held-back rule (www/ui/pairs.js, heldOutKeys) is the core's (src/app/held_out.rs,
// which `tinyunet fine-tune` uses): both are pinned to the same table, so a clinic's run in the
// page and its native reproduction hold back the same pairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { heldOutKeys } from '../../www/ui/pairs.js';

// Pairs held back, as indices into the names sorted: the table of held_out.rs's test.
const TABLE = {
  0: [],
  1: [],
  2: [1],
  5: [2],
  8: [2, 6],
  10: [1, 3, 5, 7, 9],
  20: [2, 6, 10, 14, 18],
  30: [2, 7, 12, 17, 22, 27],
};

test('the page holds back the pairs the core does', () => {
  for (const [n, expected] of Object.entries(TABLE)) {
    const names = Array.from({ length: Number(n) }, (_, i) => `p${String(i).padStart(2, '0')}`);
    // Given in reverse: the rule sorts by name itself.
    const held = heldOutKeys([...names].reverse());
    assert.deepEqual(
      names.map((name, i) => (held.has(name) ? i : -1)).filter((i) => i >= 0),
      expected,
      `${n} pairs`,
    );
  }
});
