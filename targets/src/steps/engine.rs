//! The NHWC engine's kernels (`runtime/src/kernels/engine/`) on the ISAs the host
//! cannot run: `runtime/tests/engine_kernels.rs` (every kernel byte-for-byte against
//! the reference),
//!
//! - on aarch64 under `qemu-aarch64 -cpu cortex-a57` (Armv8.0, no dot product), selected
//!   with `QEMU_CPU`: the dispatching family functions (`dispatch::*`), which pick the
//!   plain `neon` kernels there. The `-cpu max` run (NEON with the dot-product
//!   extension) is the target's own `qemu-test` job, qemu-user's default CPU: it runs
//!   every test of the file, `portable`, `neon` and `neondot` and the tests across
//!   ISAs, with 60 random cases per test (`ENGINE_CASES` in the target's file). On either
//!   CPU those tests run the same `neon` and portable instructions on cases from the
//!   same seeded generators (for all but the NCHW suite, which draws its random shapes
//!   before their data, the [`CASES`] a cortex-a57 run would draw are the first ones
//!   of the `-cpu max` run), so running them again under cortex-a57 proves nothing
//!   new; what differs between the two CPUs is which kernels the dispatcher picks.
//!   This step runs the `qemu-test` job's debug test binary again (same target dir,
//!   same features: no compile);
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
/// The test filter of the cortex-a57 run: the dispatching family's module of the suite.
const DISPATCH: &str = "dispatch::";

pub fn steps(_: &Ctx) -> Vec<Step> {
    vec![
        Step::new(
            format!("engine:{AARCH64}"),
            Stage::Emulated,
            "engine kernels' dispatch under qemu-aarch64 -cpu cortex-a57 (every kernel under -cpu max: the qemu-test job)",
            |ctx| {
                engine_tests(ctx, AARCH64, "dev", None, &[DISPATCH])?
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
                engine_tests(ctx, WASI, "release", Some("engine"), &["--test-threads=1"])?
                    .env("CARGO_TARGET_WASM32_WASIP1_RUNNER", runner)
                    .run()?;
                Ok(Outcome::Passed)
            },
        )
        .for_target(WASI),
    ]
}

/// `cargo test -p ferrite --test engine_kernels` in `profile` for `triple`, spelled for
/// its route (linker, runner, rustflags and build-std from its target file), in the
/// route's target dir or its `subdir`.
fn engine_tests(
    ctx: &Ctx,
    triple: &str,
    profile: &str,
    subdir: Option<&'static str>,
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
        // wasm32-wasip1 (release) has a target directory of its own: in `ci` it runs in
        // the side lane while the host lane's cargo holds the lock of `target/release`
        // (the Python wheel, conformance), where the cross build's host crates (build
        // scripts, proc macros) would go; waiting for it took 9 of the 10m29s of
        // `engine:wasm32-wasip1` in the fresh CI of 2026-12-07. aarch64 (dev) shares
        // `target/` with the `qemu-test` job before it, whose test binary it runs again:
        // its own directory cost a second debug build of the runtime for aarch64 (48 s
        // wall, about a minute of CPU, in the fresh CI of 2026-12-07 on the Intel machine).
        target_subdir: subdir,
        args,
    };
    Ok(call.command(ctx)?.env("ENGINE_CASES", CASES))
}
