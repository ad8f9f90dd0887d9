//! 1. The board, from the target: its memory map (`memory.x`) and `cfg(board = …)`.
//! 2. The model: `FERRITE_BENCH_MODEL` (a `.fer` file), validated with the host runtime;
//!    its arena size, op count and output size become constants in `$OUT_DIR/bench.rs`.
//! 3. The input: `FERRITE_BENCH_INPUT`, the f32 values of input 0 as little-endian bytes,
//!    become `INPUT: [f32; N]` in flash (the firmware quantizes them with
//!    `Session::set_input_f32`, as `ferrite run` does on the host).
//!
//! Both paths are absolute or relative to the repository root. `cargo xtask mcu-bench`
//! writes the files and sets the variables.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MODEL_ENV: &str = "FERRITE_BENCH_MODEL";
const INPUT_ENV: &str = "FERRITE_BENCH_INPUT";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn file_from_env(var: &str) -> Result<PathBuf, String> {
    println!("cargo:rerun-if-env-changed={var}");
    let p = std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!(
                "{var} is not set: this firmware benchmarks one model chosen at build time; \
             `cargo xtask mcu-bench` sets {MODEL_ENV} and {INPUT_ENV}"
            )
        })?;
    let p = PathBuf::from(p);
    let p = if p.is_absolute() {
        p
    } else {
        repo_root().join(p)
    };
    let p = p
        .canonicalize()
        .map_err(|e| format!("{var}={}: {e}", p.display()))?;
    println!("cargo:rerun-if-changed={}", p.display());
    Ok(p)
}

fn run() -> Result<(), String> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    let target = std::env::var("TARGET").map_err(|_| "TARGET not set")?;
    println!("cargo::rustc-check-cfg=cfg(board, values(\"mps2-an386\", \"mps2-an505\"))");
    let board = match target.as_str() {
        "thumbv7em-none-eabihf" => "mps2-an386",
        "thumbv8m.main-none-eabihf" => "mps2-an505",
        other => {
            return Err(format!(
                "target {other}: the bench boards are thumbv7em-none-eabihf (mps2-an386) \
                 and thumbv8m.main-none-eabihf (mps2-an505)"
            ))
        }
    };
    println!("cargo:rustc-cfg=board=\"{board}\"");
    let memory = format!("memory-{board}.x");
    let map = std::fs::read(&memory).map_err(|e| format!("{memory}: {e}"))?;
    std::fs::write(out.join("memory.x"), map).map_err(|e| e.to_string())?;
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=build.rs");

    let model_path = file_from_env(MODEL_ENV)?;
    let bytes = std::fs::read(&model_path).map_err(|e| format!("{}: {e}", model_path.display()))?;
    let owned = ferrite::OwnedModel::new(&bytes)
        .map_err(|e| format!("{}: not a valid model: {e}", model_path.display()))?;
    let model = owned.model();
    let input_len = model.input_len(0).map_err(|e| format!("input 0: {e}"))?;
    let output = model.output(0).map_err(|e| format!("output 0: {e}"))?;
    let output_bytes =
        model.output_len(0).map_err(|e| format!("output 0: {e}"))? * output.dtype.size();
    let ops = model.num_ops();
    if model.num_inputs() != 1 || model.preprocess().is_some() {
        return Err(format!(
            "{}: the bench feeds one input tensor and runs no preprocessing pipeline",
            model_path.display()
        ));
    }

    let input_path = file_from_env(INPUT_ENV)?;
    let raw = std::fs::read(&input_path).map_err(|e| format!("{}: {e}", input_path.display()))?;
    if raw.len() != input_len * 4 {
        return Err(format!(
            "{}: {} bytes; input 0 of the model takes {input_len} f32 values ({} bytes)",
            input_path.display(),
            raw.len(),
            input_len * 4
        ));
    }
    let mut values = String::new();
    for c in raw.chunks_exact(4) {
        let bits = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let _ = writeln!(values, "    f32::from_bits(0x{bits:08x}),");
    }
    let src = format!(
        "/// The board (from the target).\n\
         pub const BOARD: &str = {board:?};\n\
         /// The model's `arena_size()`: the static arena's size.\n\
         pub const ARENA_SIZE: usize = {arena};\n\
         /// Ops of the model (one instruction count each).\n\
         pub const NUM_OPS: usize = {ops};\n\
         /// Bytes of output 0.\n\
         pub const OUTPUT_BYTES: usize = {output_bytes};\n\
         /// Input 0 as f32 values, from `{INPUT_ENV}`.\n\
         pub static INPUT: [f32; {input_len}] = [\n{values}];\n",
        arena = model.arena_size(),
    );
    std::fs::write(out.join("bench.rs"), src).map_err(|e| e.to_string())?;
    println!(
        "cargo:rustc-env=FERRITE_BENCH_MODEL_FILE={}",
        model_path.display()
    );
    Ok(())
}
