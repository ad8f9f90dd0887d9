//! The f32 depthwise driver (f32 and f16-packed weights) on the walk of
//! [`super::dwconv`], one 16-channel tile at a time.
//!
//! 8 channels with horizontal stride 1 (MobileNetV1 0.25's first depthwise layer)
//! run their interior pixels in pairs: the 16 elements of a tap are that tap of two
//! neighbouring pixels and their 16 outputs are consecutive, so one vector carries
//! two pixels instead of one half-empty tile (the bias and weights repeated in lanes
//! 8..16). Each pixel's sum keeps the one-pixel path's order (the same bits).

#![allow(unsafe_code)]

use super::conv::f32_store;
use super::dwconv::{dw_geom, dw_unrolled, dw_walk, DwKernel, DW_PIXELS, DW_UNROLLED, PAIR_C};
use super::geom::{need, Geom};
use super::lanes::{F32Lanes, Packed};
use crate::kernels::engine::types::{ConvShape, F32Out, NR};
use crate::{Error, Result};

/// [`crate::kernels::engine::f32_dwconv`] on the primitives of `L`.
///
/// # Safety
/// The CPU supports the instructions of `L`.
#[inline(always)]
pub(crate) unsafe fn f32_dwconv<L: F32Lanes, E: Packed>(
    l: L,
    s: &ConvShape,
    x: &[f32],
    packed: &[E],
    out: &F32Out,
    y: &mut [f32],
) -> Result<()> {
    let g = dw_geom(s)?;
    let tile_len =
        crate::kernels::engine::pack::f32_dw_tile_len(g.taps).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.c.div_ceil(NR) * tile_len, packed.len())?;
    need(g.out_len, y.len())?;
    if let Some(r) = out.residual {
        need(g.out_len, r.len())?;
    }
    let k = DwF32 {
        l,
        g,
        x: x.as_ptr(),
        w: packed.as_ptr(),
        tile_len,
        lo: l.splat(out.min),
        hi: l.splat(out.max),
        residual: out.residual.map(<[f32]>::as_ptr),
        y: y.as_mut_ptr(),
    };
    dw_walk(&g, x.as_ptr(), &k);
    Ok(())
}

/// The f32 depthwise kernel of one call (slices checked by [`f32_dwconv`]).
struct DwF32<L: F32Lanes, E: Packed> {
    l: L,
    g: Geom,
    x: *const f32,
    w: *const E,
    tile_len: usize,
    lo: L::V,
    hi: L::V,
    residual: Option<*const f32>,
    y: *mut f32,
}

/// An f32 depthwise tile: channels `c0..c0 + nc`, its packed tile, bias and the
/// unrolled kernels' weights; for pixel pairs the bias and weights again with lanes
/// `8..16` repeating lanes `0..8`.
struct DwF32Tile<V, E> {
    c0: usize,
    nc: usize,
    tile: *const E,
    bias: V,
    w: [V; DW_UNROLLED],
    pair: Option<(V, [V; DW_UNROLLED])>,
}

impl<L: F32Lanes, E: Packed> DwF32<L, E> {
    /// `nc` input channels at `p`.
    ///
    /// # Safety
    /// `p` holds `nc` readable f32.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn x(&self, p: *const f32, nc: usize) -> L::V {
        // SAFETY: caller's contract.
        unsafe {
            if nc == NR {
                self.l.load(p)
            } else {
                self.l.load_partial(p, nc)
            }
        }
    }

    /// Lanes `0..8` of `v` repeated in lanes `8..16`.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn doubled(&self, v: L::V) -> L::V {
        let mut t = [0f32; NR];
        // SAFETY: `t` holds 16 f32.
        unsafe {
            self.l.store(t.as_mut_ptr(), v);
            t.copy_within(..PAIR_C, PAIR_C);
            self.l.load(t.as_ptr())
        }
    }

    /// The unrolled kernel from `(bias, w)` on `P` vectors of `nc` lanes: tap `t` of
    /// vector `p` reads `x + p·step + offs[t]`, its sum goes to output element
    /// `at + p·out_step`. Each sum is the bias, then the taps in order; when `split`
    /// (fewer than 4 pixels) the odd taps go to a second chain, added at the end, so
    /// that the multiply-adds do not all wait on one another.
    ///
    /// # Safety
    /// Those elements are inside the input and output; `N <= DW_UNROLLED`.
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn sum_store<const N: usize, const P: usize>(
        &self,
        (bias, w): (L::V, &[L::V; DW_UNROLLED]),
        x: *const f32,
        (step, offs): (usize, &[usize; N]),
        nc: usize,
        (at, out_step): (usize, usize),
        split: bool,
    ) {
        let l = self.l;
        // SAFETY: caller's contract.
        unsafe {
            let mut acc = [[bias, l.splat(0.0)]; P];
            let mut t = 0;
            while t < N {
                for (p, a) in acc.iter_mut().enumerate() {
                    a[0] = l.fma(self.x(x.add(p * step + offs[t]), nc), w[t], a[0]);
                }
                if t + 1 < N {
                    for (p, a) in acc.iter_mut().enumerate() {
                        let xv = self.x(x.add(p * step + offs[t + 1]), nc);
                        if split {
                            a[1] = l.fma(xv, w[t + 1], a[1]);
                        } else {
                            a[0] = l.fma(xv, w[t + 1], a[0]);
                        }
                    }
                }
                t += 2;
            }
            for (p, a) in acc.iter().enumerate() {
                let v = if split { l.add(a[0], a[1]) } else { a[0] };
                self.store(v, at + p * out_step, nc);
            }
        }
    }

    /// Clamp (and residual) of the `nc` output elements from `at`.
    ///
    /// # Safety
    /// The elements are inside the output.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store(&self, acc: L::V, at: usize, nc: usize) {
        // SAFETY: caller's contract (the residual has the output's length).
        unsafe {
            let residual = self.residual.map(|r| r.add(at));
            f32_store(
                self.l,
                acc,
                residual,
                (self.lo, self.hi),
                self.y.add(at),
                nc,
            );
        }
    }
}

impl<L: F32Lanes, E: Packed> DwKernel<f32> for DwF32<L, E> {
    /// Pairs only where the engine has 16-lane (or 4-lane SIMD) vectors: on the
    /// microcontroller targets (one-lane portable build) the f32 pair path would add
    /// ~8 KB of flash for no speed (the pairs give the one-pixel path's bits anyway).
    const PAIRS: bool = cfg!(any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "wasm32"
    ));
    type Tile = DwF32Tile<L::V, E>;

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn tile(&self, ct: usize, paired: bool) -> Self::Tile {
        let l = self.l;
        let c0 = ct * NR;
        // SAFETY: tile `ct` lies in the packed slice: `16 + taps·16` f32.
        unsafe {
            let tile = self.w.add(ct * self.tile_len);
            let mut w = [l.splat(0.0); DW_UNROLLED];
            if dw_unrolled(&self.g) {
                for (t, v) in w.iter_mut().enumerate().take(self.g.taps) {
                    *v = E::load16(l, tile.add(NR + t * NR));
                }
            }
            let bias = E::load16(l, tile);
            DwF32Tile {
                c0,
                nc: NR.min(self.g.c - c0),
                tile,
                bias,
                w,
                pair: if paired {
                    let mut pw = w;
                    for v in pw.iter_mut().take(self.g.taps) {
                        *v = self.doubled(*v);
                    }
                    Some((self.doubled(bias), pw))
                } else {
                    None
                },
            }
        }
    }

    /// Runs of 4 or more pixels sum in one chain, a last lone pair in two, as
    /// [`DwF32::full`] does with the same pixels.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn pairs<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const f32,
        offs: &[usize; N],
    ) {
        let Some((bias, w)) = &tl.pair else { return };
        let pair = 2 * PAIR_C;
        // SAFETY: the walk's contract: pixel `o + 2p + 1`'s taps end 8 elements
        // after pixel `o + 2p`'s, inside the input; the 16 outputs of a pair are
        // inside `y`.
        unsafe {
            let at = (o * PAIR_C, pair);
            self.sum_store::<N, P>((*bias, w), base, (pair, offs), NR, at, P == 1);
        }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn full<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const f32,
        step: usize,
        offs: &[usize; N],
    ) {
        let (c, c0, nc) = (self.g.c, tl.c0, tl.nc);
        // SAFETY: `base + p·step + offs[t]` is an input pixel (`c` channels, of
        // which `c0..c0 + nc` are read); `N <= DW_UNROLLED`.
        unsafe {
            let k = (tl.bias, &tl.w);
            let at = (o * c + c0, c);
            self.sum_store::<N, P>(k, base.add(c0), (step, offs), nc, at, P < DW_PIXELS);
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
        let n = kx1 - kx0;
        let dx = g.dw * g.c;
        let (c0, nc) = (tl.c0, tl.nc);
        // SAFETY: the valid taps read input pixels (`c` channels each); the tile
        // lies in the packed slice.
        unsafe {
            let (mut a0, mut a1) = (tl.bias, l.splat(0.0));
            for ky in ky0..ky1 {
                let iy = iy0.wrapping_add(ky * g.dh);
                let ix = ix0.wrapping_add(kx0 * g.dw);
                let xr = self.x.add((iy * g.iw + ix) * g.c + c0);
                let wr = tl.tile.add(NR + (ky * g.kw + kx0) * NR);
                let mut j = 0;
                while j + 2 <= n {
                    let w0 = E::load16(l, wr.add(j * NR));
                    a0 = l.fma(self.x(xr.add(j * dx), nc), w0, a0);
                    let (xj, wj) = (xr.add((j + 1) * dx), wr.add((j + 1) * NR));
                    a1 = l.fma(self.x(xj, nc), E::load16(l, wj), a1);
                    j += 2;
                }
                if j < n {
                    let w0 = E::load16(l, wr.add(j * NR));
                    a0 = l.fma(self.x(xr.add(j * dx), nc), w0, a0);
                }
            }
            self.store(l.add(a0, a1), o * g.c + c0, nc);
        }
    }
}
