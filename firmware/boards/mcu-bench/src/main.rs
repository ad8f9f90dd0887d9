//! ferrite's instruction-count benchmark for QEMU's Cortex-M boards (`cargo xtask mcu-bench`).
//!
//! One model and one input are built in (see `build.rs`). The firmware
//! 1. starts a CMSDK APB timer (32 bits, counting down at the board's 25 or 20 MHz) and
//!    checks it: an empty region, and a loop of exactly `2 × LOOP_ITERATIONS`
//!    instructions;
//! 2. paints the stack, times `Model::load`, `Session::new` + `set_input_f32` and `run`,
//!    and reports the deepest stack word the three overwrote;
//! 3. runs again with `run_observed`, reading the timer after every op;
//! 4. prints the output bytes (hex) of the first run, after checking that the observed
//!    run gave the same bytes.
//!
//! Times are the board's virtual nanoseconds (`*_ns`). QEMU runs it with
//! `-icount shift=0`, where the virtual clock advances 1 ns per executed instruction, so
//! they count instructions with the timer's resolution (`ns_per_tick`). They are not
//! cycles: QEMU models no pipeline, no wait states and no multi-cycle instructions.
//!
//! Output on semihosting stdout, one `key=value` record per line; exit status 0 after
//! `done`, 1 on any error (printed as `error: …`).
#![no_std]
#![no_main]

use core::fmt::Write;
use core::sync::atomic::{compiler_fence, Ordering};
use cortex_m_rt::entry;

#[path = "../../common/qemu_exit.rs"]
mod qemu_exit;
use cortex_m_semihosting::hio;
use ferrite::{Arena, Model, Session};

#[allow(dead_code)]
mod bench {
    include!(concat!(env!("OUT_DIR"), "/bench.rs"));
}
use bench::{ARENA_SIZE, BOARD, INPUT, NUM_OPS, OUTPUT_BYTES};

/// The model file, 16-byte aligned in flash.
static MODEL: &[u8] = ferrite::include_model!(env!("FERRITE_BENCH_MODEL_FILE"));

/// The board's timer 0 (CMSDK APB timer) and its tick.
#[path = "../../common/cmsdk_timer.rs"]
mod timer;

/// Iterations of the calibration loop (2 instructions each).
const LOOP_ITERATIONS: u32 = 1_000_000;

/// Exactly `2 × n` instructions: `subs` and `bne`, n times (n ≥ 1).
#[inline(always)]
fn spin(n: u32) {
    // SAFETY: register arithmetic and a local branch only.
    unsafe {
        core::arch::asm!("2:", "subs {n}, {n}, #1", "bne 2b", n = inout(reg) n => _, options(nostack));
    }
}

/// Stack bytes painted below the stack pointer of `main` to measure the peak.
const STACK_PAINT: usize = 256 * 1024;
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
        // interrupts: unused stack of the board's 4 MiB RAM (the statics are at its
        // bottom, far below), not yet reached.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    sp
}

/// Bytes of stack used below `sp` since [`paint_stack`] (the lowest overwritten word);
/// `None` when the whole painted region was overwritten (the peak may be deeper).
fn stack_used(sp: usize) -> Option<usize> {
    let bottom = (sp - STACK_PAINT) & !3;
    let mut p = bottom;
    // SAFETY: the same painted, word-aligned RAM range as in `paint_stack`.
    while p < sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    (p > bottom).then_some(sp - p)
}

/// Semihosting stdout, written a line at a time (one host call per line, not per
/// `write!` fragment).
struct Out {
    host: hio::HostStream,
    buf: [u8; 256],
    len: usize,
}

impl Out {
    fn flush(&mut self) {
        let _ = self.host.write_all(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

macro_rules! fail {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, "error: ");
        let _ = writeln!($out, $($arg)*);
        return Err(());
    }};
}

fn run(
    arena: &'static mut Arena<ARENA_SIZE>,
    op_ns: &'static mut [u64; NUM_OPS],
    first: &'static mut [u8; OUTPUT_BYTES],
) -> Result<(), ()> {
    let mut out = Out {
        host: hio::hstdout()?,
        buf: [0; 256],
        len: 0,
    };
    let out = &mut out;

    timer::start();
    let a = timer::now();
    let b = timer::now();
    let empty_ns = timer::ns(a, b);
    compiler_fence(Ordering::SeqCst);
    let a = timer::now();
    spin(LOOP_ITERATIONS);
    let b = timer::now();
    compiler_fence(Ordering::SeqCst);
    let loop_ns = timer::ns(a, b);
    let _ = writeln!(
        out,
        "timer board={BOARD} ns_per_tick={} empty_ns={empty_ns} loop_iterations={LOOP_ITERATIONS} loop_instructions={} loop_ns={loop_ns}",
        timer::NS_PER_TICK,
        2 * u64::from(LOOP_ITERATIONS)
    );

    let sp = paint_stack();
    compiler_fence(Ordering::SeqCst);
    let t0 = timer::now();
    let model = Model::load(MODEL);
    let t1 = timer::now();
    compiler_fence(Ordering::SeqCst);
    let model = match model {
        Ok(m) => m,
        Err(e) => fail!(out, "Model::load: {e}"),
    };
    let t2 = timer::now();
    let session = Session::new(&model, &mut arena.0).and_then(|mut s| {
        s.set_input_f32(0, &INPUT)?;
        Ok(s)
    });
    let t3 = timer::now();
    compiler_fence(Ordering::SeqCst);
    let mut session = match session {
        Ok(s) => s,
        Err(e) => fail!(out, "session: {e}"),
    };
    compiler_fence(Ordering::SeqCst);
    let t4 = timer::now();
    let ran = session.run();
    let t5 = timer::now();
    compiler_fence(Ordering::SeqCst);
    let stack = stack_used(sp);
    if let Err(e) = ran {
        fail!(out, "run: {e}");
    }
    match session.output_bytes(0) {
        Ok(b) if b.len() == OUTPUT_BYTES => first.copy_from_slice(b),
        Ok(b) => fail!(out, "output 0: {} bytes, expected {OUTPUT_BYTES}", b.len()),
        Err(e) => fail!(out, "output 0: {e}"),
    }
    let _ = writeln!(
        out,
        "model name={} bytes={} arena={} ops={NUM_OPS}",
        model.metadata().name,
        MODEL.len(),
        model.arena_size()
    );
    let _ = writeln!(
        out,
        "time load_ns={} session_input_ns={} run_ns={}",
        timer::ns(t0, t1),
        timer::ns(t2, t3),
        timer::ns(t4, t5)
    );
    match stack {
        Some(bytes) => {
            let _ = writeln!(out, "stack peak_bytes={bytes}");
        }
        None => fail!(out, "the stack went below the {STACK_PAINT} painted bytes"),
    }

    // The same inference again, timed op by op. The arena reuses the input's bytes,
    // so the input is set again first.
    if let Err(e) = session.set_input_f32(0, &INPUT) {
        fail!(out, "set_input_f32: {e}");
    }
    compiler_fence(Ordering::SeqCst);
    let start = timer::now();
    let mut last = start;
    let observed = session.run_observed(|s, _, _| {
        let t = timer::now();
        if let Some(slot) = op_ns.get_mut(s as usize) {
            *slot = timer::ns(last, t);
        }
        last = timer::now();
    });
    let end = timer::now();
    compiler_fence(Ordering::SeqCst);
    if let Err(e) = observed {
        fail!(out, "run_observed: {e}");
    }
    let _ = writeln!(out, "observed total_ns={}", timer::ns(start, end));
    for (i, ns) in op_ns.iter().enumerate() {
        let _ = writeln!(out, "op index={i} ns={ns}");
    }
    match session.output_bytes(0) {
        Ok(b) if b == &first[..] => {}
        Ok(_) => fail!(out, "run_observed gave other output bytes than run"),
        Err(e) => fail!(out, "output 0: {e}"),
    }
    let _ = write!(out, "output hex=");
    for b in first.iter() {
        let _ = write!(out, "{b:02x}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "done");
    Ok(())
}

#[entry]
fn main() -> ! {
    static mut ARENA: Arena<ARENA_SIZE> = Arena::new();
    static mut OP_NS: [u64; NUM_OPS] = [0; NUM_OPS];
    static mut FIRST: [u8; OUTPUT_BYTES] = [0; OUTPUT_BYTES];
    qemu_exit::finish(run(ARENA, OP_NS, FIRST).is_ok())
}
