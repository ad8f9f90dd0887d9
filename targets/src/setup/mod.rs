//! `cargo xtask setup`: install what the test steps need, one module per concern, and
//! hand the installed tools down to the test steps.
//!
//! Two layouts ([`Ctx::fresh`]):
//! - **installed** (`cargo xtask setup`): the developer's places — `.venv/`, cargo's
//!   install root (`$CARGO_INSTALL_ROOT`, else `$CARGO_HOME`, else `~/.cargo`) and the
//!   `node_modules/` of each npm package folder. Every step checks first and installs
//!   only what is missing, so a second run takes seconds.
//! - **fresh** (`cargo xtask setup --fresh`; `ci --fresh`, or `ci` with `CI=true`):
//!   every step installs again as on a new machine, into throw-away prefixes under
//!   `target/fresh/` (`cargo-root/`, `venv/`; the venv step empties its prefix first,
//!   each `cargo install` step uninstalls its own tool from the shared cargo root),
//!   `npm ci` replaces each `node_modules/`, each Debian package and each cross standard
//!   library is checked again. Only the registries' download caches (cargo's, pip's,
//!   npm's) and the build cache of `cargo install` (`target/cargo-install/`) are reused.
//!
//! Either way the steps after setup get the tools explicitly ([`hand_down`]): `PATH`
//! starts with the prefixes' `bin/` folders and each tool has its variable
//! (`WASM_BINDGEN`, `CARGO_FUZZ`, `FERRITE_PYTHON`, `PYTHON`, `KOTLINC`, `WASM_OPT`), so a tool that
//! happens to be on the machine is never what a test runs.
//!
//! To add a concern: write `setup/<concern>.rs` with `pub fn steps() -> Vec<Step>`
//! (stage [`Stage::Setup`](crate::step::Stage::Setup)) and add it below, after the steps
//! it depends on (apt comes first: later steps use what it installs). A Debian package
//! is one line in `apt::PACKAGES`, a Python package one line in `tests/requirements.txt`
//! (or a requirements file in `python::REQUIREMENTS`), an npm package one line in the
//! `package.json` of `node::PACKAGES`, a `cargo install` tool one line in
//! `cargo_install::TOOLS`.

use std::path::{Path, PathBuf};

use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

mod apt;
mod cargo_install;
mod node;
mod python;
mod rust;

pub fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    steps.extend(apt::steps()); // Debian packages: toolchain, QEMU, linkers, Chromium, JNA, Java, Python
    steps.extend(rust::steps()); // rustup components and targets, or the build-std route
    steps.extend(python::steps()); // a venv with tests/requirements.txt
    steps.extend(node::steps()); // npm packages (playwright-core, kotlin-compiler, onnxruntime-web, …)
    steps.extend(cargo_install::steps()); // wasm-bindgen-cli at the Cargo.lock version, …
    steps.push(Step::new(
        "tools",
        Stage::Setup,
        "every tool handed to the test steps exists",
        check_handed_down,
    ));
    steps
}

/// `target/fresh`: the throw-away prefixes of `setup --fresh`.
pub fn fresh_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.join("target/fresh")
}

/// Removes `dir` (a throw-away prefix of the fresh layout) and creates it empty.
fn empty_prefix(dir: &Path) -> Result<()> {
    if dir.exists() {
        println!("removing {}", dir.display());
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// One variable per installed tool naming its file, for the steps after setup
/// ([`hand_down`] also puts the prefixes' `bin/` first on `PATH`).
pub fn tool_env(ctx: &Ctx) -> Vec<(String, PathBuf)> {
    let mut env = Vec::new();
    env.extend(cargo_install::env(ctx));
    env.extend(python::env(ctx));
    env.extend(node::env(ctx));
    env
}

fn path_with(dirs: &[PathBuf]) -> Result<std::ffi::OsString> {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs = dirs.iter().cloned().chain(std::env::split_paths(&old));
    Ok(std::env::join_paths(dirs)?)
}

/// Sets the tool environment for this process, so that every command it starts
/// inherits it, and prints it as shell lines (to re-run a step by hand).
pub fn hand_down(ctx: &Ctx) -> Result<()> {
    let layout = if ctx.fresh {
        "fresh: target/fresh"
    } else {
        "installed"
    };
    println!("tools for every step ({layout} layout; `cargo xtask help` explains):");
    let bins = [
        cargo_install::root(ctx).join("bin"),
        python::venv(ctx).join("bin"),
    ];
    let path = path_with(&bins)?;
    println!(
        "  export PATH={}:$PATH",
        bins.iter()
            .map(|b| b.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    std::env::set_var("PATH", path);
    for (key, value) in tool_env(ctx) {
        println!("  export {key}={}", value.display());
        std::env::set_var(key, value);
    }
    Ok(())
}

fn check_handed_down(ctx: &Ctx) -> Result<Outcome> {
    let mut missing = Vec::new();
    for (key, path) in tool_env(ctx) {
        let ok = path.is_file();
        println!(
            "  {key:<16} {} {}",
            path.display(),
            if ok { "" } else { "(MISSING)" }
        );
        if !ok {
            missing.push(key);
        }
    }
    if missing.is_empty() {
        Ok(Outcome::Passed)
    } else {
        Err(format!("setup left these tools missing: {}", missing.join(", ")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handed_down_variable_is_read_where_the_tests_find_tools() {
        let ctx = Ctx::load(false).unwrap();
        let readers: String = [
            "bindings/wasm/build.mjs",
            "bindings/uniffi/tests/foreign.rs",
            "tests/conformance/src/lib.rs",
            "targets/src/steps/fuzz.rs",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(ctx.root.join(f)).unwrap())
        .collect();
        for (key, _) in tool_env(&ctx) {
            let rust = format!("var_os(\"{key}\")");
            let rust_str = format!("var(\"{key}\")");
            let js = format!("process.env.{key}");
            assert!(
                readers.contains(&rust) || readers.contains(&rust_str) || readers.contains(&js),
                "nothing reads {key}"
            );
        }
    }

    #[test]
    fn the_fresh_layout_installs_under_target_fresh() {
        let ctx = Ctx::load(true).unwrap();
        let fresh = fresh_dir(&ctx);
        assert!(cargo_install::root(&ctx).starts_with(&fresh));
        assert!(python::venv(&ctx).starts_with(&fresh));
        let installed = Ctx::load(false).unwrap();
        assert!(!cargo_install::root(&installed).starts_with(&fresh));
        assert_eq!(python::venv(&installed), installed.root.join(".venv"));
    }
}
