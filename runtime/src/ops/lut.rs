//! Lut: int8 element-wise function through a 256-entry table (input 1, constant).

use super::common::{cast, cast_mut, ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup};
use crate::kernels::int8 as ki;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(2)?;
    ensure(
        c.x.dtype == DType::I8 && c.out.dtype == DType::I8,
        OpReason::DType,
    )?;
    c.same_shape()?;
    let t = &c.ins[1];
    ensure(t.is_const(), OpReason::NotConstant)?;
    ensure(matches!(t.dtype, DType::I8 | DType::U8), OpReason::DType)?;
    ensure(t.elements() == Some(256), OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let table = cx.bytes(&cx.operand(1)?)?;
    ki::lut(cast(cx.bytes(&cx.x)?)?, table, cast_mut(y)?);
    Ok(())
}
