//! ONNX-ML preprocessing ops on raw features become steps of the PREPROCESS section:
//!
//! | ONNX op | step |
//! |---|---|
//! | Imputer | `impute` (NaN, or `replaced_value_float` as a sentinel) |
//! | Scaler | `scale` `(x - offset) * scale` (after the model input: `Binary` Add + Mul) |
//! | Normalizer | `normalize` before the model, `Normalize` op after it |
//! | Binarizer | `binarize` |
//! | OneHotEncoder (int64 categories) | one `one_hot` per column (`zeros=1` → ignore, else error) |
//! | LabelEncoder (float / int64 keys and values) | one `label_encode` per column |

use super::graph::GOp;
use super::lowering::{node_err, one, Lowering, Val};
use crate::error::Result;
use crate::import::proto::{attr_f, attr_floats, attr_i, attr_ints, attr_s};
use crate::preprocess::steps::SOp;
use ferrite::format::types::{BinaryOp, Norm};
use ferrite::preprocess::{ScaleKind, Unknown};
use tract_onnx::pb::NodeProto;

/// Imputer: missing values (NaN or the sentinel) replaced by `imputed_value_floats`.
pub(super) fn imputer(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let Val::Row { cols, owned } = cx.input(node, 0)? else {
        return Err(err("expects raw features"));
    };
    let mut vals = attr_floats(node, "imputed_value_floats");
    if vals.is_empty() {
        return Err(err("only imputed_value_floats is supported"));
    }
    if vals.len() == 1 {
        vals = vec![vals[0]; cols.len()];
    }
    if vals.len() != cols.len() {
        return Err(err("imputed values do not match the columns"));
    }
    let r = attr_f(node, "replaced_value_float").unwrap_or(0.0);
    let sentinel = if r.is_nan() { None } else { Some(r) };
    Ok(one(cx.row_step(
        node,
        cols,
        owned,
        SOp::Impute {
            sentinel,
            values: vals,
        },
    )))
}

/// Scaler: `(x - offset) * scale` per column.
pub(super) fn scaler(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let n = cx.width_of(&x);
    let bc = |v: Vec<f32>, d: f32| {
        if v.is_empty() {
            vec![d; n]
        } else if v.len() == 1 {
            vec![v[0]; n]
        } else {
            v
        }
    };
    let (a, b) = (
        bc(attr_floats(node, "offset"), 0.0),
        bc(attr_floats(node, "scale"), 1.0),
    );
    if a.len() != n || b.len() != n {
        return Err(err("offset/scale do not match the columns"));
    }
    match x {
        Val::Row { cols, owned } => Ok(one(cx.row_step(
            node,
            cols,
            owned,
            SOp::Scale {
                kind: ScaleKind::SubMul,
                a,
                b,
            },
        ))),
        v => {
            let t = cx.tensor_of(v)?;
            let neg: Vec<f32> = a.iter().map(|v| -v).collect();
            let t1 = cx.push(
                GOp::BinConst {
                    op: BinaryOp::Add,
                    c: neg,
                },
                vec![t],
                n,
            );
            Ok(one(Val::Tensor(cx.push(
                GOp::BinConst {
                    op: BinaryOp::Mul,
                    c: b,
                },
                vec![t1],
                n,
            ))))
        }
    }
}

/// Normalizer (MAX, L1, L2) of the row.
pub(super) fn normalizer(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let norm = match attr_s(node, "norm").as_deref().unwrap_or("MAX") {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        o => return Err(err(&format!("norm {o}"))),
    };
    match cx.input(node, 0)? {
        Val::Row { cols, owned } => Ok(one(cx.row_step(node, cols, owned, SOp::Normalize(norm)))),
        v => {
            let t = cx.tensor_of(v)?;
            let n = cx.widths[t];
            Ok(one(Val::Tensor(cx.push(GOp::Normalize(norm), vec![t], n))))
        }
    }
}

/// Binarizer: 1 above `threshold`, else 0.
pub(super) fn binarizer(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let Val::Row { cols, owned } = cx.input(node, 0)? else {
        return Err(err("expects raw features"));
    };
    let t = attr_f(node, "threshold").unwrap_or(0.0);
    let n = cols.len();
    Ok(one(cx.row_step(
        node,
        cols,
        owned,
        SOp::Binarize(vec![t; n]),
    )))
}

/// OneHotEncoder with integer categories, one step per column.
pub(super) fn one_hot(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let Val::Row { cols, owned } = cx.input(node, 0)? else {
        return Err(err("expects raw features"));
    };
    let cats = attr_ints(node, "cats_int64s");
    if cats.is_empty() {
        return Err(err("only integer categories (cats_int64s) are supported"));
    }
    let cats: Vec<f32> = cats.iter().map(|&c| c as f32).collect();
    let unknown = if attr_i(node, "zeros").unwrap_or(1) != 0 {
        Unknown::Ignore
    } else {
        Unknown::Error
    };
    let mut out = Vec::new();
    for &c in &cols {
        let single = cols.len() == 1;
        let v = cx.row_step(
            node,
            vec![c],
            owned && single,
            SOp::OneHot {
                cats: cats.clone(),
                unknown,
            },
        );
        if let Val::Row { cols: o, .. } = v {
            out.extend(o);
        }
    }
    if cols.len() > 1 {
        cx.disown(node.input.first().map(|s| s.as_str()).unwrap_or(""));
    }
    Ok(one(Val::Row {
        cols: out,
        owned: cols.len() == 1,
    }))
}

/// LabelEncoder with float / int64 keys and values, one step per column.
pub(super) fn label_encoder(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let Val::Row { cols, owned } = cx.input(node, 0)? else {
        return Err(err("expects raw features"));
    };
    let keys: Vec<f32> = match (
        attr_floats(node, "keys_floats"),
        attr_ints(node, "keys_int64s"),
    ) {
        (k, _) if !k.is_empty() => k,
        (_, k) if !k.is_empty() => k.iter().map(|&v| v as f32).collect(),
        _ => return Err(err("only float / int64 keys are supported")),
    };
    let values: Vec<f32> = match (
        attr_floats(node, "values_floats"),
        attr_ints(node, "values_int64s"),
    ) {
        (v, _) if !v.is_empty() => v,
        (_, v) if !v.is_empty() => v.iter().map(|&x| x as f32).collect(),
        _ => return Err(err("only float / int64 values are supported")),
    };
    if keys.len() != values.len() {
        return Err(err("keys and values differ in length"));
    }
    let default = Some(if attr_floats(node, "values_floats").is_empty() {
        attr_i(node, "default_int64").unwrap_or(-1) as f32
    } else {
        attr_f(node, "default_float").unwrap_or(-0.0)
    });
    let mut out = Vec::new();
    for &c in &cols {
        let v = cx.row_step(
            node,
            vec![c],
            owned && cols.len() == 1,
            SOp::LabelEncode {
                keys: keys.clone(),
                values: values.clone(),
                default,
            },
        );
        if let Val::Row { cols: o, .. } = v {
            out.extend(o);
        }
    }
    Ok(one(Val::Row {
        cols: out,
        owned: cols.len() == 1,
    }))
}
