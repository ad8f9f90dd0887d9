//! Preprocessing inside the model: the PREPROCESS section (kind 4) describes a
//! pipeline of steps that turns the raw feature vector a device measures into the
//! graph's input 0, exactly as at training time. See `docs/preprocessing.md`.
//!
//! # Wire format
//! The section is `header_len: u32 LE | Pipeline (postcard, header_len bytes) | record
//! table of Step` (record tables as in `docs/format.md`; the steps in execution order),
//! all postcard-encoded and decoded borrowed. Per-feature tables are inline byte strings of little-endian f32 (or u32
//! for indices), read in place without alignment requirements.
//!
//! # Execution model
//! The pipeline works on one row, a vector of `width` f32 values (initially the raw
//! features, `width = raw_len`). Every step reads the columns `start..start + len` of
//! the current vector and replaces them with its output (of the same or another
//! length); the columns before and after pass through unchanged. A [`StepOp::Select`]
//! builds any column selection, reordering, duplication and concatenation order; the
//! ranged steps then transform each block in place. The final width must equal the
//! number of elements of graph input 0. Scratch: two rows of the widest intermediate
//! width, taken from the session arena (counted in [`Model::arena_size`](crate::Model::arena_size)).

pub mod window;

use crate::error::{Error, Result, Section};
use crate::format::types::Norm;
use crate::format::RecordTable;
use heapless::Vec as HVec;
use serde::{Deserialize, Serialize};

pub use window::{WindowBuffer, WindowFeature};

/// Most steps in one pipeline.
pub const MAX_STEPS: u32 = 256;
/// Widest intermediate row (values).
pub const MAX_WIDTH: u32 = 1 << 20;
/// Most features computed per channel by one window step.
pub const MAX_WINDOW_FEATURES: usize = 16;

/// Header of the PREPROCESS section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline<'a> {
    /// Number of raw input values.
    pub raw_len: u32,
    /// Names of the raw inputs, one per line (may be empty), e.g. for CSV headers.
    #[serde(borrow)]
    pub names: &'a str,
}

/// One step: `op` replaces the columns `start..start + len` of the current row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step<'a> {
    /// First column of the current row the step replaces.
    pub start: u32,
    /// Number of columns replaced.
    pub len: u32,
    /// What the step computes.
    #[serde(borrow)]
    pub op: StepOp<'a>,
}

/// How a per-feature scaling step computes `y` from `x` and its parameters `a`, `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScaleKind {
    /// `(x - a) * b` (ONNX-ML Scaler; StandardScaler with `b = 1 / std`).
    SubMul,
    /// `x * a + b` (scikit-learn MinMaxScaler: `a = scale_`, `b = min_`).
    MulAdd,
    /// `(x - a) / b` (StandardScaler, RobustScaler, MaxAbsScaler with `a = 0`); `b != 0`.
    SubDiv,
}

/// What a categorical step does with a value that is not one of its categories
/// (NaN included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unknown {
    /// Fail with [`Error::InvalidInput`] naming the current column.
    Error,
    /// One-hot: all-zero block.
    Ignore,
    /// One-hot: an extra last column set to 1 for unknown values.
    Bucket,
}

impl<'a> crate::format::Record<'a> for Step<'a> {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        postcard::take_from_bytes(bytes).ok()
    }
}

/// The operation of a step. "Per feature" tables hold `len` values, one per column
/// of the step's range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StepOp<'a> {
    /// Replace missing values (NaN, or equal to `sentinel`) by `values[j]` (f32 LE per
    /// feature: the mean / median / constant computed at training time).
    Impute {
        /// A value that also means missing (besides NaN).
        sentinel: Option<f32>,
        /// The replacement per feature.
        #[serde(borrow)]
        values: &'a [u8],
    },
    /// `min(max(x, lo[j]), hi[j])`; NaN stays NaN. Bounds may be infinite.
    Clip {
        /// Lower bound per feature (f32 LE).
        #[serde(borrow)]
        lo: &'a [u8],
        /// Upper bound per feature (f32 LE).
        #[serde(borrow)]
        hi: &'a [u8],
    },
    /// Per-feature affine scaling, see [`ScaleKind`]; NaN stays NaN.
    Scale {
        /// The formula.
        kind: ScaleKind,
        /// Parameter `a` per feature (f32 LE).
        #[serde(borrow)]
        a: &'a [u8],
        /// Parameter `b` per feature (f32 LE).
        #[serde(borrow)]
        b: &'a [u8],
    },
    /// Normalize the range as one vector (L1 / L2 / max); a zero vector is unchanged,
    /// a NaN makes the whole range NaN.
    Normalize {
        /// The norm divided by.
        norm: Norm,
    },
    /// `1` if `x > threshold[j]` else `0`; NaN stays NaN.
    Binarize {
        /// Threshold per feature (f32 LE).
        #[serde(borrow)]
        threshold: &'a [u8],
    },
    /// Range of length 1: the bin index = number of `edges` (strictly increasing,
    /// f32 LE) that are `<= x`; NaN stays NaN.
    Bin {
        /// The bin edges (f32 LE, strictly increasing).
        #[serde(borrow)]
        edges: &'a [u8],
    },
    /// Range of length 1: one column per category (f32 LE, exact match), plus one for
    /// [`Unknown::Bucket`]. NaN is an unknown value.
    OneHot {
        /// The categories (f32 LE), one output column each.
        #[serde(borrow)]
        categories: &'a [u8],
        /// What an unknown value does.
        unknown: Unknown,
    },
    /// Range of length 1: `values[i]` where `x == keys[i]`, else `default` (or
    /// [`Error::InvalidInput`] when `default` is `None`). NaN is an unknown key.
    LabelEncode {
        /// The keys (f32 LE).
        #[serde(borrow)]
        keys: &'a [u8],
        /// The value of each key (f32 LE).
        #[serde(borrow)]
        values: &'a [u8],
        /// The value of an unknown key; `None`: an error.
        default: Option<f32>,
    },
    /// Feature hashing of the range's numeric categories into `buckets` columns: for
    /// column `j` (relative to `start`) with value `v`, `h = fnv1a32(j as u32 LE ++
    /// v.to_bits() LE)` (with `-0.0` read as `0.0`); bucket `h % buckets` gets `+1`, or
    /// `-1` when `signed` and bit 31 of `h` is set. NaN adds nothing.
    Hash {
        /// Output columns.
        buckets: u32,
        /// Bit 31 of the hash gives the sign of the count.
        signed: bool,
    },
    /// Replace the range by `cur[indices[i]]` (u32 LE, indices into the whole current
    /// row): selection, reordering, duplication.
    Select {
        /// Column indices into the current row (u32 LE).
        #[serde(borrow)]
        indices: &'a [u8],
    },
    /// Window aggregates: the range is `channels` × `samples` values, channel-major;
    /// the output is `channels` × `features.len()` values, channel-major (for each
    /// channel, the features in order). A NaN in a channel makes that channel's
    /// features NaN.
    Window {
        /// Channels in the range.
        channels: u32,
        /// Samples per channel.
        samples: u32,
        /// The features computed per channel, in output order.
        features: HVec<WindowFeature, MAX_WINDOW_FEATURES>,
    },
}

impl StepOp<'_> {
    /// Short name for errors and `inspect`.
    pub fn name(&self) -> &'static str {
        match self {
            StepOp::Impute { .. } => "impute",
            StepOp::Clip { .. } => "clip",
            StepOp::Scale { .. } => "scale",
            StepOp::Normalize { .. } => "normalize",
            StepOp::Binarize { .. } => "binarize",
            StepOp::Bin { .. } => "bin",
            StepOp::OneHot { .. } => "one_hot",
            StepOp::LabelEncode { .. } => "label_encode",
            StepOp::Hash { .. } => "hash",
            StepOp::Select { .. } => "select",
            StepOp::Window { .. } => "window",
        }
    }
}

/// Value `i` of a little-endian f32 table (0 when out of range; validated tables never are).
#[inline]
pub fn f32_at(t: &[u8], i: usize) -> f32 {
    t.get(4 * i..4 * i + 4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0.0)
}

/// Value `i` of a little-endian u32 table.
#[inline]
pub fn u32_at(t: &[u8], i: usize) -> u32 {
    t.get(4 * i..4 * i + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

fn f32s(t: &[u8]) -> impl Iterator<Item = f32> + '_ {
    t.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A validated pipeline, borrowed from the model bytes.
#[derive(Clone, Debug)]
pub struct Preprocess<'a> {
    pub(crate) header: Pipeline<'a>,
    pub(crate) steps: RecordTable<'a, Step<'a>>,
    /// Widest row, in values.
    pub(crate) max_width: u32,
    /// Output width (= graph input 0 elements).
    pub(crate) out_len: u32,
}

impl<'a> Preprocess<'a> {
    /// Parses and validates a PREPROCESS section whose output feeds `graph_in` values.
    pub(crate) fn parse(bytes: &'a [u8], graph_in: usize, check: bool) -> Result<Self> {
        let bad = Error::BadSection {
            section: Section::Preprocess,
        };
        let hlen = crate::format::rd_u32(bytes, 0).ok_or(bad)? as usize;
        let h_end = hlen.checked_add(4).ok_or(bad)?;
        let hb = bytes.get(4..h_end).ok_or(bad)?;
        let header: Pipeline<'a> = match postcard::take_from_bytes(hb) {
            Ok((v, [])) => v,
            _ => {
                return Err(Error::Decode {
                    section: Section::Preprocess,
                    index: 0,
                })
            }
        };
        let tb = &bytes[h_end..];
        let steps: RecordTable<'a, Step<'a>> =
            RecordTable::parse_with(tb, Section::Preprocess, check)?;
        let mut p = Preprocess {
            header,
            steps: steps.clone(),
            max_width: 0,
            out_len: 0,
        };
        if check {
            if steps.len() > MAX_STEPS {
                return Err(bad);
            }
            let mut w = p.header.raw_len;
            let mut max = w;
            if w == 0 || w > MAX_WIDTH {
                return Err(bad);
            }
            for i in 0..steps.len() {
                let s = steps.get(i)?;
                w = step_width(&s, w).ok_or(Error::Decode {
                    section: Section::Preprocess,
                    index: i,
                })?;
                if w == 0 || w > MAX_WIDTH {
                    return Err(Error::Decode {
                        section: Section::Preprocess,
                        index: i,
                    });
                }
                max = max.max(w);
            }
            if w as usize != graph_in {
                return Err(bad);
            }
            p.max_width = max;
            p.out_len = w;
        } else {
            let mut w = p.header.raw_len;
            let mut max = w;
            for i in 0..steps.len() {
                w = step_width(&steps.get(i)?, w).ok_or(bad)?;
                max = max.max(w);
            }
            p.max_width = max;
            p.out_len = w;
        }
        Ok(p)
    }

    /// Number of raw input values.
    pub fn raw_len(&self) -> usize {
        self.header.raw_len as usize
    }

    /// Number of output values (graph input 0).
    pub fn out_len(&self) -> usize {
        self.out_len as usize
    }

    /// Names of the raw inputs (may be empty).
    pub fn names(&self) -> impl Iterator<Item = &'a str> {
        let n = self.header.names;
        n.split('\n').filter(|l| !l.is_empty())
    }

    /// Number of steps.
    pub fn num_steps(&self) -> u32 {
        self.steps.len()
    }

    /// Step `i`.
    pub fn step(&self, i: u32) -> Result<Step<'a>> {
        self.steps.get(i)
    }

    /// Scratch bytes needed by [`run`](Self::run): two rows of the widest width.
    pub fn scratch_bytes(&self) -> usize {
        2 * 4 * self.max_width as usize
    }

    /// Runs the pipeline on `raw` (`raw_len` values) into `out` (`out_len` values),
    /// using `scratch` (at least `scratch_bytes() / 4` values).
    ///
    /// Errors: [`Error::WrongLength`] for wrong buffer sizes, [`Error::InvalidInput`]
    /// for an unknown category under [`Unknown::Error`] (naming the column of the
    /// current row, which is the raw column when no earlier step moved it).
    pub fn run(&self, raw: &[f32], out: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        if out.len() != self.out_len() {
            return Err(Error::WrongLength {
                expected: self.out_len(),
                actual: out.len(),
            });
        }
        out.copy_from_slice(self.run_scratch(raw, scratch)?);
        Ok(())
    }

    /// Runs the pipeline in `scratch` and returns the output row (a part of `scratch`).
    pub fn run_scratch<'s>(&self, raw: &[f32], scratch: &'s mut [f32]) -> Result<&'s [f32]> {
        if raw.len() != self.raw_len() {
            return Err(Error::WrongLength {
                expected: self.raw_len(),
                actual: raw.len(),
            });
        }
        let mw = self.max_width as usize;
        if scratch.len() < 2 * mw {
            return Err(Error::ArenaTooSmall {
                needed: 8 * mw,
                actual: 4 * scratch.len(),
            });
        }
        let (mut a, mut b) = scratch[..2 * mw].split_at_mut(mw);
        a[..raw.len()].copy_from_slice(raw);
        let mut w = raw.len();
        for i in 0..self.steps.len() {
            let s = self.steps.get(i)?;
            let nw = step_width(&s, w as u32).ok_or(Error::BadSection {
                section: Section::Preprocess,
            })? as usize;
            let (st, ln) = (s.start as usize, s.len as usize);
            let out_len = nw + ln - w;
            b[..st].copy_from_slice(&a[..st]);
            b[st + out_len..nw].copy_from_slice(&a[st + ln..w]);
            let (cur, dst) = (&a[..w], &mut b[st..st + out_len]);
            apply(&s.op, st, cur, &cur[st..st + ln], dst)?;
            core::mem::swap(&mut a, &mut b);
            w = nw;
        }
        Ok(&a[..w])
    }
}

/// Output width of step `s` on a row of `w` values, after validating the step;
/// `None` when it is malformed.
fn step_width(s: &Step<'_>, w: u32) -> Option<u32> {
    let (st, ln) = (s.start, s.len);
    if ln == 0 || st.checked_add(ln)? > w {
        return None;
    }
    let n = ln as usize;
    let table = |t: &[u8], n: usize| t.len() == 4 * n;
    let finite = |t: &[u8]| f32s(t).all(f32::is_finite);
    let not_nan = |t: &[u8]| f32s(t).all(|v| !v.is_nan());
    let out: u32 = match &s.op {
        StepOp::Impute { sentinel, values } => {
            (table(values, n) && finite(values) && sentinel.is_none_or(|v| !v.is_nan()))
                .then_some(ln)?
        }
        StepOp::Clip { lo, hi } => {
            let ok = table(lo, n)
                && table(hi, n)
                && not_nan(lo)
                && not_nan(hi)
                && f32s(lo).zip(f32s(hi)).all(|(l, h)| l <= h);
            ok.then_some(ln)?
        }
        StepOp::Scale { kind, a, b } => {
            let ok = table(a, n)
                && table(b, n)
                && finite(a)
                && finite(b)
                && (*kind != ScaleKind::SubDiv || f32s(b).all(|v| v != 0.0));
            ok.then_some(ln)?
        }
        StepOp::Normalize { .. } => ln,
        StepOp::Binarize { threshold } => {
            (table(threshold, n) && not_nan(threshold)).then_some(ln)?
        }
        StepOp::Bin { edges } => {
            let e: &[u8] = edges;
            let ok = ln == 1
                && e.len() % 4 == 0
                && finite(e)
                && f32s(e).zip(f32s(e).skip(1)).all(|(p, q)| p < q);
            ok.then_some(1)?
        }
        StepOp::OneHot {
            categories,
            unknown,
        } => {
            let k = categories.len() / 4;
            let ok = ln == 1 && categories.len() % 4 == 0 && finite(categories) && k > 0;
            if !ok {
                return None;
            }
            u32::try_from(k + usize::from(*unknown == Unknown::Bucket)).ok()?
        }
        StepOp::LabelEncode {
            keys,
            values,
            default,
        } => {
            let k = keys.len() / 4;
            let ok = ln == 1
                && keys.len() % 4 == 0
                && table(values, k)
                && finite(keys)
                && finite(values)
                && default.is_none_or(f32::is_finite);
            ok.then_some(1)?
        }
        StepOp::Hash { buckets, .. } => (*buckets > 0).then_some(*buckets)?,
        StepOp::Select { indices } => {
            let k = indices.len() / 4;
            let ok = indices.len() % 4 == 0 && k > 0 && (0..k).all(|i| u32_at(indices, i) < w);
            if !ok {
                return None;
            }
            u32::try_from(k).ok()?
        }
        StepOp::Window {
            channels,
            samples,
            features,
        } => {
            let ok = *channels > 0
                && *samples > 0
                && channels.checked_mul(*samples) == Some(ln)
                && !features.is_empty()
                && features.iter().all(|f| f.valid_for(*samples as usize));
            if !ok {
                return None;
            }
            channels.checked_mul(features.len() as u32)?
        }
    };
    (w - ln).checked_add(out)
}

/// Runs one step: `x` is the step's input range (at column `start` of `cur`), `y` its
/// output range.
fn apply(op: &StepOp<'_>, start: usize, cur: &[f32], x: &[f32], y: &mut [f32]) -> Result<()> {
    match op {
        StepOp::Impute { sentinel, values } => {
            for (j, (o, &v)) in y.iter_mut().zip(x).enumerate() {
                let missing = v.is_nan() || *sentinel == Some(v);
                *o = if missing { f32_at(values, j) } else { v };
            }
        }
        StepOp::Clip { lo, hi } => {
            for (j, (o, &v)) in y.iter_mut().zip(x).enumerate() {
                let (l, h) = (f32_at(lo, j), f32_at(hi, j));
                *o = if v.is_nan() {
                    v
                } else if v < l {
                    l
                } else if v > h {
                    h
                } else {
                    v
                };
            }
        }
        StepOp::Scale { kind, a, b } => {
            for (j, (o, &v)) in y.iter_mut().zip(x).enumerate() {
                let (p, q) = (f32_at(a, j), f32_at(b, j));
                *o = match kind {
                    ScaleKind::SubMul => (v - p) * q,
                    ScaleKind::MulAdd => v * p + q,
                    ScaleKind::SubDiv => (v - p) / q,
                };
            }
        }
        StepOp::Normalize { norm } => {
            y.copy_from_slice(x);
            if y.iter().any(|v| v.is_nan()) {
                y.fill(f32::NAN);
            } else {
                crate::classic::normalize_in_place(*norm, y);
            }
        }
        StepOp::Binarize { threshold } => {
            for (j, (o, &v)) in y.iter_mut().zip(x).enumerate() {
                *o = if v.is_nan() {
                    v
                } else if v > f32_at(threshold, j) {
                    1.0
                } else {
                    0.0
                };
            }
        }
        StepOp::Bin { edges } => {
            let v = x[0];
            y[0] = if v.is_nan() {
                v
            } else {
                f32s(edges).filter(|&e| e <= v).count() as f32
            };
        }
        StepOp::OneHot {
            categories,
            unknown,
        } => {
            let v = x[0];
            y.fill(0.0);
            match f32s(categories).position(|c| c == v) {
                Some(i) => y[i] = 1.0,
                None => match unknown {
                    Unknown::Error => {
                        return Err(Error::InvalidInput {
                            feature: start as u32,
                        })
                    }
                    Unknown::Ignore => {}
                    Unknown::Bucket => {
                        if let Some(last) = y.last_mut() {
                            *last = 1.0;
                        }
                    }
                },
            }
        }
        StepOp::LabelEncode {
            keys,
            values,
            default,
        } => {
            let v = x[0];
            y[0] = match f32s(keys).position(|k| k == v) {
                Some(i) => f32_at(values, i),
                None => default.ok_or(Error::InvalidInput {
                    feature: start as u32,
                })?,
            };
        }
        StepOp::Hash { buckets, signed } => {
            y.fill(0.0);
            for (j, &v) in x.iter().enumerate() {
                if v.is_nan() {
                    continue;
                }
                let h = feature_hash(j as u32, v);
                let idx = (h % *buckets) as usize;
                let sign = if *signed && h >> 31 != 0 { -1.0 } else { 1.0 };
                if let Some(o) = y.get_mut(idx) {
                    *o += sign;
                }
            }
        }
        StepOp::Select { indices } => {
            for (i, o) in y.iter_mut().enumerate() {
                *o = cur
                    .get(u32_at(indices, i) as usize)
                    .copied()
                    .unwrap_or(f32::NAN);
            }
        }
        StepOp::Window {
            channels,
            samples,
            features,
        } => {
            let (c, n, k) = (*channels as usize, *samples as usize, features.len());
            for ch in 0..c {
                let v = &x[ch * n..(ch + 1) * n];
                let o = &mut y[ch * k..(ch + 1) * k];
                for (f, out) in features.iter().zip(o.iter_mut()) {
                    *out = f.compute(v);
                }
            }
        }
    }
    Ok(())
}

/// The feature-hashing function of [`StepOp::Hash`]: 32-bit FNV-1a over the column
/// index and the value's bits (little-endian), `-0.0` hashed as `0.0`.
pub fn feature_hash(column: u32, value: f32) -> u32 {
    let v = if value == 0.0 { 0.0f32 } else { value };
    let mut h: u32 = 0x811c_9dc5;
    for b in column
        .to_le_bytes()
        .iter()
        .chain(v.to_bits().to_le_bytes().iter())
    {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Encodes a PREPROCESS section (feature `write`): add it with
/// `ModelBuilder::add_section(kind::PREPROCESS, true, bytes)`.
#[cfg(feature = "write")]
pub fn encode_section(
    header: &Pipeline<'_>,
    steps: &[Step<'_>],
) -> core::result::Result<alloc::vec::Vec<u8>, crate::format::write::WriteError> {
    use crate::format::write::{record_table, WriteError};
    let h = postcard::to_allocvec(header).map_err(|_| WriteError::Encode)?;
    let recs = steps
        .iter()
        .map(|s| postcard::to_allocvec(s).map_err(|_| WriteError::Encode))
        .collect::<core::result::Result<alloc::vec::Vec<_>, _>>()?;
    let mut out = alloc::vec::Vec::new();
    out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&record_table(&recs)?);
    Ok(out)
}

/// Little-endian bytes of f32 values, for the per-feature tables of a [`StepOp`].
#[cfg(feature = "write")]
pub fn f32_bytes(v: &[f32]) -> alloc::vec::Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of u32 values (for [`StepOp::Select`]).
#[cfg(feature = "write")]
pub fn u32_bytes(v: &[u32]) -> alloc::vec::Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
