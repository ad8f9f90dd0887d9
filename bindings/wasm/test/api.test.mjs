// The JS API against the native runtime's results (fixtures): f32 models give the same
// f32 values bit for bit, int8 models the same bytes.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  FIXTURES,
  LABELS,
  csvRows,
  ensureFixtures,
  expectedLabels,
  f32Bytes,
  fixtureBytes,
  hex,
  hexRows,
  importPackage,
  inputs,
} from './helpers.mjs';

ensureFixtures();
const { Model, buildInfo, init } = await importPackage();

test('Model.load accepts Uint8Array, ArrayBuffer, other views, Blob, Response and promises', async () => {
  const bytes = fixtureBytes('mlp_f32.fer');
  const offset = new Uint8Array(bytes.length + 3);
  offset.set(bytes, 3);
  const sources = {
    Uint8Array: bytes,
    ArrayBuffer: bytes.slice().buffer,
    'unaligned Uint8Array view': offset.subarray(3),
    DataView: new DataView(offset.buffer, 3, bytes.length),
    Buffer: Buffer.from(bytes),
    Blob: new Blob([bytes]),
    Response: new Response(bytes),
    'Promise<Response>': Promise.resolve(new Response(bytes)),
    'Promise<Uint8Array>': Promise.resolve(bytes),
    'file: URL': pathToFileURL(join(FIXTURES, 'mlp_f32.fer')),
  };
  for (const [what, source] of Object.entries(sources)) {
    const m = await Model.load(source);
    assert.equal(m.info.metadata.name, 'fixture-mlp-f32', what);
    m.free();
  }
});

test('info describes inputs, outputs, labels, metadata and arena size', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const info = m.info;
  assert.deepEqual(info.inputs, [
    { name: 'x', dtype: 'f32', shape: [1, 16], size: 16, byteLength: 64, quant: null },
  ]);
  assert.deepEqual(info.outputs, [
    { name: 'probs', dtype: 'f32', shape: [1, 4], size: 4, byteLength: 16, quant: null },
  ]);
  assert.deepEqual(info.labels, LABELS);
  assert.deepEqual(m.labels, LABELS);
  assert.equal(info.metadata.name, 'fixture-mlp-f32');
  assert.equal(info.metadata.version, '1');
  assert.deepEqual(info.metadata.properties, {});
  assert.ok(Number.isInteger(info.arenaSize) && info.arenaSize > 0, `arenaSize ${info.arenaSize}`);
  assert.equal(info.byteLength, fixtureBytes('mlp_f32.fer').length);
  assert.equal(info.numOps, 3);
  assert.equal(m.inputLength, 16);
  assert.equal(m.outputLength, 4);
  assert.ok(Object.isFrozen(info) && Object.isFrozen(info.inputs[0].shape), 'info is frozen');
  m.free();
});

test('info of the raw int8 model shows int8 tensors and their quantization', async () => {
  const m = await Model.load(fixtureBytes('mlp_int8_raw.fer'));
  const [x] = m.info.inputs;
  const [y] = m.info.outputs;
  assert.equal(x.dtype, 'i8');
  assert.equal(y.dtype, 'i8');
  assert.deepEqual(x.quant, { type: 'perTensor', scale: x.quant.scale, zeroPoint: 0 });
  assert.equal(Math.fround(x.quant.scale), Math.fround(2 / 255), 'input scale round-trips as f32');
  assert.equal(Math.fround(y.quant.scale), Math.fround(8 / 255));
  m.free();
});

for (const [model, expected, hexes, which] of [
  ['mlp_f32.fer', 'expected_f32.csv', 'expected_f32.hex', 'f32'],
  ['mlp_int8.fer', 'expected_int8.csv', 'expected_int8.hex', 'int8'],
]) {
  test(`predict on ${model} equals the native runtime (bytes of every score, label)`, async () => {
    const m = await Model.load(fixtureBytes(model));
    const want = csvRows(expected);
    const wantBytes = hexRows(hexes);
    const labels = expectedLabels();
    inputs().forEach((row, r) => {
      const p = m.predict(row);
      assert.ok(p.scores instanceof Float32Array);
      assert.equal(hex(f32Bytes(p.scores)), hex(wantBytes[r]), `row ${r} bytes`);
      assert.deepEqual(Array.from(p.scores), Array.from(want[r]), `row ${r} values`);
      assert.equal(p.label, labels[r][which], `row ${r} label`);
      assert.equal(p.labelName, LABELS[labels[r][which]]);
      // Plain number arrays give the same result as Float32Array.
      assert.deepEqual(m.predict(Array.from(row)), p);
    });
    m.free();
  });

  test(`predictBatch on ${model} equals one predict per row`, async () => {
    const m = await Model.load(fixtureBytes(model));
    const rows = inputs();
    const wantBytes = hexRows(hexes);
    const batch = m.predictBatch(rows);
    assert.equal(batch.length, rows.length);
    batch.forEach((p, r) => {
      assert.equal(hex(f32Bytes(p.scores)), hex(wantBytes[r]), `row ${r}`);
      assert.deepEqual(p, m.predict(rows[r]));
    });
    const flat = new Float32Array(rows.length * 16);
    rows.forEach((row, r) => flat.set(row, r * 16));
    assert.deepEqual(m.predictBatch(flat), batch);
    assert.deepEqual(m.predictBatch(rows.map((r) => Array.from(r))), batch);
    assert.deepEqual(m.predictBatch([]), []);
    m.free();
  });
}

test('runRaw on the int8 model gives the native int8 output bytes', async () => {
  const m = await Model.load(fixtureBytes('mlp_int8_raw.fer'));
  const ins = hexRows('raw_inputs.hex');
  const outs = hexRows('expected_int8_raw.hex');
  assert.equal(ins.length, 8);
  ins.forEach((x, r) => {
    const y = m.runRaw(x);
    assert.ok(y instanceof Uint8Array);
    assert.equal(hex(y), hex(outs[r]), `row ${r}`);
    assert.deepEqual(m.runRawAll([x]).map(hex), [hex(outs[r])]);
    // Signed view of the same bytes, as a user reading int8 would do.
    assert.equal(new Int8Array(y.buffer, y.byteOffset, y.length).length, 4);
  });
  m.free();
});

test('runRaw on the f32 model gives the native f32 bytes', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const wantBytes = hexRows('expected_f32.hex');
  inputs().forEach((row, r) => {
    assert.equal(hex(m.runRaw(f32Bytes(row))), hex(wantBytes[r]), `row ${r}`);
  });
  m.free();
});

test('several models live side by side and keep their own results', async () => {
  const a = await Model.load(fixtureBytes('mlp_f32.fer'));
  const b = await Model.load(fixtureBytes('mlp_int8.fer'));
  const [row] = inputs();
  const pa = a.predict(row);
  const pb = b.predict(row);
  assert.equal(hex(f32Bytes(pa.scores)), hex(hexRows('expected_f32.hex')[0]));
  assert.equal(hex(f32Bytes(pb.scores)), hex(hexRows('expected_int8.hex')[0]));
  a.free();
  assert.equal(hex(f32Bytes(b.predict(row).scores)), hex(f32Bytes(pb.scores)));
  b.free();
});

test('buildInfo reports the crate version and simd128', async () => {
  await init();
  const info = buildInfo();
  assert.equal(info.simd128, true, 'the .wasm must be built with simd128');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
});

test('free is idempotent and `freed` reports it; Symbol.dispose frees', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  assert.equal(m.freed, false);
  m.free();
  m.free();
  assert.equal(m.freed, true);
  if (typeof Symbol.dispose === 'symbol') {
    const d = await Model.load(fixtureBytes('mlp_f32.fer'));
    d[Symbol.dispose]();
    assert.equal(d.freed, true);
  }
});

test('load/predict/free cycles do not grow the wasm memory', async () => {
  const { importRaw } = await import('./helpers.mjs');
  const raw = await importRaw();
  const exports = await raw.default(); // already initialized: returns the same instance
  const bytes = fixtureBytes('mlp_int8.fer');
  const [row] = inputs();
  const cycle = async () => {
    const m = await Model.load(bytes);
    m.predict(row);
    m.predictBatch([row, row]);
    m.free();
  };
  for (let i = 0; i < 50; i++) await cycle();
  const before = exports.memory.buffer.byteLength;
  for (let i = 0; i < 2000; i++) await cycle();
  assert.equal(exports.memory.buffer.byteLength, before);
});
