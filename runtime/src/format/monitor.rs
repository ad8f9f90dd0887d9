//! The FEATURE_STATS section (kind 5, optional, format 1.1): the training-set baseline a
//! [`Monitor`](crate::monitor::Monitor) compares the field against.
//!
//! One postcard [`Baseline`] record, decoded borrowed. Per-feature tables are inline
//! byte strings of little-endian `f32` / `u32`, read in place without alignment
//! requirements. `docs/format.md` and `docs/monitoring.md` describe the layout and
//! what the numbers mean.

use crate::error::{Error, Result, Section};
use crate::preprocess::{f32_at, u32_at};
use serde::{Deserialize, Serialize};

/// Fewest bins per histogram.
pub const MIN_BINS: u32 = 2;
/// Most bins per histogram.
pub const MAX_BINS: u32 = 64;
/// Most monitored input features.
pub const MAX_FEATURES: u32 = 1 << 16;

/// How the monitored features are computed from the raw row a device passes to
/// `predict` (the row before preprocessing: that is what drifts in the field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FeatureSource {
    /// Feature `i` is raw value `i`.
    Raw,
    /// The raw row is `channels` × `samples` values, channel-major (a sensor window);
    /// the features are the mean and the population standard deviation of each
    /// channel, in order `mean(c0), std(c0), mean(c1), std(c1), …` (`2 × channels`
    /// features). A NaN in a channel makes both of its features missing.
    ChannelStats {
        /// Channels `C`.
        channels: u32,
        /// Samples per channel.
        samples: u32,
    },
}

/// The baseline of the model's output 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputBaseline<'a> {
    /// No output baseline.
    None,
    /// A classifier: how often each class was predicted (arg-max of output 0);
    /// `counts` holds one u32 per class.
    Classes {
        /// One little-endian u32 per class.
        #[serde(borrow)]
        counts: &'a [u8],
    },
    /// A regressor: a histogram of the first value of output 0 with `k − 1` interior
    /// edges (f32) and `k` counts (u32), binned like the features.
    Values {
        /// `k − 1` little-endian f32 interior edges, non-decreasing.
        #[serde(borrow)]
        edges: &'a [u8],
        /// `k` little-endian u32 counts.
        #[serde(borrow)]
        counts: &'a [u8],
    },
}

/// The FEATURE_STATS section: per-feature histograms of the training (baseline) rows.
///
/// A value `x` of feature `f` goes to bin `k` = the number of interior edges `≤ x`
/// (so bin 0 is `x < edges[0]` and the last bin is `x ≥ edges[B − 2]`); NaN counts as
/// missing; a value outside `[min, max]` of the baseline is also counted as out of
/// range (it still lands in the first or last bin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline<'a> {
    /// How the monitored features are computed from the raw row.
    pub source: FeatureSource,
    /// Number of features `F`.
    pub features: u32,
    /// Bins per feature `B` ([`MIN_BINS`]..=[`MAX_BINS`]).
    pub bins: u32,
    /// Rows the baseline was computed from.
    pub rows: u32,
    /// Feature names, one per line (empty, or exactly `F` lines).
    #[serde(borrow)]
    pub names: &'a str,
    /// `F × (B − 1)` f32: each feature's interior bin edges, non-decreasing (quantiles).
    #[serde(borrow)]
    pub edges: &'a [u8],
    /// `F × 2` f32: each feature's `(min, max)` in the baseline.
    #[serde(borrow)]
    pub range: &'a [u8],
    /// `F × (B + 1)` u32: each feature's bin counts, then its missing count; each
    /// feature's counts add up to `rows`.
    #[serde(borrow)]
    pub counts: &'a [u8],
    /// The output's baseline (predicted classes or output values).
    #[serde(borrow)]
    pub output: OutputBaseline<'a>,
}

/// A postcard decoder for [`Baseline`] alone (the same bytes serde's derive reads,
/// checked against it in the tests; a third of its code in a WASM build): LEB128
/// varints of at most 5 bytes for `u32` (an enum's variant index too), a varint length
/// then the bytes for `&str` (UTF-8) and `&[u8]`, nothing left over.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..5 {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            if i == 4 && byte > 0x0f {
                return None;
            }
            v |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }

    fn baseline(mut self) -> Option<Baseline<'a>> {
        let source = match self.u32()? {
            0 => FeatureSource::Raw,
            1 => FeatureSource::ChannelStats {
                channels: self.u32()?,
                samples: self.u32()?,
            },
            _ => return None,
        };
        let b = Baseline {
            source,
            features: self.u32()?,
            bins: self.u32()?,
            rows: self.u32()?,
            names: core::str::from_utf8(self.bytes()?).ok()?,
            edges: self.bytes()?,
            range: self.bytes()?,
            counts: self.bytes()?,
            output: match self.u32()? {
                0 => OutputBaseline::None,
                1 => OutputBaseline::Classes {
                    counts: self.bytes()?,
                },
                2 => OutputBaseline::Values {
                    edges: self.bytes()?,
                    counts: self.bytes()?,
                },
                _ => return None,
            },
        };
        self.0.is_empty().then_some(b)
    }
}

fn bad() -> Error {
    Error::BadSection {
        section: Section::FeatureStats,
    }
}

fn edges_ok(edges: &[u8]) -> bool {
    let n = edges.len() / 4;
    (0..n).all(|i| {
        let e = f32_at(edges, i);
        e.is_finite() && (i == 0 || f32_at(edges, i - 1) <= e)
    })
}

fn sum_u32(t: &[u8]) -> u64 {
    (0..t.len() / 4).map(|i| u32_at(t, i) as u64).sum()
}

impl<'a> Baseline<'a> {
    /// Decodes and checks a FEATURE_STATS section for a model whose `predict` takes
    /// `raw_len` values and whose output 0 has `out_len` values: sizes, edges finite
    /// and non-decreasing, counts adding up to `rows`.
    pub fn parse(bytes: &'a [u8], raw_len: usize, out_len: usize) -> Result<Baseline<'a>> {
        let b = Reader(bytes).baseline().ok_or(Error::Decode {
            section: Section::FeatureStats,
            index: 0,
        })?;
        let f = b.features as usize;
        let bins = b.bins as usize;
        if !(MIN_BINS..=MAX_BINS).contains(&b.bins) || b.features == 0 || b.features > MAX_FEATURES
        {
            return Err(bad());
        }
        let width_ok = match b.source {
            FeatureSource::Raw => f == raw_len,
            FeatureSource::ChannelStats { channels, samples } => {
                channels > 0
                    && samples > 0
                    && (channels as usize).checked_mul(samples as usize) == Some(raw_len)
                    && f == 2 * channels as usize
            }
        };
        let names = b.names.lines().count();
        if !width_ok
            || (names != 0 && names != f)
            || b.edges.len() != 4 * f * (bins - 1)
            || b.range.len() != 8 * f
            || b.counts.len() != 4 * f * (bins + 1)
        {
            return Err(bad());
        }
        for i in 0..f {
            let e = &b.edges[4 * i * (bins - 1)..4 * (i + 1) * (bins - 1)];
            let c = &b.counts[4 * i * (bins + 1)..4 * (i + 1) * (bins + 1)];
            let (lo, hi) = (f32_at(b.range, 2 * i), f32_at(b.range, 2 * i + 1));
            if !edges_ok(e) || lo.is_nan() || hi.is_nan() || sum_u32(c) != b.rows as u64 {
                return Err(bad());
            }
        }
        match b.output {
            OutputBaseline::None => {}
            OutputBaseline::Classes { counts } => {
                if out_len < 2 || counts.len() != 4 * out_len || sum_u32(counts) > b.rows as u64 {
                    return Err(bad());
                }
            }
            OutputBaseline::Values { edges, counts } => {
                let k = counts.len() / 4;
                if counts.len() % 4 != 0
                    || !(MIN_BINS as usize..=MAX_BINS as usize).contains(&k)
                    || edges.len() != 4 * (k - 1)
                    || !edges_ok(edges)
                    || sum_u32(counts) > b.rows as u64
                {
                    return Err(bad());
                }
            }
        }
        Ok(b)
    }

    /// Number of words a [`Monitor`](crate::monitor::Monitor)'s counters take for the
    /// output (classes, or output bins).
    pub fn output_bins(&self) -> usize {
        match self.output {
            OutputBaseline::None => 0,
            OutputBaseline::Classes { counts } | OutputBaseline::Values { counts, .. } => {
                counts.len() / 4
            }
        }
    }

    /// Interior edges of feature `i` (`B − 1` little-endian f32).
    pub fn feature_edges(&self, i: usize) -> &'a [u8] {
        let n = 4 * (self.bins as usize - 1);
        self.edges.get(n * i..n * (i + 1)).unwrap_or(&[])
    }

    /// Baseline counts of feature `i`: `B` bins, then missing (little-endian u32).
    pub fn feature_counts(&self, i: usize) -> &'a [u8] {
        let n = 4 * (self.bins as usize + 1);
        self.counts.get(n * i..n * (i + 1)).unwrap_or(&[])
    }

    /// `(min, max)` of feature `i` in the baseline.
    pub fn feature_range(&self, i: usize) -> (f32, f32) {
        (f32_at(self.range, 2 * i), f32_at(self.range, 2 * i + 1))
    }

    /// Name of feature `i` (empty when the section has no names).
    pub fn feature_name(&self, i: usize) -> &'a str {
        self.names.lines().nth(i).unwrap_or("")
    }
}

/// Encodes a FEATURE_STATS section (feature `write`): add it with
/// `ModelBuilder::add_section(kind::FEATURE_STATS, false, bytes)`.
#[cfg(feature = "write")]
pub fn encode_section(
    b: &Baseline<'_>,
) -> core::result::Result<alloc::vec::Vec<u8>, crate::format::write::WriteError> {
    postcard::to_allocvec(b).map_err(|_| crate::format::write::WriteError::Encode)
}
