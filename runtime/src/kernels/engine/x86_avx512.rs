//! x86-64 AVX-512 primitives: F, BW and VL (Skylake-SP and later, Zen 4), and VNNI
//! (Cascade Lake, Ice Lake and later, Zen 4) for the int8 conv. Selected at run time
//! with `is_x86_feature_detected!` under `std`, else at compile time.
//!
//! f32: one register per 16 lanes, `vfmadd231ps` with the broadcast folded into the
//! memory operand; tails with masked loads and stores. int8 conv: with VNNI
//! (`Avx512<true>`) one `vpdpbusd` per pixel and group of 4 channels, the input
//! bytes flipped to `x + 128` (`U8_INPUT`, the packed `bias_u8` row); without it
//! (`Avx512<false>`) widening to i16 and `vpmaddwd` as in the AVX2 module.
//! Requantization as in the AVX2 module on 16 lanes, with mask registers.
//!
//! The AVX-512 intrinsics and target features are stable since Rust 1.89, above the
//! workspace's declared `rust-version` (1.85): this module needs 1.89.
#![allow(unsafe_code)]
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::frame::{engine_kernels, F32Lanes, I32Lanes, I8Dot};
use super::{Isa, Kernels};

/// Proof that the CPU has AVX-512 F, BW, VL (and AVX2, FMA), plus VNNI when `VNNI`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512<const VNNI: bool>(());

/// The AVX-512 token without VNNI.
pub(crate) type Avx512Bw = Avx512<false>;
/// The AVX-512 token with VNNI.
pub(crate) type Vnni = Avx512<true>;

impl<const VNNI: bool> Avx512<VNNI> {
    /// The token, if this CPU has the features.
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && (!VNNI || std::is_x86_feature_detected!("avx512vnni"));
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx2",
            target_feature = "fma"
        )) && (!VNNI || cfg!(target_feature = "avx512vnni"));
        ok.then_some(Avx512(()))
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Avx512, features: ["avx512f,avx512bw,avx512vl,avx2,fma"],
    f32: (Avx512Bw, Avx512Bw::new(), 8, 4, "f32_igemm_8x16_avx512"),
    f32_dw: "f32_dwconv_16c_avx512",
    i8: (Avx512Bw, Avx512Bw::new(), 4, 2, "i8_igemm_4x16c4_avx512bw"),
    i8_dw: (Avx512Bw, Avx512Bw::new(), "i8_dwconv_16c_avx512"),
}

/// The VNNI int8 conv (its table's other kernels are the parent module's).
mod vnni {
    use super::{engine_kernels, Isa, Vnni};

    engine_kernels! {
        kernels: KERNELS, isa: Isa::Avx512Vnni,
        features: ["avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"],
        f32: (Vnni, Vnni::new(), 8, 4, "f32_igemm_8x16_avx512"),
        f32_dw: "f32_dwconv_16c_avx512",
        i8: (Vnni, Vnni::new(), 8, 4, "i8_igemm_8x16c4_avx512vnni"),
        i8_dw: (Vnni, Vnni::new(), "i8_dwconv_16c_avx512"),
    }
}

/// [`Isa::Avx512Vnni`]: the VNNI int8 conv, the other kernels of [`KERNELS`].
pub(crate) const KERNELS_VNNI: Kernels = Kernels {
    isa: Isa::Avx512Vnni,
    i8_conv: vnni::KERNELS.i8_conv,
    ..KERNELS
};

/// The mask of lanes `0..n`.
#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

impl<const VNNI: bool> F32Lanes for Avx512<VNNI> {
    type V = __m512;

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_ps(x) }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (16 readable f32; unaligned load).
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: caller's contract (16 writable f32; unaligned store).
        unsafe { _mm512_storeu_ps(p, v) }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_add_ps(a, b) }
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        // As in the AVX2 module: the bound first, so a NaN `v` comes out unchanged.
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_min_ps(hi, _mm512_max_ps(lo, v)) }
    }

    #[inline(always)]
    unsafe fn load_partial(self, p: *const f32, n: usize) -> Self::V {
        // SAFETY: caller's contract (`n` readable f32); masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
    }

    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: caller's contract (`n` writable f32); masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, mask16(n), v) }
    }
}

/// Prepared per-lane requantization (see the AVX2 module).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    m: __m512i,
    l: __m512i,
    e: __m512i,
    mask: __m512i,
    half: __m512i,
}

impl<const VNNI: bool> I32Lanes for Avx512<VNNI> {
    type V = __m512i;
    /// 16 weights as i16.
    type W = __m256i;
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_epi32(x) }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        // SAFETY: caller's contract (64 readable bytes; unaligned load).
        unsafe { _mm512_loadu_si512(p.cast()) }
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe { _mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load_i8_partial(self, p: *const i8, n: usize) -> Self::V {
        // SAFETY: caller's contract (`n` readable bytes); masked-off bytes are not read.
        unsafe { _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask16(n), p)) }
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        // SAFETY: caller's contract (16 writable bytes); `vpmovsdb` saturates.
        unsafe { _mm_storeu_si128(p.cast(), _mm512_cvtsepi32_epi8(v)) }
    }

    #[inline(always)]
    unsafe fn store_i8_partial(self, p: *mut i8, v: Self::V, n: usize) {
        // SAFETY: caller's contract (`n` writable bytes); masked-off bytes are not written.
        unsafe { _mm512_mask_cvtsepi32_storeu_epi8(p, mask16(n), v) }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_add_epi32(a, b) }
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_sub_epi32(a, b) }
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_max_epi32(a, b) }
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_min_epi32(a, b) }
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_sll_epi32(v, _mm_cvtsi32_si128(n as i32)) }
    }

    #[inline(always)]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let (zero, one) = (_mm512_setzero_si512(), _mm512_set1_epi32(1));
            let s = _mm512_min_epi32(
                _mm512_max_epi32(shift, _mm512_set1_epi32(-31)),
                _mm512_set1_epi32(31),
            );
            let e = _mm512_max_epi32(_mm512_sub_epi32(zero, s), zero);
            let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
            Rq {
                m: multiplier,
                l: _mm512_max_epi32(s, zero),
                e,
                mask,
                half: _mm512_srli_epi32::<1>(mask),
            }
        }
    }

    #[inline(always)]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let a = _mm512_sllv_epi32(v, rq.l);
            // Doubling high multiply: see `x86_avx2::srdhm`.
            let nudge = _mm512_set1_epi64(1 << 30);
            let even = _mm512_add_epi64(_mm512_mul_epi32(a, rq.m), nudge);
            let odd = _mm512_mul_epi32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(rq.m));
            let odd = _mm512_add_epi64(odd, nudge);
            let q = _mm512_mask_blend_epi32(
                0xAAAA,
                _mm512_srli_epi64::<31>(even),
                _mm512_slli_epi64::<1>(odd),
            );
            let min = _mm512_set1_epi32(i32::MIN);
            let q = _mm512_mask_mov_epi32(
                q,
                _mm512_cmpeq_epi32_mask(q, min),
                _mm512_set1_epi32(i32::MAX),
            );
            // Rounding right shift, ties away from zero.
            let rem = _mm512_and_si512(q, rq.mask);
            let threshold = _mm512_add_epi32(rq.half, _mm512_srli_epi32::<31>(q));
            let up = _mm512_cmpgt_epi32_mask(rem, threshold);
            let r = _mm512_srav_epi32(q, rq.e);
            _mm512_mask_add_epi32(r, up, r, _mm512_set1_epi32(1))
        }
    }

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())) }
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe { mac16(acc, _mm_loadu_si128(x.cast()), zp, w) }
    }

    #[inline(always)]
    unsafe fn mac_w_partial(
        self,
        acc: Self::V,
        x: *const i8,
        n: usize,
        zp: Self::V,
        w: Self::W,
    ) -> Self::V {
        // SAFETY: caller's contract (`n` readable bytes); masked-off bytes are not read.
        unsafe { mac16(acc, _mm_maskz_loadu_epi8(mask16(n), x), zp, w) }
    }
}

/// `acc + (x − zp)·w` of 16 lanes: `x` 16 i8, `zp` i32 lanes, `w` i16 lanes.
///
/// # Safety
/// AVX-512 F, BW, VL.
#[inline(always)]
unsafe fn mac16(acc: __m512i, x: __m128i, zp: __m512i, w: __m256i) -> __m512i {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        // |x − zp| <= 255 and |w| <= 128: the i16 product is exact.
        let xv = _mm256_sub_epi16(_mm256_cvtepi8_epi16(x), _mm512_cvtepi32_epi16(zp));
        _mm512_add_epi32(acc, _mm512_cvtepi16_epi32(_mm256_mullo_epi16(xv, w)))
    }
}

impl I8Dot for Avx512<false> {
    const U8_INPUT: bool = false;
    /// Per channel `(k0·x0 + k1·x1, k2·x2 + k3·x3)`: channels 0–7, then 8–15.
    type Acc = [__m512i; 2];
    /// The 4 input values as i16, repeated in every 64-bit lane.
    type A = __m512i;
    /// The 64 packed bytes as i16, 8 channels per register.
    type B = [__m512i; 2];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        // SAFETY: `self` proves AVX-512F.
        unsafe { [_mm512_setzero_si512(); 2] }
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(quad as i32))) }
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes); `self` proves AVX-512BW.
        unsafe {
            [
                _mm512_cvtepi8_epi16(_mm256_loadu_si256(p.cast())),
                _mm512_cvtepi8_epi16(_mm256_loadu_si256(p.add(32).cast())),
            ]
        }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        // SAFETY: `self` proves AVX-512BW.
        unsafe {
            [
                _mm512_add_epi32(acc[0], _mm512_madd_epi16(b[0], a)),
                _mm512_add_epi32(acc[1], _mm512_madd_epi16(b[1], a)),
            ]
        }
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            _mm512_add_epi32(
                _mm512_permutex2var_epi32(acc[0], even, acc[1]),
                _mm512_permutex2var_epi32(acc[0], odd, acc[1]),
            )
        }
    }
}

impl I8Dot for Avx512<true> {
    const U8_INPUT: bool = true;
    type Acc = __m512i;
    /// `x + 128` (`x ^ 0x80`) of the 4 input bytes, in every 32-bit lane.
    type A = __m512i;
    type B = __m512i;

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_setzero_si512() }
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_epi32((quad ^ 0x8080_8080) as i32) }
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes; unaligned load).
        unsafe { _mm512_loadu_si512(p.cast()) }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        // u8 (a) × s8 (b), 4 products per lane summed into i32: exact.
        // SAFETY: `self` proves AVX-512 VNNI.
        unsafe { _mm512_dpbusd_epi32(acc, a, b) }
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        acc
    }
}
