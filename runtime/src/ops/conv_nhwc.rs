//! ConvNhwc and DepthwiseNhwc: convolutions of channels-last activations on the
//! engine ([`crate::kernels::engine`]), weights packed at conversion, f32 (weights f32
//! or f16, format 1.2) or int8, with the fused clamp and an optional residual operand.

use super::binary::qbinary_ok;
use super::common::{act_ok, act_range, act_range_ok, cast, cast_mut, ensure, gate, rq_ok, Check};
use super::common::{Checked, Cx};
use super::window::out_dim;
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup, QNhwc, Requant, TensorDef, Window};
use crate::kernels::engine::{self, ConvShape, F32Out, I8Header, I8Out, I8Residual, NR};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Conv;

/// The engine's geometry of one image: x `[N, H, W, C]`, output `[N, OH, OW, M]`.
pub(super) fn shape(x: &[u32], out: &[u32], w: &Window) -> Option<ConvShape> {
    let d = |v: u32| v as usize;
    match (x, out) {
        ([_, h, wd, c], [_, oh, ow, m]) => Some(ConvShape {
            in_h: d(*h),
            in_w: d(*wd),
            in_c: d(*c),
            out_h: d(*oh),
            out_w: d(*ow),
            out_c: d(*m),
            kernel: [d(w.kernel[0]), d(w.kernel[1])],
            stride: [d(w.stride[0]), d(w.stride[1])],
            dilation: [d(w.dilation[0]), d(w.dilation[1])],
            pad: [d(w.pads[0]), d(w.pads[1])],
        }),
        _ => None,
    }
}

/// x `[N, H, W, C]` and output `[N, OH, OW, M]` have rank 4 and one batch, and the
/// window gives the output's floor-mode `OH × OW`.
pub(super) fn window_ok(x: &[u32], out: &[u32], window: &Window) -> Checked {
    let ([n, h, w, _], [on, oh, ow, _]) = (x, out) else {
        return Err(OpReason::Shape);
    };
    ensure(n == on, OpReason::Shape)?;
    let axis = |a: usize| (window.kernel[a], window.stride[a], window.dilation[a]);
    ensure(
        out_dim(*h, axis(0), (window.pads[0], window.pads[2]), false) == Some(*oh)
            && out_dim(*w, axis(1), (window.pads[1], window.pads[3]), false) == Some(*ow),
        OpReason::Attribute,
    )
}

/// Bytes of packed weights of dtype `w` for `s`: f32 / f16 elements × 4 / × 2 (the
/// f16 layout is the f32 one element for element); for int8 (`U8`) see [`i8_header`].
fn packed_bytes(s: &ConvShape, depthwise: bool, w: DType) -> Option<usize> {
    let floats = |size: usize| match depthwise {
        false => engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel)?.checked_mul(size),
        true => engine::f32_dwconv_packed_len(s.in_c, s.kernel)?.checked_mul(size),
    };
    match w {
        DType::F32 => floats(4),
        DType::F16 => floats(2),
        _ => None,
    }
}

/// The header form of `len` bytes of int8 packed weights for `s`: the packer's length
/// with wide headers (format 1.1) or with compact ones (format 1.4); `None` for any
/// other length. The two lengths of one shape always differ.
pub(super) fn i8_header(s: &ConvShape, depthwise: bool, len: usize) -> Option<I8Header> {
    let packed_len = |h| match depthwise {
        false => engine::i8_conv_packed_len_as(h, s.out_c, s.in_c, s.kernel),
        true => engine::i8_dwconv_packed_len_as(h, s.in_c, s.kernel),
    };
    [I8Header::Wide, I8Header::Compact]
        .into_iter()
        .find(|&h| packed_len(h) == Some(len))
}

/// x `[N, H, W, C]`, packed weights (a 1D constant of exactly the packer's length; f32
/// or f16 weights in an f32 op, `U8` bytes in an int8 op),
/// optional residual of the output's shape and dtype; output `[N, OH, OW, M]` with
/// the floor-mode window size (depthwise: `M = C`). int8: per-tensor activations,
/// valid requantization pairs in every panel header, the residual's `Add` parameters
/// consistent with the residual's and the output's zero points.
pub(super) fn check(
    c: &Check<'_, '_>,
    window: &Window,
    act: &Activation,
    q: Option<&QNhwc>,
    depthwise: bool,
) -> Checked {
    gate(GROUP)?;
    ensure(c.ins.len() == 2 || c.ins.len() == 3, OpReason::Arity)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    window_ok(&x.shape, &out.shape, window)?;
    ensure(!depthwise || x.shape[3] == out.shape[3], OpReason::Shape)?;
    let s = shape(&x.shape, &out.shape, window).ok_or(OpReason::Shape)?;
    ensure(engine::conv_scratch_len(&s).is_some(), OpReason::Attribute)?;
    ensure(w.is_const(), OpReason::NotConstant)?;
    let bytes = c.graph.constant_bytes(w).ok_or(OpReason::ConstantData)?;
    ensure(w.shape.len() == 1, OpReason::Shape)?;
    ensure(
        matches!(
            (q.is_some(), w.dtype),
            (false, DType::F32 | DType::F16) | (true, DType::U8)
        ),
        OpReason::DType,
    )?;
    let header = match w.dtype {
        DType::U8 => i8_header(&s, depthwise, bytes.len()),
        _ => None,
    };
    ensure(
        header.is_some() || packed_bytes(&s, depthwise, w.dtype) == Some(bytes.len()),
        OpReason::Shape,
    )?;
    let residual = c.ins.get(2);
    if let Some(r) = residual {
        ensure(r.shape == out.shape, OpReason::Shape)?;
    }
    let Some(q) = q else {
        let all_f32 = [x, out]
            .into_iter()
            .chain(residual)
            .all(|t| t.dtype == DType::F32);
        return ensure(all_f32, OpReason::DType);
    };
    let zp = |t: &TensorDef<'_>| -> core::result::Result<i32, OpReason> {
        ensure(t.dtype == DType::I8, OpReason::DType)?;
        let (_, z) = t.per_tensor().ok_or(OpReason::Quantization)?;
        ensure((-128..=127).contains(&z), OpReason::Quantization)?;
        Ok(z)
    };
    zp(x)?;
    let out_zp = zp(out)?;
    ensure(act_range_ok(q.act_min, q.act_max), OpReason::Quantization)?;
    match (residual, &q.residual) {
        (None, None) => {}
        (Some(r), Some(add)) => {
            let r_zp = zp(r)?;
            ensure(
                qbinary_ok(add) && add.b_zero_point == r_zp && add.out_zero_point == out_zp,
                OpReason::Quantization,
            )?;
        }
        _ => return Err(OpReason::Arity),
    }
    headers_ok(bytes, &s, depthwise, header.unwrap_or_default())
}

/// Every panel's (tile's) per-channel `(multiplier, shift)` pairs in headers of the
/// form `header` are valid requantizations (the padded channels hold zeros, also
/// valid).
pub(super) fn headers_ok(
    bytes: &[u8],
    s: &ConvShape,
    depthwise: bool,
    header: I8Header,
) -> Checked {
    let panels = s.out_c.div_ceil(NR);
    let len = bytes.len() / panels.max(1);
    // Offsets of the multiplier and shift rows in a header.
    let (m_at, s_at) = if depthwise {
        header.dw_rq_at()
    } else {
        header.conv_rq_at()
    };
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    for panel in bytes.chunks_exact(len.max(1)).take(panels) {
        for i in 0..NR {
            let (Some(multiplier), Some(shift)) = (
                word(panel, m_at + 4 * i),
                panel.get(s_at..).and_then(|row| header.shift(row, i)),
            ) else {
                return Err(OpReason::ConstantData);
            };
            ensure(
                rq_ok(&Requant { multiplier, shift }),
                OpReason::ConstantData,
            )?;
        }
    }
    Ok(())
}

/// Bytes of arena scratch the op needs (after the graph's tensors, see
/// [`crate::Model::arena_size`]): a padding row of `C` elements for a (non-depthwise)
/// conv whose taps reach the padding.
pub(super) fn scratch_bytes(x: &[u32], out: &[u32], window: &Window, dtype: DType) -> usize {
    shape(x, out, window)
        .and_then(|s| engine::conv_scratch_len(&s))
        .map_or(0, |n| n.saturating_mul(dtype.size()))
}

/// The packed weights of an f32 op: f32, or f16 bits converted as the kernel loads them.
#[derive(Clone, Copy)]
enum Packed<'a> {
    F32(&'a [f32]),
    F16(&'a [u16]),
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    scratch: &mut [u8],
    window: &Window,
    act: &Activation,
    q: Option<&QNhwc>,
    depthwise: bool,
) -> Result<()> {
    cx.gate(GROUP)?;
    let s = shape(cx.x.shape(), cx.out.shape(), window).ok_or(cx.internal())?;
    let w = cx.operand(1)?;
    let images = cx.x.dims[0] as usize;
    let (x_len, y_len) = (s.in_h * s.in_w * s.in_c, s.out_h * s.out_w * s.out_c);
    let xb = cx.bytes(&cx.x)?;
    let rb = match cx.inputs.len() {
        3 => Some(cx.bytes(&cx.operand(2)?)?),
        _ => None,
    };
    let scratch_len = if depthwise {
        0
    } else {
        engine::conv_scratch_len(&s).ok_or(cx.internal())?
    };
    match q {
        None => {
            cx.gate(OpGroup::ConvF32)?;
            let (x, y): (&[f32], &mut [f32]) = (cast(xb)?, cast_mut(y)?);
            let packed = match w.dtype {
                DType::F16 => {
                    cx.gate(OpGroup::F16)?;
                    Packed::F16(cx.slice(&w)?)
                }
                _ => Packed::F32(cx.slice(&w)?),
            };
            let r: Option<&[f32]> = rb.map(cast).transpose()?;
            let scratch: &mut [f32] =
                cast_mut(scratch.get_mut(..4 * scratch_len).ok_or(cx.internal())?)?;
            let (min, max) = act_range(act);
            for i in 0..images {
                let xi = x.get(i * x_len..(i + 1) * x_len).ok_or(cx.internal())?;
                let yi = y.get_mut(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?;
                let residual = match r {
                    Some(r) => Some(r.get(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?),
                    None => None,
                };
                let out = F32Out { min, max, residual };
                match (packed, depthwise) {
                    (Packed::F32(p), true) => engine::f32_dwconv(&s, xi, p, &out, yi)?,
                    (Packed::F32(p), false) => engine::f32_conv(&s, xi, p, &out, yi, scratch)?,
                    (Packed::F16(p), true) => engine::f16_dwconv(&s, xi, p, &out, yi)?,
                    (Packed::F16(p), false) => engine::f16_conv(&s, xi, p, &out, yi, scratch)?,
                }
            }
        }
        Some(q) => {
            let (x, packed, y): (&[i8], &[u8], &mut [i8]) =
                (cast(xb)?, cx.bytes(&w)?, cast_mut(y)?);
            let r: Option<&[i8]> = rb.map(cast).transpose()?;
            let scratch: &mut [i8] =
                cast_mut(scratch.get_mut(..scratch_len).ok_or(cx.internal())?)?;
            let (_, x_zp) = cx.per_tensor(&cx.x)?;
            let header = i8_header(&s, depthwise, packed.len()).ok_or(cx.internal())?;
            let zero_point = match &q.residual {
                Some(add) => add.a_zero_point,
                None => cx.per_tensor(&cx.out)?.1,
            };
            for i in 0..images {
                let xi = x.get(i * x_len..(i + 1) * x_len).ok_or(cx.internal())?;
                let yi = y.get_mut(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?;
                let residual = match (r, &q.residual) {
                    (Some(r), Some(add)) => Some(I8Residual {
                        input: r.get(i * y_len..(i + 1) * y_len).ok_or(cx.internal())?,
                        add: *add,
                    }),
                    _ => None,
                };
                let out = I8Out {
                    zero_point,
                    act_min: q.act_min,
                    act_max: q.act_max,
                    residual,
                    header,
                };
                if depthwise {
                    engine::i8_dwconv(&s, xi, x_zp, packed, &out, yi)?;
                } else {
                    engine::i8_conv(&s, xi, x_zp, packed, &out, yi, scratch)?;
                }
            }
        }
    }
    Ok(())
}
