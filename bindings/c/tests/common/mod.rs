//! Helpers shared by the integration tests: locating the workspace and the target
//! directory, running nested cargo commands, writing the runtime's fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The cargo that runs this test.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace());
    c
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `target/<profile>` of this test binary (which lives in `target/<profile>/deps/`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf()
}

/// Panics with the command's output unless it succeeded.
pub fn check(what: &str, out: Output) -> Output {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Writes the runtime's fixtures into `dir`: with `FERRITE_FIXTURES_BIN` (set by `cargo
/// xtask test`: the `fixtures` example its workspace build made) that binary, else `cargo
/// run -p ferrite --example fixtures`, which resolves features of its own and so compiles
/// the runtime again.
pub fn fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut fx = match std::env::var_os("FERRITE_FIXTURES_BIN").filter(|p| !p.is_empty()) {
        Some(bin) => Command::new(bin),
        None => {
            let mut fx = cargo();
            fx.args([
                "run",
                "--quiet",
                "-p",
                "ferrite",
                "--example",
                "fixtures",
                "--",
            ]);
            fx
        }
    };
    fx.arg(dir);
    check("the runtime's fixtures example", fx.output().unwrap());
}

/// Fails unless `program --version` runs. The tools these tests use are installed by
/// `cargo xtask setup` (Debian `package`): a test that skipped without one would hide a
/// broken setup.
pub fn require(program: &str, package: &str) {
    let ok = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{program} is missing: run `cargo xtask setup` (apt-get install -y {package})"
    );
}
