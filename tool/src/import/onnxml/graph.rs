//! The graph part of an ONNX-ML model while it is lowered: ops on `[1, n]` tensors
//! ([`GOp`]) that later fusions may still change (a bias or a ReLU folded into the
//! preceding FullyConnected), and their conversion to converter IR ([`to_ir`]).

use crate::error::{Error, Result};
use crate::ir::{Data, Graph, TId};
use ferrite::format::types::{
    Activation, Aggregate, BinaryOp, DType, Norm, Op, PostTransform, UnaryOp,
};

/// A graph op on `[1, n]` tensors.
#[derive(Clone, Debug)]
pub(super) enum GOp {
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

/// A tree ensemble as the flat arrays of the `TreeEnsemble` op.
#[derive(Clone, Debug)]
pub(super) struct TreeParts {
    /// Nodes, four i32 words each ([`ferrite::classic::Node::encode`]).
    pub nodes: Vec<i32>,
    /// First node of each tree.
    pub roots: Vec<i32>,
    /// Leaf entries: target index and weight.
    pub ids: Vec<i32>,
    pub ws: Vec<f32>,
    pub base: Vec<f32>,
    pub aggregate: Aggregate,
    pub post: PostTransform,
}

/// One graph op and its operands.
#[derive(Clone, Debug)]
pub(super) struct GNode {
    pub op: GOp,
    /// Lowering tensors read (indices into the widths list).
    pub inputs: Vec<usize>,
    pub out: usize,
}

/// The ONNX names of the lowered model's interface: the graph input, the float output,
/// and a label output computed as the ArgMax of the float output (when the class
/// labels are 0..n-1).
pub(super) struct Names {
    pub input: String,
    pub output: String,
    pub label: Option<String>,
}

/// The IR of the lowered ops: graph input `in_t` (the preprocessing output), the ops
/// in order, graph output `out_t` (and its ArgMax when `names.label` is set); `widths`
/// gives every lowering tensor's width.
pub(super) fn to_ir(
    nodes: &[GNode],
    widths: &[usize],
    in_t: usize,
    out_t: usize,
    names: &Names,
) -> Result<Graph> {
    let onnx_in = widths[in_t];
    let mut g = Graph::default();
    let mut ids: Vec<Option<TId>> = vec![None; widths.len()];
    let x = g.add_tensor(&names.input, &[1, onnx_in], DType::F32);
    g.inputs.push(x);
    ids[in_t] = Some(x);
    for (k, nd) in nodes.iter().enumerate() {
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
            &[1, widths[nd.out]],
            DType::F32,
        );
        // Short tensor names (the node keeps the descriptive one for reports).
        g.tensors[y].name = format!("t{k}");
        ids[nd.out] = Some(y);
    }
    let out = ids[out_t].ok_or_else(|| Error::Import("internal: output not computed".into()))?;
    if out == x {
        return Err(Error::Import("the model output is its input".into()));
    }
    g.tensors[out].name = names.output.clone();
    g.outputs.push(out);
    if let Some(label) = &names.label {
        let y = g.add_node(
            "label",
            Op::ArgMax {
                axis: 1,
                keepdims: false,
                select_last: false,
            },
            &[out],
            &[1],
            DType::I64,
        );
        g.tensors[y].name = label.clone();
        g.outputs.push(y);
    }
    Ok(g)
}
