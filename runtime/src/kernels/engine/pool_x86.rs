//! AVX-512 kernels for two small NHWC int8 pools whose per-pixel loops cost more than
//! their data on tiny tensors (issue #14's sensor model: a 1×2 stride-2 max pool over
//! 64×8 and a global average over 32×16): whole 64-byte vectors instead of one
//! pixel's channels at a time. The caller (`pool.rs`) checks the geometry; both
//! kernels give the reference's bytes (a max of int8 values does not depend on the
//! order of its taps; the sums are exact integers).
//!
//! x86-64 with `std` only (run-time detection); elsewhere `pool.rs` keeps its paths.
//! The AVX-512 intrinsics are stable since Rust 1.89, as in `x86_avx512`.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::x86_avx512::{bytes64, vbmi};
use crate::kernels::params::PoolParams;

/// The int8 max pool of `p` by [`max_pairs`] when its window has width 2, stride 2,
/// dilation 1 and no padding along W, none at the top (`false`, nothing written,
/// otherwise or when [`max_pairs`] does not take it). The shapes are the logical
/// NCHW ones of NHWC tensors.
pub(super) fn i8_max(p: &PoolParams, x: &[i8], y: &mut [i8]) -> bool {
    let ([n, c, h, w], [yn, yc, oh, ow], win) = (p.x, p.y, &p.window);
    let pairs = yn == n
        && yc == c
        && win.pads[0] == 0
        && win.pads[1] == 0
        && win.kernel[1] == 2
        && win.stride[1] == 2
        && win.dilation[1] == 1;
    let rows = [win.kernel[0], win.stride[0], win.dilation[0]].map(|v| v as usize);
    pairs && max_pairs(([n, h, w, c], [oh, ow], rows), x, y)
}

/// The count `h·w` of `p`'s window when it is a global one without padding (the
/// window `[h, w]` from the top left corner, contiguous taps, output 1×1), else `None`.
pub(super) fn global_count(p: &PoolParams) -> Option<usize> {
    let ([n, c, h, w], [yn, yc, oh, ow], win) = (p.x, p.y, &p.window);
    let [kh, kw] = win.kernel.map(|k| k as usize);
    let global = yn == n
        && yc == c
        && oh == 1
        && ow == 1
        && kh == h
        && kw == w
        && win.pads[0] == 0
        && win.pads[1] == 0
        && (h == 1 || win.dilation[0] == 1)
        && (w == 1 || win.dilation[1] == 1);
    global.then(|| h.checked_mul(w)).flatten()
}

/// Whether the CPU has what [`max_pairs`] needs (AVX-512 BW and VBMI).
pub(super) fn has_vbmi() -> bool {
    std::is_x86_feature_detected!("avx512bw") && vbmi()
}

/// Whether the CPU has what [`global_avg`] needs (AVX-512 BW and VL).
pub(super) fn has_bw() -> bool {
    std::is_x86_feature_detected!("avx512bw") && std::is_x86_feature_detected!("avx512vl")
}

/// The int8 max pool of a window of width 2, stride 2 and dilation 1 along W
/// without padding, `x` `[n, h, w, c]`, `y` `[n, oh, ow, c]`, `kh` kernel rows
/// `dh` apart, output rows `sh` apart: each output row is 64-byte vectors; each takes
/// the max of its kernel rows' 128 input bytes, then `vpermt2b` gathers the even and
/// the odd pixels of the pairs and `vpmaxsb` takes their max. `false` (nothing
/// written) unless `c` is 1, 2, 4, …, 32, the CPU has VBMI, the slices hold the shapes,
/// `2·ow <= w` and every input row `oy·sh + ky·dh` lies below `h`.
fn max_pairs(
    ([n, h, w, c], [oh, ow], [kh, sh, dh]): ([usize; 4], [usize; 2], [usize; 3]),
    x: &[i8],
    y: &mut [i8],
) -> bool {
    let elems = |d: &[usize]| d.iter().try_fold(1usize, |a, &v| a.checked_mul(v));
    // The input row of the last kernel row of the last output row.
    let last = || {
        let a = oh.checked_sub(1)?.checked_mul(sh)?;
        a.checked_add(kh.checked_sub(1)?.checked_mul(dh)?)
    };
    let ok = c.is_power_of_two()
        && c <= 32
        && last().is_some_and(|l| l < h)
        && ow.checked_mul(2).is_some_and(|v| v <= w)
        && elems(&[n, h, w, c]) == Some(x.len())
        && elems(&[n, oh, ow, c]) == Some(y.len())
        && has_vbmi();
    if ok {
        // SAFETY: the CPU has AVX-512 BW and VBMI; the shapes are checked above.
        #[allow(unsafe_code)]
        unsafe {
            max_pairs_vbmi([n, h, w, c], [oh, ow], [kh, sh, dh], x, y)
        };
    }
    ok
}

/// Bytes `0, 1, …, 63`.
const IOTA: [u8; 64] = {
    let mut v = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        v[i] = i as u8;
        i += 1;
    }
    v
};

/// [`max_pairs`] after its checks.
///
/// # Safety
/// AVX-512 BW and VBMI; the shapes [`max_pairs`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[allow(unsafe_code)]
unsafe fn max_pairs_vbmi(
    [n, h, w, c]: [usize; 4],
    [oh, ow]: [usize; 2],
    [kh, sh, dh]: [usize; 3],
    x: &[i8],
    y: &mut [i8],
) {
    // SAFETY: the caller's contract (the lengths, the CPU).
    unsafe {
        let iota = _mm512_loadu_si512(IOTA.as_ptr().cast());
        // Output byte `o` (pixel `o / c`, channel `o % c`) takes input bytes
        // `2·(o / c)·c + o % c = o + (o & !(c − 1))` and that `+ c`.
        let even = _mm512_add_epi8(
            iota,
            _mm512_and_si512(iota, _mm512_set1_epi8(!(c as i8 - 1))),
        );
        let odd = _mm512_add_epi8(even, _mm512_set1_epi8(c as i8));
        let (row_len, out_len) = (w * c, ow * c);
        let xp = x.as_ptr();
        let mut yp = y.as_mut_ptr();
        for b in 0..n {
            for oy in 0..oh {
                // (Wrapping: a 1-long axis may carry an unbounded stride or dilation.)
                let top = b * h + oy.wrapping_mul(sh);
                let mut o0 = 0;
                if kh == 1 {
                    // One kernel row: the whole vectors without the row loop.
                    let r = xp.add(top * row_len);
                    while o0 + 64 <= out_len {
                        let v0 = _mm512_loadu_si512(r.add(2 * o0).cast());
                        let v1 = _mm512_loadu_si512(r.add(2 * o0 + 64).cast());
                        let m = _mm512_max_epi8(
                            _mm512_permutex2var_epi8(v0, even, v1),
                            _mm512_permutex2var_epi8(v0, odd, v1),
                        );
                        _mm512_storeu_si512(yp.add(o0).cast(), m);
                        o0 += 64;
                    }
                }
                while o0 < out_len {
                    let k = (out_len - o0).min(64);
                    let (mlo, mhi) = (bytes64(2 * k), bytes64((2 * k).saturating_sub(64)));
                    let mut lo = _mm512_set1_epi8(i8::MIN);
                    let mut hi = lo;
                    for ky in 0..kh {
                        let r = xp.add((top + ky.wrapping_mul(dh)) * row_len + 2 * o0);
                        // (Masked accesses only at the row's end: Zen 4's masked
                        // stores cost several times a plain one.)
                        let (l, h) = if k == 64 {
                            (
                                _mm512_loadu_si512(r.cast()),
                                _mm512_loadu_si512(r.add(64).cast()),
                            )
                        } else if mhi != 0 {
                            let l = _mm512_loadu_si512(r.cast());
                            (l, _mm512_maskz_loadu_epi8(mhi, r.add(64)))
                        } else {
                            (_mm512_maskz_loadu_epi8(mlo, r), hi)
                        };
                        lo = _mm512_max_epi8(lo, l);
                        hi = _mm512_max_epi8(hi, h);
                    }
                    let m = _mm512_max_epi8(
                        _mm512_permutex2var_epi8(lo, even, hi),
                        _mm512_permutex2var_epi8(lo, odd, hi),
                    );
                    if k == 64 {
                        _mm512_storeu_si512(yp.add(o0).cast(), m);
                    } else {
                        _mm512_mask_storeu_epi8(yp.add(o0), bytes64(k), m);
                    }
                    o0 += 64;
                }
                yp = yp.add(out_len);
            }
        }
    }
}

/// The int8 global average of `n` images of `pixels` contiguous pixels of `c`
/// channels (`x` the images, `y` one pixel per image): the reference's
/// `div_round(sum, pixels)` clamped to i8. Each channel's sum in i16 lanes, exact for
/// `pixels <= 256` (`|sum| <= 128·256`; a partial sum wraps at most where the whole
/// does not), divided by [`div_avg`]. For `c` in 1, 2, 4, 8, 16, 32 (an image is one
/// stream of 32-byte vectors, [`stream_sums`]) or a multiple of 32 (blocks of 32
/// channels, pixel by pixel, [`block_sums`]). `false` (nothing written) for other `c`,
/// more than 256 pixels, slices that do not hold the shape, or without AVX-512 BW.
pub(super) fn global_avg(x: &[i8], y: &mut [i8], [n, pixels, c]: [usize; 3]) -> bool {
    let image = pixels.checked_mul(c).unwrap_or(0);
    let ok = image != 0
        && pixels <= 256
        && (c.is_power_of_two() && c <= 32 || c % 32 == 0)
        && n.checked_mul(c) == Some(y.len())
        && n.checked_mul(image) == Some(x.len())
        && has_bw();
    if ok {
        // SAFETY: the CPU has AVX-512 BW and VL; the shapes are checked above.
        #[allow(unsafe_code)]
        unsafe {
            global_avg_bw(x, y, [n, pixels, c])
        };
    }
    ok
}

/// [`global_avg`] after its checks: pointer offsets per image and per block (no
/// `chunks_exact`, whose lengths cost integer divisions on 512 bytes of work).
///
/// # Safety
/// AVX-512 BW and VL; the shapes [`global_avg`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[allow(unsafe_code)]
unsafe fn global_avg_bw(x: &[i8], y: &mut [i8], [n, pixels, c]: [usize; 3]) {
    // SAFETY: the caller's contract (the lengths, the CPU).
    unsafe {
        let d = Div::new(pixels);
        let image = pixels * c;
        for b in 0..n {
            let (xb, yb) = (x.as_ptr().add(b * image), y.as_mut_ptr().add(b * c));
            if c <= 32 {
                let s = stream_sums(xb, image, c);
                store_avg(s, c, yb, d);
            } else {
                for c0 in (0..c).step_by(32) {
                    let s = block_sums(xb, [pixels, c, c0]);
                    store_avg(s, 32, yb.add(c0), d);
                }
            }
        }
    }
}

/// A divisor `d` of [`div_avg`], `1 <= d <= 256`: `d` and `floor(d/2)` broadcast, and
/// `log2 d` when `d` is a power of two.
#[derive(Clone, Copy)]
struct Div {
    d: __m512,
    half: __m512i,
    shift: Option<__m128i>,
}

impl Div {
    /// The divisor `d`.
    ///
    /// # Safety
    /// AVX-512 F.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    #[allow(unsafe_code)]
    unsafe fn new(d: usize) -> Div {
        // SAFETY: the caller's contract (the CPU).
        unsafe {
            Div {
                d: _mm512_set1_ps(d as f32),
                half: _mm512_set1_epi32((d / 2) as i32),
                shift: d
                    .is_power_of_two()
                    .then(|| _mm_cvtsi32_si128(d.trailing_zeros() as i32)),
            }
        }
    }
}

/// The reference's `div_round(s, d)` (`sign(s)·floor((|s| + floor(d/2)) / d)`) of 16
/// i32 lanes `s`, for `1 <= d <= 256` and `|s| <= 128·d`: `floor(u / d)` of
/// `u = |s| + floor(d/2) < 2^16` is a shift when `d` is a power of two, else the f32
/// quotient truncated: `u` and `d` are exact in f32, the quotient is `u / d` correctly
/// rounded, at most `2^-9` (half an ulp below `2^16`) from it, and a quotient that is
/// not an integer lies at least `1/d >= 2^-8` below the next one, so rounding never
/// reaches it. `tests` below compare it with `div_round` on every such `s` and `d`.
///
/// # Safety
/// AVX-512 F.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
#[allow(unsafe_code)]
unsafe fn div_avg(s: __m512i, d: Div) -> __m512i {
    // SAFETY: the caller's contract (the CPU).
    unsafe {
        let u = _mm512_add_epi32(_mm512_abs_epi32(s), d.half);
        let q = match d.shift {
            Some(k) => _mm512_srl_epi32(u, k),
            None => _mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(u), d.d)),
        };
        let zero = _mm512_setzero_si512();
        _mm512_mask_sub_epi32(q, _mm512_cmplt_epi32_mask(s, zero), zero, q)
    }
}

/// The averages of the `k <= 32` i16 sums in `s`'s first lanes, clamped to i8, to
/// `y[..k]` ([`div_avg`]; `vpmovsdb` saturates as the reference clamps).
///
/// # Safety
/// AVX-512 BW and VL; `y` holds `k` bytes; `d` and the sums as [`div_avg`] needs them.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
#[allow(unsafe_code)]
unsafe fn store_avg(s: __m512i, k: usize, y: *mut i8, d: Div) {
    // SAFETY: the caller's contract.
    unsafe {
        let lo = div_avg(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(s)), d);
        let lo = _mm512_cvtsepi32_epi8(lo);
        if k >= 16 {
            // (Plain stores: Zen 4's masked stores cost several times a plain one.)
            _mm_storeu_si128(y.cast(), lo);
            if k == 32 {
                let hi = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64::<1>(s));
                let hi = _mm512_cvtsepi32_epi8(div_avg(hi, d));
                _mm_storeu_si128(y.add(16).cast(), hi);
            }
        } else {
            _mm_mask_storeu_epi8(y, bytes64(k) as u16, lo);
        }
    }
}

/// [`global_avg`]'s sums of one image of `len` bytes for `c | 32`: 32-byte vectors
/// widened to 32 i16 lanes (`32 / c` pixels each), then the lanes folded in registers
/// to `c` (lane `l < c` of the result is channel `l`'s sum; the others are not
/// meaningful).
///
/// # Safety
/// AVX-512 BW and VL; `x` holds `len` bytes, a multiple of `c`; `c` divides 32.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
#[allow(unsafe_code)]
unsafe fn stream_sums(p: *const i8, len: usize, c: usize) -> __m512i {
    // SAFETY: the caller's contract (the lengths, the CPU).
    unsafe {
        let (mut a0, mut a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let mut i = 0;
        while i + 64 <= len {
            let v0 = _mm256_loadu_si256(p.add(i).cast());
            let v1 = _mm256_loadu_si256(p.add(i + 32).cast());
            a0 = _mm512_add_epi16(a0, _mm512_cvtepi8_epi16(v0));
            a1 = _mm512_add_epi16(a1, _mm512_cvtepi8_epi16(v1));
            i += 64;
        }
        while i < len {
            // A tail of whole pixels (c | 32): the lanes past it load as 0.
            let m = bytes64((len - i).min(32)) as u32;
            let v = _mm256_maskz_loadu_epi8(m, p.add(i));
            a0 = _mm512_add_epi16(a0, _mm512_cvtepi8_epi16(v));
            i += 32;
        }
        let a = _mm512_add_epi16(a0, a1);
        if c == 32 {
            return a;
        }
        // Lanes `l` and `l + 16`, then `l + 8`, `l + 4`, … are the same channel while
        // the distance is a multiple of `c`.
        let s16 = _mm256_add_epi16(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64::<1>(a));
        if c == 16 {
            return _mm512_castsi256_si512(s16);
        }
        let mut s = _mm_add_epi16(
            _mm256_castsi256_si128(s16),
            _mm256_extracti128_si256::<1>(s16),
        );
        if c <= 4 {
            s = _mm_add_epi16(s, _mm_srli_si128::<8>(s));
        }
        if c <= 2 {
            s = _mm_add_epi16(s, _mm_srli_si128::<4>(s));
        }
        if c == 1 {
            s = _mm_add_epi16(s, _mm_srli_si128::<2>(s));
        }
        _mm512_castsi128_si512(s)
    }
}

/// [`global_avg`]'s sums of one image's channels `c0..c0 + 32` (`c` a multiple of
/// 32): the pixels `c` bytes apart, in two accumulators; lane `l` is channel `c0 + l`.
///
/// # Safety
/// AVX-512 BW and VL; `x` holds `pixels·c` bytes, `pixels >= 1`, `c0 + 32 <= c`.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
#[allow(unsafe_code)]
unsafe fn block_sums(x: *const i8, [pixels, c, c0]: [usize; 3]) -> __m512i {
    // SAFETY: the caller's contract (the lengths, the CPU).
    unsafe {
        let mut p = x.add(c0);
        let (mut a0, mut a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        for _ in 0..pixels / 2 {
            let v0 = _mm256_loadu_si256(p.cast());
            let v1 = _mm256_loadu_si256(p.add(c).cast());
            a0 = _mm512_add_epi16(a0, _mm512_cvtepi8_epi16(v0));
            a1 = _mm512_add_epi16(a1, _mm512_cvtepi8_epi16(v1));
            p = p.wrapping_add(2 * c);
        }
        if pixels % 2 == 1 {
            a0 = _mm512_add_epi16(a0, _mm512_cvtepi8_epi16(_mm256_loadu_si256(p.cast())));
        }
        _mm512_add_epi16(a0, a1)
    }
}

#[cfg(test)]
mod tests {
    use super::{div_avg, has_bw, Div};
    use crate::kernels::reference::int8::div_round;
    use core::arch::x86_64::*;

    /// [`div_avg`] of 16 sums by `d`.
    ///
    /// # Safety
    /// AVX-512 F.
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn lanes(s: [i32; 16], d: i32) -> [i32; 16] {
        let mut q = [0i32; 16];
        // SAFETY: the caller's contract; the arrays hold 16 lanes.
        unsafe {
            let v = _mm512_loadu_si512(s.as_ptr().cast());
            let r = div_avg(v, Div::new(d as usize));
            _mm512_storeu_si512(q.as_mut_ptr().cast(), r);
        }
        q
    }

    /// [`div_avg`] equals the reference's `div_round` for every divisor `1..=256` (the
    /// powers of two by the shift, the others by the f32 quotient) and every sum
    /// `|s| <= 128·d` (16 lanes at a time; the last vector repeats its first sum).
    #[test]
    fn div_avg_matches_div_round() {
        if !has_bw() {
            return;
        }
        let mut checked = 0usize;
        for d in 1..=256i32 {
            let sums: std::vec::Vec<i32> = (-128 * d..=128 * d).collect();
            for chunk in sums.chunks(16) {
                let mut s = [chunk[0]; 16];
                s[..chunk.len()].copy_from_slice(chunk);
                // SAFETY: the CPU has AVX-512 F (checked above).
                #[allow(unsafe_code)]
                let q = unsafe { lanes(s, d) };
                for (&s, &q) in s.iter().zip(&q) {
                    assert_eq!(q, div_round(s, d), "{s} / {d}");
                }
                checked += chunk.len();
            }
        }
        assert!(checked > 8_000_000, "{checked}");
    }
}
