//! `ferrite._native.Model`: a validated model, shared by threads, run over NumPy rows.

use crate::errors::Failure;
use ferrite::signature::{PublicKey, VerifyPolicy};
use ferrite::{OwnedModel, Session};
use ferrite_tool::batch::{rows_per_run, run_batched};
use ferrite_tool::validate::{validate, ValidateOptions};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard};

/// Arenas kept for reuse; more concurrent calls than this allocate and free their own.
const MAX_POOLED_ARENAS: usize = 16;

/// Batches scored at a time by `predict_labels` on a batch file.
const LABEL_CHUNK: usize = 64;

/// How rows map onto the model's tensors.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Values per input row: the raw width with a preprocessing pipeline, else the
    /// elements of input 0 divided by `batch`.
    row: usize,
    /// Values per row of output 0.
    out: usize,
    /// Rows per run: N for a batch file (`ferrite_tool::batch::rows_per_run`), else 1.
    batch: usize,
    /// Whether the model has a preprocessing pipeline.
    pipeline: bool,
}

impl Layout {
    fn of(m: &ferrite::Model<'_>) -> Result<Layout, ferrite::Error> {
        let pipeline = m.preprocess().is_some();
        let (raw, out) = (m.raw_input_len()?, m.output_len(0)?);
        let batch = rows_per_run(m);
        Ok(Layout {
            row: raw / batch,
            out: out / batch,
            batch,
            pipeline,
        })
    }
}

/// A validated model (the Python class `ferrite.Model` wraps it).
#[pyclass(frozen, module = "ferrite._native")]
pub struct Model {
    owned: OwnedModel,
    layout: Layout,
    /// Arenas of `arena_size + 63` bytes: `Session::new` starts the arena at a 64-byte
    /// boundary (a cache line) inside them, whatever the heap gave.
    arenas: Mutex<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.owned.model().metadata().name)
            .field("layout", &self.layout)
            .finish()
    }
}

/// What `predict_rows` writes for each row.
struct Outputs<'a> {
    scores: Option<&'a mut [f32]>,
    labels: Option<&'a mut [i64]>,
}

#[pymethods]
impl Model {
    /// Loads and validates the bytes of a `.fer` file (any alignment; copied once).
    /// With `public_keys` (32 bytes each), the file must first carry a valid signature
    /// by one of them and a `model_version` of at least `min_version`.
    #[new]
    #[pyo3(signature = (data, public_keys=None, min_version=0))]
    fn new(
        py: Python<'_>,
        data: &[u8],
        public_keys: Option<Vec<Vec<u8>>>,
        min_version: u64,
    ) -> PyResult<Self> {
        let Some(keys) = public_keys else {
            return Model::load(data).map_err(|f| f.into_py(py));
        };
        let keys = keys
            .iter()
            .map(|k| {
                <[u8; 32]>::try_from(k.as_slice())
                    .map(PublicKey)
                    .map_err(|_| {
                        pyo3::exceptions::PyValueError::new_err(format!(
                            "a public key is 32 bytes (a key.pub file), got {}",
                            k.len()
                        ))
                    })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let policy = VerifyPolicy {
            keys: &keys,
            min_version,
        };
        OwnedModel::new_verified(data, &policy)
            .map_err(Failure::from)
            .and_then(Model::from_owned)
            .map_err(|f| f.into_py(py))
    }

    /// `(key_id, model_version)` of a signed model, `None` when it is unsigned.
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Option<(Bound<'py, pyo3::types::PyBytes>, u64)> {
        self.owned
            .model()
            .signature()
            .map(|s| (pyo3::types::PyBytes::new(py, &s.key_id), s.model_version))
    }

    /// `(row_width, output_width, batch, has_preprocessing)`.
    #[getter]
    fn layout(&self) -> (usize, usize, usize, bool) {
        let l = self.layout;
        (l.row, l.out, l.batch, l.pipeline)
    }

    /// Inputs, outputs, labels, metadata and sizes as JSON.
    fn info_json(&self, py: Python<'_>) -> PyResult<String> {
        info_json(&self.owned.model()).map_err(|e| Failure::from(e).into_py(py))
    }

    /// The bytes of the model file.
    fn file_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.owned.model().bytes())
    }

    /// Output 0 of every row of `x` (`(n, row_width)`, C-contiguous float32) as a new
    /// `(n, output_width)` float32 array and, with `labels`, the arg-max class index of
    /// each row (first on ties) as a new int64 array. Runs without the GIL.
    #[allow(clippy::type_complexity)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        labels: bool,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Option<Bound<'py, PyArray1<i64>>>)> {
        let n = self.rows_of(&x)?;
        if labels {
            self.check_classifier(py)?;
        }
        let scores = PyArray2::<f32>::zeros(py, [n, self.layout.out], false);
        let label_array = labels.then(|| PyArray1::<i64>::zeros(py, [n], false));
        {
            let mut sw = scores.readwrite();
            let mut lw = label_array.as_ref().map(|l| l.readwrite());
            let s = sw.as_slice_mut().map_err(value_error)?;
            let l = match lw.as_mut() {
                Some(l) => Some(l.as_slice_mut().map_err(value_error)?),
                None => None,
            };
            let xs = x.as_slice().map_err(value_error)?;
            py.detach(|| {
                self.predict_rows(
                    xs,
                    n,
                    Outputs {
                        scores: Some(s),
                        labels: l,
                    },
                )
            })
            .map_err(|f| f.into_py(py))?;
        }
        Ok((scores, label_array))
    }

    /// The arg-max class index of output 0 for every row of `x` (first on ties), as a
    /// new int64 array. Runs without the GIL.
    fn predict_labels<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        self.check_classifier(py)?;
        let n = self.rows_of(&x)?;
        let labels = PyArray1::<i64>::zeros(py, [n], false);
        {
            let mut lw = labels.readwrite();
            let l = lw.as_slice_mut().map_err(value_error)?;
            let xs = x.as_slice().map_err(value_error)?;
            py.detach(|| {
                self.predict_rows(
                    xs,
                    n,
                    Outputs {
                        scores: None,
                        labels: Some(l),
                    },
                )
            })
            .map_err(|f| f.into_py(py))?;
        }
        Ok(labels)
    }

    /// The model's preprocessing pipeline on every row of `x`: a new
    /// `(n, features)` float32 array of graph inputs (NaN may remain where no step
    /// replaced it). Without a pipeline, a copy of `x`. Runs without the GIL.
    fn preprocess<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = self.rows_of(&x)?;
        let model = self.owned.model();
        let width = if self.layout.pipeline {
            model
                .input_len(0)
                .map_err(|e| Failure::from(e).into_py(py))?
        } else {
            self.layout.row
        };
        let out = PyArray2::<f32>::zeros(py, [n, width], false);
        {
            let mut ow = out.readwrite();
            let o = ow.as_slice_mut().map_err(value_error)?;
            let xs = x.as_slice().map_err(value_error)?;
            let row = self.layout.row;
            if !self.layout.pipeline {
                o.copy_from_slice(xs);
            } else {
                py.detach(|| {
                    self.with_session(|s| {
                        for (r, (raw, feats)) in xs.chunks(row).zip(o.chunks_mut(width)).enumerate()
                        {
                            s.preprocess(raw, feats)
                                .map_err(|e| Failure::from(e).at_row(r))?;
                        }
                        Ok(())
                    })
                })
                .map_err(|f| f.into_py(py))?;
            }
        }
        Ok(out)
    }

    /// Runs every golden vector stored in the model; returns how many were checked.
    fn check_golden(&self, py: Python<'_>) -> PyResult<u32> {
        let count = self.owned.model().num_golden();
        py.detach(|| {
            self.with_session(|s| {
                for g in 0..count {
                    s.check_golden(g)?;
                }
                Ok(count)
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// `ferrite_tool::validate::validate` of this model against the ONNX bytes
    /// `onnx` on the rows of `x`; returns the report as JSON and as text.
    #[pyo3(signature = (onnx, x, labels, min_agreement, max_abs_error, per_layer, per_layer_rows))]
    #[allow(clippy::too_many_arguments)]
    fn validate(
        &self,
        py: Python<'_>,
        onnx: &[u8],
        x: PyReadonlyArray2<'_, f32>,
        labels: Option<Vec<usize>>,
        min_agreement: f64,
        max_abs_error: Option<f32>,
        per_layer: bool,
        per_layer_rows: usize,
    ) -> PyResult<(String, String)> {
        if self.layout.batch > 1 {
            return Err(Failure::Unsupported(format!(
                "validate runs one row per inference: validate the batch-1 conversion of \
                 this model (this file runs {} rows at once; convert(batch=...) checked \
                 that it gives the batch-1 model's bytes)",
                self.layout.batch
            ))
            .into_py(py));
        }
        let data = crate::dataset(&x, "the rows passed to validate")?;
        let opts = ValidateOptions {
            min_agreement,
            max_abs_error,
            per_layer,
            per_layer_rows,
        };
        let fer = self.owned.model().bytes();
        py.detach(|| {
            validate(fer, onnx, &data, labels.as_deref(), &opts)
                .map(|r| (r.to_json().to_string(), r.to_text()))
                .map_err(Failure::from)
        })
        .map_err(|f| f.into_py(py))
    }
}

pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(e.to_string())
}

impl Model {
    /// The runtime's view of the model.
    pub(crate) fn runtime_model(&self) -> ferrite::Model<'_> {
        self.owned.model()
    }

    /// The bytes of the model file.
    pub(crate) fn file(&self) -> &[u8] {
        self.owned.model().bytes()
    }

    /// Rows per run (N for a batch file, else 1).
    pub(crate) fn layout_batch(&self) -> usize {
        self.layout.batch
    }

    /// `(row_width, output_width)`.
    pub(crate) fn row_widths(&self) -> (usize, usize) {
        (self.layout.row, self.layout.out)
    }

    /// Fails unless output 0 has several values per row (class scores).
    fn check_classifier(&self, py: Python<'_>) -> PyResult<()> {
        if self.layout.out >= 2 {
            return Ok(());
        }
        Err(Failure::Unsupported(format!(
            "labels need an output of several class scores; this model's output 0 has \
             {} value(s) per row: use predict",
            self.layout.out
        ))
        .into_py(py))
    }

    /// Loads and validates a model.
    pub(crate) fn load(data: &[u8]) -> Result<Model, Failure> {
        Model::from_owned(OwnedModel::new(data)?)
    }

    /// Wraps a validated model.
    fn from_owned(owned: OwnedModel) -> Result<Model, Failure> {
        let layout = Layout::of(&owned.model())?;
        Ok(Model {
            owned,
            layout,
            arenas: Mutex::new(Vec::new()),
        })
    }

    /// The number of rows of `x`, after checking its width.
    fn rows_of(&self, x: &PyReadonlyArray2<'_, f32>) -> PyResult<usize> {
        let shape = x.shape();
        if shape[1] != self.layout.row {
            let e = ferrite::Error::WrongLength {
                expected: self.layout.row,
                actual: shape[1],
            };
            return Err(Failure::from(e).into_py(x.py()));
        }
        Ok(shape[0])
    }

    /// Runs `n` rows of `x` and writes output 0 and/or the labels of each.
    fn predict_rows(&self, x: &[f32], n: usize, mut out: Outputs<'_>) -> Result<(), Failure> {
        let Layout { row, out: o, .. } = self.layout;
        if self.layout.batch > 1 {
            return self.predict_batched(x, n, out);
        }
        self.with_session(|s| {
            let mut scores = vec![0f32; o];
            for r in 0..n {
                let dst = match out.scores.as_deref_mut() {
                    Some(all) => &mut all[r * o..(r + 1) * o],
                    None => &mut scores[..],
                };
                let label = s
                    .predict(&x[r * row..(r + 1) * row], dst)
                    .map_err(|e| Failure::from(e).at_row(r))?;
                if let (Some(labels), Some(l)) = (out.labels.as_deref_mut(), label) {
                    labels[r] = l as i64;
                }
            }
            Ok(())
        })
    }

    /// [`Model::predict_rows`] for a batch file: `ferrite_tool::batch::run_batched`
    /// over runs of `batch` rows (the last one padded, its extra results dropped). Rows
    /// are checked for NaN and infinities as `Session::predict` checks them.
    fn predict_batched(&self, x: &[f32], n: usize, mut out: Outputs<'_>) -> Result<(), Failure> {
        let Layout {
            row, out: o, batch, ..
        } = self.layout;
        if let Some(i) = x[..n * row].iter().position(|v| !v.is_finite()) {
            let error = ferrite::Error::InvalidInput {
                feature: (i % row) as u32,
            };
            return Err(Failure::from(error).at_row(i / row));
        }
        self.with_session(|s| {
            if let Some(all) = out.scores.as_deref_mut() {
                run_batched(s, &x[..n * row], n, batch, all)?;
                if let Some(labels) = out.labels.as_deref_mut() {
                    for (l, v) in labels.iter_mut().zip(all.chunks(o)) {
                        *l = argmax(v) as i64;
                    }
                }
                return Ok(());
            }
            // Labels only: scores of up to LABEL_CHUNK batches at a time.
            let mut scores = vec![0f32; LABEL_CHUNK * batch * o];
            for start in (0..n).step_by(LABEL_CHUNK * batch) {
                let rows = (LABEL_CHUNK * batch).min(n - start);
                let dst = &mut scores[..rows * o];
                run_batched(s, &x[start * row..(start + rows) * row], rows, batch, dst)?;
                if let Some(labels) = out.labels.as_deref_mut() {
                    for (l, v) in labels[start..start + rows].iter_mut().zip(dst.chunks(o)) {
                        *l = argmax(v) as i64;
                    }
                }
            }
            Ok(())
        })
    }

    /// Runs `f` over a session whose arena comes from the pool (or is allocated when
    /// every pooled arena is in use), then returns the arena to the pool.
    pub(crate) fn with_session<T>(
        &self,
        f: impl FnOnce(&mut Session<'_, '_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let model = self.owned.model();
        let mut arena = self
            .lock_arenas()
            .pop()
            .unwrap_or_else(|| vec![0u8; model.arena_size().saturating_add(63)]);
        let result = match Session::new(&model, &mut arena) {
            Ok(mut session) => f(&mut session),
            Err(e) => Err(e.into()),
        };
        let mut pool = self.lock_arenas();
        if pool.len() < MAX_POOLED_ARENAS {
            pool.push(arena);
        }
        result
    }

    fn lock_arenas(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        // The pool holds plain buffers and no invariant: a poisoned lock is still usable.
        self.arenas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Index of the largest score, first on ties, NaN never chosen over a number: the rule
/// of `Session::predict`, which the batched path cannot call.
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() && !x.is_nan() {
            best = i;
        }
    }
    best
}

fn tensor_json(t: &ferrite::TensorDef<'_>) -> serde_json::Value {
    let quantization = match t.quant {
        ferrite::Quant::None => serde_json::Value::Null,
        ferrite::Quant::PerTensor { scale, zero_point } => {
            serde_json::json!({"kind": "per_tensor", "scale": scale, "zero_point": zero_point})
        }
        ferrite::Quant::PerChannel { axis, .. } => {
            serde_json::json!({"kind": "per_channel", "axis": axis})
        }
    };
    serde_json::json!({
        "name": t.name,
        "dtype": t.dtype.name(),
        "shape": t.shape.to_vec(),
        "quantization": quantization,
    })
}

fn info_json(m: &ferrite::Model<'_>) -> Result<String, ferrite::Error> {
    let meta = m.metadata();
    let inputs = (0..m.num_inputs())
        .map(|i| m.input(i).map(|t| tensor_json(&t)))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = (0..m.num_outputs())
        .map(|i| m.output(i).map(|t| tensor_json(&t)))
        .collect::<Result<Vec<_>, _>>()?;
    let properties: serde_json::Map<String, serde_json::Value> = meta
        .properties()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Ok(serde_json::json!({
        "name": meta.name,
        "version": meta.version,
        "description": meta.description,
        "producer": meta.producer,
        "properties": properties,
        "inputs": inputs,
        "outputs": outputs,
        "labels": m.labels().collect::<Vec<_>>(),
        "arena_size": m.arena_size(),
        "file_size": m.bytes().len(),
        "parameter_bytes": m.parameter_bytes(),
        "num_golden": m.num_golden(),
        "num_ops": m.num_ops(),
    })
    .to_string())
}
