//! The blocked convolution kernels: four output channels of one group times [`BLOCK`]
//! columns of accumulators, every tap summed before the block is stored (stride 1,
//! rows of at least `BLOCK` outputs; see [`Conv::interior`]).

use super::geometry::{Conv, BLOCK, EXTRA};
use super::lanes::requant_row;
use crate::kernels::params::{F32Out, QuantOut};

/// The edge columns (outside `c0..c1`) of an output row, then the starts of the
/// [`BLOCK`]-wide passes over the interior `c0..c1` (the last pass is moved left to
/// end at `c1`, recomputing a few columns with the same result).
#[inline(always)]
pub(super) fn row_passes(
    (c0, c1): (usize, usize),
    ow: usize,
) -> (impl Iterator<Item = usize>, impl Iterator<Item = usize>) {
    let edges = (0..c0).chain(c1..ow);
    let blocks = (c0..c1).step_by(BLOCK).map(move |o| o.min(c1 - BLOCK));
    (edges, blocks)
}

/// The starts of the [`BLOCK`]-wide passes over an output row of `ow >= BLOCK`
/// columns (the last pass is moved left to end at `ow`, recomputing a few columns
/// with the same result), each with `true` when the pass lies inside the interior
/// `c0..c1` (no tap in the padding).
#[inline(always)]
pub(super) fn row_blocks(
    (c0, c1): (usize, usize),
    ow: usize,
) -> impl Iterator<Item = (usize, bool)> {
    (0..ow)
        .step_by(BLOCK)
        .map(move |o| o.min(ow - BLOCK))
        .map(move |s| (s, s >= c0 && s + BLOCK <= c1))
}

/// The padded input of one pass: `buf[q]` is input column `s + q - pad` of the
/// row at `xo` (`fill` where that is in the padding), for `q < BLOCK + EXTRA`.
#[inline(always)]
pub(super) fn padded_row<T: Copy>(
    cv: &Conv,
    x: &[T],
    xo: usize,
    s: usize,
    fill: T,
) -> [T; BLOCK + EXTRA] {
    let mut buf = [fill; BLOCK + EXTRA];
    let a = &cv.aw;
    // Input columns s - pad .. s - pad + BLOCK + EXTRA, clipped to the row.
    let first = s.saturating_sub(a.pad);
    let end = (s + BLOCK + EXTRA).saturating_sub(a.pad).min(a.len);
    if first < end {
        let q = first + a.pad - s;
        buf[q..q + (end - first)].copy_from_slice(&x[xo + first..xo + end]);
    }
    buf
}

/// The sums of `R` output channels `oc..` (same group) at columns `s..s + BLOCK` of
/// output row `oy`, all interior columns ([`Conv::interior`], stride 1): each sum in
/// the reference's order (input channel, ky, kx), starting from 0.
#[inline(always)]
pub(super) fn block_f32<const R: usize>(
    cv: &Conv,
    x: &[f32],
    w: &[f32],
    (b, oc, oy, s): (usize, usize, usize, usize),
) -> [[f32; BLOCK]; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let (d, base) = (cv.aw.dilation, s - cv.aw.pad);
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [[0f32; BLOCK]; R];
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            let xo = xo + base;
            for kx in 0..cv.kw {
                let xs = &x[xo + kx * d..xo + kx * d + BLOCK];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let wv = w[(oc + r) * kvol + wo + kx];
                    for j in 0..BLOCK {
                        acc[j] += xs[j] * wv;
                    }
                }
            }
        }
    }
    acc
}

/// The sums of `R` output channels `oc..` at the single column `o` of output row `oy`
/// (any column): each sum in the reference's order, padding skipped.
#[inline(always)]
pub(super) fn column_f32<const R: usize>(
    cv: &Conv,
    x: &[f32],
    w: &[f32],
    (b, oc, oy, o): (usize, usize, usize, usize),
) -> [f32; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let a = &cv.aw;
    let (kx0, kx1) = a.valid(o, cv.kw);
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [0f32; R];
    if kx0 == kx1 {
        return acc;
    }
    let base = o * a.stride + kx0 * a.dilation - a.pad;
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            for kx in kx0..kx1 {
                let xv = x[xo + base + (kx - kx0) * a.dilation];
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc += xv * w[(oc + r) * kvol + wo + kx];
                }
            }
        }
    }
    acc
}

/// [`f32_conv2d`] over rows with an interior of at least [`BLOCK`] columns
/// ([`Conv::interior`]): the edge columns one by one, the interior in blocks.
#[inline(always)]
pub(super) fn f32_conv_blocked(
    cv: &Conv,
    interior: (usize, usize),
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let plane = cv.oh * cv.ow;
    for b in 0..cv.n {
        let mut oc = 0;
        while oc < cv.m {
            let count = cv.block_count(oc);
            for oy in 0..cv.oh {
                let (edges, blocks) = row_passes(interior, cv.ow);
                for o in edges {
                    let at = cv.out(b, oc, oy, o);
                    if count == 4 {
                        let acc = column_f32::<4>(cv, x, w, (b, oc, oy, o));
                        for (r, &a) in acc.iter().enumerate() {
                            y[at + r * plane] = out.apply(a, oc + r);
                        }
                    } else {
                        let [a] = column_f32::<1>(cv, x, w, (b, oc, oy, o));
                        y[at] = out.apply(a, oc);
                    }
                }
                for o in blocks {
                    let at = cv.out(b, oc, oy, o);
                    if count == 4 {
                        let acc = block_f32::<4>(cv, x, w, (b, oc, oy, o));
                        for (r, acc) in acc.iter().enumerate() {
                            let ys = &mut y[at + r * plane..at + r * plane + BLOCK];
                            for (o, &a) in ys.iter_mut().zip(acc) {
                                *o = out.apply(a, oc + r);
                            }
                        }
                    } else {
                        let [acc] = block_f32::<1>(cv, x, w, (b, oc, oy, o));
                        for (o, &a) in y[at..at + BLOCK].iter_mut().zip(&acc) {
                            *o = out.apply(a, oc);
                        }
                    }
                }
            }
            oc += count;
        }
    }
}

/// [`block_f32`] for int8: wrapping i32 sums of `(x - x_zp) * w`. A pass that reads
/// the padding (`inside` false) reads each input row from a copy padded with `x_zp`,
/// whose cells add exactly 0.
#[inline(always)]
pub(super) fn block_i8<const R: usize>(
    cv: &Conv,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    (b, oc, oy, s): (usize, usize, usize, usize),
    inside: bool,
) -> [[i32; BLOCK]; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [[0i32; BLOCK]; R];
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            let taps = (oc, kvol, wo, cv.kw, cv.aw.dilation);
            if inside {
                taps_i8(&mut acc, &x[xo + s - cv.aw.pad..], x_zp, w, taps);
            } else {
                // x_zp is in -128..=127 (checked by the caller).
                let buf = padded_row(cv, x, xo, s, x_zp as i8);
                taps_i8(&mut acc, &buf, x_zp, w, taps);
            }
        }
    }
    acc
}

/// Adds one input row's taps to a block's accumulators: for every `kx`, the `BLOCK`
/// inputs `row[kx * d..]` (minus `x_zp`) times the weight of tap `wo + kx` of each of
/// the `R` output channels from `oc`.
#[inline(always)]
pub(super) fn taps_i8<const R: usize>(
    acc: &mut [[i32; BLOCK]; R],
    row: &[i8],
    x_zp: i32,
    w: &[i8],
    (oc, kvol, wo, kw, d): (usize, usize, usize, usize, usize),
) {
    for kx in 0..kw {
        let xs = &row[kx * d..kx * d + BLOCK];
        let mut xv = [0i32; BLOCK];
        for j in 0..BLOCK {
            xv[j] = i32::from(xs[j]) - x_zp;
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let wv = i32::from(w[(oc + r) * kvol + wo + kx]);
            for j in 0..BLOCK {
                acc[j] = acc[j].wrapping_add(xv[j] * wv);
            }
        }
    }
}

/// [`int8_conv2d`] over rows with a wide interior ([`Conv::interior`]).
#[inline(always)]
pub(super) fn int8_conv_blocked(
    cv: &Conv,
    interior: (usize, usize),
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let plane = cv.oh * cv.ow;
    for b in 0..cv.n {
        let mut oc = 0;
        while oc < cv.m {
            let count = cv.block_count(oc);
            for oy in 0..cv.oh {
                for (o, inside) in row_blocks(interior, cv.ow) {
                    let y0 = cv.out(b, oc, oy, o);
                    let at = (b, oc, oy, o);
                    if count == 4 {
                        let acc = block_i8::<4>(cv, x, x_zp, w, at, inside);
                        for (r, acc) in acc.iter().enumerate() {
                            let ys = &mut y[y0 + r * plane..y0 + r * plane + BLOCK];
                            requant_row(acc, oc + r, out, ys);
                        }
                    } else {
                        let [acc] = block_i8::<1>(cv, x, x_zp, w, at, inside);
                        requant_row(&acc, oc, out, &mut y[y0..y0 + BLOCK]);
                    }
                }
            }
            oc += count;
        }
    }
}
