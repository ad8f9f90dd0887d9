//! Binary: element-wise Add, Sub, Mul, Div, Max, Min, Pow with numpy broadcasting
//! (f32; int8 Add, Sub and Mul with TFLite's arithmetic).

use super::common::{
    act_ok, act_range, act_range_ok, cast, cast_mut, ensure, f32s, gate, int8_act, rq_ok,
};
use super::common::{Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, BinaryOp, OpGroup, QBinary, MAX_RANK};
use crate::kernels::{f32 as kf, int8 as ki, BroadcastShapes};
use heapless::Vec as HVec;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Math;

/// Numpy broadcast of two shapes into `out`; false when incompatible.
pub(super) fn broadcast(a: &[u32], b: &[u32], out: &mut HVec<u32, MAX_RANK>) -> bool {
    let r = a.len().max(b.len());
    out.clear();
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        let d = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return false;
        };
        if out.push(d).is_err() {
            return false;
        }
    }
    true
}

/// Two inputs whose shapes broadcast to the output's; all f32, or (Add, Sub, Mul with
/// `q`) int8 activations and valid int8 parameters.
pub(super) fn check(
    c: &Check<'_, '_>,
    op: BinaryOp,
    act: &Activation,
    q: Option<&QBinary>,
) -> Checked {
    gate(GROUP)?;
    c.inputs(2)?;
    act_ok(act)?;
    let (x, b, out) = (c.x, &c.ins[1], c.out);
    let mut shape = HVec::new();
    ensure(
        broadcast(&x.shape, &b.shape, &mut shape) && shape == out.shape,
        OpReason::Shape,
    )?;
    let Some(q) = q else {
        return f32s(&[x, b, out]);
    };
    ensure(
        matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
        OpReason::DType,
    )?;
    int8_act(x)?;
    int8_act(b)?;
    int8_act(out)?;
    ensure(qbinary_ok(q), OpReason::Quantization)
}

/// Valid int8 Add/Sub/Mul parameters: requantizations, left shift, clamp range and
/// zero points in range (also the fused residual of the NHWC convs).
pub(super) fn qbinary_ok(q: &QBinary) -> bool {
    let zero_points = [q.a_zero_point, q.b_zero_point, q.out_zero_point];
    rq_ok(&q.a)
        && rq_ok(&q.b)
        && rq_ok(&q.out)
        && (0..=20).contains(&q.left_shift)
        && act_range_ok(q.act_min, q.act_max)
        && zero_points.iter().all(|z| (-128..=127).contains(z))
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    op: BinaryOp,
    act: &Activation,
    q: Option<&QBinary>,
) -> Result<()> {
    cx.gate(GROUP)?;
    let b = cx.operand(1)?;
    let ((xs, xr), (bs, br), (ys, yr)) = (cx.x.udims(), b.udims(), cx.out.udims());
    let s = BroadcastShapes {
        a: &xs[..xr],
        b: &bs[..br],
        y: &ys[..yr],
    };
    let (xb, bb) = (cx.bytes(&cx.x)?, cx.bytes(&b)?);
    match q {
        None => kf::binary(op, &s, cast(xb)?, cast(bb)?, act_range(act), cast_mut(y)?),
        Some(q) => ki::binary(op, q, &s, cast(xb)?, cast(bb)?, cast_mut(y)?),
    }
    Ok(())
}
