//! x86-64 AVX2 + FMA + F16C primitives (every AVX2 CPU has F16C; selected at run time
//! with `is_x86_feature_detected!` under `std`, at compile time with
//! `-C target-feature=+avx2,+fma,+f16c` otherwise).
//!
//! f32: two 8-lane registers per 16 lanes, `vfmadd231ps`. int8 conv: the 4 input
//! bytes and the 64 packed bytes are widened to i16 and multiplied with `vpmaddwd`
//! (|pair sum| <= 2·128·128, exact), which leaves per channel two partial sums
//! (k 0–1 and k 2–3) that `finish` adds with `vphaddd`. Requantization: `vpmuldq`
//! on even and odd lanes for the doubling high multiply, `vpsravd` for the
//! per-channel rounding shift.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::frame::{engine_kernels, F32Lanes, I32Lanes, I8Dot};
use super::types::Isa;

/// Proof that the CPU has AVX2, FMA and F16C.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token, if this CPU has AVX2 and FMA.
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(
            target_feature = "avx2",
            target_feature = "fma",
            target_feature = "f16c"
        ));
        ok.then_some(Avx2(()))
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Avx2, features: ["avx2,fma,f16c"],
    f32: (Avx2, Avx2::new(), 6, 3, "f32_igemm_6x16_avx2"),
    f32_dw: "f32_dwconv_16c_avx2",
    f16: ("f16_igemm_6x16_avx2", "f16_dwconv_16c_avx2", "f16_gemv_16x4_avx2"),
    i8: (Avx2, Avx2::new(), 2, 1, "i8_igemm_2x16c4_avx2"),
    i8_dw: (Avx2, Avx2::new(), "i8_dwconv_16c_avx2"),
}

/// Lanes `i < n` set (all bits), for `i` in `base..base + 8`.
///
/// # Safety
/// AVX2.
#[inline(always)]
unsafe fn lane_mask(n: usize, base: i32) -> __m256i {
    // SAFETY: AVX2 (caller's contract); register-only operations.
    unsafe {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let n = _mm256_set1_epi32(n as i32 - base);
        _mm256_cmpgt_epi32(n, idx)
    }
}

impl F32Lanes for Avx2 {
    type V = [__m256; 2];

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_set1_ps(x); 2] }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (16 readable f32; unaligned loads).
        unsafe { [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))] }
    }

    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16) -> Self::V {
        // SAFETY: caller's contract (16 readable u16; unaligned loads); `self` proves
        // F16C; `vcvtph2ps` is exact.
        unsafe {
            [
                _mm256_cvtph_ps(_mm_loadu_si128(p.cast())),
                _mm256_cvtph_ps(_mm_loadu_si128(p.add(8).cast())),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: caller's contract (16 writable f32; unaligned stores).
        unsafe {
            _mm256_storeu_ps(p, v[0]);
            _mm256_storeu_ps(p.add(8), v[1]);
        }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2 and FMA.
        unsafe {
            [
                _mm256_fmadd_ps(a[0], b[0], c[0]),
                _mm256_fmadd_ps(a[1], b[1], c[1]),
            ]
        }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_add_ps(a[0], b[0]), _mm256_add_ps(a[1], b[1])] }
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        // `vmaxps a, b` is `a > b ? a : b` and `vminps a, b` is `a < b ? a : b`: with
        // the bound first, a NaN `v` comes out unchanged, as in the reference.
        // SAFETY: `self` proves AVX2.
        unsafe {
            [
                _mm256_min_ps(hi[0], _mm256_max_ps(lo[0], v[0])),
                _mm256_min_ps(hi[1], _mm256_max_ps(lo[1], v[1])),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_partial(self, p: *const f32, n: usize) -> Self::V {
        // SAFETY: caller's contract (`n` readable f32); masked-off lanes are not read.
        unsafe {
            [
                _mm256_maskload_ps(p, lane_mask(n, 0)),
                _mm256_maskload_ps(p.add(8), lane_mask(n, 8)),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: caller's contract (`n` writable f32); masked-off lanes are not written.
        unsafe {
            _mm256_maskstore_ps(p, lane_mask(n, 0), v[0]);
            _mm256_maskstore_ps(p.add(8), lane_mask(n, 8), v[1]);
        }
    }
}

/// Prepared per-lane requantization: multiplier, left shift, right shift, the
/// right shift's remainder mask and half of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    m: [__m256i; 2],
    l: [__m256i; 2],
    e: [__m256i; 2],
    mask: [__m256i; 2],
    half: [__m256i; 2],
}

/// `floor((a·m + 2^30) / 2^31)` per lane, `i32::MAX` for `a = m = i32::MIN`.
///
/// # Safety
/// AVX2.
#[inline(always)]
unsafe fn srdhm(a: __m256i, m: __m256i) -> __m256i {
    // SAFETY: AVX2 (caller's contract); register-only operations.
    unsafe {
        let nudge = _mm256_set1_epi64x(1 << 30);
        // Even lanes (sign-extended 32×32 → 64), then the odd lanes copied down
        // (`vpshufd`: a 64-bit shift here becomes a 64-bit multiply in LLVM).
        let even = _mm256_add_epi64(_mm256_mul_epi32(a, m), nudge);
        let odd = _mm256_mul_epi32(
            _mm256_shuffle_epi32::<0xF5>(a),
            _mm256_shuffle_epi32::<0xF5>(m),
        );
        let odd = _mm256_add_epi64(odd, nudge);
        // Bits 31..62 of each 64-bit sum: the low half of `even >> 31`, the high half
        // of `odd << 1`.
        let q = _mm256_blend_epi32::<0b1010_1010>(
            _mm256_srli_epi64::<31>(even),
            _mm256_slli_epi64::<1>(odd),
        );
        // Only `a = m = i32::MIN` gives i32::MIN (2^31 wrapped): saturate to MAX.
        _mm256_xor_si256(q, _mm256_cmpeq_epi32(q, _mm256_set1_epi32(i32::MIN)))
    }
}

/// `(multiplier, left shift, right shift, remainder mask, half mask)` of 8 lanes.
///
/// # Safety
/// AVX2.
#[inline(always)]
unsafe fn rq8(m: __m256i, shift: __m256i) -> (__m256i, __m256i, __m256i, __m256i, __m256i) {
    // SAFETY: AVX2 (caller's contract); register-only operations.
    unsafe {
        let (zero, one) = (_mm256_setzero_si256(), _mm256_set1_epi32(1));
        let s = _mm256_min_epi32(
            _mm256_max_epi32(shift, _mm256_set1_epi32(-31)),
            _mm256_set1_epi32(31),
        );
        let e = _mm256_max_epi32(_mm256_sub_epi32(zero, s), zero);
        let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
        (
            m,
            _mm256_max_epi32(s, zero),
            e,
            mask,
            _mm256_srli_epi32::<1>(mask),
        )
    }
}

/// `MultiplyByQuantizedMultiplier` of 8 lanes.
///
/// # Safety
/// AVX2.
#[inline(always)]
unsafe fn mbqm8(
    v: __m256i,
    m: __m256i,
    l: __m256i,
    e: __m256i,
    mask: __m256i,
    half: __m256i,
) -> __m256i {
    // SAFETY: AVX2 (caller's contract); register-only operations.
    unsafe {
        let q = srdhm(_mm256_sllv_epi32(v, l), m);
        // Rounding right shift, ties away from zero: +1 when the remainder exceeds
        // half the divisor (half + 1 for negative values).
        let rem = _mm256_and_si256(q, mask);
        let threshold = _mm256_add_epi32(half, _mm256_srli_epi32::<31>(q));
        let up = _mm256_cmpgt_epi32(rem, threshold);
        _mm256_sub_epi32(_mm256_srav_epi32(q, e), up)
    }
}

impl I32Lanes for Avx2 {
    type V = [__m256i; 2];
    /// 16 weights in the low halves of i32 lanes (channels 0–7, 8–15), zero high
    /// halves: `vpmaddwd` of sign-extended inputs by them is one exact product per
    /// lane.
    type W = [__m256i; 2];
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_set1_epi32(x); 2] }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        // SAFETY: caller's contract (64 readable bytes; unaligned loads).
        unsafe {
            [
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(32).cast()),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe {
            [
                _mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast())),
                _mm256_cvtepi8_epi32(_mm_loadl_epi64(p.add(8).cast())),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        // SAFETY: caller's contract (16 writable bytes).
        unsafe {
            // Saturating packs; `vpackssdw` interleaves the 128-bit halves, undone by
            // the qword permutation.
            let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(v[0], v[1]));
            let b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w));
            _mm_storeu_si128(p.cast(), b);
        }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_add_epi32(a[0], b[0]), _mm256_add_epi32(a[1], b[1])] }
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_sub_epi32(a[0], b[0]), _mm256_sub_epi32(a[1], b[1])] }
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_max_epi32(a[0], b[0]), _mm256_max_epi32(a[1], b[1])] }
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_min_epi32(a[0], b[0]), _mm256_min_epi32(a[1], b[1])] }
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe {
            let n = _mm_cvtsi32_si128(n as i32);
            [_mm256_sll_epi32(v[0], n), _mm256_sll_epi32(v[1], n)]
        }
    }

    #[inline(always)]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        // SAFETY: `self` proves AVX2.
        let (a, b) = unsafe { (rq8(multiplier[0], shift[0]), rq8(multiplier[1], shift[1])) };
        Rq {
            m: [a.0, b.0],
            l: [a.1, b.1],
            e: [a.2, b.2],
            mask: [a.3, b.3],
            half: [a.4, b.4],
        }
    }

    #[inline(always)]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe {
            [
                mbqm8(v[0], rq.m[0], rq.l[0], rq.e[0], rq.mask[0], rq.half[0]),
                mbqm8(v[1], rq.m[1], rq.l[1], rq.e[1], rq.mask[1], rq.half[1]),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe {
            let w = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast()));
            [
                _mm256_cvtepu16_epi32(_mm256_castsi256_si128(w)),
                _mm256_cvtepu16_epi32(_mm256_extracti128_si256::<1>(w)),
            ]
        }
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe {
            let (lo, hi) = x16(x);
            [
                madd8(acc[0], _mm256_sub_epi32(lo, zp[0]), w[0]),
                madd8(acc[1], _mm256_sub_epi32(hi, zp[1]), w[1]),
            ]
        }
    }

    #[inline(always)]
    unsafe fn mac_w0(self, acc: Self::V, x: *const i8, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe {
            let (lo, hi) = x16(x);
            [madd8(acc[0], lo, w[0]), madd8(acc[1], hi, w[1])]
        }
    }
}

/// The 16 i8 at `x` sign-extended to i32 lanes: channels 0–7, 8–15.
///
/// # Safety
/// AVX2; `x` points to 16 readable bytes.
#[inline(always)]
unsafe fn x16(x: *const i8) -> (__m256i, __m256i) {
    // SAFETY: caller's contract.
    unsafe {
        (
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(x.cast())),
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(x.add(8).cast())),
        )
    }
}

/// `acc + x·w` per i32 lane: `x` lanes hold values in `[−255, 255]` (sign-extended),
/// `w` lanes an i8 weight in the low half and zero in the high half, so `vpmaddwd`
/// gives the exact product (the high halves multiply zero).
///
/// # Safety
/// AVX2.
#[inline(always)]
unsafe fn madd8(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
    // SAFETY: caller's contract; register-only operations.
    unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(x, w)) }
}

impl I8Dot for Avx2 {
    const U8_INPUT: bool = false;
    /// Per group of 4 channels: `(k0·x0 + k1·x1, k2·x2 + k3·x3)` per channel.
    type Acc = [__m256i; 4];
    /// The 4 input values as i16, repeated in every 64-bit lane.
    type A = __m256i;
    /// The 64 packed bytes as i16, 4 channels per register.
    type B = [__m256i; 4];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        // SAFETY: `self` proves AVX2.
        unsafe { [_mm256_setzero_si256(); 4] }
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves AVX2.
        unsafe { _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(quad as i32))) }
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes).
        unsafe {
            [
                _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())),
                _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(16).cast())),
                _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(32).cast())),
                _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(48).cast())),
            ]
        }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        // SAFETY: `self` proves AVX2.
        unsafe {
            [
                _mm256_add_epi32(acc[0], _mm256_madd_epi16(b[0], a)),
                _mm256_add_epi32(acc[1], _mm256_madd_epi16(b[1], a)),
                _mm256_add_epi32(acc[2], _mm256_madd_epi16(b[2], a)),
                _mm256_add_epi32(acc[3], _mm256_madd_epi16(b[3], a)),
            ]
        }
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        // SAFETY: `self` proves AVX2.
        unsafe {
            // `vphaddd` per 128-bit half gives channels (0, 1, 4, 5 | 2, 3, 6, 7).
            [
                _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc[0], acc[1])),
                _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc[2], acc[3])),
            ]
        }
    }
}
