//! Rust: rustfmt/clippy, and a standard library for every cross target — rustup's
//! prebuilt one when `rustup target add` can download it, else the build-std route
//! (Debian's rustc + `rust-web-src`, installed by the apt step).
//!
//! Each cross target's standard library is checked, not assumed: on the rustup route a
//! one-line crate is compiled against it; on the build-std route Debian's rustc must know
//! the triple and the library source must hold every crate of the target's build-std
//! set. With `--fresh`, the triples rustup failed on before are tried again, and
//! `cargo fetch --locked` of the library source's own lock file proves that the registry
//! serves every crate build-std will compile.

use std::path::{Path, PathBuf};

use crate::cargo::{host_cargo, Route, DEBIAN_CARGO, DEBIAN_RUSTC};
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
        report_components()?;
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
    report_components()?;
    Ok(Outcome::Passed)
}

/// Prints the versions of rustfmt and clippy and the toolchain they belong to.
fn report_components() -> Result<()> {
    for sub in ["fmt", "clippy"] {
        let version = Cmd::new(host_cargo()).args([sub, "--version"]).output()?;
        println!("  {}", version.trim());
    }
    let sysroot = Cmd::new(host_rustc())
        .args(["--print", "sysroot"])
        .output()?;
    println!("  in {}", sysroot.trim());
    Ok(())
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
    // `--fresh` tries them again.
    let marker = ctx.root.join("target/xtask/rustup-target-add.failed");
    if ctx.fresh && marker.exists() {
        std::fs::remove_file(&marker)?;
    }
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
        add_targets(ctx, &to_try)?;
        let failed = still_missing(ctx, &to_try);
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

    let check_dir = if ctx.fresh {
        super::fresh_dir(ctx).join("std-check")
    } else {
        ctx.root.join("target/xtask/std-check")
    };
    super::empty_prefix(&check_dir)?;
    let mut build_std = Vec::new();
    for t in ctx.targets.iter().filter(|t| !t.is_host()) {
        let std = needs_std(t);
        let what = if std { "std" } else { "core" };
        match ctx.route(t) {
            Route::Rustup => {
                let sysroot = check_rustup_std(&t.triple, std, &check_dir)?;
                println!(
                    "  {:<30} rustup     {what} in {}",
                    t.triple,
                    sysroot.join("lib/rustlib").join(&t.triple).display()
                );
            }
            _ => build_std.push(t),
        }
    }
    if !build_std.is_empty() {
        let library = check_build_std(&build_std)?;
        for t in &build_std {
            println!(
                "  {:<30} build-std  {} from {}",
                t.triple,
                build_std_crates(t).join(","),
                library.display()
            );
        }
        if ctx.fresh {
            // The registry crates build-std compiles (compiler_builtins, dlmalloc, …), at
            // the versions the library's lock file names.
            Cmd::new(DEBIAN_CARGO)
                .args(["fetch", "--locked", "--manifest-path"])
                .arg(library.join("Cargo.toml"))
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .run()?;
        }
    }
    Ok(Outcome::Passed)
}

/// `rustup target add` for `triples`, each call bounded by the timeout. A batch that
/// runs out of time but installed some triples is downloading, not hanging: the rest is
/// tried again. A batch rustup refuses (one triple missing from its server rolls back
/// the lot) is tried one triple at a time.
fn add_targets(ctx: &Ctx, triples: &[&str]) -> Result<()> {
    let mut left = triples.to_vec();
    while !left.is_empty() {
        let mut args = vec!["target", "add"];
        args.extend(&left);
        match rustup(&args).status()? {
            Some(0) => return Ok(()),
            Some(TIMED_OUT) => {
                let now = still_missing(ctx, &left);
                if now.len() == left.len() {
                    println!(
                        "`rustup target add` installed nothing in {RUSTUP_TIMEOUT_SECS} s: it hangs here"
                    );
                    return Ok(());
                }
                println!(
                    "`rustup target add` ran out of time after {} of {} triples; again for the rest",
                    left.len() - now.len(),
                    left.len()
                );
                left = now;
            }
            _ => {
                for t in still_missing(ctx, &left) {
                    if rustup(&["target", "add", t]).status()? == Some(TIMED_OUT) {
                        break;
                    }
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The triples of `triples` that rustup does not have (asking it again).
fn still_missing<'a>(ctx: &Ctx, triples: &[&'a str]) -> Vec<&'a str> {
    ctx.forget_rustup_targets();
    let installed = ctx.rustup_targets();
    triples
        .iter()
        .copied()
        .filter(|t| !installed.iter().any(|i| i == t))
        .collect()
}

/// Whether a target's jobs use `std` (else `core` is what must exist).
fn needs_std(t: &crate::target::Target) -> bool {
    build_std_crates(t).iter().any(|c| c == "std")
}

/// Every crate a target builds from source on the build-std route: its own set and its
/// jobs' overrides.
fn build_std_crates(t: &crate::target::Target) -> Vec<String> {
    let mut crates: Vec<String> = t.build_std.clone();
    for job in t.build.iter().chain(&t.test) {
        for c in job.build_std.iter().flatten() {
            if !crates.contains(c) {
                crates.push(c.clone());
            }
        }
    }
    if crates.is_empty() {
        crates.push("core".into());
    }
    crates
}

/// The rustc next to the cargo that runs the driver (rustup's toolchain).
fn host_rustc() -> PathBuf {
    let cargo = PathBuf::from(host_cargo());
    match cargo.parent() {
        Some(dir) if dir.join("rustc").is_file() => dir.join("rustc"),
        _ => PathBuf::from("rustc"),
    }
}

/// Compiles a one-line library for `triple` against rustup's prebuilt standard library
/// (`std` or, for bare metal, `core`); returns the sysroot.
fn check_rustup_std(triple: &str, std: bool, dir: &Path) -> Result<PathBuf> {
    let src = dir.join(format!("{triple}.rs"));
    let code = if std {
        "pub fn f() -> std::string::String { std::format!(\"{}\", 1) }\n"
    } else {
        "#![no_std]\npub fn f() -> usize { core::mem::size_of::<usize>() }\n"
    };
    std::fs::write(&src, code)?;
    let rustc = host_rustc();
    Cmd::new(&rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
        ])
        .args(["--target", triple, "--crate-name", "std_check", "--out-dir"])
        .arg(dir.join(triple))
        .arg(&src)
        .output()
        .map_err(|e| format!("rustup's standard library for {triple} does not work: {e}"))?;
    let sysroot = Cmd::new(&rustc).args(["--print", "sysroot"]).output()?;
    Ok(PathBuf::from(sysroot.trim()))
}

/// Debian's rustc knows each triple and the library source holds every crate of each
/// target's build-std set; returns the library source folder.
fn check_build_std(targets: &[&crate::target::Target]) -> Result<PathBuf> {
    if !Path::new(DEBIAN_RUSTC).is_file() || !Path::new(DEBIAN_CARGO).is_file() {
        return Err(format!(
            "{DEBIAN_RUSTC} or {DEBIAN_CARGO} missing (packages rustc-web, cargo-web)"
        )
        .into());
    }
    let known = Cmd::new(DEBIAN_RUSTC)
        .args(["--print", "target-list"])
        .output()?;
    let sysroot = Cmd::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output()?;
    let library = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library");
    for t in targets {
        if !known.lines().any(|l| l == t.triple) {
            return Err(format!("{DEBIAN_RUSTC} does not know the target {}", t.triple).into());
        }
        for krate in build_std_crates(t) {
            let manifest = library.join(&krate).join("Cargo.toml");
            if !manifest.is_file() {
                return Err(format!(
                    "{} missing (package rust-web-src): no {krate} for {}",
                    manifest.display(),
                    t.triple
                )
                .into());
            }
        }
    }
    Ok(library)
}
