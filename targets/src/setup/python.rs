//! The Python virtual environment of the tests: `.venv/` (or `target/fresh/venv`, made
//! anew, with `--fresh`) with the packages of [`REQUIREMENTS`] (onnx, onnxruntime,
//! numpy, scikit-learn, skl2onnx): test fixtures and peers.
//!
//! The venv is made by Debian's `python3` (`/usr/bin/python3`, apt packages `python3`
//! and `python3-venv`) when it exists, else by the `python3` on `PATH`. In the installed
//! layout pip runs only when a requirements file changed since the last install; with
//! `--fresh` it always runs, from the package index only (`PIP_FIND_LINKS` cleared, so
//! that no local wheel folder stands in for the registry). Afterwards every pinned
//! requirement (`name==version`) is checked against what pip installed.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// Requirements files installed into the venv, from the repository root. A Python
/// package is one line in one of them (a local package built by pip, e.g. with a
/// maturin backend, is a `./path` line).
pub const REQUIREMENTS: &[&str] = &["tests/requirements.txt"];

const STAMP: &str = ".ferrite-requirements.txt";
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "python-venv",
        Stage::Setup,
        format!("a Python venv with {}", REQUIREMENTS.join(", ")),
        venv_step,
    )]
}

/// The venv: `.venv`, or `target/fresh/venv` with `--fresh`.
pub fn venv(ctx: &Ctx) -> PathBuf {
    if ctx.fresh {
        super::fresh_dir(ctx).join("venv")
    } else {
        ctx.root.join(".venv")
    }
}

/// `FERRITE_PYTHON` (ONNX conformance cases) and `PYTHON` (UniFFI's Python tests):
/// the venv's interpreter.
pub fn env(ctx: &Ctx) -> Vec<(String, PathBuf)> {
    let python = venv(ctx).join("bin/python");
    vec![
        ("FERRITE_PYTHON".to_owned(), python.clone()),
        ("PYTHON".to_owned(), python),
    ]
}

/// `name==version` lines of a requirements file, names normalized as pip does.
fn pinned(requirements: &str) -> Vec<(String, String)> {
    requirements
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter_map(|l| l.split_once("=="))
        .map(|(name, version)| (normalize(name), version.trim().to_owned()))
        .collect()
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

fn venv_step(ctx: &Ctx) -> Result<Outcome> {
    let venv = venv(ctx);
    let python = venv.join("bin/python");
    let mut wanted = String::new();
    for file in REQUIREMENTS {
        let path = ctx.root.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        wanted.push_str(&format!("# {file}\n{text}"));
    }
    if ctx.fresh {
        super::empty_prefix(&venv)?;
    }
    let stamp = venv.join(STAMP);
    if !python.is_file() {
        let base = if Path::new(DEBIAN_PYTHON).is_file() {
            DEBIAN_PYTHON
        } else {
            "python3"
        };
        Cmd::new(base).args(["-m", "venv"]).arg(&venv).run()?;
    }
    // Keep the venv out of git (Python >= 3.13 writes this file itself).
    let ignore = venv.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    let version = Cmd::new(&python).arg("--version").output()?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        println!(
            "{} ({}) is up to date with {}",
            venv.display(),
            version.trim(),
            REQUIREMENTS.join(", ")
        );
        return Ok(Outcome::Passed);
    }
    let mut pip =
        Cmd::new(&python).args(["-m", "pip", "install", "--disable-pip-version-check", "-q"]);
    for file in REQUIREMENTS {
        pip = pip.arg("-r").arg(ctx.root.join(file));
    }
    if ctx.fresh {
        pip = pip.env("PIP_FIND_LINKS", "");
    }
    pip.run()?;
    let freeze = Cmd::new(&python)
        .args([
            "-m",
            "pip",
            "list",
            "--format=freeze",
            "--disable-pip-version-check",
        ])
        .output()?;
    let got: Vec<(String, String)> = freeze
        .lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| (normalize(n), v.to_owned()))
        .collect();
    let want = pinned(&wanted);
    println!(
        "installed into {} ({}), {} packages with their dependencies:",
        venv.display(),
        version.trim(),
        want.len()
    );
    let mut wrong = Vec::new();
    for (name, version) in &want {
        let have = got.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        println!("  {name} {}", have.unwrap_or("MISSING"));
        if have != Some(version.as_str()) {
            wrong.push(format!(
                "{name}=={version} (have {})",
                have.unwrap_or("none")
            ));
        }
    }
    if !wrong.is_empty() {
        return Err(format!("pip did not install {}", wrong.join(", ")).into());
    }
    std::fs::write(&stamp, wanted)?;
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_requirements_are_read_as_pip_names() {
        let text = "# comment\nonnx==1.23.2\nscikit_learn==1.9.1  # peers\n./bindings/python\n";
        assert_eq!(
            pinned(text),
            [
                ("onnx".to_owned(), "1.23.2".to_owned()),
                ("scikit-learn".to_owned(), "1.9.1".to_owned())
            ]
        );
    }
}
