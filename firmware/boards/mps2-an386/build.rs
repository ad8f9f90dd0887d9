//! 1. The model: `FERRITE_MODEL` (or the default converted sensor CNN), validated on the
//!    host; its arena size becomes `ARENA_SIZE` in `$OUT_DIR/model.rs`.
//! 2. The trace: `examples/sensor/trace.csv` (integer milli-g `ax,ay,az`) to
//!    `$OUT_DIR/trace.rs`, a `[[i16; 3]; N]` in flash.
//! 3. The memory map and cortex-m-rt's linker script for the binary.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `$OUT_DIR/trace_shifted.rs`: `TRACE_SHIFTED`, the trace named by
/// `FERRITE_SHIFTED_TRACE` (same CSV layout; the monitor demo replays it after the
/// normal trace), empty when the variable is unset.
fn shifted_trace(out: &std::path::Path) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=FERRITE_SHIFTED_TRACE");
    let mut rows = String::new();
    let mut n = 0usize;
    if let Some(p) = std::env::var_os("FERRITE_SHIFTED_TRACE").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        println!("cargo:rerun-if-changed={}", p.display());
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let v: Vec<i16> = line
                .split(',')
                .map(|f| f.trim().parse::<i16>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}:{}: {e}", p.display(), i + 1))?;
            if v.len() != 3 {
                return Err(format!("{}:{}: expected 3 columns", p.display(), i + 1));
            }
            let _ = writeln!(rows, "    [{}, {}, {}],", v[0], v[1], v[2]);
            n += 1;
        }
    }
    let src = format!(
        "/// The trace of `FERRITE_SHIFTED_TRACE` (milli-g), empty when unset.\n\
         pub static TRACE_SHIFTED: [[i16; 3]; {n}] = [\n{rows}];\n"
    );
    std::fs::write(out.join("trace_shifted.rs"), src).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    ferrite_firmware::build::bundle_model()?;

    let trace = ferrite_firmware::build::repo_root().join("examples/sensor/trace.csv");
    println!("cargo:rerun-if-changed={}", trace.display());
    let text = std::fs::read_to_string(&trace).map_err(|e| format!("{}: {e}", trace.display()))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == "ax,ay,az" => {}
        _ => {
            return Err(format!(
                "{}: expected the header `ax,ay,az`",
                trace.display()
            ))
        }
    }
    let mut rows = String::new();
    let mut n = 0usize;
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let v: Vec<i16> = line
            .split(',')
            .map(|f| f.trim().parse::<i16>())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                format!(
                    "{}:{}: {e} (integer milli-g expected)",
                    trace.display(),
                    i + 1
                )
            })?;
        if v.len() != 3 {
            return Err(format!(
                "{}:{}: {} columns, expected 3",
                trace.display(),
                i + 1,
                v.len()
            ));
        }
        let _ = writeln!(rows, "    [{}, {}, {}],", v[0], v[1], v[2]);
        n += 1;
    }
    let src = format!(
        "/// `examples/sensor/trace.csv`: {n} samples of `[x, y, z]` milli-g at 50 Hz.\n\
         pub static TRACE: [[i16; 3]; {n}] = [\n{rows}];\n"
    );
    std::fs::write(out.join("trace.rs"), src).map_err(|e| e.to_string())?;
    shifted_trace(&out)?;

    std::fs::write(out.join("memory.x"), include_bytes!("memory.x")).map_err(|e| e.to_string())?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
