//! On-device monitoring: input drift, output drift and latency, in fixed memory.
//!
//! A model converted with a baseline (`ferrite convert … --baseline train.csv`, or the
//! calibration rows by default) carries a FEATURE_STATS section
//! ([`Baseline`]): per raw input feature, a
//! histogram of the training rows over quantile bin edges plus missing counts, and
//! the distribution of the predicted class (classifiers) or of the output
//! (regressors). A [`Monitor`] keeps the same histograms for the rows a device sees,
//! in a caller-provided `&mut [u32]` of [`Model::monitor_words`] words (no allocator):
//! `B + 2` words per feature (B bins, missing, out of range), one per class or output
//! bin, and [`latency::BUCKETS`] for the latency histogram.
//!
//! On demand it reports, per feature and for the output, the Population Stability
//! Index ([`stats::psi`]) and the p-value of a G-test of homogeneity
//! ([`stats::g_test`], which accounts for how many rows were seen: the PSI alone is
//! noisy over a few dozen rows), plus missing / out-of-range counts, the number of
//! rows, and latency statistics from a clock the caller provides. A decaying window
//! ([`Monitor::set_window`]: every `N` rows all counts are halved) or
//! [`Monitor::reset`] lets a device watch the recent rows. [`Monitor::snapshot`]
//! serializes the counters compactly (postcard) for the device to send upstream;
//! `ferrite monitor --snapshot` decodes it against the model.
//!
//! ```no_run
//! # fn main() -> Result<(), ferrite::Error> {
//! # let bytes: &[u8] = &[];
//! # fn ticks() -> u32 { 0 }
//! let model = ferrite::Model::load(bytes)?;
//! let mut arena = [0u8; 4096];
//! let mut session = ferrite::Session::new(&model, &mut arena)?;
//! let mut words = [0u32; 1024];                       // ≥ model.monitor_words()
//! let mut monitor = ferrite::Monitor::new(&model, &mut words)?;
//! monitor.set_window(500);                            // about the last 500..1000 rows
//! let mut scores = [0f32; 4];
//! let label = monitor.predict(&mut session, &[0.0; 192], &mut scores, &mut ticks)?;
//! let d = monitor.feature(0)?;
//! if d.drift.flagged() { /* report upstream */ }
//! # Ok(()) }
//! ```

pub mod latency;
mod snapshot;
pub mod stats;

use crate::error::{Error, Result};
use crate::format::monitor::{Baseline, FeatureSource, OutputBaseline};
use crate::format::rd_u32;
use crate::model::Model;
use crate::preprocess::{f32_at, u32_at};
use crate::Session;

/// PSI below this: stable.
pub const PSI_MODERATE: f64 = 0.1;
/// PSI above this: shifted (flagged). Between the two: a moderate shift.
pub const PSI_SHIFTED: f64 = 0.25;
/// Version byte at the start of a [`Monitor::snapshot`].
pub const SNAPSHOT_VERSION: u8 = 1;

impl<'a> Model<'a> {
    /// The monitoring baseline (FEATURE_STATS section), checked; `None` when the model
    /// has none. Files of format 1.0 never carry one (kind 5 had no layout then).
    /// [`Error::Unsupported`] in a build without the `monitor` feature (which ignores
    /// the section).
    pub fn monitor_baseline(&self) -> Result<Option<Baseline<'a>>> {
        if !cfg!(feature = "monitor") {
            return Err(Error::Unsupported);
        }
        if self.container.header.minor < 1 {
            return Ok(None);
        }
        let Some(bytes) = self.section(crate::format::kind::FEATURE_STATS) else {
            return Ok(None);
        };
        let out_len = if self.num_outputs() > 0 {
            self.output_len(0)?
        } else {
            0
        };
        Baseline::parse(bytes, self.raw_input_len()?, out_len).map(Some)
    }

    /// Words (u32) of storage a [`Monitor`] over this model needs; 0 without a baseline.
    pub fn monitor_words(&self) -> usize {
        match self.monitor_baseline() {
            Ok(Some(b)) => words_for(&b),
            _ => 0,
        }
    }
}

fn words_for(b: &Baseline<'_>) -> usize {
    b.features as usize * (b.bins as usize + 2) + b.output_bins() + latency::BUCKETS
}

/// How far a distribution moved from its baseline, in the usual PSI bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DriftLevel {
    /// PSI < 0.1.
    Stable,
    /// 0.1 ≤ PSI ≤ 0.25.
    Moderate,
    /// PSI > 0.25: flagged.
    Shifted,
}

impl DriftLevel {
    /// The level of a PSI value.
    pub fn of(psi: f64) -> DriftLevel {
        if psi > PSI_SHIFTED {
            DriftLevel::Shifted
        } else if psi >= PSI_MODERATE {
            DriftLevel::Moderate
        } else {
            DriftLevel::Stable
        }
    }

    /// Lower-case name (`stable`, `moderate`, `shifted`).
    pub fn name(self) -> &'static str {
        match self {
            DriftLevel::Stable => "stable",
            DriftLevel::Moderate => "moderate",
            DriftLevel::Shifted => "shifted",
        }
    }
}

/// One distribution compared with its baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// Rows in the observed histogram (after decay: the effective count).
    pub rows: u32,
    /// Population Stability Index ([`stats::psi`]).
    pub psi: f64,
    /// G statistic of the G-test of homogeneity ([`stats::g_test`]).
    pub g: f64,
    /// Its degrees of freedom.
    pub dof: u32,
    /// `P(χ²_dof ≥ g)`: small (e.g. < 0.01) when the difference is unlikely to be
    /// sampling noise; meaningful at small row counts where the PSI is not.
    pub p_value: f64,
}

impl Drift {
    fn of(base: &[u8], obs: &[u32]) -> Drift {
        let b = (0..base.len() / 4).map(|i| u32_at(base, i));
        let o = obs.iter().copied();
        let (g, dof, p_value) = stats::g_test(b.clone(), o.clone());
        Drift {
            rows: obs.iter().fold(0u32, |s, &c| s.saturating_add(c)),
            psi: stats::psi(b, o),
            g,
            dof,
            p_value,
        }
    }

    /// The PSI band.
    pub fn level(&self) -> DriftLevel {
        DriftLevel::of(self.psi)
    }

    /// PSI > [`PSI_SHIFTED`].
    pub fn flagged(&self) -> bool {
        self.level() == DriftLevel::Shifted
    }
}

/// Drift of one input feature (its histogram includes the missing count as a category).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureDrift {
    /// PSI and G-test of the feature's histogram (bins and missing) against the baseline.
    pub drift: Drift,
    /// Missing (NaN) values seen.
    pub missing: u32,
    /// Values outside the baseline's `[min, max]`.
    pub out_of_range: u32,
}

/// Latency statistics in the caller's clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Timed predictions (after decay: the effective count).
    pub count: u32,
    /// Mean ticks per prediction.
    pub mean: f64,
    /// Most ticks of one prediction since the monitor was created or reset.
    pub max: u32,
    /// Median, from the histogram (within its bucket width, ≤ 25 %; never above `max`).
    pub p50: f64,
    /// 95th percentile, from the histogram (never above `max`).
    pub p95: f64,
    /// Ticks per second as set by [`Monitor::set_clock_hz`] (0: unknown).
    pub clock_hz: u32,
}

/// Computes feature `i`'s value of the monitored features from a raw row, calling
/// `f(i, value)` for each in order (see [`FeatureSource`]).
#[inline]
fn for_each_feature(source: FeatureSource, raw: &[f32], mut f: impl FnMut(usize, f32)) {
    match source {
        FeatureSource::Raw => raw.iter().enumerate().for_each(|(i, &x)| f(i, x)),
        FeatureSource::ChannelStats { samples, .. } => {
            for (c, ch) in raw.chunks_exact(samples as usize).enumerate() {
                let (mean, std) = channel_stats(ch);
                f(2 * c, mean);
                f(2 * c + 1, std);
            }
        }
    }
}

/// Mean and population standard deviation of a channel, two-pass in f32 (NaN when
/// the channel holds a NaN).
#[inline]
fn channel_stats(ch: &[f32]) -> (f32, f32) {
    let n = ch.len() as f32;
    let mean = ch.iter().sum::<f32>() / n;
    let var = ch.iter().map(|&x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, libm::sqrtf(var))
}

/// The monitored feature values of a raw row (`out`: one per feature), exactly as a
/// [`Monitor`] computes them; the host tool builds baselines with it.
pub fn feature_values(source: FeatureSource, raw: &[f32], out: &mut [f32]) -> Result<()> {
    let expected = match source {
        FeatureSource::Raw => raw.len(),
        FeatureSource::ChannelStats { channels, samples } => {
            if raw.len() != channels as usize * samples as usize {
                return Err(Error::WrongLength {
                    expected: channels as usize * samples as usize,
                    actual: raw.len(),
                });
            }
            2 * channels as usize
        }
    };
    if out.len() != expected {
        return Err(Error::WrongLength {
            expected,
            actual: out.len(),
        });
    }
    for_each_feature(source, raw, |i, v| out[i] = v);
    Ok(())
}

/// The bin of `x` over interior `edges` (little-endian f32): the number of edges `≤ x`.
#[inline]
pub fn bin_of(edges: &[u8], x: f32) -> usize {
    let (mut lo, mut hi) = (0, edges.len() / 4);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if f32_at(edges, mid) <= x {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Counters saturate rather than wrap (a decaying window keeps them small anyway).
#[inline(always)]
fn bump(c: &mut u32) {
    *c = c.saturating_add(1);
}

fn argmax(v: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            return None;
        }
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// Fixed-memory drift and latency monitor for one model (see the module docs).
#[derive(Debug)]
pub struct Monitor<'m> {
    base: Baseline<'m>,
    raw_len: usize,
    out_len: usize,
    counts: &'m mut [u32],
    model_crc: u32,
    st: MonitorState,
}

/// The scalar state of a [`Monitor`] besides its counters (rows, window, latency sums):
/// with the counter words it is everything the monitor holds, so a binding that owns
/// the words can [`resume`](Monitor::resume) a monitor per call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorState {
    window: u32,
    since_decay: u32,
    rows: u64,
    lat_count: u32,
    lat_sum: u64,
    lat_max: u32,
    clock_hz: u32,
}

impl<'m> Monitor<'m> {
    /// A monitor for `model` over `storage` (at least [`Model::monitor_words`] words;
    /// the first that many are used and zeroed). Errors: [`Error::NoBaseline`] when the
    /// model has no monitoring section, [`Error::ArenaTooSmall`] (in bytes) when
    /// `storage` is too short.
    pub fn new(model: &Model<'m>, storage: &'m mut [u32]) -> Result<Self> {
        let m = Self::resume(model, storage, MonitorState::default())?;
        m.counts.fill(0);
        Ok(m)
    }

    /// A monitor over counters and a state saved from an earlier monitor of the same
    /// model ([`state`](Self::state)), without clearing them. Errors as [`new`](Self::new).
    pub fn resume(model: &Model<'m>, storage: &'m mut [u32], state: MonitorState) -> Result<Self> {
        let base = model.monitor_baseline()?.ok_or(Error::NoBaseline)?;
        let need = words_for(&base);
        if storage.len() < need {
            return Err(Error::ArenaTooSmall {
                needed: 4 * need,
                actual: 4 * storage.len(),
            });
        }
        Ok(Monitor {
            base,
            raw_len: model.raw_input_len()?,
            out_len: if model.num_outputs() > 0 {
                model.output_len(0)?
            } else {
                0
            },
            counts: &mut storage[..need],
            model_crc: rd_u32(model.bytes(), 16).unwrap_or(0),
            st: state,
        })
    }

    /// The scalar state (see [`MonitorState`]).
    pub fn state(&self) -> MonitorState {
        self.st
    }

    /// The baseline this monitor compares against.
    pub fn baseline(&self) -> &Baseline<'m> {
        &self.base
    }

    /// Watch about the last `rows` to `2 × rows` rows: every `rows` observed rows all
    /// counters (histograms, missing, out of range, output, latency count and sum) are
    /// halved, so older rows weigh half per period. 0 (the default) never decays.
    pub fn set_window(&mut self, rows: u32) {
        self.st.window = rows;
        self.st.since_decay = 0;
    }

    /// The decay period set by [`set_window`](Self::set_window).
    pub fn window(&self) -> u32 {
        self.st.window
    }

    /// Ticks per second of the clock passed to [`predict`](Self::predict) or
    /// [`observe_latency`](Self::observe_latency) (recorded in snapshots, so that the
    /// host can report seconds).
    pub fn set_clock_hz(&mut self, hz: u32) {
        self.st.clock_hz = hz;
    }

    /// Clears every counter (the window and clock rate stay).
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.st.since_decay = 0;
        self.st.rows = 0;
        self.st.lat_count = 0;
        self.st.lat_sum = 0;
        self.st.lat_max = 0;
    }

    fn feature_words(&self) -> usize {
        self.base.features as usize * (self.base.bins as usize + 2)
    }

    fn output_range(&self) -> core::ops::Range<usize> {
        let s = self.feature_words();
        s..s + self.base.output_bins()
    }

    fn latency_range(&self) -> core::ops::Range<usize> {
        let s = self.output_range().end;
        s..s + latency::BUCKETS
    }

    /// Counts one raw input row (the values passed to
    /// [`Session::predict`]: [`Model::raw_input_len`] of them). Cost: O(features ×
    /// log bins), no allocation; with a window, every `N`-th row also halves the
    /// counters (O(storage)).
    pub fn observe_input(&mut self, raw: &[f32]) -> Result<()> {
        if raw.len() != self.raw_len {
            return Err(Error::WrongLength {
                expected: self.raw_len,
                actual: raw.len(),
            });
        }
        let b = &self.base;
        let stride = b.bins as usize + 2;
        let bins = b.bins as usize;
        let (edges, range) = (b.edges, b.range);
        let counts = &mut *self.counts;
        for_each_feature(b.source, raw, |i, x| {
            let c = &mut counts[i * stride..(i + 1) * stride];
            if x.is_nan() {
                bump(&mut c[bins]);
                return;
            }
            let e = &edges[4 * i * (bins - 1)..4 * (i + 1) * (bins - 1)];
            bump(&mut c[bin_of(e, x)]);
            if x < f32_at(range, 2 * i) || x > f32_at(range, 2 * i + 1) {
                bump(&mut c[bins + 1]);
            }
        });
        self.st.rows = self.st.rows.saturating_add(1);
        if self.st.window > 0 {
            self.st.since_decay = self.st.since_decay.saturating_add(1);
            if self.st.since_decay >= self.st.window {
                self.decay();
            }
        }
        Ok(())
    }

    /// Counts one output (the f32 values of output 0): the arg-max class for a
    /// classifier baseline, the bin of the first value for a regressor. Outputs
    /// holding NaN are not counted.
    pub fn observe_output(&mut self, output: &[f32]) -> Result<()> {
        if output.len() != self.out_len {
            return Err(Error::WrongLength {
                expected: self.out_len,
                actual: output.len(),
            });
        }
        let r = self.output_range();
        let k = match self.base.output {
            OutputBaseline::None => None,
            OutputBaseline::Classes { .. } => argmax(output),
            OutputBaseline::Values { edges, .. } => output
                .first()
                .filter(|v| !v.is_nan())
                .map(|&v| bin_of(edges, v)),
        };
        if let Some(k) = k {
            bump(&mut self.counts[r.start + k]);
        }
        Ok(())
    }

    /// [`observe_input`](Self::observe_input) then, when given,
    /// [`observe_output`](Self::observe_output).
    pub fn observe(&mut self, raw: &[f32], output: Option<&[f32]>) -> Result<()> {
        self.observe_input(raw)?;
        match output {
            Some(o) => self.observe_output(o),
            None => Ok(()),
        }
    }

    /// Records the latency of one prediction in the caller's clock ticks.
    pub fn observe_latency(&mut self, ticks: u32) {
        let r = self.latency_range();
        bump(&mut self.counts[r.start + latency::bucket(ticks)]);
        self.st.lat_count = self.st.lat_count.saturating_add(1);
        self.st.lat_sum = self.st.lat_sum.saturating_add(ticks as u64);
        self.st.lat_max = self.st.lat_max.max(ticks);
    }

    /// One monitored prediction: [`Session::predict`] timed with `clock` (ticks,
    /// wrapping), then the input, the output and the latency observed. The input is
    /// observed even when `predict` rejects it (e.g. NaN without a pipeline: counted as
    /// missing); the error is then returned.
    pub fn predict<P: crate::PlanSlot>(
        &mut self,
        session: &mut Session<'_, '_, P>,
        features: &[f32],
        scores: &mut [f32],
        clock: &mut impl FnMut() -> u32,
    ) -> Result<Option<usize>> {
        let t0 = clock();
        let r = session.predict(features, scores);
        let ticks = clock().wrapping_sub(t0);
        self.observe_input(features)?;
        let label = r?;
        self.observe_output(scores)?;
        self.observe_latency(ticks);
        Ok(label)
    }

    fn decay(&mut self) {
        self.counts.iter_mut().for_each(|c| *c /= 2);
        self.st.lat_count /= 2;
        self.st.lat_sum /= 2;
        self.st.since_decay = 0;
    }

    /// Rows observed since the monitor was created or reset (not decayed).
    pub fn rows(&self) -> u64 {
        self.st.rows
    }

    /// Number of monitored features.
    pub fn num_features(&self) -> usize {
        self.base.features as usize
    }

    /// Name of feature `i` as stored in the baseline (may be empty).
    pub fn feature_name(&self, i: usize) -> &'m str {
        self.base.feature_name(i)
    }

    /// The counters of feature `i`: `B` bins, missing, out of range.
    pub fn feature_counts(&self, i: usize) -> Result<&[u32]> {
        let stride = self.base.bins as usize + 2;
        if i >= self.num_features() {
            return Err(Error::NoSuchIndex { index: i as u32 });
        }
        Ok(&self.counts[i * stride..(i + 1) * stride])
    }

    /// Drift of feature `i` against the baseline: PSI and G-test over its bins plus
    /// the missing count. Cost: O(bins), f64 arithmetic.
    pub fn feature(&self, i: usize) -> Result<FeatureDrift> {
        let c = self.feature_counts(i)?;
        let bins = self.base.bins as usize;
        Ok(FeatureDrift {
            drift: Drift::of(self.base.feature_counts(i), &c[..bins + 1]),
            missing: c[bins],
            out_of_range: c[bins + 1],
        })
    }

    /// Drift of the output (predicted class or output histogram); `None` when the
    /// baseline has no output part.
    pub fn output_drift(&self) -> Option<Drift> {
        match self.base.output {
            OutputBaseline::None => None,
            OutputBaseline::Classes { counts } | OutputBaseline::Values { counts, .. } => {
                Some(Drift::of(counts, &self.counts[self.output_range()]))
            }
        }
    }

    /// The output counters (per class, or per output bin).
    pub fn output_counts(&self) -> &[u32] {
        &self.counts[self.output_range()]
    }

    /// Latency statistics (see [`Latency`]).
    pub fn latency(&self) -> Latency {
        let h = &self.counts[self.latency_range()];
        Latency {
            count: self.st.lat_count,
            mean: if self.st.lat_count == 0 {
                0.0
            } else {
                self.st.lat_sum as f64 / self.st.lat_count as f64
            },
            max: self.st.lat_max,
            // Interpolation inside the top bucket can pass the largest value seen;
            // the histogram holds no value above it.
            p50: latency::quantile(h, 0.5).min(self.st.lat_max as f64),
            p95: latency::quantile(h, 0.95).min(self.st.lat_max as f64),
            clock_hz: self.st.clock_hz,
        }
    }

    /// The latency histogram ([`latency::BUCKETS`] counts, bounds from
    /// [`latency::bounds`]).
    pub fn latency_histogram(&self) -> &[u32] {
        &self.counts[self.latency_range()]
    }
}

/// Storage for a [`Monitor`] on a device: `N` words (at least [`Model::monitor_words`]).
#[derive(Debug)]
pub struct MonitorBuffer<const N: usize>(pub [u32; N]);

impl<const N: usize> MonitorBuffer<N> {
    /// Zeroed storage.
    pub const fn new() -> Self {
        MonitorBuffer([0; N])
    }
}

impl<const N: usize> Default for MonitorBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_of_counts_edges_at_or_below() {
        let e: alloc_free::Edges = alloc_free::edges([0.0, 1.0, 1.0, 2.0]);
        assert_eq!(bin_of(&e.0, -1.0), 0);
        assert_eq!(bin_of(&e.0, 0.0), 1);
        assert_eq!(bin_of(&e.0, 0.5), 1);
        assert_eq!(bin_of(&e.0, 1.0), 3);
        assert_eq!(bin_of(&e.0, 1.5), 3);
        assert_eq!(bin_of(&e.0, 2.0), 4);
        assert_eq!(bin_of(&e.0, f32::INFINITY), 4);
        assert_eq!(bin_of(&e.0, f32::NEG_INFINITY), 0);
    }

    #[test]
    fn channel_stats_two_pass() {
        let ch = [1.0f32, 1.0, 1.0, 1.0 + 0.004];
        let (m, s) = channel_stats(&ch);
        assert!((m - 1.001).abs() < 1e-6);
        assert!((s - 0.001_732_05).abs() < 1e-6, "{s}");
    }

    mod alloc_free {
        pub struct Edges(pub [u8; 16]);
        pub fn edges(v: [f32; 4]) -> Edges {
            let mut b = [0u8; 16];
            for (i, x) in v.iter().enumerate() {
                b[4 * i..4 * i + 4].copy_from_slice(&x.to_le_bytes());
            }
            Edges(b)
        }
    }
}
