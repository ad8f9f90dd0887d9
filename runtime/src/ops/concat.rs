//! Concat along one axis (any dtype; every input of the output's dtype and
//! quantization).

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{OpGroup, MAX_OP_INPUTS};
use crate::kernels::generic as kg;
use heapless::Vec as HVec;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Shape;

pub(super) fn check(c: &Check<'_, '_>, axis: u8) -> Checked {
    gate(GROUP)?;
    let a = axis as usize;
    let out = &c.out.shape;
    let r = c.x.shape.len();
    ensure(a < r, OpReason::Attribute)?;
    ensure(out.len() == r, OpReason::Shape)?;
    let mut sum = 0u64;
    for t in c.ins {
        ensure(t.dtype == c.out.dtype, OpReason::DType)?;
        ensure(t.quant == c.out.quant, OpReason::Quantization)?;
        ensure(t.shape.len() == r, OpReason::Shape)?;
        for d in 0..r {
            ensure(d == a || t.shape[d] == out[d], OpReason::Shape)?;
        }
        sum += t.shape[a] as u64;
    }
    ensure(sum == out[a] as u64, OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], axis: u8) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let a = axis as usize;
    let mut parts: HVec<&[u8], MAX_OP_INPUTS> = HVec::new();
    let mut adims: HVec<usize, MAX_OP_INPUTS> = HVec::new();
    for k in 0..cx.inputs.len() {
        let t = cx.operand(k)?;
        parts.push(cx.bytes(&t)?).map_err(|_| cx.internal())?;
        let d = *t.dims.get(a).ok_or(cx.internal())? as usize;
        adims.push(d).map_err(|_| cx.internal())?;
    }
    let outer = xs[..a].iter().product();
    let inner: usize = xs[a + 1..xr].iter().product();
    kg::concat(&parts, &adims, outer, inner * cx.x.dtype.size(), y);
    Ok(())
}
