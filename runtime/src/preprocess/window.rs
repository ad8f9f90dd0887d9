//! Window aggregates for sensor streams: per-channel statistics of a window of samples,
//! a radix-2 FFT band energy, and [`WindowBuffer`], a fixed-capacity ring buffer per
//! channel for streaming (`no_std`, no allocation).
//!
//! Statistics are computed in f64 (two passes for the standard deviation) and rounded
//! to f32 once, so they agree with a float64 numpy reference to f32 precision even for
//! a signal with a large offset (e.g. gravity on an accelerometer axis).

use heapless::Deque;
use serde::{Deserialize, Serialize};

/// Largest window (samples) of the FFT band-energy feature; a power of two.
pub const MAX_FFT: usize = 256;

/// One per-channel window feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WindowFeature {
    /// `sum(v) / n`.
    Mean,
    /// Population standard deviation `sqrt(sum((v - mean)^2) / n)` (two-pass).
    Std,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// `sqrt(sum(v^2) / n)`.
    Rms,
    /// Peak to peak, `max - min`.
    Ptp,
    /// Number of `i` in `1..n` where `d[i-1] < 0` differs from `d[i] < 0`, with
    /// `d = v - mean` (a sample equal to the mean counts as non-negative).
    ZeroCrossings,
    /// `sum(|X[k]|^2 for k in lo..=hi) / n` where `X` is the DFT of the window
    /// (radix-2 FFT; `n` a power of two, at most [`MAX_FFT`]; `hi <= n / 2`).
    BandEnergy {
        /// First DFT bin.
        lo: u16,
        /// Last DFT bin (inclusive).
        hi: u16,
    },
}

impl WindowFeature {
    /// Whether the feature can be computed on windows of `n` samples.
    pub fn valid_for(&self, n: usize) -> bool {
        match *self {
            WindowFeature::BandEnergy { lo, hi } => {
                n.is_power_of_two()
                    && (2..=MAX_FFT).contains(&n)
                    && lo <= hi
                    && hi as usize <= n / 2
            }
            _ => n > 0,
        }
    }

    /// The feature of one channel's samples (NaN if any sample is NaN).
    pub fn compute(&self, v: &[f32]) -> f32 {
        if v.is_empty() || v.iter().any(|x| x.is_nan()) {
            return f32::NAN;
        }
        match *self {
            WindowFeature::Mean => mean(v) as f32,
            WindowFeature::Std => std(v) as f32,
            WindowFeature::Min => min(v),
            WindowFeature::Max => max(v),
            WindowFeature::Rms => rms(v) as f32,
            WindowFeature::Ptp => ptp(v),
            WindowFeature::ZeroCrossings => zero_crossings(v) as f32,
            WindowFeature::BandEnergy { lo, hi } => band_energy(v, lo as usize, hi as usize),
        }
    }

    /// Short name (`mean`, `std`, `min`, `max`, `rms`, `ptp`, `zc`, `band_LO_HI`) as
    /// used in `FEATURES.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            WindowFeature::Mean => "mean",
            WindowFeature::Std => "std",
            WindowFeature::Min => "min",
            WindowFeature::Max => "max",
            WindowFeature::Rms => "rms",
            WindowFeature::Ptp => "ptp",
            WindowFeature::ZeroCrossings => "zc",
            WindowFeature::BandEnergy { .. } => "band",
        }
    }
}

/// Mean in f64.
pub fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation (two-pass, f64).
pub fn std(v: &[f32]) -> f64 {
    let m = mean(v);
    let ss: f64 = v.iter().map(|&x| (x as f64 - m) * (x as f64 - m)).sum();
    libm::sqrt(ss / v.len().max(1) as f64)
}

/// Smallest value (`+inf` for an empty slice).
pub fn min(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::INFINITY, f32::min)
}

/// Largest value (`-inf` for an empty slice).
pub fn max(v: &[f32]) -> f32 {
    v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Root mean square (f64).
pub fn rms(v: &[f32]) -> f64 {
    libm::sqrt(v.iter().map(|&x| x as f64 * x as f64).sum::<f64>() / v.len().max(1) as f64)
}

/// Peak to peak.
pub fn ptp(v: &[f32]) -> f32 {
    max(v) - min(v)
}

/// Sign changes of the mean-removed signal (see [`WindowFeature::ZeroCrossings`]).
pub fn zero_crossings(v: &[f32]) -> u32 {
    let m = mean(v);
    let mut n = 0;
    for w in v.windows(2) {
        if ((w[0] as f64 - m) < 0.0) != ((w[1] as f64 - m) < 0.0) {
            n += 1;
        }
    }
    n
}

/// In-place iterative radix-2 FFT of `re`/`im` (length a power of two).
pub fn fft(re: &mut [f32], im: &mut [f32]) {
    let n = re.len().min(im.len());
    if n < 2 || !n.is_power_of_two() {
        return;
    }
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * core::f64::consts::PI / len as f64;
        for k in 0..len / 2 {
            let (wr, wi) = (
                libm::cos(ang * k as f64) as f32,
                libm::sin(ang * k as f64) as f32,
            );
            let mut s = 0;
            while s < n {
                let (a, b) = (s + k, s + k + len / 2);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                s += len;
            }
        }
        len *= 2;
    }
}

/// `sum(|X[k]|^2 for k in lo..=hi) / n` (see [`WindowFeature::BandEnergy`]); NaN when
/// the window is not a power of two up to [`MAX_FFT`].
pub fn band_energy(v: &[f32], lo: usize, hi: usize) -> f32 {
    let n = v.len();
    if lo > u16::MAX as usize
        || hi > u16::MAX as usize
        || !(WindowFeature::BandEnergy {
            lo: lo as u16,
            hi: hi as u16,
        })
        .valid_for(n)
    {
        return f32::NAN;
    }
    let mut re = [0f32; MAX_FFT];
    let mut im = [0f32; MAX_FFT];
    re[..n].copy_from_slice(v);
    fft(&mut re[..n], &mut im[..n]);
    let mut e = 0f64;
    for k in lo..=hi {
        e += re[k] as f64 * re[k] as f64 + im[k] as f64 * im[k] as f64;
    }
    (e / n as f64) as f32
}

/// A sliding window over `C` channels of `N` samples each, in fixed-capacity ring
/// buffers: [`push`](Self::push) one multi-channel sample at a time; it returns `true`
/// when a new window is ready (first after `N` samples, then every `hop` samples).
#[derive(Debug)]
pub struct WindowBuffer<const C: usize, const N: usize> {
    bufs: [Deque<f32, N>; C],
    hop: usize,
    since: usize,
    started: bool,
}

impl<const C: usize, const N: usize> WindowBuffer<C, N> {
    /// An empty buffer emitting a window every `hop` samples (`hop` 0 counts as 1).
    pub fn new(hop: usize) -> Self {
        WindowBuffer {
            bufs: core::array::from_fn(|_| Deque::new()),
            hop: hop.max(1),
            since: 0,
            started: false,
        }
    }

    /// Appends one sample (one value per channel), dropping the oldest when full.
    /// Returns whether a window is ready.
    pub fn push(&mut self, sample: [f32; C]) -> bool {
        for (b, v) in self.bufs.iter_mut().zip(sample) {
            if b.is_full() {
                b.pop_front();
            }
            let _ = b.push_back(v);
        }
        self.since += 1;
        let full = self.bufs.first().is_none_or(|b| b.is_full());
        if full && (!self.started || self.since >= self.hop) {
            self.started = true;
            self.since = 0;
            true
        } else {
            false
        }
    }

    /// Number of samples held (per channel).
    pub fn len(&self) -> usize {
        self.bufs.first().map_or(0, |b| b.len())
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        for b in self.bufs.iter_mut() {
            b.clear();
        }
        self.since = 0;
        self.started = false;
    }

    /// Copies the window, oldest sample first, channel-major (`C` × `N` values: the
    /// raw input of a [`StepOp::Window`](super::StepOp::Window) step). Returns
    /// `false` (and writes nothing) when `out` is not `C * N` long or the window is not full.
    pub fn window(&self, out: &mut [f32]) -> bool {
        if out.len() != C * N || self.len() != N {
            return false;
        }
        for (c, b) in self.bufs.iter().enumerate() {
            for (o, &v) in out[c * N..(c + 1) * N].iter_mut().zip(b.iter()) {
                *o = v;
            }
        }
        true
    }

    /// Computes `features` for every channel into `out` (channel-major, `C` ×
    /// `features.len()`); `false` when the window is not full or `out` has the wrong size.
    pub fn features(&self, features: &[WindowFeature], out: &mut [f32]) -> bool {
        if out.len() != C * features.len() || self.len() != N {
            return false;
        }
        let mut tmp = [0f32; N];
        for (c, b) in self.bufs.iter().enumerate() {
            for (t, &v) in tmp.iter_mut().zip(b.iter()) {
                *t = v;
            }
            for (f, o) in features.iter().zip(&mut out[c * features.len()..]) {
                *o = f.compute(&tmp);
            }
        }
        true
    }
}
