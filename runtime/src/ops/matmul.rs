//! MatMul: batched matrix product with numpy broadcasting of the batch axes (f32).

use super::binary::broadcast;
use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::OpGroup;
use crate::kernels::{f32 as kf, BroadcastShapes};
use heapless::Vec as HVec;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Math;

/// The batch axes of a matrix operand (all but the last two).
fn batch(s: &[u32]) -> &[u32] {
    &s[..s.len().saturating_sub(2)]
}

/// The output shape of numpy `matmul(a, b)` (rank-1 operands get a 1 inserted, then
/// removed from the output); false when the inner dimensions or batch axes disagree.
fn matmul_shape(a: &[u32], b: &[u32], out: &[u32]) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (m, ka) = if a.len() == 1 {
        (None, a[0])
    } else {
        (Some(a[a.len() - 2]), a[a.len() - 1])
    };
    let (kb, n) = if b.len() == 1 {
        (b[0], None)
    } else {
        (b[b.len() - 2], Some(b[b.len() - 1]))
    };
    if ka != kb {
        return false;
    }
    let mut expect = HVec::new();
    if !broadcast(batch(a), batch(b), &mut expect) {
        return false;
    }
    if let Some(m) = m {
        let _ = expect.push(m);
    }
    if let Some(n) = n {
        let _ = expect.push(n);
    }
    expect.as_slice() == out
}

pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(2)?;
    f32s(&[c.x, &c.ins[1], c.out])?;
    ensure(
        matmul_shape(&c.x.shape, &c.ins[1].shape, &c.out.shape),
        OpReason::Shape,
    )
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let b = cx.operand(1)?;
    let ((xs, xr), (bs, br), (ys, yr)) = (cx.x.udims(), b.udims(), cx.out.udims());
    let s = BroadcastShapes {
        a: &xs[..xr],
        b: &bs[..br],
        y: &ys[..yr],
    };
    kf::matmul(&s, cast(cx.bytes(&cx.x)?)?, cx.slice(&b)?, cast_mut(y)?);
    Ok(())
}
