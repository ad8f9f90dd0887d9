//! The board's timer 0 (CMSDK APB timer) and its tick, shared by the mcu-bench and
//! kernels firmware through `#[path]`. Under QEMU's `-icount shift=0` the virtual clock
//! advances 1 ns per executed instruction, so [`ns`] counts instructions.

use core::ptr::{read_volatile, write_volatile};

/// Timer 0: 0x4000_0000 on the AN386; the Secure alias 0x5000_0000 on the AN505,
/// whose core runs in the Secure state (the peripheral protection controller
/// blocks the Non-secure alias until it is configured).
#[cfg(board = "mps2-an386")]
const BASE: usize = 0x4000_0000;
#[cfg(board = "mps2-an505")]
const BASE: usize = 0x5000_0000;
/// Timer clock: the AN386's 25 MHz peripheral clock; the AN505's 20 MHz MAINCLK.
#[cfg(board = "mps2-an386")]
pub const NS_PER_TICK: u64 = 40;
#[cfg(board = "mps2-an505")]
pub const NS_PER_TICK: u64 = 50;

const CTRL: *mut u32 = BASE as *mut u32;
const VALUE: *mut u32 = (BASE + 4) as *mut u32;
const RELOAD: *mut u32 = (BASE + 8) as *mut u32;

/// Starts the timer counting down from `u32::MAX` (wraps after 2^32 ticks, over
/// 85 s of virtual time: longer than any run here).
pub fn start() {
    // SAFETY: device registers of this board's timer 0; nothing else uses it.
    unsafe {
        write_volatile(CTRL, 0);
        write_volatile(RELOAD, u32::MAX);
        write_volatile(VALUE, u32::MAX);
        write_volatile(CTRL, 1);
    }
}

/// Ticks since [`start`] (modulo 2^32).
#[inline(always)]
pub fn now() -> u32 {
    // SAFETY: as above; reading VALUE has no side effect.
    u32::MAX - unsafe { read_volatile(VALUE) }
}

/// Virtual nanoseconds from tick `a` to tick `b`.
#[inline(always)]
pub fn ns(a: u32, b: u32) -> u64 {
    u64::from(b.wrapping_sub(a)) * NS_PER_TICK
}
