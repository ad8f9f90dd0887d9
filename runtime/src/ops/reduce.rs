//! GlobalProd: the product over the trailing axes (f32, ONNX ReduceProd; the other
//! reductions are pools, see `pool.rs`).

use super::common::{cast, cast_mut, f32s, gate, Check, Checked, Cx};
use crate::error::Result;
use crate::format::types::OpGroup;
use crate::kernels::f32 as kf;

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Math;

/// x `[N, C, ...]` (rank >= 3) f32, output `[N, C, 1, ...]` f32.
pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(1)?;
    f32s(&[c.x, c.out])?;
    super::pool::global_shapes(c)
}

pub(super) fn run(cx: &Cx<'_, '_>, y: &mut [u8]) -> Result<()> {
    cx.gate(GROUP)?;
    let ch = cx.x.dims[0] as usize * cx.x.dims[1] as usize;
    let sp = cx.x.elements / ch.max(1);
    kf::global_prod(cast(cx.bytes(&cx.x)?)?, ch, sp, cast_mut(y)?);
    Ok(())
}
