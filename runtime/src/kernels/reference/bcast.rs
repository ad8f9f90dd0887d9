//! Row-major walk over a broadcast output, shared by the element-wise binary kernels
//! and the batch dimensions of MatMul.

use crate::format::types::MAX_RANK;

/// Yields, for every element of an output of shape `shape` in row-major order, the
/// element offsets `(a, b)` of the two operands, given their per-output-axis strides
/// (0 on broadcast axes, see [`super::generic::broadcast_strides`]).
#[derive(Debug)]
pub(crate) struct Pairs {
    shape: [usize; MAX_RANK],
    sa: [usize; MAX_RANK],
    sb: [usize; MAX_RANK],
    idx: [usize; MAX_RANK],
    rank: usize,
    oa: usize,
    ob: usize,
    remaining: usize,
}

impl Pairs {
    /// `shape` beyond [`MAX_RANK`] axes is ignored (the loader rejects such ranks).
    pub(crate) fn new(shape: &[usize], sa: &[usize; MAX_RANK], sb: &[usize; MAX_RANK]) -> Self {
        let rank = shape.len().min(MAX_RANK);
        let mut s = [1; MAX_RANK];
        s[..rank].copy_from_slice(&shape[..rank]);
        Pairs {
            shape: s,
            sa: *sa,
            sb: *sb,
            idx: [0; MAX_RANK],
            rank,
            oa: 0,
            ob: 0,
            remaining: s[..rank].iter().product(),
        }
    }
}

impl Iterator for Pairs {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let out = (self.oa, self.ob);
        // Odometer step: the last axis varies fastest.
        for d in (0..self.rank).rev() {
            self.idx[d] += 1;
            self.oa += self.sa[d];
            self.ob += self.sb[d];
            if self.idx[d] < self.shape[d] {
                break;
            }
            self.oa -= self.sa[d] * self.shape[d];
            self.ob -= self.sb[d] * self.shape[d];
            self.idx[d] = 0;
        }
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
