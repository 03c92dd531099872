// The demo's mask editor, end to end in headless Chromium (CPU backend, 64 px network): strokes
// drawn with a real mouse, a pen and a finger (Chromium's input pipeline, through CDP) give exactly
// the pixels the test computes on its own; undo/redo, fill holes and "back to the model's mask"
// too; the downloaded PNG holds them. Corrected pairs train, survive a reload with the weights,
// and go out as a zip and come back identical. Keyboard-only use, phone width, multi-class brush.
//
// Run: cd tests/browser && node --test --test-concurrency=1 editor.test.mjs  (needs ./build.sh pkg)

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  startServer,
  demoServerOptions,
  launchBrowser,
  startRecordingProxy,
  withPage,
  newWeightsInPage,
  cameraJpegInPage,
  inflatePng,
  screenshotFolder,
} from './harness.mjs';
import { readZip } from '../../www/ui/zip.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SLOW = 900_000;
const QUERY = '?size=64&backend=cpu';

const screenshot = screenshotFolder('editor');

function server() {
  assert.ok(
    fs.existsSync(path.join(ROOT, 'pkg/wasm/tinyunet_cpu.js')),
    'pkg/wasm/ is missing: build the package first (./build.sh pkg)',
  );
  return demoServerOptions();
}

// ---------------------------------------------------------------------------------------------
// What the page must produce, computed here without the page's code
// ---------------------------------------------------------------------------------------------

/** An 8-bit greyscale PNG (the page writes filter 0 rows) as `{ width, height, pixels }`. */
function decodeGrey(buffer) {
  const { width, height, bitDepth, colourType, raw } = inflatePng(buffer);
  assert.deepEqual([bitDepth, colourType], [8, 0], 'not 8-bit greyscale');
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width + 1)], 0, 'row filter');
    pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, pixels };
}

/** Labels from a one-class mask file (0/255). */
const labelsOf = (png) => png.pixels.map((v) => (v >= 128 ? 1 : 0));

/** Every pixel whose centre is within r of the segment a→b takes `label` (brute force). */
function capsule(mask, width, height, a, b, r, label) {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const l2 = dx * dx + dy * dy;
      const t = l2 > 0 ? Math.min(1, Math.max(0, ((px - a.x) * dx + (py - a.y) * dy) / l2)) : 0;
      const ex = px - (a.x + t * dx);
      const ey = py - (a.y + t * dy);
      if (ex * ex + ey * ey <= r * r) mask[y * width + x] = label;
    }
  }
}

/** A polyline stroke: its first point, then each segment. */
function stroke(mask, width, height, points, r, label) {
  capsule(mask, width, height, points[0], points[0], r, label);
  for (let i = 1; i < points.length; i++) capsule(mask, width, height, points[i - 1], points[i], r, label);
}

/** Holes (background not 4-connected to the border) filled with 1 (one class). */
function filled(mask, width, height) {
  const out = mask.slice();
  const seen = new Uint8Array(mask.length);
  const queue = [];
  for (let i = 0; i < mask.length; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    if ((x === 0 || y === 0 || x === width - 1 || y === height - 1) && mask[i] === 0) {
      seen[i] = 1;
      queue.push(i);
    }
  }
  while (queue.length) {
    const i = queue.shift();
    const x = i % width;
    for (const j of [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, i - width, i + width]) {
      if (j >= 0 && j < mask.length && !seen[j] && mask[j] === 0) {
        seen[j] = 1;
        queue.push(j);
      }
    }
  }
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0 && !seen[i]) out[i] = 1;
  return out;
}

/** Foreground Dice of two masks (any non-zero value is lesion). */
function diceOf(a, b) {
  let both = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] ? 1 : 0, b[i] ? 1 : 0];
    both += x & y;
    sum += x + y;
  }
  return sum ? (2 * both) / sum : 1;
}

function assertSameMask(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: size`);
  let differ = 0;
  let first = -1;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      differ++;
      if (first < 0) first = i;
    }
  }
  assert.equal(
    differ,
    0,
    `${what}: ${differ} pixels differ (first at index ${first}: page ${actual[first]}, expected ${expected[first]})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Page helpers
// ---------------------------------------------------------------------------------------------

async function openDemo(page, url, query = QUERY) {
  await page.goto(url + query);
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.model), null, {
    timeout: 300_000,
  });
  assert.equal(
    await page.evaluate(() => document.body.dataset.model),
    'ready',
    await page.locator('#notices').innerText(),
  );
  await page.waitForFunction(() => document.body.dataset.annotations === 'restored');
}

async function segmentSample(page, label, name) {
  await page.getByRole('button', { name: `Segment ${label}` }).click();
  const card = page.locator(`.card[data-name="${name}"]`);
  await card.and(page.locator('[data-state="done"]')).waitFor({ timeout: 300_000 });
  return card;
}

async function openEditor(page, card) {
  await card.locator('.card-actions button', { hasText: /Correct mask|Edit mask/ }).click();
  await page.locator('#editor[data-ready="true"]').waitFor();
}

async function download(page, locator) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), locator.click()]);
  return { name: dl.suggestedFilename(), buffer: fs.readFileSync(await dl.path()) };
}

/** The editor's mask now, as the PNG it downloads. */
async function editorMask(page) {
  return decodeGrey((await download(page, page.locator('#editor-download'))).buffer);
}

/**
 * Where image point (x, y) is on screen, and the image point the editor will compute back from
 * that (integer client coordinates, as a mouse gives): the page's own transform, read from the
 * canvas (its box, and the scale and offset it drew with).
 */
async function mapper(page) {
  const v = await page.locator('#editor-canvas').evaluate((c) => {
    const r = c.getBoundingClientRect();
    return {
      left: r.left,
      top: r.top,
      scale: Number(c.dataset.scale),
      tx: Number(c.dataset.tx),
      ty: Number(c.dataset.ty),
    };
  });
  return (x, y) => {
    const cx = Math.round(v.left + v.tx + x * v.scale);
    const cy = Math.round(v.top + v.ty + y * v.scale);
    return { cx, cy, x: (cx - v.left - v.tx) / v.scale, y: (cy - v.top - v.ty) / v.scale };
  };
}

/** A mouse stroke through `points` (from `mapper`), one move per point. */
async function drag(page, points) {
  await page.mouse.move(points[0].cx, points[0].cy);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(p.cx, p.cy);
  await page.mouse.up();
}

/** Waits for the editor to have drawn the latest change (a frame after the stroke). */
const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

// ---------------------------------------------------------------------------------------------

describe('mask editor', () => {
  test(
    'mouse, pen and touch strokes, eraser, undo/redo, fill holes, back to the model: exactly the pixels drawn; keyboard; phone width',
    { timeout: SLOW },
    async (t) => {
      await withPage(
        async ({ page, url, context, console: log }) => {
          await page.setViewportSize({ width: 1280, height: 800 });
          await openDemo(page, url);
          const card = await segmentSample(page, 'Generated 1', 'sample-1.jpg');
          const fromCard = labelsOf(
            decodeGrey((await download(page, card.locator('text=Download mask (PNG)'))).buffer),
          );
          // Opened from the keyboard.
          await card.locator('button', { hasText: 'Correct mask' }).focus();
          await page.keyboard.press('Enter');
          await page.locator('#editor[data-ready="true"]').waitFor();
          await screenshot(page, 'editor-1280x800-fit', t);
          assert.match(await page.locator('#editor-status').innerText(), /The model's mask, unchanged · 320×320/);
          const start = await editorMask(page);
          assert.deepEqual([start.width, start.height], [320, 320]);
          const W = 320;
          const H = 320;
          let expected = labelsOf(start);
          const model = expected.slice();
          assertSameMask(expected, fromCard, 'card and editor start from the same mask');

          // 1:1, brush 12 px (radius 6), in image pixels.
          await page.click('#editor-actual');
          await page.locator('#editor-size').fill('12');
          assert.equal(await page.locator('#editor-size-value').innerText(), '12 px');
          await settle(page);
          const at = await mapper(page);
          const history = [expected.slice()];
          await page.locator('#editor-canvas').evaluate((c) => {
            window.pointerTypes = [];
            c.addEventListener('pointerdown', (e) => window.pointerTypes.push(e.pointerType));
          });

          // A mouse stroke in three points.
          const m = [at(30, 40), at(120, 52), at(150, 140)];
          await drag(page, m);
          stroke(expected, W, H, m, 6, 1);
          history.push(expected.slice());
          assertSameMask(labelsOf(await editorMask(page)), expected, 'mouse stroke');
          // What is shown is where it was drawn: under the stroke the screen is tinted with the
          // lesion's colour on the model's card (its legend's swatch), beside it is skin, further
          // from that colour. Read from the editor's canvas.
          await settle(page);
          const lesion = (
            await page
              .locator('#model-card-facts .swatch-class')
              .first()
              .evaluate((n) => getComputedStyle(n).backgroundColor)
          )
            .match(/\d+/g)
            .slice(0, 3)
            .map(Number);
          const shown = (p) =>
            page.locator('#editor-canvas').evaluate((c, p) => {
              const r = c.getBoundingClientRect();
              const k = c.width / r.width;
              const d = c
                .getContext('2d')
                .getImageData(Math.floor((p.cx - r.left) * k), Math.floor((p.cy - r.top) * k), 1, 1).data;
              return [d[0], d[1], d[2]];
            }, p);
          const distance = (c) => Math.hypot(...c.map((v, i) => v - lesion[i]));
          const under = await shown(at(75, 46));
          const beside = await shown(at(75, 70));
          assert.ok(expected[70 * W + 75] === 0, 'the point beside the stroke is in the mask');
          assert.ok(
            distance(under) + 40 < distance(beside),
            `not drawn under the stroke, or drawn beside it: ${JSON.stringify({ lesion, under, beside })}`,
          );

          // The eraser (by its key), across the stroke and the lesion.
          await page.keyboard.press('e');
          assert.equal(await page.locator('input[name="editor-tool"][value="eraser"]').isChecked(), true);
          const e = [at(60, 20), at(200, 230)];
          await drag(page, e);
          stroke(expected, W, H, e, 6, 0);
          history.push(expected.slice());
          assertSameMask(labelsOf(await editorMask(page)), expected, 'eraser stroke');

          // A pen, then a finger: Chromium's own input pipeline (CDP), pointerType pen and touch.
          await page.keyboard.press('b');
          const cdp = await context.newCDPSession(page);
          const p = [at(250, 40), at(280, 120)];
          await cdp.send('Input.dispatchMouseEvent', {
            type: 'mouseMoved',
            x: p[0].cx,
            y: p[0].cy,
            pointerType: 'pen',
          });
          await cdp.send('Input.dispatchMouseEvent', {
            type: 'mousePressed',
            x: p[0].cx,
            y: p[0].cy,
            button: 'left',
            buttons: 1,
            clickCount: 1,
            pointerType: 'pen',
          });
          await cdp.send('Input.dispatchMouseEvent', {
            type: 'mouseMoved',
            x: p[1].cx,
            y: p[1].cy,
            button: 'left',
            buttons: 1,
            pointerType: 'pen',
          });
          await cdp.send('Input.dispatchMouseEvent', {
            type: 'mouseReleased',
            x: p[1].cx,
            y: p[1].cy,
            button: 'left',
            buttons: 0,
            clickCount: 1,
            pointerType: 'pen',
          });
          stroke(expected, W, H, p, 6, 1);
          history.push(expected.slice());
          assertSameMask(labelsOf(await editorMask(page)), expected, 'pen stroke');

          await page.locator('#editor-size').fill('8');
          const f = [at(20, 280), at(90, 300), at(140, 260)];
          await cdp.send('Input.dispatchTouchEvent', {
            type: 'touchStart',
            touchPoints: [{ x: f[0].cx, y: f[0].cy, id: 1 }],
          });
          await cdp.send('Input.dispatchTouchEvent', {
            type: 'touchMove',
            touchPoints: [{ x: f[1].cx, y: f[1].cy, id: 1 }],
          });
          await cdp.send('Input.dispatchTouchEvent', {
            type: 'touchMove',
            touchPoints: [{ x: f[2].cx, y: f[2].cy, id: 1 }],
          });
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          stroke(expected, W, H, f, 4, 1);
          history.push(expected.slice());
          assertSameMask(labelsOf(await editorMask(page)), expected, 'touch stroke');
          assert.deepEqual(
            await page.evaluate(() => window.pointerTypes),
            ['mouse', 'mouse', 'pen', 'touch'],
            'the strokes came as these pointer types',
          );

          // Undo twice (keyboard), redo once (keyboard), then the buttons.
          await page.keyboard.press('Control+z');
          await page.keyboard.press('Control+z');
          assertSameMask(labelsOf(await editorMask(page)), history[2], 'two undos');
          await page.keyboard.press('Control+Shift+z');
          assertSameMask(labelsOf(await editorMask(page)), history[3], 'redo');
          await page.click('#editor-redo');
          assertSameMask(labelsOf(await editorMask(page)), history[4], 'redo button');
          await page.click('#editor-undo');
          await page.click('#editor-undo');
          await page.click('#editor-undo');
          await page.click('#editor-undo');
          assertSameMask(labelsOf(await editorMask(page)), history[0], 'undo to the start');
          assert.equal(await page.locator('#editor-undo').isDisabled(), true);
          await page.keyboard.press('Control+y');
          await page.keyboard.press('Control+y');
          expected = history[2].slice();
          assertSameMask(labelsOf(await editorMask(page)), expected, 'Ctrl+Y redoes');

          // A hole in the lesion (a dot erased inside the mouse stroke), then Fill holes.
          await page.keyboard.press('e');
          await page.locator('#editor-size').fill('4');
          const hole = [at(75, 46)];
          await drag(page, hole);
          stroke(expected, W, H, hole, 2, 0);
          assertSameMask(labelsOf(await editorMask(page)), expected, 'a dot erased');
          await page.click('#editor-fill');
          expected = filled(expected, W, H);
          assertSameMask(labelsOf(await editorMask(page)), expected, 'holes filled');

          // Back to the model's mask, and Undo brings the edits back.
          await page.click('#editor-reset');
          assertSameMask(labelsOf(await editorMask(page)), model, "back to the model's mask");
          await page.click('#editor-undo');
          assertSameMask(labelsOf(await editorMask(page)), expected, 'undo after back to the model');
          assert.match(
            await page.locator('#editor-status').innerText(),
            /pixels changed from the model's mask \(Dice 0\.\d{3} between them\)/,
          );

          // Zoom and pan keep strokes where they are drawn: 2×, moved, then one more stroke.
          await page.keyboard.press('b');
          await page.locator('#editor-canvas').focus();
          await page.keyboard.press('+');
          await page.keyboard.press('ArrowLeft');
          await settle(page);
          assert.equal(await page.locator('#editor-zoom').innerText(), '150%');
          const zoomed = await mapper(page);
          const z = [zoomed(100, 200), zoomed(180, 190)];
          await page.locator('#editor-size').fill('10');
          await drag(page, z);
          stroke(expected, W, H, z, 5, 1);
          assertSameMask(labelsOf(await editorMask(page)), expected, 'stroke at 150%, moved');

          // Keyboard only: [ and ] size the brush; Tab reaches every control with a visible focus;
          // Enter on "Add to fine-tuning" adds the pair; Esc closes and focus returns to the card.
          await page.locator('#editor-canvas').focus();
          await page.keyboard.press(']');
          assert.equal(await page.locator('#editor-size-value').innerText(), '12 px');
          await page.keyboard.press('[');
          assert.equal(await page.locator('#editor-size-value').innerText(), '10 px');
          await page.locator('#editor-close').focus();
          const reached = [];
          for (let i = 0; i < 40; i++) {
            await page.keyboard.press('Tab');
            const f = await page.evaluate(() => {
              const a = document.activeElement;
              const label = a.getAttribute('aria-label') || a.labels?.[0]?.textContent.trim() || a.textContent.trim();
              return { id: a.id, label, visible: a.matches(':focus-visible'), inDialog: Boolean(a.closest('#editor')) };
            });
            assert.ok(f.inDialog, `focus left the open dialog: ${JSON.stringify(f)}`);
            assert.ok(f.visible, `no visible focus on ${JSON.stringify(f)}`);
            assert.ok(f.label, `a control without a label: ${JSON.stringify(f)}`);
            reached.push(f.id || f.label);
            if (f.id === 'editor-add') break;
          }
          // Every enabled control of the dialog on the way (Redo is disabled: nothing is undone).
          const controls = await page
            .locator('#editor')
            .evaluate((d) =>
              [...d.querySelectorAll('button:not(:disabled), input:not(:disabled), select, canvas')]
                .filter(
                  (e) =>
                    e.checkVisibility() &&
                    !(e.type === 'radio' && !e.checked) &&
                    e.id !== 'editor-close' &&
                    e.id !== 'editor-download',
                )
                .map((e) => e.id || e.labels?.[0]?.textContent.trim()),
            );
          assert.ok(controls.length >= 12, `controls: ${controls}`);
          for (const id of controls) assert.ok(reached.includes(id), `Tab never reached ${id}: ${reached.join(', ')}`);
          await page.keyboard.press('Enter');
          await page.locator('#editor-add:disabled').waitFor();
          assert.equal(await page.locator('#editor-add').innerText(), 'In the fine-tuning set');
          await screenshot(page, 'editor-1280x800-edited', t);

          // Phone width: the editor fills the screen and nothing is wider than it.
          await page.setViewportSize({ width: 390, height: 844 });
          await page.click('#editor-fit');
          await settle(page);
          const overflow = await page
            .locator('#editor')
            .evaluate((d) =>
              [...d.querySelectorAll('*')]
                .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && e.checkVisibility())
                .map((e) => e.id || e.className || e.tagName),
            );
          assert.deepEqual(overflow, [], 'wider than a phone');
          await screenshot(page, 'editor-390x844', t);
          await page.setViewportSize({ width: 1280, height: 800 });

          await page.keyboard.press('Escape');
          await page.locator('#editor').waitFor({ state: 'hidden' });
          assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Edit mask');
          // The card shows the corrected mask, tagged, and downloads it; the pair is in the table.
          assert.equal(await card.getAttribute('data-corrected'), 'true');
          assert.match(await card.locator('.card-tags').innerText(), /corrected by hand\s*in the fine-tuning set/);
          assertSameMask(
            labelsOf(decodeGrey((await download(page, card.locator('text=Download mask (PNG)'))).buffer)),
            expected,
            'the card downloads the corrected mask',
          );
          await page.locator('#pairs-body tr[data-corrected="true"]').waitFor();
          assert.match(await page.locator('#pairs-summary').innerText(), /1 pair ready · 1 corrected by hand/);
          assert.deepEqual(log.errors, [], log.format());

          // The tab crashes: what was saved as it changed is all there in a new tab.
          await page.waitForFunction(() => document.body.dataset.annotationsSaved === 'saved');
          const crashed = new Promise((resolve) => page.once('crash', resolve));
          const cdp2 = await context.newCDPSession(page);
          cdp2.send('Page.crash').catch(() => {});
          await crashed;
          const fresh = await context.newPage();
          await openDemo(fresh, url);
          await fresh.locator('#pairs-body tr[data-corrected="true"]').waitFor();
          const back = fresh.locator('.card[data-name="sample-1.jpg"][data-corrected="true"]');
          assertSameMask(
            labelsOf(decodeGrey((await download(fresh, back.locator('text=Download mask (PNG)'))).buffer)),
            expected,
            'after the tab crashed',
          );
        },
        { server: server(), timeout: 300_000 },
      );
    },
  );

  test(
    'corrected pairs train; pairs, edits and weights survive a reload; export, clear, import gives identical masks; nothing leaves the origin',
    { timeout: SLOW },
    async (t) => {
      const proxy = await startRecordingProxy();
      const srv = await startServer(server());
      const browser = await launchBrowser({ proxy: { server: proxy.server } });
      try {
        await withPage(
          async ({ page, url, console: log, requests }) => {
            await page.setViewportSize({ width: 1280, height: 800 });
            await openDemo(page, url);
            // Two results corrected by a stroke each and added to the fine-tuning set.
            const masks = {};
            const modelMasks = {};
            for (const [label, name, from, to] of [
              ['Generated 2', 'sample-2.jpg', [40, 40], [200, 120]],
              ['Real photo 1', 'isic-0010018.jpg', [30, 30], [90, 200]],
            ]) {
              const card = await segmentSample(page, label, name);
              modelMasks[name] = decodeGrey(
                (await download(page, card.locator('text=Download mask (PNG)'))).buffer,
              ).pixels;
              await openEditor(page, card);
              await page.click('#editor-actual');
              await page.locator('#editor-size').fill('16');
              await settle(page);
              const at = await mapper(page);
              const [a, b] = [at(...from), at(...to)];
              await drag(page, [a, b]);
              await page.click('#editor-add');
              masks[name] = (await editorMask(page)).pixels;
              await page.click('#editor-close');
            }
            await page.waitForFunction(
              () => document.querySelectorAll('#pairs-body tr[data-corrected="true"]').length === 2,
            );
            assert.match(
              await page.locator('#pairs-summary').innerText(),
              /2 pairs ready · 2 corrected by hand · 1 held back/,
            );

            // "Review the least certain first": a third result, then the order by doubt.
            await segmentSample(page, 'Generated 5', 'sample-5.jpg');
            const order = () =>
              page
                .locator('#results > .card')
                .evaluateAll((cards) => cards.map((c) => ({ name: c.dataset.name, doubt: Number(c.dataset.doubt) })));
            const newest = await order();
            assert.deepEqual(
              newest.map((c) => c.name),
              ['sample-5.jpg', 'isic-0010018.jpg', 'sample-2.jpg'],
            );
            await page.selectOption('#sort-results', 'doubt');
            const byDoubt = await order();
            assert.deepEqual(
              byDoubt,
              [...newest].sort((a, b) => b.doubt - a.doubt),
              'not ordered by doubt',
            );
            assert.notDeepEqual(byDoubt, newest, 'pick samples whose doubt order is not the newest-first order');
            t.diagnostic(`by doubt: ${byDoubt.map((c) => `${c.name} ${c.doubt.toFixed(3)}`).join(', ')}`);
            await page.selectOption('#sort-results', 'newest');
            assert.deepEqual(await order(), newest);
            await page.locator('.card[data-name="sample-5.jpg"] button', { hasText: 'Remove' }).click();

            // One short epoch; then every result is made again with the new weights and says what changed.
            await page.locator('#epochs').fill('1');
            await page.click('#train-start');
            await page.locator('#train-result').waitFor({ state: 'visible', timeout: SLOW });
            const result = await page.locator('#train-result').innerText();
            t.diagnostic(`training: ${result}`);
            if (/did not improve/.test(result)) {
              // Taking the run's weights anyway is the same as a run that kept them.
              await page.click('#train-use-last');
              await page.locator('#train-result .ok').waitFor();
            }
            for (const name of Object.keys(masks)) {
              await page.locator(`.card[data-name="${name}"] .card-change`).waitFor({ timeout: 300_000 });
              const change = await page.locator(`.card[data-name="${name}"] .card-change`).innerText();
              const [, was] =
                change.match(/^Model vs your mask: Dice (\d\.\d{3}) → \d\.\d{3} \([+−]\d\.\d{3}\)$/) ?? [];
              assert.ok(was, `the change line: ${change}`);
              // "Before" is the model's mask before the run against the user's, as computed here.
              assert.equal(was, diceOf(modelMasks[name], masks[name]).toFixed(3), `${name}: ${change}`);
              t.diagnostic(`${name}: ${change}`);
            }
            await page.waitForFunction(() => document.querySelectorAll('.card[data-state="done"]').length === 2, null, {
              timeout: 300_000,
            });
            // The corrections are not overwritten by the new model masks.
            for (const [name, pixels] of Object.entries(masks)) {
              const card = page.locator(`.card[data-name="${name}"]`);
              assertSameMask(
                decodeGrey((await download(page, card.locator('text=Download mask (PNG)'))).buffer).pixels,
                pixels,
                `${name} after training`,
              );
            }
            const weightsBefore = await page.locator('#weights-info').innerText();
            assert.match(weightsBefore, /fine-tuned/);
            await page.waitForFunction(() => document.body.dataset.annotationsSaved === 'saved');

            // Reload: the pairs, the corrected masks (with their results) and the weights are back.
            await page.reload();
            await openDemo(page, url);
            await page.waitForFunction(
              () => document.querySelectorAll('#pairs-body tr[data-corrected="true"]').length === 2,
            );
            assert.equal(await page.locator('.card[data-corrected="true"]').count(), 2);
            assert.equal(await page.locator('#weights-info').innerText(), weightsBefore);
            for (const [name, pixels] of Object.entries(masks)) {
              const card = page.locator(`.card[data-name="${name}"]`);
              assertSameMask(
                decodeGrey((await download(page, card.locator('text=Download mask (PNG)'))).buffer).pixels,
                pixels,
                `${name} after a reload`,
              );
            }
            // A cancelled run leaves the pairs and their masks as they were.
            await page.locator('#epochs').fill('50');
            await page.click('#train-start');
            await page.waitForFunction(() => Number(document.querySelector('#train-chart').dataset.points) >= 1, null, {
              timeout: SLOW,
            });
            await page.click('#train-cancel');
            await page.locator('#train-start').waitFor({ state: 'visible', timeout: SLOW });
            assert.equal(
              await page.locator('#pairs-body tr[data-corrected="true"]').count(),
              2,
              'a cancelled run lost pairs',
            );
            // Still editable after the reload: the editor opens on the stored mask.
            await openEditor(page, page.locator('.card[data-name="sample-2.jpg"]'));
            assertSameMask((await editorMask(page)).pixels, masks['sample-2.jpg'], 'the editor after a reload');
            await page.click('#editor-close');

            // Export: a zip in the CLI's layout with a manifest.
            const exported = await download(page, page.locator('#export-pairs'));
            assert.match(exported.name, /^tinyunet-pairs-\d{4}-\d{2}-\d{2}\.zip$/);
            const entries = await readZip(exported.buffer);
            const names = entries.map((e) => e.name).sort();
            assert.deepEqual(names, [
              'annotations.json',
              'images/isic-0010018.jpg',
              'images/sample-2.jpg',
              'masks/isic-0010018_segmentation.png',
              'masks/sample-2_segmentation.png',
            ]);
            const zipMask = (n) => decodeGrey(Buffer.from(entries.find((e) => e.name === n).data)).pixels;
            assertSameMask(zipMask('masks/sample-2_segmentation.png'), masks['sample-2.jpg'], 'exported mask');
            assert.deepEqual(
              Buffer.from(entries.find((e) => e.name === 'images/sample-2.jpg').data),
              fs.readFileSync(path.join(ROOT, 'www/samples/sample-2.jpg')),
              'the exported image is the original file',
            );
            // Unzipped, it is a folder the command-line tool reads as it is (built by `cargo test --features cli`).
            const unzipped = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-export-'));
            for (const e of entries) {
              fs.mkdirSync(path.dirname(path.join(unzipped, e.name)), { recursive: true });
              fs.writeFileSync(path.join(unzipped, e.name), e.data);
            }
            const cli = process.env.TINYUNET_BIN ?? path.join(ROOT, 'target/debug/tinyunet');
            assert.ok(
              fs.existsSync(cli),
              `${cli} is missing: build it with cargo build --features cli (./build.sh test does)`,
            );
            const scored = execFileSync(
              cli,
              [
                'eval',
                '--images',
                path.join(unzipped, 'images'),
                '--masks',
                path.join(unzipped, 'masks'),
                '--size',
                '64',
              ],
              { encoding: 'utf8' },
            );
            assert.match(scored, /mean_dice=0\.\d{4} mean_iou=0\.\d{4} images=2 /);
            t.diagnostic(`the CLI on the exported folder: ${scored.trim().split('\n').at(-1)}`);
            fs.rmSync(unzipped, { recursive: true, force: true });

            // Clear everything (results and pairs); after a reload nothing comes back.
            await page.click('#clear-results');
            await page.click('#clear-pairs');
            assert.equal(await page.locator('#export-pairs').isVisible(), false);
            await page.waitForFunction(() => document.body.dataset.annotationsSaved !== 'saving');
            await page.reload();
            await openDemo(page, url);
            assert.equal(await page.locator('.card').count(), 0);
            assert.equal(await page.locator('#pairs-body tr').count(), 0);

            // Import the zip: the same pairs, tagged as corrected, with identical masks.
            await page.setInputFiles('#import-pairs', {
              name: exported.name,
              mimeType: 'application/zip',
              buffer: exported.buffer,
            });
            await page
              .locator('#pairs-message')
              .filter({ hasText: /imported 2 pairs\.$/ })
              .waitFor({ timeout: 120_000 });
            await page.waitForFunction(
              () => document.querySelectorAll('#pairs-body tr[data-corrected="true"]').length === 2,
            );
            const again = await readZip((await download(page, page.locator('#export-pairs'))).buffer);
            for (const [name, pixels] of Object.entries(masks)) {
              const n = `masks/${name.replace(/\.jpg$/, '')}_segmentation.png`;
              assertSameMask(
                decodeGrey(Buffer.from(again.find((e) => e.name === n).data)).pixels,
                pixels,
                `${n} after export, clear, import`,
              );
            }
            // A file that is not a zip is refused with its name and the reason.
            await page.setInputFiles('#import-pairs', {
              name: 'notes.zip',
              mimeType: 'application/zip',
              buffer: Buffer.from('not a zip at all'),
            });
            await page
              .locator('#pairs-message.error')
              .filter({ hasText: /^notes\.zip: / })
              .waitFor();
            assert.equal(await page.locator('#pairs-body tr').count(), 2, 'a refused import changed the pairs');

            assert.deepEqual([...proxy.offOrigin(url), ...requests.offOrigin(url)], [], 'a request left the origin');
            assert.deepEqual(log.errors, [], log.format());
          },
          { browser, server: srv, timeout: 300_000 },
        );
      } finally {
        await browser.close();
        await srv.close();
        await proxy.close();
      }
    },
  );

  test(
    "the editor's code is fetched when a mask is first opened; a failed fetch says so, leaves the mask, and the next try opens it",
    { timeout: SLOW },
    async () => {
      await withPage(
        async ({ page, url, requests }) => {
          // The first fetch of editor.js fails as a dropped connection would; later ones go through.
          let refused = 0;
          await page.route('**/ui/editor/editor.js', (route) =>
            refused++ === 0 ? route.abort('connectionreset') : route.continue(),
          );
          await openDemo(page, url);
          const card = await segmentSample(page, 'Generated 3', 'sample-3.jpg');
          const fetched = () =>
            requests.requests.filter((r) =>
              /\/ui\/editor\/(editor|viewport|layers)\.js$/.test(new URL(r.url).pathname),
            );
          assert.deepEqual(fetched(), [], 'the page fetched the editor before any mask was opened');
          const before = (await download(page, card.locator('text=Download mask (PNG)'))).buffer;
          await card.locator('.card-actions button', { hasText: /Correct mask|Edit mask/ }).click();
          const problem = page.locator('.notice[data-key="editor"]');
          assert.match(await problem.innerText(), /mask editor could not be loaded .*try again/i);
          assert.equal(await page.locator('#editor').evaluate((d) => d.open), false);
          assert.deepEqual(
            (await download(page, card.locator('text=Download mask (PNG)'))).buffer,
            before,
            'the mask is untouched',
          );
          await openEditor(page, card);
          assert.equal(await problem.count(), 0, 'the notice goes once the editor opens');
          assert.equal(refused, 2);
          await page.click('#editor-close');
        },
        { server: server() },
      );
    },
  );

  test(
    'a deletion counts as saving until it is done: "saved" never comes before a cleared pair is gone',
    { timeout: SLOW },
    async () => {
      await withPage(
        async ({ page, url }) => {
          // The store alone, on the page's origin, without the app (whose own copy holds the lock).
          await page.goto(`${url}ui/annotations.js`);
          const seen = await page.evaluate(async () => {
            const { Annotations } = await import('/ui/annotations.js');
            const store = await import('/ui/store.js');
            const annotations = new Annotations();
            const a = annotations.add({
              name: 'x.png',
              width: 2,
              height: 2,
              classes: 1,
              mask: new Uint8Array(4),
              image: new Blob([new Uint8Array(8)]),
              inTraining: true,
            });
            await annotations.flush();
            const stored = (await store.loadAnnotations()).length;
            annotations.release(a, 'inTraining');
            const savingAfterRelease = annotations.saving;
            await new Promise((resolve) => {
              if (!annotations.saving) resolve();
              annotations.addEventListener('storage', () => !annotations.saving && resolve());
            });
            return { stored, savingAfterRelease, left: (await store.loadAnnotations()).length };
          });
          assert.deepEqual(seen, { stored: 1, savingAfterRelease: true, left: 0 });
        },
        { server: server(), timeout: 120_000 },
      );
    },
  );

  test('a full storage quota says so and keeps the edits in the tab', { timeout: SLOW }, async () => {
    await withPage(
      async ({ page, url, context }) => {
        // Chromium's own quota, set far below one annotation (image + masks): a real refusal.
        const cdp = await context.newCDPSession(page);
        await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin, quotaSize: 20_000 });
        await openDemo(page, url);
        const card = await segmentSample(page, 'Generated 3', 'sample-3.jpg');
        await openEditor(page, card);
        const at = await mapper(page);
        const [a, b] = [at(40, 40), at(120, 100)];
        await drag(page, [a, b]);
        await page.locator('#editor-saved.error').waitFor();
        assert.match(
          await page.locator('#editor-saved').innerText(),
          /^Not saved: this browser's storage for the page is full\. Your edits stay in this tab/,
        );
        const edited = (await editorMask(page)).pixels;
        await page.click('#editor-close');
        assert.match(
          await page.locator('.notice[data-key="annotations-storage"]').innerText(),
          /could not be saved in this browser: this browser's storage for the page is full/,
        );
        assertSameMask(
          decodeGrey((await download(page, card.locator('text=Download mask (PNG)'))).buffer).pixels,
          edited,
          'the edit stays',
        );
      },
      { server: server(), timeout: 300_000 },
    );
  });

  test('a 12-megapixel photo is edited at its own size (figures reported)', { timeout: SLOW }, async (t) => {
    await withPage(
      async ({ page, url }) => {
        await page.setViewportSize({ width: 1280, height: 800 });
        await openDemo(page, url);
        const jpeg = Buffer.from((await page.evaluate(cameraJpegInPage)).base64, 'base64');
        await page.setInputFiles('#segment-input', { name: 'camera.jpg', mimeType: 'image/jpeg', buffer: jpeg });
        const card = page.locator('.card[data-name="camera.jpg"]');
        await card.and(page.locator('[data-state="done"]')).waitFor({ timeout: 300_000 });
        let started = Date.now();
        await openEditor(page, card);
        const opened = Date.now() - started;
        const start = await editorMask(page);
        assert.deepEqual([start.width, start.height], [4288, 2848]);
        await page.locator('#editor-size').fill('200');
        const at = await mapper(page);
        const points = [at(1000, 800), at(3000, 900), at(3200, 2000)];
        const expected = start.pixels.map((v) => (v ? 1 : 0));
        await page.evaluate(() => {
          window.savedAt = null;
          new MutationObserver(() => {
            if (document.body.dataset.annotationsSaved === 'saved') window.savedAt ??= performance.now();
          }).observe(document.body, { attributes: true, attributeFilter: ['data-annotations-saved'] });
        });
        started = Date.now();
        const t0 = await page.evaluate(() => performance.now());
        await drag(page, points);
        const stroked = Date.now() - started;
        await page.waitForFunction(() => window.savedAt !== null, null, { timeout: 120_000 });
        const saved = (await page.evaluate(() => window.savedAt)) - t0;
        stroke(
          expected,
          4288,
          2848,
          points.map((p) => ({ x: p.x, y: p.y })),
          100,
          1,
        );
        assertSameMask(labelsOf(await editorMask(page)), expected, 'a 200 px stroke on a 12 MP photo');
        t.diagnostic(
          `12 MP (4288×2848): editor open ${opened} ms; a 3-point 200 px stroke ${stroked} ms (pointer events to the mask); stored in IndexedDB ${saved.toFixed(0)} ms after it began`,
        );
      },
      { server: server(), timeout: 300_000 },
    );
  });

  test(
    "a second tab of the page does not overwrite the first one's work: it says so and saves once the first is closed",
    { timeout: SLOW },
    async () => {
      await withPage(
        async ({ page, url, context }) => {
          await openDemo(page, url);
          const second = await context.newPage();
          await openDemo(second, url);
          await second
            .locator('.notice[data-key="annotations-storage"]')
            .filter({ hasText: /open in another tab/ })
            .waitFor();
          const card = await segmentSample(second, 'Generated 6', 'sample-6.jpg');
          await openEditor(second, card);
          const at = await mapper(second);
          const [a, b] = [at(60, 60), at(150, 90)];
          await drag(second, [a, b]);
          const edited = (await editorMask(second)).pixels;
          assert.match(
            await second.locator('#editor-saved').innerText(),
            /^Not saved: this page is open in another tab/,
          );
          await second.click('#editor-close');
          // The first tab goes: the second one now writes, and a third tab finds its work.
          await page.close();
          await second.waitForFunction(() => document.body.dataset.annotationsSaved === 'saved', null, {
            timeout: 30_000,
          });
          assert.equal(await second.locator('.notice[data-key="annotations-storage"]').count(), 0);
          await second.close();
          const third = await context.newPage();
          await openDemo(third, url);
          const back = third.locator('.card[data-name="sample-6.jpg"][data-corrected="true"]');
          assertSameMask(
            decodeGrey((await download(third, back.locator('text=Download mask (PNG)'))).buffer).pixels,
            edited,
            'saved by the second tab',
          );
        },
        { server: server(), timeout: 300_000 },
      );
    },
  );

  test('with three-class weights the brush paints the chosen class', { timeout: SLOW }, async () => {
    await withPage(
      async ({ page, url }) => {
        await openDemo(page, url);
        const weights = Buffer.from(await page.evaluate(newWeightsInPage, 3), 'base64');
        await page.setInputFiles('#weights-input', {
          name: 'three.safetensors',
          mimeType: 'application/octet-stream',
          buffer: weights,
        });
        await page.waitForFunction(
          () => /three\.safetensors: loaded .*3 classes/.test(document.querySelector('#weights-message').textContent),
          null,
          { timeout: 120_000 },
        );
        const card = await segmentSample(page, 'Generated 4', 'sample-4.jpg');
        await openEditor(page, card);
        assert.equal(await page.locator('#editor-class-field').isVisible(), true);
        // Named as the weights' card names them: a file without one has numbered classes.
        assert.deepEqual(await page.locator('#editor-class option').allInnerTexts(), ['class 1', 'class 2']);
        const start = await editorMask(page);
        const expected = start.pixels.slice();
        await page.click('#editor-actual');
        await page.locator('#editor-size').fill('10');
        await page.selectOption('#editor-class', '2');
        await settle(page);
        const at = await mapper(page);
        const pts = [at(50, 60), at(150, 90)];
        await drag(page, pts);
        stroke(expected, start.width, start.height, pts, 5, 2);
        const after = await editorMask(page);
        assertSameMask(after.pixels, expected, 'class 2 painted');
        assert.ok(after.pixels.includes(2), 'no pixel of class 2');
        await page.click('#editor-add');
        await page.click('#editor-close');
        const zip = await download(page, page.locator('#export-pairs'));
        const manifest = JSON.parse(
          Buffer.from((await readZip(zip.buffer)).find((e) => e.name === 'annotations.json').data).toString('utf8'),
        );
        assert.equal(manifest.pairs[0].classes, 3);

        // Back on one-class weights, the three-class pair is flagged, not trained on, and a
        // three-class export is refused by name rather than read as empty masks.
        await page.click('#weights-reset');
        await page.click('#weights-reset-confirm');
        await page.waitForFunction(
          () => document.body.dataset.model === 'ready' && document.body.dataset.weights !== 'user',
          null,
          { timeout: 120_000 },
        );
        const row = page.locator('#pairs-body tr[data-corrected="true"]');
        await row.and(page.locator('[data-status="error"]')).waitFor();
        assert.match(await row.innerText(), /Its mask has 3 classes, the weights in use 1: not trained on/);
        assert.equal(await page.locator('#train-start').isDisabled(), true);
        await page.setInputFiles('#import-pairs', { name: zip.name, mimeType: 'application/zip', buffer: zip.buffer });
        await page
          .locator('#pairs-message.error')
          .filter({ hasText: /imported 0 pairs; 1 not: sample-4\.jpg: its mask has 3 classes, the weights in use 1/ })
          .waitFor();
      },
      { server: server(), timeout: 300_000 },
    );
  });
});
