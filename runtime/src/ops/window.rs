//! The output geometry of the sliding-window ops (Conv and the pools).

use crate::format::types::{Window, MAX_RANK};
use crate::kernels::fixed::div_rem_u64;

/// Output length of one spatial axis of `input` cells, kernel `k`, stride `s`,
/// dilation `d` and pads `p0`, `p1` (ceil mode rounds the last partial window in, as
/// ONNX pools do, when it starts inside the input or the begin padding); `None` when
/// the window does not fit.
pub(super) fn out_dim(
    input: u32,
    (k, s, d): (u32, u32, u32),
    (p0, p1): (u32, u32),
    ceil: bool,
) -> Option<u32> {
    if k == 0 || s == 0 || d == 0 {
        return None;
    }
    let span = (d as u64) * (k as u64 - 1) + 1;
    let padded = input as u64 + p0 as u64 + p1 as u64;
    if padded < span {
        return None;
    }
    let (q, r) = div_rem_u64(padded - span, s as u64);
    let mut o = q + 1;
    if ceil && r != 0 && q * s as u64 + (s as u64) < input as u64 + p0 as u64 {
        o += 1;
    }
    u32::try_from(o).ok()
}

/// Whether `out` is the output shape of window `w` over `x` (`[N, C, W]` or
/// `[N, C, H, W]`; 1D windows have kernel height 1 and no height padding) with `ch`
/// output channels, in floor or ceil mode.
pub(super) fn window_out(x: &[u32], w: &Window, ch: u32, out: &[u32]) -> bool {
    let (h, wd) = match x.len() {
        3 => {
            if w.kernel[0] != 1 || w.pads[0] != 0 || w.pads[2] != 0 {
                return false;
            }
            (1, x[2])
        }
        4 => (x[2], x[3]),
        _ => return false,
    };
    if out.len() != x.len() || out[0] != x[0] || out[1] != ch {
        return false;
    }
    let (oh, ow) = if x.len() == 3 {
        (1, out[2])
    } else {
        (out[2], out[3])
    };
    let axis = |a: usize| (w.kernel[a], w.stride[a], w.dilation[a]);
    let exact = |ceil| {
        out_dim(h, axis(0), (w.pads[0], w.pads[2]), ceil) == Some(oh)
            && out_dim(wd, axis(1), (w.pads[1], w.pads[3]), ceil) == Some(ow)
    };
    exact(false) || exact(true)
}

/// NCHW dims of a rank-3 (`[N, C, W]`, height 1) or rank-4 tensor.
pub(super) fn nchw(d: &[usize; MAX_RANK], rank: usize) -> [usize; 4] {
    if rank == 3 {
        [d[0], d[1], 1, d[2]]
    } else {
        [d[0], d[1], d[2], d[3]]
    }
}
