//! FullyConnected: `y[b, n] = act(x[b, :] · w[n, :] + bias[n])`, f32 or int8.

use super::common::{
    act_ok, act_range, cast, cast_mut, ensure, gate, weighted_ok, Check, Checked, Cx,
};
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup, QParams};
use crate::kernels::{engine, fast, F32Out, FullyConnectedParams, QuantOut};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

/// x `[..., K]`, w `[N, K]` (a constant when int8; f32 weights may come from the arena,
/// f16 constants widened by a Cast), optional bias `[N]`; output `[..., N]` with as many
/// rows as x (the same leading dimensions before format 1.7).
pub(super) fn check(c: &Check<'_, '_>, act: &Activation, q: Option<&QParams>) -> Checked {
    gate(GROUP)?;
    ensure(c.ins.len() == 2 || c.ins.len() == 3, OpReason::Arity)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    ensure(w.is_const() || q.is_none(), OpReason::NotConstant)?;
    ensure(w.shape.len() == 2 && !x.shape.is_empty(), OpReason::Shape)?;
    let (n, k) = (w.shape[0], w.shape[1]);
    // The rows may be shaped differently on both sides (format 1.7: e.g. x `[1,1,1,K]`
    // and output `[1,N]`); the run reads `elements / K` rows.
    ensure(
        x.shape.last() == Some(&k)
            && out.shape.last() == Some(&n)
            && rows(&x.shape) == rows(&out.shape),
        OpReason::Shape,
    )?;
    weighted_ok(c, w, q, n)
}

/// Rows of an FC whose input has shape `x`: every dimension but the last.
fn rows(x: &[u32]) -> usize {
    x.split_last().map_or(0, |(_, lead)| {
        lead.iter()
            .fold(1usize, |a, &d| a.saturating_mul(d as usize))
    })
}

/// Bytes of arena scratch an f32 FC needs (see [`crate::Model::arena_size`]): the
/// weights packed for [`engine::f32_fully_connected`] when it runs at least
/// [`engine::FC_GEMM_MIN_BATCH`] rows, else none (batch-1 models keep their arena).
pub(super) fn f32_scratch_bytes(x: &[u32], out: &[u32], dtype: DType) -> usize {
    let (Some(&k), Some(&n)) = (x.last(), out.last()) else {
        return 0;
    };
    // The GEMM is the conv engine's f32 one (groups `ops-conv` + `ops-conv-f32`): a
    // build without them (the MLP and int8-CNN builds for small MCUs) runs every FC on
    // the row kernel and links no f32 engine code.
    let gemm = OpGroup::Conv.enabled() && OpGroup::ConvF32.enabled();
    if !gemm || dtype != DType::F32 || rows(x) < engine::FC_GEMM_MIN_BATCH {
        return 0;
    }
    engine::f32_fc_scratch_len(n as usize, k as usize)
        .and_then(|e| e.checked_mul(4))
        .unwrap_or(0)
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    scratch: &mut [u8],
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
            // 0 in a build without `ops-conv-f32`: the GEMM branch is compiled out.
            let need = f32_scratch_bytes(cx.x.shape(), cx.out.shape(), DType::F32);
            if need > 0 {
                let out = engine::F32Out {
                    min: act_min,
                    max: act_max,
                    residual: None,
                };
                let scratch = cast_mut(scratch.get_mut(..need).ok_or(cx.internal())?)?;
                let (x, w, y) = (cast(xb)?, cx.slice(&w)?, cast_mut(y)?);
                let bias = cx.optional(2)?;
                return engine::f32_fully_connected(p.batch, k, n, x, w, bias, &out, y, scratch);
            }
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
