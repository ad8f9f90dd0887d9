//! Arithmetic with a constant vector (scikit-learn's own scaling, or an MLP's bias):
//! Mul / Add / Sub / Div on raw features become `scale` steps (a Mul then an Add on the
//! same columns: one `x * a + b` step); after the model input they become `Binary` ops
//! with a constant, and an Add right after a MatMul is fused as its bias.

use super::graph::GOp;
use super::lowering::{node_err, Lowering, Val};
use crate::error::Result;
use crate::preprocess::steps::SOp;
use ferrite::format::types::BinaryOp;
use ferrite::preprocess::ScaleKind;
use tract_onnx::pb::NodeProto;

/// Mul / Add / Sub / Div by a constant vector.
pub(super) fn binary(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let a = cx.input(node, 0)?;
    let b = cx.input(node, 1)?;
    let (x, c, const_first) = match (a, b) {
        (Val::Const(c), x) => (x, c, true),
        (x, Val::Const(c)) => (x, c, false),
        _ => return Err(err("only operations with a constant are supported")),
    };
    if const_first && matches!(op, "Sub" | "Div") {
        return Err(err("constant on the left of Sub/Div"));
    }
    let n = cx.width_of(&x);
    let cv: Vec<f32> = match c.v.len() {
        1 => vec![c.v[0] as f32; n],
        l if l == n => c.v.iter().map(|&v| v as f32).collect(),
        _ => return Err(err("the constant does not broadcast over the columns")),
    };
    match x {
        Val::Row { cols, owned } => {
            let (kind, a, b) = match op {
                "Mul" => (ScaleKind::MulAdd, cv, vec![0.0; n]),
                "Add" => (ScaleKind::MulAdd, vec![1.0; n], cv),
                "Sub" => (ScaleKind::SubMul, cv, vec![1.0; n]),
                _ => (ScaleKind::SubDiv, vec![0.0; n], cv),
            };
            if kind == ScaleKind::SubDiv && b.contains(&0.0) {
                return Err(err("division by zero"));
            }
            // Mul then Add on the same columns: one `x * a + b` step (same f32 rounding).
            let src = node
                .input
                .iter()
                .find(|i| !cx.consts.contains_key(i.as_str()))
                .cloned()
                .unwrap_or_default();
            if op == "Add" && owned && cx.single_use(&src) {
                if let Some(last) = cx.pipe.steps.last_mut() {
                    let range: Vec<usize> =
                        (last.start as usize..(last.start + last.len) as usize).collect();
                    if let SOp::Scale {
                        kind: ScaleKind::MulAdd,
                        b: lb,
                        ..
                    } = &mut last.op
                    {
                        if range == cols && lb.iter().all(|&v| v == 0.0) {
                            *lb = b;
                            return Ok(vec![Some(Val::Row { cols, owned: true })]);
                        }
                    }
                }
            }
            let mut fake = node.clone();
            fake.input = vec![src];
            Ok(vec![Some(cx.row_step(
                &fake,
                cols,
                owned,
                SOp::Scale { kind, a, b },
            ))])
        }
        x => {
            let t = cx.tensor_of(x)?;
            // Bias after MatMul: fuse into the FullyConnected.
            if op == "Add" {
                let src = node
                    .input
                    .iter()
                    .find(|i| !cx.consts.contains_key(i.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if cx.single_use(&src) {
                    if let Some(last) = cx.nodes.last_mut() {
                        if last.out == t {
                            if let GOp::Fc {
                                bias: bias @ None,
                                relu: false,
                                ..
                            } = &mut last.op
                            {
                                *bias = Some(cv);
                                return Ok(vec![Some(Val::Tensor(t))]);
                            }
                        }
                    }
                }
            }
            let bop = match op {
                "Mul" => BinaryOp::Mul,
                "Add" => BinaryOp::Add,
                "Sub" => BinaryOp::Sub,
                _ => BinaryOp::Div,
            };
            Ok(vec![Some(Val::Tensor(cx.push(
                GOp::BinConst { op: bop, c: cv },
                vec![t],
                n,
            )))])
        }
    }
}
