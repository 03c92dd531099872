// The editor's mask operations (www/ui/editor/mask-ops.js) in node: the parts the browser test
// cannot reach cheaply (history memory bound, several classes, edges of the image).
//
// Run: cd tests/browser && node --test editor-ops.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, changedPixels, dice, fillHoles, paintSegment } from '../../www/ui/editor/mask-ops.js';

test('a brush dot is the disc of pixel centres within the radius, clipped at the image edge', () => {
  const w = 9;
  const mask = new Uint8Array(w * w);
  const box = paintSegment(mask, w, w, 0.5, 0.5, 0.5, 0.5, 1, 3);
  // Centre pixel (0, 0) and its neighbours at distance 1: (1, 0) and (0, 1); (1, 1) is at √2.
  const set = [...mask.keys()].filter((i) => mask[i]);
  assert.deepEqual(set, [0, 1, w]);
  assert.ok(set.every((i) => mask[i] === 3));
  assert.deepEqual({ x0: box.x0, y0: box.y0 }, { x0: 0, y0: 0 });
  assert.equal(paintSegment(mask, w, w, -50, -50, -40, -40, 2, 1), null, 'a stroke outside the image paints nothing');
});

test('fill holes gives each hole the label around it and leaves background at the border', () => {
  // 7×5: a ring of 2s with a hole, a ring of 1s with a hole, background around.
  const rows = ['2220111', '2020101', '2220111', '0000000', '0000000'];
  const w = 7;
  const h = rows.length;
  const mask = Uint8Array.from(rows.join(''), Number);
  const { filled, box } = fillHoles(mask, w, h);
  assert.equal(filled, 2);
  assert.equal(mask[1 * w + 1], 2);
  assert.equal(mask[1 * w + 5], 1);
  assert.equal(mask[0 * w + 3], 0, 'the gap between the rings touches the border');
  assert.deepEqual(box, { x0: 1, y0: 1, x1: 6, y1: 2 });
});

test('undo history forgets the oldest edits past its memory bound, never the newest', () => {
  const w = 100;
  const mask = new Uint8Array(w * w);
  const history = new History({ limitBytes: 3 * 2 * w * w }); // three whole-image edits
  for (let k = 1; k <= 5; k++) {
    const before = mask.slice();
    mask.fill(k);
    assert.ok(history.record({ x0: 0, y0: 0, x1: w, y1: w }, before, mask, w));
  }
  let undos = 0;
  while (history.undo(mask, w)) undos++;
  assert.equal(undos, 3);
  assert.equal(mask[0], 2, 'undone back to the oldest edit kept');
  assert.ok(history.redo(mask, w));
  assert.equal(mask[0], 3);
  const before = mask.slice();
  assert.equal(
    history.record({ x0: 0, y0: 0, x1: w, y1: w }, before, mask, w),
    false,
    'an edit that changed nothing is not recorded',
  );
  mask[5] = 9;
  history.record({ x0: 5, y0: 0, x1: 6, y1: 1 }, before, mask, w);
  assert.equal(history.canRedo, false, 'a new edit drops what was undone');
});

test('Dice: one class by foreground, several classes averaged over those present', () => {
  const a = Uint8Array.from([0, 1, 1, 2, 2, 0]);
  const b = Uint8Array.from([0, 1, 2, 2, 2, 0]);
  assert.equal(dice(a, b, 1), 1, 'one class: any label is foreground');
  // class 1: 2·1/(2+1); class 2: 2·2/(2+3)
  assert.ok(Math.abs(dice(a, b, 3) - (2 / 3 + 4 / 5) / 2) < 1e-12);
  assert.equal(dice(new Uint8Array(4), new Uint8Array(4), 1), 1);
  assert.equal(changedPixels(a, b), 1);
});
