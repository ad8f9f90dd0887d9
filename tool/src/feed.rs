//! Data files bound to a model's inputs: one file per input (`-i FILE` in the model's
//! input order, or `-i NAME=FILE`), checked against the input widths and joined into
//! one [`Dataset`] whose rows hold every input of one inference (or of one sample of a
//! batched model), in input order.
//!
//! Widths: input 0 of a model with a preprocessing pipeline takes raw rows
//! ([`ferrite::Model::raw_input_len`]); every other input its element count. A model
//! whose inputs and outputs all lead with the same batch size `B > 1` (and has no
//! pipeline) also takes one sample per row: `B` rows then make one inference.

use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::Model;

/// One `-i` / `--calibration` argument: `FILE` or `NAME=FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputArg(pub String);

impl InputArg {
    /// The input name and the path, when the text before the first `=` names one of
    /// `inputs`; otherwise the whole argument is a path.
    fn split<'s>(&'s self, inputs: &[String]) -> (Option<&'s str>, &'s str) {
        match self.0.split_once('=') {
            Some((n, p)) if inputs.iter().any(|i| i == n) => (Some(n), p),
            _ => (None, &self.0),
        }
    }
}

/// The data of a model's inputs, joined row by row.
#[derive(Clone, Debug)]
pub struct Bound {
    /// One row per sample: input 0's values, then input 1's, ….
    pub data: Dataset,
    /// Values of each input in a row.
    pub widths: Vec<usize>,
    /// Rows per inference: 1, or the model's batch size when each row is one sample of
    /// a batched model.
    pub group: usize,
}

/// The names of the model's inputs.
pub fn input_names(model: &Model<'_>) -> Result<Vec<String>> {
    (0..model.num_inputs())
        .map(|i| Ok(model.input(i)?.name.to_string()))
        .collect()
}

/// Values of one inference per input (raw width for input 0 with a pipeline).
pub fn input_widths(model: &Model<'_>) -> Result<Vec<usize>> {
    (0..model.num_inputs())
        .map(|i| {
            Ok(if i == 0 && model.preprocess().is_some() {
                model.raw_input_len()?
            } else {
                model.input_len(i)?
            })
        })
        .collect()
}

/// The batch size `B` when every input and output of the model leads with the same
/// `B > 1` and there is no preprocessing pipeline; 1 otherwise.
pub fn model_batch(model: &Model<'_>) -> Result<usize> {
    if model.preprocess().is_some() {
        return Ok(1);
    }
    let mut lead = Vec::new();
    for i in 0..model.num_inputs() {
        lead.push(model.input(i)?.shape.first().copied());
    }
    for i in 0..model.num_outputs() {
        lead.push(model.output(i)?.shape.first().copied());
    }
    Ok(match lead.first() {
        Some(&Some(b)) if b > 1 && lead.iter().all(|&d| d == Some(b)) => b as usize,
        _ => 1,
    })
}

/// Loads the files of `args` and binds them to the model's inputs (see the module
/// docs). `batching`: accept one sample per row for a batched model.
pub fn bind(model: &Model<'_>, args: &[InputArg], batching: bool, flag: &str) -> Result<Bound> {
    let names = input_names(model)?;
    let mut files: Vec<Option<(&InputArg, &str)>> = vec![None; names.len()];
    let mut positional = Vec::new();
    for a in args {
        match a.split(&names) {
            (Some(n), p) => {
                let k = names.iter().position(|x| x == n).unwrap_or(0);
                if files[k].is_some() {
                    return Err(Error::Usage(format!("input \"{n}\" is given twice")));
                }
                files[k] = Some((a, p));
            }
            (None, p) => {
                if let Some((n, _)) = p.split_once('=') {
                    if !std::path::Path::new(p).exists() {
                        return Err(Error::Usage(format!(
                            "{flag} {p}: the model has no input \"{n}\" (its inputs: {})",
                            names.join(", ")
                        )));
                    }
                }
                positional.push((a, p));
            }
        }
    }
    let mut rest = positional.into_iter();
    for f in files.iter_mut().filter(|f| f.is_none()) {
        *f = rest.next();
    }
    if let Some((_, p)) = rest.next() {
        return Err(Error::Usage(format!(
            "{flag} {p}: more data files than model inputs ({}: {})",
            names.len(),
            names.join(", ")
        )));
    }
    let widths = input_widths(model)?;
    if let Some(k) = files.iter().position(|f| f.is_none()) {
        let want: Vec<String> = names
            .iter()
            .zip(&widths)
            .map(|(n, w)| format!("\"{n}\" ({w} values)"))
            .collect();
        return Err(Error::Usage(format!(
            "no data for input \"{}\": the model has {} input{} ({}); give one {flag} FILE per \
             input, in this order, or {flag} NAME=FILE",
            names[k],
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            want.join(", ")
        )));
    }
    let sets: Vec<Dataset> = files
        .iter()
        .flatten()
        .map(|(_, p)| Dataset::load(p.as_ref()))
        .collect::<Result<_>>()?;
    bind_sets(model, &sets, batching)
}

/// Binds loaded data sets, one per input in the model's order (see [`bind`]).
pub fn bind_sets(model: &Model<'_>, sets: &[Dataset], batching: bool) -> Result<Bound> {
    let names = input_names(model)?;
    let widths = input_widths(model)?;
    if sets.len() != names.len() {
        return Err(Error::Usage(format!(
            "{} data sets for a model with {} inputs ({})",
            sets.len(),
            names.len(),
            names.join(", ")
        )));
    }
    let batch = if batching { model_batch(model)? } else { 1 };
    let mut group = None;
    for (k, d) in sets.iter().enumerate() {
        let what = format!("the model input \"{}\"", names[k]);
        let g = if d.cols == widths[k] {
            1
        } else if batch > 1 && d.cols * batch == widths[k] {
            batch
        } else {
            d.expect_width(widths[k], &what)?;
            1
        };
        if *group.get_or_insert(g) != g {
            return Err(Error::Usage(format!(
                "{}: rows hold one sample of input \"{}\" but another input's rows hold a \
                 whole batch of {batch}",
                d.origin, names[k]
            )));
        }
        if k > 0 && d.rows != sets[0].rows {
            return Err(Error::Usage(format!(
                "{} has {} row{} but {} has {} rows: every input needs one row per sample",
                d.origin,
                d.rows,
                if d.rows == 1 { "" } else { "s" },
                sets[0].origin,
                sets[0].rows
            )));
        }
        if !(k == 0 && model.preprocess().is_some()) {
            d.expect_finite(
                model.input_accepts_nan(),
                "this model has no imputation step",
            )?;
        }
    }
    let group = group.unwrap_or(1);
    let widths: Vec<usize> = sets.iter().map(|d| d.cols).collect();
    Ok(Bound {
        data: join(sets),
        widths,
        group,
    })
}

/// The rows of `sets` side by side (every set has the same row count); line numbers and
/// the origin of the first set.
pub fn join(sets: &[Dataset]) -> Dataset {
    let Some(first) = sets.first() else {
        return Dataset::default();
    };
    if sets.len() == 1 {
        return first.clone();
    }
    let cols = sets.iter().map(|d| d.cols).sum();
    let mut values = Vec::with_capacity(first.rows * cols);
    for r in 0..first.rows {
        for d in sets {
            values.extend_from_slice(d.row(r));
        }
    }
    Dataset {
        rows: first.rows,
        cols,
        values,
        header: None,
        lines: first.lines.clone(),
        origin: sets
            .iter()
            .map(|d| d.origin.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
    }
}

/// `row` cut into the values of each input.
pub fn split<'r>(row: &'r [f32], widths: &[usize]) -> Vec<&'r [f32]> {
    let mut at = 0;
    widths
        .iter()
        .map(|&w| {
            let s = &row[at.min(row.len())..(at + w).min(row.len())];
            at += w;
            s
        })
        .collect()
}
