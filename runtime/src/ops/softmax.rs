//! Softmax / LogSoftmax along one axis: f32; int8 (softmax only) through a table of
//! `exp(-scale * beta * d)` in Q0.31 (input 1), output scale 1/256, zero point -128; or
//! int8 logits to f32 (format 1.8): the bits of a `Dequantize` followed by the f32 op.

use super::common::{cast, cast_mut, ensure, gate, int8_act, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::rd_u32;
use crate::format::types::{DType, OpGroup};
use crate::kernels::{f32 as kf, int8 as ki};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Core;

pub(super) fn check(c: &Check<'_, '_>, axis: u8, log: bool) -> Checked {
    gate(GROUP)?;
    let (x, out) = (c.x, c.out);
    ensure((axis as usize) < x.shape.len(), OpReason::Attribute)?;
    c.same_shape()?;
    match x.dtype {
        DType::F32 => {
            c.inputs(1)?;
            ensure(out.dtype == DType::F32, OpReason::DType)
        }
        DType::I8 if out.dtype == DType::F32 => {
            c.inputs(1)?;
            int8_act(x)
        }
        DType::I8 => {
            ensure(!log, OpReason::DType)?;
            c.inputs(2)?;
            int8_act(x)?;
            ensure(out.dtype == DType::I8, OpReason::DType)?;
            ensure(
                out.per_tensor() == Some((1.0 / 256.0, -128)),
                OpReason::Quantization,
            )?;
            let t = &c.ins[1];
            ensure(t.is_const(), OpReason::NotConstant)?;
            ensure(t.dtype == DType::I32, OpReason::DType)?;
            ensure(t.elements() == Some(256), OpReason::Shape)?;
            let first = c.graph.constant_bytes(t).and_then(|b| rd_u32(b, 0));
            ensure(first.is_some_and(|v| v > 0), OpReason::ConstantData)
        }
        _ => Err(OpReason::DType),
    }
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], axis: u8, log: bool) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let a = axis as usize;
    let outer = xs[..a].iter().product();
    let inner = xs[a + 1..xr].iter().product();
    let xb = cx.bytes(&cx.x)?;
    // One call of the f32 kernel for both of its inputs (flash on microcontrollers).
    let x = match (cx.x.dtype, cx.out.dtype) {
        (DType::I8, DType::F32) => {
            let (s, z) = cx.per_tensor(&cx.x)?;
            kf::Logits::I8(cast(xb)?, s, z)
        }
        (DType::I8, _) => {
            let table: &[u32] = cx.input(1)?;
            ki::softmax(cast(xb)?, outer, xs[a], inner, table, cast_mut(y)?);
            return Ok(());
        }
        _ => kf::Logits::F32(cast(xb)?),
    };
    kf::softmax_of(x, outer, xs[a], inner, log, cast_mut(y)?);
    Ok(())
}
