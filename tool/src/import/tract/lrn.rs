//! LRN (`tract_onnx_opl::lrn::Lrn`) → `Lrn` on f32 tensors of rank ≥ 2.

use super::lower::{Lower, Outcome};
use crate::error::Result;
use ferrite::format::types::Op;
use ferrite::DType;
use tract_onnx::prelude::*;

/// `Lrn`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(lrn) = node.op_as::<tract_onnx_opl::lrn::Lrn>() else {
        return Ok(Outcome::NotMine);
    };
    let x = l.value(node.inputs[0])?;
    if l.g.tensors[x].dtype != DType::F32 || l.g.tensors[x].shape.len() < 2 {
        return Ok(Outcome::Unsupported);
    }
    let op = Op::Lrn {
        size: lrn.size as u32,
        alpha: lrn.alpha,
        beta: lrn.beta,
        bias: lrn.bias,
    };
    l.emit(node, op, &[x])?;
    Ok(Outcome::Lowered)
}
