//! ConvNchw (format 1.5): an f32 first-layer convolution that reads the NCHW graph
//! input (1–4 channels) and writes NHWC activations for the engine ops after it
//! ([`crate::kernels::engine::f32_conv_nchw`]), so the model has no input transpose.

use super::common::{act_ok, act_range, cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use super::window::out_dim;
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup, Window};
use crate::kernels::engine::{self, ConvShape, F32Out, NCHW_MAX_C};

/// The op group (Cargo feature) of this module's op: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it (the f32 conv group
/// `ops-conv-f32` is checked as for every conv on f32 activations).
pub(super) const GROUP: OpGroup = OpGroup::Conv;

/// The engine's geometry of one image: x `[N, C, H, W]`, output `[N, OH, OW, M]`.
fn shape(x: &[u32], out: &[u32], w: &Window) -> Option<ConvShape> {
    let d = |v: u32| v as usize;
    match (x, out) {
        ([_, c, h, wd], [_, oh, ow, m]) => Some(ConvShape {
            in_h: d(*h),
            in_w: d(*wd),
            in_c: d(*c),
            out_h: d(*oh),
            out_w: d(*ow),
            out_c: d(*m),
            kernel: w.kernel.map(d),
            stride: w.stride.map(d),
            dilation: w.dilation.map(d),
            pad: [d(w.pads[0]), d(w.pads[1])],
        }),
        _ => None,
    }
}

/// x `[N, C, H, W]` f32 with `1 <= C <= 4`, the packed weights (a 1D f32 constant of
/// exactly `pack_f32_conv`'s length for `M` outputs of `C` channels), output
/// `[N, OH, OW, M]` f32 with the floor-mode window size.
pub(super) fn check(c: &Check<'_, '_>, window: &Window, act: &Activation) -> Checked {
    gate(GROUP)?;
    c.inputs(2)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    f32s(&[x, out])?;
    ensure(
        x.shape.len() == 4 && out.shape.len() == 4 && x.shape[0] == out.shape[0],
        OpReason::Shape,
    )?;
    let axis = |a: usize| (window.kernel[a], window.stride[a], window.dilation[a]);
    ensure(
        out_dim(x.shape[2], axis(0), (window.pads[0], window.pads[2]), false) == Some(out.shape[1])
            && out_dim(x.shape[3], axis(1), (window.pads[1], window.pads[3]), false)
                == Some(out.shape[2]),
        OpReason::Attribute,
    )?;
    let s = shape(&x.shape, &out.shape, window).ok_or(OpReason::Shape)?;
    ensure((1..=NCHW_MAX_C).contains(&s.in_c), OpReason::Shape)?;
    ensure(
        engine::f32_conv_nchw_scratch_len(&s).is_some(),
        OpReason::Attribute,
    )?;
    ensure(w.is_const(), OpReason::NotConstant)?;
    ensure(w.dtype == DType::F32 && w.shape.len() == 1, OpReason::DType)?;
    let packed = c.const_f32(w).ok_or(OpReason::ConstantData)?;
    ensure(
        engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel) == Some(packed.len()),
        OpReason::Shape,
    )
}

/// Bytes of arena scratch the op needs (after the graph's tensors, see
/// [`crate::Model::arena_size`]): the NHWC copy of one image and a padding row, for
/// the CPUs without the direct kernel (`engine::f32_conv_nchw_scratch_len`).
pub(super) fn scratch_bytes(x: &[u32], out: &[u32], window: &Window) -> usize {
    shape(x, out, window)
        .and_then(|s| engine::f32_conv_nchw_scratch_len(&s))
        .map_or(0, |n| n.saturating_mul(4))
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    scratch: &mut [u8],
    window: &Window,
    act: &Activation,
) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::ConvF32)?;
    let s = shape(cx.x.shape(), cx.out.shape(), window).ok_or(cx.internal())?;
    let packed: &[f32] = cx.slice(&cx.operand(1)?)?;
    let (x, y): (&[f32], &mut [f32]) = (cast(cx.bytes(&cx.x)?)?, cast_mut(y)?);
    let (x_len, y_len) = (s.in_c * s.in_h * s.in_w, s.out_h * s.out_w * s.out_c);
    let (min, max) = act_range(act);
    let out = F32Out {
        min,
        max,
        residual: None,
    };
    let len = engine::f32_conv_nchw_scratch_len(&s).ok_or(cx.internal())?;
    let scratch: &mut [f32] = cast_mut(scratch.get_mut(..4 * len).ok_or(cx.internal())?)?;
    for i in 0..cx.x.dims[0] as usize {
        let xi = x.get(i * x_len..(i + 1) * x_len).ok_or(cx.internal())?;
        let yi = y.get_mut(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?;
        engine::f32_conv_nchw(&s, xi, packed, &out, yi, scratch)?;
    }
    Ok(())
}
