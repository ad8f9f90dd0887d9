//! Compute kernels.
//!
//! The public modules are the **reference kernels**: plain loops over output
//! coordinates that *define* the result of every op.
//!
//! - [`fixed`]: gemmlowp / TFLite fixed-point helpers (pure integer).
//! - [`f32`](mod@f32): float kernels (ONNX semantics).
//! - [`int8`]: quantized kernels following the TFLite int8 reference arithmetic.
//! - [`generic`]: dtype-agnostic data movement on bytes (transpose, concat, pad,
//!   strided slice) and the numpy broadcasting helper.
//!
//! Kernels take a parameter struct from [`params`] (shapes, window geometry) and, when
//! they accumulate, an output stage ([`QuantOut`]: bias, requantization table, zero
//! point and clamp; [`F32Out`]: bias and clamp): the reference, the drivers and every
//! SIMD module share these types, so a signature reads `(params, inputs, output stage,
//! output)` on every layer.
//!
//! # Contract shared by all kernels
//! - `no_std`, no allocation, no `unsafe` outside the SIMD modules and the entry points
//!   [`fast`] generates for them; every float function that is not a basic IEEE
//!   operation (`+ - * /`) goes through `libm`, also on std builds, so the reference
//!   computes the same bits on every target.
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
//! The reference implementations live in `reference/`. [`fast`] lists the kernel
//! families with optimized implementations (`families!`, one signature each) and
//! generates, per implementation, the entry points and its
//! [`Implementation`](fast::Implementation) table. `driver/` holds the loops shared by
//! every target, generic over a small set of vector primitives (`Lanes`) implemented by
//! `portable.rs` (plain unrolled loops, also used on Cortex-M) and the ISA modules
//! `x86_64.rs` (AVX2), `aarch64.rs` (NEON) and `wasm32.rs` (SIMD128), which hold only
//! their CPU-feature token and the intrinsics. `tests/support/suite.rs` (`kernel_tests!`)
//! tests every implementation available on the CPU against the reference (int8:
//! identical bytes); `benches/kernels.rs` measures them.
#[cfg(test)]
mod corners;
pub mod params;
mod reference;

pub use params::{
    BroadcastShapes, ConvParams, F32Out, FullyConnectedParams, LrnParams, PoolParams, QuantOut,
    RecurrentParams, RecurrentWeights,
};
pub use reference::{f32, fixed, generic, int8, recurrent};

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
