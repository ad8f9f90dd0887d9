//! How a cargo command is spelled for a target on this machine.
//!
//! Two routes (TOOLCHAIN.md):
//! - **rustup**: the rustup toolchain's cargo with a prebuilt standard library, when
//!   `rustup target list --installed` has the triple (always true for the host);
//! - **build-std**: Debian's `/usr/bin/cargo` + `/usr/bin/rustc` (`RUSTC` explicit,
//!   `RUSTC_BOOTSTRAP=1`) compiling the standard library from `rust-web-src` with
//!   `-Zbuild-std=<target's set>`, into `target/cross` so that the two compilers never
//!   invalidate each other's artifacts.
//!
//! `XTASK_ROUTE=rustup|build-std` forces a route for every cross target.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::target::{Job, Target};
use crate::{Ctx, Result};

pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub const DEBIAN_RUSTDOC: &str = "/usr/bin/rustdoc";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The host: plain `cargo`, no `--target` (artifacts shared with `cargo test`).
    Host,
    /// rustup's cargo with `--target` and a prebuilt standard library.
    Rustup,
    /// Debian's cargo/rustc with `-Zbuild-std`.
    BuildStd,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Host => "host",
            Route::Rustup => "rustup",
            Route::BuildStd => "build-std",
        }
    }
}

/// The cargo of the toolchain that runs the driver (`$CARGO` under `cargo run`).
pub fn host_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Everything needed to spell one cargo invocation.
#[derive(Debug, Clone)]
pub struct CargoCall<'a> {
    /// `build`, `test`, `rustc`, `clippy`, …
    pub subcommand: &'a str,
    pub target: &'a Target,
    pub package: Option<&'a str>,
    pub workspace: bool,
    pub manifest: Option<PathBuf>,
    pub features: Vec<String>,
    pub default_features: bool,
    pub profile: String,
    pub build_std: Vec<String>,
    pub crate_type: Option<String>,
    /// Extra rustc flags on top of the target's (e.g. linker scripts of a firmware).
    pub rustflags: Vec<String>,
    /// Sub-directory of the route's target dir (`size-probe`), for foreign workspaces.
    pub target_subdir: Option<&'a str>,
    pub args: Vec<String>,
}

impl<'a> CargoCall<'a> {
    /// A call for a job of a target file.
    pub fn for_job(subcommand: &'a str, target: &'a Target, job: &'a Job) -> CargoCall<'a> {
        let (subcommand, crate_type) = match (&job.crate_type, subcommand) {
            (Some(ct), "build") => ("rustc", Some(ct.clone())),
            _ => (subcommand, None),
        };
        CargoCall {
            subcommand,
            target,
            package: (!job.workspace).then_some(job.package.as_str()),
            workspace: job.workspace,
            manifest: None,
            features: job.features(target).to_vec(),
            default_features: job.default_features(target),
            profile: job.profile.clone(),
            build_std: job.build_std(target).to_vec(),
            crate_type,
            rustflags: Vec::new(),
            target_subdir: None,
            args: job.args.clone(),
        }
    }

    /// The directory cargo writes to for this call's route.
    pub fn target_dir(&self, ctx: &Ctx) -> PathBuf {
        let base = match ctx.route(self.target) {
            Route::Host | Route::Rustup => ctx.root.join("target"),
            Route::BuildStd => ctx.root.join("target").join("cross"),
        };
        match self.target_subdir {
            Some(sub) => base.join(sub),
            None => base,
        }
    }

    /// Where `cargo build` puts the artifacts of this call (`<dir>/<triple>/<profile>`).
    pub fn artifact_dir(&self, ctx: &Ctx) -> PathBuf {
        let profile_dir = match self.profile.as_str() {
            "dev" | "test" => "debug",
            other => other,
        };
        let mut dir = self.target_dir(ctx);
        if ctx.route(self.target) != Route::Host || self.target_subdir.is_some() {
            dir = dir.join(&self.target.triple);
        }
        dir.join(profile_dir)
    }

    pub fn command(&self, ctx: &Ctx) -> Result<Cmd> {
        let route = ctx.route(self.target);
        let t = self.target;
        let mut cmd = match route {
            Route::Host | Route::Rustup => Cmd::new(host_cargo()),
            Route::BuildStd => {
                if !Path::new(DEBIAN_CARGO).is_file() || !Path::new(DEBIAN_RUSTC).is_file() {
                    return Err(format!(
                        "{}: rustup has no standard library for it and Debian's rustc is \
                         missing: run `cargo xtask setup`",
                        t.triple
                    )
                    .into());
                }
                Cmd::new(DEBIAN_CARGO)
                    .env("RUSTC", DEBIAN_RUSTC)
                    .env("RUSTDOC", DEBIAN_RUSTDOC)
                    .env("RUSTC_BOOTSTRAP", "1")
            }
        };
        cmd = cmd.arg(self.subcommand);
        if let Some(manifest) = &self.manifest {
            cmd = cmd.arg("--manifest-path").arg(manifest);
        }
        if self.workspace {
            cmd = cmd.arg("--workspace");
        }
        if let Some(p) = self.package {
            cmd = cmd.args(["--package", p]);
        }
        if route != Route::Host || self.target_subdir.is_some() {
            cmd = cmd.args(["--target", &t.triple]);
        }
        if route != Route::Host || self.target_subdir.is_some() || self.manifest.is_some() {
            cmd = cmd.arg("--target-dir").arg(self.target_dir(ctx));
        }
        if route == Route::BuildStd && !self.build_std.is_empty() {
            cmd = cmd.arg(format!("-Zbuild-std={}", self.build_std.join(",")));
        }
        if !self.default_features {
            cmd = cmd.arg("--no-default-features");
        }
        if !self.features.is_empty() {
            cmd = cmd.args(["--features", &self.features.join(",")]);
        }
        if self.profile != "dev" {
            cmd = cmd.args(["--profile", &self.profile]);
        }
        if let Some(ct) = &self.crate_type {
            cmd = cmd.args(["--lib", "--crate-type", ct]);
        }
        cmd = cmd.args(&self.args);

        if route != Route::Host {
            let key = t.env_key();
            if let Some(linker) = &t.linker {
                cmd = cmd.env(format!("CARGO_TARGET_{key}_LINKER"), linker);
            }
            if let Some(runner) = t.emulator() {
                cmd = cmd.env(format!("CARGO_TARGET_{key}_RUNNER"), runner);
            }
            let flags: Vec<&str> = t
                .rustflags
                .iter()
                .chain(&self.rustflags)
                .map(String::as_str)
                .collect();
            if !flags.is_empty() {
                cmd = cmd.env(format!("CARGO_TARGET_{key}_RUSTFLAGS"), flags.join(" "));
            }
        }
        Ok(cmd.cwd(&ctx.root))
    }
}
