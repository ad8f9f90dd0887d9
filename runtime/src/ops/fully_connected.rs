//! FullyConnected: `y[b, n] = act(x[b, :] · w[n, :] + bias[n])`, f32 or int8.

use super::{act_ok, act_range, cast, cast_mut, ensure, gate, weighted_ok, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, OpGroup, QParams};
use crate::kernels::{fast, F32Out, FullyConnectedParams, QuantOut};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

/// x `[..., K]`, w `[N, K]` (a constant when int8; f32 weights may come from the arena,
/// f16 constants widened by a Cast), optional bias `[N]`; output `[..., N]`.
pub(super) fn check(c: &Check<'_, '_>, act: &Activation, q: Option<&QParams>) -> Checked {
    gate(GROUP)?;
    ensure(c.ins.len() == 2 || c.ins.len() == 3, OpReason::Arity)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    ensure(w.is_const() || q.is_none(), OpReason::NotConstant)?;
    ensure(w.shape.len() == 2 && !x.shape.is_empty(), OpReason::Shape)?;
    let (n, k) = (w.shape[0], w.shape[1]);
    let r = x.shape.len();
    ensure(
        x.shape[r - 1] == k
            && out.shape.len() == r
            && out.shape[..r - 1] == x.shape[..r - 1]
            && out.shape[r - 1] == n,
        OpReason::Shape,
    )?;
    weighted_ok(c, w, q, n)
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    act: &Activation,
    q: Option<&QParams>,
) -> Result<()> {
    cx.gate(GROUP)?;
    let w = cx.operand(1)?;
    let (n, k) = (w.dims[0] as usize, w.dims[1] as usize);
    let p = FullyConnectedParams {
        batch: cx.x.elements / k.max(1),
        k,
        n,
    };
    let xb = cx.bytes(&cx.x)?;
    match q {
        None => {
            let (act_min, act_max) = act_range(act);
            let out = F32Out {
                bias: cx.optional(2)?,
                act_min,
                act_max,
            };
            fast::f32_fully_connected(&p, cast(xb)?, cx.slice(&w)?, &out, cast_mut(y)?);
        }
        Some(q) => {
            let (_, x_zp) = cx.per_tensor(&cx.x)?;
            let out = QuantOut {
                bias: cx.optional(2)?,
                requant: cx.i32_table(q.requant, 2 * q.channels as usize)?,
                zero_point: cx.per_tensor(&cx.out)?.1,
                act_min: q.act_min,
                act_max: q.act_max,
            };
            fast::int8_fully_connected(&p, cast(xb)?, x_zp, cx.slice(&w)?, &out, cast_mut(y)?);
        }
    }
    Ok(())
}
