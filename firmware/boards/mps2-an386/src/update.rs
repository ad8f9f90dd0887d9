//! Safe A/B model updates on the MPS2+ AN386 in `qemu-system-arm`
//! (`ferrite_firmware::update`, issue 17).
//!
//! The signed files `v1.fer`, `v2.fer`, `v3.fer` (the bundled model signed by `ferrite
//! sign --version 1/2/3`) and the trusted `key.pub` come from `FERRITE_UPDATE_DIR` at
//! build time (`firmware/tests/qemu_update.rs` makes them with the CLI). The flash is a
//! `RamFlash` static (this board's "flash" is RAM); "reboot" = drop the updater and run
//! the boot logic again on the same flash. Played in order, each checked:
//!
//! 1. `install`: v1 into the empty device → slot A, confirmed at reboot;
//! 2. `good`: v2 → slot B on trial, confirmed at reboot (highest version 2);
//! 3. `tampered`: v3 with one byte flipped in transit → `BadSignature`, B stays;
//! 4. `old`: v1 again → `VersionTooOld { version: 1, min: 2 }`, B stays;
//! 5. `power-cut`: v3 written for half its chunks, then "reboot" → B active;
//!    then v3 in full → slot A, confirmed (version 3).
//!
//! After each, the active model (signature verified) runs the trace's first window and
//! its output bytes must equal the host runtime's (computed by `build.rs`). One line per
//! scenario (`scenario=NAME ok active=S version=V out=HEX`); exit status 0 when all five
//! end as expected, 1 otherwise.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;

#[path = "../../common/qemu_exit.rs"]
mod qemu_exit;
use cortex_m_semihosting::hio;
use ferrite::signature::PublicKey;
use ferrite::{Arena, Error, Session};
use ferrite_firmware::app::write_hex;
use ferrite_firmware::update::{BootOutcome, RamFlash, Slot, UpdateError, Updater};
use ferrite_firmware::{mg_to_input, INPUT_LEN, WINDOW};

#[allow(dead_code)]
mod bundled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
    include!(concat!(env!("OUT_DIR"), "/trace.rs"));
    include!(concat!(env!("OUT_DIR"), "/update.rs"));
}
use bundled::{ARENA_SIZE, EXPECTED, MAX_FILE, TRACE};

static KEY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/key.pub"));
static V1: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/v1.fer"));
static V2: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/v2.fer"));
static V3: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/v3.fer"));

const SECTOR: usize = RamFlash::<0>::SECTOR;
/// A slot: the largest file rounded up to whole sectors (at least one).
const SLOT: usize = if MAX_FILE == 0 {
    SECTOR
} else {
    MAX_FILE.div_ceil(SECTOR) * SECTOR
};
const REGION: usize = 2 * SECTOR + 2 * SLOT;
/// Bytes per `write_chunk` (as a radio or UART would deliver them).
const CHUNK: usize = 256;

type Dev = RamFlash<REGION>;
type Line = heapless::String<256>;

fn emit(line: &str) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(line.as_bytes());
    }
}

/// Writes `file` in chunks (byte `flip` XOR 0x01, `stop_after` chunks at most) and
/// finishes the update unless stopped.
fn update(
    up: &mut Updater<'_, &mut Dev>,
    file: &[u8],
    flip: Option<usize>,
    stop_after: Option<usize>,
    arena: &mut [u8],
) -> Result<Option<u64>, UpdateError> {
    up.begin_update(file.len())?;
    let mut buf = [0u8; CHUNK];
    for (i, chunk) in file.chunks(CHUNK).enumerate() {
        if stop_after == Some(i) {
            return Ok(None);
        }
        let buf = &mut buf[..chunk.len()];
        buf.copy_from_slice(chunk);
        if let Some(at) = flip.filter(|&at| at / CHUNK == i) {
            buf[at % CHUNK] ^= 0x01;
        }
        up.write_chunk(buf)?;
    }
    up.finish_update(arena).map(Some)
}

/// Runs the active model on the first trace window; checks its output bytes against
/// the host's and prints the scenario's line. Returns whether all matched.
fn report(
    name: &str,
    up: &Updater<'_, &mut Dev>,
    want_slot: Slot,
    want_version: u64,
    arena: &mut [u8],
) -> bool {
    let mut line = Line::new();
    let result = (|| -> Result<(u64, bool), UpdateError> {
        let model = up.active_model()?;
        let version = model.signature().map_or(0, |s| s.model_version);
        let mut x = [0f32; INPUT_LEN];
        for (s, sample) in TRACE.iter().take(WINDOW).enumerate() {
            for (c, &mg) in sample.iter().enumerate() {
                x[c * WINDOW + s] = mg_to_input(mg);
            }
        }
        let mut session = Session::new(&model, arena)?;
        session.set_input_f32(0, &x)?;
        session.run()?;
        let out = session.output_bytes(0)?;
        let _ = write_hex(&mut line, out);
        Ok((version, out == EXPECTED))
    })();
    let mut head = Line::new();
    let ok = match result {
        Ok((version, same)) => {
            let ok = same && version == want_version && up.state().active == Some(want_slot);
            let _ = write!(
                head,
                "scenario={name} {} active={:?} version={version} out=",
                if ok { "ok" } else { "FAIL" },
                up.state().active
            );
            if !same {
                let _ = write!(line, " (host: ");
                let _ = write_hex(&mut line, &EXPECTED);
                let _ = write!(line, ")");
            }
            ok
        }
        Err(e) => {
            let _ = write!(head, "scenario={name} FAIL no working model: {e}");
            false
        }
    };
    let _ = writeln!(line);
    emit(&head);
    emit(&line);
    ok
}

/// Prints and compares one step's result.
fn expect<T: PartialEq + core::fmt::Debug>(what: &str, got: T, want: T) -> bool {
    let mut line = Line::new();
    let ok = got == want;
    let _ = writeln!(
        line,
        "  {what}: {got:?}{}",
        if ok { "" } else { " (UNEXPECTED)" }
    );
    emit(&line);
    if !ok {
        let mut line = Line::new();
        let _ = writeln!(line, "  expected: {want:?}");
        emit(&line);
    }
    ok
}

fn run(flash: &'static mut Dev, arena: &mut [u8]) -> bool {
    if MAX_FILE == 0 || KEY.len() != 32 {
        emit("error: built without FERRITE_UPDATE_DIR (key.pub, v1.fer, v2.fer, v3.fer)\n");
        return false;
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(KEY);
    let keys = [PublicKey(key)];
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "ferrite mps2-an386 A/B update: files {}/{}/{} bytes, slots of {SLOT} bytes, arena {ARENA_SIZE}",
        V1.len(),
        V2.len(),
        V3.len()
    );
    emit(&line);
    let mut ok = true;

    macro_rules! step {
        ($what:expr, $got:expr, $want:expr) => {
            ok &= expect($what, $got, $want);
        };
    }
    macro_rules! booted {
        ($flash:expr, $want:expr) => {
            match Updater::boot($flash, SLOT, &keys, arena) {
                Ok((up, out)) => {
                    step!("boot", out, $want);
                    up
                }
                Err(e) => {
                    let mut line = Line::new();
                    let _ = writeln!(line, "error: boot: {e}");
                    emit(&line);
                    return false;
                }
            }
        };
    }

    // 1. Factory install of v1.
    let mut up = booted!(flash, BootOutcome::Empty);
    step!(
        "install v1",
        update(&mut up, V1, None, None, arena),
        Ok(Some(1))
    );
    let mut up = booted!(up.into_flash(), BootOutcome::Confirmed(Slot::A));
    ok &= report("install", &up, Slot::A, 1, arena);

    // 2. A good update.
    step!(
        "update v2",
        update(&mut up, V2, None, None, arena),
        Ok(Some(2))
    );
    step!("trial", up.state().trial, true);
    let mut up = booted!(up.into_flash(), BootOutcome::Confirmed(Slot::B));
    step!("highest version", up.state().highest_version, 2);
    ok &= report("good", &up, Slot::B, 2, arena);

    // 3. A tampered update: one byte flipped in the middle.
    step!(
        "update v3 tampered",
        update(&mut up, V3, Some(V3.len() / 2), None, arena),
        Err(UpdateError::Model(Error::BadSignature))
    );
    let mut up = booted!(up.into_flash(), BootOutcome::Active(Slot::B));
    ok &= report("tampered", &up, Slot::B, 2, arena);

    // 4. An old version.
    step!(
        "update v1 again",
        update(&mut up, V1, None, None, arena),
        Err(UpdateError::Model(Error::VersionTooOld {
            version: 1,
            min: 2
        }))
    );
    let mut up = booted!(up.into_flash(), BootOutcome::Active(Slot::B));
    ok &= report("old", &up, Slot::B, 2, arena);

    // 5. Power cut after half the chunks of v3, then the full update.
    let half = V3.len().div_ceil(CHUNK) / 2;
    step!(
        "update v3 cut",
        update(&mut up, V3, None, Some(half), arena),
        Ok(None)
    );
    let mut up = booted!(up.into_flash(), BootOutcome::Active(Slot::B));
    ok &= report("power-cut", &up, Slot::B, 2, arena);
    step!(
        "update v3",
        update(&mut up, V3, None, None, arena),
        Ok(Some(3))
    );
    let up = booted!(up.into_flash(), BootOutcome::Confirmed(Slot::A));
    ok &= report("after-power-cut", &up, Slot::A, 3, arena);

    emit(if ok {
        "done all scenarios ok\n"
    } else {
        "done with failures\n"
    });
    ok
}

#[entry]
fn main() -> ! {
    static mut FLASH: Dev = RamFlash::new();
    static mut ARENA: Arena<ARENA_SIZE> = Arena::new();
    qemu_exit::finish(run(FLASH, &mut ARENA.0))
}
