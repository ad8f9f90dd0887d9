//! The AVX-512 NCHW-input f32 conv (see `engine/stem.rs`): 16 output pixels of a row
//! per vector, one accumulator per output channel (8 for a panel of at most 8
//! channels, else 16), the weights broadcast from memory, then a transpose into NHWC
//! rows by shuffles and 4-channel stores.

use core::arch::x86_64::*;

use super::super::types::{ConvShape, NR};
use super::Avx512Bw;

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
