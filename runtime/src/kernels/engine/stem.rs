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
//! Horizontal strides above 2, and every other ISA, run [`transposed`]: per band of 8
//! output rows, the input rows it reads transposed into scratch and the ISA's NHWC conv
//! over them — each output the computation of a model without the op, bit for bit,
//! with a scratch of a band's rows instead of the whole transposed image.
//!
//! The int8 form ([`super::i8_conv_nchw`], [`crate::Op::ConvNchwI8`], format 1.6) reads the
//! f32 image and quantizes it on the way: per band, each input row is quantized
//! (the `Quantize` op's kernel) and scattered into the band's NHWC rows, then the
//! CPU's int8 conv runs on them — the bytes of `Quantize`, `Transpose` and the int8
//! `ConvNhwc`, without their two full-size passes over the image. With AVX-512 VNNI
//! and VBMI ([`i8_rows`], `x86_avx512/stem_rows.rs`; dilation 1, horizontal stride 1
//! or 2, up to 64 taps × channels) the band's rows are quantized, one call per plane,
//! and a kernel over 16 output pixels gathers each group of 4 taps with one
//! `vpermt2b` (the padding columns masked to `x_zp` in the first and last blocks);
//! a single row (a 1D first layer of kernel height 1, `x86_avx512/stem_row1.rs`) is
//! interleaved into one padded NHWC row instead, whose bytes are in the packed
//! weights' order (one `vpermb` per quad, no re-order). With VNNI alone,
//! [`i8_direct`] reads the planes with masked loads. Both quantize with
//! `x86_avx512/stem_quant.rs` (the `Quantize` bytes, by the reciprocal where it gives
//! them, else by the division).

use super::frame::geom::{need, Geom};
use super::pack::f32_conv_packed_len;
use super::types::{ConvShape, F32ConvFn, F32Out, I8ConvFn, I8Out};
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

/// Output rows per band of [`transposed`].
const BAND: usize = 8;

/// The output rows `r0..r1` as their own conv: the first input row (inside the image)
/// they read, and the band's shape, whose `in_h` rows start there (the top padding
/// left above that row).
fn band_rows(s: &ConvShape, r0: usize, r1: usize) -> (usize, ConvShape) {
    let first = (r0 * s.stride[0]).saturating_sub(s.pad[0]).min(s.in_h);
    let reach = (r1 - 1) * s.stride[0] + (s.kernel[0] - 1) * s.dilation[0] + 1;
    let end = reach.saturating_sub(s.pad[0]).min(s.in_h);
    let band = ConvShape {
        in_h: end.saturating_sub(first),
        out_h: r1 - r0,
        pad: [s.pad[0].saturating_sub(r0 * s.stride[0]), s.pad[1]],
        ..*s
    };
    (first, band)
}

/// Elements of scratch [`super::f32_conv_nchw`] needs for `s`: the NHWC copy of the
/// input rows of [`BAND`] output rows and the conv's padding row
/// ([`super::conv_scratch_len`]), for the kernels that run the engine's conv. `None`
/// when `s` is invalid.
pub(super) fn scratch_len(s: &ConvShape) -> Option<usize> {
    band_len(s, &Geom::new(s).ok()?)
}

/// [`scratch_len`] of `s` with its geometry `g`.
fn band_len(s: &ConvShape, g: &Geom) -> Option<usize> {
    // The most rows a band reads (`Geom::new` checked that the reach fits).
    let n = BAND.min(s.out_h).max(1);
    let rows = ((n - 1) * s.stride[0] + (s.kernel[0] - 1) * s.dilation[0] + 1).min(s.in_h);
    let band = rows.checked_mul(s.in_w)?.checked_mul(s.in_c)?;
    band.checked_add(if g.padded { g.c } else { 0 })
}

/// The NCHW-input conv of the ISAs without a kernel of their own (`check` passed,
/// `scratch` of [`scratch_len`]): per band of [`BAND`] output rows, the input rows it
/// reads transposed into `scratch`, then `conv` (an engine f32 conv) over them — each
/// output the same sum as the Transpose + `ConvNhwc` of a model without the op, bit
/// for bit.
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
    let (w, c, row_out) = (s.in_w, s.in_c, s.out_w * s.out_c);
    for r0 in (0..s.out_h).step_by(BAND) {
        let r1 = (r0 + BAND).min(s.out_h);
        let (first, band) = band_rows(s, r0, r1);
        let rows = band.in_h;
        let (xt, pad) = scratch.split_at_mut(rows * w * c);
        for (r, dst) in xt.chunks_exact_mut(w * c).enumerate() {
            for ci in 0..c {
                let src = &x[(ci * s.in_h + first + r) * w..][..w];
                for (d, &v) in dst.iter_mut().skip(ci).step_by(c).zip(src) {
                    *d = v;
                }
            }
        }
        conv(
            &band,
            xt,
            packed,
            out,
            &mut y[r0 * row_out..r1 * row_out],
            pad,
        )?;
    }
    Ok(())
}

/// Bytes of scratch [`super::i8_conv_nchw`] needs for `s`: the quantized NHWC copy of the
/// input rows of a band of 8 output rows, one quantized input row, and the conv's
/// padding row ([`super::conv_scratch_len`]); on x86-64, at least the quantized rows of
/// such a band for the AVX-512 VBMI kernel when it takes `s` (on any CPU, so that the
/// size does not depend on it). `None` when `s` is invalid.
pub fn i8_conv_nchw_scratch_len(s: &ConvShape) -> Option<usize> {
    let g = Geom::new(s).ok()?;
    #[cfg(target_arch = "x86_64")]
    let rows = super::x86_avx512::stem_rows::Plan::new(s).and_then(|p| rows_scratch_len(s, &p));
    #[cfg(not(target_arch = "x86_64"))]
    let rows = None;
    i8_scratch_len(s, &g, rows)
}

/// [`i8_conv_nchw_scratch_len`] of `s` with its geometry `g` and the VBMI kernel's
/// scratch `rows` when it takes `s`.
fn i8_scratch_len(s: &ConvShape, g: &Geom, rows: Option<usize>) -> Option<usize> {
    let len = band_len(s, g)?.checked_add(s.in_w)?;
    Some(rows.map_or(len, |r| len.max(r)))
}

/// Bytes of scratch of [`i8_rows`] (the quantized rows of [`BAND`] output
/// rows, plane by plane) for `s` and its plan.
#[cfg(target_arch = "x86_64")]
fn rows_scratch_len(s: &ConvShape, plan: &super::x86_avx512::stem_rows::Plan) -> Option<usize> {
    use super::x86_avx512::stem_rows::{band_rows, BAND};
    plan.scratch_len(s.in_c, band_rows(s, BAND.min(s.out_h)))
}

/// [`super::i8_conv_nchw`] on the AVX-512 VNNI + VBMI kernel (`x86_avx512/stem_rows.rs`),
/// when it takes `s`: per band of output rows, the rows it reads quantized (the
/// `Quantize` kernel's bytes from `x86_avx512/stem_quant.rs`, which multiplies by the
/// reciprocal where that gives them; one call per plane or one for all the planes when
/// the band is the whole image, `x_zp` for the padding rows) into `scratch`, then the
/// kernel over them. `None` when the kernel does not take `s` or this CPU lacks VBMI.
/// The shape is checked once here (the kernel's plan keeps it).
#[cfg(target_arch = "x86_64")]
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) fn i8_rows(
    t: super::x86_avx512::Vnni,
    s: &ConvShape,
    (x, x_scale, x_zp): (&[f32], f32, i32),
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Option<Result<()>> {
    use super::x86_avx512::stem_rows::{self as k, Plan};
    if !super::x86_avx512::vbmi() {
        return None;
    }
    if let Some(r) = one_row(t, s, (x, x_scale, x_zp), packed, out, y, scratch) {
        return Some(r);
    }
    let plan = Plan::new(s)?;
    let g = Geom::new(s).ok()?;
    let need_len = rows_scratch_len(s, &plan)?;
    if out.residual.is_some() {
        return Some(Err(Error::Unsupported));
    }
    let all = i8_scratch_len(s, &g, Some(need_len)).ok_or(Error::Unsupported);
    if let Err(e) = all.and_then(|n| i8_lens(s, &g, x, Some((packed, out)), y, (scratch, n))) {
        return Some(Err(e));
    }
    let Some(scratch) = scratch.get_mut(..need_len) else {
        return Some(Err(Error::Unsupported));
    };
    // One row (a 1D first layer): the row kernel, when it takes the shape.
    if super::x86_avx512::stem_row1::row1(t, s, (x, x_scale, x_zp), packed, out, y, scratch)
        .is_some()
    {
        return Some(Ok(()));
    }
    // Per plane, the band's padded rows `r` (image row `top + r`): the ones inside the
    // image are consecutive in `x` and in scratch, one Quantize call; a padding row
    // is `x_zp`. A band of the whole image without padding rows: the planes are
    // consecutive too, one call.
    let (w, zp, c) = (s.in_w, x_zp as i8, s.in_c);
    let fill = |top: isize, rows: usize, xq: &mut [i8]| {
        let lo = (-top).clamp(0, rows as isize) as usize;
        let hi = (s.in_h as isize - top).clamp(lo as isize, rows as isize) as usize;
        let planes = &mut xq[k::FRONT..];
        if lo == 0 && hi == rows && rows == s.in_h {
            let n = c * rows * w;
            let (src, dst) = (&x[..n], &mut planes[..n]);
            super::x86_avx512::stem_quant::quantize_i8(t, src, x_scale, x_zp, dst);
            return;
        }
        for (ci, plane) in planes.chunks_exact_mut(rows * w).enumerate() {
            plane[..lo * w].fill(zp);
            plane[hi * w..].fill(zp);
            if hi > lo {
                let first = (ci * s.in_h) as isize + top + lo as isize;
                let src = &x[first as usize * w..][..(hi - lo) * w];
                super::x86_avx512::stem_quant::quantize_i8(
                    t,
                    src,
                    x_scale,
                    x_zp,
                    &mut plane[lo * w..hi * w],
                );
            }
        }
    };
    k::run(t, (&plan, x_zp), scratch, packed, out, y, fill);
    Some(Ok(()))
}

/// [`i8_rows`] on a small one-row shape (a 1D first layer that `stem_row1.rs`
/// takes, at most 4096 output channels): the same checks in the same order, the
/// geometry and scratch lengths computed directly (no overflow at these sizes), then
/// the row kernel. `None` when the shape is not of this form or the row kernel does
/// not take it (the generic path then runs and checks again).
#[cfg(target_arch = "x86_64")]
fn one_row(
    t: super::x86_avx512::Vnni,
    s: &ConvShape,
    (x, x_scale, x_zp): (&[f32], f32, i32),
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Option<Result<()>> {
    use super::x86_avx512::stem_rows::FRONT;
    let (c, w, sx, [kh, kw], pl) = (s.in_c, s.in_w, s.stride[1], s.kernel, s.pad[1]);
    // Within `stem_row1::row1`'s shapes and `stem_rows::Plan::new`'s (whose other
    // conditions these imply: `15·sx + kw <= 15·sx·c + 4·nq <= 64`, `nq <= 16`).
    let ok = (1..=3).contains(&c)
        && s.in_h == 1
        && s.out_h == 1
        && kh == 1
        && s.pad[0] == 0
        && s.stride[0] >= 1
        && s.dilation == [1, 1]
        && (1..=2).contains(&sx)
        && (1..=64).contains(&w)
        && (1..=64).contains(&kw)
        && pl <= 16
        && (1..=256).contains(&s.out_w)
        && (1..=4096).contains(&s.out_c)
        && 15 * sx * c + 4 * (kw * c).div_ceil(4) <= 64;
    let last = (s.out_w - 1) / 16 * 16;
    if !ok || !(last == 0 || (last - 1) * sx + kw <= w + pl) {
        return None;
    }
    if out.residual.is_some() {
        return Some(Err(Error::Unsupported));
    }
    // `Geom::new`'s `padded`, `rows_scratch_len` (one padded row) and `i8_scratch_len`.
    let reach = (s.out_w - 1) * sx + kw - 1;
    let padded = pl > 0 || reach >= w + pl;
    let need_len = w * c + FRONT + ((s.out_w - 1) * sx + 64).saturating_sub(w);
    let all = (w * c + if padded { c } else { 0 } + w).max(need_len);
    // `i8_lens`.
    let lens = need(c * w, x.len())
        .and_then(|()| need(s.out_w * s.out_c, y.len()))
        .and_then(|()| need(all, scratch.len()))
        .and_then(|()| {
            let len = super::pack::i8_conv_packed_len_as(out.header, s.out_c, c, s.kernel);
            need(len.ok_or(Error::Unsupported)?, packed.len())
        });
    if let Err(e) = lens {
        return Some(Err(e));
    }
    let xq = &mut scratch[..need_len];
    super::x86_avx512::stem_row1::row1(t, s, (x, x_scale, x_zp), packed, out, y, xq)
        .map(|()| Ok(()))
}

/// The checks of both int8 paths: channels, the geometry and the slice lengths
/// (`packed` for the direct kernel; the int8 conv checks its own).
fn i8_check(
    s: &ConvShape,
    x: &[f32],
    packed: Option<(&[u8], &I8Out)>,
    y: &[i8],
    scratch: &[i8],
) -> Result<()> {
    if !(1..=NCHW_MAX_C).contains(&s.in_c) {
        return Err(Error::Unsupported);
    }
    let g = Geom::new(s)?;
    let n = i8_conv_nchw_scratch_len(s).ok_or(Error::Unsupported)?;
    i8_lens(s, &g, x, packed, y, (scratch, n))
}

/// The slice lengths of [`i8_check`], with `s`'s geometry `g` and its scratch length.
fn i8_lens(
    s: &ConvShape,
    g: &Geom,
    x: &[f32],
    packed: Option<(&[u8], &I8Out)>,
    y: &[i8],
    (scratch, len): (&[i8], usize),
) -> Result<()> {
    need(g.in_len, x.len())?;
    need(g.out_len, y.len())?;
    need(len, scratch.len())?;
    if let Some((p, o)) = packed {
        let len = super::pack::i8_conv_packed_len_as(o.header, s.out_c, s.in_c, s.kernel);
        need(len.ok_or(Error::Unsupported)?, p.len())?;
    }
    Ok(())
}

/// [`super::i8_conv_nchw`] on the AVX-512 VNNI kernel (horizontal stride 1 or 2): per band
/// of [`BAND`] output rows, the input rows it reads quantized into `scratch` plane by
/// plane (one quantize call per plane), then `x86_avx512::stem::run_i8` over them.
#[cfg(target_arch = "x86_64")]
pub(super) fn i8_direct(
    t: super::x86_avx512::Vnni,
    s: &ConvShape,
    (x, x_scale, x_zp): (&[f32], f32, i32),
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    if out.residual.is_some() {
        return Err(Error::Unsupported);
    }
    i8_check(s, x, Some((packed, out)), y, scratch)?;
    let (w, c, row_out) = (s.in_w, s.in_c, s.out_w * s.out_c);
    for r0 in (0..s.out_h).step_by(BAND) {
        let r1 = (r0 + BAND).min(s.out_h);
        let (first, band) = band_rows(s, r0, r1);
        let rows = band.in_h;
        let xq = &mut scratch[..rows * w * c];
        for (ci, dst) in xq.chunks_exact_mut((rows * w).max(1)).enumerate() {
            let src = &x[(ci * s.in_h + first) * w..][..rows * w];
            super::x86_avx512::stem_quant::quantize_i8(t, src, x_scale, x_zp, dst);
        }
        let yb = &mut y[r0 * row_out..r1 * row_out];
        super::x86_avx512::stem::run_i8(t, &band, xq, x_zp, packed, out, yb);
    }
    Ok(())
}

/// [`super::i8_conv_nchw`] with the int8 conv `conv` (per band, the quantized rows
/// transposed into `scratch`).
pub(super) fn i8_transposed(
    s: &ConvShape,
    (x, x_scale, x_zp): (&[f32], f32, i32),
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
    conv: I8ConvFn,
) -> Result<()> {
    if out.residual.is_some() {
        return Err(Error::Unsupported);
    }
    i8_check(s, x, None, y, scratch)?;
    let (w, c, row_out) = (s.in_w, s.in_c, s.out_w * s.out_c);
    let (row, scratch) = scratch.split_at_mut(w);
    for r0 in (0..s.out_h).step_by(BAND) {
        let r1 = (r0 + BAND).min(s.out_h);
        let (first, band) = band_rows(s, r0, r1);
        let rows = band.in_h;
        let (xt, pad) = scratch.split_at_mut(rows * w * c);
        for (r, dst) in xt.chunks_exact_mut(w * c).enumerate() {
            for ci in 0..c {
                let src = &x[(ci * s.in_h + first + r) * w..][..w];
                if c == 1 {
                    crate::kernels::fast::f32_quantize_i8(src, x_scale, x_zp, dst);
                    continue;
                }
                crate::kernels::fast::f32_quantize_i8(src, x_scale, x_zp, row);
                for (d, &v) in dst.iter_mut().skip(ci).step_by(c).zip(row.iter()) {
                    *d = v;
                }
            }
        }
        let yb = &mut y[r0 * row_out..r1 * row_out];
        conv(&band, xt, x_zp, packed, out, yb, pad)?;
    }
    Ok(())
}
