//! The vector primitives of a target ([`Lanes`]), the size checks of the drivers and
//! the vectorizable requantization of an int8 row.

use crate::kernels::params::{FullyConnectedParams, QuantOut};

/// Vector primitives of one target. A value of the implementing type is a proof that
/// the CPU supports the instructions it uses (a zero-sized token, created only after
/// the feature check).
///
/// Slices passed together have equal lengths (the drivers guarantee it;
/// implementations process the common prefix). int8 primitives require
/// `zp` in `-128..=127`.
pub(crate) trait Lanes: Copy {
    /// `sum_k (x[k] - zp) * w[k]`, wrapping i32.
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32;
    /// [`Lanes::dot_i8`] for four weight rows sharing `x`.
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4];
    /// `acc[i] += (x[i] - zp) * w`, wrapping i32.
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8);
    /// [`Lanes::axpy_i8`] for four accumulator rows and weights sharing `x`.
    fn axpy4_i8(self, acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]);
    /// A whole int8 FullyConnected ([`int8_fully_connected`](super::int8_fully_connected)'s
    /// contract) on a path of the target for small shapes; `false`, with nothing
    /// written, when the shape or the CPU does not fit it (the default: no such path).
    #[inline(always)]
    fn int8_fc_small(
        self,
        _p: &FullyConnectedParams,
        _x: &[i8],
        _x_zp: i32,
        _w: &[i8],
        _out: &QuantOut<'_>,
        _y: &mut [i8],
    ) -> bool {
        false
    }
    /// `sum_k x[k] * w[k]` in any order.
    fn dot_f32(self, x: &[f32], w: &[f32]) -> f32;
    /// [`Lanes::dot_f32`] for four weight rows sharing `x`.
    fn dot4_f32(self, x: &[f32], w: [&[f32]; 4]) -> [f32; 4];
    /// `acc[i] = acc[i] + x[i] * w`, each operation rounded (no FMA).
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32);
    /// [`f32::quantize_i8`](crate::kernels::f32::quantize_i8), identical bytes (the
    /// default is the reference loop).
    #[inline(always)]
    fn quantize_i8(self, x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
        crate::kernels::f32::quantize_i8(x, scale, zero_point, y);
    }
    /// [`f32::quantize_u8`](crate::kernels::f32::quantize_u8), identical bytes.
    #[inline(always)]
    fn quantize_u8(self, x: &[f32], scale: f32, zero_point: i32, y: &mut [u8]) {
        crate::kernels::f32::quantize_u8(x, scale, zero_point, y);
    }
    /// [`f32::dequantize_i8`](crate::kernels::f32::dequantize_i8), identical bits.
    #[inline(always)]
    fn dequantize_i8(self, x: &[i8], scale: f32, zero_point: i32, y: &mut [f32]) {
        crate::kernels::f32::dequantize_i8(x, scale, zero_point, y);
    }
    /// [`f32::dequantize_u8`](crate::kernels::f32::dequantize_u8), identical bits.
    #[inline(always)]
    fn dequantize_u8(self, x: &[u8], scale: f32, zero_point: i32, y: &mut [f32]) {
        crate::kernels::f32::dequantize_u8(x, scale, zero_point, y);
    }
}

/// `a * b`, `None` on overflow.
#[inline(always)]
pub(super) fn mul(a: usize, b: usize) -> Option<usize> {
    a.checked_mul(b)
}

/// True when `len` holds a `rows x cols` matrix.
#[inline(always)]
pub(super) fn holds(len: usize, rows: usize, cols: usize) -> bool {
    mul(rows, cols).is_some_and(|need| len >= need)
}

/// `y[i] = out.apply(acc[i], ch)` (bias and requantization of output channel `ch`), in
/// a form that vectorizes (same results for every input; tested against the
/// reference).
///
/// [`ri::requant`] is `mbqm` (TFLite `MultiplyByQuantizedMultiplier`): a left shift,
/// `srdhm(a, m) = trunc((a * m + nudge) / 2^31)` with `nudge = 2^30` for `a * m >= 0`
/// and `1 - 2^30` otherwise, then a rounding right shift. Both cases of the truncating
/// division equal the floor `(a * m + 2^30) >> 31`: for `a * m < 0` the numerator
/// `t = a * m + 1 - 2^30` is negative and `trunc(t / 2^31) = (t + 2^31 - 1) >> 31`.
/// The only overflowing input, `a = m = i32::MIN`, saturates to `i32::MAX` as there.
/// The rounding right shift by `e <= 31` is computed in i32 (the reference's i64
/// mask, remainder and threshold all fit).
#[inline(always)]
pub(crate) fn requant_row(acc: &[i32], ch: usize, out: &QuantOut<'_>, y: &mut [i8]) {
    let (b0, (m, shift)) = (out.bias_of(ch), out.pair(ch));
    let (out_zp, act_min, act_max) = (out.zero_point, out.act_min, out.act_max);
    let shift = shift.clamp(-31, 31);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    let mask = ((1u32 << right) - 1) as i32;
    let half = mask >> 1;
    let m64 = i64::from(m);
    for (o, &a) in y.iter_mut().zip(acc) {
        let a = a.wrapping_add(b0).wrapping_shl(left);
        let q = ((i64::from(a) * m64 + (1 << 30)) >> 31) as i32;
        let q = if a == i32::MIN && m == i32::MIN {
            i32::MAX
        } else {
            q
        };
        let rem = q & mask;
        let threshold = half + i32::from(q < 0);
        let v = (q >> right) + i32::from(rem > threshold);
        *o = v
            .wrapping_add(out_zp)
            .max(act_min)
            .min(act_max)
            .clamp(-128, 127) as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::corners::{ACC_CORNERS, MULTIPLIER_CORNERS};
    use crate::kernels::reference::int8 as ri;

    /// [`requant_row`] against [`ri::requant`] on the corners of every argument.
    #[test]
    fn requant_row_matches_the_reference() {
        let (accs, multipliers) = (ACC_CORNERS, MULTIPLIER_CORNERS);
        let mut acc = [0i32; 64];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = accs[i % accs.len()].wrapping_add((i / accs.len()) as i32 * 7_919);
        }
        for b0 in [0, 5, -5, i32::MAX, i32::MIN] {
            for &m in &multipliers {
                for shift in [-40, -32, -31, -30, -16, -9, -1, 0, 1, 2, 7, 30, 31, 32, 40] {
                    for (zp, lo, hi) in
                        [(0, -128, 127), (-128, -128, 127), (127, 0, 6), (3, 10, -10)]
                    {
                        let mut got = [0i8; 64];
                        let bias = [b0];
                        let requant = [m, shift];
                        let out = QuantOut {
                            bias: Some(&bias),
                            requant: &requant,
                            zero_point: zp,
                            act_min: lo,
                            act_max: hi,
                        };
                        requant_row(&acc, 0, &out, &mut got);
                        for (&a, &g) in acc.iter().zip(&got) {
                            let want = ri::requant(a.wrapping_add(b0), (m, shift), zp, lo, hi);
                            assert_eq!(g, want, "acc {a} b0 {b0} m {m} shift {shift} zp {zp}");
                        }
                    }
                }
            }
        }
    }
}
