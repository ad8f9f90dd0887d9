//! The arena-plan check: no two arena tensors alive at the same step share a byte.
//!
//! By the time it runs, `Model::load` has checked that every arena tensor is a graph
//! input (alive from step 0) or the single output of the op at its `first` step. So the
//! arena tensors are born in a known order without sorting anything: the graph inputs,
//! then op 0's output, op 1's output, …, with non-decreasing `first`. A sweep over that
//! order keeps the tensors still alive (a *live set*) ordered by offset; those are
//! pairwise disjoint (each was checked against the others when it was born), so a
//! newborn tensor overlaps one of them exactly when it overlaps the live tensor with
//! the largest offset below its end: one ordered lookup per tensor.
//!
//! The live set is a `BTreeMap` with an expiry heap when the `alloc` feature is on
//! (O(n log n) for n arena tensors, whatever the plan), and a sorted array of
//! [`STACK_LIVE`] entries on the stack without an allocator. When more tensors are
//! alive at once than the array holds, the sweep runs again for the tensors it could
//! not keep (windows of at most [`STACK_LIVE`] births, each checked against every
//! tensor born after it), so the check stays exact: O(n log n) while the live set fits,
//! at worst n / [`STACK_LIVE`] passes of O(n log n) each.

use crate::error::{Error, Result};
use crate::format::types::{Location, Op, TensorDef};
use crate::graph::Graph;

/// Entries of the allocator-free live set (20 bytes each: 640 bytes of stack during load).
/// Real models keep far fewer arena tensors alive at one step.
#[cfg(any(not(feature = "alloc"), test))]
pub(crate) const STACK_LIVE: usize = 32;

/// One arena tensor: bytes `offset..end` alive over steps `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) tensor: u32,
    pub(crate) offset: u32,
    pub(crate) end: u32,
    pub(crate) first: u32,
    pub(crate) last: u32,
}

/// The arena tensors alive at the sweep's current step, pairwise disjoint.
pub(crate) trait LiveSet {
    fn clear(&mut self);
    fn is_empty(&self) -> bool;
    /// Drops the tensors dead at `step` (`last < step`).
    fn expire(&mut self, step: u32);
    /// A live tensor sharing a byte with `offset..end`.
    fn conflict(&self, offset: u32, end: u32) -> Option<u32>;
    /// Adds `s` (checked by [`conflict`](Self::conflict) first); false when full.
    fn insert(&mut self, s: Span) -> bool;
}

pub(crate) fn check(m: &Graph<'_>) -> Result<()> {
    #[cfg(feature = "alloc")]
    let mut live = HeapLive::default();
    #[cfg(not(feature = "alloc"))]
    let mut live = StackLive::<STACK_LIVE>::default();
    check_with(m, &mut live)
}

/// [`check`] with a given live set.
pub(crate) fn check_with(m: &Graph<'_>, live: &mut impl LiveSet) -> Result<()> {
    let n_in = m.io.inputs.len();
    let births = n_in + m.ops.len() as usize;
    let birth = |k: usize| -> Result<Option<(Span, u32)>> {
        let (i, x) = if k < n_in {
            let i = m.io.inputs[k];
            // A tensor listed twice as a graph input is one tensor.
            if m.io.inputs[..k].contains(&i) {
                return Ok(None);
            }
            (i, NONE)
        } else {
            let op = m.ops.get((k - n_in) as u32)?;
            match (op.outputs.first(), op.inputs.first()) {
                (Some(&o), Some(&x)) if op.op == Op::Reshape => (o, x),
                (Some(&o), _) => (o, NONE),
                _ => return Ok(None),
            }
        };
        let t = m.tensors.get(i)?;
        let Location::Arena {
            offset,
            first,
            last,
        } = t.location
        else {
            return Ok(None);
        };
        // A Reshape in place (format 1.7): its output on its arena input's offset.
        // The op check gave both the same length, so they are the same bytes.
        let x = match (x != NONE).then(|| m.tensors.get(x)).transpose()? {
            Some(TensorDef {
                location: Location::Arena { offset: at, .. },
                ..
            }) if at == offset => x,
            _ => NONE,
        };
        // `tensor()` checked offset + length <= arena_size (a u32).
        let len = t.byte_len().unwrap_or(0) as u32;
        Ok(Some((
            Span {
                tensor: i,
                offset,
                end: offset.saturating_add(len),
                first,
                last,
            },
            x,
        )))
    };
    sweep(births, birth, live)
}

/// No tensor (a table holds fewer than `u32::MAX`).
const NONE: u32 = u32::MAX;

/// Checks the `n` births in order (`birth(k)`: `None` for a birth that is not a new
/// arena tensor, else its span and the tensor whose bytes it may share exactly — the
/// input of a Reshape in place — or [`NONE`]), `first` non-decreasing. Each pass keeps
/// the births from `start` on until the live set is full, and checks every later birth
/// against them.
///
/// A Reshape in place copies nothing and no op writes into its bytes while it or its
/// input is alive (a later birth on them conflicts with one of the two), so the two
/// may be alive together. The live tensors are then pairwise disjoint or the same
/// bytes, and a newborn tensor that meets one of them meets the one found by
/// `conflict`: its sharing is admitted only when that one is its own Reshape input.
pub(crate) fn sweep(
    n: usize,
    birth: impl Fn(usize) -> Result<Option<(Span, u32)>>,
    live: &mut impl LiveSet,
) -> Result<()> {
    let mut start = 0;
    while start < n {
        live.clear();
        let mut end = n;
        for k in start..n {
            let Some((b, shares)) = birth(k)? else {
                continue;
            };
            live.expire(b.first);
            if k >= end && live.is_empty() {
                // The window is closed and all it kept is dead: nothing left to check.
                break;
            }
            if let Some(a) = live.conflict(b.offset, b.end).filter(|&a| a != shares) {
                return Err(Error::BadPlan {
                    tensor: a.max(b.tensor),
                });
            }
            if k < end && !live.insert(b) {
                end = k;
            }
        }
        start = end;
    }
    Ok(())
}

/// Sorted-array live set of at most `N` tensors.
#[cfg(any(not(feature = "alloc"), test))]
#[derive(Debug)]
pub(crate) struct StackLive<const N: usize> {
    spans: heapless::Vec<Span, N>,
    min_last: u32,
}

#[cfg(any(not(feature = "alloc"), test))]
impl<const N: usize> Default for StackLive<N> {
    fn default() -> Self {
        StackLive {
            spans: heapless::Vec::new(),
            min_last: u32::MAX,
        }
    }
}

#[cfg(any(not(feature = "alloc"), test))]
impl<const N: usize> LiveSet for StackLive<N> {
    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn clear(&mut self) {
        self.spans.clear();
        self.min_last = u32::MAX;
    }

    fn expire(&mut self, step: u32) {
        if self.min_last < step {
            self.spans.retain(|s| s.last >= step);
            self.min_last = self.spans.iter().map(|s| s.last).min().unwrap_or(u32::MAX);
        }
    }

    fn conflict(&self, offset: u32, end: u32) -> Option<u32> {
        let below = self.spans.partition_point(|s| s.offset < end);
        let s = self.spans.get(below.checked_sub(1)?)?;
        (s.end > offset).then_some(s.tensor)
    }

    fn insert(&mut self, s: Span) -> bool {
        let at = self
            .spans
            .partition_point(|x| (x.offset, x.end) < (s.offset, s.end));
        // push + swaps instead of `Vec::insert`: its `ptr::copy` is the only memmove
        // a no_std build links (1.6 KB of flash on thumbv7em); N is small.
        if self.spans.push(s).is_err() {
            return false;
        }
        for k in (at + 1..self.spans.len()).rev() {
            self.spans.swap(k, k - 1);
        }
        self.min_last = self.min_last.min(s.last);
        true
    }
}

/// A live tensor's key: offset, end, then the tensor, which makes keys unique.
#[cfg(feature = "alloc")]
type Key = (u32, u32, u32);

/// `BTreeMap` live set ordered like the sorted array, with a min-heap of `(last, key)`
/// for expiry.
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub(crate) struct HeapLive {
    by_offset: alloc::collections::BTreeMap<Key, u32>,
    by_last: alloc::collections::BinaryHeap<core::cmp::Reverse<(u32, Key)>>,
}

#[cfg(feature = "alloc")]
impl LiveSet for HeapLive {
    fn is_empty(&self) -> bool {
        self.by_offset.is_empty()
    }

    fn clear(&mut self) {
        self.by_offset.clear();
        self.by_last.clear();
    }

    fn expire(&mut self, step: u32) {
        while let Some(&core::cmp::Reverse((last, key))) = self.by_last.peek() {
            if last >= step {
                break;
            }
            self.by_last.pop();
            self.by_offset.remove(&key);
        }
    }

    fn conflict(&self, offset: u32, end: u32) -> Option<u32> {
        let (&(_, e, tensor), _) = self.by_offset.range(..(end, 0, 0)).next_back()?;
        (e > offset).then_some(tensor)
    }

    fn insert(&mut self, s: Span) -> bool {
        let key = (s.offset, s.end, s.tensor);
        self.by_offset.insert(key, s.last);
        self.by_last.push(core::cmp::Reverse((s.last, key)));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The pairwise rule, as `Model::load` checked it before: every pair of tensors
    /// alive at a common step must not share a byte. The conflicting pairs, as
    /// `max(tensor)` of each.
    fn naive(spans: &[Span]) -> Vec<u32> {
        let mut bad = Vec::new();
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                let live_together = a.first <= b.last && b.first <= a.last;
                let overlap = a.offset < b.end && b.offset < a.end;
                if live_together && overlap {
                    bad.push(a.tensor.max(b.tensor));
                }
            }
        }
        bad
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as u32
        }
    }

    /// Births in the order `check` produces them: a few graph inputs at step 0, then
    /// one tensor per step. Tensor numbers are a permutation, as in a file.
    fn random_plan(r: &mut Rng, valid: bool) -> Vec<Span> {
        let n_in = 1 + r.below(3);
        let n = n_in + r.below(40);
        let steps = n - n_in + 1;
        let long = r.below(4); // how long tensors stay alive
        let mut spans: Vec<Span> = Vec::new();
        for k in 0..n {
            let first = k.saturating_sub(n_in - 1).min(steps - 1);
            let last = (first + r.below(2 + long * 6)).min(steps - 1);
            let len = match r.below(10) {
                0 => 0,
                1..=6 => 16 * (1 + r.below(4)),
                _ => 1 + r.below(70),
            };
            let mut offset = 16 * r.below(24);
            if valid {
                // First fit among the tensors alive at the same time.
                offset = 0;
                let mut busy: Vec<(u32, u32)> = spans
                    .iter()
                    .filter(|s| s.first <= last && first <= s.last)
                    .map(|s| (s.offset, s.end))
                    .collect();
                busy.sort_unstable();
                for (o, e) in busy {
                    if offset + len <= o && !(offset < o && len == 0) {
                        break;
                    }
                    offset = offset.max(e.div_ceil(16) * 16);
                }
            }
            spans.push(Span {
                tensor: (k * 7 + 3) % n + r.below(2) * n,
                offset,
                end: offset + len,
                first,
                last,
            });
        }
        if valid && r.below(2) == 0 {
            // One tensor moved: sometimes onto a neighbour, sometimes harmlessly.
            let k = r.below(n) as usize;
            let len = spans[k].end - spans[k].offset;
            spans[k].offset = 16 * r.below(16);
            spans[k].end = spans[k].offset + len;
        }
        spans
    }

    fn run(spans: &[Span], live: &mut impl LiveSet) -> Result<()> {
        sweep(spans.len(), |k| Ok(Some((spans[k], NONE))), live)
    }

    #[test]
    fn the_sweep_gives_the_pairwise_verdict_on_random_plans() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut rejected) = (0, 0);
        for case in 0..20_000 {
            let spans = random_plan(&mut r, case % 3 != 0);
            let bad = naive(&spans);
            let verdicts = [
                run(&spans, &mut HeapLive::default()),
                run(&spans, &mut StackLive::<STACK_LIVE>::default()),
                run(&spans, &mut StackLive::<1>::default()),
                run(&spans, &mut StackLive::<2>::default()),
                run(&spans, &mut StackLive::<5>::default()),
            ];
            for v in verdicts {
                match v {
                    Ok(()) => assert!(bad.is_empty(), "case {case}: accepted {spans:?}"),
                    Err(Error::BadPlan { tensor }) => assert!(
                        bad.contains(&tensor),
                        "case {case}: tensor {tensor} is in no conflicting pair {bad:?}: {spans:?}"
                    ),
                    Err(e) => panic!("case {case}: {e:?}"),
                }
            }
            if bad.is_empty() {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
        // Both verdicts are exercised in quantity.
        assert!(
            accepted > 5_000 && rejected > 5_000,
            "{accepted} / {rejected}"
        );
    }

    #[test]
    fn a_zero_length_span_overlaps_only_a_span_it_lies_strictly_inside() {
        let span = |tensor, offset, end| Span {
            tensor,
            offset,
            end,
            first: 0,
            last: 0,
        };
        for (other, clash) in [
            (span(1, 16, 48), true),
            (span(1, 32, 48), false),
            (span(1, 0, 32), false),
            (span(1, 32, 32), false),
        ] {
            let spans = [span(0, 32, 32), other];
            assert_eq!(!naive(&spans).is_empty(), clash, "{other:?}");
            assert_eq!(run(&spans, &mut HeapLive::default()).is_err(), clash);
            assert_eq!(run(&spans, &mut StackLive::<1>::default()).is_err(), clash);
            assert_eq!(run(&spans, &mut StackLive::<4>::default()).is_err(), clash);
        }
    }

    /// A valid model of `n` one-element f32 ops: a chain (`wide` false: two tensors
    /// alive at a time), or `n / 2` Relus of the input each added into a running sum by
    /// the other half (`wide`: up to `n / 2` tensors alive together).
    fn many_ops(n: usize, wide: bool) -> Vec<u8> {
        use crate::format::types::{Activation, BinaryOp, DType, Op, Quant, UnaryOp};
        let mut m = crate::format::write::ModelBuilder::new("many_ops");
        let t = |m: &mut crate::format::write::ModelBuilder, k: usize| {
            m.add_tensor(&alloc::format!("t{k}"), DType::F32, &[1], Quant::None)
                .unwrap()
        };
        let relu = Op::Unary { op: UnaryOp::Relu };
        let add = Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: None,
        };
        let x = t(&mut m, 0);
        let mut last = x;
        if wide {
            let half: Vec<u32> = (1..=n / 2)
                .map(|k| {
                    let y = t(&mut m, k);
                    m.add_op(relu.clone(), &[x], &[y]).unwrap();
                    y
                })
                .collect();
            last = half[0];
            for (k, &h) in half.iter().enumerate().skip(1) {
                let y = t(&mut m, n / 2 + k);
                m.add_op(add.clone(), &[last, h], &[y]).unwrap();
                last = y;
            }
        } else {
            for k in 1..=n {
                let y = t(&mut m, k);
                m.add_op(relu.clone(), &[last], &[y]).unwrap();
                last = y;
            }
        }
        m.set_io(&[x], &[last]).unwrap();
        m.finish().unwrap()
    }

    /// Load time of 16,000-op models (the pairwise check took 45 s for the chain):
    /// `cargo test --release -p ferrite --lib load_time_of_16k_op_plans -- --ignored
    /// --nocapture`. Prints times; speed is measured here, not asserted.
    #[test]
    #[ignore = "prints timings; run in release"]
    fn load_time_of_16k_op_plans() {
        use std::time::Instant;
        for wide in [false, true] {
            let bytes = many_ops(16_000, wide);
            let a = crate::AlignedModel::new(&bytes);
            let t0 = Instant::now();
            let model = a.model().unwrap();
            let load = t0.elapsed();
            let t0 = Instant::now();
            check_with(&model.graph, &mut HeapLive::default()).unwrap();
            let heap = t0.elapsed();
            let t0 = Instant::now();
            check_with(&model.graph, &mut StackLive::<STACK_LIVE>::default()).unwrap();
            let stack = t0.elapsed();
            std::println!(
                "{} ({} KB): Model::load {load:?}; plan check: BTreeMap {heap:?}, \
                 {STACK_LIVE}-entry stack array {stack:?}",
                if wide { "wide, 8,000 alive" } else { "chain" },
                bytes.len() / 1000
            );
        }
    }
}
