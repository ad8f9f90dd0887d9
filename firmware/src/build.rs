//! Build-script support for the boards (feature `build`): pick the model file, validate
//! it on the host and hand its sizes to the firmware as constants.
//!
//! In a board's `build.rs`:
//! ```ignore
//! fn main() {
//!     if let Err(e) = ferrite_firmware::build::bundle_model() {
//!         panic!("{e}");
//!     }
//! }
//! ```
//! and in the firmware:
//! ```ignore
//! include!(concat!(env!("OUT_DIR"), "/model.rs")); // ARENA_SIZE, INPUT_LEN, …
//! static MODEL: &[u8] = ferrite::include_model!(env!("FERRITE_MODEL_FILE"));
//! ```

use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::{format, println};

/// Environment variable naming the `.fer` file to bundle (absolute, or relative to the
/// repository root).
pub const MODEL_ENV: &str = "FERRITE_MODEL";

/// The model bundled when [`MODEL_ENV`] is unset, relative to the repository root: the
/// int8 conversion of `examples/sensor/sensor_cnn.onnx` (see [`CONVERT_COMMAND`]).
pub const DEFAULT_MODEL: &str = "target/firmware/sensor_cnn_int8.fer";

/// How [`DEFAULT_MODEL`] is made, from the repository root.
pub const CONVERT_COMMAND: &str = "cargo run --release -p ferrite-tool -- convert examples/sensor/sensor_cnn.onnx -o target/firmware/sensor_cnn_int8.fer --precision int8 --calibration examples/sensor/calib.csv --unfused-stem --labels idle,walk,run,shake";

/// What the build script learnt about the model.
#[derive(Debug, Clone)]
pub struct Bundled {
    /// Absolute path of the model file.
    pub path: PathBuf,
    /// [`ferrite::Model::arena_size`].
    pub arena_size: usize,
    /// Elements of input 0.
    pub input_len: usize,
    /// Elements of output 0.
    pub output_len: usize,
    /// File size in bytes (it goes to flash).
    pub file_len: usize,
    /// [`ferrite::Model::monitor_words`] (0: the model has no monitoring baseline).
    pub monitor_words: usize,
}

/// The repository root (parent of the `firmware/` package).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Resolves the model path: `$FERRITE_MODEL` or [`DEFAULT_MODEL`].
pub fn model_path() -> Result<PathBuf, String> {
    let root = repo_root();
    match std::env::var_os(MODEL_ENV) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            let p = if p.is_absolute() { p } else { root.join(p) };
            if !p.is_file() {
                return Err(format!("{MODEL_ENV}={}: no such file", p.display()));
            }
            Ok(p)
        }
        _ => {
            let p = root.join(DEFAULT_MODEL);
            if !p.is_file() {
                return Err(format!(
                    "no model to bundle: set {MODEL_ENV}=/path/to/model.fer, or make the default \
                     model {} with (from {}):\n    {CONVERT_COMMAND}",
                    p.display(),
                    root.display()
                ));
            }
            Ok(p)
        }
    }
}

/// Loads and validates the model at `path` with the host runtime and checks it takes
/// one `CHANNELS × WINDOW` window.
pub fn inspect(path: &Path) -> Result<Bundled, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let aligned = ferrite::AlignedModel::new(&bytes);
    let model = aligned
        .model()
        .map_err(|e| format!("{}: not a valid model: {e}", path.display()))?;
    let input_len = model
        .input_len(0)
        .map_err(|e| format!("{}: input 0: {e}", path.display()))?;
    let output_len = model
        .output_len(0)
        .map_err(|e| format!("{}: output 0: {e}", path.display()))?;
    if input_len != crate::INPUT_LEN {
        return Err(format!(
            "{}: input 0 has {input_len} values; the firmware feeds one window of {} channels x {} samples = {}",
            path.display(),
            crate::CHANNELS,
            crate::WINDOW,
            crate::INPUT_LEN
        ));
    }
    if output_len == 0 || output_len > crate::app::MAX_SCORES {
        return Err(format!(
            "{}: output 0 has {output_len} values; the firmware supports 1..={}",
            path.display(),
            crate::app::MAX_SCORES
        ));
    }
    let path = path
        .canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Bundled {
        path,
        arena_size: model.arena_size(),
        monitor_words: model.monitor_words(),
        input_len,
        output_len,
        file_len: bytes.len(),
    })
}

/// For a board's `build.rs`: resolves and validates the model, writes
/// `$OUT_DIR/model.rs` (`MODEL_PATH`, `MODEL_LEN`, `ARENA_SIZE`, `INPUT_LEN`,
/// `OUTPUT_LEN`, `MONITOR_WORDS` constants), sets `FERRITE_MODEL_FILE` for `env!` and asks cargo to
/// rebuild when the variable or the file changes.
pub fn bundle_model() -> Result<Bundled, String> {
    println!("cargo:rerun-if-env-changed={MODEL_ENV}");
    let path = model_path()?;
    println!("cargo:rerun-if-changed={}", path.display());
    let b = inspect(&path)?;
    let out = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set (not in a build script?)")?;
    let consts = format!(
        "/// The bundled model file (chosen at build time by `FERRITE_MODEL`).\n\
         pub const MODEL_PATH: &str = {path:?};\n\
         /// Bytes of the model file (in flash).\n\
         pub const MODEL_LEN: usize = {len};\n\
         /// The model's `arena_size()`, read by the build script: the static arena's size.\n\
         pub const ARENA_SIZE: usize = {arena};\n\
         /// Elements of input 0.\n\
         pub const INPUT_LEN: usize = {inp};\n\
         /// Elements of output 0.\n\
         pub const OUTPUT_LEN: usize = {outp};\n\
         /// The model's `monitor_words()`: the static monitor storage (0: no baseline).\n\
         pub const MONITOR_WORDS: usize = {mon};\n",
        path = b.path.display().to_string(),
        len = b.file_len,
        arena = b.arena_size,
        inp = b.input_len,
        outp = b.output_len,
        mon = b.monitor_words,
    );
    std::fs::write(Path::new(&out).join("model.rs"), consts)
        .map_err(|e| format!("write model.rs: {e}"))?;
    println!("cargo:rustc-env=FERRITE_MODEL_FILE={}", b.path.display());
    Ok(b)
}
