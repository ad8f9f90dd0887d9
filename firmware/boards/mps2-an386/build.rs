//! 1. The model: `FERRITE_MODEL` (or the default converted sensor CNN), validated on the
//!    host; its arena size becomes `ARENA_SIZE` in `$OUT_DIR/model.rs`.
//! 2. The trace: `examples/sensor/trace.csv` (integer milli-g `ax,ay,az`) to
//!    `$OUT_DIR/trace.rs`, a `[[i16; 3]; N]` in flash.
//! 3. The update demo's files (`src/update.rs`): `key.pub`, `v1.fer`, `v2.fer`, `v3.fer`
//!    of `FERRITE_UPDATE_DIR` copied to `$OUT_DIR` (empty when unset), and
//!    `$OUT_DIR/update.rs`: the host runtime's output bytes for the trace's first window.
//! 4. The memory map and cortex-m-rt's linker script for the binary.

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

/// The update demo's inputs (see the module docs).
fn update_fixtures(
    out: &std::path::Path,
    model: &std::path::Path,
    first: &[[i16; 3]],
) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=FERRITE_UPDATE_DIR");
    let dir = std::env::var_os("FERRITE_UPDATE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let mut max_len = 0usize;
    for name in ["key.pub", "v1.fer", "v2.fer", "v3.fer"] {
        let bytes = match &dir {
            Some(d) => {
                let p = d.join(name);
                println!("cargo:rerun-if-changed={}", p.display());
                std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => Vec::new(),
        };
        max_len = max_len.max(bytes.len());
        std::fs::write(out.join(name), bytes).map_err(|e| e.to_string())?;
    }
    // The expected output of every update's model (they are signed copies of the
    // bundled one) on the first window, from the host runtime.
    let file = std::fs::read(model).map_err(|e| format!("{}: {e}", model.display()))?;
    let aligned = ferrite::AlignedModel::new(&file);
    let m = aligned.model().map_err(|e| e.to_string())?;
    let mut arena = vec![0u8; m.arena_size() + 16];
    let mut s = ferrite::Session::new(&m, &mut arena).map_err(|e| e.to_string())?;
    let w = ferrite_firmware::WINDOW;
    let mut x = vec![0f32; ferrite_firmware::INPUT_LEN];
    for (i, sample) in first.iter().take(w).enumerate() {
        for (c, &mg) in sample.iter().enumerate() {
            x[c * w + i] = ferrite_firmware::mg_to_input(mg);
        }
    }
    s.set_input_f32(0, &x).map_err(|e| e.to_string())?;
    s.run().map_err(|e| e.to_string())?;
    let expected = s.output_bytes(0).map_err(|e| e.to_string())?;
    let src = format!(
        "/// The host runtime's output bytes for the first trace window.\n\
         pub const EXPECTED: [u8; {n}] = {expected:?};\n\
         /// The largest update file (bytes); 0 without `FERRITE_UPDATE_DIR`.\n\
         pub const MAX_FILE: usize = {max_len};\n",
        n = expected.len()
    );
    std::fs::write(out.join("update.rs"), src).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    let bundled = ferrite_firmware::build::bundle_model()?;

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
    let mut first = Vec::new();
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
        if first.len() < ferrite_firmware::WINDOW {
            first.push([v[0], v[1], v[2]]);
        }
        n += 1;
    }
    let src = format!(
        "/// `examples/sensor/trace.csv`: {n} samples of `[x, y, z]` milli-g at 50 Hz.\n\
         pub static TRACE: [[i16; 3]; {n}] = [\n{rows}];\n"
    );
    std::fs::write(out.join("trace.rs"), src).map_err(|e| e.to_string())?;
    shifted_trace(&out)?;
    update_fixtures(&out, &bundled.path, &first)?;

    std::fs::write(out.join("memory.x"), include_bytes!("memory.x")).map_err(|e| e.to_string())?;
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
