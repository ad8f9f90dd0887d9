//! # ferrite-tool — the host side of ferrite
//!
//! Converts ONNX models to `.fer` files (f32, f16 or int8), and validates, inspects,
//! runs and benchmarks them. The `ferrite` binary is a thin command-line layer over
//! these modules; tests and the conformance harness call them directly.
//!
//! | module | role |
//! |---|---|
//! | [`import`] | source files → IR: ONNX through tract, ONNX-ML (scikit-learn) read directly |
//! | [`ir`] | the converter's graph of ferrite ops, and its rewrite passes |
//! | [`emit`] | IR → `.fer` bytes in f32, f16 or int8 (what each op becomes: [`emit::plan`]) |
//! | [`quant`] | calibration and int8 parameter arithmetic |
//! | [`mod@convert`] | the `convert` pipeline: import, emit, calibrate, golden vectors, provenance |
//! | [`batch`] | batch files (`--batch N`): N rows per inference, the batch-1 file's bits |
//! | [`mod@reference`] | tract as the float reference |
//! | [`validate`], [`inspect`], [`mod@bench`], [`run`] | the other commands |
//! | [`args`] | checked command-line values, output-path guards, `--calibration` binding |
//! | [`monitor`] | baselines for `convert --baseline`, and `ferrite monitor` |
//! | [`data`] | CSV / `.npy` / JSON data files |
//! | [`feed`] | data files bound to a model's inputs (`-i FILE`, `-i NAME=FILE`) |
//! | [`output`] | what `run` writes: CSV / JSON / `.npy`, one file per output or a table |
//! | [`preprocess`] | preprocessing steps, `FEATURES.toml`, `ferrite preprocess` |
//! | [`mod@sign`] | `keygen`, `sign`, `verify`: Ed25519 model signatures |

// A host tool: std is the point, the workspace's no_std lints do not apply.
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

pub mod args;
pub mod batch;
pub mod bench;
mod calibration;
pub mod convert;
pub mod data;
pub mod emit;
pub mod error;
pub mod feed;
mod golden;
pub mod import;
pub mod inspect;
pub mod ir;
pub mod monitor;
pub mod output;
pub mod preprocess;
pub mod quant;
pub mod quickstart;
pub mod reference;
pub mod run;
pub mod sign;
pub mod validate;

pub use convert::{convert, ConvertOptions, ConvertReport, Precision};
pub use error::{Error, Result};
