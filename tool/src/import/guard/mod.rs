//! Checks of an ONNX graph before tract reads it, for the inputs on which tract-onnx 0.23
//! panics instead of returning an error (each found by the `onnx_import` fuzz target,
//! `fuzz/README.md`). Every failure is an [`Error::Import`] naming the node. What gets
//! past these checks and still panics in tract is caught around tract's calls
//! (`super::tract::no_panic`).
//!
//! The ranks of the graph's values are followed from what the file states (graph input
//! shapes or `--input-shape`, initializers, `Constant` nodes, `value_info`, which tract
//! reads as facts too) through the ops whose output ranks follow from their input ranks,
//! attributes and constant inputs (every output of the multi-output ones; see
//! [`rank::output_rank`]); a value of any other op has an unknown rank and is not
//! checked. Constant integer values are followed through Identity and Cast
//! ([`consts`]). Against the known ranks (a value whose `value_info` rank differs from
//! the one its producer gives is checked against both: tract may apply either first):
//! - the axes of Unsqueeze, Squeeze and the Reduce ops (attribute or constant input,
//!   as the opset says) and the `axis` of the ops in [`AXIS_OPS`] lie in range, with no
//!   axis repeated (tract inserts or removes them unchecked, or unwraps the error). An
//!   axes input of integers of any width is read as tract casts it to i64; a constant
//!   axes input of another data type (FLOAT, DOUBLE, STRING, BOOL …) is refused: ONNX
//!   requires int64 axes, and tract's cast of such values (saturating floats, parsed
//!   strings) would have to be reproduced to check them;
//! - Conv and the pools: `kernel_shape`, `strides`, `dilations` have one value per
//!   spatial axis and `pads` two (tract indexes them by axis), kernel, stride and
//!   dilation are at least 1 and pads not negative;
//! - the dims of an initializer or a `Constant` are not negative, and the product of
//!   the dims of those and of a graph input fits in 64 bits (a negative dim of a graph
//!   input is unknown, as for tract).

mod consts;
mod facts;
mod rank;
#[cfg(test)]
mod tests;

use super::proto::{attr, attr_i, attr_ints, node_name};
use crate::error::{Error, Result};
use facts::Facts;
use rank::{axes, is_reduce, output_rank, Axes, WINDOWED};
use std::collections::{HashMap, VecDeque};
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, ValueInfoProto};

/// Ops with an `axis` attribute that must name an axis of their first input.
const AXIS_OPS: [&str; 9] = [
    "Softmax",
    "LogSoftmax",
    "Hardmax",
    "ArgMax",
    "ArgMin",
    "Concat",
    "Gather",
    "Split",
    "LayerNormalization",
];

/// Checks `proto` before tract reads it (see the module documentation); `input_shapes`
/// are the `--input-shape` overrides.
pub fn check(proto: &ModelProto, input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    let Some(graph) = &proto.graph else {
        return Ok(());
    };
    // tract's choice: the first entry of the default domain.
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    check_graph(graph, opset, input_shapes)
}

/// The dims of a tensor-typed value's shape (`None` for a negative or unknown dim, as
/// tract reads them), when it has a shape.
fn value_dims(v: &ValueInfoProto) -> Option<Vec<Option<i64>>> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    use tract_onnx::pb::type_proto::Value;
    let Some(Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return None;
    };
    let shape = t.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match d.value {
                Some(Dim::DimValue(v)) if v >= 0 => Some(v),
                _ => None,
            })
            .collect(),
    )
}

fn check_graph(g: &GraphProto, opset: i64, input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    let mut f = Facts::default();
    for t in &g.initializer {
        check_dims(&t.name, &t.dims)?;
        f.ranks.insert(&t.name, t.dims.len());
        if let Some(c) = consts::of_tensor(t) {
            f.consts.insert(&t.name, c);
        }
    }
    for i in &g.input {
        if f.ranks.contains_key(i.name.as_str()) {
            continue;
        }
        if let Some((_, s)) = input_shapes.iter().find(|(n, _)| *n == i.name) {
            f.ranks.insert(&i.name, s.len());
            continue;
        }
        if let Some(dims) = value_dims(i) {
            let known: Vec<i64> = dims.iter().flatten().copied().collect();
            check_dims(&i.name, &known)?;
            f.ranks.insert(&i.name, dims.len());
        }
    }
    for v in &g.value_info {
        if let Some(dims) = value_dims(v) {
            f.declared.insert(&v.name, dims.len());
        }
    }
    for n in topological(g) {
        let outputs = n.output.iter().enumerate().filter(|(_, o)| !o.is_empty());
        if n.op_type == "Constant" {
            if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                check_dims(&node_name(n), &t.dims)?;
            }
        }
        check_node(n, opset, &f)?;
        let value = match n.op_type.as_str() {
            "Constant" => consts::of_constant(n),
            _ => n
                .input
                .first()
                .and_then(|i| f.konst(i))
                .and_then(|c| consts::passed_on(n, c)),
        };
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        if let (Some(o), Some(c), true) = (n.output.first(), value, default_domain) {
            if !o.is_empty() {
                f.consts.entry(o).or_insert(c);
            }
        }
        for (k, o) in outputs {
            if let Some(r) = output_rank(n, k, opset, &f) {
                f.ranks.entry(o).or_insert(r);
            }
        }
        for sub in n.attribute.iter().flat_map(|a| a.g.iter().chain(&a.graphs)) {
            check_graph(sub, opset, &[])?;
        }
    }
    Ok(())
}

fn topological(g: &GraphProto) -> Vec<&NodeProto> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (k, n) in g.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            producer.entry(o).or_insert(k);
        }
    }
    let mut waiting = vec![0usize; g.node.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); g.node.len()];
    for (k, n) in g.node.iter().enumerate() {
        for i in &n.input {
            if let Some(&p) = producer.get(i.as_str()) {
                waiting[k] += 1;
                consumers[p].push(k);
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..g.node.len()).filter(|&k| waiting[k] == 0).collect();
    let mut order = Vec::with_capacity(g.node.len());
    while let Some(k) = ready.pop_front() {
        order.push(&g.node[k]);
        for &c in &consumers[k] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push_back(c);
            }
        }
    }
    order
}

/// Refuses negative dims and dims whose product does not fit in 64 bits.
fn check_dims(name: &str, dims: &[i64]) -> Result<()> {
    let mut product: i64 = 1;
    for &d in dims {
        product = (d >= 0)
            .then(|| product.checked_mul(d))
            .flatten()
            .ok_or_else(|| {
                Error::Import(format!(
                    "tensor \"{name}\": dims {dims:?} are negative or their product overflows"
                ))
            })?;
    }
    Ok(())
}

/// The checks of one node against the ranks known so far.
fn check_node(n: &NodeProto, opset: i64, f: &Facts<'_>) -> Result<()> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Ok(());
    }
    let op = n.op_type.as_str();
    let bad = |what: String| Error::Import(format!("node \"{}\" ({op}): {what}", node_name(n)));
    let ranks = n.input.first().map(|i| f.ranks(i)).unwrap_or_default();
    if op == "Unsqueeze" || op == "Squeeze" || is_reduce(op) {
        match axes(n, opset, f) {
            Some(Axes::NotInts(dt)) => {
                return Err(bad(format!(
                    "its axes input is a constant of type {}; ONNX requires INT64 axes",
                    consts::type_name(dt)
                )))
            }
            Some(Axes::Ints(a)) => {
                for &r in &ranks {
                    // Unsqueeze's axes index its output.
                    let r = if op == "Unsqueeze" { r + a.len() } else { r };
                    check_axes(a, r).map_err(bad)?;
                }
            }
            None => {}
        }
    }
    if AXIS_OPS.contains(&op) {
        if let Some(a) = attr_i(n, "axis") {
            for &r in &ranks {
                check_axes(&[a], r).map_err(bad)?;
            }
        }
    }
    if WINDOWED.contains(&op) {
        if ranks.is_empty() {
            check_window(n, None).map_err(bad)?;
        }
        for &r in &ranks {
            check_window(n, Some(r)).map_err(bad)?;
        }
    }
    Ok(())
}

/// Every axis in `-rank..rank`, none named twice.
fn check_axes(axes: &[i64], rank: usize) -> std::result::Result<(), String> {
    let r = rank as i64;
    let mut seen = vec![false; rank];
    for &a in axes {
        if !(-r..r).contains(&a) {
            return Err(format!("axis {a} is out of range for rank {rank}"));
        }
        let k = a.rem_euclid(r) as usize;
        if std::mem::replace(&mut seen[k], true) {
            return Err(format!("axis {a} is named twice"));
        }
    }
    Ok(())
}

fn check_window(n: &NodeProto, rank: Option<usize>) -> std::result::Result<(), String> {
    let kernel = attr(n, "kernel_shape").map(|_| attr_ints(n, "kernel_shape"));
    let spatial = match (&kernel, rank) {
        (Some(k), _) => k.len(),
        (None, Some(r)) => r.saturating_sub(2),
        (None, None) => return Ok(()),
    };
    if let Some(r) = rank {
        if r < 3 || r - 2 != spatial {
            return Err(format!(
                "an input of rank {r} and {spatial} spatial axes (kernel_shape) do not agree"
            ));
        }
    }
    for (name, len, min) in [
        ("kernel_shape", spatial, 1),
        ("strides", spatial, 1),
        ("dilations", spatial, 1),
        ("pads", 2 * spatial, 0),
        ("output_padding", spatial, 0),
    ] {
        if attr(n, name).is_none() {
            continue;
        }
        let v = attr_ints(n, name);
        if v.len() != len {
            return Err(format!(
                "{name} has {} values, {len} expected ({spatial} spatial axes)",
                v.len()
            ));
        }
        if let Some(x) = v.iter().find(|&&x| x < min) {
            return Err(format!("{name} holds {x}, below {min}"));
        }
    }
    Ok(())
}
