//! The convolution drivers (int8 and f32): the blocked kernels where they apply, else
//! output tiles of [`TILE`] columns.

use super::blocked::{f32_conv_blocked, int8_conv_blocked};
use super::geometry::{Conv, BLOCK, TILE};
use super::lanes::{requant_row, Lanes};
use crate::kernels::params::{ConvParams, F32Out, QuantOut};
use crate::kernels::reference::{f32 as rf, int8 as ri};

/// Same contract as [`ri::conv2d`].
#[inline(always)]
pub(crate) fn int8_conv2d<L: Lanes>(
    l: L,
    p: &ConvParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let geom = Conv::new(p, x.len(), w.len(), out.bias.map(<[i32]>::len), y.len());
    let Some(cv) = geom.filter(|_| (-128..=127).contains(&x_zp)) else {
        return ri::conv2d(p, x, x_zp, w, out, y);
    };
    if let Some(interior) = cv.interior() {
        return int8_conv_blocked(&cv, interior, x, x_zp, w, out, y);
    }
    let mut tiles = [[0i32; TILE]; 4];
    let stride = cv.aw.stride;
    // Distance in `w` between the kernels of consecutive output channels.
    let kvol = cv.cg * cv.kh * cv.kw;
    cv.for_each_tile(true, |b, oc, count, oy, t0, t1| {
        let len = t1 - t0;
        for t in &mut tiles[..count] {
            t[..len].fill(0);
        }
        if count == 4 {
            let [a0, a1, a2, a3] = &mut tiles;
            cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
                let wv = [w[wi], w[wi + kvol], w[wi + 2 * kvol], w[wi + 3 * kvol]];
                let acc = [
                    &mut a0[lo..hi],
                    &mut a1[lo..hi],
                    &mut a2[lo..hi],
                    &mut a3[lo..hi],
                ];
                if stride == 1 {
                    l.axpy4_i8(acc, &x[xo..xo + (hi - lo)], x_zp, wv);
                } else {
                    for (a, &wv) in acc.into_iter().zip(&wv) {
                        axpy_strided_i8(a, x, xo, stride, x_zp, wv);
                    }
                }
            });
        } else {
            let acc = &mut tiles[0];
            cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
                let acc = &mut acc[lo..hi];
                if stride == 1 {
                    l.axpy_i8(acc, &x[xo..xo + (hi - lo)], x_zp, w[wi]);
                } else {
                    axpy_strided_i8(acc, x, xo, stride, x_zp, w[wi]);
                }
            });
        }
        for (r, acc) in tiles[..count].iter().enumerate() {
            let oc = oc + r;
            let at = cv.out(b, oc, oy, t0);
            requant_row(&acc[..len], oc, out, &mut y[at..at + len]);
        }
    });
}

/// `acc[i] += (x[start + i * stride] - zp) * w` (strided rows: plain loop).
///
/// Not inlined: inside an AVX2 function LLVM vectorizes this loop with gathers,
/// which are slower than the scalar loop.
#[inline(never)]
pub(super) fn axpy_strided_i8(
    acc: &mut [i32],
    x: &[i8],
    start: usize,
    stride: usize,
    zp: i32,
    w: i8,
) {
    let w = i32::from(w);
    for (i, a) in acc.iter_mut().enumerate() {
        *a = a.wrapping_add((i32::from(x[start + i * stride]) - zp) * w);
    }
}

/// Same contract as [`rf::conv2d`], and the same bits (same summation order).
#[inline(always)]
pub(crate) fn f32_conv2d<L: Lanes>(
    l: L,
    p: &ConvParams,
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let geom = Conv::new(p, x.len(), w.len(), out.bias.map(<[f32]>::len), y.len());
    let Some(cv) = geom else {
        return rf::conv2d(p, x, w, out, y);
    };
    // f32 sums skip the padding (adding `0 * w` could change the bits), so the
    // passes reading the padding are computed column by column.
    if let Some(interior) = cv.interior().filter(|&(c0, c1)| c1 >= c0 + BLOCK) {
        return f32_conv_blocked(&cv, interior, x, w, out, y);
    }
    let mut tile = [0f32; TILE];
    let stride = cv.aw.stride;
    cv.for_each_tile(false, |b, oc, _, oy, t0, t1| {
        let acc = &mut tile[..t1 - t0];
        acc.fill(0.0);
        cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
            let wv = w[wi];
            if stride == 1 {
                l.axpy_f32(&mut acc[lo..hi], &x[xo..xo + (hi - lo)], wv);
            } else {
                for (i, a) in acc[lo..hi].iter_mut().enumerate() {
                    *a += x[xo + i * stride] * wv;
                }
            }
        });
        let at = cv.out(b, oc, oy, t0);
        for (o, &a) in y[at..at + (t1 - t0)].iter_mut().zip(acc.iter()) {
            *o = out.apply(a, oc);
        }
    });
}
