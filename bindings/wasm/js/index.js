// ferrite-wasm: the ferrite edge inference runtime for browsers and Node.
//
// A thin idiomatic layer over the wasm-bindgen output (`./ferrite_wasm.js`): promises
// for loading, typed arrays, `Error` subclasses with a `code`, explicit `free()` plus a
// FinalizationRegistry safety net. One ESM build serves both the browser and Node.

import initWasm, { RawModel, buildInfo as rawBuildInfo } from './ferrite_wasm.js';

// ---------------------------------------------------------------- errors

/** Base class of every error this package throws. */
export class FerriteError extends Error {
  /**
   * @param {string} message
   * @param {{ code: number, kind: string, cause?: unknown, [field: string]: unknown }} props
   */
  constructor(message, props) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.name = new.target.name;
    for (const [k, v] of Object.entries(props)) {
      if (k !== 'cause' && k !== 'name' && k !== 'message' && k !== 'stack') this[k] = v;
    }
  }
}

/** The bytes are not a valid ferrite model (corrupted, truncated, wrong file...). */
export class InvalidModelError extends FerriteError {}

/** The model needs an operator or feature this build does not have. */
export class UnsupportedError extends FerriteError {}

/**
 * `Model.loadVerified` refused the model (docs/security.md); `kind` says which check:
 * `Unsigned`, `UnknownKey`, `BadSignature` or `VersionTooOld` (with `version`, `minVersion`).
 */
export class SignatureError extends InvalidModelError {}

/** An argument was rejected: wrong length, NaN/Infinity, wrong type, bad index. */
export class InputError extends FerriteError {}

/** The model was used after `free()`. */
export class UsedAfterFreeError extends FerriteError {}

/**
 * Every `code` an error can carry. 1-24 are the runtime's stable codes (shared with the
 * C ABI and the other bindings); 1000+ are raised by this JS layer itself.
 */
export const ErrorCode = Object.freeze({
  BadMagic: 1,
  UnsupportedVersion: 2,
  Truncated: 3,
  Checksum: 4,
  BadSection: 5,
  UnknownSection: 6,
  Decode: 7,
  BadTensor: 8,
  BadOp: 9,
  UnsupportedOp: 10,
  BadPlan: 11,
  Misaligned: 12,
  ArenaTooSmall: 13,
  WrongLength: 14,
  NoSuchIndex: 15,
  InvalidInput: 16,
  GoldenMismatch: 17,
  BadSignature: 18,
  Unsupported: 19,
  NoBaseline: 20,
  BadSnapshot: 21,
  Unsigned: 22,
  UnknownKey: 23,
  VersionTooOld: 24,
  UsedAfterFree: 1000,
  InvalidArgument: 1001,
  FetchFailed: 1002,
  InitFailed: 1003,
});

/** DriftLevel by the number Engine::drift_report_values gives (src/lib.rs). */
const DRIFT_LEVELS = ['stable', 'moderate', 'shifted'];

const CLASSES = {
  model: InvalidModelError,
  signature: SignatureError,
  input: InputError,
  unsupported: UnsupportedError,
  internal: FerriteError,
};

/** Converts an error thrown by the wasm module into the matching FerriteError subclass. */
function wrapError(e) {
  if (e instanceof FerriteError) return e;
  if (e instanceof Error && e.name === 'FerriteError' && typeof e.code === 'number') {
    const { category, ...props } = Object.fromEntries(
      Object.keys(e).map((k) => [k, e[k]]),
    );
    const Class = CLASSES[category] ?? FerriteError;
    return new Class(e.message, { ...props, code: e.code, kind: e.kind });
  }
  // A trap (out of memory, bug): keep the original as the cause.
  const message = e instanceof Error ? e.message : String(e);
  return new FerriteError(`ferrite-wasm internal error: ${message}`, {
    code: 0,
    kind: 'Internal',
    cause: e,
  });
}

function argumentError(message, extra = {}) {
  return new InputError(message, { code: ErrorCode.InvalidArgument, kind: 'InvalidArgument', ...extra });
}

// ---------------------------------------------------------------- module init

let ready = null;
let initialized = false;

/**
 * Instantiates the WebAssembly module. `Model.load` calls it for you; call it yourself
 * only to choose where the `.wasm` comes from (a URL, a Response, bytes, or a
 * `WebAssembly.Module`), e.g. when a bundler moves the file. Idempotent.
 * @param {unknown} [source]
 */
export function init(source) {
  if (!ready) {
    ready = (async () => {
      let wasm = source;
      if (wasm === undefined) {
        const url = new URL('./ferrite_wasm_bg.wasm', import.meta.url);
        if (url.protocol === 'file:') {
          // Node, Deno, Bun: no fetch for file: URLs. Hidden from bundlers on purpose.
          const fs = 'node:fs/promises';
          const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs);
          wasm = await readFile(url);
        } else {
          wasm = url;
        }
      }
      try {
        await initWasm({ module_or_path: wasm });
      } catch (cause) {
        throw new FerriteError(`cannot instantiate ferrite_wasm_bg.wasm: ${cause?.message ?? cause}`, {
          code: ErrorCode.InitFailed,
          kind: 'InitFailed',
          cause,
        });
      }
      initialized = true;
    })();
    ready.catch(() => {
      ready = null;
    });
  }
  return ready;
}

/**
 * Build facts of the .wasm module (`{ version, simd128 }`); needs `init()` first.
 * @returns {import('./ferrite_wasm.js').BuildInfo}
 */
export function buildInfo() {
  if (!initialized) {
    throw new FerriteError('buildInfo() needs the module: await init() or Model.load() first', {
      code: ErrorCode.InitFailed,
      kind: 'InitFailed',
    });
  }
  return rawBuildInfo();
}

// ---------------------------------------------------------------- model

const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry((raw) => {
        try {
          raw.free();
        } catch {
          // Already freed: nothing to do.
        }
      })
    : null;

function deepFreeze(o) {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function fetchFailed(what, cause, extra = {}) {
  return new FerriteError(`cannot get the model${what}: ${cause?.message ?? cause}`, {
    code: ErrorCode.FetchFailed,
    kind: 'FetchFailed',
    cause,
    ...extra,
  });
}

async function toBytes(source) {
  try {
    source = await source;
  } catch (cause) {
    throw cause instanceof FerriteError ? cause : fetchFailed('', cause);
  }
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  }
  if (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer) {
    return new Uint8Array(source);
  }
  if (typeof Response === 'function' && source instanceof Response) {
    if (!source.ok) {
      throw new FerriteError(`cannot fetch the model: HTTP ${source.status} ${source.statusText}`.trim(), {
        code: ErrorCode.FetchFailed,
        kind: 'FetchFailed',
        status: source.status,
        url: source.url,
      });
    }
    try {
      return new Uint8Array(await source.arrayBuffer());
    } catch (cause) {
      throw fetchFailed(` from ${source.url || 'the response'}`, cause, { url: source.url });
    }
  }
  if (typeof Blob === 'function' && source instanceof Blob) {
    try {
      return new Uint8Array(await source.arrayBuffer());
    } catch (cause) {
      throw fetchFailed(' from the Blob', cause);
    }
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href ?? `file://${globalThis.process?.cwd?.() ?? ''}/`);
    try {
      if (url.protocol === 'file:') {
        const fs = 'node:fs/promises';
        const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs);
        return new Uint8Array(await readFile(url));
      }
      return await toBytes(fetch(url));
    } catch (cause) {
      throw cause instanceof FerriteError ? cause : fetchFailed(` from ${url}`, cause, { url: String(url) });
    }
  }
  throw argumentError(
    'Model.load expects a Uint8Array, ArrayBuffer, typed array, Response, Blob, URL or a promise of one',
  );
}

function toFeatures(values, what) {
  if (values instanceof Float32Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    if (values instanceof DataView) throw argumentError(`${what} must be a Float32Array or an array of numbers`);
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number' && typeof v !== 'bigint') {
        throw argumentError(`${what}[${i}] is ${v === null ? 'null' : typeof v}, expected a number`, { feature: i });
      }
      out[i] = Number(v);
    }
    return out;
  }
  throw argumentError(`${what} must be a Float32Array or an array of numbers`);
}

/** The trusted keys of `loadVerified`, concatenated (32 bytes each). */
function toKeys(publicKeys) {
  if (publicKeys == null || typeof publicKeys === 'string' || typeof publicKeys.length !== 'number' ||
      ArrayBuffer.isView(publicKeys)) {
    throw argumentError('publicKeys must be an array of 32-byte keys (Uint8Array or ArrayBuffer)');
  }
  const out = new Uint8Array(publicKeys.length * 32);
  for (let i = 0; i < publicKeys.length; i++) {
    const k = publicKeys[i];
    const bytes = k instanceof ArrayBuffer ? new Uint8Array(k) : k instanceof Uint8Array ? k : null;
    if (bytes === null || bytes.length !== 32) {
      throw argumentError(`publicKeys[${i}] must be 32 bytes (a key.pub file), got ${bytes ? bytes.length : typeof k}`, { index: i });
    }
    out.set(bytes, i * 32);
  }
  return out;
}

/** `minVersion` as the u64 bigint the module takes. */
function toVersion(v) {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw argumentError(`minVersion must be a non-negative integer, got ${String(v)}`);
}

/**
 * A loaded, validated model. Create with `await Model.load(...)`; release its WebAssembly
 * memory with `free()` (or `using`, or let the garbage collector do it eventually).
 */
export class Model {
  #raw;
  #info;
  #inLen;
  #outLen;
  #monitoring = false;

  /** @private Use `Model.load`. */
  constructor(raw, token) {
    if (token !== CONSTRUCT) throw new TypeError('use `await Model.load(bytes)` to create a Model');
    this.#raw = raw;
    this.#info = deepFreeze(raw.info());
    this.#inLen = raw.inputLength();
    this.#outLen = raw.outputLength();
    registry?.register(this, raw, this);
  }

  /**
   * Loads and validates a model file.
   * @param {Uint8Array | ArrayBuffer | ArrayBufferView | Response | Blob | string | URL
   *   | PromiseLike<Uint8Array | ArrayBuffer | ArrayBufferView | Response | Blob | string | URL>} source
   * @returns {Promise<Model>}
   */
  static async load(source) {
    const [bytes] = await Promise.all([toBytes(source), init()]);
    return Model.#wrap(() => new RawModel(bytes));
  }

  /**
   * Loads a model only if it carries a valid Ed25519 signature (`ferrite sign`) by one
   * of `publicKeys` (each the 32 bytes of a `key.pub` file) and a signed model version
   * of at least `minVersion` (anti-rollback: pass the highest version accepted before).
   * Rejects with a SignatureError (`kind` `Unsigned`, `UnknownKey`, `BadSignature`,
   * `VersionTooOld`), then as `load`.
   * @param {Uint8Array | ArrayBuffer | ArrayBufferView | Response | Blob | string | URL
   *   | PromiseLike<Uint8Array | ArrayBuffer | ArrayBufferView | Response | Blob | string | URL>} source
   * @param {ArrayLike<Uint8Array | ArrayBuffer>} publicKeys
   * @param {number | bigint} [minVersion]
   * @returns {Promise<Model>}
   */
  static async loadVerified(source, publicKeys, minVersion = 0) {
    const keys = toKeys(publicKeys);
    const min = toVersion(minVersion);
    const [bytes] = await Promise.all([toBytes(source), init()]);
    return Model.#wrap(() => RawModel.newVerified(bytes, keys, min));
  }

  static #wrap(make) {
    let raw;
    try {
      raw = make();
    } catch (e) {
      throw wrapError(e);
    }
    try {
      return new Model(raw, CONSTRUCT);
    } catch (e) {
      raw.free();
      throw wrapError(e);
    }
  }

  #live() {
    if (!this.#raw) {
      throw new UsedAfterFreeError('this Model was freed', { code: ErrorCode.UsedAfterFree, kind: 'UsedAfterFree' });
    }
    return this.#raw;
  }

  /**
   * The signed header of a signed model, `undefined` if unsigned: `keyId` (the first 8
   * bytes of the signer's public key) and `modelVersion` (a bigint). Proven authentic
   * only for a model from `loadVerified`.
   * @returns {{ keyId: Uint8Array, modelVersion: bigint } | undefined}
   */
  get signature() {
    const s = this.#live().signature();
    return s === undefined ? undefined : Object.freeze({ keyId: s[0], modelVersion: s[1] });
  }

  /** Inputs, outputs, labels, metadata and arena size (frozen). */
  get info() {
    this.#live();
    return this.#info;
  }

  /** Class labels of output 0 (may be empty). */
  get labels() {
    return this.info.labels;
  }

  /** Number of features `predict` takes. */
  get inputLength() {
    this.#live();
    return this.#inLen;
  }

  /** Number of scores `predict` returns. */
  get outputLength() {
    this.#live();
    return this.#outLen;
  }

  /** Whether `free()` was called. */
  get freed() {
    return this.#raw === null;
  }

  #prediction(scores, label) {
    const l = label < 0 ? null : label;
    return { scores, label: l, labelName: l === null ? null : (this.#info.labels[l] ?? null) };
  }

  /**
   * One prediction. NaN and ±Infinity are rejected (InputError, `kind: 'InvalidInput'`,
   * `feature` = the column); so is a wrong length (`kind: 'WrongLength'`).
   * @param {Float32Array | ArrayLike<number>} features
   */
  predict(features) {
    const raw = this.#live();
    const x = toFeatures(features, 'features');
    const scores = new Float32Array(this.#outLen);
    let label;
    const t0 = this.#monitoring ? performance.now() : 0;
    try {
      label = raw.predict(x, scores);
      if (this.#monitoring) raw.monitorLatency(Math.round((performance.now() - t0) * 1000));
    } catch (e) {
      throw wrapError(e);
    }
    return this.#prediction(scores, label);
  }

  /**
   * Whether the model streams (`ferrite convert --state IN=OUT`): `step` then keeps the
   * recurrent state in the model between calls.
   */
  get streaming() {
    return this.#live().numStates() > 0;
  }

  /**
   * One step of a streaming model: `features` (one frame) into input 0, returns output
   * 0 as a Float32Array, and keeps the hidden state for the next call. For a model that
   * does not stream it is `predict` without the label. `predict`, `runRaw` and
   * `checkGolden` use the same memory: call `reset()` before streaming again after them.
   * @param {Float32Array | ArrayLike<number>} features
   */
  step(features) {
    const raw = this.#live();
    const x = toFeatures(features, 'features');
    const out = new Float32Array(this.#outLen);
    try {
      raw.step(x, out);
    } catch (e) {
      throw wrapError(e);
    }
    return out;
  }

  /** Starts a new stream: zeroes the state that `step` carries. */
  reset() {
    try {
      this.#live().reset();
    } catch (e) {
      throw wrapError(e);
    }
  }

  /**
   * Starts drift and latency monitoring against the training baseline stored in the model
   * (`ferrite convert --baseline`): every later `predict` counts its input, its predicted
   * class (or value) and its latency in microseconds. Restarting clears the counters.
   * Throws InvalidModelError `NoBaseline` for a model without a baseline.
   * @param {{ window?: number }} [options] `window`: the counters halve every `window`
   *   rows, so the report covers about the last `window`…`2 × window` rows (0: never).
   */
  enableMonitor(options = {}) {
    const raw = this.#live();
    const window = options.window ?? 0;
    if (!Number.isInteger(window) || window < 0 || window > 0xffffffff) {
      throw argumentError('window must be a non-negative integer', { window });
    }
    try {
      raw.enableMonitor(window, 1_000_000);
    } catch (e) {
      throw wrapError(e);
    }
    this.#monitoring = true;
  }

  /**
   * Drift of every input feature and of the predictions (PSI and G-test p-value;
   * `flagged` when PSI > 0.25), missing / out-of-range counts, rows and latency (µs).
   * @returns {import('./index.js').DriftReport}
   */
  driftReport() {
    const raw = this.#live();
    let v, names;
    try {
      v = raw.driftReportValues();
      names = raw.monitorFeatureNames();
    } catch (e) {
      throw wrapError(e);
    }
    // The layout of Engine::drift_report_values (src/lib.rs).
    let at = 0;
    const next = () => v[at++];
    const drift = () => ({
      rows: next(),
      psi: next(),
      pValue: next(),
      level: DRIFT_LEVELS[next()],
      flagged: next() === 1,
    });
    const rows = next();
    const count = next();
    const split = names === '' ? [] : names.split('\n');
    const features = [];
    for (let index = 0; index < count; index++) {
      const d = drift();
      features.push({ index, name: split[index] ?? '', ...d, missing: next(), outOfRange: next() });
    }
    const output = next() === 1 ? drift() : null;
    const latency = {
      count: next(), mean: next(), max: next(), p50: next(), p95: next(), clockHz: next(),
    };
    return { features, output, rows, latency };
  }

  /**
   * The monitor's counters as compact bytes (postcard) to send upstream; decode them with
   * `ferrite monitor --snapshot FILE model.fer` (table, JSON or Prometheus).
   * @returns {Uint8Array}
   */
  monitorSnapshot() {
    const raw = this.#live();
    try {
      return raw.monitorSnapshot();
    } catch (e) {
      throw wrapError(e);
    }
  }

  /** Clears the monitor's counters (monitoring stays on). */
  resetMonitor() {
    const raw = this.#live();
    try {
      raw.monitorReset();
    } catch (e) {
      throw wrapError(e);
    }
  }

  /**
   * Many predictions in one call: `rows` is an array of rows, or one flat Float32Array of
   * `n × inputLength` values. Errors carry the failing `row`.
   * @param {ReadonlyArray<Float32Array | ArrayLike<number>> | Float32Array} rows
   */
  predictBatch(rows) {
    const raw = this.#live();
    const n = this.#inLen;
    let flat;
    let count;
    if (rows instanceof Float32Array) {
      if (n === 0 || rows.length % n !== 0) {
        throw new InputError(`a flat batch needs a multiple of ${n} values, got ${rows.length}`, {
          code: ErrorCode.WrongLength,
          kind: 'WrongLength',
          expected: n,
          actual: rows.length,
        });
      }
      flat = rows;
      count = rows.length / n;
    } else if (Array.isArray(rows)) {
      count = rows.length;
      flat = new Float32Array(count * n);
      rows.forEach((row, r) => {
        const x = toFeatures(row, `rows[${r}]`);
        if (x.length !== n) {
          throw new InputError(`row ${r}: wrong length: expected ${n} values, got ${x.length}`, {
            code: ErrorCode.WrongLength,
            kind: 'WrongLength',
            expected: n,
            actual: x.length,
            row: r,
          });
        }
        flat.set(x, r * n);
      });
    } else {
      throw argumentError('predictBatch expects an array of rows or a flat Float32Array');
    }
    const scores = new Float32Array(count * this.#outLen);
    const labels = new Int32Array(count);
    try {
      raw.predictBatch(flat, count, scores, labels);
    } catch (e) {
      throw wrapError(e);
    }
    const m = this.#outLen;
    return Array.from(labels, (label, r) => this.#prediction(scores.subarray(r * m, (r + 1) * m), label));
  }

  /**
   * Runs the golden vectors stored in the model (inputs and expected output bytes written
   * by the host tool at conversion) and returns how many reproduced: all of them, else it
   * throws InvalidModelError `GoldenMismatch` with the `index` of the first that did not.
   * A self-test that this engine computes the same bytes as the machine that converted it.
   * @returns {number}
   */
  checkGolden() {
    const raw = this.#live();
    try {
      return raw.checkGolden();
    } catch (e) {
      throw wrapError(e);
    }
  }

  /**
   * The raw tensor call: the bytes of input 0 (little-endian, the input's dtype, e.g.
   * int8 for a quantized input) in, the bytes of output 0 out. No quantization, no NaN
   * check. For several inputs/outputs use `runRawAll`.
   * @param {Uint8Array} input
   * @returns {Uint8Array}
   */
  runRaw(input) {
    return this.runRawAll([input])[0];
  }

  /**
   * The raw tensor call over every graph input and output (in graph order).
   * @param {ReadonlyArray<Uint8Array>} inputs
   * @returns {Uint8Array[]}
   */
  runRawAll(inputs) {
    const raw = this.#live();
    if (!Array.isArray(inputs)) throw argumentError('runRawAll expects an array of Uint8Array');
    const views = inputs.map((b, i) => {
      if (b instanceof Uint8Array) return b;
      if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      if (b instanceof ArrayBuffer) return new Uint8Array(b);
      throw argumentError(`input ${i} must be a Uint8Array (raw tensor bytes)`, { index: i });
    });
    const lengths = Uint32Array.from(views, (v) => v.length);
    const all = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const v of views) {
      all.set(v, at);
      at += v.length;
    }
    let out;
    try {
      out = raw.runRaw(all, lengths);
    } catch (e) {
      throw wrapError(e);
    }
    at = 0;
    return this.#info.outputs.map((o) => {
      const part = out.subarray(at, at + o.byteLength);
      at += o.byteLength;
      return part;
    });
  }

  /** Releases the model's WebAssembly memory. Idempotent; any later call throws UsedAfterFreeError. */
  free() {
    const raw = this.#raw;
    if (!raw) return;
    this.#raw = null;
    registry?.unregister(this);
    raw.free();
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Model.prototype[Symbol.dispose] = Model.prototype.free;
}

const CONSTRUCT = Symbol('Model');
