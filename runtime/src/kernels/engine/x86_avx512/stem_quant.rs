//! The int8 stems' input quantizer on AVX-512: the reference's `quantize_i8` bytes
//! (`rint(x / scale) + zero_point`, ties to even, NaN to the zero point, saturated),
//! without a division per value in almost every vector.
//!
//! The `Quantize` kernel divides (`vdivps`, as the reference): on Intel cores the
//! divider takes ~5 cycles per 8 values, most of a 96×96×3 stem's quantizing. Here
//! each vector of 16 values is first quantized with the reciprocal: `q = x · y`,
//! `y = 1 / scale` rounded once (a scalar division per call), `i = rint(q)`
//! (`vcvtps2dq`, nearest even). `q` is within a relative `2^-22.99` of the exact
//! quotient `t = x / scale` (`y`'s and the product's rounding; `scale` in
//! `[2^-100, 2^100]`, so `y` is a normal float). The reference's integer
//! `g(t) = rint(RN(t))` steps only within `ulp(k + ½) / 2` (at most `2^-15` for
//! `|t| < 1024`) of a half-integer `k + ½`. When `|q − i| < ½ − 2^-12`, `q` is at least
//! `2^-12` from every half-integer, so `t` (within `600 · 2^-22.99 < 2^-13.7` of `q`
//! for `|t| < 600`) is more than `2^-12.6 > 2^-15` from it, on the same side: `g(t) = i`.
//! When `|t| >= 600`, both `i` and `g(t)` are at least 599 with `t`'s sign and the
//! output saturates the same way (`i` clamped to ±512 before the zero point is added,
//! then `vpmovsdb` saturates to the int8 range, the reference's clamp). A NaN or
//! infinite `q`, a `q` beyond `vcvtps2dq`'s range (whose `i` is `i32::MIN`, and
//! `q − i` large or NaN unless `q` is exactly `−2^31`, which is right) and every
//! lane near a half-integer fail the test: a vector with such a lane is quantized
//! again with the `Quantize` kernel's operations (the exact division). Other scales
//! take the `Quantize` kernel.

use core::arch::x86_64::*;

use super::Vnni;

/// Whether this CPU has AVX-512 DQ (`vreduceps`: every AVX-512 core with VNNI has it).
fn dq() -> bool {
    #[cfg(feature = "std")]
    let ok = std::is_x86_feature_detected!("avx512dq");
    #[cfg(not(feature = "std"))]
    let ok = cfg!(target_feature = "avx512dq");
    ok
}

/// The scales whose reciprocal path is taken: `[2^-100, 2^100]`.
const SCALE_RANGE: (f32, f32) = (7.888_609e-31, 1.267_650_6e30);

/// `x` quantized to int8 into `y` (equal lengths: the shorter one counts), the bytes
/// of the reference `quantize_i8` (see the module docs).
pub(crate) fn quantize_i8(t: Vnni, x: &[f32], scale: f32, zp: i32, y: &mut [i8]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    let fast = (SCALE_RANGE.0..=SCALE_RANGE.1).contains(&scale) && (-128..=127).contains(&zp);
    if !fast || !dq() {
        crate::kernels::fast::f32_quantize_i8(x, scale, zp, y);
        return;
    }
    let _ = t;
    // SAFETY: `t` proves AVX-512 F/BW/VL and `dq()` DQ; `x` and `y` hold `n` values.
    unsafe { quantize_avx512(x.as_ptr(), n, scale, zp, y.as_mut_ptr()) }
}

/// The constants of [`quantize_avx512`].
struct K {
    /// `scale`, `1 / scale`, the test's bound `½ − 2^-12`, the clamp of `q` (±1024).
    s: __m512,
    r: __m512,
    lim: __m512,
    qlo: __m512,
    qhi: __m512,
    /// The zero point (i32 lanes, f32 lanes) and the reference's clamp (f32).
    zp: __m512i,
    zpf: __m512,
    flo: __m512,
    fhi: __m512,
}

/// The reciprocal path of one vector: its i32 results (before the int8 saturation)
/// and the mask of the lanes that fail the test (see the module docs). `vreduceps`
/// gives `q − rint(q)` (a NaN for a NaN `q`; an infinite `q` is clamped right
/// below, whatever its test says), `q` clamped to ±1024 (NaN taken by the test)
/// then rounded to nearest even (`vcvtps2dq`).
///
/// # Safety
/// AVX-512 F/DQ.
#[inline(always)]
unsafe fn fast(k: &K, v: __m512) -> (__m512i, __mmask16) {
    // SAFETY: register-only operations on the caller's target features.
    unsafe {
        let q = _mm512_mul_ps(v, k.r);
        let d = _mm512_abs_ps(_mm512_reduce_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(q));
        let bad = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(d, k.lim);
        let c = _mm512_min_ps(_mm512_max_ps(q, k.qlo), k.qhi);
        (_mm512_add_epi32(_mm512_cvtps_epi32(c), k.zp), bad)
    }
}

/// The `Quantize` kernel's operations on one vector (`x86_64.rs` `quantize32`): the
/// reference's result in i32 lanes.
///
/// # Safety
/// AVX-512 F.
#[inline(always)]
unsafe fn exact(k: &K, v: __m512) -> __m512i {
    // SAFETY: register-only operations on the caller's target features.
    unsafe {
        let d = _mm512_div_ps(v, k.s);
        let r = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(d);
        let r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_ORD_Q>(r, r), r);
        let v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, k.zpf), k.flo), k.fhi);
        _mm512_cvttps_epi32(v)
    }
}

/// [`quantize_i8`] on `n` values at `x` into `n` bytes at `y`: 64 values per step
/// (four vectors, one test of all their lanes, packed with saturation), then the
/// rest 16 at a time with masks.
///
/// # Safety
/// AVX-512 F/BW/VL/DQ; `x` readable and `y` writable for `n` elements.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn quantize_avx512(x: *const f32, n: usize, scale: f32, zp: i32, y: *mut i8) {
    // SAFETY: each step reads and writes elements `i..i + 64` (the lanes of `mask` of
    // `i..i + 16` in the rest), all below `n`.
    unsafe {
        let k = K {
            s: _mm512_set1_ps(scale),
            r: _mm512_set1_ps(1.0 / scale),
            lim: _mm512_set1_ps(0.5 - 1.0 / 4096.0),
            qlo: _mm512_set1_ps(-1024.0),
            qhi: _mm512_set1_ps(1024.0),
            zp: _mm512_set1_epi32(zp),
            zpf: _mm512_set1_ps(zp as f32),
            flo: _mm512_set1_ps(-128.0),
            fhi: _mm512_set1_ps(127.0),
        };
        // The dwords of `packs(packs(a, b), packs(c, d))` back in order.
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        let mut i = 0;
        while i + 64 <= n {
            let v = [0, 16, 32, 48].map(|o| _mm512_loadu_ps(x.add(i + o)));
            let (mut o, mut bad) = ([_mm512_setzero_si512(); 4], 0);
            for (o, &v) in o.iter_mut().zip(&v) {
                let (r, b) = fast(&k, v);
                (*o, bad) = (r, bad | b);
            }
            if bad != 0 {
                for (o, &v) in o.iter_mut().zip(&v) {
                    *o = exact(&k, v);
                }
            }
            let (ab, cd) = (
                _mm512_packs_epi32(o[0], o[1]),
                _mm512_packs_epi32(o[2], o[3]),
            );
            let bytes = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(ab, cd));
            _mm512_storeu_si512(y.add(i).cast(), bytes);
            i += 64;
        }
        while i < n {
            let mask = if n - i >= 16 {
                0xffff
            } else {
                ((1u32 << (n - i)) - 1) as __mmask16
            };
            let v = _mm512_maskz_loadu_ps(mask, x.add(i));
            let (r, bad) = fast(&k, v);
            let out = if bad == 0 { r } else { exact(&k, v) };
            _mm512_mask_cvtsepi32_storeu_epi8(y.add(i).cast(), mask, out);
            i += 16;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::kernels::reference::f32::quantize_i8 as reference;

    /// Values around every half-integer multiple of `scale` (a few ulps either side,
    /// where the reciprocal and the division may disagree), the int8 range's ends,
    /// the float corners, and random values, for scales in and out of the fast range.
    #[test]
    fn bytes_of_the_reference() {
        let Some(t) = Vnni::new() else { return };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let scales = [
            1.0,
            0.0078125,
            0.02,
            1.0 / 3.0,
            0.017_429_193,
            3.7e-3,
            255.0,
            1e-20,
            1e20,
            7.888_609e-31,
            1.267_650_6e30,
            1e-35,
            1e35,
            f32::MIN_POSITIVE,
            1e-44,
            f32::MAX,
        ];
        let mut checked = 0usize;
        for (si, &scale) in scales.iter().enumerate() {
            for zp in [-128, -127, -3, 0, 41, 126, 127] {
                let mut x = Vec::new();
                for k in -700i32..=700 {
                    let h = (k as f32 + 0.5) * scale;
                    let mut b = h.to_bits();
                    b = b.wrapping_sub(4);
                    for _ in 0..9 {
                        x.push(f32::from_bits(b));
                        b = b.wrapping_add(1);
                    }
                    x.push(k as f32 * scale);
                }
                x.extend([
                    f32::NAN,
                    -f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::MAX,
                    f32::MIN,
                    0.0,
                    -0.0,
                    1e-45,
                    -1e-45,
                    f32::MIN_POSITIVE,
                    2147483648.0 * scale,
                    -2147483648.0 * scale,
                    2147483520.0 * scale,
                    -2147483904.0 * scale,
                    16777216.0 * scale,
                    -16777217.0 * scale,
                ]);
                for _ in 0..4000 {
                    let b = next();
                    x.push(match b % 4 {
                        0 => f32::from_bits(b as u32 >> 8 | (b as u32 & 0x8000_0000)),
                        1 => f32::from_bits((b >> 32) as u32),
                        _ => ((b >> 40) as i32 as f32 / 16384.0 - 512.0) * scale,
                    });
                }
                // Every tail length and offset.
                for len in [x.len(), x.len() - 1, x.len() - 15, 17, 16, 15, 1, 0] {
                    let off = (si + len) % 7;
                    let xs = &x[off.min(x.len())..][..len.min(x.len() - off)];
                    let (mut a, mut b) = (vec![0i8; xs.len()], vec![0i8; xs.len()]);
                    quantize_i8(t, xs, scale, zp, &mut a);
                    reference(xs, scale, zp, &mut b);
                    for (j, (p, q)) in a.iter().zip(&b).enumerate() {
                        assert_eq!(p, q, "x {} scale {scale} zp {zp}", xs[j]);
                    }
                    checked += xs.len();
                }
            }
        }
        assert!(checked > 1_000_000);
    }
}
