//! Linear: ONNX-ML LinearClassifier / LinearRegressor, `y = post(x · wᵀ + bias)` (f32).

use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::classic;
use crate::error::{OpReason, Result};
use crate::format::types::{OpGroup, PostTransform};
use crate::kernels::FullyConnectedParams;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Classic;

/// x `[B, K]`, w `[N, K]` and bias `[N]` finite f32 constants; output `[B, N]`.
pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(3)?;
    let (x, w, b, out) = (c.x, &c.ins[1], &c.ins[2], c.out);
    f32s(&[x, w, b, out])?;
    ensure(w.is_const() && b.is_const(), OpReason::NotConstant)?;
    ensure(w.shape.len() == 2 && x.shape.len() == 2, OpReason::Shape)?;
    let (n, k) = (w.shape[0], w.shape[1]);
    ensure(
        x.shape[1] == k && b.shape.as_slice() == [n] && out.shape.as_slice() == [x.shape[0], n],
        OpReason::Shape,
    )?;
    let finite = |t| {
        c.const_f32(t)
            .is_some_and(|v| v.iter().all(|f| f.is_finite()))
    };
    ensure(finite(w) && finite(b), OpReason::ConstantData)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], post: PostTransform) -> Result<()> {
    cx.gate(GROUP)?;
    let w = cx.operand(1)?;
    let (n, k) = (w.dims[0] as usize, w.dims[1] as usize);
    let p = FullyConnectedParams {
        batch: cx.x.elements / k.max(1),
        k,
        n,
    };
    let x = cast(cx.bytes(&cx.x)?)?;
    classic::linear(&p, x, cx.slice(&w)?, cx.input(2)?, post, cast_mut(y)?);
    Ok(())
}
