//! The ONNX backend node tests and the nine `light_*` model tests through
//! convert → run, in release (the light models are full-size networks), against the
//! checked-in manifest `tests/onnx/manifest.txt`; tract runs the same cases.
//!
//! `-p ferrite-python` builds nothing of that crate (it has no Rust tests) but puts it
//! in the feature resolution: its proc macros (pyo3) turn on features of `syn`, and
//! every crate downstream of a proc macro would otherwise compile a second time in
//! release for the Python step's wheel (`steps/python.rs`). With it, the wheel's
//! build and this one share tract, ferrite-tool and all their dependencies.

use crate::cargo::host_cargo;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::Ctx;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "conformance",
        Stage::Conformance,
        "cargo test --release -p ferrite-conformance -p ferrite-python (ONNX node + light model tests, ferrite vs tract)",
        |ctx| {
            Cmd::new(host_cargo())
                .args(["test", "--release", "-p", "ferrite-conformance", "-p", "ferrite-python"])
                .cwd(&ctx.root)
                .run()?;
            Ok(Outcome::Passed)
        },
    )
    .for_target(host)]
}
