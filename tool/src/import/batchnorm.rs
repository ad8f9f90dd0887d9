//! `BatchNormalization` (inference mode) whose scale, bias, mean or variance are not
//! constants: tract folds a batch norm only when all four are constants, and refuses the
//! model otherwise. Exporters always write them as initializers; graphs that feed them as
//! inputs (the ONNX backend node tests) or compute them are rewritten here, before tract
//! sees the protobuf, into the equivalent elementwise ops:
//!
//! ```text
//! a = scale / Sqrt(var + epsilon)      [C]
//! c = B - mean * a                     [C]
//! y = x * Reshape(a, [C, 1, ...]) + Reshape(c, [C, 1, ...])
//! ```
//!
//! which ferrite runs as `Binary` / `Unary Sqrt` / `Reshape` ops. The target shape
//! `[-1, 1, ...]` (rank of `x` minus one) is a constant when the graph declares the rank
//! of `x` (a graph input, output or `value_info`), else it is computed from `Shape(x)`
//! (`ConstantOfShape` of `rank - 2` ones after a `-1`), which tract folds to a constant
//! once the input shapes are fixed. Batch norms with constant parameters are left to
//! tract (folded into the preceding Conv/Gemm). Left unchanged, and so still refused by
//! tract: training mode (`training_mode = 1` or more than one output) and `spatial = 0`.

use super::proto::{attr_f, attr_i, f32_tensor, i64_tensor, int_attr, node, tensor_attr};
use std::collections::HashSet;
use tract_onnx::pb::{type_proto, ModelProto, NodeProto, TensorProto};

/// Rewrites every batch norm with non-constant parameters (see the module docs);
/// returns how many were rewritten.
pub fn prepare(proto: &mut ModelProto) -> usize {
    let Some(graph) = proto.graph.as_mut() else {
        return 0;
    };
    let consts: HashSet<String> = graph
        .initializer
        .iter()
        .map(|t| t.name.clone())
        .chain(
            graph
                .node
                .iter()
                .filter(|n| n.op_type == "Constant")
                .flat_map(|n| n.output.iter().cloned()),
        )
        .collect();
    let rank_of = |name: &str| -> Option<usize> {
        graph
            .input
            .iter()
            .chain(&graph.value_info)
            .chain(&graph.output)
            .find(|v| v.name == name)
            .and_then(|v| match v.r#type.as_ref()?.value.as_ref()? {
                type_proto::Value::TensorType(t) => Some(t.shape.as_ref()?.dim.len()),
            })
    };
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut inits = Vec::new();
    let mut rewritten = 0;
    for n in std::mem::take(&mut graph.node) {
        match expand(&n, &consts, &rank_of) {
            Some((new_nodes, new_inits)) => {
                nodes.extend(new_nodes);
                inits.extend(new_inits);
                rewritten += 1;
            }
            None => nodes.push(n),
        }
    }
    graph.node = nodes;
    graph.initializer.extend(inits);
    rewritten
}

/// The replacement nodes and initializers of one batch norm, or `None` to keep it.
fn expand(
    n: &NodeProto,
    consts: &HashSet<String>,
    rank_of: &dyn Fn(&str) -> Option<usize>,
) -> Option<(Vec<NodeProto>, Vec<TensorProto>)> {
    if n.op_type != "BatchNormalization" || !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return None;
    }
    if n.input.len() != 5 || n.input.iter().any(String::is_empty) {
        return None;
    }
    // Inference mode, one output (older opsets list optional training outputs).
    let outputs: Vec<&String> = n.output.iter().filter(|o| !o.is_empty()).collect();
    if outputs.len() != 1 || n.output[0].is_empty() {
        return None;
    }
    if attr_i(n, "training_mode").unwrap_or(0) != 0 || attr_i(n, "spatial").unwrap_or(1) != 1 {
        return None;
    }
    if n.input[1..].iter().all(|i| consts.contains(i)) {
        return None; // tract folds it
    }
    let rank = rank_of(&n.input[0]);
    if rank.is_some_and(|r| r < 2) {
        return None;
    }
    let eps = attr_f(n, "epsilon").unwrap_or(1e-5);
    let (x, scale, b, mean, var) = (
        n.input[0].as_str(),
        n.input[1].as_str(),
        n.input[2].as_str(),
        n.input[3].as_str(),
        n.input[4].as_str(),
    );
    let y = n.output[0].as_str();
    let base = if n.name.is_empty() { y } else { &n.name };
    let t = |s: &str| format!("{y}.bn_{s}");
    let nm = |s: &str| format!("{base}.{s}");
    let (eps_t, shape_t) = (t("epsilon"), t("shape"));
    let i64s = |name: &str, v: Vec<i64>| i64_tensor(name, &[v.len() as i64], &v);
    let mut inits = vec![f32_tensor(&eps_t, &[], &[eps])];
    let mut nodes = Vec::new();
    match rank {
        Some(r) => {
            let mut shape = vec![1i64; r - 1];
            shape[0] = -1;
            inits.push(i64s(&shape_t, shape));
        }
        None => {
            // [-1] ++ ones(rank(x) - 2)
            let (xs, xr, r2, ones) = (t("x_shape"), t("x_rank"), t("rank_2"), t("ones"));
            let (two, m1) = (t("two"), t("minus_one"));
            inits.push(i64s(&two, vec![2]));
            inits.push(i64s(&m1, vec![-1]));
            nodes.push(node("Shape", &nm("x_shape"), &[x], &[&xs], vec![]));
            nodes.push(node("Shape", &nm("x_rank"), &[&xs], &[&xr], vec![]));
            nodes.push(node("Sub", &nm("rank_2"), &[&xr, &two], &[&r2], vec![]));
            nodes.push(node(
                "ConstantOfShape",
                &nm("ones"),
                &[&r2],
                &[&ones],
                vec![tensor_attr("value", i64s("", vec![1]))],
            ));
            nodes.push(node(
                "Concat",
                &nm("shape"),
                &[&m1, &ones],
                &[&shape_t],
                vec![int_attr("axis", 0)],
            ));
        }
    }
    let (v, sd, a, ma, c, ar, cr, xa) = (
        t("var_eps"),
        t("std"),
        t("slope"),
        t("mean_slope"),
        t("intercept"),
        t("slope_c"),
        t("intercept_c"),
        t("scaled"),
    );
    nodes.extend([
        node("Add", &nm("var_eps"), &[var, &eps_t], &[&v], vec![]),
        node("Sqrt", &nm("std"), &[&v], &[&sd], vec![]),
        node("Div", &nm("slope"), &[scale, &sd], &[&a], vec![]),
        node("Mul", &nm("mean_slope"), &[mean, &a], &[&ma], vec![]),
        node("Sub", &nm("intercept"), &[b, &ma], &[&c], vec![]),
        node("Reshape", &nm("slope_c"), &[&a, &shape_t], &[&ar], vec![]),
        node(
            "Reshape",
            &nm("intercept_c"),
            &[&c, &shape_t],
            &[&cr],
            vec![],
        ),
        node("Mul", &nm("scaled"), &[x, &ar], &[&xa], vec![]),
        node("Add", base, &[&xa, &cr], &[y], vec![]),
    ]);
    Some((nodes, inits))
}

#[cfg(test)]
mod tests {
    use super::super::proto::data_type::FLOAT;
    use super::*;
    use tract_onnx::pb::{
        tensor_shape_proto, GraphProto, TensorShapeProto, TypeProto, ValueInfoProto,
    };

    fn input(name: &str, dims: &[i64]) -> ValueInfoProto {
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: FLOAT,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| tensor_shape_proto::Dimension {
                                value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn model(training: bool) -> ModelProto {
        let mut bn = node(
            "BatchNormalization",
            "bn",
            &["x", "s", "b", "m", "v"],
            &["y"],
            vec![],
        );
        if training {
            bn.attribute.push(int_attr("training_mode", 1));
        }
        ModelProto {
            graph: Some(GraphProto {
                node: vec![bn],
                input: ["x", "s", "b", "m", "v"]
                    .iter()
                    .map(|n| input(n, if *n == "x" { &[1, 3, 4, 4] } else { &[3] }))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn rewrites_inference_batch_norm_with_input_parameters() {
        let mut m = model(false);
        assert_eq!(prepare(&mut m), 1);
        let g = m.graph.as_ref().unwrap();
        assert!(g.node.iter().all(|n| n.op_type != "BatchNormalization"));
        assert_eq!(g.node.last().unwrap().output, ["y"]);
        let shape = g
            .initializer
            .iter()
            .find(|t| t.name == "y.bn_shape")
            .unwrap();
        assert_eq!(shape.int64_data, [-1, 1, 1]);
    }

    #[test]
    fn computes_the_parameter_shape_when_the_rank_is_not_declared() {
        let mut m = model(false);
        m.graph.as_mut().unwrap().input[0] = ValueInfoProto {
            name: "x".into(),
            ..Default::default()
        };
        assert_eq!(prepare(&mut m), 1);
        let g = m.graph.as_ref().unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops[..5],
            ["Shape", "Shape", "Sub", "ConstantOfShape", "Concat"]
        );
    }

    #[test]
    fn keeps_training_mode_and_constant_parameters() {
        let mut m = model(true);
        assert_eq!(prepare(&mut m), 0);
        let mut m = model(false);
        let g = m.graph.as_mut().unwrap();
        for p in ["s", "b", "m", "v"] {
            g.initializer.push(TensorProto {
                name: p.into(),
                dims: vec![3],
                data_type: FLOAT,
                float_data: vec![1.0; 3],
                ..Default::default()
            });
        }
        assert_eq!(prepare(&mut m), 0);
    }
}
