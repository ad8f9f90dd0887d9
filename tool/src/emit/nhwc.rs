//! The engine ops of the NHWC layout pass ([`crate::ir::nhwc`]) in an f32 model: the
//! IR holds their weights in ONNX layout (`[M, C/groups, kh, kw]`) and a bias `[M]`;
//! the file holds them packed by the runtime's own packers
//! (`ferrite::kernels::engine::pack_f32_conv` / `pack_f32_dwconv`), so the runtime reads
//! them as they lie.

use super::writer::Writer;
use crate::error::{Error, Result};
use crate::ir::{Data, Node};
use ferrite::format::types::{Op, Quant};
use ferrite::kernels::engine;
use ferrite::DType;

/// The file operands of engine conv `n`: its input, the packed weights (a new 1-D
/// constant), and its residual if any.
pub(super) fn f32_operands(w: &mut Writer<'_>, n: &Node) -> Result<Vec<u32>> {
    let depthwise = matches!(n.op, Op::DepthwiseNhwc { .. });
    let (wt, bt) = (&w.g.tensors[n.inputs[1]], &w.g.tensors[n.inputs[2]]);
    let (Some(Data::F32(wv)), Some(Data::F32(bv))) = (&wt.data, &bt.data) else {
        return Err(Error::Other(format!(
            "internal: engine conv \"{}\" without constant f32 weights",
            n.name
        )));
    };
    let (m, cg, kernel) = match wt.shape.as_slice() {
        &[m, cg, kh, kw] => (m, cg, [kh, kw]),
        _ => {
            return Err(Error::Other(format!(
                "internal: conv weights of \"{}\"",
                n.name
            )))
        }
    };
    let bad = |e: ferrite::Error| Error::Other(format!("packing \"{}\": {e}", n.name));
    let packed = if depthwise {
        let len = engine::f32_dwconv_packed_len(m, kernel).unwrap_or(0);
        let mut p = vec![0f32; len];
        engine::pack_f32_dwconv(wv, Some(bv), m, kernel, &mut p).map_err(bad)?;
        p
    } else {
        let len = engine::f32_conv_packed_len(m, cg, kernel).unwrap_or(0);
        let mut p = vec![0f32; len];
        engine::pack_f32_conv(wv, Some(bv), m, cg, kernel, &mut p).map_err(bad)?;
        p
    };
    let bytes: Vec<u8> = packed.iter().flat_map(|v| v.to_le_bytes()).collect();
    let name = format!("{}.packed", wt.name);
    let pw = w.b.add_const(
        &name,
        DType::F32,
        &[packed.len() as u32],
        &bytes,
        Quant::None,
    )?;
    let mut ins = vec![w.f32(n.inputs[0])?, pw];
    if let Some(&r) = n.inputs.get(3) {
        ins.push(w.f32(r)?);
    }
    Ok(ins)
}
