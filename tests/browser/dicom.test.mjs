// DICOM in the browser: the package's `decodeImage` reads DICOM files through the wasm core
// (uncompressed, explicit and implicit VR; baseline JPEG decoded by the browser, rescaled and
// windowed by the core), `segment` takes them at the slice's own size, and other transfer
// syntaxes, multi-frame and truncated files are clear `input` errors without patient data.
//
// The DICOM files are written here: a synthetic 16-bit CT slice of known Hounsfield units, and
// a CT slice of ../shared/data/medseg-covid-ct (non-commercial research use; MedSeg and Fan et
// al., "Inf-Net", IEEE TMI 2020) wrapped as baseline JPEG, both carrying a patient's name, ID and
// birth date; plus pydicom's public test files (tests/fixtures/dicom). They are served on
// 127.0.0.1; nothing leaves the machine.
//
// Run: cd tests/browser && node --test --test-concurrency=1 dicom.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer,
  launchBrowser,
  withPage,
  evaluateWithTimeout,
  demoServerOptions,
  sharedData,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = process.env.TINYUNET_PKG_DIR ? path.resolve(process.env.TINYUNET_PKG_DIR) : path.join(ROOT, 'pkg');
const SLOW = 300_000;
const FIXTURES = path.join(ROOT, 'tests/fixtures/dicom');
// Both tests use the CT slice: each skips, naming the folder, where ../shared/data lacks it (see
// sharedData); CT_JPEG and JPEG_FILE are then null.
const SHARED = sharedData('medseg-covid-ct');
const CT_JPEG = SHARED.read('medseg-covid-ct/images/medseg_000.jpg');
const PATIENT = ['Doe^Jane', 'PAT-123456', '19700101', 'CompressedSamples', '1CT1'];

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

/** One data element, little endian; its value padded to an even length. */
function element(explicit, group, elem, vr, value, length = undefined) {
  let v = Buffer.from(value);
  if (v.length % 2) v = Buffer.concat([v, Buffer.from([vr === 'UI' || vr === 'OB' || vr === '' ? 0 : 0x20])]);
  const len = length ?? v.length;
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(elem, 2);
  let head;
  if (!explicit || group === 0xfffe) {
    head = Buffer.alloc(4);
    head.writeUInt32LE(len >>> 0, 0);
  } else if (['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr)) {
    head = Buffer.alloc(8);
    head.write(vr, 0, 'latin1');
    head.writeUInt32LE(len >>> 0, 4);
  } else {
    head = Buffer.alloc(4);
    head.write(vr, 0, 'latin1');
    head.writeUInt16LE(len, 2);
  }
  return Buffer.concat([tag, head, length === undefined ? v : Buffer.alloc(0)]);
}

/** A DICOM Part 10 file of one slice, with a patient's name, ID and birth date. */
function dicomFile({ uid, rows, columns, spacing, bits, signed, slope, intercept, frames, pixels, fragments }) {
  const us = (x, e, v) => element(x, 0x28, e, 'US', Uint8Array.of(v & 0xff, v >> 8));
  const meta = Buffer.concat([element(true, 2, 1, 'OB', [0, 1]), element(true, 2, 0x10, 'UI', uid)]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length, 0);
  const x = uid !== IMPLICIT;
  const parts = [
    Buffer.alloc(128),
    Buffer.from('DICM'),
    element(true, 2, 0, 'UL', groupLength),
    meta,
    element(x, 8, 0x60, 'CS', 'CT'),
    element(x, 0x10, 0x10, 'PN', 'Doe^Jane'),
    element(x, 0x10, 0x20, 'LO', 'PAT-123456'),
    element(x, 0x10, 0x30, 'DA', '19700101'),
    us(x, 2, 1),
    element(x, 0x28, 4, 'CS', 'MONOCHROME2'),
    ...(frames ? [element(x, 0x28, 8, 'IS', String(frames))] : []),
    us(x, 0x10, rows),
    us(x, 0x11, columns),
    ...(spacing ? [element(x, 0x28, 0x30, 'DS', spacing)] : []),
    us(x, 0x100, bits),
    us(x, 0x101, bits),
    us(x, 0x102, bits - 1),
    us(x, 0x103, signed ? 1 : 0),
    element(x, 0x28, 0x1052, 'DS', String(intercept)),
    element(x, 0x28, 0x1053, 'DS', String(slope)),
  ];
  if (pixels) parts.push(element(x, 0x7fe0, 0x10, bits === 8 ? 'OB' : 'OW', pixels));
  if (fragments) {
    parts.push(element(x, 0x7fe0, 0x10, 'OB', [], 0xffffffff), element(x, 0xfffe, 0xe000, '', []));
    for (const f of fragments) parts.push(element(x, 0xfffe, 0xe000, '', f));
    parts.push(element(x, 0xfffe, 0xe0dd, '', [], 0));
  }
  return Buffer.concat(parts);
}

// A 64×48 signed 16-bit slice whose columns run from −1350 to 150 HU (the lung window's ends):
// stored = HU + 1024 with intercept −1024.
const RAMP = { rows: 48, columns: 64 };
const rampHu = (c) => -1350 + Math.round((c * 1500) / (RAMP.columns - 1));
function rampFile(uid, extra = {}) {
  const pixels = Buffer.alloc(RAMP.rows * RAMP.columns * 2);
  for (let r = 0; r < RAMP.rows; r++) {
    for (let c = 0; c < RAMP.columns; c++) pixels.writeInt16LE(rampHu(c) + 1024, (r * RAMP.columns + c) * 2);
  }
  return dicomFile({ uid, ...RAMP, bits: 16, signed: true, slope: 1, intercept: -1024, pixels, ...extra });
}

// The CT slice's own JPEG as baseline JPEG pixel data (two fragments, split at an even offset),
// with the rescale that undoes the lung window: its grey levels come back unchanged.
const half = CT_JPEG && (CT_JPEG.length >> 1) & ~1;
const JPEG_FILE =
  CT_JPEG &&
  dicomFile({
    uid: JPEG_BASELINE,
    rows: CT_JPEG.readUInt16BE(CT_JPEG.indexOf(Buffer.from([0xff, 0xc0])) + 5),
    columns: CT_JPEG.readUInt16BE(CT_JPEG.indexOf(Buffer.from([0xff, 0xc0])) + 7),
    bits: 8,
    signed: false,
    slope: 1500 / 255,
    intercept: -1350,
    spacing: '0.7\\0.68',
    fragments: [CT_JPEG.subarray(0, half), CT_JPEG.subarray(half)],
  });

const EXPLICIT_FILE = rampFile(EXPLICIT);
const FILES = {
  '/explicit.dcm': EXPLICIT_FILE,
  '/implicit.dcm': rampFile(IMPLICIT),
  '/jpeg.dcm': JPEG_FILE,
  '/ct.jpg': CT_JPEG,
  '/frames.dcm': rampFile(EXPLICIT, { frames: 2 }),
  '/truncated.dcm': EXPLICIT_FILE.subarray(0, EXPLICIT_FILE.length - 100),
  '/ct-small.dcm': fs.readFileSync(path.join(FIXTURES, 'CT_small.dcm')),
  '/jpeg2000.dcm': fs.readFileSync(path.join(FIXTURES, 'JPEG2000.dcm')),
  '/report.dcm': fs.readFileSync(path.join(FIXTURES, 'test-SR.dcm')),
};

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tinyunet DICOM test page</title>
<script type="module">
  import * as tinyunet from '/pkg/tinyunet.js';
  window.tinyunet = tinyunet;
  window.helpersReady = true;
</script>`;

/**
 * Serves the package with `PAGE` and `files` (route → bytes), runs `fn` in that page of `onBrowser`
 * and returns its result; the page must log no error.
 */
async function inDicomPage(onBrowser, files, fn, timeout = SLOW) {
  const routes = { '/dicom.html': { body: PAGE, type: 'text/html' } };
  for (const [route, body] of Object.entries(files))
    routes[route] = { body, type: route.endsWith('.jpg') ? 'image/jpeg' : 'application/dicom' };
  const server = await startServer({ root: path.join(HERE, 'package-pages'), mounts: { '/pkg/': PKG }, routes });
  try {
    return await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(`${url}dicom.html`);
        await page.waitForFunction(() => window.helpersReady === true);
        const out = await evaluateWithTimeout(page, fn, null, timeout);
        assert.deepEqual(log.errors, [], log.format());
        return out;
      },
      { browser: onBrowser, server, timeout },
    );
  } finally {
    await server.close();
  }
}

let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), `${PKG}/wasm/ is missing: run ./build.sh pkg first`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test(
  'decodeImage reads DICOM slices, segment takes them at their size, and bad files are clear errors without patient data',
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    const r = await inDicomPage(browser, FILES, async () => {
      const { decodeImage, Segmenter } = window.tinyunet;
      const bytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
      const grey = (image) => Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 4]);
      const res = {};
      // Before any Segmenter: decodeImage loads the CPU build of the core itself.
      for (const name of ['explicit', 'implicit']) {
        const image = await decodeImage(await bytes(`/${name}.dcm`), `${name}.dcm`);
        res[name] = {
          width: image.width,
          height: image.height,
          row: grey(image).slice(0, image.width),
          dicom: image.dicom,
          alpha: image.data[3],
        };
      }
      const soft = await decodeImage(await bytes('/explicit.dcm'), 'soft', {
        window: { center: 40, width: 400 },
      });
      res.soft = { row: grey(soft).slice(0, soft.width), window: soft.dicom.window };
      // Baseline JPEG: the browser decodes the stream, the core applies rescale and window.
      const jpeg = await decodeImage(new Blob([await bytes('/jpeg.dcm')]), 'jpeg.dcm');
      const plain = await decodeImage(await bytes('/ct.jpg'), 'ct.jpg');
      const a = grey(jpeg);
      const b = grey(plain);
      res.jpeg = {
        width: jpeg.width,
        height: jpeg.height,
        plain: [plain.width, plain.height],
        maxDiff: Math.max(...a.map((v, i) => Math.abs(v - b[i]))),
        dicom: jpeg.dicom,
      };
      res.ctSmall = (await decodeImage(await bytes('/ct-small.dcm'), 'CT_small.dcm')).dicom;
      res.errors = {};
      for (const name of ['frames', 'truncated', 'jpeg2000', 'report']) {
        try {
          await decodeImage(await bytes(`/${name}.dcm`), `${name}.dcm`);
          res.errors[name] = null;
        } catch (e) {
          res.errors[name] = { kind: e.kind, message: e.message };
        }
      }
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
      const s = await seg.segment(new Blob([await bytes('/jpeg.dcm')]));
      res.segmented = { width: s.width, height: s.height, mask: s.mask.length, dicom: s.dicom };
      // The window: the model card's by default (here none: the lung window), else the call's.
      res.windows = {
        card: seg.model.window ?? null,
        plain: (await seg.segment(await bytes('/explicit.dcm'))).dicom.window,
        soft: (await seg.segment(await bytes('/explicit.dcm'), { window: { center: 40, width: 400 } })).dicom.window,
        jpeg: 'dicom' in (await seg.segment(await bytes('/ct.jpg'), { window: { center: 40, width: 400 } })),
      };
      const pair = {
        image: await bytes('/explicit.dcm'),
        mask: { data: new Uint8Array(64 * 48 * 4).fill(255), width: 64, height: 48 },
      };
      res.evaluated = (await seg.evaluate([pair], { window: { center: 40, width: 400 } })).perImage.length;
      try {
        await seg.segment(await bytes('/explicit.dcm'), { window: { center: 40, width: 0 } });
      } catch (e) {
        res.windowError = { kind: e.kind, message: e.message };
      }
      try {
        await seg.segment(await bytes('/jpeg2000.dcm'));
      } catch (e) {
        res.segmentError = { kind: e.kind, message: e.message };
      }
      return res;
    });

    // Hounsfield units through the lung window: −1350 HU black, 150 HU white, linear between.
    const lung = (hu) => Math.round(Math.min(1, Math.max(0, (hu + 1350) / 1500)) * 255);
    const expected = Array.from({ length: RAMP.columns }, (_, c) => lung(rampHu(c)));
    for (const name of ['explicit', 'implicit']) {
      const x = r[name];
      assert.deepEqual([x.width, x.height], [RAMP.columns, RAMP.rows], name);
      assert.deepEqual(x.row, expected, name);
      assert.equal(x.alpha, 255);
      assert.equal(x.dicom.transferSyntaxUid, name === 'explicit' ? EXPLICIT : IMPLICIT);
      assert.equal(x.dicom.rescaleIntercept, -1024);
      assert.equal(x.dicom.signed, true);
      assert.equal(x.dicom.modality, 'CT');
      assert.deepEqual(x.dicom.window, { center: -600, width: 1500 });
    }
    const soft = (hu) => Math.round(Math.min(1, Math.max(0, (hu + 160) / 400)) * 255);
    assert.deepEqual(
      r.soft.row,
      Array.from({ length: RAMP.columns }, (_, c) => soft(rampHu(c))),
    );
    assert.deepEqual(r.soft.window, { center: 40, width: 400 });

    assert.deepEqual([r.jpeg.width, r.jpeg.height], r.jpeg.plain);
    assert.equal(r.jpeg.maxDiff, 0, 'the JPEG slice does not come back as the plain JPEG');
    assert.equal(r.jpeg.dicom.transferSyntax, 'JPEG Baseline (Process 1)');

    assert.equal(r.ctSmall.rows, 128);
    assert.equal(r.ctSmall.rescaleIntercept, -1024);
    assert.equal(r.ctSmall.modality, 'CT');

    assert.equal(r.errors.frames?.kind, 'input');
    assert.match(r.errors.frames.message, /^input: frames\.dcm: the DICOM file holds 2 frames/);
    assert.match(r.errors.truncated?.message, /truncated\.dcm: the DICOM file is truncated/);
    assert.match(
      r.errors.jpeg2000?.message,
      /JPEG 2000 Image Compression \(1\.2\.840\.10008\.1\.2\.4\.91\) is not supported/,
    );
    assert.match(r.errors.report?.message, /\(SR\) is not an image/);

    assert.deepEqual([r.segmented.width, r.segmented.height], r.jpeg.plain);
    assert.equal(r.segmented.mask, r.jpeg.width * r.jpeg.height);
    assert.equal(r.segmentError?.kind, 'input');
    assert.equal(r.segmented.dicom.transferSyntax, 'JPEG Baseline (Process 1)');
    assert.deepEqual(r.segmented.dicom.window, { center: -600, width: 1500 });
    assert.deepEqual(r.windows, {
      card: null,
      plain: { center: -600, width: 1500 },
      soft: { center: 40, width: 400 },
      jpeg: false,
    });
    assert.equal(r.evaluated, 1);
    assert.equal(r.windowError?.kind, 'config');
    assert.match(
      r.windowError.message,
      /^config: window must be \{ center, width \} in Hounsfield units with a width above 0/,
    );

    const everything = JSON.stringify(r);
    for (const p of PATIENT) assert.ok(!everything.includes(p), `patient data ${p} reached the page's results`);
  },
);

/** Drops files (`[name, bytes]`) on the demo page's image drop zone, as a person drags them there. */
async function drop(page, files) {
  const dataTransfer = await page.evaluateHandle(
    (list) => {
      const dt = new DataTransfer();
      for (const [name, b64] of list)
        dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
      return dt;
    },
    files.map(([name, bytes]) => [name, Buffer.from(bytes).toString('base64')]),
  );
  await page.dispatchEvent('#segment-drop', 'dragenter', { dataTransfer });
  await page.dispatchEvent('#segment-drop', 'drop', { dataTransfer });
}

/** The card of `name` once it has settled (done or error). */
async function settled(page, name) {
  const card = page.locator(`.card[data-name="${name}"]`);
  await card.and(page.locator('[data-state="done"], [data-state="error"]')).waitFor({ timeout: SLOW });
  return card;
}

/** Each foreground class's pixels on a card, as its area rows say. */
const classPixels = (card) =>
  card.locator('.stats .class-area').evaluateAll((rows) => rows.map((r) => Number(r.dataset.pixels)));

/** The mean grey level of a card's picture (the windowed slice it shows). */
const meanGrey = (card) =>
  card.locator('.figure img').evaluate(async (img) => {
    await img.decode();
    const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += px[i];
    return { mean: sum / (px.length / 4), width: canvas.width, height: canvas.height };
  });

test(
  'the demo page: a dropped DICOM CT slice under the CT model gets its 3-class mask, its description and a window control that re-segments; bad DICOM files are clear errors and lose nothing',
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.goto(`${url}?size=64&backend=cpu&model=lung-ct`);
        await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.model), null, {
          timeout: SLOW,
        });
        assert.equal(
          await page.evaluate(() => document.body.dataset.model),
          'ready',
          await page.locator('#notices').innerText(),
        );
        assert.match(await page.locator('#segment-input').getAttribute('accept'), /\.dcm/);
        assert.match(await page.locator('#segment-hint').innerText(), /DICOM/);

        // The same CT slice as DICOM without an extension (baseline JPEG, rescaled so that the lung
        // window gives its grey levels back) and as its plain JPEG: the same mask.
        await drop(page, [
          ['ct-slice', JPEG_FILE],
          ['ct.jpg', CT_JPEG],
        ]);
        const slice = await settled(page, 'ct-slice');
        const plain = await settled(page, 'ct.jpg');
        assert.equal(await slice.getAttribute('data-state'), 'done', await slice.innerText());
        assert.equal(await plain.getAttribute('data-state'), 'done', await plain.innerText());
        const width = CT_JPEG.readUInt16BE(CT_JPEG.indexOf(Buffer.from([0xff, 0xc0])) + 7);
        const height = CT_JPEG.readUInt16BE(CT_JPEG.indexOf(Buffer.from([0xff, 0xc0])) + 5);

        // A 3-class result: the legend in the card's colours and each class's area.
        assert.deepEqual(await slice.locator('.legend li').allInnerTexts(), ['ground-glass opacity', 'consolidation']);
        const rows = slice.locator('.stats .class-area');
        assert.equal(await rows.count(), 2);
        assert.match(await rows.nth(0).innerText(), /^Ground-glass opacity\s+(none found|\d+(\.\d)?% \([\d,]+ px\))/);
        assert.match(await rows.nth(1).innerText(), /^Consolidation\s+(none found|\d+(\.\d)?% \([\d,]+ px\))/);
        assert.match(await slice.locator('.stats').first().innerText(), new RegExp(`Image\\s+${width}×${height}`));
        const lungPixels = await classPixels(slice);
        assert.deepEqual(
          lungPixels,
          await classPixels(plain),
          'the DICOM slice through the lung window is not segmented as its JPEG',
        );
        assert.equal(await slice.getAttribute('data-out-of-domain'), 'false');

        // Its description: size, modality, transfer syntax, pixel spacing, the window applied.
        const facts = slice.locator('.dicom-facts');
        assert.match(
          await facts.locator('[data-fact="size"]').innerText(),
          new RegExp(`DICOM slice\\s+${width}×${height} · CT`),
        );
        assert.match(
          await facts.locator('[data-fact="syntax"]').innerText(),
          /Transfer syntax\s+JPEG Baseline \(Process 1\)/,
        );
        assert.match(await facts.locator('[data-fact="spacing"]').innerText(), /Pixel spacing\s+0\.7 × 0\.68 mm/);
        assert.match(await facts.locator('[data-fact="window"]').innerText(), /Window\s+level −600 HU, width 1500 HU/);
        // The window control: the model's window (the lung window) by default, with the usual presets.
        const control = slice.locator('.card-window');
        assert.equal(await control.locator('.window-preset').inputValue(), 'lung');
        assert.deepEqual(await control.locator('.window-preset option').allInnerTexts(), [
          "Lung (the model's window): −600 / 1500",
          'Mediastinum: 40 / 400',
          'Custom',
        ]);
        assert.equal(await control.locator('.window-level').inputValue(), '-600');
        assert.equal(await control.locator('.window-width').inputValue(), '1500');
        // A plain JPEG has none of this.
        assert.equal(await plain.locator('.card-window, .dicom-facts').count(), 0);
        const lungPicture = await meanGrey(slice);
        assert.deepEqual([lungPicture.width, lungPicture.height], [width, height]);

        // The mediastinal window: the slice is windowed anew and segmented again.
        await control.locator('.window-preset').selectOption('mediastinum');
        await page
          .locator('.card[data-name="ct-slice"][data-window="40,400"][data-state="done"]')
          .waitFor({ timeout: SLOW });
        assert.match(await facts.locator('[data-fact="window"]').innerText(), /level 40 HU, width 400 HU/);
        const softPicture = await meanGrey(slice);
        assert.ok(
          softPicture.mean < lungPicture.mean - 20,
          `the mediastinal window did not darken the lungs: ${lungPicture.mean} → ${softPicture.mean}`,
        );
        console.log(
          `CT slice as DICOM: lung window ${lungPixels} px, mediastinal window ${await classPixels(slice)} px (ground-glass, consolidation)`,
        );
        // Typed figures: level and width in HU, re-segmented; a width of 0 is refused in words.
        await control.locator('.window-level').fill('-500');
        await control.locator('.window-level').dispatchEvent('change');
        await page
          .locator('.card[data-name="ct-slice"][data-window="-500,400"][data-state="done"]')
          .waitFor({ timeout: SLOW });
        assert.equal(await control.locator('.window-preset').inputValue(), 'custom');
        await control.locator('.window-width').fill('0');
        await control.locator('.window-width').dispatchEvent('change');
        assert.match(await control.locator('.window-problem').innerText(), /level and a width of at least 1 HU/);
        assert.equal(await slice.getAttribute('data-window'), '-500,400');
        // Back to the model's window: the first mask again.
        await control.locator('.window-preset').selectOption('lung');
        await page
          .locator('.card[data-name="ct-slice"][data-window="-600,1500"][data-state="done"]')
          .waitFor({ timeout: SLOW });
        assert.deepEqual(await classPixels(slice), lungPixels);

        // The editor opens on the windowed slice.
        await slice.locator('button', { hasText: 'Correct mask' }).click();
        await page.locator('#editor[data-ready="true"]').waitFor();
        await page.click('#editor-close');

        // A multi-frame file and a JPEG 2000 one: clear errors on their cards; the others stay.
        await drop(page, [
          ['frames.dcm', FILES['/frames.dcm']],
          ['jpeg2000.dcm', FILES['/jpeg2000.dcm']],
          ['truncated.dcm', FILES['/truncated.dcm']],
        ]);
        const errors = {};
        for (const name of ['frames.dcm', 'jpeg2000.dcm', 'truncated.dcm']) {
          const card = await settled(page, name);
          assert.equal(await card.getAttribute('data-state'), 'error', `${name}: ${await card.innerText()}`);
          errors[name] = await card.locator('.card-status').innerText();
          assert.equal(await card.locator('.figure').count(), 0, `${name} shows a picture`);
        }
        assert.match(
          errors['frames.dcm'],
          /^The DICOM file holds 2 frames \(a multi-frame image\); tinyunet reads one slice per file/,
        );
        assert.match(
          errors['jpeg2000.dcm'],
          /^DICOM transfer syntax JPEG 2000 Image Compression \(1\.2\.840\.10008\.1\.2\.4\.91\) is not supported: /,
        );
        assert.match(errors['truncated.dcm'], /^The DICOM file is truncated/);
        for (const name of ['ct-slice', 'ct.jpg']) {
          assert.equal(
            await page.locator(`.card[data-name="${name}"]`).getAttribute('data-state'),
            'done',
            `${name} was lost`,
          );
        }
        assert.equal(await slice.locator('.dicom-facts').count(), 1);
        assert.deepEqual(await classPixels(slice), lungPixels);

        // No patient field anywhere on the page.
        const text = await page.locator('body').innerText();
        for (const p of PATIENT) assert.ok(!text.includes(p), `patient data ${p} on the page`);
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server: demoServerOptions(), timeout: SLOW },
    );
  },
);

test(
  'a DICOM CT slice under the lung-CT model gives the same 3-class mask on WebGPU as on the CPU',
  { timeout: 2 * SLOW, skip: SHARED.skip },
  async () => {
    assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_webgpu.js')), `${PKG}/wasm/tinyunet_webgpu.js is missing`);
    const gpuBrowser = await launchBrowser({ webgpu: true });
    try {
      const r = await inDicomPage(
        gpuBrowser,
        { '/jpeg.dcm': JPEG_FILE },
        async () => {
          const { Segmenter } = window.tinyunet;
          const { lungCtWeightsUrl } = await import('/pkg/models/lung-ct.js');
          const file = new Uint8Array(await (await fetch('/jpeg.dcm')).arrayBuffer());
          const res = {};
          for (const backend of ['cpu', 'webgpu']) {
            const seg = await Segmenter.create({ backend, weights: lungCtWeightsUrl });
            const s = await seg.segment(new Blob([file]));
            res[backend] = {
              backend: seg.backend,
              model: seg.model.name,
              size: [s.width, s.height],
              classes: s.classes,
              mask: Array.from(s.mask),
              areas: s.classAreas.map((a) => a.pixels),
              dicom: s.dicom,
              outOfDomain: s.outOfDomain,
            };
            seg.dispose();
          }
          return res;
        },
        2 * SLOW,
      );
      const { cpu, webgpu } = r;
      assert.equal(cpu.backend, 'cpu');
      assert.equal(webgpu.backend, 'webgpu', 'the WebGPU segmenter fell back to the CPU');
      for (const x of [cpu, webgpu]) {
        assert.equal(x.model, 'lung-ct');
        assert.equal(x.classes, 3);
        assert.deepEqual(x.dicom.window, { center: -600, width: 1500 });
        assert.equal(x.dicom.transferSyntax, 'JPEG Baseline (Process 1)');
        assert.equal(x.outOfDomain, null);
      }
      assert.deepEqual(webgpu.size, cpu.size, 'segmented at the slice’s own size on both');
      assert.equal(webgpu.mask.length, cpu.size[0] * cpu.size[1]);
      const agree = webgpu.mask.filter((v, i) => v === cpu.mask[i]).length / cpu.mask.length;
      const found = (x) => [1, 2].filter((c) => x.mask.includes(c));
      console.log(
        `DICOM CT slice, CPU vs WebGPU: ${(agree * 100).toFixed(3)} % of pixels agree; areas ${cpu.areas} / ${webgpu.areas} px`,
      );
      assert.ok(found(cpu).length > 0, 'the CPU mask marks no infection on the slice');
      assert.deepEqual(found(webgpu), found(cpu), 'the two masks mark different classes');
      assert.ok(agree >= 0.995, `only ${(agree * 100).toFixed(3)} % of the pixels agree`);
      const everything = JSON.stringify(r);
      for (const p of PATIENT) assert.ok(!everything.includes(p), `patient data ${p} reached the page's results`);
    } finally {
      await gpuBrowser.close();
    }
  },
);

test(
  'a DICOM slice kept for fine-tuning comes back after a reload with its description and window control, and a new window segments the slice itself',
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.setViewportSize({ width: 1280, height: 900 });
        const open = async () => {
          await page.goto(`${url}?size=64&backend=cpu&model=lung-ct`);
          await page.waitForFunction(() => document.body.dataset.model === 'ready', null, { timeout: SLOW });
        };
        await open();
        await drop(page, [['ct-slice', JPEG_FILE]]);
        let slice = await settled(page, 'ct-slice');
        assert.equal(await slice.getAttribute('data-state'), 'done', await slice.innerText());
        const lungPixels = await classPixels(slice);
        // Kept: added to the fine-tuning set from the editor, then stored in the browser.
        await slice.locator('button', { hasText: 'Correct mask' }).click();
        await page.locator('#editor[data-ready="true"]').waitFor();
        await page.click('#editor-add');
        await page.click('#editor-close');
        await page.waitForFunction(() => document.body.dataset.annotationsSaved === 'saved', null, { timeout: SLOW });

        await page.reload();
        await open();
        slice = page.locator('.card[data-name="ct-slice"][data-state="done"]');
        await slice.waitFor({ timeout: SLOW });
        assert.equal(await slice.getAttribute('data-window'), '-600,1500', 'the restored card has no window');
        assert.match(
          await slice.locator('.dicom-facts [data-fact="syntax"]').innerText(),
          /Transfer syntax\s+JPEG Baseline \(Process 1\)/,
        );
        const control = slice.locator('.card-window');
        assert.equal(await control.locator('.window-preset').inputValue(), 'lung');
        assert.deepEqual(await classPixels(slice), lungPixels);
        const lungPicture = await meanGrey(slice);

        // Another window: the slice itself is windowed and segmented again, from its own file.
        await control.locator('.window-preset').selectOption('mediastinum');
        await page
          .locator('.card[data-name="ct-slice"][data-window="40,400"][data-state="done"]')
          .waitFor({ timeout: SLOW });
        const softPicture = await meanGrey(slice);
        assert.ok(
          softPicture.mean < lungPicture.mean - 20,
          `the mediastinal window did not darken the restored slice: ${lungPicture.mean} → ${softPicture.mean}`,
        );
        assert.deepEqual([softPicture.width, softPicture.height], [lungPicture.width, lungPicture.height]);

        // Nothing of the patient on the page (the file itself stays in this browser's storage).
        const text = await page.locator('body').innerText();
        for (const p of PATIENT) assert.ok(!text.includes(p), `patient data ${p} on the page`);
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server: demoServerOptions(), timeout: SLOW },
    );
  },
);
