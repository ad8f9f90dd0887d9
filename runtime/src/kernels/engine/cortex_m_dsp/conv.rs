//! The int8 conv (k×k and 1×1 as GEMM): 2 output channels × 2 pixels per `SMLAD` block.

use super::super::frame::geom::{build_rows, Geom, RowPlan, MAX_TAPS};
use super::super::frame::{gather, i8_conv_operands, quad, FLAT_K};
use super::super::pack::i8_flat;
use super::super::types::{ConvShape, I8Header, I8Out, NR};
use super::epi::{Epi, FastRq, Rq};
use super::instr::{header, header_rq, smlad, sxtb16, sxtb16_ror8, word};
use crate::Result;
use core::ptr;

/// [`crate::kernels::engine::i8_conv`] with 2×2 `SMLAD` blocks.
#[allow(clippy::too_many_arguments)]
pub(super) fn i8_conv(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    // Two instances, so that the common case's loop carries no test of the chunking.
    if g.taps > MAX_TAPS {
        conv::<true>(g, x, x_zp, packed, out, y, scratch)
    } else {
        conv::<false>(g, x, x_zp, packed, out, y, scratch)
    }
}

#[allow(clippy::too_many_arguments)]
fn conv<const CHUNKED: bool>(
    g: Geom,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let (panel_len, zero) = i8_conv_operands(&g, x, x_zp, packed, out, y.len(), scratch)?;
    let xp = x.as_ptr();
    let plan = RowPlan::new(&g);
    let epi = Epi::new(out);
    let flat = i8_flat(g.taps, g.c);
    // The microkernel's view: `taps` rows of `c` bytes, `group_bytes` of weights per
    // row. The flat layout is one gathered row of `taps·C` bytes (zero-padded to a
    // multiple of 4).
    let (taps, c) = if flat {
        (1, (g.taps * g.c).div_ceil(4) * 4)
    } else {
        (g.taps, g.c)
    };
    let group_bytes = c.div_ceil(4) * 4 * NR;
    // The block's sums of raw products: `|Σ x·w| <= taps·c·128·128` (`c` rounded up).
    let span = (taps * group_bytes / NR) as i64 * 128 * 128;
    let bounds = epi.bounds();
    let zp = out.zero_point;
    let fast = out.residual.is_none()
        && (0..g.n.div_ceil(NR)).all(|p| {
            // SAFETY: panel `p` lies inside the checked packed slice.
            fast_panel(
                unsafe { packed.as_ptr().add(p * panel_len) },
                out.header,
                NR.min(g.n - p * NR),
                zp,
                span,
            )
        });
    let mut ptrs = [[ptr::null::<i8>(); 2]; MAX_TAPS];
    let mut buf = [[0i8; FLAT_K]; 2];
    let x_range = (xp, xp.wrapping_add(x.len()));
    let yp = y.as_mut_ptr();
    // A kernel with more than `MAX_TAPS` taps (never flat) sums the blocks of chunks of
    // `MAX_TAPS` taps, rebuilding the rows of each chunk: i32 sums wrap like one block.
    let chunked = CHUNKED;
    let mut m0 = 0;
    while m0 < g.pixels {
        let rows = 2.min(g.pixels - m0);
        // A last single pixel is computed twice (row 1 repeats row 0), stored once.
        if !chunked {
            build_rows(&g, &plan, xp, zero, (m0, rows), (0, g.taps), &mut ptrs);
        }
        if flat {
            // SAFETY: the rows hold `C` readable bytes each; `taps·C <= 3·MAX_TAPS`.
            unsafe { gather(&ptrs, g.taps, g.c, &mut buf, x_range) };
            ptrs[0] = [buf[0].as_ptr(), buf[1].as_ptr()];
        }
        for p in 0..g.n.div_ceil(NR) {
            let (n0, nc) = (p * NR, NR.min(g.n - p * NR));
            // SAFETY: panel `p` lies inside the checked packed slice; its header (of
            // the form `h`) holds 16 channels.
            let panel = unsafe { packed.as_ptr().add(p * panel_len) };
            let (h, rq_at) = (out.header, out.header.conv_rq_at());
            let bias = |j: usize| unsafe { header(panel, j) };
            let rq = |j: usize| unsafe {
                let (m, s) = header_rq(h, panel, rq_at, j);
                Rq::new(m, s)
            };
            for j in (0..nc).step_by(2) {
                // SAFETY: the weights of channel pair `j` start inside the panel
                // (`j + 1 < 16`).
                let w = unsafe { panel.add(h.conv_len() + 4 * j).cast::<i8>() };
                let acc = if chunked {
                    let mut acc = [[0i32; 2]; 2];
                    let mut t0 = 0;
                    while t0 < g.taps {
                        let t1 = (t0 + MAX_TAPS).min(g.taps);
                        build_rows(&g, &plan, xp, zero, (m0, rows), (t0, t1), &mut ptrs);
                        // SAFETY: as below, for the rows and weight groups of taps
                        // `t0..t1`.
                        let part = unsafe {
                            block_2x2(&ptrs[..t1 - t0], c, w.add(t0 * group_bytes), group_bytes)
                        };
                        for (a, p) in acc.iter_mut().flatten().zip(part.iter().flatten()) {
                            *a = a.wrapping_add(*p);
                        }
                        t0 = t1;
                    }
                    acc
                } else {
                    // SAFETY: the rows hold `c` readable bytes each; the weights of
                    // channel pair `j` at every tap's groups lie inside the panel.
                    unsafe { block_2x2(&ptrs[..taps], c, w, group_bytes) }
                };
                if fast {
                    // Each channel's requantization and bias read once for both pixels
                    // (the stores through `yp` would otherwise make the compiler read
                    // the header again per pixel).
                    let rq = |j: usize| unsafe {
                        let (m, s) = header_rq(h, panel, rq_at, j);
                        (FastRq::accepted(m, s, zp), bias(j))
                    };
                    let (q0, b0) = rq(j);
                    let second = (j + 1 < nc).then(|| rq(j + 1));
                    for (r, acc) in acc.iter().enumerate().take(rows) {
                        let at = (m0 + r) * g.n + n0 + j;
                        // SAFETY: as below.
                        unsafe {
                            q0.store(acc[0].wrapping_add(b0), bounds, yp.add(at));
                            if let Some((q1, b1)) = second {
                                q1.store(acc[1].wrapping_add(b1), bounds, yp.add(at + 1));
                            }
                        }
                    }
                    continue;
                }
                for (r, acc) in acc.iter().enumerate().take(rows) {
                    let at = (m0 + r) * g.n + n0 + j;
                    // SAFETY: output (and residual) element `at` (+1) is inside the
                    // checked slices; channel `j + 1` only when it exists.
                    unsafe {
                        epi.store(acc[0].wrapping_add(bias(j)), rq(j), yp, at);
                        if j + 1 < nc {
                            epi.store(acc[1].wrapping_add(bias(j + 1)), rq(j + 1), yp, at + 1);
                        }
                    }
                }
            }
        }
        m0 += rows;
    }
    Ok(())
}

/// Whether each of a panel's `nc` channels has the short requantization
/// ([`FastRq::new`]); `span` bounds the block's sums.
pub(super) fn fast_panel(panel: *const u8, h: I8Header, nc: usize, zp: i32, span: i64) -> bool {
    (0..nc).all(|j| {
        // SAFETY: the panel's header (of the form `h`) holds 16 channels, `j < 16`.
        let (b, (m, s)) = unsafe { (header(panel, j), header_rq(h, panel, h.conv_rq_at(), j)) };
        FastRq::new(m, s, zp, b, span).is_some()
    })
}

/// `acc[r][ch] = Σ_{tap, k} row[tap][r][k] · w[tap][k][ch]` for 2 pixels `r` and the
/// 2 channels whose `c4` weights start at `w` (channel 1 four bytes after channel 0;
/// the next group of 4 input channels 64 bytes further, the next tap `group_bytes`).
///
/// # Safety
/// Each row pointer holds `c` readable bytes; `w` holds the groups of every tap.
#[inline(always)]
pub(super) unsafe fn block_2x2(
    rows: &[[*const i8; 2]],
    c: usize,
    w: *const i8,
    group_bytes: usize,
) -> [[i32; 2]; 2] {
    let (full, tail) = (c / 4, c % 4);
    let (mut a00, mut a01, mut a10, mut a11) = (0i32, 0i32, 0i32, 0i32);
    let mut wt = w;
    for row in rows {
        // SAFETY: caller's contract: quads `0..full` lie inside each row, the tail
        // reads `tail` bytes; the weights advance 64 bytes per group.
        unsafe {
            let (mut x0, mut x1, mut wp) = (row[0], row[1], wt);
            if full > 0 {
                let end = x0.add(4 * full);
                (x0, x1, wp) =
                    groups_2x2([x0, x1], end, wp, [&mut a00, &mut a01, &mut a10, &mut a11]);
            }
            if tail != 0 {
                let w0 = word(wp);
                let w1 = word(wp.add(4));
                let (w0e, w0o) = (sxtb16(w0), sxtb16_ror8(w0));
                let (w1e, w1o) = (sxtb16(w1), sxtb16_ror8(w1));
                let q = quad(x0, tail);
                let (qe, qo) = (sxtb16(q), sxtb16_ror8(q));
                a00 = smlad(qo, w0o, smlad(qe, w0e, a00));
                a01 = smlad(qo, w1o, smlad(qe, w1e, a01));
                let q = quad(x1, tail);
                let (qe, qo) = (sxtb16(q), sxtb16_ror8(q));
                a10 = smlad(qo, w0o, smlad(qe, w0e, a10));
                a11 = smlad(qo, w1o, smlad(qe, w1e, a11));
            }
            wt = wt.add(group_bytes);
        }
    }
    [[a00, a01], [a10, a11]]
}

/// The 2×2 block's loop over groups of 4 input channels, from `x[0]` up to `end`
/// (at least one group): per group, the words of the 2 pixels and of the 2 channels
/// (`w`, `w + 4`), 6 `SXTB16` and 8 `SMLAD` (16 multiply-adds in 21 instructions).
/// Returns the advanced pointers.
///
/// Written as one `asm!` block so that nothing spills: the pointers, the 4
/// accumulators and 6 temporaries take the 13 registers `asm!` allocates on Thumb
/// (all but r7, the frame pointer); `end` waits on the stack (one load per group).
///
/// # Safety
/// `end = x[0] + 4·g` with `g >= 1`; `x[0]` and `x[1]` hold `4·g` readable bytes, `w`
/// the `g` groups of 64 bytes.
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
pub(super) unsafe fn groups_2x2(
    x: [*const i8; 2],
    end: *const i8,
    w: *const i8,
    acc: [&mut i32; 4],
) -> (*const i8, *const i8, *const i8) {
    let [a00, a01, a10, a11] = acc;
    let (mut x0, mut x1, mut w) = (x[0], x[1], w);
    // SAFETY: caller's contract: the loads stay inside the rows and the groups; the
    // stack pointer is back where it was.
    unsafe {
        core::arch::asm!(
            "push {{{t}}}",
            "2:",
            "ldr {q0}, [{x0}], #4",
            "ldr {q1}, [{x1}], #4",
            "ldr {t}, [{w}, #4]",
            "sxtb16 {pe}, {q0}",
            "sxtb16 {q0}, {q0}, ror #8",
            "sxtb16 {qe}, {q1}",
            "sxtb16 {q1}, {q1}, ror #8",
            "sxtb16 {u}, {t}",
            "sxtb16 {t}, {t}, ror #8",
            "smlad {a01}, {pe}, {u}, {a01}",
            "smlad {a11}, {qe}, {u}, {a11}",
            "smlad {a01}, {q0}, {t}, {a01}",
            "smlad {a11}, {q1}, {t}, {a11}",
            "ldr {t}, [{w}], #64",
            "sxtb16 {u}, {t}",
            "sxtb16 {t}, {t}, ror #8",
            "smlad {a00}, {pe}, {u}, {a00}",
            "smlad {a10}, {qe}, {u}, {a10}",
            "smlad {a00}, {q0}, {t}, {a00}",
            "smlad {a10}, {q1}, {t}, {a10}",
            "ldr {t}, [sp]",
            "cmp {x0}, {t}",
            "bne 2b",
            "add sp, sp, #4",
            x0 = inout(reg) x0,
            x1 = inout(reg) x1,
            w = inout(reg) w,
            a00 = inout(reg) *a00,
            a01 = inout(reg) *a01,
            a10 = inout(reg) *a10,
            a11 = inout(reg) *a11,
            q0 = out(reg) _,
            q1 = out(reg) _,
            t = inout(reg) end => _,
            u = out(reg) _,
            pe = out(reg) _,
            qe = out(reg) _,
        );
    }
    (x0, x1, w)
}

/// [`groups_2x2`] with the instructions' Rust models (host unit tests).
///
/// # Safety
/// As [`groups_2x2`].
#[cfg(not(ferrite_arm_dsp))]
pub(super) unsafe fn groups_2x2(
    x: [*const i8; 2],
    end: *const i8,
    w: *const i8,
    acc: [&mut i32; 4],
) -> (*const i8, *const i8, *const i8) {
    let [a00, a01, a10, a11] = acc;
    let (mut x0, mut x1, mut w) = (x[0], x[1], w);
    // SAFETY: caller's contract.
    unsafe {
        while x0 != end {
            let (w0, w1) = (word(w), word(w.add(4)));
            let (w0e, w0o, w1e, w1o) = (sxtb16(w0), sxtb16_ror8(w0), sxtb16(w1), sxtb16_ror8(w1));
            let (p, q) = (word(x0), word(x1));
            let (pe, po, qe, qo) = (sxtb16(p), sxtb16_ror8(p), sxtb16(q), sxtb16_ror8(q));
            *a00 = smlad(po, w0o, smlad(pe, w0e, *a00));
            *a01 = smlad(po, w1o, smlad(pe, w1e, *a01));
            *a10 = smlad(qo, w0o, smlad(qe, w0e, *a10));
            *a11 = smlad(qo, w1o, smlad(qe, w1e, *a11));
            x0 = x0.add(4);
            x1 = x1.add(4);
            w = w.add(4 * NR);
        }
    }
    (x0, x1, w)
}
