//! `FEATURES.toml`: a declarative preprocessing pipeline (documented in
//! `docs/preprocessing.md`), attached to a model with `ferrite convert MODEL.onnx
//! --preprocess FEATURES.toml`, and [`super::preprocess_rows`] behind `ferrite preprocess`.
//!
//! ```toml
//! raw = 192                       # raw values per row (or give `names`)
//! names = ["x0", "x1"]            # optional raw column names
//!
//! [[step]]
//! op = "window"                   # see docs/preprocessing.md for every op
//! channels = 3
//! samples = 64
//! features = ["mean", "std", "min", "max", "rms", "ptp", "zc", "band:1:4"]
//! ```
//! Every step takes `start` (default 0) and `len` (default: the rest of the row).
//! Per-feature tables (`values`, `a`, `b`, `lo`, `hi`, `threshold`) accept a list of
//! `len` numbers or one number for all.

use super::steps::{encode_steps, sop_width, SOp, SStep};
use crate::error::{Error, Result};
use ferrite::format::types::Norm;
use ferrite::preprocess::{ScaleKind, Unknown};
use ferrite::WindowFeature;
use std::path::Path;

/// A parsed `FEATURES.toml`.
#[derive(Clone, Debug)]
pub struct FeatureSpec {
    /// Raw values per row.
    pub raw: usize,
    /// Raw column names (may be empty).
    pub names: Vec<String>,
    steps: Vec<SStep>,
    out: usize,
}

fn usage(path: &str, msg: String) -> Error {
    Error::Data {
        path: path.into(),
        line: 0,
        column: 0,
        message: msg,
    }
}

impl FeatureSpec {
    /// Reads and validates a `FEATURES.toml` file.
    pub fn load(path: &Path) -> Result<FeatureSpec> {
        let text = String::from_utf8(crate::error::read_file(path)?)
            .map_err(|_| usage(&path.display().to_string(), "not UTF-8".into()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses `text` (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<FeatureSpec> {
        let err = |m: String| usage(origin, m);
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        let names: Vec<String> = match table.get("names") {
            Some(v) => v
                .as_array()
                .ok_or_else(|| err("`names` must be a list of strings".into()))?
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err("`names` must be a list of strings".into()))
                })
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let raw = match table.get("raw") {
            Some(v) => v
                .as_integer()
                .filter(|&n| n > 0)
                .ok_or_else(|| err("`raw` must be a positive integer".into()))?
                as usize,
            None if !names.is_empty() => names.len(),
            None => return Err(err("give `raw = N` (raw values per row) or `names`".into())),
        };
        if !names.is_empty() && names.len() != raw {
            return Err(err(format!(
                "`names` has {} entries but raw = {raw}",
                names.len()
            )));
        }
        for k in table.keys() {
            if !matches!(k.as_str(), "raw" | "names" | "step") {
                return Err(err(format!(
                    "unknown key `{k}` (expected raw, names, [[step]])"
                )));
            }
        }
        let mut width = raw;
        let mut steps = Vec::new();
        let empty = Vec::new();
        let list = match table.get("step") {
            Some(v) => v
                .as_array()
                .ok_or_else(|| err("`step` must be [[step]] tables".into()))?,
            None => &empty,
        };
        for (i, s) in list.iter().enumerate() {
            let s = s
                .as_table()
                .ok_or_else(|| err(format!("step {i}: not a table")))?;
            let step = parse_step(s, width).map_err(|m| {
                err(format!(
                    "step {} ({}): {m}",
                    i + 1,
                    s.get("op").and_then(|v| v.as_str()).unwrap_or("?")
                ))
            })?;
            width = width - step.len as usize + sop_width(&step.op, step.len as usize);
            steps.push(step);
        }
        let spec = FeatureSpec {
            raw,
            names,
            steps,
            out: width,
        };
        // Validate with the runtime's own load-time checks (a copy-through graph).
        let mut probe = ferrite::format::write::ModelBuilder::new("probe");
        let x = probe.add_tensor(
            "x",
            ferrite::DType::F32,
            &[1, width as u32],
            ferrite::Quant::None,
        )?;
        let y = probe.add_tensor(
            "y",
            ferrite::DType::F32,
            &[1, width as u32],
            ferrite::Quant::None,
        )?;
        probe.add_op(ferrite::Op::Reshape, &[x], &[y])?;
        probe.set_io(&[x], &[y])?;
        probe.add_section(ferrite::format::kind::PREPROCESS, true, spec.section()?);
        ferrite::OwnedModel::new(&probe.finish()?)
            .map_err(|e| err(format!("rejected by the runtime: {e}")))?;
        Ok(spec)
    }

    /// Output values per row.
    pub fn out_len(&self) -> usize {
        self.out
    }

    /// `((raw, out), steps)` for the importer.
    pub(crate) fn steps(&self) -> Result<((usize, usize), Vec<SStep>)> {
        Ok(((self.raw, self.out), self.steps.clone()))
    }

    /// The PREPROCESS section bytes.
    pub fn section(&self) -> Result<Vec<u8>> {
        encode_steps(self.raw, &self.names.join("\n"), &self.steps)
    }
}

type Tbl = toml::Table;

fn num(v: &toml::Value) -> Option<f32> {
    v.as_float()
        .map(|f| f as f32)
        .or_else(|| v.as_integer().map(|i| i as f32))
        .or_else(|| match v.as_str() {
            Some("nan") | Some("NaN") => Some(f32::NAN),
            Some("inf") => Some(f32::INFINITY),
            Some("-inf") => Some(f32::NEG_INFINITY),
            _ => None,
        })
}

fn nums(s: &Tbl, key: &str, n: Option<usize>) -> Result<Vec<f32>, String> {
    let v = s.get(key).ok_or_else(|| format!("missing `{key}`"))?;
    let out: Vec<f32> = match v.as_array() {
        Some(a) => a
            .iter()
            .map(|x| num(x).ok_or_else(|| format!("`{key}`: not a number")))
            .collect::<Result<_, _>>()?,
        None => {
            let x = num(v).ok_or_else(|| format!("`{key}`: not a number or list"))?;
            vec![x; n.ok_or_else(|| format!("`{key}` must be a list"))?]
        }
    };
    if let Some(n) = n {
        if out.len() != n {
            return Err(format!(
                "`{key}` has {} values, the step covers {n} columns",
                out.len()
            ));
        }
    }
    Ok(out)
}

fn int(s: &Tbl, key: &str) -> Result<Option<u64>, String> {
    match s.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_integer()
            .filter(|&i| i >= 0)
            .map(|i| Some(i as u64))
            .ok_or_else(|| format!("`{key}` must be a non-negative integer")),
    }
}

fn parse_feature(f: &str) -> Result<WindowFeature, String> {
    Ok(match f {
        "mean" => WindowFeature::Mean,
        "std" => WindowFeature::Std,
        "min" => WindowFeature::Min,
        "max" => WindowFeature::Max,
        "rms" => WindowFeature::Rms,
        "ptp" => WindowFeature::Ptp,
        "zc" | "zero_crossings" => WindowFeature::ZeroCrossings,
        b if b.starts_with("band:") => {
            let p: Vec<&str> = b.split(':').collect();
            let bad = || format!("`{b}`: expected band:LO:HI (FFT bins)");
            if p.len() != 3 {
                return Err(bad());
            }
            WindowFeature::BandEnergy {
                lo: p[1].parse().map_err(|_| bad())?,
                hi: p[2].parse().map_err(|_| bad())?,
            }
        }
        o => {
            return Err(format!(
                "unknown window feature `{o}` (mean std min max rms ptp zc band:LO:HI)"
            ))
        }
    })
}

fn parse_step(s: &Tbl, width: usize) -> Result<SStep, String> {
    let op = s.get("op").and_then(|v| v.as_str()).ok_or("missing `op`")?;
    let start = int(s, "start")?.unwrap_or(0) as usize;
    if start >= width {
        return Err(format!(
            "start {start} is outside the row of {width} values"
        ));
    }
    let len = int(s, "len")?.map(|l| l as usize).unwrap_or(width - start);
    if len == 0 || start + len > width {
        return Err(format!(
            "columns {start}..{} are outside the row of {width} values",
            start + len
        ));
    }
    let known: &[&str] = match op {
        "impute" => &["values", "sentinel"],
        "clip" => &["lo", "hi"],
        "scale" => &["kind", "a", "b"],
        "standard" => &["mean", "std"],
        "minmax" => &["min", "max"],
        "normalize" => &["norm"],
        "binarize" => &["threshold"],
        "bin" => &["edges"],
        "one_hot" => &["categories", "unknown"],
        "label_encode" => &["keys", "values", "default"],
        "hash" => &["buckets", "signed"],
        "select" => &["indices"],
        "window" => &["channels", "samples", "features"],
        o => return Err(format!("unknown op `{o}`")),
    };
    for k in s.keys() {
        if !matches!(k.as_str(), "op" | "start" | "len") && !known.contains(&k.as_str()) {
            return Err(format!("unknown key `{k}` (expected {})", known.join(", ")));
        }
    }
    let n = Some(len);
    let one_col = || {
        if len == 1 {
            Ok(())
        } else {
            Err(format!("`{op}` takes one column (len = 1), got {len}"))
        }
    };
    let op = match op {
        "impute" => SOp::Impute {
            sentinel: s.get("sentinel").and_then(num),
            values: nums(s, "values", n)?,
        },
        "clip" => SOp::Clip {
            lo: nums(s, "lo", n)?,
            hi: nums(s, "hi", n)?,
        },
        "scale" => {
            let kind = match s.get("kind").and_then(|v| v.as_str()).unwrap_or("sub_mul") {
                "sub_mul" => ScaleKind::SubMul,
                "mul_add" => ScaleKind::MulAdd,
                "sub_div" => ScaleKind::SubDiv,
                o => {
                    return Err(format!(
                        "unknown scale kind `{o}` (sub_mul, mul_add, sub_div)"
                    ))
                }
            };
            SOp::Scale {
                kind,
                a: nums(s, "a", n)?,
                b: nums(s, "b", n)?,
            }
        }
        "standard" => SOp::Scale {
            kind: ScaleKind::SubDiv,
            a: nums(s, "mean", n)?,
            b: nums(s, "std", n)?,
        },
        "minmax" => {
            let (lo, hi) = (nums(s, "min", n)?, nums(s, "max", n)?);
            let a: Vec<f32> = lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| if h > l { 1.0 / (h - l) } else { 1.0 })
                .collect();
            SOp::Scale {
                kind: ScaleKind::SubMul,
                a: lo,
                b: a,
            }
        }
        "normalize" => SOp::Normalize(
            match s.get("norm").and_then(|v| v.as_str()).unwrap_or("l2") {
                "l1" => Norm::L1,
                "l2" => Norm::L2,
                "max" => Norm::Max,
                o => return Err(format!("unknown norm `{o}` (l1, l2, max)")),
            },
        ),
        "binarize" => SOp::Binarize(nums(s, "threshold", n)?),
        "bin" => {
            one_col()?;
            SOp::Bin(nums(s, "edges", None)?)
        }
        "one_hot" => {
            one_col()?;
            let unknown = match s.get("unknown").and_then(|v| v.as_str()).unwrap_or("error") {
                "error" => Unknown::Error,
                "ignore" => Unknown::Ignore,
                "bucket" => Unknown::Bucket,
                o => return Err(format!("unknown policy `{o}` (error, ignore, bucket)")),
            };
            SOp::OneHot {
                cats: nums(s, "categories", None)?,
                unknown,
            }
        }
        "label_encode" => {
            one_col()?;
            let keys = nums(s, "keys", None)?;
            let values = if s.contains_key("values") {
                nums(s, "values", Some(keys.len()))?
            } else {
                (0..keys.len()).map(|i| i as f32).collect()
            };
            SOp::LabelEncode {
                keys,
                values,
                default: s.get("default").and_then(num),
            }
        }
        "hash" => SOp::Hash {
            buckets: int(s, "buckets")?.ok_or("missing `buckets`")? as u32,
            signed: s.get("signed").and_then(|v| v.as_bool()).unwrap_or(false),
        },
        "select" => {
            let idx = s
                .get("indices")
                .and_then(|v| v.as_array())
                .ok_or("missing `indices` (list)")?;
            SOp::Select(
                idx.iter()
                    .map(|v| {
                        v.as_integer()
                            .filter(|&i| i >= 0 && (i as usize) < width)
                            .map(|i| i as u32)
                            .ok_or(format!("`indices`: each must be in 0..{width}"))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        "window" => {
            let channels = int(s, "channels")?.ok_or("missing `channels`")? as u32;
            let samples = int(s, "samples")?.ok_or("missing `samples`")? as u32;
            if channels as usize * samples as usize != len {
                return Err(format!(
                    "channels × samples = {} but the step covers {len} columns",
                    channels * samples
                ));
            }
            let feats = s
                .get("features")
                .and_then(|v| v.as_array())
                .ok_or("missing `features` (list)")?;
            let features = feats
                .iter()
                .map(|f| {
                    f.as_str()
                        .ok_or("features are strings".to_string())
                        .and_then(parse_feature)
                })
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(f) = features.iter().find(|f| !f.valid_for(samples as usize)) {
                return Err(format!("{f:?} cannot be computed on {samples} samples (FFT needs a power of two ≤ 256, hi ≤ n/2)"));
            }
            SOp::Window {
                channels,
                samples,
                features,
            }
        }
        _ => unreachable!(),
    };
    Ok(SStep {
        start: start as u32,
        len: len as u32,
        op,
    })
}
