// The package as a web developer installs and uses it (pkg/README.md, "Install"): the plain page
// with its import map, the inputs people pass (a URL or string for weights, a Response for an
// image), a Vite app on the CPU-only entry, the package's file list, and Node.
//
// Run: cd tests/browser && node --test --test-concurrency=1 install.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, onHelpersPage, withPage, evaluateWithTimeout } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = path.join(ROOT, 'pkg');
const SLOW = 300_000;
const PHOTO = path.join(ROOT, 'www/samples/isic-0010018.jpg');

/** The first ```LANG block of pkg/README.md, as written. */
function readmeBlock(lang) {
  const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
  const match = readme.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'));
  assert.ok(match, `pkg/README.md has no \`\`\`${lang} block`);
  return match[1];
}

function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tinyunet-${name}-`));
}

let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), 'pkg/wasm/ is missing: run ./build.sh pkg first');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test("the README's plain page, with its import map, segments a photo chosen in it", { timeout: SLOW }, async () => {
  const dir = tempDir('plain');
  fs.writeFileSync(path.join(dir, 'index.html'), readmeBlock('html'));
  const server = await startServer({ root: dir, mounts: { '/node_modules/tinyunet/': PKG } });
  try {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(url);
        await page.locator('#out', { hasText: /^Ready on (cpu|webgpu)/ }).waitFor({ timeout: SLOW });
        await page.setInputFiles('#photo', PHOTO);
        const out = page.locator('#out', { hasText: /^Lesion/ });
        await out.waitFor({ timeout: SLOW });
        const [, share] = (await out.innerText()).match(/^Lesion: (\d+\.\d)% of the image, doubt \d+%\.$/) ?? [];
        // The expert's mask of this photo covers 37% of it.
        assert.ok(Number(share) > 30 && Number(share) < 45, `the page says: ${await out.innerText()}`);
        assert.deepEqual(log.errors, [], log.format());
      },
      { browser, server },
    );
    // Without the import map the bare name cannot resolve: why the README shows one.
    fs.writeFileSync(
      path.join(dir, 'index.html'),
      readmeBlock('html').replace(/<script type="importmap">[\s\S]*?<\/script>/, ''),
    );
    await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(url);
        await page.waitForFunction(() => document.readyState === 'complete');
        await new Promise((r) => setTimeout(r, 500));
        assert.match(log.format(), /Failed to resolve module specifier "tinyunet"/);
      },
      { browser, server },
    );
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'weights given as a URL or a string are fetched, and a Response is an image like a Blob',
  { timeout: SLOW },
  async () => {
    const server = await startServer({
      root: path.join(HERE, 'package-pages'),
      mounts: { '/pkg/': PKG },
      routes: { '/lesion.jpg': { body: fs.readFileSync(PHOTO), type: 'image/jpeg' } },
    });
    try {
      const r = await onHelpersPage(browser, server, (page) =>
        evaluateWithTimeout(
          page,
          async () => {
            const { Segmenter } = window.tinyunet;
            const { demoWeightsUrl } = await import('tinyunet/demo-weights');
            const { skinLesionWeightsUrl } = await import('tinyunet/models/skin-lesion');
            const { errorOf } = window;
            const byUrl = await Segmenter.create({ backend: 'cpu', inputSize: 64, weights: demoWeightsUrl });
            const byString = await Segmenter.create({
              backend: 'cpu',
              inputSize: 64,
              weights: '/pkg/models/skin-lesion.safetensors',
            });
            const demo = await window.fetchBytes('/pkg/models/skin-lesion.safetensors');
            const [a, b] = [await byUrl.exportWeights(), await byString.exportWeights()];
            const fromResponse = await byUrl.segment(await fetch('/lesion.jpg'));
            const fromBlob = await byUrl.segment(await (await fetch('/lesion.jpg')).blob());
            return {
              same: a.length === b.length && a.every((v, i) => v === b[i]),
              // The old name of the skin-lesion model's URL is the new one's file.
              demoIsSkinLesion: demoWeightsUrl.href === skinLesionWeightsUrl.href,
              parameters: byUrl.parameters,
              demoBytes: demo.length,
              response: [fromResponse.width, fromResponse.height, fromResponse.foreground],
              blob: [fromBlob.width, fromBlob.height, fromBlob.foreground],
              missingString: await errorOf(() => Segmenter.create({ backend: 'cpu', weights: '/missing.safetensors' })),
              missingUrl: await errorOf(() =>
                Segmenter.create({ backend: 'cpu', weights: new URL('/missing.safetensors', location.href) }),
              ),
              missingImage: await errorOf(async () => byUrl.segment(await fetch('/missing.jpg'))),
              origin: location.origin,
            };
          },
          undefined,
          SLOW,
        ),
      );
      assert.ok(r.same, 'the same weights by URL and by string differ');
      assert.ok(r.demoIsSkinLesion, 'demoWeightsUrl is not the skin-lesion model');
      assert.equal(r.parameters, 481_105);
      assert.deepEqual(r.response, r.blob);
      assert.deepEqual(r.response.slice(0, 2), [512, 512]);
      assert.deepEqual(
        [r.missingString, r.missingUrl, r.missingImage].map((e) => e.isError),
        [true, true, true],
      );
      assert.equal(
        r.missingString.message,
        `weights: the server answered 404 Not Found for ${r.origin}/missing.safetensors`,
      );
      assert.equal(r.missingUrl.message, r.missingString.message);
      assert.equal(
        r.missingImage.message,
        `input: image: the server answered 404 Not Found for ${r.origin}/missing.jpg`,
      );
    } finally {
      await server.close();
    }
  },
);

test(
  'a Vite app on tinyunet/cpu carries neither the WebGPU build nor the demo weights, and fine-tunes in its training Worker',
  { timeout: SLOW },
  async () => {
    const { build } = await import('vite');
    const outDir = tempDir('vite-cpu');
    try {
      await build({
        root: path.join(HERE, 'vite-cpu-app'),
        configFile: path.join(HERE, 'vite-cpu-app/vite.config.js'),
        build: { outDir, emptyOutDir: true },
      });
      const files = fs.readdirSync(outDir, { recursive: true }).map(String);
      assert.ok(
        files.some((f) => /tinyunet_cpu_bg.*\.wasm$/.test(f)),
        `no CPU wasm among ${files}`,
      );
      assert.deepEqual(
        files.filter((f) => /webgpu|demo-weights|skin-lesion|lung-ct/.test(f)),
        [],
        'the bundle carries the WebGPU build or shipped weights',
      );
      for (const f of files.filter((f) => f.endsWith('.js'))) {
        assert.doesNotMatch(
          fs.readFileSync(path.join(outDir, f), 'utf8'),
          /tinyunet_webgpu/,
          `${f} refers to the WebGPU build`,
        );
      }
      const app = await startServer({
        root: outDir,
        routes: {
          '/my-weights.safetensors': {
            body: fs.readFileSync(path.join(ROOT, 'tests/fixtures/no-ph2.safetensors')),
            type: 'application/octet-stream',
          },
        },
      });
      try {
        await withPage(
          async ({ page, url, requests }) => {
            await page.goto(url);
            const r = await evaluateWithTimeout(page, () => window.viteResult, undefined, SLOW);
            assert.deepEqual(r, {
              backend: 'cpu',
              reason: 'this is the CPU-only entry (tinyunet/cpu)',
              width: 64,
              height: 48,
              parameters: 481_105,
              trained: { steps: 1, memoryReleased: true },
            });
            assert.ok(
              !requests.urls().some((u) => /webgpu|demo-weights|skin-lesion|lung-ct/.test(u)),
              `fetched: ${requests.urls()}`,
            );
          },
          { browser, server: app },
        );
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  },
);

test("npm pack ships the package's files, every export among them, with its metadata", () => {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: PKG,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  const files = packed.files.map((f) => f.path).sort();
  const builds = ['cpu', 'cpu-threads', 'webgpu'].flatMap((b) =>
    [`tinyunet_${b}.d.ts`, `tinyunet_${b}.js`, `tinyunet_${b}_bg.wasm`, `tinyunet_${b}_bg.wasm.d.ts`].map(
      (f) => `wasm/${f}`,
    ),
  );
  assert.deepEqual(
    files,
    [
      'LICENSE',
      'README.md',
      'cpu.d.ts',
      'cpu.js',
      'demo-weights.d.ts',
      'demo-weights.js',
      ...['skin-lesion', 'lung-ct'].flatMap((m) => [
        `models/${m}.TERMS.md`,
        `models/${m}.d.ts`,
        `models/${m}.js`,
        `models/${m}.safetensors`,
      ]),
      'builds.js',
      'download.js',
      'errors.js',
      'image.js',
      'options.js',
      'package.json',
      'segmenter.js',
      'thread-worker.js',
      'threads.js',
      'tinyunet.d.ts',
      'tinyunet.js',
      'training-instance.js',
      'training-worker.js',
      ...builds,
    ].sort(),
  );
  const manifest = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  const targets = Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  for (const target of targets) {
    const pattern = new RegExp(`^${target.replace(/^\.\//, '').replace(/[.]/g, '\\.').replace('*', '.+')}$`);
    assert.ok(
      files.some((f) => pattern.test(f)),
      `export ${target} is not in the package`,
    );
  }
  // Code MIT, weights under their data's terms: the field, the LICENSE and each terms file say so.
  assert.equal(manifest.license, 'MIT AND LicenseRef-Model-Weights-Research-Use');
  const licence = fs.readFileSync(path.join(PKG, 'LICENSE'), 'utf8');
  assert.match(licence, /^MIT License$/m);
  assert.match(licence, /model weights are NOT/);
  assert.match(fs.readFileSync(path.join(PKG, 'models/skin-lesion.TERMS.md'), 'utf8'), /Research use only/);
  assert.match(fs.readFileSync(path.join(PKG, 'models/lung-ct.TERMS.md'), 'utf8'), /Non-commercial research use only/);
  assert.equal(manifest.engines.node, '>=20');
});

test(
  "in Node the CPU backend runs from the package's folder; encoded images get a message saying what to pass",
  { timeout: SLOW },
  async () => {
    // By package name, as an app would (tests/browser/node_modules/tinyunet is the package).
    const { Segmenter } = await import('tinyunet');
    const { demoWeightsUrl } = await import('tinyunet/demo-weights');
    const cpuOnly = await import('tinyunet/cpu');
    const segmenter = await Segmenter.create({ weights: demoWeightsUrl, inputSize: 64 });
    assert.equal(segmenter.backend, 'cpu');
    assert.equal(segmenter.fallbackReason, 'Node has no WebGPU (navigator.gpu is missing)');
    const [width, height] = [40, 30];
    const image = { data: new Uint8Array(width * height * 4).fill(200), width, height };
    const result = await segmenter.segment(image);
    assert.deepEqual([result.width, result.height, result.mask.length], [width, height, width * height]);
    // The CPU-only entry gives the same answer.
    const again = await cpuOnly.Segmenter.create({ weights: await segmenter.exportWeights(), inputSize: 64 });
    assert.deepEqual((await again.segment(image)).mask, result.mask);
    // Training runs too.
    const mask = {
      data: new Uint8Array(width * height * 4).map((_, i) => ((i >> 2) % width < 20 ? 255 : 0)),
      width,
      height,
    };
    const run = await segmenter.train([{ image, mask }], { epochs: 1, size: 32 });
    assert.equal(run.stepsDone, 1);
    // Nothing held back with one pair: the last step's weights, for that reason.
    assert.deepEqual([run.kept, run.why], ['last', 'nothingHeldBack']);
    const png = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010018_mask.png'));
    await assert.rejects(
      segmenter.segment(png),
      /^TinyunetError: input: image: decoding PNG needs the browser's createImageBitmap, which this environment lacks \(Node\?\): pass decoded pixels/,
    );
  },
);
