//! Normalize: ONNX-ML Normalizer over the last axis (f32).

use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::classic;
use crate::error::{OpReason, Result};
use crate::format::types::{Norm, OpGroup};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Classic;

pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    f32s(&[c.x, c.out])?;
    c.same_shape()?;
    ensure(!c.x.shape.is_empty(), OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], norm: Norm) -> Result<()> {
    cx.gate(GROUP)?;
    let cols = *cx.x.shape().last().ok_or(cx.internal())? as usize;
    classic::normalize(norm, cast(cx.bytes(&cx.x)?)?, cols, cast_mut(y)?);
    Ok(())
}
