//! The NHWC engine's kernels (`runtime/src/kernels/engine/`) on the ISAs the host
//! cannot run: `runtime/tests/engine_kernels.rs` (every kernel byte-for-byte against
//! the reference),
//!
//! - on aarch64 under `qemu-aarch64 -cpu cortex-a57` (Armv8.0, no dot product: the
//!   `neon` kernels), selected with `QEMU_CPU`. The `-cpu max` run (NEON with the
//!   dot-product extension: `neon` and `neondot`) is the target's own `qemu-test` job,
//!   qemu-user's default CPU; this step reuses that job's debug build instead of
//!   building the standard library and the runtime again in release;
//! - on wasm32-wasip1 with `+simd128` in Node's WASI (`runtime/tests/engine_wasi.cjs`),
//!   in release, one test thread.
//!
//! The host's ISAs (portable, AVX2, AVX-512, VNNI) run in `cargo test --workspace`.
//! `ENGINE_CASES` (random cases per test) is lowered under emulation to keep each
//! step within about a minute.

use crate::cargo::CargoCall;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

const AARCH64: &str = "aarch64-unknown-linux-gnu";
const WASI: &str = "wasm32-wasip1";
/// Random cases per test under emulation (the named corner cases always run).
const CASES: &str = "60";

pub fn steps(_: &Ctx) -> Vec<Step> {
    vec![
        Step::new(
            format!("engine:{AARCH64}"),
            Stage::Emulated,
            "engine kernels under qemu-aarch64 -cpu cortex-a57 (-cpu max: the qemu-test job)",
            |ctx| {
                engine_tests(ctx, AARCH64, "dev", &[])?
                    .env("QEMU_CPU", "cortex-a57")
                    .run()?;
                Ok(Outcome::Passed)
            },
        )
        .for_target(AARCH64),
        Step::new(
            format!("engine:{WASI}"),
            Stage::Emulated,
            "engine kernels (release, +simd128) in Node's WASI",
            |ctx| {
                let runner = format!(
                    "node {}",
                    ctx.root.join("runtime/tests/engine_wasi.cjs").display()
                );
                engine_tests(ctx, WASI, "release", &["--test-threads=1"])?
                    .env("CARGO_TARGET_WASM32_WASIP1_RUNNER", runner)
                    .run()?;
                Ok(Outcome::Passed)
            },
        )
        .for_target(WASI),
    ]
}

/// `cargo test -p ferrite --test engine_kernels` in `profile` for `triple`, spelled for
/// its route (linker, runner, rustflags and build-std from its target file).
fn engine_tests(
    ctx: &Ctx,
    triple: &str,
    profile: &str,
    test_args: &[&str],
) -> Result<crate::cmd::Cmd> {
    let target = ctx.target(triple)?;
    let mut args = vec!["--test".to_string(), "engine_kernels".to_string()];
    if !test_args.is_empty() {
        args.push("--".into());
        args.extend(test_args.iter().map(|a| a.to_string()));
    }
    let call = CargoCall {
        subcommand: "test",
        target,
        package: Some("ferrite"),
        workspace: false,
        manifest: None,
        features: target.features.clone(),
        default_features: target.default_features,
        profile: profile.into(),
        build_std: target.build_std.clone(),
        crate_type: None,
        rustflags: Vec::new(),
        // A target directory of its own: in `ci` these steps run in the side lane while
        // the host lane's cargo holds the lock of `target/debug` (the workspace tests) or
        // `target/release` (the Python wheel, conformance), where the cross build's host
        // crates (build scripts, proc macros) would go; waiting for it took 9 of the
        // 10m29s of `engine:wasm32-wasip1` in the fresh CI of 2026-12-07.
        target_subdir: Some("engine"),
        args,
    };
    Ok(call.command(ctx)?.env("ENGINE_CASES", CASES))
}
