//! Tools installed with `cargo install`, each at an exact version: first `--locked`
//! (the tool's own lock file), and when the registry cannot serve a version that lock
//! file names, the same exact tool version resolved afresh (without `--locked`).
//!
//! The root is cargo's default install root, or `target/fresh/cargo-root` with
//! `--fresh`, where each tool is uninstalled first and installed anew (the root is
//! shared by the tools, so one tool's step leaves the others' binaries alone). Builds
//! share `target/cargo-install/` as their target dir, so a second fresh install
//! compiles nothing (the binaries are still installed anew).

use std::path::PathBuf;

use crate::cargo::host_cargo;
use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// `version` of a [`Tool`] naming the version of a package in the workspace's
/// `Cargo.lock` (a CLI that must match the crate the workspace links, like
/// wasm-bindgen's): `"Cargo.lock:wasm-bindgen"`.
const FROM_LOCK: &str = "Cargo.lock:";

/// A tool from crates.io.
#[derive(Debug)]
pub struct Tool {
    /// The crate `cargo install` installs.
    pub krate: &'static str,
    /// The exact version (`"0.13.1"`), or `"Cargo.lock:<package>"`.
    pub version: &'static str,
    /// The binary the tests run; it is handed to them in `env`.
    pub bin: &'static str,
    /// The variable that names the binary for the tests and scripts.
    pub env: &'static str,
    /// Who needs it.
    pub why: &'static str,
    /// `cargo install --debug`: for a tool whose run time does not matter, half the
    /// build time of a fresh setup.
    pub debug: bool,
}

/// Every `cargo install`ed tool. Adding one is one line.
pub const TOOLS: &[Tool] = &[
    Tool {
        krate: "wasm-bindgen-cli",
        version: "Cargo.lock:wasm-bindgen",
        bin: "wasm-bindgen",
        env: "WASM_BINDGEN",
        why: "bindings/wasm/build.mjs: the npm package's JS glue (must equal the crate's version)",
        // Unoptimized: 0.7 s instead of 0.1 s to process the 1 MB module, identical
        // output; its build on 2 cores takes about half the 3m21s of the release build.
        debug: true,
    },
    Tool {
        krate: "cargo-fuzz",
        version: "0.13.2",
        bin: "cargo-fuzz",
        env: "CARGO_FUZZ",
        why: "fuzz/run.sh: the fuzz step builds and runs the libFuzzer targets",
        // It only runs cargo: its speed does not matter.
        debug: true,
    },
];

pub fn steps() -> Vec<Step> {
    TOOLS
        .iter()
        .map(|tool| {
            Step::new(
                format!("cargo-install:{}", tool.krate),
                Stage::Setup,
                format!("cargo install {} ({})", tool.krate, tool.why),
                move |ctx| install(ctx, tool),
            )
        })
        .collect()
}

/// Where the tools are installed (`cargo install --root`).
pub fn root(ctx: &Ctx) -> PathBuf {
    if ctx.fresh {
        return super::fresh_dir(ctx).join("cargo-root");
    }
    if let Some(dir) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(dir);
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo"))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// One variable per tool naming its installed binary.
pub fn env(ctx: &Ctx) -> Vec<(String, PathBuf)> {
    let bin = root(ctx).join("bin");
    TOOLS
        .iter()
        .map(|t| {
            (
                t.env.to_owned(),
                bin.join(format!("{}{}", t.bin, std::env::consts::EXE_SUFFIX)),
            )
        })
        .collect()
}

/// The version of `package` in `Cargo.lock`.
fn locked_version(ctx: &Ctx, package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(ctx.root.join("Cargo.lock"))?;
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
            {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err(format!("Cargo.lock has no {package} package").into())
}

/// The versions of the crates installed in `root`, from `cargo install --list`
/// (`name vX.Y.Z:` lines).
fn installed(root: &std::path::Path) -> Result<Vec<(String, String)>> {
    let list = Cmd::new(host_cargo())
        .args(["install", "--list", "--root"])
        .arg(root)
        .output()?;
    Ok(parse_list(&list))
}

fn parse_list(list: &str) -> Vec<(String, String)> {
    list.lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .filter_map(|l| {
            let (name, version) = l.trim_end_matches(':').split_once(' ')?;
            Some((name.to_owned(), version.trim_start_matches('v').to_owned()))
        })
        .collect()
}

/// Whether cargo's error output says the lock file names a version the registry does
/// not serve (or a package it does not have), i.e. resolving afresh may succeed.
fn lock_unresolvable(stderr: &str) -> bool {
    stderr.contains("failed to select a version") || stderr.contains("no matching package named")
}

/// The exact version to install.
fn version(ctx: &Ctx, tool: &Tool) -> Result<String> {
    match tool.version.strip_prefix(FROM_LOCK) {
        Some(package) => locked_version(ctx, package),
        None => Ok(tool.version.to_owned()),
    }
}

fn install(ctx: &Ctx, tool: &Tool) -> Result<Outcome> {
    let want = version(ctx, tool)?;
    let root = root(ctx);
    let bin = root
        .join("bin")
        .join(format!("{}{}", tool.bin, std::env::consts::EXE_SUFFIX));
    if ctx.fresh {
        std::fs::create_dir_all(&root)?;
        if installed(&root)?.iter().any(|(k, _)| k == tool.krate) {
            Cmd::new(host_cargo())
                .args(["uninstall", "--root"])
                .arg(&root)
                .arg(tool.krate)
                .run()?;
        }
    } else if bin.is_file()
        && installed(&root)?
            .iter()
            .any(|(k, v)| k == tool.krate && *v == want)
    {
        println!("{} {want} is installed: {}", tool.krate, bin.display());
        return Ok(Outcome::Passed);
    }
    let cargo_install = |locked: bool| {
        let mut cmd = Cmd::new(host_cargo()).arg("install");
        if locked {
            cmd = cmd.arg("--locked");
        }
        if tool.debug {
            // Without debug information (the dev profile's default is full debug info,
            // which these tools' manifests keep): nobody debugs them here, and writing
            // it is a good part of an unoptimized build's CPU time (README.md, *Where
            // the CPU goes*).
            cmd = cmd.arg("--debug").env("CARGO_PROFILE_DEV_DEBUG", "false");
        }
        cmd.arg("--root")
            .arg(&root)
            .arg("--target-dir")
            .arg(ctx.root.join("target/cargo-install"))
            .args([tool.krate, "--version"])
            .arg(format!("={want}"))
    };
    let (ok, stderr) = cargo_install(true).run_keeping_stderr()?;
    let how = if ok {
        "--locked"
    } else if lock_unresolvable(&stderr) {
        println!(
            "the registry does not serve every version that {} {want}'s lock file names: \
             installing the same version with its dependencies resolved afresh",
            tool.krate
        );
        cargo_install(false).run()?;
        "without --locked: its lock file does not resolve against the registry"
    } else {
        return Err(format!("cargo install --locked {} failed", tool.krate).into());
    };
    let listed = installed(&root)?;
    if !bin.is_file() || !listed.iter().any(|(k, v)| k == tool.krate && *v == want) {
        return Err(format!(
            "{} {want} is not in {} after cargo install (listed: {listed:?})",
            tool.krate,
            root.display()
        )
        .into());
    }
    let version = Cmd::new(&bin).arg("--version").output().unwrap_or_default();
    println!(
        "installed {} {want} ({how}): {} ({})",
        tool.krate,
        bin.display(),
        version.trim()
    );
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_list_parses() {
        let list = "cargo-fuzz v0.13.1:\n    cargo-fuzz\nwasm-bindgen-cli v0.2.130:\n    wasm-bindgen\n    wasm2es6js\n";
        assert_eq!(
            parse_list(list),
            [
                ("cargo-fuzz".to_owned(), "0.13.1".to_owned()),
                ("wasm-bindgen-cli".to_owned(), "0.2.130".to_owned())
            ]
        );
    }

    #[test]
    fn only_resolution_errors_fall_back_to_an_unlocked_install() {
        let issue = "error: failed to select a version for the requirement `webpki-roots = \"^1.0.10\"` (locked to 1.0.11)";
        assert!(lock_unresolvable(issue));
        assert!(!lock_unresolvable(
            "error[E0308]: mismatched types\nerror: failed to compile `wasm-bindgen-cli v0.2.130`"
        ));
    }

    #[test]
    fn every_tool_pins_an_exact_version() {
        let ctx = Ctx::load(false).unwrap();
        for tool in TOOLS {
            let v = version(&ctx, tool).unwrap();
            assert!(
                v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u64>().is_ok()),
                "{}: {v}",
                tool.krate
            );
        }
    }
}
