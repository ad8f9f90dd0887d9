//! ONNX-ML import: scikit-learn pipelines exported by `skl2onnx` become one `.fer`
//! model — the preprocessing ops become the PREPROCESS section, the model ops
//! (linear, tree ensemble, MLP) the graph.
//!
//! [`lower_onnxml_bytes`] produces the graph as converter IR ([`crate::ir::Graph`])
//! plus the section, so `ferrite convert` ([`convert::convert_report`]) writes it with
//! the same emitter as any ONNX model: f32, f16 or int8 (the MLP's FullyConnected
//! layers quantized; the preprocessing and the classical ops stay exact in f32).
//!
//! The ONNX protobuf is read directly (hand-written prost messages in [`proto`]):
//! tract does not implement several ONNX-ML ops. Lowering is demand-driven from the
//! model's float output (`probabilities` / `variable`): label outputs (ArgMax → class
//! lookup → Cast) and ZipMap are never visited, since the runtime returns the class
//! index and keeps the class labels in the metadata.
//!
//! | ONNX op | becomes |
//! |---|---|
//! | Imputer | `impute` step (NaN, or `replaced_value_float` as a sentinel) |
//! | Scaler | `scale` step `(x - offset) * scale` |
//! | Normalizer | `normalize` step before the model, `Normalize` op after it |
//! | Binarizer | `binarize` step |
//! | OneHotEncoder (int64 categories) | one `one_hot` step per column (`zeros=1` → ignore, else error) |
//! | LabelEncoder (float / int64 keys and values) | one `label_encode` step per column |
//! | ArrayFeatureExtractor, Gather (axis 1), FeatureVectorizer, Concat, Reshape, Cast, Identity | column bookkeeping (`select` steps) |
//! | Mul / Add / Sub / Div by a constant vector, on raw features | `scale` steps |
//! | LinearClassifier / LinearRegressor | `Linear` op |
//! | TreeEnsembleClassifier / TreeEnsembleRegressor | `TreeEnsemble` op |
//! | MatMul (+ Add + Relu), Gemm | `FullyConnected` (bias and ReLU fused) |
//! | Relu, Sigmoid, Tanh, Softmax, LogSoftmax, Add/Mul/Sub/Div by constants (after the model input) | `Unary`, `Softmax`, `Binary` ops |
//! | ZipMap, ArgMax and the label path | dropped |
//!
//! String categories, `PROBIT`, and models with several separate inputs are not
//! supported (a clear [`Error::Unsupported`] / [`Error::Import`]).

pub mod convert;
pub mod proto;
pub mod spec;

use crate::emit::{self, Precision};
use crate::error::{Error, Result};
use crate::ir::{Data, Graph, TId};
use ferrite::format::kind;
use ferrite::format::types::{
    Activation, Aggregate, BinaryOp, DType, Norm, Op, PostTransform, UnaryOp,
};
use ferrite::format::write::ModelBuilder;
use ferrite::preprocess::{encode_section, Pipeline, ScaleKind, Step, StepOp, Unknown};
use prost::Message;
use proto::{AttributeProto, ModelProto, NodeProto};
use std::collections::HashMap;
use std::path::Path;

/// Whether `onnx` (bytes of a `.onnx` file) contains ONNX-ML (`ai.onnx.ml`) nodes,
/// i.e. should be converted by [`import_onnxml_bytes`] rather than through tract.
pub fn is_onnxml(onnx: &[u8]) -> bool {
    ModelProto::decode(onnx)
        .ok()
        .and_then(|m| m.graph)
        .is_some_and(|g| {
            g.node
                .iter()
                .any(|n| n.domain.as_deref() == Some("ai.onnx.ml"))
        })
}

/// Options of the ONNX-ML import.
#[derive(Clone, Debug, Default)]
pub struct OnnxMlOptions {
    /// Model name written to the metadata (default: the file stem or `model`).
    pub name: Option<String>,
    /// A declarative pipeline (`FEATURES.toml`) run *before* the ONNX model's own
    /// preprocessing: its output feeds the ONNX input.
    pub features: Option<spec::FeatureSpec>,
}

/// A lowered ONNX-ML model: the graph part as converter IR (so it goes through the
/// same f32 / f16 / int8 emitter, calibration and validation as any ONNX model; see
/// [`crate::convert::convert_graph_with`]) and the preprocessing part as a PREPROCESS
/// section.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The model ops (`FullyConnected`, `Linear`, `TreeEnsemble`, …) on `[1, n]`
    /// tensors; input 0 is the pipeline's output.
    pub graph: Graph,
    /// The PREPROCESS section (FEATURES.toml steps, then the ONNX model's own), if any.
    pub preprocess: Option<Vec<u8>>,
    /// Class labels (empty for a regressor).
    pub labels: Vec<String>,
    /// Provenance of the import (`source_producer`, `importer`).
    pub properties: Vec<(String, String)>,
    /// Raw input values per row (the pipeline's input, or the graph input).
    pub raw_len: usize,
    /// Output values per row.
    pub out_len: usize,
    /// Number of preprocessing steps.
    pub steps: usize,
}

impl Lowered {
    /// Pieces of the model besides the graph, for [`crate::convert::convert_graph_with`].
    pub fn extras(&self) -> crate::convert::Extras {
        crate::convert::Extras {
            preprocess: self.preprocess.clone(),
            labels: self.labels.clone(),
            properties: self.properties.clone(),
        }
    }
}

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The model, ready for `finish()` (metadata, labels, graph, PREPROCESS section).
    pub builder: ModelBuilder,
    /// Raw input values per row (the pipeline's input, or the graph input).
    pub raw_len: usize,
    /// Output values per row.
    pub out_len: usize,
    /// Number of preprocessing steps stored in the model.
    pub steps: usize,
}

/// Converts an ONNX-ML file to `.fer` bytes (f32).
pub fn import_onnxml(path: &Path, opts: &OnnxMlOptions) -> Result<Vec<u8>> {
    let bytes = crate::error::read_file(path)?;
    let mut opts = opts.clone();
    if opts.name.is_none() {
        opts.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    Ok(import_onnxml_bytes(&bytes, &opts)?.builder.finish()?)
}

/// Converts ONNX-ML bytes to an f32 model; the caller may add provenance / golden
/// vectors to the returned builder before `finish()`.
pub fn import_onnxml_bytes(onnx: &[u8], opts: &OnnxMlOptions) -> Result<Imported> {
    let l = lower_onnxml_bytes(onnx, opts)?;
    let name = opts.name.clone().unwrap_or_else(|| "model".into());
    let mut b = emit::emit(&l.graph, Precision::F32, None, &name)?.builder;
    b.version = "0.1.0".into();
    b.labels = l.labels.clone();
    b.properties = l.properties.clone();
    b.properties.push(("precision".into(), "f32".into()));
    if let Some(s) = &l.preprocess {
        b.add_section(kind::PREPROCESS, true, s.clone());
    }
    let imported = Imported {
        builder: b,
        raw_len: l.raw_len,
        out_len: l.out_len,
        steps: l.steps,
    };
    // Validate once with the runtime so a bad conversion fails here, not on a device.
    let bytes = imported.builder.finish()?;
    ferrite::OwnedModel::new(&bytes)?;
    Ok(imported)
}

/// Lowers ONNX-ML bytes to converter IR plus a preprocessing section.
pub fn lower_onnxml_bytes(onnx: &[u8], opts: &OnnxMlOptions) -> Result<Lowered> {
    let model = ModelProto::decode(onnx)
        .map_err(|e| Error::Import(format!("not an ONNX protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Import("the ONNX model has no graph".into()))?;
    let mut cx = Lowering::new(graph)?;
    let out_name = cx.pick_output(graph)?;
    // The declared input width.
    let input = graph
        .input
        .iter()
        .find(|i| !cx.consts.contains_key(i.name.as_deref().unwrap_or("")))
        .ok_or_else(|| Error::Import("the ONNX graph has no input".into()))?;
    let in_name = input.name.clone().unwrap_or_default();
    let width = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .and_then(|s| s.dim.last())
        .and_then(|d| d.dim_value)
        .filter(|&d| d > 0 && d <= ferrite::preprocess::MAX_WIDTH as i64)
        .ok_or_else(|| {
            Error::Import(format!(
                "input \"{in_name}\" needs a fixed last dimension (features)"
            ))
        })? as usize;
    cx.input_name = in_name.clone();
    cx.pipe.width = width;
    cx.in_width = width;
    cx.vals.insert(
        in_name.clone(),
        Val::Row {
            cols: (0..width).collect(),
            owned: true,
        },
    );
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
    cx.finish(opts, &model, out_t)
}

// ---- the lowering ---------------------------------------------------------------------

/// A constant (initializer or Constant node), values as f64.
#[derive(Clone, Debug)]
struct ConstT {
    dims: Vec<i64>,
    v: Vec<f64>,
}

/// What an ONNX value is after lowering.
#[derive(Clone, Debug)]
enum Val {
    /// Columns of the preprocessing row. `owned`: no other live value shares them, so
    /// a step may rewrite them in place.
    Row {
        cols: Vec<usize>,
        owned: bool,
    },
    /// A graph tensor `[1, width]` (index into `Lowering::widths`).
    Tensor(usize),
    Const(ConstT),
}

/// One preprocessing step with owned tables.
#[derive(Clone, Debug)]
pub(crate) enum SOp {
    Impute {
        sentinel: Option<f32>,
        values: Vec<f32>,
    },
    Clip {
        lo: Vec<f32>,
        hi: Vec<f32>,
    },
    Scale {
        kind: ScaleKind,
        a: Vec<f32>,
        b: Vec<f32>,
    },
    Normalize(Norm),
    Binarize(Vec<f32>),
    Bin(Vec<f32>),
    OneHot {
        cats: Vec<f32>,
        unknown: Unknown,
    },
    LabelEncode {
        keys: Vec<f32>,
        values: Vec<f32>,
        default: Option<f32>,
    },
    Hash {
        buckets: u32,
        signed: bool,
    },
    Select(Vec<u32>),
    Window {
        channels: u32,
        samples: u32,
        features: Vec<ferrite::WindowFeature>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct SStep {
    start: u32,
    len: u32,
    op: SOp,
}

/// Encodes owned steps as a PREPROCESS section.
fn encode_steps(raw_len: usize, names: &str, steps: &[SStep]) -> Result<Vec<u8>> {
    use ferrite::preprocess::{f32_bytes, u32_bytes};
    // Tables first (owned), then steps borrowing them.
    let tables: Vec<Vec<Vec<u8>>> = steps
        .iter()
        .map(|s| match &s.op {
            SOp::Impute { values, .. } => vec![f32_bytes(values)],
            SOp::Clip { lo, hi } => vec![f32_bytes(lo), f32_bytes(hi)],
            SOp::Scale { a, b, .. } => vec![f32_bytes(a), f32_bytes(b)],
            SOp::Binarize(t) | SOp::Bin(t) => vec![f32_bytes(t)],
            SOp::OneHot { cats, .. } => vec![f32_bytes(cats)],
            SOp::LabelEncode { keys, values, .. } => vec![f32_bytes(keys), f32_bytes(values)],
            SOp::Select(i) => vec![u32_bytes(i)],
            SOp::Normalize(_) | SOp::Hash { .. } | SOp::Window { .. } => vec![],
        })
        .collect();
    let mut out = Vec::new();
    for (s, t) in steps.iter().zip(&tables) {
        let op = match &s.op {
            SOp::Impute { sentinel, .. } => StepOp::Impute {
                sentinel: *sentinel,
                values: &t[0],
            },
            SOp::Clip { .. } => StepOp::Clip {
                lo: &t[0],
                hi: &t[1],
            },
            SOp::Scale { kind, .. } => StepOp::Scale {
                kind: *kind,
                a: &t[0],
                b: &t[1],
            },
            SOp::Normalize(n) => StepOp::Normalize { norm: *n },
            SOp::Binarize(_) => StepOp::Binarize { threshold: &t[0] },
            SOp::Bin(_) => StepOp::Bin { edges: &t[0] },
            SOp::OneHot { unknown, .. } => StepOp::OneHot {
                categories: &t[0],
                unknown: *unknown,
            },
            SOp::LabelEncode { default, .. } => StepOp::LabelEncode {
                keys: &t[0],
                values: &t[1],
                default: *default,
            },
            SOp::Hash { buckets, signed } => StepOp::Hash {
                buckets: *buckets,
                signed: *signed,
            },
            SOp::Select(_) => StepOp::Select { indices: &t[0] },
            SOp::Window {
                channels,
                samples,
                features,
            } => StepOp::Window {
                channels: *channels,
                samples: *samples,
                features: heapless::Vec::from_slice(features)
                    .map_err(|_| Error::Usage("at most 16 window features per step".into()))?,
            },
        };
        out.push(Step {
            start: s.start,
            len: s.len,
            op,
        });
    }
    let header = Pipeline {
        raw_len: raw_len as u32,
        names,
    };
    Ok(encode_section(&header, &out)?)
}

/// Output width of an owned step (its input range has `len` columns).
fn sop_width(op: &SOp, len: usize) -> usize {
    match op {
        SOp::OneHot { cats, unknown } => cats.len() + usize::from(*unknown == Unknown::Bucket),
        SOp::Hash { buckets, .. } => *buckets as usize,
        SOp::Select(i) => i.len(),
        SOp::Window {
            channels, features, ..
        } => *channels as usize * features.len(),
        SOp::Bin(_) | SOp::LabelEncode { .. } => 1,
        _ => len,
    }
}

#[derive(Debug, Default)]
struct Pipe {
    width: usize,
    steps: Vec<SStep>,
}

impl Pipe {
    /// Applies `op` to the columns `cols`. In place when they are owned and contiguous;
    /// otherwise the columns are first copied to the end of the row. Returns the
    /// output columns.
    fn apply(&mut self, cols: &[usize], owned: bool, op: SOp) -> Vec<usize> {
        let n = cols.len();
        let contiguous = n > 0 && cols.windows(2).all(|w| w[1] == w[0] + 1);
        let start = if owned && contiguous {
            cols[0]
        } else {
            let w = self.width;
            let mut idx: Vec<u32> = (0..w as u32).collect();
            idx.extend(cols.iter().map(|&c| c as u32));
            self.steps.push(SStep {
                start: 0,
                len: w as u32,
                op: SOp::Select(idx),
            });
            self.width = w + n;
            w
        };
        let k = sop_width(&op, n);
        self.steps.push(SStep {
            start: start as u32,
            len: n as u32,
            op,
        });
        self.width = self.width - n + k;
        (start..start + k).collect()
    }

    /// Columns after `at` moved by `delta` when a step at `at` changed width: callers
    /// track values by column, so in-place width changes shift later columns.
    fn shifted(cols: &[usize], at: usize, old: usize, new: usize) -> Vec<usize> {
        cols.iter()
            .map(|&c| if c >= at + old { c + new - old } else { c })
            .collect()
    }
}

/// A graph op on `[1, n]` tensors.
#[derive(Clone, Debug)]
enum GOp {
    Fc {
        w: Vec<f32>,
        n: usize,
        k: usize,
        bias: Option<Vec<f32>>,
        relu: bool,
    },
    Linear {
        w: Vec<f32>,
        b: Vec<f32>,
        n: usize,
        k: usize,
        post: PostTransform,
    },
    Tree(Box<TreeParts>),
    Unary(UnaryOp),
    Softmax {
        log: bool,
    },
    Normalize(Norm),
    BinConst {
        op: BinaryOp,
        c: Vec<f32>,
    },
    Concat,
    Copy,
}

#[derive(Clone, Debug)]
struct TreeParts {
    nodes: Vec<i32>,
    roots: Vec<i32>,
    ids: Vec<i32>,
    ws: Vec<f32>,
    base: Vec<f32>,
    aggregate: Aggregate,
    post: PostTransform,
}

#[derive(Clone, Debug)]
struct GNode {
    op: GOp,
    inputs: Vec<usize>,
    out: usize,
}

struct Lowering<'g> {
    producers: HashMap<&'g str, &'g NodeProto>,
    uses: HashMap<String, usize>,
    consts: HashMap<String, ConstT>,
    vals: HashMap<String, Val>,
    input_name: String,
    in_width: usize,
    pipe: Pipe,
    /// The columns that feed the graph (set once).
    graph_in: Option<(Vec<usize>, usize)>,
    widths: Vec<usize>,
    nodes: Vec<GNode>,
    labels: Vec<String>,
    unsupported: Vec<(String, String)>,
    /// Values whose producers are being lowered (the recursion of `get`): a value met
    /// again is a cycle, and the depth is bounded so a hostile file cannot overflow the
    /// stack.
    active: Vec<String>,
}

/// Deepest chain of producers `get` follows: scikit-learn pipelines are a few nodes deep,
/// and each level takes ~12 KB of stack in a sanitizer build (2 MiB test threads).
const MAX_DEPTH: usize = 64;

fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

fn attr_floats(n: &NodeProto, name: &str) -> Vec<f32> {
    match attr(n, name) {
        Some(a) if !a.floats.is_empty() => a.floats.clone(),
        Some(a) => {
            a.t.as_ref()
                .and_then(|t| t.values_f64())
                .map(|v| v.iter().map(|&x| x as f32).collect())
                .unwrap_or_default()
        }
        None => Vec::new(),
    }
}

fn attr_ints(n: &NodeProto, name: &str) -> Vec<i64> {
    attr(n, name).map(|a| a.ints.clone()).unwrap_or_default()
}

fn attr_int(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).and_then(|a| a.i).unwrap_or(default)
}

fn attr_str(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

fn attr_strings(n: &NodeProto, name: &str) -> Vec<String> {
    attr(n, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn node_name(n: &NodeProto) -> String {
    n.name
        .clone()
        .unwrap_or_else(|| n.output.first().cloned().unwrap_or_default())
}

fn post_transform(n: &NodeProto) -> Result<PostTransform> {
    match attr_str(n, "post_transform").as_deref().unwrap_or("NONE") {
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

impl<'g> Lowering<'g> {
    fn new(graph: &'g proto::GraphProto) -> Result<Self> {
        let mut producers = HashMap::new();
        let mut uses: HashMap<String, usize> = HashMap::new();
        let mut consts = HashMap::new();
        for t in &graph.initializer {
            let v = t.values_f64().ok_or_else(|| {
                Error::Import(format!(
                    "initializer {} has an unsupported type",
                    t.name.clone().unwrap_or_default()
                ))
            })?;
            consts.insert(
                t.name.clone().unwrap_or_default(),
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
            if n.op_type.as_deref() == Some("Constant") {
                if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                    if let (Some(o), Some(v)) = (n.output.first(), t.values_f64()) {
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
            *uses.entry(o.name.clone().unwrap_or_default()).or_default() += 1;
        }
        Ok(Lowering {
            producers,
            uses,
            consts,
            vals: HashMap::new(),
            input_name: String::new(),
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

    /// The float output to compute: `probabilities` / `variable`, or ZipMap's input.
    fn pick_output(&self, graph: &proto::GraphProto) -> Result<String> {
        for o in &graph.output {
            let name = o.name.clone().unwrap_or_default();
            let elem = o
                .r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .and_then(|t| t.elem_type);
            if elem == Some(proto::data_type::FLOAT) {
                return Ok(name);
            }
            if let Some(p) = self.producers.get(name.as_str()) {
                if p.op_type.as_deref() == Some("ZipMap") {
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
    fn labels_from_label_path(&self, graph: &proto::GraphProto, scores: &str) -> Vec<String> {
        for o in &graph.output {
            let mut name = o.name.clone().unwrap_or_default();
            if name == scores {
                continue;
            }
            for _ in 0..16 {
                let Some(p) = self.producers.get(name.as_str()) else {
                    break;
                };
                match p.op_type.as_deref() {
                    Some("Cast" | "Reshape" | "Identity" | "Flatten" | "Squeeze") => {
                        name = p.input.first().cloned().unwrap_or_default();
                    }
                    Some("ArrayFeatureExtractor" | "Gather") => {
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

    fn new_tensor(&mut self, width: usize) -> usize {
        self.widths.push(width);
        self.widths.len() - 1
    }

    fn single_use(&self, name: &str) -> bool {
        self.uses.get(name).copied().unwrap_or(0) <= 1
    }

    /// The graph tensor fed by the preprocessing columns `cols` (graph input 0).
    fn materialize(&mut self, cols: &[usize]) -> Result<usize> {
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

    fn tensor_of(&mut self, v: Val) -> Result<usize> {
        match v {
            Val::Tensor(t) => Ok(t),
            Val::Row { cols, .. } => self.materialize(&cols),
            Val::Const(_) => Err(Error::Import(
                "a model op reads a constant as its data input".into(),
            )),
        }
    }

    /// Lowers (once) the node producing `name` and returns its value.
    fn get(&mut self, name: &str) -> Result<Val> {
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
        self.active.push(name.to_string());
        let outs = self.lower(node);
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

    fn input(&mut self, node: &NodeProto, i: usize) -> Result<Val> {
        let name = node
            .input
            .get(i)
            .ok_or_else(|| Error::Import(format!("{}: missing input {i}", node_name(node))))?;
        self.get(name)
    }

    /// A value passed through unchanged (Identity, Cast, Reshape…). A Row keeps
    /// ownership only if its source had no other consumer.
    fn alias(&mut self, node: &NodeProto, v: Val) -> Val {
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

    fn disown(&mut self, name: &str) {
        if let Some(Val::Row { owned, .. }) = self.vals.get_mut(name) {
            *owned = false;
        }
    }

    /// Applies a step to a Row input (input 0 of `node`).
    fn row_step(&mut self, node: &NodeProto, cols: Vec<usize>, owned: bool, op: SOp) -> Val {
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

    fn unsupported(&mut self, node: &NodeProto) -> Vec<Option<Val>> {
        self.unsupported
            .push((node.op_type.clone().unwrap_or_default(), node_name(node)));
        vec![None; node.output.len()]
    }

    fn lower(&mut self, node: &'g NodeProto) -> Result<Vec<Option<Val>>> {
        let op = node.op_type.as_deref().unwrap_or("");
        let one = |v: Val| vec![Some(v)];
        let nm = node_name(node);
        let err = |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"));
        match op {
            "Identity" | "ZipMap" => {
                let v = self.input(node, 0)?;
                Ok(one(self.alias(node, v)))
            }
            "Cast" => {
                let v = self.input(node, 0)?;
                Ok(one(self.alias(node, v)))
            }
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
                let v = self.input(node, 0)?;
                Ok(one(self.alias(node, v)))
            }
            "Imputer" => {
                let Val::Row { cols, owned } = self.input(node, 0)? else {
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
                let r = attr(node, "replaced_value_float")
                    .and_then(|a| a.f)
                    .unwrap_or(0.0);
                let sentinel = if r.is_nan() { None } else { Some(r) };
                Ok(one(self.row_step(
                    node,
                    cols,
                    owned,
                    SOp::Impute {
                        sentinel,
                        values: vals,
                    },
                )))
            }
            "Scaler" => {
                let x = self.input(node, 0)?;
                let n = self.width_of(&x);
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
                    Val::Row { cols, owned } => Ok(one(self.row_step(
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
                        let t = self.tensor_of(v)?;
                        let neg: Vec<f32> = a.iter().map(|v| -v).collect();
                        let t1 = self.push(
                            GOp::BinConst {
                                op: BinaryOp::Add,
                                c: neg,
                            },
                            vec![t],
                            n,
                        );
                        Ok(one(Val::Tensor(self.push(
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
            "Normalizer" => {
                let norm = match attr_str(node, "norm").as_deref().unwrap_or("MAX") {
                    "MAX" => Norm::Max,
                    "L1" => Norm::L1,
                    "L2" => Norm::L2,
                    o => return Err(err(&format!("norm {o}"))),
                };
                match self.input(node, 0)? {
                    Val::Row { cols, owned } => {
                        Ok(one(self.row_step(node, cols, owned, SOp::Normalize(norm))))
                    }
                    v => {
                        let t = self.tensor_of(v)?;
                        let n = self.widths[t];
                        Ok(one(Val::Tensor(self.push(
                            GOp::Normalize(norm),
                            vec![t],
                            n,
                        ))))
                    }
                }
            }
            "Binarizer" => {
                let Val::Row { cols, owned } = self.input(node, 0)? else {
                    return Err(err("expects raw features"));
                };
                let t = attr(node, "threshold").and_then(|a| a.f).unwrap_or(0.0);
                let n = cols.len();
                Ok(one(self.row_step(
                    node,
                    cols,
                    owned,
                    SOp::Binarize(vec![t; n]),
                )))
            }
            "OneHotEncoder" => {
                let Val::Row { cols, owned } = self.input(node, 0)? else {
                    return Err(err("expects raw features"));
                };
                let cats = attr_ints(node, "cats_int64s");
                if cats.is_empty() {
                    return Err(err("only integer categories (cats_int64s) are supported"));
                }
                let cats: Vec<f32> = cats.iter().map(|&c| c as f32).collect();
                let unknown = if attr_int(node, "zeros", 1) != 0 {
                    Unknown::Ignore
                } else {
                    Unknown::Error
                };
                let mut out = Vec::new();
                for (j, &c) in cols.iter().enumerate() {
                    let single = cols.len() == 1;
                    let v = self.row_step(
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
                    let _ = j;
                }
                if cols.len() > 1 {
                    self.disown(node.input.first().map(|s| s.as_str()).unwrap_or(""));
                }
                Ok(one(Val::Row {
                    cols: out,
                    owned: cols.len() == 1,
                }))
            }
            "LabelEncoder" => {
                let Val::Row { cols, owned } = self.input(node, 0)? else {
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
                    attr(node, "default_int64").and_then(|a| a.i).unwrap_or(-1) as f32
                } else {
                    attr(node, "default_float")
                        .and_then(|a| a.f)
                        .unwrap_or(-0.0)
                });
                let mut cur = Val::Row {
                    cols: cols.clone(),
                    owned,
                };
                let mut out = Vec::new();
                for &c in &cols {
                    cur = self.row_step(
                        node,
                        vec![c],
                        owned && cols.len() == 1,
                        SOp::LabelEncode {
                            keys: keys.clone(),
                            values: values.clone(),
                            default,
                        },
                    );
                    if let Val::Row { cols: o, .. } = &cur {
                        out.extend(o.iter().copied());
                    }
                }
                let _ = cur;
                Ok(one(Val::Row {
                    cols: out,
                    owned: cols.len() == 1,
                }))
            }
            "ArrayFeatureExtractor" | "Gather" => {
                let x = self.input(node, 0)?;
                let idx = match self.input(node, 1)? {
                    Val::Const(c) => c.v.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                    _ => return Err(err("indices must be constant")),
                };
                if op == "Gather" && !matches!(attr_int(node, "axis", 0), 1 | -1) {
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
                        self.disown(&node.input[0]);
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
            "FeatureVectorizer" | "Concat" => {
                let mut vals = Vec::new();
                for i in 0..node.input.len() {
                    vals.push(self.input(node, i)?);
                }
                if vals.iter().all(|v| matches!(v, Val::Row { .. })) {
                    let mut cols = Vec::new();
                    for (i, v) in vals.into_iter().enumerate() {
                        if let Val::Row { cols: c, .. } = v {
                            cols.extend(c);
                        }
                        let name = node.input[i].clone();
                        self.disown(&name);
                    }
                    // Distinct columns in one block: owned only if nothing else uses them.
                    return Ok(one(Val::Row { cols, owned: false }));
                }
                let mut ts = Vec::new();
                for v in vals {
                    ts.push(self.tensor_of(v)?);
                }
                let w = ts.iter().map(|&t| self.widths[t]).sum();
                if ts.len() > ferrite::format::types::MAX_OP_INPUTS {
                    return Err(err("too many inputs"));
                }
                Ok(one(Val::Tensor(self.push(GOp::Concat, ts, w))))
            }
            "Mul" | "Add" | "Sub" | "Div" => self.lower_binary(node, op),
            "MatMul" | "Gemm" => self.lower_matmul(node, op),
            "Relu" | "Sigmoid" | "Tanh" | "Exp" | "Abs" | "Neg" | "Sqrt" | "Log" => {
                let v = self.input(node, 0)?;
                let t = self.tensor_of(v)?;
                if op == "Relu" && self.single_use(&node.input[0]) {
                    if let Some(last) = self.nodes.last_mut() {
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
                    _ => UnaryOp::Log,
                };
                let n = self.widths[t];
                Ok(one(Val::Tensor(self.push(GOp::Unary(u), vec![t], n))))
            }
            "Softmax" | "LogSoftmax" => {
                let v = self.input(node, 0)?;
                let t = self.tensor_of(v)?;
                if !matches!(attr_int(node, "axis", -1), 1 | -1) {
                    return Err(err("only the last axis is supported"));
                }
                let n = self.widths[t];
                Ok(one(Val::Tensor(self.push(
                    GOp::Softmax {
                        log: op == "LogSoftmax",
                    },
                    vec![t],
                    n,
                ))))
            }
            "LinearClassifier" | "LinearRegressor" => self.lower_linear(node, op),
            "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => self.lower_trees(node, op),
            _ => Ok(self.unsupported(node)),
        }
    }

    fn width_of(&self, v: &Val) -> usize {
        match v {
            Val::Row { cols, .. } => cols.len(),
            Val::Tensor(t) => self.widths[*t],
            Val::Const(c) => c.v.len(),
        }
    }

    fn push(&mut self, op: GOp, inputs: Vec<usize>, width: usize) -> usize {
        let out = self.new_tensor(width);
        self.nodes.push(GNode { op, inputs, out });
        out
    }

    fn lower_binary(&mut self, node: &'g NodeProto, op: &str) -> Result<Vec<Option<Val>>> {
        let nm = node_name(node);
        let err = |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"));
        let a = self.input(node, 0)?;
        let b = self.input(node, 1)?;
        let (x, c, const_first) = match (a, b) {
            (Val::Const(c), x) => (x, c, true),
            (x, Val::Const(c)) => (x, c, false),
            _ => return Err(err("only operations with a constant are supported")),
        };
        if const_first && matches!(op, "Sub" | "Div") {
            return Err(err("constant on the left of Sub/Div"));
        }
        let n = self.width_of(&x);
        let cv: Vec<f32> = match c.v.len() {
            1 => vec![c.v[0] as f32; n],
            l if l == n => c.v.iter().map(|&v| v as f32).collect(),
            _ => return Err(err("the constant does not broadcast over the columns")),
        };
        let _ = &c.dims;
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
                    .find(|i| !self.consts.contains_key(i.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if op == "Add" && owned && self.single_use(&src) {
                    if let Some(last) = self.pipe.steps.last_mut() {
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
                Ok(vec![Some(self.row_step(
                    &fake,
                    cols,
                    owned,
                    SOp::Scale { kind, a, b },
                ))])
            }
            x => {
                let t = self.tensor_of(x)?;
                // Bias after MatMul: fuse into the FullyConnected.
                if op == "Add" {
                    let src = node
                        .input
                        .iter()
                        .find(|i| !self.consts.contains_key(i.as_str()))
                        .cloned()
                        .unwrap_or_default();
                    if self.single_use(&src) {
                        if let Some(last) = self.nodes.last_mut() {
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
                Ok(vec![Some(Val::Tensor(self.push(
                    GOp::BinConst { op: bop, c: cv },
                    vec![t],
                    n,
                )))])
            }
        }
    }

    fn lower_matmul(&mut self, node: &'g NodeProto, op: &str) -> Result<Vec<Option<Val>>> {
        let nm = node_name(node);
        let err = |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"));
        let x = self.input(node, 0)?;
        let Val::Const(w) = self.input(node, 1)? else {
            return Err(err("the weights must be constant"));
        };
        let t = self.tensor_of(x)?;
        let k = self.widths[t];
        if w.dims.len() != 2 {
            return Err(err("2-D weights expected"));
        }
        let trans_b = op == "Gemm" && attr_int(node, "transB", 0) != 0;
        if op == "Gemm" && attr_int(node, "transA", 0) != 0 {
            return Err(err("transA is not supported"));
        }
        let (rk, rn) = if trans_b {
            (w.dims[1] as usize, w.dims[0] as usize)
        } else {
            (w.dims[0] as usize, w.dims[1] as usize)
        };
        if rk != k || w.v.len() != rk * rn {
            return Err(err("weights do not match the input width"));
        }
        let alpha = if op == "Gemm" {
            attr(node, "alpha").and_then(|a| a.f).unwrap_or(1.0)
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
            let Val::Const(c) = self.input(node, 2)? else {
                return Err(err("the bias must be constant"));
            };
            let beta = attr(node, "beta").and_then(|a| a.f).unwrap_or(1.0);
            Some(match c.v.len() {
                1 => vec![c.v[0] as f32 * beta; rn],
                l if l == rn => c.v.iter().map(|&v| v as f32 * beta).collect(),
                _ => return Err(err("bias does not match")),
            })
        } else {
            None
        };
        Ok(vec![Some(Val::Tensor(self.push(
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

    fn set_labels(&mut self, node: &NodeProto) {
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

    fn lower_linear(&mut self, node: &'g NodeProto, op: &str) -> Result<Vec<Option<Val>>> {
        let nm = node_name(node);
        let err = |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"));
        let x = self.input(node, 0)?;
        let t = self.tensor_of(x)?;
        let k = self.widths[t];
        let post = post_transform(node)?;
        let mut w = attr_floats(node, "coefficients");
        let mut b = attr_floats(node, "intercepts");
        if k == 0 || w.len() % k != 0 {
            return Err(err("coefficients do not match the input width"));
        }
        let mut n = w.len() / k;
        if op == "LinearClassifier" {
            self.set_labels(node);
            // Binary with one coefficient row: scores [-s, s] (then the post transform).
            if n == 1 && self.labels.len() == 2 {
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
        let out = self.push(GOp::Linear { w, b, n, k, post }, vec![t], n);
        let mut outs = vec![None; node.output.len()];
        // Classifier: (label, scores); regressor: (Y).
        let idx = if op == "LinearClassifier" { 1 } else { 0 };
        if idx < outs.len() {
            outs[idx] = Some(Val::Tensor(out));
        }
        Ok(outs)
    }

    fn lower_trees(&mut self, node: &'g NodeProto, op: &str) -> Result<Vec<Option<Val>>> {
        let nm = node_name(node);
        let err = |m: &str| Error::Import(format!("{op} \"{nm}\": {m}"));
        let x = self.input(node, 0)?;
        let t = self.tensor_of(x)?;
        let f = self.widths[t];
        let post = post_transform(node)?;
        let classifier = op == "TreeEnsembleClassifier";
        let tree_ids = attr_ints(node, "nodes_treeids");
        let node_ids = attr_ints(node, "nodes_nodeids");
        let feats = attr_ints(node, "nodes_featureids");
        let modes = attr_strings(node, "nodes_modes");
        let mut values = attr_floats(node, "nodes_values");
        if values.is_empty() {
            values = attr_floats(node, "nodes_values_as_tensor");
        }
        let trues = attr_ints(node, "nodes_truenodeids");
        let falses = attr_ints(node, "nodes_falsenodeids");
        let mut missing = attr_ints(node, "nodes_missing_value_tracks_true");
        let m = tree_ids.len();
        if missing.is_empty() {
            missing = vec![0; m];
        }
        if [
            node_ids.len(),
            feats.len(),
            modes.len(),
            values.len(),
            trues.len(),
            falses.len(),
            missing.len(),
        ]
        .iter()
        .any(|&l| l != m)
        {
            return Err(err("node attribute arrays differ in length"));
        }
        let pre = if classifier { "class_" } else { "target_" };
        let l_tree = attr_ints(node, &format!("{pre}treeids"));
        let l_node = attr_ints(node, &format!("{pre}nodeids"));
        let l_id = attr_ints(node, &format!("{pre}ids"));
        let mut l_w = attr_floats(node, &format!("{pre}weights"));
        if l_w.is_empty() {
            l_w = attr_floats(node, &format!("{pre}weights_as_tensor"));
        }
        if [l_node.len(), l_id.len(), l_w.len()]
            .iter()
            .any(|&l| l != l_tree.len())
        {
            return Err(err("leaf attribute arrays differ in length"));
        }
        let n_targets = if classifier {
            self.set_labels(node);
            self.labels.len()
        } else {
            attr_int(node, "n_targets", 1) as usize
        };
        if n_targets == 0 || n_targets > 1 << 20 {
            return Err(err("no (or too many) classes / targets"));
        }
        let mut base = attr_floats(node, "base_values");
        if base.is_empty() {
            base = attr_floats(node, "base_values_as_tensor");
        }
        let mut l_id = l_id;
        let mut l_tree = l_tree;
        let mut l_node = l_node;
        // ONNX-ML binary classifier with weights for one class only (as onnxruntime):
        // class 0 gets -s (LOGISTIC: 1 - p), or 1 - s with NONE and positive weights.
        let binary =
            classifier && n_targets == 2 && !l_id.is_empty() && l_id.iter().all(|&c| c == l_id[0]);
        if binary {
            let c1 = l_id[0];
            let c0 = 1 - c1;
            let positive = l_w.iter().all(|&w| w >= 0.0);
            let b1 = if base.len() == 2 {
                base[c1 as usize]
            } else {
                base.first().copied().unwrap_or(0.0)
            };
            let b0 = if post == PostTransform::None && positive {
                1.0 - b1
            } else {
                -b1
            };
            let k = l_id.len();
            for i in 0..k {
                l_tree.push(l_tree[i]);
                l_node.push(l_node[i]);
                l_id.push(c0);
                l_w.push(-l_w[i]);
            }
            base = if c1 == 1 { vec![b0, b1] } else { vec![b1, b0] };
        }
        if base.is_empty() {
            base = vec![0.0; n_targets];
        }
        if base.len() != n_targets {
            return Err(err("base_values do not match the classes / targets"));
        }
        let aggregate = match attr_str(node, "aggregate_function")
            .as_deref()
            .unwrap_or("SUM")
        {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            o => return Err(err(&format!("aggregate_function {o}"))),
        };
        // (tree, node id) -> attribute index; leaves' entries in order.
        let mut at: HashMap<(i64, i64), usize> = HashMap::new();
        for i in 0..m {
            if at.insert((tree_ids[i], node_ids[i]), i).is_some() {
                return Err(err("duplicate node id"));
            }
        }
        let mut entries: HashMap<(i64, i64), Vec<(i32, f32)>> = HashMap::new();
        for i in 0..l_tree.len() {
            let id = l_id[i];
            if id < 0 || id as usize >= n_targets {
                return Err(err("class / target id out of range"));
            }
            entries
                .entry((l_tree[i], l_node[i]))
                .or_default()
                .push((id as i32, l_w[i]));
        }
        let mut trees: Vec<i64> = tree_ids.clone();
        trees.sort_unstable();
        trees.dedup();
        let mut parts = TreeParts {
            nodes: vec![],
            roots: vec![],
            ids: vec![],
            ws: vec![],
            base,
            aggregate,
            post,
        };
        for &tree in &trees {
            // Root: the node of this tree that is nobody's child.
            let mut children = std::collections::HashSet::new();
            for i in 0..m {
                if tree_ids[i] == tree && modes[i] != "LEAF" {
                    children.insert(trues[i]);
                    children.insert(falses[i]);
                }
            }
            let roots: Vec<usize> = (0..m)
                .filter(|&i| tree_ids[i] == tree && !children.contains(&node_ids[i]))
                .collect();
            if roots.len() != 1 {
                return Err(err(&format!("tree {tree} does not have exactly one root")));
            }
            // Breadth-first numbering: every child gets a larger index than its parent.
            let base_idx = parts.nodes.len() / 4;
            let mut order: Vec<usize> = vec![roots[0]];
            let mut index: HashMap<usize, usize> = HashMap::from([(roots[0], 0)]);
            let mut q = 0;
            while q < order.len() {
                let i = order[q];
                q += 1;
                if modes[i] == "LEAF" {
                    continue;
                }
                for c in [trues[i], falses[i]] {
                    let ci = *at
                        .get(&(tree, c))
                        .ok_or_else(|| err(&format!("tree {tree}: missing node {c}")))?;
                    if index.contains_key(&ci) {
                        return Err(err(&format!(
                            "tree {tree}: node {c} is reached twice (cycle or shared node)"
                        )));
                    }
                    index.insert(ci, order.len());
                    order.push(ci);
                }
            }
            parts.roots.push(base_idx as i32);
            for &i in &order {
                let mode = match modes[i].as_str() {
                    "LEAF" => ferrite::classic::NodeMode::Leaf,
                    "BRANCH_LEQ" => ferrite::classic::NodeMode::BranchLeq,
                    "BRANCH_LT" => ferrite::classic::NodeMode::BranchLt,
                    "BRANCH_GTE" => ferrite::classic::NodeMode::BranchGte,
                    "BRANCH_GT" => ferrite::classic::NodeMode::BranchGt,
                    "BRANCH_EQ" => ferrite::classic::NodeMode::BranchEq,
                    "BRANCH_NEQ" => ferrite::classic::NodeMode::BranchNeq,
                    o => return Err(err(&format!("node mode {o} is not supported"))),
                };
                let node = if mode == ferrite::classic::NodeMode::Leaf {
                    let e = entries
                        .get(&(tree, node_ids[i]))
                        .cloned()
                        .unwrap_or_default();
                    let first = parts.ids.len() as u32;
                    for (id, w) in &e {
                        parts.ids.push(*id);
                        parts.ws.push(*w);
                    }
                    ferrite::classic::Node {
                        mode,
                        feature: 0,
                        threshold: 0.0,
                        missing_true: false,
                        a: first,
                        b: e.len() as u32,
                    }
                } else {
                    let fi = feats[i];
                    if fi < 0 || fi as usize >= f {
                        return Err(err(&format!("feature {fi} out of range")));
                    }
                    let child = |c: i64| (base_idx + index[&at[&(tree, c)]]) as u32;
                    ferrite::classic::Node {
                        mode,
                        feature: fi as u32,
                        threshold: values[i],
                        missing_true: missing[i] != 0,
                        a: child(trues[i]),
                        b: child(falses[i]),
                    }
                };
                parts.nodes.extend(node.encode());
            }
        }
        if parts.ids.is_empty() {
            parts.ids.push(0);
            parts.ws.push(0.0);
        }
        let out = self.push(GOp::Tree(Box::new(parts)), vec![t], n_targets);
        let mut outs = vec![None; node.output.len()];
        let idx = if classifier { 1 } else { 0 };
        if idx < outs.len() {
            outs[idx] = Some(Val::Tensor(out));
        }
        Ok(outs)
    }

    /// The lowered model: the graph as IR (graph input, ops) and the PREPROCESS
    /// section (ONNX steps after the optional FEATURES.toml steps).
    fn finish(mut self, opts: &OnnxMlOptions, model: &ModelProto, out_t: usize) -> Result<Lowered> {
        let (cols, in_t) = self
            .graph_in
            .clone()
            .ok_or_else(|| Error::Import("the model does not read its input".into()))?;
        let w = self.pipe.width;
        if cols != (0..w).collect::<Vec<_>>() {
            let idx: Vec<u32> = cols.iter().map(|&c| c as u32).collect();
            self.pipe.steps.push(SStep {
                start: 0,
                len: w as u32,
                op: SOp::Select(idx),
            });
        }
        let onnx_in = self.widths[in_t];
        let raw_onnx = self.in_width;
        let mut steps = Vec::new();
        let mut raw_len = raw_onnx;
        let mut names = String::new();
        if let Some(spec) = &opts.features {
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
        steps.extend(self.pipe.steps.iter().cloned());

        let mut properties = Vec::new();
        if let Some(p) = &model.producer_name {
            properties.push((
                "source_producer".into(),
                format!("{p} {}", model.producer_version.clone().unwrap_or_default()),
            ));
        }
        properties.push(("importer".into(), "onnxml".into()));

        let mut g = Graph::default();
        let mut ids: Vec<Option<TId>> = vec![None; self.widths.len()];
        let x = g.add_tensor("input", &[1, onnx_in], DType::F32);
        g.inputs.push(x);
        ids[in_t] = Some(x);
        for (k, nd) in self.nodes.iter().enumerate() {
            let mut ins: Vec<TId> = nd
                .inputs
                .iter()
                .map(|&t| {
                    ids[t].ok_or_else(|| {
                        Error::Import("internal: tensor used before it is computed".into())
                    })
                })
                .collect::<Result<_>>()?;
            let (tag, op) = match &nd.op {
                GOp::Fc {
                    w,
                    n,
                    k: kk,
                    bias,
                    relu,
                } => {
                    ins.push(g.add_const(&format!("w{k}"), &[*n, *kk], Data::F32(w.clone())));
                    if let Some(bias) = bias {
                        ins.push(g.add_const(&format!("b{k}"), &[*n], Data::F32(bias.clone())));
                    }
                    let act = if *relu {
                        Activation::Relu
                    } else {
                        Activation::None
                    };
                    ("fc", Op::FullyConnected { act, q: None })
                }
                GOp::Linear {
                    w,
                    b: bias,
                    n,
                    k: kk,
                    post,
                } => {
                    ins.push(g.add_const(&format!("w{k}"), &[*n, *kk], Data::F32(w.clone())));
                    ins.push(g.add_const(&format!("b{k}"), &[*n], Data::F32(bias.clone())));
                    ("linear", Op::Linear { post: *post })
                }
                GOp::Tree(p) => {
                    let i32s = |v: &[i32]| Data::I32(v.to_vec());
                    ins.push(g.add_const(
                        &format!("nodes{k}"),
                        &[p.nodes.len() / 4, 4],
                        i32s(&p.nodes),
                    ));
                    ins.push(g.add_const(&format!("roots{k}"), &[p.roots.len()], i32s(&p.roots)));
                    ins.push(g.add_const(&format!("leaf_ids{k}"), &[p.ids.len()], i32s(&p.ids)));
                    ins.push(g.add_const(
                        &format!("leaf_w{k}"),
                        &[p.ws.len()],
                        Data::F32(p.ws.clone()),
                    ));
                    ins.push(g.add_const(
                        &format!("base{k}"),
                        &[p.base.len()],
                        Data::F32(p.base.clone()),
                    ));
                    (
                        "trees",
                        Op::TreeEnsemble {
                            aggregate: p.aggregate,
                            post: p.post,
                        },
                    )
                }
                GOp::Unary(u) => ("unary", Op::Unary { op: *u }),
                GOp::Softmax { log } => ("softmax", Op::Softmax { axis: 1, log: *log }),
                GOp::Normalize(n) => ("normalize", Op::Normalize { norm: *n }),
                GOp::BinConst { op, c } => {
                    ins.push(g.add_const(&format!("c{k}"), &[1, c.len()], Data::F32(c.clone())));
                    (
                        "binary",
                        Op::Binary {
                            op: *op,
                            act: Activation::None,
                            q: None,
                        },
                    )
                }
                GOp::Concat => ("concat", Op::Concat { axis: 1 }),
                GOp::Copy => ("copy", Op::Reshape),
            };
            let y = g.add_node(
                &format!("{tag}{k}"),
                op,
                &ins,
                &[1, self.widths[nd.out]],
                DType::F32,
            );
            // Short tensor names (the node keeps the descriptive one for reports).
            g.tensors[y].name = format!("t{k}");
            ids[nd.out] = Some(y);
        }
        let out =
            ids[out_t].ok_or_else(|| Error::Import("internal: output not computed".into()))?;
        if out == x {
            return Err(Error::Import("the model output is its input".into()));
        }
        g.outputs.push(out);
        let n_steps = steps.len();
        let preprocess = if n_steps > 0 {
            Some(encode_steps(raw_len, &names, &steps)?)
        } else {
            None
        };
        Ok(Lowered {
            graph: g,
            preprocess,
            labels: self.labels.clone(),
            properties,
            raw_len: if n_steps > 0 { raw_len } else { onnx_in },
            out_len: self.widths[out_t],
            steps: n_steps,
        })
    }
}
