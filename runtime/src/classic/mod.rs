//! Classical models as native ops: ONNX-ML linear models, tree ensembles and the
//! row normalizer, in f32 (`no_std`, no allocation).
//!
//! # Tree storage
//! A tree ensemble is stored as flat arrays (all little-endian, in the weights section):
//!
//! - **nodes** `[N, 4]` i32 — 16 bytes per node, see [`Node`]:
//!   `word0` = feature index (bits 0..28) | mode (bits 28..31, [`NodeMode`]) |
//!   missing-tracks-true flag (bit 31); `word1` = threshold (f32 bits);
//!   branch: `word2` / `word3` = node index of the true / false child;
//!   leaf: `word2` = first leaf entry, `word3` = number of leaf entries.
//! - **roots** `[R]` i32 — the root node of every tree.
//! - **leaf targets** `[L]` i32 and **leaf weights** `[L]` f32 — 8 bytes per leaf entry:
//!   the class / target a leaf adds to and the value it adds.
//! - **base values** `[T]` f32 — added to every target after aggregation.
//!
//! `Model::load` checks that every child index is strictly greater than its parent's
//! index (so every walk ends after at most `N` steps), that every index is in range
//! and every value finite, so the kernels never fail.

use crate::format::types::{Aggregate, Norm, PostTransform};
use crate::kernels::FullyConnectedParams;

/// Mode of a tree node (3 bits in `word0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NodeMode {
    /// A leaf: `a`, `b` are its first leaf entry and their number.
    Leaf = 0,
    /// True branch when `x <= threshold`.
    BranchLeq = 1,
    /// True branch when `x < threshold`.
    BranchLt = 2,
    /// True branch when `x >= threshold`.
    BranchGte = 3,
    /// True branch when `x > threshold`.
    BranchGt = 4,
    /// True branch when `x == threshold`.
    BranchEq = 5,
    /// True branch when `x != threshold`.
    BranchNeq = 6,
}

impl NodeMode {
    /// The mode of code `c`, `None` for an unknown code.
    pub fn from_code(c: u32) -> Option<NodeMode> {
        Some(match c {
            0 => NodeMode::Leaf,
            1 => NodeMode::BranchLeq,
            2 => NodeMode::BranchLt,
            3 => NodeMode::BranchGte,
            4 => NodeMode::BranchGt,
            5 => NodeMode::BranchEq,
            6 => NodeMode::BranchNeq,
            _ => return None,
        })
    }
}

/// Largest feature index a tree node can address (28 bits).
pub const MAX_TREE_FEATURE: u32 = (1 << 28) - 1;
/// Bytes of one stored node.
pub const NODE_BYTES: usize = 16;
/// Bytes of one stored leaf entry (target i32 + weight f32).
pub const LEAF_ENTRY_BYTES: usize = 8;

/// One decoded tree node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    /// Leaf or branch comparison.
    pub mode: NodeMode,
    /// Branch: the input column compared (at most [`MAX_TREE_FEATURE`]).
    pub feature: u32,
    /// Branch: the value compared with, in the feature's own domain.
    pub threshold: f32,
    /// NaN input takes the true branch (otherwise NaN compares false, except NEQ).
    pub missing_true: bool,
    /// Branch: true child. Leaf: first leaf entry.
    pub a: u32,
    /// Branch: false child. Leaf: number of leaf entries.
    pub b: u32,
}

impl Node {
    /// The four stored words.
    pub fn encode(&self) -> [i32; 4] {
        let w0 = (self.feature & MAX_TREE_FEATURE)
            | ((self.mode as u32) << 28)
            | if self.missing_true { 1 << 31 } else { 0 };
        [
            w0 as i32,
            self.threshold.to_bits() as i32,
            self.a as i32,
            self.b as i32,
        ]
    }

    /// Decodes four stored words; `None` for an unknown mode.
    pub fn decode(w: &[i32]) -> Option<Node> {
        let w0 = *w.first()? as u32;
        Some(Node {
            mode: NodeMode::from_code((w0 >> 28) & 7)?,
            feature: w0 & MAX_TREE_FEATURE,
            threshold: f32::from_bits(*w.get(1)? as u32),
            missing_true: w0 >> 31 != 0,
            a: *w.get(2)? as u32,
            b: *w.get(3)? as u32,
        })
    }

    /// Whether an input value takes the true branch.
    #[inline]
    pub fn goes_true(&self, x: f32) -> bool {
        if x.is_nan() && self.missing_true {
            return true;
        }
        let t = self.threshold;
        match self.mode {
            NodeMode::BranchLeq => x <= t,
            NodeMode::BranchLt => x < t,
            NodeMode::BranchGte => x >= t,
            NodeMode::BranchGt => x > t,
            NodeMode::BranchEq => x == t,
            NodeMode::BranchNeq => x != t,
            NodeMode::Leaf => false,
        }
    }
}

/// Applies a post transform to one row of scores in place.
pub fn post_transform(post: PostTransform, row: &mut [f32]) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => {
            for v in row.iter_mut() {
                *v = logistic(*v);
            }
        }
        PostTransform::Softmax => softmax(row, false),
        PostTransform::SoftmaxZero => softmax(row, true),
    }
}

fn logistic(v: f32) -> f32 {
    // Symmetric form: no overflow of exp for large |v|.
    if v >= 0.0 {
        1.0 / (1.0 + libm::expf(-v))
    } else {
        let e = libm::expf(v);
        e / (1.0 + e)
    }
}

fn softmax(row: &mut [f32], skip_zero: bool) {
    let mut max = f32::NEG_INFINITY;
    for &v in row.iter() {
        if !(skip_zero && v == 0.0) && v > max {
            max = v;
        }
    }
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        if skip_zero && *v == 0.0 {
            continue;
        }
        *v = libm::expf(*v - max);
        sum += *v;
    }
    if sum > 0.0 {
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// `y[b, n] = post(sum_k x[b, k] * w[n, k] + bias[n])` (accumulated in f32 in `k` order),
/// `x` `[p.batch, p.k]`, `w` `[p.n, p.k]`, `bias` `[p.n]`, `y` `[p.batch, p.n]`.
pub fn linear(
    p: &FullyConnectedParams,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    post: PostTransform,
    y: &mut [f32],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    for b in 0..batch {
        let (Some(xr), Some(yr)) = (x.get(b * k..(b + 1) * k), y.get_mut(b * n..(b + 1) * n))
        else {
            return;
        };
        for (j, out) in yr.iter_mut().enumerate() {
            let wr = w.get(j * k..(j + 1) * k).unwrap_or(&[]);
            let mut acc = 0.0f32;
            for (a, c) in xr.iter().zip(wr) {
                acc += a * c;
            }
            *out = acc + bias.get(j).copied().unwrap_or(0.0);
        }
        post_transform(post, yr);
    }
}

/// The arrays of a tree ensemble (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Trees<'t> {
    /// Four words per node (see [`Node`]).
    pub nodes: &'t [i32],
    /// The root node of every tree.
    pub roots: &'t [i32],
    /// The target each leaf entry adds to.
    pub leaf_targets: &'t [i32],
    /// The value each leaf entry adds.
    pub leaf_weights: &'t [f32],
    /// Added to every target after aggregation.
    pub base: &'t [f32],
}

/// Scores of a tree ensemble: `y[b, t] = post(base[t] + aggregate over trees of the
/// leaf entries for target t)`; accumulation in f64. With `Min`/`Max`, a target no leaf
/// reached gets only its base value.
pub fn tree_ensemble(
    trees: &Trees<'_>,
    x: &[f32],
    batch: usize,
    features: usize,
    aggregate: Aggregate,
    post: PostTransform,
    y: &mut [f32],
) {
    let t = trees.base.len();
    let n_nodes = trees.nodes.len() / 4;
    const CHUNK: usize = 64;
    for b in 0..batch {
        let (Some(xr), Some(yr)) = (
            x.get(b * features..(b + 1) * features),
            y.get_mut(b * t..(b + 1) * t),
        ) else {
            return;
        };
        // Targets are processed in chunks of 64 so the accumulators stay on the stack.
        let mut c0 = 0;
        while c0 < t {
            let c1 = (c0 + CHUNK).min(t);
            let mut acc = [0f64; CHUNK];
            let mut hit = [false; CHUNK];
            for &root in trees.roots {
                let mut i = root as usize;
                // Children are strictly after their parent (checked at load).
                let mut steps = 0;
                let node = loop {
                    let Some(node) = trees.nodes.get(4 * i..4 * i + 4).and_then(Node::decode)
                    else {
                        break None;
                    };
                    if node.mode == NodeMode::Leaf || steps > n_nodes {
                        break Some(node);
                    }
                    let v = xr.get(node.feature as usize).copied().unwrap_or(f32::NAN);
                    i = if node.goes_true(v) { node.a } else { node.b } as usize;
                    steps += 1;
                };
                let Some(leaf) = node else { continue };
                let (s, e) = (leaf.a as usize, leaf.a as usize + leaf.b as usize);
                let ids = trees.leaf_targets.get(s..e).unwrap_or(&[]);
                let ws = trees.leaf_weights.get(s..e).unwrap_or(&[]);
                for (&id, &w) in ids.iter().zip(ws) {
                    let id = id as usize;
                    if id < c0 || id >= c1 {
                        continue;
                    }
                    let (a, h) = (&mut acc[id - c0], &mut hit[id - c0]);
                    let w = w as f64;
                    *a = match aggregate {
                        Aggregate::Sum | Aggregate::Average => *a + w,
                        Aggregate::Min if *h => a.min(w),
                        Aggregate::Max if *h => a.max(w),
                        Aggregate::Min | Aggregate::Max => w,
                    };
                    *h = true;
                }
            }
            let n_trees = trees.roots.len().max(1) as f64;
            for c in c0..c1 {
                let mut v = acc[c - c0];
                if aggregate == Aggregate::Average {
                    v /= n_trees;
                }
                yr[c] = (v + trees.base.get(c).copied().unwrap_or(0.0) as f64) as f32;
            }
            c0 = c1;
        }
        post_transform(post, yr);
    }
}

/// Normalizes every row of `cols` values (rows with a zero norm are left unchanged,
/// as scikit-learn does; NaN propagates).
pub fn normalize(norm: Norm, x: &[f32], cols: usize, y: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        yr.copy_from_slice(xr);
        normalize_in_place(norm, yr);
    }
}

/// [`normalize`] of one row in place.
pub fn normalize_in_place(norm: Norm, row: &mut [f32]) {
    let n = match norm {
        Norm::L1 => row.iter().map(|v| libm::fabsf(*v)).sum::<f32>(),
        Norm::L2 => libm::sqrtf(row.iter().map(|v| v * v).sum::<f32>()),
        Norm::Max => row.iter().fold(0.0f32, |m, v| {
            if v.is_nan() {
                f32::NAN
            } else {
                m.max(libm::fabsf(*v))
            }
        }),
    };
    if n != 0.0 {
        for v in row.iter_mut() {
            *v /= n;
        }
    }
}
