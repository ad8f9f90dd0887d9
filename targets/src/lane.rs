//! `ci`'s side lane: the cross-target steps (no_std builds, qemu-user tests, firmware in
//! QEMU, flash sizes) and the fuzz step run in a second `cargo xtask test` process alongside the host
//! steps, from the moment the host tool exists (after `firmware-model`).
//!
//! On 2 cores the host steps leave one core idle for minutes at a time (a test binary
//! on one thread, pytest, QEMU, linking); the side lane fills it. The two lanes share no
//! output directory that both write at once: the side steps build into `target/cross/`,
//! `target/<triple>/`, the size probe's and the boards' own folders; where a cargo build
//! directory is shared (the host's `target/debug` or `target/release` for build
//! scripts), cargo's lock makes one wait for the other, never fail.
//!
//! The side lane's output goes to `target/xtask-side-lane.log` and is printed when the
//! host steps are done; a failure in it fails `ci`. `XTASK_SIDE_LANE=0` runs every step
//! in one lane, in order (as `ci --only/--skip …` always does).

use crate::step::{Outcome, Stage, Step};
use crate::Ctx;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The running side lane, if started.
static SIDE: Mutex<Option<Child>> = Mutex::new(None);

/// Whether `step` runs in the side lane: the cross-target stages, and the fuzz step
/// (its own build folder under `fuzz/`, then one libFuzzer process at a time).
pub fn is_side(step: &Step) -> bool {
    matches!(
        step.stage,
        Stage::NoStd | Stage::Emulated | Stage::Mobile | Stage::Firmware | Stage::Size
    ) || step.group() == "fuzz"
}

/// Whether `ci` splits its steps into two lanes.
pub fn enabled() -> bool {
    std::env::var("XTASK_SIDE_LANE").map_or(true, |v| v != "0")
}

fn log_path(ctx: &Ctx) -> PathBuf {
    ctx.root.join("target/xtask-side-lane.log")
}

/// The step that starts `cargo xtask test all --only <names>` in the background.
pub fn start(names: Vec<String>) -> Step {
    Step::new(
        "side-lane:start",
        Stage::HostTest,
        format!(
            "start the side lane in the background: {} (output: target/xtask-side-lane.log)",
            names.join(", ")
        ),
        move |ctx| {
            let log = log_path(ctx);
            let out =
                File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.args(["test", "all", "--only"])
                .arg(names.join(","))
                .current_dir(&ctx.root)
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                // Its own process group, so that `abandon` stops its cargo and QEMU too.
                .process_group(0);
            if ctx.fresh {
                cmd.arg("--fresh");
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start the side lane: {e}"))?;
            println!("side lane: pid {}, output in {}", child.id(), log.display());
            *SIDE.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
            Ok(Outcome::Passed)
        },
    )
}

/// The last step: waits for the side lane, prints its output, fails if it failed.
pub fn wait() -> Step {
    Step::new(
        "side-lane:wait",
        Stage::Conformance,
        "wait for the side lane and print its output",
        |ctx| {
            let child = SIDE.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(mut child) = child else {
                return Err("the side lane was not started".into());
            };
            let status = child.wait()?;
            print_log(ctx);
            if status.success() {
                Ok(Outcome::Passed)
            } else {
                Err(format!("the side lane failed ({status}): see its summary above").into())
            }
        },
    )
}

/// After a host step failed: stops a side lane that is still running and prints what
/// it wrote so far.
pub fn abandon(ctx: &Ctx) {
    let child = SIDE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut child) = child {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        println!("side lane stopped because a host step failed");
        print_log(ctx);
    }
}

fn print_log(ctx: &Ctx) {
    let log = log_path(ctx);
    println!();
    println!("==> side lane output ({})", log.display());
    match std::fs::read_to_string(&log) {
        Ok(text) => print!("{text}"),
        Err(e) => println!("cannot read {}: {e}", log.display()),
    }
    println!("<== side lane output");
}
