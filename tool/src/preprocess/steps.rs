//! Preprocessing steps with owned tables — what the ONNX-ML importer and `FEATURES.toml`
//! build — and their encoding as the runtime's PREPROCESS section
//! (`ferrite::preprocess` wire format, whose steps borrow their tables).

use crate::error::{Error, Result};
use ferrite::format::types::Norm;
use ferrite::preprocess::{encode_section, Pipeline, ScaleKind, Step, StepOp, Unknown};

/// One preprocessing step with owned tables.
#[derive(Clone, Debug)]
pub enum SOp {
    Impute {
        sentinel: Option<f32>,
        values: Vec<f32>,
    },
    Clip {
        lo: Vec<f32>,
        hi: Vec<f32>,
    },
    Scale {
        kind: ScaleKind,
        a: Vec<f32>,
        b: Vec<f32>,
    },
    Normalize(Norm),
    Binarize(Vec<f32>),
    Bin(Vec<f32>),
    OneHot {
        cats: Vec<f32>,
        unknown: Unknown,
    },
    LabelEncode {
        keys: Vec<f32>,
        values: Vec<f32>,
        default: Option<f32>,
    },
    Hash {
        buckets: u32,
        signed: bool,
    },
    Select(Vec<u32>),
    Window {
        channels: u32,
        samples: u32,
        features: Vec<ferrite::WindowFeature>,
    },
}

#[derive(Clone, Debug)]
pub struct SStep {
    /// First column the step reads.
    pub start: u32,
    /// Columns it reads.
    pub len: u32,
    pub op: SOp,
}

/// Encodes owned steps as a PREPROCESS section.
pub fn encode_steps(raw_len: usize, names: &str, steps: &[SStep]) -> Result<Vec<u8>> {
    use ferrite::preprocess::{f32_bytes, u32_bytes};
    // Tables first (owned), then steps borrowing them.
    let tables: Vec<Vec<Vec<u8>>> = steps
        .iter()
        .map(|s| match &s.op {
            SOp::Impute { values, .. } => vec![f32_bytes(values)],
            SOp::Clip { lo, hi } => vec![f32_bytes(lo), f32_bytes(hi)],
            SOp::Scale { a, b, .. } => vec![f32_bytes(a), f32_bytes(b)],
            SOp::Binarize(t) | SOp::Bin(t) => vec![f32_bytes(t)],
            SOp::OneHot { cats, .. } => vec![f32_bytes(cats)],
            SOp::LabelEncode { keys, values, .. } => vec![f32_bytes(keys), f32_bytes(values)],
            SOp::Select(i) => vec![u32_bytes(i)],
            SOp::Normalize(_) | SOp::Hash { .. } | SOp::Window { .. } => vec![],
        })
        .collect();
    let mut out = Vec::new();
    for (s, t) in steps.iter().zip(&tables) {
        let op = match &s.op {
            SOp::Impute { sentinel, .. } => StepOp::Impute {
                sentinel: *sentinel,
                values: &t[0],
            },
            SOp::Clip { .. } => StepOp::Clip {
                lo: &t[0],
                hi: &t[1],
            },
            SOp::Scale { kind, .. } => StepOp::Scale {
                kind: *kind,
                a: &t[0],
                b: &t[1],
            },
            SOp::Normalize(n) => StepOp::Normalize { norm: *n },
            SOp::Binarize(_) => StepOp::Binarize { threshold: &t[0] },
            SOp::Bin(_) => StepOp::Bin { edges: &t[0] },
            SOp::OneHot { unknown, .. } => StepOp::OneHot {
                categories: &t[0],
                unknown: *unknown,
            },
            SOp::LabelEncode { default, .. } => StepOp::LabelEncode {
                keys: &t[0],
                values: &t[1],
                default: *default,
            },
            SOp::Hash { buckets, signed } => StepOp::Hash {
                buckets: *buckets,
                signed: *signed,
            },
            SOp::Select(_) => StepOp::Select { indices: &t[0] },
            SOp::Window {
                channels,
                samples,
                features,
            } => StepOp::Window {
                channels: *channels,
                samples: *samples,
                features: heapless::Vec::from_slice(features)
                    .map_err(|_| Error::Usage("at most 16 window features per step".into()))?,
            },
        };
        out.push(Step {
            start: s.start,
            len: s.len,
            op,
        });
    }
    let header = Pipeline {
        raw_len: raw_len as u32,
        names,
    };
    Ok(encode_section(&header, &out)?)
}

/// Output width of an owned step (its input range has `len` columns).
pub fn sop_width(op: &SOp, len: usize) -> usize {
    match op {
        SOp::OneHot { cats, unknown } => cats.len() + usize::from(*unknown == Unknown::Bucket),
        SOp::Hash { buckets, .. } => *buckets as usize,
        SOp::Select(i) => i.len(),
        SOp::Window {
            channels, features, ..
        } => *channels as usize * features.len(),
        SOp::Bin(_) | SOp::LabelEncode { .. } => 1,
        _ => len,
    }
}
