//! LinearClassifier / LinearRegressor become the `Linear` op (a binary classifier with
//! one coefficient row gets the scores `[-s, s]`), computed exactly in f32 in every
//! precision.

use super::graph::GOp;
use super::lowering::{node_err, post_transform, Lowering, Val};
use crate::error::Result;
use crate::import::proto::attr_floats;
use tract_onnx::pb::NodeProto;

/// LinearClassifier / LinearRegressor: the `Linear` op.
pub(super) fn linear(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let t = cx.tensor_of(x)?;
    let k = cx.widths[t];
    let post = post_transform(node)?;
    let mut w = attr_floats(node, "coefficients");
    let mut b = attr_floats(node, "intercepts");
    if k == 0 || w.len() % k != 0 {
        return Err(err("coefficients do not match the input width"));
    }
    let mut n = w.len() / k;
    if op == "LinearClassifier" {
        cx.set_labels(node);
        // Binary with one coefficient row: scores [-s, s] (then the post transform).
        if n == 1 && cx.labels.len() == 2 {
            let neg: Vec<f32> = w.iter().map(|v| -v).collect();
            w = neg.into_iter().chain(w).collect();
            let b0 = b.first().copied().unwrap_or(0.0);
            b = vec![-b0, b0];
            n = 2;
        }
    }
    if b.is_empty() {
        b = vec![0.0; n];
    }
    if b.len() != n {
        return Err(err("intercepts do not match the coefficients"));
    }
    let out = cx.push(GOp::Linear { w, b, n, k, post }, vec![t], n);
    let mut outs = vec![None; node.output.len()];
    // Classifier: (label, scores); regressor: (Y).
    let idx = if op == "LinearClassifier" { 1 } else { 0 };
    if idx < outs.len() {
        outs[idx] = Some(Val::Tensor(out));
    }
    Ok(outs)
}
