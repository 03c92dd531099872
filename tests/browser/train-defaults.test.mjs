// The demo page's Fine-tune form starts from the core's defaults (the package's
// `trainingDefaults`, which `tinyunet fine-tune` also uses), so a clinic's run in the page is the
// one the README measured and the CLI reproduces: no settings of the page's own.
//
// Run: cd tests/browser && node --test --test-concurrency=1 train-defaults.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, withPage, evaluateWithTimeout, demoServerOptions } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = process.env.TINYUNET_PKG_DIR ? path.resolve(process.env.TINYUNET_PKG_DIR) : path.join(ROOT, 'pkg');
const SLOW = 300_000;

let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), `${PKG}/wasm/ is missing: run ./build.sh pkg first`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test(
  "the Fine-tune form shows the package's training defaults, and a value the user typed stays",
  { timeout: SLOW },
  async () => {
    await withPage(
      async ({ page, url }) => {
        await page.goto(`${url}?size=64`);
        await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.model), null, {
          timeout: SLOW,
        });
        // The package as a user imports it, in the page's own origin.
        const defaults = await evaluateWithTimeout(
          page,
          async () => {
            const { Segmenter } = await import('/pkg/tinyunet.js');
            const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
            return seg.trainingDefaults;
          },
          null,
          SLOW,
        );
        const form = () =>
          page.evaluate(() => ({
            epochs: Number(document.querySelector('#epochs').value),
            learningRate: Number(document.querySelector('#lr').value),
            batchSize: Number(document.querySelector('#batch').value),
            augment: document.querySelector('#augment').checked,
          }));
        assert.deepEqual(await form(), {
          epochs: defaults.epochs,
          learningRate: defaults.learningRate,
          batchSize: defaults.batchSize,
          augment: defaults.augment,
        });
        assert.equal(defaults.freezeBatchNorm, true);
        // A typed value survives the model's later state changes (here: a new resolution's worker).
        await page.locator('#epochs').fill('3');
        await page.evaluate(() => document.querySelector('#epochs').dispatchEvent(new Event('change')));
        await page.waitForFunction(() => !document.querySelector('#size-select').disabled, null, { timeout: SLOW });
        await page.locator('#size-select').selectOption('128');
        await page.waitForFunction(() => document.body.dataset.model === 'ready', null, { timeout: SLOW });
        assert.equal((await form()).epochs, 3);
      },
      { browser, server: demoServerOptions({ pkg: PKG }), timeout: SLOW },
    );
  },
);
