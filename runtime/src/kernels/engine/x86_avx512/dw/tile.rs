//! The constants of a depthwise tile for [`super`]'s row loops: weights (widened,
//! or packed 4 taps per lane for `vpdpbusd`), the folded bias, the requantization,
//! the clamp; and the short requantization they feed.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::super::{madd, mask16, rounded, Avx512, Rq};
use crate::kernels::engine::frame::I32Lanes;
use crate::kernels::engine::types::{I8Header, I8Out, NR};

/// A tile's constants, in locals of the row loop.
#[derive(Clone, Copy)]
pub(super) struct Consts {
    pub(super) w: [__m512i; 25],
    pub(super) folded: __m512i,
    pub(super) rq: Rq,
    pub(super) zp: __m512i,
    /// The activation bounds, saturated to i8, in every byte.
    pub(super) lo: __m512i,
    pub(super) hi: __m512i,
    /// The offset form of the requantization applies ([`I32Lanes::rq_u`]): `rq`
    /// is prepared for [`I32Lanes::mbqm_zp_u`] only and `folded` holds the
    /// offset `i32::MIN`.
    pub(super) u: bool,
    /// The store mask of a full vector.
    pub(super) mask: __mmask16,
}

/// The short form of [`I32Lanes::mbqm_zp`] (`rq.fast`: every lane's shift `e >= 1`).
///
/// # Safety
/// AVX-512F.
#[inline(always)]
pub(super) unsafe fn fast(a: __m512i, rq: &Rq) -> __m512i {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        let t = rounded(a, rq, &rq.cz);
        let idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        _mm512_srav_epi32(_mm512_permutex2var_epi32(t[0], idx, t[1]), rq.e1)
    }
}

/// An i32 row of the packed header (lanes 8..16 = lanes 0..8 when `PS = 8`).
///
/// # Safety
/// AVX-512F; `p` holds 64 bytes.
#[inline(always)]
unsafe fn i32_row<const PS: usize>(p: *const u8) -> __m512i {
    // SAFETY: caller's contract.
    unsafe {
        if PS == NR {
            _mm512_loadu_si512(p.cast())
        } else {
            _mm512_broadcast_i64x4(_mm256_loadu_si256(p.cast()))
        }
    }
}

/// A byte row of the packed tile (bytes 8..16 = bytes 0..8 when `PS = 8`).
///
/// # Safety
/// AVX2; `p` holds 16 bytes.
#[inline(always)]
unsafe fn byte_row<const PS: usize>(p: *const u8) -> __m128i {
    // SAFETY: caller's contract.
    unsafe {
        let v = _mm_loadu_si128(p.cast());
        if PS == NR {
            v
        } else {
            _mm_unpacklo_epi64(v, v)
        }
    }
}

/// The constants of the packed tile at `tile` (`nc` channels; `PS = 8`: 8 channels
/// repeated in lanes 8..16). Lanes past `nc` (stored under a mask) take the
/// multiplier 0 and the shift −1, so that a channel tail keeps the short form.
///
/// # Safety
/// AVX-512 (as `l`); `tile` is a packed tile of `K·K` taps.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) unsafe fn consts<const VNNI: bool, const DOT: bool, const K: usize, const PS: usize>(
    l: Avx512<VNNI>,
    tile: *const u8,
    nc: usize,
    out: &I8Out,
    x_zp: i32,
) -> Consts {
    let h = out.header;
    let (m_at, s_at) = h.dw_rq_at();
    // SAFETY: caller's contract: the header's rows hold 16 lanes, then the weights.
    unsafe {
        let lanes = if PS == NR { mask16(nc) } else { 0xFFFF };
        let m = _mm512_maskz_mov_epi32(lanes, i32_row::<PS>(tile.add(m_at)));
        let shift = match h {
            I8Header::Wide => i32_row::<PS>(tile.add(s_at)),
            I8Header::Compact => _mm512_cvtepi8_epi32(byte_row::<PS>(tile.add(s_at))),
        };
        let shift = _mm512_mask_mov_epi32(_mm512_set1_epi32(-1), lanes, shift);
        let zp = l.splat(out.zero_point);
        let wt = tile.add(h.dw_len());
        // (0 − x_zp)·w per tap (DOT: (0 − x_zp − 128)·w, the bytes being
        // `x + 128`): exact, wrapping like the reference's sum.
        let neg_zp = l.splat(-x_zp - if DOT { 128 } else { 0 });
        let mut w = [_mm512_setzero_si512(); 25];
        let bias = i32_row::<PS>(tile);
        let mut folded = bias;
        for t in 0..K * K {
            let wv = _mm512_cvtepu16_epi32(_mm256_cvtepi8_epi16(byte_row::<PS>(wt.add(t * NR))));
            folded = madd::<VNNI>(folded, neg_zp, wv);
            if DOT {
                // Byte `kx % 4` of lane `L` in group `(ky, kx / 4)`.
                let (ky, kx) = (t / K, t % K);
                let gi = ky * K.div_ceil(4) + kx / 4;
                let b = _mm512_and_si512(wv, _mm512_set1_epi32(0xFF));
                w[gi] = _mm512_or_si512(
                    w[gi],
                    _mm512_sll_epi32(b, _mm_cvtsi32_si128(8 * (kx % 4) as i32)),
                );
            } else {
                w[t] = wv;
            }
        }
        let mut rq = l.rq_zp(m, shift, zp);
        // The offset form: the sum is `bias + Σ (x − x_zp)·w` over `K·K` taps (every
        // lane: `PS = 8` repeats its 8 channels).
        let u = l.rq_u(&mut rq, bias, if PS == NR { nc } else { NR }, K * K);
        if u {
            folded = _mm512_add_epi32(folded, _mm512_set1_epi32(i32::MIN));
        }
        Consts {
            w,
            folded,
            rq,
            zp,
            lo: _mm512_set1_epi8(out.act_min.clamp(-128, 127) as i8),
            hi: _mm512_set1_epi8(out.act_max.clamp(-128, 127) as i8),
            u,
            mask: lanes,
        }
    }
}
