//! Slice: strided slice with static bounds (ONNX Slice, tract Downsample), any dtype.

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{OpGroup, MAX_RANK};
use crate::kernels::generic as kg;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Shape;

/// Every index the slice reads lies inside the input; the output has the input's rank,
/// dtype and quantization.
pub(super) fn check(c: &Check<'_, '_>, starts: &[i32], steps: &[i32]) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    let (x, out) = (&c.x.shape, &c.out.shape);
    let r = x.len();
    ensure(starts.len() == r && steps.len() == r, OpReason::Attribute)?;
    ensure(out.len() == r, OpReason::Shape)?;
    ensure(c.x.dtype == c.out.dtype, OpReason::DType)?;
    ensure(c.x.quant == c.out.quant, OpReason::Quantization)?;
    if out.contains(&0) {
        return ensure(steps.iter().all(|&s| s != 0), OpReason::Attribute);
    }
    let inside = (0..r).all(|d| {
        let (n, o, s, b) = (
            x[d] as i64,
            out[d] as i64,
            steps[d] as i64,
            starts[d] as i64,
        );
        let last = b + (o - 1) * s;
        s != 0 && (0..n).contains(&b) && (0..n).contains(&last)
    });
    ensure(inside, OpReason::Attribute)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], starts: &[i32], steps: &[i32]) -> Result<()> {
    cx.gate(GROUP)?;
    let ((xs, xr), (ys, yr)) = (cx.x.udims(), cx.out.udims());
    let (mut st, mut sp) = ([0isize; MAX_RANK], [0isize; MAX_RANK]);
    for d in 0..xr {
        st[d] = *starts.get(d).ok_or(cx.internal())? as isize;
        sp[d] = *steps.get(d).ok_or(cx.internal())? as isize;
    }
    let p = kg::SliceParams {
        x: &xs[..xr],
        starts: &st[..xr],
        steps: &sp[..xr],
        y: &ys[..yr],
        elem: cx.x.dtype.size(),
    };
    kg::slice(&p, cx.bytes(&cx.x)?, y);
    Ok(())
}
