//! x86-64 AVX2 kernels (selected at run time with `is_x86_feature_detected!` when
//! the `std` feature is on, at compile time with `-C target-feature=+avx2` otherwise).
//!
//! int8: inputs widened to i16 lanes, `x - x_zp` in i16 (exact for `x_zp` in
//! `-128..=127`); dot products with `vpmaddwd` (i16 x i16 -> i32 pairs; products are
//! at most 255 * 128 in magnitude, so neither the products nor the pair sums saturate),
//! convolution rows with `vpmullw` (the product fits i16 exactly) widened to i32.
//! f32: 8-lane multiply then add (no FMA).
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::driver::Lanes;
use super::f32 as kf;
use super::params::{FullyConnectedParams, QuantOut};
use super::portable::Portable;

mod fc_small;

/// Proof that the CPU supports AVX2.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token, if this CPU supports AVX2.
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx2");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(target_feature = "avx2");
        ok.then_some(Avx2(()))
    }
}

/// Sum of the eight i32 lanes (wrapping).
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn hsum_i32(v: __m256i) -> i32 {
    // SAFETY: AVX2 is available (caller's contract); register-only operations.
    unsafe {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`: the grouping of
/// [`Portable`]'s f32 lanes.
///
/// # Safety
/// The CPU supports AVX2.
#[inline(always)]
unsafe fn hsum_f32(v: __m256) -> f32 {
    // SAFETY: AVX2 is available (caller's contract); register-only operations.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }
}

/// 16 i8 at `p` widened to i16, minus `zp`.
///
/// # Safety
/// AVX2; `p` points to 16 readable bytes.
#[inline(always)]
unsafe fn load16_minus(p: *const i8, zp: __m256i) -> __m256i {
    // SAFETY: caller's contract (16 readable bytes, unaligned load).
    unsafe { _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())), zp) }
}

/// `a[0..16] += p` with the 16 i16 lanes of `p` widened to i32.
///
/// # Safety
/// AVX2; `a` points to 16 writable i32.
#[inline(always)]
unsafe fn add_widened(a: *mut i32, p: __m256i) {
    // SAFETY: caller's contract (16 i32 at `a`, unaligned loads and stores).
    unsafe {
        let a = a.cast::<__m256i>();
        let lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p));
        let hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(p));
        _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), lo));
        let a = a.add(1);
        _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), hi));
    }
}

/// `a[0..8] += p`.
///
/// # Safety
/// AVX2; `a` points to 8 writable i32.
#[inline(always)]
unsafe fn add8(a: *mut i32, p: __m256i) {
    // SAFETY: caller's contract (8 i32 at `a`, unaligned loads and stores).
    unsafe {
        let a = a.cast::<__m256i>();
        _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), p));
    }
}

impl Lanes for Avx2 {
    /// AVX-512 VNNI and VBMI2 when the CPU has them: [`fc_small`].
    #[inline(always)]
    fn int8_fc_small(
        self,
        p: &FullyConnectedParams,
        x: &[i8],
        x_zp: i32,
        w: &[i8],
        out: &QuantOut<'_>,
        y: &mut [i8],
    ) -> bool {
        fc_small::run(p, x, x_zp, w, out, y)
    }

    #[inline(always)]
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32 {
        let len = x.len().min(w.len());
        let body = len - len % 16;
        // SAFETY: `self` proves AVX2; each load reads bytes `i..i + 16` with
        // `i + 16 <= body <= len` of both slices.
        let acc = unsafe {
            let zpv = _mm256_set1_epi16(zp as i16);
            let mut acc = _mm256_setzero_si256();
            let mut i = 0;
            while i < body {
                let xv = load16_minus(x.as_ptr().add(i), zpv);
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(i).cast()));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
                i += 16;
            }
            hsum_i32(acc)
        };
        acc.wrapping_add(Portable.dot_i8(&x[body..len], zp, &w[body..len]))
    }

    #[inline(always)]
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let body = len - len % 16;
        // SAFETY: `self` proves AVX2; each load reads bytes `i..i + 16` with
        // `i + 16 <= body <= len` of `x` and of every row.
        let acc = unsafe {
            let zpv = _mm256_set1_epi16(zp as i16);
            let mut acc = [_mm256_setzero_si256(); 4];
            let mut i = 0;
            while i < body {
                let xv = load16_minus(x.as_ptr().add(i), zpv);
                for (a, r) in acc.iter_mut().zip(&w) {
                    let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(r.as_ptr().add(i).cast()));
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(xv, wv));
                }
                i += 16;
            }
            acc.map(|a| hsum_i32(a))
        };
        let mut out = [0; 4];
        for r in 0..4 {
            out[r] = acc[r].wrapping_add(Portable.dot_i8(&x[body..len], zp, &w[r][body..len]));
        }
        out
    }

    #[inline(always)]
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8) {
        let len = acc.len().min(x.len());
        let mut i = 0;
        // SAFETY: `self` proves AVX2; loads of `x` read `i..i + 16` (or `i..i + 8`)
        // and loads/stores of `acc` touch `i..i + 16` (or `i..i + 8`), all `<= len`.
        unsafe {
            let zpv = _mm256_set1_epi16(zp as i16);
            let wv = _mm256_set1_epi16(i16::from(w));
            let (xp, ap) = (x.as_ptr(), acc.as_mut_ptr());
            while i + 16 <= len {
                // |x - zp| <= 255 and |w| <= 128: the i16 product is exact.
                add_widened(
                    ap.add(i),
                    _mm256_mullo_epi16(load16_minus(xp.add(i), zpv), wv),
                );
                i += 16;
            }
            if i + 8 <= len {
                let xv = _mm256_cvtepi8_epi32(_mm_loadl_epi64(xp.add(i).cast()));
                let xv = _mm256_sub_epi32(xv, _mm256_set1_epi32(zp));
                add8(
                    ap.add(i),
                    _mm256_mullo_epi32(xv, _mm256_set1_epi32(i32::from(w))),
                );
                i += 8;
            }
        }
        Portable.axpy_i8(&mut acc[i..len], &x[i..len], zp, w);
    }

    #[inline(always)]
    fn axpy4_i8(self, mut acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]) {
        let len = acc.iter().fold(x.len(), |l, a| l.min(a.len()));
        let mut i = 0;
        // SAFETY: `self` proves AVX2; loads of `x` read `i..i + 16` (or `i..i + 8`)
        // and loads/stores of each accumulator row touch the same range, all `<= len`.
        unsafe {
            let zpv = _mm256_set1_epi16(zp as i16);
            let wv = w.map(|w| _mm256_set1_epi16(i16::from(w)));
            let ap = acc.each_mut().map(|a| a.as_mut_ptr());
            let xp = x.as_ptr();
            while i + 16 <= len {
                let xv = load16_minus(xp.add(i), zpv);
                for (a, w) in ap.iter().zip(&wv) {
                    add_widened(a.add(i), _mm256_mullo_epi16(xv, *w));
                }
                i += 16;
            }
            if i + 8 <= len {
                let xv = _mm256_cvtepi8_epi32(_mm_loadl_epi64(xp.add(i).cast()));
                let xv = _mm256_sub_epi32(xv, _mm256_set1_epi32(zp));
                for (a, &w) in ap.iter().zip(&w) {
                    add8(
                        a.add(i),
                        _mm256_mullo_epi32(xv, _mm256_set1_epi32(i32::from(w))),
                    );
                }
                i += 8;
            }
        }
        for (a, &w) in acc.into_iter().zip(&w) {
            Portable.axpy_i8(&mut a[i..len], &x[i..len], zp, w);
        }
    }

    #[inline(always)]
    fn dot_f32(self, x: &[f32], w: &[f32]) -> f32 {
        self.dot4_f32(x, [w, w, w, w])[0]
    }

    #[inline(always)]
    fn dot4_f32(self, x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let body = len - len % 8;
        // SAFETY: `self` proves AVX2; each load reads elements `i..i + 8` with
        // `i + 8 <= body <= len` of `x` and of every row.
        let mut out = unsafe {
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i < body {
                let xv = _mm256_loadu_ps(x.as_ptr().add(i));
                for (a, r) in acc.iter_mut().zip(&w) {
                    let p = _mm256_mul_ps(xv, _mm256_loadu_ps(r.as_ptr().add(i)));
                    *a = _mm256_add_ps(*a, p);
                }
                i += 8;
            }
            acc.map(|a| hsum_f32(a))
        };
        for (o, r) in out.iter_mut().zip(&w) {
            for (xv, wv) in x[body..len].iter().zip(&r[body..len]) {
                *o += xv * wv;
            }
        }
        out
    }

    #[inline(always)]
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32) {
        let len = acc.len().min(x.len());
        let mut i = 0;
        // SAFETY: `self` proves AVX2; loads of `x` and loads/stores of `acc` touch
        // elements `i..i + 8` with `i + 8 <= len`.
        unsafe {
            let wv = _mm256_set1_ps(w);
            let (xp, ap) = (x.as_ptr(), acc.as_mut_ptr());
            while i + 8 <= len {
                let p = _mm256_mul_ps(_mm256_loadu_ps(xp.add(i)), wv);
                _mm256_storeu_ps(ap.add(i), _mm256_add_ps(_mm256_loadu_ps(ap.add(i)), p));
                i += 8;
            }
        }
        Portable.axpy_f32(&mut acc[i..len], &x[i..len], w);
    }

    #[inline(always)]
    fn quantize_i8(self, x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]) {
        // SAFETY: `self` proves AVX2; see `quantize32`.
        let body = unsafe { quantize32::<true>(x, scale, zero_point, y.as_mut_ptr().cast()) };
        kf::quantize_i8(&x[body..], scale, zero_point, &mut y[body..]);
    }

    #[inline(always)]
    fn quantize_u8(self, x: &[f32], scale: f32, zero_point: i32, y: &mut [u8]) {
        // SAFETY: `self` proves AVX2; see `quantize32`.
        let body = unsafe { quantize32::<false>(x, scale, zero_point, y.as_mut_ptr()) };
        kf::quantize_u8(&x[body..], scale, zero_point, &mut y[body..]);
    }

    #[inline(always)]
    fn dequantize_i8(self, x: &[i8], scale: f32, zero_point: i32, y: &mut [f32]) {
        let len = x.len().min(y.len());
        // SAFETY: `self` proves AVX2; see `dequantize8s`.
        let body = unsafe { dequantize8s::<true>(x.as_ptr().cast(), len, scale, zero_point, y) };
        kf::dequantize_i8(&x[body..len], scale, zero_point, &mut y[body..len]);
    }

    #[inline(always)]
    fn dequantize_u8(self, x: &[u8], scale: f32, zero_point: i32, y: &mut [f32]) {
        let len = x.len().min(y.len());
        // SAFETY: `self` proves AVX2; see `dequantize8s`.
        let body = unsafe { dequantize8s::<false>(x.as_ptr(), len, scale, zero_point, y) };
        kf::dequantize_u8(&x[body..len], scale, zero_point, &mut y[body..len]);
    }
}

/// The reference's Quantize on the first `32·⌊len/32⌋` values (returned), with the
/// reference's operations in the same order on 8 lanes: `x / scale` (`vdivps`, not a
/// reciprocal), rounded half to even (`vroundps`, nearest), a NaN quotient replaced
/// by 0 (the reference gives the clamped zero point: adding the zero point to 0 and
/// clamping gives the same), `+ zero_point as f32`, clamped to the output range (the
/// reference's `q < lo`, `q > hi`: the same for every non-NaN `q`), truncated to i32
/// (exact: an integer in range), packed with saturation (nothing saturates). `SIGNED`:
/// int8, else uint8.
///
/// # Safety
/// AVX2; `y` points to `x.len()` writable bytes.
#[inline(always)]
unsafe fn quantize32<const SIGNED: bool>(x: &[f32], scale: f32, zp: i32, y: *mut u8) -> usize {
    let body = x.len() - x.len() % 32;
    let (lo, hi) = if SIGNED {
        (-128.0, 127.0)
    } else {
        (0.0, 255.0)
    };
    // SAFETY: caller's contract; each step reads `x[i..i + 32]` and writes bytes
    // `i..i + 32` of `y`, `i + 32 <= body <= x.len()`.
    unsafe {
        let (s, z) = (_mm256_set1_ps(scale), _mm256_set1_ps(zp as f32));
        let (lo, hi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for i in (0..body).step_by(32) {
            // (No closure: it would not inherit the caller's target features.)
            let mut q = [_mm256_setzero_si256(); 4];
            for (j, q) in q.iter_mut().enumerate() {
                let d = _mm256_div_ps(_mm256_loadu_ps(x.as_ptr().add(i + 8 * j)), s);
                let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(d);
                let r = _mm256_and_ps(r, _mm256_cmp_ps::<_CMP_ORD_Q>(r, r));
                let v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, z), lo), hi);
                *q = _mm256_cvttps_epi32(v);
            }
            let (a, b) = (
                _mm256_packs_epi32(q[0], q[1]),
                _mm256_packs_epi32(q[2], q[3]),
            );
            let bytes = if SIGNED {
                _mm256_packs_epi16(a, b)
            } else {
                _mm256_packus_epi16(a, b)
            };
            // The packs interleave the 128-bit halves: 4-byte groups back in order.
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            _mm256_storeu_si256(y.add(i).cast(), bytes);
        }
    }
    body
}

/// The reference's Dequantize of the first `8·⌊len/8⌋` bytes at `x` (returned):
/// `(v − zero_point) as f32 · scale` on 8 lanes (wrapping subtraction, conversion
/// rounding to nearest as `as f32`, one rounded multiply). `SIGNED`: int8, else uint8.
///
/// # Safety
/// AVX2; `x` points to `len` readable bytes, `y` holds `len` f32.
#[inline(always)]
unsafe fn dequantize8s<const SIGNED: bool>(
    x: *const u8,
    len: usize,
    scale: f32,
    zero_point: i32,
    y: &mut [f32],
) -> usize {
    let body = len - len % 8;
    // SAFETY: caller's contract; each step reads bytes `i..i + 8` of `x` and writes
    // `y[i..i + 8]`, `i + 8 <= body <= len`.
    unsafe {
        let (s, z) = (_mm256_set1_ps(scale), _mm256_set1_epi32(zero_point));
        for i in (0..body).step_by(8) {
            let b = _mm_loadl_epi64(x.add(i).cast());
            let v = if SIGNED {
                _mm256_cvtepi8_epi32(b)
            } else {
                _mm256_cvtepu8_epi32(b)
            };
            let d = _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z));
            _mm256_storeu_ps(y.as_mut_ptr().add(i), _mm256_mul_ps(d, s));
        }
    }
    body
}
