//! FullyConnected with f16 weights (format 1.2): `y[b, n] = act(x[b, :] · w[n, :] +
//! bias[n])` with f32 activations and the weights and bias stored as f16, packed at
//! conversion by [`engine::pack_f16_conv`] as a 1×1 convolution `[N, K, 1, 1]` with the
//! bias folded in. A few rows run the engine's f16 matrix-vector kernel row by row;
//! more rows are the pixels of a 1×B image for the engine's f16 conv. Both convert the
//! weights as they load them: nothing is expanded into the arena. The engine is the
//! `ops-f16` group's kernels (the f16 entry points of the engine), so this form needs
//! that group and not `ops-conv`.

use super::common::{act_ok, act_range, cast, cast_mut, ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup};
use crate::kernels::engine::{self, ConvShape, F32Out};

/// The group whose kernels run this form: the engine's f16 kernels.
const GROUP: OpGroup = OpGroup::F16;

/// Up to this many rows, one matrix-vector product per row ([`engine::f16_gemv`]:
/// the conv tile would leave most of its rows idle); more rows run as the 1×1 conv.
const GEMV_ROWS: usize = 3;

/// The engine geometry of `batch` rows of `k` inputs and `n` outputs: a 1×1
/// convolution of a `1 × batch` image with `k` channels into `n` channels.
fn shape(batch: usize, k: usize, n: usize) -> ConvShape {
    ConvShape {
        in_h: 1,
        in_w: batch,
        in_c: k,
        out_h: 1,
        out_w: batch,
        out_c: n,
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        pad: [0, 0],
    }
}

/// `(batch, k, n)` of x `[..., K]` and output `[..., N]` with as many rows.
fn dims(x: &[u32], out: &[u32]) -> Option<(usize, usize, usize)> {
    let (&k, lead) = x.split_last()?;
    let (&n, out_lead) = out.split_last()?;
    let rows = |l: &[u32]| l.iter().try_fold(1usize, |a, &d| a.checked_mul(d as usize));
    // The same rows, shaped alike or not (format 1.7).
    let batch = rows(lead)?;
    (rows(out_lead)? == batch).then_some((batch, k as usize, n as usize))
}

/// x `[..., K]` f32, the packed weights (a 1-D f16 constant of exactly
/// `2 · f32_conv_packed_len(N, K, [1, 1])` bytes, bias included), no third operand;
/// output `[..., N]` f32.
pub(super) fn check(c: &Check<'_, '_>, act: &Activation) -> Checked {
    gate(GROUP)?;
    ensure(c.ins.len() == 2, OpReason::Arity)?;
    act_ok(act)?;
    let (x, w, out) = (c.x, &c.ins[1], c.out);
    ensure(
        x.dtype == DType::F32 && out.dtype == DType::F32 && w.dtype == DType::F16,
        OpReason::DType,
    )?;
    ensure(w.is_const(), OpReason::NotConstant)?;
    ensure(w.shape.len() == 1, OpReason::Shape)?;
    let (batch, k, n) = dims(&x.shape, &out.shape).ok_or(OpReason::Shape)?;
    ensure(
        engine::conv_scratch_len(&shape(batch, k, n)) == Some(0),
        OpReason::Shape,
    )?;
    let bytes = c.graph.constant_bytes(w).ok_or(OpReason::ConstantData)?;
    let len = engine::f32_conv_packed_len(n, k, [1, 1]).and_then(|e| e.checked_mul(2));
    ensure(len == Some(bytes.len()), OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], act: &Activation) -> Result<()> {
    cx.gate(GROUP)?;
    let w = cx.operand(1)?;
    let (batch, k, n) = dims(cx.x.shape(), cx.out.shape()).ok_or(cx.internal())?;
    let (min, max) = act_range(act);
    let out = F32Out {
        min,
        max,
        residual: None,
    };
    let x: &[f32] = cast(cx.bytes(&cx.x)?)?;
    let (packed, y): (&[u16], &mut [f32]) = (cx.slice(&w)?, cast_mut(y)?);
    if batch > GEMV_ROWS {
        return engine::f16_conv(&shape(batch, k, n), x, packed, &out, y, &mut []);
    }
    for r in 0..batch {
        let xr = x.get(r * k..(r + 1) * k).ok_or(cx.internal())?;
        let yr = y.get_mut(r * n..(r + 1) * n).ok_or(cx.internal())?;
        engine::f16_gemv(k, n, xr, packed, &out, yr)?;
    }
    Ok(())
}
