// Tests of the demo page's ZIP writer and reader (www/ui/zip.js): pure functions, so Node runs
// them without a browser. Interop is checked both ways against Python's zipfile; damaged and
// hostile archives are written by hand (or patched from ours) so that every refusal is seen.
//
// Run: cd tests/browser && node --test zip.test.mjs

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { makeZip, readZip, looksLikeZip } from '../../www/ui/zip.js';

const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const bytesOfBlob = async (blob) => new Uint8Array(await blob.arrayBuffer());
const text = (s) => new TextEncoder().encode(s);
const filled = (n, v) => new Uint8Array(n).fill(v);

/** Every byte value twice, so that no value is mangled on the way. */
function allBytes() {
  const out = new Uint8Array(512);
  for (let i = 0; i < out.length; i++) out[i] = i & 0xff;
  return out;
}

/**
 * A zip written by hand, so that tests can declare what they like (sizes, CRCs, methods, names):
 * `data` is written as is (already deflated for method 8).
 */
function rawZip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.data);
    const method = e.method ?? 0;
    const size = e.size ?? data.length;
    const crc = e.crc ?? zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.flags ?? 0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.flags ?? 0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, dir, end]));
}

/** Where each central-directory entry and its local header start, in a zip with no comment. */
function layout(zip) {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.length - 22;
  const count = view.getUint16(end + 10, true);
  const entries = [];
  let p = view.getUint32(end + 16, true);
  for (let k = 0; k < count; k++) {
    const nameLength = view.getUint16(p + 28, true);
    const local = view.getUint32(p + 42, true);
    entries.push({
      central: p,
      local,
      data: local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true),
    });
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  return { view, end, entries };
}

function hasPython() {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-zip-test-'));
}

const SAMPLE = () => [
  { name: 'ISIC_0000001.jpg', data: allBytes() },
  { name: 'ISIC_0000001_segmentation.png', data: new Blob([PNG_SIGNATURE, filled(300, 7)]) },
  { name: 'empty.txt', data: new Uint8Array(0) },
  { name: 'läsion-1.png', data: text('ä ö ü — ✓') },
  { name: 'masks/nested/deep.png', data: filled(1000, 255) },
  { name: 'annotations.json', data: text('{"format":"tinyunet-annotations/1","pairs":[]}\n') },
];

async function sameAsSample(entries) {
  const expected = SAMPLE();
  assert.deepEqual(
    entries.map((e) => e.name),
    expected.map((f) => f.name),
  );
  for (let i = 0; i < expected.length; i++) {
    const data = expected[i].data instanceof Blob ? await bytesOfBlob(expected[i].data) : expected[i].data;
    assert.ok(entries[i].data instanceof Uint8Array, `${entries[i].name} is a Uint8Array`);
    assert.deepEqual(Buffer.from(entries[i].data), Buffer.from(data), `bytes of ${expected[i].name}`);
  }
}

describe('round trip', () => {
  test('makeZip → readZip gives the same names and bytes, from a Blob, ArrayBuffer or Uint8Array', async () => {
    const blob = await makeZip(SAMPLE());
    assert.equal(blob.type, 'application/zip');
    await sameAsSample(await readZip(blob));
    const bytes = await bytesOfBlob(blob);
    await sameAsSample(await readZip(bytes.buffer));
    // A view that does not start at its buffer's start (as Node's Buffers often are).
    const offsetView = Buffer.concat([Buffer.alloc(7, 0x50), Buffer.from(bytes)]).subarray(7);
    assert.notEqual(offsetView.byteOffset, 0);
    await sameAsSample(await readZip(offsetView));
  });

  test('an empty list makes an empty zip that reads back as no files', async () => {
    const blob = await makeZip([]);
    assert.equal(blob.size, 22);
    assert.deepEqual(await readZip(blob), []);
  });

  test('names are flagged UTF-8 and stored as UTF-8 bytes', async () => {
    const zip = await bytesOfBlob(await makeZip([{ name: 'läsion-1.png', data: filled(3, 1) }]));
    const { view, entries } = layout(zip);
    assert.equal(view.getUint16(entries[0].local + 6, true) & 0x0800, 0x0800);
    assert.equal(view.getUint16(entries[0].central + 8, true) & 0x0800, 0x0800);
    const name = Buffer.from(zip.subarray(entries[0].local + 30, entries[0].local + 30 + 13));
    assert.deepEqual(name, Buffer.from('läsion-1.png', 'utf8'));
  });
});

describe('interop with Python zipfile', () => {
  test('Python reads our zip: testzip() passes, same names, bytes, UTF-8 flag and date', async (t) => {
    if (!hasPython()) return t.skip('python3 is not installed');
    const dir = tempDir();
    try {
      const file = path.join(dir, 'ours.zip');
      const modified = new Date(2024, 2, 5, 13, 7, 9); // local time, as zip dates are
      const files = SAMPLE().map((f) => ({ ...f, modified }));
      fs.writeFileSync(file, await bytesOfBlob(await makeZip(files)));
      const script = `
import base64, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    print(json.dumps({
        'bad': z.testzip(),
        'files': [{'name': i.filename, 'data': base64.b64encode(z.read(i)).decode(), 'flags': i.flag_bits,
                   'method': i.compress_type, 'date': list(i.date_time)} for i in z.infolist()],
    }))`;
      const seen = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }));
      assert.equal(seen.bad, null);
      await sameAsSample(
        seen.files.map((f) => ({ name: f.name, data: new Uint8Array(Buffer.from(f.data, 'base64')) })),
      );
      for (const f of seen.files) {
        assert.equal(f.method, 0, `${f.name} is stored`);
        assert.equal(f.flags & 0x0800, 0x0800, `${f.name} is flagged UTF-8`);
        assert.deepEqual(f.date, [2024, 3, 5, 13, 7, 8], `${f.name}'s date (DOS time has 2 s steps)`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Python writes the zip and says what it holds; we must read exactly that.
  async function readPythonZip(body) {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'python.zip');
      const script = `
import base64, json, random, sys, zipfile
expected = []
${body}
print(json.dumps(expected))`;
      const expected = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }));
      const entries = await readZip(fs.readFileSync(file));
      assert.deepEqual(
        entries.map((e) => e.name),
        expected.map((e) => e.name),
      );
      for (let i = 0; i < expected.length; i++) {
        assert.deepEqual(
          Buffer.from(entries[i].data),
          Buffer.from(expected[i].data, 'base64'),
          `bytes of ${expected[i].name}`,
        );
      }
      return entries;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('we read a zip Python wrote with ZIP_DEFLATED (and an archive comment)', async (t) => {
    if (!hasPython()) return t.skip('python3 is not installed');
    const entries = await readPythonZip(`
files = [
    ('images/ISIC_0000001.jpg', random.Random(1).randbytes(20000)),
    ('masks/ISIC_0000001_segmentation.png', bytes(range(256)) * 40),
    ('läsion-1.png', 'läsion ✓'.encode() * 100),
    ('empty.txt', b''),
    ('annotations.json', b'{"pairs": []}\\n' * 50),
]
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for name, data in files:
        z.writestr(name, data)
        expected.append({'name': name, 'data': base64.b64encode(data).decode()})
    z.comment = b'a comment, ' * 1000
with zipfile.ZipFile(sys.argv[1]) as z:
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
`);
    assert.equal(entries.length, 5);
  });

  test('we read a ZIP_STORED zip from Python, leaving out its folder and __MACOSX entries', async (t) => {
    if (!hasPython()) return t.skip('python3 is not installed');
    const entries = await readPythonZip(`
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr(zipfile.ZipInfo('images/'), b'')
    z.writestr('images/a.jpg', b'\\xff\\xd8 jpeg bytes')
    z.writestr('__MACOSX/images/._a.jpg', b'resource fork')
    z.writestr('__MACOSX/notes.txt', b'not a ._ name, left out for its folder')
    z.writestr('images/._a.jpg', b'AppleDouble')
    z.writestr('masks/a_segmentation.png', bytes(range(256)))
    expected.append({'name': 'images/a.jpg', 'data': base64.b64encode(b'\\xff\\xd8 jpeg bytes').decode()})
    expected.append({'name': 'masks/a_segmentation.png', 'data': base64.b64encode(bytes(range(256))).decode()})
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    assert 'images/' in names and '__MACOSX/images/._a.jpg' in names, names
`);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['images/a.jpg', 'masks/a_segmentation.png'],
    );
  });
});

describe('readZip refuses what it cannot read safely', () => {
  const two = () => [
    { name: 'a.jpg', data: filled(50, 1) },
    { name: 'mask.png', data: allBytes() },
  ];
  const ours = async (files = two()) => bytesOfBlob(await makeZip(files));

  test('not a zip', async () => {
    const message = 'zip: this file is not a zip archive';
    await assert.rejects(readZip(new Uint8Array(0)), { message });
    await assert.rejects(readZip(PNG_SIGNATURE), { message });
    await assert.rejects(readZip(new Blob([filled(100000, 0x41)])), { message });
  });

  test('a truncated archive', async () => {
    const zip = await ours();
    for (const length of [zip.length - 1, zip.length - 30, Math.floor(zip.length / 2), 10]) {
      await assert.rejects(
        readZip(zip.slice(0, length)),
        { message: /^zip: the archive is truncated/ },
        `cut to ${length} bytes`,
      );
    }
    // The end record is whole but the entries it points at are cut off.
    const { entries } = layout(zip);
    const cut = new Uint8Array([...zip.subarray(0, entries[1].data + 10), ...zip.subarray(entries[1].data + 100)]);
    await assert.rejects(readZip(cut), { message: /^zip: / });
  });

  test('a flipped byte in a stored entry: a CRC error naming the entry', async () => {
    const zip = await ours();
    await readZip(zip); // sound before the flip
    zip[layout(zip).entries[1].data + 100] ^= 0x10;
    await assert.rejects(readZip(zip), { message: /^zip: mask\.png is damaged \(its checksum does not match\)$/ });
  });

  test('a stored entry whose sizes disagree', async () => {
    await assert.rejects(readZip(rawZip([{ name: 'odd.png', data: filled(10, 2), size: 12 }])), {
      message: /^zip: odd\.png is damaged/,
    });
  });

  test('an encrypted entry', async () => {
    const zip = await ours();
    const { view, entries } = layout(zip);
    view.setUint16(entries[1].central + 8, view.getUint16(entries[1].central + 8, true) | 1, true);
    view.setUint16(entries[1].local + 6, view.getUint16(entries[1].local + 6, true) | 1, true);
    await assert.rejects(readZip(zip), { message: /^zip: mask\.png is encrypted$/ });
  });

  test('an unsupported compression method, named', async () => {
    const zip = await ours();
    const { view, entries } = layout(zip);
    view.setUint16(entries[0].central + 10, 12, true); // bzip2
    view.setUint16(entries[0].local + 8, 12, true);
    await assert.rejects(readZip(zip), { message: /^zip: a\.jpg uses compression method 12/ });
  });

  test('unsafe names, named', async () => {
    const data = filled(4, 9);
    assert.equal((await readZip(rawZip([{ name: 'fine/evil.png', data }])))[0].name, 'fine/evil.png');
    for (const name of ['../evil.png', 'images/../../evil.png', '/etc/evil.png', 'C:/evil.png', 'a\\..\\evil.png']) {
      await assert.rejects(readZip(rawZip([{ name, data }])), (e) => {
        assert.match(e.message, /^zip: unsafe file name/);
        assert.ok(e.message.includes(JSON.stringify(name)), `${e.message} names ${name}`);
        return true;
      });
    }
  });

  test('zip64 archives', async () => {
    const zip = await ours();
    new DataView(zip.buffer).setUint32(zip.length - 22 + 16, 0xffffffff, true); // directory offset
    await assert.rejects(readZip(zip), { message: /^zip: zip64/ });
    // A zip64 end locator just before the end record, as zip64 writers put it.
    const plain = await ours();
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    const withLocator = Buffer.concat([
      plain.subarray(0, plain.length - 22),
      locator,
      plain.subarray(plain.length - 22),
    ]);
    await assert.rejects(readZip(withLocator), { message: /^zip: zip64/ });
  });

  test('more entries than maxEntries', async () => {
    const files = [0, 1, 2].map((i) => ({ name: `f${i}.png`, data: filled(100, i) }));
    const zip = await ours(files);
    await assert.rejects(readZip(zip, { maxEntries: 2 }), { message: /^zip: 3 entries is more than the 2 allowed$/ });
    assert.equal((await readZip(zip, { maxEntries: 3 })).length, 3);
  });

  test('more in all than maxTotalBytes, from the declared sizes', async () => {
    const files = [0, 1, 2].map((i) => ({ name: `f${i}.png`, data: filled(100, i) }));
    const zip = await ours(files);
    await assert.rejects(readZip(zip, { maxTotalBytes: 299 }), {
      message: /^zip: the files hold more than the 299 bytes allowed$/,
    });
    assert.equal((await readZip(zip, { maxTotalBytes: 300 })).length, 3);
    // Refused before any entry is read: a damaged entry would otherwise be reported first.
    zip[layout(zip).entries[0].data] ^= 1;
    await assert.rejects(readZip(zip, { maxTotalBytes: 299 }), { message: /more than the 299 bytes allowed/ });
  });

  test('a deflated entry that inflates to more than it declared is stopped (zip bomb)', async () => {
    const big = Buffer.alloc(8 << 20); // 8 MiB of zeros deflate to about 8 KiB
    const packed = zlib.deflateRawSync(big);
    assert.ok(packed.length < 20000);
    // Sound as written (so the refusal below is the bomb guard, not a bad hand-built zip)…
    const sound = await readZip(
      rawZip([{ name: 'bomb.png', data: packed, method: 8, size: big.length, crc: zlib.crc32(big) }]),
    );
    assert.equal(sound[0].data.length, big.length);
    // …then declaring 1000 bytes must stop inflation at the limit, not after 8 MiB.
    const bomb = rawZip([
      { name: 'bomb.png', data: packed, method: 8, size: 1000, crc: zlib.crc32(big.subarray(0, 1000)) },
    ]);
    await assert.rejects(readZip(bomb), { message: /^zip: bomb\.png holds more than it says/ });
  });

  test('a truncated deflate stream and a deflated entry with a wrong CRC', async () => {
    const data = Buffer.from('a mask, not very random. '.repeat(400));
    const packed = zlib.deflateRawSync(data);
    await assert.rejects(
      readZip(
        rawZip([
          {
            name: 'cut.png',
            data: packed.subarray(0, packed.length >> 1),
            method: 8,
            size: data.length,
            crc: zlib.crc32(data),
          },
        ]),
      ),
      { message: /^zip: cut\.png is damaged/ },
    );
    await assert.rejects(
      readZip(
        rawZip([{ name: 'crc.png', data: packed, method: 8, size: data.length, crc: (zlib.crc32(data) ^ 1) >>> 0 }]),
      ),
      { message: /^zip: crc\.png is damaged \(its checksum does not match\)$/ },
    );
  });
});

describe('makeZip refuses bad lists', () => {
  const data = filled(3, 1);
  test('duplicate names, named', async () => {
    await assert.rejects(
      makeZip([
        { name: 'a.png', data },
        { name: 'b.png', data },
        { name: 'a.png', data },
      ]),
      { message: /a\.png is in the list twice/ },
    );
  });

  test('empty, absolute and .. names, named', async () => {
    await assert.rejects(makeZip([{ name: '', data }]), { message: /empty name/ });
    await assert.rejects(makeZip([{ name: '../evil.png', data }]), { message: /unsafe file name "\.\.\/evil\.png"/ });
    await assert.rejects(makeZip([{ name: 'masks/../../evil.png', data }]), {
      message: /"masks\/\.\.\/\.\.\/evil\.png"/,
    });
    await assert.rejects(makeZip([{ name: '/abs.png', data }]), { message: /unsafe file name "\/abs\.png"/ });
    // A name that only contains dots is fine.
    assert.equal((await readZip(await makeZip([{ name: 'a..b.png', data }])))[0].name, 'a..b.png');
  });

  test('more than 65535 files, and 4 GiB or more in all (no zip64)', async () => {
    const many = Array.from({ length: 65536 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(0) }));
    await assert.rejects(makeZip(many), { message: /65536 files is more than a zip without zip64 holds/ });
    // Something Blob-like that says it holds 4 GiB: refused from its size, before it is read.
    const huge = { size: 2 ** 32, arrayBuffer: () => assert.fail('read before the size was checked') };
    await assert.rejects(makeZip([{ name: 'huge.bin', data: huge }]), { message: /4 GiB or more/ });
  });
});

test('looksLikeZip: true for our zips (empty too), false for a PNG', async () => {
  const zip = await bytesOfBlob(await makeZip([{ name: 'a.png', data: filled(3, 1) }]));
  assert.equal(looksLikeZip(zip.subarray(0, 4)), true);
  assert.equal(looksLikeZip(zip), true);
  assert.equal(looksLikeZip(await bytesOfBlob(await makeZip([]))), true);
  assert.equal(looksLikeZip(PNG_SIGNATURE), false);
  assert.equal(looksLikeZip(new Uint8Array([0x50, 0x4b])), false);
});
