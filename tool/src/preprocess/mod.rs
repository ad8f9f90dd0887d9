//! Preprocessing pipelines built by the tool: the owned steps and their PREPROCESS
//! section encoding ([`steps`]), the declarative `FEATURES.toml` format ([`spec`]), and
//! `ferrite preprocess` ([`preprocess_rows`], [`preprocess_csv`]), which runs only a model's pipeline.
//!
//! The runtime runs the section (`ferrite::preprocess`); the ONNX-ML importer
//! (`import::onnxml`) builds the steps of a scikit-learn pipeline.

pub mod spec;
pub mod steps;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// [`preprocess_rows`] on CSV text (header optional, `nan` / empty for missing);
/// returns CSV with a header `f0,f1,...`.
pub fn preprocess_csv(fer: &[u8], csv: &str, origin: &str) -> Result<String> {
    let data = crate::data::parse_csv(csv, origin)?;
    let rows = preprocess_rows(fer, &data)?;
    let names: Vec<String> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| format!("f{i}"))
        .collect();
    Ok(crate::data::to_csv(&names, &rows))
}

/// `ferrite preprocess`: the pipeline's output for every row of `data` (raw rows), with
/// NaN where a value stays missing. A model without a pipeline is an error (`ferrite
/// run` runs it), and so is a row the pipeline rejects (named by line).
pub fn preprocess_rows(fer: &[u8], data: &Dataset) -> Result<Vec<Vec<f32>>> {
    let owned = ferrite::OwnedModel::new(fer)?;
    let model = owned.model();
    if model.preprocess().is_none() {
        return Err(Error::Usage(
            "the model has no preprocessing pipeline, so there is nothing to run: \
             `ferrite run` runs the model itself"
                .into(),
        ));
    }
    let raw = model.raw_input_len()?;
    data.expect_width(raw, "the model's preprocessing")?;
    let mut session = ferrite::OwnedSession::new(&model);
    let mut s = session.session();
    let mut out = vec![0f32; model.input_len(0)?];
    data.iter_rows()
        .enumerate()
        .map(|(r, row)| {
            s.preprocess(row, &mut out).map_err(|e| match e {
                ferrite::Error::InvalidInput { feature } => data.err_at(
                    r,
                    feature as usize,
                    "value rejected by the preprocessing (unknown category)",
                ),
                e => data.runtime_err(r, e.into()),
            })?;
            Ok(out.clone())
        })
        .collect()
}
