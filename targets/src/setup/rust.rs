//! Rust: rustfmt/clippy, and a standard library for every cross target — rustup's
//! prebuilt one when `rustup target add` can download it, else the build-std route
//! (Debian's rustc + `rust-web-src`, installed by the apt step).

use std::path::Path;

use crate::cargo::{host_cargo, DEBIAN_RUSTC};
use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// rustup hangs on machines that cannot download: bound every attempt.
const RUSTUP_TIMEOUT_SECS: &str = "30";
/// Exit code of `timeout` when the time ran out.
const TIMED_OUT: i32 = 124;

pub fn steps() -> Vec<Step> {
    vec![
        Step::new(
            "rust-components",
            Stage::Setup,
            "rustfmt and clippy",
            components,
        ),
        Step::new(
            "rust-targets",
            Stage::Setup,
            "a standard library for every cross target (rustup or build-std)",
            targets,
        ),
    ]
}

fn rustup(args: &[&str]) -> Cmd {
    Cmd::new("timeout")
        .args([RUSTUP_TIMEOUT_SECS, "rustup"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
}

fn components(_: &Ctx) -> Result<Outcome> {
    let has = |sub: &str| Cmd::new(host_cargo()).args([sub, "--version"]).succeeds();
    let missing: Vec<&str> = [("fmt", "rustfmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(sub, _)| !has(sub))
        .map(|(_, component)| component)
        .collect();
    if missing.is_empty() {
        println!("rustfmt and clippy are installed");
        return Ok(Outcome::Passed);
    }
    if which("rustup").is_none() {
        return Err(format!(
            "missing {} and no rustup to install them",
            missing.join(", ")
        )
        .into());
    }
    let mut args = vec!["component", "add"];
    args.extend(&missing);
    rustup(&args).run()?;
    Ok(Outcome::Passed)
}

fn targets(ctx: &Ctx) -> Result<Outcome> {
    let cross: Vec<&str> = ctx
        .targets
        .iter()
        .filter(|t| !t.is_host())
        .map(|t| t.triple.as_str())
        .collect();
    let installed = ctx.rustup_targets();
    let missing: Vec<&str> = cross
        .iter()
        .copied()
        .filter(|t| !installed.iter().any(|i| i == t))
        .collect();
    // Triples rustup failed to install before (it hangs or 404s on some machines):
    // not retried, so that a second `setup` is quick. Delete the file to retry.
    let marker = ctx.root.join("target/xtask/rustup-target-add.failed");
    let failed_before = std::fs::read_to_string(&marker).unwrap_or_default();
    let to_try: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|t| !failed_before.lines().any(|l| l == *t))
        .collect();
    let forced = std::env::var("XTASK_ROUTE").ok();
    if missing.is_empty() {
        println!("rustup has every cross target");
    } else if forced.as_deref() == Some("build-std") {
        println!("XTASK_ROUTE=build-std: not asking rustup");
    } else if which("rustup").is_none() {
        println!("no rustup: using the build-std route");
    } else if to_try.is_empty() {
        println!(
            "`rustup target add` failed before for {} ({}); using build-std. Delete it to retry.",
            missing.join(" "),
            marker.display()
        );
    } else {
        let mut args = vec!["target", "add"];
        args.extend(&to_try);
        match rustup(&args).status()? {
            Some(0) => {}
            Some(TIMED_OUT) => println!("`rustup target add` hangs here (no download)"),
            _ => {
                // rustup answers but refused the batch (one triple missing from its
                // server rolls back the lot): try the triples one by one.
                ctx.forget_rustup_targets();
                let installed = ctx.rustup_targets();
                for t in to_try.iter().filter(|t| !installed.iter().any(|i| i == *t)) {
                    if rustup(&["target", "add", t]).status()? == Some(TIMED_OUT) {
                        break;
                    }
                }
            }
        }
        ctx.forget_rustup_targets();
        let installed = ctx.rustup_targets();
        let failed: Vec<&str> = to_try
            .iter()
            .copied()
            .filter(|t| !installed.iter().any(|i| i == t))
            .collect();
        if !failed.is_empty() {
            println!(
                "rustup cannot install {}: using build-std",
                failed.join(" ")
            );
            if let Some(dir) = marker.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&marker, format!("{failed_before}{}\n", failed.join("\n")))?;
        }
    }

    let routes: Vec<(&str, &str)> = ctx
        .targets
        .iter()
        .map(|t| (t.triple.as_str(), ctx.route(t).name()))
        .collect();
    let build_std: Vec<&str> = routes
        .iter()
        .filter(|(_, r)| *r == "build-std")
        .map(|(t, _)| *t)
        .collect();
    if !build_std.is_empty() {
        check_build_std(&build_std)?;
    }
    for (triple, route) in routes {
        println!("  {triple:<32} {route}");
    }
    Ok(Outcome::Passed)
}

/// Debian's rustc knows each triple and the library source is there.
fn check_build_std(triples: &[&str]) -> Result<()> {
    if !Path::new(DEBIAN_RUSTC).is_file() {
        return Err(format!("{DEBIAN_RUSTC} missing (package rustc-web)").into());
    }
    let known = Cmd::new(DEBIAN_RUSTC)
        .args(["--print", "target-list"])
        .output()?;
    for t in triples {
        if !known.lines().any(|l| l == *t) {
            return Err(format!("{DEBIAN_RUSTC} does not know the target {t}").into());
        }
    }
    let sysroot = Cmd::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output()?;
    let library = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core");
    if !library.is_dir() {
        return Err(format!("{} missing (package rust-web-src)", library.display()).into());
    }
    Ok(())
}
