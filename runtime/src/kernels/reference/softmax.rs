//! Softmax / LogSoftmax reference kernels and the `exp` they share (f32 logits, or int8
//! ones dequantized on the fly); re-exported from [`super::f32`].

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
    softmax_of(Logits::F32(x), outer, axis_len, inner, log, y);
}

/// The input of [`softmax_of`]: f32 values, or int8 ones with their per-tensor scale and
/// zero point, read as `f32::dequantize_i8` writes them.
#[derive(Clone, Copy, Debug)]
pub enum Logits<'a> {
    /// The values themselves.
    F32(&'a [f32]),
    /// `(x - zero_point) as f32 * scale`.
    I8(&'a [i8], f32, i32),
}

impl Logits<'_> {
    /// Value `i`; an int8 one as `f32::dequantize_i8` computes it.
    #[inline]
    fn at(self, i: usize) -> f32 {
        match self {
            Logits::F32(x) => x[i],
            Logits::I8(x, s, z) => i32::from(x[i]).wrapping_sub(z) as f32 * s,
        }
    }

    /// `y = x[at..at + y.len()] - m` (dequantized first), `m` their [`line_max`],
    /// which it returns.
    #[inline]
    fn minus_max(self, at: usize, y: &mut [f32]) -> f32 {
        let m = match self {
            Logits::F32(x) => {
                let x = &x[at..at + y.len()];
                let m = line_max(x.iter().copied());
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = v - m;
                }
                return m;
            }
            Logits::I8(..) => {
                for (i, o) in y.iter_mut().enumerate() {
                    *o = self.at(at + i);
                }
                line_max(y.iter().copied())
            }
        };
        for o in y.iter_mut() {
            *o -= m;
        }
        m
    }
}

/// [`softmax`] of `x`'s values: for [`Logits::I8`], the bits of a `f32::dequantize_i8`
/// followed by [`softmax`] (the same operations on the same f32 values), without the
/// f32 copy of the logits.
pub fn softmax_of(
    x: Logits<'_>,
    outer: usize,
    axis_len: usize,
    inner: usize,
    log: bool,
    y: &mut [f32],
) {
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
        let y = &mut y[..outer * axis_len];
        // y = x - max of its line, then y = exp(y) over everything at once.
        for (l, yl) in y.chunks_exact_mut(axis_len).enumerate() {
            x.minus_max(l * axis_len, yl);
        }
        for v in y.iter_mut() {
            *v = exp(*v);
        }
        for (l, yl) in y.chunks_exact_mut(axis_len).enumerate() {
            let sum = yl.iter().fold(0.0f32, |s, &e| s + e);
            if log {
                // (x - m) - ln s, as the general loop.
                x.minus_max(l * axis_len, yl);
                let ls = libm::logf(sum);
                for o in yl.iter_mut() {
                    *o -= ls;
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
            let m = line_max((0..axis_len).map(|j| x.at(at(j))));
            let mut sum = 0.0f32;
            for j in 0..axis_len {
                let e = exp(x.at(at(j)) - m);
                y[at(j)] = e;
                sum += e;
            }
            if log {
                let ls = libm::logf(sum);
                for j in 0..axis_len {
                    y[at(j)] = (x.at(at(j)) - m) - ls;
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
