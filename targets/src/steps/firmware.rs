//! The firmware's model: the sensor 1D-CNN converted to int8 by the host tool, at the
//! path the firmware build scripts read by default (`target/firmware/sensor_cnn_int8.fer`).
//! It runs before the host tests so that the QEMU parity test (`cargo test -p
//! ferrite-firmware`) and `cargo xtask size` use the real model.

use crate::cargo::CargoCall;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};
use std::path::PathBuf;

/// The host tool's binary (`ferrite`), built as the host test job spells its build
/// (`cargo test --workspace … --no-run`), so that CI compiles it once: a plain `cargo run
/// -p ferrite-tool` resolves other features (no dev-dependencies, no other members) and
/// compiles tract and everything under it a second time. `quiet` sends cargo's output
/// to stderr.
pub fn host_tool(ctx: &Ctx, quiet: bool) -> Result<PathBuf> {
    let host = ctx.host();
    let job = host
        .test
        .first()
        .ok_or("the host target has no [[test]] job")?;
    let mut build = CargoCall::for_job("test", host, job);
    build
        .args
        .extend(["--no-run".to_string(), "--quiet".to_string()]);
    let mut cmd = build.command(ctx)?;
    if quiet {
        cmd = cmd.stdout_to_stderr();
    }
    cmd.run()?;
    let tool = tool_of(&build, ctx);
    if !tool.is_file() {
        return Err(format!("built, but {} is not there", tool.display()).into());
    }
    Ok(tool)
}

/// Where the cargo call `build` puts the host tool's binary.
pub fn tool_of(build: &CargoCall, ctx: &Ctx) -> PathBuf {
    build
        .artifact_dir(ctx)
        .join(format!("ferrite{}", std::env::consts::EXE_SUFFIX))
}

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "firmware-model",
        Stage::HostTest,
        "ferrite convert examples/sensor/sensor_cnn.onnx --precision int8 (the firmware's model)",
        |ctx| {
            std::fs::create_dir_all(ctx.root.join("target/firmware"))?;
            let tool = host_tool(ctx, false)?;
            Cmd::new(tool.display().to_string())
                .args(["convert", "examples/sensor/sensor_cnn.onnx", "-o", "target/firmware/sensor_cnn_int8.fer"])
                .args(["--precision", "int8", "--calibration", "examples/sensor/calib.csv", "--unfused-stem"])
                .args(["--labels", "idle,walk,run,shake"])
                .cwd(&ctx.root)
                .run()?;
            Ok(Outcome::Passed)
        },
    )
    .for_target(host),
    Step::new(
        "firmware-board:stm32f4",
        Stage::Firmware,
        "build the STM32F411 board firmware (flashed with probe-rs on real hardware)",
        |ctx| {
            // Debian's toolchain with build-std, as the QEMU board's parity test does,
            // from the board folder so its .cargo/config.toml (target, linker) applies.
            Cmd::new("/usr/bin/cargo")
                .args(["build", "--release", "-Zbuild-std=core"])
                .env("RUSTC", "/usr/bin/rustc")
                .env("RUSTC_BOOTSTRAP", "1")
                .env("FERRITE_MODEL", ctx.root.join("target/firmware/sensor_cnn_int8.fer").display().to_string())
                .cwd(ctx.root.join("firmware/boards/stm32f4"))
                .run()?;
            Ok(Outcome::Passed)
        },
    )
    .for_target("thumbv7em-none-eabihf".to_string())]
}
