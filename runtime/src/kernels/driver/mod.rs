//! Loops shared by every optimized kernel, generic over the vector primitives
//! ([`Lanes`]) that each target implements.
//!
//! The drivers check at entry that the shapes are consistent with the slice lengths
//! and that the parameters fit the vector arithmetic (int8: input zero point in
//! `-128..=127`, so `x - x_zp` fits in i16 and `(x - x_zp) * w` in i16 exactly). When
//! a check fails they call the reference kernel, so an optimized kernel gives the
//! reference's result for *every* input, not only for validated models.
//!
//! int8 sums are i32 with wrapping addition, as in the reference. Wrapping addition
//! is associative and commutative (arithmetic modulo 2^32), so any summation order
//! gives the reference's bits; the products themselves are exact.
//!
//! f32 convolution accumulates each output over (input channel, ky, kx) in the
//! reference's order with separate multiply and add (no FMA), so it is bit-identical
//! to the reference. f32 fully connected sums in vector lanes (a different order);
//! see [`super::fast`] for the bound.
//!
//! - `lanes.rs`: the [`Lanes`] primitives every target implements, and the vectorizable
//!   int8 requantization of a row;
//! - `fc.rs`: fully connected;
//! - `geometry.rs`: the checked geometry of a convolution or pool (axes, tiles, the
//!   interior where the blocked kernels apply);
//! - `conv.rs`: the convolutions, tiled (any geometry);
//! - `blocked.rs`: the convolutions' blocked kernels (stride 1, wide rows);
//! - `pool.rs`: max pool;
//! - `quant.rs`: Quantize and Dequantize (the primitives of [`Lanes`] that default to
//!   the reference loop; x86-64 overrides them with AVX2).

mod blocked;
mod conv;
mod fc;
mod geometry;
mod lanes;
mod pool;
mod quant;

pub(crate) use conv::{f32_conv2d, int8_conv2d};
pub(crate) use fc::{f32_fully_connected, int8_fully_connected};
pub(crate) use lanes::Lanes;
pub(crate) use pool::max_pool2d;
pub(crate) use quant::{f32_dequantize_i8, f32_dequantize_u8, f32_quantize_i8, f32_quantize_u8};
