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
//! - `no_std`, no allocation, no `unsafe` outside the SIMD modules; every float
//!   function that is not a basic IEEE operation (`+ - * /`) goes through `libm`,
//!   also on std builds, so the reference computes the same bits on every target.
//! - Shapes, lengths and parameters are validated once by the loader; a kernel given
//!   consistent shapes never panics. Kernels do not re-validate: on inconsistent input
//!   they may produce garbage (or, where checking is free, do nothing), but all integer
//!   arithmetic wraps and divisors are guarded so no arithmetic panic is reachable from
//!   parameter values alone.
//! - int8 kernels are bit-exact contracts: an optimized kernel must produce identical
//!   bytes. f32 kernels accumulate in f32 in the documented order; optimized float
//!   kernels may reorder and must agree within a documented bound (see [`fast`],
//!   tested by `tests/kernels_opt.rs`).
//!
//! # Layout for optimized kernels
//! The reference implementations live in `reference/`. [`fast`] dispatches to the
//! optimized kernels: `driver.rs` holds the loops shared by every target, generic over
//! a small set of vector primitives implemented by `portable.rs` (plain unrolled
//! loops, also used on Cortex-M) and the SIMD modules `x86_64.rs` (AVX2),
//! `aarch64.rs` (NEON) and `wasm32.rs` (SIMD128), the only modules allowed `unsafe`.
//! `tests/kernels_opt.rs` tests every implementation available on the CPU against
//! the reference (int8: identical bytes); `benches/kernels.rs` measures them.
mod reference;

pub use reference::{extra, f32, fixed, generic, int8};

pub mod engine;
pub mod fast;

#[cfg(target_arch = "aarch64")]
mod aarch64;
mod driver;
mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(target_arch = "x86_64")]
mod x86_64;
