//! TreeEnsemble: ONNX-ML TreeEnsembleClassifier / TreeEnsembleRegressor over flat node
//! arrays (see [`crate::classic`]).

use super::common::{cast, cast_mut, ensure, gate, Check, Checked, Cx};
use crate::classic::{self, Node, NodeMode};
use crate::error::{OpReason, Result};
use crate::format::types::{Aggregate, DType, OpGroup, PostTransform};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Classic;

/// x `[B, F]` f32, nodes `[N, 4]` i32, roots `[R]` i32, leaf targets `[L]` i32, leaf
/// weights `[L]` f32, base `[T]` f32 (all but x constant); output `[B, T]` f32. Every
/// child index is strictly greater than its parent's (so a walk ends), every index is
/// in range and every value finite.
pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(6)?;
    let (x, out, ins) = (c.x, c.out, c.ins);
    ensure(
        x.dtype == DType::F32 && out.dtype == DType::F32,
        OpReason::DType,
    )?;
    ensure(x.shape.len() == 2 && out.shape.len() == 2, OpReason::Shape)?;
    let (Some(nodes), Some(roots), Some(ids), Some(ws), Some(base)) = (
        c.const_i32(&ins[1]),
        c.const_i32(&ins[2]),
        c.const_i32(&ins[3]),
        c.const_f32(&ins[4]),
        c.const_f32(&ins[5]),
    ) else {
        return Err(OpReason::NotConstant);
    };
    ensure(
        ins[1].shape.len() == 2 && ins[1].shape[1] == 4 && ins[2].shape.len() == 1,
        OpReason::Shape,
    )?;
    let (f, t) = (x.shape[1] as usize, base.len());
    ensure(
        out.shape.as_slice() == [x.shape[0], t as u32] && ids.len() == ws.len(),
        OpReason::Shape,
    )?;
    let n = nodes.len() / 4;
    ensure(
        ws.iter().chain(base).all(|v| v.is_finite())
            && ids.iter().all(|&i| i >= 0 && (i as usize) < t)
            && roots.iter().all(|&r| r >= 0 && (r as usize) < n),
        OpReason::ConstantData,
    )?;
    for (i, w) in nodes.chunks_exact(4).enumerate() {
        let node = Node::decode(w).ok_or(OpReason::ConstantData)?;
        let ok = if node.mode == NodeMode::Leaf {
            node.a as u64 + node.b as u64 <= ids.len() as u64
        } else {
            (node.feature as usize) < f
                && !node.threshold.is_nan()
                && node.a as usize > i
                && node.b as usize > i
                && (node.a as usize) < n
                && (node.b as usize) < n
        };
        ensure(ok, OpReason::ConstantData)?;
    }
    Ok(())
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    aggregate: Aggregate,
    post: PostTransform,
) -> Result<()> {
    cx.gate(GROUP)?;
    let f = *cx.x.shape().last().ok_or(cx.internal())? as usize;
    let batch = cx.x.elements / f.max(1);
    let trees = classic::Trees {
        nodes: cx.input(1)?,
        roots: cx.input(2)?,
        leaf_targets: cx.input(3)?,
        leaf_weights: cx.input(4)?,
        base: cx.input(5)?,
    };
    let x = cast(cx.bytes(&cx.x)?)?;
    classic::tree_ensemble(&trees, x, batch, f, aggregate, post, cast_mut(y)?);
    Ok(())
}
