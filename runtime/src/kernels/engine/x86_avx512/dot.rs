//! The int8 conv inner product ([`I8Dot`]) on AVX-512: `vpmaddwd` on i16 without
//! VNNI (`Avx512<false>`), `vpdpbusd` on the `x + 128` bytes with it (`Avx512<true>`).

use core::arch::x86_64::*;

use super::Avx512;
use crate::kernels::engine::frame::I8Dot;

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
    /// 8 pixels × 2 panels: 16 of the 32 registers hold accumulators.
    const PANEL_PAIRS: bool = true;
    const PAIR8: bool = true;
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
    fn acc_from(self, v: Self::V) -> Option<Self::Acc> {
        Some(v)
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_epi32((quad ^ 0x8080_8080) as i32) }
    }

    #[inline(always)]
    unsafe fn a_flipped(self, p: *const i8) -> Self::A {
        // A broadcast from memory (`vpbroadcastd zmm, m32`): a load, no vector ALU
        // slot. SAFETY: caller's contract; `self` proves AVX-512F.
        unsafe { _mm512_set1_epi32(core::ptr::read_unaligned(p.cast::<i32>())) }
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

    #[inline(always)]
    fn pair8(self, a: Self::V, b: Self::V) -> Self::V {
        // 128-bit lanes 0, 1 of `a`, then 0, 1 of `b` (`vshufi64x2`).
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_shuffle_i64x2::<0b0100_0100>(a, b) }
    }
}
