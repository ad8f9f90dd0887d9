//! How the QEMU semihosting boards end (shared by the mps2-an386 binaries and mcu-bench
//! through `#[path]`): the program's status as the semihosting exit code, a panic or a
//! hard fault printed on the host's stderr and reported as a failure.

use core::fmt::Write;
use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

/// Ends the QEMU run with success or failure.
pub fn finish(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut out) = hio::hstderr() {
        let _ = writeln!(out, "panic: {info}");
    }
    finish(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut out) = hio::hstderr() {
        let _ = writeln!(out, "hard fault: {frame:?}");
    }
    finish(false)
}
