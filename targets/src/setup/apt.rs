//! Debian packages (TOOLCHAIN.md). `apt-get update` runs once, and only when something
//! is missing.

use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::Result;

/// Every Debian package the project needs, with who needs it.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "rustc-web",
        "Debian's rustc 1.96: cross targets without rustup's std (build-std)",
    ),
    ("cargo-web", "Debian's cargo for -Zbuild-std"),
    ("rust-web-src", "standard library source for -Zbuild-std"),
    ("lld-22", "ld.lld for bare metal, wasm-ld for wasm32"),
    ("llvm-22", "llvm-size for `cargo xtask size`"),
    (
        "binutils-arm-none-eabi",
        "arm-none-eabi-size/objdump for firmware",
    ),
    ("qemu-system-arm", "Cortex-M firmware in QEMU (mps2-an386)"),
    ("qemu-user", "qemu-aarch64: runtime tests on aarch64"),
    (
        "gcc-aarch64-linux-gnu",
        "linker + libc for aarch64-unknown-linux-gnu",
    ),
    ("libjna-java", "JNA for the Kotlin (UniFFI) bindings"),
    ("valgrind", "memcheck of the C bindings' test program"),
    (
        "gcc-arm-none-eabi",
        "the C firmware test linking the no-allocator C library",
    ),
    ("libnewlib-arm-none-eabi", "libc for the C firmware test"),
    ("make", "examples/c Makefile"),
    ("chromium", "headless browser tests of the wasm package"),
    (
        "chromium-driver",
        "headless browser tests of the wasm package",
    ),
];

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "apt",
        Stage::Setup,
        format!("{} Debian packages", PACKAGES.len()),
        |_| install(PACKAGES.iter().map(|p| p.0)),
    )]
}

/// Packages of `wanted` that dpkg does not list as installed.
fn missing<'a>(wanted: impl IntoIterator<Item = &'a str>) -> Result<Vec<&'a str>> {
    let wanted: Vec<&str> = wanted.into_iter().collect();
    // dpkg-query exits 1 when a package is unknown, but still prints the known ones.
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Abbrev}\n"])
        .args(&wanted)
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    let installed: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, status)| status.starts_with("ii"))
        .map(|(pkg, _)| pkg.split(':').next().unwrap_or(pkg))
        .collect();
    Ok(wanted
        .into_iter()
        .filter(|p| !installed.contains(p))
        .collect())
}

fn install<'a>(wanted: impl IntoIterator<Item = &'a str>) -> Result<Outcome> {
    if which("dpkg-query").is_none() || which("apt-get").is_none() {
        return Ok(Outcome::Skipped(
            "not a Debian system: install the packages of targets/README.md by hand".into(),
        ));
    }
    let missing = missing(wanted)?;
    if missing.is_empty() {
        println!("all {} packages are installed", PACKAGES.len());
        return Ok(Outcome::Passed);
    }
    println!("missing: {}", missing.join(" "));
    let root = Cmd::new("id").arg("-u").output()?.trim() == "0";
    let apt = |args: &[&str]| -> Cmd {
        let cmd = if root {
            Cmd::new("apt-get")
        } else {
            Cmd::new("sudo").args(["-n", "apt-get"])
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive")
    };
    if !root && which("sudo").is_none() {
        return Err(format!(
            "not root and no sudo: run `apt-get install -y {}` as root",
            missing.join(" ")
        )
        .into());
    }
    apt(&["update", "-q"]).run()?;
    let mut install = vec!["install", "-y", "-q"];
    install.extend(&missing);
    apt(&install).run()?;
    let still = self::missing(missing.iter().copied())?;
    if !still.is_empty() {
        return Err(format!("still not installed: {}", still.join(" ")).into());
    }
    Ok(Outcome::Passed)
}
