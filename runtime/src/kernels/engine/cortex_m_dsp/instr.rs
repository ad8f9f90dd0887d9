//! The DSP instructions (`asm!` on DSP targets; modelled in plain Rust for the host
//! tests) and the unaligned word loads the kernels share.

use super::super::types::I8Header;
use core::ptr;

/// The DSP instructions the conv block's tail uses, one `asm!` each (only in builds
/// for a DSP target; the hot loops are whole `asm!` blocks).
#[cfg(ferrite_arm_dsp)]
mod dsp {
    use core::arch::asm;

    /// `SXTB16 x`: bytes 0 and 2, sign-extended, as the low and high halfwords.
    #[inline(always)]
    pub(crate) fn sxtb16(x: u32) -> u32 {
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
    pub(crate) fn sxtb16_ror8(x: u32) -> u32 {
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
    pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
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
    pub(crate) fn halves(x: u32) -> (i32, i32) {
        (
            i32::from(x as u16 as i16),
            i32::from((x >> 16) as u16 as i16),
        )
    }

    pub(crate) fn pack(lo: i32, hi: i32) -> u32 {
        u32::from(lo as u16) | (u32::from(hi as u16) << 16)
    }

    pub(crate) fn sxtb16(x: u32) -> u32 {
        pack(i32::from(x as u8 as i8), i32::from((x >> 16) as u8 as i8))
    }

    pub(crate) fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    pub(crate) fn sxtab16(a: u32, x: u32) -> u32 {
        let (al, ah) = halves(a);
        let (xl, xh) = halves(sxtb16(x));
        pack(al.wrapping_add(xl), ah.wrapping_add(xh))
    }

    pub(crate) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        sxtab16(a, x.rotate_right(8))
    }

    pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let (al, ah) = halves(a);
        let (bl, bh) = halves(b);
        acc.wrapping_add(al * bl).wrapping_add(ah * bh)
    }

    pub(crate) fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).0 * halves(b).0)
    }

    pub(crate) fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(halves(a).1 * halves(b).1)
    }
}

#[cfg(not(ferrite_arm_dsp))]
pub(super) use dsp::{smlabb, smlatt, sxtab16, sxtab16_ror8};
pub(super) use dsp::{smlad, sxtb16, sxtb16_ror8};

/// The little-endian word at `p` (any alignment: Cortex-M3 and later load unaligned
/// words with `LDR`).
///
/// # Safety
/// `p` points to 4 readable bytes.
#[inline(always)]
pub(super) unsafe fn word<T>(p: *const T) -> u32 {
    // SAFETY: caller's contract.
    unsafe { ptr::read_unaligned(p.cast::<u32>()) }
}

/// The little-endian i32 number `i` of a packed header.
///
/// # Safety
/// `p + 4·i` points to 4 readable bytes.
#[inline(always)]
pub(super) unsafe fn header(p: *const u8, i: usize) -> i32 {
    // SAFETY: caller's contract.
    unsafe { word(p.add(4 * i)) as i32 }
}

/// Channel `j`'s `(multiplier, shift)` from the header at `p` of the form `h`, its
/// rows at the offsets `(m_at, s_at)`.
///
/// # Safety
/// The header's rows hold channel `j`.
#[inline(always)]
pub(super) unsafe fn header_rq(
    h: I8Header,
    p: *const u8,
    (m_at, s_at): (usize, usize),
    j: usize,
) -> (i32, i32) {
    // SAFETY: caller's contract.
    unsafe {
        let shift = match h {
            I8Header::Wide => word(p.add(s_at + 4 * j)) as i32,
            I8Header::Compact => i32::from(*p.add(s_at + j).cast::<i8>()),
        };
        (word(p.add(m_at + 4 * j)) as i32, shift)
    }
}
