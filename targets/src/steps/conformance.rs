//! The ONNX backend node tests and the nine `light_*` model tests through
//! convert → run, in release (the light models are full-size networks), against the
//! checked-in manifest `tests/onnx/manifest.txt`; tract runs the same cases.

use crate::cargo::host_cargo;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::Ctx;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![Step::new(
        "conformance",
        Stage::Conformance,
        "cargo test --release -p ferrite-conformance (ONNX node + light model tests, ferrite vs tract)",
        |ctx| {
            Cmd::new(host_cargo())
                .args(["test", "--release", "-p", "ferrite-conformance"])
                .cwd(&ctx.root)
                .run()?;
            Ok(Outcome::Passed)
        },
    )
    .for_target(host)]
}
