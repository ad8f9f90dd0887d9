//! Column bookkeeping: ops that only pass, select or join columns of the raw row
//! (Identity, ZipMap, Cast, Reshape, Flatten, Squeeze, Unsqueeze, ArrayFeatureExtractor,
//! Gather on axis 1, FeatureVectorizer, Concat) become `select` steps, or nothing; on
//! graph tensors Concat is the `Concat` op.

use super::graph::GOp;
use super::lowering::{node_err, one, Lowering, Val};
use crate::error::Result;
use crate::import::proto::attr_i;
use tract_onnx::pb::NodeProto;

/// A value passed through unchanged (Identity, ZipMap, Cast, Reshape, Flatten, Squeeze,
/// Unsqueeze).
pub(super) fn alias(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let v = cx.input(node, 0)?;
    Ok(one(cx.alias(node, v)))
}

/// ArrayFeatureExtractor / Gather (axis 1) with constant indices: a column selection.
pub(super) fn select(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let idx = match cx.input(node, 1)? {
        Val::Const(c) => c.v.iter().map(|&v| v as i64).collect::<Vec<_>>(),
        _ => return Err(err("indices must be constant")),
    };
    if op == "Gather" && !matches!(attr_i(node, "axis").unwrap_or(0), 1 | -1) {
        return Err(err("only axis 1 (columns) is supported"));
    }
    match x {
        Val::Row { cols, .. } => {
            let mut sel = Vec::new();
            for i in idx {
                let i = if i < 0 { i + cols.len() as i64 } else { i };
                sel.push(
                    *cols
                        .get(i as usize)
                        .ok_or_else(|| err("index out of range"))?,
                );
            }
            cx.disown(&node.input[0]);
            Ok(one(Val::Row {
                cols: sel,
                owned: false,
            }))
        }
        _ => Err(err(
            "only column selection on the input features is supported",
        )),
    }
}

/// FeatureVectorizer / Concat: columns joined, or the `Concat` op on graph tensors.
pub(super) fn concat(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let mut vals = Vec::new();
    for i in 0..node.input.len() {
        vals.push(cx.input(node, i)?);
    }
    if vals.iter().all(|v| matches!(v, Val::Row { .. })) {
        let mut cols = Vec::new();
        for (i, v) in vals.into_iter().enumerate() {
            if let Val::Row { cols: c, .. } = v {
                cols.extend(c);
            }
            let name = node.input[i].clone();
            cx.disown(&name);
        }
        // Distinct columns in one block: owned only if nothing else uses them.
        return Ok(one(Val::Row { cols, owned: false }));
    }
    let mut ts = Vec::new();
    for v in vals {
        ts.push(cx.tensor_of(v)?);
    }
    let w = ts.iter().map(|&t| cx.widths[t]).sum();
    if ts.len() > ferrite::format::types::MAX_OP_INPUTS {
        return Err(err("too many inputs"));
    }
    Ok(one(Val::Tensor(cx.push(GOp::Concat, ts, w))))
}
