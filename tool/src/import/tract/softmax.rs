//! Softmax and LogSoftmax (`Softmax` in tract): over one axis, or over several
//! contiguous axes (opset < 13 on a 4-D tensor) through a Reshape to one axis.

use super::lower::{Lower, Outcome};
use crate::error::Result;
use ferrite::format::types::Op;
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};

/// `Softmax`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(s) = node.op_as::<Softmax>() else {
        return Ok(Outcome::NotMine);
    };
    if s.axes.len() > 1 && s.quant_output_dt.is_none() {
        return l.softmax_axes(node, s).map(Outcome::from);
    }
    if s.axes.len() != 1 || s.quant_output_dt.is_some() {
        return Ok(Outcome::Unsupported);
    }
    let x = l.value(node.inputs[0])?;
    let log = s.kind == SoftmaxKind::LogSoftmax;
    l.emit(
        node,
        Op::Softmax {
            axis: s.axes[0] as u8,
            log,
        },
        &[x],
    )?;
    Ok(Outcome::Lowered)
}

impl Lower<'_> {
    /// Softmax over contiguous axes `a..=b`: reshape them into one axis, softmax, reshape back.
    fn softmax_axes(&mut self, node: &TypedNode, s: &Softmax) -> Result<bool> {
        let mut axes: Vec<usize> = s.axes.iter().copied().collect();
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[1] != w[0] + 1) {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let (a, b) = (axes[0], axes[axes.len() - 1]);
        if b >= xs.len() {
            return Ok(false);
        }
        let mut flat: Vec<usize> = xs[..a].to_vec();
        flat.push(xs[a..=b].iter().product());
        flat.extend_from_slice(&xs[b + 1..]);
        let t = self.reshape(x, &flat, &format!("{}.flatten", node.name));
        let log = s.kind == SoftmaxKind::LogSoftmax;
        let y = self.g.add_node(
            &format!("{}.softmax", node.name),
            Op::Softmax { axis: a as u8, log },
            &[t],
            &flat,
            DType::F32,
        );
        self.emit(node, Op::Reshape, &[y])?;
        Ok(true)
    }
}
