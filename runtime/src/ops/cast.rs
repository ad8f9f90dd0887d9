//! Cast: element type conversion (f16 weights -> f32, i64 <-> i32, i32/i64/f32 ->
//! f32/i32/i64).

use super::common::{ensure, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{DType, OpGroup};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Shape;

pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    c.same_shape()?;
    ensure(
        matches!(
            (c.x.dtype, c.out.dtype),
            (DType::F16, DType::F32)
                | (
                    DType::I32 | DType::I64 | DType::F32,
                    DType::F32 | DType::I32 | DType::I64
                )
        ),
        OpReason::DType,
    )
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    convert(cx.x.dtype, cx.out.dtype, cx.bytes(&cx.x)?, y).ok_or(cx.internal())
}

/// `y` = the elements of `x` (of dtype `from`) converted to `to` (Rust `as`: floats to
/// integers saturate, NaN gives 0).
fn convert(from: DType, to: DType, x: &[u8], y: &mut [u8]) -> Option<()> {
    fn each<A: bytemuck::Pod, B: bytemuck::Pod>(
        x: &[u8],
        y: &mut [u8],
        f: impl Fn(A) -> B,
    ) -> Option<()> {
        let x: &[A] = bytemuck::try_cast_slice(x).ok()?;
        let y: &mut [B] = bytemuck::try_cast_slice_mut(y).ok()?;
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
        Some(())
    }
    match (from, to) {
        (DType::F16, DType::F32) => {
            for (o, c) in y.chunks_exact_mut(4).zip(x.chunks_exact(2)) {
                let h = half::f16::from_le_bytes([c[0], c[1]]);
                o.copy_from_slice(&h.to_f32().to_le_bytes());
            }
            Some(())
        }
        (DType::I64, DType::I32) => each(x, y, |v: i64| v as i32),
        (DType::I32, DType::I64) => each(x, y, |v: i32| v as i64),
        (DType::I32, DType::F32) => each(x, y, |v: i32| v as f32),
        (DType::I64, DType::F32) => each(x, y, |v: i64| v as f32),
        (DType::F32, DType::I32) => each(x, y, |v: f32| v as i32),
        (DType::F32, DType::I64) => each(x, y, |v: f32| v as i64),
        (a, b) if a == b => {
            y.copy_from_slice(x);
            Some(())
        }
        _ => None,
    }
}
