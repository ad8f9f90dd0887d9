//! Data files: rows of f32 features (or labels) from CSV, `.npy` or JSON.
//!
//! - **CSV**: comma-separated, one row per line, an optional header line (detected
//!   when its cells are not numbers). An empty cell, `nan`, `NaN`, `NA` or `?` is a
//!   missing value (read as NaN).
//! - **`.npy`**: NumPy's format, little-endian `f4`, `f8`, `i8`, `i4` (or `u1`/`i1`),
//!   C order. Shape `(n,)` is n rows of one value; `(n, a, b, ...)` is n rows of
//!   `a * b * ...` values.
//! - **JSON**: an array of rows, each an array of numbers (`null` or `"nan"` for
//!   missing); a flat array of numbers is one value per row.
//!
//! Malformed input is an [`Error::Data`] with the 1-based line and column.

use crate::error::{read_file, Error, Result};
use std::path::Path;

/// A table of f32 values, `rows × cols`, row-major; missing values are NaN.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
    /// Column names from a CSV header.
    pub header: Option<Vec<String>>,
    /// Source line of each row (1-based), when the format has lines.
    pub lines: Vec<usize>,
    /// Where the data came from (for error messages).
    pub origin: String,
}

impl Dataset {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over rows.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> {
        self.values.chunks(self.cols.max(1)).take(self.rows)
    }

    /// Checks that every row has `width` values (the model's input size).
    pub fn expect_width(&self, width: usize, what: &str) -> Result<()> {
        if self.cols == width {
            return Ok(());
        }
        Err(Error::Data {
            path: self.origin.clone(),
            line: self.lines.first().copied().unwrap_or(0),
            column: 0,
            message: format!("rows have {} values but {what} takes {width}", self.cols),
        })
    }

    /// Checks that every value is finite (or NaN, when `nan_ok`: a model whose input only
    /// tree ensembles read, [`ferrite::Model::input_accepts_nan`]); `why` ends the message
    /// (e.g. "this model has no imputation step").
    pub fn expect_finite(&self, nan_ok: bool, why: &str) -> Result<()> {
        match self
            .values
            .iter()
            .position(|v| !(v.is_finite() || nan_ok && v.is_nan()))
        {
            None => Ok(()),
            Some(at) => Err(self.err_at(
                at / self.cols.max(1),
                at % self.cols.max(1),
                &format!("missing or non-finite value ({why})"),
            )),
        }
    }

    /// An error at row `r` (0-based), value `c` (0-based) of this data set.
    pub fn err_at(&self, r: usize, c: usize, message: &str) -> Error {
        self.err(self.line_of(r), c + 1, message.to_string())
    }

    /// A runtime error raised on row `r`, located in this data set: a rejected
    /// feature names its column when the row is the model's own input.
    pub fn runtime_err(&self, r: usize, e: Error) -> Error {
        let message = match &e {
            Error::Runtime(ferrite::Error::InvalidInput { feature }) => format!(
                "the model rejects this row: value {} (after the model's preprocessing) is missing or not finite",
                feature + 1
            ),
            Error::Runtime(re) => format!("the model rejects this row: {re}"),
            _ => return e,
        };
        self.err(self.line_of(r), 0, message)
    }

    /// The 1-based source line of row `r` (the row number when the format has no lines).
    pub fn line_of(&self, r: usize) -> usize {
        self.lines.get(r).copied().unwrap_or(r + 1)
    }

    /// Loads a data file, choosing the format by extension (`.npy`, `.json`, else CSV).
    pub fn load(path: &Path) -> Result<Dataset> {
        let bytes = read_file(path)?;
        let origin = path.display().to_string();
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("npy") => parse_npy(&bytes, &origin),
            Some("json") => parse_json(&String::from_utf8_lossy(&bytes), &origin),
            _ => parse_csv(&String::from_utf8_lossy(&bytes), &origin),
        }
    }

    /// The first `n` rows (all when `n` exceeds the row count).
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.rows);
        Dataset {
            rows: n,
            cols: self.cols,
            values: self.values[..n * self.cols].to_vec(),
            header: self.header.clone(),
            lines: self.lines.iter().take(n).copied().collect(),
            origin: self.origin.clone(),
        }
    }

    /// Class labels as indices below `classes` (a single column of integers); a label
    /// out of range is an error naming its line.
    pub fn labels_below(&self, classes: usize) -> Result<Vec<usize>> {
        let labels = self.labels()?;
        match labels.iter().position(|&l| l >= classes) {
            None => Ok(labels),
            Some(r) => Err(self.err(
                self.line_of(r),
                1,
                format!(
                    "label {} is not a class of the model (it has {classes} classes: 0..{})",
                    labels[r],
                    classes.saturating_sub(1)
                ),
            )),
        }
    }

    /// Class labels as indices: a single column of non-negative integers.
    pub fn labels(&self) -> Result<Vec<usize>> {
        if self.cols != 1 {
            return Err(self.err(
                0,
                0,
                format!("a labels file has one column, this one has {}", self.cols),
            ));
        }
        self.values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
                    Ok(v as usize)
                } else {
                    let line = self.lines.get(i).copied().unwrap_or(0);
                    Err(self.err(line, 1, format!("label {v} is not a class index")))
                }
            })
            .collect()
    }

    fn err(&self, line: usize, column: usize, message: String) -> Error {
        Error::Data {
            path: self.origin.clone(),
            line,
            column,
            message,
        }
    }
}

fn is_missing(cell: &str) -> bool {
    matches!(
        cell,
        "" | "nan" | "NaN" | "NAN" | "NA" | "N/A" | "?" | "null"
    )
}

fn parse_cell(cell: &str) -> Option<f32> {
    let c = cell.trim().trim_matches('"').trim();
    if is_missing(c) {
        return Some(f32::NAN);
    }
    c.parse::<f32>().ok()
}

/// Parses CSV text (see the module docs).
pub fn parse_csv(text: &str, origin: &str) -> Result<Dataset> {
    let mut values = Vec::new();
    let mut lines = Vec::new();
    let mut header = None;
    let mut cols: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        let parsed: Vec<Option<f32>> = cells.iter().map(|c| parse_cell(c)).collect();
        if cols.is_none() && header.is_none() && values.is_empty() {
            // A first line with a non-numeric cell is a header.
            let numeric = parsed
                .iter()
                .filter(|p| p.is_some_and(|v| !v.is_nan()))
                .count();
            if parsed.iter().any(|p| p.is_none()) && numeric == 0 {
                header = Some(
                    cells
                        .iter()
                        .map(|c| c.trim().trim_matches('"').to_string())
                        .collect::<Vec<_>>(),
                );
                cols = Some(cells.len());
                continue;
            }
        }
        let want = *cols.get_or_insert(cells.len());
        if cells.len() != want {
            return Err(Error::Data {
                path: origin.into(),
                line: line_no,
                column: cells.len().min(want) + 1,
                message: format!("expected {want} values, found {}", cells.len()),
            });
        }
        for (c, (p, cell)) in parsed.iter().zip(&cells).enumerate() {
            match p {
                Some(v) => values.push(*v),
                None => {
                    return Err(Error::Data {
                        path: origin.into(),
                        line: line_no,
                        column: c + 1,
                        message: format!("cannot parse \"{}\" as a number", cell.trim()),
                    })
                }
            }
        }
        lines.push(line_no);
    }
    let cols = cols.unwrap_or(0);
    if lines.is_empty() {
        return Err(Error::Data {
            path: origin.into(),
            line: 0,
            column: 0,
            message: "no data rows".into(),
        });
    }
    Ok(Dataset {
        rows: lines.len(),
        cols,
        values,
        header,
        lines,
        origin: origin.into(),
    })
}

/// Parses a `.npy` file (see the module docs).
pub fn parse_npy(bytes: &[u8], origin: &str) -> Result<Dataset> {
    let bad = |m: &str| Error::Data {
        path: origin.into(),
        line: 0,
        column: 0,
        message: format!("not a valid .npy file: {m}"),
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(&format!("unknown version {v}"))),
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or_else(|| bad("truncated header"))?;
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| -> Option<String> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        if let Some(r) = rest.strip_prefix('(') {
            Some(r[..r.find(')')?].to_string())
        } else if let Some(r) = rest.strip_prefix('\'') {
            Some(r[..r.find('\'')?].to_string())
        } else {
            Some(rest.split([',', '}']).next()?.trim().to_string())
        }
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    if field("fortran_order").as_deref() == Some("True") {
        return Err(bad("Fortran order is not supported (save with C order)"));
    }
    let shape: Vec<usize> = field("shape")
        .ok_or_else(|| bad("no shape"))?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let data = &bytes[start + hlen..];
    let (size, conv): (usize, fn(&[u8]) -> f32) = match descr.as_str() {
        "<f4" | "f4" => (4, |b| f32::from_le_bytes(b.try_into().unwrap_or([0; 4]))),
        "<f8" | "f8" => (8, |b| {
            f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32
        }),
        "<i8" | "i8" => (8, |b| {
            i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32
        }),
        "<i4" | "i4" => (4, |b| {
            i32::from_le_bytes(b.try_into().unwrap_or([0; 4])) as f32
        }),
        "|u1" | "u1" => (1, |b| b[0] as f32),
        "|i1" | "i1" => (1, |b| b[0] as i8 as f32),
        d => {
            return Err(bad(&format!(
                "dtype {d} is not supported (use <f4, <f8, <i8, <i4)"
            )))
        }
    };
    if data.len() < n * size {
        return Err(bad(&format!(
            "expected {} data bytes, found {}",
            n * size,
            data.len()
        )));
    }
    let values: Vec<f32> = data[..n * size].chunks_exact(size).map(conv).collect();
    let (rows, cols) = match shape.len() {
        0 => (1, 1),
        1 => (shape[0], 1),
        _ => (shape[0], shape[1..].iter().product()),
    };
    Ok(Dataset {
        rows,
        cols,
        values,
        header: None,
        lines: Vec::new(),
        origin: origin.into(),
    })
}

/// Parses JSON rows (see the module docs).
pub fn parse_json(text: &str, origin: &str) -> Result<Dataset> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        origin,
    };
    p.ws();
    p.expect(b'[')?;
    let mut rows: Vec<(usize, usize, Vec<f32>)> = Vec::new();
    let mut flat = None;
    p.ws();
    if p.peek() == Some(b']') {
        return Err(p.err("no data rows"));
    }
    loop {
        p.ws();
        let (line, col) = (p.line, p.col);
        if p.peek() == Some(b'[') {
            if flat == Some(true) {
                return Err(p.err("mixes rows (arrays) and single values"));
            }
            flat = Some(false);
            p.i += 1;
            p.col += 1;
            let mut row = Vec::new();
            p.ws();
            if p.peek() == Some(b']') {
                p.bump();
            } else {
                loop {
                    p.ws();
                    row.push(p.value()?);
                    p.ws();
                    match p.bump() {
                        Some(b',') => continue,
                        Some(b']') => break,
                        _ => {
                            return Err(p.err_at(
                                p.line,
                                p.col.saturating_sub(1),
                                "expected ',' or ']'",
                            ))
                        }
                    }
                }
            }
            if let Some((_, _, first)) = rows.first() {
                if row.len() != first.len() {
                    return Err(Error::Data {
                        path: origin.into(),
                        line,
                        column: col,
                        message: format!(
                            "row {} has {} values, expected {}",
                            rows.len() + 1,
                            row.len(),
                            first.len()
                        ),
                    });
                }
            }
            rows.push((line, col, row));
        } else {
            if flat == Some(false) {
                return Err(p.err("mixes rows (arrays) and single values"));
            }
            flat = Some(true);
            let v = p.value()?;
            rows.push((line, col, vec![v]));
        }
        p.ws();
        match p.bump() {
            Some(b',') => continue,
            Some(b']') => break,
            _ => return Err(p.err_at(p.line, p.col.saturating_sub(1), "expected ',' or ']'")),
        }
    }
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("trailing characters after the array"));
    }
    let cols = rows[0].2.len();
    let lines = rows.iter().map(|r| r.0).collect();
    let values = rows.into_iter().flat_map(|r| r.2).collect::<Vec<_>>();
    Ok(Dataset {
        rows: values.len() / cols.max(1),
        cols,
        values,
        header: None,
        lines,
        origin: origin.into(),
    })
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    col: usize,
    origin: &'a str,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }
    fn err(&self, m: &str) -> Error {
        self.err_at(self.line, self.col, m)
    }
    fn err_at(&self, line: usize, column: usize, m: &str) -> Error {
        Error::Data {
            path: self.origin.into(),
            line,
            column,
            message: m.into(),
        }
    }
    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }
    fn value(&mut self) -> Result<f32> {
        let (line, col) = (self.line, self.col);
        let start = self.i;
        if self.peek() == Some(b'"') {
            self.bump();
            while let Some(c) = self.bump() {
                if c == b'"' {
                    break;
                }
            }
            let s =
                String::from_utf8_lossy(&self.s[start + 1..self.i.saturating_sub(1)]).to_string();
            return parse_cell(&s).ok_or_else(|| {
                self.err_at(line, col, &format!("cannot parse \"{s}\" as a number"))
            });
        }
        while matches!(self.peek(), Some(c) if !matches!(c, b',' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.bump();
        }
        let tok = String::from_utf8_lossy(&self.s[start..self.i]).to_string();
        if tok == "null" {
            return Ok(f32::NAN);
        }
        if tok.is_empty() {
            return Err(self.err_at(line, col, "expected a number"));
        }
        tok.parse::<f32>()
            .map_err(|_| self.err_at(line, col, &format!("cannot parse \"{tok}\" as a number")))
    }
}

/// One CSV cell: quoted (with doubled quotes) when it holds a comma, a quote or a
/// line break.
pub fn to_csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes rows as CSV with a header (`names`) and `%g`-like shortest round-trip floats.
pub fn to_csv(names: &[String], rows: &[Vec<f32>]) -> String {
    let mut out = names.join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_and_missing_values() {
        let d = parse_csv("a,b,c\n1,2,3\n4,,nan\n", "x.csv").unwrap();
        assert_eq!((d.rows, d.cols), (2, 3));
        assert_eq!(
            d.header.as_deref(),
            Some(&["a".to_string(), "b".into(), "c".into()][..])
        );
        assert!(d.row(1)[1].is_nan() && d.row(1)[2].is_nan());
        assert_eq!(d.lines, vec![2, 3]);
    }

    #[test]
    fn csv_malformed_cell_names_line_and_column() {
        let e = parse_csv("1,2,3\n4,x5,6\n", "x.csv").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Data {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("line 2, column 2"), "{e}");
    }

    #[test]
    fn csv_wrong_width_names_line() {
        let e = parse_csv("h1,h2\n1,2\n3\n", "x.csv").unwrap_err();
        assert!(matches!(e, Error::Data { line: 3, .. }), "{e}");
    }

    #[test]
    fn npy_f32_f64_i64() {
        fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
            let mut h =
                format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
            while (10 + h.len() + 1) % 64 != 0 {
                h.push(' ');
            }
            h.push('\n');
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
            b.extend_from_slice(h.as_bytes());
            b.extend_from_slice(data);
            b
        }
        let f: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let d = parse_npy(&npy("<f4", "(2, 3)", &f), "a.npy").unwrap();
        assert_eq!((d.rows, d.cols), (2, 3));
        assert_eq!(d.values, vec![1., 2., 3., 4., 5., 6.]);
        let f: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let d = parse_npy(&npy("<f8", "(2,)", &f), "a.npy").unwrap();
        assert_eq!((d.rows, d.cols, d.values.clone()), (2, 1, vec![1.5, -2.0]));
        let f: Vec<u8> = [7i64, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        let d = parse_npy(&npy("<i8", "(1, 2)", &f), "a.npy").unwrap();
        assert_eq!(d.values, vec![7., 9.]);
        assert!(parse_npy(b"nope", "a.npy").is_err());
    }

    #[test]
    fn json_rows_and_errors() {
        let d = parse_json("[[1, 2], [3, null]]", "a.json").unwrap();
        assert_eq!((d.rows, d.cols), (2, 2));
        assert!(d.values[3].is_nan());
        let d = parse_json("[1, 2, 3]", "a.json").unwrap();
        assert_eq!((d.rows, d.cols), (3, 1));
        let e = parse_json("[[1, 2],\n [3]]", "a.json").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Data {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{e}"
        );
        let e = parse_json("[[1, 2],\n [3, abc]]", "a.json").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Data {
                    line: 2,
                    column: 6,
                    ..
                }
            ),
            "{e}"
        );
    }
}
