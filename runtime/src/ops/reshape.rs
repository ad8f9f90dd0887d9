//! Reshape (also Flatten, Squeeze, Unsqueeze): a copy with a new shape, or nothing
//! when the writer placed the output on its input's bytes (format 1.7).

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
    // In place (format 1.7): the loader admits an output at its arena input's offset
    // only when it has the input's bytes exactly, so they are already there.
    if !cx.x.weights && cx.x.offset == cx.out.offset {
        return Ok(());
    }
    y.copy_from_slice(cx.bytes(&cx.x)?);
    Ok(())
}
