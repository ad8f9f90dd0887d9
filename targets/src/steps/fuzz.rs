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
//! (fuzz/README.md).
//!
//! Then the host tool's ONNX import, `onnx_import`, for [`ONNX_SECONDS`]: the workspace
//! member `fuzz/onnx-harness`, built by `run.sh` with plain cargo in the workspace's
//! target dir and dev profile, so it links the tract that `firmware-model` (the host
//! test build, before the side lane starts) compiled; `fuzz/rustc-wrapper.sh` adds
//! libFuzzer's coverage instrumentation to the host tool's library and the harness only,
//! which get a profile override so that their instrumented artifacts never replace the
//! plain ones
//! (fuzz/README.md, *onnx_import in CI*).
//! cargo-fuzz comes from setup (`CARGO_FUZZ`); its nightly flags are enabled on the
//! stable toolchain with `RUSTC_BOOTSTRAP=1`, which `run.sh` sets.

use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// The runtime's fuzz targets (`onnx_import` is the host tool's).
const TARGETS: &[&str] = &["load_run", "load_verified", "preprocess", "c_abi"];
/// Seconds of fuzzing per runtime target.
const SECONDS: u32 = 15;
/// Seconds of fuzzing `onnx_import` (an execution converts a model: far slower).
const ONNX_SECONDS: u32 = 20;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "fuzz",
        Stage::HostTest,
        format!(
            "fuzz/run.sh --ci: {} for {SECONDS} s each (cargo-fuzz, libFuzzer, debug assertions, no sanitizer), then onnx_import for {ONNX_SECONDS} s (workspace debug build)",
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
    let run_sh = |targets: &[&str], seconds: u32| {
        Cmd::new("bash")
            .arg(ctx.root.join("fuzz/run.sh"))
            .arg("--ci")
            .args(targets.iter().copied())
            .env("CARGO_FUZZ", &cargo_fuzz)
            .env("FUZZ_SECONDS", seconds.to_string())
            .env("FUZZ_SANITIZER", "none")
            .cwd(&ctx.root)
            .run()
    };
    run_sh(TARGETS, SECONDS)?;
    run_sh(&["onnx_import"], ONNX_SECONDS)?;
    Ok(Outcome::Passed)
}
