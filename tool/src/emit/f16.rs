//! f16 models: the weights of FullyConnected / Conv / MatMul ([`F16Form::Weights`]) are
//! stored as f16 and widened by a `Cast` op into an arena scratch tensor right before
//! the op that reads them; everything else is written as in the f32 model.

use super::plan::{forms, F16Form};
use super::writer::{dims, Writer};
use crate::error::Result;
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
            (F16Form::Weights, Some(_)) => {
                let mut ins = Vec::new();
                for (k, &i) in n.inputs.iter().enumerate() {
                    ins.push(if k == 1 {
                        weight(w, i, &n.name)?
                    } else {
                        w.f32(i)?
                    });
                }
                let t = &g.tensors[n.output];
                let out =
                    w.b.add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                w.b.add_op(n.op.clone(), &ins, &[out])?;
                w.f32_of.insert(n.output, out);
                reduced += 1;
            }
            (F16Form::Weights, None) | (F16Form::F32, _) => w.node_f32(n)?,
        }
    }
    Ok(reduced)
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
