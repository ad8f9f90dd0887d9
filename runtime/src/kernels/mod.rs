//! Compute kernels.
//!
//! The public modules are the **reference kernels**: plain loops over output
//! coordinates that *define* the result of every op.
//!
//! - [`fixed`]: gemmlowp / TFLite fixed-point helpers (pure integer).
//! - [`f32`](mod@f32): float kernels (ONNX semantics).
//! - [`int8`]: quantized kernels following the TFLite int8 reference arithmetic.
//! - [`generic`]: dtype-agnostic data movement on bytes (transpose, concat, pad) and the
//!   numpy broadcasting helper.
//!
//! # Contract shared by all kernels
//! - `no_std`, no allocation, no `unsafe`; every float function that is not a basic
//!   IEEE operation (`+ - * /`) goes through `libm`, also on std builds, so the
//!   reference computes the same bits on every target.
//! - Shapes, lengths and parameters are validated once by the loader; a kernel given
//!   consistent shapes never panics. Kernels do not re-validate: on inconsistent input
//!   they may produce garbage (or, where checking is free, do nothing), but all integer
//!   arithmetic wraps and divisors are guarded so no arithmetic panic is reachable from
//!   parameter values alone.
//! - int8 kernels are bit-exact contracts: an optimized kernel must produce identical
//!   bytes. f32 kernels accumulate in f32 in the documented order; optimized float
//!   kernels may reorder and must agree within the documented bound of the test suite
//!   (`tests/kernels_f32.rs`).
//!
//! # Layout for optimized kernels
//! The reference implementations live in `reference/`. Target-specific kernels
//! (`x86_64.rs`, `aarch64.rs`, `wasm32.rs`, `cortex_m.rs`, …) sit beside it and are
//! tested against the reference (int8: identical bytes) by the same test suites.
mod reference;

pub use reference::{f32, fixed, generic, int8};
