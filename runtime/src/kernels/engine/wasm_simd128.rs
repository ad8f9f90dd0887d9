//! WebAssembly SIMD128 primitives (compiled when the build enables `simd128`, e.g.
//! `RUSTFLAGS="-C target-feature=+simd128"`; wasm has no run-time detection).
//!
//! f32: four 4-lane registers per 16 lanes, multiply then add (SIMD128 has no fused
//! multiply-add). int8 conv: input and weights widened to i16,
//! `i32x4.dot_i16x8_s` (exact pair sums), two partial sums per channel added in
//! `finish`. Requantization without per-lane shifts (SIMD128 shifts every lane by
//! the same amount): `x << l` is a multiplication by `2^l`; the doubling high
//! multiply is `i64x2.extmul` + a shift by 31; the rounding right shift by `e` takes
//! the high half of `(q + 2^31) · 2^(32 − e)` (`u64x2.extmul`, exact), which is
//! `floor(q / 2^e) + 2^(31 − e)`. The powers of two come from the f32 exponent field.
#![allow(unsafe_code)]

use core::arch::wasm32::*;

use super::frame::{engine_kernels, F32Lanes, I32Lanes, I8Dot};
use super::types::Isa;

/// Proof that the build targets SIMD128.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Simd128(());

impl Simd128 {
    /// The token (this module only exists in builds with `simd128`).
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        Some(Simd128(()))
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Simd128, features: [],
    f32: (Simd128, Simd128::new(), 3, 1, "f32_igemm_3x16_simd128"),
    f32_dw: "f32_dwconv_16c_simd128",
    f16: ("f16_igemm_3x16_simd128", "f16_dwconv_16c_simd128", "f16_gemv_16x4_simd128"),
    i8: (Simd128, Simd128::new(), 2, 1, "i8_igemm_2x16c4_simd128"),
    i8_dw: (Simd128, Simd128::new(), "i8_dwconv_16c_simd128"),
}

/// `op` on the four registers of two 16-lane values.
macro_rules! each {
    ($op:ident, $a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        [
            $op(a[0], b[0]),
            $op(a[1], b[1]),
            $op(a[2], b[2]),
            $op(a[3], b[3]),
        ]
    }};
}

impl F32Lanes for Simd128 {
    type V = [v128; 4];

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        [f32x4_splat(x); 4]
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        let p = p.cast::<v128>();
        // SAFETY: caller's contract (16 readable f32; wasm loads need no alignment).
        unsafe {
            [
                v128_load(p),
                v128_load(p.add(1)),
                v128_load(p.add(2)),
                v128_load(p.add(3)),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        let p = p.cast::<v128>();
        // SAFETY: caller's contract (16 writable f32).
        unsafe {
            v128_store(p, v[0]);
            v128_store(p.add(1), v[1]);
            v128_store(p.add(2), v[2]);
            v128_store(p.add(3), v[3]);
        }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        each!(f32x4_add, c, each!(f32x4_mul, a, b))
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        each!(f32x4_add, a, b)
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        // `pmax(v, lo)` is `v < lo ? lo : v`, `pmin(v, hi)` is `hi < v ? hi : v`:
        // the reference's comparisons (NaN and −0 come out unchanged).
        each!(f32x4_pmin, each!(f32x4_pmax, v, lo), hi)
    }
}

/// `2^v` per lane for `v` in `0..=32` (u32 wrapping: `2^32` saturates to `u32::MAX`):
/// the f32 with exponent `v`, converted.
#[inline(always)]
fn pow2(v: v128) -> v128 {
    let bits = i32x4_shl(i32x4_add(v, i32x4_splat(127)), 23);
    u32x4_trunc_sat_f32x4(bits)
}

/// Prepared per-lane requantization (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    m: [v128; 4],
    /// `2^l`.
    left: [v128; 4],
    /// `2^(32 − e)` (any value where `e = 0`).
    down: [v128; 4],
    /// `2^(31 − e)`.
    bias: [v128; 4],
    /// All ones where `e = 0`.
    e0: [v128; 4],
    /// `2^e − 1` and half of it.
    mask: [v128; 4],
    half: [v128; 4],
}

/// `MultiplyByQuantizedMultiplier` of 4 lanes.
#[inline(always)]
fn mbqm4(v: v128, rq: &Rq, i: usize) -> v128 {
    let a = i32x4_mul(v, rq.left[i]);
    // Doubling high multiply: floor((a·m + 2^30) / 2^31), low halves of the i64s.
    let nudge = i64x2_splat(1 << 30);
    let lo = i64x2_shr(i64x2_add(i64x2_extmul_low_i32x4(a, rq.m[i]), nudge), 31);
    let hi = i64x2_shr(i64x2_add(i64x2_extmul_high_i32x4(a, rq.m[i]), nudge), 31);
    let q = i32x4_shuffle::<0, 2, 4, 6>(lo, hi);
    // Only a = m = i32::MIN gives i32::MIN: saturate to MAX.
    let q = v128_xor(q, i32x4_eq(q, i32x4_splat(i32::MIN)));
    // floor(q / 2^e) = high half of (q + 2^31)·2^(32 − e), minus 2^(31 − e).
    let biased = v128_xor(q, i32x4_splat(i32::MIN));
    let lo = u64x2_extmul_low_u32x4(biased, rq.down[i]);
    let hi = u64x2_extmul_high_u32x4(biased, rq.down[i]);
    let shifted = i32x4_sub(i32x4_shuffle::<1, 3, 5, 7>(lo, hi), rq.bias[i]);
    let shifted = v128_bitselect(q, shifted, rq.e0[i]);
    // Ties away from zero: +1 when the remainder exceeds half (half + 1 below 0).
    let rem = v128_and(q, rq.mask[i]);
    let threshold = i32x4_sub(rq.half[i], i32x4_shr(q, 31));
    i32x4_sub(shifted, i32x4_gt(rem, threshold))
}

impl I32Lanes for Simd128 {
    type V = [v128; 4];
    /// 16 weights as i16.
    type W = [v128; 2];
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        [i32x4_splat(x); 4]
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        let p = p.cast::<v128>();
        // SAFETY: caller's contract (64 readable bytes; no alignment needed).
        unsafe {
            [
                v128_load(p),
                v128_load(p.add(1)),
                v128_load(p.add(2)),
                v128_load(p.add(3)),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        let v = unsafe { v128_load(p.cast()) };
        let (lo, hi) = (i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v));
        [
            i32x4_extend_low_i16x8(lo),
            i32x4_extend_high_i16x8(lo),
            i32x4_extend_low_i16x8(hi),
            i32x4_extend_high_i16x8(hi),
        ]
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        // Saturating narrows.
        let a = i16x8_narrow_i32x4(v[0], v[1]);
        let b = i16x8_narrow_i32x4(v[2], v[3]);
        // SAFETY: caller's contract (16 writable bytes).
        unsafe { v128_store(p.cast(), i8x16_narrow_i16x8(a, b)) }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        each!(i32x4_add, a, b)
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        each!(i32x4_sub, a, b)
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        each!(i32x4_max, a, b)
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        each!(i32x4_min, a, b)
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        [
            i32x4_shl(v[0], n),
            i32x4_shl(v[1], n),
            i32x4_shl(v[2], n),
            i32x4_shl(v[3], n),
        ]
    }

    #[inline(always)]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        let zero = i32x4_splat(0);
        let s = each!(
            i32x4_min,
            each!(i32x4_max, shift, [i32x4_splat(-31); 4]),
            [i32x4_splat(31); 4]
        );
        let l = each!(i32x4_max, s, [zero; 4]);
        let e = each!(i32x4_max, each!(i32x4_sub, [zero; 4], s), [zero; 4]);
        let mask = each!(
            i32x4_sub,
            [pow2(e[0]), pow2(e[1]), pow2(e[2]), pow2(e[3])],
            [i32x4_splat(1); 4]
        );
        let down = each!(i32x4_sub, [i32x4_splat(32); 4], e);
        let bias = each!(i32x4_sub, [i32x4_splat(31); 4], e);
        Rq {
            m: multiplier,
            left: [pow2(l[0]), pow2(l[1]), pow2(l[2]), pow2(l[3])],
            down: [pow2(down[0]), pow2(down[1]), pow2(down[2]), pow2(down[3])],
            bias: [pow2(bias[0]), pow2(bias[1]), pow2(bias[2]), pow2(bias[3])],
            e0: [
                i32x4_eq(e[0], zero),
                i32x4_eq(e[1], zero),
                i32x4_eq(e[2], zero),
                i32x4_eq(e[3], zero),
            ],
            mask,
            half: [
                u32x4_shr(mask[0], 1),
                u32x4_shr(mask[1], 1),
                u32x4_shr(mask[2], 1),
                u32x4_shr(mask[3], 1),
            ],
        }
    }

    #[inline(always)]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        [
            mbqm4(v[0], rq, 0),
            mbqm4(v[1], rq, 1),
            mbqm4(v[2], rq, 2),
            mbqm4(v[3], rq, 3),
        ]
    }

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        let w = unsafe { v128_load(p.cast()) };
        [i16x8_extend_low_i8x16(w), i16x8_extend_high_i8x16(w)]
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        let xv = unsafe { v128_load(x.cast()) };
        // |x − zp| <= 255 fits i16; the widening multiply is exact.
        let zp16 = i16x8_narrow_i32x4(zp[0], zp[0]);
        let xl = i16x8_sub(i16x8_extend_low_i8x16(xv), zp16);
        let xh = i16x8_sub(i16x8_extend_high_i8x16(xv), zp16);
        [
            i32x4_add(acc[0], i32x4_extmul_low_i16x8(xl, w[0])),
            i32x4_add(acc[1], i32x4_extmul_high_i16x8(xl, w[0])),
            i32x4_add(acc[2], i32x4_extmul_low_i16x8(xh, w[1])),
            i32x4_add(acc[3], i32x4_extmul_high_i16x8(xh, w[1])),
        ]
    }
}

impl I8Dot for Simd128 {
    const U8_INPUT: bool = false;
    /// Per pair of channels, `(k0·x0 + k1·x1, k2·x2 + k3·x3)` of each.
    type Acc = [v128; 8];
    /// The 4 input values as i16, twice.
    type A = v128;
    /// The 64 packed bytes.
    type B = [v128; 4];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        [i32x4_splat(0); 8]
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        i16x8_extend_low_i8x16(u32x4_splat(quad))
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        let p = p.cast::<v128>();
        // SAFETY: caller's contract (64 readable bytes).
        unsafe {
            [
                v128_load(p),
                v128_load(p.add(1)),
                v128_load(p.add(2)),
                v128_load(p.add(3)),
            ]
        }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        let mut o = acc;
        for j in 0..4 {
            o[2 * j] = i32x4_add(o[2 * j], i32x4_dot_i16x8(i16x8_extend_low_i8x16(b[j]), a));
            o[2 * j + 1] = i32x4_add(
                o[2 * j + 1],
                i32x4_dot_i16x8(i16x8_extend_high_i8x16(b[j]), a),
            );
        }
        o
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        let mut o = [i32x4_splat(0); 4];
        for (j, o) in o.iter_mut().enumerate() {
            let (a, b) = (acc[2 * j], acc[2 * j + 1]);
            *o = i32x4_add(
                i32x4_shuffle::<0, 2, 4, 6>(a, b),
                i32x4_shuffle::<1, 3, 5, 7>(a, b),
            );
        }
        o
    }
}
