//! The NCHW-input f32 conv (the "stem"): a first layer with 1–4 input channels that
//! reads the graph's NCHW image itself and writes NHWC, so the model needs no
//! NCHW → NHWC transpose of its input ([`crate::Op::ConvNchw`], format 1.5).
//!
//! The weights are the f32 conv's packed panels ([`super::pack_f32_conv`]): `bias[16]`
//! then `w[taps][C][16]`. Each output is `clamp(bias + Σ x·w, min, max)`, summed from
//! the bias in the order (tap, input channel) as the engine's conv does, taps in the
//! padding skipped; within the bound of the module docs (f32 results) of the exact
//! value.
//!
//! Implementations: the portable loop here (every target; a multiply then an add), and
//! on x86-64 with AVX-512 (`x86_avx512/stem.rs`, FMA) a kernel vectorised over 16
//! output pixels of a row: each tap is one vector of 16 input values of a plane
//! (stride 1: one masked load; stride 2: two masked loads and `vpermt2ps` taking the
//! even elements), multiplied with each output channel's weight broadcast from memory;
//! the 8 or 16 channel vectors are then transposed into NHWC rows by `unpck` shuffles
//! and 4-channel stores. Horizontal strides other than 1 and 2 run the portable loop.

use super::frame::geom::{need, Geom};
use super::pack::f32_conv_packed_len;
use super::types::{ConvShape, NR};
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

/// The portable NCHW-input conv (`check` passed): one output pixel at a time, 16
/// channels of a panel in an array.
pub(super) fn portable(
    s: &ConvShape,
    x: &[f32],
    packed: &[f32],
    min: f32,
    max: f32,
    y: &mut [f32],
) {
    let (c, taps, m) = (s.in_c, s.taps(), s.out_c);
    let panel_len = NR + taps * c * NR;
    for oy in 0..s.out_h {
        for ox in 0..s.out_w {
            let pixel = (oy * s.out_w + ox) * m;
            for (p, panel) in packed
                .chunks_exact(panel_len)
                .take(m.div_ceil(NR))
                .enumerate()
            {
                let mut acc = [0f32; NR];
                acc.copy_from_slice(&panel[..NR]);
                for ky in 0..s.kernel[0] {
                    let Some(iy) = coord(oy, ky, s.stride[0], s.dilation[0], s.pad[0], s.in_h)
                    else {
                        continue;
                    };
                    for kx in 0..s.kernel[1] {
                        let Some(ix) = coord(ox, kx, s.stride[1], s.dilation[1], s.pad[1], s.in_w)
                        else {
                            continue;
                        };
                        let tap = ky * s.kernel[1] + kx;
                        for ci in 0..c {
                            let v = x[(ci * s.in_h + iy) * s.in_w + ix];
                            let w = &panel[NR + (tap * c + ci) * NR..][..NR];
                            for (a, &w) in acc.iter_mut().zip(w) {
                                *a += v * w;
                            }
                        }
                    }
                }
                let n = (m - p * NR).min(NR);
                for (o, &a) in y[pixel + p * NR..][..n].iter_mut().zip(&acc) {
                    *o = if a < min {
                        min
                    } else if a > max {
                        max
                    } else {
                        a
                    };
                }
            }
        }
    }
}
