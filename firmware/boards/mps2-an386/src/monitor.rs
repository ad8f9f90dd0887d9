//! Drift monitoring demo on the MPS2+ AN386 (Cortex-M4F) in `qemu-system-arm`.
//!
//! Replays `examples/sensor/trace.csv` (windows of 64 samples, hop 32), then the trace
//! named by `FERRITE_SHIFTED_TRACE` at build time, through the bundled model and a
//! [`ferrite::Monitor`] in a static buffer (no allocator). After each phase it prints a
//! drift report over semihosting:
//!
//! ```text
//! phase=normal rows=29 output_psi=0.0000 output_flagged=0 latency_ticks_mean=… p95=…
//! feature index=0 name=x_mean psi=0.0000 p=1.0000 level=stable flagged=0 missing=0 out_of_range=0
//! …
//! snapshot=<hex of Monitor::snapshot>
//! ```
//! and the cost of monitoring: SysTick ticks per `observe` (input + output) and per
//! `predict`, with the instructions per tick measured by a calibration loop of known
//! length (run QEMU with `-icount shift=0`: virtual time then advances one step per
//! instruction, so the timer counts instructions). Exit status 0, or 1 on any error.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;

#[path = "../../common/qemu_exit.rs"]
mod qemu_exit;
use cortex_m_semihosting::hio;
use ferrite::{Arena, Model, Monitor, MonitorBuffer, Session};
use ferrite_firmware::{mg_to_input, CHANNELS, HOP, WINDOW};

#[allow(dead_code)]
mod bundled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
    include!(concat!(env!("OUT_DIR"), "/trace.rs"));
    include!(concat!(env!("OUT_DIR"), "/trace_shifted.rs"));
}
use bundled::{ARENA_SIZE, MONITOR_WORDS, OUTPUT_LEN, TRACE, TRACE_SHIFTED};

static MODEL: &[u8] = ferrite::include_model!(env!("FERRITE_MODEL_FILE"));

type Line = heapless::String<2048>;

fn emit(out: &mut hio::HostStream, line: &str) {
    let _ = out.write_all(line.as_bytes());
}

/// SysTick as a free-running 24-bit down counter, extended to a wrapping u32.
struct Ticks {
    last: u32,
    total: u32,
}

impl Ticks {
    fn start(syst: &mut SYST) -> Ticks {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        Ticks {
            last: SYST::get_current(),
            total: 0,
        }
    }

    fn now(&mut self) -> u32 {
        let cur = SYST::get_current();
        self.total = self
            .total
            .wrapping_add(self.last.wrapping_sub(cur) & 0x00FF_FFFF);
        self.last = cur;
        self.total
    }
}

/// Exactly `2 × n` instructions (`subs` + `bne` per iteration) plus a few.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!("1:", "subs {0}, #1", "bne 1b", inout(reg) n => _, options(nomem, nostack));
    }
}

/// Window `w` of `trace` (hop [`HOP`]) as the model input: channel-major, in g.
fn window(trace: &[[i16; 3]], w: usize, x: &mut [f32; CHANNELS * WINDOW]) {
    for s in 0..WINDOW {
        for c in 0..CHANNELS {
            x[c * WINDOW + s] = mg_to_input(trace[w * HOP + s][c]);
        }
    }
}

struct Cost {
    observe: u64,
    predict: u64,
    calls: u64,
}

fn phase(
    out: &mut hio::HostStream,
    name: &str,
    trace: &[[i16; 3]],
    session: &mut Session<'_, '_>,
    monitor: &mut Monitor<'_>,
    ticks: &mut Ticks,
    cost: &mut Cost,
) -> Result<(), ()> {
    monitor.reset();
    let mut x = [0f32; CHANNELS * WINDOW];
    let mut scores = [0f32; OUTPUT_LEN];
    let windows = if trace.len() >= WINDOW {
        (trace.len() - WINDOW) / HOP + 1
    } else {
        0
    };
    for w in 0..windows {
        window(trace, w, &mut x);
        let t0 = ticks.now();
        let r = session.predict(&x, &mut scores);
        let t1 = ticks.now();
        let o = monitor.observe(&x, r.is_ok().then_some(&scores[..]));
        let t2 = ticks.now();
        if r.is_err() || o.is_err() {
            let mut line = Line::new();
            let _ = writeln!(line, "error: window {w}: {:?} {:?}", r.err(), o.err());
            emit(out, &line);
            return Err(());
        }
        monitor.observe_latency(t1.wrapping_sub(t0));
        cost.predict += t1.wrapping_sub(t0) as u64;
        cost.observe += t2.wrapping_sub(t1) as u64;
        cost.calls += 1;
    }
    let lat = monitor.latency();
    let mut line = Line::new();
    let od = monitor.output_drift();
    let _ = writeln!(
        line,
        "phase={name} rows={} output_psi={:.4} output_flagged={} latency_ticks_mean={:.1} p50={:.1} p95={:.1} max={}",
        monitor.rows(),
        od.map_or(0.0, |d| d.psi),
        od.is_some_and(|d| d.flagged()) as u8,
        lat.mean,
        lat.p50,
        lat.p95,
        lat.max
    );
    emit(out, &line);
    for i in 0..monitor.num_features() {
        let Ok(f) = monitor.feature(i) else {
            return Err(());
        };
        let mut line = Line::new();
        let _ = writeln!(
            line,
            "feature index={i} name={} psi={:.4} p={:.4} level={} flagged={} missing={} out_of_range={}",
            monitor.feature_name(i),
            f.drift.psi,
            f.drift.p_value,
            f.drift.level().name(),
            f.drift.flagged() as u8,
            f.missing,
            f.out_of_range
        );
        emit(out, &line);
    }
    let mut buf = [0u8; 5 * MONITOR_WORDS + 128];
    let Ok(snap) = monitor.snapshot(&mut buf) else {
        return Err(());
    };
    let mut line = Line::new();
    let _ = write!(line, "snapshot=");
    for b in snap.iter() {
        let _ = write!(line, "{b:02x}");
    }
    let _ = writeln!(line);
    emit(out, &line);
    Ok(())
}

fn run(
    arena: &'static mut Arena<ARENA_SIZE>,
    words: &'static mut MonitorBuffer<MONITOR_WORDS>,
    syst: &mut SYST,
) -> Result<(), ()> {
    let mut out = hio::hstdout()?;
    let out = &mut out;
    let model = Model::load(MODEL).map_err(|_| ())?;
    let mut session = Session::new(&model, &mut arena.0).map_err(|_| ())?;
    let mut monitor = match Monitor::new(&model, &mut words.0) {
        Ok(m) => m,
        Err(e) => {
            let mut line = Line::new();
            let _ = writeln!(line, "error: monitor: {e}");
            emit(out, &line);
            return Err(());
        }
    };
    let mut ticks = Ticks::start(syst);
    // Instructions per SysTick tick, from a loop of known length.
    let t0 = ticks.now();
    spin(500_000);
    let calib = ticks.now().wrapping_sub(t0).max(1);
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "ferrite monitor demo: model \"{}\", {} features, monitor storage {} bytes + {} bytes of state, calibration {} instructions in {} ticks",
        model.metadata().name,
        monitor.num_features(),
        4 * MONITOR_WORDS,
        core::mem::size_of::<Monitor<'_>>(),
        1_000_000,
        calib
    );
    emit(out, &line);
    let mut cost = Cost {
        observe: 0,
        predict: 0,
        calls: 0,
    };
    phase(
        out,
        "normal",
        &TRACE,
        &mut session,
        &mut monitor,
        &mut ticks,
        &mut cost,
    )?;
    phase(
        out,
        "shifted",
        &TRACE_SHIFTED,
        &mut session,
        &mut monitor,
        &mut ticks,
        &mut cost,
    )?;
    let per_tick = 1_000_000.0 / calib as f64;
    let calls = cost.calls.max(1) as f64;
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "cost calls={} observe_ticks={:.1} predict_ticks={:.1} instructions_per_tick={:.2} observe_instructions={:.0} predict_instructions={:.0}",
        cost.calls,
        cost.observe as f64 / calls,
        cost.predict as f64 / calls,
        per_tick,
        cost.observe as f64 / calls * per_tick,
        cost.predict as f64 / calls * per_tick
    );
    emit(out, &line);
    Ok(())
}

#[entry]
fn main() -> ! {
    static mut ARENA: Arena<ARENA_SIZE> = Arena::new();
    static mut WORDS: MonitorBuffer<MONITOR_WORDS> = MonitorBuffer::new();
    let ok = match cortex_m::Peripherals::take() {
        Some(mut p) => run(ARENA, WORDS, &mut p.SYST).is_ok(),
        None => false,
    };
    qemu_exit::finish(ok)
}
