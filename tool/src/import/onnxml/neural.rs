//! The neural part of a scikit-learn model (an MLP) and the functions around it:
//! MatMul (+ Add + Relu) and Gemm become `FullyConnected` (bias and ReLU fused); Relu,
//! Sigmoid, Tanh, Exp, Abs, Neg, Sqrt, Log become `Unary`; Softmax and LogSoftmax
//! (last axis) become `Softmax`.

use super::graph::GOp;
use super::lowering::{node_err, one, Lowering, Val};
use crate::error::{Error, Result};
use crate::import::proto::{attr_f, attr_i};
use ferrite::format::types::UnaryOp;
use tract_onnx::pb::NodeProto;

/// Element-wise functions (a Relu right after a FullyConnected fuses into it).
pub(super) fn unary(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let v = cx.input(node, 0)?;
    let t = cx.tensor_of(v)?;
    if op == "Relu" && cx.single_use(&node.input[0]) {
        if let Some(last) = cx.nodes.last_mut() {
            if last.out == t {
                if let GOp::Fc {
                    relu: relu @ false, ..
                } = &mut last.op
                {
                    *relu = true;
                    return Ok(one(Val::Tensor(t)));
                }
            }
        }
    }
    let u = match op {
        "Relu" => UnaryOp::Relu,
        "Sigmoid" => UnaryOp::Sigmoid,
        "Tanh" => UnaryOp::Tanh,
        "Exp" => UnaryOp::Exp,
        "Abs" => UnaryOp::Abs,
        "Neg" => UnaryOp::Neg,
        "Sqrt" => UnaryOp::Sqrt,
        "Log" => UnaryOp::Log,
        other => {
            return Err(Error::Import(format!(
                "internal: {other} is not a unary op"
            )))
        }
    };
    let n = cx.widths[t];
    Ok(one(Val::Tensor(cx.push(GOp::Unary(u), vec![t], n))))
}

/// Softmax / LogSoftmax over the last axis.
pub(super) fn softmax(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let v = cx.input(node, 0)?;
    let t = cx.tensor_of(v)?;
    if !matches!(attr_i(node, "axis").unwrap_or(-1), 1 | -1) {
        return Err(err("only the last axis is supported"));
    }
    let n = cx.widths[t];
    Ok(one(Val::Tensor(cx.push(
        GOp::Softmax {
            log: op == "LogSoftmax",
        },
        vec![t],
        n,
    ))))
}

/// MatMul / Gemm with constant weights: `FullyConnected` (weights stored `[N, K]`).
pub(super) fn matmul(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let Val::Const(w) = cx.input(node, 1)? else {
        return Err(err("the weights must be constant"));
    };
    let t = cx.tensor_of(x)?;
    let k = cx.widths[t];
    if w.dims.len() != 2 {
        return Err(err("2-D weights expected"));
    }
    let trans_b = op == "Gemm" && attr_i(node, "transB").unwrap_or(0) != 0;
    if op == "Gemm" && attr_i(node, "transA").unwrap_or(0) != 0 {
        return Err(err("transA is not supported"));
    }
    let (rk, rn) = if trans_b {
        (w.dims[1] as usize, w.dims[0] as usize)
    } else {
        (w.dims[0] as usize, w.dims[1] as usize)
    };
    if rk != k || rk.checked_mul(rn) != Some(w.v.len()) {
        return Err(err("weights do not match the input width"));
    }
    let alpha = if op == "Gemm" {
        attr_f(node, "alpha").unwrap_or(1.0)
    } else {
        1.0
    };
    // Stored [N, K].
    let mut wt = vec![0f32; rn * k];
    for n in 0..rn {
        for kk in 0..k {
            let v = if trans_b {
                w.v[n * k + kk]
            } else {
                w.v[kk * rn + n]
            };
            wt[n * k + kk] = v as f32 * alpha;
        }
    }
    let bias = if op == "Gemm" && node.input.len() > 2 {
        let Val::Const(c) = cx.input(node, 2)? else {
            return Err(err("the bias must be constant"));
        };
        let beta = attr_f(node, "beta").unwrap_or(1.0);
        Some(match c.v.len() {
            1 => vec![c.v[0] as f32 * beta; rn],
            l if l == rn => c.v.iter().map(|&v| v as f32 * beta).collect(),
            _ => return Err(err("bias does not match")),
        })
    } else {
        None
    };
    Ok(vec![Some(Val::Tensor(cx.push(
        GOp::Fc {
            w: wt,
            n: rn,
            k,
            bias,
            relu: false,
        },
        vec![t],
        rn,
    )))])
}
