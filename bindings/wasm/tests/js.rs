//! The JS side of ferrite-wasm, run by `cargo test -p ferrite-wasm`: builds the npm package
//! (`node build.mjs`: cross-compiles this crate to wasm32 with simd128, runs the pinned
//! wasm-bindgen CLI) and runs the `node --test` suites against it, including headless
//! Chromium and `tsc` (`node test/run.mjs`).
//!
//! Needs: Node ≥ 20, `npm ci` in bindings/wasm, the wasm-bindgen CLI at the Cargo.lock
//! version, a wasm32 toolchain (see build.mjs) and Chromium. Set `FERRITE_WASM_SKIP_BUILD=1`
//! to test an already-built package (`FERRITE_WASM_PKG`, default target/wasm/pkg).

use std::path::{Path, PathBuf};
use std::process::Command;

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn node(args: &[&Path]) -> Command {
    let mut c = Command::new(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    c.args(args).current_dir(here());
    // The fixture generator must use this same cargo (not whatever is first on PATH).
    c.env("CARGO", env!("CARGO"));
    c
}

fn run(what: &str, mut cmd: Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({cmd:?}): {e}. Install Node >= 20 and run `npm ci` in bindings/wasm.")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        );
    }
    // Summary lines only (the full report is printed on failure).
    for line in stdout.lines().chain(stderr.lines()) {
        let l = line.trim_start();
        if l.starts_with("ℹ ")
            || l.starts_with("ferrite_wasm_bg.wasm:")
            || l.starts_with("ferrite-wasm package:")
        {
            println!("{l}");
        }
    }
}

#[test]
fn npm_package_builds_and_js_suites_pass() {
    let pkg = std::env::var_os("FERRITE_WASM_PKG")
        .map(PathBuf::from)
        .unwrap_or_else(|| here().join("../../target/wasm/pkg"));
    if std::env::var_os("FERRITE_WASM_SKIP_BUILD").is_none() {
        run("build.mjs", node(&[&here().join("build.mjs"), &pkg]));
    }
    let mut suites = node(&[&here().join("test/run.mjs")]);
    suites.env("FERRITE_WASM_PKG", &pkg);
    run("the JS suites (test/run.mjs)", suites);
}
