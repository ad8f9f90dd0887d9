//! Batch files: a model whose input 0 holds N rows (`ferrite convert --batch N`).
//!
//! A model converted at batch 1 (the file the device runs) does one inference per row,
//! and each inference pays the executor's per-op work (decoding every op and its
//! operands) on a few microseconds of arithmetic. With the leading dimension of input 0
//! fixed to N, one inference computes N rows: the kernels loop over the rows of each
//! layer and the per-op work is paid once per N rows. That is for scoring many rows on
//! a host (`ferrite run`, the Python package), not for the device.
//!
//! The converter ([`crate::convert()`] with `ConvertOptions::batch` > 1) makes such a
//! file equivalent to the batch-1 file (int8 outputs bit for bit, f32 outputs up to
//! rounding):
//! - it converts at batch 1 first, with the same options;
//! - it calibrates the batch-N graph on N copies of each calibration row
//!   ([`repeat_rows`]), so every activation range (min/max, and the percentile cut,
//!   whose counts all scale by N) is the batch-1 conversion's, and the stored agreement
//!   figures and `calibration_rows` stay per row;
//! - it runs both files on 2N + 1 rows (the calibration rows, else pseudo-random ones;
//!   the last run padded) and fails unless every output of the batch file agrees with
//!   the batch-1 file's ([`check_same_results`]): the same bytes, except f32 outputs,
//!   which may differ by rounding, because from `FC_GEMM_MIN_BATCH` rows the runtime's
//!   f32 FullyConnected runs on the conv engine's GEMM (sums in another order than the
//!   one-row kernel, both within `γ(K + 2)` of the exact sum, see
//!   `ferrite::kernels::engine`): an f32 output (of an f32 model, or of an int8 model
//!   with float layers) must be within [`F32_TOLERANCE`]`·(1 + max |output of the
//!   row|)` of the batch-1 file's; an int8 output must have its bytes (int8 kernels are
//!   bit-exact on every path).
//!
//! The file records `batch=N` in its metadata properties ([`BATCH_PROPERTY`]) and
//! carries no golden vectors (each would hold N rows; the batch-1 file has them).
//! `ferrite run` takes one sample per row and runs N rows per inference, as for any
//! model whose inputs and outputs lead with the same batch ([`crate::feed::model_batch`]);
//! the Python package calls [`run_batched`]. `ferrite validate` refuses a batch file:
//! validate the batch-1 file. Neural models only: one
//! input, no preprocessing pipeline (a scikit-learn pipeline, or `--preprocess`, runs
//! its preprocessing one row at a time), a leading dimension of 1 on input 0 and every
//! output.

use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::format::types::DType;
use ferrite::{Model, OwnedSession, Session, TensorDef};

/// Metadata property of a batch file: the number of rows input 0 holds.
pub const BATCH_PROPERTY: &str = "batch";

/// Rows per inference: N for a batch file whose shapes agree with its `batch=N`
/// property (one input, no preprocessing, input 0 and every output with leading
/// dimension N), else 1.
pub fn rows_per_run(m: &Model<'_>) -> usize {
    let Some(n) = m
        .metadata()
        .property(BATCH_PROPERTY)
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return 1;
    };
    let leads = |t: TensorDef<'_>| t.shape.first().map(|&d| d as usize) == Some(n);
    let ok = n > 1
        && m.num_inputs() == 1
        && m.preprocess().is_none()
        && m.input(0).is_ok_and(leads)
        && (0..m.num_outputs()).all(|o| m.output(o).is_ok_and(leads));
    if ok {
        n
    } else {
        1
    }
}

/// Fails with [`Error::Usage`] on a batch file: `ferrite validate` compares one row per
/// inference with the reference, so it validates the batch-1 file (whose outputs the
/// batch conversion checked the batch file reproduces, see [`check_same_results`]).
pub fn refuse_validation(m: &Model<'_>) -> Result<()> {
    let batch = rows_per_run(m);
    if batch > 1 {
        return Err(Error::Usage(format!(
            "this is a batch file (input 0 holds {batch} rows, `ferrite convert --batch \
             {batch}`): validate the batch-1 conversion of the model instead; the batch \
             conversion checked that this file gives its outputs (int8 outputs bit for bit, \
             f32 outputs up to rounding)"
        )));
    }
    Ok(())
}

/// Name and shape of input 0 of a batch-1 model that can take a batch dimension: one
/// input, no preprocessing, input 0 and every output with a leading dimension of 1.
pub fn batchable_input(m: &Model<'_>, batch: usize) -> Result<(String, Vec<usize>)> {
    let input = m.input(0)?;
    let lead_one = |t: &TensorDef<'_>| t.shape.len() >= 2 && t.shape[0] == 1;
    let outputs_ok = (0..m.num_outputs()).all(|o| m.output(o).is_ok_and(|t| lead_one(&t)));
    if m.num_inputs() != 1 || m.preprocess().is_some() || !lead_one(&input) || !outputs_ok {
        return Err(Error::Usage(format!(
            "--batch {batch} needs a model with one input, no preprocessing pipeline, and a \
             leading dimension of 1 on its input and outputs (this model: {} input(s), \
             input \"{}\" of shape {:?}, {} output(s){}); convert it without --batch",
            m.num_inputs(),
            input.name,
            input.shape,
            m.num_outputs(),
            if m.preprocess().is_some() {
                ", a preprocessing pipeline"
            } else {
                ""
            }
        )));
    }
    Ok((
        input.name.to_string(),
        input.shape.iter().map(|&d| d as usize).collect(),
    ))
}

/// Each row of `d` repeated `n` times, as one row of `n * cols` values.
pub fn repeat_rows(d: &Dataset, n: usize) -> Dataset {
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

/// Runs `rows` rows of `x` (row-major, `x.len() / rows` values each) through a session
/// of a batch file that takes `batch` rows per inference, and writes output 0 of each
/// row, as f32, to `out` (`out.len() / rows` values per row). Full batches are read
/// from `x` in place; the last one is padded with zero rows, whose results are dropped.
///
/// The values are not checked for NaN or infinity (`Session::predict` rejects them for
/// one row): a caller that needs that checks `x` first.
pub fn run_batched(
    s: &mut Session<'_, '_>,
    x: &[f32],
    rows: usize,
    batch: usize,
    out: &mut [f32],
) -> core::result::Result<(), ferrite::Error> {
    if rows == 0 {
        return Ok(());
    }
    let (width, o) = (x.len() / rows, out.len() / rows);
    let mut padded = Vec::new();
    let mut scores = vec![0f32; batch * o];
    for start in (0..rows).step_by(batch.max(1)) {
        let n = batch.min(rows - start);
        let input = &x[start * width..(start + n) * width];
        if n == batch {
            s.set_input_f32(0, input)?;
        } else {
            padded.clear();
            padded.extend_from_slice(input);
            padded.resize(batch * width, 0.0);
            s.set_input_f32(0, &padded)?;
        }
        s.run()?;
        s.output_f32(0, &mut scores)?;
        out[start * o..(start + n) * o].copy_from_slice(&scores[..n * o]);
    }
    Ok(())
}

/// Relative tolerance of an f32 output of a batch file against the batch-1 file (see
/// the module docs): far above the rounding differences of the f32 kernels (a few
/// units of 2^-24 per layer), far below what mixing rows changes.
pub const F32_TOLERANCE: f32 = 1e-4;

/// Whether one row's output `got` (batch file) agrees with `want` (batch-1 file): the
/// same bytes, or for f32 every value within [`F32_TOLERANCE`]`·(1 + max |want|)`
/// (NaN where `want` has NaN, the same infinities).
fn same_row(dtype: DType, want: &[u8], got: &[u8]) -> bool {
    if want == got {
        return true;
    }
    if dtype != DType::F32 || want.len() != got.len() {
        return false;
    }
    let f = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (w, g) = (f(want), f(got));
    let scale = w
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()));
    let tol = F32_TOLERANCE * (1.0 + scale);
    w.iter().zip(&g).all(|(&a, &b)| {
        if a.is_finite() {
            (a - b).abs() <= tol
        } else {
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
        }
    })
}

/// Fails unless `batched` (input 0 holding `batch` rows) gives, for each of `2 * batch +
/// 1` rows, every output of `device` (one row per inference): the same bytes, f32 up
/// to rounding (see the module docs). The rows are `data`'s rows, cycled, or
/// pseudo-random values in [-1, 1) without data.
pub fn check_same_results(
    device: &Model<'_>,
    batched: &Model<'_>,
    data: Option<&Dataset>,
    batch: usize,
) -> Result<()> {
    let width = device.input_len(0)?;
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
    let mut one = OwnedSession::new(device);
    let mut many = OwnedSession::new(batched);
    let (mut s1, mut sn) = (one.session(), many.session());
    let mut padded = vec![0f32; batch * width];
    for start in (0..rows).step_by(batch) {
        let n = batch.min(rows - start);
        padded.fill(0.0);
        padded[..n * width].copy_from_slice(&x[start * width..(start + n) * width]);
        sn.set_input_f32(0, &padded)?;
        sn.run()?;
        for r in 0..n {
            s1.set_input_f32(0, &x[(start + r) * width..(start + r + 1) * width])?;
            s1.run()?;
            for o in 0..device.num_outputs() {
                let want = s1.output_bytes(o)?;
                let all = sn.output_bytes(o)?;
                let per_row = all.len() / batch;
                let dtype = device.output(o)?.dtype;
                if !same_row(dtype, want, &all[r * per_row..(r + 1) * per_row]) {
                    return Err(Error::Usage(format!(
                        "--batch {batch}: the batch file does not reproduce the batch-1 model \
                         on row {} (output {o}): the model's leading dimension is not an \
                         independent batch; convert it without --batch",
                        start + r
                    )));
                }
            }
        }
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
