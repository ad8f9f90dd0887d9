//! The C ABI harness: the `fer_*` functions called the way a C program may call them.
//!
//! The input is a `.fer` file; its trailer is a *script*: each byte picks a call, the
//! bytes after it its arguments (indices, buffer capacities, lengths, values, NULL
//! pointers, misaligned pointers). Everything stays within the contract of
//! `bindings/c/README.md` — live handles, sessions freed before their model, buffers at
//! least as large as the capacity passed, arenas and zero-copy bytes outliving their
//! handles — and each call must then return a status, never crash:
//! - no call returns `FER_STATUS_PANIC`;
//! - `fer_last_error_message()` is a NUL-terminated string of at most 255 bytes, empty
//!   after `FER_STATUS_OK` and not empty after an error;
//! - copying calls report the needed size on `FER_STATUS_BUFFER_TOO_SMALL`, NUL-terminate
//!   strings and never write past `cap`;
//! - a NULL required pointer gives `FER_STATUS_NULL_ARGUMENT`; a NULL out-handle stays
//!   NULL on failure;
//! - `fer_run` on a live session returns `FER_STATUS_OK`.

use crate::runtime::{cycled, f32s, Buf, MAX_ARENA};
use core::ffi::{c_char, CStr};
use core::mem::MaybeUninit;
use core::ptr;
use ferrite_c::*;

/// Reads the script.
struct Script<'a> {
    b: &'a [u8],
    at: usize,
}

impl Script<'_> {
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn byte(&mut self) -> u8 {
        let v = self.b.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    /// An index: mostly small, sometimes huge.
    fn index(&mut self) -> usize {
        match self.byte() {
            250 => usize::MAX,
            251 => u32::MAX as usize,
            252 => 1 << 31,
            v => (v % 10) as usize,
        }
    }

    /// `around` shifted by a small signed amount, or an extreme.
    fn near(&mut self, around: usize) -> usize {
        match self.byte() % 8 {
            0 => around.saturating_sub(1),
            1 => around + 1,
            2 => 0,
            3 => around + 16,
            4 => around.saturating_sub(16),
            _ => around,
        }
    }
}

/// Checks the status of a call and the last-error message that goes with it.
fn check(st: FerStatus) -> FerStatus {
    assert_ne!(st, FerStatus::Panic, "a fer_* call panicked");
    // SAFETY: the library returns a NUL-terminated string, valid until the next call.
    let msg = unsafe { CStr::from_ptr(fer_last_error_message()) };
    let len = msg.to_bytes().len();
    assert!(len <= 255, "last-error message longer than 255 bytes");
    if st == FerStatus::Ok {
        assert_eq!(len, 0, "message after FER_STATUS_OK: {msg:?}");
    } else {
        assert!(len > 0, "no message for {st:?}");
    }
    // SAFETY: any int32 is accepted; a static string comes back.
    assert!(!fer_status_name(st as i32).is_null());
    st
}

/// Calls a copying string function with a capacity chosen by the script and checks the
/// buffer contract.
fn string_call(s: &mut Script<'_>, f: impl Fn(*mut c_char, usize, *mut usize) -> FerStatus) {
    let mode = s.byte() % 4;
    let mut len = usize::MAX;
    if mode == 0 {
        // Size query.
        let st = check(f(ptr::null_mut(), 0, &mut len));
        if st == FerStatus::Ok {
            assert_ne!(len, usize::MAX);
        }
        return;
    }
    let cap = match mode {
        1 => 0,
        2 => (s.byte() % 16) as usize,
        _ => 512,
    };
    // A canary after `cap` bytes: the library must not write past the capacity.
    let mut buf = vec![0x7Fu8 as c_char; cap + 8];
    let st = check(f(buf.as_mut_ptr(), cap, &mut len));
    assert!(buf[cap..].iter().all(|&c| c == 0x7F), "write past cap");
    match st {
        FerStatus::Ok => {
            assert!(len < cap, "string and NUL fit");
            assert_eq!(buf[len], 0, "NUL-terminated");
        }
        FerStatus::BufferTooSmall => assert!(len >= cap, "needed size reported"),
        _ => {}
    }
}

/// A live session and the caller arena it may live in.
struct Sess {
    h: *mut FerSession,
    _arena: Option<Buf>,
}

/// The `c_abi` target.
pub fn c_abi(data: &[u8]) {
    let (model_bytes, script) = crate::fer::split(data);
    let mut s = Script { b: script, at: 0 };

    // Load: copying (any alignment, any length), or zero-copy into caller storage or a
    // heap handle, or zero-copy from misaligned bytes (refused).
    let mut model: *mut FerModel = ptr::null_mut();
    let mut storage = Box::new(MaybeUninit::<FerModelStorage>::zeroed());
    let mut aligned = Buf::new(data.len());
    aligned.bytes().copy_from_slice(data);
    let mode = s.byte() % 4;
    let st = match mode {
        0 => {
            // A copy at an odd address, with the trailer or without.
            let mut odd = vec![0u8; data.len() + 1];
            odd[1..].copy_from_slice(data);
            let len = if s.byte().is_multiple_of(2) {
                data.len()
            } else {
                model_bytes.len()
            };
            // SAFETY: `len` readable bytes; `model` writable.
            unsafe { fer_model_load(odd[1..].as_ptr(), len, &mut model) }
        }
        // SAFETY: aligned bytes and storage outlive the model (freed below first).
        1 => unsafe {
            fer_model_load_static(
                aligned.bytes().as_ptr(),
                data.len(),
                storage.as_mut_ptr(),
                &mut model,
            )
        },
        // SAFETY: as above, heap handle.
        2 => unsafe {
            fer_model_load_static(
                aligned.bytes().as_ptr(),
                data.len(),
                ptr::null_mut(),
                &mut model,
            )
        },
        _ => {
            // SAFETY: `data.len() - 1` readable bytes after the first.
            let st = unsafe {
                fer_model_load_static(
                    aligned.bytes()[1..].as_ptr(),
                    data.len().saturating_sub(1),
                    ptr::null_mut(),
                    &mut model,
                )
            };
            assert_ne!(st, FerStatus::Ok, "misaligned zero-copy bytes are refused");
            st
        }
    };
    check(st);
    if st != FerStatus::Ok {
        assert!(model.is_null(), "out-handle NULL on failure");
        return;
    }
    assert!(!model.is_null());
    let m = model as *const FerModel;

    let mut sessions: Vec<Sess> = Vec::new();
    let mut steps = 0;
    while !s.done() && steps < 64 {
        steps += 1;
        let pick = |s: &mut Script<'_>, n: usize| (s.byte() as usize) % n.max(1);
        // SAFETY (every call below): `m` and the sessions are live handles, every
        // pointer is NULL, points to a live local or buffer of at least the capacity
        // passed, and arenas outlive their sessions.
        unsafe {
            match s.byte() % 18 {
                0 => {
                    let (mut n, mut k) = (0usize, 0usize);
                    check(fer_model_num_inputs(m, &mut n));
                    check(fer_model_num_outputs(m, &mut k));
                    let i = s.index();
                    let mut info = MaybeUninit::<FerTensorInfo>::uninit();
                    let st = check(fer_model_input_info(m, i, info.as_mut_ptr()));
                    assert_eq!(st == FerStatus::Ok, i < n);
                    let st = check(fer_model_output_info(m, i, info.as_mut_ptr()));
                    assert_eq!(st == FerStatus::Ok, i < k);
                }
                1 => {
                    let i = s.index();
                    if s.byte().is_multiple_of(2) {
                        string_call(&mut s, |b, c, l| fer_model_input_name(m, i, b, c, l));
                    } else {
                        string_call(&mut s, |b, c, l| fer_model_output_name(m, i, b, c, l));
                    }
                }
                2 => {
                    let mut n = 0usize;
                    check(fer_model_num_labels(m, &mut n));
                    let i = s.index();
                    string_call(&mut s, |b, c, l| fer_model_label(m, i, b, c, l));
                }
                3 => match s.byte() % 4 {
                    0 => string_call(&mut s, |b, c, l| fer_model_name(m, b, c, l)),
                    1 => string_call(&mut s, |b, c, l| fer_model_version(m, b, c, l)),
                    2 => string_call(&mut s, |b, c, l| fer_model_description(m, b, c, l)),
                    _ => string_call(&mut s, |b, c, l| fer_model_producer(m, b, c, l)),
                },
                4 => {
                    // A key from the script (any bytes but NUL, maybe not UTF-8).
                    let n = (s.byte() % 24) as usize;
                    let mut key: Vec<u8> = (0..n).map(|_| s.byte().max(1)).collect();
                    if s.byte().is_multiple_of(2) {
                        key = b"source_sha256".to_vec();
                    }
                    key.push(0);
                    let k = key.as_ptr() as *const c_char;
                    string_call(&mut s, |b, c, l| fer_model_property(m, k, b, c, l));
                }
                5 => {
                    let mut n = 0usize;
                    check(fer_model_arena_size(m, &mut n));
                    check(fer_session_arena_size(m, &mut n));
                    check(fer_model_num_golden(m, &mut n));
                    assert!(fer_format_version() >> 16 == 1);
                    assert!(!fer_version().is_null());
                }
                6 if sessions.len() < 3 => {
                    let mut need = 0usize;
                    check(fer_model_arena_size(m, &mut need));
                    if need <= MAX_ARENA {
                        let mut h = ptr::null_mut();
                        if check(fer_session_new(m, &mut h)) == FerStatus::Ok {
                            sessions.push(Sess { h, _arena: None });
                        } else {
                            assert!(h.is_null());
                        }
                    }
                }
                7 if sessions.len() < 3 => {
                    let mut need = 0usize;
                    check(fer_session_arena_size(m, &mut need));
                    if need <= MAX_ARENA {
                        let len = s.near(need);
                        let mut arena = Buf::new(len + 1);
                        let base = if s.byte().is_multiple_of(2) {
                            arena.bytes().as_mut_ptr()
                        } else {
                            arena.unaligned().as_mut_ptr()
                        };
                        let mut h = ptr::null_mut();
                        let st = check(fer_session_new_in(m, base.cast(), len, &mut h));
                        if len >= need {
                            assert_eq!(st, FerStatus::Ok, "fer_session_arena_size() bytes suffice");
                        }
                        if st == FerStatus::Ok {
                            sessions.push(Sess {
                                h,
                                _arena: Some(arena),
                            });
                        } else {
                            assert!(h.is_null());
                        }
                    }
                }
                8 if !sessions.is_empty() => {
                    let k = pick(&mut s, sessions.len());
                    fer_session_free(sessions.remove(k).h);
                }
                9 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    let i = s.index();
                    let mut info = MaybeUninit::<FerTensorInfo>::uninit();
                    let el = if fer_model_input_info(m, i, info.as_mut_ptr()) == FerStatus::Ok {
                        info.assume_init().elements
                    } else {
                        4
                    };
                    let n = s.near(el).min(MAX_ARENA / 4);
                    let vals = f32s(script, s.at, n + 1);
                    let p = if s.byte().is_multiple_of(4) {
                        // Misaligned float pointer: refused with a status.
                        (vals.as_ptr() as *const u8).add(1) as *const f32
                    } else {
                        vals.as_ptr()
                    };
                    check(fer_set_input_f32(h, i, p, n));
                }
                10 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    let i = s.index();
                    let mut info = MaybeUninit::<FerTensorInfo>::uninit();
                    let bl = if fer_model_input_info(m, i, info.as_mut_ptr()) == FerStatus::Ok {
                        info.assume_init().byte_len
                    } else {
                        4
                    };
                    let n = s.near(bl).min(MAX_ARENA);
                    let bytes = cycled(script, s.at, n);
                    check(fer_set_input_bytes(h, i, bytes.as_ptr().cast(), n));
                }
                11 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    assert_eq!(
                        check(fer_run(h)),
                        FerStatus::Ok,
                        "fer_run on a live session"
                    );
                }
                12 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    let i = s.index();
                    buffer_call(&mut s, 1, |b, c, l| fer_output_bytes(h, i, b.cast(), c, l));
                }
                13 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    let i = s.index();
                    buffer_call(&mut s, 4, |b, c, l| fer_output_f32(h, i, b.cast(), c, l));
                }
                14 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    let mut info = MaybeUninit::<FerTensorInfo>::uninit();
                    let (n_in, n_out) =
                        if fer_model_input_info(m, 0, info.as_mut_ptr()) == FerStatus::Ok {
                            let n_in = info.assume_init().elements;
                            let _ = fer_model_output_info(m, 0, info.as_mut_ptr());
                            (n_in, info.assume_init().elements)
                        } else {
                            (4, 4)
                        };
                    // With a pipeline the raw width differs: near() explores it.
                    let n = s.near(n_in).min(MAX_ARENA / 4);
                    let cap = s.near(n_out).min(MAX_ARENA / 4);
                    let vals = f32s(script, s.at, n);
                    let mut scores = vec![0f32; cap + 2];
                    scores[cap] = 12345.0;
                    let mut label = -7i32;
                    check(fer_predict(
                        h,
                        vals.as_ptr(),
                        n,
                        scores.as_mut_ptr(),
                        cap,
                        &mut label,
                    ));
                    assert_eq!(scores[cap], 12345.0, "fer_predict wrote past cap");
                }
                15 if !sessions.is_empty() => {
                    let h = sessions[pick(&mut s, sessions.len())].h;
                    check(fer_check_golden(h, s.index()));
                }
                16 => {
                    // NULL for a required pointer.
                    let mut n = 0usize;
                    let st = match s.byte() % 5 {
                        0 => fer_model_num_inputs(ptr::null(), &mut n),
                        1 => fer_model_num_outputs(m, ptr::null_mut()),
                        2 => fer_model_input_info(m, 0, ptr::null_mut()),
                        3 => fer_model_property(m, ptr::null(), ptr::null_mut(), 0, &mut n),
                        _ => fer_run(ptr::null_mut()),
                    };
                    assert_eq!(check(st), FerStatus::NullArgument);
                }
                _ => {
                    let v = i32::from_le_bytes([s.byte(), s.byte(), s.byte(), s.byte()]);
                    assert!(!fer_status_name(v).is_null());
                }
            }
        }
    }
    // SAFETY: sessions first, then the model; each exactly once.
    unsafe {
        for x in sessions.drain(..) {
            fer_session_free(x.h);
        }
        fer_model_free(model);
    }
}

/// Calls a copying buffer function (`unit` bytes per element) with a capacity chosen
/// by the script and checks the buffer contract.
fn buffer_call(
    s: &mut Script<'_>,
    unit: usize,
    f: impl Fn(*mut u8, usize, *mut usize) -> FerStatus,
) {
    let mut len = usize::MAX;
    if s.byte().is_multiple_of(4) {
        let st = check(f(ptr::null_mut(), 0, &mut len));
        if st == FerStatus::Ok {
            assert_ne!(len, usize::MAX);
        }
        return;
    }
    let cap = match s.byte() % 3 {
        0 => (s.byte() % 32) as usize,
        1 => 1 << 12,
        _ => 1 << 16,
    };
    // Aligned (for `float *`), with a canary after `cap` elements.
    let mut buf = Buf::new(cap * unit + 8);
    let b = buf.bytes();
    b.fill(0x7F);
    let st = check(f(b.as_mut_ptr(), cap, &mut len));
    assert!(b[cap * unit..].iter().all(|&x| x == 0x7F), "write past cap");
    match st {
        FerStatus::Ok => assert!(len <= cap),
        FerStatus::BufferTooSmall => assert!(len > cap, "needed size reported"),
        _ => {}
    }
}
