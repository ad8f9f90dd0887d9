//! MaxPoolNhwc and AvgPoolNhwc: the pools of channels-last activations (f32 or int8;
//! input and output share dtype and quantization), on the engine's NHWC pool kernels
//! (`kernels::engine::*_pool_nhwc`), which give the NCHW pools' values exactly.

use super::common::{cast, cast_mut, ensure, int8_act, Check, Checked, Cx};
use super::pool::{check_pool_operands, GROUP};
use super::window::window_out;
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup, Window};
use crate::kernels::{engine, PoolParams};

/// NCHW dims `[N, C, H, W]` of NHWC dims.
fn nchw_of(d: &[u32]) -> [u32; 4] {
    match *d {
        [n, h, w, c] => [n, c, h, w],
        _ => [0; 4],
    }
}

/// x `[N, H, W, C]`, output `[N, OH, OW, C]`: the window's output over the NCHW view.
pub(super) fn check(c: &Check<'_, '_>, window: &Window, avg: bool) -> Checked {
    check_pool_operands(c)?;
    // The int8 average reads the zero point (the max of raw values does not).
    if avg && c.x.dtype == DType::I8 {
        int8_act(c.x)?;
    }
    let (x, out) = (&c.x.shape, &c.out.shape);
    ensure(x.len() == 4 && out.len() == 4, OpReason::Shape)?;
    let (xv, ov) = (nchw_of(x), nchw_of(out));
    ensure(window_out(&xv, window, xv[1], &ov), OpReason::Shape)
}

/// Runs the max pool (`avg` None) or the average (`Some(count_include_pad)`).
pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], window: &Window, avg: Option<bool>) -> Result<()> {
    cx.gate(GROUP)?;
    let ((xs, _), (ys, _)) = (cx.x.udims(), cx.out.udims());
    let p = PoolParams {
        x: [xs[0], xs[3], xs[1], xs[2]],
        y: [ys[0], ys[3], ys[1], ys[2]],
        window: *window,
        count_include_pad: avg.unwrap_or(false),
    };
    let xb = cx.bytes(&cx.x)?;
    let done = match (cx.x.dtype, avg) {
        (DType::I8, Some(_)) => {
            let (_, x_zp) = cx.per_tensor(&cx.x)?;
            engine::i8_avg_pool_nhwc(&p, cast(xb)?, x_zp, cast_mut(y)?)
        }
        (DType::I8, None) => engine::i8_max_pool_nhwc(&p, cast(xb)?, cast_mut(y)?),
        (_, Some(_)) => {
            cx.gate(OpGroup::ConvF32)?;
            engine::f32_avg_pool_nhwc(&p, cast(xb)?, cast_mut(y)?)
        }
        (_, None) => {
            cx.gate(OpGroup::ConvF32)?;
            engine::f32_max_pool_nhwc(&p, cast(xb)?, cast_mut(y)?)
        }
    };
    done.map_err(|_| cx.internal())
}
