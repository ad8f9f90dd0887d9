#!/usr/bin/env node
// Builds the npm package of ferrite-wasm into OUTDIR (default: <workspace>/target/wasm/pkg).
//
//   node bindings/wasm/build.mjs [OUTDIR] [--opt size|speed]
//
// --opt size: every crate at opt-level z, `wasm-opt -Oz`.
// --opt speed (default): the runtime crate (`ferrite`) at opt-level 3, `wasm-opt -O3`; about 2-3×
//   faster predictions for ~50% more bytes (still within the budget).
//
// Steps: cargo builds the cdylib for wasm32-unknown-unknown with simd128, profile
// `release-size` (opt-level z, fat LTO, panic=abort; immediate-abort with build-std);
// the wasm-bindgen CLI (the exact version of the crate in Cargo.lock) writes the
// `--target web` ESM glue (it also runs in Node: index.js feeds it the file) and .d.ts;
// `wasm-opt -Oz` from npm `binaryen` runs if installed (optional, unless WASM_OPT names it:
// `cargo xtask` does, and then it is required); the hand-written
// wrapper (js/), README and package.json are copied beside them. Prints the sizes
// and fails when the .wasm exceeds the budget (600 KiB raw, 184 KiB gzip).
//
// Toolchain: Debian's rustc (`apt-get install rustc-web cargo-web rust-web-src lld-22`)
// with `-Zbuild-std` when installed, else a rustup
// toolchain that has the wasm32-unknown-unknown target. Overrides: FERRITE_WASM_CARGO,
// FERRITE_WASM_RUSTC, FERRITE_WASM_LINKER; WASM_BINDGEN and WASM_OPT for the tools' paths.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TARGET = 'wasm32-unknown-unknown';
const PROFILE = 'release-size';
// raw: 250 KiB before drift monitoring (docs/monitoring.md), which adds ~21.7 KB raw
// and ~9.6 KB gzip. Then 264 KiB raw / 100 KiB gzip until the NHWC conv engine (issue #14)
// ran the conv models: its f32 / int8 / f16 conv and depthwise kernels (simd128 and the
// portable fallback, opt-level 3) take ~250 KB raw / ~55 KB gzip (measured: 518,830 B raw,
// 155,718 B gzip). Raised to 520 / 160 KiB for the conv speed (onnxruntime-web's .wasm is
// 13.9 MB). Then signature verification (~20 KB raw / ~10 KB gzip), the f16-weight engine
// kernels and the batched FullyConnected took it to 680,545 / 196,320, and the portable
// engine kernels, dead weight in a +simd128 module, are no longer linked (engine::kernels):
// 495,523 B raw, 162,618 B gzip (2026-12-06). Raised to 580 / 176 KiB after the NHWC pools,
// GridSample, Fmod, the Quantize families and the int8 kernel changes (576,336 B raw,
// 176,733 B gzip). Raised to 600 / 184 KiB in session 8 (2026-12-07) for the int8 first
// layer `ConvNchwI8` (format 1.6) and the int8 average pool's i16 sums: 591,151 B raw,
// 180,431 B gzip. The package test (test/package.test.mjs) imports this budget.
export const BUDGET = { raw: 600 * 1024, gzip: 184 * 1024 };

function die(msg) {
  console.error(`build.mjs: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  console.error(`+ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) die(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) die(`${cmd} failed with exit status ${r.status}`);
}

function tryOutput(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

/** The wasm-bindgen crate version in Cargo.lock: the CLI must match it exactly. */
export function lockedWasmBindgenVersion() {
  const lock = readFileSync(join(ROOT, 'Cargo.lock'), 'utf8');
  const m = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) die('wasm-bindgen not found in Cargo.lock (run `cargo generate-lockfile`?)');
  return m[1];
}

function cargoCommand(opt) {
  const env = { ...process.env };
  const flags = (env.RUSTFLAGS ?? '').split(' ').filter(Boolean);
  if (!flags.includes('-Ctarget-feature=+simd128')) flags.push('-Ctarget-feature=+simd128');
  env.RUSTFLAGS = flags.join(' ');
  const targetDir = join(ROOT, 'target', 'cross');
  const args = ['build', '-p', 'ferrite-wasm', '--lib', '--target', TARGET, '--profile', PROFILE, '--target-dir', targetDir];
  if (opt === 'speed') args.push('--config', `profile.${PROFILE}.package.ferrite.opt-level=3`);
  // Preferred: Debian's rustc with -Zbuild-std, so std itself is built with simd128,
  // opt-level z and panic=abort (smaller). Fallback: a rustup toolchain with the target.
  const rustc = env.FERRITE_WASM_RUSTC ?? '/usr/bin/rustc';
  const linker = env.FERRITE_WASM_LINKER ?? '/usr/lib/llvm-22/bin/wasm-ld';
  const buildStd = existsSync(rustc) && existsSync('/usr/lib/rustlib/src/rust/library') && existsSync(linker);
  let cargo = env.FERRITE_WASM_CARGO;
  if (buildStd) {
    cargo ??= '/usr/bin/cargo';
    env.RUSTC = rustc;
    env.RUSTC_BOOTSTRAP = '1';
    env.CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER = linker;
    args.push('-Zbuild-std=std,panic_abort');
    // A panic is a bug here (the runtime never panics on data) and wasm32 has nowhere to
    // print its message: drop the formatting machinery (-20 KB).
    env.RUSTFLAGS += ' -Zunstable-options -Cpanic=immediate-abort';
  } else {
    const installed = (tryOutput('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
    if (!installed.includes(TARGET)) {
      die(`no toolchain for ${TARGET}: apt-get install -y rustc-web cargo-web rust-web-src lld-22 ` +
        `(or rustup target add ${TARGET})`);
    }
    cargo ??= 'cargo';
  }
  return { cargo, args, env, out: join(targetDir, TARGET, PROFILE, 'ferrite_wasm.wasm') };
}

function wasmBindgen() {
  const want = lockedWasmBindgenVersion();
  const bin = process.env.WASM_BINDGEN ?? 'wasm-bindgen';
  const v = tryOutput(bin, ['--version']);
  if (v === null) die(`${bin} not found: cargo install wasm-bindgen-cli --version =${want}`);
  const got = v.trim().split(/\s+/)[1];
  if (got !== want) {
    die(`${bin} is ${got} but Cargo.lock has wasm-bindgen ${want}: cargo install wasm-bindgen-cli --version =${want} --force`);
  }
  return bin;
}

function wasmOpt() {
  const named = process.env.WASM_OPT;
  if (named) {
    if (!existsSync(named)) die(`WASM_OPT=${named} does not exist: run \`npm ci\` in bindings/wasm (binaryen)`);
    return named;
  }
  const local = join(HERE, 'node_modules', '.bin', 'wasm-opt');
  if (existsSync(local)) return local;
  return tryOutput('wasm-opt', ['--version']) === null ? null : 'wasm-opt';
}

export function sizes(file) {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

function packageJson(version) {
  return {
    name: 'ferrite-wasm',
    version,
    description: 'ferrite edge inference runtime for browsers and Node: load a .fer model, predict offline',
    license: 'MIT OR Apache-2.0',
    type: 'module',
    main: './index.js',
    module: './index.js',
    types: './index.d.ts',
    exports: {
      '.': { types: './index.d.ts', default: './index.js' },
      './raw': { types: './ferrite_wasm.d.ts', default: './ferrite_wasm.js' },
      './ferrite_wasm_bg.wasm': './ferrite_wasm_bg.wasm',
      './package.json': './package.json',
    },
    files: ['index.js', 'index.d.ts', 'ferrite_wasm.js', 'ferrite_wasm.d.ts', 'ferrite_wasm_bg.wasm', 'ferrite_wasm_bg.wasm.d.ts', 'README.md'],
    sideEffects: false,
    engines: { node: '>=18' },
    keywords: ['machine-learning', 'inference', 'wasm', 'onnx', 'edge', 'int8'],
  };
}

function parseArgs(argv) {
  const o = { outDir: join(ROOT, 'target', 'wasm', 'pkg'), opt: 'speed' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--opt') {
      o.opt = argv[++i];
      if (o.opt !== 'size' && o.opt !== 'speed') die(`--opt takes size or speed, not ${o.opt}`);
    } else if (argv[i].startsWith('-')) {
      die(`unknown option ${argv[i]} (usage: build.mjs [OUTDIR] [--opt size|speed])`);
    } else {
      o.outDir = argv[i];
    }
  }
  o.outDir = resolve(o.outDir);
  return o;
}

function main() {
  const { outDir, opt: level } = parseArgs(process.argv.slice(2));
  const bindgen = wasmBindgen();
  const { cargo, args, env, out } = cargoCommand(level);
  run(cargo, args, { env, cwd: ROOT });
  if (!existsSync(out)) die(`cargo did not produce ${out}`);

  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  run(bindgen, ['--target', 'web', '--remove-name-section', '--remove-producers-section', '--out-dir', outDir, '--out-name', 'ferrite_wasm', out]);
  const wasm = join(outDir, 'ferrite_wasm_bg.wasm');
  const before = sizes(wasm);
  const opt = wasmOpt();
  if (opt) {
    run(opt, [level === 'speed' ? '-O3' : '-Oz', '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext', '--enable-nontrapping-float-to-int', '--enable-mutable-globals', '--enable-multivalue', '--enable-reference-types', wasm, '-o', wasm]);
  } else {
    console.error('wasm-opt not found (optional: npm install in bindings/wasm installs binaryen)');
  }

  for (const f of ['index.js', 'index.d.ts']) copyFileSync(join(HERE, 'js', f), join(outDir, f));
  copyFileSync(join(HERE, 'README.md'), join(outDir, 'README.md'));
  const crateVersion = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8').match(/\[workspace\.package\][^[]*?version = "([^"]+)"/)[1];
  writeFileSync(join(outDir, 'package.json'), JSON.stringify(packageJson(crateVersion), null, 2) + '\n');
  rmSync(join(outDir, '.gitignore'), { force: true });

  const s = sizes(wasm);
  console.log(`ferrite-wasm package (--opt ${level}): ${outDir}`);
  console.log(`ferrite_wasm_bg.wasm: ${s.raw} bytes raw, ${s.gzip} bytes gzip (budget ${BUDGET.raw} / ${BUDGET.gzip})` +
    (opt ? `; before wasm-opt ${before.raw} / ${before.gzip}` : ''));
  if (s.raw > BUDGET.raw || s.gzip > BUDGET.gzip) die('the .wasm exceeds its size budget');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
