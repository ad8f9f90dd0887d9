//! ConvNchw (format 1.5): an f32 first-layer convolution that reads the NCHW graph
//! input (1–4 channels) and writes NHWC activations for the engine ops after it
//! ([`crate::kernels::engine::f32_conv_nchw`]), so the model has no input transpose.
//! ConvNchwI8 (format 1.6): its int8 form, which quantizes the f32 image as it reads
//! it ([`crate::kernels::engine::i8_conv_nchw`]), so an int8 model has neither the
//! input's `Quantize` nor its transpose.

use super::common::{act_ok, act_range, act_range_ok, cast, cast_mut, ensure, f32s, gate};
use super::common::{int8_act, Check, Checked, Cx};
use super::conv_nhwc;
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup, Window};
use crate::kernels::engine::{self, ConvShape, F32Out, I8Out, NCHW_MAX_C};

/// The op group (Cargo feature) of this module's op: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it (the f32 conv group
/// `ops-conv-f32` is checked as for every conv on f32 activations).
pub(super) const GROUP: OpGroup = OpGroup::Conv;

/// x `[N, C, H, W]` as the NHWC shape `[N, H, W, C]`.
fn nhwc(x: &[u32]) -> Option<[u32; 4]> {
    match x {
        &[n, c, h, w] => Some([n, h, w, c]),
        _ => None,
    }
}

/// The engine's geometry of one image: x `[N, C, H, W]`, output `[N, OH, OW, M]`.
fn shape(x: &[u32], out: &[u32], w: &Window) -> Option<ConvShape> {
    conv_nhwc::shape(&nhwc(x)?, out, w)
}

/// x `[N, C, H, W]` f32 with `1 <= C <= 4`, the packed weights (a 1D f32 constant of
/// exactly `pack_f32_conv`'s length for `M` outputs of `C` channels), output
/// `[N, OH, OW, M]` f32 with the floor-mode window size.
pub(super) fn check(c: &Check<'_, '_>, window: &Window, act: &Activation) -> Checked {
    gate(GROUP)?;
    // f32 only: without `ops-conv-f32` the loader rejects the op before (and the code
    // below is left out of the build).
    gate(OpGroup::ConvF32)?;
    c.inputs(2)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    f32s(&[x, out])?;
    conv_nhwc::window_ok(&nhwc(&x.shape).ok_or(OpReason::Shape)?, &out.shape, window)?;
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
/// [`crate::Model::arena_size`]): the NHWC copy of the input rows of one band of output
/// rows and a padding row, for the CPUs without the direct kernel
/// (`engine::f32_conv_nchw_scratch_len`).
pub(super) fn scratch_bytes(x: &[u32], out: &[u32], window: &Window) -> usize {
    if gate(OpGroup::ConvF32).is_err() {
        return 0;
    }
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

/// The int8 form, `ConvNchwI8` (format 1.6): its fields besides the window.
pub(super) struct I8Fields {
    /// The input's quantization `(scale, zero point)`.
    pub x: (f32, i32),
    /// The output clamp.
    pub act: (i32, i32),
}

/// x `[N, C, H, W]` f32 with `1 <= C <= 4`, a valid input quantization (finite scale
/// above 0, zero point in -128..=127), the int8 packed weights of `ConvNhwc` (a 1D
/// `U8` constant of the packer's length, wide or compact headers, valid requantization
/// pairs), output `[N, OH, OW, M]` int8 per-tensor with the floor-mode window size and
/// an int8 clamp range.
pub(super) fn check_i8(
    c: &Check<'_, '_>,
    window: &Window,
    act: &Activation,
    f: &I8Fields,
) -> Checked {
    gate(GROUP)?;
    // Its input is f32: as for every conv op on f32 activations, the loader asks for
    // `ops-conv-f32` (the int8-only microcontroller builds leave this op out).
    gate(OpGroup::ConvF32)?;
    c.inputs(2)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    ensure(x.dtype == DType::F32, OpReason::DType)?;
    int8_act(out)?;
    let (_, out_zp) = out.per_tensor().ok_or(OpReason::Quantization)?;
    let (scale, zp) = f.x;
    ensure(
        scale.is_finite()
            && scale > 0.0
            && (-128..=127).contains(&zp)
            && (-128..=127).contains(&out_zp),
        OpReason::Quantization,
    )?;
    ensure(act_range_ok(f.act.0, f.act.1), OpReason::Quantization)?;
    conv_nhwc::window_ok(&nhwc(&x.shape).ok_or(OpReason::Shape)?, &out.shape, window)?;
    let s = shape(&x.shape, &out.shape, window).ok_or(OpReason::Shape)?;
    ensure((1..=NCHW_MAX_C).contains(&s.in_c), OpReason::Shape)?;
    ensure(
        engine::i8_conv_nchw_scratch_len(&s).is_some(),
        OpReason::Attribute,
    )?;
    ensure(w.is_const(), OpReason::NotConstant)?;
    ensure(w.dtype == DType::U8 && w.shape.len() == 1, OpReason::DType)?;
    let bytes = c.graph.constant_bytes(w).ok_or(OpReason::ConstantData)?;
    let header = conv_nhwc::i8_header(&s, false, bytes.len()).ok_or(OpReason::Shape)?;
    conv_nhwc::headers_ok(bytes, &s, false, header)
}

/// Bytes of arena scratch of the int8 form: a band's quantized NHWC input rows, one
/// quantized row and a padding row (`engine::i8_conv_nchw_scratch_len`).
pub(super) fn scratch_bytes_i8(x: &[u32], out: &[u32], window: &Window) -> usize {
    if gate(OpGroup::ConvF32).is_err() {
        return 0;
    }
    shape(x, out, window)
        .and_then(|s| engine::i8_conv_nchw_scratch_len(&s))
        .unwrap_or(0)
}

pub(super) fn run_i8(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    scratch: &mut [u8],
    window: &Window,
    f: &I8Fields,
) -> Result<()> {
    cx.gate(GROUP)?;
    cx.gate(OpGroup::ConvF32)?;
    let s = shape(cx.x.shape(), cx.out.shape(), window).ok_or(cx.internal())?;
    let packed = cx.bytes(&cx.operand(1)?)?;
    let (x, y): (&[f32], &mut [i8]) = (cast(cx.bytes(&cx.x)?)?, cast_mut(y)?);
    let (x_len, y_len) = (s.in_c * s.in_h * s.in_w, s.out_h * s.out_w * s.out_c);
    let out = I8Out {
        zero_point: cx.per_tensor(&cx.out)?.1,
        act_min: f.act.0,
        act_max: f.act.1,
        residual: None,
        header: conv_nhwc::i8_header(&s, false, packed.len()).ok_or(cx.internal())?,
    };
    // The whole op scratch (at least `i8_conv_nchw_scratch_len`, which the kernel
    // checks, with the shape, once).
    let scratch: &mut [i8] = cast_mut(scratch)?;
    let (scale, zp) = f.x;
    for i in 0..cx.x.dims[0] as usize {
        let xi = x.get(i * x_len..(i + 1) * x_len).ok_or(cx.internal())?;
        let yi = y.get_mut(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?;
        engine::i8_conv_nchw(&s, xi, scale, zp, packed, &out, yi, scratch)?;
    }
    Ok(())
}
