//! The target files (`targets/targets/<triple>.toml`): what each target is, how it is
//! built here, how (whether) it runs here, and its size budgets.
//!
//! The field reference is `targets/README.md`; `tests::every_target_file_is_valid`
//! keeps the files in line with it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::step::Stage;
use crate::Result;

/// What sort of machine a target is; decides the default stage of its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The machine the driver runs on (x86-64 Linux).
    Host,
    /// Another Linux (aarch64), run under qemu-user.
    Linux,
    /// Android / iOS: static libraries only, nothing runs here.
    Mobile,
    /// WebAssembly.
    Wasm,
    /// Bare-metal microcontroller.
    Mcu,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Linux => "linux",
            Kind::Mobile => "mobile",
            Kind::Wasm => "wasm",
            Kind::Mcu => "mcu",
        }
    }
}

/// One target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// Rust target triple; also the file name (`<triple>.toml`).
    pub triple: String,
    pub kind: Kind,
    /// One line: which chips / devices / OSes this is for.
    pub description: String,
    /// Library crates built from source (`-Zbuild-std=…`) when rustup has no prebuilt
    /// standard library for the triple. Jobs may override it.
    #[serde(default)]
    pub build_std: Vec<String>,
    /// Cargo features of the runtime (`ferrite`) for this target. Jobs may override it.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether the runtime's default features are on. Jobs may override it.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// Linker (`CARGO_TARGET_<TRIPLE>_LINKER`); only needed by jobs that link.
    pub linker: Option<String>,
    /// How to run a binary of this target on this machine: `"native"`, a command line
    /// (cargo's `CARGO_TARGET_<TRIPLE>_RUNNER`), or `"none"`/absent when it cannot.
    pub runner: Option<String>,
    /// Extra rustc flags for every job of this target.
    #[serde(default)]
    pub rustflags: Vec<String>,
    /// What `cargo xtask build <triple>` builds.
    #[serde(default)]
    pub build: Vec<Job>,
    /// What `cargo xtask test <triple>` runs (with `runner`), besides builds with `in-test`.
    #[serde(default)]
    pub test: Vec<Job>,
    /// Size probes measured by `cargo xtask size`, with their budgets.
    #[serde(default)]
    pub size: Vec<SizeProbe>,
    /// Free-form notes shown by `cargo xtask list` (e.g. why a runner is missing).
    pub notes: Option<String>,
    #[serde(skip)]
    pub file: PathBuf,
}

/// A cargo build or test of one package (or the workspace) for a target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Job {
    /// Step group: the step is called `<name>:<triple>` (e.g. `nostd:thumbv6m-none-eabi`).
    pub name: String,
    /// The crate (cargo package) built or tested. Default: the runtime, `ferrite`.
    #[serde(default = "runtime_package")]
    pub package: String,
    /// Build/test the whole workspace instead of `package`.
    #[serde(default)]
    pub workspace: bool,
    /// Overrides the target's `features`.
    pub features: Option<Vec<String>>,
    /// Overrides the target's `default-features`.
    pub default_features: Option<bool>,
    /// Overrides the target's `build-std`.
    pub build_std: Option<Vec<String>>,
    /// Cargo profile (`dev`, `release`, `release-size`). Default `dev`.
    #[serde(default = "dev_profile")]
    pub profile: String,
    /// Build the library as this crate type with `cargo rustc --crate-type` (e.g.
    /// `staticlib` of the `ferrite` rlib); absent = plain `cargo build`/`cargo test`.
    pub crate_type: Option<String>,
    /// Extra cargo arguments (e.g. `--tests`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether `test <triple>` / `test all` include this build. Default true.
    #[serde(default = "yes")]
    pub in_test: bool,
    /// Overrides the stage derived from the target's kind (orders `test all`).
    pub stage: Option<Stage>,
    /// Environment variables of the cargo command (and so of the tests it runs).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// A firmware whose flash and RAM are measured against budgets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SizeProbe {
    /// Row name in the size table (e.g. `runtime-mlp`).
    pub name: String,
    /// Cargo manifest of the firmware package, relative to the repository root.
    pub manifest: PathBuf,
    /// Binary name; default: the package name in `manifest`.
    pub bin: Option<String>,
    /// Features of that package.
    #[serde(default)]
    pub features: Vec<String>,
    /// Cargo profile of that package. Default `release`.
    #[serde(default = "release_profile")]
    pub profile: String,
    /// Overrides the target's `build-std`.
    pub build_std: Option<Vec<String>>,
    /// Extra rustc flags (linker scripts: `-C link-arg=-Tlink.x`).
    #[serde(default)]
    pub rustflags: Vec<String>,
    /// Flash budget (`.text` + `.rodata` + `.data` + vector table), KiB.
    pub flash_kib: u64,
    /// RAM budget (`.data` + `.bss`, which holds the static arena), KiB.
    pub ram_kib: u64,
    /// Skip (not fail) while `manifest` does not exist yet.
    #[serde(default)]
    pub optional: bool,
    /// What the probe contains, shown in the table's legend.
    pub about: Option<String>,
}

fn yes() -> bool {
    true
}
fn runtime_package() -> String {
    "ferrite".into()
}
fn dev_profile() -> String {
    "dev".into()
}
fn release_profile() -> String {
    "release".into()
}

impl Target {
    pub fn load(path: &Path) -> Result<Target> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut target: Target =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        target.file = path.to_owned();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != target.triple {
            return Err(format!(
                "{}: file name must be the triple `{}.toml`",
                path.display(),
                target.triple
            )
            .into());
        }
        Ok(target)
    }

    /// Every `*.toml` in `dir`, host first, then sorted by kind and triple.
    pub fn load_all(dir: &Path) -> Result<Vec<Target>> {
        let mut targets = Vec::new();
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                targets.push(Target::load(&path)?);
            }
        }
        targets.sort_by(|a, b| (a.kind_rank(), &a.triple).cmp(&(b.kind_rank(), &b.triple)));
        Ok(targets)
    }

    fn kind_rank(&self) -> u8 {
        match self.kind {
            Kind::Host => 0,
            Kind::Mcu => 1,
            Kind::Wasm => 2,
            Kind::Linux => 3,
            Kind::Mobile => 4,
        }
    }

    pub fn is_host(&self) -> bool {
        self.kind == Kind::Host
    }

    /// The runner command line, when the target runs here under an emulator.
    pub fn emulator(&self) -> Option<&str> {
        self.runner
            .as_deref()
            .filter(|r| !matches!(*r, "native" | "none" | ""))
    }

    /// `thumbv7em-none-eabihf` → `THUMBV7EM_NONE_EABIHF` (cargo's env-var spelling).
    pub fn env_key(&self) -> String {
        self.triple.to_uppercase().replace(['-', '.'], "_")
    }

    /// The stage a job of this target runs in, unless the job says otherwise.
    pub fn stage_of(&self, job: &Job, is_test: bool) -> Stage {
        job.stage.unwrap_or(match self.kind {
            Kind::Host => Stage::HostTest,
            Kind::Mcu | Kind::Wasm => Stage::NoStd,
            Kind::Linux if is_test => Stage::Emulated,
            Kind::Linux => Stage::NoStd,
            Kind::Mobile => Stage::Mobile,
        })
    }
}

impl Job {
    pub fn features<'a>(&'a self, target: &'a Target) -> &'a [String] {
        self.features.as_deref().unwrap_or(&target.features)
    }
    pub fn default_features(&self, target: &Target) -> bool {
        self.default_features.unwrap_or(target.default_features)
    }
    pub fn build_std<'a>(&'a self, target: &'a Target) -> &'a [String] {
        self.build_std.as_deref().unwrap_or(&target.build_std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<Target> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets");
        Target::load_all(&dir).expect("target files parse")
    }

    #[test]
    fn every_target_file_is_valid() {
        let targets = targets();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert_eq!(targets.iter().filter(|t| t.is_host()).count(), 1);
        for t in &targets {
            assert!(
                !t.build.is_empty() || !t.test.is_empty(),
                "{}: no build or test job",
                t.triple
            );
            if t.kind == Kind::Mcu {
                assert!(
                    !t.size.is_empty(),
                    "{}: an MCU needs size budgets",
                    t.triple
                );
                assert!(
                    !t.build_std.is_empty(),
                    "{}: bare metal needs build-std",
                    t.triple
                );
            }
            for probe in &t.size {
                assert!(probe.flash_kib > 0 && probe.ram_kib > 0);
                assert!(
                    probe.optional || root.join(&probe.manifest).is_file(),
                    "{}: {} missing",
                    t.triple,
                    probe.manifest.display()
                );
            }
            let mut names: Vec<&str> = t.build.iter().chain(&t.test).map(|j| &*j.name).collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(
                before,
                names.len(),
                "{}: job names must be unique",
                t.triple
            );
        }
    }

    #[test]
    fn the_issue_target_matrix_is_described() {
        let triples: Vec<String> = targets().into_iter().map(|t| t.triple).collect();
        for want in [
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "aarch64-linux-android",
            "armv7-linux-androideabi",
            "x86_64-linux-android",
            "aarch64-apple-ios",
            "aarch64-apple-ios-sim",
            "wasm32-unknown-unknown",
            "thumbv7em-none-eabihf",
            "thumbv6m-none-eabi",
            "riscv32imac-unknown-none-elf",
        ] {
            assert!(
                triples.iter().any(|t| t == want),
                "no target file for {want}"
            );
        }
    }

    #[test]
    fn job_env_is_read() {
        let t = targets()
            .into_iter()
            .find(|t| t.triple == "aarch64-unknown-linux-gnu")
            .unwrap();
        let job = t.test.iter().find(|j| j.name == "qemu-test").unwrap();
        assert_eq!(job.env.get("ENGINE_CASES").map(String::as_str), Some("60"));
        assert!(t.build.iter().all(|j| j.env.is_empty()));
    }

    #[test]
    fn env_key_follows_cargo() {
        let t = targets()
            .into_iter()
            .find(|t| t.triple == "thumbv7em-none-eabihf")
            .unwrap();
        assert_eq!(t.env_key(), "THUMBV7EM_NONE_EABIHF");
    }
}
