// Runs a wasm32-wasip1 executable (a cargo test binary) under Node's WASI:
// `CARGO_TARGET_WASM32_WASIP1_RUNNER="node $PWD/runtime/tests/engine_wasi.cjs"` (an
// absolute path: cargo runs test binaries from the package directory).
// The whole filesystem is preopened; the exit code is the program's.
const { WASI } = require('node:wasi');
const fs = require('node:fs');

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...args],
  env: process.env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const wasm = new WebAssembly.Module(fs.readFileSync(file));
process.exitCode = wasi.start(new WebAssembly.Instance(wasm, wasi.getImportObject()));
