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
    let (y, ni) = exp_parts(x);
    exp_scale(y, ni)
}

/// [`exp`]'s `y = e^r` and `n`: `e^x = y·2^n`, `y` in `[0.7, 1.42]` (NaN for NaN).
#[inline]
fn exp_parts(x: f32) -> (f32, i32) {
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
    (y, ni)
}

/// `e^x` = `y·2^n` as [`exp_parts`] gives them: two exact power-of-two factors, so a
/// subnormal result rounds once.
#[inline]
fn exp_scale(y: f32, ni: i32) -> f32 {
    let n1 = ni >> 1;
    let n2 = ni.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
    y * s1 * s2
}

/// [`exp`]'s bits without a floating-point operation whose result is subnormal: such an
/// operation takes a microcode assist of ~40 ns on x86 (Zen 4 measured), and a softmax
/// of confident logits has many (`e^x` below 2^-126 for `x < -87.3`). A result below
/// 2^-126 is `y·2^n` rounded to the grid of 2^-149 — the integer `E = rint(y·2^(n+149))`
/// (exact: `y·2^k` is an f32 for `k = n + 149` in `[-1, 23]`, and `rint` of it is the
/// round-to-nearest-even of the exact product the multiplies round), whose f32 encoding
/// is `E` itself (also for `E = 2^23`, the least normal).
///
/// Written so that no lane computes a subnormal even when the compiler evaluates both
/// sides of a choice (vectorised selects): each side gets operands that keep it normal.
#[inline]
fn exp_no_subnormal(x: f32) -> f32 {
    let (y, ni) = exp_parts(x);
    // y is NaN only for a NaN x, whose n is garbage.
    let small = ni <= -126 && !y.is_nan();
    let big = exp_scale(y, if small { 0 } else { ni });
    let k = if small { ni + 149 } else { 0 };
    let v = y * f32::from_bits(((k + 127) as u32) << 23);
    let e = if v < 8_388_608.0 {
        // v + 2^23 in [2^23, 2^24]: rounded to an integer, 2^23 + E.
        (v + 8_388_608.0).to_bits().wrapping_sub(0x4B00_0000)
    } else {
        v as u32 // already an integer (the ulp of [2^23, 2^24) is 1)
    };
    if small {
        f32::from_bits(e)
    } else {
        big
    }
}

/// `v·2^149` in f64 from the bits `b` of a finite non-negative f32 `v` (an integer:
/// every finite f32 is a multiple of 2^-149), by integer operations only.
#[inline]
fn times_2_149(b: u32) -> f64 {
    let m = b & 0x7f_ffff;
    // 1.m·2^(E-127)·2^149: the f64 exponent field E + 22 + 1023.
    let normal = f64::from_bits(((u64::from(b >> 23) + 1045) << 52) | (u64::from(m) << 29));
    if b < 0x0080_0000 {
        f64::from(m)
    } else {
        normal
    }
}

/// `e / sum` for `e < sum·2^-126` (a subnormal quotient), `1 <= sum < 2^24`, without a
/// subnormal operation: `2^-149·rint(A / sum)` with the integer `A = e·2^149`, the
/// quotient in f64 (below 2^23, error < 2^-30, while a quotient that is not a
/// half-integer is at least `1/(2·sum) >= 2^-25` from one, so `rint` of it is that of
/// the exact quotient), encoded as in [`exp_no_subnormal`].
#[inline]
fn div_subnormal(e: f32, sum: f32) -> f32 {
    let q = times_2_149(e.to_bits()) / f64::from(sum);
    // q + 2^52 rounds q to an integer (q < 2^23).
    let two52 = 4_503_599_627_370_496.0f64;
    f32::from_bits(((q + two52) - two52) as u32)
}

/// `s + e` for non-negative `s`, `e` (or NaN), as `+` computes it, without a subnormal
/// operand or result: a subnormal beside a value of at least 2^-102 (whose half ulp is
/// at least 2^-126) leaves it unchanged; two small values are integer multiples of
/// 2^-149 (every finite f32 is), added exactly in f64 and encoded as in
/// [`exp_no_subnormal`] below 2^24·2^-149, else converted once (a normal result).
#[inline]
fn add_no_subnormal(s: f32, e: f32) -> f32 {
    const MIN_NORMAL: u32 = 0x0080_0000;
    const BIG: u32 = (127 - 102) << 23; // 2^-102
    let (sb, eb) = (s.to_bits(), e.to_bits());
    let both = sb >= MIN_NORMAL && eb >= MIN_NORMAL;
    let plain = (if both { s } else { 1.0 }) + (if both { e } else { 1.0 });
    // Exact for two values below 2^-102 (integers below 2^48).
    let t = times_2_149(sb) + times_2_149(eb);
    let two24 = 16_777_216.0f64;
    let small = f32::from_bits(t as u32);
    let normal = (if t < two24 { two24 } else { t } * f64::from_bits((1023 - 149) << 52)) as f32;
    if both {
        plain
    } else if sb >= BIG {
        s
    } else if eb >= BIG {
        e
    } else if t < two24 {
        small
    } else {
        normal
    }
}

/// The sum of a line in order, as `+` computes it; through [`add_no_subnormal`] when
/// the line holds a subnormal.
#[inline]
fn line_sum(y: &[f32]) -> f32 {
    // (Zeros add exactly, without a subnormal.)
    if y.iter().any(|e| e.to_bits().wrapping_sub(1) < 0x007f_ffff) {
        y.iter().fold(0.0f32, |s, &e| add_no_subnormal(s, e))
    } else {
        y.iter().fold(0.0f32, |s, &e| s + e)
    }
}

/// `y /= sum` for one line, as `/` computes it, subnormal quotients through
/// [`div_subnormal`] when the line has any.
#[inline]
fn divide_line(y: &mut [f32], sum: f32) {
    // sum·2^-126 is exact and normal for sum >= 1; non-negative f32s order as their bits.
    let tiny = (sum * f32::from_bits(0x0080_0000)).to_bits();
    // (0 / sum is 0, without a subnormal.)
    let nonzero_below = |e: &f32| e.to_bits().wrapping_sub(1) < tiny - 1;
    if (1.0..16_777_216.0).contains(&sum) && y.iter().any(nonzero_below) {
        for o in y.iter_mut() {
            let small = o.to_bits() < tiny;
            let plain = if small { sum } else { *o } / sum;
            *o = if small { div_subnormal(*o, sum) } else { plain };
        }
    } else {
        for o in y.iter_mut() {
            *o /= sum;
        }
    }
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
        // x - m < -86 may give a subnormal e^x (n <= -126 from x < -86.99).
        if y.iter().any(|&v| v < -86.0) {
            for v in y.iter_mut() {
                *v = exp_no_subnormal(*v);
            }
        } else {
            for v in y.iter_mut() {
                *v = exp(*v);
            }
        }
        for (l, yl) in y.chunks_exact_mut(axis_len).enumerate() {
            let sum = line_sum(yl);
            if log {
                // (x - m) - ln s, as the general loop.
                x.minus_max(l * axis_len, yl);
                let ls = libm::logf(sum);
                for o in yl.iter_mut() {
                    *o -= ls;
                }
            } else {
                divide_line(yl, sum);
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
