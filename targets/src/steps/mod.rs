//! The registry of `test` steps.
//!
//! `all()` is the whole of `cargo xtask test all`; each concern has its own module
//! returning its steps. To add a concern (C bindings, wasm/JS, Kotlin, firmware in
//! QEMU, ONNX conformance): write `steps/<concern>.rs` with
//! `pub fn steps(ctx: &Ctx) -> Vec<Step>`, give each step a [`Stage`] (which orders
//! `test all`, cheapest first) and, when it belongs to one target, `.for_target(triple)`
//! so that `cargo xtask test <triple>` runs it too; then add one line below.
//! A step that needs an optional tool returns `Outcome::Skipped(why)` only when the tool
//! is *meant* to be optional; anything `setup` installs is required.

use crate::step::Step;
use crate::Ctx;

mod conformance;
mod engine;
mod firmware;
mod fuzz;
pub use firmware::host_tool;
mod lint;
mod matrix;
mod python;
mod size;

/// Every test step, in registration order (the runner sorts by stage).
pub fn all(ctx: &Ctx) -> Vec<Step> {
    let mut steps = Vec::new();
    steps.extend(lint::steps(ctx)); // fmt, clippy
                                    // The firmware's int8 model, converted before the host tests use it.
    steps.extend(firmware::steps(ctx));
    // `cargo test --workspace` also runs the bindings' own suites (C compiled against
    // the header + valgrind + Cortex-M C firmware in QEMU, wasm in Node and headless
    // Chromium, Kotlin on the JVM and Python, the firmware in QEMU, the scikit-learn
    // suite): each is an integration test of its crate. Conformance runs last, in release.
    steps.extend(matrix::test_steps(ctx)); // jobs of targets/targets/*.toml
    steps.extend(python::steps(ctx)); // the Python package's wheel, pytest, Spark
    steps.extend(fuzz::steps(ctx)); // the runtime's cargo-fuzz targets, a few seconds each
    steps.extend(engine::steps(ctx)); // engine kernels on aarch64 (qemu, two CPUs) and WASI
    steps.push(crate::mcu_bench::step()); // instructions per inference in QEMU, short form
    steps.extend(size::steps(ctx)); // flash/RAM budgets of the MCU targets
    steps.extend(conformance::steps(ctx)); // ONNX node + light model tests, in release
    steps.extend(crate::bench::steps(ctx)); // `cargo xtask bench --quick`: the harness runs
    steps
}

/// The build steps of `cargo xtask build`.
pub fn builds(ctx: &Ctx) -> Vec<Step> {
    matrix::build_steps(ctx)
}
