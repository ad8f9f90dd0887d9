//! Sessions: an arena (the caller's or the library's) and the calls that run a model.

use crate::model::{model_ref, FerModel};
use crate::status::{guard, Fail, FerStatus};
use crate::util::{copy_out, out, put_opt, slice, slice_mut};
use core::mem::{align_of, size_of};
use core::ptr;
use ferrite::format::WIDE_ALIGN;
use ferrite::{Error, NoPlan, Session};

const SESSION_MAGIC: u32 = u32::from_le_bytes(*b"FERS");
const ALIGN: usize = 16;

/// One inference context over a model: its tensors live in an arena. Opaque; create it
/// with `fer_session_new_in` (caller arena) or `fer_session_new` (library arena),
/// release it with `fer_session_free` before its model.
///
/// A session is used by one thread at a time; create one per thread to run a model
/// concurrently.
#[derive(Debug)]
pub struct FerSession {
    magic: u32,
    /// The heap block holding this header and its arena (`fer_session_new`).
    #[cfg(feature = "std")]
    block: Option<ptr::NonNull<[u128]>>,
    session: Session<'static, 'static, NoPlan>,
}

/// Size of the session header at the start of an arena, rounded to the arena alignment.
const HEADER: usize = size_of::<FerSession>().div_ceil(ALIGN) * ALIGN;

/// Bytes a caller arena needs on top of `fer_model_arena_size`: the session's own state
/// (kept at the start of the arena, so that `fer_session_new_in` allocates nothing) and
/// up to 15 bytes to reach 16-byte alignment. A compile-time constant, so firmware can
/// size a static arena: `static uint8_t arena[MODEL_ARENA + FER_SESSION_ARENA_OVERHEAD];`.
pub const FER_SESSION_ARENA_OVERHEAD: usize = 64;

const _: () = assert!(HEADER + ALIGN - 1 <= FER_SESSION_ARENA_OVERHEAD);
const _: () = assert!(align_of::<FerSession>() <= ALIGN);

/// A live session handle, or why not.
///
/// # Safety
/// `p` is NULL or a pointer the caller got from this library.
unsafe fn session_mut<'a>(
    p: *mut FerSession,
) -> Result<&'a mut Session<'static, 'static, NoPlan>, Fail<'a>> {
    if p.is_null() {
        return Err(Fail::Null("session"));
    }
    if (p as usize) % align_of::<FerSession>() != 0 {
        return Err(Fail::BadHandle("session", "FerSession"));
    }
    // SAFETY: aligned, non-NULL, a handle by contract; one thread at a time.
    let s = unsafe { &mut *p };
    if s.magic != SESSION_MAGIC {
        return Err(Fail::BadHandle("session", "FerSession"));
    }
    Ok(&mut s.session)
}

/// Builds a session whose header and arena live in `arena[..len]`.
///
/// # Safety
/// `arena` must be writable for `len` bytes, unused by anything else while the session
/// lives; `model` must outlive the session.
unsafe fn place(
    model: &FerModel,
    arena: *mut u8,
    len: usize,
) -> Result<*mut FerSession, Fail<'static>> {
    let need = model.model.arena_size();
    let too_small = || {
        Fail::Runtime(Error::ArenaTooSmall {
            needed: need.saturating_add(FER_SESSION_ARENA_OVERHEAD),
            actual: len,
        })
    };
    if arena.is_null() {
        return Err(if len == 0 {
            too_small()
        } else {
            Fail::Null("arena")
        });
    }
    // The tensors start at a 64-byte boundary (a cache line) when the arena has room for
    // it, else at the first 16-byte boundary after the header.
    let wide = (WIDE_ALIGN - (arena as usize).wrapping_add(HEADER) % WIDE_ALIGN) % WIDE_ALIGN;
    let skip = if wide
        .checked_add(HEADER)
        .and_then(|v| v.checked_add(need))
        .is_some_and(|t| t <= len)
    {
        wide
    } else {
        (ALIGN - (arena as usize) % ALIGN) % ALIGN
    };
    let total = skip
        .checked_add(HEADER)
        .and_then(|v| v.checked_add(need))
        .ok_or_else(too_small)?;
    if total > len {
        return Err(too_small());
    }
    // SAFETY: `skip + HEADER + need <= len` bytes of `arena` are ours (caller contract).
    unsafe {
        let base = arena.add(skip);
        let tensors = base.add(HEADER);
        // Zeroed so that no tensor is ever read uninitialized, whatever the caller did.
        ptr::write_bytes(tensors, 0, need);
        let tensors: &'static mut [u8] = core::slice::from_raw_parts_mut(tensors, need);
        let model: &'static ferrite::Model<'static> =
            &*(&model.model as *const ferrite::Model<'static>);
        let session = Session::new_unplanned(model, tensors)?;
        let header = base as *mut FerSession;
        header.write(FerSession {
            magic: SESSION_MAGIC,
            #[cfg(feature = "std")]
            block: None,
            session,
        });
        Ok(header)
    }
}

/// Bytes `fer_session_new_in` needs for `model`, whatever the arena's alignment:
/// `fer_model_arena_size + FER_SESSION_ARENA_OVERHEAD`.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_session_arena_size(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = m.model.arena_size() + FER_SESSION_ARENA_OVERHEAD;
        Ok(())
    })
}

/// Creates a session over the caller's `arena[0..len]`, allocating nothing: the session
/// state and every tensor live in the arena. `len` must be at least
/// `fer_session_arena_size(model)` (`fer_model_arena_size + FER_SESSION_ARENA_OVERHEAD`;
/// a 16-byte aligned arena may be up to 15 bytes smaller), else
/// `FER_STATUS_ARENA_TOO_SMALL`. The arena is zeroed.
///
/// The arena must stay valid and otherwise unused until `fer_session_free`; the model
/// must outlive the session. On failure `*out` is set to NULL.
///
/// # Safety
/// `model`: a live handle; `arena`: writable for `len` bytes for the session's life;
/// `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_session_new_in(
    model: *const FerModel,
    arena: *mut core::ffi::c_void,
    len: usize,
    out: *mut *mut FerSession,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = ptr::null_mut();
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        *out = unsafe { place(m, arena as *mut u8, len)? };
        Ok(())
    })
}

/// Creates a session whose arena the library allocates (exactly the size the model
/// needs, 16-byte aligned). On failure `*out` is set to NULL.
///
/// # Safety
/// `model`: a live handle that outlives the session; `out`: writable.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn fer_session_new(
    model: *const FerModel,
    out: *mut *mut FerSession,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = ptr::null_mut();
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // The heap block is 16-byte aligned: 48 more bytes let `place` start the
        // tensors at a 64-byte boundary.
        let bytes = HEADER + m.model.arena_size() + (WIDE_ALIGN - ALIGN);
        let block =
            std::boxed::Box::into_raw(std::vec![0u128; bytes.div_ceil(ALIGN)].into_boxed_slice());
        // SAFETY: a fresh, aligned block of at least `bytes` bytes, owned by the session.
        match unsafe { place(m, block as *mut u8, bytes) } {
            Ok(s) => {
                // SAFETY: `s` was just written by `place`.
                unsafe { (*s).block = ptr::NonNull::new(block) };
                *out = s;
                Ok(())
            }
            Err(e) => {
                // SAFETY: from `Box::into_raw` above, unused.
                drop(unsafe { std::boxed::Box::from_raw(block) });
                Err(e)
            }
        }
    })
}

/// Releases a session (its arena too when the library allocated it; a caller arena is
/// the caller's to reuse or free afterwards). NULL is a no-op.
///
/// # Safety
/// `session` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn fer_session_free(session: *mut FerSession) {
    if session.is_null() {
        return;
    }
    guard(|| {
        // SAFETY: caller contract.
        unsafe { session_mut(session)? };
        // SAFETY: live handle; nothing refers to it after this (caller contract).
        unsafe {
            (*session).magic = 0;
            #[cfg(feature = "std")]
            let block = (*session).block;
            ptr::drop_in_place(session);
            #[cfg(feature = "std")]
            if let Some(b) = block {
                drop(std::boxed::Box::from_raw(b.as_ptr()));
            }
        }
        Ok(())
    });
}

/// One prediction: `in[0..n]` (f32 features, quantized by the model when its input is
/// int8) into input 0, run, output 0 as f32 into `scores[0..cap]`.
///
/// - `n` must equal the element count of input 0 (`FER_STATUS_WRONG_LENGTH`);
/// - `cap` must be at least the element count of output 0 (`FER_STATUS_BUFFER_TOO_SMALL`);
///   exactly that many scores are written;
/// - NaN and infinities are rejected with `FER_STATUS_INVALID_INPUT` (the message names
///   the feature);
/// - `*label_out` (if `label_out` is not NULL) receives the index of the largest score
///   (see `fer_model_label`), or -1 when output 0 has a single value or on failure.
///
/// Allocates nothing.
///
/// # Safety
/// `session`: a live handle; `in`: readable for `n` floats; `scores`: writable for `cap`
/// floats; `label_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fer_predict(
    session: *mut FerSession,
    r#in: *const f32,
    n: usize,
    scores: *mut f32,
    cap: usize,
    label_out: *mut i32,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { put_opt(label_out, -1) };
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        // SAFETY: caller contract.
        let input = unsafe { slice(r#in, n, "in")? };
        // SAFETY: caller contract.
        let scores = unsafe { slice_mut(scores, cap, "scores")? };
        let needed = s.model().output_len(0)?;
        if cap < needed {
            return Err(Fail::TooSmall {
                what: "scores",
                needed,
                cap,
                unit: "values",
            });
        }
        let label = s.predict(input, &mut scores[..needed])?;
        let label = label.map_or(-1, |l| i32::try_from(l).unwrap_or(-1));
        // SAFETY: caller contract.
        unsafe { put_opt(label_out, label) };
        Ok(())
    })
}

/// One step of a streaming model (`ferrite convert --state IN=OUT`, see
/// `fer_model_num_states`): `in[0..n]` (f32) into input 0, run, output 0 as f32 into
/// `out[0..cap]`, then each state output is copied into its state input, so the next
/// call continues the stream. A new session starts from a zero state; `fer_reset`
/// starts a new stream. For a model without state it is one `fer_predict` without the
/// label.
///
/// - `n` must equal the element count of input 0 (`FER_STATUS_WRONG_LENGTH`);
/// - `cap` must be at least the element count of output 0 (`FER_STATUS_BUFFER_TOO_SMALL`).
///
/// Other inputs (e.g. a state set by hand with `fer_set_input_f32`) keep their values.
/// Allocates nothing.
///
/// # Safety
/// `session`: a live handle; `in`: readable for `n` floats; `out`: writable for `cap`
/// floats.
#[no_mangle]
pub unsafe extern "C" fn fer_step(
    session: *mut FerSession,
    r#in: *const f32,
    n: usize,
    out: *mut f32,
    cap: usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        // SAFETY: caller contract.
        let input = unsafe { slice(r#in, n, "in")? };
        // SAFETY: caller contract.
        let out = unsafe { slice_mut(out, cap, "out")? };
        let needed = s.model().output_len(0)?;
        if cap < needed {
            return Err(Fail::TooSmall {
                what: "out",
                needed,
                cap,
                unit: "values",
            });
        }
        Ok(s.step(input, &mut out[..needed])?)
    })
}

/// Zeroes the state inputs of a streaming model: the next `fer_step` starts a new
/// stream. No-op for a model without state.
///
/// # Safety
/// `session`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_reset(session: *mut FerSession) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        Ok(s.reset()?)
    })
}

/// Writes f32 values into input `index`, quantizing them when the input is int8/uint8
/// (no NaN check: see `fer_predict`). `n` must equal the input's element count.
///
/// # Safety
/// `session`: a live handle; `values`: readable for `n` floats.
#[no_mangle]
pub unsafe extern "C" fn fer_set_input_f32(
    session: *mut FerSession,
    index: usize,
    values: *const f32,
    n: usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        // SAFETY: caller contract.
        let values = unsafe { slice(values, n, "values")? };
        Ok(s.set_input_f32(index, values)?)
    })
}

/// Writes the raw bytes of input `index` (little-endian, in the input's own dtype: int8
/// values for an int8 input). `len` must equal the input's `byte_len`
/// (`FER_STATUS_WRONG_LENGTH`).
///
/// # Safety
/// `session`: a live handle; `bytes`: readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fer_set_input_bytes(
    session: *mut FerSession,
    index: usize,
    bytes: *const core::ffi::c_void,
    len: usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        // SAFETY: caller contract.
        let bytes = unsafe { slice(bytes as *const u8, len, "bytes")? };
        Ok(s.set_input_bytes(index, bytes)?)
    })
}

/// Runs the model on the inputs set by `fer_set_input_*`. Allocates nothing.
///
/// # Safety
/// `session`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_run(session: *mut FerSession) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        Ok(s.run()?)
    })
}

/// Copies the raw bytes of output `index` (valid after `fer_run` or `fer_predict`) into
/// `buf[0..cap]`. `*len_out` (if not NULL) receives the output's byte length, also on
/// `FER_STATUS_BUFFER_TOO_SMALL`; `buf == NULL` with `cap == 0` is a size query.
///
/// # Safety
/// `session`: a live handle; `buf`: writable for `cap` bytes (or NULL with `cap == 0`);
/// `len_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fer_output_bytes(
    session: *mut FerSession,
    index: usize,
    buf: *mut core::ffi::c_void,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { put_opt(len_out, 0) };
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        let bytes = s.output_bytes(index)?;
        // SAFETY: caller contract.
        unsafe { copy_out(bytes, false, buf as *mut u8, cap, len_out, "buf") }
    })
}

/// Copies output `index` as f32 (dequantized when it is int8/uint8) into `buf[0..cap]`.
/// `*len_out` (if not NULL) receives the output's element count, also on
/// `FER_STATUS_BUFFER_TOO_SMALL`; `buf == NULL` with `cap == 0` is a size query.
///
/// # Safety
/// `session`: a live handle; `buf`: writable for `cap` floats (or NULL with `cap == 0`);
/// `len_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fer_output_f32(
    session: *mut FerSession,
    index: usize,
    buf: *mut f32,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { put_opt(len_out, 0) };
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        let n = s.model().output_len(index)?;
        // SAFETY: caller contract.
        unsafe { put_opt(len_out, n) };
        if buf.is_null() && cap == 0 {
            return Ok(());
        }
        // SAFETY: caller contract.
        let dst = unsafe { slice_mut(buf, cap, "buf")? };
        if cap < n {
            return Err(Fail::TooSmall {
                what: "buf",
                needed: n,
                cap,
                unit: "values",
            });
        }
        Ok(s.output_f32(index, &mut dst[..n])?)
    })
}

/// Runs golden vector `index` stored in the model (inputs → run → compare output bytes)
/// on this session: `FER_STATUS_OK` when the outputs are identical,
/// `FER_STATUS_GOLDEN_MISMATCH` when not, `FER_STATUS_NO_SUCH_INDEX` past the last one
/// (`fer_model_num_golden`). Overwrites the session's inputs and outputs.
///
/// # Safety
/// `session`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_check_golden(session: *mut FerSession, index: usize) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let s = unsafe { session_mut(session)? };
        let g = u32::try_from(index).map_err(|_| Error::NoSuchIndex { index: u32::MAX })?;
        Ok(s.check_golden(g)?)
    })
}
