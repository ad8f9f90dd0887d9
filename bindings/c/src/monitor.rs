//! Drift and latency monitoring (`fer_monitor_*`): a `Monitor` of the runtime over the
//! caller's `uint32_t` storage or a library allocation.

use crate::model::{model_ref, FerModel};
use crate::status::{guard, Fail, FerStatus};
use crate::util::{out, slice, slice_mut};
use core::mem::{align_of, size_of};
use core::ptr;
use ferrite::{Drift, DriftLevel, Error, Monitor};

const MONITOR_MAGIC: u32 = u32::from_le_bytes(*b"FERM");

/// A drift and latency monitor over a model with a monitoring baseline. Opaque; create
/// it with `fer_monitor_new_in` (caller storage) or `fer_monitor_new` (library storage),
/// release it with `fer_monitor_free` before its model. One thread at a time.
#[derive(Debug)]
pub struct FerMonitor {
    magic: u32,
    #[cfg(feature = "std")]
    block: Option<ptr::NonNull<[u64]>>,
    monitor: Monitor<'static>,
}

/// Words of the monitor header at the start of the storage (aligned to 8 bytes).
const HEADER_WORDS: usize = size_of::<FerMonitor>().div_ceil(8) * 2;

/// `uint32_t` words a caller's storage needs on top of the model's counters
/// (`fer_model_monitor_words`): the monitor's own state and alignment padding.
pub const FER_MONITOR_STORAGE_OVERHEAD: usize = 96;

// The header plus one word of alignment padding.
const _: () = assert!(HEADER_WORDS < FER_MONITOR_STORAGE_OVERHEAD);
const _: () = assert!(align_of::<FerMonitor>() <= 8);

/// How far a distribution moved from its baseline (PSI bands).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FerDriftLevel {
    /// PSI < 0.1.
    Stable = 0,
    /// 0.1 ≤ PSI ≤ 0.25.
    Moderate = 1,
    /// PSI > 0.25: flagged.
    Shifted = 2,
}

/// One distribution compared with its baseline (`fer_monitor_feature`,
/// `fer_monitor_output_drift`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FerDrift {
    /// Rows in the observed histogram (effective count after decay).
    pub rows: u32,
    /// Population Stability Index.
    pub psi: f64,
    /// p-value of the G-test of homogeneity (small: unlikely to be sampling noise).
    pub p_value: f64,
    /// The G statistic.
    pub g: f64,
    /// Its degrees of freedom.
    pub dof: u32,
    /// The PSI band.
    pub level: FerDriftLevel,
    /// PSI > 0.25.
    pub flagged: bool,
    /// Missing (NaN) values seen (features only; 0 for the output).
    pub missing: u32,
    /// Values outside the baseline's range (features only; 0 for the output).
    pub out_of_range: u32,
}

/// Latency statistics in the caller's clock ticks (`fer_monitor_latency`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FerLatency {
    /// Timed predictions (effective count after decay).
    pub count: u32,
    /// Mean ticks.
    pub mean: f64,
    /// Most ticks of one prediction since creation or reset.
    pub max: u32,
    /// Median ticks (from a histogram with buckets ≤ 25 % wide).
    pub p50: f64,
    /// 95th percentile ticks.
    pub p95: f64,
    /// Ticks per second as set by `fer_monitor_set_clock_hz` (0: unknown).
    pub clock_hz: u32,
}

fn drift(d: Drift, missing: u32, out_of_range: u32) -> FerDrift {
    FerDrift {
        rows: d.rows,
        psi: d.psi,
        p_value: d.p_value,
        g: d.g,
        dof: d.dof,
        level: match d.level() {
            DriftLevel::Stable => FerDriftLevel::Stable,
            DriftLevel::Moderate => FerDriftLevel::Moderate,
            DriftLevel::Shifted => FerDriftLevel::Shifted,
        },
        flagged: d.flagged(),
        missing,
        out_of_range,
    }
}

/// A live monitor handle, or why not.
///
/// # Safety
/// `p` is NULL or a pointer the caller got from this library.
unsafe fn monitor_mut<'a>(p: *mut FerMonitor) -> Result<&'a mut Monitor<'static>, Fail<'a>> {
    if p.is_null() {
        return Err(Fail::Null("monitor"));
    }
    if (p as usize) % align_of::<FerMonitor>() != 0 {
        return Err(Fail::BadHandle("monitor", "FerMonitor"));
    }
    // SAFETY: aligned, non-NULL, a handle by contract; one thread at a time.
    let m = unsafe { &mut *p };
    if m.magic != MONITOR_MAGIC {
        return Err(Fail::BadHandle("monitor", "FerMonitor"));
    }
    Ok(&mut m.monitor)
}

/// Builds a monitor whose header and counters live in `storage[..words]`.
///
/// # Safety
/// `storage` writable for `words` u32, unused by anything else while the monitor lives;
/// `model` outlives the monitor.
unsafe fn place(
    model: &FerModel,
    storage: *mut u32,
    words: usize,
) -> Result<*mut FerMonitor, Fail<'static>> {
    let need = model.model.monitor_words();
    if need == 0 {
        return Err(Fail::Runtime(Error::NoBaseline));
    }
    let total = need + FER_MONITOR_STORAGE_OVERHEAD;
    if storage.is_null() {
        return Err(Fail::Null("storage"));
    }
    if (storage as usize) % align_of::<u32>() != 0 {
        return Err(Fail::MisalignedArg("storage", 4));
    }
    if words < total {
        return Err(Fail::TooSmall {
            what: "storage",
            needed: total,
            cap: words,
            unit: "words",
        });
    }
    let skip = (storage as usize) % 8 / 4;
    // SAFETY: `skip + HEADER_WORDS + need <= total <= words` words are ours.
    unsafe {
        let header = storage.add(skip) as *mut FerMonitor;
        let counters = core::slice::from_raw_parts_mut(storage.add(skip + HEADER_WORDS), need);
        let model: &'static ferrite::Model<'static> =
            &*(&model.model as *const ferrite::Model<'static>);
        let monitor = Monitor::new(model, counters)?;
        header.write(FerMonitor {
            magic: MONITOR_MAGIC,
            #[cfg(feature = "std")]
            block: None,
            monitor,
        });
        Ok(header)
    }
}

/// Counter words the model's monitor needs (0 when the model has no monitoring
/// baseline); `fer_monitor_new_in` needs `FER_MONITOR_STORAGE_OVERHEAD` more.
///
/// # Safety
/// `model`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_model_monitor_words(
    model: *const FerModel,
    out: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = m.model.monitor_words();
        Ok(())
    })
}

/// Creates a monitor in the caller's `storage[0..words]` (`uint32_t` words, at least
/// `fer_model_monitor_words + FER_MONITOR_STORAGE_OVERHEAD`, else
/// `FER_STATUS_BUFFER_TOO_SMALL`), allocating nothing. A model without a baseline gives
/// `FER_STATUS_NO_BASELINE`. On failure `*out` is NULL.
///
/// # Safety
/// `model`: a live handle that outlives the monitor; `storage`: writable for `words`
/// words for the monitor's life; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_new_in(
    model: *const FerModel,
    storage: *mut u32,
    words: usize,
    out: *mut *mut FerMonitor,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = ptr::null_mut();
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        // SAFETY: caller contract.
        *out = unsafe { place(m, storage, words)? };
        Ok(())
    })
}

/// Creates a monitor whose storage the library allocates. On failure `*out` is NULL.
///
/// # Safety
/// `model`: a live handle that outlives the monitor; `out`: writable.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_new(
    model: *const FerModel,
    out: *mut *mut FerMonitor,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        *out = ptr::null_mut();
        // SAFETY: caller contract.
        let m = unsafe { model_ref(model, "model")? };
        let words = m.model.monitor_words() + FER_MONITOR_STORAGE_OVERHEAD;
        let block =
            std::boxed::Box::into_raw(std::vec![0u64; words.div_ceil(2)].into_boxed_slice());
        // SAFETY: a fresh block of at least `words` u32, owned by the monitor.
        match unsafe { place(m, block as *mut u32, words) } {
            Ok(p) => {
                // SAFETY: `p` was just written by `place`.
                unsafe { (*p).block = ptr::NonNull::new(block) };
                *out = p;
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

/// Releases a monitor (and its storage when the library allocated it). NULL is a no-op.
///
/// # Safety
/// `monitor` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_free(monitor: *mut FerMonitor) {
    // SAFETY: caller contract.
    if unsafe { monitor_mut(monitor) }.is_err() {
        return;
    }
    // SAFETY: a live handle: invalidate it, then release what the library allocated.
    unsafe {
        (*monitor).magic = 0;
        #[cfg(feature = "std")]
        if let Some(block) = (*monitor).block {
            drop(std::boxed::Box::from_raw(block.as_ptr()));
        }
    }
}

/// Counts one prediction: the raw input `in[0..n]` (what `fer_predict` took), and, when
/// `scores` is not NULL, output 0 `scores[0..n_scores]`. The input is counted even when
/// `fer_predict` rejected it (NaN: a missing value). Allocates nothing.
///
/// # Safety
/// `monitor`: a live handle; `in`: readable for `n` floats; `scores`: NULL or readable
/// for `n_scores` floats.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_observe(
    monitor: *mut FerMonitor,
    r#in: *const f32,
    n: usize,
    scores: *const f32,
    n_scores: usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let input = unsafe { slice(r#in, n, "in")? };
        let output = if scores.is_null() {
            None
        } else {
            // SAFETY: caller contract.
            Some(unsafe { slice(scores, n_scores, "scores")? })
        };
        m.observe(input, output)?;
        Ok(())
    })
}

/// Records the latency of one prediction in the caller's clock ticks.
///
/// # Safety
/// `monitor`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_observe_latency(
    monitor: *mut FerMonitor,
    ticks: u32,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { monitor_mut(monitor)? }.observe_latency(ticks);
        Ok(())
    })
}

/// Decay window: every `rows` observed rows all counters halve (0: never).
///
/// # Safety
/// `monitor`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_set_window(monitor: *mut FerMonitor, rows: u32) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { monitor_mut(monitor)? }.set_window(rows);
        Ok(())
    })
}

/// Ticks per second of the caller's clock (recorded in snapshots).
///
/// # Safety
/// `monitor`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_set_clock_hz(monitor: *mut FerMonitor, hz: u32) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { monitor_mut(monitor)? }.set_clock_hz(hz);
        Ok(())
    })
}

/// Clears every counter.
///
/// # Safety
/// `monitor`: a live handle.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_reset(monitor: *mut FerMonitor) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        unsafe { monitor_mut(monitor)? }.reset();
        Ok(())
    })
}

/// Number of monitored features and rows observed since creation or reset.
///
/// # Safety
/// `monitor`: a live handle; `features_out`, `rows_out`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_counts(
    monitor: *mut FerMonitor,
    features_out: *mut usize,
    rows_out: *mut u64,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        unsafe {
            crate::util::put_opt(features_out, m.num_features());
            crate::util::put_opt(rows_out, m.rows());
        }
        Ok(())
    })
}

/// Drift of input feature `index` (`FER_STATUS_NO_SUCH_INDEX` past the last).
///
/// # Safety
/// `monitor`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_feature(
    monitor: *mut FerMonitor,
    index: usize,
    out: *mut FerDrift,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        let f = m.feature(index)?;
        *out = drift(f.drift, f.missing, f.out_of_range);
        Ok(())
    })
}

/// Drift of the predictions; `FER_STATUS_NOT_FOUND` when the baseline has no output part.
///
/// # Safety
/// `monitor`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_output_drift(
    monitor: *mut FerMonitor,
    out: *mut FerDrift,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        let d = m
            .output_drift()
            .ok_or(Fail::NoProperty("output baseline"))?;
        *out = drift(d, 0, 0);
        Ok(())
    })
}

/// Latency statistics.
///
/// # Safety
/// `monitor`: a live handle; `out`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_latency(
    monitor: *mut FerMonitor,
    out: *mut FerLatency,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let out = unsafe { self::out(out, "out")? };
        let l = m.latency();
        *out = FerLatency {
            count: l.count,
            mean: l.mean,
            max: l.max,
            p50: l.p50,
            p95: l.p95,
            clock_hz: l.clock_hz,
        };
        Ok(())
    })
}

/// Serializes the counters into `buf[0..cap]` (postcard; send it upstream, decode with
/// `ferrite monitor --snapshot`); `*len` receives the bytes written, or the largest
/// size needed with `FER_STATUS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `monitor`: a live handle; `buf`: writable for `cap` bytes; `len`: writable.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_snapshot(
    monitor: *mut FerMonitor,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let len = unsafe { self::out(len, "len")? };
        *len = m.snapshot_max_len();
        // SAFETY: caller contract.
        let buf = unsafe { slice_mut(buf, cap, "buf")? };
        match m.snapshot(buf) {
            Ok(b) => {
                *len = b.len();
                Ok(())
            }
            Err(_) => Err(Fail::TooSmall {
                what: "buf",
                needed: *len,
                cap,
                unit: "bytes",
            }),
        }
    })
}

/// Replaces the monitor's counters by a snapshot of a monitor of the same model
/// (`FER_STATUS_BAD_SNAPSHOT` otherwise).
///
/// # Safety
/// `monitor`: a live handle; `bytes`: readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fer_monitor_restore(
    monitor: *mut FerMonitor,
    bytes: *const u8,
    len: usize,
) -> FerStatus {
    guard(|| {
        // SAFETY: caller contract.
        let m = unsafe { monitor_mut(monitor)? };
        // SAFETY: caller contract.
        let b = unsafe { slice(bytes, len, "bytes")? };
        m.restore(b)?;
        Ok(())
    })
}
