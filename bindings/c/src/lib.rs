//! # ferrite-c — the C ABI of the ferrite runtime
//!
//! A thin layer over the `ferrite` crate, exported as `fer_*` functions and described by
//! the cbindgen-generated header `include/ferrite.h`. See `README.md` for building and
//! linking (host, Cortex-M, Android, iOS).
//!
//! Conventions of every function:
//! - it returns a [`FerStatus`] (`int32_t`; `FER_STATUS_OK` is 0) and sets the calling
//!   thread's last-error message ([`fer_last_error_message`]);
//! - results come back through out-parameters; NULL required pointers give
//!   `FER_STATUS_NULL_ARGUMENT`, caller buffers that are too small give
//!   `FER_STATUS_BUFFER_TOO_SMALL` (with the needed size), truncated or corrupted models
//!   give the runtime's status — never a crash;
//! - handles are opaque (`FerModel`, `FerSession`) and released by `fer_*_free`.
//!
//! Builds:
//! - **`std` (default)**: host, Android, iOS. Every entry point runs in `catch_unwind`, so
//!   a panic (a bug) returns `FER_STATUS_PANIC` instead of unwinding into C. Built with
//!   `panic = "abort"` (e.g. `-Zbuild-std=std,panic_abort -Cpanic=abort`) a panic aborts.
//! - **no `std`** (`--no-default-features`): `#![no_std]`, no allocator, for
//!   microcontrollers. Only the no-allocation subset exists (zero-copy
//!   `fer_model_load_static` into a `FerModelStorage`, `fer_session_new_in` over a caller
//!   arena); the header hides the other functions when `FERRITE_NO_STD` is defined.
//!   Panics cannot be caught there: the staticlib calls the firmware's panic hook
//!   `fer_panic_handler` (see below), which must not return.
#![no_std]
#![warn(missing_docs)]
#![allow(clippy::missing_safety_doc)] // each `# Safety` section lists the pointer contracts

#[cfg(feature = "std")]
extern crate std;

mod model;
mod monitor;
mod session;
mod status;
mod util;

pub use model::{
    fer_format_version, fer_model_arena_size, fer_model_description, fer_model_free,
    fer_model_input_info, fer_model_input_name, fer_model_label, fer_model_load_static,
    fer_model_load_static_verified, fer_model_name, fer_model_num_golden, fer_model_num_inputs,
    fer_model_num_labels, fer_model_num_outputs, fer_model_num_states, fer_model_output_info,
    fer_model_output_name, fer_model_producer, fer_model_property, fer_model_signature,
    fer_model_version, fer_version, FerDtype, FerModel, FerModelStorage, FerQuant, FerTensorInfo,
    FER_MAX_RANK, FER_MODEL_STORAGE_WORDS,
};
#[cfg(feature = "std")]
pub use model::{fer_model_load, fer_model_load_verified};
#[cfg(feature = "std")]
pub use monitor::fer_monitor_new;
pub use monitor::{
    fer_model_monitor_words, fer_monitor_counts, fer_monitor_feature, fer_monitor_free,
    fer_monitor_latency, fer_monitor_new_in, fer_monitor_observe, fer_monitor_observe_latency,
    fer_monitor_output_drift, fer_monitor_reset, fer_monitor_restore, fer_monitor_set_clock_hz,
    fer_monitor_set_window, fer_monitor_snapshot, FerDrift, FerDriftLevel, FerLatency, FerMonitor,
    FER_MONITOR_STORAGE_OVERHEAD,
};
#[cfg(feature = "std")]
pub use session::fer_session_new;
pub use session::{
    fer_check_golden, fer_output_bytes, fer_output_f32, fer_predict, fer_reset, fer_run,
    fer_session_arena_size, fer_session_free, fer_session_new_in, fer_set_input_bytes,
    fer_set_input_f32, fer_step, FerSession, FER_SESSION_ARENA_OVERHEAD,
};
pub use status::{fer_last_error_message, fer_status_name, FerStatus};

/// Panic handler of the bare-metal staticlib: a panic here is a bug of the library (the
/// runtime never panics on data). It calls the firmware's
/// `void fer_panic_handler(const char *file, uint32_t line)` (which must not return:
/// reset, halt, log…); a firmware that links the library must define it.
#[cfg(all(not(feature = "std"), not(test), target_os = "none"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    extern "C" {
        fn fer_panic_handler(file: *const core::ffi::c_char, line: u32) -> !;
    }
    let (file, line) = match info.location() {
        Some(l) => (l.file(), l.line()),
        None => ("?", 0),
    };
    // The file name is not NUL-terminated in Rust; copy a bounded prefix.
    let mut buf = [0u8; 64];
    let n = file.len().min(buf.len() - 1);
    buf[..n].copy_from_slice(&file.as_bytes()[..n]);
    // SAFETY: the firmware provides this function (documented link-time contract).
    unsafe { fer_panic_handler(buf.as_ptr() as *const core::ffi::c_char, line) }
}
