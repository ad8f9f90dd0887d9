//! Preprocessing pipelines built by the tool: the owned steps and their PREPROCESS
//! section encoding ([`steps`]), the declarative `FEATURES.toml` format ([`spec`]), and
//! `ferrite preprocess` ([`preprocess_csv`]), which runs only a model's pipeline.
//!
//! The runtime runs the section (`ferrite::preprocess`); the ONNX-ML importer
//! (`import::onnxml`) builds the steps of a scikit-learn pipeline.

pub mod spec;
pub mod steps;

use crate::error::{Error, Result};
use std::path::Path;

/// `ferrite preprocess`: runs only the model's preprocessing on every row of a CSV
/// (header line optional, `nan` / empty for missing) and returns the output CSV
/// (header `f0..`, shortest round-trip f32 decimals, `nan` where a value stays missing).
pub fn preprocess_csv(fer: &[u8], csv: &str, origin: &str) -> Result<String> {
    let owned = ferrite::OwnedModel::new(fer)?;
    let model = owned.model();
    let raw = model.raw_input_len()?;
    let out_len = model.input_len(0)?;
    let mut session = ferrite::OwnedSession::new(&model);
    let mut s = session.session();
    let mut text = (0..out_len)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    let mut out = vec![0f32; out_len];
    for (ln, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Option<Vec<f32>> = fields
            .iter()
            .map(|f| {
                if f.is_empty() || f.eq_ignore_ascii_case("nan") {
                    Some(f32::NAN)
                } else {
                    f.parse().ok()
                }
            })
            .collect();
        let Some(row) = parsed else {
            if ln == 0 {
                continue; // header
            }
            return Err(Error::Data {
                path: origin.into(),
                line: ln + 1,
                column: 0,
                message: "not a number".into(),
            });
        };
        if row.len() != raw {
            return Err(Error::Data {
                path: origin.into(),
                line: ln + 1,
                column: 0,
                message: format!(
                    "{} values, the model's preprocessing takes {raw}",
                    row.len()
                ),
            });
        }
        s.preprocess(&row, &mut out).map_err(|e| match e {
            ferrite::Error::InvalidInput { feature } => Error::Data {
                path: origin.into(),
                line: ln + 1,
                column: feature as usize + 1,
                message: "value rejected by the preprocessing (unknown category)".into(),
            },
            e => Error::Runtime(e),
        })?;
        let vals: Vec<String> = out
            .iter()
            .map(|v| {
                if v.is_nan() {
                    "nan".into()
                } else {
                    format!("{v}")
                }
            })
            .collect();
        text.push_str(&vals.join(","));
        text.push('\n');
    }
    Ok(text)
}

/// [`preprocess_csv`] on files.
pub fn preprocess_file(model: &Path, input: &Path, output: &Path) -> Result<usize> {
    let fer = crate::error::read_file(model)?;
    let csv = String::from_utf8(crate::error::read_file(input)?).map_err(|_| Error::Data {
        path: input.display().to_string(),
        line: 0,
        column: 0,
        message: "not UTF-8".into(),
    })?;
    let text = preprocess_csv(&fer, &csv, &input.display().to_string())?;
    crate::error::write_file(output, text.as_bytes())?;
    Ok(text.lines().count().saturating_sub(1))
}
