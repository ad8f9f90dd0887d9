//! MaxPool, AvgPool, GlobalAvgPool and GlobalMaxPool (f32 or int8; input and output
//! share dtype and quantization).

use super::common::{cast, cast_mut, ensure, gate, int8_act, Check, Checked, Cx};
use super::window::{nchw, window_out};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup, Window};
use crate::kernels::{f32 as kf, fast, int8 as ki, PoolParams};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it (the NCHW ones also
/// without [`OpGroup::Nchw`]).
pub(super) const GROUP: OpGroup = OpGroup::Pool;

/// One input, of the output's dtype (f32 or i8) and quantization; the pool group
/// enabled (also the NHWC pools' check).
pub(super) fn check_pool_operands(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    ensure(c.x.dtype == c.out.dtype, OpReason::DType)?;
    ensure(c.x.quant == c.out.quant, OpReason::Quantization)?;
    ensure(matches!(c.x.dtype, DType::F32 | DType::I8), OpReason::DType)
}

/// MaxPool (`avg` false) or AvgPool: x `[N, C, (H,) W]`, the output the window's.
pub(super) fn check_window(c: &Check<'_, '_>, window: &Window, avg: bool) -> Checked {
    gate(OpGroup::Nchw)?;
    check_pool_operands(c)?;
    // The int8 average reads the zero point (the max of raw values does not).
    if avg && c.x.dtype == DType::I8 {
        int8_act(c.x)?;
    }
    let x = &c.x.shape;
    ensure(x.len() == 4 || window.kernel[0] == 1, OpReason::Attribute)?;
    let ch = x.get(1).copied().unwrap_or(0);
    ensure(window_out(x, window, ch, &c.out.shape), OpReason::Shape)
}

/// The global pools: x `[N, C, ...]` (rank >= 3), output `[N, C, 1, ...]`.
pub(super) fn check_global(c: &Check<'_, '_>) -> Checked {
    gate(OpGroup::Nchw)?;
    check_pool_operands(c)?;
    global_shapes(c)
}

/// x `[N, C, ...]` (rank >= 3) and the output `[N, C, 1, ...]` (also GlobalProd's).
pub(super) fn global_shapes(c: &Check<'_, '_>) -> Checked {
    let (x, out) = (&c.x.shape, &c.out.shape);
    ensure(
        x.len() >= 3
            && out.len() == x.len()
            && out[..2] == x[..2]
            && out[2..].iter().all(|&d| d == 1),
        OpReason::Shape,
    )
}

/// The pool geometry of a run.
fn params(cx: &Cx<'_, '_>, window: &Window, count_include_pad: bool) -> PoolParams {
    let ((xs, xr), (ys, yr)) = (cx.x.udims(), cx.out.udims());
    PoolParams {
        x: nchw(&xs, xr),
        y: nchw(&ys, yr),
        window: *window,
        count_include_pad,
    }
}

pub(super) fn run_max(cx: &Cx<'_, '_>, y: &mut [u8], window: &Window) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::Nchw)?;
    let p = params(cx, window, false);
    let xb = cx.bytes(&cx.x)?;
    match cx.x.dtype {
        DType::I8 => fast::int8_max_pool2d(&p, cast(xb)?, cast_mut(y)?),
        _ => {
            cx.gate(OpGroup::ConvF32)?;
            fast::f32_max_pool2d(&p, cast(xb)?, cast_mut(y)?)
        }
    }
    Ok(())
}

pub(super) fn run_avg(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    window: &Window,
    count_include_pad: bool,
) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::Nchw)?;
    let p = params(cx, window, count_include_pad);
    let xb = cx.bytes(&cx.x)?;
    match cx.x.dtype {
        DType::I8 => {
            let (_, x_zp) = cx.per_tensor(&cx.x)?;
            ki::avg_pool2d(&p, cast(xb)?, x_zp, cast_mut(y)?)
        }
        _ => {
            cx.gate(OpGroup::ConvF32)?;
            kf::avg_pool2d(&p, cast(xb)?, cast_mut(y)?)
        }
    }
    Ok(())
}

/// GlobalAvgPool (`avg`) or GlobalMaxPool.
pub(super) fn run_global(cx: &Cx<'_, '_>, y: &mut [u8], avg: bool) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::Nchw)?;
    let ch = cx.x.dims[0] as usize * cx.x.dims[1] as usize;
    let sp = cx.x.elements / ch.max(1);
    let xb = cx.bytes(&cx.x)?;
    match (cx.x.dtype, avg) {
        (DType::I8, true) => ki::global_avg_pool(cast(xb)?, ch, sp, cast_mut(y)?),
        (DType::I8, false) => ki::global_max_pool(cast(xb)?, ch, sp, cast_mut(y)?),
        (_, true) => {
            cx.gate(OpGroup::ConvF32)?;
            kf::global_avg_pool(cast(xb)?, ch, sp, cast_mut(y)?)
        }
        (_, false) => {
            cx.gate(OpGroup::ConvF32)?;
            kf::global_max_pool(cast(xb)?, ch, sp, cast_mut(y)?)
        }
    }
    Ok(())
}
