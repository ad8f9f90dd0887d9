//! The int8 depthwise conv: `SXTAB16` + `SMLABB`/`SMLATT`, 4 channels per word.

use super::super::frame::geom::{need, valid_taps, Geom, MAX_TAPS};
use super::super::frame::{i8_zero_point, quad};
use super::super::pack::i8_dw_tile_len;
use super::super::types::{ConvShape, I8Out, NR};
use super::instr::{header, header_rq, word};
use crate::{Error, Result};
// The modelled instructions of the host build (a DSP build runs `asm!` blocks).
use super::dwfast::{run_group, Group, Walk, FAST_TAPS};
use super::epi::{Epi, Rq};
#[cfg(not(ferrite_arm_dsp))]
use super::instr::{smlabb, smlatt, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8};

/// [`crate::kernels::engine::i8_dwconv`], 4 channels at a time.
pub(super) fn i8_dwconv(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    if g.n != g.c {
        return Err(Error::Unsupported);
    }
    let zp = i32::from(i8_zero_point(x_zp)?);
    let tile_len = i8_dw_tile_len(out.header, g.taps).ok_or(Error::Unsupported)?;
    need(g.in_len, x.len())?;
    need(g.c.div_ceil(NR) * tile_len, packed.len())?;
    need(g.out_len, y.len())?;
    if let Some(r) = &out.residual {
        need(g.out_len, r.input.len())?;
    }
    let epi = Epi::new(out);
    // `−x_zp` in both halfwords, for SXTAB16.
    let neg_zp = u32::from((-zp) as u16) * 0x0001_0001;
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let walk = Walk {
        g: &g,
        x: xp,
        neg_zp,
    };
    // Element offset of each tap's input from tap (0, 0)'s (interior pixels).
    let mut offs = [0usize; MAX_TAPS];
    for (t, o) in offs.iter_mut().enumerate().take(g.taps) {
        *o = ((t / g.kw) * g.dh * g.iw + (t % g.kw) * g.dw) * g.c;
    }
    for ct in 0..g.c.div_ceil(NR) {
        let c0 = ct * NR;
        let nc = NR.min(g.c - c0);
        // SAFETY: tile `ct` lies inside the checked packed slice.
        let tile = unsafe { packed.as_ptr().add(ct * tile_len) };
        for cg in (0..nc).step_by(4) {
            let cnt = 4.min(nc - cg);
            // SAFETY: the header (of the form `out.header`) holds 16 channels and
            // `cg + 3 < 16`.
            let (bias, rq) = unsafe {
                let b = [0, 1, 2, 3].map(|i| header(tile, cg + i));
                let at = out.header.dw_rq_at();
                let rq = [0, 1, 2, 3].map(|i| header_rq(out.header, tile, at, cg + i));
                (b, rq)
            };
            let w = tile.wrapping_add(out.header.dw_len() + cg);
            if cnt == 4 && g.taps <= FAST_TAPS && out.residual.is_none() {
                let bounds = epi.bounds();
                // SAFETY: the tile holds the group's weights of every tap.
                if let Some(grp) =
                    unsafe { Group::new(w, g.taps, bias, rq, zp, out.zero_point, bounds) }
                {
                    // SAFETY: the input and output were checked; `c0 + cg + 4 <= C`.
                    unsafe { run_group(&walk, &grp, c0 + cg, yp) };
                    continue;
                }
            }
            let rq = rq.map(|(m, s)| Rq::new(m, s));
            for oy in 0..g.oh {
                let (ky0, ky1) = valid_taps(oy, g.sh, g.dh, g.pt, g.ih, g.kh);
                for ox in 0..g.ow {
                    let (kx0, kx1) = valid_taps(ox, g.sw, g.dw, g.pl, g.iw, g.kw);
                    let mut acc = bias;
                    if cnt == 4 && (ky0, ky1, kx0, kx1) == (0, g.kh, 0, g.kw) && g.taps <= MAX_TAPS
                    {
                        // Every tap inside: tap (0, 0)'s input plus the tap offsets.
                        let iy = oy * g.sh - g.pt;
                        let ix = ox * g.sw - g.pl;
                        // SAFETY: every tap of this pixel reads inside the input; the
                        // weights of the taps lie inside the tile.
                        unsafe {
                            let px = xp.add((iy * g.iw + ix) * g.c + c0 + cg);
                            acc = if g.taps == 9 {
                                dw_taps::<9>(acc, px, &offs, w, neg_zp)
                            } else {
                                dw_taps_n(acc, px, &offs[..g.taps], w, neg_zp)
                            };
                        }
                    } else {
                        acc = dw_border(
                            &g,
                            (oy, ox),
                            (ky0, ky1),
                            (kx0, kx1),
                            (xp, c0 + cg, cnt),
                            w,
                            neg_zp,
                            acc,
                        );
                    }
                    let at = (oy * g.ow + ox) * g.c + c0 + cg;
                    // SAFETY: output (and residual) elements `at..at + cnt` are channels
                    // of this pixel.
                    unsafe {
                        if cnt == 4 {
                            // Unrolled: the accumulators stay in registers.
                            for i in 0..4 {
                                epi.store(acc[i], rq[i], yp, at + i);
                            }
                        } else {
                            for i in 0..cnt {
                                epi.store(acc[i], rq[i], yp, at + i);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// One tap of a 4-channel depthwise group: the input word `q`, the weight word `wq`:
/// `acc[i] += (x_i − x_zp)·w_i` (`neg_zp`: `−x_zp` in both halfwords).
///
/// One `asm!` block, so that the compiler keeps each tap's 8 instructions together
/// instead of hoisting every tap's loads and extensions (which spills).
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
pub(super) fn dw_mac(acc: [i32; 4], q: u32, wq: u32, neg_zp: u32) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: register arithmetic only.
    unsafe {
        core::arch::asm!(
            "sxtab16 {qe}, {z}, {q}",
            "sxtab16 {qo}, {z}, {q}, ror #8",
            "sxtb16 {we}, {w}",
            "sxtb16 {wo}, {w}, ror #8",
            "smlabb {a0}, {qe}, {we}, {a0}",
            "smlabb {a1}, {qo}, {wo}, {a1}",
            "smlatt {a2}, {qe}, {we}, {a2}",
            "smlatt {a3}, {qo}, {wo}, {a3}",
            z = in(reg) neg_zp,
            q = in(reg) q,
            w = in(reg) wq,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            qe = out(reg) _,
            qo = out(reg) _,
            we = out(reg) _,
            wo = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    [a0, a1, a2, a3]
}

/// [`dw_mac`] with the instructions' Rust models (host unit tests).
#[cfg(not(ferrite_arm_dsp))]
pub(super) fn dw_mac(acc: [i32; 4], q: u32, wq: u32, neg_zp: u32) -> [i32; 4] {
    let (qe, qo) = (sxtab16(neg_zp, q), sxtab16_ror8(neg_zp, q));
    let (we, wo) = (sxtb16(wq), sxtb16_ror8(wq));
    [
        smlabb(qe, we, acc[0]),
        smlabb(qo, wo, acc[1]),
        smlatt(qe, we, acc[2]),
        smlatt(qo, wo, acc[3]),
    ]
}

/// The `N` taps (unrolled) of an interior pixel: tap `t` reads `px + offs[t]` and the
/// weights at `w + 16·t`.
///
/// # Safety
/// Each `px + offs[t]` holds 4 readable bytes, `w` the taps' weights.
#[inline(always)]
pub(super) unsafe fn dw_taps<const N: usize>(
    mut acc: [i32; 4],
    px: *const i8,
    offs: &[usize; MAX_TAPS],
    w: *const u8,
    neg_zp: u32,
) -> [i32; 4] {
    for (t, &o) in offs.iter().enumerate().take(N) {
        // SAFETY: caller's contract.
        acc = unsafe { dw_mac(acc, word(px.add(o)), word(w.add(t * NR)), neg_zp) };
    }
    acc
}

/// [`dw_taps`] for any number of taps.
///
/// # Safety
/// As [`dw_taps`].
#[inline(always)]
pub(super) unsafe fn dw_taps_n(
    mut acc: [i32; 4],
    px: *const i8,
    offs: &[usize],
    w: *const u8,
    neg_zp: u32,
) -> [i32; 4] {
    for (t, &o) in offs.iter().enumerate() {
        // SAFETY: caller's contract.
        acc = unsafe { dw_mac(acc, word(px.add(o)), word(w.add(t * NR)), neg_zp) };
    }
    acc
}

/// A pixel with taps in the padding (or a group of fewer than 4 channels): the valid
/// taps `ky0..ky1 × kx0..kx1`, `cnt` channels from element `c` of each input pixel.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn dw_border(
    g: &Geom,
    (oy, ox): (usize, usize),
    (ky0, ky1): (usize, usize),
    (kx0, kx1): (usize, usize),
    (xp, c, cnt): (*const i8, usize, usize),
    w: *const u8,
    neg_zp: u32,
    mut acc: [i32; 4],
) -> [i32; 4] {
    for ky in ky0..ky1 {
        let iy = oy * g.sh + ky * g.dh - g.pt;
        for kx in kx0..kx1 {
            let ix = ox * g.sw + kx * g.dw - g.pl;
            // SAFETY: `(iy, ix)` is inside the input (valid taps), its channels `c..`
            // hold `cnt` bytes; the tap's 4 weights lie inside the tile.
            unsafe {
                let at = xp.add((iy * g.iw + ix) * g.c + c);
                let q = if cnt == 4 { word(at) } else { quad(at, cnt) };
                acc = dw_mac(acc, q, word(w.add((ky * g.kw + kx) * NR)), neg_zp);
            }
        }
    }
    acc
}
