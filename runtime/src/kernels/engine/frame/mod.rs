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
//!
//! The primitives, geometry and indirection are here; the drivers are in `conv`
//! (f32/f16 and int8 conv) and `dwconv` (depthwise), the macro in `entry`.

#![allow(unsafe_code)]

mod conv;
mod dwconv;
mod entry;
mod gemv;

pub(crate) use conv::{f32_conv, i8_conv};
// The Cortex-M DSP kernels' own drivers reuse the flat gather and the checks.
#[cfg(any(ferrite_arm_dsp, test))]
pub(crate) use conv::{gather, i8_zero_point, quad, FLAT_K};
pub(crate) use dwconv::{f32_dwconv, i8_dwconv};
pub(crate) use entry::engine_kernels;
pub(crate) use gemv::f32_gemv;

use core::ptr;

use super::{ConvShape, NR};
use dwconv::interior;

use crate::{Error, Result};

/// Taps whose row pointers a conv tile keeps at once (stack: `MR × MAX_TAPS`
/// pointers); kernels with more taps are processed in chunks of this many.
pub(crate) const MAX_TAPS: usize = 64;

// ---------------------------------------------------------------- primitives

/// 16 f32 lanes of one ISA. A value of the implementing type proves that the CPU has
/// the instructions used (a token created after the feature check).
pub(crate) trait F32Lanes: Copy {
    type V: Copy;
    /// The f32 conv computes two 16-channel panels per tile (each broadcast input
    /// feeds two multiply-adds): for ISAs with registers for `2·MR` accumulators.
    const PANEL_PAIRS: bool = false;
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
pub(crate) struct RowPlan {
    y: (usize, usize),
    x: (usize, usize),
    offs: [usize; MAX_TAPS],
}

impl RowPlan {
    #[inline(always)]
    pub(crate) fn new(g: &Geom) -> Self {
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
pub(crate) fn build_rows<T, const MR: usize>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::corners::{ACC_CORNERS, MULTIPLIER_CORNERS};

    #[test]
    fn mbqm_lane_matches_the_reference() {
        let (accs, multipliers) = (ACC_CORNERS, MULTIPLIER_CORNERS);
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
