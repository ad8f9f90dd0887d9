//! Model handles: loading (copying or zero-copy) and inspection.

use crate::status::{guard, Fail, FerStatus};
use crate::util::{c_str, copy_out, out, put_opt};
use core::ffi::c_char;
use core::mem::{align_of, size_of};
use core::ptr;
use ferrite::signature::{PublicKey, VerifyPolicy};
use ferrite::{DType, Model, Quant, TensorDef};

const MODEL_MAGIC: u32 = u32::from_le_bytes(*b"FERM");

/// A loaded and validated model. Opaque; create it with `fer_model_load` or
/// `fer_model_load_static`, release it with `fer_model_free` after every session over it.
///
/// A model is immutable: it may be shared by any number of sessions and threads.
#[derive(Debug)]
pub struct FerModel {
    magic: u32,
    /// The handle itself was allocated by the library (else it lives in caller storage).
    #[cfg(feature = "std")]
    boxed: bool,
    /// The library's aligned copy of the model bytes (`fer_model_load`).
    #[cfg(feature = "std")]
    copy: Option<ptr::NonNull<[u128]>>,
    /// Borrows either `copy` or the caller's bytes; both outlive the handle.
    pub(crate) model: Model<'static>,
}

/// Number of `uint64_t` words in a `FerModelStorage`.
pub const FER_MODEL_STORAGE_WORDS: usize = 64;

/// Caller-provided memory for a model handle, for `fer_model_load_static` without an
/// allocator: declare one (static, or anywhere that outlives the model) and pass its
/// address. Its content is private; do not copy or move it while the model is alive.
#[repr(C)]
#[derive(Debug)]
pub struct FerModelStorage {
    /// Private.
    pub opaque: [u64; FER_MODEL_STORAGE_WORDS],
}

const _: () = assert!(size_of::<FerModel>() <= size_of::<FerModelStorage>());
const _: () = assert!(align_of::<FerModel>() <= align_of::<FerModelStorage>());

/// Element type of a tensor (same values as the model format's dtype codes).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FerDtype {
    /// IEEE-754 binary32.
    F32 = 0,
    /// IEEE-754 binary16.
    F16 = 1,
    /// Signed 8-bit integer.
    I8 = 2,
    /// Unsigned 8-bit integer.
    U8 = 3,
    /// Signed 32-bit integer.
    I32 = 4,
    /// Signed 64-bit integer.
    I64 = 5,
}

/// Quantization of a tensor.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FerQuant {
    /// Not quantized (`scale` 0, `zero_point` 0).
    None = 0,
    /// `real = scale * (q - zero_point)`.
    PerTensor = 1,
    /// Symmetric per-channel (weights only; `scale` and `zero_point` are 0).
    PerChannel = 2,
}

/// Largest tensor rank.
pub const FER_MAX_RANK: usize = 8;
const _: () = assert!(FER_MAX_RANK == ferrite::format::types::MAX_RANK);

/// Description of a model input or output (`fer_model_input_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FerTensorInfo {
    /// Element type.
    pub dtype: FerDtype,
    /// Number of dimensions (`shape[rank..]` are 0).
    pub rank: u32,
    /// Dimensions, outermost first.
    pub shape: [u32; FER_MAX_RANK],
    /// Number of elements (product of the shape): the `n` of `fer_predict` for input 0.
    pub elements: usize,
    /// Size of the raw tensor in bytes (`fer_set_input_bytes`, `fer_output_bytes`).
    pub byte_len: usize,
    /// Quantization kind.
    pub quant: FerQuant,
    /// Scale of a `FER_QUANT_PER_TENSOR` tensor.
    pub scale: f32,
    /// Zero point of a `FER_QUANT_PER_TENSOR` tensor.
    pub zero_point: i32,
}

impl FerTensorInfo {
    fn of(t: &TensorDef<'_>) -> Result<Self, Fail<'static>> {
        let bad = Fail::Runtime(ferrite::Error::BadTensor { tensor: 0 });
        let mut shape = [0u32; FER_MAX_RANK];
        shape[..t.shape.len()].copy_from_slice(&t.shape);
        let (quant, scale, zero_point) = match t.quant {
            Quant::None => (FerQuant::None, 0.0, 0),
            Quant::PerTensor { scale, zero_point } => (FerQuant::PerTensor, scale, zero_point),
            Quant::PerChannel { .. } => (FerQuant::PerChannel, 0.0, 0),
        };
        Ok(FerTensorInfo {
            dtype: match t.dtype {
                DType::F32 => FerDtype::F32,
                DType::F16 => FerDtype::F16,
                DType::I8 => FerDtype::I8,
                DType::U8 => FerDtype::U8,
                DType::I32 => FerDtype::I32,
                DType::I64 => FerDtype::I64,
            },
            rank: t.shape.len() as u32,
            shape,
            elements: t.elements().ok_or(bad)?,
            byte_len: t
                .byte_len()
                .ok_or(Fail::Runtime(ferrite::Error::BadTensor { tensor: 0 }))?,
            quant,
            scale,
            zero_point,
        })
    }
}

/// A live model handle, or why not.
///
/// # Safety
/// `p` is NULL or a pointer the caller got from this library (possibly freed: the magic
/// check then catches most misuse, but reading freed memory is the caller's bug).
pub(crate) unsafe fn model_ref<'a>(
    p: *const FerModel,
    name: &'static str,
) -> Result<&'a FerModel, Fail<'a>> {
    if p.is_null() {
        return Err(Fail::Null(name));
    }
    if (p as usize) % align_of::<FerModel>() != 0 {
        return Err(Fail::BadHandle(name, "FerModel"));
    }
    // SAFETY: aligned, non-NULL, points to a handle by contract.
    let m = unsafe { &*p };
    if m.magic != MODEL_MAGIC {
        return Err(Fail::BadHandle(name, "FerModel"));
    }
    Ok(m)
}

/// The version of this library, e.g. `"0.1.0"` (static, NUL-terminated).
#[no_mangle]
pub extern "C" fn fer_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The model format version this library reads: `major << 16 | minor`. Models of the
/// same major version and any minor version up to this one load.
#[no_mangle]
pub extern "C" fn fer_format_version() -> u32 {
    (ferrite::format::VERSION_MAJOR as u32) << 16 | ferrite::format::VERSION_MINOR as u32
}

/// Loads a model from `bytes[0..len]`, copying them into 16-byte aligned memory owned by
/// the model: `bytes` may be freed as soon as this returns, and need no alignment.
///
/// The whole file is validated once (CRC, every offset, shape, dtype, op, arena plan):
/// a truncated or corrupted file gives its status (`FER_STATUS_TRUNCATED`,
/// `FER_STATUS_CHECKSUM`, `FER_STATUS_BAD_MAGIC`…) and `*out` is set to NULL.
/// On success `*out` receives a handle to release with `fer_model_free`.
///
/// Cost: one allocation of `len` bytes and a linear validation pass.
///
/// # Safety
/// `bytes` must be readable for `len` bytes (NULL only with `len == 0`); `out` must be
/// writable.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn fer_model_load(
    bytes: *const u8,
    len: usize,
    out: *mut *mut FerModel,
) -> FerStatus {
    // SAFETY: caller contract.
    guard(|| unsafe { load_copy(bytes, len, None, out) })
}

/// `fer_model_load` that first verifies the model's Ed25519 signature
/// (docs/security.md): the model loads only if it is signed by one of the `n_keys`
/// trusted public keys (`keys` holds `n_keys * 32` bytes, each key as written by
/// `ferrite keygen` in `key.pub`) and its signed `model_version` is at least
/// `min_version` (0 accepts any version; a device passes the highest version it has
/// accepted before, kept in its own storage, to refuse replayed old models).
///
/// Refusals, each with `*out` set to NULL: `FER_STATUS_UNSIGNED` (no signature),
/// `FER_STATUS_UNKNOWN_KEY` (signed by a key not in `keys`), `FER_STATUS_BAD_SIGNATURE`
/// (any byte changed since signing), `FER_STATUS_VERSION_TOO_OLD` (checked after the
/// signature, so the version is authentic); then the checks of `fer_model_load`.
///
/// Cost: one SHA-512 pass over the file and one Ed25519 verification, plus
/// `fer_model_load`.
///
/// # Safety
/// As `fer_model_load`; `keys` must be readable for `n_keys * 32` bytes (NULL only with
/// `n_keys == 0`, which refuses every model).
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn fer_model_load_verified(
    bytes: *const u8,
    len: usize,
    keys: *const u8,
    n_keys: usize,
    min_version: u64,
    out: *mut *mut FerModel,
) -> FerStatus {
    let trust = Trust {
        keys,
        n_keys,
        min_version,
    };
    // SAFETY: caller contract.
    guard(|| unsafe { load_copy(bytes, len, Some(trust), out) })
}

/// The trust arguments of a `*_verified` call, as the caller passed them.
#[derive(Clone, Copy)]
struct Trust {
    keys: *const u8,
    n_keys: usize,
    min_version: u64,
}

/// Loads `bytes` as a model, after checking its signature when `trust` is given.
///
/// # Safety
/// A non-NULL `trust.keys` must be readable for `trust.n_keys * 32` bytes.
unsafe fn load_checked(
    bytes: &'static [u8],
    trust: Option<Trust>,
) -> Result<Model<'static>, Fail<'static>> {
    let Some(t) = trust else {
        return Ok(Model::load(bytes)?);
    };
    // SAFETY: `PublicKey` is `repr(transparent)` over `[u8; 32]` (alignment 1), so
    // `n_keys` keys are exactly the caller's `n_keys * 32` bytes (caller contract).
    let keys = unsafe { crate::util::slice(t.keys as *const PublicKey, t.n_keys, "keys")? };
    let policy = VerifyPolicy {
        keys,
        min_version: t.min_version,
    };
    Ok(Model::load_verified_with(bytes, &policy)?)
}

/// The body of `fer_model_load` and `fer_model_load_verified`.
///
/// # Safety
/// The contract of `fer_model_load`.
#[cfg(feature = "std")]
unsafe fn load_copy(
    bytes: *const u8,
    len: usize,
    trust: Option<Trust>,
    out: *mut *mut FerModel,
) -> Result<(), Fail<'static>> {
    // SAFETY: caller contract.
    let out = unsafe { self::out(out, "out")? };
    *out = ptr::null_mut();
    // SAFETY: caller contract.
    let src = unsafe { crate::util::slice(bytes, len, "bytes")? };
    let words = std::vec![0u128; len.div_ceil(16)].into_boxed_slice();
    let copy = std::boxed::Box::into_raw(words);
    // SAFETY: `copy` is a fresh allocation of at least `len` bytes, freed only after
    // the model that borrows it (`fer_model_free`) or just below on failure.
    let aligned: &'static [u8] = unsafe {
        ptr::copy_nonoverlapping(src.as_ptr(), copy as *mut u8, len);
        core::slice::from_raw_parts(copy as *const u8, len)
    };
    // SAFETY: caller contract.
    match unsafe { load_checked(aligned, trust) } {
        Ok(model) => {
            let handle = FerModel {
                magic: MODEL_MAGIC,
                boxed: true,
                copy: ptr::NonNull::new(copy),
                model,
            };
            *out = std::boxed::Box::into_raw(std::boxed::Box::new(handle));
            Ok(())
        }
        Err(e) => {
            // SAFETY: from `Box::into_raw` above, not shared.
            drop(unsafe { std::boxed::Box::from_raw(copy) });
            Err(e)
        }
    }
}

/// Loads a model **in place** (zero-copy) from `bytes[0..len]`, e.g. a model in flash.
///
/// Requirements, as for the runtime's `Model::load`:
/// - `bytes` must be **16-byte aligned** (`__attribute__((aligned(16)))`, `alignas(16)`),
///   else `FER_STATUS_MISALIGNED`;
/// - the bytes must stay valid and unchanged until the model **and every session over
///   it** are freed.
///
/// `storage` receives the handle itself: pass a `FerModelStorage` that outlives the model
/// to allocate nothing. With `storage == NULL` the handle is allocated on the heap (not
/// available in the no-allocator build: `FER_STATUS_UNSUPPORTED`).
///
/// Validation is the same as `fer_model_load`; on failure `*out` is set to NULL.
///
/// # Safety
/// `bytes` must be readable for `len` bytes for the whole life of the model; `storage`
/// (if not NULL) must be writable and stay in place while the model lives; `out` must
/// be writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_load_static(
    bytes: *const u8,
    len: usize,
    storage: *mut FerModelStorage,
    out: *mut *mut FerModel,
) -> FerStatus {
    // SAFETY: caller contract.
    guard(|| unsafe { load_in_place(bytes, len, None, storage, out) })
}

/// `fer_model_load_static` (zero-copy, no allocation with `storage`) that first verifies
/// the model's signature exactly as `fer_model_load_verified` does, with the same
/// refusals (`FER_STATUS_UNSIGNED`, `FER_STATUS_UNKNOWN_KEY`, `FER_STATUS_BAD_SIGNATURE`,
/// `FER_STATUS_VERSION_TOO_OLD`). Available in the no-allocator build: verification
/// reads the bytes in place and allocates nothing.
///
/// # Safety
/// As `fer_model_load_static`; `keys` must be readable for `n_keys * 32` bytes during
/// the call (NULL only with `n_keys == 0`).
#[no_mangle]
pub unsafe extern "C" fn fer_model_load_static_verified(
    bytes: *const u8,
    len: usize,
    keys: *const u8,
    n_keys: usize,
    min_version: u64,
    storage: *mut FerModelStorage,
    out: *mut *mut FerModel,
) -> FerStatus {
    let trust = Trust {
        keys,
        n_keys,
        min_version,
    };
    // SAFETY: caller contract.
    guard(|| unsafe { load_in_place(bytes, len, Some(trust), storage, out) })
}

/// The body of `fer_model_load_static` and `fer_model_load_static_verified`.
///
/// # Safety
/// The contract of `fer_model_load_static`.
unsafe fn load_in_place(
    bytes: *const u8,
    len: usize,
    trust: Option<Trust>,
    storage: *mut FerModelStorage,
    out: *mut *mut FerModel,
) -> Result<(), Fail<'static>> {
    // SAFETY: caller contract.
    let out = unsafe { self::out(out, "out")? };
    *out = ptr::null_mut();
    // SAFETY: caller contract; the bytes outlive the model.
    let src: &'static [u8] = unsafe { crate::util::slice(bytes, len, "bytes")? };
    if storage.is_null() && !cfg!(feature = "std") {
        return Err(Fail::NeedsStorage);
    }
    // SAFETY: caller contract.
    let model = unsafe { load_checked(src, trust)? };
    let handle = FerModel {
        magic: MODEL_MAGIC,
        #[cfg(feature = "std")]
        boxed: storage.is_null(),
        #[cfg(feature = "std")]
        copy: None,
        model,
    };
    if storage.is_null() {
        #[cfg(feature = "std")]
        {
            *out = std::boxed::Box::into_raw(std::boxed::Box::new(handle));
        }
    } else {
        if (storage as usize) % align_of::<FerModelStorage>() != 0 {
            return Err(Fail::MisalignedArg(
                "storage",
                align_of::<FerModelStorage>(),
            ));
        }
        let p = storage as *mut FerModel;
        // SAFETY: `storage` is writable, large and aligned enough (asserted above).
        unsafe { p.write(handle) };
        *out = p;
    }
    Ok(())
}

/// Releases a model. Every session over it must have been freed before. NULL is a
/// no-op. A model in caller storage only becomes invalid (the storage is not touched
/// otherwise); a zero-copy model's bytes are not freed (they are the caller's).
///
/// # Safety
/// `model` must be NULL or a live handle from `fer_model_load*`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn fer_model_free(model: *mut FerModel) {
    if model.is_null() {
        return;
    }
    guard(|| {
        // SAFETY: caller contract.
        unsafe { model_ref(model, "model")? };
        // SAFETY: live handle; after this nothing refers to it (caller contract).
        unsafe {
            (*model).magic = 0;
            #[cfg(feature = "std")]
            {
                let copy = (*model).copy;
                if (*model).boxed {
                    drop(std::boxed::Box::from_raw(model));
                } else {
                    ptr::drop_in_place(model);
                }
                // The model borrowed these bytes: free them only after it is gone.
                if let Some(c) = copy {
                    drop(std::boxed::Box::from_raw(c.as_ptr()));
                }
            }
            #[cfg(not(feature = "std"))]
            ptr::drop_in_place(model);
        }
        Ok(())
    });
}

/// Runs `f` on a live model and writes its result to a required out-parameter.
fn query<T>(
    model: *const FerModel,
    dst: *mut T,
    f: impl FnOnce(&Model<'static>) -> Result<T, Fail<'static>>,
) -> FerStatus {
    guard(|| {
        // SAFETY: entry-point contracts (see each function).
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: as above.
        let dst = unsafe { out(dst, "out")? };
        *dst = f(&m.model)?;
        Ok(())
    })
}

/// Copies a string of a live model into the caller's buffer (size-query convention).
fn string(
    model: *const FerModel,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
    f: impl FnOnce(&Model<'static>) -> Result<&'static str, Fail<'static>>,
) -> FerStatus {
    guard(|| {
        // SAFETY: entry-point contracts.
        unsafe { put_opt(len_out, 0) };
        // SAFETY: entry-point contracts.
        let m = unsafe { model_ref(model, "model")? };
        let s = f(&m.model)?;
        // SAFETY: entry-point contracts.
        unsafe { copy_out(s.as_bytes(), true, buf as *mut u8, cap, len_out, "buf") }
    })
}

/// Number of model inputs, into `*out`.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_num_inputs(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.num_inputs()))
}

/// Number of streaming state pairs of the model into `*out`: 0 for a model that does
/// not stream (see `fer_step`).
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_num_states(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.state_pairs().count()))
}

/// Number of model outputs, into `*out`.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_num_outputs(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.num_outputs()))
}

/// Describes input `index` (dtype, shape, element count, byte length, quantization).
/// `FER_STATUS_NO_SUCH_INDEX` past the last input.
///
/// # Safety
/// `model`: a live handle; `info`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_input_info(
    model: *const FerModel,
    index: usize,
    info: *mut FerTensorInfo,
) -> FerStatus {
    query(model, info, |m| FerTensorInfo::of(&m.input(index)?))
}

/// Describes output `index` (see `fer_model_input_info`).
///
/// # Safety
/// `model`: a live handle; `info`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_output_info(
    model: *const FerModel,
    index: usize,
    info: *mut FerTensorInfo,
) -> FerStatus {
    query(model, info, |m| FerTensorInfo::of(&m.output(index)?))
}

/// Copies the name of input `index` into `buf[0..cap]`, NUL-terminated.
///
/// Every string getter follows one convention: `*len_out` (if `len_out` is not NULL)
/// receives the string's length in bytes without the NUL, also when the call fails
/// with `FER_STATUS_BUFFER_TOO_SMALL` (`cap` must be at least length + 1);
/// `buf == NULL` with `cap == 0` is a size query that returns `FER_STATUS_OK`.
///
/// # Safety
/// `model`: a live handle; `buf`: writable for `cap` bytes (or NULL with `cap == 0`);
/// `len_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_input_name(
    model: *const FerModel,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.input(index)?.name))
}

/// Copies the name of output `index` (string convention of `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_output_name(
    model: *const FerModel,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.output(index)?.name))
}

/// Number of class labels of output 0 (0 when the model has none), into `*out`.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_num_labels(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.labels().count()))
}

/// Copies class label `index` (the label of score `index`; string convention of
/// `fer_model_input_name`). `FER_STATUS_NO_SUCH_INDEX` past the last label.
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_label(
    model: *const FerModel,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| {
        m.labels()
            .nth(index)
            .ok_or(Fail::Runtime(ferrite::Error::NoSuchIndex {
                index: index as u32,
            }))
    })
}

/// Copies the model's name from its metadata (string convention of `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_name(
    model: *const FerModel,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.metadata().name))
}

/// Copies the model's version string from its metadata (string convention of
/// `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_version(
    model: *const FerModel,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.metadata().version))
}

/// Copies the model's description (string convention of `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_description(
    model: *const FerModel,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.metadata().description))
}

/// Copies what wrote the model, e.g. `ferrite-tool 0.1.0` (string convention of
/// `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`.
#[no_mangle]
pub unsafe extern "C" fn fer_model_producer(
    model: *const FerModel,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    string(model, buf, cap, len_out, |m| Ok(m.metadata().producer))
}

/// Copies the value of provenance property `key` (NUL-terminated UTF-8), e.g.
/// `"precision"`; `FER_STATUS_NOT_FOUND` when the model has no such property (string
/// convention of `fer_model_input_name`).
///
/// # Safety
/// As `fer_model_input_name`; `key` must be NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn fer_model_property(
    model: *const FerModel,
    key: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { put_opt(len_out, 0) };
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        let key = unsafe { c_str(key, "key")? };
        let value = m
            .model
            .metadata()
            .property(key)
            .ok_or(Fail::NoProperty(key))?;
        // SAFETY: caller contract.
        unsafe { copy_out(value.as_bytes(), true, buf as *mut u8, cap, len_out, "buf") }
    })
}

/// Bytes of tensor arena the model needs (what `ferrite inspect` shows). A session over a
/// caller arena needs `fer_session_arena_size` bytes, i.e. this plus
/// `FER_SESSION_ARENA_OVERHEAD`.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_arena_size(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.arena_size()))
}

/// Number of golden vectors stored in the model (see `fer_check_golden`).
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_num_golden(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    query(model, out, |m| Ok(m.num_golden() as usize))
}

/// The signed header of a signed model: its key id (the first 8 bytes of the signer's
/// public key) into `key_id[0..8]` and its `model_version` into `*model_version`.
/// `FER_STATUS_UNSIGNED` for an unsigned model. Only a model loaded with
/// `fer_model_load*_verified` is proven authentic; for others these are what the file
/// claims.
///
/// # Safety
/// `model` must be a live handle; `key_id` writable for 8 bytes; `model_version` writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_signature(
    model: *const FerModel,
    key_id: *mut u8,
    model_version: *mut u64,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        let id = unsafe { crate::util::slice_mut(key_id, 8, "key_id")? };
        // SAFETY: caller contract.
        let version = unsafe { out(model_version, "model_version")? };
        let info = m.model.signature().ok_or(ferrite::Error::Unsigned)?;
        id.copy_from_slice(&info.key_id);
        *version = info.model_version;
        Ok(())
    })
}
