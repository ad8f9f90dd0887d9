//! The int8 conv microkernel and the rows it reads: each tap's row in place, or the
//! flat layout's gathered rows (`C < 4`).

#![allow(unsafe_code)]

use core::mem::MaybeUninit;
use core::ptr;

use super::geom::{Geom, MAX_TAPS};
use super::lanes::I8Dot;
use crate::kernels::engine::types::NR;

/// Bytes of a gathered row of the flat int8 layout: `taps·C <= 3·MAX_TAPS`, plus
/// room for the last 4-byte copy.
pub(crate) const FLAT_K: usize = 3 * MAX_TAPS + 4;

/// Copies, for each of the `MR` pixels, the `c` inputs of each of the `taps` rows
/// into `buf[r]` (`k = tap·c + channel`), zeros up to the next multiple of 4. A row
/// inside `x` (`x.0..x.1`) with 4 readable bytes is copied as one 4-byte word (the
/// extra byte is overwritten by the next tap or zeroed).
///
/// # Safety
/// `ptrs[t][r]` holds `c` readable bytes for `t < taps`; `taps·c <= 3·MAX_TAPS`;
/// `x` is the input's address range.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(crate) unsafe fn gather<const MR: usize>(
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

/// Whether the flat layout's kernel rows are whole quads: `kw·c` a multiple of 4 at
/// horizontal dilation 1, so kernel row `ky` is the `kw·c` consecutive input bytes of
/// its first tap (when it reads no padding) and its weights are groups
/// `ky·kw·c/4..(ky + 1)·kw·c/4` of the flat layout (KWS's 10×4 over 1 channel: one
/// quad per kernel row). See [`pad_image`]. Not on bare-metal targets (`target_os =
/// "none"`), whose portable engine keeps the gather: no code added to their flash.
#[inline]
pub(crate) fn row_quads_apply(flat: bool, kw: usize, dw: usize, c: usize) -> bool {
    cfg!(not(target_os = "none")) && flat && dw == 1 && kw >= 2 && (kw * c) % 4 == 0
}

/// For [`row_quads_apply`]: copies the part of the input the taps reach, with its
/// padding (`zp`), into `img` when it fits — `(oh − 1)·sh + (kh − 1)·dh + 1` rows of
/// `(ow − 1)·sw + kw` pixels of `c` bytes — and returns the copy's row length in bytes
/// (`None`: it does not fit). Every kernel row of every output pixel is then `kw·c`
/// consecutive bytes of the copy ([`image_rows`]): no per-tap row pointers and no
/// per-pixel gather. (KWS's 49×10 input with its padding: 708 bytes.)
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(crate) fn pad_image(g: &Geom, x: &[i8], zp: i8, img: &mut [i8]) -> Option<usize> {
    let c = g.c;
    let rows = (g.oh.checked_sub(1)? * g.sh).checked_add((g.kh - 1) * g.dh + 1)?;
    let cols = (g.ow.checked_sub(1)? * g.sw).checked_add(g.kw)?;
    let len = cols.checked_mul(c)?;
    let img = img.get_mut(..rows.checked_mul(len)?)?;
    // The copy's columns `pl..c1` are the input's `0..c1 − pl`; the rest is padding.
    let c1 = g.pl.checked_add(g.iw)?.min(cols);
    let inside = g.pl.checked_mul(c)?..c1.checked_mul(c)?;
    for (py, dst) in img.chunks_exact_mut(len).enumerate() {
        let iy = py.wrapping_sub(g.pt);
        match x
            .get(iy.wrapping_mul(g.iw * c)..)
            .and_then(|r| r.get(..inside.len()))
        {
            Some(src) if iy < g.ih && !inside.is_empty() => {
                dst.get_mut(..inside.start)?.fill(zp);
                dst.get_mut(inside.clone())?.copy_from_slice(src);
                dst.get_mut(inside.end..)?.fill(zp);
            }
            _ => dst.fill(zp),
        }
    }
    Some(len)
}

/// `ptrs[ky][r]`: kernel row `ky` of output pixel `m0 + r` in the [`pad_image`] copy
/// `img` of row length `len` (pixels past `m0 + rows` repeat the last one).
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(crate) fn image_rows<const MR: usize>(
    g: &Geom,
    (img, len): (*const i8, usize),
    (m0, rows): (usize, usize),
    ptrs: &mut [[*const i8; MR]; MAX_TAPS],
) {
    let (mut oy, mut ox) = (m0 / g.ow, m0 % g.ow);
    for r in 0..MR {
        let base = img.wrapping_add(oy * g.sh * len + ox * g.sw * g.c);
        for (ky, row) in ptrs.iter_mut().enumerate().take(g.kh) {
            row[r] = base.wrapping_add(ky * g.dh * len);
        }
        if r + 1 < rows {
            ox += 1;
            if ox == g.ow {
                ox = 0;
                oy += 1;
            }
        }
    }
}

/// The 4 bytes at `p`, or the first `n < 4` of them (zeros above), as a
/// little-endian quad.
///
/// # Safety
/// `p` points to `min(n, 4)` readable bytes.
#[inline(always)]
pub(crate) unsafe fn quad(p: *const i8, n: usize) -> u32 {
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

/// Bytes of the flipped input block of a dense 1×1 conv with [`I8Dot::U8_INPUT`]
/// (a stack buffer).
pub(super) const FLIP_BYTES: usize = 4096;

/// `dst[i] = src[i] ^ 0x80` (`x + 128` as a byte) for `i < min(src.len(),
/// FLIP_BYTES)`: the input of [`I8Dot::a_flipped`]. Only those bytes are written
/// (an unused stack buffer is neither zeroed nor brought into the cache).
#[inline(always)]
pub(super) fn flip(src: &[i8], dst: &mut [MaybeUninit<i8>; FLIP_BYTES]) {
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s ^ i8::MIN);
    }
}

/// The R×16P int8 microkernel (`R <= MR`, `P` panels) over `rows.len()` taps of
/// `c` channels each: each input quad is broadcast once for the `P` panels. With
/// `FLIP` the rows are stored flipped ([`flip`]) and `c` is a multiple of 4.
///
/// # Safety
/// Each row pointer holds `c` readable bytes; each `w[j]` holds the taps' weight
/// groups.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) unsafe fn i8_tile<
    L: I8Dot,
    const MR: usize,
    const R: usize,
    const P: usize,
    const FLIP: bool,
>(
    l: L,
    rows: &[[*const i8; MR]],
    c: usize,
    mut w: [*const i8; P],
    acc: &mut [[L::Acc; R]; P],
) {
    let full = c / 4;
    let tail = c % 4;
    for a in rows {
        // SAFETY: caller's contract: quads `0..full` are inside each row, the tail
        // reads `tail` bytes, `w` advances by 64 bytes per group of the tap.
        unsafe {
            for q in 0..full + usize::from(tail != 0) {
                let n = if q < full { 4 } else { tail };
                let mut b = [l.b(w[0]); P];
                for j in 1..P {
                    b[j] = l.b(w[j]);
                }
                for r in 0..R {
                    let x = if FLIP {
                        l.a_flipped(a[r].add(4 * q))
                    } else {
                        l.a(quad(a[r].add(4 * q), n))
                    };
                    for j in 0..P {
                        acc[j][r] = l.dot(acc[j][r], x, b[j]);
                    }
                }
                for w in &mut w {
                    *w = w.add(4 * NR);
                }
            }
        }
    }
}
