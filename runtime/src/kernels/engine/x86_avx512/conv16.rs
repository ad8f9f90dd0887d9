//! The int8 k×k conv for AVX-512 VNNI, one 16-channel panel at a time (ResNet-8's
//! 3×3 convs, the sensor 1D-CNN's 1×5 conv): more than one tap, dilation 1, any
//! stride and padding, `C >= 4` input channels (the packed layout with whole quads
//! per tap), input rows that fit [`BUF`]. Other convs (1×1, `C < 4`, dilation) go
//! to the frame's walk
//! ([`frame::conv::i8_conv`](crate::kernels::engine::frame::conv::i8_conv)).
//!
//! The input rows a band of output rows reads are copied into a stack buffer as
//! `x + 128` bytes (`x ^ 0x80`, the `u8` side of `vpdpbusd`), padded with the input
//! zero point and with pixels of `C4 = ⌈C/4⌉·4` bytes (the bytes past `C` are
//! multiplied by the packed zero weights). The packed `bias_u8` row already holds
//! `bias − (x_zp + 128)·Σw`, so a padding tap adds exactly what the bias removes:
//! every output pixel is interior. Kernel row `ky` of a pixel is then `kw·C4`
//! consecutive buffer bytes whose quads are the panel's weight groups
//! `ky·kw·C4/4..` in order: per group, one weight vector for `R` pixels, each pixel's
//! quad broadcast from the buffer (a load, no pointer table, no per-quad flip). The
//! accumulators start at the bias; the frame's epilogue ([`I8Epi`]) requantizes,
//! adds a fused residual and stores — without a residual Add, where the offset form
//! of the requantization applies ([`I32Lanes::rq_u`], as in the frame's 1×1 entry),
//! this module's [`Band::store_u`] (the sums start at `bias_u8 + i32::MIN`; four
//! pixels narrowed together). The panels run one after the other over each
//! band (the band is copied once for all); each panel's rows run in a function of
//! their own ([`Band::rows_u`] or [`Band::rows`]), so that the call's set-up stays
//! short. A conv whose whole padded input fits in [`SMALL`] bytes (the sensor
//! 1D-CNN's) gets a band of that size, the others one of [`BUF`].

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::mem::MaybeUninit;
use core::ptr;

use super::{bytes64, copy_xor, mask16, Rq, Vnni};
use crate::kernels::engine::frame::conv::i8_conv_operands;
use crate::kernels::engine::frame::geom::Geom;
use crate::kernels::engine::frame::i8epi::{i8_panel_consts, I8Epi};
use crate::kernels::engine::frame::I32Lanes;
use crate::kernels::engine::pack::i8_flat;
use crate::kernels::engine::types::{ConvShape, I8Out, Kernel, Kernels, NR};
use crate::{Error, Result};

/// Bytes of the padded input band (on the stack): ResNet-8's whole 34×34×16 padded
/// input fits.
const BUF: usize = 20 * 1024;

/// Bytes of the small band, used when the whole padded input fits in it (the sensor
/// 1D-CNN's 36×8-byte row): a frame well under a page, no stack probes and few cold
/// stack lines per call.
const SMALL: usize = 2 * 1024;

/// Output pixels per tile of an output row (accumulator registers).
const MR: usize = 16;

/// [`super::KERNELS_VNNI`] with this module's int8 conv (the frame's walk for the
/// convs it does not serve), the same kernel name.
pub(super) const KERNELS_VNNI: Kernels = Kernels {
    i8_conv: Kernel {
        name: super::KERNELS_VNNI.i8_conv.name,
        run: i8_conv_vnni,
    },
    ..super::KERNELS_VNNI
};

/// The `Kernels::i8_conv` of the VNNI table: this module's kernel when [`lean`]
/// holds, else the frame's walk.
fn i8_conv_vnni(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    /// # Safety
    /// The CPU supports the enabled features (`t` proves it); `lean` holds.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    unsafe fn imp<const B: usize>(
        t: Vnni,
        g: &Geom,
        shape: (usize, usize),
        x: &[i8],
        x_zp: i32,
        packed: &[u8],
        out: &I8Out,
        y: &mut [i8],
        scratch: &mut [i8],
    ) -> Result<()> {
        // SAFETY: caller's contract.
        unsafe { run::<B>(t, g, shape, x, x_zp, packed, out, y, scratch) }
    }
    // The shape's own fields first: most other convs skip `Geom::new` here.
    let maybe = s.out_c > 0 && s.in_c >= 4 && s.dilation == [1, 1] && s.kernel != [1, 1];
    if maybe {
        if let (Some(t), Ok(g)) = (Vnni::new(), Geom::new(s)) {
            if let Some(shape) = lean(&g) {
                // SAFETY: the token exists only when the CPU has the features.
                return unsafe {
                    if whole(&g, shape).is_some_and(|n| n <= SMALL) {
                        imp::<SMALL>(t, &g, shape, x, x_zp, packed, out, y, scratch)
                    } else {
                        imp::<BUF>(t, &g, shape, x, x_zp, packed, out, y, scratch)
                    }
                };
            }
        }
    }
    (super::KERNELS_VNNI.i8_conv.run)(s, x, x_zp, packed, out, y, scratch)
}

/// The buffer's pixel bytes `C4` and columns, or `None` for the frame's walk.
fn lean(g: &Geom) -> Option<(usize, usize)> {
    let ok =
        g.n > 0 && g.taps > 1 && !i8_flat(g.taps, g.c) && (g.dh, g.dw) == (1, 1) && g.pixels > 0;
    if !ok {
        return None;
    }
    let c4 = g.c.div_ceil(4).checked_mul(4)?;
    let cols = (g.ow - 1).checked_mul(g.sw)?.checked_add(g.kw)?;
    let row = cols.checked_mul(c4)?;
    (row.checked_mul(g.kh)? <= BUF).then_some((c4, cols))
}

/// The bytes of the whole padded input band of a [`lean`] shape `(c4, cols)`: all
/// `(oh − 1)·sh + kh` rows (`None` on overflow).
fn whole(g: &Geom, (c4, cols): (usize, usize)) -> Option<usize> {
    ((g.oh - 1) * g.sh)
        .checked_add(g.kh)?
        .checked_mul(cols * c4)
}

/// One call's operands (checked) and constants.
struct Band<'a> {
    g: &'a Geom,
    c4: usize,
    cols: usize,
    x: *const i8,
    /// The input zero point as a buffer byte (`x_zp ^ 0x80`).
    zp: u8,
    /// The panel's first weight group, bias row, first channel and channels.
    w: *const u8,
    bias: __m512i,
    n0: usize,
    nc: usize,
    y: *mut i8,
}

/// [`crate::kernels::engine::i8_conv`] for a [`lean`] shape `(c4, cols)`, with a
/// band of `B` bytes on the stack ([`BUF`], or [`SMALL`] when the whole padded input
/// fits in it).
///
/// # Safety
/// AVX-512 F/BW/VL and VNNI; `(c4, cols)` is [`lean`]'s for `g`; `kh` buffer rows
/// fit in `B` bytes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn run<const B: usize>(
    l: Vnni,
    g: &Geom,
    (c4, cols): (usize, usize),
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    // The frame's checks (same errors, same order).
    let (panel_len, _) = i8_conv_operands(g, x, x_zp, packed, out, y.len(), scratch)?;
    let zp = i8::try_from(x_zp).map_err(|_| Error::Unsupported)?;
    // The frame's epilogue ([`I8Epi`], with its residual Add's constants) is built
    // in `Band::rows` only: the offset form does not need it.
    let out_zp = l.splat(out.zero_point);
    let b = Band {
        g,
        c4,
        cols,
        x: x.as_ptr(),
        zp: (zp as u8) ^ 0x80,
        w: packed.as_ptr(),
        // SAFETY: AVX-512F (caller's contract); set per panel below.
        bias: unsafe { _mm512_setzero_si512() },
        n0: 0,
        nc: 0,
        y: y.as_mut_ptr(),
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); B];
    let buf = buf.as_mut_ptr().cast::<u8>();
    let row = cols * c4;
    // Output rows per band: `(bh − 1)·sh + kh` buffer rows fit (all of them without
    // dividing when the whole padded input fits: the small convs).
    let bh = match whole(g, (c4, cols)) {
        Some(n) if n <= B => g.oh,
        _ => ((B / row - g.kh) / g.sh + 1).min(g.oh),
    };
    let mut oy0 = 0;
    while oy0 < g.oh {
        let oy1 = (oy0 + bh).min(g.oh);
        // SAFETY: `(oy1 − oy0 − 1)·sh + kh` rows of `row` bytes fit in `buf`; the
        // output rows lie inside `y` (checked).
        unsafe {
            b.fill(buf, oy0 * g.sh, (oy1 - oy0 - 1) * g.sh + g.kh);
            // The 16-channel panels one after the other over the band (each inside
            // the packed slice, checked above).
            for p in 0..g.n.div_ceil(NR) {
                let panel = packed.as_ptr().add(p * panel_len);
                let (mut bias, m, s) = i8_panel_consts(l, out.header, panel);
                // `I8Epi::rq` of the output zero point.
                let mut rq = l.rq_zp(m, s, out_zp);
                let nc = NR.min(g.n - p * NR);
                // The offset form where it applies (no residual Add): the sums start
                // at `bias_u8 + i32::MIN`.
                let u = out.residual.is_none() && l.rq_u(&mut rq, bias, nc, g.taps * c4);
                if u {
                    bias = _mm512_add_epi32(bias, _mm512_set1_epi32(i32::MIN));
                }
                let b = Band {
                    w: panel.add(out.header.conv_len()),
                    bias,
                    n0: p * NR,
                    nc,
                    ..b
                };
                if u {
                    b.rows_u(l, &rq, buf, (oy0, oy1), out);
                } else {
                    b.rows(l, (m, s), buf, (oy0, oy1), out);
                }
            }
        }
        oy0 = oy1;
    }
    Ok(())
}

/// Writes `n` bytes of `v` at `d`, 64 at a time (the band's padding: no `memset`
/// call).
///
/// # Safety
/// AVX-512 F/BW; `d` is writable for `n` bytes.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn pad(d: *mut u8, n: usize, v: __m512i) {
    let mut i = 0;
    while i < n {
        // SAFETY: caller's contract; the mask keeps the store inside `n` bytes.
        unsafe { _mm512_mask_storeu_epi8(d.add(i).cast(), bytes64(n - i), v) };
        i += 64;
    }
}

impl Band<'_> {
    /// The output rows `oy0..oy1` of the band at `buf` in the offset form (`rq`
    /// prepared by [`I32Lanes::rq_u`], no residual Add): a function of its own, as
    /// [`Band::rows`] (the frame's epilogue) is.
    ///
    /// # Safety
    /// As [`run`]'s loop: the CPU has the features, the band holds the rows' taps.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    unsafe fn rows_u(
        &self,
        l: Vnni,
        rq: &Rq,
        buf: *const u8,
        (oy0, oy1): (usize, usize),
        out: &I8Out,
    ) {
        let g = self.g;
        let row = self.cols * self.c4;
        for oy in oy0..oy1 {
            // SAFETY: caller's contract.
            unsafe {
                let xr = buf.add((oy - oy0) * g.sh * row);
                match g.sw * self.c4 {
                    8 => self.out_row::<8, true, true>(l, None, rq, xr, oy, out),
                    16 => self.out_row::<16, true, true>(l, None, rq, xr, oy, out),
                    32 => self.out_row::<32, true, true>(l, None, rq, xr, oy, out),
                    64 => self.out_row::<64, true, true>(l, None, rq, xr, oy, out),
                    _ => self.out_row::<0, true, true>(l, None, rq, xr, oy, out),
                }
            }
        }
    }

    /// The output rows `oy0..oy1` of the band at `buf` in the frame's epilogue
    /// ([`I8Epi`]: a residual Add, or a requantization outside the offset form): a
    /// function of its own like [`Band::rows_u`], so that the call's set-up in `imp`
    /// stays short (the small convs pay it on every call).
    ///
    /// # Safety
    /// As [`run`]'s loop: the CPU has the features, the band holds the rows' taps.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    unsafe fn rows(
        &self,
        l: Vnni,
        (m, s): (__m512i, __m512i),
        buf: *const u8,
        (oy0, oy1): (usize, usize),
        out: &I8Out,
    ) {
        let epi = I8Epi::new(l, out);
        let rq = epi.rq(l, m, s);
        let plain = epi.plain();
        let (epi, rq) = (Some(&epi), &rq);
        let g = self.g;
        let row = self.cols * self.c4;
        for oy in oy0..oy1 {
            // SAFETY: caller's contract.
            unsafe {
                let xr = buf.add((oy - oy0) * g.sh * row);
                match (g.sw * self.c4, plain) {
                    (8, true) => self.out_row::<8, true, false>(l, epi, rq, xr, oy, out),
                    (16, true) => self.out_row::<16, true, false>(l, epi, rq, xr, oy, out),
                    (32, true) => self.out_row::<32, true, false>(l, epi, rq, xr, oy, out),
                    (64, true) => self.out_row::<64, true, false>(l, epi, rq, xr, oy, out),
                    (_, true) => self.out_row::<0, true, false>(l, epi, rq, xr, oy, out),
                    (_, false) => self.out_row::<0, false, false>(l, epi, rq, xr, oy, out),
                }
            }
        }
    }

    /// Copies `rows` padded input rows from padded row `r0` (input row `r0 − pt`)
    /// into `buf` as `x ^ 0x80`: `cols` pixels of `C4` bytes, the zero point outside
    /// the input.
    ///
    /// # Safety
    /// AVX-512 F/BW; `buf` holds `rows·cols·C4` bytes.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn fill(&self, buf: *mut u8, r0: usize, rows: usize) {
        let (g, c4) = (self.g, self.c4);
        let row = self.cols * c4;
        // Columns `0..pl` and `pl + iw..` are padding.
        let left = g.pl.min(self.cols);
        let right = (g.pl + g.iw).min(self.cols);
        // SAFETY: caller's contract; input pixels are read only inside the input.
        unsafe {
            let zp = _mm512_set1_epi8(self.zp as i8);
            let flip64 = _mm512_set1_epi8(i8::MIN);
            let flip = _mm_set1_epi8(i8::MIN);
            for r in 0..rows {
                let d = buf.add(r * row);
                let iy = (r0 + r).wrapping_sub(g.pt);
                if iy >= g.ih || right <= left {
                    pad(d, row, zp);
                    continue;
                }
                pad(d, left * c4, zp);
                let src = self.x.add((iy * g.iw + left - g.pl) * g.c);
                let dst = d.add(left * c4);
                if g.c == c4 {
                    // The input row is the buffer row's interior: 64 bytes at a time.
                    copy_xor(src, dst, (right - left) * c4, flip64);
                } else {
                    // `C4 <= 16` here or not: pixels of `C` bytes, zeros (flipped) up
                    // to `C4`, in 16-byte pieces.
                    for j in 0..right - left {
                        let (s, t) = (src.add(j * g.c), dst.add(j * c4));
                        let mut i = 0;
                        while i < c4 {
                            let v = _mm_maskz_loadu_epi8(mask16(g.c.saturating_sub(i)), s.add(i));
                            let v = _mm_xor_si128(v, flip);
                            _mm_mask_storeu_epi8(t.add(i).cast(), mask16(c4 - i), v);
                            i += NR;
                        }
                    }
                }
                pad(d.add(right * c4), (self.cols - right) * c4, zp);
            }
        }
    }

    /// Output row `oy`, its taps' buffer rows from `xr` (pixel `ox` at
    /// `xr + ox·sw·C4`): tiles of [`MR`] pixels, then of 4. `STEP` is `sw·C4` when
    /// not 0; `PLAIN` is [`I8Epi::plain`]; `epi` is the frame's epilogue unless `U`
    /// (the offset form, which does not use it).
    ///
    /// # Safety
    /// As [`run`]: the buffer holds the row's `kh` taps rows.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn out_row<const STEP: usize, const PLAIN: bool, const U: bool>(
        &self,
        l: Vnni,
        epi: Option<&I8Epi<Vnni>>,
        rq: &<Vnni as crate::kernels::engine::frame::I32Lanes>::Rq,
        xr: *const u8,
        oy: usize,
        out: &I8Out,
    ) {
        let g = self.g;
        let mut ox = 0;
        // SAFETY: caller's contract.
        unsafe {
            while ox + MR <= g.ow {
                let acc = self.tile::<MR, STEP, true>(xr, ox, MR);
                self.store::<MR, PLAIN, U>(l, epi, rq, acc, oy, ox, MR, out);
                ox += MR;
            }
            if ox + 8 <= g.ow {
                let acc = self.tile::<8, STEP, true>(xr, ox, 8);
                self.store::<8, PLAIN, U>(l, epi, rq, acc, oy, ox, 8, out);
                ox += 8;
            }
            while ox < g.ow {
                let rows = 4.min(g.ow - ox);
                let acc = self.tile::<4, STEP, false>(xr, ox, rows);
                self.store::<4, PLAIN, U>(l, epi, rq, acc, oy, ox, rows, out);
                ox += rows;
            }
        }
    }

    /// The sums (bias included) of pixels `ox..ox + rows` (`rows <= R`; pixels past
    /// `rows` repeat the last one; `rows = R` when `FULL`) of the row at `xr`.
    ///
    /// # Safety
    /// As [`Band::out_row`]; pixels `ox..ox + rows` exist.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn tile<const R: usize, const STEP: usize, const FULL: bool>(
        &self,
        xr: *const u8,
        ox: usize,
        rows: usize,
    ) -> [__m512i; R] {
        let g = self.g;
        let step = if STEP != 0 { STEP } else { g.sw * self.c4 };
        let row = self.cols * self.c4;
        // Quads (weight groups) per kernel row.
        let quads = g.kw * self.c4 / 4;
        let mut acc = [self.bias; R];
        // SAFETY: caller's contract: every pixel's kernel row `ky` is the
        // `kw·C4` buffer bytes at `x + ky·row`; its groups follow in the panel.
        unsafe {
            let x = xr.add(ox * step);
            let last = rows - 1;
            for ky in 0..g.kh {
                let xk = x.add(ky * row);
                let wk = self.w.add(ky * quads * 64);
                for j in 0..quads {
                    let wv = _mm512_loadu_si512(wk.add(64 * j).cast());
                    for (r, a) in acc.iter_mut().enumerate() {
                        let at = if FULL { r } else { r.min(last) };
                        let q = ptr::read_unaligned(xk.add(at * step + 4 * j).cast::<i32>());
                        *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(q), wv);
                    }
                }
            }
        }
        acc
    }

    /// Requantizes and stores pixels `ox..ox + rows` of output row `oy`.
    ///
    /// # Safety
    /// The pixels exist.
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store<const R: usize, const PLAIN: bool, const U: bool>(
        &self,
        l: Vnni,
        epi: Option<&I8Epi<Vnni>>,
        rq: &<Vnni as crate::kernels::engine::frame::I32Lanes>::Rq,
        acc: [__m512i; R],
        oy: usize,
        ox: usize,
        rows: usize,
        out: &I8Out,
    ) {
        let g = self.g;
        let at = ((oy * g.ow + ox) * g.n + self.n0, g.n);
        // SAFETY: caller's contract: the rows lie inside `y` (and the residual).
        unsafe {
            match epi {
                _ if U => self.store_u(l, rq, acc, at.0, rows, out),
                Some(e) if PLAIN => e.store_rows_plain(l, acc, rows, rq, self.y, at, self.nc),
                Some(e) => e.store_rows(l, acc, rows, rq, self.y, at, self.nc),
                // (Not reached: `epi` is `Some` unless `U`, constant after inlining.)
                None => {}
            }
        }
    }

    /// [`Band::store`] in the offset form (`U`: [`I32Lanes::rq_u`] holds, no
    /// residual Add) of the first `rows` pixels of `acc`, the first at element `at`
    /// (the output's zero point and range from `o`): whole tiles of 16
    /// channels four pixels at a time, narrowed by two saturating packs (`i32 → i16
    /// → i8`, the same saturation as one) and a dword transpose, clamped as 64 bytes
    /// after narrowing (monotone: the same bytes as [`I8Epi`]'s store); other tiles
    /// pixel by pixel.
    ///
    /// # Safety
    /// As [`Band::store`]; `rq` prepared by [`I32Lanes::rq_u`].
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store_u<const R: usize>(
        &self,
        l: Vnni,
        rq: &Rq,
        acc: [__m512i; R],
        at: usize,
        rows: usize,
        o: &I8Out,
    ) {
        let n = self.g.n;
        // SAFETY: caller's contract: pixels `0..rows` hold `nc` bytes at `at + r·n`.
        unsafe {
            let zp = _mm512_set1_epi32(o.zero_point);
            let y = self.y.add(at);
            if rows == R && R % 4 == 0 && self.nc == NR {
                // After the packs, 128-bit lane `k` holds channels `4k..4k + 4` of the
                // four pixels in turn: dword `4k + p` goes to `4p + k`.
                let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                for c in 0..R / 4 {
                    // (No closure: it would not inherit the target features.)
                    let q0 = l.mbqm_zp_u(acc[4 * c], rq, zp);
                    let q1 = l.mbqm_zp_u(acc[4 * c + 1], rq, zp);
                    let q2 = l.mbqm_zp_u(acc[4 * c + 2], rq, zp);
                    let q3 = l.mbqm_zp_u(acc[4 * c + 3], rq, zp);
                    let ab = _mm512_packs_epi32(q0, q1);
                    let cd = _mm512_packs_epi32(q2, q3);
                    let b = _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(ab, cd));
                    let (lo, hi) = (o.act_min.clamp(-128, 127), o.act_max.clamp(-128, 127));
                    let lo_hi = (_mm512_set1_epi8(lo as i8), _mm512_set1_epi8(hi as i8));
                    let b = _mm512_min_epi8(_mm512_max_epi8(b, lo_hi.0), lo_hi.1);
                    let p = y.add(4 * c * n);
                    if n == NR {
                        _mm512_storeu_si512(p.cast(), b);
                    } else {
                        _mm_storeu_si128(p.cast(), _mm512_castsi512_si128(b));
                        _mm_storeu_si128(p.add(n).cast(), _mm512_extracti32x4_epi32::<1>(b));
                        _mm_storeu_si128(p.add(2 * n).cast(), _mm512_extracti32x4_epi32::<2>(b));
                        _mm_storeu_si128(p.add(3 * n).cast(), _mm512_extracti32x4_epi32::<3>(b));
                    }
                }
            } else {
                for (r, &a) in acc.iter().enumerate().take(rows) {
                    let q = l.mbqm_zp_u(a, rq, zp);
                    let (lo, hi) = (o.act_min, o.act_max);
                    let q = _mm512_max_epi32(q, _mm512_set1_epi32(lo));
                    let q = _mm512_min_epi32(q, _mm512_set1_epi32(hi));
                    _mm512_mask_cvtsepi32_storeu_epi8(y.add(r * n), mask16(self.nc), q);
                }
            }
        }
    }
}
