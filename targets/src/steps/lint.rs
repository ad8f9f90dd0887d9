//! fmt and clippy over the whole workspace.

use crate::cargo::host_cargo;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::Ctx;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let host = ctx.host().triple.clone();
    vec![
        Step::new(
            "fmt",
            Stage::Lint,
            "cargo fmt --all -- --check, and the size probe",
            |ctx| {
                Cmd::new(host_cargo())
                    .args(["fmt", "--all", "--", "--check"])
                    .cwd(&ctx.root)
                    .run()?;
                // Not a workspace member, so `--all` does not reach it.
                Cmd::new(host_cargo())
                    .args(["fmt", "--manifest-path", "targets/size-probe/Cargo.toml"])
                    .args(["--", "--check"])
                    .cwd(&ctx.root)
                    .run()?;
                Ok(Outcome::Passed)
            },
        )
        .for_target(host.clone()),
        Step::new(
            "clippy",
            Stage::Lint,
            "cargo clippy --workspace --all-targets -- -D warnings",
            |ctx| {
                Cmd::new(host_cargo())
                    .args([
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ])
                    .cwd(&ctx.root)
                    .run()?;
                Ok(Outcome::Passed)
            },
        )
        .for_target(host),
    ]
}
