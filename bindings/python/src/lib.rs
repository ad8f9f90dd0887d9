//! # ferrite-python — the extension module `ferrite._native`
//!
//! The compiled half of the Python package `ferrite` (`python/ferrite/`): a thin PyO3
//! layer over the runtime (`ferrite`) and the host tool (`ferrite-tool`). The Python
//! half turns paths, array-likes and keyword arguments into the plain arguments taken
//! here, and defines the exception classes ([`errors`]) this module raises.
//!
//! - [`Model`] — a validated model shared by any number of threads; every call takes
//!   an arena from a small pool and runs with the GIL released. `predict`,
//!   `predict_labels` and `preprocess` take a C-contiguous `float32` array of rows
//!   without copying it and fill a new NumPy array.
//! - [`convert`] — ONNX bytes → `.fer` bytes through `ferrite_tool::convert`, with
//!   an optional fixed batch (`ferrite_tool::batch`: a batch file that gives the
//!   batch-1 file's bits).
//! - `Model.validate` — `ferrite_tool::validate::validate` on NumPy rows.
//! - [`monitor::Monitor`] — the runtime's drift and latency monitor over NumPy rows;
//!   its reports are the host tool's (`ferrite monitor`).
//!
//! Nothing here panics on any input: every failure is a Python exception.

// A host library: std is the point, the workspace's no_std lints do not apply.
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

mod errors;
mod model;
mod monitor;

use errors::Failure;
use ferrite_tool::convert::{ConvertOptions, ConvertReport};
use ferrite_tool::data::Dataset;
use ferrite_tool::emit::{Int8Options, WeightGranularity};
use ferrite_tool::monitor::{attach_baseline, BaselineOptions, BaselineSummary};
use ferrite_tool::quant::CalibrationMethod;
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Rows of a C-contiguous `float32` array as a [`Dataset`] (a copy: the tool owns
/// its data).
fn dataset(x: &PyReadonlyArray2<'_, f32>, origin: &str) -> PyResult<Dataset> {
    let shape = x.shape();
    let values = x
        .as_slice()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?
        .to_vec();
    Ok(Dataset {
        rows: shape[0],
        cols: shape[1],
        values,
        header: None,
        lines: Vec::new(),
        origin: origin.to_string(),
    })
}

/// `ferrite_tool::convert` on ONNX bytes; returns `(fer_bytes, report_json)`.
///
/// `calibration` is a C-contiguous `(rows, features)` array (raw rows for a model
/// with preprocessing). `batch > 1` fixes the leading dimension of input 0
/// (`ferrite_tool::batch`). `baseline` rows (raw, as `predict` takes them) add a
/// monitoring baseline of `baseline_bins` bins per feature, as `ferrite convert
/// --baseline`. Runs with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    onnx, *, precision, calibration, calibration_method, input_shapes, name, version,
    description, labels, source_name, golden, per_tensor_weights, int8_input, batch,
    baseline, baseline_bins
))]
#[allow(clippy::too_many_arguments)]
fn convert<'py>(
    py: Python<'py>,
    onnx: &[u8],
    precision: &str,
    calibration: Option<PyReadonlyArray2<'py, f32>>,
    calibration_method: &str,
    input_shapes: Vec<(String, Vec<usize>)>,
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    labels: Vec<String>,
    source_name: Option<String>,
    golden: usize,
    per_tensor_weights: bool,
    int8_input: bool,
    batch: usize,
    baseline: Option<PyReadonlyArray2<'py, f32>>,
    baseline_bins: u32,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let precision = precision
        .parse()
        .map_err(|e| Failure::Tool(e).into_py(py))?;
    let calibration_method = match calibration_method {
        "minmax" => CalibrationMethod::MinMax,
        "percentile" => CalibrationMethod::Percentile,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown calibration_method \"{other}\" (minmax, percentile)"
            )))
        }
    };
    let calibration = calibration
        .map(|c| dataset(&c, "calibration array"))
        .transpose()?;
    let baseline = baseline
        .map(|b| dataset(&b, "baseline array"))
        .transpose()?;
    if baseline.is_some() && batch > 1 {
        return Err(Failure::Tool(ferrite_tool::Error::Usage(
            "a batch file carries no monitoring baseline (the batch-1 file, the one deployed, \
             does): convert without batch to monitor"
                .into(),
        ))
        .into_py(py));
    }
    let opts = ConvertOptions {
        precision,
        calibration,
        calibration_sha256: None,
        calibration_method,
        input_shapes,
        name,
        version,
        description,
        labels,
        source_name,
        golden,
        progress: false,
        int8: Int8Options {
            weights: if per_tensor_weights {
                WeightGranularity::PerTensorFc
            } else {
                WeightGranularity::PerChannel
            },
            int8_input,
            ..Int8Options::default()
        },
        batch,
        ..ConvertOptions::default()
    };
    let onnx = onnx.to_vec();
    let result = py.detach(move || -> Result<_, Failure> {
        let mut opts = opts;
        if let Some(c) = &opts.calibration {
            opts.calibration_sha256 = Some(ferrite_tool::convert::sha256_hex(
                &c.values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
            ));
        }
        let mut report = ferrite_tool::convert(&onnx, &opts)?;
        // `ferrite convert --baseline`: the same section, built the same way.
        let summary = match &baseline {
            Some(data) => {
                let opts = BaselineOptions {
                    bins: baseline_bins,
                    source: None,
                };
                let (bytes, summary) = attach_baseline(&report.bytes, data, &opts)?;
                report.bytes = bytes;
                Some(summary)
            }
            None => None,
        };
        Ok((report, summary))
    });
    let (report, summary) = result.map_err(|f| f.into_py(py))?;
    let json = report_json(&report, batch, summary.as_ref());
    Ok((PyBytes::new(py, &report.bytes), json))
}

/// The conversion report as JSON for the Python side.
fn report_json(r: &ConvertReport, batch: usize, baseline: Option<&BaselineSummary>) -> String {
    let agreement = r.agreement.as_ref().map(|a| {
        serde_json::json!({
            "rows": a.rows,
            "top1": a.top1,
            "max_abs_error": a.max_abs_error,
            "mean_abs_error": a.mean_abs_error,
        })
    });
    serde_json::json!({
        "precision": r.precision.name(),
        "ops": r.ops,
        "arena_bytes": r.arena_bytes,
        "parameter_bytes": r.parameter_bytes,
        "source_sha256": r.source_sha256,
        "agreement": agreement,
        "float_ops": r.float_ops,
        "golden": r.golden,
        "notes": r.notes,
        "batch": batch,
        "file_size": r.bytes.len(),
        "baseline": baseline.map(|b| serde_json::json!({
            "rows": b.rows,
            "features": b.features,
            "bins": b.bins,
        })),
    })
    .to_string()
}

/// Version of the ferrite workspace this module was built from.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The extension module: `Model`, `Monitor`, `convert`, `version`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::Model>()?;
    m.add_class::<monitor::Monitor>()?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
