//! ONNX → IR through tract: load, fix the input shapes, type and declutter (constant
//! folding, Dropout/Identity removal, BatchNorm as affine ops), then lower each tract
//! node to ferrite ops in topological order.
//!
//! Lowering follows the decluttered tract graph, not the ONNX node list: Gemm/MatMul
//! arrive as `EinSum`, Relu/Clip as `Max`/`Min` with a constant, Flatten/Squeeze as
//! `AxisOp`s. Per-output-channel `Add`/`Sub`/`Mul`/`Div` by constants right after a
//! FullyConnected or Conv (biases, folded BatchNorm) are folded into its weights.
//!
//! One module per op family, each with its tract-op matching, shape rules and the
//! ferrite ops it writes, and a table of the ONNX ops it covers; `FAMILIES` lists
//! them in the order they are asked:
//!
//! | module | tract ops | ONNX ops (see each module's table) |
//! |---|---|---|
//! | `lrn` | `Lrn` | LRN |
//! | `shape` | `TypedSource`, `AxisOp`, `TypedConcat`, `Pad`, `Cast`, `MultiBroadcastTo`, `Slice`, `Downsample`, `Gather` | graph inputs, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Pad, Cast, Expand, Slice, Split, Gather, Identity |
//! | `softmax` | `Softmax` | Softmax, LogSoftmax |
//! | `attention` | `Sdpa` | Attention |
//! | `linear` | `EinSum` | Gemm, MatMul |
//! | `conv` | `Conv`, `MaxPool`, `SumPool` | Conv, MaxPool, AveragePool, LpPool (parsed by `lppool` into `SumPool` and element-wise ops) |
//! | `deconv` | `Deconv` | ConvTranspose |
//! | `onehot` | `OneHot`, `Eq` + `Iff` (zero-norm guard) | Hardmax, LpNormalization |
//! | `elementwise` | `TypedBinOp`, `ElementWiseOp` | Add, Sub, Mul, Div, Max, Min, Pow, Mod, Relu, Clip, Shrink, the unary functions, the [`activations`] |
//! | `sample` | `GridSample` | GridSample |
//! | `dft` | `Fft` | DFT |
//! | `reduce` | `Reduce`, `RmsNorm` | GlobalAveragePool, GlobalMaxPool, Reduce*, ArgMax, LayerNormalization, RMSNormalization, the variance of the other normalizations |
//!
//! Batch norms with non-constant parameters are rewritten before tract
//! ([`super::batchnorm`]): `Binary`, `Unary Sqrt`, `Reshape`.
//!
//! Not supported (listed by node in the error): Resize, Slice and Gather beyond the
//! static cases, comparisons and `Iff` (Where, Equal, Less…) beyond the zero-norm
//! guard, reflect/edge Pad.

pub mod activations;
mod arith;
mod attention;
mod conv;
mod deconv;
mod dft;
mod elementwise;
mod linear;
mod lower;
mod lppool;
mod lrn;
mod onehot;
mod reduce;
mod sample;
mod shape;
mod softmax;

use crate::error::{Error, Result};
use crate::ir::Graph;
use ferrite::format::types::Op;
use ferrite::DType;
use lower::{imp, Family, Lower, Outcome};
use std::collections::{HashMap, HashSet};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_hir::infer::Factoid;

/// The op families, asked in this order; the first that recognises a node's tract op
/// lowers it (`Identity` / `Dummy` are matched by name, so last).
const FAMILIES: &[Family] = &[
    lrn::lower,
    shape::lower,
    softmax::lower,
    attention::lower,
    linear::lower,
    conv::lower,
    deconv::lower,
    onehot::lower,
    elementwise::lower,
    reduce::lower,
    sample::lower,
    dft::lower,
    shape::lower_identity,
];

/// Loads an ONNX model with tract and returns the typed, decluttered model, with every
/// input shape fixed (from `input_shapes`, the model's own static shape, or 1 for a
/// symbolic leading batch dimension). Batch norms with non-constant parameters are
/// rewritten first ([`super::batchnorm`]), as for the import.
pub fn load_typed(bytes: &[u8], input_shapes: &[(String, Vec<usize>)]) -> Result<TypedModel> {
    let mut proto = parse(bytes)?;
    super::batchnorm::prepare(&mut proto);
    load_typed_proto(&proto, input_shapes)
}

/// Parses ONNX bytes into tract's protobuf model.
pub fn parse(bytes: &[u8]) -> Result<tract_onnx::pb::ModelProto> {
    activations::onnx()
        .proto_model_for_read(&mut &*bytes)
        .map_err(imp)
}

/// [`load_typed`] from a parsed (possibly rewritten) protobuf model.
pub fn load_typed_proto(
    proto: &tract_onnx::pb::ModelProto,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<TypedModel> {
    let model = load_inference_proto(proto, input_shapes)?;
    no_panic(|| model.into_typed()?.into_decluttered())
}

std::thread_local! {
    /// How many [`no_panic`] calls are running on this thread.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this thread is inside [`no_panic`], where a panic becomes an import error:
/// a panic hook that aborts (libFuzzer's) can let such a panic unwind to it instead.
pub fn catching_panics() -> bool {
    CATCHING.with(|c| c.get() > 0)
}

/// Runs `f`, a call into tract on a model read from a file, turning a panic into an
/// [`Error::Import`]: tract-onnx 0.23 unwraps errors in places of its analysis, and
/// [`super::guard`] refuses only the inputs known to reach them. The panic hook still
/// runs first (the default one prints the panic on stderr); the `onnx_import` fuzz
/// target's hook lets such a panic unwind here (see [`catching_panics`]).
pub fn no_panic<T>(f: impl FnOnce() -> TractResult<T>) -> Result<T> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    match caught {
        Ok(r) => r.map_err(imp),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            // The first line: an unwrapped error's Debug form may go on with a backtrace.
            let msg = msg.lines().next().unwrap_or_default();
            Err(Error::Import(format!(
                "tract panicked while reading the model: {msg} (the file is malformed, \
                 or uses a form of an op that tract does not support)"
            )))
        }
    }
}

/// The ONNX model as tract's inference model, every input shape fixed as in
/// [`load_typed`] (the recurrent import reads the facts of its nodes from it).
pub fn load_inference_proto(
    proto: &tract_onnx::pb::ModelProto,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<InferenceModel> {
    if let Some(g) = &proto.graph {
        check_before_tract(g)?;
    }
    super::guard::check(proto, input_shapes)?;
    let mut model = no_panic(|| activations::onnx().model_for_proto_model(proto))?;
    let n_inputs = model.input_outlets().map_err(imp)?.len();
    let all: Vec<String> = model
        .input_outlets()
        .map_err(imp)?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    for (n, _) in input_shapes {
        if !all.contains(n) {
            return Err(Error::Usage(format!(
                "--input-shape names \"{n}\", but the model's inputs are: {}",
                all.join(", ")
            )));
        }
    }
    for i in 0..n_inputs {
        let outlet = model.input_outlets().map_err(imp)?[i];
        let name = model.node(outlet.node).name.clone();
        let fact = model.input_fact(i).map_err(imp)?.clone();
        let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
        let shape: Vec<usize> = if let Some((_, s)) = input_shapes.iter().find(|(n, _)| *n == name)
        {
            s.clone()
        } else {
            let dims: Vec<Option<TDim>> = fact.shape.dims().map(|d| d.concretize()).collect();
            let rendered: Vec<String> = dims
                .iter()
                .map(|d| d.as_ref().map_or("?".to_string(), |d| d.to_string()))
                .collect();
            let hint_dims: Vec<String> = dims
                .iter()
                .enumerate()
                .map(|(k, d)| match d.as_ref().and_then(|d| d.to_usize().ok()) {
                    Some(v) => v.to_string(),
                    None if k == 0 => "1".to_string(),
                    None => format!(
                        "<{}>",
                        d.as_ref().map_or("?".to_string(), |d| d.to_string())
                    ),
                })
                .collect();
            let dynamic = || Error::DynamicShape {
                input: name.clone(),
                shape: format!("[{}]", rendered.join(",")),
                hint: format!("--input-shape {name}={}", hint_dims.join(",")),
            };
            if fact.shape.is_open() || dims.is_empty() && fact.shape.is_open() {
                return Err(dynamic());
            }
            let mut s = Vec::new();
            for (k, d) in dims.iter().enumerate() {
                match d.as_ref().and_then(|d| d.to_usize().ok()) {
                    Some(v) => s.push(v),
                    // A symbolic leading dimension is the batch: ferrite runs batch 1.
                    None if k == 0 => s.push(1),
                    None => return Err(dynamic()),
                }
            }
            s
        };

        no_panic(|| model.set_input_fact(i, InferenceFact::dt_shape(dt, shape)))?;
    }
    Ok(model)
}

/// Refuses, with an import error, the files on which tract-onnx 0.23 panics instead of
/// returning an error (each found by the `onnx_import` fuzz target), in the main graph
/// and in every subgraph:
/// - a graph output that names a value nothing in the graph mentions (tract indexes its
///   name map with it: "no entry found for key"). Conservative: a name used anywhere in
///   the graph (an input, an initializer, a node's input or output, a name a subgraph
///   reads from the enclosing one) passes;
/// - a STRING tensor stored as raw or external bytes (tract: "not implemented: FIXME,
///   raw tensor loading");
/// - a node of the default domain without any input, other than the ONNX ops that take
///   none (tract's MaxPool, among others, reads its first input unchecked).
fn check_before_tract(graph: &tract_onnx::pb::GraphProto) -> Result<()> {
    use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
    use tract_onnx::pb::{AttributeProto, GraphProto};
    fn subgraphs(a: &AttributeProto) -> impl Iterator<Item = &GraphProto> {
        a.g.iter().chain(&a.graphs)
    }
    fn used<'a>(g: &'a GraphProto, names: &mut HashSet<&'a str>) {
        names.extend(g.input.iter().map(|v| v.name.as_str()));
        names.extend(g.initializer.iter().map(|t| t.name.as_str()));
        for n in &g.node {
            names.extend(n.input.iter().chain(&n.output).map(String::as_str));
            for sub in n.attribute.iter().flat_map(subgraphs) {
                used(sub, names);
            }
        }
    }
    let mut names = HashSet::new();
    used(graph, &mut names);
    if let Some(o) = graph
        .output
        .iter()
        .find(|o| !names.contains(o.name.as_str()))
    {
        return Err(Error::Import(format!(
            "graph output \"{}\" is not produced by any node, input or initializer of graph \"{}\"",
            o.name, graph.name
        )));
    }
    let tensors = graph.initializer.iter().chain(
        graph
            .node
            .iter()
            .flat_map(|n| &n.attribute)
            .flat_map(|a| a.t.iter().chain(&a.tensors)),
    );
    for t in tensors {
        if t.data_type == DataType::String as i32
            && (!t.raw_data.is_empty() || t.data_location == Some(DataLocation::External as i32))
        {
            return Err(Error::Import(format!(
                "tensor \"{}\": STRING data stored as raw bytes is not supported",
                t.name
            )));
        }
    }
    const NO_INPUTS: [&str; 6] = [
        "Constant",
        "RandomNormal",
        "RandomUniform",
        "SequenceEmpty",
        "Loop",
        "Optional",
    ];
    for n in &graph.node {
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        if default_domain
            && !NO_INPUTS.contains(&n.op_type.as_str())
            && n.input.iter().all(String::is_empty)
        {
            return Err(Error::Import(format!(
                "node \"{}\" ({}) has no input",
                n.name, n.op_type
            )));
        }
        for sub in n.attribute.iter().flat_map(subgraphs) {
            check_before_tract(sub)?;
        }
    }
    Ok(())
}

/// Imports a parsed ONNX model into the IR (see [`load_typed`] for `input_shapes`).
pub fn import_proto(
    proto: &tract_onnx::pb::ModelProto,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<Graph> {
    let model = load_typed_proto(proto, input_shapes)?;
    let mut l = Lower {
        m: &model,
        g: Graph::default(),
        map: HashMap::new(),
        skip: HashSet::new(),
        unsupported: Vec::new(),
    };
    lower_all(&mut l).map_err(|e| match e {
        Error::Unsupported { ops } => Error::Unsupported {
            ops: onnx_op_names(proto, ops),
        },
        e => e,
    })?;
    let mut g = l.g;
    g.optimize();
    Ok(g)
}

/// Lowers every node of `l.m` in evaluation order, asking the families of
/// `FAMILIES` in turn, then lists the graph inputs and outputs.
fn lower_all(l: &mut Lower<'_>) -> Result<()> {
    let order = l.m.eval_order().map_err(imp)?;
    for id in order {
        if l.skip.contains(&id) {
            continue;
        }
        let node = l.m.node(id);
        if node.op_is::<Const>() {
            continue;
        }
        // Downstream of an unsupported op, lower against placeholders so that every
        // unsupported op is found in one pass (the graph is discarded anyway).
        for i in &node.inputs {
            if !l.map.contains_key(i) && l.konst(*i).is_none() {
                if l.unsupported.is_empty() {
                    return Err(Error::Other(format!(
                        "internal: node \"{}\" reads an unknown value",
                        node.name
                    )));
                }
                let shape = l.shape(*i).unwrap_or_default();
                let t = l.g.add_tensor("placeholder", &shape, DType::F32);
                l.map.insert(*i, t);
            }
        }
        let mut outcome = Outcome::NotMine;
        for family in FAMILIES {
            outcome = family(l, node)?;
            if outcome != Outcome::NotMine {
                break;
            }
        }
        if outcome != Outcome::Lowered {
            l.unsupported.push((op_label(node), node.name.clone()));
        }
    }
    if !l.unsupported.is_empty() {
        return Err(Error::Unsupported {
            ops: std::mem::take(&mut l.unsupported),
        });
    }
    // Graph inputs in the ONNX graph's declared order (tract keeps it in
    // `input_outlets`), not in evaluation order: the bindings address inputs by
    // index, as onnxruntime users do. An input no output depends on is kept too.
    for o in l.m.input_outlets().map_err(imp)?.to_vec() {
        let t = match l.map.get(&o) {
            Some(&t) => t,
            None => {
                let shape = l.shape(o)?;
                let t = l.g.add_tensor(&l.m.node(o.node).name, &shape, l.dtype(o)?);
                l.map.insert(o, t);
                t
            }
        };
        l.g.inputs.push(t);
    }
    for (i, o) in l.m.output_outlets().map_err(imp)?.iter().enumerate() {
        let mut t = l.value(*o)?;
        if l.g.is_const(t) || l.g.inputs.contains(&t) || l.g.outputs.contains(&t) {
            let shape = l.g.tensors[t].shape.clone();
            let dt = l.g.tensors[t].dtype;
            t =
                l.g.add_node(&format!("output_{i}"), Op::Reshape, &[t], &shape, dt);
        }
        if let Some(label) = l.m.outlet_label(*o) {
            l.g.tensors[t].name = label.to_string();
        }
        l.g.outputs.push(t);
    }
    Ok(())
}

/// Unsupported `(tract op, tract node)` pairs named as the user's ONNX file names them:
/// tract rewrites some ops (an LSTM becomes a `Scan` over its cell), keeping the ONNX
/// node's name, possibly with a `.suffix`; the ONNX op type of that node is reported,
/// once per node.
fn onnx_op_names(
    proto: &tract_onnx::pb::ModelProto,
    ops: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let nodes: &[tract_onnx::pb::NodeProto] = proto.graph.as_ref().map_or(&[], |g| &g.node);
    let mut out: Vec<(String, String)> = Vec::new();
    for (op, name) in ops {
        let found = nodes
            .iter()
            .filter(|n| {
                !n.name.is_empty()
                    && (name == n.name
                        || name
                            .strip_prefix(n.name.as_str())
                            .is_some_and(|rest| rest.starts_with('.')))
            })
            .max_by_key(|n| n.name.len());
        let pair = match found {
            Some(n) => (n.op_type.clone(), n.name.clone()),
            None => (op, name),
        };
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The op name listed for an unsupported node.
fn op_label(node: &TypedNode) -> String {
    if let Some(b) = node.op_as::<TypedBinOp>() {
        return b.0.name().to_string();
    }
    if let Some(e) = node.op_as::<ElementWiseOp>() {
        return e.0.name();
    }
    node.op.name().to_string()
}
