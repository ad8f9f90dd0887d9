//! Validation done once by `Model::load`: after it passes, every kernel call the
//! executor makes has consistent shapes, in-bounds operands and valid parameters.
//!
//! This module checks the graph (tensors, graph inputs and outputs, the arena plan,
//! golden vectors, each op's operands); each op's own check is in its module under
//! `ops/`.

use crate::error::{Error, OpReason, Result};
use crate::format::types::{DType, Location, OpDef, Quant, TensorDef};
use crate::format::ALIGN;
use crate::graph::Graph;
use crate::ops::{self, Check};
use heapless::Vec as HVec;

mod plan;

type Operands<'a> = HVec<TensorDef<'a>, { crate::format::types::MAX_OP_INPUTS }>;

pub(crate) fn graph(m: &Graph<'_>) -> Result<()> {
    let n_ops = m.ops.len();
    let arena = m.io.arena_size as usize;
    for i in 0..m.tensors.len() {
        let t = m.tensors.get(i)?;
        tensor(m, i, &t, arena, n_ops)?;
    }
    graph_io(m, n_ops)?;
    for s in 0..n_ops {
        let op = m.ops.get(s)?;
        op_def(m, s, &op)?;
    }
    producers(m)?;
    // No two arena tensors alive at the same step share a byte (needs `producers`).
    plan::check(m)?;
    for g in 0..m.num_full_golden() {
        golden(m, g)?;
    }
    for g in m.num_full_golden()..m.num_golden() {
        golden_digest(m, g)?;
    }
    Ok(())
}

fn tensor(m: &Graph<'_>, i: u32, t: &TensorDef<'_>, arena: usize, n_ops: u32) -> Result<()> {
    let bad = Error::BadTensor { tensor: i };
    let len = t
        .byte_len()
        .filter(|&l| l <= u32::MAX as usize)
        .ok_or(bad)?;
    if t.shape.contains(&0) {
        return Err(bad);
    }
    match t.location {
        Location::Weights { offset } => {
            let end = (offset as usize).checked_add(len).ok_or(bad)?;
            if offset as usize % ALIGN != 0 || end > m.weights.len() {
                return Err(bad);
            }
        }
        Location::Arena {
            offset,
            first,
            last,
        } => {
            let end = (offset as usize).checked_add(len).ok_or(bad)?;
            if offset as usize % ALIGN != 0 || end > arena {
                return Err(Error::BadPlan { tensor: i });
            }
            if first > last || (n_ops > 0 && last >= n_ops) || t.dtype == DType::F16 {
                return Err(Error::BadPlan { tensor: i });
            }
        }
    }
    match t.quant {
        Quant::None => {}
        Quant::PerTensor { scale, zero_point } => {
            let (lo, hi) = t.dtype.qrange().ok_or(bad)?;
            if !(scale.is_finite() && scale > 0.0) || zero_point < lo || zero_point > hi {
                return Err(bad);
            }
        }
        Quant::PerChannel { axis, scales } => {
            let ch = *t.shape.get(axis as usize).ok_or(bad)? as usize;
            if !matches!(t.dtype, DType::I8 | DType::I32) {
                return Err(bad);
            }
            let sc = m.f32_table(scales, ch).ok_or(bad)?;
            if !sc.iter().all(|s| s.is_finite() && *s > 0.0) {
                return Err(bad);
            }
        }
    }
    Ok(())
}

fn graph_io(m: &Graph<'_>, n_ops: u32) -> Result<()> {
    if m.io.outputs.is_empty() {
        return Err(Error::BadSection {
            section: crate::Section::Graph,
        });
    }
    for &i in m.io.inputs.iter() {
        let t = m
            .tensors
            .get(i)
            .map_err(|_| Error::BadTensor { tensor: i })?;
        match t.location {
            Location::Arena { first: 0, .. } => {}
            _ => return Err(Error::BadPlan { tensor: i }),
        }
    }
    for &o in m.io.outputs.iter() {
        let t = m
            .tensors
            .get(o)
            .map_err(|_| Error::BadTensor { tensor: o })?;
        match t.location {
            Location::Arena { last, .. } if n_ops == 0 || last + 1 == n_ops => {}
            _ => return Err(Error::BadPlan { tensor: o }),
        }
    }
    Ok(())
}

/// Every arena tensor that is not a graph input is the output of the op at its `first`
/// step (so it is written before it is read).
fn producers(m: &Graph<'_>) -> Result<()> {
    for i in 0..m.tensors.len() {
        let t = m.tensors.get(i)?;
        if let Location::Arena { first, .. } = t.location {
            if m.io.inputs.contains(&i) {
                continue;
            }
            let op = m.ops.get(first).map_err(|_| Error::BadPlan { tensor: i })?;
            if !op.outputs.contains(&i) {
                return Err(Error::BadPlan { tensor: i });
            }
        }
    }
    Ok(())
}

/// A compact golden vector: one digest per output, every input generated (f32 / int8 /
/// uint8 arena tensors).
fn golden_digest(m: &Graph<'_>, g: u32) -> Result<()> {
    let bad = Error::Decode {
        section: crate::Section::Golden,
        index: g,
    };
    let v = m.golden_digest(g)?;
    if v.outputs.len() != m.io.outputs.len() {
        return Err(bad);
    }
    for i in 0..m.io.inputs.len() {
        let t = m.io_def(false, i)?;
        if !matches!(t.dtype, DType::F32 | DType::I8 | DType::U8) {
            return Err(bad);
        }
    }
    Ok(())
}

fn golden(m: &Graph<'_>, g: u32) -> Result<()> {
    let bad = Error::Decode {
        section: crate::Section::Golden,
        index: g,
    };
    let v = m.golden(g)?;
    if v.inputs.len() != m.io.inputs.len() || v.outputs.len() != m.io.outputs.len() {
        return Err(bad);
    }
    for (i, b) in v.inputs.iter().enumerate() {
        if Some(b.len()) != m.io_def(false, i)?.byte_len() {
            return Err(bad);
        }
    }
    for (i, b) in v.outputs.iter().enumerate() {
        if Some(b.len()) != m.io_def(true, i)?.byte_len() {
            return Err(bad);
        }
    }
    Ok(())
}

/// The graph-level facts of op `s` (operand indices, their lifetimes in the plan, one
/// output written at this step, the op's group in this build), then the op's own check
/// (`ops::check`). An output that is also an input fails the lifetime checks: the
/// input would be read at the step it is first written.
fn op_def(m: &Graph<'_>, s: u32, def: &OpDef) -> Result<()> {
    let bad = |reason| Error::BadOp { op: s, reason };
    let mut ins: Operands<'_> = HVec::new();
    for &i in def.inputs.iter() {
        let t = m.tensors.get(i).map_err(|_| bad(OpReason::Arity))?;
        if let Location::Arena { first, last, .. } = t.location {
            // Read before it is written, or after it is dead: the plan is wrong.
            let is_input = m.io.inputs.contains(&i);
            if !(first <= s && s <= last) || (first == s && !is_input) {
                return Err(Error::BadPlan { tensor: i });
            }
        }
        ins.push(t).map_err(|_| bad(OpReason::Arity))?;
    }
    if def.outputs.len() != 1 {
        return Err(bad(OpReason::Arity));
    }
    let o = def.outputs[0];
    let out = m.tensors.get(o).map_err(|_| bad(OpReason::Arity))?;
    match out.location {
        Location::Arena { first, .. } if first == s && !m.io.inputs.contains(&o) => {}
        _ => return Err(Error::BadPlan { tensor: o }),
    }
    if !def.op.groups_enabled(&ins) {
        return Err(Error::UnsupportedOp { op: s });
    }
    let x = ins.first().ok_or(bad(OpReason::Arity))?;
    let c = Check {
        graph: m,
        ins: &ins,
        x,
        out: &out,
    };
    ops::check(&def.op, &c).map_err(bad)
}
