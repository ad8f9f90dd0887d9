//! Monitoring on the host: building a model's baseline (`convert --baseline`) and
//! `ferrite monitor` (the runtime's own [`ferrite::Monitor`] over a data file, or a
//! device's snapshot decoded against the model), printed as a table, JSON, the
//! Prometheus text exposition format, or a PNG of the most drifted features.

mod plot;

use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::format::monitor::{encode_section, Baseline, FeatureSource, OutputBaseline};
use ferrite::format::write::container;
use ferrite::format::{kind, Container};
use ferrite::monitor::{bin_of, feature_values, latency, stats::PSI_EPSILON};
use ferrite::monitor::{PSI_MODERATE, PSI_SHIFTED};
use ferrite::preprocess::StepOp;
use ferrite::{AlignedModel, Drift, Model, Monitor, OwnedSession};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

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

fn source_name(s: FeatureSource) -> &'static str {
    match s {
        FeatureSource::Raw => "raw",
        FeatureSource::ChannelStats { .. } => "channel_stats",
    }
}

/// Names of the monitored features: the pipeline's raw names or the data's header for
/// raw features; `<channel>_mean`, `<channel>_std` for channel summaries, the channel
/// named after its first column with trailing digits removed (`x0` → `x`).
fn feature_names(model: &Model<'_>, source: FeatureSource, data: &Dataset) -> Vec<String> {
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
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// `bins − 1` interior edges at the quantiles k / bins of the non-missing values
/// (all 0 when there are none), as f32.
fn quantile_edges(values: &[f32], bins: u32) -> Vec<f32> {
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

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_u32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn hist(values: &[f32], edges: &[u8], bins: usize) -> Vec<u32> {
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
    let out = container(&sections).map_err(|e| Error::Write(e.to_string()))?;
    // The runtime checks the new section on load.
    AlignedModel::new(&out).model()?;
    Ok((out, summary))
}

/// One feature's row of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureReport {
    pub index: usize,
    pub name: String,
    pub drift: Drift,
    pub missing: u32,
    pub out_of_range: u32,
    /// Interior bin edges.
    pub edges: Vec<f32>,
    /// Baseline counts: bins, then missing.
    pub baseline: Vec<u32>,
    /// Observed counts: bins, then missing.
    pub observed: Vec<u32>,
}

/// The output's row of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputReport {
    /// `classes` or `values`.
    pub kind: &'static str,
    pub drift: Drift,
    /// Class labels (classifiers with labels) or bin edges (regressors).
    pub labels: Vec<String>,
    pub edges: Vec<f32>,
    pub baseline: Vec<u32>,
    pub observed: Vec<u32>,
}

/// Latency figures in seconds when the clock rate is known, else in ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyReport {
    pub stats: ferrite::Latency,
    /// Cumulative counts per histogram bucket upper bound (ticks), up to the last
    /// non-empty bucket.
    pub buckets: Vec<(u64, u64)>,
    pub sum_ticks: f64,
}

/// What `ferrite monitor` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorReport {
    pub model: String,
    pub source: FeatureSource,
    pub bins: u32,
    pub baseline_rows: u32,
    pub rows: u64,
    pub window: u32,
    pub features: Vec<FeatureReport>,
    pub output: Option<OutputReport>,
    pub latency: LatencyReport,
    /// The monitor's snapshot (what a device would send).
    pub snapshot: Vec<u8>,
}

fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn report(model: &Model<'_>, mon: &Monitor<'_>) -> Result<MonitorReport> {
    let base = *mon.baseline();
    let bins = base.bins as usize;
    let features = (0..mon.num_features())
        .map(|i| {
            let d = mon.feature(i)?;
            let name = match mon.feature_name(i) {
                "" => format!("f{i}"),
                n => n.to_string(),
            };
            Ok(FeatureReport {
                index: i,
                name,
                drift: d.drift,
                missing: d.missing,
                out_of_range: d.out_of_range,
                edges: f32s(base.feature_edges(i)),
                baseline: u32s(base.feature_counts(i)),
                observed: mon.feature_counts(i)?[..bins + 1].to_vec(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = mon.output_drift().map(|drift| {
        let (kind, edges, counts) = match base.output {
            OutputBaseline::Values { edges, counts } => ("values", f32s(edges), counts),
            OutputBaseline::Classes { counts } => ("classes", Vec::new(), counts),
            OutputBaseline::None => ("none", Vec::new(), &[][..]),
        };
        let labels: Vec<String> = model.labels().map(str::to_string).collect();
        OutputReport {
            kind,
            drift,
            labels: if labels.len() == counts.len() / 4 {
                labels
            } else {
                Vec::new()
            },
            edges,
            baseline: u32s(counts),
            observed: mon.output_counts().to_vec(),
        }
    });
    let h = mon.latency_histogram();
    let last = h.iter().rposition(|&c| c > 0);
    let mut cum = 0u64;
    let buckets = match last {
        Some(last) => h[..=last]
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                cum += c as u64;
                (latency::bounds(i).1, cum)
            })
            .collect(),
        None => Vec::new(),
    };
    let stats = mon.latency();
    let mut buf = vec![0u8; mon.snapshot_max_len()];
    let snapshot = mon.snapshot(&mut buf)?.to_vec();
    Ok(MonitorReport {
        model: model.metadata().name.to_string(),
        source: base.source,
        bins: base.bins,
        baseline_rows: base.rows,
        rows: mon.rows(),
        window: mon.window(),
        features,
        output,
        latency: LatencyReport {
            stats,
            buckets,
            sum_ticks: stats.mean * stats.count as f64,
        },
        snapshot,
    })
}

fn model_of(aligned: &AlignedModel) -> Result<Model<'_>> {
    let model = aligned.model()?;
    if model.monitor_baseline()?.is_none() {
        return Err(Error::Usage(
            "the model has no monitoring baseline: convert it with --baseline DATA (or --calibration DATA)".into(),
        ));
    }
    Ok(model)
}

/// Runs the model with the runtime's monitor over every row of `data` (raw rows, NaN
/// for missing values), timing each prediction in nanoseconds; `window` as
/// [`Monitor::set_window`]. Rows the model rejects count for the inputs only.
pub fn monitor_rows(fer: &[u8], data: &Dataset, window: u32) -> Result<MonitorReport> {
    let aligned = AlignedModel::new(fer);
    let model = model_of(&aligned)?;
    let input = model.input(0)?;
    data.expect_width(
        model.raw_input_len()?,
        &format!("the model input \"{}\"", input.name),
    )?;
    let mut words = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut words)?;
    mon.set_window(window);
    mon.set_clock_hz(1_000_000_000);
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let mut scores = vec![0f32; model.output_len(0)?];
    let start = std::time::Instant::now();
    let mut clock = || u32::try_from(start.elapsed().as_nanos() % (1 << 32)).unwrap_or(0);
    for row in data.iter_rows() {
        match mon.predict(&mut s, row, &mut scores, &mut clock) {
            Ok(_) | Err(ferrite::Error::InvalidInput { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    report(&model, &mon)
}

/// Decodes a device's [`Monitor::snapshot`] against the model it monitored.
pub fn monitor_snapshot(fer: &[u8], snapshot: &[u8]) -> Result<MonitorReport> {
    let aligned = AlignedModel::new(fer);
    let model = model_of(&aligned)?;
    let mut words = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut words)?;
    mon.restore(snapshot)?;
    report(&model, &mon)
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn drift_json(d: &Drift) -> Value {
    json!({
        "psi": num(d.psi),
        "p_value": num(d.p_value),
        "g": num(d.g),
        "dof": d.dof,
        "rows": d.rows,
        "level": d.level().name(),
        "flagged": d.flagged(),
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

impl MonitorReport {
    /// Features with PSI > 0.25, most drifted first.
    pub fn flagged(&self) -> Vec<&FeatureReport> {
        let mut v: Vec<&FeatureReport> =
            self.features.iter().filter(|f| f.drift.flagged()).collect();
        v.sort_by(|a, b| b.drift.psi.total_cmp(&a.drift.psi));
        v
    }

    /// The report as JSON: `features` in input order (`index`, `name`, `psi`,
    /// `p_value`, `level`, `flagged`, counts and bin edges), `output`, `latency`.
    pub fn to_json(&self) -> Value {
        let l = &self.latency.stats;
        json!({
            "model": self.model,
            "source": source_name(self.source),
            "bins": self.bins,
            "baseline_rows": self.baseline_rows,
            "rows": self.rows,
            "window": self.window,
            "thresholds": {"moderate": PSI_MODERATE, "shifted": PSI_SHIFTED},
            "psi_epsilon": PSI_EPSILON,
            "features": self.features.iter().map(|f| merge(json!({
                "index": f.index,
                "name": f.name,
                "missing": f.missing,
                "out_of_range": f.out_of_range,
                "edges": f.edges,
                "baseline": f.baseline,
                "observed": f.observed,
            }), drift_json(&f.drift))).collect::<Vec<_>>(),
            "output": self.output.as_ref().map(|o| merge(json!({
                "kind": o.kind,
                "labels": o.labels,
                "edges": o.edges,
                "baseline": o.baseline,
                "observed": o.observed,
            }), drift_json(&o.drift))),
            "latency": {
                "count": l.count,
                "mean": num(l.mean),
                "max": l.max,
                "p50": num(l.p50),
                "p95": num(l.p95),
                "clock_hz": l.clock_hz,
                "unit": if l.clock_hz == 0 { "ticks" } else { "ticks (clock_hz per second)" },
            },
            "snapshot_bytes": self.snapshot.len(),
        })
    }

    fn ticks(&self, t: f64) -> String {
        match self.latency.stats.clock_hz {
            0 => format!("{t:.0} ticks"),
            hz => {
                let s = t / hz as f64;
                if s < 1e-3 {
                    format!("{:.2} µs", s * 1e6)
                } else {
                    format!("{:.3} ms", s * 1e3)
                }
            }
        }
    }

    /// The report as a table.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} rows against a baseline of {} rows ({} features, {}, {} bins{})",
            self.rows,
            self.baseline_rows,
            self.features.len(),
            match self.source {
                FeatureSource::Raw => "raw inputs".to_string(),
                FeatureSource::ChannelStats { channels, samples } =>
                    format!("mean and std of {channels} channels × {samples} samples"),
            },
            self.bins,
            if self.window > 0 {
                format!(", window {} rows", self.window)
            } else {
                String::new()
            }
        );
        let w = self
            .features
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let _ = writeln!(
            s,
            "{:>5}  {:<w$}  {:>8}  {:>8}  {:<8}  {:>7}  {:>12}",
            "index", "feature", "psi", "p-value", "level", "missing", "out of range"
        );
        for f in &self.features {
            let _ = writeln!(
                s,
                "{:>5}  {:<w$}  {:>8.4}  {:>8.2e}  {:<8}  {:>7}  {:>12}{}",
                f.index,
                f.name,
                f.drift.psi,
                f.drift.p_value,
                f.drift.level().name(),
                f.missing,
                f.out_of_range,
                if f.drift.flagged() {
                    "  <- shifted"
                } else {
                    ""
                }
            );
        }
        if let Some(o) = &self.output {
            let _ = writeln!(
                s,
                "output ({}): psi {:.4}, p-value {:.2e}, {}",
                if o.kind == "classes" {
                    "predicted class"
                } else {
                    "value"
                },
                o.drift.psi,
                o.drift.p_value,
                o.drift.level().name()
            );
        }
        let l = &self.latency.stats;
        if l.count > 0 {
            let _ = writeln!(
                s,
                "latency: {} predictions, mean {}, p50 {}, p95 {}, max {}",
                l.count,
                self.ticks(l.mean),
                self.ticks(l.p50),
                self.ticks(l.p95),
                self.ticks(l.max as f64)
            );
        }
        let flagged = self.flagged();
        let _ = writeln!(
            s,
            "shifted (PSI > {PSI_SHIFTED}): {}",
            if flagged.is_empty() {
                "none".to_string()
            } else {
                flagged
                    .iter()
                    .map(|f| format!("{} ({:.3})", f.name, f.drift.psi))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        s
    }

    /// The report in the Prometheus text exposition format (version 0.0.4), every
    /// sample labelled with `model` and the given `labels` (e.g. a device id).
    pub fn to_prometheus(&self, labels: &[(String, String)]) -> String {
        let mut base = vec![("model".to_string(), self.model.clone())];
        base.extend(labels.iter().cloned());
        let fmt_labels = |extra: &[(&str, String)]| {
            let all: Vec<String> = base
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .chain(extra.iter().map(|(k, v)| (*k, v.clone())))
                .map(|(k, v)| format!("{k}=\"{}\"", escape(&v)))
                .collect();
            format!("{{{}}}", all.join(","))
        };
        let mut s = String::new();
        let mut lines = Vec::new();
        let n = family(
            &mut s,
            "ferrite_monitor_rows_total",
            "counter",
            "Rows observed by the monitor since it was created or reset.",
        );
        lines.push((n, fmt_labels(&[]), self.rows as f64));
        flush(&mut s, &mut lines);
        type Metric = (&'static str, &'static str, fn(&FeatureReport) -> f64);
        let per_feature: [Metric; 5] = [
            (
                "ferrite_feature_psi",
                "Population Stability Index of an input feature against the training baseline (< 0.1 stable, > 0.25 shifted).",
                |f| f.drift.psi,
            ),
            (
                "ferrite_feature_drift_p_value",
                "p-value of a G-test of homogeneity between the feature's observed and baseline histograms.",
                |f| f.drift.p_value,
            ),
            (
                "ferrite_feature_shifted",
                "1 when the feature's PSI exceeds 0.25.",
                |f| f.drift.flagged() as u8 as f64,
            ),
            (
                "ferrite_feature_missing",
                "Missing (NaN) values of the feature in the monitor's window.",
                |f| f.missing as f64,
            ),
            (
                "ferrite_feature_out_of_range",
                "Values of the feature outside the baseline's range in the monitor's window.",
                |f| f.out_of_range as f64,
            ),
        ];
        for (name, help, get) in per_feature {
            let n = family(&mut s, name, "gauge", help);
            for f in &self.features {
                let l = fmt_labels(&[("index", f.index.to_string()), ("feature", f.name.clone())]);
                lines.push((n.clone(), l, get(f)));
            }
            flush(&mut s, &mut lines);
        }
        if let Some(o) = &self.output {
            for (name, help, v) in [
                (
                    "ferrite_output_psi",
                    "Population Stability Index of the predictions (class or value histogram) against the training baseline.",
                    o.drift.psi,
                ),
                (
                    "ferrite_output_drift_p_value",
                    "p-value of a G-test of homogeneity between the observed and baseline prediction histograms.",
                    o.drift.p_value,
                ),
                (
                    "ferrite_output_shifted",
                    "1 when the predictions' PSI exceeds 0.25.",
                    o.drift.flagged() as u8 as f64,
                ),
            ] {
                let n = family(&mut s, name, "gauge", help);
                lines.push((n, fmt_labels(&[]), v));
                flush(&mut s, &mut lines);
            }
        }
        let l = &self.latency.stats;
        let (name, scale) = match l.clock_hz {
            0 => ("ferrite_predict_latency_ticks", 1.0),
            hz => ("ferrite_predict_latency_seconds", 1.0 / hz as f64),
        };
        let n = family(
            &mut s,
            name,
            "histogram",
            "Latency of monitored predictions.",
        );
        let total = self.latency.buckets.last().map_or(0, |b| b.1);
        for &(upper, cum) in &self.latency.buckets {
            let le = format!("{}", upper as f64 * scale);
            lines.push((format!("{n}_bucket"), fmt_labels(&[("le", le)]), cum as f64));
        }
        lines.push((
            format!("{n}_bucket"),
            fmt_labels(&[("le", "+Inf".into())]),
            total as f64,
        ));
        lines.push((
            format!("{n}_sum"),
            fmt_labels(&[]),
            self.latency.sum_ticks * scale,
        ));
        lines.push((format!("{n}_count"), fmt_labels(&[]), total as f64));
        flush(&mut s, &mut lines);
        s
    }
}

fn family(s: &mut String, name: &str, kind: &str, help: &str) -> String {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} {kind}");
    name.to_string()
}

fn flush(s: &mut String, lines: &mut Vec<(String, String, f64)>) {
    for (n, l, v) in lines.drain(..) {
        let v = if v.is_nan() {
            "NaN".to_string()
        } else {
            format!("{v}")
        };
        let _ = writeln!(s, "{n}{l} {v}");
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Draws the baseline and observed histograms (shares per bin, missing as the last
/// bar) of the `top` most drifted features into a PNG.
pub fn plot_png(report: &MonitorReport, path: &Path, top: usize) -> Result<()> {
    plot::plot(report, path, top)
}
