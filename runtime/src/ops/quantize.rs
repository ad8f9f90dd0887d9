//! Quantize (f32 -> int8/uint8 with the output's quantization), Dequantize (int8/uint8
//! -> f32 with the input's) and Requantize (int8 -> int8 with a new scale and zero
//! point).

use super::common::{cast, cast_mut, ensure, gate, int8_act, rq_ok, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup, Requant};
use crate::kernels::{fast, int8 as ki};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

pub(super) fn check_quantize(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    ensure(
        c.x.dtype == DType::F32 && matches!(c.out.dtype, DType::I8 | DType::U8),
        OpReason::DType,
    )?;
    ensure(c.out.per_tensor().is_some(), OpReason::Quantization)?;
    c.same_shape()
}

pub(super) fn check_dequantize(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    ensure(
        matches!(c.x.dtype, DType::I8 | DType::U8) && c.out.dtype == DType::F32,
        OpReason::DType,
    )?;
    ensure(c.x.per_tensor().is_some(), OpReason::Quantization)?;
    c.same_shape()
}

pub(super) fn check_requantize(c: &Check<'_, '_>, rq: &Requant) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    int8_act(c.x)?;
    int8_act(c.out)?;
    c.same_shape()?;
    ensure(rq_ok(rq), OpReason::Quantization)
}

pub(super) fn run_quantize(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let (s, z) = cx.per_tensor(&cx.out)?;
    let x = cast(cx.bytes(&cx.x)?)?;
    match cx.out.dtype {
        DType::I8 => fast::f32_quantize_i8(x, s, z, cast_mut(y)?),
        _ => fast::f32_quantize_u8(x, s, z, y),
    }
    Ok(())
}

pub(super) fn run_dequantize(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let (s, z) = cx.per_tensor(&cx.x)?;
    let xb = cx.bytes(&cx.x)?;
    match cx.x.dtype {
        DType::I8 => fast::f32_dequantize_i8(cast(xb)?, s, z, cast_mut(y)?),
        _ => fast::f32_dequantize_u8(xb, s, z, cast_mut(y)?),
    }
    Ok(())
}

pub(super) fn run_requantize(cx: &Cx<'_, '_>, y: &mut [u8], rq: &Requant) -> Result<()> {
    cx.gate(GROUP)?;
    let (_, x_zp) = cx.per_tensor(&cx.x)?;
    let (_, out_zp) = cx.per_tensor(&cx.out)?;
    ki::requantize(cast(cx.bytes(&cx.x)?)?, x_zp, *rq, out_zp, cast_mut(y)?);
    Ok(())
}
