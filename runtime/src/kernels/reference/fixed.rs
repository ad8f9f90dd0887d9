//! gemmlowp / TFLite fixed-point arithmetic, pure integer.
//!
//! These helpers define the rounding of every int8 kernel. They reproduce gemmlowp's
//! `fixedpoint.h` and TFLite's `MultiplyByQuantizedMultiplier` (double-rounding
//! variant, the TFLite default) bit for bit:
//!
//! - [`saturating_rounding_doubling_high_mul`] rounds `a*b / 2^31` to nearest with
//!   ties towards +infinity (gemmlowp's asymmetric nudge; this is ARM `VQRDMULH`);
//! - [`rounding_divide_by_pot`] rounds `x / 2^e` to nearest with ties away from zero.
//!
//! Where the C code has undefined behaviour (overflowing `x << shift`, shifts out of
//! range) these functions wrap or clamp as documented instead of panicking.

/// `round(a * b / 2^31)` with ties towards +infinity, saturated: the only overflowing
/// input, `i32::MIN * i32::MIN`, gives `i32::MAX` (gemmlowp
/// `SaturatingRoundingDoublingHighMul`, ARM `VQRDMULH`).
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // i64 division truncates towards zero, as in C; the quotient fits in i32.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `round(x / 2^exponent)` with ties away from zero (gemmlowp `RoundingDivideByPOT`,
/// a rounding arithmetic right shift). `exponent` is clamped to `0..=31`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 31) as u32;
    let x = i64::from(x);
    let mask = (1i64 << e) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> e) + i64::from(remainder > threshold)) as i32
}

/// TFLite `MultiplyByQuantizedMultiplier`: `x * multiplier * 2^(shift - 31)`, with
/// `shift > 0` a left shift applied to `x` before the high multiply and `shift <= 0`
/// a rounding right shift after it.
///
/// `multiplier` is normally in `[2^30, 2^31)` (or 0) and `shift` in `-31..=30`, as
/// produced by [`quantize_multiplier`]; `shift` is clamped to `-31..=31`. The left
/// shift wraps on overflow (two's complement, like TFLite's compiled C); converters
/// keep `|x| << shift` within i32.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = shift.clamp(-31, 31);
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_shl(left as u32), multiplier),
        right,
    )
}

/// TFLite `QuantizeMultiplier`: splits `real` into `(multiplier, shift)` with
/// `real ≈ multiplier * 2^(shift - 31)` and `|multiplier|` in `[2^30, 2^31)`.
///
/// Computed exactly from the bits of the f64 (no libm): the 53-bit significand is
/// rounded to 31 bits half away from zero (as `std::round(frexp(real) * 2^31)`);
/// a round-up to `2^31` halves the multiplier and increments the shift.
/// As in TFLite: `0.0` gives `(0, 0)`; a shift below -31 (|real| < ~2^-32, including
/// subnormals) flushes to `(0, 0)`; a shift above 30 saturates to
/// `(i32::MAX, 30)` (whatever the sign, as TFLite). Non-finite input (not handled by TFLite) gives `(0, 0)`.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    let bits = real.to_bits();
    let negative = bits >> 63 != 0;
    let biased_exp = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    if biased_exp == 0 || biased_exp == 0x7ff {
        // Zero, subnormal (far below 2^-31), infinity or NaN.
        return (0, 0);
    }
    // real = ±(2^52 + fraction) * 2^(biased_exp - 1075) = ±q * 2^shift with
    // q = (2^52 + fraction) / 2^53 in [0.5, 1): frexp.
    let significand = (1u64 << 52) | fraction;
    let mut shift = biased_exp - 1022;
    // q * 2^31 = significand / 2^22, rounded half away from zero (on the magnitude).
    let mut q_fixed = (significand + (1 << 21)) >> 22;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    if shift > 30 {
        return (i32::MAX, 30);
    }
    let magnitude = q_fixed as i32; // q_fixed < 2^31
    (if negative { -magnitude } else { magnitude }, shift)
}

/// Clamp to `[lo, hi]` and to the i8 range (never panics, even if `lo > hi`).
#[inline]
pub(crate) fn saturate(v: i32, lo: i32, hi: i32) -> i8 {
    v.max(lo).min(hi).clamp(-128, 127) as i8
}

/// Requantize an i32 accumulator: `clamp(out_zp + multiply_by_quantized_multiplier(acc, m, s), act_min, act_max)`.
#[inline]
pub(crate) fn requant(acc: i32, (m, s): (i32, i32), out_zp: i32, act_min: i32, act_max: i32) -> i8 {
    saturate(
        multiply_by_quantized_multiplier(acc, m, s).wrapping_add(out_zp),
        act_min,
        act_max,
    )
}

/// `n / d` for `d > 0` when the quotient is below 512: nine steps of binary long
/// division. A u64 `/` would link the general 64-bit division (about 1.2 KB of flash on
/// 32-bit targets) for the softmax alone.
#[inline]
pub(crate) fn div_below_512(mut n: u64, d: u64) -> u64 {
    let mut q = 0;
    for b in (0..9).rev() {
        // `n >> b >= d` is `n >= d·2^b`, so `d << b` does not overflow.
        if n >> b >= d {
            n -= d << b;
            q |= 1 << b;
        }
    }
    q
}

/// `(n / d, n % d)` for `d > 0` by binary long division from the highest set bit of
/// `n`, for the checks of the loader: a u64 `/` would link the general 64-bit division
/// (about 1.2 KB of flash on 32-bit targets).
pub(crate) fn div_rem_u64(n: u64, d: u64) -> (u64, u64) {
    let (mut q, mut r) = (0u64, 0u64);
    for b in (0..u64::BITS - n.leading_zeros()).rev() {
        // `r < d` before the shift, so `r` stays below `2·d`; with `d > u64::MAX / 2`
        // the shift could overflow, so compare before shifting.
        let bit = (n >> b) & 1;
        if r >= (d - bit).div_ceil(2) {
            r = r.wrapping_mul(2).wrapping_add(bit).wrapping_sub(d);
            q |= 1 << b;
        } else {
            r = 2 * r + bit;
        }
    }
    (q, r)
}

#[cfg(test)]
mod tests {
    use super::{div_below_512, div_rem_u64};

    /// Against u64 `/` and `%` on edge and pseudo-random operands (quotients 0..=511).
    #[test]
    fn long_division_matches_u64_division() {
        let mut r = 0x9E37_79B9_7F4A_7C15u64;
        let mut ds = std::vec![1u64, 2, 3, 255, 256, 1 << 31, (1 << 39) + 7, u64::MAX / 512];
        for _ in 0..300 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            ds.push((r >> (r % 64)) / 1024 + 1);
        }
        for d in ds {
            for q in [0u64, 1, 2, 127, 128, 255, 256, 257, 511] {
                for n in [q * d, q * d + d / 2, q * d + d - 1] {
                    assert_eq!(div_below_512(n, d), n / d, "{n} / {d}");
                    assert_eq!(div_rem_u64(n, d), (n / d, n % d), "{n} / {d}");
                }
            }
        }
    }

    /// The general division on full-range operands, divisors above `u64::MAX / 2` too.
    #[test]
    fn general_long_division_matches_u64_division() {
        let mut r = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        };
        let edges = [
            1u64,
            2,
            3,
            7,
            1 << 32,
            u64::MAX / 2,
            u64::MAX / 2 + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        for i in 0..2000 {
            let n = if i < 81 {
                edges[i % 9]
            } else {
                next() >> (next() % 64)
            };
            let d = if i < 81 {
                edges[i / 9]
            } else {
                (next() >> (next() % 64)).max(1)
            };
            assert_eq!(div_rem_u64(n, d), (n / d, n % d), "{n} / {d}");
        }
    }
}
