//! npm packages of the bindings' tests, from their committed lock files:
//! `bindings/wasm` (typescript, playwright-core, onnxruntime-web, binaryen) and
//! `bindings/uniffi` (kotlin-compiler). `npm ci` runs only when the lock file changed
//! since the last install.

use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

const PACKAGES: &[&str] = &["bindings/wasm", "bindings/uniffi"];
const STAMP: &str = "node_modules/.ferrite-lock.json";

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "npm",
        Stage::Setup,
        "npm ci in bindings/wasm and bindings/uniffi",
        npm,
    )]
}

fn npm(ctx: &Ctx) -> Result<Outcome> {
    if which("npm").is_none() {
        return Err("npm is missing (Node.js 20 is part of the base machine)".into());
    }
    for dir in PACKAGES {
        let dir = ctx.root.join(dir);
        let lock = dir.join("package-lock.json");
        if !lock.is_file() {
            continue;
        }
        let wanted = std::fs::read_to_string(&lock)?;
        let stamp = dir.join(STAMP);
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            println!("{} is up to date", dir.display());
            continue;
        }
        Cmd::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .cwd(&dir)
            .run()?;
        std::fs::write(&stamp, wanted)?;
    }
    Ok(Outcome::Passed)
}
