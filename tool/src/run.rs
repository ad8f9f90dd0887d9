//! `ferrite run`: every output of a model for every row of its input data.
//!
//! Rows come from [`crate::feed::bind`]: one row holds every input of a sample. Input 0
//! of a model with a preprocessing pipeline takes raw rows (the pipeline runs first);
//! a batched model takes `group` rows per inference and gives one output row per
//! sample.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::feed::{self, Bound};
use ferrite::{AlignedModel, DType, Model, OwnedSession, Session};

/// One inference: `row` holds every input's values (`widths` of each, see
/// [`feed::input_widths`]); returns every output as f32.
///
/// With a preprocessing pipeline, input 0's values are raw and go through it; a
/// non-finite value left by the pipeline is rejected as [`Session::predict`] does.
pub fn infer_all(
    model: &Model<'_>,
    s: &mut Session<'_, '_>,
    row: &[f32],
    widths: &[usize],
) -> Result<Vec<Vec<f32>>> {
    for (i, x) in feed::split(row, widths).into_iter().enumerate() {
        if i == 0 && model.preprocess().is_some() {
            let mut feats = vec![0f32; model.input_len(0)?];
            s.preprocess(x, &mut feats)?;
            if let Some(f) = feats.iter().position(|v| !v.is_finite()) {
                return Err(ferrite::Error::InvalidInput { feature: f as u32 }.into());
            }
            s.set_input_f32(0, &feats)?;
        } else {
            s.set_input_f32(i, x)?;
        }
    }
    s.run()?;
    (0..model.num_outputs())
        .map(|o| {
            let mut v = vec![0f32; model.output_len(o)?];
            s.output_f32(o, &mut v)?;
            Ok(v)
        })
        .collect()
}

/// One prediction of a one-input model ([`Session::predict`]: the preprocessing, if
/// any, then the graph); output 0 as f32.
pub fn infer(model: &Model<'_>, session: &mut Session<'_, '_>, row: &[f32]) -> Result<Vec<f32>> {
    let mut out = vec![0f32; model.output_len(0)?];
    session.predict(row, &mut out)?;
    Ok(out)
}

/// Checks that `data` fits a one-input model (the raw features when it has a
/// preprocessing pipeline) and, without a pipeline, has no missing values.
pub fn check_rows(model: &Model<'_>, data: &Dataset) -> Result<()> {
    let widths = feed::input_widths(model)?;
    check_joined(model, data, &widths)
}

/// Checks rows that hold every input of a model (`widths`): their width and, where no
/// pipeline imputes, that every value is finite.
pub fn check_joined(model: &Model<'_>, data: &Dataset, widths: &[usize]) -> Result<()> {
    let names = feed::input_names(model)?;
    let total: usize = widths.iter().sum();
    if names.len() == 1 {
        data.expect_width(total, &format!("the model input \"{}\"", names[0]))?;
    } else if data.cols != total {
        let parts: Vec<String> = names
            .iter()
            .zip(widths)
            .map(|(n, w)| format!("\"{n}\" {w}"))
            .collect();
        return Err(Error::Data {
            path: data.origin.clone(),
            line: data.lines.first().copied().unwrap_or(0),
            column: 0,
            message: format!(
                "rows have {} values but the model's inputs take {total} together ({}): \
                 give one file per input",
                data.cols,
                parts.join(", ")
            ),
        });
    }
    if model.preprocess().is_some() {
        // Input 0 is imputed by the pipeline; the other inputs are not.
        let raw = widths.first().copied().unwrap_or(0);
        for r in 0..data.rows {
            if let Some(c) = data.row(r)[raw..].iter().position(|v| !v.is_finite()) {
                return Err(data.err_at(r, raw + c, "missing or non-finite value"));
            }
        }
        return Ok(());
    }
    data.expect_finite(
        model.input_accepts_nan(),
        "this model has no imputation step",
    )
}

/// Every output of a run, one row per sample.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// The model's output names, in order.
    pub names: Vec<String>,
    /// Shape of one sample of each output (the batch dimension removed for a batched
    /// model; the model's shape otherwise).
    pub shapes: Vec<Vec<usize>>,
    pub dtypes: Vec<DType>,
    /// Per output: `rows × width` values, row-major.
    pub values: Vec<Vec<f32>>,
    pub rows: usize,
    /// The model's class labels (of output 0), possibly empty.
    pub labels: Vec<String>,
    /// Whether output 0 holds class scores ([`is_classifier`]).
    pub classifier: bool,
}

impl Outputs {
    /// Values of one sample of each output.
    pub fn width(&self, o: usize) -> usize {
        self.shapes[o].iter().product()
    }

    /// Output `o` of sample `r`.
    pub fn row(&self, o: usize, r: usize) -> &[f32] {
        let w = self.width(o);
        &self.values[o][r * w..(r + 1) * w]
    }

    /// Index of the output named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether output `o` holds class scores: output 0 with several values per sample,
    /// as [`Session::predict`] reads it (labels, when present, name its columns).
    pub fn is_scores(&self, o: usize) -> bool {
        o == 0
            && self.classifier
            && self.width(0) > 1
            && self.dtypes[0] == DType::F32
            && (self.labels.is_empty() || self.labels.len() == self.width(0))
    }

    /// The `k` best classes of sample `r` (output 0), as label names when the model
    /// has labels, else as indices.
    pub fn top_k(&self, r: usize, k: usize) -> Vec<String> {
        top_k(self.row(0, r), k)
            .into_iter()
            .map(|i| self.labels.get(i).cloned().unwrap_or_else(|| i.to_string()))
            .collect()
    }
}

/// Runs every row of `bound` through the model in `fer` (see the module docs).
pub fn run_bound(fer: &[u8], bound: &Bound) -> Result<Outputs> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    let data = &bound.data;
    let n_out = model.num_outputs();
    // Samples per inference: the batch of a batched model (whether its rows are single
    // samples or whole batches), 1 otherwise.
    let per = feed::model_batch(&model)?;
    let mut shapes = Vec::new();
    let mut dtypes = Vec::new();
    let mut names = Vec::new();
    for o in 0..n_out {
        let t = model.output(o)?;
        let mut shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        if per > 1 || shape.first() == Some(&1) && shape.len() > 1 {
            shape.remove(0);
        } else if shape.len() == 1 && shape[0] == 1 {
            shape.clear();
        }
        shapes.push(shape);
        dtypes.push(t.dtype);
        names.push(t.name.to_string());
    }
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let mut values = vec![Vec::new(); n_out];
    let group = bound.group.max(1);
    let mut row = Vec::with_capacity(data.cols * group);
    let mut samples = 0;
    let mut r = 0;
    while r < data.rows {
        // One inference: `group` rows side by side per input (the last batch padded
        // with its last row, whose outputs are dropped).
        let take = group.min(data.rows - r);
        row.clear();
        let mut at = 0;
        for &w in &bound.widths {
            for k in 0..group {
                let src = data.row(r + k.min(take - 1));
                row.extend_from_slice(&src[at..at + w]);
            }
            at += w;
        }
        let widths: Vec<usize> = bound.widths.iter().map(|w| w * group).collect();
        let out = infer_all(&model, &mut s, &row, &widths).map_err(|e| data.runtime_err(r, e))?;
        let keep = if group > 1 { take } else { per };
        for (o, v) in out.iter().enumerate() {
            let w = v.len() / per;
            values[o].extend_from_slice(&v[..keep * w]);
        }
        samples += keep;
        r += take;
    }
    Ok(Outputs {
        names,
        shapes,
        dtypes,
        values,
        rows: samples,
        labels: model.labels().map(str::to_string).collect(),
        classifier: is_classifier(&model)?,
    })
}

/// Runs every row of `data` through a one-input model in `fer`; output 0 per row.
pub fn run_rows(fer: &[u8], data: &Dataset) -> Result<Vec<Vec<f32>>> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    check_rows(&model, data)?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    data.iter_rows()
        .map(|row| infer(&model, &mut s, row))
        .collect()
}

/// Whether output 0 holds class scores, so that its arg-max is a prediction (top-1
/// agreement, `run`'s predicted column): the model has class labels, or output 0 is
/// written by a Softmax (possibly through Quantize / Dequantize / Reshape), or it has
/// several values and another shape than input 0 — an autoencoder's reconstruction
/// (input 0's shape) is not a set of classes, nor is a single value.
pub fn is_classifier(model: &Model<'_>) -> Result<bool> {
    if model.labels().next().is_some() || written_by_softmax(model)? {
        return Ok(true);
    }
    let out = model.output(0)?;
    let same_as_input = model.num_inputs() > 0 && model.input(0)?.shape == out.shape;
    Ok(model.output_len(0)? > 1 && !same_as_input)
}

/// Whether output 0 is written by a Softmax, possibly through Quantize / Dequantize /
/// Reshape.
fn written_by_softmax(model: &Model<'_>) -> Result<bool> {
    use ferrite::format::types::Op;
    let mut name = model.output(0)?.name;
    // Each step moves to the input of the op that writes `name`.
    for _ in 0..4 {
        let mut producer = None;
        for i in 0..model.num_ops() {
            let def = model.op(i)?;
            if let Some(&o) = def.outputs.first() {
                if model.tensor(o)?.name == name {
                    producer = Some(def);
                }
            }
        }
        let Some(def) = producer else {
            return Ok(false);
        };
        match def.op {
            Op::Softmax { .. } => return Ok(true),
            Op::Quantize | Op::Dequantize | Op::Reshape => match def.inputs.first() {
                Some(&i) => name = model.tensor(i)?.name,
                None => return Ok(false),
            },
            _ => return Ok(false),
        }
    }
    Ok(false)
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Indices of the `k` largest values, largest first (lower index first on ties).
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}
