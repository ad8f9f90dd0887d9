//! A sliding window over multi-channel samples, in a fixed-capacity `heapless` ring.
//!
//! Samples arrive interleaved (one `[i16; CH]` per tick); the model wants them
//! channel-major (`[CH, N]`, C order). [`Window::push`] says when a window is complete:
//! first after `N` samples, then every `hop` samples, so window `k` covers samples
//! `k·hop .. k·hop + N` of the stream.

use heapless::HistoryBuf;

/// The last `N` samples of `CH` channels and the hop between windows.
#[derive(Debug)]
pub struct Window<const CH: usize, const N: usize> {
    ring: HistoryBuf<[i16; CH], N>,
    hop: usize,
    pushed: u64,
}

/// [`Window::new`] was given a hop that is not in `1..=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadHop {
    /// The hop given.
    pub hop: usize,
    /// The window length.
    pub len: usize,
}

impl<const CH: usize, const N: usize> Window<CH, N> {
    /// An empty window that completes every `hop` samples once full; `hop` must be in
    /// `1..=N` (no sample may be skipped).
    pub fn new(hop: usize) -> Result<Self, BadHop> {
        if hop == 0 || hop > N {
            return Err(BadHop { hop, len: N });
        }
        Ok(Window {
            ring: HistoryBuf::new(),
            hop,
            pushed: 0,
        })
    }

    /// Appends one sample (dropping the oldest when full). Returns `true` when the
    /// window is complete: after the `N`-th sample and every `hop` samples after that.
    pub fn push(&mut self, sample: [i16; CH]) -> bool {
        self.ring.write(sample);
        self.pushed += 1;
        self.pushed >= N as u64 && (self.pushed - N as u64) % self.hop as u64 == 0
    }

    /// Samples pushed since creation (or [`clear`](Self::clear)).
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Stream index of the oldest sample in the window (the window's start).
    pub fn start(&self) -> u64 {
        self.pushed - self.ring.len() as u64
    }

    /// Whether `N` samples are buffered.
    pub fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    /// The hop between windows.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Forgets every sample (e.g. after a sensor error, so no window mixes old and new
    /// data).
    pub fn clear(&mut self) {
        self.ring.clear();
        self.pushed = 0;
    }

    /// Writes the window channel-major into `out` (`out[c][i]` = channel `c` of the
    /// `i`-th oldest sample), converting each value with `f`. Returns `false` (and
    /// leaves `out` untouched) while the window is not full.
    pub fn write_channel_major<T>(&self, out: &mut [[T; N]; CH], f: impl Fn(i16) -> T) -> bool {
        if !self.is_full() {
            return false;
        }
        for (i, s) in self.ring.oldest_ordered().enumerate() {
            for (c, v) in s.iter().enumerate() {
                out[c][i] = f(*v);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i16) -> [i16; 3] {
        [t, 100 + t, -t]
    }

    #[test]
    fn hop_must_be_within_the_window() {
        assert_eq!(
            Window::<3, 4>::new(0).unwrap_err(),
            BadHop { hop: 0, len: 4 }
        );
        assert_eq!(
            Window::<3, 4>::new(5).unwrap_err(),
            BadHop { hop: 5, len: 4 }
        );
        assert!(Window::<3, 4>::new(4).is_ok());
    }

    #[test]
    fn completes_after_n_then_every_hop() {
        let mut w = Window::<3, 4>::new(2).unwrap();
        let ready: heapless::Vec<bool, 10> = (0..10).map(|t| w.push(sample(t))).collect();
        // Windows end at samples 4, 6, 8, 10 (1-based).
        assert_eq!(
            ready.as_slice(),
            &[false, false, false, true, false, true, false, true, false, true]
        );
        assert_eq!(w.start(), 6);
        assert_eq!(w.pushed(), 10);
    }

    #[test]
    fn assembles_channel_major_oldest_first() {
        let mut w = Window::<3, 4>::new(2).unwrap();
        let mut out = [[0i32; 4]; 3];
        for t in 0..3 {
            w.push(sample(t));
        }
        assert!(!w.write_channel_major(&mut out, i32::from), "not full yet");
        assert_eq!(out, [[0; 4]; 3]);
        for t in 3..6 {
            w.push(sample(t));
        }
        // Samples 2..6 after the ring wrapped.
        assert!(w.write_channel_major(&mut out, i32::from));
        assert_eq!(out, [[2, 3, 4, 5], [102, 103, 104, 105], [-2, -3, -4, -5]]);
        assert_eq!(w.start(), 2);
        // The flattened buffer is exactly the model's [1, 3, N] input in C order.
        assert_eq!(
            out.as_flattened(),
            &[2, 3, 4, 5, 102, 103, 104, 105, -2, -3, -4, -5]
        );
    }

    #[test]
    fn clear_restarts_the_schedule() {
        let mut w = Window::<1, 2>::new(1).unwrap();
        assert!(!w.push([1]));
        assert!(w.push([2]));
        w.clear();
        assert!(!w.is_full());
        assert!(!w.push([3]));
        assert!(w.push([4]));
        let mut out = [[0i16; 2]; 1];
        assert!(w.write_channel_major(&mut out, |v| v));
        assert_eq!(out, [[3, 4]]);
    }
}
