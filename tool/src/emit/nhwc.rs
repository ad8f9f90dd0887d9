//! The engine ops of the NHWC layout pass ([`crate::ir::nhwc`]) in an f32 or f16 model:
//! the IR holds their weights in ONNX layout (`[M, C/groups, kh, kw]`) and a bias `[M]`;
//! the file holds them packed by the runtime's own packers
//! (`ferrite::kernels::engine::pack_f32_conv` / `pack_f32_dwconv`, or for f16
//! `pack_f16_conv` / `pack_f16_dwconv` over the weights and bias rounded to f16), so the
//! runtime reads them as they lie.

use super::writer::Writer;
use crate::error::{Error, Result};
use crate::ir::{Data, Graph, Node, TId};
use ferrite::format::types::{Op, Quant, UnaryOp};
use ferrite::kernels::engine;
use ferrite::DType;
use std::collections::{HashMap, HashSet};

/// The file operands of engine conv `n`: its input, the packed weights (a new 1-D
/// constant, f16 when `f16`), and its residual if any.
pub(super) fn operands(w: &mut Writer<'_>, n: &Node, f16: bool) -> Result<Vec<u32>> {
    let pw = packed(w, n, f16)?;
    let mut ins = vec![w.f32(n.inputs[0])?, pw];
    if let Some(&r) = n.inputs.get(3) {
        ins.push(w.f32(r)?);
    }
    Ok(ins)
}

/// The first-layer convs of the f32 graph `g` that read the NCHW graph input
/// themselves (`Op::ConvNchw`, format 1.5): each f32 `ConvNhwc` without residual over
/// all channels whose input is the NHWC pass's `Transpose` (perm `[0, 2, 3, 1]`) of a
/// graph input with 1–4 channels (or of the `Reshape` of a 1-D graph input `[N, C, L]`
/// to `[N, C, 1, L]`), read by nothing else. With `clipped`, also the `Transpose` of a
/// `Clip` of the graph input read only there (an f32 file of a pre-quantized model
/// clamps its input to the quantization range, `import::qdq_clamp`): the clip stays an
/// NCHW op before the stem, which clamps the same values. Returns the conv nodes with
/// their NCHW input (the graph input, that reshape or that clip), and the transpose
/// nodes, which are not written.
pub(super) fn nchw_stems(g: &Graph, clipped: bool) -> (HashMap<usize, TId>, HashSet<usize>) {
    let mut readers = vec![0usize; g.tensors.len()];
    for &t in g.nodes.iter().flat_map(|n| &n.inputs).chain(&g.outputs) {
        readers[t] += 1;
    }
    let producer: HashMap<TId, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.output, i))
        .collect();
    let (mut stems, mut skip) = (HashMap::new(), HashSet::new());
    for (i, n) in g.nodes.iter().enumerate() {
        let Op::ConvNhwc { q: None, .. } = n.op else {
            continue;
        };
        let Some(&t) = producer.get(&n.inputs[0]) else {
            continue;
        };
        let tn = &g.nodes[t];
        let x = tn.inputs[0];
        let xt = &g.tensors[x];
        let c = xt.shape.get(1).copied().unwrap_or(0);
        let channels = g.tensors[n.inputs[1]].shape.get(1).copied();
        if matches!(&tn.op, Op::Transpose { perm } if perm.as_slice() == [0, 2, 3, 1])
            && (g.inputs.contains(&x)
                || line_input(g, &producer, x, &readers)
                || (clipped && clipped_input(g, &producer, x, &readers)))
            && xt.dtype == DType::F32
            && xt.shape.len() == 4
            && (1..=engine::NCHW_MAX_C).contains(&c)
            && channels == Some(c)
            && n.inputs.len() == 3
            && readers[n.inputs[0]] == 1
        {
            stems.insert(i, x);
            skip.insert(t);
        }
    }
    (stems, skip)
}

/// Whether `x` is the NHWC pass's `Reshape` of a 1-D f32 graph input `[N, C, L]` to
/// `[N, C, 1, L]`, read only by the stem's `Transpose`: the stem reads that reshape.
fn line_input(g: &Graph, producer: &HashMap<TId, usize>, x: TId, readers: &[usize]) -> bool {
    let Some(&r) = producer.get(&x) else {
        return false;
    };
    let (rn, xs) = (&g.nodes[r], &g.tensors[x].shape);
    let src = &g.tensors[rn.inputs[0]];
    matches!(rn.op, Op::Reshape)
        && g.inputs.contains(&rn.inputs[0])
        && src.dtype == DType::F32
        && src.shape.len() == 3
        && xs.len() == 4
        && xs[2] == 1
        && readers[x] == 1
}

/// Whether `x` is a `Unary Clip` of an f32 graph input (the same shape), read only by
/// the stem's `Transpose`: the stem reads the clip's output.
fn clipped_input(g: &Graph, producer: &HashMap<TId, usize>, x: TId, readers: &[usize]) -> bool {
    let Some(&c) = producer.get(&x) else {
        return false;
    };
    let cn = &g.nodes[c];
    let Some(&i) = cn.inputs.first() else {
        return false;
    };
    let src = &g.tensors[i];
    matches!(
        cn.op,
        Op::Unary {
            op: UnaryOp::Clip { .. }
        }
    ) && cn.inputs.len() == 1
        && g.inputs.contains(&i)
        && src.dtype == DType::F32
        && src.shape == g.tensors[x].shape
        && readers[x] == 1
}

/// Writes the first-layer conv `n` (a [`nchw_stems`] conv) as `ConvNchw` over the
/// graph input `x` (or its reshape or clip).
pub(super) fn write_stem(w: &mut Writer<'_>, n: &Node, x: TId) -> Result<()> {
    let Op::ConvNhwc { window, act, .. } = n.op else {
        return Err(Error::Other(format!(
            "internal: \"{}\" is no ConvNhwc",
            n.name
        )));
    };
    let pw = packed(w, n, false)?;
    let xi = w.f32(x)?;
    w.op_f32_as(n, Op::ConvNchw { window, act }, &[xi, pw])
}

/// The packed weights of engine conv `n` (a new 1-D constant, f16 when `f16`).
fn packed(w: &mut Writer<'_>, n: &Node, f16: bool) -> Result<u32> {
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
    let (dtype, bytes, len) = if f16 {
        let p = pack_f16(wv, Some(bv), m, cg, kernel, depthwise).map_err(bad)?;
        let bytes: Vec<u8> = p.iter().flat_map(|v| v.to_le_bytes()).collect();
        (DType::F16, bytes, p.len())
    } else {
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
        (DType::F32, bytes, packed.len())
    };
    let name = format!("{}.packed", wt.name);
    Ok(w.b.add_const(&name, dtype, &[len as u32], &bytes, Quant::None)?)
}

/// f16 bits of `v` (round to nearest even).
fn f16_bits(v: &[f32]) -> Vec<u16> {
    v.iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect()
}

/// Weights `[m, cg, kh, kw]` and bias `[m]` rounded to f16 and packed by the runtime's
/// f16 conv (or depthwise, `cg == 1`) packer.
pub(super) fn pack_f16(
    wv: &[f32],
    bias: Option<&[f32]>,
    m: usize,
    cg: usize,
    kernel: [usize; 2],
    depthwise: bool,
) -> std::result::Result<Vec<u16>, ferrite::Error> {
    let (wh, bh) = (f16_bits(wv), bias.map(f16_bits));
    let len = if depthwise {
        engine::f32_dwconv_packed_len(m, kernel)
    } else {
        engine::f32_conv_packed_len(m, cg, kernel)
    };
    let mut p = vec![0u16; len.unwrap_or(0)];
    if depthwise {
        engine::pack_f16_dwconv(&wh, bh.as_deref(), m, kernel, &mut p)?;
    } else {
        engine::pack_f16_conv(&wh, bh.as_deref(), m, cg, kernel, &mut p)?;
    }
    Ok(p)
}
