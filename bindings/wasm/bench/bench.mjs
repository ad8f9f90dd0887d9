#!/usr/bin/env node
// Batch-1 latency of ferrite-wasm vs onnxruntime-web (wasm backend, one thread) in Node,
// on the same model, plus the .wasm sizes side by side. A benchmark, not a test.
//
//   node bindings/wasm/bench/bench.mjs [--runs N] [--rounds R] [--warmup W] [--json FILE]
//                                      [--suite FILE]
//
// Models:
// - without --suite (every one that is available is measured):
//   - digits: examples/digits/digits_mlp.onnx for onnxruntime-web; for ferrite its
//     conversions by the host tool, f32 and int8, made here with
//     `cargo run -p ferrite-tool -- convert ...` unless FERRITE_BENCH_DIGITS_F32 /
//     FERRITE_BENCH_DIGITS_INT8 point at .fer files already.
//   - fixture: the runtime's fixture MLPs (16-12-4), ferrite only (no ONNX twin).
// - with --suite FILE (written by `cargo xtask bench`): the models it lists, as JSON
//   `{ "models": [{ "name", "onnx", "data" (.npy [N, ...shape] or CSV with a header),
//   "shape" (the input's, batch 1), "fer": { "f32": path|null, "int8": path|null } }] }`.
//
// Method: the engines alternate in R rounds of N timed calls each (after W warm-up calls
// per engine), so a load change on the machine hits all of them; each call is timed
// alone and the median is reported with p10/p90. onnxruntime-web's `run` is async: its
// latency includes the promise, as a caller sees it. Inputs are the data rows (at most
// 64), cycled. Before timing, every row is run once by each engine and ferrite's outputs
// are compared with onnxruntime-web's (max |difference|, same arg-max share).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');
const PKG = resolve(process.env.FERRITE_WASM_PKG ?? join(ROOT, 'target/wasm/pkg'));
const OUT = join(ROOT, 'target/wasm/bench');
const ONNX = join(ROOT, 'examples/digits/digits_mlp.onnx');

const MAX_ROWS = 64;

const opts = { runs: 500, rounds: 10, warmup: 200, json: null, suite: null };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === '--runs') opts.runs = Number(v);
  else if (k === '--rounds') opts.rounds = Number(v);
  else if (k === '--warmup') opts.warmup = Number(v);
  else if (k === '--json') opts.json = resolve(v);
  else if (k === '--suite') opts.suite = resolve(v);
  else throw new Error(`unknown option ${k}`);
}

function csv(path) {
  const [, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  return rows.map((l) => Float32Array.from(l.split(',').map(Number)));
}

/** Rows of a little-endian float32 C-order .npy file, each `size` values long. */
function npyRows(path, size) {
  const b = readFileSync(path);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const v1 = b[6] === 1;
  const headerLen = v1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (v1 ? 10 : 12) + headerLen;
  const header = b.toString('latin1', v1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${path}: only little-endian float32 C-order arrays are read (header ${header.trim()})`);
  }
  const all = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  if (all.length % size !== 0) throw new Error(`${path}: ${all.length} values are not rows of ${size}`);
  const rows = [];
  for (let at = 0; at < all.length; at += size) rows.push(all.slice(at, at + size));
  return rows;
}

function sizes(file) {
  const b = readFileSync(file);
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** Converts the digits ONNX with the host tool; returns the .fer path or null. */
function convert(precision) {
  const env = process.env[`FERRITE_BENCH_DIGITS_${precision.toUpperCase()}`];
  if (env) return resolve(env);
  const out = join(OUT, `digits_${precision}.fer`);
  mkdirSync(OUT, { recursive: true });
  const args = ['run', '-q', '-p', 'ferrite-tool', '--', 'convert', ONNX, '-o', out, '--labels', '0,1,2,3,4,5,6,7,8,9'];
  if (precision === 'int8') {
    args.push('--precision', 'int8', '--calibration', join(ROOT, 'examples/digits/calib.csv'));
  }
  console.error(`converting: cargo ${args.join(' ')}`);
  rmSync(out, { force: true });
  const r = spawnSync(process.env.CARGO ?? 'cargo', args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(out)) {
    console.error(`(no ferrite digits ${precision} model: the host tool's convert failed)`);
    return null;
  }
  return out;
}

function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p10: q(0.1), p90: q(0.9), n: s.length };
}

/** Alternates the engines over rounds; each engine is `{ name, call: (x) => any }`. */
async function race(engines, rows) {
  const samples = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (const e of engines) for (let i = 0; i < opts.warmup; i++) await e.call(rows[i % rows.length]);
  for (let r = 0; r < opts.rounds; r++) {
    for (const e of engines) {
      const out = samples[e.name];
      for (let i = 0; i < opts.runs; i++) {
        const x = rows[(r * opts.runs + i) % rows.length];
        const t0 = performance.now();
        const y = e.call(x);
        if (e.async) await y;
        out.push((performance.now() - t0) * 1000);
      }
    }
  }
  return Object.fromEntries(engines.map((e) => [e.name, stats(samples[e.name])]));
}

/** The models of a --suite file. */
function suiteModels(file) {
  const suite = JSON.parse(readFileSync(file, 'utf8'));
  return suite.models.map((m) => {
    const size = m.shape.reduce((a, b) => a * b, 1);
    const rows = m.data.endsWith('.npy') ? npyRows(m.data, size) : csv(m.data);
    return { name: m.name, onnx: m.onnx, shape: m.shape, rows: rows.slice(0, MAX_ROWS), fer: m.fer };
  });
}

/** The default model: the digits MLP, converted here when needed. */
function digitsModel() {
  const rows = csv(join(ROOT, 'examples/digits/test.csv'));
  const labels = readFileSync(join(ROOT, 'examples/digits/test_labels.csv'), 'utf8').trim().split('\n').slice(1).map(Number);
  return { name: 'digits', onnx: ONNX, shape: [1, rows[0].length], rows, labels, fer: { f32: convert('f32'), int8: convert('int8') } };
}

/** onnxruntime-web and ferrite-wasm (each conversion that loads) on one model. */
async function measure(ort, Model, m) {
  const engines = [];
  const errors = {};
  const session = await ort.InferenceSession.create(readFileSync(m.onnx), { executionProviders: ['wasm'] });
  const [inName] = session.inputNames;
  const [outName] = session.outputNames;
  const ortRun = async (x) => (await session.run({ [inName]: new ort.Tensor('float32', x, m.shape) }))[outName].data;
  engines.push({ name: 'onnxruntime-web', async: true, call: ortRun });
  const fer = {};
  for (const [precision, path] of Object.entries(m.fer)) {
    if (!path) continue;
    try {
      fer[precision] = await Model.load(readFileSync(path));
    } catch (e) {
      errors[`ferrite-wasm ${precision}`] = `cannot load ${path}: ${e.message}`;
      console.error(`(ferrite cannot load ${path}: ${e.message})`);
      continue;
    }
    const model = fer[precision];
    engines.push({ name: `ferrite-wasm ${precision}`, async: false, call: (x) => model.predict(x).scores });
  }

  // Agreement with onnxruntime on every row (not timed).
  const agreement = {};
  const ortScores = [];
  for (const x of m.rows) ortScores.push(await ortRun(x));
  if (m.labels) {
    agreement['onnxruntime-web'] = { accuracy: ortScores.filter((s, i) => argmax(s) === m.labels[i]).length / m.rows.length };
  }
  for (const [precision, model] of Object.entries(fer)) {
    let maxAbs = 0;
    let same = 0;
    let correct = 0;
    m.rows.forEach((x, i) => {
      const p = model.predict(x);
      p.scores.forEach((v, k) => (maxAbs = Math.max(maxAbs, Math.abs(v - ortScores[i][k]))));
      if (argmax(p.scores) === argmax(ortScores[i])) same++;
      if (m.labels && p.label === m.labels[i]) correct++;
    });
    agreement[`ferrite-wasm ${precision}`] = {
      ...(m.labels ? { accuracy: correct / m.rows.length } : {}),
      sameLabelAsOrt: same / m.rows.length,
      maxAbsDiff: maxAbs,
    };
  }
  const latencyUs = await race(engines, m.rows);
  await session.release();
  return { result: { inputShape: m.shape, latencyUs, agreement, errors }, models: Object.values(fer) };
}

async function main() {
  if (!existsSync(join(PKG, 'index.js'))) throw new Error(`no package in ${PKG}: run node bindings/wasm/build.mjs`);
  const { Model, buildInfo } = await import(pathToFileURL(join(PKG, 'index.js')).href);
  const require = createRequire(import.meta.url);
  const ortEntry = require.resolve('onnxruntime-web');
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';

  const result = { node: process.version, runs: opts.runs, rounds: opts.rounds, warmup: opts.warmup, sizes: {}, models: {} };
  const loaded = [];
  for (const m of opts.suite ? suiteModels(opts.suite) : [digitsModel()]) {
    console.error(`measuring ${m.name}`);
    const { result: r, models } = await measure(ort, Model, m);
    result.models[m.name] = r;
    loaded.push(...models);
  }

  // ----- fixture MLP (ferrite only)
  const fixtures = process.env.FERRITE_FIXTURES ?? join(ROOT, 'target/wasm/fixtures');
  if (!opts.suite && existsSync(join(fixtures, 'mlp_f32.fer'))) {
    const fx = [];
    for (const name of ['mlp_f32', 'mlp_int8']) {
      const m = await Model.load(readFileSync(join(fixtures, `${name}.fer`)));
      fx.push({ name: `ferrite-wasm ${name}`, async: false, call: (x) => m.predict(x).scores });
    }
    const fxRows = readFileSync(join(fixtures, 'inputs.csv'), 'utf8').trim().split('\n').map((l) => Float32Array.from(l.split(',').map(Number)));
    result.models.fixture = { latencyUs: await race(fx, fxRows), note: 'no ONNX twin: ferrite only' };
  }

  // ----- sizes
  const ortWasm = join(dirname(ortEntry), 'ort-wasm-simd-threaded.wasm');
  result.sizes['ferrite-wasm (ferrite_wasm_bg.wasm)'] = sizes(join(PKG, 'ferrite_wasm_bg.wasm'));
  result.sizes['onnxruntime-web (ort-wasm-simd-threaded.wasm)'] = sizes(ortWasm);
  result.ferrite = buildInfo();
  result.ort = { version: ort.env.versions?.web ?? require('onnxruntime-web/package.json').version, numThreads: 1 };

  // ----- report
  console.log(`\nferrite-wasm ${result.ferrite.version} (simd128: ${result.ferrite.simd128}) vs onnxruntime-web ${result.ort.version} (wasm, 1 thread), Node ${process.version}`);
  console.log(`${opts.rounds} rounds × ${opts.runs} calls per engine, batch 1, latency in µs\n`);
  for (const [model, r] of Object.entries(result.models)) {
    console.log(`${model}${r.note ? ` (${r.note})` : ''}`);
    const base = r.latencyUs['onnxruntime-web']?.median;
    for (const [name, s] of Object.entries(r.latencyUs)) {
      const ratio = base && name !== 'onnxruntime-web'
        ? `  latency ferrite/ort ${(s.median / base).toFixed(2)} (speed-up ${(base / s.median).toFixed(2)}×)`
        : '';
      console.log(`  ${name.padEnd(24)} median ${s.median.toFixed(2).padStart(8)}  p10 ${s.p10.toFixed(2).padStart(8)}  p90 ${s.p90.toFixed(2).padStart(8)}${ratio}`);
    }
    for (const [name, a] of Object.entries(r.agreement ?? {})) {
      const parts = [];
      if (a.accuracy !== undefined) parts.push(`test accuracy ${(a.accuracy * 100).toFixed(2)}%`);
      if (a.maxAbsDiff !== undefined) parts.push(`same arg-max as onnxruntime ${(a.sameLabelAsOrt * 100).toFixed(1)}%, max |Δ| ${a.maxAbsDiff.toExponential(2)}`);
      console.log(`  ${name.padEnd(24)} ${parts.join(', ')}`);
    }
    for (const [name, e] of Object.entries(r.errors ?? {})) console.log(`  ${name.padEnd(24)} ${e}`);
    if (!('ferrite-wasm f32' in r.latencyUs) && model === 'digits') {
      console.log('  (no ferrite conversion of digits_mlp.onnx available: onnxruntime-web only)');
    }
    console.log('');
  }
  console.log('.wasm sizes');
  for (const [name, s] of Object.entries(result.sizes)) {
    console.log(`  ${name.padEnd(46)} ${kb(s.raw).padStart(12)} raw  ${kb(s.gzip).padStart(12)} gzip`);
  }
  const [f, o] = Object.values(result.sizes);
  console.log(`  ratio ferrite/onnxruntime: raw ${(f.raw / o.raw).toFixed(4)}, gzip ${(f.gzip / o.gzip).toFixed(4)}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');
  for (const m of loaded) m.free();
}

function argmax(a) {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i;
  return k;
}

await main();
