//! Batch files: a model whose input 0 holds N rows, for scoring many rows at once.
//!
//! A model converted at batch 1 (the device file) runs one row per `Session::run`;
//! per row, that pays the executor's per-op work (decoding each op and its operands)
//! on a few microseconds of arithmetic. Converted with the leading dimension of input 0
//! fixed to N, one run computes N rows: the FullyConnected kernels loop over the N rows
//! of each layer, and the per-op work is paid once per N rows.
//!
//! [`convert_batched`] writes such a file and proves it equivalent to the device file:
//! - it converts at batch 1 first, with the same options;
//! - it calibrates the batch-N graph on groups of N copies of each calibration row, so
//!   every activation range (min/max, and the percentile cut, whose counts all scale by
//!   N) is the batch-1 conversion's, and the tool's agreement figures and
//!   `calibration_rows` stay per row;
//! - it runs both files on up to 2N + 1 rows (the calibration rows, else
//!   pseudo-random ones), the last batch padded, and fails unless every output value of
//!   the batch file has the same bits as the batch-1 file's.
//!
//! The file records `batch=N` in its metadata properties ([`BATCH_PROPERTY`]); the
//! Python `Model` reads it and splits rows into runs of N (padding the last run).
//! A batch file carries no golden vectors (each would hold N rows): the device file
//! does.

use crate::errors::Failure;
use crate::model::Model;
use ferrite_tool::convert::{convert_graph_with, import_graph, ConvertOptions, ConvertReport};
use ferrite_tool::data::Dataset;

/// Metadata property of a batch file: the number of rows input 0 holds.
pub const BATCH_PROPERTY: &str = "batch";

/// Converts `onnx` with input 0's leading dimension fixed to `batch` (> 1); see the
/// module docs.
pub fn convert_batched(
    onnx: &[u8],
    opts: &ConvertOptions,
    batch: usize,
) -> Result<ConvertReport, Failure> {
    if ferrite_tool::onnxml::is_onnxml(onnx) {
        return Err(Failure::Argument(
            "batch applies to neural ONNX models; a scikit-learn (ONNX-ML) pipeline runs \
             its preprocessing one row at a time: convert it without batch"
                .into(),
        ));
    }
    let single = ferrite_tool::convert(onnx, opts)?;
    let device = Model::load(&single.bytes)?;
    let (name, shape) = device.batch_one_input()?;
    let mut shapes: Vec<(String, Vec<usize>)> = opts
        .input_shapes
        .iter()
        .filter(|(n, _)| *n != name)
        .cloned()
        .collect();
    let mut batched_shape = shape;
    batched_shape[0] = batch;
    shapes.push((name, batched_shape));
    let graph = import_graph(onnx, &shapes)?;
    let mut bopts = opts.clone();
    bopts.input_shapes = shapes;
    bopts.golden = 0;
    bopts.calibration = opts.calibration.as_ref().map(|d| repeat_rows(d, batch));
    let extras = ferrite_tool::convert::Extras {
        properties: vec![(BATCH_PROPERTY.into(), batch.to_string())],
        ..Default::default()
    };
    let report = convert_graph_with(&graph, onnx, &bopts, &extras)?;
    let batched = Model::load(&report.bytes)?;
    if batched.batch() != batch {
        return Err(Failure::Argument(format!(
            "batch={batch}: the converted model's output does not have a leading batch \
             dimension of {batch} rows, so its rows cannot be split"
        )));
    }
    check_same_bits(&device, &batched, opts.calibration.as_ref(), batch)?;
    Ok(report)
}

/// Each row of `d` repeated `n` times, as one row of `n * cols` values.
fn repeat_rows(d: &Dataset, n: usize) -> Dataset {
    let mut values = Vec::with_capacity(d.values.len() * n);
    for row in d.iter_rows() {
        for _ in 0..n {
            values.extend_from_slice(row);
        }
    }
    Dataset {
        rows: d.rows,
        cols: d.cols * n,
        values,
        header: None,
        lines: d.lines.clone(),
        origin: d.origin.clone(),
    }
}

/// Fails unless `batched` gives the bits of `device` on up to `2 * batch + 1` rows.
fn check_same_bits(
    device: &Model,
    batched: &Model,
    data: Option<&Dataset>,
    batch: usize,
) -> Result<(), Failure> {
    let width = device.row_width();
    let rows = 2 * batch + 1;
    let x: Vec<f32> = match data.filter(|d| d.rows > 0) {
        Some(d) => d
            .values
            .iter()
            .copied()
            .cycle()
            .take(rows * width)
            .collect(),
        None => pseudo_random(rows * width),
    };
    let a = device.scores(&x, rows)?;
    let b = batched.scores(&x, rows)?;
    if let Some(i) = a
        .iter()
        .zip(&b)
        .position(|(p, q)| p.to_bits() != q.to_bits())
    {
        let r = i / device.output_width().max(1);
        return Err(Failure::Argument(format!(
            "batch={batch}: the batch file does not reproduce the batch-1 model on row {r} \
             ({} vs {}): its leading dimension is not an independent batch",
            b[i], a[i]
        )));
    }
    Ok(())
}

/// Deterministic values in [-1, 1).
fn pseudo_random(n: usize) -> Vec<f32> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The conversion report as JSON for the Python side.
pub fn report_json(r: &ConvertReport, batch: usize) -> String {
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
    })
    .to_string()
}
