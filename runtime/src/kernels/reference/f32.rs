//! f32 reference kernels (ONNX semantics).
//!
//! Sums accumulate in f32, in the order documented on each kernel; transcendental and
//! rounding functions come from `libm` (Softmax's exponential from [`exp`], plain f32
//! arithmetic) so the bits do not depend on the target's libm.
//! A fused activation `act = (min, max)` (or the `act_min`, `act_max` of an [`F32Out`]
//! output stage) is a clamp applied last; `(-inf, inf)` is no activation. The clamp
//! lets NaN through (NaN is neither below min nor above max).

use super::bcast::Pairs;
use super::generic::broadcast_strides;
use super::window::{axes, pool2d};
use crate::format::types::{BinaryOp, OpGroup, UnaryOp, MAX_RANK};
pub(crate) use crate::kernels::params::clamp;
use crate::kernels::params::{
    BroadcastShapes, ConvParams, F32Out, FullyConnectedParams, LrnParams, PoolParams,
};

/// Dot product, accumulated in f32 in index order.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x * y)
}

/// Fully connected layer: `y[b, j] = out.apply(sum_k x[b, k] * w[j, k], j)`.
///
/// `x`: `[batch, k]`, `w`: `[n, k]` (row-major, ONNX `Gemm` with `transB = 1`),
/// `y`: `[batch, n]`. The sum runs over `k` in order, then the output stage adds the
/// bias and clamps (see [`F32Out`]).
pub fn fully_connected(
    p: &FullyConnectedParams,
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        for j in 0..n {
            y[b * n + j] = out.apply(dot(xr, &w[j * k..(j + 1) * k]), j);
        }
    }
}

/// Matrix product with numpy `matmul` semantics.
///
/// - Both operands have rank >= 1. A rank-1 `a` (`[K]`) is read as `[1, K]` and a
///   rank-1 `b` (`[K]`) as `[K, 1]`; the inserted axis does not appear in `y_shape`.
/// - Otherwise `a` is `[..., M, K]`, `b` is `[..., K, N]`; the batch axes (all but the
///   last two) broadcast with numpy rules (right-aligned, 1 stretches).
/// - `y_shape` is `[batch..., M, N]` with the axes of rank-1 operands dropped
///   (rank 0 when both are rank 1); the caller computes it.
///
/// The shapes are `s.a`, `s.b` and `s.y`. Each output element sums over `K` in order
/// in f32. Batch rank <= [`MAX_RANK`].
pub fn matmul(s: &BroadcastShapes<'_>, a: &[f32], b: &[f32], y: &mut [f32]) {
    let (a_shape, b_shape, y_shape) = (s.a, s.b, s.y);
    let (ar, br) = (a_shape.len(), b_shape.len());
    let dim = |s: &[usize], from_end: usize| s.len().checked_sub(from_end).map_or(1, |i| s[i]);
    let k = dim(a_shape, 1);
    let m = if ar >= 2 { dim(a_shape, 2) } else { 1 };
    let n = if br >= 2 { dim(b_shape, 1) } else { 1 };
    let a_batch = &a_shape[..ar.saturating_sub(2)];
    let b_batch = &b_shape[..br.saturating_sub(2)];
    let y_batch_rank = y_shape
        .len()
        .saturating_sub(usize::from(ar >= 2) + usize::from(br >= 2));
    let y_batch = &y_shape[..y_batch_rank];

    let mut sa = [0; MAX_RANK];
    let mut sb = [0; MAX_RANK];
    broadcast_strides(a_batch, y_batch, &mut sa);
    broadcast_strides(b_batch, y_batch, &mut sb);
    let (a_mat, b_mat, y_mat) = (m * k, k * n, m * n);
    for (bi, (ia, ib)) in Pairs::new(y_batch, &sa, &sb).enumerate() {
        let am = &a[ia * a_mat..(ia + 1) * a_mat];
        let bm = &b[ib * b_mat..(ib + 1) * b_mat];
        let ym = &mut y[bi * y_mat..(bi + 1) * y_mat];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0;
                for p in 0..k {
                    acc += am[i * k + p] * bm[p * n + j];
                }
                ym[i * n + j] = acc;
            }
        }
    }
}

/// 2D convolution with groups (ONNX `Conv`; 1D convolutions pass `H = 1`); geometry
/// in `p` (see [`ConvParams`]).
///
/// - `x`: NCHW; `w`: `[M, C / groups, KH, KW]`; `y`: `[N, M, OH, OW]`. Padded cells
///   are zero.
/// - Output channel `m` belongs to group `m / (M / groups)` and reads input channels
///   `g * C/groups .. (g + 1) * C/groups`. Depthwise is `groups = C`.
///
/// Each output sums over (input channel, ky, kx) in that order, then the output stage
/// adds the bias and clamps (see [`F32Out`]).
pub fn conv2d(p: &ConvParams, x: &[f32], w: &[f32], out: &F32Out<'_>, y: &mut [f32]) {
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
                    let mut acc = 0.0f32;
                    for ci in 0..cg {
                        let plane = (b * c + g * cg + ci) * h;
                        let kernel = (oc * cg + ci) * kh;
                        for ky in 0..kh {
                            let Some(iy) = ah.tap(oy, ky) else { continue };
                            for kx in 0..kw {
                                let Some(ix) = aw.tap(ox, kx) else { continue };
                                acc += x[(plane + iy) * wd + ix] * w[(kernel + ky) * kw + kx];
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

/// Max pool (ONNX `MaxPool`): geometry in `p`. Padded cells are ignored; NaN inputs
/// are ignored (`v > max` is false). A window lying entirely in the padding yields
/// -inf.
pub fn max_pool2d(p: &PoolParams, x: &[f32], y: &mut [f32]) {
    pool2d(p, x, y, &|taps, _, _| {
        taps.fold(f32::NEG_INFINITY, |m, v| if v > m { v } else { m })
    });
}

/// Average pool (ONNX `AveragePool`): geometry in `p`.
///
/// The sum of the input cells under the window (in row-major window order) is divided
/// by the number of taps inside the input, or, with `p.count_include_pad`, by the
/// number of taps inside the padded extent `[-pad_begin, len + pad_end)` on each axis
/// (padded cells contribute 0 to the sum). A zero divisor yields 0.
pub fn avg_pool2d(p: &PoolParams, x: &[f32], y: &mut [f32]) {
    let (ah, aw) = axes(&p.window, p.x[2], p.x[3]);
    let [kh, kw] = [p.window.kernel[0] as usize, p.window.kernel[1] as usize];
    let include = p.count_include_pad;
    pool2d(p, x, y, &|taps, oy, ox| {
        let sum = taps.fold(0.0f32, |s, v| s + v);
        let count = if include {
            ah.padded_taps(oy, kh) * aw.padded_taps(ox, kw)
        } else {
            ah.valid_taps(oy, kh) * aw.valid_taps(ox, kw)
        };
        if count == 0 {
            0.0
        } else {
            sum / count as f32
        }
    });
}

/// Global average pool: `x` is `channels` (= N*C) rows of `spatial` values, `y[c]` is
/// the mean of row `c` (summed in order in f32, then divided). `spatial == 0` gives 0.
pub fn global_avg_pool(x: &[f32], channels: usize, spatial: usize, y: &mut [f32]) {
    for (c, out) in y.iter_mut().enumerate().take(channels) {
        let row = &x[c * spatial..(c + 1) * spatial];
        let sum = row.iter().fold(0.0f32, |s, v| s + v);
        *out = if spatial == 0 {
            0.0
        } else {
            sum / spatial as f32
        };
    }
}

/// Global product: `x` is `channels` (= N*C) rows of `spatial` values, `y[c]` is the
/// product of row `c` in order (1 for an empty row).
pub fn global_prod(x: &[f32], channels: usize, spatial: usize, y: &mut [f32]) {
    for (c, out) in y.iter_mut().enumerate().take(channels) {
        *out = x[c * spatial..(c + 1) * spatial]
            .iter()
            .fold(1.0f32, |p, v| p * v);
    }
}

/// Global max pool: `x` is `channels` (= N*C) rows of `spatial` values, `y[c]` is the
/// max of row `c` (NaN ignored; -inf for an empty or all-NaN row).
pub fn global_max_pool(x: &[f32], channels: usize, spatial: usize, y: &mut [f32]) {
    for (c, out) in y.iter_mut().enumerate().take(channels) {
        let row = &x[c * spatial..(c + 1) * spatial];
        *out = row
            .iter()
            .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    }
}

#[inline]
fn binary_one(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        // numpy maximum / minimum: NaN propagates.
        BinaryOp::Max => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else if a >= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Min => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else if a <= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Pow => libm::powf(a, b),
        BinaryOp::Fmod => libm::fmodf(a, b),
        // numpy's `mod`: the remainder takes the divisor's sign (a zero one too).
        BinaryOp::Mod => {
            let r = libm::fmodf(a, b);
            if r == 0.0 {
                libm::copysignf(0.0, b)
            } else if (b < 0.0) != (r < 0.0) {
                r + b
            } else {
                r
            }
        }
    }
}

/// Element-wise binary op with numpy broadcasting, then `act`.
///
/// `s.a` and `s.b` are right-aligned against `s.y` (see [`BroadcastShapes`]); `y` is
/// row-major `s.y`. `Max` / `Min` propagate NaN (numpy `maximum`); `Pow` is
/// `libm::powf`, `Fmod` `libm::fmodf`; `Mod` is numpy's `mod` (`fmodf`, plus `b` when
/// that is non-zero and of the other sign than `b`; a zero remainder takes `b`'s sign).
pub fn binary(
    op: BinaryOp,
    s: &BroadcastShapes<'_>,
    a: &[f32],
    b: &[f32],
    act: (f32, f32),
    y: &mut [f32],
) {
    // Host fast path (no broadcast; Add / Sub / Mul): the same operations per element
    // in a loop LLVM vectorises, for the unfused residual Adds of f32 graphs.
    if HOST && s.a == s.y && s.b == s.y {
        match op {
            BinaryOp::Add => return zip_clamp(a, b, act, y, |p, q| p + q),
            BinaryOp::Sub => return zip_clamp(a, b, act, y, |p, q| p - q),
            BinaryOp::Mul => return zip_clamp(a, b, act, y, |p, q| p * q),
            _ => {}
        }
    }
    let mut sa = [0; MAX_RANK];
    let mut sb = [0; MAX_RANK];
    broadcast_strides(s.a, s.y, &mut sa);
    broadcast_strides(s.b, s.y, &mut sb);
    for ((ia, ib), out) in Pairs::new(s.y, &sa, &sb).zip(y.iter_mut()) {
        *out = clamp(binary_one(op, a[ia], b[ib]), act);
    }
}

/// `y = clamp(f(a, b), act)` element by element (the [`binary`] fast path).
#[inline(always)]
fn zip_clamp(a: &[f32], b: &[f32], act: (f32, f32), y: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    for ((out, &p), &q) in y.iter_mut().zip(a).zip(b) {
        *out = clamp(f(p, q), act);
    }
}

/// The element-wise fast paths of [`binary`] and [`unary`] (the same results, in loops
/// LLVM vectorises) on the 64-bit hosts only: microcontroller and wasm builds keep
/// their size.
const HOST: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Logistic function, without overflow for large |v|.
#[inline]
fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + libm::expf(-v))
    } else {
        let e = libm::expf(v);
        e / (1.0 + e)
    }
}

#[inline]
pub(super) fn unary_one(op: UnaryOp, v: f32) -> f32 {
    match op {
        UnaryOp::Relu => {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        }
        UnaryOp::Clip { min, max } => clamp(v, (min, max)),
        UnaryOp::LeakyRelu { alpha } => {
            if v < 0.0 {
                alpha * v
            } else {
                v
            }
        }
        UnaryOp::Sigmoid => sigmoid(v),
        UnaryOp::Tanh => libm::tanhf(v),
        // The other functions are `OpGroup::Math`: `Model::load` rejects them in builds
        // without it, and the constant condition keeps their code out of those builds.
        _ if OpGroup::Math.enabled() => unary_math(op, v),
        _ => f32::NAN,
    }
}

/// The functions beyond [`UnaryOp::is_core`] ([`OpGroup::Math`]).
fn unary_math(op: UnaryOp, v: f32) -> f32 {
    match op {
        UnaryOp::Elu { alpha } => {
            if v < 0.0 {
                alpha * libm::expm1f(v)
            } else {
                v
            }
        }
        UnaryOp::HardSigmoid { alpha, beta } => clamp(alpha * v + beta, (0.0, 1.0)),
        UnaryOp::HardSwish => v * clamp(v / 6.0 + 0.5, (0.0, 1.0)),
        UnaryOp::Exp => libm::expf(v),
        UnaryOp::Log => libm::logf(v),
        UnaryOp::Sqrt => libm::sqrtf(v),
        UnaryOp::Neg => -v,
        UnaryOp::Abs => libm::fabsf(v),
        UnaryOp::Reciprocal => 1.0 / v,
        UnaryOp::Floor => libm::floorf(v),
        UnaryOp::Ceil => libm::ceilf(v),
        UnaryOp::Erf => libm::erff(v),
        // ln(1 + e^v) = max(v, 0) + ln(1 + e^-|v|): no overflow, accurate for v << 0.
        UnaryOp::Softplus => {
            if v.is_nan() {
                v
            } else {
                let pos = if v > 0.0 { v } else { 0.0 };
                pos + libm::log1pf(libm::expf(-libm::fabsf(v)))
            }
        }
        // 0.5 v (1 + erf(v / sqrt 2)) = 0.5 v erfc(-v / sqrt 2): no cancellation for v << 0.
        UnaryOp::Gelu => 0.5 * v * libm::erfcf(-v * core::f32::consts::FRAC_1_SQRT_2),
        UnaryOp::Sin => libm::sinf(v),
        UnaryOp::Cos => libm::cosf(v),
        UnaryOp::Tan => libm::tanf(v),
        UnaryOp::Asin => libm::asinf(v),
        UnaryOp::Acos => libm::acosf(v),
        UnaryOp::Atan => libm::atanf(v),
        UnaryOp::Sinh => libm::sinhf(v),
        UnaryOp::Cosh => libm::coshf(v),
        UnaryOp::Asinh => libm::asinhf(v),
        UnaryOp::Acosh => libm::acoshf(v),
        UnaryOp::Atanh => libm::atanhf(v),
        // rint in the default rounding mode (libm does not read the FP environment).
        UnaryOp::Round => libm::rintf(v),
        UnaryOp::Sign => {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else if v == 0.0 {
                0.0
            } else {
                v
            }
        }
        UnaryOp::Shrink { lambd, bias } => {
            if v < -lambd {
                v + bias
            } else if v > lambd {
                v - bias
            } else if v.is_nan() {
                v
            } else {
                0.0
            }
        }
        UnaryOp::Relu
        | UnaryOp::Clip { .. }
        | UnaryOp::LeakyRelu { .. }
        | UnaryOp::Sigmoid
        | UnaryOp::Tanh => unary_one(op, v),
    }
}

/// Element-wise unary op (ONNX definitions), `y[i] = op(x[i])`, `x` and `y` of equal
/// length.
///
/// Relu/Clip/LeakyRelu pass NaN through; Elu `alpha * expm1(v)` for `v < 0`;
/// Sigmoid is evaluated without overflow; HardSigmoid `max(0, min(1, alpha v + beta))`;
/// HardSwish `v * max(0, min(1, v / 6 + 0.5))`; Softplus `ln(1 + e^v)` computed
/// stably as `max(v, 0) + log1p(e^-|v|)`; Gelu is the exact erf form
/// `0.5 v (1 + erf(v / sqrt 2))`, evaluated as `0.5 v erfc(-v / sqrt 2)`; the
/// trigonometric and hyperbolic functions and their inverses are libm's (NaN outside
/// the domain, e.g. `asin(2)`, `acosh(0.5)`; `atanh(±1) = ±inf`); Round is to the
/// nearest integer with ties to even, keeping the sign of zero (`round(-0.4) = -0`)
/// and NaN; Sign is -1, 0 or 1 (0 for both zeros) and passes NaN through; Shrink is
/// `v + bias` below `-lambd`, `v - bias` above `lambd`, 0 between (NaN passes through).
pub fn unary(op: UnaryOp, x: &[f32], y: &mut [f32]) {
    // Host fast path: a clamp (an f32 file of a pre-quantized model clamps its input to
    // the quantization range) as one loop LLVM vectorises, the same results.
    if let (true, UnaryOp::Clip { min, max }) = (HOST, op) {
        for (out, &v) in y.iter_mut().zip(x) {
            *out = clamp(v, (min, max));
        }
        return;
    }
    for (out, &v) in y.iter_mut().zip(x) {
        *out = unary_one(op, v);
    }
}

/// `e^x` in f32 for Softmax / LogSoftmax: a Cephes-style range reduction and degree-5
/// polynomial written with plain multiplies and adds (no FMA, no table, no branch on
/// the value), so LLVM vectorises a loop of it and every target computes the same bits.
///
/// `x = n·ln 2 + r` with `n = round(x·log2 e)` (the 1.5·2^23 rounding trick) and `r`
/// from a two-constant Cody–Waite reduction, `|r| <= ln2/2 + 2^-12`; `e^r` is the
/// Cephes `expf` polynomial `1 + r + r²·p(r)`; the result is scaled by `2^n` as two
/// exact power-of-two factors, so results down to the subnormal range round once.
/// Edge values: `-inf` and `x < -103.97` give `+0`, `x > 88.72` gives `+inf`, NaN gives
/// NaN. Within 1 ulp of the exact value (0.96 ulp at worst in a test sweeping 8
/// million points of `[-88, 88]` against f64).
#[inline]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding it rounds x·log2e to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    // Beyond these every result is 0 or +inf; clamping keeps n within [-150, 129].
    // Comparisons (not f32::max/min) so NaN passes through.
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_66;
    p = p * r + 0.5;
    let y = p * (r * r) + r + 1.0;
    // The integer n from t's low bits (wrapping: for NaN, n is garbage but y is NaN).
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n1 = ni >> 1;
    let n2 = ni.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
    y * s1 * s2
}

/// Softmax (or LogSoftmax with `log`) along the middle axis of `x` viewed as
/// `[outer, axis_len, inner]`; `y` has the same layout.
///
/// Per line: `m = max` (NaN ignored for the max but propagates through the sums),
/// `e_j = exp(x_j - m)` with [`exp`], `s = sum e_j` in order; softmax `e_j / s`,
/// log-softmax `(x_j - m) - ln s` (`ln` from libm).
///
/// With `inner == 1` (the axis is the last one, the usual case) the exponentials of all
/// lines are one pass over contiguous memory, which vectorises; the same operations in
/// the same order as the general loop, so the targets without SIMD (Cortex-M, RISC-V)
/// leave that pass out for flash.
pub fn softmax(x: &[f32], outer: usize, axis_len: usize, inner: usize, log: bool, y: &mut [f32]) {
    if axis_len == 0 {
        return;
    }
    let simd = cfg!(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "wasm32"
    ));
    if simd && inner == 1 {
        let n = outer * axis_len;
        let (x, y) = (&x[..n], &mut y[..n]);
        // y = x - max of its line, then y = exp(y) over everything at once.
        for (xl, yl) in x.chunks_exact(axis_len).zip(y.chunks_exact_mut(axis_len)) {
            let m = line_max(xl.iter().copied());
            for (o, &v) in yl.iter_mut().zip(xl) {
                *o = v - m;
            }
        }
        for v in y.iter_mut() {
            *v = exp(*v);
        }
        for (xl, yl) in x.chunks_exact(axis_len).zip(y.chunks_exact_mut(axis_len)) {
            let sum = yl.iter().fold(0.0f32, |s, &e| s + e);
            if log {
                let m = line_max(xl.iter().copied());
                let ls = libm::logf(sum);
                for (o, &v) in yl.iter_mut().zip(xl) {
                    *o = (v - m) - ls;
                }
            } else {
                for o in yl.iter_mut() {
                    *o /= sum;
                }
            }
        }
        return;
    }
    for o in 0..outer {
        for i in 0..inner {
            let base = o * axis_len * inner + i;
            let at = |j: usize| base + j * inner;
            let m = line_max((0..axis_len).map(|j| x[at(j)]));
            let mut sum = 0.0f32;
            for j in 0..axis_len {
                let e = exp(x[at(j)] - m);
                y[at(j)] = e;
                sum += e;
            }
            if log {
                let ls = libm::logf(sum);
                for j in 0..axis_len {
                    y[at(j)] = (x[at(j)] - m) - ls;
                }
            } else {
                for j in 0..axis_len {
                    y[at(j)] /= sum;
                }
            }
        }
    }
}

/// The largest value, NaN ignored (`-inf` for none).
#[inline]
fn line_max(values: impl Iterator<Item = f32>) -> f32 {
    values.fold(f32::NEG_INFINITY, |m, v| if v > m { v } else { m })
}

/// Index of the largest value along the middle axis of `x` viewed as
/// `[outer, axis_len, inner]`; `y` is `[outer, inner]`.
///
/// Ties give the first index, or the last with `select_last`. NaN counts as smaller
/// than every number (all NaNs equal), so a NaN is only selected in an all-NaN line.
/// `axis_len == 0` writes 0.
pub fn argmax(
    x: &[f32],
    outer: usize,
    axis_len: usize,
    inner: usize,
    select_last: bool,
    y: &mut [i64],
) {
    // `v` beats the current best `b` (NaN is the minimum).
    let beats = |v: f32, b: f32| -> bool {
        match (v.is_nan(), b.is_nan()) {
            (true, true) => select_last,
            (true, false) => false,
            (false, true) => true,
            (false, false) => v > b || (select_last && v == b),
        }
    };
    for o in 0..outer {
        for i in 0..inner {
            let base = o * axis_len * inner + i;
            let mut best = 0usize;
            for j in 1..axis_len {
                if beats(x[base + j * inner], x[base + best * inner]) {
                    best = j;
                }
            }
            y[o * inner + i] = best as i64;
        }
    }
}

/// `rint(x / scale) + zero_point` (ties to even), or `zero_point` for NaN, clamped to
/// `[lo, hi]`.
#[inline]
fn quantize_one(v: f32, scale: f32, zero_point: i32, lo: f32, hi: f32) -> i32 {
    let r = libm::rintf(v / scale);
    if r.is_nan() {
        return zero_point.clamp(lo as i32, hi as i32);
    }
    // Exact while |r| < 2^24; beyond that the value saturates anyway.
    let q = r + zero_point as f32;
    (if q < lo {
        lo
    } else if q > hi {
        hi
    } else {
        q
    }) as i32
}

/// ONNX `QuantizeLinear` to int8: `y = saturate(rint(x / scale) + zero_point)` with
/// round half to even, saturating to `[-128, 127]`; NaN maps to `zero_point`.
/// `x` and `y` of equal length.
pub fn quantize_i8(x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
    for (out, &v) in y.iter_mut().zip(x) {
        *out = quantize_one(v, scale, zero_point, -128.0, 127.0) as i8;
    }
}

/// ONNX `QuantizeLinear` to uint8, as [`quantize_i8`] with saturation to `[0, 255]`.
pub fn quantize_u8(x: &[f32], scale: f32, zero_point: i32, y: &mut [u8]) {
    for (out, &v) in y.iter_mut().zip(x) {
        *out = quantize_one(v, scale, zero_point, 0.0, 255.0) as u8;
    }
}

/// ONNX `DequantizeLinear` from int8: `y = (x - zero_point) as f32 * scale`.
pub fn dequantize_i8(x: &[i8], scale: f32, zero_point: i32, y: &mut [f32]) {
    for (out, &v) in y.iter_mut().zip(x) {
        *out = i32::from(v).wrapping_sub(zero_point) as f32 * scale;
    }
}

/// ONNX `DequantizeLinear` from uint8: `y = (x - zero_point) as f32 * scale`.
pub fn dequantize_u8(x: &[u8], scale: f32, zero_point: i32, y: &mut [f32]) {
    for (out, &v) in y.iter_mut().zip(x) {
        *out = i32::from(v).wrapping_sub(zero_point) as f32 * scale;
    }
}

/// Local response normalization across channels (ONNX LRN), see [`LrnParams`]: `x`
/// and `y` are `[p.n, p.c, p.inner]`; the sum of squares accumulates in f32 in channel
/// order, the power is `libm::powf`.
pub fn lrn(p: &LrnParams, x: &[f32], y: &mut [f32]) {
    let LrnParams {
        n,
        c,
        inner,
        size,
        alpha,
        beta,
        bias,
    } = *p;
    let lo_span = (size.saturating_sub(1)) / 2;
    let hi_span = size / 2;
    let scale = alpha / size as f32;
    for b in 0..n {
        let base = b * c * inner;
        for ch in 0..c {
            let lo = ch.saturating_sub(lo_span);
            let hi = (ch + hi_span).min(c - 1);
            for i in 0..inner {
                let mut sq = 0f32;
                for k in lo..=hi {
                    let v = x[base + k * inner + i];
                    sq += v * v;
                }
                let at = base + ch * inner + i;
                y[at] = x[at] / libm::powf(bias + scale * sq, beta);
            }
        }
    }
}
