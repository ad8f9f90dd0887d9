//! Conv: 1D/2D convolution with groups (depthwise when groups == channels), f32 or int8.

use super::common::{
    act_ok, act_range, cast, cast_mut, ensure, gate, weighted_ok, Check, Checked, Cx,
};
use super::window::{nchw, window_out};
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, OpGroup, QParams, Window};
use crate::kernels::{fast, ConvParams, F32Out, QuantOut};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it (or without
/// [`OpGroup::Nchw`]).
pub(super) const GROUP: OpGroup = OpGroup::Conv;

/// x `[N, C, (H,) W]`, w `[M, C / groups, (KH,) KW]` (a constant when int8), optional
/// bias `[M]`; the output shape is the window's.
pub(super) fn check(
    c: &Check<'_, '_>,
    window: &Window,
    groups: u32,
    act: &Activation,
    q: Option<&QParams>,
) -> Checked {
    gate(GROUP)?;
    gate(OpGroup::Nchw)?;
    ensure(c.ins.len() == 2 || c.ins.len() == 3, OpReason::Arity)?;
    act_ok(act)?;
    ensure(groups != 0, OpReason::Attribute)?;
    let (x, w) = (c.x, &c.ins[1]);
    let r = x.shape.len();
    ensure(w.is_const() || q.is_none(), OpReason::NotConstant)?;
    ensure(w.shape.len() == r && (r == 3 || r == 4), OpReason::Shape)?;
    let (mch, cg) = (w.shape[0], w.shape[1]);
    let (kh, kw) = if r == 3 {
        (1, w.shape[2])
    } else {
        (w.shape[2], w.shape[3])
    };
    ensure(window.kernel == [kh, kw], OpReason::Attribute)?;
    ensure(
        x.shape[1] == cg.saturating_mul(groups) && mch % groups == 0,
        OpReason::Shape,
    )?;
    ensure(
        window_out(&x.shape, window, mch, &c.out.shape),
        OpReason::Shape,
    )?;
    weighted_ok(c, w, q, mch)
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    window: &Window,
    groups: u32,
    act: &Activation,
    q: Option<&QParams>,
) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::Nchw)?;
    let w = cx.operand(1)?;
    let ((xs, xr), (ys, yr), (ws, _)) = (cx.x.udims(), cx.out.udims(), w.udims());
    let p = ConvParams {
        x: nchw(&xs, xr),
        w: nchw(&ws, xr),
        y: nchw(&ys, yr),
        window: *window,
        groups: groups as usize,
    };
    let xb = cx.bytes(&cx.x)?;
    match q {
        None => {
            cx.gate(OpGroup::ConvF32)?;
            let (act_min, act_max) = act_range(act);
            let out = F32Out {
                bias: cx.optional(2)?,
                act_min,
                act_max,
            };
            fast::f32_conv2d(&p, cast(xb)?, cx.slice(&w)?, &out, cast_mut(y)?);
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
            fast::int8_conv2d(&p, cast(xb)?, x_zp, cx.slice(&w)?, &out, cast_mut(y)?);
        }
    }
    Ok(())
}
