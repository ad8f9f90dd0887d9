//! Status codes, the last-error message and the guard around every entry point.
//!
//! Every `fer_*` call that can fail returns a [`FerStatus`] and overwrites the calling
//! thread's last-error message: the empty string on `FER_STATUS_OK`, a one-line English
//! description otherwise. No Rust panic ever crosses the boundary: with the `std`
//! feature every entry point runs inside `catch_unwind` (a panic becomes
//! `FER_STATUS_PANIC`); without it panics abort (see the crate docs).

use core::ffi::c_char;
use core::fmt::{self, Write};

/// Result of every fallible `fer_*` call. `FER_STATUS_OK` is 0; the codes 1..=24 are the
/// runtime's stable error codes (`ferrite::Error::code()`); 100 and above are errors of
/// the C boundary itself. Values are never reused; new ones may be added.
///
/// Its C type is `int32_t` whatever the compiler's enum size (`-fshort-enums` included).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FerStatus {
    /// Success.
    Ok = 0,
    /// The bytes do not start with the ferrite magic: not a model file.
    BadMagic = 1,
    /// The model's format major version is not one this library reads.
    UnsupportedVersion = 2,
    /// The model is shorter than its header says (or than a header).
    Truncated = 3,
    /// The CRC-32 of the model body does not match its header: the file is corrupted.
    Checksum = 4,
    /// A section of the model is malformed (out of bounds, misaligned, duplicated, missing).
    BadSection = 5,
    /// The model has a required section kind unknown to this library.
    UnknownSection = 6,
    /// A structured record of the model failed to decode.
    Decode = 7,
    /// A tensor definition of the model is inconsistent.
    BadTensor = 8,
    /// An op of the model is malformed.
    BadOp = 9,
    /// An op this build does not implement.
    UnsupportedOp = 10,
    /// The model's arena plan is invalid.
    BadPlan = 11,
    /// Model bytes (zero-copy load) or a `float` buffer are not aligned as required.
    Misaligned = 12,
    /// The arena passed to `fer_session_new_in` is too small.
    ArenaTooSmall = 13,
    /// An input has the wrong number of elements or bytes.
    WrongLength = 14,
    /// An input, output, label or golden-vector index does not exist.
    NoSuchIndex = 15,
    /// A value the model cannot accept (NaN or infinity in `fer_predict`…).
    InvalidInput = 16,
    /// A golden vector stored in the model did not reproduce.
    GoldenMismatch = 17,
    /// The model's signature did not verify.
    BadSignature = 18,
    /// The operation needs something this build was compiled without.
    Unsupported = 19,
    /// The model has no monitoring baseline (convert it with `--baseline`).
    NoBaseline = 20,
    /// A monitor snapshot does not decode or belongs to another model.
    BadSnapshot = 21,
    /// Verification was required (`fer_model_load_verified`) and the model is not signed.
    Unsigned = 22,
    /// The model is signed by a key that is not among the trusted public keys.
    UnknownKey = 23,
    /// The model's signed `model_version` is lower than the minimum passed (anti-rollback).
    VersionTooOld = 24,
    /// A required pointer argument was NULL.
    NullArgument = 100,
    /// A caller buffer is too small; the needed size was written to the size out-parameter
    /// when the call has one.
    BufferTooSmall = 101,
    /// An argument is invalid: not a live handle of the expected type, a string that is
    /// not UTF-8…
    InvalidArgument = 102,
    /// A looked-up key (model property) does not exist.
    NotFound = 103,
    /// A bug: the library panicked. The panic was caught (host builds); the handles
    /// involved should be freed and not used again.
    Panic = 104,
    /// A runtime error kind newer than this binding (see the message).
    Other = 105,
}

impl FerStatus {
    /// All statuses, for `fer_status_name` and the tests.
    pub(crate) const ALL: [FerStatus; 31] = [
        FerStatus::Ok,
        FerStatus::BadMagic,
        FerStatus::UnsupportedVersion,
        FerStatus::Truncated,
        FerStatus::Checksum,
        FerStatus::BadSection,
        FerStatus::UnknownSection,
        FerStatus::Decode,
        FerStatus::BadTensor,
        FerStatus::BadOp,
        FerStatus::UnsupportedOp,
        FerStatus::BadPlan,
        FerStatus::Misaligned,
        FerStatus::ArenaTooSmall,
        FerStatus::WrongLength,
        FerStatus::NoSuchIndex,
        FerStatus::InvalidInput,
        FerStatus::GoldenMismatch,
        FerStatus::BadSignature,
        FerStatus::Unsupported,
        FerStatus::NoBaseline,
        FerStatus::BadSnapshot,
        FerStatus::Unsigned,
        FerStatus::UnknownKey,
        FerStatus::VersionTooOld,
        FerStatus::NullArgument,
        FerStatus::BufferTooSmall,
        FerStatus::InvalidArgument,
        FerStatus::NotFound,
        FerStatus::Panic,
        FerStatus::Other,
    ];

    /// The status for a runtime error, through its stable code.
    pub fn from_error(e: &ferrite::Error) -> FerStatus {
        let code = e.code() as i32;
        match FerStatus::ALL
            .iter()
            .find(|s| **s as i32 == code && code < 100)
        {
            Some(s) if code != 0 => *s,
            _ => FerStatus::Other,
        }
    }

    /// The C name of the status, NUL-terminated.
    pub fn c_name(self) -> &'static str {
        match self {
            FerStatus::Ok => "FER_STATUS_OK\0",
            FerStatus::BadMagic => "FER_STATUS_BAD_MAGIC\0",
            FerStatus::UnsupportedVersion => "FER_STATUS_UNSUPPORTED_VERSION\0",
            FerStatus::Truncated => "FER_STATUS_TRUNCATED\0",
            FerStatus::Checksum => "FER_STATUS_CHECKSUM\0",
            FerStatus::BadSection => "FER_STATUS_BAD_SECTION\0",
            FerStatus::UnknownSection => "FER_STATUS_UNKNOWN_SECTION\0",
            FerStatus::Decode => "FER_STATUS_DECODE\0",
            FerStatus::BadTensor => "FER_STATUS_BAD_TENSOR\0",
            FerStatus::BadOp => "FER_STATUS_BAD_OP\0",
            FerStatus::UnsupportedOp => "FER_STATUS_UNSUPPORTED_OP\0",
            FerStatus::BadPlan => "FER_STATUS_BAD_PLAN\0",
            FerStatus::Misaligned => "FER_STATUS_MISALIGNED\0",
            FerStatus::ArenaTooSmall => "FER_STATUS_ARENA_TOO_SMALL\0",
            FerStatus::WrongLength => "FER_STATUS_WRONG_LENGTH\0",
            FerStatus::NoSuchIndex => "FER_STATUS_NO_SUCH_INDEX\0",
            FerStatus::InvalidInput => "FER_STATUS_INVALID_INPUT\0",
            FerStatus::GoldenMismatch => "FER_STATUS_GOLDEN_MISMATCH\0",
            FerStatus::BadSignature => "FER_STATUS_BAD_SIGNATURE\0",
            FerStatus::Unsupported => "FER_STATUS_UNSUPPORTED\0",
            FerStatus::NoBaseline => "FER_STATUS_NO_BASELINE\0",
            FerStatus::BadSnapshot => "FER_STATUS_BAD_SNAPSHOT\0",
            FerStatus::Unsigned => "FER_STATUS_UNSIGNED\0",
            FerStatus::UnknownKey => "FER_STATUS_UNKNOWN_KEY\0",
            FerStatus::VersionTooOld => "FER_STATUS_VERSION_TOO_OLD\0",
            FerStatus::NullArgument => "FER_STATUS_NULL_ARGUMENT\0",
            FerStatus::BufferTooSmall => "FER_STATUS_BUFFER_TOO_SMALL\0",
            FerStatus::InvalidArgument => "FER_STATUS_INVALID_ARGUMENT\0",
            FerStatus::NotFound => "FER_STATUS_NOT_FOUND\0",
            FerStatus::Panic => "FER_STATUS_PANIC\0",
            FerStatus::Other => "FER_STATUS_OTHER\0",
        }
    }
}

/// Why a call failed, before it becomes a status and a message.
#[derive(Debug)]
pub(crate) enum Fail<'a> {
    /// An error of the runtime.
    Runtime(ferrite::Error),
    /// A NULL pointer for the named argument.
    Null(&'static str),
    /// A pointer argument that is not aligned for its element type.
    MisalignedArg(&'static str, usize),
    /// The named caller buffer holds `cap` units, `needed` are needed.
    TooSmall {
        what: &'static str,
        needed: usize,
        cap: usize,
        unit: &'static str,
    },
    /// A handle argument that is not a live handle of the expected type.
    BadHandle(&'static str, &'static str),
    /// A string argument that is not UTF-8.
    NotUtf8(&'static str),
    /// A model property that does not exist.
    NoProperty(&'a str),
    /// A storage argument required by the no-allocator build.
    NeedsStorage,
}

impl Fail<'_> {
    pub(crate) fn status(&self) -> FerStatus {
        match self {
            Fail::Runtime(e) => FerStatus::from_error(e),
            Fail::Null(_) => FerStatus::NullArgument,
            Fail::MisalignedArg(..) => FerStatus::Misaligned,
            Fail::TooSmall { .. } => FerStatus::BufferTooSmall,
            Fail::BadHandle(..) | Fail::NotUtf8(_) => FerStatus::InvalidArgument,
            Fail::NoProperty(_) => FerStatus::NotFound,
            Fail::NeedsStorage => FerStatus::Unsupported,
        }
    }
}

impl From<ferrite::Error> for Fail<'_> {
    fn from(e: ferrite::Error) -> Self {
        Fail::Runtime(e)
    }
}

impl fmt::Display for Fail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Runtime(e) => write!(f, "{e}"),
            Fail::Null(arg) => write!(f, "null pointer passed as `{arg}`"),
            Fail::MisalignedArg(arg, align) => write!(f, "`{arg}` is not {align}-byte aligned"),
            Fail::TooSmall { what, needed, cap, unit } => {
                write!(f, "`{what}` too small: need {needed} {unit}, got {cap}")
            }
            Fail::BadHandle(arg, ty) => write!(
                f,
                "`{arg}` is not a live {ty} handle (already freed, never created, or another type)"
            ),
            Fail::NotUtf8(arg) => write!(f, "`{arg}` is not valid UTF-8"),
            Fail::NoProperty(key) => write!(f, "the model has no property `{key}`"),
            Fail::NeedsStorage => f.write_str(
                "`storage` is required: this build of ferrite-c has no allocator (no `std` feature)",
            ),
        }
    }
}

/// Capacity of the last-error message, NUL included; longer messages are truncated.
pub(crate) const MESSAGE_CAPACITY: usize = 256;

/// Formats into a fixed buffer, truncating at a character boundary and always leaving
/// room for the terminating NUL.
struct Truncating<'b> {
    buf: &'b mut [u8; MESSAGE_CAPACITY],
    len: usize,
}

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MESSAGE_CAPACITY - 1 - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn write_message(buf: &mut [u8; MESSAGE_CAPACITY], msg: fmt::Arguments<'_>) {
    let mut w = Truncating { buf, len: 0 };
    let _ = w.write_fmt(msg);
    let end = w.len;
    buf[end] = 0;
}

#[cfg(feature = "std")]
mod slot {
    use super::MESSAGE_CAPACITY;
    use core::cell::UnsafeCell;

    std::thread_local! {
        // A fixed buffer: no allocation, no TLS destructor.
        static MESSAGE: UnsafeCell<[u8; MESSAGE_CAPACITY]> =
            const { UnsafeCell::new([0; MESSAGE_CAPACITY]) };
    }

    /// Runs `f` on this thread's message buffer (not at all during thread teardown).
    pub(super) fn with(f: impl FnOnce(&mut [u8; MESSAGE_CAPACITY])) {
        // SAFETY: the buffer is only touched here and in `ptr`, never re-entrantly: `f`
        // only formats a message. C reads it only between calls on this thread.
        let _ = MESSAGE.try_with(|m| f(unsafe { &mut *m.get() }));
    }

    pub(super) fn ptr() -> *const u8 {
        MESSAGE
            .try_with(|m| m.get() as *const u8)
            .unwrap_or(c"".as_ptr() as *const u8)
    }
}

#[cfg(not(feature = "std"))]
mod slot {
    use super::MESSAGE_CAPACITY;
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, Ordering};

    /// One message for the whole program: bare-metal builds have no thread-locals.
    struct Shared {
        busy: AtomicBool,
        buf: UnsafeCell<[u8; MESSAGE_CAPACITY]>,
    }

    // SAFETY: writers are serialized by `busy` (a writer that finds it taken drops its
    // message instead of waiting, so an interrupt handler can never deadlock).
    unsafe impl Sync for Shared {}

    static MESSAGE: Shared = Shared {
        busy: AtomicBool::new(false),
        buf: UnsafeCell::new([0; MESSAGE_CAPACITY]),
    };

    pub(super) fn with(f: impl FnOnce(&mut [u8; MESSAGE_CAPACITY])) {
        if MESSAGE
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: `busy` gives this writer exclusive access.
            f(unsafe { &mut *MESSAGE.buf.get() });
            MESSAGE.busy.store(false, Ordering::Release);
        }
    }

    pub(super) fn ptr() -> *const u8 {
        MESSAGE.buf.get() as *const u8
    }
}

/// Records the outcome of a call as the last-error message and returns its status.
pub(crate) fn finish(r: Result<(), Fail<'_>>) -> FerStatus {
    match r {
        Ok(()) => {
            slot::with(|b| b[0] = 0);
            FerStatus::Ok
        }
        Err(e) => {
            slot::with(|b| write_message(b, format_args!("{e}")));
            e.status()
        }
    }
}

/// Runs the body of an entry point: catches panics (with `std`), records the message.
pub(crate) fn guard<'a>(f: impl FnOnce() -> Result<(), Fail<'a>>) -> FerStatus {
    #[cfg(feature = "std")]
    {
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)) {
            Ok(r) => finish(r),
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| {
                        payload
                            .downcast_ref::<std::string::String>()
                            .map(|s| s.as_str())
                    })
                    .unwrap_or("(no message)");
                slot::with(|b| {
                    write_message(b, format_args!("internal error (panic caught): {what}"))
                });
                // Dropping the payload could itself panic; leak it instead.
                core::mem::forget(payload);
                FerStatus::Panic
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        finish(f())
    }
}

/// The calling thread's last-error message: NUL-terminated UTF-8, empty after a call that
/// returned `FER_STATUS_OK`, never NULL. Valid until the next `fer_*` call on this thread
/// (in the no-`std` build there is one message for the whole program).
#[no_mangle]
pub extern "C" fn fer_last_error_message() -> *const c_char {
    slot::ptr() as *const c_char
}

/// The C name of a status (`"FER_STATUS_TRUNCATED"`…), or `"FER_STATUS_UNKNOWN"` for a
/// value that is not a status. Static, NUL-terminated.
#[no_mangle]
pub extern "C" fn fer_status_name(status: i32) -> *const c_char {
    let name = match FerStatus::ALL.iter().find(|s| **s as i32 == status) {
        Some(s) => s.c_name(),
        None => "FER_STATUS_UNKNOWN\0",
    };
    name.as_ptr() as *const c_char
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> &'static str {
        // SAFETY: the pointer is a NUL-terminated buffer of this thread.
        let c = unsafe { core::ffi::CStr::from_ptr(fer_last_error_message()) };
        std::boxed::Box::leak(c.to_str().unwrap().into())
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        let s = guard(|| -> Result<(), Fail<'static>> { panic!("boom {}", 42) });
        assert_eq!(s, FerStatus::Panic);
        assert_eq!(message(), "internal error (panic caught): boom 42");
        assert_eq!(guard(|| Ok(())), FerStatus::Ok);
        assert_eq!(message(), "");
    }

    #[test]
    fn long_messages_are_truncated_with_a_nul() {
        let long = "é".repeat(400);
        let s = guard(|| Err(Fail::NoProperty(&long)));
        assert_eq!(s, FerStatus::NotFound);
        let m = message();
        assert!(m.len() < MESSAGE_CAPACITY && m.starts_with("the model has no property `é"));
    }

    #[test]
    fn runtime_codes_map_to_the_same_status_values() {
        let cases = [
            ferrite::Error::BadMagic,
            ferrite::Error::Truncated {
                expected: 1,
                actual: 0,
            },
            ferrite::Error::Checksum {
                expected: 1,
                actual: 2,
            },
            ferrite::Error::Misaligned,
            ferrite::Error::Unsupported,
            ferrite::Error::BadSignature,
            ferrite::Error::Unsigned,
            ferrite::Error::UnknownKey,
            ferrite::Error::VersionTooOld { version: 1, min: 2 },
        ];
        for e in cases {
            assert_eq!(FerStatus::from_error(&e) as i32, e.code() as i32, "{e:?}");
        }
    }

    #[test]
    fn status_names_match_the_enum() {
        for s in FerStatus::ALL {
            // SAFETY: static NUL-terminated names.
            let name = unsafe { core::ffi::CStr::from_ptr(fer_status_name(s as i32)) };
            assert!(name.to_str().unwrap().starts_with("FER_STATUS_"));
        }
        let unknown = unsafe { core::ffi::CStr::from_ptr(fer_status_name(-7)) };
        assert_eq!(unknown.to_str().unwrap(), "FER_STATUS_UNKNOWN");
    }
}
