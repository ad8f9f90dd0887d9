// A small TypeScript consumer of the package: type-checked with `tsc --strict` against
// the published .d.ts files, then compiled and run by types.test.mjs.
import {
  ErrorCode,
  FerriteError,
  InputError,
  InvalidModelError,
  Model,
  SignatureError,
  UsedAfterFreeError,
  buildInfo,
  type ModelInfo,
  type Prediction,
  type TensorInfo,
} from 'ferrite-wasm';
import { readFile } from 'node:fs/promises';

const [modelPath, csvPath, expectedLabel] = process.argv.slice(2);

const model: Model = await Model.load(readFile(modelPath));
const info: Readonly<ModelInfo> = model.info;
const input: TensorInfo = info.inputs[0];
const shape: number[] = input.shape;
const scale: number | undefined = input.quant?.type === 'perTensor' ? input.quant.scale : undefined;

const csv = new TextDecoder().decode(await readFile(csvPath));
const features = Float32Array.from(csv.split('\n')[0].split(',').map(Number));
const p: Prediction = model.predict(features);
const scores: Float32Array = p.scores;
const label: number | null = p.label;
const name: string | null = p.labelName;
const batch: Prediction[] = model.predictBatch([features, Array.from(features)]);
const raw: Uint8Array = model.runRaw(new Uint8Array(input.byteLength));
const simd: boolean = buildInfo().simd128;
const goldens: number = model.checkGolden();

// Misuse the compiler must reject (never called).
export function misuse(): void {
  // @ts-expect-error a string is not a feature vector
  model.predict('0.1,0.2');
  // @ts-expect-error the constructor is private: use Model.load
  new Model();
  // @ts-expect-error info is read-only
  model.info = info;
  // @ts-expect-error label may be null
  const l: number = p.label;
  void l;
}

try {
  model.predict([Number.NaN, ...features.subarray(1)]);
  throw new Error('NaN was accepted');
} catch (e) {
  if (!(e instanceof InputError) || e.code !== ErrorCode.InvalidInput || e.feature !== 0) throw e;
}
try {
  await Model.load(new Uint8Array(8));
  throw new Error('garbage was accepted');
} catch (e) {
  if (!(e instanceof InvalidModelError)) throw e;
  const code: number = e.code;
  void code;
}
// The model is unsigned: a verified load refuses it (any 32-byte key will do).
try {
  await Model.loadVerified(readFile(modelPath), [new Uint8Array(32)], 1n);
  throw new Error('an unsigned model was accepted');
} catch (e) {
  if (!(e instanceof SignatureError) || e.code !== ErrorCode.Unsigned) throw e;
}
const signature: Readonly<{ keyId: Uint8Array; modelVersion: bigint }> | undefined = model.signature;
if (signature !== undefined) throw new Error('an unsigned model has a signature');
model.free();
try {
  model.predict(features);
} catch (e) {
  if (!(e instanceof UsedAfterFreeError) || !(e instanceof FerriteError)) throw e;
}

if (name !== expectedLabel) {
  throw new Error(`expected label ${expectedLabel}, got ${name}`);
}
console.log(JSON.stringify({ shape, scale, scores: Array.from(scores), label, name, batch: batch.length, raw: raw.length, simd, goldens }));
