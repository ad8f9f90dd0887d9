//! Harnesses and mutators of ferrite's fuzz targets (see `README.md`). Each target in
//! `fuzz_targets/` is a few lines over this library, so a crash found by a target can
//! be replayed by a test that calls the same function.

pub mod c_abi;
pub mod fer;
pub mod mutate;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod rng;
pub mod runtime;
pub mod verify;
