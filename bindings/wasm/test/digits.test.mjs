// A real converted model: examples/digits/digits_mlp.onnx (PyTorch MLP 64-64-32-10),
// converted by the host tool to f32 and int8. The wasm package must reproduce the native
// runtime's outputs (`ferrite run`) bit for bit on all 360 test rows, pass the golden
// vectors the tool stored, and agree with onnxruntime (examples/digits/reference_ort.csv).
// Skipped when the host tool could not make the models (see ensureDigits in helpers.mjs).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DIGITS_SRC, csvWithHeader, digitsDir, importPackage } from './helpers.mjs';

const dir = digitsDir();
const skip = dir ? false : 'no digits models: the host tool did not convert examples/digits (run.mjs without --no-digits)';
const { Model } = await importPackage();

const rows = csvWithHeader(join(DIGITS_SRC, 'test.csv'));
const truth = readFileSync(join(DIGITS_SRC, 'test_labels.csv'), 'utf8').trim().split('\n').slice(1).map(Number);
const argmax = (a) => a.reduce((k, v, i) => (v > a[k] ? i : k), 0);

for (const precision of ['f32', 'int8']) {
  test(`digits ${precision}: golden vectors reproduce and info describes the model`, { skip }, async () => {
    const m = await Model.load(readFileSync(join(dir, `digits_${precision}.fer`)));
    assert.ok(m.info.numGolden > 0, 'the tool stores golden vectors');
    assert.equal(m.checkGolden(), m.info.numGolden);
    assert.equal(m.inputLength, 64);
    assert.equal(m.outputLength, 10);
    assert.deepEqual(m.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    m.free();
  });

  test(`digits ${precision}: all 360 test rows equal the native runtime bit for bit`, { skip }, async () => {
    const m = await Model.load(readFileSync(join(dir, `digits_${precision}.fer`)));
    const native = csvWithHeader(join(dir, `native_${precision}.csv`));
    assert.equal(native.length, rows.length);
    const batch = m.predictBatch(rows);
    rows.forEach((x, r) => {
      const p = m.predict(x);
      assert.deepEqual(Array.from(p.scores), Array.from(native[r]), `row ${r}`);
      assert.deepEqual(Array.from(batch[r].scores), Array.from(native[r]), `batch row ${r}`);
    });
    m.free();
  });
}

test('digits f32 agrees with onnxruntime and keeps its accuracy', { skip }, async () => {
  const m = await Model.load(readFileSync(join(dir, 'digits_f32.fer')));
  const ort = csvWithHeader(join(DIGITS_SRC, 'reference_ort.csv'));
  let maxAbs = 0;
  let correct = 0;
  rows.forEach((x, r) => {
    const p = m.predict(x);
    p.scores.forEach((v, k) => (maxAbs = Math.max(maxAbs, Math.abs(v - ort[r][k]))));
    assert.equal(p.label, argmax(ort[r]), `row ${r}: label differs from onnxruntime`);
    if (p.label === truth[r]) correct++;
  });
  assert.ok(maxAbs <= 1e-5, `max |ferrite - onnxruntime| = ${maxAbs}`);
  assert.equal(correct, 349, 'onnxruntime gets 349/360 (examples/digits/README.md)');
  m.free();
});

test('digits int8 keeps the accuracy within 1 point of f32', { skip }, async () => {
  const m = await Model.load(readFileSync(join(dir, 'digits_int8.fer')));
  const correct = rows.filter((x, r) => m.predict(x).label === truth[r]).length;
  assert.ok(correct >= 349 - 4, `int8 accuracy ${correct}/360`);
  m.free();
});
