//! Writing what `ferrite run` computed: CSV, JSON or `.npy`, chosen by the file's
//! extension.
//!
//! - **A table** (stdout, or `-o FILE.csv` / `-o FILE.json`): every output side by
//!   side, one row per sample, then the predicted class of a classifier (output 0 with
//!   several values, as `Session::predict` reads it): `predicted`, or `predicted_1` …
//!   `predicted_K` with `--top-k K`. CSV headers are the output names (`name` for one
//!   value, `name[i]` for several) or, for the class scores, the model's labels
//!   (`label`, or `name.label` when the model has several outputs). The JSON table is
//!   an array of one object per sample with the same keys.
//! - **One output** (`-o NAME=FILE`, `--output-dir`, or `-o FILE.npy` for a model with
//!   one output): CSV with that output's columns, a JSON array of rows (the format
//!   `--input` reads), or `.npy` of shape `[samples, ...]` (`<f4`; `<i8` for integer
//!   outputs such as an ArgMax label).

use crate::data::to_csv_cell;
use crate::error::{write_file, Error, Result};
use crate::run::Outputs;
use ferrite::DType;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// A data file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Npy,
}

impl Format {
    /// The format of `path`, by extension; anything else is an error.
    pub fn of(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("npy") => Ok(Format::Npy),
            e => Err(Error::Usage(format!(
                "{}: {} output format: name the file .csv, .json or .npy",
                path.display(),
                e.map_or("no extension, so no".to_string(), |e| format!(
                    "unknown \".{e}\""
                ))
            ))),
        }
    }

    /// `csv`, `json` or `npy` (the `--format` values).
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "npy" => Ok(Format::Npy),
            _ => Err(Error::Usage(format!(
                "unknown --format \"{s}\" (csv, json, npy)"
            ))),
        }
    }

    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Npy => "npy",
        }
    }
}

/// Where `run` writes: `-o` arguments (`FILE` or `NAME=FILE`) and `--output-dir`.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub outputs: Vec<String>,
    pub dir: Option<PathBuf>,
    /// Format of the `--output-dir` files.
    pub format: Option<Format>,
    /// Predicted classes per row (0: no column).
    pub top_k: usize,
}

/// The files `targets` names for `out`, each with the output it holds (`None`: the
/// whole table).
pub fn plan(out: &Outputs, targets: &Targets) -> Result<Vec<(PathBuf, Option<usize>)>> {
    let mut files = Vec::new();
    for arg in &targets.outputs {
        match arg.split_once('=') {
            Some((n, p)) if out.find(n).is_some() => files.push((PathBuf::from(p), out.find(n))),
            Some((n, p)) if !n.contains(['/', '.']) && !Path::new(arg).exists() => {
                return Err(Error::Usage(format!(
                    "-o {n}={p}: the model has no output \"{n}\" (its outputs: {})",
                    out.names.join(", ")
                )))
            }
            _ => files.push((PathBuf::from(arg), None)),
        }
    }
    if let Some(dir) = &targets.dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let ext = targets.format.unwrap_or(Format::Csv).ext();
        for (o, n) in out.names.iter().enumerate() {
            files.push((dir.join(format!("{}.{ext}", file_stem(n, o))), Some(o)));
        }
    }
    Ok(files)
}

/// Writes `out` to the files of [`plan`].
pub fn write(out: &Outputs, targets: &Targets) -> Result<Vec<PathBuf>> {
    let files = plan(out, targets)?;
    for (path, sel) in &files {
        let format = Format::of(path)?;
        let bytes = match (format, sel) {
            (Format::Csv, None) => csv_table(out, targets.top_k)?.into_bytes(),
            (Format::Json, None) => json_text(&json_table(out, targets.top_k)?),
            (Format::Npy, None) if out.names.len() == 1 => npy(out, 0),
            (Format::Npy, None) => {
                return Err(Error::Usage(format!(
                    "{}: a .npy file holds one array and the model has {} outputs ({}): \
                     write them with -o NAME=FILE.npy each, --output-dir DIR --format npy, \
                     or into one .csv / .json table",
                    path.display(),
                    out.names.len(),
                    out.names.join(", ")
                )))
            }
            (Format::Csv, Some(o)) => csv_output(out, *o).into_bytes(),
            (Format::Json, Some(o)) => json_text(&json_output(out, *o)),
            (Format::Npy, Some(o)) => npy(out, *o),
        };
        write_file(path, &bytes)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

fn json_text(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

/// A file name for output `o` named `name`: its characters outside `[A-Za-z0-9._-]`
/// replaced by `_` (`output_<o>` when nothing is left).
pub fn file_stem(name: &str, o: usize) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.trim_matches(['_', '.']).is_empty() {
        format!("output_{o}")
    } else {
        s
    }
}

/// Column names of output `o`; `alone`: the only output in the file.
fn headers(out: &Outputs, o: usize, alone: bool) -> Vec<String> {
    let w = out.width(o);
    let name = &out.names[o];
    if out.is_scores(o) && !out.labels.is_empty() {
        return out
            .labels
            .iter()
            .map(|l| {
                if alone {
                    l.clone()
                } else {
                    format!("{name}.{l}")
                }
            })
            .collect();
    }
    if w == 1 && out.shapes[o].iter().all(|&d| d == 1) {
        return vec![name.clone()];
    }
    (0..w).map(|i| format!("{name}[{i}]")).collect()
}

/// Columns of the predicted class(es), if output 0 holds class scores.
fn predicted_headers(out: &Outputs, top_k: usize) -> Result<Vec<String>> {
    if !out.is_scores(0) || top_k == 0 {
        return Ok(Vec::new());
    }
    let classes = out.width(0);
    if top_k > classes {
        return Err(Error::Usage(format!(
            "--top-k {top_k}: the model's output \"{}\" has {classes} classes",
            out.names[0]
        )));
    }
    Ok(if top_k == 1 {
        vec!["predicted".into()]
    } else {
        (1..=top_k).map(|k| format!("predicted_{k}")).collect()
    })
}

fn cell(dtype: DType, v: f32) -> String {
    match dtype {
        DType::F32 | DType::F16 => format!("{v:?}"),
        _ => format!("{}", v as i64),
    }
}

/// Every output side by side, then the predicted class(es); one line per sample.
pub fn csv_table(out: &Outputs, top_k: usize) -> Result<String> {
    let alone = out.names.len() == 1;
    let mut head: Vec<String> = (0..out.names.len())
        .flat_map(|o| headers(out, o, alone))
        .collect();
    let pred = predicted_headers(out, top_k)?;
    head.extend(pred.iter().cloned());
    let mut s = head
        .iter()
        .map(|h| to_csv_cell(h))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in 0..out.rows {
        let mut cells = Vec::new();
        for o in 0..out.names.len() {
            cells.extend(out.row(o, r).iter().map(|&v| cell(out.dtypes[o], v)));
        }
        if !pred.is_empty() {
            cells.extend(out.top_k(r, pred.len()).iter().map(|l| to_csv_cell(l)));
        }
        s += &cells.join(",");
        s.push('\n');
    }
    Ok(s)
}

/// Output `o` alone as CSV.
pub fn csv_output(out: &Outputs, o: usize) -> String {
    let mut s = headers(out, o, true)
        .iter()
        .map(|h| to_csv_cell(h))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in 0..out.rows {
        let cells: Vec<String> = out
            .row(o, r)
            .iter()
            .map(|&v| cell(out.dtypes[o], v))
            .collect();
        s += &cells.join(",");
        s.push('\n');
    }
    s
}

/// A value as JSON: an f32 as the shortest decimal that reads back as the same f32
/// (as in the CSV), not its widened f64 digits; NaN / infinity as null.
fn json_value(dtype: DType, v: f32) -> Value {
    match dtype {
        DType::F32 | DType::F16 if v.is_finite() => {
            json!(format!("{v:?}").parse::<f64>().unwrap_or(f64::from(v)))
        }
        DType::F32 | DType::F16 => Value::Null,
        _ => json!(v as i64),
    }
}

fn json_row(out: &Outputs, o: usize, r: usize) -> Value {
    let row = out.row(o, r);
    if out.shapes[o].iter().all(|&d| d == 1) && row.len() == 1 {
        json_value(out.dtypes[o], row[0])
    } else {
        Value::Array(row.iter().map(|&v| json_value(out.dtypes[o], v)).collect())
    }
}

/// The table as JSON: one object per sample, keyed by output name (plus `predicted`).
pub fn json_table(out: &Outputs, top_k: usize) -> Result<Value> {
    let pred = predicted_headers(out, top_k)?;
    let rows = (0..out.rows)
        .map(|r| {
            let mut m = Map::new();
            for (o, n) in out.names.iter().enumerate() {
                m.insert(n.clone(), json_row(out, o, r));
            }
            if !pred.is_empty() {
                let best = out.top_k(r, pred.len());
                let as_value = |l: &String| match out.labels.is_empty() {
                    true => l.parse::<u64>().map_or(json!(l), |i| json!(i)),
                    false => json!(l),
                };
                let v = if pred.len() == 1 {
                    as_value(&best[0])
                } else {
                    Value::Array(best.iter().map(as_value).collect())
                };
                m.insert("predicted".into(), v);
            }
            Value::Object(m)
        })
        .collect();
    Ok(Value::Array(rows))
}

/// Output `o` alone as JSON: an array of rows (of single values for a one-value output).
pub fn json_output(out: &Outputs, o: usize) -> Value {
    Value::Array((0..out.rows).map(|r| json_row(out, o, r)).collect())
}

/// Output `o` as a `.npy` file.
pub fn npy(out: &Outputs, o: usize) -> Vec<u8> {
    let int = !matches!(out.dtypes[o], DType::F32 | DType::F16);
    let mut dims = vec![out.rows];
    dims.extend(&out.shapes[o]);
    npy_bytes(&dims, &out.values[o], int)
}

/// A `.npy` file (version 1.0, C order) of shape `dims`: `<f4`, or `<i8` when `int`.
pub fn npy_bytes(dims: &[usize], values: &[f32], int: bool) -> Vec<u8> {
    let d: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    let shape = if d.len() == 1 {
        format!("({},)", d[0])
    } else {
        format!("({})", d.join(", "))
    };
    let descr = if int { "<i8" } else { "<f4" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for &v in values {
        if int {
            b.extend_from_slice(&(v as i64).to_le_bytes());
        } else {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b
}

/// Rows of values with column `names` (e.g. `ferrite preprocess`'s features) as the
/// bytes of a file in `format`: CSV with a header, a JSON array of rows, or `.npy`.
pub fn rows_bytes(format: Format, names: &[String], rows: &[Vec<f32>]) -> Vec<u8> {
    match format {
        Format::Csv => crate::data::to_csv(names, rows).into_bytes(),
        Format::Json => json_text(&Value::Array(
            rows.iter()
                .map(|r| Value::Array(r.iter().map(|&v| json_value(DType::F32, v)).collect()))
                .collect(),
        )),
        Format::Npy => {
            let values: Vec<f32> = rows.iter().flatten().copied().collect();
            npy_bytes(&[rows.len(), names.len()], &values, false)
        }
    }
}
