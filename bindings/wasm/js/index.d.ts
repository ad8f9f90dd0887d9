// Types of ferrite-wasm's idiomatic API (index.js). The data shapes (ModelInfo,
// TensorInfo, ...) are generated from the Rust side into ferrite_wasm.d.ts.

import type {
  BuildInfo,
  DType,
  Drift,
  DriftLevel,
  DriftReport,
  ErrorCategory,
  FeatureDrift,
  LatencyStats,
  ModelInfo,
  ModelMetadata,
  QuantInfo,
  TensorInfo,
} from './ferrite_wasm.js';

export type {
  BuildInfo,
  DType,
  Drift,
  DriftLevel,
  DriftReport,
  ErrorCategory,
  FeatureDrift,
  LatencyStats,
  ModelInfo,
  ModelMetadata,
  QuantInfo,
  TensorInfo,
};

declare global {
  // `Symbol.dispose` (explicit resource management) for projects whose `lib` predates
  // `esnext.disposable`; the same declaration as TypeScript's own lib and @types/node.
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** Every `code` an error can carry: 1-19 from the runtime, 1000+ from the JS layer. */
export declare const ErrorCode: Readonly<{
  BadMagic: 1;
  UnsupportedVersion: 2;
  Truncated: 3;
  Checksum: 4;
  BadSection: 5;
  UnknownSection: 6;
  Decode: 7;
  BadTensor: 8;
  BadOp: 9;
  UnsupportedOp: 10;
  BadPlan: 11;
  Misaligned: 12;
  ArenaTooSmall: 13;
  WrongLength: 14;
  NoSuchIndex: 15;
  InvalidInput: 16;
  GoldenMismatch: 17;
  BadSignature: 18;
  Unsupported: 19;
  NoBaseline: 20;
  BadSnapshot: 21;
  Unsigned: 22;
  UnknownKey: 23;
  VersionTooOld: 24;
  UsedAfterFree: 1000;
  InvalidArgument: 1001;
  FetchFailed: 1002;
  InitFailed: 1003;
}>;

/** Name of the error variant, e.g. `"Checksum"`, `"WrongLength"`, `"UsedAfterFree"`. */
export type ErrorKind = keyof typeof ErrorCode | 'Internal' | 'Unknown';

/** Base class of every error this package throws. */
export declare class FerriteError extends Error {
  /** Stable numeric code (see `ErrorCode`). */
  readonly code: number;
  /** Variant name (see `ErrorKind`). */
  readonly kind: ErrorKind;
  /** Input column that held NaN/Infinity (`InvalidInput`). */
  readonly feature?: number;
  /** Batch row that failed (`predictBatch`). */
  readonly row?: number;
  /** Expected and actual lengths or sizes (`WrongLength`, `Truncated`, `Checksum`). */
  readonly expected?: number;
  readonly actual?: number;
  /** Index of the record, input or golden vector concerned. */
  readonly index?: number;
  /** Tensor or op index in the graph (`BadTensor`, `BadPlan`, `BadOp`, `UnsupportedOp`). */
  readonly tensor?: number;
  readonly op?: number;
  /** Model section concerned (`BadSection`, `Decode`). */
  readonly section?: string;
  /** HTTP status of a failed fetch (`FetchFailed`). */
  readonly status?: number;
  readonly url?: string;
  /** The file's signed model version and the minimum required (`VersionTooOld`). */
  readonly version?: number;
  readonly minVersion?: number;
}

/** The bytes are not a valid ferrite model (corrupted, truncated, wrong file...). */
export declare class InvalidModelError extends FerriteError {}
/** The model needs an operator or feature this build does not have. */
export declare class UnsupportedError extends FerriteError {}
/**
 * `Model.loadVerified` refused the model: `kind` is `Unsigned`, `UnknownKey`,
 * `BadSignature` or `VersionTooOld`.
 */
export declare class SignatureError extends InvalidModelError {}
/** An argument was rejected: wrong length, NaN/Infinity, wrong type, bad index. */
export declare class InputError extends FerriteError {}
/** The model was used after `free()`. */
export declare class UsedAfterFreeError extends FerriteError {}

/** Where the `.wasm` comes from, for `init()`. */
export type WasmSource =
  | URL
  | string
  | Response
  | BufferSource
  | WebAssembly.Module
  | PromiseLike<Response | BufferSource | WebAssembly.Module>;

/**
 * Instantiates the WebAssembly module (idempotent). `Model.load` calls it for you; call it
 * first only to choose where the `.wasm` file comes from.
 */
export declare function init(source?: WasmSource): Promise<void>;

/** Build facts of the .wasm module; call after `init()` or `Model.load()`. */
export declare function buildInfo(): BuildInfo;

/** What `Model.load` accepts. */
export type ModelSource =
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | Response
  | Blob
  | string
  | URL;

/** The result of one prediction. */
export interface Prediction {
  /** Output 0 as f32 (class probabilities or regression values). */
  scores: Float32Array;
  /** Index of the largest score; `null` when output 0 is a single value. */
  label: number | null;
  /** `info.labels[label]`, or `null` when the model has no labels. */
  labelName: string | null;
}

/** Features for one prediction: converted to f32 like `Float32Array.from`. */
export type Features = Float32Array | ArrayLike<number>;

/** A loaded, validated model. */
export declare class Model {
  private constructor();

  /** Loads and validates a model file. Rejects with InvalidModelError, UnsupportedError, FerriteError (fetch). */
  static load(source: ModelSource | PromiseLike<ModelSource>): Promise<Model>;
  /**
   * Loads a model only if it is signed by one of `publicKeys` (32 bytes each, `key.pub`)
   * with a model version of at least `minVersion` (default 0). Rejects with
   * SignatureError (`Unsigned`, `UnknownKey`, `BadSignature`, `VersionTooOld`), then as `load`.
   */
  static loadVerified(
    source: ModelSource | PromiseLike<ModelSource>,
    publicKeys: ArrayLike<Uint8Array | ArrayBuffer>,
    minVersion?: number | bigint,
  ): Promise<Model>;

  /** Key id and model version of a signed model, `undefined` if unsigned. */
  readonly signature: Readonly<{ keyId: Uint8Array; modelVersion: bigint }> | undefined;

  /** Inputs, outputs, labels, metadata, arena size (frozen). */
  readonly info: Readonly<ModelInfo>;
  /** Class labels of output 0 (may be empty). */
  readonly labels: readonly string[];
  /** Number of features `predict` takes. */
  readonly inputLength: number;
  /** Number of scores `predict` returns. */
  readonly outputLength: number;
  /** Whether `free()` was called. */
  readonly freed: boolean;

  /** One prediction; throws InputError on a wrong length or a NaN/Infinity feature. */
  predict(features: Features): Prediction;
  /** Whether the model streams (converted with `ferrite convert --state IN=OUT`). */
  readonly streaming: boolean;
  /**
   * One step of a streaming model: one frame into input 0, output 0 back; the hidden
   * state stays in the model for the next call (see `reset`).
   */
  step(features: Features): Float32Array;
  /** Starts a new stream (zeroes the state `step` carries). */
  reset(): void;
  /** Many predictions: an array of rows, or one flat Float32Array of `n × inputLength`. */
  predictBatch(rows: ReadonlyArray<Features> | Float32Array): Prediction[];
  /**
   * Runs the model's golden vectors (written by the host tool); returns how many
   * reproduced byte for byte (all, else InvalidModelError `GoldenMismatch` with `index`).
   */
  checkGolden(): number;
  /**
   * Starts drift and latency monitoring against the model's training baseline (`ferrite
   * convert --baseline`); `window`: counters halve every `window` rows (0: never).
   * Throws InvalidModelError `NoBaseline` for a model without one.
   */
  enableMonitor(options?: { window?: number }): void;
  /** Per-feature and output drift (PSI, p-value, flagged), rows and latency (µs). */
  driftReport(): DriftReport;
  /** The monitor's counters as compact bytes for `ferrite monitor --snapshot`. */
  monitorSnapshot(): Uint8Array;
  /** Clears the monitor's counters. */
  resetMonitor(): void;
  /** Raw bytes of input 0 in (the input's dtype, little-endian), raw bytes of output 0 out. */
  runRaw(input: Uint8Array): Uint8Array;
  /** Raw bytes of every input in, raw bytes of every output out (graph order). */
  runRawAll(inputs: ReadonlyArray<Uint8Array>): Uint8Array[];
  /** Releases the WebAssembly memory; later calls throw UsedAfterFreeError. Idempotent. */
  free(): void;
  /** `free()`, for `using model = await Model.load(...)` (where `Symbol.dispose` exists). */
  [Symbol.dispose](): void;
}
