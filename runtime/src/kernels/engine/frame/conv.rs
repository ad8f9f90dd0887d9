//! The convolution drivers: f32 (and f16-packed) and int8 conv tiles over the
//! indirection rows of [`super::build_rows`].

#![allow(unsafe_code)]

use core::ptr;

use super::geom::{build_rows, need, Geom, RowPlan, MAX_TAPS};
pub(super) use super::i8epi::{i8_panel_consts, I8Epi, Store};
use super::i8tile::{gather, i8_tile, image_rows, pad_image, row_quads_apply, FLAT_K};
use super::lanes::{F32Lanes, I8Dot, Packed};
use crate::kernels::engine::types::{ConvShape, F32Out, I8Header, I8Out, NR};
use crate::{Error, Result};

// ---------------------------------------------------------------- f32 conv

/// [`crate::kernels::engine::f32_conv`] on the primitives of `L`, tiles of `MR×16`, and `MT×16` for a
/// last tile of at most `MT` pixels.
///
/// # Safety
/// The CPU supports the instructions of `L` (the token proves it).
#[inline(always)]
pub(crate) unsafe fn f32_conv<L: F32Lanes, E: Packed, const MR: usize, const MT: usize>(
    l: L,
    s: &ConvShape,
    x: &[f32],
    packed: &[E],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let g = Geom::new(s)?;
    let panel_len =
        crate::kernels::engine::pack::f32_conv_panel_len(g.taps, g.c).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.n.div_ceil(NR) * panel_len, packed.len())?;
    need(g.out_len, y.len())?;
    if let Some(r) = out.residual {
        need(g.out_len, r.len())?;
    }
    let zero = if g.padded {
        need(g.c, scratch.len())?;
        scratch[..g.c].fill(0.0);
        scratch.as_ptr()
    } else {
        x.as_ptr()
    };
    let cx = F32Conv {
        l,
        plan: RowPlan::new(&g),
        g,
        x: x.as_ptr(),
        zero,
        w: packed.as_ptr(),
        panel_len,
        lo: l.splat(out.min),
        hi: l.splat(out.max),
        residual: out.residual.map(<[f32]>::as_ptr),
        y: y.as_mut_ptr(),
    };
    // Tiles of MR output pixels outside, the 16-channel panels inside: the tile's
    // rows (of every tap when they fit in `ptrs`) are built once for all panels.
    let mut ptrs = [[ptr::null::<f32>(); MR]; MAX_TAPS];
    // One panel (at most 16 output channels) where panels go in pairs: two tiles at
    // once instead, so the pair's accumulator registers are used all the same.
    let tile_pairs = L::PANEL_PAIRS && g.n <= NR && g.taps <= MAX_TAPS;
    let mut ptrs2 = [[ptr::null::<f32>(); MR]; MAX_TAPS];
    let mut m0 = 0;
    while m0 < g.pixels {
        if tile_pairs && g.pixels - m0 >= 2 * MR {
            for (m, p) in [(m0, &mut ptrs), (m0 + MR, &mut ptrs2)] {
                build_rows(&g, &cx.plan, cx.x, zero, (m, MR), (0, g.taps), p);
            }
            // SAFETY: the slices were checked against the shape above; pixels
            // `m0..m0 + 2·MR` exist.
            unsafe { cx.tile_pair(m0, [&ptrs, &ptrs2]) };
            m0 += 2 * MR;
            continue;
        }
        let rows = MR.min(g.pixels - m0);
        if g.taps <= MAX_TAPS {
            build_rows(&g, &cx.plan, cx.x, zero, (m0, rows), (0, g.taps), &mut ptrs);
        }
        let panels = g.n.div_ceil(NR);
        let mut p = 0;
        while p < panels {
            // SAFETY: the slices were checked against the shape above.
            unsafe {
                if L::PANEL_PAIRS && p + 1 < panels {
                    if rows > MT {
                        cx.panels::<MR, MR, 2>(m0, rows, p, &mut ptrs);
                    } else {
                        cx.panels::<MR, MT, 2>(m0, rows, p, &mut ptrs);
                    }
                    p += 2;
                } else {
                    if rows > MT {
                        cx.panels::<MR, MR, 1>(m0, rows, p, &mut ptrs);
                    } else {
                        cx.panels::<MR, MT, 1>(m0, rows, p, &mut ptrs);
                    }
                    p += 1;
                }
            }
        }
        m0 += rows;
    }
    Ok(())
}

/// The f32 conv constants of one call (slices checked by [`f32_conv`]).
struct F32Conv<L: F32Lanes, E: Packed> {
    l: L,
    g: Geom,
    plan: RowPlan,
    x: *const f32,
    zero: *const f32,
    w: *const E,
    panel_len: usize,
    lo: L::V,
    hi: L::V,
    residual: Option<*const f32>,
    y: *mut f32,
}

impl<L: F32Lanes, E: Packed> F32Conv<L, E> {
    /// Output pixels `m0..m0 + rows` (`rows <= R <= MR`) × the 16 channels of each
    /// of the `P` panels `p..p + P`: an `R×16P` tile over every tap (each input value
    /// broadcast once for the `P` panels), then the epilogue. Every output is the
    /// same sum in the same order for any `P`.
    ///
    /// # Safety
    /// Pixels `m0..m0 + rows` and panels `p..p + P` exist; `ptrs` holds the tile's
    /// rows when the kernel has at most [`MAX_TAPS`] taps.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn panels<const MR: usize, const R: usize, const P: usize>(
        &self,
        m0: usize,
        rows: usize,
        p: usize,
        ptrs: &mut [[*const f32; MR]; MAX_TAPS],
    ) {
        let (l, g) = (self.l, &self.g);
        // SAFETY: panels `p..p + P` lie inside the packed slice; the rows hold `C`
        // readable f32 each; output and residual rows `m0..m0 + rows`, channels
        // `p·16..min((p + P)·16, n)` lie inside the output and the residual (caller's
        // contract, checked shapes).
        unsafe {
            let panel: [*const E; P] =
                core::array::from_fn(|j| self.w.add((p + j) * self.panel_len));
            let mut acc: [[L::V; R]; P] = core::array::from_fn(|j| [E::load16(l, panel[j]); R]);
            let mut t0 = 0;
            while t0 < g.taps {
                let t1 = if g.taps <= MAX_TAPS {
                    g.taps
                } else {
                    (t0 + MAX_TAPS).min(g.taps)
                };
                if g.taps > MAX_TAPS {
                    build_rows(g, &self.plan, self.x, self.zero, (m0, rows), (t0, t1), ptrs);
                }
                let w = panel.map(|w| w.add(NR + t0 * g.c * NR));
                f32_tile(l, &ptrs[..t1 - t0], g.c, w, &mut acc);
                t0 = t1;
            }
            for (j, acc) in acc.iter().enumerate() {
                let (n0, nc) = ((p + j) * NR, NR.min(g.n - (p + j) * NR));
                for (r, &v) in acc.iter().enumerate().take(rows) {
                    let at = (m0 + r) * g.n + n0;
                    let residual = self.residual.map(|q| q.add(at));
                    f32_store(l, v, residual, (self.lo, self.hi), self.y.add(at), nc);
                }
            }
        }
    }

    /// Output pixels `m0..m0 + 2·MR` × the only panel (`n <= 16`): two `MR×16` tiles,
    /// whose rows are `rows[0]` and `rows[1]`, each weight vector loaded once for both.
    /// Every output is the sum of [`F32Conv::panels`], in the same order.
    ///
    /// # Safety
    /// Pixels `m0..m0 + 2·MR` exist, the layer has one panel and at most
    /// [`MAX_TAPS`] taps, and `rows` hold the two tiles' rows of every tap.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn tile_pair<const MR: usize>(
        &self,
        m0: usize,
        rows: [&[[*const f32; MR]; MAX_TAPS]; 2],
    ) {
        let (l, g) = (self.l, &self.g);
        // SAFETY: the panel lies inside the packed slice (`16 + taps·c·16`
        // elements); each row holds `c` readable f32; output and residual rows
        // `m0..m0 + 2·MR`, channels `0..n` lie inside the output and the residual.
        unsafe {
            let bias = E::load16(l, self.w);
            let mut acc0 = [bias; MR];
            let mut acc1 = [bias; MR];
            let mut w = self.w.add(NR);
            for (a, b) in rows[0].iter().zip(rows[1]).take(g.taps) {
                for k in 0..g.c {
                    let wv = E::load16(l, w);
                    for r in 0..MR {
                        acc0[r] = l.fma(l.bcast(a[r].add(k)), wv, acc0[r]);
                    }
                    for r in 0..MR {
                        acc1[r] = l.fma(l.bcast(b[r].add(k)), wv, acc1[r]);
                    }
                    w = w.add(NR);
                }
            }
            // Indexed by constants (unrolled), so the accumulators stay in registers.
            let store = |r: usize, v: L::V| {
                let at = (m0 + r) * g.n;
                let residual = self.residual.map(|q| q.add(at));
                f32_store(l, v, residual, (self.lo, self.hi), self.y.add(at), g.n);
            };
            for r in 0..MR {
                store(r, acc0[r]);
                store(MR + r, acc1[r]);
            }
        }
    }
}

/// The R×16P f32 microkernel (`R <= MR`, `P` panels): `acc[j][r] += Σ_{tap, k}
/// row[tap][r][k] · w[j][tap][k][..]`.
///
/// # Safety
/// Each row pointer `r < R` holds `c` readable f32; each `w[j]` holds
/// `rows.len()·c·16`.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn f32_tile<L: F32Lanes, E: Packed, const MR: usize, const R: usize, const P: usize>(
    l: L,
    rows: &[[*const f32; MR]],
    c: usize,
    mut w: [*const E; P],
    acc: &mut [[L::V; R]; P],
) {
    for a in rows {
        for k in 0..c {
            // SAFETY: caller's contract.
            unsafe {
                let b: [L::V; P] = core::array::from_fn(|j| E::load16(l, w[j]));
                for r in 0..R {
                    let x = l.bcast(a[r].add(k));
                    for j in 0..P {
                        acc[j][r] = l.fma(x, b[j], acc[j][r]);
                    }
                }
                w = w.map(|w| w.add(NR));
            }
        }
    }
}

/// f32 epilogue of one output row: residual, clamp, store `nc` lanes.
///
/// # Safety
/// `y` (and `residual`) hold `nc` elements.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) unsafe fn f32_store<L: F32Lanes>(
    l: L,
    mut v: L::V,
    residual: Option<*const f32>,
    (lo, hi): (L::V, L::V),
    y: *mut f32,
    nc: usize,
) {
    // SAFETY: caller's contract.
    unsafe {
        if let Some(r) = residual {
            let rv = if nc == NR {
                l.load(r)
            } else {
                l.load_partial(r, nc)
            };
            v = l.add(v, rv);
        }
        let v = l.clamp(v, lo, hi);
        if nc == NR {
            l.store(y, v);
        } else {
            l.store_partial(y, v, nc);
        }
    }
}

// ---------------------------------------------------------------- int8 conv

/// `Err(Unsupported)` unless `zp` is an i8 value.
#[inline]
pub(crate) fn i8_zero_point(zp: i32) -> Result<i8> {
    i8::try_from(zp).map_err(|_| Error::Unsupported)
}

/// The operand checks of an int8 conv on `g` (input zero point, input, packed panels, an
/// output of `y_len`, residual); returns the bytes of one packed panel and the row the
/// padding reads: the zero point `C` times in `scratch`, or the input itself when no tap
/// reads padding.
pub(crate) fn i8_conv_operands(
    g: &Geom,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y_len: usize,
    scratch: &mut [i8],
) -> Result<(usize, *const i8)> {
    let zp = i8_zero_point(x_zp)?;
    let panel_len = crate::kernels::engine::pack::i8_conv_panel_len(out.header, g.taps, g.c)
        .ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.n.div_ceil(NR) * panel_len, packed.len())?;
    need(g.out_len, y_len)?;
    if let Some(r) = &out.residual {
        need(g.out_len, r.input.len())?;
    }
    let zero = if g.padded {
        need(g.c, scratch.len())?;
        scratch[..g.c].fill(zp);
        scratch.as_ptr()
    } else {
        x.as_ptr()
    };
    Ok((panel_len, zero))
}

/// [`crate::kernels::engine::i8_conv`] on the primitives of `L`, tiles of `MR×16`, and `MT×16` for a
/// last tile of at most `MT` pixels.
///
/// # Safety
/// The CPU supports the instructions of `L`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn i8_conv<L: I8Dot, const MR: usize, const MT: usize>(
    l: L,
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    let (panel_len, zero) = i8_conv_operands(&g, x, x_zp, packed, out, y.len(), scratch)?;
    let x_zp = i8_zero_point(x_zp)?;
    let xp = x.as_ptr();
    // C < 4: each pixel's `taps·C` inputs are gathered into `buf` (zero-padded to a
    // multiple of 4) and read as one tap by the microkernel (flat layout), or read in
    // place by kernel rows when those are whole quads.
    let flat = crate::kernels::engine::pack::i8_flat(g.taps, g.c);
    let cx = I8Conv {
        l,
        plan: RowPlan::new(&g),
        g,
        x: xp,
        zero,
        w: packed.as_ptr(),
        panel_len,
        header: out.header,
        epi: I8Epi::new(l, out),
        y: y.as_mut_ptr(),
        flat,
        row_quads: false,
        offset: false,
    };
    let flat_k = (g.taps * g.c).div_ceil(4) * 4;
    let mut buf = [[0i8; FLAT_K]; MR];
    // Kernel rows of whole quads: the padded input in `buf` (unused by them), when
    // it fits.
    let image = match row_quads_apply(flat, g.kw, g.dw, g.c) && g.pixels > 0 {
        true => pad_image(&g, x, x_zp, buf.as_flattened_mut())
            .map(|len| (buf.as_ptr().cast::<i8>(), len)),
        false => None,
    };
    let cx = I8Conv {
        row_quads: image.is_some(),
        ..cx
    };
    let x_range = (xp, xp.wrapping_add(x.len()));
    // Tiles of MR output pixels outside, the 16-channel panels inside: the tile's
    // rows (of every tap when they fit in `ptrs`) are built once for all panels.
    let mut ptrs = [[ptr::null::<i8>(); MR]; MAX_TAPS];
    if g.taps == 1 && !cx.flat {
        // A 1×1 conv: the rows are one pointer per pixel, cheap to build again for
        // each panel, so the panels go outside and each panel's bias and
        // requantization constants are prepared once for all its tiles.
        let panels = g.n.div_ceil(NR);
        let mut p = 0;
        while p < panels {
            let span = (0, g.pixels, xp);
            // SAFETY: the slices were checked against the shape above.
            unsafe {
                if L::PANEL_PAIRS && p + 1 < panels {
                    cx.panels_1x1::<MR, MT, 2, false>(p, &mut ptrs, span);
                    p += 2;
                } else {
                    cx.panels_1x1::<MR, MT, 1, false>(p, &mut ptrs, span);
                    p += 1;
                }
            }
        }
        return Ok(());
    }
    let mut m0 = 0;
    while m0 < g.pixels {
        let rows = MR.min(g.pixels - m0);
        let mut flat_rows = [[ptr::null::<i8>(); MR]; 1];
        if let Some(image) = image {
            image_rows(&g, image, (m0, rows), &mut ptrs);
        } else if g.taps <= MAX_TAPS {
            build_rows(&g, &cx.plan, xp, zero, (m0, rows), (0, g.taps), &mut ptrs);
        }
        if cx.flat && !cx.row_quads {
            // SAFETY: the rows hold `C` readable bytes each; `taps·C <= 3·MAX_TAPS`.
            unsafe { gather(&ptrs, g.taps, g.c, &mut buf, x_range) };
            for (p, b) in flat_rows[0].iter_mut().zip(&buf) {
                *p = b.as_ptr();
            }
        }
        let panels = g.n.div_ceil(NR);
        let flat = (&flat_rows, flat_k);
        let mut p = 0;
        while p < panels {
            // SAFETY: the slices were checked against the shape above; the flat rows
            // hold `flat_k` bytes.
            unsafe {
                if L::PANEL_PAIRS && p + 1 < panels {
                    if rows > MT {
                        cx.panels::<MR, MR, 2>(m0, rows, p, &mut ptrs, flat);
                    } else {
                        cx.panels::<MR, MT, 2>(m0, rows, p, &mut ptrs, flat);
                    }
                    p += 2;
                } else {
                    if rows > MT {
                        cx.panels::<MR, MR, 1>(m0, rows, p, &mut ptrs, flat);
                    } else {
                        cx.panels::<MR, MT, 1>(m0, rows, p, &mut ptrs, flat);
                    }
                    p += 1;
                }
            }
        }
        m0 += rows;
    }
    Ok(())
}

/// The int8 conv constants of one call (slices checked by [`i8_conv`]).
pub(super) struct I8Conv<L: I8Dot> {
    pub(super) l: L,
    pub(super) g: Geom,
    pub(super) plan: RowPlan,
    pub(super) x: *const i8,
    pub(super) zero: *const i8,
    pub(super) w: *const u8,
    pub(super) panel_len: usize,
    pub(super) header: I8Header,
    pub(super) epi: I8Epi<L>,
    pub(super) y: *mut i8,
    pub(super) flat: bool,
    /// The flat layout read by kernel rows ([`row_quads`]): `ptrs[..kh]` hold rows of
    /// `kw·c` bytes.
    pub(super) row_quads: bool,
    /// The offset form may apply (a constant: the flipped entry without a residual).
    pub(super) offset: bool,
}

impl<L: I8Dot> I8Conv<L> {
    /// Output pixels `m0..m0 + rows` (`rows <= R <= MR`) × the 16 channels of each
    /// of the `P` panels `p..p + P`: an `R×16P` tile over every tap (or over the
    /// gathered `flat` rows of `flat_k` bytes), then the epilogue. The sums are
    /// exact, so any `P` gives the same bytes.
    ///
    /// # Safety
    /// As [`F32Conv::panels`]; the flat rows hold `flat_k` bytes.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn panels<const MR: usize, const R: usize, const P: usize>(
        &self,
        m0: usize,
        rows: usize,
        p: usize,
        ptrs: &mut [[*const i8; MR]; MAX_TAPS],
        (flat_rows, flat_k): (&[[*const i8; MR]; 1], usize),
    ) {
        let (l, g) = (self.l, &self.g);
        let group_bytes = g.c.div_ceil(4) * 4 * NR;
        // SAFETY: as in `F32Conv::panel`.
        unsafe {
            let w = self.weights::<P>(p);
            let mut acc = [[l.zero(); R]; P];
            if self.row_quads {
                i8_tile::<_, MR, R, P, false>(l, &ptrs[..g.kh], g.kw * g.c, w, &mut acc);
            } else if self.flat {
                i8_tile::<_, MR, R, P, false>(l, flat_rows, flat_k, w, &mut acc);
            } else {
                let mut t0 = 0;
                while t0 < g.taps {
                    let t1 = if g.taps <= MAX_TAPS {
                        g.taps
                    } else {
                        (t0 + MAX_TAPS).min(g.taps)
                    };
                    if g.taps > MAX_TAPS {
                        build_rows(g, &self.plan, self.x, self.zero, (m0, rows), (t0, t1), ptrs);
                    }
                    let w = w.map(|w| w.add(t0 * group_bytes));
                    i8_tile::<_, MR, R, P, false>(l, &ptrs[..t1 - t0], g.c, w, &mut acc);
                    t0 = t1;
                }
            }
            for (j, acc) in acc.into_iter().enumerate() {
                let (bias, rq) = self.consts(p + j);
                self.epilogue(acc, m0, rows, p + j, (&bias, &rq), Store::Rows);
            }
        }
    }

    /// The first weight group of each of the panels `p..p + P`.
    ///
    /// # Safety
    /// The panels exist.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn weights<const P: usize>(&self, p: usize) -> [*const i8; P] {
        // SAFETY: caller's contract: the panels lie inside the packed slice.
        core::array::from_fn(|j| unsafe {
            self.w
                .add((p + j) * self.panel_len + self.header.conv_len())
                .cast::<i8>()
        })
    }

    /// Panel `p`'s bias row (the `bias_u8` one for [`I8Dot::U8_INPUT`]) and its
    /// prepared requantization.
    ///
    /// # Safety
    /// Panel `p` exists.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn consts(&self, p: usize) -> (L::V, L::Rq) {
        // SAFETY: caller's contract.
        let (bias, m, s) = unsafe { self.consts_raw(p) };
        (bias, self.epi.rq(self.l, m, s))
    }

    /// Panel `p`'s bias row (as [`I8Conv::consts`]), multipliers and shifts.
    ///
    /// # Safety
    /// Panel `p` exists.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn consts_raw(&self, p: usize) -> (L::V, L::V, L::V) {
        // SAFETY: caller's contract.
        unsafe { i8_panel_consts(self.l, self.header, self.w.add(p * self.panel_len)) }
    }

    /// Requantizes and stores the `rows` accumulators of pixels `m0..` × panel `p`.
    ///
    /// # Safety
    /// Pixels `m0..m0 + rows` and panel `p` exist.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn epilogue<const R: usize>(
        &self,
        acc: [L::Acc; R],
        m0: usize,
        rows: usize,
        p: usize,
        (bias, rq): (&L::V, &L::Rq),
        how: Store,
    ) {
        let (l, g) = (self.l, &self.g);
        let (n0, nc) = (p * NR, NR.min(g.n - p * NR));
        let mut v = [*bias; R];
        for (v, &a) in v.iter_mut().zip(&acc) {
            *v = l.add(l.finish(a), *bias);
        }
        let at = (m0 * g.n + n0, g.n);
        // SAFETY: caller's contract: the output rows lie inside `y`.
        unsafe { self.epi.store_as(how, l, v, rows, rq, self.y, at, nc) };
    }

    /// Stride 1, no padding, the output the input's size: pixel for pixel.
    pub(super) fn dense_1x1(&self) -> bool {
        let g = &self.g;
        g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.ih == g.oh && g.iw == g.ow
    }

    /// A 1×1 conv's panels `p..p + P` over the pixel tiles of `m_lo..m_lo + count`
    /// (dense: pixel `m` at `src + (m − m_lo)·C`, stored flipped with `FLIP`), the
    /// panels' bias and requantization constants prepared once.
    ///
    /// # Safety
    /// One tap; the panels and pixels exist; `FLIP` only when dense with `C % 4 == 0`.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn panels_1x1<
        const MR: usize,
        const MT: usize,
        const P: usize,
        const FLIP: bool,
    >(
        &self,
        p: usize,
        ptrs: &mut [[*const i8; MR]; MAX_TAPS],
        (m_lo, count, src): (usize, usize, *const i8),
    ) {
        let (l, g) = (self.l, &self.g);
        // SAFETY: caller's contract; the rows and output rows lie inside the checked
        // slices.
        unsafe {
            // 8 channels: two pixels per vector in the epilogue.
            let pairs = L::PAIR8 && P == 1 && g.n == NR / 2;
            let mut consts = [if pairs {
                self.consts_pair8()
            } else {
                self.consts(p)
            }; P];
            for (j, c) in consts.iter_mut().enumerate().skip(1) {
                *c = self.consts(p + j);
            }
            let w = self.weights::<P>(p);
            let dense = self.dense_1x1();
            // Only the flipped entry's: the other convs' code is unchanged.
            let mut how = [Store::Rows; P];
            for (j, h) in how.iter_mut().enumerate().filter(|_| FLIP) {
                *h = self.store_how(&mut consts[j], p + j, pairs);
            }
            let mut m0 = m_lo;
            while m0 < m_lo + count {
                let rows = MR.min(m_lo + count - m0);
                if dense {
                    // Output pixel `m` reads input pixel `m`: no coordinates, no division.
                    for (r, p) in ptrs[0].iter_mut().enumerate() {
                        *p = src.wrapping_add((m0 - m_lo + r.min(rows - 1)) * g.c);
                    }
                } else {
                    build_rows(g, &self.plan, self.x, self.zero, (m0, rows), (0, 1), ptrs);
                }
                if rows > MT {
                    let mut acc = [[l.zero(); MR]; P];
                    i8_tile::<_, MR, _, P, FLIP>(l, &ptrs[..1], g.c, w, &mut acc);
                    for (j, acc) in acc.into_iter().enumerate() {
                        let (bias, rq) = &consts[j];
                        if pairs {
                            self.epilogue_pair8(acc, m0, rows, (bias, rq), how[j]);
                        } else {
                            self.epilogue(acc, m0, rows, p + j, (bias, rq), how[j]);
                        }
                    }
                } else {
                    let mut acc = [[l.zero(); MT]; P];
                    i8_tile::<_, MR, _, P, FLIP>(l, &ptrs[..1], g.c, w, &mut acc);
                    for (j, acc) in acc.into_iter().enumerate() {
                        let (bias, rq) = &consts[j];
                        if pairs {
                            self.epilogue_pair8(acc, m0, rows, (bias, rq), how[j]);
                        } else {
                            self.epilogue(acc, m0, rows, p + j, (bias, rq), how[j]);
                        }
                    }
                }
                m0 += rows;
            }
        }
    }
}
