//! The `onnx_import` fuzz target's harness and mutator, built in the main workspace:
//! the same source files as the cargo-fuzz crate in `fuzz/` (`fuzz/src/onnx.rs`,
//! `fuzz/src/rng.rs`), compiled only with the `fuzz` feature. See `fuzz/README.md`,
//! "onnx_import in CI".

#[cfg(feature = "fuzz")]
#[path = "../../src/onnx.rs"]
pub mod onnx;
#[cfg(feature = "fuzz")]
#[path = "../../src/rng.rs"]
pub mod rng;
