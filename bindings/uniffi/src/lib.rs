//! # ferrite-uniffi — ferrite for Swift, Kotlin and Python
//!
//! A thin [UniFFI](https://mozilla.github.io/uniffi-rs/) wrapper over the `ferrite`
//! runtime: the same load → inspect → predict shape as every other ferrite surface.
//!
//! - `Model` — a validated model, constructed from bytes (`Model::from_bytes`) or a
//!   file (`Model::from_file`); `Send + Sync`, so one instance can serve every thread.
//! - `ModelInfo` — inputs, outputs (name, dtype, shape, quantization), labels,
//!   metadata and the arena size.
//! - `Model::predict` / `Model::predict_batch` → `Prediction` `{ scores, label,
//!   label_name }`; `Model::run_raw` / `Model::run_tensors` for raw tensor bytes;
//!   `Model::check_golden`; `Model::preprocess`.
//! - `FerriteError` — the runtime's errors (stable `code` + `reason`), an exception
//!   in Kotlin (`FerriteException`) and Python, `throws` in Swift.
//!
//! Nothing here panics on any input: every failure is a `FerriteError`. The generated
//! sources and the Swift / Android packaging are described in `README.md`.

mod monitor;
pub use monitor::{Drift, DriftLevel, DriftReport, FeatureDrift, LatencyStats, Monitor};

use ferrite::signature::{PublicKey, VerifyPolicy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

uniffi::setup_scaffolding!();

/// Error code of `FerriteError::Io` (reading a model file failed). Every other code is
/// the runtime's own stable `ferrite::Error::code()` (1–19 today).
pub const CODE_IO: u32 = 1000;

/// Runtime error code for "not supported" (`ferrite::Error::Unsupported`).
const CODE_UNSUPPORTED: u32 = 19;

/// Arenas kept for reuse by a `Model`; more concurrent calls than this allocate and
/// free their arena.
const MAX_POOLED_ARENAS: usize = 16;

/// Everything that can go wrong, grouped by what the caller can do about it.
///
/// Every variant carries `code` — the runtime's stable error code
/// (`ferrite::Error::code()`; 1000 for file I/O) — and `reason`, the runtime's
/// message (for example `wrong length: expected 16 values, got 3`). Variants the caller
/// acts on also carry the structured detail. (The field is not called `message`
/// because Kotlin exceptions already have a `message`, which UniFFI fills with
/// `code=…, reason=…`.)
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum FerriteError {
    /// The bytes are not a valid model: bad magic, unsupported version, truncated,
    /// checksum mismatch, malformed section / record / tensor / op / arena plan, unknown
    /// required section, unsupported op (codes 1–11).
    #[error("{reason}")]
    InvalidModel { code: u32, reason: String },
    /// The model's signature does not verify: a byte changed since it was signed
    /// (code 18).
    #[error("{reason}")]
    BadSignature { code: u32, reason: String },
    /// A verified load (`from_bytes_verified`) got a model without a signature (code 22).
    #[error("{reason}")]
    Unsigned { code: u32, reason: String },
    /// The model is signed by a key that is not among the trusted keys (code 23).
    #[error("{reason}")]
    UnknownKey { code: u32, reason: String },
    /// The model's signed version is lower than the minimum required (anti-rollback,
    /// code 24).
    #[error("{reason}")]
    VersionTooOld {
        code: u32,
        reason: String,
        version: u64,
        min_version: u64,
    },
    /// An input has the wrong number of values (or bytes, for raw tensors, or tensors,
    /// for `run_tensors`) (code 14).
    #[error("{reason}")]
    WrongLength {
        code: u32,
        reason: String,
        expected: u64,
        actual: u64,
    },
    /// A value the model cannot accept, e.g. NaN or infinity; `feature` is the input
    /// column (code 16).
    #[error("{reason}")]
    InvalidInput {
        code: u32,
        reason: String,
        feature: u32,
    },
    /// A golden vector stored in the model did not reproduce on this device (code 17).
    #[error("{reason}")]
    GoldenMismatch {
        code: u32,
        reason: String,
        index: u32,
    },
    /// The model needs something this build cannot do (code 19).
    #[error("{reason}")]
    Unsupported { code: u32, reason: String },
    /// The model file could not be read (code 1000).
    #[error("{reason}")]
    Io {
        code: u32,
        reason: String,
        path: String,
    },
    /// Any other runtime error (misaligned bytes, arena too small, no such index…):
    /// a bug in the caller or in this binding rather than in the data.
    #[error("{reason}")]
    Runtime { code: u32, reason: String },
}

impl FerriteError {
    /// The stable error code (see the type's documentation).
    pub fn code(&self) -> u32 {
        match self {
            FerriteError::InvalidModel { code, .. }
            | FerriteError::BadSignature { code, .. }
            | FerriteError::Unsigned { code, .. }
            | FerriteError::UnknownKey { code, .. }
            | FerriteError::VersionTooOld { code, .. }
            | FerriteError::WrongLength { code, .. }
            | FerriteError::InvalidInput { code, .. }
            | FerriteError::GoldenMismatch { code, .. }
            | FerriteError::Unsupported { code, .. }
            | FerriteError::Io { code, .. }
            | FerriteError::Runtime { code, .. } => *code,
        }
    }

    fn unsupported(message: String) -> Self {
        FerriteError::Unsupported {
            code: CODE_UNSUPPORTED,
            reason: message,
        }
    }

    /// The same error with `prefix` in front of its message (e.g. the batch row).
    fn prefixed(mut self, prefix: &str) -> Self {
        match &mut self {
            FerriteError::InvalidModel { reason, .. }
            | FerriteError::BadSignature { reason, .. }
            | FerriteError::Unsigned { reason, .. }
            | FerriteError::UnknownKey { reason, .. }
            | FerriteError::VersionTooOld { reason, .. }
            | FerriteError::WrongLength { reason, .. }
            | FerriteError::InvalidInput { reason, .. }
            | FerriteError::GoldenMismatch { reason, .. }
            | FerriteError::Unsupported { reason, .. }
            | FerriteError::Io { reason, .. }
            | FerriteError::Runtime { reason, .. } => reason.insert_str(0, prefix),
        }
        self
    }
}

impl From<ferrite::Error> for FerriteError {
    fn from(e: ferrite::Error) -> Self {
        use ferrite::Error as E;
        let (code, message) = (e.code(), e.to_string());
        match e {
            E::BadMagic
            | E::UnsupportedVersion { .. }
            | E::Truncated { .. }
            | E::Checksum { .. }
            | E::BadSection { .. }
            | E::UnknownSection { .. }
            | E::Decode { .. }
            | E::BadTensor { .. }
            | E::BadOp { .. }
            | E::UnsupportedOp { .. }
            | E::BadPlan { .. } => FerriteError::InvalidModel {
                code,
                reason: message,
            },
            E::BadSignature => FerriteError::BadSignature {
                code,
                reason: message,
            },
            E::Unsigned => FerriteError::Unsigned {
                code,
                reason: message,
            },
            E::UnknownKey => FerriteError::UnknownKey {
                code,
                reason: message,
            },
            E::VersionTooOld { version, min } => FerriteError::VersionTooOld {
                code,
                reason: message,
                version,
                min_version: min,
            },
            E::WrongLength { expected, actual } => FerriteError::WrongLength {
                code,
                reason: message,
                expected: expected as u64,
                actual: actual as u64,
            },
            E::InvalidInput { feature } => FerriteError::InvalidInput {
                code,
                reason: message,
                feature,
            },
            E::GoldenMismatch { index } => FerriteError::GoldenMismatch {
                code,
                reason: message,
                index,
            },
            E::Unsupported => FerriteError::Unsupported {
                code,
                reason: message,
            },
            // Misaligned, ArenaTooSmall, NoSuchIndex and variants added to the runtime later.
            _ => FerriteError::Runtime {
                code,
                reason: message,
            },
        }
    }
}

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary16 (weights only; computed in f32).
    F16,
    /// Signed 8-bit integer (quantized).
    I8,
    /// Unsigned 8-bit integer (quantized).
    U8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
}

impl From<ferrite::DType> for DType {
    fn from(d: ferrite::DType) -> Self {
        match d {
            ferrite::DType::F32 => DType::F32,
            ferrite::DType::F16 => DType::F16,
            ferrite::DType::I8 => DType::I8,
            ferrite::DType::U8 => DType::U8,
            ferrite::DType::I32 => DType::I32,
            ferrite::DType::I64 => DType::I64,
        }
    }
}

/// How a quantized tensor maps to real values.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Quantization {
    /// `real = scale * (q - zero_point)`: what a caller of `Model::run_raw` uses to
    /// quantize its input and dequantize the output.
    PerTensor { scale: f32, zero_point: i32 },
    /// Symmetric per-channel scales along `axis` (weights).
    PerChannel { axis: u8 },
}

/// One input or output tensor of the model.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TensorInfo {
    /// Name from the source model.
    pub name: String,
    pub dtype: DType,
    /// Dimensions, outermost first (e.g. `[1, 16]`).
    pub shape: Vec<u32>,
    /// Number of values (product of `shape`): the length `predict` expects.
    pub elements: u64,
    /// Size in bytes: the length `run_raw` expects.
    pub byte_len: u64,
    /// `None` for float and plain integer tensors.
    pub quantization: Option<Quantization>,
}

/// The signed header of a signed model (`Model::signature`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelSignature {
    /// Which key signed the file: the first 8 bytes of its public key.
    pub key_id: Vec<u8>,
    /// The model version stamped by `ferrite sign --version`.
    pub model_version: u64,
}

/// Metadata and provenance written by the host tool.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    /// What wrote the file, e.g. `ferrite-tool 0.1.0`.
    pub producer: String,
    /// Free-form `key=value` provenance (source hash, precision, …).
    pub properties: HashMap<String, String>,
}

/// What a model expects and produces.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    pub metadata: ModelMetadata,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// Class names of the first output, in score order (may be empty).
    pub labels: Vec<String>,
    /// Bytes of working memory one inference needs.
    pub arena_size: u64,
    /// Size of the model file in bytes.
    pub file_size: u64,
    /// Golden vectors stored in the model (see `Model::check_golden`).
    pub num_golden: u32,
    /// Whether the model carries a preprocessing pipeline (see `Model::preprocess`).
    pub has_preprocessing: bool,
}

/// The result of one prediction.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Prediction {
    /// The first output as f32 (dequantized for int8 outputs), e.g. class probabilities.
    pub scores: Vec<f32>,
    /// Index of the largest score (first on ties); `None` when the output is one value.
    pub label: Option<u32>,
    /// `labels[label]`, when the model has labels.
    pub label_name: Option<String>,
}

/// A validated model, ready to run from any number of threads.
///
/// Construction copies the bytes into aligned memory and validates the whole file
/// once; after that no call can fail on the model, only on its arguments. Each call
/// runs in its own arena taken from a small pool, so concurrent calls on one `Model`
/// are safe and give the same results as sequential ones.
#[derive(uniffi::Object)]
pub struct Model {
    owned: ferrite::OwnedModel,
    info: ModelInfo,
    /// Arenas of `arena_size + 63` bytes: `Session::new` starts the arena at a 64-byte
    /// boundary (a cache line) inside them, whatever the heap gave.
    arenas: Mutex<Vec<Vec<u8>>>,
}

impl core::fmt::Debug for Model {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.info.metadata.name)
            .field("file_size", &self.info.file_size)
            .field("arena_size", &self.info.arena_size)
            .field("pooled_arenas", &self.lock_arenas().len())
            .finish()
    }
}

#[uniffi::export]
impl Model {
    /// Loads a model from the bytes of a `.fer` file (any alignment).
    ///
    /// Errors: `FerriteError::InvalidModel` for anything wrong with the bytes.
    #[uniffi::constructor]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Arc<Self>, FerriteError> {
        Self::load(&bytes).map(Arc::new)
    }

    /// Loads a model only if it is signed (`ferrite sign`) by one of `public_keys` (each
    /// the 32 bytes of a `key.pub` file) with a signed `model_version` of at least
    /// `min_version` (anti-rollback: pass the highest version accepted before). The
    /// signature is checked first (docs/security.md).
    ///
    /// Errors: `FerriteError::Unsigned`, `UnknownKey`, `BadSignature`, `VersionTooOld`;
    /// `WrongLength` for a key that is not 32 bytes; then those of `from_bytes`.
    #[uniffi::constructor]
    pub fn from_bytes_verified(
        bytes: Vec<u8>,
        public_keys: Vec<Vec<u8>>,
        min_version: u64,
    ) -> Result<Arc<Self>, FerriteError> {
        let keys = public_keys
            .iter()
            .map(|k| {
                <[u8; 32]>::try_from(k.as_slice())
                    .map(PublicKey)
                    .map_err(|_| FerriteError::WrongLength {
                        code: ferrite::Error::WrongLength {
                            expected: 32,
                            actual: k.len(),
                        }
                        .code(),
                        reason: format!("a public key is 32 bytes, got {}", k.len()),
                        expected: 32,
                        actual: k.len() as u64,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy = VerifyPolicy {
            keys: &keys,
            min_version,
        };
        Self::from_owned(ferrite::OwnedModel::new_verified(&bytes, &policy)?).map(Arc::new)
    }

    /// The signed key id and model version, `None` for an unsigned model (proven
    /// authentic only for a model from `from_bytes_verified`).
    pub fn signature(&self) -> Option<ModelSignature> {
        self.owned.model().signature().map(|s| ModelSignature {
            key_id: s.key_id.to_vec(),
            model_version: s.model_version,
        })
    }

    /// Loads a model from a `.fer` file.
    ///
    /// Errors: `FerriteError::Io` when the file cannot be read,
    /// `FerriteError::InvalidModel` when its bytes are not a valid model.
    #[uniffi::constructor]
    pub fn from_file(path: String) -> Result<Arc<Self>, FerriteError> {
        let bytes = std::fs::read(&path).map_err(|e| FerriteError::Io {
            code: CODE_IO,
            reason: format!("cannot read model file {path}: {e}"),
            path: path.clone(),
        })?;
        Self::load(&bytes).map(Arc::new)
    }

    /// Inputs, outputs, labels, metadata and sizes (computed once at load).
    pub fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    /// One prediction: `features` (input 0, `info().inputs[0].elements` values; quantized
    /// by the model when its input is int8) → the first output as f32 scores and the
    /// arg-max label. For a model with a preprocessing pipeline, the runtime runs the
    /// pipeline first and `features` are its raw values.
    ///
    /// Errors: `FerriteError::WrongLength`, `FerriteError::InvalidInput` (NaN or
    /// infinity; `feature` names the column), `FerriteError::Unsupported` for a model
    /// with more than one input (use `Model::run_tensors`).
    pub fn predict(&self, features: Vec<f32>) -> Result<Prediction, FerriteError> {
        self.check_single_io("predict")?;
        let n = self.output_elements()?;
        self.with_session(|s| self.predict_in(s, &features, n))
    }

    /// `Model::predict` on each row, in order, reusing one arena.
    ///
    /// Errors: as `predict`, for the first failing row, with `row N: ` in front of the
    /// message.
    pub fn predict_batch(&self, rows: Vec<Vec<f32>>) -> Result<Vec<Prediction>, FerriteError> {
        self.check_single_io("predict_batch")?;
        let n = self.output_elements()?;
        self.with_session(|s| {
            let mut out = Vec::with_capacity(rows.len());
            for (r, row) in rows.iter().enumerate() {
                out.push(
                    self.predict_in(s, row, n)
                        .map_err(|e| e.prefixed(&format!("row {r}: ")))?,
                );
            }
            Ok(out)
        })
    }

    /// Raw tensor call: the bytes of input 0 (little-endian, the input's dtype, e.g. one
    /// int8 per value) in, the bytes of output 0 out. No quantization, no checks of the
    /// values: the bytes are exactly what the kernels see and produce.
    ///
    /// Errors: `FerriteError::WrongLength` (in bytes), `FerriteError::Unsupported`
    /// for a model with more than one input or output (use `Model::run_tensors`).
    pub fn run_raw(&self, input: Vec<u8>) -> Result<Vec<u8>, FerriteError> {
        self.check_single_io("run_raw")?;
        let mut outputs = self.run_tensors(vec![input])?;
        outputs
            .pop()
            .ok_or_else(|| FerriteError::unsupported("the model has no output".into()))
    }

    /// Raw tensor call for models with several inputs or outputs: the bytes of every
    /// input, in order, in; the bytes of every output out.
    ///
    /// Errors: `FerriteError::WrongLength` when the number of tensors (then `expected`
    /// and `actual` count tensors) or the byte length of one of them is wrong.
    pub fn run_tensors(&self, inputs: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, FerriteError> {
        let expected = self.info.inputs.len();
        if inputs.len() != expected {
            return Err(FerriteError::WrongLength {
                code: ferrite::Error::WrongLength {
                    expected: 0,
                    actual: 0,
                }
                .code(),
                reason: format!(
                    "wrong number of input tensors: expected {expected}, got {}",
                    inputs.len()
                ),
                expected: expected as u64,
                actual: inputs.len() as u64,
            });
        }
        let outputs = self.info.outputs.len();
        self.with_session(|s| {
            for (i, bytes) in inputs.iter().enumerate() {
                s.set_input_bytes(i, bytes)?;
            }
            s.run()?;
            let mut out = Vec::with_capacity(outputs);
            for o in 0..outputs {
                out.push(s.output_bytes(o)?.to_vec());
            }
            Ok(out)
        })
    }

    /// Runs every golden vector stored in the model and compares the output bytes:
    /// proves on the device that this build computes what the host tool computed.
    /// Returns the number of vectors checked (0 when the model has none).
    ///
    /// Errors: `FerriteError::GoldenMismatch` naming the first vector that differs.
    pub fn check_golden(&self) -> Result<u32, FerriteError> {
        let count = self.info.num_golden;
        self.with_session(|s| {
            for g in 0..count {
                s.check_golden(g)?;
            }
            Ok(count)
        })
    }

    /// The model's own preprocessing (imputation, scaling, encoding, window features…
    /// stored in the model file): raw values in, the features the graph takes out.
    /// Training code can call it to compute features with exactly the device's code.
    ///
    /// A model without a preprocessing section returns `raw` unchanged (after checking
    /// its length against input 0).
    ///
    /// Errors: `FerriteError::WrongLength` when `raw` does not have the model's raw
    /// input length; `FerriteError::InvalidInput` for a value the pipeline rejects
    /// (e.g. an unknown category under the `error` policy).
    pub fn preprocess(&self, raw: Vec<f32>) -> Result<Vec<f32>, FerriteError> {
        let model = self.owned.model();
        let mut out = vec![0f32; model.input_len(0)?];
        self.with_session(|s| Ok(s.preprocess(&raw, &mut out)?))?;
        Ok(out)
    }
}

impl Model {
    fn load(bytes: &[u8]) -> Result<Self, FerriteError> {
        Self::from_owned(ferrite::OwnedModel::new(bytes)?)
    }

    fn from_owned(owned: ferrite::OwnedModel) -> Result<Self, FerriteError> {
        let info = model_info(&owned.model())?;
        Ok(Model {
            owned,
            info,
            arenas: Mutex::new(Vec::new()),
        })
    }

    fn check_single_io(&self, call: &str) -> Result<(), FerriteError> {
        let (i, o) = (self.info.inputs.len(), self.info.outputs.len());
        if i != 1 || o == 0 {
            return Err(FerriteError::unsupported(format!(
                "{call} needs a model with one input and at least one output \
                 (this one has {i} inputs and {o} outputs): use run_tensors"
            )));
        }
        Ok(())
    }

    fn output_elements(&self) -> Result<usize, FerriteError> {
        let o = self
            .info
            .outputs
            .first()
            .ok_or_else(|| FerriteError::unsupported("the model has no output".into()))?;
        usize::try_from(o.elements).map_err(|_| ferrite::Error::BadTensor { tensor: 0 }.into())
    }

    fn predict_in(
        &self,
        s: &mut ferrite::Session<'_, '_>,
        features: &[f32],
        outputs: usize,
    ) -> Result<Prediction, FerriteError> {
        let mut scores = vec![0f32; outputs];
        let label = s.predict(features, &mut scores)?;
        let label_name = label.and_then(|l| self.info.labels.get(l).cloned());
        Ok(Prediction {
            scores,
            label: label.map(|l| l as u32),
            label_name,
        })
    }

    /// Runs `f` over a session whose arena comes from the pool (or is allocated when
    /// every pooled arena is in use), then returns the arena to the pool.
    fn with_session<T>(
        &self,
        f: impl FnOnce(&mut ferrite::Session<'_, '_>) -> Result<T, FerriteError>,
    ) -> Result<T, FerriteError> {
        let model = self.owned.model();
        let mut arena = self
            .lock_arenas()
            .pop()
            .unwrap_or_else(|| vec![0u8; model.arena_size().saturating_add(63)]);
        let result = match ferrite::Session::new(&model, &mut arena) {
            Ok(mut session) => f(&mut session),
            Err(e) => Err(e.into()),
        };
        let mut pool = self.lock_arenas();
        if pool.len() < MAX_POOLED_ARENAS {
            pool.push(arena);
        }
        result
    }

    fn lock_arenas(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // The pool holds plain buffers and no invariant: a poisoned lock is still usable.
        self.arenas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn tensor_info(t: &ferrite::TensorDef<'_>) -> Result<TensorInfo, FerriteError> {
    let bad = ferrite::Error::BadTensor { tensor: 0 };
    let quantization = match t.quant {
        ferrite::Quant::None => None,
        ferrite::Quant::PerTensor { scale, zero_point } => {
            Some(Quantization::PerTensor { scale, zero_point })
        }
        ferrite::Quant::PerChannel { axis, .. } => Some(Quantization::PerChannel { axis }),
    };
    Ok(TensorInfo {
        name: t.name.to_string(),
        dtype: t.dtype.into(),
        shape: t.shape.to_vec(),
        elements: t.elements().ok_or(bad)? as u64,
        byte_len: t.byte_len().ok_or(bad)? as u64,
        quantization,
    })
}

fn model_info(m: &ferrite::Model<'_>) -> Result<ModelInfo, FerriteError> {
    let meta = m.metadata();
    let inputs = (0..m.num_inputs())
        .map(|i| tensor_info(&m.input(i)?))
        .collect::<Result<_, _>>()?;
    let outputs = (0..m.num_outputs())
        .map(|i| tensor_info(&m.output(i)?))
        .collect::<Result<_, _>>()?;
    Ok(ModelInfo {
        metadata: ModelMetadata {
            name: meta.name.to_string(),
            version: meta.version.to_string(),
            description: meta.description.to_string(),
            producer: meta.producer.to_string(),
            properties: meta
                .properties()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        inputs,
        outputs,
        labels: m.labels().map(str::to_string).collect(),
        arena_size: m.arena_size() as u64,
        file_size: m.bytes().len() as u64,
        num_golden: m.num_golden(),
        has_preprocessing: m.section(ferrite::format::kind::PREPROCESS).is_some(),
    })
}

/// A stream over a streaming model (a recurrent model converted with
/// `ferrite convert --state IN=OUT`, see `docs/ops.md`): it owns the arena that keeps the
/// hidden state between `step` calls. One stream per sequence; a stream is used by one
/// caller at a time (its calls are serialized), several streams share one `Model`.
#[derive(uniffi::Object)]
pub struct Stream {
    model: Arc<Model>,
    arena: Mutex<Vec<u8>>,
}

impl core::fmt::Debug for Stream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("model", &self.model)
            .finish()
    }
}

#[uniffi::export]
impl Stream {
    /// A new stream over `model`, starting from a zero state. Works for any model with
    /// one or more inputs; `Model` stays usable for `predict` meanwhile.
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>) -> Arc<Self> {
        let size = model.owned.model().arena_size().saturating_add(63);
        Arc::new(Stream {
            model,
            arena: Mutex::new(vec![0u8; size]),
        })
    }

    /// Number of state pairs the model carries between steps (0: the model does not
    /// stream, and `step` is a prediction without a label).
    pub fn num_states(&self) -> u32 {
        self.model.owned.model().state_pairs().count() as u32
    }

    /// One step: `features` (one frame) into input 0, run, output 0 back as f32; each
    /// state output is then copied into its state input for the next step.
    ///
    /// Errors: `FerriteError::WrongLength`.
    pub fn step(&self, features: Vec<f32>) -> Result<Vec<f32>, FerriteError> {
        let n = self.model.output_elements()?;
        let mut out = vec![0f32; n];
        self.with_session(|s| Ok(s.step(&features, &mut out)?))?;
        Ok(out)
    }

    /// Starts a new stream: zeroes the state.
    pub fn reset(&self) -> Result<(), FerriteError> {
        self.with_session(|s| Ok(s.reset()?))
    }
}

impl Stream {
    fn with_session<T>(
        &self,
        f: impl FnOnce(&mut ferrite::Session<'_, '_>) -> Result<T, FerriteError>,
    ) -> Result<T, FerriteError> {
        let model = self.model.owned.model();
        let mut arena = self
            .arena
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut session = ferrite::Session::new(&model, &mut arena)?;
        f(&mut session)
    }
}

/// Version of this library (the ferrite workspace version).
#[uniffi::export]
pub fn ferrite_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Model>();
    send_sync::<Stream>();
    send_sync::<Monitor>();
};
