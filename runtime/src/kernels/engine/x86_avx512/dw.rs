//! The int8 depthwise kernel for AVX-512 (F, BW, VL; VNNI or not) on the common
//! cases: 3×3 or 5×5 kernels, dilation 1, horizontal stride 1 or 2, no fused
//! residual, rows that fit [`BUF`]. The other cases go to the frame's walk
//! ([`frame::dwconv::i8_dwconv`]).
//!
//! Band by band of output rows (with several channel tiles, a band's input rows
//! fit in [`L1_BAND`] bytes, so that they stay in L1 from one tile to the next),
//! per 16-channel tile, the input rows the band reads are copied into
//! a stack buffer padded with the input zero point (`[rows][cols][PS]` bytes), so
//! every output pixel is interior: no border path, and the zero point is folded
//! into the bias (`bias − x_zp·Σ_t w_t`; a padding tap adds `x_zp·w`, the folded
//! bias removes it). Each output row then runs 4 vectors at a time over the
//! tile's weights, bias and requantization kept in locals, with one form of the
//! requantization chosen per tile: the offset form ([`I32Lanes::mbqm_zp_u`], the
//! four vectors narrowed together by two packs and clamped as 64 bytes) when
//! [`I32Lanes::rq_u`] holds, else the short form of [`I32Lanes::mbqm_zp`] when it
//! applies, else the general one, one masked byte store per vector: no branch per
//! pixel.
//!
//! 8 channels with stride 1 (`PS = 8`, MobileNetV1 0.25's first depthwise layer)
//! keep 8-byte pixels in the buffer: one vector carries two neighbouring pixels
//! (the tile's constants repeated in lanes 8..16) and stores 16 consecutive bytes.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use super::{copy_xor, madd, mask16, vbmi, Avx512, Avx512Bw, Vnni};
use crate::kernels::engine::frame::conv::i8_zero_point;
use crate::kernels::engine::frame::geom::{need, Geom};
use crate::kernels::engine::frame::{dwconv, I32Lanes};
use crate::kernels::engine::pack::i8_dw_tile_len;
use crate::kernels::engine::types::{ConvShape, I8Out, Kernel, Kernels, NR};
use crate::{Error, Result};
use tile::{consts, fast, Consts};

mod tile;

/// Bytes of the padded input band (on the stack).
const BUF: usize = 16 * 1024;

/// The requantization forms of a tile: the general one ([`I32Lanes::mbqm`]), the
/// short form ([`fast`]), the offset form ([`I32Lanes::mbqm_zp_u`], whose four
/// vectors at a time are narrowed together).
const GENERAL: u8 = 0;
const SHORT: u8 = 1;
const OFFSET: u8 = 2;

/// Input bytes of a band whose tiles run one after the other (in L1 for all but
/// the first).
const L1_BAND: usize = 24 * 1024;

/// Bytes after a band's last row that [`vectors`]' 64-byte loads may read (zeroed;
/// their weights are 0).
const SLACK: usize = 64;

/// [`super::KERNELS`] with this module's int8 depthwise (the engine's
/// `Isa::Avx512` table).
pub(crate) const KERNELS: Kernels = Kernels {
    i8_dwconv: Kernel {
        name: "i8_dwconv_16c_avx512",
        run: i8_dwconv_bw,
    },
    ..super::KERNELS
};

/// [`super::KERNELS_VNNI`] with this module's int8 depthwise and
/// [`super::conv16`]'s int8 conv (the engine's `Isa::Avx512Vnni` table).
pub(crate) const KERNELS_VNNI: Kernels = Kernels {
    i8_dwconv: Kernel {
        name: "i8_dwconv_16c_avx512vnni",
        run: i8_dwconv_vnni,
    },
    ..super::conv16::KERNELS_VNNI
};

/// The AVX-512BW entry (`Kernels::i8_dwconv`).
fn i8_dwconv_bw(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    /// # Safety
    /// The CPU supports the enabled features (`t` proves it).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    unsafe fn imp(
        t: Avx512Bw,
        s: &ConvShape,
        x: &[i8],
        x_zp: i32,
        packed: &[u8],
        out: &I8Out,
        y: &mut [i8],
    ) -> Result<()> {
        // SAFETY: caller's contract.
        unsafe { run::<false, false>(t, s, x, x_zp, packed, out, y) }
    }
    match Avx512Bw::new() {
        // SAFETY: the token exists only when the CPU has the features.
        Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y) },
        None => Err(Error::Unsupported),
    }
}

/// The AVX-512 VNNI entry (`Kernels::i8_dwconv`).
fn i8_dwconv_vnni(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    /// # Safety
    /// The CPU supports the enabled features (`t` proves it).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    unsafe fn imp(
        t: Vnni,
        s: &ConvShape,
        x: &[i8],
        x_zp: i32,
        packed: &[u8],
        out: &I8Out,
        y: &mut [i8],
    ) -> Result<()> {
        // SAFETY: caller's contract.
        unsafe { run::<true, false>(t, s, x, x_zp, packed, out, y) }
    }
    /// # Safety
    /// The CPU supports the enabled features (`t` and [`vbmi`] prove it).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma")]
    unsafe fn imp_dot(
        t: Vnni,
        s: &ConvShape,
        x: &[i8],
        x_zp: i32,
        packed: &[u8],
        out: &I8Out,
        y: &mut [i8],
    ) -> Result<()> {
        // SAFETY: caller's contract.
        unsafe { run::<true, true>(t, s, x, x_zp, packed, out, y) }
    }
    match Vnni::new() {
        // SAFETY: the token exists only when the CPU has the features, VBMI checked.
        Some(t) if vbmi() => unsafe { imp_dot(t, s, x, x_zp, packed, out, y) },
        // SAFETY: the token exists only when the CPU has the features.
        Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y) },
        None => Err(Error::Unsupported),
    }
}

/// The shape of a lean case: `(k, sw, ps)` (kernel size, horizontal stride, buffer
/// bytes per pixel) and the buffer's columns, or `None` for the frame's walk.
fn lean(g: &Geom, out: &I8Out) -> Option<(usize, usize, usize, usize)> {
    let k = g.kh;
    let ok = out.residual.is_none()
        && (g.kh, g.kw) == (k, k)
        && (k == 3 || k == 5)
        && (g.dh, g.dw) == (1, 1)
        && (g.sw == 1 || g.sw == 2)
        && g.pixels > 0;
    if !ok {
        return None;
    }
    let ps = if g.c == 8 && g.sw == 1 { 8 } else { NR };
    // Columns `−pl ..` of every vector's taps; a pair reads one pixel past the row.
    let cols = (g.ow - 1).checked_mul(g.sw)? + k + usize::from(ps == 8);
    (cols.checked_mul(ps)?.checked_mul(k)? <= BUF).then_some((k, g.sw, ps, cols))
}

/// [`crate::kernels::engine::i8_dwconv`] on AVX-512: the lean kernel when [`lean`]
/// holds, else the frame's walk.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL (and VNNI when `VNNI`).
#[inline(always)]
unsafe fn run<const VNNI: bool, const DOT: bool>(
    l: Avx512<VNNI>,
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    let Some((k, sw, ps, cols)) = lean(&g, out).filter(|_| g.n == g.c) else {
        // SAFETY: caller's contract.
        return unsafe { dwconv::i8_dwconv(l, s, x, x_zp, packed, out, y) };
    };
    // The frame's checks, in its order.
    i8_zero_point(x_zp)?;
    let tile_len = i8_dw_tile_len(out.header, g.taps).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.c.div_ceil(NR) * tile_len, packed.len())?;
    need(g.out_len, y.len())?;
    let b = Band {
        g,
        cols,
        x: x.as_ptr(),
        x_zp,
        y: y.as_mut_ptr(),
    };
    // SAFETY: the slices are checked against `g`; `lean` bounds the buffer.
    unsafe {
        match (k, sw, ps) {
            (3, 1, 8) => outlined::<VNNI, DOT, 3, 1, 8>(&b, packed, tile_len, out),
            (3, 1, _) => outlined::<VNNI, DOT, 3, 1, NR>(&b, packed, tile_len, out),
            (3, _, _) => outlined::<VNNI, DOT, 3, 2, NR>(&b, packed, tile_len, out),
            (_, 1, 8) => outlined::<VNNI, DOT, 5, 1, 8>(&b, packed, tile_len, out),
            (_, 1, _) => outlined::<VNNI, DOT, 5, 1, NR>(&b, packed, tile_len, out),
            _ => outlined::<VNNI, DOT, 5, 2, NR>(&b, packed, tile_len, out),
        }
    }
    Ok(())
}

/// [`Band::tiles`] in a function of its own per shape and feature set (`#[inline(never)]`:
/// its registers are not shared with the other shapes' loops).
///
/// # Safety
/// As [`Band::tiles`]; the CPU has the features of `(VNNI, DOT)`.
#[inline(always)]
unsafe fn outlined<
    const VNNI: bool,
    const DOT: bool,
    const K: usize,
    const SW: usize,
    const PS: usize,
>(
    b: &Band,
    packed: &[u8],
    tile_len: usize,
    out: &I8Out,
) {
    /// # Safety
    /// As [`outlined`], AVX-512 F/BW/VL.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    unsafe fn bw<const K: usize, const SW: usize, const PS: usize>(
        b: &Band,
        packed: &[u8],
        tile_len: usize,
        out: &I8Out,
    ) {
        // SAFETY: caller's contract.
        unsafe { b.tiles::<false, false, K, SW, PS>(Avx512(()), packed, tile_len, out) }
    }
    /// # Safety
    /// As [`outlined`], AVX-512 F/BW/VL and VNNI.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    unsafe fn vnni<const K: usize, const SW: usize, const PS: usize>(
        b: &Band,
        packed: &[u8],
        tile_len: usize,
        out: &I8Out,
    ) {
        // SAFETY: caller's contract.
        unsafe { b.tiles::<true, false, K, SW, PS>(Avx512(()), packed, tile_len, out) }
    }
    /// # Safety
    /// As [`outlined`], AVX-512 F/BW/VL, VNNI and VBMI.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma")]
    unsafe fn dot<const K: usize, const SW: usize, const PS: usize>(
        b: &Band,
        packed: &[u8],
        tile_len: usize,
        out: &I8Out,
    ) {
        // SAFETY: caller's contract.
        unsafe { b.tiles::<true, true, K, SW, PS>(Avx512(()), packed, tile_len, out) }
    }
    // SAFETY: caller's contract.
    unsafe {
        if DOT {
            dot::<K, SW, PS>(b, packed, tile_len, out)
        } else if VNNI {
            vnni::<K, SW, PS>(b, packed, tile_len, out)
        } else {
            bw::<K, SW, PS>(b, packed, tile_len, out)
        }
    }
}

/// One call's operands (checked).
struct Band {
    g: Geom,
    /// Columns of the padded buffer.
    cols: usize,
    x: *const i8,
    x_zp: i32,
    y: *mut i8,
}

impl Band {
    /// Every channel tile.
    ///
    /// # Safety
    /// AVX-512 (as `l`); the slices hold what `g` needs; `(K, SW, PS)` is [`lean`]'s.
    #[inline(always)]
    unsafe fn tiles<
        const VNNI: bool,
        const DOT: bool,
        const K: usize,
        const SW: usize,
        const PS: usize,
    >(
        &self,
        l: Avx512<VNNI>,
        packed: &[u8],
        tile_len: usize,
        out: &I8Out,
    ) {
        let g = &self.g;
        let mut buf = [MaybeUninit::<u8>::uninit(); BUF + SLACK];
        let buf = buf.as_mut_ptr().cast::<u8>();
        let row = self.cols * PS;
        // Output rows per band: `(bh − 1)·sh + K` buffer rows fit; with several
        // tiles, also the band's input rows in [`L1_BAND`] bytes (all tiles of a
        // band run while its input is in L1).
        let fit = (BUF / row - K) / g.sh + 1;
        let in_row = g.iw * g.c;
        let bh = if g.c > NR && in_row > 0 {
            let rows = (L1_BAND / in_row).max(K + g.sh);
            fit.min((rows - K) / g.sh + 1)
        } else {
            fit
        }
        .min(g.oh);
        let mut oy0 = 0;
        while oy0 < g.oh {
            let oy1 = (oy0 + bh).min(g.oh);
            for ct in 0..g.c.div_ceil(NR) {
                let c0 = ct * NR;
                let nc = NR.min(g.c - c0);
                // SAFETY: tile `ct` lies in `packed` (checked by `run`).
                let c = unsafe {
                    consts::<VNNI, DOT, K, PS>(
                        l,
                        packed.as_ptr().add(ct * tile_len),
                        nc,
                        out,
                        self.x_zp,
                    )
                };
                // SAFETY: `(oy1 − oy0 − 1)·sh + K` rows of `row` bytes fit in `buf`.
                unsafe {
                    self.fill::<DOT, PS>(buf, oy0 * g.sh, (oy1 - oy0 - 1) * g.sh + K, c0, nc);
                    // Unmasked stores when a vector's 16 outputs are all the tile's.
                    let bounds = (oy0, oy1);
                    let rq = if c.u {
                        OFFSET
                    } else if c.rq.fast {
                        SHORT
                    } else {
                        GENERAL
                    };
                    match (rq, PS == 8 || nc == NR) {
                        (OFFSET, true) => {
                            self.rows::<VNNI, DOT, K, SW, PS, OFFSET, true>(l, &c, buf, bounds, c0)
                        }
                        (OFFSET, false) => {
                            self.rows::<VNNI, DOT, K, SW, PS, OFFSET, false>(l, &c, buf, bounds, c0)
                        }
                        (SHORT, true) => {
                            self.rows::<VNNI, DOT, K, SW, PS, SHORT, true>(l, &c, buf, bounds, c0)
                        }
                        (SHORT, false) => {
                            self.rows::<VNNI, DOT, K, SW, PS, SHORT, false>(l, &c, buf, bounds, c0)
                        }
                        (_, true) => {
                            self.rows::<VNNI, DOT, K, SW, PS, GENERAL, true>(l, &c, buf, bounds, c0)
                        }
                        (_, false) => self
                            .rows::<VNNI, DOT, K, SW, PS, GENERAL, false>(l, &c, buf, bounds, c0),
                    }
                }
            }
            oy0 = oy1;
        }
    }

    /// Copies `rows` padded input rows from padded row `r0` (input row `r0 − pt`),
    /// channels `c0..c0 + nc`, into `buf`: `cols` pixels of `PS` bytes each, the
    /// input zero point outside the input (and 0 in lanes `nc..16`).
    ///
    /// # Safety
    /// `buf` holds `rows·cols·PS` bytes; `PS` is 8 only when `C` is 8.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn fill<const DOT: bool, const PS: usize>(
        &self,
        buf: *mut u8,
        r0: usize,
        rows: usize,
        c0: usize,
        nc: usize,
    ) {
        let g = &self.g;
        // SAFETY: caller's contract; input pixels are read only inside the input.
        unsafe {
            // DOT: bytes `x + 128` (u8 for `vpdpbusd`; the bias is folded to match).
            let flip = _mm_set1_epi8(if DOT { i8::MIN } else { 0 });
            let zp = _mm_xor_si128(_mm_set1_epi8(self.x_zp as i8), flip);
            let m = mask16(nc);
            // Columns `0..pl` and `pl + iw..` are padding.
            let left = g.pl.min(self.cols);
            let right = (g.pl + g.iw).min(self.cols);
            for r in 0..rows {
                let d = buf.add(r * self.cols * PS);
                let iy = (r0 + r).wrapping_sub(g.pt);
                if iy >= g.ih {
                    for j in 0..self.cols {
                        put::<PS>(d.add(j * PS), zp);
                    }
                    continue;
                }
                for j in 0..left {
                    put::<PS>(d.add(j * PS), zp);
                }
                let src = self.x.add((iy * g.iw + left - g.pl) * g.c + c0);
                if g.c == PS {
                    // The input row is the buffer row's interior: 64 bytes at a time.
                    let flip64 = _mm512_set1_epi8(if DOT { i8::MIN } else { 0 });
                    copy_xor(src, d.add(left * PS), (right - left) * PS, flip64);
                } else {
                    for j in left..right {
                        let v = _mm_maskz_loadu_epi8(m, src.add((j - left) * g.c));
                        let v = _mm_xor_si128(v, flip);
                        put::<PS>(d.add(j * PS), v);
                    }
                }
                for j in right..self.cols {
                    put::<PS>(d.add(j * PS), zp);
                }
            }
            if DOT {
                _mm512_storeu_si512(
                    buf.add(rows * self.cols * PS).cast(),
                    _mm512_setzero_si512(),
                );
            }
        }
    }

    /// Output rows `oy0..oy1` of channels `c0..`, their input rows in `buf` from
    /// padded row `oy0·sh`.
    ///
    /// # Safety
    /// `buf` holds those rows ([`Band::fill`]); `c` is the tile's.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn rows<
        const VNNI: bool,
        const DOT: bool,
        const K: usize,
        const SW: usize,
        const PS: usize,
        const RQ: u8,
        const FULL: bool,
    >(
        &self,
        l: Avx512<VNNI>,
        c: &Consts,
        buf: *const u8,
        (oy0, oy1): (usize, usize),
        c0: usize,
    ) {
        let g = &self.g;
        let c = *c;
        let row = self.cols * PS;
        // Output pixels per vector, output bytes per vector.
        let ppv = NR / PS;
        let step = ppv * g.c;
        let vecs = g.ow / ppv;
        for oy in oy0..oy1 {
            // SAFETY: caller's contract: the buffer row `(oy − oy0)·sh + ky` holds the
            // taps of vector `v` at bytes `16·SW·v + kx·PS` (stride-1 pairs: `16·v`);
            // output row `oy` holds `ow` pixels of `C` bytes.
            unsafe {
                let x = buf.add((oy - oy0) * g.sh * row);
                let y = self.y.add(oy * g.ow * g.c + c0);
                let mut v = 0;
                while v + 4 <= vecs {
                    vectors::<VNNI, DOT, K, SW, PS, RQ, FULL, 4>(l, &c, x, row, v, y, step, c.mask);
                    v += 4;
                }
                if v + 2 <= vecs {
                    vectors::<VNNI, DOT, K, SW, PS, RQ, FULL, 2>(l, &c, x, row, v, y, step, c.mask);
                    v += 2;
                }
                if v < vecs {
                    vectors::<VNNI, DOT, K, SW, PS, RQ, FULL, 1>(l, &c, x, row, v, y, step, c.mask);
                    v += 1;
                }
                if vecs * ppv < g.ow {
                    // A pair's first pixel only.
                    vectors::<VNNI, DOT, K, SW, PS, RQ, false, 1>(
                        l, &c, x, row, v, y, step, 0x00FF,
                    );
                }
            }
        }
    }
}

/// Vectors `v..v + P` of an output row: inputs at `x + ky·row + 16·SW·(v + p) + kx·PS`,
/// outputs at `y + (v + p)·step`, stored under `mask`.
///
/// # Safety
/// As [`Band::rows`].
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn vectors<
    const VNNI: bool,
    const DOT: bool,
    const K: usize,
    const SW: usize,
    const PS: usize,
    const RQ: u8,
    const FULL: bool,
    const P: usize,
>(
    l: Avx512<VNNI>,
    c: &Consts,
    x: *const u8,
    row: usize,
    v: usize,
    y: *mut i8,
    step: usize,
    mask: __mmask16,
) {
    // SAFETY: caller's contract.
    unsafe {
        let x = x.add(NR * SW * v);
        let mut acc = [c.folded; P];
        if DOT {
            // Lane `L` of group `gi`: the bytes of taps `kx = 4·gi..4·gi + 4` (byte
            // `k·PS + L` of the 64 loaded from tap `4·gi`'s column).
            let idx = _mm512_set_epi8(
                63, 47, 31, 15, 62, 46, 30, 14, 61, 45, 29, 13, 60, 44, 28, 12, 59, 43, 27, 11, 58,
                42, 26, 10, 57, 41, 25, 9, 56, 40, 24, 8, 55, 39, 23, 7, 54, 38, 22, 6, 53, 37, 21,
                5, 52, 36, 20, 4, 51, 35, 19, 3, 50, 34, 18, 2, 49, 33, 17, 1, 48, 32, 16, 0,
            );
            let idx8 = _mm512_set_epi8(
                39, 31, 23, 15, 38, 30, 22, 14, 37, 29, 21, 13, 36, 28, 20, 12, 35, 27, 19, 11, 34,
                26, 18, 10, 33, 25, 17, 9, 32, 24, 16, 8, 31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13,
                5, 28, 20, 12, 4, 27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8, 0,
            );
            let idx = if PS == NR { idx } else { idx8 };
            let groups = K.div_ceil(4);
            for ky in 0..K {
                let xr = x.add(ky * row);
                for gi in 0..groups {
                    let w = c.w[ky * groups + gi];
                    for (p, a) in acc.iter_mut().enumerate() {
                        let xv = _mm512_loadu_si512(xr.add(NR * SW * p + 4 * gi * PS).cast());
                        *a = _mm512_dpbusd_epi32(*a, _mm512_permutexvar_epi8(idx, xv), w);
                    }
                }
            }
        }
        for ky in 0..K * usize::from(!DOT) {
            let xr = x.add(ky * row);
            for kx in 0..K {
                let w = c.w[ky * K + kx];
                for (p, a) in acc.iter_mut().enumerate() {
                    let xv =
                        _mm512_cvtepi8_epi32(_mm_loadu_si128(xr.add(NR * SW * p + kx * PS).cast()));
                    *a = madd::<VNNI>(*a, xv, w);
                }
            }
        }
        if RQ == OFFSET && FULL && P == 4 {
            // The four vectors narrowed together: two saturating packs (`i32 → i16
            // → i8`, the same saturation as one) leave 128-bit lane `k` holding
            // lanes `4k..4k + 4` of the four vectors in turn; dword `4k + p` goes to
            // `4p + k`. Then one clamp of 64 bytes (monotone, as below).
            let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
            let q0 = l.mbqm_zp_u(acc[0], &c.rq, c.zp);
            let q1 = l.mbqm_zp_u(acc[1 % P], &c.rq, c.zp);
            let q2 = l.mbqm_zp_u(acc[2 % P], &c.rq, c.zp);
            let q3 = l.mbqm_zp_u(acc[3 % P], &c.rq, c.zp);
            let ab = _mm512_packs_epi32(q0, q1);
            let cd = _mm512_packs_epi32(q2, q3);
            let b = _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(ab, cd));
            let b = _mm512_min_epi8(_mm512_max_epi8(b, c.lo), c.hi);
            let at = y.add(v * step);
            if step == NR {
                _mm512_storeu_si512(at.cast(), b);
            } else {
                _mm_storeu_si128(at.cast(), _mm512_castsi512_si128(b));
                _mm_storeu_si128(at.add(step).cast(), _mm512_extracti32x4_epi32::<1>(b));
                _mm_storeu_si128(at.add(2 * step).cast(), _mm512_extracti32x4_epi32::<2>(b));
                _mm_storeu_si128(at.add(3 * step).cast(), _mm512_extracti32x4_epi32::<3>(b));
            }
            return;
        }
        for (p, a) in acc.into_iter().enumerate() {
            let q = match RQ {
                OFFSET => l.mbqm_zp_u(a, &c.rq, c.zp),
                SHORT => fast(a, &c.rq),
                _ => I32Lanes::add(l, l.mbqm(a, &c.rq), c.zp),
            };
            // The clamp after the saturating narrowing, on bytes: saturation is
            // monotone, so it commutes with `max` and `min` (`lo`, `hi` saturated).
            let (lo, hi) = (_mm512_castsi512_si128(c.lo), _mm512_castsi512_si128(c.hi));
            let b = _mm_min_epi8(_mm_max_epi8(_mm512_cvtsepi32_epi8(q), lo), hi);
            let at = y.add((v + p) * step);
            if FULL {
                _mm_storeu_si128(at.cast(), b);
            } else {
                _mm_mask_storeu_epi8(at, mask, b);
            }
        }
    }
}

/// Stores a buffer pixel: 16 bytes, or the low 8 when `PS = 8`.
///
/// # Safety
/// SSE2; `p` holds `PS` writable bytes.
#[inline(always)]
unsafe fn put<const PS: usize>(p: *mut u8, v: __m128i) {
    // SAFETY: caller's contract.
    unsafe {
        if PS == NR {
            _mm_storeu_si128(p.cast(), v)
        } else {
            _mm_storel_epi64(p.cast(), v)
        }
    }
}
