//! Size probe: load a model, open a session over a static arena, run it, read an
//! output. The model bytes come through a volatile read, so the optimizer cannot see
//! that they are empty and must keep the validator, the executor and every kernel of
//! the enabled op set.
#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
use panic_halt as _;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;

/// Stand-in for a model in flash: empty, but opaque to the optimizer.
static MODEL: &[u8] = &[];
/// Stand-in for the device's trusted public key and its stored minimum version.
#[cfg(feature = "verify")]
static KEY: [u8; 32] = [0; 32];
#[cfg(feature = "verify")]
static MIN_VERSION: u64 = 0;

const ARENA_SIZE: usize = 512;
static mut ARENA: [u8; ARENA_SIZE] = [0; ARENA_SIZE];
static mut STATUS: u32 = 0;
static mut OUTPUT: [f32; 4] = [0.0; 4];

#[entry]
fn main() -> ! {
    // SAFETY: a volatile read of a valid `&'static [u8]` static.
    let model: &'static [u8] = unsafe { read_volatile(addr_of!(MODEL)) };
    // SAFETY: `main` runs once, so this is the only reference to ARENA.
    let arena: &'static mut [u8] = unsafe { &mut *addr_of_mut!(ARENA) };
    let status = probe(model, arena);
    // SAFETY: single-threaded bare metal; nothing else touches STATUS.
    unsafe { write_volatile(addr_of_mut!(STATUS), status) };
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "verify"))]
fn load(bytes: &[u8]) -> Result<ferrite::Model<'_>, ferrite::Error> {
    ferrite::Model::load(bytes)
}

#[cfg(feature = "verify")]
fn load(bytes: &[u8]) -> Result<ferrite::Model<'_>, ferrite::Error> {
    // SAFETY: volatile reads of valid statics.
    let (key, min_version) = unsafe {
        (
            read_volatile(addr_of!(KEY)),
            read_volatile(addr_of!(MIN_VERSION)),
        )
    };
    let keys = [ferrite::PublicKey(key)];
    let policy = ferrite::VerifyPolicy {
        keys: &keys,
        min_version,
    };
    ferrite::Model::load_verified_with(bytes, &policy)
}

fn probe(bytes: &[u8], arena: &mut [u8]) -> u32 {
    let Ok(model) = load(bytes) else {
        return 1;
    };
    if model.arena_size() > arena.len() {
        return 2;
    }
    let Ok(mut session) = ferrite::Session::new(&model, arena) else {
        return 3;
    };
    let input = [0.25f32; 4];
    let _ = session.set_input_f32(0, &input);
    if session.run().is_err() {
        return 4;
    }
    let mut output = [0f32; 4];
    let _ = session.output_f32(0, &mut output);
    // SAFETY: single-threaded bare metal; nothing else touches OUTPUT.
    unsafe { write_volatile(addr_of_mut!(OUTPUT), output) };
    0
}
