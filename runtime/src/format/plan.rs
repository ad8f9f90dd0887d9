//! Arena planning (feature `write`): lifetimes from the op order, then a greedy
//! placement by decreasing size, as TFLM's `GreedyMemoryPlanner` does.
//! `Model::load` re-verifies every plan, so a wrong plan can never run.

use alloc::vec::Vec;

/// One arena tensor to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Bytes needed.
    pub size: usize,
    /// First step at which the tensor is alive (its producer; 0 for graph inputs).
    pub first: u32,
    /// Last step at which it is read (the last step for graph outputs).
    pub last: u32,
}

/// Offsets for each request (64-byte aligned for tensors of at least
/// [`WIDE_MIN`](super::WIDE_MIN) bytes, 16-byte aligned otherwise), and the arena size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Arena offset of each request, in request order.
    pub offsets: Vec<usize>,
    /// Bytes of arena the plan needs (16-byte aligned).
    pub arena_size: usize,
}

use super::{align_for, ALIGN};

fn align_to(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}

/// Greedy-by-size placement: largest tensors first, each at the lowest offset aligned
/// for its size ([`align_for`]) that does not overlap a placed tensor alive at the
/// same time.
pub fn plan(reqs: &[Request]) -> Plan {
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.sort_by(|&a, &b| {
        reqs[b]
            .size
            .cmp(&reqs[a].size)
            .then(reqs[a].first.cmp(&reqs[b].first))
    });
    let mut offsets = alloc::vec![0usize; reqs.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_size = 0;
    for &i in &order {
        let r = reqs[i];
        let a = align_for(r.size);
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| reqs[j].first <= r.last && r.first <= reqs[j].last)
            .map(|&j| (offsets[j], offsets[j] + reqs[j].size))
            .collect();
        busy.sort_unstable();
        let mut at = 0;
        for (s, e) in busy {
            if at + r.size <= s || r.size == 0 {
                break;
            }
            at = at.max(align_to(e, a));
        }
        offsets[i] = at;
        arena_size = arena_size.max(at + r.size);
        placed.push(i);
    }
    Plan {
        offsets,
        arena_size: align_to(arena_size, ALIGN),
    }
}

/// The lifetime `(first, last)` of every tensor from the op list (`(inputs, outputs)`
/// per op, in execution order): a tensor is alive from the op that writes it to the
/// last op that reads it; graph `inputs` from step 0, graph `outputs` until the last
/// step; `None` for a tensor no op writes and that is not a graph input (constants).
pub fn lifetimes(
    n_tensors: usize,
    ops: &[(Vec<u32>, Vec<u32>)],
    inputs: &[u32],
    outputs: &[u32],
) -> Vec<Option<(u32, u32)>> {
    let mut life: Vec<Option<(u32, u32)>> = alloc::vec![None; n_tensors];
    for &i in inputs {
        life[i as usize] = Some((0, 0));
    }
    for (s, (ins, outs)) in ops.iter().enumerate() {
        let s = s as u32;
        for &o in outs {
            life[o as usize] = Some((s, s));
        }
        for &i in ins {
            if let Some((_, last)) = life[i as usize].as_mut() {
                *last = (*last).max(s);
            }
        }
    }
    let last = ops.len().saturating_sub(1) as u32;
    for &o in outputs {
        if let Some(v) = life[o as usize].as_mut() {
            v.1 = last;
        }
    }
    life
}
