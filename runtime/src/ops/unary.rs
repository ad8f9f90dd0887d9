//! Unary: element-wise f32 functions (ONNX definitions, `kernels::f32::unary`); int8
//! graphs use Lut.

use super::common::{cast, cast_mut, f32s, gate, Check, Checked, Cx};
use crate::error::Result;
use crate::format::types::{OpGroup, UnaryOp};
use crate::kernels::f32 as kf;

/// The core activations are in every build, the other functions are `Math` (the f32
/// kernel leaves them out of builds without it).
pub(super) const fn group(op: &UnaryOp) -> OpGroup {
    if op.is_core() {
        OpGroup::Core
    } else {
        OpGroup::Math
    }
}

pub(super) fn check(c: &Check<'_, '_>, op: &UnaryOp) -> Checked {
    gate(group(op))?;
    c.inputs(1)?;
    f32s(&[c.x, c.out])?;
    c.same_shape()
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], op: UnaryOp) -> Result<()> {
    kf::unary(op, cast(cx.bytes(&cx.x)?)?, cast_mut(y)?);
    Ok(())
}
