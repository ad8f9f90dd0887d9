//! The AVX-512 NCHW-input f32 conv (see `engine/stem.rs`): 16 output pixels of a row
//! per vector, one accumulator per output channel (8 for a panel of at most 8
//! channels, else 16), the weights broadcast from memory, then a transpose into NHWC
//! rows by shuffles and 4-channel stores.
//!
//! The int8 form (VNNI, [`run_i8`]) reads the band's quantized rows (planar, quantized
//! by the caller) the same way, 16 output pixels per vector: for each group of 4
//! consecutive `k` of the packed panel (`k = tap·C + c`, the flat layout; 4 per tap
//! otherwise), the 4 taps' 16 bytes are interleaved into one vector of 16 pixel
//! quads (flipped to `x + 128`) and fed to one `vpdpbusd` per output channel with the
//! channel's 4 weights broadcast, from `bias_u8`. The sums are the i32 sums of every
//! other int8 kernel (exact, modulo 2^32), so the bytes are the reference's. The
//! channel vectors are then transposed into pixel-major vectors (two pixels of 8
//! channels, or one of 16, per vector), requantized by the ISA's `mbqm_zp`, clamped and
//! stored with channel masks.

use core::arch::x86_64::*;

use super::super::pack::i8_flat;
use super::super::types::{ConvShape, I8Out, NR};
use super::stem_store::{panel_consts, store16, Store};
use super::{Avx512Bw, Vnni};

/// The input coordinate of output coordinate `o`'s tap `k` (`None` in the padding).
#[inline(always)]
fn coord(o: usize, k: usize, stride: usize, dil: usize, pad: usize, len: usize) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < len)
}

/// The mask of lanes `i` in `0..len` with `0 <= start + i < w`.
#[inline(always)]
fn valid(start: isize, w: usize, len: usize) -> u32 {
    let lo = (-start).clamp(0, len as isize) as u32;
    let hi = (w as isize - start).clamp(0, len as isize) as u32;
    let bits = |n: u32| if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
    bits(hi) & !bits(lo)
}

/// The NCHW-input conv (the caller ran `stem::check`; horizontal stride 1 or 2).
pub(crate) fn run(
    t: Avx512Bw,
    s: &ConvShape,
    x: &[f32],
    packed: &[f32],
    min: f32,
    max: f32,
    y: &mut [f32],
) {
    let _ = t;
    // SAFETY: `t` proves AVX-512 F/BW/VL, AVX2 and FMA; `stem::check` checked the
    // slice lengths against `s`.
    unsafe { run_avx512(s, x, packed, min, max, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run_avx512(s: &ConvShape, x: &[f32], packed: &[f32], min: f32, max: f32, y: &mut [f32]) {
    let panel_len = NR + s.taps() * s.in_c * NR;
    for oy in 0..s.out_h {
        for ox0 in (0..s.out_w).step_by(16) {
            let n = (s.out_w - ox0).min(16);
            for p in 0..s.out_c.div_ceil(NR) {
                let panel = &packed[p * panel_len..][..panel_len];
                let mj = (s.out_c - p * NR).min(NR);
                let at = (oy * s.out_w + ox0) * s.out_c + p * NR;
                // SAFETY: as `run`; `at` is pixel `(oy, ox0)`'s channel `16p`.
                unsafe {
                    if mj <= 8 {
                        block::<8>(s, x, panel, [oy, ox0, n, mj], [min, max], y, at);
                    } else {
                        block::<16>(s, x, panel, [oy, ox0, n, mj], [min, max], y, at);
                    }
                }
            }
        }
    }
}

/// Output pixels `ox0..ox0 + n` of row `oy`, channels `0..mj` (`mj <= NJ`) of one
/// panel, written from `y[at]` on (pixel stride `s.out_c`).
#[inline(always)]
unsafe fn block<const NJ: usize>(
    s: &ConvShape,
    x: &[f32],
    panel: &[f32],
    [oy, ox0, n, mj]: [usize; 4],
    [min, max]: [f32; 2],
    y: &mut [f32],
    at: usize,
) {
    // SAFETY (whole function): AVX-512 F/VL is enabled by the caller. The loads read
    // only lanes whose column is inside `0..in_w` of a row inside the plane (masked),
    // the weight reads stay in `panel`, the stores write pixels `< n` and channels
    // `< mj` of the output, which `stem::check` sized.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); NJ];
        for (j, a) in acc.iter_mut().enumerate() {
            *a = _mm512_set1_ps(panel[j]);
        }
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let (c, w, sx) = (s.in_c, s.in_w, s.stride[1]);
        let xp = x.as_ptr();
        for ky in 0..s.kernel[0] {
            let Some(iy) = coord(oy, ky, s.stride[0], s.dilation[0], s.pad[0], s.in_h) else {
                continue;
            };
            for kx in 0..s.kernel[1] {
                let start = (ox0 * sx + kx * s.dilation[1]) as isize - s.pad[1] as isize;
                let m = valid(start, w, 16 * sx);
                let tap = ky * s.kernel[1] + kx;
                let wp = panel.as_ptr().add(NR + tap * c * NR);
                for ci in 0..c {
                    // Masked-off lanes are not accessed, so the pointer may lie
                    // outside the row where only masked lanes would.
                    let row = xp.add((ci * s.in_h + iy) * w).wrapping_offset(start);
                    let v = if sx == 1 {
                        _mm512_maskz_loadu_ps(m as __mmask16, row)
                    } else {
                        let lo = _mm512_maskz_loadu_ps(m as __mmask16, row);
                        let hi =
                            _mm512_maskz_loadu_ps((m >> 16) as __mmask16, row.wrapping_add(16));
                        _mm512_permutex2var_ps(lo, even, hi)
                    };
                    let wc = wp.add(ci * NR);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(v, _mm512_set1_ps(*wc.add(j)), *a);
                    }
                }
            }
        }
        let (lo, hi) = (_mm512_set1_ps(min), _mm512_set1_ps(max));
        for a in acc.iter_mut() {
            *a = _mm512_min_ps(hi, _mm512_max_ps(lo, *a));
        }
        let yp = y.as_mut_ptr().add(at);
        for g in 0..NJ / 4 {
            if 4 * g >= mj {
                break;
            }
            let cm = ((1u32 << (mj - 4 * g).min(4)) - 1) as __mmask8;
            let [a0, a1, a2, a3] = [acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]];
            let (t0, t1) = (_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
            let (t2, t3) = (_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
            let d = _mm512_castps_pd;
            // q[k] lane l: channels 4g..4g+4 of pixel 4l + k.
            let q = [
                _mm512_castpd_ps(_mm512_unpacklo_pd(d(t0), d(t2))),
                _mm512_castpd_ps(_mm512_unpackhi_pd(d(t0), d(t2))),
                _mm512_castpd_ps(_mm512_unpacklo_pd(d(t1), d(t3))),
                _mm512_castpd_ps(_mm512_unpackhi_pd(d(t1), d(t3))),
            ];
            for (k, &v) in q.iter().enumerate() {
                let lanes = [
                    _mm512_castps512_ps128(v),
                    _mm512_extractf32x4_ps::<1>(v),
                    _mm512_extractf32x4_ps::<2>(v),
                    _mm512_extractf32x4_ps::<3>(v),
                ];
                for (l, &lane) in lanes.iter().enumerate() {
                    let px = 4 * l + k;
                    if px < n {
                        _mm_mask_storeu_ps(yp.add(px * s.out_c + 4 * g), cm, lane);
                    }
                }
            }
        }
    }
}

/// The most packed `k` per output channel of [`run_i8`] (taps × 4 at most: up to 64
/// taps of any channel count, more with fewer channels).
const MAX_K: usize = 256;

/// Whether [`run_i8`] takes `s` (at most [`MAX_K`] packed `k`, horizontal stride 1
/// or 2).
pub(crate) fn i8_fits(s: &ConvShape) -> bool {
    let cq = if i8_flat(s.taps(), s.in_c) { s.in_c } else { 4 };
    s.stride[1] <= 2 && s.taps().checked_mul(cq).is_some_and(|k| k <= MAX_K)
}

/// The int8 NCHW-input conv with VNNI over one band (see `engine/stem.rs`): `xq` holds
/// the band's rows quantized, planar (`s.in_c` planes of `s.in_h × s.in_w` bytes);
/// `packed` and `out` as for the int8 conv (the caller checked the lengths, horizontal
/// stride 1 or 2, no residual).
pub(crate) fn run_i8(
    t: Vnni,
    s: &ConvShape,
    xq: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) {
    // SAFETY: `t` proves AVX-512 F/BW/VL and VNNI; the caller checked the lengths.
    unsafe { run_i8_vnni(t, s, xq, x_zp, packed, out, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn run_i8_vnni(
    t: Vnni,
    s: &ConvShape,
    xq: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) {
    let (taps, c) = (s.taps(), s.in_c);
    // Consecutive `k` per tap in the packed panel: the flat layout's `c`, else 4.
    let cq = if i8_flat(taps, c) { c } else { 4 };
    let groups = (taps * cq).div_ceil(4);
    // Each packed `k`'s (input channel, ky, kx); `ci = usize::MAX` for a zero weight.
    let mut ks = [[usize::MAX; 3]; MAX_K];
    for (kk, e) in ks.iter_mut().enumerate().take(4 * groups) {
        let (tap, ci) = (kk / cq, kk % cq);
        if tap < taps && ci < c {
            *e = [ci, tap / s.kernel[1], tap % s.kernel[1]];
        }
    }
    let hlen = out.header.conv_len();
    let panel_len = hlen + groups * 4 * NR;
    for p in 0..s.out_c.div_ceil(NR) {
        let panel = &packed[p * panel_len..][..panel_len];
        let mj = (s.out_c - p * NR).min(NR);
        let k = I8Kernel {
            s,
            xq,
            x_zp,
            panel,
            hlen,
            mj,
            p,
            // SAFETY: `t` proves AVX-512 F/BW/VL; `panel` holds the header.
            consts: unsafe { panel_consts(t, panel.as_ptr(), out.header) },
            out,
            ks: &ks[..4 * groups],
        };
        // SAFETY: as `run_i8`.
        unsafe {
            if mj <= 8 {
                i8_panel::<8>(t, &k, y);
            } else {
                i8_panel::<16>(t, &k, y);
            }
        }
    }
}

/// One panel's parameters.
struct I8Kernel<'a> {
    s: &'a ConvShape,
    xq: &'a [i8],
    x_zp: i32,
    panel: &'a [u8],
    hlen: usize,
    mj: usize,
    p: usize,
    consts: [[i32; NR]; 3],
    out: &'a I8Out<'a>,
    ks: &'a [[usize; 3]],
}

/// Every output pixel's channels `16p..16p + mj` of panel `p` (`mj <= NJ`): 16
/// output pixels of a row per vector, one `vpdpbusd` per group of 4 `k` and output
/// channel, then a transpose into pixel-major vectors, the requantization and
/// 8- or 16-channel stores.
#[inline(always)]
unsafe fn i8_panel<const NJ: usize>(t: Vnni, k: &I8Kernel<'_>, y: &mut [i8]) {
    let s = k.s;
    let bias = k.consts[0];
    // SAFETY (whole function): AVX-512 F/BW/VL and VNNI are enabled by the caller. The
    // loads read only lanes whose column is inside `0..in_w` of a row of the band
    // (masked), the weight reads stay in the panel, the stores write pixels `< n` and
    // channels `< mj` of the output, which the caller sized.
    unsafe {
        let st = Store::new::<NJ>(t, &k.consts, k.out, k.mj, s.out_c);
        let zp128 = _mm_set1_epi8(k.x_zp as i8);
        let zp256 = _mm256_set1_epi8(k.x_zp as i8);
        let flip = _mm512_set1_epi8(-128);
        let (w, sx) = (s.in_w, s.stride[1]);
        let xp = k.xq.as_ptr();
        let yp = y.as_mut_ptr();
        // Per output row: each packed `k`'s input row (null for a padding row or a zero
        // weight: both read `x_zp`) and its column offset `kx·dilation − pad`.
        let mut rows = [core::ptr::null::<i8>(); MAX_K];
        let mut offs = [0isize; MAX_K];
        for (o, &[ci, _, kx]) in offs.iter_mut().zip(k.ks) {
            if ci != usize::MAX {
                *o = (kx * s.dilation[1]) as isize - s.pad[1] as isize;
            }
        }
        for oy in 0..s.out_h {
            for (r, &[ci, ky, _]) in rows.iter_mut().zip(k.ks) {
                let iy = match ci {
                    usize::MAX => None,
                    _ => coord(oy, ky, s.stride[0], s.dilation[0], s.pad[0], s.in_h),
                };
                *r = match iy {
                    Some(iy) => xp.add((ci * s.in_h + iy) * w),
                    None => core::ptr::null(),
                };
            }
            for ox0 in (0..s.out_w).step_by(16) {
                let n = (s.out_w - ox0).min(16);
                let mut acc = [_mm512_setzero_si512(); NJ];
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_set1_epi32(bias[j]);
                }
                for g in 0..k.ks.len() / 4 {
                    let mut q = [zp128; 4];
                    for (i, v) in q.iter_mut().enumerate() {
                        let r = rows[4 * g + i];
                        if r.is_null() {
                            continue;
                        }
                        let start = (ox0 * sx) as isize + offs[4 * g + i];
                        let m = valid(start, w, 16 * sx);
                        // Masked-off lanes are not accessed.
                        let row = r.wrapping_offset(start);
                        *v = if sx == 1 {
                            _mm_mask_loadu_epi8(zp128, m as __mmask16, row)
                        } else {
                            _mm256_cvtepi16_epi8(_mm256_mask_loadu_epi8(zp256, m, row))
                        };
                    }
                    // Pixel `l`'s 4 bytes (k = 4g..4g + 4) in lane `l`.
                    let (ab0, ab1) = (_mm_unpacklo_epi8(q[0], q[1]), _mm_unpackhi_epi8(q[0], q[1]));
                    let (cd0, cd1) = (_mm_unpacklo_epi8(q[2], q[3]), _mm_unpackhi_epi8(q[2], q[3]));
                    let lo4 = _mm256_inserti128_si256::<1>(
                        _mm256_castsi128_si256(_mm_unpacklo_epi16(ab0, cd0)),
                        _mm_unpackhi_epi16(ab0, cd0),
                    );
                    let hi4 = _mm256_inserti128_si256::<1>(
                        _mm256_castsi128_si256(_mm_unpacklo_epi16(ab1, cd1)),
                        _mm_unpackhi_epi16(ab1, cd1),
                    );
                    let xv = _mm512_xor_si512(
                        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo4), hi4),
                        flip,
                    );
                    let wp = k.panel.as_ptr().add(k.hlen + g * 4 * NR);
                    for (j, a) in acc.iter_mut().enumerate() {
                        let wq = core::ptr::read_unaligned(wp.add(4 * j).cast::<i32>());
                        *a = _mm512_dpbusd_epi32(*a, xv, _mm512_set1_epi32(wq));
                    }
                }
                let px0 = (oy * s.out_w + ox0) * s.out_c + k.p * NR;
                store16::<NJ, false>(t, &acc, &st, yp.add(px0), n);
            }
        }
    }
}
