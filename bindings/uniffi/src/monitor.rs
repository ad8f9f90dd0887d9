//! `Monitor`: drift and latency monitoring of a `Model` against the training baseline
//! stored in it (`ferrite convert --baseline`), see `ferrite::Monitor`.

use crate::{FerriteError, Model, Prediction};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How far a distribution moved from its baseline (PSI bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DriftLevel {
    /// PSI < 0.1.
    Stable,
    /// 0.1 ≤ PSI ≤ 0.25.
    Moderate,
    /// PSI > 0.25 (flagged).
    Shifted,
}

/// One distribution compared with its baseline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Drift {
    /// Rows in the observed histogram (effective count after decay).
    pub rows: u32,
    /// Population Stability Index.
    pub psi: f64,
    /// p-value of a G-test of homogeneity (small: unlikely to be sampling noise).
    pub p_value: f64,
    pub level: DriftLevel,
    /// PSI > 0.25.
    pub flagged: bool,
}

/// Drift of one input feature.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FeatureDrift {
    pub index: u32,
    pub name: String,
    pub drift: Drift,
    /// Missing (NaN) values seen.
    pub missing: u32,
    /// Values outside the baseline's range.
    pub out_of_range: u32,
}

/// Latency of monitored predictions, in seconds.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LatencyStats {
    pub count: u32,
    pub mean_seconds: f64,
    pub max_seconds: f64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
}

/// What `Monitor::report` returns.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DriftReport {
    /// Input features, in order.
    pub features: Vec<FeatureDrift>,
    /// Drift of the predictions; `None` when the baseline has none.
    pub output: Option<Drift>,
    /// Rows observed since the monitor was created or reset.
    pub rows: u64,
    pub latency: LatencyStats,
}

fn drift(d: &ferrite::Drift) -> Drift {
    Drift {
        rows: d.rows,
        psi: d.psi,
        p_value: d.p_value,
        level: match d.level() {
            ferrite::DriftLevel::Stable => DriftLevel::Stable,
            ferrite::DriftLevel::Moderate => DriftLevel::Moderate,
            ferrite::DriftLevel::Shifted => DriftLevel::Shifted,
        },
        flagged: d.flagged(),
    }
}

const CLOCK_HZ: u32 = 1_000_000_000;

/// Watches a model's inputs, predictions and latency for drift from its training data,
/// in fixed memory. Thread-safe (calls are serialized).
#[derive(Debug, uniffi::Object)]
pub struct Monitor {
    model: Arc<Model>,
    state: Mutex<(Vec<u32>, ferrite::MonitorState)>,
}

#[uniffi::export]
impl Monitor {
    /// A monitor of `model`; `window`: the counters halve every `window` rows, so the
    /// report covers about the last `window`…`2 × window` rows (0: never).
    ///
    /// Errors: `FerriteError::Runtime` with code 20 when the model has no baseline.
    #[uniffi::constructor]
    pub fn new(model: Arc<Model>, window: u32) -> Result<Arc<Self>, FerriteError> {
        let m = model.owned.model();
        let mut words = vec![0u32; m.monitor_words()];
        let mut mon = ferrite::Monitor::new(&m, &mut words)?;
        mon.set_window(window);
        mon.set_clock_hz(CLOCK_HZ);
        let st = mon.state();
        Ok(Arc::new(Monitor {
            model: model.clone(),
            state: Mutex::new((words, st)),
        }))
    }

    /// `Model::predict`, timed, with its input, prediction and latency counted. An input
    /// the model rejects (NaN without imputation) is still counted, as missing.
    pub fn predict(&self, features: Vec<f32>) -> Result<Prediction, FerriteError> {
        let t0 = Instant::now();
        let r = self.model.predict(features.clone());
        let ns = u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX);
        self.with(|m| {
            m.observe_input(&features)?;
            if let Ok(p) = &r {
                m.observe_output(&p.scores)?;
                m.observe_latency(ns);
            }
            Ok(())
        })?;
        r
    }

    /// Counts a prediction made elsewhere: its raw input and, when given, its scores.
    pub fn observe(
        &self,
        features: Vec<f32>,
        scores: Option<Vec<f32>>,
    ) -> Result<(), FerriteError> {
        self.with(|m| Ok(m.observe(&features, scores.as_deref())?))
    }

    /// Per-feature and output drift, rows and latency.
    pub fn report(&self) -> Result<DriftReport, FerriteError> {
        self.with(|m| {
            let features = (0..m.num_features())
                .map(|i| {
                    let f = m.feature(i)?;
                    Ok(FeatureDrift {
                        index: i as u32,
                        name: m.feature_name(i).to_string(),
                        drift: drift(&f.drift),
                        missing: f.missing,
                        out_of_range: f.out_of_range,
                    })
                })
                .collect::<Result<Vec<_>, FerriteError>>()?;
            let l = m.latency();
            let s = |t: f64| t / CLOCK_HZ as f64;
            Ok(DriftReport {
                features,
                output: m.output_drift().as_ref().map(drift),
                rows: m.rows(),
                latency: LatencyStats {
                    count: l.count,
                    mean_seconds: s(l.mean),
                    max_seconds: s(l.max as f64),
                    p50_seconds: s(l.p50),
                    p95_seconds: s(l.p95),
                },
            })
        })
    }

    /// The counters as compact bytes to send upstream (`ferrite monitor --snapshot`).
    pub fn snapshot(&self) -> Result<Vec<u8>, FerriteError> {
        self.with(|m| {
            let mut buf = vec![0u8; m.snapshot_max_len()];
            Ok(m.snapshot(&mut buf)?.to_vec())
        })
    }

    /// Clears every counter.
    pub fn reset(&self) -> Result<(), FerriteError> {
        self.with(|m| {
            m.reset();
            Ok(())
        })
    }
}

impl Monitor {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut ferrite::Monitor<'_>) -> Result<T, FerriteError>,
    ) -> Result<T, FerriteError> {
        let model = self.model.owned.model();
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (words, st) = &mut *guard;
        let mut m = ferrite::Monitor::resume(&model, words, *st)?;
        let r = f(&mut m);
        *st = m.state();
        r
    }
}
