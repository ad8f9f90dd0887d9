//! `ferrite validate`: a `.fer` model against its ONNX source run in f32 by tract.

use crate::data::Dataset;
use crate::error::Result;
use crate::reference::{intermediates, Reference};
use crate::run::{argmax, check_rows, infer};
use ferrite::{AlignedModel, DType, Model, OwnedSession, Quant};
use serde_json::json;

/// Thresholds and extras of a validation.
#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// Minimum top-1 agreement with the reference (classifiers).
    pub min_agreement: f64,
    /// Maximum absolute error allowed on any output value, if set.
    pub max_abs_error: Option<f32>,
    /// Also compare every intermediate tensor (on the first `per_layer_rows` rows).
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

/// The outcome of a validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidateReport {
    pub rows: usize,
    pub precision: String,
    pub max_abs_error: f32,
    pub mean_abs_error: f32,
    /// Share of rows where ferrite and the reference pick the same class (`None` for a
    /// single output value).
    pub top1_agreement: Option<f64>,
    pub accuracy_ferrite: Option<f64>,
    pub accuracy_reference: Option<f64>,
    pub min_agreement: f64,
    pub max_abs_error_allowed: Option<f32>,
    pub per_layer: Vec<LayerError>,
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
            "top1_agreement": self.top1_agreement,
            "accuracy_ferrite": self.accuracy_ferrite,
            "accuracy_reference": self.accuracy_reference,
            "min_agreement": self.min_agreement,
            "max_abs_error_allowed": self.max_abs_error_allowed,
            "passed": self.passed,
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
        s += &format!("rows                 {}\n", self.rows);
        s += &format!("precision            {}\n", self.precision);
        s += &format!("max abs error        {:.3e}\n", self.max_abs_error);
        s += &format!("mean abs error       {:.3e}\n", self.mean_abs_error);
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
            s += "per layer (max / mean abs error vs tract):\n";
            for l in &self.per_layer {
                s += &format!(
                    "  #{:<3} {:<15} {:<4} {:<40} {:.3e} / {:.3e}\n",
                    l.op_index, l.op, l.dtype, l.tensor, l.max_abs_error, l.mean_abs_error
                );
            }
        }
        s += if self.passed { "PASS\n" } else { "FAIL\n" };
        s
    }
}

/// Input shapes of the reference taken from the `.fer` model, so both run the same shape.
pub fn shapes_of(model: &Model<'_>) -> Result<Vec<(String, Vec<usize>)>> {
    (0..model.num_inputs())
        .map(|i| {
            let t = model.input(i)?;
            Ok((
                t.name.to_string(),
                t.shape.iter().map(|&d| d as usize).collect(),
            ))
        })
        .collect()
}

/// Runs ferrite (`fer`) and tract (`onnx`) on every row of `data`.
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
    let batch = crate::batch::rows_per_run(&model);
    if batch > 1 {
        return Err(crate::Error::Usage(format!(
            "this is a batch file (input 0 holds {batch} rows, `ferrite convert --batch \
             {batch}`): validate the batch-1 conversion of the model instead; the batch \
             conversion checked that this file gives its outputs bit for bit"
        )));
    }
    check_rows(&model, data)?;
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
    let (mut max, mut sum, mut count) = (0f32, 0f64, 0usize);
    let (mut agree, mut ok_f, mut ok_r) = (0usize, 0usize, 0usize);
    let mut classifier = false;
    for (r, row) in data.iter_rows().enumerate() {
        let a = infer(&model, &mut s, row)?;
        let b = reference.run(row)?;
        classifier = a.len() > 1;
        for (x, y) in a.iter().zip(&b) {
            let d = (x - y).abs();
            max = max.max(if d.is_nan() { f32::INFINITY } else { d });
            sum += d as f64;
            count += 1;
        }
        let (ca, cb) = (argmax(&a), argmax(&b));
        agree += (ca == cb) as usize;
        if let Some(l) = labels {
            ok_f += (ca == l[r]) as usize;
            ok_r += (cb == l[r]) as usize;
        }
    }
    let n = data.rows.max(1) as f64;
    let top1 = classifier.then(|| agree as f64 / n);
    let per_layer = if opts.per_layer {
        per_layer(&model, onnx, &shapes, data, opts.per_layer_rows)?
    } else {
        Vec::new()
    };
    let precision = model
        .metadata()
        .property("precision")
        .unwrap_or("?")
        .to_string();
    let passed =
        top1.is_none_or(|t| t >= opts.min_agreement) && opts.max_abs_error.is_none_or(|m| max <= m);
    Ok(ValidateReport {
        rows: data.rows,
        precision,
        max_abs_error: max,
        mean_abs_error: (sum / count.max(1) as f64) as f32,
        top1_agreement: top1,
        accuracy_ferrite: labels.map(|_| ok_f as f64 / n),
        accuracy_reference: labels.map(|_| ok_r as f64 / n),
        min_agreement: opts.min_agreement,
        max_abs_error_allowed: opts.max_abs_error,
        per_layer,
        passed,
    })
}

/// Error of every op output whose name is a tract node (or a graph output).
fn per_layer(
    model: &Model<'_>,
    onnx: &[u8],
    shapes: &[(String, Vec<usize>)],
    data: &Dataset,
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
        let reference = intermediates(onnx, shapes, row)?;
        let final_out = full.run(row)?;
        s.set_input_f32(0, row)?;
        let mut err = None;
        s.run_observed(|op, def, bytes| {
            let values = match decode(def, bytes) {
                Some(v) => v,
                None => return,
            };
            let want = if outputs.first().is_some_and(|o| o == def.name)
                && !reference.contains_key(def.name)
            {
                Some(&final_out)
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
