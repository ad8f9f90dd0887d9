//! ONNX `Scan` (opset 9 and later) is unrolled at conversion, before tract sees the
//! graph: the body is copied once per iteration, so the converted model computes
//! exactly the operations the loop would, in the same order.
//!
//! For iteration `t` of `T` (the length of the scan inputs along their scan axes, from
//! tract's shape analysis of the whole model): each scan input gives its slice `t` (or
//! `T - 1 - t` for a reverse direction) with a `Gather` of a constant index, which
//! drops the scan axis as the body expects; the body's nodes follow (an `Identity`
//! only renames), their tensors renamed `<scan>/<t>/<name>`, the state inputs read the previous iteration's state
//! outputs (the `Scan` node's initial states at `t = 0`); names the body takes from the
//! enclosing graph stay as they are. The last iteration writes the final states under
//! the `Scan` node's state output names (through an `Identity` when a state output is
//! not computed by a body node); each scan output is the body's per-iteration values,
//! `Unsqueeze`d at the output's scan axis and `Concat`enated along it (last iteration
//! first for a reverse direction).
//!
//! | ONNX | accepted |
//! |---|---|
//! | opset | 9 and later (opset 8's batch axis and `sequence_lens` are refused) |
//! | `scan_input_axes`, `scan_output_axes` | any (negative counts from the end) |
//! | `scan_input_directions`, `scan_output_directions` | 0 and 1 |
//! | body | any nodes except ones with graphs of their own (nested control flow) |
//! | length | known at conversion (fixed input shapes), at least 1, at most 100,000 nodes unrolled |

use super::proto::{i64_tensor, int_attr, node, node_name};
use super::recurrent::fact_shape;
use super::tract::load_inference_proto;
use crate::error::{Error, Result};
use std::collections::HashMap;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto};
use tract_onnx::prelude::InferenceModelExt;

/// The most nodes one Scan may unroll to (iterations × (body nodes + scan inputs and
/// outputs)): a longer loop is refused rather than built.
const MAX_UNROLLED: usize = 100_000;

/// The default domain's opset of `model` (1 if none is declared).
fn opset(model: &ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version)
}

fn unsupported(n: &NodeProto, why: &str) -> Error {
    Error::Unsupported {
        ops: vec![(format!("Scan ({why})"), node_name(n))],
    }
}

/// An attribute's integers, `default` for each of `n` when absent.
fn ints(n: &NodeProto, name: &str, len: usize, default: i64) -> Result<Vec<i64>> {
    match n.attribute.iter().find(|a| a.name == name) {
        None => Ok(vec![default; len]),
        Some(a) if a.ints.len() == len => Ok(a.ints.clone()),
        Some(_) => Err(unsupported(n, &format!("{name} has the wrong length"))),
    }
}

/// Replaces every default-domain `Scan` node of `model`'s main graph by its unrolled
/// body (see the module doc); `input_shapes` as for the import. Returns whether
/// anything changed.
pub fn unroll(model: &mut ModelProto, input_shapes: &[(String, Vec<usize>)]) -> Result<bool> {
    let is_scan = |n: &NodeProto| n.domain.is_empty() && n.op_type == "Scan";
    let Some(graph) = model.graph.as_ref() else {
        return Ok(false);
    };
    if !graph.node.iter().any(is_scan) {
        return Ok(false);
    }
    let version = opset(model);
    if version < 9 {
        let n = graph
            .node
            .iter()
            .find(|n| is_scan(n))
            .expect("checked above");
        return Err(unsupported(n, "opset 8: batch axis"));
    }
    // Names for unnamed Scan nodes, so that tract's analysis can be found by name.
    let graph = model.graph.as_mut().expect("checked above");
    let names: std::collections::HashSet<String> =
        graph.node.iter().map(|n| n.name.clone()).collect();
    for (k, n) in graph.node.iter_mut().enumerate() {
        if is_scan(n) && n.name.is_empty() {
            n.name = (k..)
                .map(|i| format!("Scan__{i}"))
                .find(|s| !names.contains(s))
                .expect("unbounded");
        }
    }
    let mut inference = load_inference_proto(model, input_shapes)?;
    // Errors of other nodes show up (better worded) in the import of the unrolled model.
    // A panic of the analysis is an error all the same.
    let _ = super::tract::no_panic(|| Ok(inference.analyse(false)))?;
    let graph = model.graph.as_mut().expect("checked above");
    let mut nodes = Vec::with_capacity(graph.node.len());
    for n in std::mem::take(&mut graph.node) {
        if !is_scan(&n) {
            nodes.push(n);
            continue;
        }
        // The shapes of the operands, from tract's analysis.
        let name = n.name.clone();
        let tract_node = inference
            .node_by_name(&name)
            .map_err(|e| Error::Import(format!("Scan \"{name}\": {e}")))?;
        let shapes = tract_node
            .inputs
            .iter()
            .map(|&o| fact_shape(&inference, o))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| unsupported(&n, "the length of the scan is not known"))?;
        let unrolled = unroll_one(&n, &name, &shapes, version, &mut graph.initializer)?;
        nodes.extend(unrolled);
    }
    graph.node = nodes;
    Ok(true)
}

/// The nodes that replace Scan node `n` (named `name`), whose inputs have `shapes`.
fn unroll_one(
    n: &NodeProto,
    name: &str,
    shapes: &[Vec<usize>],
    version: i64,
    initializers: &mut Vec<tract_onnx::pb::TensorProto>,
) -> Result<Vec<NodeProto>> {
    let body: &GraphProto = n
        .attribute
        .iter()
        .find(|a| a.name == "body")
        .and_then(|a| a.g.as_ref())
        .ok_or_else(|| unsupported(n, "no body"))?;
    if body.node.iter().any(|b| {
        b.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
    }) {
        return Err(unsupported(n, "nested graphs in the body"));
    }
    let n_scan_in = n
        .attribute
        .iter()
        .find(|a| a.name == "num_scan_inputs")
        .map(|a| a.i as usize)
        .ok_or_else(|| unsupported(n, "no num_scan_inputs"))?;
    let n_in = n.input.len();
    let n_state = n_in
        .checked_sub(n_scan_in)
        .filter(|_| body.input.len() == n_in && body.output.len() >= n_in - n_scan_in)
        .ok_or_else(|| unsupported(n, "inputs do not match the body"))?;
    let n_scan_out = body.output.len() - n_state;
    let in_axes = ints(n, "scan_input_axes", n_scan_in, 0)?;
    let in_dirs = ints(n, "scan_input_directions", n_scan_in, 0)?;
    let out_axes = ints(n, "scan_output_axes", n_scan_out, 0)?;
    let out_dirs = ints(n, "scan_output_directions", n_scan_out, 0)?;
    // Scan input j's axis, counted from the front.
    let axis = |j: usize| -> Result<usize> {
        let rank = shapes[n_state + j].len() as i64;
        let a = in_axes[j];
        let a = if a < 0 { a + rank } else { a };
        (0..rank)
            .contains(&a)
            .then_some(a as usize)
            .ok_or_else(|| unsupported(n, &format!("scan_input_axes {}", in_axes[j])))
    };
    let mut steps = None;
    for j in 0..n_scan_in {
        let len = shapes[n_state + j][axis(j)?];
        if steps.is_some_and(|s| s != len) {
            return Err(unsupported(n, "scan inputs of different lengths"));
        }
        steps = Some(len);
    }
    let steps = steps
        .filter(|&s| s > 0)
        .ok_or_else(|| unsupported(n, "no iterations"))?;
    let copies = steps.saturating_mul(body.node.len() + n_scan_in + n_scan_out);
    if copies > MAX_UNROLLED {
        return Err(unsupported(
            n,
            &format!("{steps} iterations unroll to {copies} nodes, more than {MAX_UNROLLED}"),
        ));
    }
    if in_dirs.iter().chain(&out_dirs).any(|&d| d != 0 && d != 1) {
        return Err(unsupported(n, "direction not 0 or 1"));
    }
    // Body-local names: the body's inputs, initializers and node outputs.
    let local: std::collections::HashSet<&str> = body
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(body.initializer.iter().map(|t| t.name.as_str()))
        .chain(
            body.node
                .iter()
                .flat_map(|b| b.output.iter().map(String::as_str)),
        )
        .collect();
    for t in &body.initializer {
        let mut t = t.clone();
        t.name = format!("{name}/{}", t.name);
        initializers.push(t);
    }
    let mut out = Vec::new();
    let mut state: Vec<String> = n.input[..n_state].to_vec();
    let mut scanned: Vec<Vec<String>> = vec![Vec::new(); n_scan_out];
    for t in 0..steps {
        let prefix = format!("{name}/{t}");
        let mut map: HashMap<&str, String> = HashMap::new();
        for (k, v) in body.input.iter().enumerate() {
            let value = if k < n_state {
                state[k].clone()
            } else {
                let j = k - n_state;
                let at = if in_dirs[j] == 1 { steps - 1 - t } else { t };
                let index = format!("{prefix}/index{j}");
                let slice = format!("{prefix}/{}", v.name);
                initializers.push(i64_tensor(&index, &[], &[at as i64]));
                let gather = int_attr("axis", axis(j)? as i64);
                out.push(node(
                    "Gather",
                    &slice,
                    &[&n.input[k], &index],
                    &[&slice],
                    vec![gather],
                ));
                slice
            };
            map.insert(v.name.as_str(), value);
        }
        if t + 1 == steps {
            // The last iteration's body nodes write the final states under the Scan
            // node's output names (through an Identity, tract would label the graph
            // output with the body's name).
            for (k, v) in body.output[..n_state].iter().enumerate() {
                let o = v.name.as_str();
                let produced = body.node.iter().any(|b| b.output.iter().any(|x| x == o));
                if let Some(y) = n.output.get(k).filter(|y| !y.is_empty()) {
                    if produced && !map.contains_key(o) {
                        map.insert(o, y.clone());
                    }
                }
            }
        }
        let rename = |map: &HashMap<&str, String>, s: &str| -> String {
            match map.get(s) {
                Some(v) => v.clone(),
                None if s.is_empty() => String::new(),
                None if body.initializer.iter().any(|i| i.name == s) => format!("{name}/{s}"),
                None if local.contains(s) => format!("{prefix}/{s}"),
                None => s.to_string(),
            }
        };
        for b in &body.node {
            // An Identity only renames (tract would label the output with its name).
            if b.op_type == "Identity" && b.domain.is_empty() && b.input.len() == 1 {
                if let Some(o) = b.output.first() {
                    let v = rename(&map, &b.input[0]);
                    map.insert(o.as_str(), v);
                    continue;
                }
            }
            let mut b = b.clone();
            b.input = b.input.iter().map(|s| rename(&map, s)).collect();
            b.output = b.output.iter().map(|s| rename(&map, s)).collect();
            b.name = format!("{prefix}/{}", node_name(&b));
            out.push(b);
        }
        let outs: Vec<String> = body.output.iter().map(|v| rename(&map, &v.name)).collect();
        state = outs[..n_state].to_vec();
        for (j, o) in outs[n_state..].iter().enumerate() {
            scanned[j].push(o.clone());
        }
    }
    for (k, s) in state.iter().enumerate() {
        if let Some(y) = n.output.get(k).filter(|y| !y.is_empty() && *y != s) {
            out.push(node("Identity", &format!("{name}/{y}"), &[s], &[y], vec![]));
        }
    }
    for (j, mut values) in scanned.into_iter().enumerate() {
        let Some(y) = n.output.get(n_state + j).filter(|y| !y.is_empty()) else {
            continue;
        };
        if out_dirs[j] == 1 {
            values.reverse();
        }
        // The output's rank is the body output's plus one; a negative axis counts
        // from its end.
        let rank = body.output[n_state + j]
            .r#type
            .as_ref()
            .and_then(|t| match &t.value {
                Some(tract_onnx::pb::type_proto::Value::TensorType(tt)) => {
                    tt.shape.as_ref().map(|s| s.dim.len() as i64 + 1)
                }
                _ => None,
            });
        let a = match (out_axes[j], rank) {
            (a, _) if a >= 0 => a,
            (a, Some(r)) if a + r >= 0 => a + r,
            _ => return Err(unsupported(n, "scan_output_axes")),
        };
        let mut parts = Vec::new();
        for (t, v) in values.iter().enumerate() {
            let u = format!("{name}/{y}/{t}");
            let (ins, attrs) = if version >= 13 {
                let axes = format!("{u}/axes");
                initializers.push(i64_tensor(&axes, &[1], &[a]));
                (vec![v.clone(), axes], vec![])
            } else {
                (vec![v.clone()], vec![ints_attr("axes", &[a])])
            };
            let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
            out.push(node("Unsqueeze", &u, &ins, &[&u], attrs));
            parts.push(u);
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        out.push(node(
            "Concat",
            &format!("{name}/{y}"),
            &parts,
            &[y],
            vec![int_attr("axis", a)],
        ));
    }
    Ok(out)
}

/// An integer-list attribute.
fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: AttributeType::Ints as i32,
        ..Default::default()
    }
}
