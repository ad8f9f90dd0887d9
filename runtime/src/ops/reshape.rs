//! Reshape (also Flatten, Squeeze, Unsqueeze): a copy with a new shape.

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{shape_elements, OpGroup};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    ensure(c.x.dtype == c.out.dtype, OpReason::DType)?;
    ensure(c.x.quant == c.out.quant, OpReason::Quantization)?;
    ensure(
        shape_elements(&c.x.shape) == shape_elements(&c.out.shape),
        OpReason::Shape,
    )
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    y.copy_from_slice(cx.bytes(&cx.x)?);
    Ok(())
}
