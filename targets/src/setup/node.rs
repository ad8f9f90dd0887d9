//! npm packages of the bindings' tests, from their committed lock files:
//! `bindings/wasm` (typescript, playwright-core, onnxruntime-web, binaryen) and
//! `bindings/uniffi` (kotlin-compiler), each into its folder's `node_modules/`, where
//! the tests resolve them. `npm ci` removes `node_modules/` and installs the lock file
//! exactly; it runs when the lock file changed since the last install, and always with
//! `--fresh`. Node.js ≥ 20 and its npm are part of the base machine (Debian 12 serves
//! Node 18 only).

use std::path::{Path, PathBuf};

use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

/// Folders with a `package.json` and a committed `package-lock.json`. An npm package is
/// one line in one of those `package.json` files (then `npm install` there to lock it).
pub const PACKAGES: &[&str] = &["bindings/wasm", "bindings/uniffi"];

/// Executables from those packages that the tests are handed: variable, path.
const TOOLS: &[(&str, &str)] = &[
    (
        "KOTLINC",
        "bindings/uniffi/node_modules/kotlin-compiler/bin/kotlinc",
    ),
    ("WASM_OPT", "bindings/wasm/node_modules/.bin/wasm-opt"),
];

const STAMP: &str = "node_modules/.ferrite-lock.json";
const MIN_NODE: u32 = 20;

pub fn steps() -> Vec<Step> {
    vec![Step::new(
        "npm",
        Stage::Setup,
        format!("npm ci in {}", PACKAGES.join(" and ")),
        npm,
    )]
}

pub fn env(ctx: &Ctx) -> Vec<(String, PathBuf)> {
    TOOLS
        .iter()
        .map(|(key, path)| ((*key).to_owned(), ctx.root.join(path)))
        .collect()
}

/// The major version in `node --version` output (`v20.20.2`).
fn node_major(version: &str) -> Option<u32> {
    version
        .trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn npm(ctx: &Ctx) -> Result<Outcome> {
    let (Some(node), Some(npm)) = (which("node"), which("npm")) else {
        return Err(format!(
            "Node.js >= {MIN_NODE} with npm is missing (part of the base machine, see targets/README.md)"
        )
        .into());
    };
    let version = Cmd::new(&node).arg("--version").output()?;
    if node_major(&version).is_none_or(|m| m < MIN_NODE) {
        return Err(format!(
            "{} is Node.js {}; the tests need >= {MIN_NODE}",
            node.display(),
            version.trim()
        )
        .into());
    }
    println!(
        "{} {} (npm {})",
        node.display(),
        version.trim(),
        Cmd::new(&npm).arg("--version").output()?.trim()
    );
    for dir in PACKAGES {
        let dir = ctx.root.join(dir);
        let lock = dir.join("package-lock.json");
        let wanted = std::fs::read_to_string(&lock)
            .map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
        let stamp = dir.join(STAMP);
        let current = std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str());
        if current && !ctx.fresh {
            println!("{} is up to date", dir.join("node_modules").display());
        } else {
            Cmd::new(&npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .cwd(&dir)
                .run()?;
            std::fs::write(&stamp, &wanted)?;
        }
        report(&dir)?;
    }
    Ok(Outcome::Passed)
}

/// Prints the version of each direct dependency installed in `dir/node_modules` and
/// fails when one differs from the exact version `package.json` pins.
fn report(dir: &Path) -> Result<()> {
    let mut line = format!("  {}:", dir.join("node_modules").display());
    for (name, want) in dev_dependencies(&dir.join("package.json"))? {
        let installed = dir.join("node_modules").join(&name).join("package.json");
        let have = read_json(&installed)
            .ok()
            .and_then(|p| p["version"].as_str().map(str::to_owned));
        if have.as_deref() != Some(want.as_str()) {
            return Err(format!(
                "{name}: package.json pins {want}, node_modules has {}",
                have.as_deref().unwrap_or("nothing")
            )
            .into());
        }
        line.push_str(&format!(" {name} {want},"));
    }
    println!("{}", line.trim_end_matches(','));
    Ok(())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// The `devDependencies` of a package.json: name, version.
fn dev_dependencies(manifest: &Path) -> Result<Vec<(String, String)>> {
    let json = read_json(manifest)?;
    let deps = json["devDependencies"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    Ok(deps
        .into_iter()
        .map(|(name, v)| (name, v.as_str().unwrap_or_default().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_parse() {
        assert_eq!(node_major("v20.20.2\n"), Some(20));
        assert_eq!(node_major("18.1"), None);
    }

    #[test]
    fn the_committed_package_files_pin_exact_versions() {
        let ctx = Ctx::load(false).unwrap();
        for dir in PACKAGES {
            let deps = dev_dependencies(&ctx.root.join(dir).join("package.json")).unwrap();
            assert!(!deps.is_empty(), "{dir}");
            for (name, version) in deps {
                assert!(
                    version.split('.').all(|p| p.parse::<u64>().is_ok()),
                    "{dir}: {name} {version} is not an exact version"
                );
            }
        }
    }
}
