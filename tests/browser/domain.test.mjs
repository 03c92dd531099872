// "Not what this model was made for" in the browser: the package's `segment` (and `evaluate`)
// say so for a greyscale CT slice and a photo of an object and not for a dermoscopy photo, and
// the demo page shows the warning on the CT slice's card, not on the dermoscopy photo's.
//
// The CT slice is read from ../shared/data/medseg-covid-ct (non-commercial research use; MedSeg
// and Fan et al., "Inf-Net", IEEE TMI 2020) and handed to the browser by the test on 127.0.0.1;
// nothing leaves the machine. The dermoscopy photo is the demo's own sample (ISIC 2016, CC0), the
// object photo tests/fixtures/photos/coffee.jpg (scikit-image's `coffee`, CC0).
//
// Run: cd tests/browser && node --test --test-concurrency=1 domain.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`). The check runs in the core, the same
// on every backend, so the CPU is enough.

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

// Both tests skip, naming the folder, where ../shared/data lacks the CT slices (see sharedData).
const SHARED = sharedData('medseg-covid-ct');
const CT = SHARED.read('medseg-covid-ct/images/medseg_000.jpg');
const CT_MASK = SHARED.read('medseg-covid-ct/masks/medseg_000_segmentation.png');
const SKIN = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010018.jpg'));
const SKIN_MASK = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010018_mask.png'));
const OBJECT = fs.readFileSync(path.join(ROOT, 'tests/fixtures/photos/coffee.jpg'));

// A page of its own that loads only the package (the CPU module is all this needs).
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tinyunet out-of-domain test page</title>
<script type="module">
  import * as tinyunet from '/pkg/tinyunet.js';
  window.tinyunet = tinyunet;
  window.helpersReady = true;
</script>`;

let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), `${PKG}/wasm/ is missing: run ./build.sh pkg first`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test(
  'the package: outOfDomain says why for a CT slice and a photo of an object, and is null for dermoscopy',
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    const server = await startServer({
      root: path.join(HERE, 'package-pages'),
      mounts: { '/pkg/': PKG },
      routes: {
        '/domain.html': { body: PAGE, type: 'text/html' },
        '/ct.jpg': { body: CT, type: 'image/jpeg' },
        '/ct_mask.png': { body: CT_MASK, type: 'image/png' },
        '/skin.jpg': { body: SKIN, type: 'image/jpeg' },
        '/skin_mask.png': { body: SKIN_MASK, type: 'image/png' },
        '/object.jpg': { body: OBJECT, type: 'image/jpeg' },
      },
    });
    try {
      const r = await withPage(
        async ({ page, url }) => {
          await page.goto(`${url}domain.html`);
          await page.waitForFunction(() => window.helpersReady === true);
          return evaluateWithTimeout(
            page,
            async () => {
              const { Segmenter } = window.tinyunet;
              const blob = async (u) => (await fetch(u)).blob();
              // The verdict is on the image, not the weights: a fresh network at 64 px is enough.
              const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
              const out = {};
              for (const name of ['ct', 'skin', 'object']) {
                const s = await seg.segment(await blob(`/${name}.jpg`));
                out[name] = { hasKey: 'outOfDomain' in s, outOfDomain: s.outOfDomain, width: s.width };
              }
              // The slice's own mask holds class indices, which a one-class model refuses; scored
              // against an empty mask of its size, the slice still says what it is.
              out.classMask = await seg
                .evaluate([{ name: 'ct', image: await blob('/ct.jpg'), mask: await blob('/ct_mask.png') }])
                .then(
                  () => null,
                  (e) => e.message,
                );
              const slice = await createImageBitmap(await blob('/ct.jpg'));
              const empty = new OffscreenCanvas(slice.width, slice.height);
              const ctx = empty.getContext('2d');
              if (!ctx) throw new Error('no 2d context');
              ctx.fillRect(0, 0, slice.width, slice.height);
              const evaluated = await seg.evaluate([
                { name: 'ct', image: await blob('/ct.jpg'), mask: await empty.convertToBlob() },
                { name: 'skin', image: await blob('/skin.jpg'), mask: await blob('/skin_mask.png') },
              ]);
              out.evaluated = evaluated.perImage.map((p) => p.outOfDomain);
              return out;
            },
            null,
            SLOW,
          );
        },
        { browser, server },
      );
      assert.equal(r.ct.outOfDomain?.reason, 'greyscale', JSON.stringify(r.ct));
      assert.match(
        r.ct.outOfDomain.message,
        /greyscale image \(for example a CT, MRI or X-ray slice\).*colour photographs of skin lesions/,
      );
      assert.equal(r.object.outOfDomain?.reason, 'vividColours', JSON.stringify(r.object));
      assert.match(r.object.outOfDomain.message, /vivid colours/);
      assert.ok(r.skin.hasKey, 'the result has no outOfDomain key');
      assert.equal(r.skin.outOfDomain, null);
      assert.match(r.classMask ?? '', /^input: ct \(mask\): the mask's largest value is 2/);
      assert.equal(r.evaluated[0]?.reason, 'greyscale');
      assert.equal(r.evaluated[1], null);
    } finally {
      await server.close();
    }
  },
);

test(
  "the demo page: a CT slice's card says it is not what the model was made for, a dermoscopy photo's does not",
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    assert.ok(
      fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')),
      `${PKG}/wasm/ is missing: build the package first`,
    );
    await withPage(
      async ({ page, url, console: log }) => {
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.goto(`${url}?size=64`);
        await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.model), null, {
          timeout: SLOW,
        });
        assert.equal(
          await page.evaluate(() => document.body.dataset.model),
          'ready',
          await page.locator('#notices').innerText(),
        );
        await page.setInputFiles('#segment-input', [
          { name: 'ct-slice.jpg', mimeType: 'image/jpeg', buffer: CT },
          { name: 'lesion.jpg', mimeType: 'image/jpeg', buffer: SKIN },
        ]);
        const settled = async (name) => {
          const card = page.locator(`.card[data-name="${name}"]`);
          await card.and(page.locator('[data-state="done"], [data-state="error"]')).waitFor({ timeout: SLOW });
          assert.equal(await card.getAttribute('data-state'), 'done', await card.innerText());
          return card;
        };
        const ct = await settled('ct-slice.jpg');
        const skin = await settled('lesion.jpg');

        // The CT slice: a note in plain words, marked on the card, apart from the doubt figure.
        assert.equal(await ct.getAttribute('data-out-of-domain'), 'greyscale');
        const note = ct.locator('.card-domain');
        assert.ok(await note.isVisible(), 'no warning on the CT slice');
        assert.equal(await note.getAttribute('role'), 'note');
        assert.match(
          await note.innerText(),
          /^Not a skin photo\? This looks like a greyscale image \(for example a CT, MRI or X-ray slice\)\./,
        );
        assert.doesNotMatch(await ct.locator('.doubt').innerText(), /greyscale/);
        // Its doubt figure, however low, is not offered as reassurance.
        assert.match(await ct.locator('.doubt').innerText(), /% — no guide for this image \(see the note\)$/);
        // It looks unlike the doubt flag: its own colours, and the card's border in the note's colour.
        const looks = await ct.evaluate((card) => {
          const n = card.querySelector('.card-domain');
          const d = card.querySelector('.doubt');
          return {
            note: getComputedStyle(n).backgroundColor,
            doubt: getComputedStyle(d).color,
            border: getComputedStyle(card).borderTopColor,
            bar: getComputedStyle(n).borderLeftColor,
          };
        });
        assert.notEqual(looks.note, 'rgba(0, 0, 0, 0)', 'the note has no background');
        assert.equal(looks.border, looks.bar, "the card border is not the note's colour");
        assert.notEqual(looks.border, 'rgb(249, 115, 22)', "the card border is the doubt flag's");

        // The dermoscopy photo: no warning, nothing reserved for one.
        assert.equal(await skin.getAttribute('data-out-of-domain'), 'false');
        assert.equal(await skin.locator('.card-domain').isVisible(), false);
        assert.doesNotMatch(await skin.locator('.doubt').innerText(), /no guide/);
        // The figures sit as high on both cards: the note comes below the image, never above it.
        const top = (card) =>
          card
            .locator('.figure')
            .evaluate((f) => f.getBoundingClientRect().top - f.closest('.card').getBoundingClientRect().top);
        assert.equal(await top(ct), await top(skin));
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server: demoServerOptions({ pkg: PKG }), timeout: SLOW },
    );
  },
);
