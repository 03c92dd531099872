// The two shipped models (issue 31), in the browser: the package's `segmenter.model` for both (the
// card from the weights file), a CT slice under the lung-CT model (a 3-class mask, per-class areas
// and doubt, per-class scores, a fine-tune's per-class before/after), and out-of-domain both ways
// (a dermoscopy photo under the CT model, a CT slice under the skin-lesion model); and the demo
// page with the CT model chosen: a CT slice gets a 3-class overlay in the card's colours, a legend
// and each class's area; the model picker remembers the choice, and each model keeps its own
// corrected masks (those stored before there were two models stay the skin model's).
//
// The CT slices are read from ../shared/data/medseg-covid-ct (non-commercial research use; MedSeg
// and Fan et al., "Inf-Net", IEEE TMI 2020) and handed to the browser by the test on 127.0.0.1;
// nothing leaves the machine. The dermoscopy photo is the demo's own sample (ISIC 2016, CC0).
//
// Run: cd tests/browser && node --test --test-concurrency=1 models.test.mjs
// Needs the built package (`./build.sh pkg`: its CPU module, pkg/models/ and www/models/*.packed.gz).

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
const PKG = path.join(ROOT, 'pkg');
const SLOW = 600_000;

// Every test here uses a CT slice: each skips, naming the folder, where ../shared/data lacks them
// (see sharedData).
const SHARED = sharedData('medseg-covid-ct');
const ct = (i) => SHARED.read(`medseg-covid-ct/images/medseg_${String(i).padStart(3, '0')}.jpg`);
const ctMask = (i) => SHARED.read(`medseg-covid-ct/masks/medseg_${String(i).padStart(3, '0')}_segmentation.png`);
const CT = ct(0);
const SKIN = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010018.jpg'));

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tinyunet models test page</title>
<script type="importmap">{ "imports": { "tinyunet": "/pkg/tinyunet.js", "tinyunet/models/skin-lesion": "/pkg/models/skin-lesion.js", "tinyunet/models/lung-ct": "/pkg/models/lung-ct.js", "tinyunet/demo-weights": "/pkg/demo-weights.js" } }</script>
<script type="module">
  import * as tinyunet from 'tinyunet';
  window.tinyunet = tinyunet;
  window.helpersReady = true;
</script>`;

let browser;

before(async () => {
  for (const file of ['wasm/tinyunet_cpu.js', 'models/skin-lesion.safetensors', 'models/lung-ct.safetensors']) {
    assert.ok(fs.existsSync(path.join(PKG, file)), `pkg/${file} is missing: run ./build.sh pkg first`);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test(
  'the package: segmenter.model for both shipped models, per-class areas, doubt and scores, and out-of-domain both ways',
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    const routes = {
      '/models.html': { body: PAGE, type: 'text/html' },
      '/skin.jpg': { body: SKIN, type: 'image/jpeg' },
      '/skin_mask.png': {
        body: fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010018_mask.png')),
        type: 'image/png',
      },
    };
    for (const i of [0, 1, 2, 3]) {
      routes[`/ct${i}.jpg`] = { body: ct(i), type: 'image/jpeg' };
      routes[`/ct${i}_mask.png`] = { body: ctMask(i), type: 'image/png' };
    }
    const server = await startServer({ root: path.join(HERE, 'package-pages'), mounts: { '/pkg/': PKG }, routes });
    try {
      const r = await withPage(
        async ({ page, url, console: log }) => {
          await page.goto(`${url}models.html`);
          await page.waitForFunction(() => window.helpersReady === true);
          const out = await evaluateWithTimeout(
            page,
            async () => {
              const { Segmenter } = window.tinyunet;
              const { skinLesionWeightsUrl } = await import('tinyunet/models/skin-lesion');
              const { lungCtWeightsUrl } = await import('tinyunet/models/lung-ct');
              const { demoWeightsUrl } = await import('tinyunet/demo-weights');
              const blob = async (u) => (await fetch(u)).blob();
              const skin = await Segmenter.create({ backend: 'cpu', inputSize: 64, weights: skinLesionWeightsUrl });
              const lung = await Segmenter.create({ backend: 'cpu', inputSize: 64, weights: lungCtWeightsUrl });
              const fresh = await Segmenter.create({ backend: 'cpu', inputSize: 64, classes: 3 });
              const o = {
                skinModel: skin.model,
                lungModel: lung.model,
                freshModel: fresh.model,
                // What `train` uses when given nothing: the CT card's own rate and epochs.
                defaults: [skin, lung].map((m) => [m.trainingDefaults.learningRate, m.trainingDefaults.epochs]),
                demoIsSkin: demoWeightsUrl.href === skinLesionWeightsUrl.href,
              };
              const [first, second] = [skin.model, skin.model]; // two reads of the getter
              o.copies = first !== second;

              const slice = await lung.segment(await blob('/ct0.jpg'));
              o.slice = {
                classes: slice.classes,
                areas: slice.classAreas,
                classDoubt: [...slice.classDoubt],
                doubtIsArray: slice.classDoubt instanceof Float64Array,
                outOfDomain: slice.outOfDomain,
                pixels: slice.width * slice.height,
                counted: [0, 1, 2].map((c) => slice.mask.reduce((n, v) => n + (v === c), 0)),
              };
              o.photoUnderCt = (await lung.segment(await blob('/skin.jpg'))).outOfDomain;
              o.sliceUnderSkin = (await skin.segment(await blob('/ct0.jpg'))).outOfDomain;
              const skinResult = await skin.segment(await blob('/skin.jpg'));
              o.skinPhoto = {
                areas: skinResult.classAreas,
                foreground: skinResult.foreground,
                classDoubt: skinResult.classDoubt.length,
                outOfDomain: skinResult.outOfDomain,
              };

              const pair = async (i) => ({
                name: `ct${i}`,
                image: await blob(`/ct${i}.jpg`),
                mask: await blob(`/ct${i}_mask.png`),
              });
              const evaluated = await lung.evaluate([await pair(0), await pair(1)]);
              o.evaluated = {
                classScores: evaluated.classScores,
                perImage: evaluated.perImage.map((p) => p.classScores),
                outOfDomain: evaluated.perImage.map((p) => p.outOfDomain),
              };

              // The card travels with the weights: a fresh 3-class network takes the CT file's card, and
              // an exported file carries it.
              await fresh.loadWeights(lungCtWeightsUrl);
              o.loadedModel = fresh.model.name;
              const again = await Segmenter.create({
                backend: 'cpu',
                inputSize: 64,
                weights: await lung.exportWeights(),
              });
              o.exportedModel = again.model;

              // A small fine-tune: each class's held-back Dice before and after.
              const progress = [];
              const run = await lung.train([await pair(2), await pair(3)], {
                heldOut: [await pair(0), await pair(1)],
                epochs: 1,
                batchSize: 2,
                size: 64,
                augment: false,
                onProgress: (p) => progress.push(p.phase),
              });
              o.run = {
                classScores: run.classScores,
                before: run.before,
                after: run.after,
                kept: run.kept,
                phases: [...new Set(progress)],
              };
              const skinPair = { image: await blob('/skin.jpg'), mask: await blob('/skin_mask.png') };
              const run1 = await skin
                .train([skinPair], { heldOut: [skinPair], epochs: 1, size: 64 })
                .catch((e) => ({ error: e.message }));
              o.skinRun = run1.classScores ?? run1.error;
              return o;
            },
            null,
            SLOW,
          );
          assert.deepEqual(log.errors, [], log.format());
          return out;
        },
        { browser, server },
      );

      // The cards, as the files carry them.
      assert.equal(r.skinModel.name, 'skin-lesion');
      assert.equal(r.skinModel.imageKind, 'dermoscopy');
      assert.deepEqual(
        r.skinModel.classes.map((c) => c.name),
        ['skin', 'lesion'],
      );
      assert.equal(r.skinModel.window, undefined);
      assert.equal(r.lungModel.name, 'lung-ct');
      assert.equal(r.lungModel.imageKind, 'ctSlice');
      assert.deepEqual(
        r.lungModel.classes.map((c) => c.name),
        ['background', 'ground-glass opacity', 'consolidation'],
      );
      for (const c of [...r.lungModel.classes, ...r.skinModel.classes]) assert.match(c.colour, /^#[0-9a-f]{6}$/i);
      assert.equal(typeof r.lungModel.window?.center, 'number');
      assert.ok(r.lungModel.window.width > 0);
      for (const m of [r.skinModel, r.lungModel]) {
        assert.ok(m.title && m.trainedOn && m.terms && m.citations.length > 0, JSON.stringify(m));
        assert.equal(m.inputSize, 256);
      }
      assert.match(r.lungModel.terms, /non-commercial/i);
      assert.ok(r.lungModel.citations.some((c) => /Inf-Net/.test(c)));
      assert.deepEqual([r.lungModel.fineTuneLearningRate, r.lungModel.fineTuneEpochs], [3e-4, 40]);
      assert.deepEqual(r.defaults, [
        [3e-5, 10],
        [3e-4, 40],
      ]);
      assert.equal(r.freshModel.name, 'custom');
      assert.deepEqual(
        r.freshModel.classes.map((c) => c.name),
        ['background', 'class 1', 'class 2'],
      );
      assert.ok(r.demoIsSkin, 'demoWeightsUrl is not the skin-lesion model');
      assert.ok(r.copies, 'segmenter.model hands out the same object twice');

      // A CT slice under the CT model: three classes, each with its area, as the card names them.
      assert.equal(r.slice.classes, 3);
      assert.deepEqual(
        r.slice.areas.map((a) => a.name),
        ['background', 'ground-glass opacity', 'consolidation'],
      );
      assert.deepEqual(
        r.slice.areas.map((a) => a.colour),
        r.lungModel.classes.map((c) => c.colour),
      );
      assert.deepEqual(
        r.slice.areas.map((a) => a.pixels),
        r.slice.counted,
      );
      assert.ok(Math.abs(r.slice.areas.reduce((s, a) => s + a.fraction, 0) - 1) < 1e-9);
      assert.ok(r.slice.doubtIsArray, 'classDoubt is not a Float64Array');
      assert.equal(r.slice.classDoubt.length, 2);
      for (const d of r.slice.classDoubt) assert.ok(d >= 0 && d <= 1, String(d));
      assert.equal(r.slice.outOfDomain, null, 'a CT slice is flagged under the CT model');

      // Out of domain both ways.
      assert.equal(r.photoUnderCt?.reason, 'notGreyscale', JSON.stringify(r.photoUnderCt));
      assert.match(r.photoUnderCt.message, /CT slices/);
      assert.equal(r.sliceUnderSkin?.reason, 'greyscale', JSON.stringify(r.sliceUnderSkin));
      assert.equal(r.skinPhoto.outOfDomain, null);
      // A one-class result: skin and lesion, the lesion's share is `foreground`; no per-class doubt.
      assert.deepEqual(
        r.skinPhoto.areas.map((a) => a.name),
        ['skin', 'lesion'],
      );
      assert.ok(Math.abs(r.skinPhoto.areas[1].fraction - r.skinPhoto.foreground) < 1e-12);
      assert.equal(r.skinPhoto.classDoubt, 0);

      // Per-class scores: per image (null where a class is in neither mask) and their means.
      assert.deepEqual(
        r.evaluated.classScores.map((c) => c.name),
        ['ground-glass opacity', 'consolidation'],
      );
      for (const c of r.evaluated.classScores)
        assert.ok(c.images >= 0 && c.images <= 2 && (c.dice === null || (c.dice >= 0 && c.dice <= 1)));
      for (const per of r.evaluated.perImage) assert.equal(per.length, 2);
      assert.deepEqual(r.evaluated.outOfDomain, [null, null]);

      assert.equal(r.loadedModel, 'lung-ct');
      assert.deepEqual(r.exportedModel, r.lungModel);

      // The fine-tune's before/after, per class, and the phase that scored them.
      assert.deepEqual(
        r.run.classScores.map((c) => c.name),
        ['ground-glass opacity', 'consolidation'],
      );
      for (const c of r.run.classScores) {
        assert.match(c.colour, /^#[0-9a-f]{6}$/i);
        for (const s of [c.before, c.after]) assert.ok(s === null || (s.dice >= 0 && s.dice <= 1), JSON.stringify(c));
        if (r.run.kept === 'previous') assert.deepEqual(c.after, c.before);
      }
      assert.ok(r.run.phases.includes('classes'), `phases: ${r.run.phases}`);
      // One class: none.
      assert.deepEqual(r.skinRun, []);
    } finally {
      await server.close();
    }
  },
);

/** Waits for the demo page's model to be ready, and says why if it is not. */
async function ready(page) {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.model), null, { timeout: SLOW });
  assert.equal(
    await page.evaluate(() => document.body.dataset.model),
    'ready',
    await page.locator('#notices').innerText(),
  );
}

/** The card of `name` once settled, checked to be done. */
async function settled(page, name) {
  const card = page.locator(`.card[data-name="${name}"]`);
  await card.and(page.locator('[data-state="done"], [data-state="error"]')).waitFor({ timeout: SLOW });
  assert.equal(await card.getAttribute('data-state'), 'done', await card.innerText());
  return card;
}

test(
  "the demo page with the CT model: a 3-class overlay in the card's colours, a legend and each class's area; a photo is flagged",
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    await withPage(
      async ({ page, url, console: log, requests }) => {
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.goto(`${url}?size=64&backend=cpu&model=lung-ct`);
        await ready(page);
        // Only the chosen model's weights were fetched, packed.
        const fetched = requests.urls();
        assert.ok(
          fetched.some((u) => u.endsWith('/models/lung-ct.packed.gz')),
          `fetched: ${fetched.join(', ')}`,
        );
        assert.ok(
          !fetched.some((u) => /skin-lesion|demo-weights|\.safetensors/.test(u)),
          `fetched: ${fetched.join(', ')}`,
        );
        assert.equal(await page.locator('#model-select').inputValue(), 'lung-ct');
        // The model's card, compact: its title and classes in one line, the rest on request.
        const summary = await page.locator('#model-card summary').innerText();
        assert.match(summary, /Lung infection \(chest CT slice\) — marks ground-glass opacity, consolidation/);
        await page.click('#model-card summary');
        const facts = await page.locator('#model-card-facts').innerText();
        assert.match(facts, /Trained on\s+40 axial CT slices/);
        assert.match(facts, /Terms\s+Non-commercial research use/);
        assert.match(facts, /Inf-Net/);
        assert.match(await page.locator('#segment-hint').innerText(), /CT slices/);
        assert.equal(
          await page.locator('#sample-list').isVisible(),
          false,
          'the dermoscopy samples are offered under the CT model',
        );

        await page.setInputFiles('#segment-input', [
          { name: 'ct-slice.jpg', mimeType: 'image/jpeg', buffer: CT },
          { name: 'lesion.jpg', mimeType: 'image/jpeg', buffer: SKIN },
        ]);
        const slice = await settled(page, 'ct-slice.jpg');
        const photo = await settled(page, 'lesion.jpg');

        // Each foreground class's area, named as the card names it (no "Lesion area").
        const rows = slice.locator('.stats .class-area');
        assert.equal(await rows.count(), 2);
        assert.match(await rows.nth(0).innerText(), /^Ground-glass opacity\s+(none found|\d+(\.\d)?% \([\d,]+ px\))/);
        assert.match(await rows.nth(1).innerText(), /^Consolidation\s+(none found|\d+(\.\d)?% \([\d,]+ px\))/);
        assert.doesNotMatch(await slice.locator('.stats').innerText(), /Lesion/);
        // The legend, in the card's colours.
        const legend = await slice.locator('.legend li').evaluateAll((items) =>
          items.map((li) => ({
            name: li.textContent,
            colour: getComputedStyle(li.querySelector('.swatch-class')).backgroundColor,
          })),
        );
        assert.deepEqual(legend, [
          { name: 'ground-glass opacity', colour: 'rgb(242, 194, 0)' },
          { name: 'consolidation', colour: 'rgb(224, 64, 58)' },
        ]);
        // The overlay paints each class in its colour and in nothing else (read back within a few
        // levels: the canvas keeps colour premultiplied by the fill's alpha).
        const painted = await slice.locator('canvas.overlay').evaluate((canvas) => {
          const classes = { ggo: [242, 194, 0], consolidation: [224, 64, 58] };
          const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = { ggo: 0, consolidation: 0, other: [] };
          for (let i = 0; i < px.length; i += 4) {
            if (!px[i + 3]) continue;
            const match = Object.entries(classes).find(([, c]) => c.every((v, k) => Math.abs(v - px[i + k]) <= 3));
            if (match) seen[match[0]]++;
            else if (seen.other.length < 5) seen.other.push([px[i], px[i + 1], px[i + 2]].join(','));
          }
          return seen;
        });
        const pixels = await rows.evaluateAll((r) => r.map((row) => Number(row.dataset.pixels)));
        assert.deepEqual(painted.other, [], "the overlay paints other colours than the classes'");
        assert.equal(
          painted.ggo > 0,
          pixels[0] > 0,
          `ground-glass: ${pixels[0]} px in the mask, ${painted.ggo} painted`,
        );
        assert.equal(
          painted.consolidation > 0,
          pixels[1] > 0,
          `consolidation: ${pixels[1]} px in the mask, ${painted.consolidation} painted`,
        );
        console.log(`CT slice under the interim CT model: ${pixels[0]} px ground-glass, ${pixels[1]} px consolidation`);
        assert.equal(await slice.getAttribute('data-out-of-domain'), 'false');

        // A dermoscopy photo under the CT model: flagged, in words about CT.
        assert.equal(await photo.getAttribute('data-out-of-domain'), 'notGreyscale');
        assert.match(await photo.locator('.card-domain').innerText(), /^Not a CT slice\? This image is in colour/);

        // The editor paints the card's classes, by name.
        await slice.locator('button', { hasText: 'Correct mask' }).click();
        await page.locator('#editor[data-ready="true"]').waitFor();
        assert.deepEqual(await page.locator('#editor-class option').allInnerTexts(), [
          'ground-glass opacity',
          'consolidation',
        ]);
        await page.click('#editor-close');
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server: demoServerOptions(), timeout: SLOW },
    );
  },
);

test(
  "the model picker remembers the choice; each model keeps its own corrected masks, and those stored before there were two stay the skin model's",
  { timeout: SLOW, skip: SHARED.skip },
  async () => {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(`${url}?size=64&backend=cpu`);
        await ready(page);
        assert.equal(await page.locator('#model-select').inputValue(), 'skin-lesion');
        assert.equal(await page.locator('#model-card').getAttribute('data-name'), 'skin-lesion');
        // An annotation as the page stored it before there were two models (no `model`).
        await page.evaluate(async () => {
          const canvas = new OffscreenCanvas(8, 8);
          const ctx = canvas.getContext('2d');
          ctx.fillStyle = '#c08060';
          ctx.fillRect(0, 0, 8, 8);
          const image = new File([await canvas.convertToBlob({ type: 'image/png' })], 'old-lesion.png', {
            type: 'image/png',
          });
          const mask = new Uint8Array(64).map((_, i) => (i % 8 < 4 ? 1 : 0));
          const db = await new Promise((resolve, reject) => {
            const open = indexedDB.open('tinyunet-demo', 2);
            open.onsuccess = () => resolve(open.result);
            open.onerror = () => reject(open.error);
          });
          await new Promise((resolve, reject) => {
            const tx = db.transaction(['annotations', 'annotation-parts'], 'readwrite');
            tx.objectStore('annotations').put(
              {
                id: 'old-1',
                name: 'old-lesion.png',
                width: 8,
                height: 8,
                classes: 1,
                mask,
                corrected: true,
                inResults: true,
                inTraining: false,
                stats: { foreground: 0.5, doubt: 0, outOfDomain: null },
                created: 1,
                saved: 1,
              },
              'old-1',
            );
            tx.objectStore('annotation-parts').put({ image, modelMask: mask, doubtful: new Uint8Array(64) }, 'old-1');
            tx.oncomplete = resolve;
            tx.onerror = () => reject(tx.error);
          });
          db.close();
        });
        await page.reload();
        await ready(page);
        await page.waitForFunction(() => document.body.dataset.annotations === 'restored');
        assert.equal(
          await page.locator('.card[data-name="old-lesion.png"]').count(),
          1,
          'the stored skin annotation is not back',
        );

        // Choose the CT model: the page starts again on it, without the skin model's masks.
        await page.selectOption('#model-select', 'lung-ct');
        await page.waitForURL(/./, { waitUntil: 'load' });
        await page.waitForFunction(() => document.body.dataset.modelName === 'lung-ct');
        await ready(page);
        await page.waitForFunction(() => document.body.dataset.annotations === 'restored');
        assert.equal(await page.locator('#model-select').inputValue(), 'lung-ct');
        assert.equal(
          await page.locator('.card[data-name="old-lesion.png"]').count(),
          0,
          "the skin model's mask shows under the CT model",
        );
        // A CT mask corrected here is the CT model's.
        await page.setInputFiles('#segment-input', [{ name: 'ct-slice.jpg', mimeType: 'image/jpeg', buffer: CT }]);
        const slice = await settled(page, 'ct-slice.jpg');
        await slice.locator('button', { hasText: 'Correct mask' }).click();
        await page.locator('#editor[data-ready="true"]').waitFor();
        await page.click('#editor-add');
        await page.waitForFunction(() => document.body.dataset.annotationsSaved === 'saved');
        const stored = await page.evaluate(async () => {
          const db = await new Promise((resolve) => {
            const o = indexedDB.open('tinyunet-demo', 2);
            o.onsuccess = () => resolve(o.result);
          });
          const all = await new Promise((resolve) => {
            const r = db.transaction('annotations').objectStore('annotations').getAll();
            r.onsuccess = () => resolve(r.result);
          });
          db.close();
          return all.map((a) => ({ name: a.name, model: a.model ?? null, classes: a.classes }));
        });
        assert.deepEqual(
          stored.sort((a, b) => a.name.localeCompare(b.name)),
          [
            { name: 'ct-slice.jpg', model: 'lung-ct', classes: 3 },
            { name: 'old-lesion.png', model: null, classes: 1 },
          ],
        );

        // The choice is remembered: a plain visit comes back on the CT model, with its own mask.
        await page.goto(`${url}?size=64&backend=cpu`);
        await ready(page);
        await page.waitForFunction(() => document.body.dataset.annotations === 'restored');
        assert.equal(await page.locator('#model-select').inputValue(), 'lung-ct');
        assert.equal(await page.locator('.card[data-name="ct-slice.jpg"]').count(), 1);
        assert.equal(await page.locator('.card[data-name="old-lesion.png"]').count(), 0);
        // And back to the skin model, whose mask is still there.
        await page.selectOption('#model-select', 'skin-lesion');
        await page.waitForFunction(() => document.body.dataset.modelName === 'skin-lesion');
        await ready(page);
        await page.waitForFunction(() => document.body.dataset.annotations === 'restored');
        assert.equal(await page.locator('.card[data-name="old-lesion.png"]').count(), 1);
        assert.equal(await page.locator('.card[data-name="ct-slice.jpg"]').count(), 0);
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server: demoServerOptions(), timeout: SLOW },
    );
  },
);
