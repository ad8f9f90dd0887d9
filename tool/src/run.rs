//! `ferrite run`: the model's f32 outputs for every row of a data file.

use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::{AlignedModel, Model, OwnedSession, Session};

/// One prediction ([`Session::predict`]: the model's preprocessing, if any, then the
/// graph); output 0 as f32.
pub fn infer(model: &Model<'_>, session: &mut Session<'_, '_>, row: &[f32]) -> Result<Vec<f32>> {
    let mut out = vec![0f32; model.output_len(0)?];
    session.predict(row, &mut out)?;
    Ok(out)
}

/// Checks that `data` fits the model's input (the raw features when it has a
/// preprocessing pipeline) and, without a pipeline, has no missing values.
pub fn check_rows(model: &Model<'_>, data: &Dataset) -> Result<()> {
    let input = model.input(0)?;
    data.expect_width(
        model.raw_input_len()?,
        &format!("the model input \"{}\"", input.name),
    )?;
    if model.preprocess().is_some() {
        return Ok(());
    }
    for r in 0..data.rows {
        if let Some(c) = data.row(r).iter().position(|v| !v.is_finite()) {
            return Err(Error::Data {
                path: data.origin.clone(),
                line: data.lines.get(r).copied().unwrap_or(r + 1),
                column: c + 1,
                message: "missing or non-finite value (this model has no imputation step)".into(),
            });
        }
    }
    Ok(())
}

/// Runs every row of `data` through the model in `fer`; one output row per input row
/// (a batch file, see [`crate::batch`], runs its number of rows per inference).
pub fn run_rows(fer: &[u8], data: &Dataset) -> Result<Vec<Vec<f32>>> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    let batch = crate::batch::rows_per_run(&model);
    if batch > 1 {
        return crate::batch::run_rows(&model, data, batch);
    }
    check_rows(&model, data)?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    data.iter_rows()
        .map(|row| infer(&model, &mut s, row))
        .collect()
}

/// Column names for output rows: the model's labels when they match, else `p0..`.
pub fn output_names(model: &Model<'_>) -> Result<Vec<String>> {
    let n = model.output_len(0)? / crate::batch::rows_per_run(model);
    let labels: Vec<String> = model.labels().map(str::to_string).collect();
    if labels.len() == n {
        return Ok(labels);
    }
    Ok(if n == 1 {
        vec!["y".into()]
    } else {
        (0..n).map(|i| format!("p{i}")).collect()
    })
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
