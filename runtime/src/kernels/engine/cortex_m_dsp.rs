//! Cortex-M DSP extension (Cortex-M4/M7, and M33/M35P/M55/M85 built for their CPU):
//! the int8 conv and depthwise kernels with `SMLAD` (two 16×16 multiply-adds into an
//! i32 accumulator per instruction), `SXTB16` / `SXTAB16` (two bytes sign-extended to
//! two halfwords, optionally plus two halfword offsets), `SMLABB` / `SMLATT`. The f32
//! kernels are the portable ones.
//!
//! Compiled in when the build script sets `cfg(ferrite_arm_dsp)` (stable Rust does not
//! expose `target_feature = "dsp"` to `cfg`; see `build.rs`); the instructions are
//! written with `asm!`. The kernels read the engine's packed layouts as they are
//! (`pack.rs`: the same bytes for every ISA), so a model converted once runs here.
//!
//! # int8 conv: `i8_igemm_2x2c4_dsp`
//!
//! As CMSIS-NN's `arm_nn_mat_mult_kernel_s8_s16`: a block of 2 output pixels × 2 output
//! channels, four i32 accumulators. Per group of 4 input channels, each pixel's 4 input
//! bytes are one word `x`, each channel's 4 weights one word `w` (the packed `c4`
//! layout); `SXTB16 x` and `SXTB16 x, ROR #8` give the even and odd bytes as
//! halfword pairs (the same for `w`), and two `SMLAD`s add the 4 products. The input
//! zero point is folded into the packed bias (`bias_s8`) and the padding rows hold it
//! (see the engine's int8 numerics), so the kernel multiplies raw bytes. Every product
//! is exact (|x·w| ≤ 2^14); `SMLAD` adds modulo 2^32 like the reference's wrapping sum.
//! Tiles of 2 pixels share the indirection rows of the frame (`build_rows`); a layer
//! with `C < 4` reads the frame's gathered flat rows. A kernel with more than 64 taps
//! (the frame's chunked path) runs the portable kernel, which reads the same layout.
//!
//! # int8 depthwise: `i8_dwconv_4c_dsp`
//!
//! Four channels at a time: one word of 4 input channels, `SXTAB16` adds `−x_zp` to the
//! even and odd bytes while sign-extending them (|x − x_zp| ≤ 255 fits a halfword),
//! the 4 weights are sign-extended with `SXTB16`, and `SMLABB` / `SMLATT` add one
//! product each to the 4 channels' accumulators (one `asm!` block per tap). Taps in
//! the padding are skipped (the reference's sum); the accumulators start from the
//! bias. Pixels whose taps are all inside read them at precomputed offsets (3×3
//! unrolled); border pixels and a last group of fewer than 4 channels take a general
//! loop.
//!
//! # Epilogue
//!
//! Per output, in scalar form: `MultiplyByQuantizedMultiplier` with its two roundings
//! in one 64-bit sum ([`Rq::apply`], one `SMLAL`; equal to the frame's [`mbqm_lane`]),
//! the output zero point, the activation clamp, and the optional residual Add exactly
//! as the frame's epilogue computes it.

#![allow(unsafe_code)]

use core::ptr;

use super::frame::{
    build_rows, gather, i8_zero_point, mbqm_lane, need, quad, shifts, valid_taps, Geom, RowPlan,
    FLAT_K, MAX_TAPS,
};
use super::pack::{i8_conv_panel_len, i8_dw_tile_len, i8_flat};
use super::{portable, ConvShape, I8Out, Isa, Kernel, Kernels, I8_CONV_HEADER, I8_DW_HEADER, NR};
use crate::{Error, Result};

/// The DSP int8 kernels; the f32 and f16 kernels of [`portable::KERNELS`].
pub(crate) const KERNELS: Kernels = Kernels {
    isa: Isa::CortexMDsp,
    i8_conv: Kernel {
        name: "i8_igemm_2x2c4_dsp",
        run: i8_conv,
    },
    i8_dwconv: Kernel {
        name: "i8_dwconv_4c_dsp",
        run: i8_dwconv,
    },
    ..portable::KERNELS
};

// ---------------------------------------------------------------- instructions

/// The DSP instructions the conv block's tail uses, one `asm!` each (only in builds
/// for a DSP target; the hot loops are whole `asm!` blocks).
#[cfg(ferrite_arm_dsp)]
mod dsp {
    use core::arch::asm;

    /// `SXTB16 x`: bytes 0 and 2, sign-extended, as the low and high halfwords.
    #[inline(always)]
    pub(super) fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: register arithmetic only.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    /// `SXTB16 x, ROR #8`: bytes 1 and 3, sign-extended.
    #[inline(always)]
    pub(super) fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: register arithmetic only.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                 options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    /// `SMLAD a, b, acc`: `acc + a.lo·b.lo + a.hi·b.hi` (signed halfwords, modulo
    /// 2^32; sets the sticky Q flag on overflow, which nothing reads).
    #[inline(always)]
    pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: register arithmetic only (writes the Q flag: no `preserves_flags`).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                 c = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
}

/// The same instructions in plain Rust, for the host unit tests of the drivers
/// (the instructions themselves are tested on the QEMU board, `firmware/boards/kernels`).
#[cfg(all(test, not(ferrite_arm_dsp)))]
mod dsp {
    fn halves(x: u32) -> (i32, i32) {
        (
            i32::from(x as u16 as i16),
            i32::from((x >> 16) as u16 as i16),
        )
    }

    fn pack(lo: i32, hi: i32) -> u32 {
        u32::from(lo as u16) | (u32::from(hi as u16) << 16)
    }

    pub(super) fn sxtb16(x: u32) -> u32 {
        pack(i32::from(x as u8 as i8), i32::from((x >> 16) as u8 as i8))
    }

    pub(super) fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    pub(super) fn sxtab16(a: u32, x: u32) -> u32 {
        let (al, ah) = halves(a);
        let (xl, xh) = halves(sxtb16(x));
        pack(al.wrapping_add(xl), ah.wrapping_add(xh))
    }

    pub(super) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        sxtab16(a, x.rotate_right(8))
    }

    pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let (al, ah) = halves(a);
        let (bl, bh) = halves(b);
        acc.wrapping_add(al * bl).wrapping_add(ah * bh)
    }

    pub(super) fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).0 * halves(b).0)
    }

    pub(super) fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).1 * halves(b).1)
    }
}

#[cfg(not(ferrite_arm_dsp))]
use dsp::{smlabb, smlatt, sxtab16, sxtab16_ror8};
use dsp::{smlad, sxtb16, sxtb16_ror8};

/// The little-endian word at `p` (any alignment: Cortex-M3 and later load unaligned
/// words with `LDR`).
///
/// # Safety
/// `p` points to 4 readable bytes.
#[inline(always)]
unsafe fn word<T>(p: *const T) -> u32 {
    // SAFETY: caller's contract.
    unsafe { ptr::read_unaligned(p.cast::<u32>()) }
}

/// The little-endian i32 number `i` of a packed header.
///
/// # Safety
/// `p + 4·i` points to 4 readable bytes.
#[inline(always)]
unsafe fn header(p: *const u8, i: usize) -> i32 {
    // SAFETY: caller's contract.
    unsafe { word(p.add(4 * i)) as i32 }
}

// ---------------------------------------------------------------- epilogue

/// One requantization `(multiplier, left shift, right shift)`, prepared for
/// [`Rq::apply`].
#[derive(Clone, Copy)]
struct Rq {
    m: i32,
    l: u32,
    e: u32,
    /// `2^(e + 30)` when `e > 0`.
    k: i64,
}

impl Rq {
    #[inline(always)]
    fn new(m: i32, shift: i32) -> Self {
        let (l, e) = shifts(shift);
        let k = if e > 0 { 1i64 << (e + 30) } else { 0 };
        Rq { m, l, e, k }
    }

    /// [`mbqm_lane`] with the two roundings in one 64-bit sum (as the AVX-512 kernel
    /// does): with `Y = (a << l)·m + 2^30` and `s = [Y < 0]`, the rounding doubling
    /// high multiply is `q = floor(Y / 2^31)` (`q < 0` exactly when `Y < 0`), and the
    /// rounding right shift by `e > 0`, `floor((q + 2^(e−1) − s) / 2^e)`, equals
    /// `floor((Y + 2^(e+30) − s·2^31) / 2^(31+e))` (an integer added inside nested
    /// floors), the high word of that sum shifted right by `e − 1`. No term overflows
    /// i64 (`|Y| <= 2^62 + 2^30`). The saturating corner `a << l = m = i32::MIN`
    /// (`q = 2^31` saturated to `i32::MAX`) rounds to the same `2^(31−e)` both ways.
    /// `e = 0` takes [`mbqm_lane`]. Checked against it in the unit tests.
    #[inline(always)]
    fn apply(self, v: i32) -> i32 {
        if self.e == 0 {
            return mbqm_lane(v, self.m, self.l, 0);
        }
        let y = i64::from(v.wrapping_shl(self.l)) * i64::from(self.m) + (1 << 30);
        let s = y >> 63;
        let z = y + self.k + (s << 31);
        ((z >> 32) as i32) >> (self.e - 1)
    }
}

/// The residual Add's constants (see the frame's `I8Epi`).
#[derive(Clone, Copy)]
struct Residual {
    r: *const i8,
    a_zp: i32,
    b_zp: i32,
    shift: u32,
    a: Rq,
    b: Rq,
    out: Rq,
    out_zp: i32,
    lo: i32,
    hi: i32,
}

/// The per-call epilogue constants.
#[derive(Clone, Copy)]
struct Epi {
    zp: i32,
    lo: i32,
    hi: i32,
    residual: Option<Residual>,
}

impl Epi {
    fn new(out: &I8Out) -> Self {
        Epi {
            zp: out.zero_point,
            lo: out.act_min,
            hi: out.act_max,
            residual: out.residual.as_ref().map(|r| Residual {
                r: r.input.as_ptr(),
                a_zp: r.add.a_zero_point,
                b_zp: r.add.b_zero_point,
                shift: r.add.left_shift.clamp(0, 31) as u32,
                a: Rq::new(r.add.a.multiplier, r.add.a.shift),
                b: Rq::new(r.add.b.multiplier, r.add.b.shift),
                out: Rq::new(r.add.out.multiplier, r.add.out.shift),
                out_zp: r.add.out_zero_point,
                lo: r.add.act_min,
                hi: r.add.act_max,
            }),
        }
    }

    /// Requantizes the sum `v` (bias included) of output element `at` and stores it.
    ///
    /// # Safety
    /// `y.add(at)` (and the residual's element `at`) are in bounds.
    #[inline(always)]
    unsafe fn store(&self, v: i32, rq: Rq, y: *mut i8, at: usize) {
        let mut v = rq.apply(v).wrapping_add(self.zp).max(self.lo).min(self.hi);
        if let Some(r) = &self.residual {
            let t = v.clamp(-128, 127);
            // SAFETY: caller's contract.
            let rv = i32::from(unsafe { *r.r.add(at) });
            let sa = r.a.apply(t.wrapping_sub(r.a_zp).wrapping_shl(r.shift));
            let sb = r.b.apply(rv.wrapping_sub(r.b_zp).wrapping_shl(r.shift));
            let raw = r.out.apply(sa.wrapping_add(sb));
            v = raw.wrapping_add(r.out_zp).max(r.lo).min(r.hi);
        }
        // SAFETY: caller's contract.
        unsafe { *y.add(at) = v.clamp(-128, 127) as i8 };
    }
}

// ---------------------------------------------------------------- int8 conv

/// [`crate::kernels::engine::i8_conv`] with 2×2 `SMLAD` blocks.
#[allow(clippy::too_many_arguments)]
fn i8_conv(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    if g.taps > MAX_TAPS {
        return (portable::KERNELS.i8_conv.run)(s, x, x_zp, packed, out, y, scratch);
    }
    let zp = i8_zero_point(x_zp)?;
    let panel_len = i8_conv_panel_len(g.taps, g.c).ok_or(Error::Unsupported)?;
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
    let mut ptrs = [[ptr::null::<i8>(); 2]; MAX_TAPS];
    let mut buf = [[0i8; FLAT_K]; 2];
    let x_range = (xp, xp.wrapping_add(x.len()));
    let yp = y.as_mut_ptr();
    let mut m0 = 0;
    while m0 < g.pixels {
        let rows = 2.min(g.pixels - m0);
        // A last single pixel is computed twice (row 1 repeats row 0), stored once.
        build_rows(&g, &plan, xp, zero, (m0, rows), (0, g.taps), &mut ptrs);
        if flat {
            // SAFETY: the rows hold `C` readable bytes each; `taps·C <= 3·MAX_TAPS`.
            unsafe { gather(&ptrs, g.taps, g.c, &mut buf, x_range) };
            ptrs[0] = [buf[0].as_ptr(), buf[1].as_ptr()];
        }
        for p in 0..g.n.div_ceil(NR) {
            let (n0, nc) = (p * NR, NR.min(g.n - p * NR));
            // SAFETY: panel `p` lies inside the checked packed slice; its header holds
            // 4·16 i32.
            let panel = unsafe { packed.as_ptr().add(p * panel_len) };
            let bias = |j: usize| unsafe { header(panel, j) };
            let rq =
                |j: usize| unsafe { Rq::new(header(panel, 2 * NR + j), header(panel, 3 * NR + j)) };
            for j in (0..nc).step_by(2) {
                // SAFETY: the rows hold `c` readable bytes each; the weights of channel
                // pair `j` at every tap's groups lie inside the panel (`j + 1 < 16`).
                let acc = unsafe {
                    block_2x2(
                        &ptrs[..taps],
                        c,
                        panel.add(I8_CONV_HEADER + 4 * j).cast::<i8>(),
                        group_bytes,
                    )
                };
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

/// `acc[r][ch] = Σ_{tap, k} row[tap][r][k] · w[tap][k][ch]` for 2 pixels `r` and the
/// 2 channels whose `c4` weights start at `w` (channel 1 four bytes after channel 0;
/// the next group of 4 input channels 64 bytes further, the next tap `group_bytes`).
///
/// # Safety
/// Each row pointer holds `c` readable bytes; `w` holds the groups of every tap.
#[inline(always)]
unsafe fn block_2x2(
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
unsafe fn groups_2x2(
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
unsafe fn groups_2x2(
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

// ---------------------------------------------------------------- int8 depthwise

/// [`crate::kernels::engine::i8_dwconv`], 4 channels at a time.
fn i8_dwconv(
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
    let tile_len = i8_dw_tile_len(g.taps).ok_or(Error::Unsupported)?;
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
            // SAFETY: the header holds 3·16 i32 and `cg + 3 < 16`.
            let (bias, rq) = unsafe {
                let b = [0, 1, 2, 3].map(|i| header(tile, cg + i));
                let rq = [0, 1, 2, 3]
                    .map(|i| Rq::new(header(tile, NR + cg + i), header(tile, 2 * NR + cg + i)));
                (b, rq)
            };
            let w = tile.wrapping_add(I8_DW_HEADER + cg);
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
fn dw_mac(acc: [i32; 4], q: u32, wq: u32, neg_zp: u32) -> [i32; 4] {
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
fn dw_mac(acc: [i32; 4], q: u32, wq: u32, neg_zp: u32) -> [i32; 4] {
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
unsafe fn dw_taps<const N: usize>(
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
unsafe fn dw_taps_n(
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
fn dw_border(
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

#[cfg(test)]
mod tests {
    //! The drivers on the host, with the instructions in plain Rust, against the
    //! portable kernels (themselves tested against the reference in
    //! `tests/engine_kernels.rs`). The asm instructions run in the QEMU board test.

    use super::*;
    use crate::format::types::{QBinary, Requant};
    use crate::kernels::engine::{
        i8_conv_packed_len, i8_dwconv_packed_len, pack_i8_conv, pack_i8_dwconv, I8Residual,
    };
    use std::vec;
    use std::vec::Vec;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
        fn below(&mut self, n: usize) -> usize {
            self.next() as usize % n
        }
        fn i8s(&mut self, n: usize) -> Vec<i8> {
            (0..n).map(|_| self.next() as i8).collect()
        }
    }

    fn out_len(i: usize, k: usize, s: usize, p: usize) -> usize {
        (i + 2 * p - k) / s + 1
    }

    #[test]
    fn fused_requantization_is_mbqm() {
        use crate::kernels::corners::{ACC_CORNERS, MULTIPLIER_CORNERS};
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut accs: Vec<i32> = ACC_CORNERS.to_vec();
        let mut mults: Vec<i32> = MULTIPLIER_CORNERS.to_vec();
        for _ in 0..200 {
            accs.push(rng.next() as i32);
            accs.push((rng.next() as i32) >> rng.below(31));
            mults.push(rng.next() as i32);
        }
        for &a in &accs {
            for &m in &mults {
                for shift in -40..=40 {
                    let (l, e) = shifts(shift);
                    assert_eq!(
                        Rq::new(m, shift).apply(a),
                        mbqm_lane(a, m, l, e),
                        "{a} {m} {shift}"
                    );
                }
            }
        }
    }

    #[test]
    fn conv_and_dwconv_match_the_portable_kernels() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..300 {
            let dw = case % 3 == 2;
            let k = [1, 3, 3, 5, 2][rng.below(5)];
            let kw = if case % 7 == 0 { 4 } else { k };
            let stride = 1 + rng.below(2);
            let pad = rng.below(k.min(2) + usize::from(k > 1));
            let (ih, iw) = (k + rng.below(6), kw + rng.below(6));
            let c = 1 + rng.below(if dw { 40 } else { 24 });
            let n = if dw { c } else { 1 + rng.below(37) };
            let (oh, ow) = (out_len(ih, k, stride, pad), out_len(iw, kw, stride, pad));
            let shape = ConvShape {
                in_h: ih,
                in_w: iw,
                in_c: c,
                out_h: oh,
                out_w: ow,
                out_c: n,
                kernel: [k, kw],
                stride: [stride, stride],
                dilation: [1, 1],
                pad: [pad, pad],
            };
            let x = rng.i8s(ih * iw * c);
            let x_zp = rng.next() as i8 as i32;
            let taps = k * kw;
            let wlen = if dw { c * taps } else { n * c * taps };
            let w = rng.i8s(wlen);
            let bias: Vec<i32> = (0..n)
                .map(|_| (rng.next() % 20000) as i32 - 10000)
                .collect();
            let rq: Vec<i32> = (0..n)
                .flat_map(|_| {
                    [
                        (1 << 30) + (rng.next() >> 2) as i32 / 2,
                        -(rng.below(10) as i32) - 4,
                    ]
                })
                .collect();
            let residual = rng.i8s(oh * ow * n);
            let add = QBinary {
                a_zero_point: 3,
                b_zero_point: -7,
                left_shift: 20,
                a: Requant {
                    multiplier: 1_500_000_000,
                    shift: -1,
                },
                b: Requant {
                    multiplier: 1_200_000_000,
                    shift: -2,
                },
                out: Requant {
                    multiplier: 1_100_000_000,
                    shift: -19,
                },
                out_zero_point: -5,
                act_min: -128,
                act_max: 127,
            };
            let out = I8Out {
                zero_point: rng.next() as i8 as i32,
                act_min: -128 + rng.below(50) as i32,
                act_max: 127,
                residual: (case % 5 == 0).then_some(I8Residual {
                    input: &residual,
                    add,
                }),
            };
            let mut scratch = vec![0i8; c];
            let (mut a, mut b) = (vec![0i8; oh * ow * n], vec![0i8; oh * ow * n]);
            if dw {
                let mut packed = vec![0u8; i8_dwconv_packed_len(c, [k, kw]).unwrap()];
                pack_i8_dwconv(&w, Some(&bias), &rq, c, [k, kw], &mut packed).unwrap();
                (portable::KERNELS.i8_dwconv.run)(&shape, &x, x_zp, &packed, &out, &mut a).unwrap();
                (KERNELS.i8_dwconv.run)(&shape, &x, x_zp, &packed, &out, &mut b).unwrap();
            } else {
                let mut packed = vec![0u8; i8_conv_packed_len(n, c, [k, kw]).unwrap()];
                pack_i8_conv(&w, Some(&bias), &rq, x_zp, n, c, [k, kw], &mut packed).unwrap();
                (portable::KERNELS.i8_conv.run)(
                    &shape,
                    &x,
                    x_zp,
                    &packed,
                    &out,
                    &mut a,
                    &mut scratch,
                )
                .unwrap();
                (KERNELS.i8_conv.run)(&shape, &x, x_zp, &packed, &out, &mut b, &mut scratch)
                    .unwrap();
            }
            assert_eq!(a, b, "case {case}: {shape:?}");
        }
    }
}
