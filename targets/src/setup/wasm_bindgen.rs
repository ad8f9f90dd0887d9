//! The wasm-bindgen CLI at exactly the version of the `wasm-bindgen` crate in
//! `Cargo.lock` (the CLI and the crate must match).

use crate::cargo::host_cargo;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "wasm-bindgen-cli",
        Stage::Setup,
        "cargo install wasm-bindgen-cli at the Cargo.lock version",
        install,
    )]
}

/// The `wasm-bindgen` version pinned in `Cargo.lock`.
fn locked_version(ctx: &Ctx) -> Result<String> {
    let lock = std::fs::read_to_string(ctx.root.join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
            {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

fn install(ctx: &Ctx) -> Result<Outcome> {
    let want = locked_version(ctx)?;
    let have = Cmd::new("wasm-bindgen")
        .arg("--version")
        .output()
        .unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        println!("wasm-bindgen {want} is installed");
        return Ok(Outcome::Passed);
    }
    Cmd::new(host_cargo())
        .args(["install", "--locked", "wasm-bindgen-cli", "--version"])
        .arg(format!("={want}"))
        .run()?;
    Ok(Outcome::Passed)
}
