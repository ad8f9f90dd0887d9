//! f16 models (activations f32, weights f16): the runtime reads the f16 weights of
//! these ops directly, converting them as its kernels load them, so the arena is the
//! f32 model's ([`F16Form::Packed`]):
//!
//! - `ConvNhwc` / `DepthwiseNhwc` (the NHWC pass's engine convolutions): weights and
//!   bias packed by the runtime's f16 engine packers;
//! - `FullyConnected` with constant weights (and a constant bias, if any): the same
//!   packing as a 1×1 convolution `[N, K, 1, 1]`, bias folded in, as its only weight
//!   operand.
//!
//! The ops without an f16 kernel ([`F16Form::Cast`]: an NCHW `Conv` the NHWC pass left,
//! MatMul) store their constant weights as f16 and widen them with a `Cast` into an
//! arena scratch tensor right before the op. Everything else is written as in the f32
//! model.

use super::nhwc;
use super::plan::{forms, F16Form};
use super::writer::{dims, Writer};
use crate::error::{Error, Result};
use crate::ir::{Data, Graph, Node};
use ferrite::format::types::{Op, Quant};
use ferrite::DType;

/// Writes every node; returns how many store their weights as f16.
pub(super) fn nodes(w: &mut Writer<'_>) -> Result<usize> {
    let g = w.g;
    let mut reduced = 0;
    for n in &g.nodes {
        let weights = n
            .inputs
            .get(1)
            .copied()
            .filter(|&t| g.is_const(t) && g.tensors[t].dtype == DType::F32);
        match (forms(&n.op).1, weights) {
            (F16Form::Packed, Some(_)) => {
                let ins = match n.op {
                    Op::FullyConnected { .. } => match fc_operands(w, n)? {
                        Some(ins) => ins,
                        None => {
                            w.node_f32(n)?;
                            continue;
                        }
                    },
                    _ => nhwc::operands(w, n, true)?,
                };
                w.op_f32(n, &ins)?;
                reduced += 1;
            }
            (F16Form::Cast, Some(_)) => {
                let mut ins = Vec::new();
                for (k, &i) in n.inputs.iter().enumerate() {
                    ins.push(if k == 1 {
                        weight(w, i, &n.name)?
                    } else {
                        w.f32(i)?
                    });
                }
                w.op_f32(n, &ins)?;
                reduced += 1;
            }
            (F16Form::Packed | F16Form::Cast, None) | (F16Form::F32, _) => w.node_f32(n)?,
        }
    }
    Ok(reduced)
}

/// The constant f32 data of IR tensor `t`, if it is one.
fn f32_data(g: &Graph, t: usize) -> Option<&[f32]> {
    match &g.tensors[t].data {
        Some(Data::F32(v)) => Some(v),
        _ => None,
    }
}

/// The file operands of FullyConnected `n` reading f16 weights: its input and the
/// packed f16 weights and bias (a new 1-D constant); `None` when its weights `[N, K]`
/// or its bias are not constant f32 data (then it is written as in the f32 model).
fn fc_operands(w: &mut Writer<'_>, n: &Node) -> Result<Option<Vec<u32>>> {
    let g = w.g;
    let wt = &g.tensors[n.inputs[1]];
    let (Some(wv), &[m, k]) = (f32_data(g, n.inputs[1]), wt.shape.as_slice()) else {
        return Ok(None);
    };
    let bias = match n.inputs.get(2) {
        Some(&b) => match f32_data(g, b) {
            Some(v) => Some(v),
            None => return Ok(None),
        },
        None => None,
    };
    let packed = nhwc::pack_f16(wv, bias, m, k, [1, 1], false)
        .map_err(|e| Error::Other(format!("packing \"{}\": {e}", n.name)))?;
    let bytes: Vec<u8> = packed.iter().flat_map(|v| v.to_le_bytes()).collect();
    let name = format!("{}.packed", wt.name);
    let pw = w.b.add_const(
        &name,
        DType::F16,
        &[packed.len() as u32],
        &bytes,
        Quant::None,
    )?;
    Ok(Some(vec![w.f32(n.inputs[0])?, pw]))
}

/// The f16 constant of weight tensor `t` (written once) and the `Cast` op widening it
/// into a scratch tensor for its user `user`.
fn weight(w: &mut Writer<'_>, t: usize, user: &str) -> Result<u32> {
    let ten = &w.g.tensors[t];
    let c = match w.f16_of.get(&t) {
        Some(&c) => c,
        None => {
            let v = ten.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
            let bytes: Vec<u8> = v
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect();
            let c = w.b.add_const(
                &ten.name,
                DType::F16,
                &dims(&ten.shape),
                &bytes,
                Quant::None,
            )?;
            w.f16_of.insert(t, c);
            c
        }
    };
    let out = w.b.add_tensor(
        &format!("{user}.weight_f32"),
        DType::F32,
        &dims(&ten.shape),
        Quant::None,
    )?;
    w.b.add_op(Op::Cast, &[c], &[out])?;
    Ok(out)
}
