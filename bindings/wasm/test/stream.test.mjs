// Streaming (`Model.step` / `reset`) against the native runtime: six steps of the
// fixtures' one-frame RNN give, bit for bit, the last step of the whole-sequence model
// that the Rust runtime ran without streaming (stream_expected.bin).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureFixtures, fixtureBytes, importPackage } from './helpers.mjs';

ensureFixtures();
const { Model } = await importPackage();

const f32 = (name) => {
  const b = fixtureBytes(name);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

test('six steps equal the whole sequence, reset starts over, the state carries', async () => {
  const model = await Model.load(fixtureBytes('stream.fer'));
  const frames = f32('stream_frames.bin');
  const expected = f32('stream_expected.bin').subarray(0, 4);
  assert.equal(model.streaming, true);
  for (let round = 0; round < 2; round++) {
    let y;
    for (let t = 0; t < 6; t++) y = model.step(frames.subarray(3 * t, 3 * t + 3));
    assert.deepEqual(Array.from(y), Array.from(expected), `round ${round}`);
    model.reset();
  }
  const a = model.step(frames.subarray(0, 3));
  const b = model.step(frames.subarray(0, 3));
  assert.notDeepEqual(Array.from(a), Array.from(b));
  assert.throws(() => model.step([1, 2]), (e) => e.kind === 'WrongLength');
  model.free();
  assert.throws(() => model.step(frames.subarray(0, 3)), (e) => e.kind === 'UsedAfterFree');
});

test('a model without state does not stream', async () => {
  const model = await Model.load(fixtureBytes('mlp_f32.fer'));
  assert.equal(model.streaming, false);
  model.free();
});
