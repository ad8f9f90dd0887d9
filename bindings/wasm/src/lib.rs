//! # ferrite-wasm — the ferrite runtime for browsers and Node
//!
//! wasm-bindgen bindings over the [`ferrite`] runtime, packaged as the npm package
//! `ferrite-wasm` by `node bindings/wasm/build.mjs` (see the README). JavaScript users
//! never see this layer directly: the package's `index.js` wraps [`RawModel`] into the
//! idiomatic `Model` class (promises, typed arrays, `Error` subclasses, `free()` and a
//! `FinalizationRegistry`).
//!
//! The work is done by [`Engine`], plain Rust over [`ferrite::Error`] that the host unit
//! tests call directly; [`RawModel`] only converts its results and errors to JS values.
//! Nothing here panics on any input: every failure is a thrown JS `Error` carrying the
//! runtime's stable `code` (see [`ErrorInfo`]).

use core::fmt::Write as _;
use ferrite::signature::{PublicKey, VerifyPolicy};
use ferrite::{DType, Error, Monitor, MonitorState, OwnedModel, Quant, Session, TensorDef};
use wasm_bindgen::prelude::*;

/// A loaded model and the arena its predictions run in (plain Rust, no JS types).
///
/// The arena is allocated once at load (`arena_size + 15` bytes, so any alignment of the
/// allocation works) and reused by every call.
#[derive(Debug)]
pub struct Engine {
    model: OwnedModel,
    arena: Vec<u8>,
    /// The drift monitor's counters and state, once enabled.
    monitor: Option<(Vec<u32>, MonitorState)>,
}

/// Numbers per drift in [`Engine::drift_report_values`].
pub const REPORT_FIELDS: usize = 5;

impl Engine {
    /// Copies and validates `bytes` (any alignment). Errors: every load error of
    /// [`ferrite::Model::load`].
    pub fn new(bytes: &[u8]) -> Result<Engine, Error> {
        Ok(Engine::with(OwnedModel::new(bytes)?))
    }

    /// Copies `bytes`, verifies their signature (docs/security.md) and validates them.
    /// `keys` holds the trusted Ed25519 public keys, 32 bytes each; `min_version` is the
    /// lowest signed `model_version` accepted. Errors: `Unsigned`, `UnknownKey`,
    /// `BadSignature`, `VersionTooOld`, then every load error of [`Engine::new`].
    pub fn new_verified(
        bytes: &[u8],
        keys: &[PublicKey],
        min_version: u64,
    ) -> Result<Engine, Error> {
        let policy = VerifyPolicy { keys, min_version };
        Ok(Engine::with(OwnedModel::new_verified(bytes, &policy)?))
    }

    /// `(key_id, model_version)` of a signed model, `None` if unsigned.
    pub fn signature(&self) -> Option<([u8; 8], u64)> {
        let s = self.model.model().signature()?;
        Some((s.key_id, s.model_version))
    }

    fn with(model: OwnedModel) -> Engine {
        let size = model.model().arena_size().saturating_add(15);
        Engine {
            model,
            arena: vec![0; size],
            monitor: None,
        }
    }

    /// Number of f32 values that [`Engine::predict`] takes (elements of input 0).
    pub fn input_len(&self) -> Result<usize, Error> {
        self.model.model().input_len(0)
    }

    /// Number of scores that [`Engine::predict`] writes (elements of output 0).
    pub fn output_len(&self) -> Result<usize, Error> {
        self.model.model().output_len(0)
    }

    /// One prediction (see [`ferrite::Session::predict`]): `features` into input 0,
    /// `scores` from output 0, the index of the largest score when there are several.
    /// Errors: `WrongLength` (either buffer), `InvalidInput { feature }` for NaN/inf.
    pub fn predict(
        &mut self,
        features: &[f32],
        scores: &mut [f32],
    ) -> Result<Option<usize>, Error> {
        let model = self.model.model();
        let mut session = Session::new(&model, &mut self.arena)?;
        let r = session.predict(features, scores);
        if let Some((words, state)) = &mut self.monitor {
            let mut m = Monitor::resume(&model, words, *state)?;
            m.observe_input(features)?;
            if r.is_ok() {
                m.observe_output(scores)?;
            }
            *state = m.state();
        }
        r
    }

    /// Starts drift monitoring (see [`ferrite::Monitor`]): every later [`predict`](Self::predict)
    /// counts its input and output. `window`: decay period in rows (0: never). Restarting
    /// clears the counters. Errors: `NoBaseline` for a model converted without one.
    pub fn enable_monitor(&mut self, window: u32, clock_hz: u32) -> Result<(), Error> {
        let model = self.model.model();
        let mut words = vec![0u32; model.monitor_words()];
        let mut m = Monitor::new(&model, &mut words)?;
        m.set_window(window);
        m.set_clock_hz(clock_hz);
        let state = m.state();
        self.monitor = Some((words, state));
        Ok(())
    }

    fn with_monitor<T>(
        &mut self,
        f: impl FnOnce(&mut Monitor<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let model = self.model.model();
        let (words, state) = self.monitor.as_mut().ok_or(Error::NoBaseline)?;
        let mut m = Monitor::resume(&model, words, *state)?;
        let r = f(&mut m);
        *state = m.state();
        r
    }

    /// Records one prediction's latency in the clock's ticks (the JS wrapper: µs).
    pub fn monitor_latency(&mut self, ticks: u32) -> Result<(), Error> {
        self.with_monitor(|m| {
            m.observe_latency(ticks);
            Ok(())
        })
    }

    /// Clears the monitor's counters.
    pub fn monitor_reset(&mut self) -> Result<(), Error> {
        self.with_monitor(|m| {
            m.reset();
            Ok(())
        })
    }

    /// The monitor's snapshot bytes (decode with `ferrite monitor --snapshot`).
    pub fn monitor_snapshot(&mut self) -> Result<Vec<u8>, Error> {
        self.with_monitor(|m| {
            let mut buf = vec![0u8; m.snapshot_max_len()];
            Ok(m.snapshot(&mut buf)?.to_vec())
        })
    }

    /// The drift report as numbers, in the order `index.js` reads them (see
    /// [`REPORT_FIELDS`]): rows, feature count, per feature [`Self::drift_fields`] then
    /// missing and out of range, an output flag (1: present) and the output's drift
    /// fields, then latency count, mean, max, p50, p95 and clock rate. Numbers rather
    /// than JSON text: formatting f64 in Rust costs the module several KB.
    pub fn drift_report_values(&mut self) -> Result<Vec<f64>, Error> {
        self.with_monitor(|m| {
            let n = m.num_features();
            let mut v = Vec::with_capacity(2 + n * (REPORT_FIELDS + 2) + 1 + REPORT_FIELDS + 6);
            v.extend([m.rows() as f64, n as f64]);
            for i in 0..n {
                let f = m.feature(i)?;
                Self::drift_fields(&mut v, &f.drift);
                v.extend([f.missing as f64, f.out_of_range as f64]);
            }
            match m.output_drift() {
                Some(d) => {
                    v.push(1.0);
                    Self::drift_fields(&mut v, &d);
                }
                None => v.push(0.0),
            }
            let l = m.latency();
            v.extend([
                l.count as f64,
                l.mean,
                l.max as f64,
                l.p50,
                l.p95,
                l.clock_hz as f64,
            ]);
            Ok(v)
        })
    }

    /// One drift's [`REPORT_FIELDS`] numbers: rows, PSI, p-value, level (0 stable,
    /// 1 moderate, 2 shifted), flagged (0 or 1).
    fn drift_fields(v: &mut Vec<f64>, d: &ferrite::Drift) {
        let level = match d.level() {
            ferrite::DriftLevel::Stable => 0.0,
            ferrite::DriftLevel::Moderate => 1.0,
            ferrite::DriftLevel::Shifted => 2.0,
        };
        v.extend([
            d.rows as f64,
            d.psi,
            d.p_value,
            level,
            f64::from(u8::from(d.flagged())),
        ]);
    }

    /// The monitored features' names, one per line.
    pub fn monitor_feature_names(&mut self) -> Result<String, Error> {
        self.with_monitor(|m| {
            let mut s = String::new();
            for i in 0..m.num_features() {
                if i > 0 {
                    s.push('\n');
                }
                s.push_str(m.feature_name(i));
            }
            Ok(s)
        })
    }

    /// One step of a streaming model (see [`ferrite::Session::step`]): `features` into
    /// input 0, run, `outputs` from output 0, then the state outputs are copied into the
    /// state inputs. The state lives in this engine's arena between calls; `predict`,
    /// `run_raw` and `check_golden` overwrite it (call [`Engine::reset`] before
    /// streaming again). Errors: `WrongLength` (either buffer).
    pub fn step(&mut self, features: &[f32], outputs: &mut [f32]) -> Result<(), Error> {
        let model = self.model.model();
        let mut session = Session::new(&model, &mut self.arena)?;
        session.step(features, outputs)
    }

    /// Zeroes the state of a streaming model: the next [`Engine::step`] starts a new
    /// stream (a new engine starts zeroed).
    pub fn reset(&mut self) -> Result<(), Error> {
        let model = self.model.model();
        let mut session = Session::new(&model, &mut self.arena)?;
        session.reset()
    }

    /// Number of streaming state pairs (0: the model does not stream).
    pub fn num_states(&self) -> usize {
        self.model.model().state_pairs().count()
    }

    /// `rows` predictions over row-major `features` (`rows × input_len`), writing
    /// `rows × output_len` scores and one label per row (`-1`: no label).
    /// On failure, returns the row that failed with its error.
    pub fn predict_batch(
        &mut self,
        features: &[f32],
        rows: usize,
        scores: &mut [f32],
        labels: &mut [i32],
    ) -> Result<(), (Option<usize>, Error)> {
        let n_in = self.input_len().map_err(|e| (None, e))?;
        let n_out = self.output_len().map_err(|e| (None, e))?;
        let check = |expected: usize, actual: usize| {
            if expected == actual {
                Ok(())
            } else {
                Err((None, Error::WrongLength { expected, actual }))
            }
        };
        check(rows.saturating_mul(n_in), features.len())?;
        check(rows.saturating_mul(n_out), scores.len())?;
        check(rows, labels.len())?;
        let model = self.model.model();
        let mut session = Session::new(&model, &mut self.arena).map_err(|e| (None, e))?;
        for r in 0..rows {
            let x = &features[r * n_in..(r + 1) * n_in];
            let y = &mut scores[r * n_out..(r + 1) * n_out];
            let label = session.predict(x, y).map_err(|e| (Some(r), e))?;
            labels[r] = label.and_then(|l| i32::try_from(l).ok()).unwrap_or(-1);
        }
        Ok(())
    }

    /// The raw tensor call: `inputs` is the concatenation of every graph input's bytes
    /// (little-endian, the tensor's dtype) with `lengths[i]` bytes for input `i`; returns
    /// the concatenated bytes of every output, in order. No quantization, no NaN check.
    /// Errors: `WrongLength` when the number of inputs or a byte length is wrong.
    pub fn run_raw(&mut self, inputs: &[u8], lengths: &[u32]) -> Result<Vec<u8>, Error> {
        let model = self.model.model();
        if lengths.len() != model.num_inputs() {
            return Err(Error::WrongLength {
                expected: model.num_inputs(),
                actual: lengths.len(),
            });
        }
        let total = lengths
            .iter()
            .try_fold(0usize, |acc, &l| acc.checked_add(l as usize));
        if total != Some(inputs.len()) {
            return Err(Error::WrongLength {
                expected: total.unwrap_or(usize::MAX),
                actual: inputs.len(),
            });
        }
        let mut session = Session::new(&model, &mut self.arena)?;
        let mut at = 0usize;
        for (i, &len) in lengths.iter().enumerate() {
            let len = len as usize;
            session.set_input_bytes(i, &inputs[at..at + len])?;
            at += len;
        }
        session.run()?;
        let mut out = Vec::new();
        for o in 0..model.num_outputs() {
            out.extend_from_slice(session.output_bytes(o)?);
        }
        Ok(out)
    }

    /// Runs every golden vector stored in the model (input bytes → expected output bytes,
    /// written by the host tool at conversion) and returns how many there are.
    /// Errors: `GoldenMismatch { index }` for the first one that does not reproduce.
    pub fn check_golden(&mut self) -> Result<u32, Error> {
        let model = self.model.model();
        let mut session = Session::new(&model, &mut self.arena)?;
        for g in 0..model.num_golden() {
            session.check_golden(g)?;
        }
        Ok(model.num_golden())
    }

    /// The model description as JSON, the shape of the TypeScript `ModelInfo` below.
    pub fn info_json(&self) -> Result<String, Error> {
        let m = self.model.model();
        let mut j = String::with_capacity(512);
        j.push_str("{\"inputs\":[");
        for i in 0..m.num_inputs() {
            if i > 0 {
                j.push(',');
            }
            tensor_json(&mut j, &m.input(i)?);
        }
        j.push_str("],\"outputs\":[");
        for i in 0..m.num_outputs() {
            if i > 0 {
                j.push(',');
            }
            tensor_json(&mut j, &m.output(i)?);
        }
        j.push_str("],\"labels\":[");
        for (i, l) in m.labels().enumerate() {
            if i > 0 {
                j.push(',');
            }
            json_str(&mut j, l);
        }
        let meta = m.metadata();
        j.push_str("],\"metadata\":{\"name\":");
        json_str(&mut j, meta.name);
        j.push_str(",\"version\":");
        json_str(&mut j, meta.version);
        j.push_str(",\"description\":");
        json_str(&mut j, meta.description);
        j.push_str(",\"producer\":");
        json_str(&mut j, meta.producer);
        j.push_str(",\"properties\":{");
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in meta.properties() {
            // The runtime's `property(k)` returns the first value: keep JSON in line.
            if seen.contains(&k) {
                continue;
            }
            if !seen.is_empty() {
                j.push(',');
            }
            seen.push(k);
            json_str(&mut j, k);
            j.push(':');
            json_str(&mut j, v);
        }
        let _ = write!(
            j,
            "}}}},\"arenaSize\":{},\"byteLength\":{},\"parameterBytes\":{},\"numOps\":{},\"numTensors\":{},\"numGolden\":{}}}",
            m.arena_size(),
            m.bytes().len(),
            m.parameter_bytes(),
            m.num_ops(),
            m.num_tensors(),
            m.num_golden()
        );
        Ok(j)
    }
}

fn dtype_name(d: DType) -> &'static str {
    d.name()
}

fn tensor_json(j: &mut String, t: &TensorDef<'_>) {
    j.push_str("{\"name\":");
    json_str(j, t.name);
    let _ = write!(j, ",\"dtype\":\"{}\",\"shape\":[", dtype_name(t.dtype));
    for (i, d) in t.shape.iter().enumerate() {
        let _ = write!(j, "{}{d}", if i > 0 { "," } else { "" });
    }
    let size = t.elements().unwrap_or(0);
    let bytes = t.byte_len().unwrap_or(0);
    let _ = write!(j, "],\"size\":{size},\"byteLength\":{bytes},\"quant\":");
    match t.quant {
        Quant::None => j.push_str("null"),
        Quant::PerTensor { scale, zero_point } => {
            j.push_str("{\"type\":\"perTensor\",\"scale\":");
            json_f32(j, scale);
            let _ = write!(j, ",\"zeroPoint\":{zero_point}}}");
        }
        Quant::PerChannel { axis, .. } => {
            let _ = write!(j, "{{\"type\":\"perChannel\",\"axis\":{axis}}}");
        }
    }
    j.push('}');
}

/// f32 in JSON: the shortest decimal that round-trips (`Math.fround` gives it back).
fn json_f32(j: &mut String, v: f32) {
    if v.is_finite() {
        let _ = write!(j, "{v:?}");
    } else {
        j.push_str("null");
    }
}

fn json_str(j: &mut String, s: &str) {
    j.push('"');
    for c in s.chars() {
        match c {
            '"' => j.push_str("\\\""),
            '\\' => j.push_str("\\\\"),
            '\n' => j.push_str("\\n"),
            '\r' => j.push_str("\\r"),
            '\t' => j.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(j, "\\u{:04x}", c as u32);
            }
            c => j.push(c),
        }
    }
    j.push('"');
}

/// A value attached to an error as a property of the thrown JS `Error`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    Num(f64),
    Str(&'static str),
}

/// What a thrown error carries: the runtime's stable `code`, the variant name as `kind`,
/// a `category` that picks the JS error class, the message, and the variant's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorInfo {
    pub code: u32,
    /// Variant name of [`ferrite::Error`], e.g. `"Checksum"`.
    pub kind: &'static str,
    /// `"model"` (InvalidModelError), `"input"` (InputError), `"unsupported"`
    /// (UnsupportedError) or `"internal"` (FerriteError).
    pub category: &'static str,
    pub message: String,
    pub fields: Vec<(&'static str, Field)>,
}

fn num(v: impl Into<f64>) -> Field {
    Field::Num(v.into())
}

fn usize_num(v: usize) -> Field {
    Field::Num(v as f64)
}

/// Describes a runtime error for JS; `row` is the batch row that failed, if any.
pub fn describe(e: &Error, row: Option<usize>) -> ErrorInfo {
    let (kind, category, mut fields): (_, _, Vec<(&'static str, Field)>) = match *e {
        Error::BadMagic => ("BadMagic", "model", vec![]),
        Error::UnsupportedVersion { major, minor } => (
            "UnsupportedVersion",
            "model",
            vec![("major", num(major)), ("minor", num(minor))],
        ),
        Error::Truncated { expected, actual } => (
            "Truncated",
            "model",
            vec![
                ("expected", usize_num(expected)),
                ("actual", usize_num(actual)),
            ],
        ),
        Error::Checksum { expected, actual } => (
            "Checksum",
            "model",
            vec![("expected", num(expected)), ("actual", num(actual))],
        ),
        Error::BadSection { section } => (
            "BadSection",
            "model",
            vec![("section", Field::Str(section_name(section)))],
        ),
        Error::UnknownSection { kind } => {
            ("UnknownSection", "model", vec![("sectionKind", num(kind))])
        }
        Error::Decode { section, index } => (
            "Decode",
            "model",
            vec![
                ("section", Field::Str(section_name(section))),
                ("index", num(index)),
            ],
        ),
        Error::BadTensor { tensor } => ("BadTensor", "model", vec![("tensor", num(tensor))]),
        Error::BadOp { op, .. } => ("BadOp", "model", vec![("op", num(op))]),
        Error::UnsupportedOp { op } => ("UnsupportedOp", "unsupported", vec![("op", num(op))]),
        Error::BadPlan { tensor } => ("BadPlan", "model", vec![("tensor", num(tensor))]),
        Error::Misaligned => ("Misaligned", "internal", vec![]),
        Error::ArenaTooSmall { needed, actual } => (
            "ArenaTooSmall",
            "internal",
            vec![
                ("expected", usize_num(needed)),
                ("actual", usize_num(actual)),
            ],
        ),
        Error::WrongLength { expected, actual } => (
            "WrongLength",
            "input",
            vec![
                ("expected", usize_num(expected)),
                ("actual", usize_num(actual)),
            ],
        ),
        Error::NoSuchIndex { index } => ("NoSuchIndex", "input", vec![("index", num(index))]),
        Error::InvalidInput { feature } => {
            ("InvalidInput", "input", vec![("feature", num(feature))])
        }
        Error::GoldenMismatch { index } => ("GoldenMismatch", "model", vec![("index", num(index))]),
        Error::BadSignature => ("BadSignature", "signature", vec![]),
        Error::Unsigned => ("Unsigned", "signature", vec![]),
        Error::UnknownKey => ("UnknownKey", "signature", vec![]),
        Error::VersionTooOld { version, min } => (
            "VersionTooOld",
            "signature",
            vec![
                ("version", Field::Num(version as f64)),
                ("minVersion", Field::Num(min as f64)),
            ],
        ),
        Error::Unsupported => ("Unsupported", "unsupported", vec![]),
        Error::NoBaseline => ("NoBaseline", "model", vec![]),
        Error::BadSnapshot => ("BadSnapshot", "input", vec![]),
        _ => ("Unknown", "internal", vec![]),
    };
    let mut message = e.to_string();
    if let Some(r) = row {
        fields.push(("row", usize_num(r)));
        message = format!("row {r}: {message}");
    }
    ErrorInfo {
        code: e.code(),
        kind,
        category,
        message,
        fields,
    }
}

fn section_name(s: ferrite::Section) -> &'static str {
    use ferrite::Section as S;
    match s {
        S::Header => "header",
        S::SectionTable => "sectionTable",
        S::Metadata => "metadata",
        S::Graph => "graph",
        S::Weights => "weights",
        S::Preprocess => "preprocess",
        S::FeatureStats => "featureStats",
        S::Golden => "golden",
        S::Signature => "signature",
        S::State => "state",
    }
}

/// A JS `Error` named `FerriteError` with `code`, `kind`, `category` and the fields.
fn js_error(e: &Error, row: Option<usize>) -> JsValue {
    let info = describe(e, row);
    let err = js_sys::Error::new(&info.message);
    err.set_name("FerriteError");
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("code", JsValue::from(info.code));
    set("kind", JsValue::from_str(info.kind));
    set("category", JsValue::from_str(info.category));
    for (k, v) in info.fields {
        match v {
            Field::Num(n) => set(k, JsValue::from_f64(n)),
            Field::Str(s) => set(k, JsValue::from_str(s)),
        }
    }
    err.into()
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Element type of a tensor. */
export type DType = "f32" | "f16" | "i8" | "u8" | "i32" | "i64";

/** Quantization of a tensor: `real = scale * (q - zeroPoint)`, or symmetric per channel. */
export type QuantInfo =
  | { type: "perTensor"; scale: number; zeroPoint: number }
  | { type: "perChannel"; axis: number };

/** A graph input or output. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  /** Row-major shape, outermost first. */
  shape: number[];
  /** Number of elements (product of the shape). */
  size: number;
  /** Size in bytes of the raw tensor (`size` × element size). */
  byteLength: number;
  quant: QuantInfo | null;
}

/** Metadata and provenance written by the host tool. */
export interface ModelMetadata {
  name: string;
  version: string;
  description: string;
  producer: string;
  /** Free-form `key=value` provenance (source hash, precision, …). */
  properties: Record<string, string>;
}

/** Everything a caller can inspect about a loaded model. */
export interface ModelInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Class labels of output 0, in score order (may be empty). */
  labels: string[];
  metadata: ModelMetadata;
  /** Bytes of working memory a prediction uses. */
  arenaSize: number;
  /** Size of the model file in bytes. */
  byteLength: number;
  /** Bytes of constant tensors (weights, biases, tables). */
  parameterBytes: number;
  numOps: number;
  numTensors: number;
  /** Golden vectors stored in the model (see `checkGolden`). */
  numGolden: number;
}

/** Which JS error class an error maps to. */
export type ErrorCategory = "model" | "input" | "unsupported" | "internal";

/** How far a distribution moved from its training baseline (PSI bands). */
export type DriftLevel = "stable" | "moderate" | "shifted";

/** One distribution compared with its baseline. */
export interface Drift {
  /** Rows in the observed histogram (effective count after decay). */
  rows: number;
  /** Population Stability Index: < 0.1 stable, 0.1–0.25 moderate, > 0.25 shifted. */
  psi: number;
  /** p-value of a G-test of homogeneity (small: unlikely to be sampling noise). */
  pValue: number;
  level: DriftLevel;
  /** PSI > 0.25. */
  flagged: boolean;
}

/** Drift of one input feature. */
export interface FeatureDrift extends Drift {
  index: number;
  name: string;
  /** Missing (NaN) values seen. */
  missing: number;
  /** Values outside the baseline's range. */
  outOfRange: number;
}

/** Latency of monitored predictions, in clock ticks (`clockHz` per second). */
export interface LatencyStats {
  count: number;
  mean: number;
  max: number;
  p50: number;
  p95: number;
  clockHz: number;
}

/** What `Model.driftReport()` returns. */
export interface DriftReport {
  /** Input features in order. */
  features: FeatureDrift[];
  /** Drift of the predictions (null when the baseline has none). */
  output: Drift | null;
  /** Rows observed since monitoring started or was reset. */
  rows: number;
  latency: LatencyStats;
}

/** Build facts of the .wasm module. */
export interface BuildInfo {
  /** Version of the ferrite-wasm crate. */
  version: string;
  /** Whether the kernels were compiled with WebAssembly SIMD (simd128). */
  simd128: boolean;
}
"#;

/// The wasm-bindgen class behind the package's `Model`: use `Model` instead.
///
/// Every method throws a JS `Error` named `FerriteError` with `code`, `kind`,
/// `category` and the runtime error's fields.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RawModel {
    engine: Engine,
}

#[wasm_bindgen]
impl RawModel {
    /// Copies and validates a model file.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<RawModel, JsValue> {
        Engine::new(bytes)
            .map(|engine| RawModel { engine })
            .map_err(|e| js_error(&e, None))
    }

    /// Copies a model file, verifies its signature against `keys` (the trusted public
    /// keys, 32 bytes each, concatenated) and `min_version`, and validates it.
    #[wasm_bindgen(js_name = newVerified)]
    pub fn new_verified(bytes: &[u8], keys: &[u8], min_version: u64) -> Result<RawModel, JsValue> {
        if keys.len() % 32 != 0 {
            return Err(js_sys::Error::new("public keys are 32 bytes each").into());
        }
        let keys: Vec<PublicKey> = keys
            .chunks_exact(32)
            .map(|c| {
                let mut k = [0u8; 32];
                k.copy_from_slice(c);
                PublicKey(k)
            })
            .collect();
        Engine::new_verified(bytes, &keys, min_version)
            .map(|engine| RawModel { engine })
            .map_err(|e| js_error(&e, None))
    }

    /// `[keyId (8 bytes), modelVersion]` of a signed model, `undefined` if unsigned.
    pub fn signature(&self) -> JsValue {
        match self.engine.signature() {
            None => JsValue::UNDEFINED,
            Some((id, version)) => {
                let pair = js_sys::Array::new();
                pair.push(&js_sys::Uint8Array::from(&id[..]));
                pair.push(&js_sys::BigInt::from(version));
                pair.into()
            }
        }
    }

    /// The model description (a fresh object on each call).
    #[wasm_bindgen(unchecked_return_type = "ModelInfo")]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let json = self.engine.info_json().map_err(|e| js_error(&e, None))?;
        js_sys::JSON::parse(&json)
    }

    /// Number of features `predict` takes.
    #[wasm_bindgen(js_name = inputLength)]
    pub fn input_length(&self) -> Result<usize, JsValue> {
        self.engine.input_len().map_err(|e| js_error(&e, None))
    }

    /// Number of scores `predict` writes.
    #[wasm_bindgen(js_name = outputLength)]
    pub fn output_length(&self) -> Result<usize, JsValue> {
        self.engine.output_len().map_err(|e| js_error(&e, None))
    }

    /// Fills `scores` (copied back to the caller's array) and returns the label index,
    /// or -1 when output 0 is a single value.
    pub fn predict(&mut self, features: &[f32], scores: &mut [f32]) -> Result<i32, JsValue> {
        match self.engine.predict(features, scores) {
            Ok(label) => Ok(label.and_then(|l| i32::try_from(l).ok()).unwrap_or(-1)),
            Err(e) => Err(js_error(&e, None)),
        }
    }

    /// One streaming step: fills `outputs` (output 0) and carries the state.
    pub fn step(&mut self, features: &[f32], outputs: &mut [f32]) -> Result<(), JsValue> {
        self.engine
            .step(features, outputs)
            .map_err(|e| js_error(&e, None))
    }

    /// Zeroes the streaming state.
    pub fn reset(&mut self) -> Result<(), JsValue> {
        self.engine.reset().map_err(|e| js_error(&e, None))
    }

    /// Number of streaming state pairs.
    #[wasm_bindgen(js_name = numStates)]
    pub fn num_states(&self) -> usize {
        self.engine.num_states()
    }

    /// `rows` predictions over a row-major `features` array; errors carry the `row`.
    #[wasm_bindgen(js_name = predictBatch)]
    pub fn predict_batch(
        &mut self,
        features: &[f32],
        rows: usize,
        scores: &mut [f32],
        labels: &mut [i32],
    ) -> Result<(), JsValue> {
        self.engine
            .predict_batch(features, rows, scores, labels)
            .map_err(|(row, e)| js_error(&e, row))
    }

    /// Runs the model's golden vectors; returns how many passed (all of them).
    #[wasm_bindgen(js_name = checkGolden)]
    pub fn check_golden(&mut self) -> Result<u32, JsValue> {
        self.engine.check_golden().map_err(|e| js_error(&e, None))
    }

    /// Starts drift monitoring of every later `predict` (decay `window` in rows, 0: never;
    /// latency ticks of `clockHz` per second).
    #[wasm_bindgen(js_name = enableMonitor)]
    pub fn enable_monitor(&mut self, window: u32, clock_hz: u32) -> Result<(), JsValue> {
        self.engine
            .enable_monitor(window, clock_hz)
            .map_err(|e| js_error(&e, None))
    }

    /// Records one prediction's latency in ticks.
    #[wasm_bindgen(js_name = monitorLatency)]
    pub fn monitor_latency(&mut self, ticks: u32) -> Result<(), JsValue> {
        self.engine
            .monitor_latency(ticks)
            .map_err(|e| js_error(&e, None))
    }

    /// Clears the monitor's counters.
    #[wasm_bindgen(js_name = monitorReset)]
    pub fn monitor_reset(&mut self) -> Result<(), JsValue> {
        self.engine.monitor_reset().map_err(|e| js_error(&e, None))
    }

    /// The monitor's snapshot bytes.
    #[wasm_bindgen(js_name = monitorSnapshot)]
    pub fn monitor_snapshot(&mut self) -> Result<Vec<u8>, JsValue> {
        self.engine
            .monitor_snapshot()
            .map_err(|e| js_error(&e, None))
    }

    /// The drift report's numbers (`index.js` builds the `DriftReport` from them).
    #[wasm_bindgen(js_name = driftReportValues)]
    pub fn drift_report_values(&mut self) -> Result<Vec<f64>, JsValue> {
        self.engine
            .drift_report_values()
            .map_err(|e| js_error(&e, None))
    }

    /// The monitored features' names, one per line.
    #[wasm_bindgen(js_name = monitorFeatureNames)]
    pub fn monitor_feature_names(&mut self) -> Result<String, JsValue> {
        self.engine
            .monitor_feature_names()
            .map_err(|e| js_error(&e, None))
    }

    /// Concatenated input bytes (`lengths[i]` bytes for input `i`) in, concatenated
    /// output bytes out.
    #[wasm_bindgen(js_name = runRaw)]
    pub fn run_raw(&mut self, inputs: &[u8], lengths: &[u32]) -> Result<Vec<u8>, JsValue> {
        self.engine
            .run_raw(inputs, lengths)
            .map_err(|e| js_error(&e, None))
    }
}

/// Build facts of this module.
#[wasm_bindgen(js_name = buildInfo, unchecked_return_type = "BuildInfo")]
pub fn build_info() -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&build_info_json())
}

fn build_info_json() -> String {
    format!(
        "{{\"version\":\"{}\",\"simd128\":{}}}",
        env!("CARGO_PKG_VERSION"),
        cfg!(target_feature = "simd128")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut j = String::new();
        json_str(&mut j, "a\"b\\c\nd\u{1}é");
        assert_eq!(j, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn json_f32_round_trips_and_maps_non_finite_to_null() {
        let mut j = String::new();
        json_f32(&mut j, 2.0 / 255.0);
        assert_eq!(j.parse::<f32>().unwrap(), 2.0 / 255.0);
        let mut j = String::new();
        json_f32(&mut j, f32::NAN);
        assert_eq!(j, "null");
    }

    /// y = x over 2 features with a baseline of 400 rows uniform on [0, 1) (4 bins).
    fn monitor_model(with_baseline: bool) -> Vec<u8> {
        use ferrite::format::monitor::{encode_section, Baseline, FeatureSource, OutputBaseline};
        use ferrite::format::types::{Activation, Op};
        let mut b = ferrite::format::write::ModelBuilder::new("monitor");
        let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
        let w = b
            .add_const_f32("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0])
            .unwrap();
        let y = b.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        b.add_op(fc, &[x, w], &[y]).unwrap();
        b.set_io(&[x], &[y]).unwrap();
        let f = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let u = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (edges, range) = (
            f(&[0.25, 0.5, 0.75, 0.25, 0.5, 0.75]),
            f(&[0.0, 1.0, 0.0, 1.0]),
        );
        let counts = u(&[100, 100, 100, 100, 0, 100, 100, 100, 100, 0]);
        let classes = u(&[200, 200]);
        let base = Baseline {
            source: FeatureSource::Raw,
            features: 2,
            bins: 4,
            rows: 400,
            names: "a\n\"b\"",
            edges: &edges,
            range: &range,
            counts: &counts,
            output: OutputBaseline::Classes { counts: &classes },
        };
        if with_baseline {
            b.add_section(
                ferrite::format::kind::FEATURE_STATS,
                false,
                encode_section(&base).unwrap(),
            );
        }
        b.finish().unwrap()
    }

    #[test]
    fn monitoring_flags_a_shifted_feature() {
        let mut e = Engine::new(&monitor_model(true)).unwrap();
        assert_eq!(e.drift_report_values().unwrap_err(), Error::NoBaseline);
        e.enable_monitor(0, 1_000_000).unwrap();
        assert_eq!(e.monitor_feature_names().unwrap(), "a\n\"b\"");
        let mut s = 7u32;
        let mut u = || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / 16_777_216.0
        };
        let mut scores = [0f32; 2];
        for _ in 0..2000 {
            let x = [u() + 0.29, u()];
            e.predict(&x, &mut scores).unwrap();
            e.monitor_latency(5).unwrap();
        }
        let v = e.drift_report_values().unwrap();
        // rows, features; 2 × (rows, psi, p, level, flagged, missing, out of range);
        // output present + 5; latency 6.
        assert_eq!(v.len(), 2 + 2 * 7 + 1 + 5 + 6, "{v:?}");
        assert_eq!(&v[..2], [2000.0, 2.0]);
        let (f0, f1, out) = (&v[2..9], &v[9..16], &v[16..22]);
        // Feature 0 shifted by 0.29: three of the baseline's quarter bins hold it.
        assert_eq!(f0[0], 2000.0);
        assert!(f0[1] > 0.25, "{f0:?}");
        assert_eq!(&f0[3..5], [2.0, 1.0], "shifted, flagged: {f0:?}");
        assert!(f0[6] > 400.0, "out of range: {f0:?}");
        assert!(f1[1] < 0.1 && f1[3..5] == [0.0, 0.0], "{f1:?}");
        assert_eq!(
            (out[0], out[1 + 4]),
            (1.0, 1.0),
            "the output moved: {out:?}"
        );
        assert_eq!(&v[22..], [2000.0, 5.0, 5.0, 5.0, 5.0, 1_000_000.0]);
        assert!(!e.monitor_snapshot().unwrap().is_empty());
        e.monitor_reset().unwrap();
        assert_eq!(e.drift_report_values().unwrap()[0], 0.0);
        let mut plain = Engine::new(&monitor_model(false)).unwrap();
        assert_eq!(plain.enable_monitor(0, 1).unwrap_err(), Error::NoBaseline);
    }

    #[test]
    fn garbage_is_rejected_with_bad_magic_and_a_model_category() {
        let e = Engine::new(b"definitely not a model, just some bytes......").unwrap_err();
        let d = describe(&e, None);
        assert_eq!((d.code, d.kind, d.category), (1, "BadMagic", "model"));
    }

    #[test]
    fn input_errors_carry_their_fields_and_row() {
        let d = describe(&Error::InvalidInput { feature: 3 }, Some(5));
        assert_eq!((d.code, d.kind, d.category), (16, "InvalidInput", "input"));
        assert_eq!(
            d.fields,
            vec![("feature", Field::Num(3.0)), ("row", Field::Num(5.0))]
        );
        assert!(d.message.starts_with("row 5: "), "{}", d.message);
        let d = describe(
            &Error::WrongLength {
                expected: 16,
                actual: 3,
            },
            None,
        );
        assert_eq!(
            d.fields,
            vec![("expected", Field::Num(16.0)), ("actual", Field::Num(3.0))]
        );
    }

    /// f32 `y = softmax(W x + b)` with 2 features, 3 labels and two properties.
    fn tiny_model() -> Vec<u8> {
        use ferrite::format::types::Activation;
        use ferrite::format::write::ModelBuilder;
        use ferrite::Op;
        let mut b = ModelBuilder::new("tiny \"quoted\"");
        b.version = "7".into();
        b.labels = ["a", "b", "c"].map(String::from).to_vec();
        b.properties = vec![
            ("precision".into(), "f32".into()),
            ("precision".into(), "dup".into()),
        ];
        let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
        let w = b
            .add_const_f32("w", &[3, 2], &[1.0, 0.0, 0.0, 1.0, -1.0, -1.0])
            .unwrap();
        let bias = b.add_const_f32("b", &[3], &[0.0, 0.0, 0.5]).unwrap();
        let l = b.add_tensor("l", DType::F32, &[1, 3], Quant::None).unwrap();
        let y = b.add_tensor("y", DType::F32, &[1, 3], Quant::None).unwrap();
        b.add_op(
            Op::FullyConnected {
                act: Activation::None,
                q: None,
            },
            &[x, w, bias],
            &[l],
        )
        .unwrap();
        b.add_op(
            Op::Softmax {
                axis: 1,
                log: false,
            },
            &[l],
            &[y],
        )
        .unwrap();
        b.set_io(&[x], &[y]).unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn info_json_describes_io_labels_metadata_and_first_property_wins() {
        let e = Engine::new(&tiny_model()).unwrap();
        let j = e.info_json().unwrap();
        assert!(j.starts_with(r#"{"inputs":[{"name":"x","dtype":"f32","shape":[1,2],"size":2,"byteLength":8,"quant":null}],"outputs":[{"name":"y","dtype":"f32","shape":[1,3],"size":3,"byteLength":12,"quant":null}],"labels":["a","b","c"],"metadata":{"name":"tiny \"quoted\"","version":"7","#), "{j}");
        assert!(j.contains(r#""properties":{"precision":"f32"}"#), "{j}");
        assert!(j.contains(r#""numOps":2,"#), "{j}");
    }

    #[test]
    fn predict_batch_matches_single_predictions_and_names_the_failing_row() {
        let mut e = Engine::new(&tiny_model()).unwrap();
        let rows = [[2.0f32, 1.0], [0.0, 3.0], [-4.0, -4.0]];
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let (mut scores, mut labels) = (vec![0f32; 9], vec![0i32; 3]);
        e.predict_batch(&flat, 3, &mut scores, &mut labels).unwrap();
        assert_eq!(labels, [0, 1, 2]);
        for (r, row) in rows.iter().enumerate() {
            let mut s = [0f32; 3];
            let l = e.predict(row, &mut s).unwrap();
            assert_eq!(l, Some(labels[r] as usize));
            assert_eq!(
                s.map(f32::to_bits),
                <[f32; 3]>::try_from(&scores[r * 3..r * 3 + 3])
                    .unwrap()
                    .map(f32::to_bits)
            );
        }
        let mut bad = flat.clone();
        bad[5] = f32::NAN;
        let err = e
            .predict_batch(&bad, 3, &mut scores, &mut labels)
            .unwrap_err();
        assert_eq!(err, (Some(2), Error::InvalidInput { feature: 1 }));
        let err = e
            .predict_batch(&flat[..5], 3, &mut scores, &mut labels)
            .unwrap_err();
        assert_eq!(
            err,
            (
                None,
                Error::WrongLength {
                    expected: 6,
                    actual: 5
                }
            )
        );
    }

    #[test]
    fn run_raw_checks_input_count_and_byte_lengths() {
        let mut e = Engine::new(&tiny_model()).unwrap();
        let x: Vec<u8> = [2.0f32, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = e.run_raw(&x, &[8]).unwrap();
        let mut s = [0f32; 3];
        e.predict(&[2.0, 1.0], &mut s).unwrap();
        assert_eq!(
            out,
            s.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()
        );
        assert_eq!(
            e.run_raw(&x, &[8, 0]),
            Err(Error::WrongLength {
                expected: 1,
                actual: 2
            })
        );
        assert_eq!(
            e.run_raw(&x[..7], &[7]),
            Err(Error::WrongLength {
                expected: 8,
                actual: 7
            })
        );
        assert_eq!(
            e.run_raw(&x, &[7]),
            Err(Error::WrongLength {
                expected: 7,
                actual: 8
            })
        );
    }

    #[test]
    fn check_golden_counts_matching_vectors_and_names_a_mismatch() {
        let with_golden = |expected: Vec<u8>| {
            use ferrite::format::types::Activation;
            use ferrite::format::write::ModelBuilder;
            use ferrite::Op;
            let mut b = ModelBuilder::new("golden");
            let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
            let w = b.add_const_f32("w", &[1, 2], &[1.0, 2.0]).unwrap();
            let y = b.add_tensor("y", DType::F32, &[1, 1], Quant::None).unwrap();
            b.add_op(
                Op::FullyConnected {
                    act: Activation::None,
                    q: None,
                },
                &[x, w],
                &[y],
            )
            .unwrap();
            b.set_io(&[x], &[y]).unwrap();
            let input: Vec<u8> = [3.0f32, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
            b.add_golden(vec![input.clone()], vec![11.0f32.to_le_bytes().to_vec()]);
            b.add_golden(vec![input], vec![expected]);
            b.finish().unwrap()
        };
        let mut good = Engine::new(&with_golden(11.0f32.to_le_bytes().to_vec())).unwrap();
        assert_eq!(good.check_golden(), Ok(2));
        assert!(good.info_json().unwrap().ends_with(r#""numGolden":2}"#));
        let mut bad = Engine::new(&with_golden(12.0f32.to_le_bytes().to_vec())).unwrap();
        assert_eq!(bad.check_golden(), Err(Error::GoldenMismatch { index: 1 }));
        assert_eq!(Engine::new(&tiny_model()).unwrap().check_golden(), Ok(0));
    }

    #[test]
    fn build_info_is_json() {
        let j = build_info_json();
        assert!(
            j.starts_with("{\"version\":\"") && j.contains("\"simd128\":"),
            "{j}"
        );
    }
}
