//! `ferrite validate`: a `.fer` model against its ONNX source run in f32 by tract.

use crate::convert::sha256_hex;
use crate::data::Dataset;
use crate::error::Result;
use crate::feed;
use crate::ir::input_layout::{nchw_input_shapes, nhwc_to_nchw};
use crate::reference::{intermediates, Reference};
use crate::run::{argmax, check_joined, infer_all, is_classifier};
use ferrite::{AlignedModel, DType, Model, OwnedSession, Quant};
use serde_json::json;

/// Thresholds and extras of a validation.
#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// Minimum top-1 agreement with the reference (classifiers).
    pub min_agreement: f64,
    /// Maximum absolute error allowed on any output value, if set.
    pub max_abs_error: Option<f32>,
    /// Also compare every intermediate tensor (on the first `per_layer_rows` rows:
    /// `--per-layer-rows`).
    pub per_layer: bool,
    pub per_layer_rows: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            min_agreement: 0.99,
            max_abs_error: None,
            per_layer: false,
            per_layer_rows: 8,
        }
    }
}

/// Error of one intermediate tensor against tract's value of the same node.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerError {
    pub op_index: u32,
    pub op: String,
    pub tensor: String,
    pub dtype: String,
    pub max_abs_error: f32,
    pub mean_abs_error: f32,
}

/// Error of one model output against the reference's.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputError {
    pub name: String,
    pub max_abs_error: f32,
    pub mean_abs_error: f32,
}

/// The outcome of a validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidateReport {
    pub rows: usize,
    pub precision: String,
    /// Largest / mean error over every output.
    pub max_abs_error: f32,
    pub mean_abs_error: f32,
    /// Error of each output, in the model's order.
    pub outputs: Vec<OutputError>,
    /// Share of rows where ferrite and the reference pick the same class from output 0
    /// (`None` when it does not hold class scores, see [`is_classifier`]).
    pub top1_agreement: Option<f64>,
    pub accuracy_ferrite: Option<f64>,
    pub accuracy_reference: Option<f64>,
    pub min_agreement: f64,
    pub max_abs_error_allowed: Option<f32>,
    pub per_layer: Vec<LayerError>,
    /// Rows compared per layer (`per_layer_rows` of `rows`).
    pub per_layer_rows: usize,
    /// Whether the reference's SHA-256 is the model's `source_sha256` (`None` when the
    /// model records none).
    pub reference_matches_source: Option<bool>,
    /// The model's recorded source file name, if any.
    pub source: Option<String>,
    /// Each breached threshold, as a sentence.
    pub failures: Vec<String>,
    /// Whether every threshold holds.
    pub passed: bool,
}

impl ValidateReport {
    /// Stable JSON form (keys sorted).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "rows": self.rows,
            "precision": self.precision,
            "max_abs_error": self.max_abs_error,
            "mean_abs_error": self.mean_abs_error,
            "outputs": self.outputs.iter().map(|o| json!({
                "name": o.name,
                "max_abs_error": o.max_abs_error,
                "mean_abs_error": o.mean_abs_error,
            })).collect::<Vec<_>>(),
            "top1_agreement": self.top1_agreement,
            "accuracy_ferrite": self.accuracy_ferrite,
            "accuracy_reference": self.accuracy_reference,
            "min_agreement": self.min_agreement,
            "max_abs_error_allowed": self.max_abs_error_allowed,
            "reference_matches_source": self.reference_matches_source,
            "failures": self.failures,
            "passed": self.passed,
            "per_layer_rows": self.per_layer_rows,
            "per_layer": self.per_layer.iter().map(|l| json!({
                "op_index": l.op_index,
                "op": l.op,
                "tensor": l.tensor,
                "dtype": l.dtype,
                "max_abs_error": l.max_abs_error,
                "mean_abs_error": l.mean_abs_error,
            })).collect::<Vec<_>>(),
        })
    }

    /// Human-readable summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
        if let Some(w) = self.source_warning() {
            s += &format!("warning: {w}\n");
        }
        s += &format!("rows                 {}\n", self.rows);
        s += &format!("precision            {}\n", self.precision);
        s += &format!("max abs error        {:.3e}\n", self.max_abs_error);
        s += &format!("mean abs error       {:.3e}\n", self.mean_abs_error);
        if self.outputs.len() > 1 {
            s += "per output (max / mean abs error):\n";
            for o in &self.outputs {
                s += &format!(
                    "  {:<18} {:.3e} / {:.3e}\n",
                    o.name, o.max_abs_error, o.mean_abs_error
                );
            }
        }
        s += &format!(
            "top-1 agreement      {} (min {:.2}%)\n",
            pct(self.top1_agreement),
            self.min_agreement * 100.0
        );
        if self.accuracy_ferrite.is_some() {
            s += &format!("accuracy ferrite     {}\n", pct(self.accuracy_ferrite));
            s += &format!("accuracy reference   {}\n", pct(self.accuracy_reference));
        }
        if !self.per_layer.is_empty() {
            s += &format!(
                "per layer (max / mean abs error vs tract, on the first {} of {} rows; \
                 --per-layer-rows N for more):\n",
                self.per_layer_rows, self.rows
            );
            for l in &self.per_layer {
                s += &format!(
                    "  #{:<3} {:<15} {:<4} {:<40} {:.3e} / {:.3e}\n",
                    l.op_index, l.op, l.dtype, l.tensor, l.max_abs_error, l.mean_abs_error
                );
            }
        }
        if self.passed {
            s += "PASS\n";
        } else {
            s += &format!("FAIL: {}\n", self.failures.join("; "));
        }
        s
    }

    /// The warning for a reference that is not the file the model was converted from.
    pub fn source_warning(&self) -> Option<String> {
        (self.reference_matches_source == Some(false)).then(|| {
            format!(
                "the reference is not the file this model was converted from (its SHA-256 \
                 differs from the model's source_sha256; the model was converted from {})",
                self.source
                    .as_deref()
                    .map_or("another file".to_string(), |s| format!("\"{s}\""))
            )
        })
    }
}

/// Input shapes of the reference taken from the `.fer` model, so both run the same shape
/// (an input the model takes channels-last, `convert --input-layout nhwc`, in the
/// source's NCHW layout).
pub fn shapes_of(model: &Model<'_>) -> Result<Vec<(String, Vec<usize>)>> {
    let nchw = nchw_input_shapes(model)?;
    (0..model.num_inputs())
        .map(|i| {
            let t = model.input(i)?;
            let own = || t.shape.iter().map(|&d| d as usize).collect();
            Ok((t.name.to_string(), nchw[i].clone().unwrap_or_else(own)))
        })
        .collect()
}

/// [`graph_inputs`] as the reference takes them: channels-last inputs back in NCHW.
pub fn reference_inputs(
    model: &Model<'_>,
    s: &mut ferrite::Session<'_, '_>,
    row: &[f32],
    widths: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let nchw = nchw_input_shapes(model)?;
    let ins = graph_inputs(model, s, row, widths)?;
    Ok(ins
        .into_iter()
        .zip(nchw)
        .map(|(x, shape)| match shape {
            Some(sh) => nhwc_to_nchw(&x, &sh),
            None => x,
        })
        .collect())
}

/// The graph inputs of one row (every input's values, see [`crate::feed`]): input 0
/// through the model's preprocessing pipeline when it has one.
pub fn graph_inputs(
    model: &Model<'_>,
    s: &mut ferrite::Session<'_, '_>,
    row: &[f32],
    widths: &[usize],
) -> Result<Vec<Vec<f32>>> {
    feed::split(row, widths)
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            if i == 0 && model.preprocess().is_some() {
                let mut f = vec![0f32; model.input_len(0)?];
                s.preprocess(x, &mut f)?;
                Ok(f)
            } else {
                Ok(x.to_vec())
            }
        })
        .collect()
}

/// Runs ferrite (`fer`) and tract (`onnx`) on every row of `data`; each row holds every
/// input of the model side by side (one file per input joined by [`feed::bind`]), and
/// every output is compared.
///
/// A batch file ([`crate::batch`]) is refused with [`crate::Error::Usage`].
pub fn validate(
    fer: &[u8],
    onnx: &[u8],
    data: &Dataset,
    labels: Option<&[usize]>,
    opts: &ValidateOptions,
) -> Result<ValidateReport> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    crate::batch::refuse_validation(&model)?;
    let widths = feed::input_widths(&model)?;
    check_joined(&model, data, &widths)?;
    if let Some(l) = labels {
        if l.len() != data.rows {
            return Err(crate::Error::Usage(format!(
                "{} labels for {} data rows",
                l.len(),
                data.rows
            )));
        }
    }
    let shapes = shapes_of(&model)?;
    let reference = Reference::load(onnx, &shapes)?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let n_out = model.num_outputs();
    let mut per_out = vec![(0f32, 0f64, 0usize); n_out];
    let (mut agree, mut ok_f, mut ok_r) = (0usize, 0usize, 0usize);
    let classifier = is_classifier(&model)?;
    for (r, row) in data.iter_rows().enumerate() {
        let a = infer_all(&model, &mut s, row, &widths).map_err(|e| data.runtime_err(r, e))?;
        let ins = reference_inputs(&model, &mut s, row, &widths)?;
        let refs: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
        let b = reference.run(&refs)?;
        for (o, acc) in per_out.iter_mut().enumerate() {
            let (Some(x), Some(y)) = (a.get(o), b.get(o)) else {
                continue;
            };
            for (x, y) in x.iter().zip(y) {
                let d = (x - y).abs();
                acc.0 = acc.0.max(if d.is_nan() { f32::INFINITY } else { d });
                acc.1 += d as f64;
                acc.2 += 1;
            }
        }
        let (ca, cb) = (argmax(&a[0]), argmax(b.first().map_or(&[][..], |v| v)));
        agree += (ca == cb) as usize;
        if let Some(l) = labels {
            ok_f += (ca == l[r]) as usize;
            ok_r += (cb == l[r]) as usize;
        }
    }
    let n = data.rows.max(1) as f64;
    let top1 = classifier.then(|| agree as f64 / n);
    let per_layer_rows = opts.per_layer_rows.max(1).min(data.rows);
    let per_layer = if opts.per_layer {
        per_layer(&model, onnx, &shapes, data, &widths, per_layer_rows)?
    } else {
        Vec::new()
    };
    let precision = model
        .metadata()
        .property("precision")
        .unwrap_or("?")
        .to_string();
    let outputs: Vec<OutputError> = per_out
        .iter()
        .enumerate()
        .map(|(o, &(m, sum, c))| {
            Ok(OutputError {
                name: model.output(o)?.name.to_string(),
                max_abs_error: m,
                mean_abs_error: (sum / c.max(1) as f64) as f32,
            })
        })
        .collect::<Result<_>>()?;
    let max = outputs.iter().fold(0f32, |m, o| m.max(o.max_abs_error));
    let (sum, count) = per_out
        .iter()
        .fold((0f64, 0usize), |(s, c), o| (s + o.1, c + o.2));
    let mut failures = Vec::new();
    if let Some(t) = top1.filter(|&t| t < opts.min_agreement) {
        failures.push(format!(
            "top-1 agreement {:.2}% < --min-agreement {:.2}%",
            t * 100.0,
            opts.min_agreement * 100.0
        ));
    }
    if let Some(m) = opts.max_abs_error {
        for o in outputs.iter().filter(|o| o.max_abs_error > m) {
            failures.push(format!(
                "max abs error {:.3e} of output \"{}\" > --max-abs-error {m:e}",
                o.max_abs_error, o.name
            ));
        }
    }
    let recorded = model.metadata().property("source_sha256");
    Ok(ValidateReport {
        rows: data.rows,
        precision,
        max_abs_error: max,
        mean_abs_error: (sum / count.max(1) as f64) as f32,
        outputs,
        top1_agreement: top1,
        accuracy_ferrite: labels.map(|_| ok_f as f64 / n),
        accuracy_reference: labels.map(|_| ok_r as f64 / n),
        min_agreement: opts.min_agreement,
        max_abs_error_allowed: opts.max_abs_error,
        per_layer,
        per_layer_rows: if opts.per_layer { per_layer_rows } else { 0 },
        reference_matches_source: recorded.map(|h| h == sha256_hex(onnx)),
        source: model.metadata().property("source").map(str::to_string),
        passed: failures.is_empty(),
        failures,
    })
}

/// Error of every op output whose name is a tract node (or a graph output).
fn per_layer(
    model: &Model<'_>,
    onnx: &[u8],
    shapes: &[(String, Vec<usize>)],
    data: &Dataset,
    widths: &[usize],
    rows: usize,
) -> Result<Vec<LayerError>> {
    let n_ops = model.num_ops();
    // (op, tensor, dtype, max error, error sum, values) per op.
    type Acc = Option<(String, String, String, f32, f64, usize)>;
    let mut acc: Vec<Acc> = vec![None; n_ops as usize];
    let mut owned = OwnedSession::new(model);
    let mut s = owned.session();
    let outputs: Vec<String> = (0..model.num_outputs())
        .map(|i| model.output(i).map(|t| t.name.to_string()))
        .collect::<std::result::Result<_, _>>()?;
    let full = Reference::load(onnx, shapes)?;
    for row in data.iter_rows().take(rows.max(1)) {
        let ins = graph_inputs(model, &mut s, row, widths)?;
        let ref_ins = reference_inputs(model, &mut s, row, widths)?;
        let refs: Vec<&[f32]> = ref_ins.iter().map(Vec::as_slice).collect();
        let reference = intermediates(onnx, shapes, &refs)?;
        let final_out = full.run(&refs)?;
        for (i, x) in ins.iter().enumerate() {
            s.set_input_f32(i, x)?;
        }
        let mut err = None;
        s.run_observed(|op, def, bytes| {
            let values = match decode(def, bytes) {
                Some(v) => v,
                None => return,
            };
            let out_index = outputs.iter().position(|o| o == def.name);
            let want = if let Some(o) = out_index.filter(|_| !reference.contains_key(def.name)) {
                final_out.get(o)
            } else {
                reference.get(def.name.trim_end_matches(".q"))
            };
            let Some(want) = want else { return };
            if want.len() != values.len() {
                return;
            }
            let (mut m, mut su) = (0f32, 0f64);
            for (x, y) in values.iter().zip(want) {
                let d = (x - y).abs();
                m = m.max(d);
                su += d as f64;
            }
            let op_name = match model.op(op) {
                Ok(d) => d.op.name().to_string(),
                Err(e) => {
                    err = Some(e);
                    return;
                }
            };
            let e = acc[op as usize].get_or_insert((
                op_name,
                def.name.to_string(),
                def.dtype.name().to_string(),
                0.0,
                0.0,
                0,
            ));
            e.3 = e.3.max(m);
            e.4 += su;
            e.5 += values.len();
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
    }
    Ok(acc
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (op, tensor, dtype, m, su, c) = e?;
            Some(LayerError {
                op_index: i as u32,
                op,
                tensor,
                dtype,
                max_abs_error: m,
                mean_abs_error: (su / c.max(1) as f64) as f32,
            })
        })
        .collect())
}

/// A tensor's values as f32 (int8 dequantized).
pub fn decode(def: &ferrite::TensorDef<'_>, bytes: &[u8]) -> Option<Vec<f32>> {
    match (def.dtype, def.quant) {
        (DType::F32, _) => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        (DType::I8, Quant::PerTensor { scale, zero_point }) => Some(
            bytes
                .iter()
                .map(|&b| scale * (b as i8 as i32 - zero_point) as f32)
                .collect(),
        ),
        (DType::U8, Quant::PerTensor { scale, zero_point }) => Some(
            bytes
                .iter()
                .map(|&b| scale * (b as i32 - zero_point) as f32)
                .collect(),
        ),
        _ => None,
    }
}
