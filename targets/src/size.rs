//! `cargo xtask size`: build each `[[size]]` probe of the MCU targets, measure flash and
//! RAM with `llvm-size` (Berkeley format), compare with the budgets of the target file.
//!
//! flash = text + data  (text = vector table + `.text` + `.rodata`; `.data` is copied
//!                        from flash at boot)
//! RAM   = data + bss   (`.bss` holds the static arena; stack and heap reservations
//!                        are not counted)

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cargo::CargoCall;
use crate::cmd::{which, Cmd};
use crate::target::{SizeProbe, Target};
use crate::{Ctx, Result};

/// One row of the size table.
#[derive(Debug, Clone)]
pub struct Row {
    pub target: String,
    pub probe: String,
    pub about: String,
    pub flash_budget: u64,
    pub ram_budget: u64,
    pub result: Measured,
}

#[derive(Debug, Clone)]
pub enum Measured {
    Sizes {
        text: u64,
        data: u64,
        bss: u64,
    },
    /// An optional probe whose package does not exist yet.
    Absent(String),
}

impl Row {
    pub fn flash(&self) -> Option<u64> {
        match self.result {
            Measured::Sizes { text, data, .. } => Some(text + data),
            Measured::Absent(_) => None,
        }
    }
    pub fn ram(&self) -> Option<u64> {
        match self.result {
            Measured::Sizes { data, bss, .. } => Some(data + bss),
            Measured::Absent(_) => None,
        }
    }
    pub fn over_budget(&self) -> bool {
        self.flash().is_some_and(|f| f > self.flash_budget)
            || self.ram().is_some_and(|r| r > self.ram_budget)
    }
}

/// Build and measure every probe of `target`.
pub fn measure(ctx: &Ctx, target: &Target, quiet_stdout: bool) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for probe in &target.size {
        let result = if ctx.root.join(&probe.manifest).is_file() {
            let elf = build(ctx, target, probe, quiet_stdout)?;
            let (text, data, bss) = berkeley(&elf, target)?;
            Measured::Sizes { text, data, bss }
        } else if probe.optional {
            Measured::Absent(format!("{} not present yet", probe.manifest.display()))
        } else {
            return Err(
                format!("{}: {} is missing", target.triple, probe.manifest.display()).into(),
            );
        };
        rows.push(Row {
            target: target.triple.clone(),
            probe: probe.name.clone(),
            about: probe.about.clone().unwrap_or_default(),
            flash_budget: probe.flash_kib * 1024,
            ram_budget: probe.ram_kib * 1024,
            result,
        });
    }
    Ok(rows)
}

fn build(ctx: &Ctx, target: &Target, probe: &SizeProbe, quiet_stdout: bool) -> Result<PathBuf> {
    let manifest = ctx.root.join(&probe.manifest);
    let bin = match &probe.bin {
        Some(b) => b.clone(),
        None => package_name(&manifest)?,
    };
    let call = CargoCall {
        subcommand: "build",
        target,
        package: None,
        workspace: false,
        manifest: Some(manifest),
        features: probe.features.clone(),
        default_features: true,
        profile: probe.profile.clone(),
        build_std: probe
            .build_std
            .clone()
            .unwrap_or_else(|| target.build_std.clone()),
        crate_type: None,
        rustflags: probe.rustflags.clone(),
        target_subdir: Some("size-probe"),
        args: vec!["--bin".into(), bin.clone()],
    };
    let mut cmd = call.command(ctx)?;
    if quiet_stdout {
        cmd = cmd.stdout_to_stderr();
    }
    cmd.run()?;
    let elf = call.artifact_dir(ctx).join(&bin);
    if !elf.is_file() {
        return Err(format!("built, but {} is not there", elf.display()).into());
    }
    Ok(elf)
}

fn package_name(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let value: toml::Table = toml::from_str(&text)?;
    value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: no package.name", manifest.display()).into())
}

/// The size tool: Debian's llvm-size, any llvm-size, arm-none-eabi-size (ARM), size.
pub fn size_tool(target: &Target) -> Option<PathBuf> {
    let mut candidates = vec!["/usr/lib/llvm-22/bin/llvm-size", "llvm-size"];
    if target.triple.starts_with("thumb") || target.triple.starts_with("arm") {
        candidates.push("arm-none-eabi-size");
    }
    candidates.push("size");
    candidates.into_iter().find_map(which)
}

/// `(text, data, bss)` in Berkeley format, less the stack and heap reservations
/// (riscv-rt's `.stack` is a NOLOAD section spanning the rest of RAM).
pub fn berkeley(elf: &Path, target: &Target) -> Result<(u64, u64, u64)> {
    let tool = size_tool(target)
        .ok_or("no llvm-size / size found: run `cargo xtask setup` (package llvm-22)")?;
    let out = Cmd::new(&tool).arg("-B").arg(elf).output()?;
    let (text, data, bss) = parse_berkeley(&out)
        .ok_or_else(|| format!("cannot read the output of {}:\n{out}", tool.display()))?;
    let sysv = Cmd::new(&tool).arg("-A").arg(elf).output()?;
    Ok((text, data, bss.saturating_sub(reservations(&sysv))))
}

/// Sizes of the `.stack` and `.heap` sections in SysV (`-A`) output.
fn reservations(sysv: &str) -> u64 {
    sysv.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let size = w.next()?.parse::<u64>().ok()?;
            matches!(name, ".stack" | ".heap").then_some(size)
        })
        .sum()
}

fn parse_berkeley(out: &str) -> Option<(u64, u64, u64)> {
    let line = out.lines().nth(1)?;
    let mut nums = line.split_whitespace().map(|w| w.parse::<u64>());
    Some((nums.next()?.ok()?, nums.next()?.ok()?, nums.next()?.ok()?))
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<30} {:<18} {:>8} {:>7} {:>7} {:>11} {:>11} {:>10} {:>11}  result",
        "target", "probe", "text", "data", "bss", "flash", "flash budget", "RAM", "RAM budget"
    );
    for r in rows {
        match r.result {
            Measured::Sizes { text, data, bss } => {
                let _ = writeln!(
                    out,
                    "{:<30} {:<18} {:>8} {:>7} {:>7} {:>11} {:>11} {:>10} {:>11}  {}",
                    r.target,
                    r.probe,
                    text,
                    data,
                    bss,
                    kib(text + data),
                    kib(r.flash_budget),
                    kib(data + bss),
                    kib(r.ram_budget),
                    if r.over_budget() { "OVER BUDGET" } else { "ok" }
                );
            }
            Measured::Absent(ref why) => {
                let _ = writeln!(out, "{:<30} {:<18} {why}", r.target, r.probe);
            }
        }
    }
    let mut seen = Vec::new();
    for r in rows.iter().filter(|r| !r.about.is_empty()) {
        if !seen.contains(&r.probe) {
            let _ = writeln!(out, "  {}: {}", r.probe, r.about);
            seen.push(r.probe.clone());
        }
    }
    let _ = writeln!(
        out,
        "  flash = text (vectors + .text + .rodata) + .data; RAM = .data + .bss (stack/heap reservations not counted)"
    );
    out
}

pub fn json(rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "  {{\"target\": \"{}\", \"probe\": \"{}\", ",
            r.target, r.probe
        );
        match r.result {
            Measured::Sizes { text, data, bss } => {
                let _ = write!(
                    out,
                    "\"text\": {text}, \"data\": {data}, \"bss\": {bss}, \"flash\": {}, \"ram\": {}, ",
                    text + data,
                    data + bss
                );
            }
            Measured::Absent(_) => out.push_str("\"absent\": true, "),
        }
        let _ = write!(
            out,
            "\"flash_budget\": {}, \"ram_budget\": {}, \"over_budget\": {}}}",
            r.flash_budget,
            r.ram_budget,
            r.over_budget()
        );
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_llvm_and_gnu_berkeley_output() {
        let llvm = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n  10644\t      0\t    520\t  11164\t   2b9c\tprobe\n";
        assert_eq!(parse_berkeley(llvm), Some((10644, 0, 520)));
        let gnu = "   text    data     bss     dec     hex filename\n    700       8      16     724     2d4 probe\n";
        assert_eq!(parse_berkeley(gnu), Some((700, 8, 16)));
        assert_eq!(parse_berkeley("garbage"), None);
        let sysv = "probe  :\nsection size addr\n.text 3084 536870912\n.bss 532 2147483648\n.heap 0 2147484180\n.stack 4193772 2147484180\n";
        assert_eq!(reservations(sysv), 4193772);
    }

    #[test]
    fn budget_is_checked_on_flash_and_ram() {
        let row = |text, bss| Row {
            target: "t".into(),
            probe: "p".into(),
            about: String::new(),
            flash_budget: 1000,
            ram_budget: 100,
            result: Measured::Sizes {
                text,
                data: 10,
                bss,
            },
        };
        assert!(!row(990, 90).over_budget());
        assert!(row(991, 0).over_budget());
        assert!(row(0, 91).over_budget());
        assert!(json(&[row(1, 1)]).contains("\"flash\": 11"));
    }
}
