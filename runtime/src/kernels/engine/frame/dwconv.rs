//! The depthwise walk shared by the f32 driver ([`super::dwf32`]) and the int8 one
//! (here), one 16-channel tile at a time.
//!
//! 8 channels with horizontal stride 1 (MobileNetV1 0.25's first depthwise layer),
//! f32 and int8, run their interior pixels in pairs: the 16 input elements of a tap
//! are that tap of two neighbouring pixels and their 16 outputs are consecutive, so
//! one vector carries two pixels instead of one half-empty tile (the tile's constants
//! repeated in lanes 8..16).

#![allow(unsafe_code)]

use super::conv::{i8_zero_point, I8Epi};
use super::geom::interior;
use super::geom::{need, valid_taps, Geom};
use super::lanes::{doubled, I32Lanes};
use crate::kernels::engine::types::{ConvShape, I8Header, I8Out, NR};
use crate::{Error, Result};

// ---------------------------------------------------------------- depthwise

/// Checked depthwise geometry: `out_c == in_c`.
#[inline(always)]
pub(super) fn dw_geom(s: &ConvShape) -> Result<Geom> {
    let g = Geom::new(s)?;
    if g.n != g.c {
        return Err(Error::Unsupported);
    }
    Ok(g)
}

/// The work of one depthwise kernel on output pixels, one 16-channel tile at a time.
pub(super) trait DwKernel<T> {
    /// Whether [`Self::pairs`] can run at all (see [`pairs`]); `false` leaves the pair
    /// path out of the build.
    const PAIRS: bool = true;
    /// What the kernel keeps for a tile while it walks the pixels: its channels,
    /// bias, weights loaded once (the unrolled kernels' taps), requantization.
    type Tile;
    /// The constants of channel tile `ct`, with the pair constants when `paired`
    /// (the walk's [`pairs`]: the one place that decides it).
    fn tile(&self, ct: usize, paired: bool) -> Self::Tile;
    /// `P` consecutive interior pixels `o..o + P` of an `N`-tap kernel: tap `t` of
    /// pixel `o + p` reads the input pixel at element `base + p·step + offs[t]`.
    fn full<const N: usize, const P: usize>(
        &self,
        t: &Self::Tile,
        o: usize,
        base: *const T,
        step: usize,
        offs: &[usize; N],
    );
    /// `P` pairs of interior pixels `o..o + 2P` of an unrolled kernel (called when
    /// [`pairs`] holds: its tiles carry the pair constants): the 16
    /// elements at `base + 16·p + offs[t]` are tap `t` of pixels `o + 2p` and
    /// `o + 2p + 1` (stride 1: the second pixel's input is the next 8 elements), and
    /// their 16 outputs are consecutive: one vector per pair instead of one
    /// half-empty vector per pixel.
    fn pairs<const N: usize, const P: usize>(
        &self,
        t: &Self::Tile,
        o: usize,
        base: *const T,
        offs: &[usize; N],
    );
    /// Any pixel: the valid taps `ky0..ky1 × kx0..kx1`, tap `(ky, kx)` reading input
    /// pixel `(iy0 + ky·dh, ix0 + kx·dw)` (wrapping: `iy0`, `ix0` may be "negative").
    fn border(
        &self,
        t: &Self::Tile,
        o: usize,
        at: (usize, usize),
        ky: (usize, usize),
        kx: (usize, usize),
    );
}

/// Pixels computed together on interior runs (independent accumulator chains).
pub(super) const DW_PIXELS: usize = 4;

/// Taps of the largest unrolled depthwise kernel (5×5), whose weights a tile keeps.
pub(super) const DW_UNROLLED: usize = 25;

/// Runs `k` on every output pixel, channel tile by channel tile (so a tile's
/// constants are prepared once per call): interior pixels of 3×3 and 5×5 kernels
/// with the taps unrolled, 4, 2 or 1 at a time (pixels or, for paired tiles, pairs
/// of pixels), the others over their valid taps.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) fn dw_walk<T, K: DwKernel<T>>(g: &Geom, x: *const T, k: &K) {
    let (y0, y1) = interior(g.oh, g.sh, g.dh, g.pt, g.ih, g.kh);
    let (x0, x1) = interior(g.ow, g.sw, g.dw, g.pl, g.iw, g.kw);
    let unrolled = dw_unrolled(g);
    // Element offsets of the taps' input pixels from tap (0, 0)'s.
    let off = |t: usize| ((t / g.kw) * g.dh * g.iw + (t % g.kw) * g.dw) * g.c;
    let offs9: [usize; 9] = core::array::from_fn(off);
    let offs25: [usize; 25] = core::array::from_fn(off);
    let step = g.sw * g.c;
    let paired = K::PAIRS && pairs(g);
    for ct in 0..g.c.div_ceil(NR) {
        let t = k.tile(ct, paired);
        for oy in 0..g.oh {
            let (ky0, ky1) = valid_taps(oy, g.sh, g.dh, g.pt, g.ih, g.kh);
            let iy0 = (oy * g.sh).wrapping_sub(g.pt);
            let row_inside = unrolled && (y0..y1).contains(&oy);
            let mut ox = 0;
            while ox < g.ow {
                let o = oy * g.ow + ox;
                let ix0 = (ox * g.sw).wrapping_sub(g.pl);
                if row_inside && (x0..x1).contains(&ox) {
                    // Every tap inside: `iy0`, `ix0` are not "negative".
                    let base = x.wrapping_add((iy0 * g.iw + ix0) * g.c);
                    if paired && x1 - ox >= 2 {
                        // (`c` is 8: `offs` are the pairs' offsets too.)
                        let p = match (x1 - ox) / 2 {
                            1 => 1,
                            2 | 3 => 2,
                            _ => DW_PIXELS,
                        };
                        match (g.kh, p) {
                            (3, 1) => k.pairs::<9, 1>(&t, o, base, &offs9),
                            (3, 2) => k.pairs::<9, 2>(&t, o, base, &offs9),
                            (3, _) => k.pairs::<9, DW_PIXELS>(&t, o, base, &offs9),
                            (_, 1) => k.pairs::<25, 1>(&t, o, base, &offs25),
                            (_, 2) => k.pairs::<25, 2>(&t, o, base, &offs25),
                            _ => k.pairs::<25, DW_PIXELS>(&t, o, base, &offs25),
                        }
                        ox += 2 * p;
                        continue;
                    }
                    let p = match x1 - ox {
                        n if n >= DW_PIXELS => DW_PIXELS,
                        n if n >= 2 => 2,
                        _ => 1,
                    };
                    match (g.kh, p) {
                        (3, DW_PIXELS) => k.full::<9, DW_PIXELS>(&t, o, base, step, &offs9),
                        (3, 2) => k.full::<9, 2>(&t, o, base, step, &offs9),
                        (3, _) => k.full::<9, 1>(&t, o, base, step, &offs9),
                        (_, DW_PIXELS) => k.full::<25, DW_PIXELS>(&t, o, base, step, &offs25),
                        (_, 2) => k.full::<25, 2>(&t, o, base, step, &offs25),
                        _ => k.full::<25, 1>(&t, o, base, step, &offs25),
                    }
                    ox += p;
                } else {
                    let kx = valid_taps(ox, g.sw, g.dw, g.pl, g.iw, g.kw);
                    k.border(&t, o, (iy0, ix0), (ky0, ky1), kx);
                    ox += 1;
                }
            }
        }
    }
}

/// The kernel is 3×3 or 5×5: its interior pixels run unrolled ([`DwKernel::full`]).
#[inline(always)]
pub(super) fn dw_unrolled(g: &Geom) -> bool {
    (g.kh, g.kw) == (3, 3) || (g.kh, g.kw) == (5, 5)
}

/// 8 channels, horizontal stride 1, 3×3 or 5×5: the interior pixels go in pairs
/// (f32: `DwF32::sum_store` on pairs, int8: [`DwI8::pair_taps`]).
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) fn pairs(g: &Geom) -> bool {
    g.c == PAIR_C && g.sw == 1 && dw_unrolled(g)
}

/// [`crate::kernels::engine::i8_dwconv`] on the primitives of `L`.
///
/// # Safety
/// The CPU supports the instructions of `L`.
#[inline(always)]
pub(crate) unsafe fn i8_dwconv<L: I32Lanes>(
    l: L,
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    let g = dw_geom(s)?;
    i8_zero_point(x_zp)?;
    let tile_len = crate::kernels::engine::pack::i8_dw_tile_len(out.header, g.taps)
        .ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.c.div_ceil(NR) * tile_len, packed.len())?;
    need(g.out_len, y.len())?;
    if let Some(r) = &out.residual {
        need(g.out_len, r.input.len())?;
    }
    let k = DwI8 {
        l,
        g,
        x: x.as_ptr(),
        w: packed.as_ptr(),
        tile_len,
        header: out.header,
        zp: l.splat(x_zp),
        epi: I8Epi::new(l, out),
        y: y.as_mut_ptr(),
    };
    dw_walk(&g, x.as_ptr(), &k);
    Ok(())
}

/// The int8 depthwise kernel of one call (slices checked by [`i8_dwconv`]).
struct DwI8<L: I32Lanes> {
    l: L,
    g: Geom,
    x: *const i8,
    w: *const u8,
    tile_len: usize,
    header: I8Header,
    zp: L::V,
    epi: I8Epi<L>,
    y: *mut i8,
}

/// The channel count whose interior pixels the depthwise kernels compute two at a time.
pub(super) const PAIR_C: usize = 8;

/// A tile's constants for pixel pairs: lanes `8..16` repeat lanes `0..8` (bias with
/// the zero point folded in, requantization, weights), lane `8 + j` being channel
/// `j` of the pair's second pixel.
struct PairTile<L: I32Lanes> {
    folded: L::V,
    rq: L::Rq,
    w: [L::W; DW_UNROLLED],
}

/// An int8 depthwise tile: channels `c0..c0 + nc`, its packed tile, bias,
/// requantization, and for the unrolled kernels the weights and the bias with the
/// input zero point folded in (`bias − x_zp·Σ_taps w`: interior pixels then sum
/// raw `x·w`, every tap being inside).
struct DwI8Tile<L: I32Lanes> {
    c0: usize,
    nc: usize,
    tile: *const u8,
    bias: L::V,
    folded: L::V,
    rq: L::Rq,
    w: [L::W; DW_UNROLLED],
    pair: Option<PairTile<L>>,
}

impl<L: I32Lanes> DwI8<L> {
    /// The prepared requantization of the multiplier row `m` and the shift row `s`
    /// (i32 lanes, or i8 with compact headers).
    ///
    /// # Safety
    /// The rows hold 16 lanes each.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn rq_rows(&self, m: *const u8, s: *const u8) -> L::Rq {
        let l = self.l;
        // SAFETY: caller's contract.
        unsafe {
            let shift = match self.header {
                I8Header::Wide => l.load(s),
                I8Header::Compact => l.load_i8(s.cast()),
            };
            self.epi.rq(l, l.load(m), shift)
        }
    }

    /// The pair constants of tile 0 (the only tile: 8 channels).
    ///
    /// # Safety
    /// `tile` is the packed tile of an unrolled kernel with `taps` taps.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn pair_tile(&self, tile: *const u8, taps: usize) -> PairTile<L> {
        let l = self.l;
        let half = PAIR_C * 4;
        let zeros = [0i8; NR];
        // SAFETY: the header holds 3 rows of 16 i32, the weights `taps` rows of 16
        // bytes; each row's first 8 lanes are read.
        unsafe {
            let bias = doubled::<{ 4 * NR }>(tile, half);
            let (m_at, s_at) = self.header.dw_rq_at();
            let m = doubled::<{ 4 * NR }>(tile.add(m_at), half);
            let s_half = if self.header == I8Header::Wide {
                half
            } else {
                PAIR_C
            };
            let sh = doubled::<{ 4 * NR }>(tile.add(s_at), s_half);
            let rq = self.rq_rows(m.as_ptr(), sh.as_ptr());
            let wt = tile.add(self.header.dw_len());
            let w0 = doubled::<NR>(wt, PAIR_C);
            let mut w = [l.load_w(w0.as_ptr().cast()); DW_UNROLLED];
            let mut folded = l.load(bias.as_ptr());
            for (t, v) in w.iter_mut().enumerate().take(taps) {
                let wb = doubled::<NR>(wt.add(t * NR), PAIR_C);
                *v = l.load_w(wb.as_ptr().cast());
                folded = l.mac_w(folded, zeros.as_ptr(), self.zp, *v);
            }
            PairTile { folded, rq, w }
        }
    }

    /// The unrolled kernel from the constants `(folded, rq, w)` on `P` pixels (or
    /// pixel pairs): tap `t` of pixel `p` reads `nc` bytes at `x + p·step + offs[t]`,
    /// its `nc` outputs go to `y + at + p·out_step`. With `batch` the `P`
    /// requantizations run together before the stores (`I8Epi::store_rows`), else
    /// pixel by pixel.
    ///
    /// # Safety
    /// Those bytes are readable and writable; `N <= DW_UNROLLED`.
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn sum_store<const N: usize, const P: usize>(
        &self,
        (folded, rq, w): (L::V, &L::Rq, &[L::W; DW_UNROLLED]),
        x: *const i8,
        step: usize,
        offs: &[usize; N],
        nc: usize,
        (at, out_step): (usize, usize),
        batch: bool,
    ) {
        // SAFETY: caller's contract.
        unsafe {
            let mut acc = [folded; P];
            for (t, &off) in offs.iter().enumerate() {
                for (p, a) in acc.iter_mut().enumerate() {
                    *a = self.mac0(*a, x.add(p * step + off), w[t], nc);
                }
            }
            if batch {
                let rows = (at, out_step);
                self.epi
                    .store_rows::<P>(self.l, acc, P, rq, self.y, rows, nc);
            } else {
                for (p, &a) in acc.iter().enumerate() {
                    self.epi.store(self.l, a, rq, self.y, at + p * out_step, nc);
                }
            }
        }
    }

    /// `P` pairs of interior pixels `o..o + 2P` (8 channels each): the 16 bytes at
    /// `x + 16·p + offs[t]` are tap `t` of pixels `o + 2p` and `o + 2p + 1` (stride 1:
    /// the second pixel's input is the next 8 bytes), and their 16 outputs are
    /// consecutive too: one vector per pair instead of one half-empty vector per
    /// pixel.
    ///
    /// # Safety
    /// The pixels are interior; `N <= DW_UNROLLED`.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn pair_taps<const N: usize, const P: usize>(
        &self,
        pt: &PairTile<L>,
        o: usize,
        x: *const i8,
        offs: &[usize; N],
    ) {
        let pair = 2 * PAIR_C;
        // SAFETY: caller's contract: pixel `o + 2p + 1`'s taps end 8 bytes after
        // pixel `o + 2p`'s, inside the input; the 16 outputs of a pair are inside `y`.
        unsafe {
            let k = (pt.folded, &pt.rq, &pt.w);
            let out = (o * PAIR_C, pair);
            self.sum_store::<N, P>(k, x, pair, offs, pair, out, L::DW_ROWS);
        }
    }

    /// `acc + (x − zp)·w` over `nc` channels.
    ///
    /// # Safety
    /// `x` holds `nc` bytes.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn mac(&self, acc: L::V, x: *const i8, w: L::W, nc: usize) -> L::V {
        // SAFETY: caller's contract.
        unsafe {
            if nc == NR {
                self.l.mac_w(acc, x, self.zp, w)
            } else {
                self.l.mac_w_partial(acc, x, nc, self.zp, w)
            }
        }
    }

    /// `acc + x·w` over `nc` channels (the zero point folded into the bias).
    ///
    /// # Safety
    /// `x` holds `nc` bytes.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn mac0(&self, acc: L::V, x: *const i8, w: L::W, nc: usize) -> L::V {
        // SAFETY: caller's contract.
        unsafe {
            if nc == NR {
                self.l.mac_w0(acc, x, w)
            } else {
                self.l.mac_w0_partial(acc, x, nc, w)
            }
        }
    }
}

impl<L: I32Lanes> DwKernel<i8> for DwI8<L> {
    type Tile = DwI8Tile<L>;

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn tile(&self, ct: usize, paired: bool) -> Self::Tile {
        let (l, g) = (self.l, &self.g);
        let c0 = ct * NR;
        // SAFETY: tile `ct` lies in the packed slice: the header, then `taps·16`
        // weights.
        unsafe {
            let tile = self.w.add(ct * self.tile_len);
            let wt = tile.add(self.header.dw_len()).cast::<i8>();
            let bias = l.load(tile);
            let zeros = [0i8; NR];
            let mut w = [l.load_w(wt); DW_UNROLLED];
            let mut folded = bias;
            if dw_unrolled(g) {
                for (t, v) in w.iter_mut().enumerate().take(g.taps) {
                    *v = l.load_w(wt.add(t * NR));
                    // (0 − x_zp)·w: exact, wrapping like the reference's sum.
                    folded = l.mac_w(folded, zeros.as_ptr(), self.zp, *v);
                }
            }
            DwI8Tile {
                c0,
                nc: NR.min(g.c - c0),
                tile,
                bias,
                folded,
                rq: {
                    let (m_at, s_at) = self.header.dw_rq_at();
                    self.rq_rows(tile.add(m_at), tile.add(s_at))
                },
                w,
                // (No closure: it would not inherit the caller's target features.)
                pair: if paired {
                    Some(self.pair_tile(tile, g.taps))
                } else {
                    None
                },
            }
        }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn pairs<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const i8,
        offs: &[usize; N],
    ) {
        let Some(pt) = &tl.pair else { return };
        // SAFETY: the walk's contract.
        unsafe { self.pair_taps::<N, P>(pt, o, base, offs) }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn full<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const i8,
        step: usize,
        offs: &[usize; N],
    ) {
        let (c, c0) = (self.g.c, tl.c0);
        // SAFETY: as in `DwF32::full`.
        unsafe {
            let k = (tl.folded, &tl.rq, &tl.w);
            let out = (o * c + c0, c);
            self.sum_store::<N, P>(k, base.add(c0), step, offs, tl.nc, out, false);
        }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn border(
        &self,
        tl: &Self::Tile,
        o: usize,
        (iy0, ix0): (usize, usize),
        (ky0, ky1): (usize, usize),
        (kx0, kx1): (usize, usize),
    ) {
        let (l, g) = (self.l, &self.g);
        let dx = g.dw * g.c;
        let (c0, nc) = (tl.c0, tl.nc);
        // SAFETY: as in `DwF32::border`.
        unsafe {
            let wt = tl.tile.add(self.header.dw_len()).cast::<i8>();
            let mut acc = tl.bias;
            for ky in ky0..ky1 {
                let iy = iy0.wrapping_add(ky * g.dh);
                let ix = ix0.wrapping_add(kx0 * g.dw);
                let xr = self.x.add((iy * g.iw + ix) * g.c + c0);
                let wr = wt.add((ky * g.kw + kx0) * NR);
                for j in 0..kx1 - kx0 {
                    acc = self.mac(acc, xr.add(j * dx), l.load_w(wr.add(j * NR)), nc);
                }
            }
            self.epi.store(l, acc, &tl.rq, self.y, o * g.c + c0, nc);
        }
    }
}
