//! Pad: constant padding of F32, I8, U8, I32 or I64 tensors; `pads` = the begins then
//! the ends of every axis, `value` in the tensor's own domain.

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup, MAX_RANK};
use crate::kernels::generic as kg;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Shape;

pub(super) fn check(c: &Check<'_, '_>, pads: &[u32], value: f32) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    let (x, out) = (&c.x.shape, &c.out.shape);
    let r = x.len();
    ensure(pads.len() == 2 * r, OpReason::Attribute)?;
    ensure(c.x.dtype == c.out.dtype, OpReason::DType)?;
    ensure(out.len() == r, OpReason::Shape)?;
    ensure(c.x.quant == c.out.quant, OpReason::Quantization)?;
    ensure(
        !value.is_nan() || c.x.dtype == DType::F32,
        OpReason::Attribute,
    )?;
    // The fill is written as one element of x's dtype (F16 is a weight storage type,
    // never padded; an I64 fill must be an integer).
    let integral = value.is_finite() && libm::truncf(value) == value;
    match c.x.dtype {
        DType::F32 | DType::I8 | DType::U8 | DType::I32 => {}
        DType::I64 => ensure(integral, OpReason::Attribute)?,
        DType::F16 => return Err(OpReason::DType),
    }
    if let Some((lo, hi)) = c.x.dtype.qrange() {
        ensure(
            value >= lo as f32 && value <= hi as f32 && libm::truncf(value) == value,
            OpReason::Attribute,
        )?;
    }
    let fits = (0..r).all(|d| x[d] as u64 + pads[d] as u64 + pads[r + d] as u64 == out[d] as u64);
    ensure(fits, OpReason::Shape)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8], pads: &[u32], value: f32) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let mut p = [0usize; 2 * MAX_RANK];
    for (d, &v) in p.iter_mut().zip(pads.iter()) {
        *d = v as usize;
    }
    // One element of x's dtype (the check allows F32, I8, U8, I32, I64 and an integral
    // value in range for the integer types).
    let mut fill = [0u8; 8];
    let n = cx.x.dtype.size();
    match cx.x.dtype {
        DType::F32 => fill[..4].copy_from_slice(&value.to_le_bytes()),
        DType::I32 => fill[..4].copy_from_slice(&(value as i32).to_le_bytes()),
        DType::I64 => fill.copy_from_slice(&(value as i64).to_le_bytes()),
        _ => fill[0] = (value as i32) as u8,
    }
    let fill = fill.get(..n).unwrap_or(&[]);
    kg::pad(cx.bytes(&cx.x)?, &xs[..xr], &p[..2 * xr], n, fill, y);
    Ok(())
}
