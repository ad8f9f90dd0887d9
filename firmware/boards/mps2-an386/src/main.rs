//! ferrite firmware for the MPS2+ AN386 (Cortex-M4F) in `qemu-system-arm`.
//!
//! The application of `ferrite-firmware` runs unchanged over emulated peripherals:
//! - the accelerometer is [`Lis3dhEmulator`], an `embedded_hal::i2c::I2c` device that
//!   answers like a LIS3DH and replays `examples/sensor/trace.csv` (embedded at build
//!   time) on a virtual 50 Hz clock advanced by the sampling loop's `DelayNs`;
//! - the LED is bit 0 of the board's FPGA IO LED register (`0x4002_8000`);
//! - the log sink is semihosting stdout: one line per window
//!   (`window=N start=S out=<hex of the output bytes> label=L name`).
//!
//! The model is the file named by `FERRITE_MODEL` at build time, in flash; the arena is
//! a static of exactly the model's `arena_size()` (computed by `build.rs`). Exit status
//! (QEMU's): 0 when the whole trace ran, 1 on any error or panic.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;

#[path = "../../common/qemu_exit.rs"]
mod qemu_exit;
use cortex_m_semihosting::hio;
use embedded_hal::digital::{ErrorType, OutputPin};
use ferrite::{Arena, Model};
use ferrite_firmware::emu::{Lis3dhEmulator, VirtualClock, VirtualDelay};
use ferrite_firmware::lis3dh::{self, Lis3dh, ADDR_SA0_HIGH};
use ferrite_firmware::{App, Config, WINDOW};

#[allow(dead_code)]
mod bundled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
    include!(concat!(env!("OUT_DIR"), "/trace.rs"));
}
use bundled::{ARENA_SIZE, TRACE};

/// The model file, 16-byte aligned in flash.
static MODEL: &[u8] = ferrite::include_model!(env!("FERRITE_MODEL_FILE"));

/// FPGA IO `LED0` register of the MPS2 boards (bits 1:0 = user LEDs 0 and 1).
const FPGAIO_LED0: *mut u32 = 0x4002_8000 as *mut u32;

/// User LED 0 of the board, as an embedded-hal output pin.
struct FpgaLed;

impl FpgaLed {
    fn is_on(&self) -> bool {
        // SAFETY: FPGAIO_LED0 is a device register of this board; reads have no effect.
        unsafe { core::ptr::read_volatile(FPGAIO_LED0) & 1 != 0 }
    }
    fn update(&mut self, on: bool) {
        // SAFETY: as above; nothing else in this firmware touches the register.
        unsafe {
            let v = core::ptr::read_volatile(FPGAIO_LED0);
            core::ptr::write_volatile(FPGAIO_LED0, if on { v | 1 } else { v & !1 });
        }
    }
}

impl ErrorType for FpgaLed {
    type Error = core::convert::Infallible;
}

impl OutputPin for FpgaLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.update(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.update(true);
        Ok(())
    }
}

/// Stack bytes painted below the entry point's stack pointer to measure the peak.
const STACK_PAINT: usize = 32 * 1024;
/// Bytes left unpainted just below the stack pointer (the painter's own frame).
const STACK_MARGIN: usize = 256;
const PAINT: u32 = 0xF0E1_D2C3;

/// Fills the unused stack below the current stack pointer with [`PAINT`]; returns the
/// stack pointer.
#[inline(never)]
fn paint_stack() -> usize {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = (sp - STACK_PAINT) & !3;
    while p < sp - STACK_MARGIN {
        // SAFETY: below the stack pointer of a single-threaded program with no
        // interrupts enabled: unused stack of this 4 MiB RAM, not yet reached.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    sp
}

/// Bytes of stack used below `sp` since [`paint_stack`] (the lowest overwritten word).
fn stack_used(sp: usize) -> usize {
    let mut p = (sp - STACK_PAINT) & !3;
    // SAFETY: the same painted, word-aligned RAM range as in `paint_stack`.
    while p < sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    sp - p
}

/// One log line, written to the host in one semihosting call.
type Line = heapless::String<512>;

fn emit(out: &mut hio::HostStream, line: &str) {
    let _ = out.write_all(line.as_bytes());
}

macro_rules! fail {
    ($out:expr, $($arg:tt)*) => {{
        let mut line = Line::new();
        let _ = write!(line, "error: ");
        let _ = writeln!(line, $($arg)*);
        emit($out, &line);
        return Err(());
    }};
}

fn run(arena: &'static mut Arena<ARENA_SIZE>, sp: usize) -> Result<(), ()> {
    let mut out = hio::hstdout()?;
    let out = &mut out;
    let model = match Model::load(MODEL) {
        Ok(m) => m,
        Err(e) => fail!(out, "model {}: {e}", bundled::MODEL_PATH),
    };
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "ferrite mps2-an386: model \"{}\" ({} bytes), arena {} bytes (model needs {}), trace {} samples",
        model.metadata().name,
        MODEL.len(),
        ARENA_SIZE,
        model.arena_size(),
        TRACE.len()
    );
    emit(out, &line);

    let mut app = match App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL) {
        Ok(a) => a,
        Err(e) => fail!(out, "setup: {e}"),
    };
    match app.self_test() {
        Ok(n) => {
            let mut line = Line::new();
            let _ = writeln!(line, "self-test: {n} golden vectors reproduced");
            emit(out, &line);
        }
        Err(e) => fail!(out, "self-test: {e}"),
    }
    let clock = VirtualClock::new();
    let emu = Lis3dhEmulator::new(&TRACE, &clock, ADDR_SA0_HIGH);
    let mut sensor = match Lis3dh::new(emu, ADDR_SA0_HIGH, lis3dh::Config::SENSOR_MODEL) {
        Ok(s) => s,
        Err(e) => fail!(out, "{e}"),
    };
    let mut delay = VirtualDelay(&clock);
    let mut led = FpgaLed;
    let mut led_windows = 0u32;
    for _ in 0..TRACE.len() {
        let mut line = Line::new();
        match app.step(&mut sensor, &mut delay, &mut led, &mut line) {
            Ok(Some(_)) => led_windows += u32::from(led.is_on()),
            Ok(None) => {}
            Err(e) => fail!(out, "{e}"),
        }
        emit(out, &line);
    }
    let emu = sensor.release();
    if !emu.finished() {
        fail!(
            out,
            "the trace was not consumed: {} of {} samples",
            emu.consumed(),
            TRACE.len()
        );
    }
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "done windows={} samples={} led_on_windows={} virtual_ms={} stack_peak_bytes={}",
        app.windows(),
        emu.consumed(),
        led_windows,
        clock.now_ns() / 1_000_000,
        stack_used(sp)
    );
    emit(out, &line);
    Ok(())
}

#[entry]
fn main() -> ! {
    static mut ARENA: Arena<ARENA_SIZE> = Arena::new();
    let sp = paint_stack();
    qemu_exit::finish(run(ARENA, sp).is_ok())
}
