//! The state of an ONNX-ML lowering ([`Lowering`]) and the values it tracks ([`Val`]).
//!
//! Lowering is demand-driven from the model's float output: [`Lowering::get`] lowers
//! the node producing a value the first time it is asked for, through the op table it
//! was given, so the label path (ArgMax → class lookup) and ZipMap are never visited.

use super::graph::{GNode, GOp};
use super::pipe::Pipe;
use crate::error::{Error, Result};
use crate::import::proto::{
    attr, attr_ints, attr_s, attr_strings, data_type, node_name, values_f64,
};
use crate::preprocess::steps::SOp;
use ferrite::format::types::PostTransform;
use std::collections::HashMap;
use tract_onnx::pb::{type_proto, GraphProto, NodeProto};

/// Lowers one ONNX node: the value of each of its outputs (`None` where an output is
/// not supported, e.g. a classifier's label output).
pub(super) type LowerFn = fn(&mut Lowering<'_>, &NodeProto) -> Result<Vec<Option<Val>>>;

/// A constant (initializer or Constant node), values as f64.
#[derive(Clone, Debug)]
pub(super) struct ConstT {
    pub dims: Vec<i64>,
    pub v: Vec<f64>,
}

/// What an ONNX value is after lowering.
#[derive(Clone, Debug)]
pub(super) enum Val {
    /// Columns of the preprocessing row. `owned`: no other live value shares them, so
    /// a step may rewrite them in place.
    Row {
        cols: Vec<usize>,
        owned: bool,
    },
    /// A graph tensor `[1, width]` (index into [`Lowering::widths`]).
    Tensor(usize),
    Const(ConstT),
}

/// An ONNX-ML graph being lowered.
pub(super) struct Lowering<'g> {
    /// ONNX op type → the function lowering it.
    ops: &'static [(&'static str, LowerFn)],
    producers: HashMap<&'g str, &'g NodeProto>,
    uses: HashMap<String, usize>,
    pub consts: HashMap<String, ConstT>,
    vals: HashMap<String, Val>,
    /// Width of the ONNX model's input row.
    pub in_width: usize,
    pub pipe: Pipe,
    /// The columns that feed the graph, and its input tensor (set once).
    pub graph_in: Option<(Vec<usize>, usize)>,
    /// Width of every lowering tensor.
    pub widths: Vec<usize>,
    pub nodes: Vec<GNode>,
    pub labels: Vec<String>,
    pub unsupported: Vec<(String, String)>,
    /// Values whose producers are being lowered (the recursion of `get`): a value met
    /// again is a cycle, and the depth is bounded so a hostile file cannot overflow the
    /// stack.
    active: Vec<String>,
}

/// Deepest chain of producers `get` follows: scikit-learn pipelines are a few nodes deep,
/// and each level takes ~12 KB of stack in a sanitizer build (2 MiB test threads).
const MAX_DEPTH: usize = 64;

/// The value of a single-output node.
pub(super) fn one(v: Val) -> Vec<Option<Val>> {
    vec![Some(v)]
}

/// The ONNX-ML `post_transform` attribute.
pub(super) fn post_transform(n: &NodeProto) -> Result<PostTransform> {
    match attr_s(n, "post_transform").as_deref().unwrap_or("NONE") {
        "NONE" => Ok(PostTransform::None),
        "SOFTMAX" => Ok(PostTransform::Softmax),
        "LOGISTIC" => Ok(PostTransform::Logistic),
        "SOFTMAX_ZERO" => Ok(PostTransform::SoftmaxZero),
        other => Err(Error::Import(format!(
            "{}: post_transform {other} is not supported",
            node_name(n)
        ))),
    }
}

/// `Error::Import` naming `node`: `OpType "name": message`.
pub(super) fn node_err(node: &NodeProto) -> impl Fn(&str) -> Error {
    let (op, nm) = (node.op_type.clone(), node_name(node));
    move |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"))
}

impl<'g> Lowering<'g> {
    /// The lowering of `graph` with the op table `ops`.
    pub fn new(graph: &'g GraphProto, ops: &'static [(&'static str, LowerFn)]) -> Result<Self> {
        let mut producers = HashMap::new();
        let mut uses: HashMap<String, usize> = HashMap::new();
        let mut consts = HashMap::new();
        for t in &graph.initializer {
            let v = values_f64(t).ok_or_else(|| {
                Error::Import(format!("initializer {} has an unsupported type", t.name))
            })?;
            consts.insert(
                t.name.clone(),
                ConstT {
                    dims: t.dims.clone(),
                    v,
                },
            );
        }
        for n in &graph.node {
            for o in &n.output {
                producers.insert(o.as_str(), n);
            }
            for i in &n.input {
                *uses.entry(i.clone()).or_default() += 1;
            }
            if n.op_type == "Constant" {
                if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                    if let (Some(o), Some(v)) = (n.output.first(), values_f64(t)) {
                        consts.insert(
                            o.clone(),
                            ConstT {
                                dims: t.dims.clone(),
                                v,
                            },
                        );
                    }
                }
            }
        }
        for o in &graph.output {
            *uses.entry(o.name.clone()).or_default() += 1;
        }
        Ok(Lowering {
            ops,
            producers,
            uses,
            consts,
            vals: HashMap::new(),
            in_width: 0,
            pipe: Pipe::default(),
            graph_in: None,
            widths: Vec::new(),
            nodes: Vec::new(),
            labels: Vec::new(),
            unsupported: Vec::new(),
            active: Vec::new(),
        })
    }

    /// Sets the value of the ONNX graph input `name`: the `width` raw columns.
    pub fn set_input(&mut self, name: &str, width: usize) {
        self.pipe.width = width;
        self.in_width = width;
        self.vals.insert(
            name.to_string(),
            Val::Row {
                cols: (0..width).collect(),
                owned: true,
            },
        );
    }

    /// The float output to compute: `probabilities` / `variable`, or ZipMap's input.
    pub fn pick_output(&self, graph: &GraphProto) -> Result<String> {
        for o in &graph.output {
            let name = o.name.clone();
            let elem = o
                .r#type
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .map(|type_proto::Value::TensorType(t)| t.elem_type);
            if elem == Some(data_type::FLOAT) {
                return Ok(name);
            }
            if let Some(p) = self.producers.get(name.as_str()) {
                if p.op_type == "ZipMap" {
                    return Ok(p.input.first().cloned().unwrap_or_default());
                }
            }
        }
        Err(Error::Import(
            "the model has no float output (probabilities or predictions)".into(),
        ))
    }

    /// Class labels of a classifier without a classifier op (e.g. MLPClassifier): the
    /// constant table the label output looks its ArgMax up in (ArrayFeatureExtractor
    /// over a constant, behind Cast / Reshape / Identity).
    pub fn labels_from_label_path(&self, graph: &GraphProto, scores: &str) -> Vec<String> {
        for o in &graph.output {
            let mut name = o.name.clone();
            if name == scores {
                continue;
            }
            for _ in 0..16 {
                let Some(p) = self.producers.get(name.as_str()) else {
                    break;
                };
                match p.op_type.as_str() {
                    "Cast" | "Reshape" | "Identity" | "Flatten" | "Squeeze" => {
                        name = p.input.first().cloned().unwrap_or_default();
                    }
                    "ArrayFeatureExtractor" | "Gather" => {
                        if let Some(c) = p.input.first().and_then(|i| self.consts.get(i)) {
                            return c.v.iter().map(|v| format!("{}", *v as i64)).collect();
                        }
                        break;
                    }
                    _ => break,
                }
            }
        }
        Vec::new()
    }

    /// A new lowering tensor of `width` values.
    pub fn new_tensor(&mut self, width: usize) -> usize {
        self.widths.push(width);
        self.widths.len() - 1
    }

    /// Whether at most one node (or graph output) reads `name`.
    pub fn single_use(&self, name: &str) -> bool {
        self.uses.get(name).copied().unwrap_or(0) <= 1
    }

    /// The graph tensor fed by the preprocessing columns `cols` (graph input 0).
    pub fn materialize(&mut self, cols: &[usize]) -> Result<usize> {
        if let Some((c, t)) = &self.graph_in {
            if c == cols {
                return Ok(*t);
            }
            return Err(Error::Import(
                "the model part reads two different column sets of the input: not supported (one graph input)".into(),
            ));
        }
        let t = self.new_tensor(cols.len());
        self.graph_in = Some((cols.to_vec(), t));
        Ok(t)
    }

    /// The graph tensor of a value (a Row becomes the graph input).
    pub fn tensor_of(&mut self, v: Val) -> Result<usize> {
        match v {
            Val::Tensor(t) => Ok(t),
            Val::Row { cols, .. } => self.materialize(&cols),
            Val::Const(_) => Err(Error::Import(
                "a model op reads a constant as its data input".into(),
            )),
        }
    }

    /// Lowers (once) the node producing `name` and returns its value.
    pub fn get(&mut self, name: &str) -> Result<Val> {
        if let Some(v) = self.vals.get(name) {
            return Ok(v.clone());
        }
        if let Some(c) = self.consts.get(name) {
            return Ok(Val::Const(c.clone()));
        }
        let node = *self
            .producers
            .get(name)
            .ok_or_else(|| Error::Import(format!("value \"{name}\" has no producer")))?;
        if self.active.iter().any(|a| a == name) {
            return Err(Error::Import(format!(
                "the graph has a cycle through \"{name}\""
            )));
        }
        if self.active.len() >= MAX_DEPTH {
            return Err(Error::Import(format!(
                "the graph is deeper than {MAX_DEPTH} nodes"
            )));
        }
        let lower = self
            .ops
            .iter()
            .find(|(op, _)| *op == node.op_type)
            .map(|(_, f)| *f);
        self.active.push(name.to_string());
        let outs = match lower {
            Some(f) => f(self, node),
            None => Ok(self.unsupported(node)),
        };
        self.active.pop();
        let outs = outs?;
        for (o, v) in node.output.iter().zip(outs) {
            if let Some(v) = v {
                self.vals.insert(o.clone(), v);
            }
        }
        self.vals
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Import(format!("value \"{name}\" is not supported")))
    }

    /// The value of input `i` of `node` (lowering its producer first).
    pub fn input(&mut self, node: &NodeProto, i: usize) -> Result<Val> {
        let name = node
            .input
            .get(i)
            .ok_or_else(|| Error::Import(format!("{}: missing input {i}", node_name(node))))?;
        self.get(name)
    }

    /// A value passed through unchanged (Identity, Cast, Reshape…). A Row keeps
    /// ownership only if its source had no other consumer.
    pub fn alias(&mut self, node: &NodeProto, v: Val) -> Val {
        match v {
            Val::Row { cols, owned } => {
                let src = node.input.first().map(|s| s.as_str()).unwrap_or("");
                let owned = owned && self.single_use(src);
                if !owned {
                    self.disown(src);
                }
                Val::Row { cols, owned }
            }
            v => v,
        }
    }

    /// Marks the Row value `name` as shared: steps may no longer rewrite it in place.
    pub fn disown(&mut self, name: &str) {
        if let Some(Val::Row { owned, .. }) = self.vals.get_mut(name) {
            *owned = false;
        }
    }

    /// Applies a step to a Row input (input 0 of `node`).
    pub fn row_step(&mut self, node: &NodeProto, cols: Vec<usize>, owned: bool, op: SOp) -> Val {
        let src = node.input.first().map(|s| s.as_str()).unwrap_or("");
        let in_place = owned && self.single_use(src);
        let old_w = self.pipe.width;
        let first = cols.first().copied().unwrap_or(0);
        let n = cols.len();
        let out = self.pipe.apply(&cols, in_place, op);
        // An in-place step that changed the width shifts every later column of every
        // live Row value.
        if self.pipe.width != old_w && out.first() == Some(&first) {
            let k = out.len();
            for v in self.vals.values_mut() {
                if let Val::Row { cols: c, .. } = v {
                    *c = Pipe::shifted(c, first, n, k);
                }
            }
            if let Some((c, _)) = &mut self.graph_in {
                *c = Pipe::shifted(c, first, n, k);
            }
        }
        Val::Row {
            cols: out,
            owned: true,
        }
    }

    /// Records `node` as unsupported; its outputs have no value.
    pub fn unsupported(&mut self, node: &NodeProto) -> Vec<Option<Val>> {
        self.unsupported
            .push((node.op_type.clone(), node_name(node)));
        vec![None; node.output.len()]
    }

    /// Width of a value.
    pub fn width_of(&self, v: &Val) -> usize {
        match v {
            Val::Row { cols, .. } => cols.len(),
            Val::Tensor(t) => self.widths[*t],
            Val::Const(c) => c.v.len(),
        }
    }

    /// Appends a graph op; returns its output tensor.
    pub fn push(&mut self, op: GOp, inputs: Vec<usize>, width: usize) -> usize {
        let out = self.new_tensor(width);
        self.nodes.push(GNode { op, inputs, out });
        out
    }

    /// The class labels of a classifier op (`classlabels_ints` / `_int64s` / `_strings`).
    pub fn set_labels(&mut self, node: &NodeProto) {
        let ints = {
            let mut v = attr_ints(node, "classlabels_ints");
            if v.is_empty() {
                v = attr_ints(node, "classlabels_int64s");
            }
            v
        };
        self.labels = if !ints.is_empty() {
            ints.iter().map(|v| v.to_string()).collect()
        } else {
            attr_strings(node, "classlabels_strings")
        };
    }
}
