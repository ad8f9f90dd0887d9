//! ArgMax: index of the largest value along one axis (f32 or int8 input, i64 output).

use super::common::{cast, cast_mut, ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup, MAX_RANK};
use crate::kernels::{f32 as kf, int8 as ki};
use heapless::Vec as HVec;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

pub(super) fn check(c: &Check<'_, '_>, axis: u8, keepdims: bool) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    let a = axis as usize;
    ensure(a < c.x.shape.len(), OpReason::Attribute)?;
    ensure(c.out.dtype == DType::I64, OpReason::DType)?;
    ensure(matches!(c.x.dtype, DType::F32 | DType::I8), OpReason::DType)?;
    let mut expect: HVec<u32, MAX_RANK> = HVec::new();
    for (d, &n) in c.x.shape.iter().enumerate() {
        if d != a {
            let _ = expect.push(n);
        } else if keepdims {
            let _ = expect.push(1);
        }
    }
    ensure(expect == c.out.shape, OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], axis: u8, select_last: bool) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let a = axis as usize;
    let outer = xs[..a].iter().product();
    let inner = xs[a + 1..xr].iter().product();
    let xb = cx.bytes(&cx.x)?;
    match cx.x.dtype {
        DType::I8 => ki::argmax_i8(cast(xb)?, outer, xs[a], inner, select_last, cast_mut(y)?),
        _ => kf::argmax(cast(xb)?, outer, xs[a], inner, select_last, cast_mut(y)?),
    }
    Ok(())
}
