//! The loops every ISA shares: shape checks, indirection, tiling, tails and
//! epilogues, generic over the vector primitives of [`F32Lanes`], [`I32Lanes`] and
//! [`I8Dot`] that each ISA module implements with its intrinsics.
//!
//! The public kernels of an ISA module are instantiated by [`engine_kernels!`] inside
//! a `#[target_feature]` function; everything here is `#[inline(always)]` so that it
//! is compiled for those features.
//!
//! # Safety
//! The drivers ([`f32_conv`], [`i8_conv`], [`f32_dwconv`], [`i8_dwconv`]) check every
//! slice against the shape before touching memory ([`Geom`] and the `need` checks);
//! after that, every pointer they build or pass to a primitive is in bounds:
//! input rows hold `C` elements (an input pixel, or the padding row of the scratch),
//! panels and tiles lie inside the packed slice, output rows inside `y`. Primitives
//! reading 16 lanes are given 16 readable elements; tails use the `_partial`
//! primitives with the exact count.

#![allow(unsafe_code)]

use core::ptr;

use super::{ConvShape, F32Out, I8Out, I8_CONV_HEADER, I8_DW_HEADER, NR};

use crate::{Error, Result};

/// Taps whose row pointers a conv tile keeps at once (stack: `MR × MAX_TAPS`
/// pointers); kernels with more taps are processed in chunks of this many.
pub(crate) const MAX_TAPS: usize = 64;

// ---------------------------------------------------------------- primitives

/// 16 f32 lanes of one ISA. A value of the implementing type proves that the CPU has
/// the instructions used (a token created after the feature check).
pub(crate) trait F32Lanes: Copy {
    type V: Copy;
    fn splat(self, x: f32) -> Self::V;
    /// # Safety
    /// `p` points to 16 readable f32 (any alignment).
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// # Safety
    /// `p` points to 16 writable f32 (any alignment).
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// `*p` in every lane.
    ///
    /// # Safety
    /// `p` is readable.
    #[inline(always)]
    unsafe fn bcast(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract.
        self.splat(unsafe { *p })
    }
    /// `c + a·b` (fused or not, per ISA).
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `clamp(v, lo, hi)` with the reference's comparisons: `v < lo → lo`,
    /// `v > hi → hi`, else `v` (NaN passes through).
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V;
    /// 16 f16 values (IEEE binary16 bits, little-endian) at `p`, converted exactly
    /// to f32. The default converts through a stack buffer (`half`'s conversion);
    /// ISAs with a conversion instruction override it.
    ///
    /// # Safety
    /// `p` points to 16 readable u16 (any alignment).
    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16) -> Self::V {
        let mut t = [0f32; NR];
        for (i, v) in t.iter_mut().enumerate() {
            // SAFETY: caller's contract.
            *v = half::f16::from_bits(unsafe { ptr::read_unaligned(p.add(i)) }).to_f32();
        }
        // SAFETY: `t` holds 16 f32.
        unsafe { self.load(t.as_ptr()) }
    }
    /// The first `n < 16` lanes from `p`, zeros above.
    ///
    /// # Safety
    /// `p` points to `n` readable f32.
    #[inline(always)]
    unsafe fn load_partial(self, p: *const f32, n: usize) -> Self::V {
        let mut t = [0f32; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(NR));
            self.load(t.as_ptr())
        }
    }
    /// Stores the first `n < 16` lanes.
    ///
    /// # Safety
    /// `p` points to `n` writable f32.
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, v: Self::V, n: usize) {
        let mut t = [0f32; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            self.store(t.as_mut_ptr(), v);
            ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(NR));
        }
    }
}

/// An element of the packed weights of the f32 kernels: `f32`, or the bits of an
/// f16 (`u16`) converted to f32 as it is loaded (the f16 kernels). The layouts are
/// the same, element for element.
pub(crate) trait Packed: Copy {
    /// 16 elements at `p` as f32 lanes.
    ///
    /// # Safety
    /// `p` points to 16 readable elements (any alignment).
    unsafe fn load16<L: F32Lanes>(l: L, p: *const Self) -> L::V;
}

impl Packed for f32 {
    #[inline(always)]
    unsafe fn load16<L: F32Lanes>(l: L, p: *const f32) -> L::V {
        // SAFETY: caller's contract.
        unsafe { l.load(p) }
    }
}

impl Packed for u16 {
    #[inline(always)]
    unsafe fn load16<L: F32Lanes>(l: L, p: *const u16) -> L::V {
        // SAFETY: caller's contract.
        unsafe { l.load_f16(p) }
    }
}

/// 16 i32 lanes of one ISA, with the exact requantization arithmetic.
pub(crate) trait I32Lanes: Copy {
    type V: Copy;
    /// Depthwise weights widened once per tap ([`I32Lanes::load_w`]).
    type W: Copy;
    /// A prepared `(multiplier, shift)` per lane (see [`I32Lanes::rq`]).
    type Rq: Copy;
    fn splat(self, x: i32) -> Self::V;
    /// 16 little-endian i32 at `p`.
    ///
    /// # Safety
    /// `p` points to 64 readable bytes (any alignment).
    unsafe fn load(self, p: *const u8) -> Self::V;
    /// 16 i8 at `p`, sign-extended.
    ///
    /// # Safety
    /// `p` points to 16 readable bytes.
    unsafe fn load_i8(self, p: *const i8) -> Self::V;
    /// Saturates each lane to i8 and stores the 16 bytes.
    ///
    /// # Safety
    /// `p` points to 16 writable bytes.
    unsafe fn store_i8(self, p: *mut i8, v: Self::V);
    /// Wrapping.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// Wrapping.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// `v << n` in every lane, wrapping, `n <= 31`.
    fn shl(self, v: Self::V, n: u32) -> Self::V;
    /// Prepares per-lane TFLite `(multiplier, shift)` pairs: the left shift is
    /// `clamp(shift, 0, 31)`, the right shift `clamp(-shift, 0, 31)`.
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Self::Rq;
    /// `MultiplyByQuantizedMultiplier` in every lane (identical to
    /// [`fixed::multiply_by_quantized_multiplier`]).
    fn mbqm(self, v: Self::V, rq: &Self::Rq) -> Self::V;
    /// The first `n < 16` bytes from `p`, sign-extended, zeros above.
    ///
    /// # Safety
    /// `p` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn load_i8_partial(self, p: *const i8, n: usize) -> Self::V {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(NR));
            self.load_i8(t.as_ptr())
        }
    }
    /// Stores the first `n < 16` lanes, saturated to i8.
    ///
    /// # Safety
    /// `p` points to `n` writable bytes.
    #[inline(always)]
    unsafe fn store_i8_partial(self, p: *mut i8, v: Self::V, n: usize) {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            self.store_i8(t.as_mut_ptr(), v);
            ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(NR));
        }
    }
    /// 16 depthwise weights prepared for [`I32Lanes::mac_w`].
    ///
    /// # Safety
    /// `p` points to 16 readable bytes.
    unsafe fn load_w(self, p: *const i8) -> Self::W;
    /// `acc + (x − zp)·w` for the 16 i8 inputs at `x` (exact: `|x − zp| <= 255`,
    /// `|w| <= 128`); `zp` is the input zero point in every lane.
    ///
    /// # Safety
    /// `x` points to 16 readable bytes.
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V;
    /// `acc + x·w` ([`I32Lanes::mac_w`] with a zero point of 0).
    ///
    /// # Safety
    /// `x` points to 16 readable bytes.
    #[inline(always)]
    unsafe fn mac_w0(self, acc: Self::V, x: *const i8, w: Self::W) -> Self::V {
        // SAFETY: caller's contract.
        unsafe { self.mac_w(acc, x, self.splat(0), w) }
    }
    /// [`I32Lanes::mac_w0`] reading only the first `n < 16` inputs.
    ///
    /// # Safety
    /// `x` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn mac_w0_partial(self, acc: Self::V, x: *const i8, n: usize, w: Self::W) -> Self::V {
        // SAFETY: caller's contract.
        unsafe { self.mac_w_partial(acc, x, n, self.splat(0), w) }
    }
    /// [`I32Lanes::mac_w`] reading only the first `n < 16` inputs.
    ///
    /// # Safety
    /// `x` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn mac_w_partial(
        self,
        acc: Self::V,
        x: *const i8,
        n: usize,
        zp: Self::V,
        w: Self::W,
    ) -> Self::V {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(x, t.as_mut_ptr(), n.min(NR));
            self.mac_w(acc, t.as_ptr(), zp, w)
        }
    }
}

/// The int8 conv microkernel's inner product: per k-group of 4, the 4 input bytes
/// of one pixel (`A`) times the 64 packed bytes of a panel (`B`: 16 channels × 4).
pub(crate) trait I8Dot: I32Lanes {
    /// The kernel multiplies `x + 128` (unsigned) and starts from `bias_u8`.
    const U8_INPUT: bool;
    /// Per-pixel accumulators (possibly partial sums reduced by [`I8Dot::finish`]).
    type Acc: Copy;
    type A: Copy;
    type B: Copy;
    fn zero(self) -> Self::Acc;
    /// The 4 input bytes `quad` (little-endian: byte `j` is channel `4q + j`).
    fn a(self, quad: u32) -> Self::A;
    /// # Safety
    /// `p` points to 64 readable bytes.
    unsafe fn b(self, p: *const i8) -> Self::B;
    /// Adds `Σ_j a[j]·b[ch][j]` to channel `ch`'s accumulator, for the 16 channels.
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc;
    /// The 16 channel sums.
    fn finish(self, acc: Self::Acc) -> Self::V;
}

// ---------------------------------------------------------------- geometry

/// A checked [`ConvShape`]: every product and coordinate below fits in usize.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub ih: usize,
    pub iw: usize,
    pub c: usize,
    pub oh: usize,
    pub ow: usize,
    pub n: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pt: usize,
    pub pl: usize,
    pub taps: usize,
    pub pixels: usize,
    pub in_len: usize,
    pub out_len: usize,
    /// Some tap of some output pixel reads the padding.
    pub padded: bool,
}

impl Geom {
    pub(crate) fn new(s: &ConvShape) -> Result<Self> {
        let [kh, kw] = s.kernel;
        let [sh, sw] = s.stride;
        let [dh, dw] = s.dilation;
        let [pt, pl] = s.pad;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || dh == 0 || dw == 0 {
            return Err(Error::Unsupported);
        }
        let overflow = || Error::Unsupported;
        let taps = kh.checked_mul(kw).ok_or_else(overflow)?;
        let pixels = s.out_h.checked_mul(s.out_w).ok_or_else(overflow)?;
        let in_len = (s.in_h.checked_mul(s.in_w))
            .and_then(|p| p.checked_mul(s.in_c))
            .ok_or_else(overflow)?;
        let out_len = pixels.checked_mul(s.out_c).ok_or_else(overflow)?;
        taps.checked_mul(s.in_c).ok_or_else(overflow)?;
        // The largest unpadded coordinate `o·stride + k·dilation`, plus the input
        // and the padding, fits: tap coordinates below are computed without overflow.
        let reach = |out: usize, stride: usize, k: usize, d: usize, len: usize, pad: usize| {
            let r = out
                .saturating_sub(1)
                .checked_mul(stride)?
                .checked_add((k - 1).checked_mul(d)?)?;
            r.checked_add(len)?.checked_add(pad)?;
            Some(r)
        };
        let rh = reach(s.out_h, sh, kh, dh, s.in_h, pt).ok_or_else(overflow)?;
        let rw = reach(s.out_w, sw, kw, dw, s.in_w, pl).ok_or_else(overflow)?;
        let padded = pixels > 0 && (pt > 0 || pl > 0 || rh >= s.in_h + pt || rw >= s.in_w + pl);
        Ok(Geom {
            ih: s.in_h,
            iw: s.in_w,
            c: s.in_c,
            oh: s.out_h,
            ow: s.out_w,
            n: s.out_c,
            kh,
            kw,
            sh,
            sw,
            dh,
            dw,
            pt,
            pl,
            taps,
            pixels,
            in_len,
            out_len,
            padded,
        })
    }
}

/// `Err(WrongLength)` unless `actual >= expected`.
#[inline]
pub(crate) fn need(expected: usize, actual: usize) -> Result<()> {
    if actual >= expected {
        Ok(())
    } else {
        Err(Error::WrongLength { expected, actual })
    }
}

/// The taps `k0..k1` (of `k`) that read inside `0..len` for output `o`:
/// `0 <= o·s + k·d − p < len` (an interval, the coordinate grows with the tap).
/// Divides only for a dilation above 1.
#[inline(always)]
pub(crate) fn valid_taps(
    o: usize,
    s: usize,
    d: usize,
    p: usize,
    len: usize,
    k: usize,
) -> (usize, usize) {
    let base = o * s;
    let lim = len + p;
    let (k0, k1) = if d == 1 {
        (p.saturating_sub(base), lim.saturating_sub(base))
    } else {
        (
            p.saturating_sub(base).div_ceil(d),
            lim.saturating_sub(base).div_ceil(d),
        )
    };
    let k0 = k0.min(k);
    (k0, k1.clamp(k0, k))
}

/// What [`build_rows`] precomputes once per call: the output pixels whose every tap
/// reads the input, and the element offset of each tap from tap (0, 0).
struct RowPlan {
    y: (usize, usize),
    x: (usize, usize),
    offs: [usize; MAX_TAPS],
}

impl RowPlan {
    #[inline(always)]
    fn new(g: &Geom) -> Self {
        let mut offs = [0; MAX_TAPS];
        for (t, o) in offs.iter_mut().enumerate().take(g.taps) {
            *o = ((t / g.kw) * g.dh * g.iw + (t % g.kw) * g.dw) * g.c;
        }
        RowPlan {
            y: interior(g.oh, g.sh, g.dh, g.pt, g.ih, g.kh),
            x: interior(g.ow, g.sw, g.dw, g.pl, g.iw, g.kw),
            offs,
        }
    }
}

/// Fills `ptrs[t - t0][r]` with the input row of tap `t` (`t0..t1`) for output pixel
/// `m0 + r` (pixels past `m0 + rows` repeat the last one), or `zero` in the padding.
#[inline(always)]
fn build_rows<T, const MR: usize>(
    g: &Geom,
    plan: &RowPlan,
    x: *const T,
    zero: *const T,
    (m0, rows): (usize, usize),
    (t0, t1): (usize, usize),
    ptrs: &mut [[*const T; MR]; MAX_TAPS],
) {
    // The output coordinates of each pixel, stepping through the output (one
    // division per tile).
    let mut at = [(0usize, 0usize); MR];
    let (mut oy, mut ox) = (m0 / g.ow, m0 % g.ow);
    let mut inside = true;
    for (r, a) in at.iter_mut().enumerate() {
        *a = (oy, ox);
        inside &= (plan.y.0..plan.y.1).contains(&oy) && (plan.x.0..plan.x.1).contains(&ox);
        if r + 1 < rows {
            ox += 1;
            if ox == g.ow {
                ox = 0;
                oy += 1;
            }
        }
    }
    if inside && t1 - t0 == g.taps {
        // Every tap of every pixel reads the input: tap (0, 0)'s row plus offsets.
        for (r, &(oy, ox)) in at.iter().enumerate() {
            let base = x.wrapping_add(((oy * g.sh - g.pt) * g.iw + ox * g.sw - g.pl) * g.c);
            for (row, &off) in ptrs.iter_mut().zip(&plan.offs).take(g.taps) {
                row[r] = base.wrapping_add(off);
            }
        }
        return;
    }
    let (mut ky, mut kx) = (t0 / g.kw, t0 % g.kw);
    for row in ptrs.iter_mut().take(t1 - t0) {
        let (dy, dx) = (ky * g.dh, kx * g.dw);
        for (p, &(oy, ox)) in row.iter_mut().zip(&at) {
            // Wrapping: a coordinate above the padding becomes huge, hence invalid.
            let iy = (oy * g.sh + dy).wrapping_sub(g.pt);
            let ix = (ox * g.sw + dx).wrapping_sub(g.pl);
            *p = if iy < g.ih && ix < g.iw {
                x.wrapping_add((iy * g.iw + ix) * g.c)
            } else {
                zero
            };
        }
        kx += 1;
        if kx == g.kw {
            kx = 0;
            ky += 1;
        }
    }
}

// ---------------------------------------------------------------- f32 conv

/// [`super::f32_conv`] on the primitives of `L`, tiles of `MR×16`, and `MT×16` for a
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
    let panel_len = super::pack::f32_conv_panel_len(g.taps, g.c).ok_or(Error::Unsupported)?;
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
    let mut m0 = 0;
    while m0 < g.pixels {
        let rows = MR.min(g.pixels - m0);
        if g.taps <= MAX_TAPS {
            build_rows(&g, &cx.plan, cx.x, zero, (m0, rows), (0, g.taps), &mut ptrs);
        }
        for p in 0..g.n.div_ceil(NR) {
            // SAFETY: the slices were checked against the shape above.
            unsafe {
                if rows > MT {
                    cx.panel::<MR, MR>(m0, rows, p, &mut ptrs);
                } else {
                    cx.panel::<MR, MT>(m0, rows, p, &mut ptrs);
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
    /// Output pixels `m0..m0 + rows` (`rows <= R <= MR`) × the 16 channels of panel
    /// `p`: an `R×16` tile over every tap, then the epilogue.
    ///
    /// # Safety
    /// Pixels `m0..m0 + rows` and panel `p` exist; `ptrs` holds the tile's rows when
    /// the kernel has at most [`MAX_TAPS`] taps.
    #[inline(always)]
    unsafe fn panel<const MR: usize, const R: usize>(
        &self,
        m0: usize,
        rows: usize,
        p: usize,
        ptrs: &mut [[*const f32; MR]; MAX_TAPS],
    ) {
        let (l, g) = (self.l, &self.g);
        let (n0, nc) = (p * NR, NR.min(g.n - p * NR));
        // SAFETY: panel `p` lies inside the packed slice; the rows hold `C` readable
        // f32 each; output and residual rows `m0..m0 + rows`, channels `n0..n0 + nc`
        // lie inside the output and the residual (caller's contract, checked shapes).
        unsafe {
            let panel = self.w.add(p * self.panel_len);
            let mut acc = [E::load16(l, panel); R];
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
                let w = panel.add(NR + t0 * g.c * NR);
                f32_tile(l, &ptrs[..t1 - t0], g.c, w, &mut acc);
                t0 = t1;
            }
            for (r, &v) in acc.iter().enumerate().take(rows) {
                let at = (m0 + r) * g.n + n0;
                let residual = self.residual.map(|q| q.add(at));
                f32_store(l, v, residual, (self.lo, self.hi), self.y.add(at), nc);
            }
        }
    }
}

/// The R×16 f32 microkernel (`R <= MR`): `acc[r] += Σ_{tap, k} row[tap][r][k] ·
/// w[tap][k][..]`.
///
/// # Safety
/// Each row pointer `r < R` holds `c` readable f32; `w` holds `rows.len()·c·16`.
#[inline(always)]
unsafe fn f32_tile<L: F32Lanes, E: Packed, const MR: usize, const R: usize>(
    l: L,
    rows: &[[*const f32; MR]],
    c: usize,
    mut w: *const E,
    acc: &mut [L::V; R],
) {
    for a in rows {
        for k in 0..c {
            // SAFETY: caller's contract.
            unsafe {
                let b = E::load16(l, w);
                for r in 0..R {
                    acc[r] = l.fma(l.bcast(a[r].add(k)), b, acc[r]);
                }
                w = w.add(NR);
            }
        }
    }
}

/// f32 epilogue of one output row: residual, clamp, store `nc` lanes.
///
/// # Safety
/// `y` (and `residual`) hold `nc` elements.
#[inline(always)]
unsafe fn f32_store<L: F32Lanes>(
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

/// The per-call int8 epilogue constants.
struct I8Epi<L: I32Lanes> {
    zp: L::V,
    lo: L::V,
    hi: L::V,
    residual: Option<Residual<L>>,
}

/// The residual Add's constants.
struct Residual<L: I32Lanes> {
    r: *const i8,
    a_zp: L::V,
    b_zp: L::V,
    shift: u32,
    a: L::Rq,
    b: L::Rq,
    out: L::Rq,
    out_zp: L::V,
    lo: L::V,
    hi: L::V,
    i8_min: L::V,
    i8_max: L::V,
}

impl<L: I32Lanes> I8Epi<L> {
    #[inline(always)]
    fn new(l: L, out: &I8Out) -> Self {
        let residual = match &out.residual {
            Some(r) => Some(Residual {
                r: r.input.as_ptr(),
                a_zp: l.splat(r.add.a_zero_point),
                b_zp: l.splat(r.add.b_zero_point),
                shift: r.add.left_shift.clamp(0, 31) as u32,
                a: l.rq(l.splat(r.add.a.multiplier), l.splat(r.add.a.shift)),
                b: l.rq(l.splat(r.add.b.multiplier), l.splat(r.add.b.shift)),
                out: l.rq(l.splat(r.add.out.multiplier), l.splat(r.add.out.shift)),
                out_zp: l.splat(r.add.out_zero_point),
                lo: l.splat(r.add.act_min),
                hi: l.splat(r.add.act_max),
                i8_min: l.splat(-128),
                i8_max: l.splat(127),
            }),
            None => None,
        };
        I8Epi {
            zp: l.splat(out.zero_point),
            lo: l.splat(out.act_min),
            hi: l.splat(out.act_max),
            residual,
        }
    }

    /// Requantizes the 16 sums `v` (bias included) of output row `at` (element index
    /// of channel `n0`), applies the residual Add and stores `nc` bytes.
    ///
    /// # Safety
    /// `y.add(at)` (and the residual's) hold `nc` elements.
    #[inline(always)]
    unsafe fn store(&self, l: L, v: L::V, rq: &L::Rq, y: *mut i8, at: usize, nc: usize) {
        let v = l.add(l.mbqm(v, rq), self.zp);
        let mut v = l.min(l.max(v, self.lo), self.hi);
        // SAFETY: caller's contract.
        unsafe {
            if let Some(r) = &self.residual {
                // The conv's int8 output, then the reference Add on it.
                let t = l.min(l.max(v, r.i8_min), r.i8_max);
                let rp = r.r.add(at);
                let rv = if nc == NR {
                    l.load_i8(rp)
                } else {
                    l.load_i8_partial(rp, nc)
                };
                let sa = l.mbqm(l.shl(l.sub(t, r.a_zp), r.shift), &r.a);
                let sb = l.mbqm(l.shl(l.sub(rv, r.b_zp), r.shift), &r.b);
                let raw = l.mbqm(l.add(sa, sb), &r.out);
                v = l.min(l.max(l.add(raw, r.out_zp), r.lo), r.hi);
            }
            if nc == NR {
                l.store_i8(y.add(at), v);
            } else {
                l.store_i8_partial(y.add(at), v, nc);
            }
        }
    }
}

/// `Err(Unsupported)` unless `zp` is an i8 value.
#[inline]
fn i8_zero_point(zp: i32) -> Result<i8> {
    i8::try_from(zp).map_err(|_| Error::Unsupported)
}

/// [`super::i8_conv`] on the primitives of `L`, tiles of `MR×16`, and `MT×16` for a
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
    let zp = i8_zero_point(x_zp)?;
    let panel_len = super::pack::i8_conv_panel_len(g.taps, g.c).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.n.div_ceil(NR) * panel_len, packed.len())?;
    need(g.out_len, y.len())?;
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
    let xp = x.as_ptr();
    let cx = I8Conv {
        l,
        plan: RowPlan::new(&g),
        g,
        x: xp,
        zero,
        w: packed.as_ptr(),
        panel_len,
        epi: I8Epi::new(l, out),
        y: y.as_mut_ptr(),
        // C < 4: each pixel's `taps·C` inputs are gathered into `buf` (zero-padded
        // to a multiple of 4) and read as one tap by the microkernel (flat layout).
        flat: super::pack::i8_flat(g.taps, g.c),
    };
    let flat_k = (g.taps * g.c).div_ceil(4) * 4;
    let mut buf = [[0i8; FLAT_K]; MR];
    let x_range = (xp, xp.wrapping_add(x.len()));
    // Tiles of MR output pixels outside, the 16-channel panels inside: the tile's
    // rows (of every tap when they fit in `ptrs`) are built once for all panels.
    let mut ptrs = [[ptr::null::<i8>(); MR]; MAX_TAPS];
    let mut m0 = 0;
    while m0 < g.pixels {
        let rows = MR.min(g.pixels - m0);
        if g.taps <= MAX_TAPS {
            build_rows(&g, &cx.plan, xp, zero, (m0, rows), (0, g.taps), &mut ptrs);
        }
        let mut flat_rows = [[ptr::null::<i8>(); MR]; 1];
        if cx.flat {
            // SAFETY: the rows hold `C` readable bytes each; `taps·C <= 3·MAX_TAPS`.
            unsafe { gather(&ptrs, g.taps, g.c, &mut buf, x_range) };
            for (p, b) in flat_rows[0].iter_mut().zip(&buf) {
                *p = b.as_ptr();
            }
        }
        for p in 0..g.n.div_ceil(NR) {
            // SAFETY: the slices were checked against the shape above; the flat rows
            // hold `flat_k` bytes.
            unsafe {
                if rows > MT {
                    cx.panel::<MR, MR>(m0, rows, p, &mut ptrs, (&flat_rows, flat_k));
                } else {
                    cx.panel::<MR, MT>(m0, rows, p, &mut ptrs, (&flat_rows, flat_k));
                }
            }
        }
        m0 += rows;
    }
    Ok(())
}

/// The int8 conv constants of one call (slices checked by [`i8_conv`]).
struct I8Conv<L: I8Dot> {
    l: L,
    g: Geom,
    plan: RowPlan,
    x: *const i8,
    zero: *const i8,
    w: *const u8,
    panel_len: usize,
    epi: I8Epi<L>,
    y: *mut i8,
    flat: bool,
}

impl<L: I8Dot> I8Conv<L> {
    /// Output pixels `m0..m0 + rows` (`rows <= R <= MR`) × the 16 channels of panel
    /// `p`: an `R×16` tile over every tap (or over the gathered `flat` rows of
    /// `flat_k` bytes), then the epilogue.
    ///
    /// # Safety
    /// As [`F32Conv::panel`]; the flat rows hold `flat_k` bytes.
    #[inline(always)]
    unsafe fn panel<const MR: usize, const R: usize>(
        &self,
        m0: usize,
        rows: usize,
        p: usize,
        ptrs: &mut [[*const i8; MR]; MAX_TAPS],
        (flat_rows, flat_k): (&[[*const i8; MR]; 1], usize),
    ) {
        let (l, g) = (self.l, &self.g);
        let (n0, nc) = (p * NR, NR.min(g.n - p * NR));
        let group_bytes = g.c.div_ceil(4) * 4 * NR;
        // SAFETY: as in `F32Conv::panel`.
        unsafe {
            let panel = self.w.add(p * self.panel_len);
            let mut acc = [l.zero(); R];
            if self.flat {
                let w = panel.add(I8_CONV_HEADER).cast::<i8>();
                i8_tile(l, flat_rows, flat_k, w, &mut acc);
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
                    let w = panel.add(I8_CONV_HEADER + t0 * group_bytes).cast::<i8>();
                    i8_tile(l, &ptrs[..t1 - t0], g.c, w, &mut acc);
                    t0 = t1;
                }
            }
            let bias = l.load(panel.add(if L::U8_INPUT { 4 * NR } else { 0 }));
            let rq = l.rq(l.load(panel.add(8 * NR)), l.load(panel.add(12 * NR)));
            for (r, &a) in acc.iter().enumerate().take(rows) {
                let v = l.add(l.finish(a), bias);
                self.epi.store(l, v, &rq, self.y, (m0 + r) * g.n + n0, nc);
            }
        }
    }
}

/// Bytes of a gathered row of the flat int8 layout: `taps·C <= 3·MAX_TAPS`, plus
/// room for the last 4-byte copy.
const FLAT_K: usize = 3 * MAX_TAPS + 4;

/// Copies, for each of the `MR` pixels, the `c` inputs of each of the `taps` rows
/// into `buf[r]` (`k = tap·c + channel`), zeros up to the next multiple of 4. A row
/// inside `x` (`x.0..x.1`) with 4 readable bytes is copied as one 4-byte word (the
/// extra byte is overwritten by the next tap or zeroed).
///
/// # Safety
/// `ptrs[t][r]` holds `c` readable bytes for `t < taps`; `taps·c <= 3·MAX_TAPS`;
/// `x` is the input's address range.
#[inline(always)]
unsafe fn gather<const MR: usize>(
    ptrs: &[[*const i8; MR]; MAX_TAPS],
    taps: usize,
    c: usize,
    buf: &mut [[i8; FLAT_K]; MR],
    x: (*const i8, *const i8),
) {
    let k = taps * c;
    for (r, dst) in buf.iter_mut().enumerate() {
        let d = dst.as_mut_ptr();
        let mut at = 0;
        for row in &ptrs[..taps] {
            let src = row[r];
            // SAFETY: caller's contract; `at + 4 <= k + 3 < FLAT_K`.
            unsafe {
                if src >= x.0 && src.wrapping_add(4) <= x.1 {
                    let word = ptr::read_unaligned(src.cast::<u32>());
                    ptr::write_unaligned(d.add(at).cast::<u32>(), word);
                } else {
                    for j in 0..c {
                        *d.add(at + j) = *src.add(j);
                    }
                }
            }
            at += c;
        }
        dst[k..k.div_ceil(4) * 4].fill(0);
    }
}

/// The 4 bytes at `p`, or the first `n < 4` of them (zeros above), as a
/// little-endian quad.
///
/// # Safety
/// `p` points to `min(n, 4)` readable bytes.
#[inline(always)]
unsafe fn quad(p: *const i8, n: usize) -> u32 {
    // SAFETY: caller's contract.
    unsafe {
        if n >= 4 {
            ptr::read_unaligned(p.cast::<u32>())
        } else {
            let mut q = 0u32;
            for j in 0..n {
                q |= u32::from(*p.add(j) as u8) << (8 * j);
            }
            q
        }
    }
}

/// The R×16 int8 microkernel (`R <= MR`) over `rows.len()` taps of `c` channels each.
///
/// # Safety
/// Each row pointer holds `c` readable bytes; `w` holds the taps' weight groups.
#[inline(always)]
unsafe fn i8_tile<L: I8Dot, const MR: usize, const R: usize>(
    l: L,
    rows: &[[*const i8; MR]],
    c: usize,
    mut w: *const i8,
    acc: &mut [L::Acc; R],
) {
    let full = c / 4;
    let tail = c % 4;
    for a in rows {
        // SAFETY: caller's contract: quads `0..full` are inside each row, the tail
        // reads `tail` bytes, `w` advances by 64 bytes per group of the tap.
        unsafe {
            for q in 0..full {
                let b = l.b(w);
                for r in 0..R {
                    acc[r] = l.dot(acc[r], l.a(quad(a[r].add(4 * q), 4)), b);
                }
                w = w.add(4 * NR);
            }
            if tail != 0 {
                let b = l.b(w);
                for r in 0..R {
                    acc[r] = l.dot(acc[r], l.a(quad(a[r].add(4 * full), tail)), b);
                }
                w = w.add(4 * NR);
            }
        }
    }
}

// ---------------------------------------------------------------- depthwise

/// Checked depthwise geometry: `out_c == in_c`.
#[inline(always)]
fn dw_geom(s: &ConvShape) -> Result<Geom> {
    let g = Geom::new(s)?;
    if g.n != g.c {
        return Err(Error::Unsupported);
    }
    Ok(g)
}

/// The outputs `o0..o1` (of `out`) whose every tap reads inside `0..len`:
/// `o·s >= p` and `o·s + (k − 1)·d − p <= len − 1` (an interval).
#[inline]
pub(crate) fn interior(
    out: usize,
    s: usize,
    d: usize,
    p: usize,
    len: usize,
    k: usize,
) -> (usize, usize) {
    let o0 = p.div_ceil(s).min(out);
    let reach = (k - 1) * d;
    let o1 = if len + p > reach {
        (len + p - reach - 1) / s + 1
    } else {
        0
    };
    (o0, o1.clamp(o0, out))
}

/// The work of one depthwise kernel on output pixels, one 16-channel tile at a time.
trait DwKernel<T> {
    /// What the kernel keeps for a tile while it walks the pixels: its channels,
    /// bias, weights loaded once (the unrolled kernels' taps), requantization.
    type Tile;
    /// The constants of channel tile `ct`.
    fn tile(&self, ct: usize) -> Self::Tile;
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
const DW_PIXELS: usize = 4;

/// Taps of the largest unrolled depthwise kernel (5×5), whose weights a tile keeps.
const DW_UNROLLED: usize = 25;

/// Runs `k` on every output pixel, channel tile by channel tile (so a tile's
/// constants are prepared once per call): interior pixels of 3×3 and 5×5 kernels
/// with the taps unrolled, 4, 2 or 1 at a time, the others over their valid taps.
#[inline(always)]
fn dw_walk<T, K: DwKernel<T>>(g: &Geom, x: *const T, k: &K) {
    let (y0, y1) = interior(g.oh, g.sh, g.dh, g.pt, g.ih, g.kh);
    let (x0, x1) = interior(g.ow, g.sw, g.dw, g.pl, g.iw, g.kw);
    let unrolled = dw_unrolled(g);
    // Element offsets of the taps' input pixels from tap (0, 0)'s.
    let off = |t: usize| ((t / g.kw) * g.dh * g.iw + (t % g.kw) * g.dw) * g.c;
    let offs9: [usize; 9] = core::array::from_fn(off);
    let offs25: [usize; 25] = core::array::from_fn(off);
    let step = g.sw * g.c;
    for ct in 0..g.c.div_ceil(NR) {
        let t = k.tile(ct);
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
fn dw_unrolled(g: &Geom) -> bool {
    (g.kh, g.kw) == (3, 3) || (g.kh, g.kw) == (5, 5)
}

/// [`super::f32_dwconv`] on the primitives of `L`.
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
    let tile_len = super::pack::f32_dw_tile_len(g.taps).ok_or(Error::Unsupported)?;
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
/// unrolled kernels' weights.
struct DwF32Tile<V, E> {
    c0: usize,
    nc: usize,
    tile: *const E,
    bias: V,
    w: [V; DW_UNROLLED],
}

impl<L: F32Lanes, E: Packed> DwF32<L, E> {
    /// `nc` input channels at `p`.
    ///
    /// # Safety
    /// `p` holds `nc` readable f32.
    #[inline(always)]
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

    /// Clamp (and residual) of channels `c0..c0 + nc` of output pixel `o`.
    ///
    /// # Safety
    /// The channels are inside the output.
    #[inline(always)]
    unsafe fn store(&self, acc: L::V, o: usize, c0: usize, nc: usize) {
        let at = o * self.g.c + c0;
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
    type Tile = DwF32Tile<L::V, E>;

    #[inline(always)]
    fn tile(&self, ct: usize) -> Self::Tile {
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
            DwF32Tile {
                c0,
                nc: NR.min(self.g.c - c0),
                tile,
                bias: E::load16(l, tile),
                w,
            }
        }
    }

    #[inline(always)]
    fn full<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const f32,
        step: usize,
        offs: &[usize; N],
    ) {
        let l = self.l;
        let (c0, nc) = (tl.c0, tl.nc);
        // Fewer than 4 pixels: each pixel's taps alternate between two chains, so
        // that the multiply-adds do not all wait on one another.
        let split = P < DW_PIXELS;
        // SAFETY: `base + p·step + offs[t]` is an input pixel (`c` channels, of
        // which `c0..c0 + nc` are read); `N <= DW_UNROLLED`.
        unsafe {
            let mut acc = [[tl.bias, l.splat(0.0)]; P];
            let mut t = 0;
            while t < N {
                let w = tl.w[t];
                for (p, a) in acc.iter_mut().enumerate() {
                    a[0] = l.fma(self.x(base.add(p * step + offs[t] + c0), nc), w, a[0]);
                }
                if t + 1 < N {
                    let w = tl.w[t + 1];
                    for (p, a) in acc.iter_mut().enumerate() {
                        let xv = self.x(base.add(p * step + offs[t + 1] + c0), nc);
                        if split {
                            a[1] = l.fma(xv, w, a[1]);
                        } else {
                            a[0] = l.fma(xv, w, a[0]);
                        }
                    }
                }
                t += 2;
            }
            for (p, a) in acc.iter().enumerate() {
                let v = if split { l.add(a[0], a[1]) } else { a[0] };
                self.store(v, o + p, c0, nc);
            }
        }
    }

    #[inline(always)]
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
            self.store(l.add(a0, a1), o, c0, nc);
        }
    }
}

/// [`super::i8_dwconv`] on the primitives of `L`.
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
    let tile_len = super::pack::i8_dw_tile_len(g.taps).ok_or(Error::Unsupported)?;
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
    zp: L::V,
    epi: I8Epi<L>,
    y: *mut i8,
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
}

impl<L: I32Lanes> DwI8<L> {
    /// `acc + (x − zp)·w` over `nc` channels.
    ///
    /// # Safety
    /// `x` holds `nc` bytes.
    #[inline(always)]
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
    #[inline(always)]
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

    #[inline(always)]
    fn tile(&self, ct: usize) -> Self::Tile {
        let (l, g) = (self.l, &self.g);
        let c0 = ct * NR;
        // SAFETY: tile `ct` lies in the packed slice: the header, then `taps·16`
        // weights.
        unsafe {
            let tile = self.w.add(ct * self.tile_len);
            let wt = tile.add(I8_DW_HEADER).cast::<i8>();
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
                rq: l.rq(l.load(tile.add(4 * NR)), l.load(tile.add(8 * NR))),
                w,
            }
        }
    }

    #[inline(always)]
    fn full<const N: usize, const P: usize>(
        &self,
        tl: &Self::Tile,
        o: usize,
        base: *const i8,
        step: usize,
        offs: &[usize; N],
    ) {
        let (l, c) = (self.l, self.g.c);
        let (c0, nc) = (tl.c0, tl.nc);
        // SAFETY: as in `DwF32::full`.
        unsafe {
            let mut acc = [tl.folded; P];
            for (t, &off) in offs.iter().enumerate() {
                let w = tl.w[t];
                for (p, a) in acc.iter_mut().enumerate() {
                    *a = self.mac0(*a, base.add(p * step + off + c0), w, nc);
                }
            }
            for (p, &a) in acc.iter().enumerate() {
                self.epi.store(l, a, &tl.rq, self.y, (o + p) * c + c0, nc);
            }
        }
    }

    #[inline(always)]
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
            let wt = tl.tile.add(I8_DW_HEADER).cast::<i8>();
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

// ---------------------------------------------------------------- scalar requantization

/// The lane arithmetic of [`I32Lanes::mbqm`] in scalar form, written so that loops
/// over lanes vectorize (portable implementation): left shift `l`, rounding doubling
/// high multiply, rounding right shift `e` with ties away from zero.
///
/// `floor((a·m + 2^30) / 2^31)` is gemmlowp's nudge-and-truncate for both signs of
/// `a·m` (see `kernels::driver::requant_row`); the only overflow, `a = m = i32::MIN`,
/// is the only input giving `i32::MIN` and saturates to `i32::MAX`.
#[inline(always)]
pub(crate) fn mbqm_lane(a: i32, m: i32, l: u32, e: u32) -> i32 {
    let a = a.wrapping_shl(l);
    let q = ((i64::from(a) * i64::from(m) + (1 << 30)) >> 31) as i32;
    let q = if q == i32::MIN { i32::MAX } else { q };
    let mask = ((1u32 << e) - 1) as i32;
    let threshold = (mask >> 1) + i32::from(q < 0);
    (q >> e) + i32::from((q & mask) > threshold)
}

/// `(clamp(shift, 0, 31), clamp(-shift, 0, 31))`.
#[inline(always)]
pub(crate) fn shifts(shift: i32) -> (u32, u32) {
    (
        shift.clamp(0, 31) as u32,
        (-(shift.max(-31))).clamp(0, 31) as u32,
    )
}

/// [`mbqm_lane`] is [`fixed::multiply_by_quantized_multiplier`] (checked on corners).
#[cfg(test)]
pub(crate) fn mbqm_reference(a: i32, m: i32, s: i32) -> i32 {
    crate::kernels::fixed::multiply_by_quantized_multiplier(a, m, s)
}

// ---------------------------------------------------------------- entry points

/// Defines an ISA module's six kernels (`f32_conv`, `f32_dwconv`, `f16_conv`,
/// `f16_dwconv`, `i8_conv`, `i8_dwconv`) and its `Kernels` table: each runs the frame's driver with the token
/// inside a `#[target_feature(enable = ...)]` function (when features are given), or
/// returns `Error::Unsupported` when the CPU lacks them.
macro_rules! engine_kernels {
    (
        kernels: $table:ident, isa: $isa:expr, features: [$($f:literal)?],
        f32: ($ftok:ty, $fnew:expr, $fmr:literal, $fmt:literal, $fname:literal),
        f32_dw: $fdwname:literal,
        f16: ($f16name:literal, $f16dwname:literal),
        i8: ($itok:ty, $inew:expr, $imr:literal, $imt:literal, $iname:literal),
        i8_dw: ($dtok:ty, $dnew:expr, $idwname:literal) $(,)?
    ) => {
        fn f32_conv(
            s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[f32],
            out: &$crate::kernels::engine::F32Out, y: &mut [f32], scratch: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[f32],
                out: &$crate::kernels::engine::F32Out, y: &mut [f32], scratch: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::f32_conv::<_, f32, $fmr, $fmt>(t, s, x, packed, out, y, scratch) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f32_dwconv(
            s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[f32],
            out: &$crate::kernels::engine::F32Out, y: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[f32],
                out: &$crate::kernels::engine::F32Out, y: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::f32_dwconv::<_, f32>(t, s, x, packed, out, y) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f16_conv(
            s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[u16],
            out: &$crate::kernels::engine::F32Out, y: &mut [f32], scratch: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[u16],
                out: &$crate::kernels::engine::F32Out, y: &mut [f32], scratch: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::f32_conv::<_, u16, $fmr, $fmt>(t, s, x, packed, out, y, scratch) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f16_dwconv(
            s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[u16],
            out: &$crate::kernels::engine::F32Out, y: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::ConvShape, x: &[f32], packed: &[u16],
                out: &$crate::kernels::engine::F32Out, y: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::f32_dwconv::<_, u16>(t, s, x, packed, out, y) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn i8_conv(
            s: &$crate::kernels::engine::ConvShape, x: &[i8], x_zp: i32, packed: &[u8],
            out: &$crate::kernels::engine::I8Out, y: &mut [i8], scratch: &mut [i8],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            #[allow(clippy::too_many_arguments)]
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $itok, s: &$crate::kernels::engine::ConvShape, x: &[i8], x_zp: i32,
                packed: &[u8], out: &$crate::kernels::engine::I8Out, y: &mut [i8],
                scratch: &mut [i8],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::i8_conv::<_, $imr, $imt>(t, s, x, x_zp, packed, out, y, scratch) }
            }
            match $inew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn i8_dwconv(
            s: &$crate::kernels::engine::ConvShape, x: &[i8], x_zp: i32, packed: &[u8],
            out: &$crate::kernels::engine::I8Out, y: &mut [i8],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $dtok, s: &$crate::kernels::engine::ConvShape, x: &[i8], x_zp: i32,
                packed: &[u8], out: &$crate::kernels::engine::I8Out, y: &mut [i8],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::i8_dwconv(t, s, x, x_zp, packed, out, y) }
            }
            match $dnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        /// This module's kernels.
        pub(crate) const $table: $crate::kernels::engine::Kernels = $crate::kernels::engine::Kernels {
            isa: $isa,
            f32_conv: $crate::kernels::engine::Kernel { name: $fname, run: f32_conv },
            f32_dwconv: $crate::kernels::engine::Kernel { name: $fdwname, run: f32_dwconv },
            f16_conv: $crate::kernels::engine::Kernel { name: $f16name, run: f16_conv },
            f16_dwconv: $crate::kernels::engine::Kernel { name: $f16dwname, run: f16_dwconv },
            i8_conv: $crate::kernels::engine::Kernel { name: $iname, run: i8_conv },
            i8_dwconv: $crate::kernels::engine::Kernel { name: $idwname, run: i8_dwconv },
        };
    };
}
pub(crate) use engine_kernels;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbqm_lane_matches_the_reference() {
        let accs = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            100,
            -100,
            12_345,
            -12_345,
            1 << 20,
            -(1 << 20),
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
            0x4000_0000,
            -0x4000_0000,
        ];
        let multipliers = [
            0,
            1,
            -1,
            1 << 30,
            (1 << 30) + 12_345,
            i32::MAX,
            i32::MIN,
            -(1 << 30),
            1_518_500_250,
        ];
        for &a in &accs {
            for &m in &multipliers {
                for s in [-40, -32, -31, -30, -16, -9, -1, 0, 1, 2, 7, 30, 31, 32, 40] {
                    let (l, e) = shifts(s);
                    assert_eq!(
                        mbqm_lane(a, m, l, e),
                        mbqm_reference(a, m, s),
                        "{a} {m} {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn interior_is_the_interval_of_outputs_with_every_tap_inside() {
        for len in 0..7 {
            for p in 0..4 {
                for s in 1..4 {
                    for d in 1..4 {
                        for k in 1..5 {
                            let out = 8;
                            let (o0, o1) = interior(out, s, d, p, len, k);
                            for o in 0..out {
                                let all = valid_taps(o, s, d, p, len, k) == (0, k);
                                assert_eq!(all, (o0..o1).contains(&o), "{o} {s} {d} {p} {len} {k}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn valid_taps_is_the_interval_of_inside_taps() {
        for len in 0..6 {
            for p in 0..4 {
                for s in 1..4 {
                    for d in 1..4 {
                        for k in 1..5 {
                            for o in 0..6 {
                                let inside = |t: usize| {
                                    (o * s + t * d).checked_sub(p).is_some_and(|i| i < len)
                                };
                                let (k0, k1) = valid_taps(o, s, d, p, len, k);
                                for t in 0..k {
                                    assert_eq!(
                                        inside(t),
                                        (k0..k1).contains(&t),
                                        "{o} {s} {d} {p} {len} {k}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
