//! Checks of an ONNX graph before tract reads it, for the inputs on which tract-onnx 0.23
//! panics instead of returning an error (each found by the `onnx_import` fuzz target,
//! `fuzz/README.md`). Every failure is an [`Error::Import`] naming the node.
//!
//! The ranks of the graph's values are followed from what the file states (graph input
//! shapes or `--input-shape`, initializers, `Constant` nodes) through the ops whose
//! output rank follows from their input ranks and attributes (see [`rank_of`]); a value
//! of any other op has an unknown rank and is not checked. Against the known ranks:
//! - the axes of Unsqueeze, Squeeze and the Reduce ops (attribute or constant input,
//!   as the opset says) and the `axis` of the ops in [`AXIS_OPS`] lie in range, with no
//!   axis repeated (tract inserts or removes them unchecked);
//! - Conv and the pools: `kernel_shape`, `strides`, `dilations` have one value per
//!   spatial axis and `pads` two (tract indexes them by axis), kernel, stride and
//!   dilation are at least 1 and pads not negative;
//! - the dims of an initializer or a `Constant` are not negative, and the product of
//!   the dims of those and of a graph input fits in 64 bits (a negative dim of a graph
//!   input is unknown, as for tract).

use super::proto::{attr, attr_i, attr_ints, data_type, node_name};
use crate::error::{Error, Result};
use std::collections::{HashMap, VecDeque};
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, TensorProto};

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

/// Ops whose output has the rank of their first input.
const SAME_RANK: [&str; 38] = [
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Elu",
    "Selu",
    "Celu",
    "Gelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Softplus",
    "Softsign",
    "Abs",
    "Neg",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Erf",
    "Sin",
    "Cos",
    "Clip",
    "Cast",
    "Identity",
    "Dropout",
    "Softmax",
    "LogSoftmax",
    "BatchNormalization",
    "LRN",
    "InstanceNormalization",
    "LayerNormalization",
    "Transpose",
    "Concat",
];

/// Ops whose output has the largest rank of their inputs (broadcasting).
const BROADCAST: [&str; 10] = [
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where",
];

/// Conv-like ops: input `N x C x spatial...`, output of the same rank.
const WINDOWED: [&str; 5] = ["Conv", "MaxPool", "AveragePool", "LpPool", "ConvTranspose"];

/// The ops that reduce along `axes`.
fn is_reduce(op: &str) -> bool {
    op.starts_with("Reduce")
}

/// Checks `proto` before tract reads it (see the module documentation); `input_shapes`
/// are the `--input-shape` overrides.
pub fn check(proto: &ModelProto, input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    let Some(graph) = &proto.graph else {
        return Ok(());
    };
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    check_graph(graph, opset, input_shapes)
}

fn check_graph(g: &GraphProto, opset: i64, input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    let mut ranks: HashMap<&str, usize> = HashMap::new();
    let mut ints: HashMap<&str, Vec<i64>> = HashMap::new();
    for t in &g.initializer {
        check_dims(&t.name, &t.dims)?;
        ranks.insert(&t.name, t.dims.len());
        if let Some(v) = int_values(t) {
            ints.insert(&t.name, v);
        }
    }
    for i in &g.input {
        if ranks.contains_key(i.name.as_str()) {
            continue;
        }
        if let Some((_, s)) = input_shapes.iter().find(|(n, _)| *n == i.name) {
            ranks.insert(&i.name, s.len());
            continue;
        }
        use tract_onnx::pb::type_proto::Value;
        let Some(Value::TensorType(t)) = i.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
            continue;
        };
        if let Some(shape) = &t.shape {
            use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
            let dims: Vec<i64> = shape
                .dim
                .iter()
                .filter_map(|d| match d.value {
                    // tract reads a negative dim of a graph input as unknown.
                    Some(Dim::DimValue(v)) if v >= 0 => Some(v),
                    _ => None,
                })
                .collect();
            check_dims(&i.name, &dims)?;
            ranks.insert(&i.name, shape.dim.len());
        }
    }
    for n in topological(g) {
        if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
            if n.op_type == "Constant" {
                check_dims(&node_name(n), &t.dims)?;
                if let (Some(o), Some(v)) =
                    (n.output.first().filter(|o| !o.is_empty()), int_values(t))
                {
                    ints.insert(o, v);
                }
            }
        }
        check_node(n, opset, &ranks, &ints)?;
        let first = n.output.first().filter(|o| !o.is_empty());
        if let (Some(o), Some(r)) = (first, rank_of(n, opset, &ranks, &ints)) {
            ranks.entry(o).or_insert(r);
        }
        for sub in n.attribute.iter().flat_map(|a| a.g.iter().chain(&a.graphs)) {
            check_graph(sub, opset, &[])?;
        }
    }
    Ok(())
}

/// The nodes of `g` in an order where every node comes after the producers of its
/// inputs (ONNX requires it, fuzzed files do not keep it); nodes on a cycle are left
/// out (tract refuses the cycle).
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

/// The values of an INT64 or INT32 tensor (raw or typed).
fn int_values(t: &TensorProto) -> Option<Vec<i64>> {
    let raw = &t.raw_data;
    Some(match t.data_type {
        data_type::INT64 if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        data_type::INT64 => t.int64_data.clone(),
        data_type::INT32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64)
            .collect(),
        data_type::INT32 => t.int32_data.iter().map(|&v| v as i64).collect(),
        _ => return None,
    })
}

/// The axes of an Unsqueeze, Squeeze or Reduce node: the `axes` attribute up to the
/// opset where it became the second input (13 for Unsqueeze, Squeeze, ReduceSum; 18 for
/// the other reductions), else that input when it is a constant. `None`: not known.
fn axes<'a>(n: &'a NodeProto, opset: i64, ints: &'a HashMap<&str, Vec<i64>>) -> Option<&'a [i64]> {
    let as_input = match n.op_type.as_str() {
        "Unsqueeze" | "Squeeze" | "ReduceSum" => opset >= 13,
        _ => opset >= 18,
    };
    if as_input {
        let name = n.input.get(1).filter(|i| !i.is_empty())?;
        ints.get(name.as_str()).map(Vec::as_slice)
    } else {
        attr(n, "axes").map(|a| a.ints.as_slice())
    }
}

/// The output rank of `n`, when its op and the ranks it depends on are known.
fn rank_of(
    n: &NodeProto,
    opset: i64,
    ranks: &HashMap<&str, usize>,
    ints: &HashMap<&str, Vec<i64>>,
) -> Option<usize> {
    let op = n.op_type.as_str();
    let rank = |k: usize| n.input.get(k).and_then(|i| ranks.get(i.as_str())).copied();
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return None;
    }
    match op {
        "Constant" => attr(n, "value")
            .and_then(|a| a.t.as_ref())
            .map(|t| t.dims.len()),
        _ if SAME_RANK.contains(&op) || WINDOWED.contains(&op) => rank(0),
        "GlobalAveragePool" | "GlobalMaxPool" => rank(0),
        _ if BROADCAST.contains(&op) => {
            let rs: Option<Vec<usize>> = (0..n.input.len()).map(rank).collect();
            rs?.into_iter().max()
        }
        "Flatten" | "Gemm" => Some(2),
        "Unsqueeze" => Some(rank(0)? + axes(n, opset, ints)?.len()),
        "Squeeze" => rank(0)?.checked_sub(axes(n, opset, ints)?.len()),
        "Reshape" => Some(ints.get(n.input.get(1)?.as_str())?.len()),
        _ if is_reduce(op) => {
            let r = rank(0)?;
            if attr_i(n, "keepdims").unwrap_or(1) != 0 {
                Some(r)
            } else {
                match axes(n, opset, ints)? {
                    [] => None,
                    a => r.checked_sub(a.len()),
                }
            }
        }
        _ => None,
    }
}

/// The checks of one node against the ranks known so far.
fn check_node(
    n: &NodeProto,
    opset: i64,
    ranks: &HashMap<&str, usize>,
    ints: &HashMap<&str, Vec<i64>>,
) -> Result<()> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Ok(());
    }
    let op = n.op_type.as_str();
    let bad = |what: String| Error::Import(format!("node \"{}\" ({op}): {what}", node_name(n)));
    let rank = n.input.first().and_then(|i| ranks.get(i.as_str())).copied();
    if op == "Unsqueeze" || op == "Squeeze" || is_reduce(op) {
        if let (Some(r), Some(a)) = (rank, axes(n, opset, ints)) {
            // Unsqueeze's axes index its output.
            let r = if op == "Unsqueeze" { r + a.len() } else { r };
            check_axes(a, r).map_err(bad)?;
        }
    }
    if AXIS_OPS.contains(&op) {
        if let (Some(r), Some(a)) = (rank, attr_i(n, "axis")) {
            check_axes(&[a], r).map_err(bad)?;
        }
    }
    if WINDOWED.contains(&op) {
        check_window(n, rank).map_err(bad)?;
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

/// The window attributes of Conv, ConvTranspose and the pools: one kernel size, stride
/// and dilation per spatial axis, two pads, none below its minimum. The spatial rank is
/// `kernel_shape`'s length, else the input rank less 2.
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

#[cfg(test)]
mod tests {
    use super::super::proto::{i64_tensor, int_attr, node};
    use super::*;
    use tract_onnx::pb::{AttributeProto, OperatorSetIdProto, ValueInfoProto};

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    /// A model of `nodes` at `opset` whose input `x` has the shape `x` (given as
    /// `--input-shape`); `consts` are INT64 initializers.
    fn check_of(
        opset: i64,
        x: &[usize],
        consts: &[(&str, &[i64])],
        nodes: Vec<NodeProto>,
    ) -> std::result::Result<(), String> {
        let model = ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: opset,
            }],
            graph: Some(GraphProto {
                input: vec![ValueInfoProto {
                    name: "x".into(),
                    ..Default::default()
                }],
                initializer: consts
                    .iter()
                    .map(|(n, v)| i64_tensor(n, &[v.len() as i64], v))
                    .collect(),
                node: nodes,
                ..Default::default()
            }),
            ..Default::default()
        };
        check(&model, &[("x".into(), x.to_vec())]).map_err(|e| e.to_string())
    }

    #[test]
    fn unsqueeze_axes_index_the_output_rank() {
        let unsqueeze = |axes: &'static [i64]| {
            check_of(
                13,
                &[1, 3, 8],
                &[("a", axes)],
                vec![node("Unsqueeze", "u", &["x", "a"], &["y"], vec![])],
            )
        };
        // Rank 3 + 1 axis: the output has rank 4, axes -4..=3.
        assert_eq!(unsqueeze(&[-4]), Ok(()));
        assert_eq!(unsqueeze(&[3]), Ok(()));
        let e = unsqueeze(&[4]).unwrap_err();
        assert!(e.contains("axis 4 is out of range for rank 4"), "{e}");
        // Two axes: rank 5, where -4 is axis 1.
        let e = unsqueeze(&[1, -4]).unwrap_err();
        assert!(e.contains("axis -4 is named twice"), "{e}");
    }

    #[test]
    fn axes_follow_the_opset_attribute_or_input() {
        let attr_form = node("ReduceMean", "r", &["x"], &["y"], vec![ints("axes", &[3])]);
        // Up to opset 17 ReduceMean reads the attribute, from 18 its second input.
        let e = check_of(13, &[1, 3, 8], &[], vec![attr_form.clone()]).unwrap_err();
        assert!(
            e.contains("(ReduceMean): axis 3 is out of range for rank 3"),
            "{e}"
        );
        assert_eq!(check_of(18, &[1, 3, 8], &[], vec![attr_form]), Ok(()));
        let input_form = node("ReduceMean", "r", &["x", "a"], &["y"], vec![]);
        let e = check_of(18, &[1, 3, 8], &[("a", &[-4])], vec![input_form]).unwrap_err();
        assert!(e.contains("axis -4 is out of range for rank 3"), "{e}");
    }

    /// The rank reaches a node listed before its producer: Squeeze (rank 3 → 2) then a
    /// Softmax on axis 2 of the result.
    #[test]
    fn ranks_follow_the_graph_in_dependency_order() {
        let nodes = vec![
            node("Softmax", "s", &["y"], &["z"], vec![int_attr("axis", 2)]),
            node("Squeeze", "q", &["x", "a"], &["y"], vec![]),
        ];
        let e = check_of(13, &[1, 3, 8], &[("a", &[0])], nodes).unwrap_err();
        assert!(
            e.contains("node \"s\" (Softmax): axis 2 is out of range for rank 2"),
            "{e}"
        );
        let nodes = vec![
            node("Softmax", "s", &["y"], &["z"], vec![int_attr("axis", -1)]),
            node("Squeeze", "q", &["x", "a"], &["y"], vec![]),
        ];
        assert_eq!(check_of(13, &[1, 3, 8], &[("a", &[0])], nodes), Ok(()));
    }

    #[test]
    fn window_attributes_have_one_value_per_spatial_axis() {
        let pool = |attrs: Vec<AttributeProto>| {
            check_of(
                13,
                &[1, 3, 8, 8],
                &[],
                vec![node("MaxPool", "p", &["x"], &["y"], attrs)],
            )
        };
        let k = || ints("kernel_shape", &[2, 2]);
        assert_eq!(
            pool(vec![
                k(),
                ints("pads", &[0, 1, 0, 1]),
                ints("strides", &[2, 2])
            ]),
            Ok(())
        );
        let e = pool(vec![k(), ints("pads", &[1, 1])]).unwrap_err();
        assert!(
            e.contains("pads has 2 values, 4 expected (2 spatial axes)"),
            "{e}"
        );
        let e = pool(vec![k(), ints("strides", &[2, 0])]).unwrap_err();
        assert!(e.contains("strides holds 0, below 1"), "{e}");
        let e = pool(vec![ints("kernel_shape", &[2])]).unwrap_err();
        assert!(e.contains("an input of rank 4 and 1 spatial axes"), "{e}");
    }

    #[test]
    fn dims_whose_product_overflows_are_refused() {
        let mut m = ModelProto::default();
        let mut t = i64_tensor("w", &[1 << 40, 1 << 30], &[]);
        m.graph = Some(GraphProto {
            initializer: vec![t.clone()],
            ..Default::default()
        });
        let e = check(&m, &[]).unwrap_err().to_string();
        assert!(
            e.contains("tensor \"w\": dims [1099511627776, 1073741824]"),
            "{e}"
        );
        t.dims = vec![1 << 20, 1 << 20];
        m.graph.as_mut().unwrap().initializer = vec![t.clone()];
        assert!(check(&m, &[]).is_ok());
        t.dims = vec![-2, 3];
        m.graph.as_mut().unwrap().initializer = vec![t];
        let e = check(&m, &[]).unwrap_err().to_string();
        assert!(e.contains("tensor \"w\": dims [-2, 3]"), "{e}");
    }

    /// A negative dim of a graph input is unknown (tract reads it so), not an error.
    #[test]
    fn a_negative_graph_input_dim_is_unknown() {
        use tract_onnx::pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
        use tract_onnx::pb::type_proto::{Tensor, Value};
        use tract_onnx::pb::{TensorShapeProto, TypeProto};
        let input = |dims: &[i64]| ValueInfoProto {
            name: "x".into(),
            r#type: Some(TypeProto {
                value: Some(Value::TensorType(Tensor {
                    elem_type: 1,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| Dimension {
                                value: Some(Dim::DimValue(d)),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut m = ModelProto {
            graph: Some(GraphProto {
                input: vec![input(&[-2, 3, 64])],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(check(&m, &[]).is_ok());
        m.graph.as_mut().unwrap().input = vec![input(&[1 << 40, 3, 1 << 30])];
        let e = check(&m, &[]).unwrap_err().to_string();
        assert!(e.contains("tensor \"x\": dims"), "{e}");
    }
}
