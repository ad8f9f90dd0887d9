//! The depthwise conv's fast channel group: 4 channels of a kernel with at most
//! [`FAST_TAPS`] taps, no residual Add, and requantizations the short epilogue
//! ([`FastRq`]) computes exactly.
//!
//! Per group, once: the weights sign-extended to halfword pairs on the stack (one
//! `LDRD` per tap instead of a load and two `SXTB16`), and the bias with the input
//! zero point folded in (`bias − x_zp·Σ w`), so that interior pixels multiply raw
//! input bytes (`SXTB16`, no `SXTAB16` offset). A 3×3 interior pixel is one `asm!`
//! block (9 × 8 instructions, the tap addresses from a row pointer and two
//! registers); border pixels add `(x − x_zp)·w` over their valid taps to the plain
//! bias, which is the reference's sum.

use super::super::frame::geom::{interior, valid_taps, Geom};
use super::super::types::NR;
use super::epi::FastRq;
#[cfg(not(ferrite_arm_dsp))]
use super::instr::{smlabb, smlatt, sxtab16, sxtab16_ror8};
use super::instr::{sxtb16, sxtb16_ror8, word};

/// Taps of the kernels the fast group takes (3×3 and smaller): its weight buffer
/// lives on the stack.
pub(super) const FAST_TAPS: usize = 9;

/// A fast channel group's constants.
pub(super) struct Group {
    /// Per tap, the 4 weights as `SXTB16 w` and `SXTB16 w, ROR #8`.
    pub(super) w: [u32; 2 * FAST_TAPS],
    /// The packed bias.
    pub(super) bias: [i32; 4],
    /// The bias less `x_zp·Σ_taps w` (interior pixels).
    pub(super) bias_in: [i32; 4],
    pub(super) rq: [FastRq; 4],
    /// The activation clamp, within `-128..=127` ([`super::epi::Epi::bounds`]).
    pub(super) bounds: (i32, i32),
}

/// The rows, columns and stepping of a call, for [`run_group`].
pub(super) struct Walk<'a> {
    pub(super) g: &'a Geom,
    /// The input and `−x_zp` in both halfwords.
    pub(super) x: *const i8,
    pub(super) neg_zp: u32,
}

impl Group {
    /// The group of 4 channels whose weights start at `w` (tap `t` at `w + 16·t`),
    /// `bias` and `(multiplier, shift)` pairs `rq`; `None` unless every channel's
    /// requantization has the short form.
    ///
    /// # Safety
    /// `w + 16·t` holds 4 readable bytes for every tap `t < taps <= FAST_TAPS`.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn new(
        w: *const u8,
        taps: usize,
        bias: [i32; 4],
        rq: [(i32, i32); 4],
        x_zp: i32,
        out_zp: i32,
        bounds: (i32, i32),
    ) -> Option<Self> {
        // The sum over the taps: `|Σ (x − x_zp)·w| <= taps·255·128`.
        let span = taps as i64 * 255 * 128;
        let mut fast = [FastRq { m: 0, hz: 0, e: 1 }; 4];
        for i in 0..4 {
            fast[i] = FastRq::new(rq[i].0, rq[i].1, out_zp, bias[i], span)?;
        }
        let mut ws = [0u32; 2 * FAST_TAPS];
        let mut bias_in = bias;
        for t in 0..taps {
            // SAFETY: caller's contract.
            let q = unsafe { word(w.add(t * NR)) };
            ws[2 * t] = sxtb16(q);
            ws[2 * t + 1] = sxtb16_ror8(q);
            for (i, b) in bias_in.iter_mut().enumerate() {
                *b = b.wrapping_sub(x_zp.wrapping_mul(i32::from((q >> (8 * i)) as u8 as i8)));
            }
        }
        Some(Group {
            w: ws,
            bias,
            bias_in,
            rq: fast,
            bounds,
        })
    }

    /// Requantizes and stores the 4 channels' accumulators at `y`.
    ///
    /// # Safety
    /// `y` holds 4 writable bytes.
    #[inline(always)]
    unsafe fn store(&self, acc: [i32; 4], y: *mut i8) {
        for (i, (&a, rq)) in acc.iter().zip(&self.rq).enumerate() {
            // SAFETY: caller's contract.
            unsafe { rq.store(a, self.bounds, y.add(i)) };
        }
    }
}

/// Every output pixel of one fast group: channels `c..c + 4` of the input and output.
///
/// # Safety
/// `walk.x` is the checked input, `y` the checked output of the call; `c + 4 <= C`.
pub(super) unsafe fn run_group(walk: &Walk, grp: &Group, c: usize, y: *mut i8) {
    let g = walk.g;
    let (x0, x1) = interior(g.ow, g.sw, g.dw, g.pl, g.iw, g.kw);
    let three = g.kh == 3 && g.kw == 3;
    // Tap (ky, kx) of an interior pixel reads `ky·row + kx·col` bytes after tap (0, 0).
    let (row, col) = (g.dh * g.iw * g.c, g.dw * g.c);
    for oy in 0..g.oh {
        let (ky0, ky1) = valid_taps(oy, g.sh, g.dh, g.pt, g.ih, g.kh);
        let (a, b) = if (ky0, ky1) == (0, g.kh) {
            (x0, x1)
        } else {
            (g.ow, g.ow)
        };
        for ox in 0..g.ow {
            // SAFETY: element `(oy·ow + ox)·C + c` starts 4 channels of the output.
            let yo = unsafe { y.add((oy * g.ow + ox) * g.c + c) };
            let acc = if (a..b).contains(&ox) {
                let iy = oy * g.sh - g.pt;
                let ix = ox * g.sw - g.pl;
                // SAFETY: every tap of this pixel reads 4 channels inside the input.
                unsafe {
                    let px = walk.x.add((iy * g.iw + ix) * g.c + c);
                    if three {
                        taps_3x3(grp.bias_in, px, col, row, &grp.w)
                    } else {
                        taps_raw(grp.bias_in, px, (g.kh, g.kw), (col, row), &grp.w)
                    }
                }
            } else {
                let kx = valid_taps(ox, g.sw, g.dw, g.pl, g.iw, g.kw);
                border(walk, grp, (oy, ox), (ky0, ky1), kx, c)
            };
            // SAFETY: `yo` holds the pixel's 4 channels.
            unsafe { grp.store(acc, yo) };
        }
    }
}

/// A pixel with taps in the padding: `bias + Σ (x − x_zp)·w` over the valid taps
/// `ky0..ky1 × kx0..kx1`, walked with a row and a column pointer.
#[inline(never)]
fn border(
    walk: &Walk,
    grp: &Group,
    (oy, ox): (usize, usize),
    (ky0, ky1): (usize, usize),
    (kx0, kx1): (usize, usize),
    c: usize,
) -> [i32; 4] {
    let g = walk.g;
    let mut acc = grp.bias;
    if ky0 >= ky1 || kx0 >= kx1 {
        return acc;
    }
    let (row, col) = (g.dh * g.iw * g.c, g.dw * g.c);
    let (iy, ix) = (oy * g.sh + ky0 * g.dh - g.pt, ox * g.sw + kx0 * g.dw - g.pl);
    // Input pixel `(iy, ix)` is tap `(ky0, kx0)`'s, inside the input (valid taps).
    let mut p = walk.x.wrapping_add((iy * g.iw + ix) * g.c + c);
    let mut wt = grp.w[2 * (ky0 * g.kw + kx0)..].as_ptr();
    for _ in ky0..ky1 {
        let (mut q, mut wq) = (p, wt);
        for _ in kx0..kx1 {
            // SAFETY: `q` is a valid tap's input pixel (channels `c..c + 4` readable),
            // `wq` its 2 extended weight words inside `grp.w` (tap `< taps`).
            unsafe {
                acc = mac_offset(acc, word(q), *wq, *wq.add(1), walk.neg_zp);
                q = q.wrapping_add(col);
                wq = wq.add(2);
            }
        }
        p = p.wrapping_add(row);
        wt = wt.wrapping_add(2 * g.kw);
    }
    acc
}

/// `acc[i] += (x_i − x_zp)·w_i` for the input word `q`, the extended weights `we`,
/// `wo` and `neg_zp` (`−x_zp` in both halfwords).
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
fn mac_offset(acc: [i32; 4], q: u32, we: u32, wo: u32, neg_zp: u32) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: register arithmetic only.
    unsafe {
        core::arch::asm!(
            "sxtab16 {qe}, {z}, {q}",
            "sxtab16 {q}, {z}, {q}, ror #8",
            "smlabb {a0}, {qe}, {we}, {a0}",
            "smlatt {a2}, {qe}, {we}, {a2}",
            "smlabb {a1}, {q}, {wo}, {a1}",
            "smlatt {a3}, {q}, {wo}, {a3}",
            z = in(reg) neg_zp,
            q = inout(reg) q => _,
            we = in(reg) we,
            wo = in(reg) wo,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            qe = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    [a0, a1, a2, a3]
}

/// [`mac_offset`] with the instructions' Rust models (host unit tests).
#[cfg(not(ferrite_arm_dsp))]
fn mac_offset(acc: [i32; 4], q: u32, we: u32, wo: u32, neg_zp: u32) -> [i32; 4] {
    let (qe, qo) = (sxtab16(neg_zp, q), sxtab16_ror8(neg_zp, q));
    [
        smlabb(qe, we, acc[0]),
        smlabb(qo, wo, acc[1]),
        smlatt(qe, we, acc[2]),
        smlatt(qo, wo, acc[3]),
    ]
}

/// `acc[i] += x_i·w_i` (raw input bytes) for the input word `q`.
#[cfg(not(ferrite_arm_dsp))]
fn mac_raw(acc: [i32; 4], q: u32, we: u32, wo: u32) -> [i32; 4] {
    let (qe, qo) = (sxtb16(q), sxtb16_ror8(q));
    [
        smlabb(qe, we, acc[0]),
        smlabb(qo, wo, acc[1]),
        smlatt(qe, we, acc[2]),
        smlatt(qo, wo, acc[3]),
    ]
}

/// `acc[i] += x_i·w_i` (raw input bytes) for the input word `q`.
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
fn mac_raw(acc: [i32; 4], q: u32, we: u32, wo: u32) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: register arithmetic only.
    unsafe {
        core::arch::asm!(
            "sxtb16 {qe}, {q}",
            "sxtb16 {q}, {q}, ror #8",
            "smlabb {a0}, {qe}, {we}, {a0}",
            "smlatt {a2}, {qe}, {we}, {a2}",
            "smlabb {a1}, {q}, {wo}, {a1}",
            "smlatt {a3}, {q}, {wo}, {a3}",
            q = inout(reg) q => _,
            we = in(reg) we,
            wo = in(reg) wo,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            qe = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    [a0, a1, a2, a3]
}

/// The taps of an interior pixel of a `kh × kw` kernel: tap `(ky, kx)` reads
/// `px + ky·row + kx·col`.
///
/// # Safety
/// Every tap's 4 bytes are readable; `kh·kw <= FAST_TAPS`.
#[inline(always)]
unsafe fn taps_raw(
    mut acc: [i32; 4],
    px: *const i8,
    (kh, kw): (usize, usize),
    (col, row): (usize, usize),
    w: &[u32; 2 * FAST_TAPS],
) -> [i32; 4] {
    for ky in 0..kh {
        for kx in 0..kw {
            let t = ky * kw + kx;
            // SAFETY: caller's contract.
            let q = unsafe { word(px.add(ky * row + kx * col)) };
            acc = mac_raw(acc, q, w[2 * t], w[2 * t + 1]);
        }
    }
    acc
}

/// [`taps_raw`] for a 3×3 kernel (the host model: the same sums).
///
/// # Safety
/// As [`taps_raw`].
#[cfg(not(ferrite_arm_dsp))]
unsafe fn taps_3x3(
    acc: [i32; 4],
    px: *const i8,
    col: usize,
    row: usize,
    w: &[u32; 2 * FAST_TAPS],
) -> [i32; 4] {
    // SAFETY: caller's contract.
    unsafe { taps_raw(acc, px, (3, 3), (col, row), w) }
}

/// [`taps_raw`] for a 3×3 kernel, one `asm!` block: per tap an `LDR` of the input
/// word (`[r]`, `[r, col]`, `[r, col, LSL #1]`; `r` advances `row` per kernel row),
/// an `LDRD` of the extended weights, two `SXTB16`, two `SMLABB` and two `SMLATT`.
///
/// # Safety
/// As [`taps_raw`].
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
unsafe fn taps_3x3(
    acc: [i32; 4],
    px: *const i8,
    col: usize,
    row: usize,
    w: &[u32; 2 * FAST_TAPS],
) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: caller's contract: the 9 loads read the pixel's taps, the weight loads
    // the 18 words of `w`.
    unsafe {
        core::arch::asm!(
            ".irp o, 0, 24, 48",
            "ldr {q}, [{r}]",
            "ldrd {we}, {wo}, [{w}, #\\o]",
            "sxtb16 {qo}, {q}, ror #8",
            "sxtb16 {q}, {q}",
            "smlabb {a0}, {q}, {we}, {a0}",
            "smlatt {a2}, {q}, {we}, {a2}",
            "smlabb {a1}, {qo}, {wo}, {a1}",
            "smlatt {a3}, {qo}, {wo}, {a3}",
            "ldr {q}, [{r}, {col}]",
            "ldrd {we}, {wo}, [{w}, #(\\o + 8)]",
            "sxtb16 {qo}, {q}, ror #8",
            "sxtb16 {q}, {q}",
            "smlabb {a0}, {q}, {we}, {a0}",
            "smlatt {a2}, {q}, {we}, {a2}",
            "smlabb {a1}, {qo}, {wo}, {a1}",
            "smlatt {a3}, {qo}, {wo}, {a3}",
            "ldr {q}, [{r}, {col}, lsl #1]",
            "ldrd {we}, {wo}, [{w}, #(\\o + 16)]",
            "sxtb16 {qo}, {q}, ror #8",
            "sxtb16 {q}, {q}",
            "smlabb {a0}, {q}, {we}, {a0}",
            "smlatt {a2}, {q}, {we}, {a2}",
            "smlabb {a1}, {qo}, {wo}, {a1}",
            "smlatt {a3}, {qo}, {wo}, {a3}",
            "add {r}, {r}, {row}",
            ".endr",
            r = inout(reg) px => _,
            col = in(reg) col,
            row = in(reg) row,
            w = in(reg) w.as_ptr(),
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            q = out(reg) _,
            qo = out(reg) _,
            we = out(reg) _,
            wo = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    [a0, a1, a2, a3]
}
