//! Transpose: output axis `k` is input axis `perm[k]` (any dtype).

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{OpGroup, MAX_RANK};
use crate::kernels::generic as kg;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Shape;

pub(super) fn check(c: &Check<'_, '_>, perm: &[u8]) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    let (x, out) = (&c.x.shape, &c.out.shape);
    let r = x.len();
    ensure(c.x.dtype == c.out.dtype, OpReason::DType)?;
    ensure(perm.len() == r, OpReason::Attribute)?;
    ensure(out.len() == r, OpReason::Shape)?;
    let mut seen = [false; MAX_RANK];
    for (i, &p) in perm.iter().enumerate() {
        let p = p as usize;
        ensure(p < r && !seen[p], OpReason::Attribute)?;
        ensure(out[i] == x[p], OpReason::Shape)?;
        seen[p] = true;
    }
    ensure(c.x.quant == c.out.quant, OpReason::Quantization)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], perm: &[u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let mut p = [0usize; MAX_RANK];
    for (d, &v) in p.iter_mut().zip(perm.iter()) {
        *d = v as usize;
    }
    kg::transpose(cx.bytes(&cx.x)?, &xs[..xr], &p[..xr], cx.x.dtype.size(), y);
    Ok(())
}
