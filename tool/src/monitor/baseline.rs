//! The monitoring baseline `ferrite convert --baseline` stores: per-feature quantile
//! histograms and the output's distribution, in the FEATURE_STATS section.

use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::format::monitor::{encode_section, Baseline, FeatureSource, OutputBaseline};
use ferrite::format::write::container_minor;
use ferrite::format::{kind, Container};
use ferrite::monitor::{bin_of, feature_values};
use ferrite::preprocess::StepOp;
use ferrite::{AlignedModel, Model, OwnedSession};

/// Bins per feature when none is asked for.
pub const DEFAULT_BINS: u32 = 10;

/// How a baseline is built.
#[derive(Clone, Debug)]
pub struct BaselineOptions {
    /// Bins per feature (quantile edges), 2..=64.
    pub bins: u32,
    /// The monitored features; `None` picks [`default_source`].
    pub source: Option<FeatureSource>,
}

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            bins: DEFAULT_BINS,
            source: None,
        }
    }
}

/// What a baseline was built from.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineSummary {
    pub rows: usize,
    pub features: usize,
    pub bins: u32,
    pub source: FeatureSource,
}

/// The features a device can monitor best: for a model whose raw row is a window of
/// channel-major samples — a preprocessing pipeline whose first step is a window
/// over the whole row, or, without a pipeline, an input of rank ≥ 3 `[1, C, …]` —
/// the mean and standard deviation of each channel (a sensor's offset and
/// amplitude, which is what drifts when a sensor ages or is mounted differently;
/// one histogram per sample position would be 64 copies of the same distribution);
/// otherwise every raw value.
pub fn default_source(model: &Model<'_>) -> Result<FeatureSource> {
    let raw = model.raw_input_len()?;
    if let Some(p) = model.preprocess() {
        if p.num_steps() > 0 {
            let s = p.step(0)?;
            if let StepOp::Window {
                channels, samples, ..
            } = s.op
            {
                if s.start == 0 && s.len as usize == raw && samples > 1 {
                    return Ok(FeatureSource::ChannelStats { channels, samples });
                }
            }
        }
        return Ok(FeatureSource::Raw);
    }
    let t = model.input(0)?;
    if t.shape.len() >= 3 && t.shape[0] == 1 {
        let channels = t.shape[1];
        let samples: u32 = t.shape[2..].iter().product();
        if samples > 1 {
            return Ok(FeatureSource::ChannelStats { channels, samples });
        }
    }
    Ok(FeatureSource::Raw)
}

pub(super) fn source_name(s: FeatureSource) -> &'static str {
    match s {
        FeatureSource::Raw => "raw",
        FeatureSource::ChannelStats { .. } => "channel_stats",
    }
}

/// Names of the monitored features: the pipeline's raw names or the data's header for
/// raw features; `<channel>_mean`, `<channel>_std` for channel summaries, the channel
/// named after its first column with trailing digits removed (`x0` → `x`).
pub(super) fn feature_names(
    model: &Model<'_>,
    source: FeatureSource,
    data: &Dataset,
) -> Vec<String> {
    let raw: Vec<String> = match model.preprocess() {
        Some(p) if p.names().count() == p.raw_len() => p.names().map(str::to_string).collect(),
        _ => data.header.clone().unwrap_or_default(),
    };
    match source {
        FeatureSource::Raw => {
            let n = model.raw_input_len().unwrap_or(0);
            if raw.len() == n {
                raw
            } else {
                (0..n).map(|i| format!("f{i}")).collect()
            }
        }
        FeatureSource::ChannelStats { channels, samples } => (0..channels as usize)
            .flat_map(|c| {
                let base = raw
                    .get(c * samples as usize)
                    .map(|n| n.trim_end_matches(|ch: char| ch.is_ascii_digit() || ch == '_'))
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("c{c}"));
                [format!("{base}_mean"), format!("{base}_std")]
            })
            .collect(),
    }
}

/// Quantile `q` of sorted values, NumPy's default ("linear") method.
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// `bins − 1` interior edges at the quantiles k / bins of the non-missing values
/// (all 0 when there are none), as f32.
pub(super) fn quantile_edges(values: &[f32], bins: u32) -> Vec<f32> {
    let mut v: Vec<f64> = values
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| x as f64)
        .collect();
    if v.is_empty() {
        return vec![0.0; bins as usize - 1];
    }
    v.sort_by(f64::total_cmp);
    (1..bins)
        .map(|k| quantile(&v, k as f64 / bins as f64) as f32)
        .collect()
}

pub(super) fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn le_u32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn hist(values: &[f32], edges: &[u8], bins: usize) -> Vec<u32> {
    let mut c = vec![0u32; bins + 1];
    for &x in values {
        if x.is_nan() {
            c[bins] += 1;
        } else {
            c[bin_of(edges, x)] += 1;
        }
    }
    c
}

/// The FEATURE_STATS section of the model in `fer` for the rows of `data` (raw rows:
/// what `predict` takes). Every row counts for the inputs (missing values included);
/// the output part counts the rows the model predicts.
pub fn baseline_section(
    fer: &[u8],
    data: &Dataset,
    opts: &BaselineOptions,
) -> Result<(Vec<u8>, BaselineSummary)> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    let input = model.input(0)?;
    data.expect_width(
        model.raw_input_len()?,
        &format!("the model input \"{}\"", input.name),
    )?;
    if data.rows == 0 {
        return Err(Error::Usage("the baseline data has no rows".into()));
    }
    if !(2..=64).contains(&opts.bins) {
        return Err(Error::Usage(format!(
            "--baseline-bins {} (2..=64)",
            opts.bins
        )));
    }
    let source = match opts.source {
        Some(s) => s,
        None => default_source(&model)?,
    };
    let f = match source {
        FeatureSource::Raw => model.raw_input_len()?,
        FeatureSource::ChannelStats { channels, .. } => 2 * channels as usize,
    };
    // Column-major feature values.
    let mut cols = vec![Vec::with_capacity(data.rows); f];
    let mut row_f = vec![0f32; f];
    for row in data.iter_rows() {
        feature_values(source, row, &mut row_f)?;
        for (c, &v) in cols.iter_mut().zip(&row_f) {
            c.push(v);
        }
    }
    let bins = opts.bins as usize;
    let (mut edges, mut range, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for c in &cols {
        let e = le_f32(&quantile_edges(c, opts.bins));
        let present = c.iter().filter(|x| !x.is_nan());
        let lo = present.clone().fold(f32::INFINITY, |a, &b| a.min(b));
        let hi = present.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        range.extend(le_f32(&[lo, hi]));
        counts.extend(le_u32(&hist(c, &e, bins)));
        edges.extend(e);
    }
    // The output: predicted class (classifiers) or output 0's first value.
    let out_len = model.output_len(0)?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let mut scores = vec![0f32; out_len];
    let mut classes = vec![0u32; out_len];
    let mut values = Vec::new();
    for row in data.iter_rows() {
        if let Ok(label) = s.predict(row, &mut scores) {
            match label {
                Some(k) if out_len > 1 => classes[k] += 1,
                _ => values.push(scores[0]),
            }
        }
    }
    let (out_edges, out_counts);
    let output = if out_len > 1 {
        out_counts = le_u32(&classes);
        OutputBaseline::Classes {
            counts: &out_counts,
        }
    } else {
        out_edges = le_f32(&quantile_edges(&values, opts.bins));
        let mut h = hist(&values, &out_edges, bins);
        h.pop(); // no missing category for outputs
        out_counts = le_u32(&h);
        OutputBaseline::Values {
            edges: &out_edges,
            counts: &out_counts,
        }
    };
    let names = feature_names(&model, source, data).join("\n");
    let b = Baseline {
        source,
        features: f as u32,
        bins: opts.bins,
        rows: u32::try_from(data.rows)
            .map_err(|_| Error::Usage("more than 2^32 baseline rows".into()))?,
        names: &names,
        edges: &edges,
        range: &range,
        counts: &counts,
        output,
    };
    let bytes = encode_section(&b).map_err(|e| Error::Write(e.to_string()))?;
    Ok((
        bytes,
        BaselineSummary {
            rows: data.rows,
            features: f,
            bins: opts.bins,
            source,
        },
    ))
}

/// `fer` with a FEATURE_STATS section built from `data` (replacing one it had). The
/// other sections are kept byte for byte; the file is written as format 1.1.
pub fn attach_baseline(
    fer: &[u8],
    data: &Dataset,
    opts: &BaselineOptions,
) -> Result<(Vec<u8>, BaselineSummary)> {
    let (section, summary) = baseline_section(fer, data, opts)?;
    let c = Container::parse(fer)?;
    let mut sections = Vec::new();
    for e in c.sections() {
        if e.kind == kind::SIGNATURE {
            return Err(Error::Usage(
                "the model is signed: add the baseline before signing".into(),
            ));
        }
        if e.kind == kind::FEATURE_STATS {
            continue;
        }
        let bytes = c.section(e.kind).unwrap_or_default().to_vec();
        sections.push((
            e.kind,
            e.flags & ferrite::format::SECTION_REQUIRED != 0,
            bytes,
        ));
    }
    sections.push((kind::FEATURE_STATS, false, section));
    // The file's own minor (its ops'); the FEATURE_STATS section makes it at least 1.1.
    let out =
        container_minor(&sections, c.header.minor).map_err(|e| Error::Write(e.to_string()))?;
    // The runtime checks the new section on load.
    AlignedModel::new(&out).model()?;
    Ok((out, summary))
}
