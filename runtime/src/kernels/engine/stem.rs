//! The NCHW-input f32 conv (the "stem"): a first layer with 1–4 input channels that
//! reads the graph's NCHW image itself and writes NHWC, so the model needs no
//! NCHW → NHWC transpose of its input ([`crate::Op::ConvNchw`], format 1.5).
//!
//! The weights are the f32 conv's packed panels ([`super::pack_f32_conv`]): `bias[16]`
//! then `w[taps][C][16]`. Each output is `clamp(bias + Σ x·w, min, max)`.
//!
//! On x86-64 with AVX-512 (`x86_avx512/stem.rs`) a kernel vectorised over 16 output
//! pixels of a row: each tap is one vector of 16 input values of a plane (stride 1: one
//! masked load; stride 2: two masked loads and `vpermt2ps` taking the even elements),
//! multiplied with each output channel's weight broadcast from memory (FMA), summed
//! from the bias in the order (tap, input channel) with the taps in the padding skipped;
//! the 8 or 16 channel vectors are then transposed into NHWC rows by `unpck` shuffles
//! and 4-channel stores. Its results are within the engine's f32 bound (module docs).
//! Horizontal strides above 2, and every other ISA, run [`transposed`]: the image
//! transposed into scratch and the ISA's NHWC conv — the computation of a model without
//! the op, bit for bit, in the same arena (the scratch is the transposed tensor's size).

use super::frame::geom::{need, Geom};
use super::pack::f32_conv_packed_len;
use super::types::{ConvShape, F32ConvFn, F32Out};
use crate::kernels::generic;
use crate::{Error, Result};

/// The largest input channel count of the NCHW-input conv.
pub const NCHW_MAX_C: usize = 4;

/// Checks `s` and the slice lengths for the NCHW-input conv: `1..=4` input channels,
/// a valid engine geometry (no overflow), `x` of `C·H·W`, `packed` of
/// [`f32_conv_packed_len`], `y` of `OH·OW·M` elements at least.
pub(super) fn check(s: &ConvShape, x: &[f32], packed: &[f32], y: &[f32]) -> Result<()> {
    if !(1..=NCHW_MAX_C).contains(&s.in_c) {
        return Err(Error::Unsupported);
    }
    let g = Geom::new(s)?;
    let len = f32_conv_packed_len(s.out_c, s.in_c, s.kernel).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(len, packed.len())?;
    need(g.out_len, y.len())?;
    Ok(())
}

/// The input coordinate of output coordinate `o`'s tap `k` (`None` in the padding).
#[inline(always)]
pub(super) fn coord(
    o: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    len: usize,
) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < len)
}

/// Elements of scratch [`super::f32_conv_nchw`] needs for `s`: the NHWC copy of the
/// image and the conv's padding row ([`super::conv_scratch_len`]), for the kernels that
/// run the transpose and the engine's conv. `None` when `s` is invalid.
pub(super) fn scratch_len(s: &ConvShape) -> Option<usize> {
    let g = Geom::new(s).ok()?;
    g.in_len.checked_add(if g.padded { g.c } else { 0 })
}

/// The NCHW-input conv of the ISAs without a kernel of their own (`check` passed,
/// `scratch` of [`scratch_len`]): the image transposed into `scratch`, then `conv`
/// (an engine f32 conv): the Transpose + `ConvNhwc` of a model without the op, bit for
/// bit.
pub(super) fn transposed(
    s: &ConvShape,
    x: &[f32],
    packed: &[f32],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
    conv: F32ConvFn,
) -> Result<()> {
    need(scratch_len(s).ok_or(Error::Unsupported)?, scratch.len())?;
    let (xt, pad) = scratch.split_at_mut(s.in_c * s.in_h * s.in_w);
    generic::transpose(
        bytemuck::cast_slice(&x[..xt.len()]),
        &[1, s.in_c, s.in_h, s.in_w],
        &[0, 2, 3, 1],
        4,
        bytemuck::cast_slice_mut(xt),
    );
    conv(s, xt, packed, out, y, pad)
}
