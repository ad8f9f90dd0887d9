//! Lrn: local response normalization across channels (axis 1, f32, ONNX LRN).

use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::OpGroup;
use crate::kernels::{f32 as kf, LrnParams};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Math;

/// x `[N, C, ...]` f32, output the same; `size >= 1`, `[alpha, beta, bias]` finite.
pub(super) fn check(c: &Check<'_, '_>, size: u32, [alpha, beta, bias]: [f32; 3]) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    f32s(&[c.x, c.out])?;
    c.same_shape()?;
    ensure(c.x.shape.len() >= 2, OpReason::Shape)?;
    ensure(
        size >= 1 && alpha.is_finite() && beta.is_finite() && bias.is_finite(),
        OpReason::Attribute,
    )
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    size: u32,
    [alpha, beta, bias]: [f32; 3],
) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let p = LrnParams {
        n: xs[0],
        c: xs[1],
        inner: xs[2..xr.max(2)].iter().product(),
        size: size as usize,
        alpha,
        beta,
        bias,
    };
    kf::lrn(&p, cast(cx.bytes(&cx.x)?)?, cast_mut(y)?);
    Ok(())
}
