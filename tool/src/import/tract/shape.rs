//! Graph inputs and data movement:
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | (graph input) | `TypedSource` | graph input (f32) |
//! | Reshape, Flatten, Squeeze, Unsqueeze | `AxisOp` | `Reshape` |
//! | Transpose | `AxisOp::Move` | `Transpose` |
//! | Concat | `TypedConcat` | `Concat` (groups of 8 inputs) |
//! | Pad (constant) | `Pad` | `Pad` |
//! | Cast (between f32/i32/i64) | `Cast` | `Cast` |
//! | Expand | `MultiBroadcastTo` | `Binary Add` with zeros |
//! | Slice (static), Split | `Slice` | `Slice` |
//! | Slice with steps, strided convolutions' subsampling | `Downsample` | `Slice` |
//! | Gather with constant indices (at most 8 runs in arithmetic progression) | `Gather` | `Slice` per run (+ `Concat`, `Reshape`) |
//! | Dropout, Identity | removed (or `Identity`) | — |

use super::lower::{tensor_f32, tensor_i64, Lower, Outcome};
use crate::error::{Error, Result};
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, BinaryOp, Op};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::array::{
    Gather, MultiBroadcastTo, Pad, PadMode, Slice, TypedConcat,
};
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_core::ops::Downsample;

type Starts = heapless::Vec<i32, { ferrite::format::types::MAX_RANK }>;

fn rank_err() -> Error {
    Error::Other("rank too large".into())
}

/// `TypedSource`, `AxisOp`, `TypedConcat`, `Pad`, `Cast`, `MultiBroadcastTo`, `Slice`,
/// `Downsample`, `Gather`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let o = l.out(node);
    if node.op_is::<TypedSource>() {
        let shape = l.shape(o)?;
        if l.dtype(o)? != DType::F32 {
            return Ok(Outcome::Unsupported);
        }
        // Listed in `g.inputs` by `run`, in the graph's declared order.
        let t = l.g.add_tensor(&node.name, &shape, DType::F32);
        l.map.insert(o, t);
        return Ok(Outcome::Lowered);
    }
    if let Some(s) = node.op_as::<Slice>() {
        let Ok(start) = s.start.to_usize() else {
            return Ok(Outcome::Unsupported);
        };
        if s.end.to_usize().is_err() {
            return Ok(Outcome::Unsupported);
        }
        let x = l.value(node.inputs[0])?;
        return l
            .slice_axis(node, x, s.axis, start as i64, 1)
            .map(Outcome::from);
    }
    if let Some(d) = node.op_as::<Downsample>() {
        let x = l.value(node.inputs[0])?;
        let n = l.g.tensors[x].shape.get(d.axis).copied().unwrap_or(0) as i64;
        let start = if d.stride > 0 { d.modulo as i64 } else { n - 1 };
        return l
            .slice_axis(node, x, d.axis, start, d.stride as i64)
            .map(Outcome::from);
    }
    if let Some(g) = node.op_as::<Gather>() {
        return l.gather(node, g.axis).map(Outcome::from);
    }
    if let Some(a) = node.op_as::<AxisOp>() {
        let x = l.value(node.inputs[0])?;
        let op = match a {
            AxisOp::Move(from, to) => {
                let r = l.g.tensors[x].shape.len();
                let mut perm: Vec<usize> = (0..r).collect();
                let v = perm.remove(*from);
                perm.insert(*to, v);
                Op::Transpose {
                    perm: heapless::Vec::from_slice(
                        &perm.iter().map(|&p| p as u8).collect::<Vec<_>>(),
                    )
                    .map_err(|_| Error::Other("rank too large".into()))?,
                }
            }
            _ => Op::Reshape,
        };
        l.emit(node, op, &[x])?;
        return Ok(Outcome::Lowered);
    }
    if let Some(c) = node.op_as::<TypedConcat>() {
        let mut ins = Vec::new();
        for i in &node.inputs {
            ins.push(l.value(*i)?);
        }
        let axis = c.axis;
        // The format caps an op's inputs: concatenate in groups.
        while ins.len() > ferrite::format::types::MAX_OP_INPUTS {
            let group: Vec<TId> = ins.drain(..ferrite::format::types::MAX_OP_INPUTS).collect();
            let mut shape = l.g.tensors[group[0]].shape.clone();
            shape[axis] = group.iter().map(|&t| l.g.tensors[t].shape[axis]).sum();
            let dt = l.g.tensors[group[0]].dtype;
            let t = l.g.add_node(
                &format!("{}.part", node.name),
                Op::Concat { axis: axis as u8 },
                &group,
                &shape,
                dt,
            );
            ins.insert(0, t);
        }
        l.emit(node, Op::Concat { axis: axis as u8 }, &ins)?;
        return Ok(Outcome::Lowered);
    }
    if let Some(p) = node.op_as::<Pad>() {
        let PadMode::Constant(v) = &p.mode else {
            return Ok(Outcome::Unsupported);
        };
        let value = tensor_f32(v)?.first().copied().unwrap_or(0.0);
        let x = l.value(node.inputs[0])?;
        let mut pads: heapless::Vec<u32, { 2 * ferrite::format::types::MAX_RANK }> =
            heapless::Vec::new();
        for (b, _) in &p.pads {
            pads.push(*b as u32)
                .map_err(|_| Error::Other("rank too large".into()))?;
        }
        for (_, a) in &p.pads {
            pads.push(*a as u32)
                .map_err(|_| Error::Other("rank too large".into()))?;
        }
        l.emit(node, Op::Pad { pads, value }, &[x])?;
        return Ok(Outcome::Lowered);
    }
    if let Some(c) = node.op_as::<Cast>() {
        let x = l.value(node.inputs[0])?;
        let from = l.g.tensors[x].dtype;
        let to = if c.to == f32::datum_type() {
            DType::F32
        } else if c.to == i64::datum_type() {
            DType::I64
        } else if c.to == i32::datum_type() {
            DType::I32
        } else {
            return Ok(Outcome::Unsupported);
        };
        if from == to {
            l.map.insert(o, x);
        } else {
            l.emit(node, Op::Cast, &[x])?;
        }
        return Ok(Outcome::Lowered);
    }
    if let Some(b) = node.op_as::<MultiBroadcastTo>() {
        let x = l.value(node.inputs[0])?;
        let Some(target) = b.shape.as_concrete().map(|s| s.to_vec()) else {
            return Ok(Outcome::Unsupported);
        };
        let xs = &l.g.tensors[x].shape;
        let off = target.len() - xs.len();
        let zshape: Vec<usize> = target
            .iter()
            .enumerate()
            .map(|(d, &n)| if d >= off && xs[d - off] == n { 1 } else { n })
            .collect();
        let n: usize = zshape.iter().product();
        let z = l.g.add_const(
            &format!("{}.zeros", node.name),
            &zshape,
            Data::F32(vec![0.0; n]),
        );
        l.emit(
            node,
            Op::Binary {
                op: BinaryOp::Add,
                act: Activation::None,
                q: None,
            },
            &[x, z],
        )?;
        return Ok(Outcome::Lowered);
    }
    Ok(Outcome::NotMine)
}

/// Identity and tract's placeholder `Dummy` (matched by name, so asked last): the
/// value passes through.
pub(super) fn lower_identity(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let name = node.op.name();
    if name != "Identity" && name != "Dummy" {
        return Ok(Outcome::NotMine);
    }
    let x = l.value(node.inputs[0])?;
    l.map.insert(l.out(node), x);
    Ok(Outcome::Lowered)
}

impl Lower<'_> {
    /// `Op::Slice` along one axis (start, step), the output shape from the node.
    fn slice_axis(
        &mut self,
        node: &TypedNode,
        x: TId,
        axis: usize,
        start: i64,
        step: i64,
    ) -> Result<bool> {
        let r = self.g.tensors[x].shape.len();
        if axis >= r || step == 0 {
            return Ok(false);
        }
        let (mut starts, mut steps) = (Starts::new(), Starts::new());
        for d in 0..r {
            let (b, s) = if d == axis { (start, step) } else { (0, 1) };
            starts.push(b as i32).map_err(|_| rank_err())?;
            steps.push(s as i32).map_err(|_| rank_err())?;
        }
        self.emit(node, Op::Slice { starts, steps }, &[x])?;
        Ok(true)
    }

    /// Gather of a non-constant tensor by constant indices: each run of indices in
    /// arithmetic progression is a strided slice; several runs (at most
    /// `MAX_OP_INPUTS`) are concatenated along the axis; then a reshape to the
    /// gathered shape.
    fn gather(&mut self, node: &TypedNode, axis: usize) -> Result<bool> {
        let Some(idx) = self.konst(node.inputs[1]) else {
            return Ok(false);
        };
        if self.konst(node.inputs[0]).is_some() {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let Some(&n) = xs.get(axis) else {
            return Ok(false);
        };
        let idx: Vec<i64> = tensor_i64(&idx)?
            .into_iter()
            .map(|i| if i < 0 { i + n as i64 } else { i })
            .collect();
        if idx.is_empty() || idx.iter().any(|&i| i < 0 || i >= n as i64) {
            return Ok(false);
        }
        // Maximal runs `(first, step, len)`, greedily from the left.
        let mut runs: Vec<(i64, i64, usize)> = Vec::new();
        let mut i = 0;
        while i < idx.len() {
            let step = match idx.get(i + 1) {
                Some(&next) if next != idx[i] => next - idx[i],
                _ => 1,
            };
            let mut len = 1;
            while idx
                .get(i + len)
                .is_some_and(|&v| v - idx[i + len - 1] == step)
            {
                len += 1;
            }
            runs.push((idx[i], step, len));
            i += len;
        }
        if runs.len() > ferrite::format::types::MAX_OP_INPUTS {
            return Ok(false);
        }
        let dt = self.g.tensors[x].dtype;
        let mut gathered = xs.clone();
        gathered[axis] = idx.len();
        let out_shape = self.shape(self.out(node))?;
        let mut parts = Vec::new();
        for (k, &(first, step, len)) in runs.iter().enumerate() {
            let (mut starts, mut steps) = (Starts::new(), Starts::new());
            for d in 0..xs.len() {
                let (b, s) = if d == axis { (first, step) } else { (0, 1) };
                starts.push(b as i32).map_err(|_| rank_err())?;
                steps.push(s as i32).map_err(|_| rank_err())?;
            }
            if runs.len() == 1 && gathered == out_shape {
                self.emit(node, Op::Slice { starts, steps }, &[x])?;
                return Ok(true);
            }
            let mut part_shape = xs.clone();
            part_shape[axis] = len;
            let part = self.g.add_node(
                &format!("{}.slice{k}", node.name),
                Op::Slice { starts, steps },
                &[x],
                &part_shape,
                dt,
            );
            parts.push(part);
        }
        let t = if parts.len() == 1 {
            parts[0]
        } else {
            self.g.add_node(
                &format!("{}.concat", node.name),
                Op::Concat { axis: axis as u8 },
                &parts,
                &gathered,
                dt,
            )
        };
        self.emit(node, Op::Reshape, &[t])?;
        Ok(true)
    }
}
