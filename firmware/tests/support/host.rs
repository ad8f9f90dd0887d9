//! What the QEMU board tests share on the host: the repository root, a command's
//! checked output, the `ferrite` tool they convert and sign with, and a board build's
//! clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TRIPLE: &str = "thumbv7em-none-eabihf";
pub const LLD: &str = "/usr/lib/llvm-22/bin/ld.lld";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn check(what: &str, o: std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed ({}):\n{text}", o.status);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn tool(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("FERRITE_TOOL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let found = ["target/release/ferrite", "target/debug/ferrite"]
        .iter()
        .map(|p| root.join(p))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    if let Some(p) = found {
        return p;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    check(
        "cargo build -p ferrite-tool",
        Command::new(cargo)
            .current_dir(root)
            .args(["build", "-p", "ferrite-tool", "--bin", "ferrite"])
            .output()
            .unwrap(),
    );
    root.join("target/debug/ferrite")
}

/// Removes from a board build what the outer `cargo test` or a developer's shell may set
/// and must not leak in (flags, build target, target dir, wrappers).
pub fn without_outer_build_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTDOC",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
