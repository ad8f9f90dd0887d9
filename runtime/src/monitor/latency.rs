//! A log-linear latency histogram over u32 ticks: values 0..4 exactly, then four
//! buckets per power of two (each ≤ 25 % wide relative to its lower bound), 124
//! buckets for the whole u32 range.

/// Buckets of the latency histogram.
pub const BUCKETS: usize = 4 + 4 * 30;

/// The bucket of `v`.
#[inline]
pub fn bucket(v: u32) -> usize {
    if v < 4 {
        return v as usize;
    }
    let e = 31 - v.leading_zeros() as usize; // 2..=31
    let sub = ((v >> (e - 2)) & 3) as usize;
    4 * (e - 1) + sub
}

/// `[lower, upper)` of bucket `i` in ticks (upper as u64: the last bucket ends at 2^32).
pub fn bounds(i: usize) -> (u64, u64) {
    if i < 4 {
        return (i as u64, i as u64 + 1);
    }
    let e = i / 4 + 1;
    let sub = (i % 4) as u64;
    let width = 1u64 << (e - 2);
    let lower = (4 + sub) << (e - 2);
    (lower, lower + width)
}

/// The `q`-quantile (0..=1) of a histogram: the bucket holding rank `q · count`,
/// interpolated linearly inside it. 0 for an empty histogram.
pub fn quantile(hist: &[u32], q: f64) -> f64 {
    let total: u64 = hist.iter().map(|&c| c as u64).sum();
    if total == 0 {
        return 0.0;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if (below + c as u64) as f64 >= rank {
            let (lo, hi) = bounds(i);
            if hi - lo == 1 {
                return lo as f64;
            }
            let frac = ((rank - below as f64) / c as f64).clamp(0.0, 1.0);
            return lo as f64 + frac * (hi - lo) as f64;
        }
        below += c as u64;
    }
    bounds(hist.len().saturating_sub(1)).0 as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_u32_range() {
        let mut next = 0u64;
        for i in 0..BUCKETS {
            let (lo, hi) = bounds(i);
            assert_eq!(lo, next, "bucket {i}");
            assert!(hi > lo);
            assert_eq!(bucket(lo as u32), i);
            assert_eq!(bucket((hi - 1) as u32), i);
            next = hi;
        }
        assert_eq!(next, 1u64 << 32);
        assert_eq!(bucket(u32::MAX), BUCKETS - 1);
    }
}
