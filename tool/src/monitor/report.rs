//! `ferrite monitor`'s report: the runtime's monitor over rows or a device snapshot,
//! as a table or JSON.

use super::baseline::*;
use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::format::monitor::{FeatureSource, OutputBaseline};
use ferrite::monitor::{latency, stats::PSI_EPSILON};
use ferrite::monitor::{PSI_MODERATE, PSI_SHIFTED};
use ferrite::{AlignedModel, Drift, Model, Monitor, OwnedSession};
use serde_json::{json, Value};
use std::fmt::Write as _;

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

pub(super) fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub(super) fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub(super) fn report(model: &Model<'_>, mon: &Monitor<'_>) -> Result<MonitorReport> {
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

pub(super) fn model_of(aligned: &AlignedModel) -> Result<Model<'_>> {
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

pub(super) fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

pub(super) fn drift_json(d: &Drift) -> Value {
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

pub(super) fn merge(mut a: Value, b: Value) -> Value {
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
}
