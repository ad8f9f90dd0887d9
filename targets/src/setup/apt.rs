//! Debian packages (TOOLCHAIN.md). Each package is checked with `dpkg-query`, and with
//! `--fresh` also with `dpkg --verify` (its files are all there and unchanged; a broken
//! one is reinstalled). `apt-get update` runs once, and only when something is missing.

use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

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
    ("gcc", "the C bindings' test programs (the host C compiler)"),
    ("binutils", "readelf/nm checks of the C libraries"),
    (
        "openjdk-17-jre-headless",
        "Java 17 for kotlinc and the Kotlin (UniFFI) tests",
    ),
    ("python3", "the interpreter of the test venv"),
    ("python3-venv", "`python3 -m venv` for the test venv"),
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
        |ctx| install(ctx, PACKAGES.iter().map(|p| p.0)),
    )]
}

/// `package version` of the packages of `wanted` that dpkg lists as installed.
fn installed<'a>(wanted: impl IntoIterator<Item = &'a str>) -> Result<Vec<(String, String)>> {
    let wanted: Vec<&str> = wanted.into_iter().collect();
    // dpkg-query exits 1 when a package is unknown, but still prints the known ones.
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Abbrev} ${Version}\n"])
        .args(&wanted)
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    Ok(parse_installed(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_installed(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (pkg, status, version) = (words.next()?, words.next()?, words.next()?);
            let pkg = pkg.split(':').next().unwrap_or(pkg);
            status
                .starts_with("ii")
                .then(|| (pkg.to_owned(), version.to_owned()))
        })
        .collect()
}

/// Packages of `wanted` that dpkg does not list as installed.
fn missing<'a>(wanted: impl IntoIterator<Item = &'a str>) -> Result<Vec<&'a str>> {
    let wanted: Vec<&str> = wanted.into_iter().collect();
    let installed = installed(wanted.iter().copied())?;
    Ok(wanted
        .into_iter()
        .filter(|p| !installed.iter().any(|(i, _)| i == p))
        .collect())
}

/// Installed packages whose files `dpkg --verify` finds missing or changed
/// (configuration files under /etc aside: editing them is what they are for).
fn broken<'a>(packages: &[&'a str]) -> Vec<&'a str> {
    packages
        .iter()
        .copied()
        .filter(|p| {
            let out = std::process::Command::new("dpkg")
                .args(["--verify", p])
                .stderr(std::process::Stdio::null())
                .output();
            match out {
                Ok(o) => String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| !is_conffile_line(l)),
                Err(_) => false,
            }
        })
        .collect()
}

/// A `dpkg --verify` line about a configuration file (`??5?????? c /etc/…`).
fn is_conffile_line(line: &str) -> bool {
    line.split_whitespace().nth(1) == Some("c")
}

fn install<'a>(ctx: &Ctx, wanted: impl IntoIterator<Item = &'a str>) -> Result<Outcome> {
    if which("dpkg-query").is_none() || which("apt-get").is_none() {
        return Ok(Outcome::Skipped(
            "not a Debian system: install the packages of targets/README.md by hand".into(),
        ));
    }
    let wanted: Vec<&str> = wanted.into_iter().collect();
    let missing = missing(wanted.iter().copied())?;
    let broken = if ctx.fresh {
        let present: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|p| !missing.contains(p))
            .collect();
        println!("dpkg --verify of {} installed packages", present.len());
        broken(&present)
    } else {
        Vec::new()
    };
    if !missing.is_empty() || !broken.is_empty() {
        if !missing.is_empty() {
            println!("missing: {}", missing.join(" "));
        }
        if !broken.is_empty() {
            println!(
                "files missing or changed (reinstalling): {}",
                broken.join(" ")
            );
        }
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
                missing
                    .iter()
                    .chain(&broken)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            )
            .into());
        }
        apt(&["update", "-q"]).run()?;
        if !missing.is_empty() {
            let mut install = vec!["install", "-y", "-q"];
            install.extend(&missing);
            apt(&install).run()?;
        }
        if !broken.is_empty() {
            let mut reinstall = vec!["install", "-y", "-q", "--reinstall"];
            reinstall.extend(&broken);
            apt(&reinstall).run()?;
        }
        let still = self::missing(missing.iter().copied())?;
        if !still.is_empty() {
            return Err(format!("still not installed: {}", still.join(" ")).into());
        }
    }
    let versions = installed(wanted.iter().copied())?;
    println!("{} packages installed (dpkg):", versions.len());
    for (pkg, version) in &versions {
        let note = if missing.contains(&pkg.as_str()) {
            "  (installed now)"
        } else if broken.contains(&pkg.as_str()) {
            "  (reinstalled)"
        } else {
            ""
        };
        println!("  {pkg:<26} {version}{note}");
    }
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_listings_parse() {
        let listing = "qemu-user ii  1:7.2+dfsg-7+deb12u18\nnpm un \nlibc6:amd64 ii  2.36-9\n";
        assert_eq!(
            parse_installed(listing),
            [
                ("qemu-user".to_owned(), "1:7.2+dfsg-7+deb12u18".to_owned()),
                ("libc6".to_owned(), "2.36-9".to_owned())
            ]
        );
        assert!(is_conffile_line(
            "??5?????? c /etc/chromium/master_preferences"
        ));
        assert!(!is_conffile_line("missing     /usr/bin/qemu-aarch64"));
    }
}
