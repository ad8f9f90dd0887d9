//! The frame's shared geometry: [`Geom`] (a checked `ConvShape`), tap and interior
//! ranges, the row-pointer plan of the conv kernels, and scalar requantization.

#![allow(unsafe_code)]

use crate::kernels::engine::types::ConvShape;
use crate::{Error, Result};

/// Taps whose row pointers a conv tile keeps at once (stack: `MR × MAX_TAPS`
/// pointers); kernels with more taps are processed in chunks of this many.
pub(crate) const MAX_TAPS: usize = 64;

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
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
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
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
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
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
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
