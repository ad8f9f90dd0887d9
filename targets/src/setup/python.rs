//! The Python virtual environment `<repo>/.venv` with `tests/requirements.txt`
//! (onnx, onnxruntime, numpy, scikit-learn, skl2onnx): test fixtures and peers.
//! pip runs only when the requirements file changed since the last install.

use crate::cmd::Cmd;
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

const STAMP: &str = ".ferrite-requirements.txt";

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "python-venv",
        Stage::Setup,
        ".venv with tests/requirements.txt",
        venv,
    )]
}

fn venv(ctx: &Ctx) -> Result<Outcome> {
    let venv = ctx.root.join(".venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        Cmd::new("python3").args(["-m", "venv"]).arg(&venv).run()?;
    }
    // Keep the venv out of git (Python >= 3.13 writes this file itself).
    let ignore = venv.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    let requirements = ctx.root.join("tests/requirements.txt");
    if !requirements.is_file() {
        return Ok(Outcome::Skipped(
            "tests/requirements.txt does not exist yet".into(),
        ));
    }
    let wanted = std::fs::read_to_string(&requirements)?;
    let stamp = venv.join(STAMP);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        println!(
            "{} is up to date with tests/requirements.txt",
            venv.display()
        );
        return Ok(Outcome::Passed);
    }
    Cmd::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(&requirements)
        .run()?;
    std::fs::write(&stamp, wanted)?;
    Ok(Outcome::Passed)
}
