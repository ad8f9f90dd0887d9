// Shared paths and fixture readers of the ferrite-wasm tests.
//
// FERRITE_WASM_PKG: the built npm package (default <workspace>/target/wasm/pkg, made by
// `node bindings/wasm/build.mjs`). FERRITE_FIXTURES: the output of
// `cargo run -p ferrite --example fixtures -- DIR` (default <workspace>/target/wasm/fixtures,
// generated on first use; FERRITE_FIXTURES_BIN names a built `fixtures` binary to run instead). The fixtures are the native Rust runtime's own results: the
// independent reference every comparison here is made against.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../../..');
export const PKG = resolve(process.env.FERRITE_WASM_PKG ?? join(ROOT, 'target/wasm/pkg'));
export const FIXTURES = resolve(process.env.FERRITE_FIXTURES ?? join(ROOT, 'target/wasm/fixtures'));
export const ARTIFACTS = resolve(process.env.FERRITE_ARTIFACTS ?? join(ROOT, 'target/artifacts'));

/**
 * Generates the fixtures with the Rust runtime unless they are there already (`fresh`:
 * always, so they follow the current runtime; run.mjs does this once per run).
 */
export function ensureFixtures({ fresh = false } = {}) {
  if (!fresh && existsSync(join(FIXTURES, 'labels.txt'))) return FIXTURES;
  // FERRITE_FIXTURES_BIN: the `fixtures` example that `cargo xtask test`'s workspace build
  // made; without it `cargo run`, which resolves features of its own and so compiles the
  // runtime again.
  const bin = process.env.FERRITE_FIXTURES_BIN;
  const cargo = process.env.CARGO ?? 'cargo';
  const [cmd, args] = bin ? [bin, [FIXTURES]] : [cargo, ['run', '-q', '-p', 'ferrite', '--example', 'fixtures', '--', FIXTURES]];
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`fixture generation failed (${[cmd, ...args].join(' ')})`);
  return FIXTURES;
}

export function ensurePackage() {
  if (!existsSync(join(PKG, 'index.js')) || !existsSync(join(PKG, 'ferrite_wasm_bg.wasm'))) {
    throw new Error(`no built package in ${PKG}: run \`node bindings/wasm/build.mjs ${PKG}\` first`);
  }
  return PKG;
}

/** The package's entry module (`index.js`). */
export async function importPackage() {
  return import(pathToFileURL(join(ensurePackage(), 'index.js')).href);
}

/** The raw wasm-bindgen module (`ferrite_wasm.js`), the same instance index.js uses. */
export async function importRaw() {
  return import(pathToFileURL(join(ensurePackage(), 'ferrite_wasm.js')).href);
}

export function fixtureBytes(name) {
  return new Uint8Array(readFileSync(join(ensureFixtures(), name)));
}

function lines(name) {
  return readFileSync(join(ensureFixtures(), name), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

/** The 8 input rows, as f32. */
export function inputs() {
  return lines('inputs.csv').map((l) => Float32Array.from(l.split(',').map(Number)));
}

/** The 8 input rows as written in inputs.csv (text). */
export function inputLines() {
  return lines('inputs.csv');
}

/** Rows of a `%.9e` CSV, as f32. */
export function csvRows(name) {
  return lines(name).map((l) => Float32Array.from(l.split(',').map(Number)));
}

/** Rows of a hex file, as bytes. */
export function hexRows(name) {
  return lines(name).map((l) => Uint8Array.from(l.match(/../g).map((h) => parseInt(h, 16))));
}

/** Expected label per row: `{ f32, int8 }`. */
export function expectedLabels() {
  return lines('labels.txt').map((l) => {
    const [f32, int8] = l.trim().split(/\s+/).map(Number);
    return { f32, int8 };
  });
}

export const LABELS = ['north', 'east', 'south', 'west'];

export function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The bytes of a Float32Array (little-endian on every JS engine we run on). */
export function f32Bytes(a) {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Where the digits models converted by the host tool live (see ensureDigits). */
export const DIGITS =
  process.env.FERRITE_DIGITS === 'none' ? null : resolve(process.env.FERRITE_DIGITS ?? join(ROOT, 'target/wasm/digits'));
export const DIGITS_SRC = join(ROOT, 'examples/digits');

/**
 * Runs the host tool (`ferrite ARGS…`) from the workspace root and returns spawnSync's
 * result. FERRITE_TOOL names a built `ferrite` binary: `cargo xtask test` sets it to the
 * tool its workspace test build made. Without it, `cargo run -p ferrite-tool`, whose
 * feature resolution differs from the workspace build's and so compiles tract and
 * everything under it again (minutes of CPU in CI).
 */
export function ferriteTool(args) {
  const tool = process.env.FERRITE_TOOL;
  if (tool) return spawnSync(tool, args, { cwd: ROOT, encoding: 'utf8' });
  const cargo = process.env.CARGO ?? 'cargo';
  return spawnSync(cargo, ['run', '-q', '-p', 'ferrite-tool', '--', ...args], { cwd: ROOT, encoding: 'utf8' });
}

/**
 * Converts examples/digits/digits_mlp.onnx with the host tool (`ferrite convert`, f32 and
 * int8) and records the native runtime's outputs on test.csv (`ferrite run`) into DIGITS.
 * Returns null, with the reason on stderr, when the tool cannot do it (it is optional:
 * the digits suites then skip).
 */
export function ensureDigits() {
  if (DIGITS === null) return null;
  mkdirSync(DIGITS, { recursive: true });
  const labels = ['--labels', '0,1,2,3,4,5,6,7,8,9'];
  const onnx = join(DIGITS_SRC, 'digits_mlp.onnx');
  const steps = [
    ['convert', onnx, '-o', join(DIGITS, 'digits_f32.fer'), ...labels],
    ['convert', onnx, '-o', join(DIGITS, 'digits_int8.fer'), '--precision', 'int8', '--calibration', join(DIGITS_SRC, 'calib.csv'), ...labels],
    ['run', join(DIGITS, 'digits_f32.fer'), '--input', join(DIGITS_SRC, 'test.csv'), '--output', join(DIGITS, 'native_f32.csv'), '--top-k', '0'],
    ['run', join(DIGITS, 'digits_int8.fer'), '--input', join(DIGITS_SRC, 'test.csv'), '--output', join(DIGITS, 'native_int8.csv'), '--top-k', '0'],
  ];
  rmSync(join(DIGITS, 'ready'), { force: true });
  for (const s of steps) {
    const r = ferriteTool(s);
    if (r.status !== 0) {
      console.error(`digits models unavailable (ferrite ${s[0]} failed): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
      return null;
    }
  }
  writeFileSync(join(DIGITS, 'ready'), 'made by ensureDigits\n');
  return DIGITS;
}

/**
 * The digits directory if ensureDigits completed (now or in an earlier run), else null.
 * `FERRITE_DIGITS=none` turns the digits tests off.
 */
export function digitsDir() {
  return DIGITS !== null && existsSync(join(DIGITS, 'ready')) ? DIGITS : null;
}

/** Rows of a CSV with a header line, as f32. */
export function csvWithHeader(path) {
  const [, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  return rows.map((l) => Float32Array.from(l.split(',').map(Number)));
}

/**
 * Signs the fixture mlp_f32.fer with the host tool (`ferrite keygen`, `ferrite sign
 * --version 7`) into FIXTURES/signed: signed.fer, release.pub (its key), other.pub (a key
 * that did not sign). Returns the directory, or null (reason on stderr) when the tool
 * cannot run: the signature suite then skips.
 */
export function ensureSigned() {
  const dir = join(ensureFixtures(), 'signed');
  mkdirSync(dir, { recursive: true });
  const steps = [
    ['keygen', '-o', join(dir, 'release')],
    ['keygen', '-o', join(dir, 'other')],
    ['sign', join(FIXTURES, 'mlp_f32.fer'), '--key', join(dir, 'release.secret'), '--version', '7', '-o', join(dir, 'signed.fer')],
  ];
  for (const f of ['release.secret', 'release.pub', 'other.secret', 'other.pub', 'signed.fer']) rmSync(join(dir, f), { force: true });
  for (const s of steps) {
    const r = ferriteTool(s);
    if (r.status !== 0) {
      console.error(`signed fixtures unavailable (ferrite ${s[0]} failed): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
      return null;
    }
  }
  return dir;
}
