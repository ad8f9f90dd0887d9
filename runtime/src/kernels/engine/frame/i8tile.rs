//! The int8 conv microkernel and the rows it reads: each tap's row in place, or the
//! flat layout's gathered rows (`C < 4`).

#![allow(unsafe_code)]

use core::ptr;

use super::geom::MAX_TAPS;
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
#[inline(always)]
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

/// The R×16P int8 microkernel (`R <= MR`, `P` panels) over `rows.len()` taps of
/// `c` channels each: each input quad is broadcast once for the `P` panels.
///
/// # Safety
/// Each row pointer holds `c` readable bytes; each `w[j]` holds the taps' weight
/// groups.
#[inline(always)]
pub(super) unsafe fn i8_tile<L: I8Dot, const MR: usize, const R: usize, const P: usize>(
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
                    let x = l.a(quad(a[r].add(4 * q), n));
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
