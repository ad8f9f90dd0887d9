//! The requantization and store of the int8 NCHW-input convs (`stem.rs`, `stem_rows.rs`):
//! a panel's per-channel constants, and 16 output pixels' channel vectors transposed
//! into NHWC pixels, requantized, clamped and stored.

use core::arch::x86_64::*;

use super::super::frame::i8epi::i8_panel_consts;
use super::super::types::{I8Header, I8Out, NR};
use super::{bytes64, I32Lanes, Rq, Vnni};

/// The per-channel constants of one int8 panel: `bias_u8`, multiplier, shift (the
/// vectors of the one reader of a panel header, [`i8_panel_consts`], stored).
///
/// # Safety
/// AVX-512 F/BW/VL (`t`); `panel` points to a panel header of form `header`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
pub(crate) unsafe fn panel_consts(t: Vnni, panel: *const u8, header: I8Header) -> [[i32; NR]; 3] {
    let mut c = [[0i32; NR]; 3];
    // SAFETY: the caller's contract; each store writes one 16-lane row of `c`.
    unsafe {
        let (bias, m, shift) = i8_panel_consts(t, header, panel);
        for (row, v) in c.iter_mut().zip([bias, m, shift]) {
            _mm512_storeu_si512(row.as_mut_ptr().cast(), v);
        }
    }
    c
}

/// The requantization and store of one block (shared with `stem.rs`).
pub(crate) struct Store {
    pub(crate) rq: Rq,
    pub(crate) zp: __m512i,
    pub(crate) lo: __m512i,
    pub(crate) hi: __m512i,
    /// `lo` and `hi` as bytes.
    pub(crate) lo8: __m512i,
    pub(crate) hi8: __m512i,
    /// The panel's channels `0..mj` as a byte mask.
    pub(crate) cmask: u16,
    pub(crate) out_c: usize,
    /// `rq` is in the offset form ([`I32Lanes::rq_u`]): the sums start from the
    /// `bias_u8` row plus `i32::MIN`, [`store16`] with `U` requantizes them.
    pub(crate) u: bool,
}

impl Store {
    /// The constants of a panel of `mj <= NJ` channels (`consts` of [`panel_consts`]).
    ///
    /// # Safety
    /// AVX-512 F/BW/VL (the caller's target features).
    #[inline(always)]
    pub(crate) unsafe fn new<const NJ: usize>(
        t: Vnni,
        consts: &[[i32; NR]; 3],
        out: &I8Out,
        mj: usize,
        out_c: usize,
    ) -> Store {
        // SAFETY: the caller's contract.
        unsafe {
            // The requantization lanes: channel `l % NJ` in lane `l`.
            let lanes = |v: &[i32; NR]| {
                let mut a = [0i32; NR];
                for (l, x) in a.iter_mut().enumerate() {
                    *x = v[l % NJ];
                }
                _mm512_loadu_si512(a.as_ptr().cast())
            };
            let zp = _mm512_set1_epi32(out.zero_point);
            Store {
                rq: I32Lanes::rq_zp(t, lanes(&consts[1]), lanes(&consts[2]), zp),
                zp,
                lo: _mm512_set1_epi32(out.act_min),
                hi: _mm512_set1_epi32(out.act_max),
                lo8: _mm512_set1_epi8(out.act_min as i8),
                hi8: _mm512_set1_epi8(out.act_max as i8),
                cmask: ((1u32 << mj) - 1) as u16,
                out_c,
                u: false,
            }
        }
    }
}

impl Store {
    /// [`Store::new`] with the panel's constants read by vector loads
    /// ([`i8_panel_consts`]), and the panel's `bias_u8` row; in the offset form when it applies to
    /// sums of `k` products (then the row plus `i32::MIN`).
    ///
    /// # Safety
    /// AVX-512 F/BW/VL (the caller's target features); `panel` points to a panel
    /// header of form `header`.
    #[inline(always)]
    pub(crate) unsafe fn load<const NJ: usize>(
        t: Vnni,
        panel: *const u8,
        header: I8Header,
        out: &I8Out,
        (mj, out_c, k): (usize, usize, usize),
    ) -> (Store, __m512i) {
        // SAFETY: the caller's contract: each load lies in the header.
        unsafe {
            let (bias, m, shift) = i8_panel_consts(t, header, panel);
            // The requantization lanes: channel `l % NJ` in lane `l`.
            let (m, shift, b) = if NJ == 8 {
                (
                    _mm512_shuffle_i64x2::<0x44>(m, m),
                    _mm512_shuffle_i64x2::<0x44>(shift, shift),
                    _mm512_shuffle_i64x2::<0x44>(bias, bias),
                )
            } else {
                (m, shift, bias)
            };
            let zp = _mm512_set1_epi32(out.zero_point);
            let mut rq = I32Lanes::rq_zp(t, m, shift, zp);
            // Lanes `mj..NJ` (and their copies) are not stored.
            let u = I32Lanes::rq_u(t, &mut rq, b, mj, k);
            let bias = if u {
                _mm512_add_epi32(bias, _mm512_set1_epi32(i32::MIN))
            } else {
                bias
            };
            let st = Store {
                rq,
                zp,
                lo: _mm512_set1_epi32(out.act_min),
                hi: _mm512_set1_epi32(out.act_max),
                lo8: _mm512_set1_epi8(out.act_min as i8),
                hi8: _mm512_set1_epi8(out.act_max as i8),
                cmask: ((1u32 << mj) - 1) as u16,
                out_c,
                u,
            };
            (st, bias)
        }
    }
}

/// Transposes the `NJ` channel vectors of 16 pixels (`acc[j]` lane `l`: channel `j` of
/// pixel `l`) into pixel-major vectors (two pixels of 8 channels, or one of 16),
/// requantizes them, clamps and stores pixels `< n` from `yp` on (pixel stride
/// `out_c`, the panel's channels masked).
///
/// # Safety
/// AVX-512 F/BW/VL and VNNI; `yp` + pixel `l < n`'s `out_c`-byte stride holds the
/// panel's `mj` channels.
#[inline(always)]
pub(crate) unsafe fn store16<const NJ: usize, const U: bool>(
    t: Vnni,
    acc: &[__m512i; NJ],
    st: &Store,
    yp: *mut i8,
    n: usize,
) {
    // SAFETY: the caller's contract; stores write pixels `< n`, channels `< mj`.
    unsafe {
        // q[g][kq] 128-bit lane L: channels 4g..4g + 4 of pixel 4L + kq.
        let mut qv = [[_mm512_setzero_si512(); 4]; 4];
        for g in 0..NJ / 4 {
            let [a0, a1, a2, a3] = [acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]];
            let (t0, t1) = (_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
            let (t2, t3) = (_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
            qv[g] = [
                _mm512_unpacklo_epi64(t0, t2),
                _mm512_unpackhi_epi64(t0, t2),
                _mm512_unpacklo_epi64(t1, t3),
                _mm512_unpackhi_epi64(t1, t3),
            ];
        }
        let out_c = st.out_c;
        #[allow(clippy::needless_range_loop)]
        for kq in 0..4 {
            // (vector, first pixel of each NJ-lane group)
            let mut v = [(_mm512_setzero_si512(), [0usize; 2]); 4];
            let nv = if NJ == 8 {
                let (a, b) = (qv[0][kq], qv[1][kq]);
                let i0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
                let i1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
                v[0] = (_mm512_permutex2var_epi64(a, i0, b), [kq, 4 + kq]);
                v[1] = (_mm512_permutex2var_epi64(a, i1, b), [8 + kq, 12 + kq]);
                2
            } else {
                let [q0, q1, q2, q3] = [qv[0][kq], qv[1][kq], qv[2][kq], qv[3][kq]];
                let t0 = _mm512_shuffle_i32x4::<0x44>(q0, q1);
                let t1 = _mm512_shuffle_i32x4::<0xEE>(q0, q1);
                let t2 = _mm512_shuffle_i32x4::<0x44>(q2, q3);
                let t3 = _mm512_shuffle_i32x4::<0xEE>(q2, q3);
                v[0] = (_mm512_shuffle_i32x4::<0x88>(t0, t2), [kq, 0]);
                v[1] = (_mm512_shuffle_i32x4::<0xDD>(t0, t2), [4 + kq, 0]);
                v[2] = (_mm512_shuffle_i32x4::<0x88>(t1, t3), [8 + kq, 0]);
                v[3] = (_mm512_shuffle_i32x4::<0xDD>(t1, t3), [12 + kq, 0]);
                4
            };
            for &(a, px) in &v[..nv] {
                let r = if U {
                    I32Lanes::mbqm_zp_u(t, a, &st.rq, st.zp)
                } else {
                    I32Lanes::mbqm_zp(t, a, &st.rq, st.zp)
                };
                let r = _mm512_min_epi32(st.hi, _mm512_max_epi32(st.lo, r));
                let b = _mm512_cvtsepi32_epi8(r);
                if px[0] < n {
                    _mm_mask_storeu_epi8(yp.add(px[0] * out_c), st.cmask, b);
                }
                if NJ == 8 && px[1] < n {
                    // Bytes 8..16 hold the second pixel: the store's base lies 8
                    // bytes before it, where only masked-off lanes would be.
                    let at = yp.add(px[1] * out_c).wrapping_sub(8);
                    _mm_mask_storeu_epi8(at, st.cmask << 8, b);
                }
            }
        }
    }
}

/// [`store16`] for a layer of exactly 8 output channels (one panel; pixels `< n` of
/// 8 contiguous bytes): the 8 requantized pixel-pair vectors are narrowed with
/// saturation by `vpackssdw` / `vpacksswb` (as `vpmovsdb`: both saturate, so the
/// clamp to the int8 range `lo..=hi` after them is the clamp before), put in pixel
/// order by one `vpermb` per 8 pixels, clamped as bytes and stored as 64 bytes.
///
/// # Safety
/// AVX-512 F/BW/VL, VNNI and VBMI; `yp` holds pixels `< n` of 8 bytes.
#[inline(always)]
pub(crate) unsafe fn store16_c8<const U: bool>(
    t: Vnni,
    acc: &[__m512i; 8],
    st: &Store,
    yp: *mut i8,
    n: usize,
) {
    // SAFETY: the caller's contract; the stores write bytes `< 8n`.
    unsafe {
        // q[g][kq] 128-bit lane L: channels 4g..4g + 4 of pixel 4L + kq.
        let mut qv = [[_mm512_setzero_si512(); 4]; 2];
        for (g, q) in qv.iter_mut().enumerate() {
            let [a0, a1, a2, a3] = [acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]];
            let (t0, t1) = (_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
            let (t2, t3) = (_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
            *q = [
                _mm512_unpacklo_epi64(t0, t2),
                _mm512_unpackhi_epi64(t0, t2),
                _mm512_unpacklo_epi64(t1, t3),
                _mm512_unpackhi_epi64(t1, t3),
            ];
        }
        // r[h][kq]: pixels kq, 4 + kq (h = 0) or 8 + kq, 12 + kq (h = 1), 8 channels
        // each; 128-bit lane L: channels 4·(L % 2).. of the pair's pixel L / 2.
        let mut r = [[_mm512_setzero_si512(); 4]; 2];
        let i0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
        let i1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        for kq in 0..4 {
            let (a, b) = (qv[0][kq], qv[1][kq]);
            for (h, i) in [i0, i1].into_iter().enumerate() {
                let v = _mm512_permutex2var_epi64(a, i, b);
                r[h][kq] = if U {
                    I32Lanes::mbqm_zp_u(t, v, &st.rq, st.zp)
                } else {
                    I32Lanes::mbqm_zp(t, v, &st.rq, st.zp)
                };
            }
        }
        // After the packs, 128-bit lane L holds (kq, 4 bytes) of r[h][kq]'s lane L:
        // pixel `p < 8` (of the half), channel `c` at 16·(2·(p / 4) + c / 4) +
        // 4·(p % 4) + c % 4.
        const IDX: [u8; 64] = {
            let mut a = [0u8; 64];
            let mut o = 0;
            while o < 64 {
                let (p, c) = (o / 8, o % 8);
                a[o] = (16 * (2 * (p / 4) + c / 4) + 4 * (p % 4) + c % 4) as u8;
                o += 1;
            }
            a
        };
        let idx = _mm512_loadu_si512(IDX.as_ptr().cast());
        for (h, r) in r.iter().enumerate() {
            let ab = _mm512_packs_epi32(r[0], r[1]);
            let cd = _mm512_packs_epi32(r[2], r[3]);
            let z = _mm512_permutexvar_epi8(idx, _mm512_packs_epi16(ab, cd));
            let z = _mm512_min_epi8(st.hi8, _mm512_max_epi8(st.lo8, z));
            let px = n.saturating_sub(8 * h).min(8);
            _mm512_mask_storeu_epi8(yp.add(64 * h), bytes64(8 * px), z);
        }
    }
}

/// The offset form's constants of an 8-channel panel per channel (for
/// [`store16_c8_cm`], which requantizes channel vectors): `2m`, `C` and the right
/// shift `e` of each channel, read from a [`Store`] prepared by [`Store::load`] with
/// `u` (the lanes `l` of its `rq` hold channel `l % 8`).
pub(crate) struct Chan8 {
    m: [u64; 8],
    c: [u64; 8],
    e: [i32; 8],
}

impl Chan8 {
    /// # Safety
    /// AVX-512F (the caller's target features); `st.u`.
    #[inline(always)]
    pub(crate) unsafe fn new(st: &Store) -> Chan8 {
        let (mut m, mut e) = ([0u32; NR], [0i32; NR]);
        let mut cz = [[0u64; 8]; 2];
        // SAFETY: the caller's contract; each store writes one 64-byte array.
        unsafe {
            _mm512_storeu_si512(m.as_mut_ptr().cast(), st.rq.m);
            _mm512_storeu_si512(e.as_mut_ptr().cast(), st.rq.e);
            for (a, v) in cz.iter_mut().zip(st.rq.cz) {
                _mm512_storeu_si512(a.as_mut_ptr().cast(), v);
            }
        }
        // `cz[0]` 64-bit lane `i`: channel `2i`; `cz[1]`: channel `2i + 1`.
        Chan8 {
            m: core::array::from_fn(|j| u64::from(m[j])),
            c: core::array::from_fn(|j| cz[j % 2][j / 2]),
            e: core::array::from_fn(|j| e[j]),
        }
    }
}

/// [`store16_c8`] in the offset form, without the transpose of the sums: each
/// channel vector `acc[j]` (pixel `l` in lane `l`) is requantized by
/// [`mbqm_zp_u`](super::rqu::mbqm_zp_u) with channel `j`'s constants in every lane
/// (the same lane-wise arithmetic, so the same values as [`store16_c8`]'s), the 8
/// results narrowed with saturation by `vpackssdw` / `vpacksswb` (as `vpmovsdb`: the
/// clamp to the int8 range `lo..=hi` after them is the clamp before), put in pixel
/// order by one two-source `vpermt2b` per 8 pixels, clamped as bytes and stored as 64
/// bytes.
///
/// # Safety
/// AVX-512 F/BW/VL, VNNI and VBMI; `ch` from `st` (with `st.u`); `yp` holds pixels
/// `< n` of 8 bytes.
#[inline(always)]
pub(crate) unsafe fn store16_c8_cm(
    acc: &[__m512i; 8],
    ch: &Chan8,
    st: &Store,
    yp: *mut i8,
    n: usize,
) {
    // SAFETY: the caller's contract; the stores write bytes `< 8n`.
    unsafe {
        let mut r = [_mm512_setzero_si512(); 8];
        for (j, r) in r.iter_mut().enumerate() {
            let m = _mm512_set1_epi64(ch.m[j] as i64);
            let c = _mm512_set1_epi64(ch.c[j] as i64);
            *r = super::rqu::mbqm_zp_u(acc[j], (m, m, &[c, c], _mm512_set1_epi32(ch.e[j])));
        }
        // After the packs, 128-bit lane `L` of `lo` holds 4 bytes (pixels 4L..4L + 4)
        // of channels 0, 1, 2, 3 in turn, `hi` of channels 4..8: pixel `p`, channel `c`
        // at 64·(c / 4) + 16·(p / 4) + 4·(c % 4) + p % 4 of the pair.
        let lo = _mm512_packs_epi16(
            _mm512_packs_epi32(r[0], r[1]),
            _mm512_packs_epi32(r[2], r[3]),
        );
        let hi = _mm512_packs_epi16(
            _mm512_packs_epi32(r[4], r[5]),
            _mm512_packs_epi32(r[6], r[7]),
        );
        const IDX: [[u8; 64]; 2] = {
            let mut a = [[0u8; 64]; 2];
            let mut o = 0;
            while o < 128 {
                let (p, c) = (o / 8, o % 8);
                a[o / 64][o % 64] = (64 * (c / 4) + 16 * (p / 4) + 4 * (c % 4) + p % 4) as u8;
                o += 1;
            }
            a
        };
        for (h, idx) in IDX.iter().enumerate() {
            let idx = _mm512_loadu_si512(idx.as_ptr().cast());
            let z = _mm512_permutex2var_epi8(lo, idx, hi);
            let z = _mm512_min_epi8(st.hi8, _mm512_max_epi8(st.lo8, z));
            let px = n.saturating_sub(8 * h).min(8);
            _mm512_mask_storeu_epi8(yp.add(64 * h), bytes64(8 * px), z);
        }
    }
}

/// [`store16`] for a layer of exactly 16 output channels (one panel; pixels `< n` of
/// 16 contiguous bytes): the 16 requantized pixel vectors (one pixel's channels each)
/// are narrowed four at a time with saturation by two `vpackssdw` and one `vpacksswb`
/// (as `vpmovsdb`: both saturate, so the clamp to the int8 range `lo..=hi` after them
/// is the clamp before), put in pixel order by one `vpermd`, clamped as bytes and
/// stored as 64 bytes (4 pixels).
///
/// # Safety
/// AVX-512 F/BW/VL and VNNI; `yp` holds pixels `< n` of 16 bytes.
#[inline(always)]
pub(crate) unsafe fn store16_c16<const U: bool>(
    t: Vnni,
    acc: &[__m512i; 16],
    st: &Store,
    yp: *mut i8,
    n: usize,
) {
    // SAFETY: the caller's contract; the stores write bytes `< 16n`.
    unsafe {
        // q[g][kq] 128-bit lane L: channels 4g..4g + 4 of pixel 4L + kq.
        let mut qv = [[_mm512_setzero_si512(); 4]; 4];
        for (g, q) in qv.iter_mut().enumerate() {
            let [a0, a1, a2, a3] = [acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]];
            let (t0, t1) = (_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
            let (t2, t3) = (_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
            *q = [
                _mm512_unpacklo_epi64(t0, t2),
                _mm512_unpackhi_epi64(t0, t2),
                _mm512_unpacklo_epi64(t1, t3),
                _mm512_unpackhi_epi64(t1, t3),
            ];
        }
        // r[kq][i]: pixel 4i + kq's 16 channels, requantized.
        let mut r = [[_mm512_setzero_si512(); 4]; 4];
        for (kq, r) in r.iter_mut().enumerate() {
            let [q0, q1, q2, q3] = [qv[0][kq], qv[1][kq], qv[2][kq], qv[3][kq]];
            let t0 = _mm512_shuffle_i32x4::<0x44>(q0, q1);
            let t1 = _mm512_shuffle_i32x4::<0xEE>(q0, q1);
            let t2 = _mm512_shuffle_i32x4::<0x44>(q2, q3);
            let t3 = _mm512_shuffle_i32x4::<0xEE>(q2, q3);
            let v = [
                _mm512_shuffle_i32x4::<0x88>(t0, t2),
                _mm512_shuffle_i32x4::<0xDD>(t0, t2),
                _mm512_shuffle_i32x4::<0x88>(t1, t3),
                _mm512_shuffle_i32x4::<0xDD>(t1, t3),
            ];
            for (r, a) in r.iter_mut().zip(v) {
                *r = if U {
                    I32Lanes::mbqm_zp_u(t, a, &st.rq, st.zp)
                } else {
                    I32Lanes::mbqm_zp(t, a, &st.rq, st.zp)
                };
            }
        }
        // After the packs, 128-bit lane L holds channels 4L..4L + 4 of pixels 4i,
        // 4i + 1, 4i + 2, 4i + 3 in turn (4 bytes each): dword 4L + kq; `vpermd`
        // puts pixel kq's dwords 4L + kq (L = 0..4) at 4kq..4kq + 4.
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        #[allow(clippy::needless_range_loop)]
        for i in 0..4 {
            let ab = _mm512_packs_epi32(r[0][i], r[1][i]);
            let cd = _mm512_packs_epi32(r[2][i], r[3][i]);
            let z = _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(ab, cd));
            let z = _mm512_min_epi8(st.hi8, _mm512_max_epi8(st.lo8, z));
            let px = n.saturating_sub(4 * i).min(4);
            if px == 0 {
                break;
            }
            _mm512_mask_storeu_epi8(yp.add(64 * i), bytes64(16 * px), z);
        }
    }
}
