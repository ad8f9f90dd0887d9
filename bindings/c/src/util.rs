//! Turning C pointers into Rust references, with a status instead of undefined behaviour
//! for every condition that can be checked (NULL, misalignment, sizes).

use crate::status::Fail;
use core::ffi::{c_char, CStr};

/// `ptr[..len]` as a slice. NULL is accepted only with `len == 0` (an empty slice).
///
/// # Safety
/// A non-NULL `ptr` must point to `len` readable, initialized values that stay unchanged
/// for `'a`.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    name: &'static str,
) -> Result<&'a [T], Fail<'a>> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Fail::Null(name))
        };
    }
    if (ptr as usize) % core::mem::align_of::<T>() != 0 {
        return Err(Fail::MisalignedArg(name, core::mem::align_of::<T>()));
    }
    // SAFETY: non-NULL and aligned; validity and length are the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// `ptr[..len]` as a mutable slice; NULL only with `len == 0`.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` writable values, not aliased during `'a`.
pub(crate) unsafe fn slice_mut<'a, T>(
    ptr: *mut T,
    len: usize,
    name: &'static str,
) -> Result<&'a mut [T], Fail<'a>> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&mut [])
        } else {
            Err(Fail::Null(name))
        };
    }
    if (ptr as usize) % core::mem::align_of::<T>() != 0 {
        return Err(Fail::MisalignedArg(name, core::mem::align_of::<T>()));
    }
    // SAFETY: non-NULL and aligned; validity and length are the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// A required out-parameter.
///
/// # Safety
/// A non-NULL `ptr` must be valid for writes of a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, name: &'static str) -> Result<&'a mut T, Fail<'a>> {
    if ptr.is_null() {
        return Err(Fail::Null(name));
    }
    if (ptr as usize) % core::mem::align_of::<T>() != 0 {
        return Err(Fail::MisalignedArg(name, core::mem::align_of::<T>()));
    }
    // SAFETY: non-NULL, aligned, writable by contract.
    Ok(unsafe { &mut *ptr })
}

/// Writes `value` through an optional out-parameter (NULL: ignored).
///
/// # Safety
/// A non-NULL `ptr` must be valid for writes of a `T` and aligned.
pub(crate) unsafe fn put_opt<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() && (ptr as usize) % core::mem::align_of::<T>() == 0 {
        // SAFETY: as above.
        unsafe { ptr.write(value) };
    }
}

/// A NUL-terminated UTF-8 argument.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string that stays unchanged for `'a`.
pub(crate) unsafe fn c_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a str, Fail<'a>> {
    if ptr.is_null() {
        return Err(Fail::Null(name));
    }
    // SAFETY: NUL-terminated by contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map_err(|_| Fail::NotUtf8(name))
}

/// Copies `bytes` into the caller's buffer `buf[..cap]` with the size-query convention
/// shared by every copying call:
/// - `*len_out` (if not NULL) receives `bytes.len()` on success and on
///   `FER_STATUS_BUFFER_TOO_SMALL`;
/// - `buf == NULL && cap == 0` is a size query: nothing is copied, `FER_STATUS_OK`;
/// - with `nul`, a terminating NUL is written after the bytes (and counted in the
///   capacity needed, not in `*len_out`).
///
/// # Safety
/// A non-NULL `buf` must be valid for `cap` byte writes.
pub(crate) unsafe fn copy_out(
    bytes: &[u8],
    nul: bool,
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
    what: &'static str,
) -> Result<(), Fail<'static>> {
    // SAFETY: forwarded contract.
    unsafe { put_opt(len_out, bytes.len()) };
    if buf.is_null() && cap == 0 {
        return Ok(());
    }
    // SAFETY: forwarded contract.
    let dst = unsafe { slice_mut(buf, cap, what)? };
    let needed = bytes.len() + nul as usize;
    if cap < needed {
        return Err(Fail::TooSmall {
            what,
            needed,
            cap,
            unit: "bytes",
        });
    }
    dst[..bytes.len()].copy_from_slice(bytes);
    if nul {
        dst[bytes.len()] = 0;
    }
    Ok(())
}
