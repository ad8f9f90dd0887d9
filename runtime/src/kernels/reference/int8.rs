//! int8 reference kernels: the TFLite int8 quantization spec and reference arithmetic.
//!
//! Activations are asymmetric per-tensor (`real = scale * (q - zero_point)`), weights
//! symmetric (zero point 0, per-channel or per-tensor), biases i32 in units of
//! `input_scale * weight_scale`. Accumulators are i32; every rescale is
//! [`mbqm`] (TFLite `MultiplyByQuantizedMultiplier`, gemmlowp rounding). These kernels
//! are the bit-exact contract for every optimized int8 kernel.
//!
//! All i32 arithmetic wraps on overflow (two's complement, what TFLite's compiled C
//! does); the converter keeps accumulators in range, so wrapping is unreachable for
//! valid models, but it can never panic.
//!
//! The accumulating kernels end in a [`QuantOut`] output stage (bias, requantization
//! by a table of `(multiplier, shift)` pairs, zero point, clamp).

use super::bcast::Pairs;
use super::fixed::multiply_by_quantized_multiplier as mbqm;
pub(crate) use super::fixed::requant;
use super::fixed::{div_below_512, saturate};
use super::generic::broadcast_strides;
use super::window::{axes, pool2d};
use crate::format::types::{BinaryOp, QBinary, Requant, MAX_RANK};
use crate::kernels::params::{
    BroadcastShapes, ConvParams, FullyConnectedParams, PoolParams, QuantOut,
};

/// `(sum + count/2) / count` for `sum >= 0`, `(sum - count/2) / count` otherwise (C
/// division truncating towards zero): rounds half away from zero (TFLite pooling).
/// `count <= 0` gives 0.
#[inline]
pub(crate) fn div_round(sum: i32, count: i32) -> i32 {
    if count <= 0 {
        0
    } else if sum >= 0 {
        sum.wrapping_add(count / 2) / count
    } else {
        sum.wrapping_sub(count / 2) / count
    }
}

/// Quantized fully connected layer (TFLite `FullyConnected`, int8):
/// `acc[b, j] = sum_k (x[b, k] - x_zp) * w[j, k]`, then `y[b, j] = out.apply(acc, j)`
/// (bias, requantization with pair `j`, zero point, clamp; see [`QuantOut`]).
///
/// `x`: `[batch, k]`; `w`: `[n, k]` symmetric (zero point 0); `y`: `[batch, n]`.
pub fn fully_connected(
    p: &FullyConnectedParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        for j in 0..n {
            let wr = &w[j * k..(j + 1) * k];
            let acc = xr.iter().zip(wr).fold(0i32, |acc, (&xv, &wv)| {
                acc.wrapping_add(i32::from(xv).wrapping_sub(x_zp).wrapping_mul(i32::from(wv)))
            });
            y[b * n + j] = out.apply(acc, j);
        }
    }
}

/// Quantized 2D convolution with groups (TFLite `Conv2D` / `DepthwiseConv2D` reference
/// arithmetic on ONNX layouts; 1D convolutions pass `H = 1`); geometry in `p` (see
/// [`ConvParams`]).
///
/// - `x`: NCHW, zero point `x_zp`; `w`: `[M, C / groups, KH, KW]` symmetric; `y`:
///   `[N, M, OH, OW]`.
/// - Padded cells hold the input value `x_zp`, i.e. contribute 0 to the accumulator.
/// - `acc = sum (x - x_zp) * w`; `y = out.apply(acc, m)` (bias, requantization per
///   output channel or per tensor, zero point, clamp).
pub fn conv2d(p: &ConvParams, x: &[i8], x_zp: i32, w: &[i8], out: &QuantOut<'_>, y: &mut [i8]) {
    let [n, c, h, wd] = p.x;
    let [m, cg, kh, kw] = p.w;
    let [_, _, oh, ow] = p.y;
    let m_per_group = (m / p.groups.max(1)).max(1);
    let (ah, aw) = axes(&p.window, h, wd);
    let mut ys = y.iter_mut();
    for b in 0..n {
        for oc in 0..m {
            let g = oc / m_per_group;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0i32;
                    for ci in 0..cg {
                        let plane = (b * c + g * cg + ci) * h;
                        let kernel = (oc * cg + ci) * kh;
                        for ky in 0..kh {
                            let Some(iy) = ah.tap(oy, ky) else { continue };
                            for kx in 0..kw {
                                let Some(ix) = aw.tap(ox, kx) else { continue };
                                let xv = i32::from(x[(plane + iy) * wd + ix]).wrapping_sub(x_zp);
                                let wv = i32::from(w[(kernel + ky) * kw + kx]);
                                acc = acc.wrapping_add(xv.wrapping_mul(wv));
                            }
                        }
                    }
                    if let Some(o) = ys.next() {
                        *o = out.apply(acc, oc);
                    }
                }
            }
        }
    }
}

/// Max pool on raw int8 values (input and output share scale and zero point):
/// geometry in `p`; padded cells are ignored; a window entirely in the padding yields
/// -128.
pub fn max_pool2d(p: &PoolParams, x: &[i8], y: &mut [i8]) {
    pool2d(p, x, y, &|taps, _, _| taps.fold(i8::MIN, i8::max));
}

/// Average pool on raw int8 values (input and output share scale and zero point
/// `x_zp`, as in TFLite): geometry in `p`.
///
/// `sum` = the i32 sum of the input cells under the window; `count` = the number of
/// taps inside the input, or with `p.count_include_pad` the taps inside the padded
/// extent (then each counted padded cell adds `x_zp`, the quantized real 0, to `sum`).
/// `y = (sum + count/2) / count` for `sum >= 0`, `(sum - count/2) / count` otherwise
/// (truncating division: round half away from zero), clamped to i8; count 0 gives 0.
/// Without `count_include_pad`, `x_zp` is unused.
pub fn avg_pool2d(p: &PoolParams, x: &[i8], x_zp: i32, y: &mut [i8]) {
    let (ah, aw) = axes(&p.window, p.x[2], p.x[3]);
    let [kh, kw] = [p.window.kernel[0] as usize, p.window.kernel[1] as usize];
    let include = p.count_include_pad;
    pool2d(p, x, y, &|taps, oy, ox| {
        let mut sum = taps.fold(0i32, |s, v| s.wrapping_add(i32::from(v)));
        let valid = ah.valid_taps(oy, kh) * aw.valid_taps(ox, kw);
        let count = if include {
            let count = ah.padded_taps(oy, kh) * aw.padded_taps(ox, kw);
            sum = sum.wrapping_add(((count - valid) as i32).wrapping_mul(x_zp));
            count
        } else {
            valid
        };
        saturate(div_round(sum, count as i32), -128, 127)
    });
}

/// Global average pool on raw int8 values: `x` is `channels` (= N*C) rows of `spatial`
/// values; `y[c] = (sum + spatial/2) / spatial` for `sum >= 0`,
/// `(sum - spatial/2) / spatial` otherwise (round half away from zero); `spatial == 0`
/// gives 0.
pub fn global_avg_pool(x: &[i8], channels: usize, spatial: usize, y: &mut [i8]) {
    for (c, out) in y.iter_mut().enumerate().take(channels) {
        let row = &x[c * spatial..(c + 1) * spatial];
        let sum = row.iter().fold(0i32, |s, &v| s.wrapping_add(i32::from(v)));
        *out = saturate(div_round(sum, spatial as i32), -128, 127);
    }
}

/// Global max pool on raw int8 values: `x` is `channels` rows of `spatial` values,
/// `y[c]` = max of row `c` (-128 for an empty row).
pub fn global_max_pool(x: &[i8], channels: usize, spatial: usize, y: &mut [i8]) {
    for (c, out) in y.iter_mut().enumerate().take(channels) {
        *out = x[c * spatial..(c + 1) * spatial]
            .iter()
            .copied()
            .fold(i8::MIN, i8::max);
    }
}

#[inline]
fn binary_one(op: BinaryOp, q: &QBinary, a: i8, b: i8) -> i8 {
    let av = i32::from(a).wrapping_sub(q.a_zero_point);
    let bv = i32::from(b).wrapping_sub(q.b_zero_point);
    let raw = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let shift = q.left_shift.clamp(0, 31) as u32;
            let sa = mbqm(av.wrapping_shl(shift), q.a.multiplier, q.a.shift);
            let sb = mbqm(bv.wrapping_shl(shift), q.b.multiplier, q.b.shift);
            let sum = if op == BinaryOp::Add {
                sa.wrapping_add(sb)
            } else {
                sa.wrapping_sub(sb)
            };
            mbqm(sum, q.out.multiplier, q.out.shift)
        }
        BinaryOp::Mul => mbqm(av.wrapping_mul(bv), q.out.multiplier, q.out.shift),
        // Not int8 ops: the loader rejects them. Output the quantized real 0.
        BinaryOp::Div
        | BinaryOp::Max
        | BinaryOp::Min
        | BinaryOp::Pow
        | BinaryOp::Fmod
        | BinaryOp::Mod => 0,
    };
    saturate(raw.wrapping_add(q.out_zero_point), q.act_min, q.act_max)
}

/// Quantized element-wise Add / Sub / Mul with numpy broadcasting (TFLite `add.h`,
/// `sub.h`, `mul.h` int8 reference arithmetic).
///
/// With `a' = a - q.a_zero_point`, `b' = b - q.b_zero_point`:
/// - Add: `sa = mbqm(a' << left_shift, q.a)`, `sb = mbqm(b' << left_shift, q.b)`,
///   `raw = mbqm(sa + sb, q.out)`; Sub: the same with `sa - sb`;
/// - Mul: `raw = mbqm(a' * b', q.out)`;
///
/// then `y = clamp(raw + q.out_zero_point, q.act_min, q.act_max)`. Shapes broadcast as
/// in [`super::f32::binary`] (see [`BroadcastShapes`]).
/// `Div`, `Max`, `Min`, `Pow` are not int8 ops (the loader rejects them); they write
/// the clamped output zero point.
pub fn binary(
    op: BinaryOp,
    q: &QBinary,
    s: &BroadcastShapes<'_>,
    a: &[i8],
    b: &[i8],
    y: &mut [i8],
) {
    let mut sa = [0; MAX_RANK];
    let mut sb = [0; MAX_RANK];
    broadcast_strides(s.a, s.y, &mut sa);
    broadcast_strides(s.b, s.y, &mut sb);
    for ((ia, ib), out) in Pairs::new(s.y, &sa, &sb).zip(y.iter_mut()) {
        *out = binary_one(op, q, a[ia], b[ib]);
    }
}

/// Table lookup: `y[i] = table[x[i] as u8 as usize] as i8` (the index is the two's
/// complement byte of `x[i]`, so entry 0 is x = 0, entry 255 is x = -1). `table` has
/// 256 entries (does nothing otherwise); `x` and `y` of equal length.
pub fn lut(x: &[i8], table: &[u8], y: &mut [i8]) {
    let Ok(table) = <&[u8; 256]>::try_from(table) else {
        return;
    };
    for (out, &v) in y.iter_mut().zip(x) {
        *out = table[usize::from(v as u8)] as i8;
    }
}

/// Integer-only softmax along the middle axis of `x` viewed as `[outer, axis_len,
/// inner]`; output scale 1/256, zero point -128; `y` has the layout of `x`.
///
/// `table[d]` (256 entries, built by the converter) is `exp(-d * input_scale * beta)`
/// in Q0.31 (about `e * 2^31`, saturated to `2^31 - 1` at `d = 0`), for
/// `d = 0..=255`; the kernel only reads it. Per line: `m = max x`;
/// `e_j = table[m - x_j]` (`m - x_j` is in `0..=255` for i8);
/// `sum = sum_j e_j` (u64); `y_j = clamp((e_j * 256 + sum / 2) / sum - 128, -128, 127)`
/// (u64 arithmetic, round half up). A zero `sum` (an all-zero table) gives -128.
/// Does nothing if `table` does not have 256 entries.
pub fn softmax(x: &[i8], outer: usize, axis_len: usize, inner: usize, table: &[u32], y: &mut [i8]) {
    let Ok(table) = <&[u32; 256]>::try_from(table) else {
        return;
    };
    let e = |m: i8, v: i8| u64::from(table[(i32::from(m) - i32::from(v)) as u8 as usize]);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * axis_len * inner + i;
            let at = |j: usize| base + j * inner;
            let m = (0..axis_len).map(|j| x[at(j)]).fold(i8::MIN, i8::max);
            let sum: u64 = (0..axis_len).map(|j| e(m, x[at(j)])).sum();
            for j in 0..axis_len {
                // `e_j <= sum`, so the quotient is at most 256.
                let q = if sum == 0 {
                    0
                } else {
                    div_below_512(e(m, x[at(j)]) * 256 + sum / 2, sum)
                };
                y[at(j)] = (q.min(255) as i32 - 128) as i8;
            }
        }
    }
}

/// Requantize int8 to int8 with a new scale and zero point:
/// `y = clamp(out_zp + mbqm(x - x_zp, rq.multiplier, rq.shift), -128, 127)`.
/// `x` and `y` of equal length.
pub fn requantize(x: &[i8], x_zp: i32, rq: Requant, out_zp: i32, y: &mut [i8]) {
    for (out, &v) in y.iter_mut().zip(x) {
        *out = requant(
            i32::from(v).wrapping_sub(x_zp),
            (rq.multiplier, rq.shift),
            out_zp,
            -128,
            127,
        );
    }
}

/// Index of the largest value along the middle axis of `x` viewed as
/// `[outer, axis_len, inner]`; `y` is `[outer, inner]`. Ties give the first index, or
/// the last with `select_last`; `axis_len == 0` writes 0.
pub fn argmax_i8(
    x: &[i8],
    outer: usize,
    axis_len: usize,
    inner: usize,
    select_last: bool,
    y: &mut [i64],
) {
    for o in 0..outer {
        for i in 0..inner {
            let base = o * axis_len * inner + i;
            let mut best = 0usize;
            for j in 1..axis_len {
                let (v, b) = (x[base + j * inner], x[base + best * inner]);
                if v > b || (select_last && v == b) {
                    best = j;
                }
            }
            y[o * inner + i] = best as i64;
        }
    }
}
