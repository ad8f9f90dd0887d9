// Every bad input gets the right Error subclass with a code, never a crash or a string.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureFixtures, fixtureBytes, importPackage, importRaw, inputs } from './helpers.mjs';

ensureFixtures();
const pkg = await importPackage();
const { Model, FerriteError, InvalidModelError, InputError, UsedAfterFreeError, UnsupportedError, ErrorCode } = pkg;

/** Asserts that `fn` throws (or rejects with) an instance of `Class` with `props`. */
async function throwsLike(fn, Class, props) {
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, 'expected an error');
  assert.ok(error instanceof Class, `expected ${Class.name}, got ${error?.constructor?.name}: ${error?.message}`);
  assert.ok(error instanceof FerriteError && error instanceof Error);
  assert.equal(error.name, Class.name);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.equal(typeof error.code, 'number');
  assert.equal(typeof error.stack, 'string');
  for (const [k, v] of Object.entries(props)) assert.equal(error[k], v, `${k} of ${error.message}`);
  return error;
}

// zlib's CRC-32, to forge models whose checksum is right but whose content is not.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** Rewrites the header CRC (offset 16, computed with the field as zeros) after an edit. */
function fixCrc(bytes) {
  const b = bytes.slice();
  const dv = new DataView(b.buffer);
  dv.setUint32(16, 0, true);
  dv.setUint32(16, crc32(b), true);
  return b;
}

test('the error classes form a hierarchy under Error', () => {
  for (const C of [InvalidModelError, InputError, UsedAfterFreeError, UnsupportedError]) {
    assert.ok(C.prototype instanceof FerriteError, C.name);
  }
  assert.ok(FerriteError.prototype instanceof Error);
  assert.equal(ErrorCode.Checksum, 4);
  assert.equal(ErrorCode.UsedAfterFree, 1000);
});

test('corrupted model (one byte flipped) is InvalidModelError Checksum', async () => {
  const bytes = fixtureBytes('mlp_f32.fer');
  const bad = bytes.slice();
  bad[bad.length - 40] ^= 0x55;
  const e = await throwsLike(() => Model.load(bad), InvalidModelError, { code: 4, kind: 'Checksum' });
  assert.equal(typeof e.expected, 'number');
  assert.equal(typeof e.actual, 'number');
  assert.notEqual(e.expected, e.actual);
});

test('not a model (bad magic) is InvalidModelError BadMagic', async () => {
  const bad = fixtureBytes('mlp_f32.fer').slice();
  bad[0] ^= 0xff;
  await throwsLike(() => Model.load(bad), InvalidModelError, { code: ErrorCode.BadMagic, kind: 'BadMagic' });
  await throwsLike(() => Model.load(new TextEncoder().encode('<html>404 not found</html>'.repeat(4))), InvalidModelError, {
    code: 1,
  });
});

test('truncated and empty models are InvalidModelError', async () => {
  const bytes = fixtureBytes('mlp_f32.fer');
  const e = await throwsLike(() => Model.load(bytes.subarray(0, bytes.length - 100)), InvalidModelError, {
    code: ErrorCode.Truncated,
    kind: 'Truncated',
    expected: bytes.length,
    actual: bytes.length - 100,
  });
  assert.match(e.message, /truncated/);
  await throwsLike(() => Model.load(new Uint8Array(0)), InvalidModelError, {});
  await throwsLike(() => Model.load(bytes.subarray(0, 10)), InvalidModelError, {});
});

test('a model with a valid checksum but a broken section table is rejected', async () => {
  const bytes = fixtureBytes('mlp_f32.fer');
  const bad = bytes.slice();
  // First section table entry at 32: kind u16, flags u16, offset u32 -> point it past the end.
  new DataView(bad.buffer).setUint32(36, bytes.length + 4096, true);
  await throwsLike(() => Model.load(fixCrc(bad)), InvalidModelError, {});
});

test('random corruptions with a fixed-up checksum never crash: load fails cleanly or runs', async () => {
  const bytes = fixtureBytes('mlp_int8.fer');
  const [row] = inputs();
  let seed = 0x12345678;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const bad = bytes.slice();
    const flips = 1 + Math.floor(rnd() * 3);
    for (let f = 0; f < flips; f++) bad[20 + Math.floor(rnd() * (bad.length - 20))] ^= 1 << Math.floor(rnd() * 8);
    let m;
    try {
      m = await Model.load(fixCrc(bad));
    } catch (e) {
      assert.ok(e instanceof InvalidModelError || e instanceof UnsupportedError, `${e?.constructor?.name}: ${e?.message}`);
      rejected++;
      continue;
    }
    try {
      const p = m.predict(row);
      assert.ok(p.scores instanceof Float32Array);
    } catch (e) {
      assert.ok(e instanceof FerriteError && e.kind !== 'Internal', `${e?.constructor?.name}: ${e?.message}`);
    } finally {
      m.free();
    }
  }
  assert.ok(rejected > 0, 'some corruptions must be detected');
});

test('non-bytes sources are InputError InvalidArgument', async () => {
  for (const bad of ['', 42, null, undefined, {}, [1, 2, 3]]) {
    if (typeof bad === 'string') continue; // strings are URLs
    await throwsLike(() => Model.load(bad), InputError, { code: ErrorCode.InvalidArgument, kind: 'InvalidArgument' });
  }
});

test('a failed HTTP response is FerriteError FetchFailed with the status', async () => {
  const e = await throwsLike(() => Model.load(new Response('nope', { status: 404, statusText: 'Not Found' })), FerriteError, {
    code: ErrorCode.FetchFailed,
    kind: 'FetchFailed',
    status: 404,
  });
  assert.ok(!(e instanceof InvalidModelError));
});

test('a missing file or a failed fetch is FerriteError FetchFailed with the cause', async () => {
  const e = await throwsLike(() => Model.load(new URL('file:///nonexistent/ferrite/model.fer')), FerriteError, {
    code: ErrorCode.FetchFailed,
    kind: 'FetchFailed',
  });
  assert.equal(e.cause.code, 'ENOENT');
  const f = await throwsLike(() => Model.load(Promise.reject(new TypeError('fetch failed'))), FerriteError, {
    code: ErrorCode.FetchFailed,
  });
  assert.ok(f.cause instanceof TypeError);
  // Nothing listens on port 9 (discard) here: a network error, not an HTTP status.
  await throwsLike(() => Model.load('http://127.0.0.1:9/model.fer'), FerriteError, { code: ErrorCode.FetchFailed });
});

test('wrong input length is InputError WrongLength with expected/actual', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const e = await throwsLike(() => m.predict(new Float32Array(15)), InputError, {
    code: ErrorCode.WrongLength,
    kind: 'WrongLength',
    expected: 16,
    actual: 15,
  });
  assert.match(e.message, /expected 16 values, got 15/);
  await throwsLike(() => m.predict([]), InputError, { code: 14, expected: 16, actual: 0 });
  await throwsLike(() => m.predict(new Float32Array(17)), InputError, { code: 14, actual: 17 });
  m.free();
});

test('NaN and Infinity are InputError InvalidInput naming the feature', async () => {
  for (const model of ['mlp_f32.fer', 'mlp_int8.fer']) {
    const m = await Model.load(fixtureBytes(model));
    for (const [value, feature] of [[NaN, 0], [Infinity, 7], [-Infinity, 15], [1e39, 3]]) {
      const x = inputs()[0].slice();
      x[feature] = value;
      await throwsLike(() => m.predict(x), InputError, { code: ErrorCode.InvalidInput, kind: 'InvalidInput', feature });
    }
    // The model still works after rejecting an input.
    assert.ok(m.predict(inputs()[0]).scores.every(Number.isFinite));
    m.free();
  }
});

test('non-numeric features are InputError InvalidArgument naming the position', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const x = Array.from(inputs()[0]);
  x[5] = '0.5';
  await throwsLike(() => m.predict(x), InputError, { code: ErrorCode.InvalidArgument, feature: 5 });
  await throwsLike(() => m.predict('1,2,3'), InputError, { code: ErrorCode.InvalidArgument });
  await throwsLike(() => m.predict(null), InputError, { code: ErrorCode.InvalidArgument });
  await throwsLike(() => m.predictBatch({}), InputError, { code: ErrorCode.InvalidArgument });
  await throwsLike(() => m.runRaw('abc'), InputError, { code: ErrorCode.InvalidArgument });
  m.free();
});

test('predictBatch errors name the failing row', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const rows = inputs();
  const nan = rows.map((r) => r.slice());
  nan[5][2] = NaN;
  const e = await throwsLike(() => m.predictBatch(nan), InputError, { code: 16, kind: 'InvalidInput', row: 5, feature: 2 });
  assert.match(e.message, /^row 5: /);
  const short = rows.map((r) => r.slice());
  short[3] = short[3].subarray(0, 10);
  await throwsLike(() => m.predictBatch(short), InputError, { code: 14, row: 3, expected: 16, actual: 10 });
  await throwsLike(() => m.predictBatch(new Float32Array(33)), InputError, { code: 14, kind: 'WrongLength' });
  m.free();
});

test('runRaw with the wrong number of bytes or inputs is InputError WrongLength', async () => {
  const m = await Model.load(fixtureBytes('mlp_int8_raw.fer'));
  await throwsLike(() => m.runRaw(new Uint8Array(15)), InputError, { code: 14, expected: 16, actual: 15 });
  await throwsLike(() => m.runRawAll([new Uint8Array(16), new Uint8Array(16)]), InputError, {
    code: 14,
    expected: 1,
    actual: 2,
  });
  await throwsLike(() => m.runRawAll([]), InputError, { code: 14, expected: 1, actual: 0 });
  m.free();
});

test('every method after free() throws UsedAfterFreeError', async () => {
  const m = await Model.load(fixtureBytes('mlp_f32.fer'));
  const [row] = inputs();
  m.free();
  const calls = {
    predict: () => m.predict(row),
    predictBatch: () => m.predictBatch([row]),
    runRaw: () => m.runRaw(new Uint8Array(64)),
    runRawAll: () => m.runRawAll([new Uint8Array(64)]),
    info: () => m.info,
    labels: () => m.labels,
    inputLength: () => m.inputLength,
    outputLength: () => m.outputLength,
  };
  for (const [name, call] of Object.entries(calls)) {
    const e = await throwsLike(call, UsedAfterFreeError, { code: ErrorCode.UsedAfterFree, kind: 'UsedAfterFree' });
    assert.match(e.message, /freed/, name);
  }
});

test('Model cannot be constructed directly', () => {
  assert.throws(() => new Model(), TypeError);
});

test('errors thrown by the raw wasm-bindgen layer are Errors with code, kind and category', async () => {
  const raw = await importRaw();
  try {
    new raw.RawModel(new Uint8Array(64));
    assert.fail('expected a throw');
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'FerriteError');
    assert.equal(e.code, 1);
    assert.equal(e.kind, 'BadMagic');
    assert.equal(e.category, 'model');
  }
});

test('init() with bytes that are not WebAssembly is FerriteError InitFailed (in a fresh process)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { ensurePackage } = await import('./helpers.mjs');
  const { pathToFileURL } = await import('node:url');
  const { join } = await import('node:path');
  const entry = pathToFileURL(join(ensurePackage(), 'index.js')).href;
  const script = `
    const { init, buildInfo, Model, FerriteError } = await import(${JSON.stringify(entry)});
    const out = [];
    try { buildInfo(); } catch (e) { out.push(e instanceof FerriteError && e.kind); }
    try { await init(new Uint8Array([1, 2, 3])); } catch (e) { out.push(e instanceof FerriteError && e.kind, e.code); }
    // A failed init can be retried: the default source works.
    await init();
    out.push(buildInfo().simd128);
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['InitFailed', 'InitFailed', 1003, true]);
});
