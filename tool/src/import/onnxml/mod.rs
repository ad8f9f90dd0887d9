//! ONNX-ML import: scikit-learn pipelines exported by `skl2onnx` become one model —
//! the preprocessing ops the PREPROCESS section, the model ops (linear, tree ensemble,
//! MLP) the graph as converter IR, so `ferrite convert` writes it with the same emitter
//! as any ONNX model: f32, f16 or int8 (the MLP's FullyConnected layers quantized; the
//! preprocessing and the classical ops stay exact in f32).
//!
//! The ONNX protobuf is read directly (tract does not implement several ONNX-ML ops).
//! Lowering is demand-driven from the model's float output (`probabilities` /
//! `variable`, see `lowering.rs`): label outputs (ArgMax → class lookup → Cast) and
//! ZipMap are never visited; the class labels go to the metadata. The lowered model
//! keeps the ONNX input and output names, and gets the label output back as an ArgMax
//! over the scores when the class labels are 0..n-1 (with other labels a conversion
//! note says the label output is left out; `ferrite run` prints the class names).
//!
//! One module per op family, each documenting what its ops become; `OPS` maps every
//! supported ONNX op type to its lowering function:
//!
//! | module | ONNX ops | become |
//! |---|---|---|
//! | `preprocessing` | Imputer, Scaler, Normalizer, Binarizer, OneHotEncoder, LabelEncoder | PREPROCESS steps |
//! | `columns` | Identity, ZipMap, Cast, Reshape, Flatten, Squeeze, Unsqueeze, ArrayFeatureExtractor, Gather, FeatureVectorizer, Concat | column bookkeeping (`select` steps), `Concat` |
//! | `arith` | Mul / Add / Sub / Div by a constant vector | `scale` steps, `Binary` ops, fused biases |
//! | `neural` | MatMul, Gemm, Relu, Sigmoid, Tanh, Exp, Abs, Neg, Sqrt, Log, Softmax, LogSoftmax | `FullyConnected`, `Unary`, `Softmax` |
//! | `linear` | LinearClassifier, LinearRegressor | `Linear` |
//! | `trees` | TreeEnsembleClassifier, TreeEnsembleRegressor, TreeEnsemble (ai.onnx.ml 5) | `TreeEnsemble` |
//!
//! String categories, `PROBIT`, and models with several separate inputs are not
//! supported (a clear [`Error::Unsupported`] / [`Error::Import`]).

mod arith;
mod columns;
mod graph;
mod linear;
mod lowering;
mod neural;
mod pipe;
mod preprocessing;
mod trees;

use super::imported::Imported;
use crate::error::{Error, Result};
use crate::preprocess::spec::FeatureSpec;
use crate::preprocess::steps::{encode_steps, SOp, SStep};
use graph::{GNode, GOp};
use lowering::{LowerFn, Lowering, Val};
use prost::Message;
use tract_onnx::pb::{tensor_shape_proto::dimension, type_proto, ModelProto};

/// Every supported ONNX op type and the function lowering it.
const OPS: &[(&str, LowerFn)] = &[
    ("Identity", columns::alias),
    ("ZipMap", columns::alias),
    ("Cast", columns::alias),
    ("Reshape", columns::alias),
    ("Flatten", columns::alias),
    ("Squeeze", columns::alias),
    ("Unsqueeze", columns::alias),
    ("ArrayFeatureExtractor", columns::select),
    ("Gather", columns::select),
    ("FeatureVectorizer", columns::concat),
    ("Concat", columns::concat),
    ("Imputer", preprocessing::imputer),
    ("Scaler", preprocessing::scaler),
    ("Normalizer", preprocessing::normalizer),
    ("Binarizer", preprocessing::binarizer),
    ("OneHotEncoder", preprocessing::one_hot),
    ("LabelEncoder", preprocessing::label_encoder),
    ("Mul", arith::binary),
    ("Add", arith::binary),
    ("Sub", arith::binary),
    ("Div", arith::binary),
    ("MatMul", neural::matmul),
    ("Gemm", neural::matmul),
    ("Relu", neural::unary),
    ("Sigmoid", neural::unary),
    ("Tanh", neural::unary),
    ("Exp", neural::unary),
    ("Abs", neural::unary),
    ("Neg", neural::unary),
    ("Sqrt", neural::unary),
    ("Log", neural::unary),
    ("Softmax", neural::softmax),
    ("LogSoftmax", neural::softmax),
    ("LinearClassifier", linear::linear),
    ("LinearRegressor", linear::linear),
    ("TreeEnsembleClassifier", trees::trees),
    ("TreeEnsembleRegressor", trees::trees),
    ("TreeEnsemble", trees::tree_ensemble),
];

/// Whether `onnx` (bytes of a `.onnx` file) contains ONNX-ML (`ai.onnx.ml`) nodes, i.e.
/// is imported by [`lower`] rather than through tract.
pub fn is_onnxml(onnx: &[u8]) -> bool {
    ModelProto::decode(onnx)
        .ok()
        .and_then(|m| m.graph)
        .is_some_and(|g| g.node.iter().any(|n| n.domain == "ai.onnx.ml"))
}

/// Lowers ONNX-ML bytes to converter IR plus a PREPROCESS section. `features` (a
/// `FEATURES.toml` pipeline) runs before the model's own preprocessing: its output
/// feeds the ONNX input.
pub fn lower(onnx: &[u8], features: Option<&FeatureSpec>) -> Result<Imported> {
    let model = ModelProto::decode(onnx)
        .map_err(|e| Error::Import(format!("not an ONNX protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Import("the ONNX model has no graph".into()))?;
    let mut cx = Lowering::new(graph, OPS)?;
    let out_name = cx.pick_output(graph)?;
    // The declared input width.
    let input = graph
        .input
        .iter()
        .find(|i| !cx.consts.contains_key(&i.name))
        .ok_or_else(|| Error::Import("the ONNX graph has no input".into()))?;
    let in_name = input.name.clone();
    let width = input
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|type_proto::Value::TensorType(t)| t.shape.as_ref())
        .and_then(|s| s.dim.last())
        .and_then(|d| match d.value {
            Some(dimension::Value::DimValue(v)) => Some(v),
            _ => None,
        })
        .filter(|&d| d > 0 && d <= ferrite::preprocess::MAX_WIDTH as i64)
        .ok_or_else(|| {
            Error::Import(format!(
                "input \"{in_name}\" needs a fixed last dimension (features)"
            ))
        })? as usize;
    cx.set_input(&in_name, width);
    let out = cx.get(&out_name)?;
    let out_t = match out {
        Val::Tensor(t) => t,
        Val::Row { cols, .. } => {
            // A pure preprocessing model: its output is the graph input, copied.
            let t = cx.materialize(&cols)?;
            let o = cx.new_tensor(cols.len());
            cx.nodes.push(GNode {
                op: GOp::Copy,
                inputs: vec![t],
                out: o,
            });
            o
        }
        Val::Const(_) => return Err(Error::Import("the model output is a constant".into())),
    };
    if !cx.unsupported.is_empty() {
        return Err(Error::Unsupported {
            ops: core::mem::take(&mut cx.unsupported),
        });
    }
    if cx.labels.is_empty() {
        cx.labels = cx.labels_from_label_path(graph, &out_name);
    }
    let (names, notes) = interface_names(graph, &in_name, &out_name, &cx.labels);
    let mut imported = finish(cx, features, &model, out_t, &names)?;
    imported.notes = notes;
    Ok(imported)
}

/// The ONNX names the lowered model keeps: its input, its float output (the ZipMap's
/// output name when the scores only reach the graph through one), and the label output
/// when the runtime computes it exactly (ArgMax over the scores, class labels
/// 0..n-1); otherwise a note says the label output is left out.
fn interface_names(
    graph: &tract_onnx::pb::GraphProto,
    input: &str,
    scores: &str,
    labels: &[String],
) -> (graph::Names, Vec<String>) {
    let is_output = |n: &str| graph.output.iter().any(|o| o.name == n);
    let output = if is_output(scores) {
        scores.to_string()
    } else {
        graph
            .node
            .iter()
            .find(|n| n.op_type == "ZipMap" && n.input.first().is_some_and(|i| i == scores))
            .and_then(|n| n.output.first().cloned())
            .unwrap_or_else(|| scores.to_string())
    };
    let label = graph
        .output
        .iter()
        .map(|o| o.name.clone())
        .find(|n| *n != output && *n != scores);
    let mut notes = Vec::new();
    let identity =
        !labels.is_empty() && labels.iter().enumerate().all(|(i, l)| *l == i.to_string());
    let label = match label {
        Some(l) if identity => Some(l),
        Some(l) => {
            notes.push(format!(
                "the ONNX output \"{l}\" (the class label) is not an output of the .fer model: \
                 the runtime returns \"{output}\", and `ferrite run` prints the class name in its \
                 `predicted` column ({} labels stored)",
                labels.len()
            ));
            None
        }
        None => None,
    };
    (
        graph::Names {
            input: input.to_string(),
            output,
            label,
        },
        notes,
    )
}

/// The lowered model: the graph as IR (graph input, ops) and the PREPROCESS section
/// (the ONNX model's steps after the optional FEATURES.toml steps).
fn finish(
    mut cx: Lowering<'_>,
    features: Option<&FeatureSpec>,
    model: &ModelProto,
    out_t: usize,
    iface: &graph::Names,
) -> Result<Imported> {
    let (cols, in_t) = cx
        .graph_in
        .clone()
        .ok_or_else(|| Error::Import("the model does not read its input".into()))?;
    let w = cx.pipe.width;
    if cols != (0..w).collect::<Vec<_>>() {
        let idx: Vec<u32> = cols.iter().map(|&c| c as u32).collect();
        cx.pipe.steps.push(SStep {
            start: 0,
            len: w as u32,
            op: SOp::Select(idx),
        });
    }
    let raw_onnx = cx.in_width;
    let mut steps = Vec::new();
    let mut raw_len = raw_onnx;
    let mut names = String::new();
    if let Some(spec) = features {
        let (sw, ss) = spec.steps()?;
        if sw.1 != raw_onnx {
            return Err(Error::Usage(format!(
                "the FEATURES.toml pipeline produces {} values but the ONNX model reads {raw_onnx}",
                sw.1
            )));
        }
        raw_len = sw.0;
        names = spec.names.join("\n");
        steps.extend(ss);
    }
    steps.extend(cx.pipe.steps.iter().cloned());

    let mut properties = Vec::new();
    if !model.producer_name.is_empty() {
        properties.push((
            "source_producer".into(),
            format!("{} {}", model.producer_name, model.producer_version),
        ));
    }
    properties.push(("importer".into(), "onnxml".into()));

    let graph = graph::to_ir(&cx.nodes, &cx.widths, in_t, out_t, iface)?;
    let preprocess = if steps.is_empty() {
        None
    } else {
        Some(encode_steps(raw_len, &names, &steps)?)
    };
    Ok(Imported {
        graph,
        preprocess,
        labels: cx.labels.clone(),
        properties,
        notes: Vec::new(),
    })
}
