//! The fuzz targets of the runtime (`fuzz/`: `load_run`, `load_verified`,
//! `preprocess`, `c_abi`), each for [`SECONDS`] from the committed seeds and
//! regressions: `fuzz/run.sh --ci`, which fails on any crash, sanitizer report or
//! oracle violation (the input is left in `fuzz/artifacts/<target>/`).
//!
//! One shared build (the targets share the runtime and the C bindings) with debug
//! assertions (`-a`: the runtime cross-checks its trusted decoders in debug builds) and
//! without AddressSanitizer: the step's budget is about 3 minutes on 2 cores, build
//! included, and the ASan build takes 1.8 times the CPU (209 s against 116 s measured)
//! while its executions run 2–10 times slower; the sanitizer is for the long runs
//! (fuzz/README.md). `onnx_import` stays out: even with coverage instrumentation on
//! ferrite's crates only (`fuzz/rustc-wrapper.sh`, tract at opt-level 1) its build of
//! tract costs 13–18 CPU minutes and shares nothing with the workspace's builds
//! (cargo-fuzz's `RUSTFLAGS` enter every crate's hash), against ≈ 440 idle core-seconds
//! and 3.5 minutes of wall time left in the 40-minute budget (fuzz/README.md, *onnx_import
//! in CI*); the long runs cover it, and `tool/tests/fuzz_regressions.rs` replays its
//! regression inputs in the workspace tests.
//! cargo-fuzz comes from setup (`CARGO_FUZZ`); its nightly flags are enabled on the
//! stable toolchain with `RUSTC_BOOTSTRAP=1`, which `run.sh` sets.

use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// The runtime's fuzz targets (`onnx_import` is the host tool's).
const TARGETS: &[&str] = &["load_run", "load_verified", "preprocess", "c_abi"];
/// Seconds of fuzzing per target.
const SECONDS: u32 = 15;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "fuzz",
        Stage::HostTest,
        format!(
            "fuzz/run.sh --ci: {} for {SECONDS} s each (cargo-fuzz, libFuzzer, debug assertions, no sanitizer)",
            TARGETS.join(", ")
        ),
        run,
    )
    .for_target(host)]
}

fn run(ctx: &Ctx) -> Result<Outcome> {
    let cargo_fuzz = std::env::var("CARGO_FUZZ")
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or("CARGO_FUZZ is not set: run the step through `cargo xtask test` (setup installs cargo-fuzz)")?;
    Cmd::new("bash")
        .arg(ctx.root.join("fuzz/run.sh"))
        .arg("--ci")
        .args(TARGETS.iter().copied())
        .env("CARGO_FUZZ", cargo_fuzz)
        .env("FUZZ_SECONDS", SECONDS.to_string())
        .env("FUZZ_SANITIZER", "none")
        .cwd(&ctx.root)
        .run()?;
    Ok(Outcome::Passed)
}
