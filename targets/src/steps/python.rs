//! The Python package (`bindings/python`, import name `ferrite`) and the Spark batch
//! job (`examples/spark`): the wheel built by maturin in the workspace's `target/`,
//! installed into the setup's venv (`FERRITE_PYTHON`), then both pytest suites.
//!
//! The tests compare the package's results with the `ferrite` binary's (`FERRITE_BIN`):
//! the host tool the other steps use ([`super::host_tool`], built once by the host test
//! job), so this step compiles no tool of its own. The wheel is a release build of
//! `ferrite-python` alone (maturin runs `cargo rustc --release -p ferrite-python`);
//! the conformance step's release build includes `ferrite-python` so that both resolve
//! the same features for the crates they share and tract compiles once in release
//! (see `conformance.rs`).

use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};
use std::path::PathBuf;

/// Where maturin writes the wheel, under the workspace's `target/`.
const WHEELS: &str = "target/wheels";
/// The wheel's file-name prefix (the distribution `ferrite-ml`).
const WHEEL_PREFIX: &str = "ferrite_ml-";

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "python",
        Stage::Bindings,
        "maturin build --release bindings/python, pip install the wheel into the venv, \
         pytest bindings/python examples/spark (PySpark local[2])",
        run,
    )
    .for_target(host)]
}

fn run(ctx: &Ctx) -> Result<Outcome> {
    let python = std::env::var_os("FERRITE_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or("FERRITE_PYTHON is not set: run the step through `cargo xtask test` (setup makes the venv)")?;
    let tool = super::host_tool(ctx, false)?;
    let wheels = ctx.root.join(WHEELS);
    // One wheel of this package in the folder, so that the one just built is installed.
    if wheels.is_dir() {
        for entry in std::fs::read_dir(&wheels)? {
            let path = entry?.path();
            if is_wheel(&path) {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Cmd::new(&python)
        .args(["-m", "maturin", "build", "--release", "--quiet"])
        .args(["-m", "bindings/python/Cargo.toml", "-o"])
        .arg(&wheels)
        .env(
            "CARGO_TARGET_DIR",
            ctx.root.join("target").display().to_string(),
        )
        .cwd(&ctx.root)
        .run()?;
    let built: Vec<PathBuf> = std::fs::read_dir(&wheels)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .filter(|p| is_wheel(p))
        .collect();
    let [wheel] = built.as_slice() else {
        return Err(format!(
            "maturin wrote {} {WHEEL_PREFIX}*.whl files into {}, expected one",
            built.len(),
            wheels.display()
        )
        .into());
    };
    Cmd::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(["--force-reinstall", "--no-deps"])
        .arg(wheel)
        .run()?;
    Cmd::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(["bindings/python", "examples/spark"])
        .env("FERRITE_BIN", tool.display().to_string())
        .env("SPARK_SUBMIT_OPTS", spark_submit_opts())
        .cwd(&ctx.root)
        .run()?;
    Ok(Outcome::Passed)
}

/// JVM flags for the Spark suite's two short Spark JVMs (the test session, `score.py`'s
/// spark-submit), added to the caller's `SPARK_SUBMIT_OPTS`: the client compiler only
/// and the serial collector. A local Spark session's JVM took 17.6 CPU-s with the
/// default tiered JIT (most of it C2 compiler threads) and 10.0 with these (2026-12-07).
fn spark_submit_opts() -> String {
    let flags = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
    match std::env::var("SPARK_SUBMIT_OPTS") {
        Ok(own) if !own.trim().is_empty() => format!("{own} {flags}"),
        _ => flags.to_owned(),
    }
}

fn is_wheel(path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(WHEEL_PREFIX) && n.ends_with(".whl"))
}
