//! ONNX LSTM, GRU and RNN nodes become [`Op::Recurrent`] (tract would expand them into
//! `Scan` / `GruSeq` loops that ferrite does not run).
//!
//! The graph is cut at each recurrent node before tract sees it ([`prepare`]): the node
//! is removed, its outputs (`Y`, `Y_h`, `Y_c`) become graph inputs of the shapes tract's
//! analysis of the whole model gives them, and its activation operands (`X`,
//! `initial_h`, `initial_c`) become graph outputs. tract then imports everything else as
//! usual: the zero initial state torch builds at run time (`Shape → Gather → Unsqueeze
//! → Concat → Expand` on the input) folds to a constant, the layers' `Squeeze` /
//! `Transpose` / `Reshape` / `Slice` / `Concat` glue and the head lower to ferrite ops.
//! [`apply`] then splices a `Recurrent` op per node back in (its weights from the ONNX
//! initializers or `Constant` nodes), reads `Y` / `Y_h` / `Y_c` out of its packed output
//! with `Slice` (+ `Reshape`), drops the cut's inputs and outputs and puts the ops back
//! in dependency order.
//!
//! | ONNX | accepted |
//! |---|---|
//! | `direction` | forward, reverse, bidirectional |
//! | `activations` (+ `activation_alpha` / `_beta`, consumed in order by the functions that take one) | Sigmoid, Tanh, Relu, LeakyRelu, HardSigmoid, Elu, Softplus |
//! | `clip` | any positive value |
//! | GRU `linear_before_reset` | 0 and 1 |
//! | LSTM `input_forget` | 0 only |
//! | `layout` | 0 and 1 (batch-major: transposes around the op) |
//! | `sequence_lens` | absent only (every sequence has the full length) |
//! | `B`, `initial_h`, `initial_c`, `P` | optional (zeros) |
//! | `W`, `R`, `B`, `P` | constants, or tensors computed at run time (graph inputs; format 1.4) |

use super::proto::{attr, attr_f, attr_floats, attr_i, attr_s, attr_strings, node_name};
use super::proto::{data_type::FLOAT, values_f64};
use super::tract::load_inference_proto;
use crate::error::{Error, Result};
use crate::ir::{Data, Graph, TId};
use ferrite::format::types::{Cell, Direction, Op, UnaryOp};
use ferrite::DType;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{self, ModelProto, NodeProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_hir::infer::Factoid;

/// One recurrent node cut out of the graph.
#[derive(Clone, Debug)]
pub struct Cut {
    name: String,
    op: Op,
    /// The `Recurrent` op's operands in its order: `X`, `W`, `R`, `B`, `initial_h`,
    /// (LSTM) `initial_c` and optionally `P`; each a constant or a tensor of the graph.
    ins: Vec<Source>,
    /// Names of the outputs `Y`, `Y_h`, `Y_c` ("" when absent or unused).
    outputs: [String; 3],
    /// `[S, D, B, H]`.
    dims: [usize; 4],
    /// ONNX `layout = 1`: `X`, `initial_h` / `initial_c` and the outputs are
    /// batch-major (`[B, S, ..]`, `[B, D, H]`); transposes around the op convert.
    batch_major: bool,
    /// Where the cut's tensor operands (`ins`) are in the rewritten graph's outputs,
    /// or (for an operand that is a graph input, which tract would not also take as
    /// an output) its inputs.
    out_at: Vec<Option<Operand>>,
    /// Where the cut's outputs are in the rewritten graph's inputs.
    in_at: [Option<usize>; 3],
}

/// Where a `Recurrent` operand comes from.
#[derive(Clone, Debug)]
enum Source {
    /// An ONNX constant (or zeros for an absent `B` / initial state): shape, values.
    Const(Vec<usize>, Vec<f32>),
    /// A tensor computed by the graph (a graph input included): name and ONNX shape.
    Tensor(String, Vec<usize>),
}

/// Where a cut node's operand is found after the import.
#[derive(Clone, Copy, Debug)]
enum Operand {
    Output(usize),
    Input(usize),
}

/// The model's recurrent nodes, cut out of `model` (unchanged when there are none).
#[derive(Debug)]
pub struct Cuts {
    cuts: Vec<Cut>,
    /// Inputs and outputs of the graph before the cuts were added.
    real_inputs: usize,
    real_outputs: usize,
}

const RECURRENT: [&str; 3] = ["LSTM", "GRU", "RNN"];

/// An activation by its ONNX name, taking its parameters from `alpha` / `beta`.
fn activation(
    name: &str,
    alpha: &mut impl Iterator<Item = f32>,
    beta: &mut impl Iterator<Item = f32>,
) -> Option<UnaryOp> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sigmoid" => UnaryOp::Sigmoid,
        "tanh" => UnaryOp::Tanh,
        "relu" => UnaryOp::Relu,
        "leakyrelu" => UnaryOp::LeakyRelu {
            alpha: alpha.next().unwrap_or(0.01),
        },
        "hardsigmoid" => UnaryOp::HardSigmoid {
            alpha: alpha.next().unwrap_or(0.2),
            beta: beta.next().unwrap_or(0.5),
        },
        "elu" => UnaryOp::Elu {
            alpha: alpha.next().unwrap_or(1.0),
        },
        "softplus" => UnaryOp::Softplus,
        _ => return None,
    })
}

/// The `Op::Recurrent` of node `n`, or the reason ferrite cannot run it.
fn recurrent_op(n: &NodeProto) -> std::result::Result<Op, String> {
    let cell = match n.op_type.as_str() {
        "LSTM" => Cell::Lstm,
        "GRU" => Cell::Gru {
            linear_before_reset: attr_i(n, "linear_before_reset").unwrap_or(0) != 0,
        },
        _ => Cell::Rnn,
    };
    let direction = match attr_s(n, "direction").as_deref() {
        None | Some("forward") => Direction::Forward,
        Some("reverse") => Direction::Reverse,
        Some("bidirectional") => Direction::Bidirectional,
        Some(other) => return Err(format!("direction \"{other}\"")),
    };
    if attr_i(n, "layout").unwrap_or(0) > 1 {
        return Err("layout > 1".into());
    }
    if attr_i(n, "input_forget").unwrap_or(0) != 0 {
        return Err("input_forget 1".into());
    }
    if n.input.get(4).is_some_and(|s| !s.is_empty()) {
        return Err("sequence_lens".into());
    }
    let names = attr_strings(n, "activations");
    let per_dir = cell.activations();
    let acts: Vec<UnaryOp> = if names.is_empty() {
        (0..direction.count())
            .flat_map(|_| cell.default_activations().iter().copied())
            .collect()
    } else {
        if names.len() != per_dir * direction.count() {
            return Err(format!("{} activations", names.len()));
        }
        let (mut alpha, mut beta) = (
            attr_floats(n, "activation_alpha").into_iter(),
            attr_floats(n, "activation_beta").into_iter(),
        );
        names
            .iter()
            .map(|a| activation(a, &mut alpha, &mut beta).ok_or(format!("activation {a}")))
            .collect::<std::result::Result<_, _>>()?
    };
    let clip = match attr(n, "clip") {
        None => None,
        Some(_) => {
            let c = attr_f(n, "clip").unwrap_or(0.0);
            if c.is_nan() || c <= 0.0 {
                return Err(format!("clip {c}"));
            }
            Some(c)
        }
    };
    Ok(Op::Recurrent {
        cell,
        direction,
        acts: acts.as_slice().try_into().map_err(|_| "activations")?,
        clip,
    })
}

/// A float value info of `shape`.
fn value_info(name: &str, shape: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = shape
        .iter()
        .map(|&d| Dimension {
            value: Some(Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The concrete shape of an outlet after tract's analysis.
pub(super) fn fact_shape(m: &InferenceModel, o: OutletId) -> Option<Vec<usize>> {
    let f = m.outlet_fact(o).ok()?;
    f.shape
        .concretize()?
        .iter()
        .map(|d| d.to_usize().ok())
        .collect()
}

/// Whether `model` has an LSTM, GRU or RNN node of the default domain.
pub fn present(model: &ModelProto) -> bool {
    model.graph.as_ref().is_some_and(|g| {
        g.node
            .iter()
            .any(|n| n.domain.is_empty() && RECURRENT.contains(&n.op_type.as_str()))
    })
}

/// Cuts every LSTM / GRU / RNN node out of `model` (see the module doc); `input_shapes`
/// as for the import. A node ferrite cannot run is an [`Error::Unsupported`] that
/// names the attribute.
pub fn prepare(model: &mut ModelProto, input_shapes: &[(String, Vec<usize>)]) -> Result<Cuts> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(Cuts {
            cuts: Vec::new(),
            real_inputs: 0,
            real_outputs: 0,
        });
    };
    let (real_inputs, real_outputs) = (graph.input.len(), graph.output.len());
    let none = |real_inputs, real_outputs| Cuts {
        cuts: Vec::new(),
        real_inputs,
        real_outputs,
    };
    if !present(model) {
        return Ok(none(real_inputs, real_outputs));
    }
    let graph = model.graph.as_mut().expect("checked above");
    // Unique node names, so that tract's nodes can be found by name.
    let mut seen = HashSet::new();
    for (k, n) in graph.node.iter_mut().enumerate() {
        if n.name.is_empty() || !seen.insert(n.name.clone()) {
            n.name = format!("{}__{k}", node_name(n));
            seen.insert(n.name.clone());
        }
    }
    let mut unsupported = Vec::new();
    let mut ops = Vec::new();
    for n in &graph.node {
        if n.domain.is_empty() && RECURRENT.contains(&n.op_type.as_str()) {
            match recurrent_op(n) {
                Ok(op) => ops.push((n.clone(), op)),
                Err(why) => unsupported.push((format!("{} ({why})", n.op_type), n.name.clone())),
            }
        }
    }
    if !unsupported.is_empty() {
        return Err(Error::Unsupported { ops: unsupported });
    }
    // The shapes of the recurrent nodes' operands and outputs, from tract's analysis of
    // the uncut model.
    let mut inference = load_inference_proto(model, input_shapes)?;
    // Errors of other nodes show up (better worded) in the import of the cut model.
    // A panic of the analysis is an error all the same.
    let _ = super::tract::no_panic(|| Ok(inference.analyse(false)))?;
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| Error::Import("no graph".into()))?;
    let consts = constants(graph);
    let used: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .chain(graph.output.iter().map(|o| o.name.as_str()))
        .collect();
    let mut cuts = Vec::new();
    for (n, op) in ops {
        let node = inference
            .node_by_name(&n.name)
            .map_err(|e| Error::Import(format!("{}: {e}", n.name)))?;
        let shape_of = |o: OutletId| {
            fact_shape(&inference, o).ok_or_else(|| {
                Error::Import(format!(
                    "the shape of the operands of {} \"{}\" is not known",
                    n.op_type, n.name
                ))
            })
        };
        let optional = |k: usize| n.input.get(k).filter(|s| !s.is_empty());
        // Operand `k` of the ONNX node: its constant value, else the tensor.
        let source = |k: usize| -> Result<Option<Source>> {
            let Some(name) = optional(k) else {
                return Ok(None);
            };
            Ok(Some(match consts.get(name) {
                Some((shape, v)) => Source::Const(shape.clone(), v.clone()),
                // tract's node lists the non-empty inputs only.
                None => {
                    let at = n.input[..k].iter().filter(|s| !s.is_empty()).count();
                    let o = *node.inputs.get(at).ok_or_else(|| {
                        Error::Import(format!("{} \"{}\": inputs", n.op_type, n.name))
                    })?;
                    Source::Tensor(name.clone(), shape_of(o)?)
                }
            }))
        };
        let shape = |src: &Source| match src {
            Source::Const(s, _) | Source::Tensor(_, s) => s.clone(),
        };
        let missing =
            |what: &str| Error::Import(format!("{} \"{}\" has no input {what}", n.op_type, n.name));
        let x = source(0)?.ok_or_else(|| missing("X"))?;
        let w = source(1)?.ok_or_else(|| missing("W"))?;
        let r = source(2)?.ok_or_else(|| missing("R"))?;
        let Op::Recurrent {
            cell, direction, ..
        } = op
        else {
            unreachable!("recurrent_op returns Recurrent")
        };
        let d = direction.count();
        let (xs, rs) = (shape(&x), shape(&r));
        if xs.len() != 3 || shape(&w).len() != 3 || rs.len() != 3 {
            return Err(Error::Import(format!(
                "{} \"{}\": ranks",
                n.op_type, n.name
            )));
        }
        let batch_major = attr_i(&n, "layout").unwrap_or(0) == 1;
        let (s, b) = if batch_major {
            (xs[1], xs[0])
        } else {
            (xs[0], xs[1])
        };
        let (h, g) = (rs[2], cell.gates());
        let zeros = |shape: Vec<usize>| {
            let len = shape.iter().product();
            Source::Const(shape, vec![0.0; len])
        };
        let state = if batch_major {
            vec![b, d, h]
        } else {
            vec![d, b, h]
        };
        let mut ins = vec![x, w, r];
        ins.push(source(3)?.unwrap_or_else(|| zeros(vec![d, 2 * g * h])));
        ins.push(source(5)?.unwrap_or_else(|| zeros(state.clone())));
        if cell == Cell::Lstm {
            ins.push(source(6)?.unwrap_or_else(|| zeros(state.clone())));
            ins.extend(source(7)?);
        }
        let output = |k: usize| {
            n.output
                .get(k)
                .filter(|o| !o.is_empty() && used.contains(o.as_str()))
                .cloned()
                .unwrap_or_default()
        };
        cuts.push(Cut {
            name: n.name.clone(),
            op,
            out_at: vec![None; ins.len()],
            ins,
            outputs: [output(0), output(1), output(2)],
            dims: [s, d, b, h],
            batch_major,
            in_at: [None; 3],
        });
    }
    // Cut: the nodes go, their operands become outputs and their outputs inputs.
    graph
        .node
        .retain(|n| !cuts.iter().any(|c| c.name == n.name));
    for c in &mut cuts {
        let [s, d, b, h] = c.dims;
        for (k, src) in c.ins.iter().enumerate() {
            let Source::Tensor(o, shape) = src else {
                continue;
            };
            let input = graph.input.iter().position(|v| v.name == *o);
            let output = graph.output.iter().position(|v| v.name == *o);
            c.out_at[k] = Some(match (input, output) {
                (Some(i), _) => Operand::Input(i),
                (None, Some(i)) => Operand::Output(i),
                (None, None) => {
                    graph.output.push(value_info(o, shape));
                    Operand::Output(graph.output.len() - 1)
                }
            });
        }
        for k in 0..3 {
            let y = &c.outputs[k];
            if !y.is_empty() {
                let shape = match (k, c.batch_major) {
                    (0, false) => vec![s, d, b, h],
                    (0, true) => vec![b, s, d, h],
                    (_, false) => vec![d, b, h],
                    (_, true) => vec![b, d, h],
                };
                // The new input feeds `y` through an Identity (tract removes it): `y`
                // may be a graph output, which tract would not also take as an input.
                let cut = format!("{y}/ferrite_cut");
                graph.input.push(value_info(&cut, &shape));
                graph.node.push(super::proto::node(
                    "Identity",
                    &format!("{cut}/identity"),
                    &[&cut],
                    &[y],
                    vec![],
                ));
                c.in_at[k] = Some(graph.input.len() - 1);
            }
        }
    }
    Ok(Cuts {
        cuts,
        real_inputs,
        real_outputs,
    })
}

/// The float constants of `graph`: initializers and `Constant` nodes' values.
fn constants(graph: &pb::GraphProto) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let mut m = HashMap::new();
    let mut add = |t: &pb::TensorProto, name: &str| {
        if let Some(v) = values_f64(t) {
            let dims = t.dims.iter().map(|&d| d.max(0) as usize).collect();
            m.insert(
                name.to_string(),
                (dims, v.iter().map(|&x| x as f32).collect()),
            );
        }
    };
    for t in &graph.initializer {
        add(t, &t.name);
    }
    for n in &graph.node {
        if n.op_type == "Constant" {
            if let (Some(t), Some(o)) = (
                attr(n, "value").and_then(|a| a.t.as_ref()),
                n.output.first(),
            ) {
                add(t, o);
            }
        }
    }
    m
}

/// Splices the cut nodes back into `g` as `Recurrent` ops (see the module doc).
pub fn apply(g: &mut Graph, cuts: &Cuts) -> Result<()> {
    if cuts.cuts.is_empty() {
        return Ok(());
    }
    let (fake_in, fake_out) = (g.inputs.clone(), g.outputs.clone());
    let operand = |o: &Operand| match *o {
        Operand::Output(i) => fake_out[i],
        Operand::Input(i) => fake_in[i],
    };
    for c in &cuts.cuts {
        let [s, d, b, h] = c.dims;
        let Op::Recurrent { cell, .. } = c.op else {
            continue;
        };
        let transpose = |g: &mut Graph, name: &str, t: TId, perm: &[u8], shape: &[usize]| {
            let perm = heapless::Vec::from_slice(perm).map_err(|_| Error::Other("rank".into()))?;
            Ok::<_, Error>(g.add_node(name, Op::Transpose { perm }, &[t], shape, DType::F32))
        };
        let mut ins: Vec<TId> = Vec::new();
        for (k, (src, at)) in c.ins.iter().zip(&c.out_at).enumerate() {
            let t = match (src, at) {
                (Source::Const(shape, v), _) => {
                    g.add_const(&format!("{}/in{k}", c.name), shape, Data::F32(v.clone()))
                }
                (Source::Tensor(..), Some(o)) => operand(o),
                (Source::Tensor(name, _), None) => {
                    return Err(Error::Import(format!("\"{}\": \"{name}\" lost", c.name)))
                }
            };
            // Batch-major X `[B, S, I]` and states `[B, D, H]` swap their first axes.
            let swap = c.batch_major && (k == 0 || k == 4 || k == 5);
            ins.push(if swap {
                let sh = &g.tensors[t].shape;
                let shape = [sh[1], sh[0], sh[2]];
                transpose(g, &format!("{}/in{k}/t", c.name), t, &[1, 0, 2], &shape)?
            } else {
                t
            });
        }
        let packed = g.add_node(
            &c.name,
            c.op.clone(),
            &ins,
            &[s + cell.state_rows(), d, b, h],
            DType::F32,
        );
        for (k, at) in c.in_at.iter().enumerate() {
            let Some(i) = at else { continue };
            let (start, rows) = if k == 0 { (0, s) } else { (s + k - 1, 1) };
            let steps =
                heapless::Vec::from_slice(&[1; 4]).map_err(|_| Error::Other("rank".into()))?;
            let starts = heapless::Vec::from_slice(&[start as i32, 0, 0, 0])
                .map_err(|_| Error::Other("rank".into()))?;
            let name = c.outputs[k].clone();
            let mut t = g.add_node(
                &name,
                Op::Slice { starts, steps },
                &[packed],
                &[rows, d, b, h],
                DType::F32,
            );
            t = match (k, c.batch_major) {
                (0, false) => t,
                (0, true) => transpose(g, &name, t, &[2, 0, 1, 3], &[b, s, d, h])?,
                (_, false) => g.add_node(&name, Op::Reshape, &[t], &[d, b, h], DType::F32),
                (_, true) => transpose(g, &name, t, &[0, 2, 1, 3], &[1, b, d, h])
                    .map(|t| g.add_node(&name, Op::Reshape, &[t], &[b, d, h], DType::F32))?,
            };
            g.replace_uses(fake_in[*i], t);
        }
    }
    g.inputs.truncate(cuts.real_inputs);
    g.outputs.truncate(cuts.real_outputs);
    topological_order(g)?;
    g.optimize();
    Ok(())
}

/// Reorders `g.nodes` so that every node comes after the producers of its inputs
/// (stable: a node moves only as far as needed).
fn topological_order(g: &mut Graph) -> Result<()> {
    let mut ready: HashSet<TId> = g.inputs.iter().copied().collect();
    ready.extend((0..g.tensors.len()).filter(|&t| g.is_const(t)));
    let mut rest = std::mem::take(&mut g.nodes);
    while !rest.is_empty() {
        let Some(i) = rest
            .iter()
            .position(|n| n.inputs.iter().all(|t| ready.contains(t)))
        else {
            return Err(Error::Import(
                "the recurrent nodes' operands form a cycle".into(),
            ));
        };
        let n = rest.remove(i);
        ready.insert(n.output);
        g.nodes.push(n);
    }
    Ok(())
}
