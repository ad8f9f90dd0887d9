//! Unit tests of the guard.

use super::super::proto::{i64_tensor, int_attr, node};
use super::consts::Const;
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

/// Integer tensors of every width, raw and typed, read as tract-onnx reads them and
/// casts them to i64; other types are `Other`. Expected values by hand.
#[test]
fn integer_constants_are_read_as_tract_casts_them() {
    use tract_onnx::pb::TensorProto;
    let raw = |dt: i32, bytes: &[u8]| TensorProto {
        data_type: dt,
        raw_data: bytes.to_vec(),
        ..Default::default()
    };
    let typed32 = |dt: i32, v: &[i32]| TensorProto {
        data_type: dt,
        int32_data: v.to_vec(),
        ..Default::default()
    };
    let ints = |v: &[i64]| Some(Const::Ints(v.to_vec()));
    // UINT64 -2 (0xff..fe) wraps to -2, as tract's `as` cast does.
    assert_eq!(
        consts::of_tensor(&raw(13, &(-2i64).to_le_bytes())),
        ints(&[-2])
    );
    assert_eq!(consts::of_tensor(&raw(3, &[0xff, 0x05])), ints(&[-1, 5]));
    assert_eq!(consts::of_tensor(&raw(2, &[0xff])), ints(&[255]));
    assert_eq!(consts::of_tensor(&raw(5, &[0xfe, 0xff])), ints(&[-2]));
    assert_eq!(consts::of_tensor(&raw(4, &[0xfe, 0xff])), ints(&[65534]));
    assert_eq!(
        consts::of_tensor(&raw(12, &[0xff, 0xff, 0xff, 0xff])),
        ints(&[4_294_967_295])
    );
    // Typed: INT8 from int32_data narrowed; UINT32 read by tract as i32.
    assert_eq!(
        consts::of_tensor(&typed32(3, &[255, -129])),
        ints(&[-1, 127])
    );
    assert_eq!(consts::of_tensor(&typed32(12, &[-1])), ints(&[-1]));
    assert_eq!(
        consts::of_tensor(&raw(1, &[0, 0, 0, 0])),
        Some(Const::Other(1))
    );
}

/// Axes from a `Constant`'s `value_ints`, through Identity and Cast; FLOAT axes
/// refused for their type.
#[test]
fn axes_are_followed_through_constants_identity_and_cast() {
    use super::super::proto::f32_tensor;
    let reduce = |nodes: Vec<NodeProto>| {
        let mut all = nodes;
        all.push(node("ReduceSum", "r", &["x", "a"], &["y"], vec![]));
        check_of(13, &[1, 3, 8], &[], all)
    };
    let constant = |attr: AttributeProto| node("Constant", "c", &[], &["c"], vec![attr]);
    let e = reduce(vec![
        constant(ints("value_ints", &[5])),
        node("Identity", "i", &["c"], &["a"], vec![]),
    ])
    .unwrap_err();
    assert!(
        e.contains("(ReduceSum): axis 5 is out of range for rank 3"),
        "{e}"
    );
    // Cast to INT8: 255 becomes -1, in range.
    let cast = |to: i64| node("Cast", "k", &["c"], &["a"], vec![int_attr("to", to)]);
    assert_eq!(
        reduce(vec![constant(ints("value_ints", &[255])), cast(3)]),
        Ok(())
    );
    let e = reduce(vec![constant(ints("value_ints", &[255])), cast(7)]).unwrap_err();
    assert!(e.contains("axis 255 is out of range"), "{e}");
    let e = reduce(vec![constant(ints("value_ints", &[1])), cast(1)]).unwrap_err();
    assert!(
        e.contains("a constant of type FLOAT; ONNX requires INT64"),
        "{e}"
    );
    let float = super::super::proto::tensor_attr("value", f32_tensor("t", &[1], &[1.0]));
    let e = reduce(vec![
        constant(float),
        node("Identity", "i", &["c"], &["a"], vec![]),
    ])
    .unwrap_err();
    assert!(e.contains("a constant of type FLOAT"), "{e}");
}

/// A rank stated by `value_info` (tract reads it as a fact) is checked, for a value of
/// an op the guard does not follow and for one whose followed rank differs.
#[test]
fn value_info_ranks_are_checked() {
    use tract_onnx::pb::tensor_shape_proto::Dimension;
    use tract_onnx::pb::type_proto::{Tensor, Value};
    use tract_onnx::pb::{TensorShapeProto, TypeProto};
    let info = |name: &str, rank: usize| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(Value::TensorType(Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: vec![Dimension::default(); rank],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = |producer: &str, rank: usize, axis: i64| {
        let mut g = GraphProto {
            input: vec![info("x", 3)],
            value_info: vec![info("y", rank)],
            node: vec![
                node(producer, "p", &["x"], &["y"], vec![]),
                node("Softmax", "s", &["y"], &["z"], vec![int_attr("axis", axis)]),
            ],
            ..Default::default()
        };
        g.node[0].attribute.push(AttributeProto {
            name: "equation".into(),
            s: b"abc->ab".to_vec(),
            ..Default::default()
        });
        let m = ModelProto {
            graph: Some(g),
            ..Default::default()
        };
        check(&m, &[]).map_err(|e| e.to_string())
    };
    let e = model("Einsum", 2, 2).unwrap_err();
    assert!(
        e.contains("(Softmax): axis 2 is out of range for rank 2"),
        "{e}"
    );
    assert_eq!(model("Einsum", 2, 1), Ok(()));
    // Relu gives rank 3, the value_info 2: axis 2 is checked against both.
    let e = model("Relu", 2, 2).unwrap_err();
    assert!(e.contains("axis 2 is out of range for rank 2"), "{e}");
    assert_eq!(model("Relu", 3, 2), Ok(()));
}

/// Ranks through MatMul (1-D operands dropped), Gather, and the second output of Split.
#[test]
fn ranks_follow_matmul_gather_and_every_output_of_split() {
    let softmax = |input: &str, axis: i64| {
        node(
            "Softmax",
            "s",
            &[input],
            &["z"],
            vec![int_attr("axis", axis)],
        )
    };
    // x: 1x3x8. MatMul with a 1-D w: rank 2.
    let w: &[(&str, &[i64])] = &[("w", &[1; 8])];
    let mm = || node("MatMul", "m", &["x", "w"], &["y"], vec![]);
    let e = check_of(13, &[1, 3, 8], w, vec![mm(), softmax("y", 2)]).unwrap_err();
    assert!(e.contains("axis 2 is out of range for rank 2"), "{e}");
    assert_eq!(
        check_of(13, &[1, 3, 8], w, vec![mm(), softmax("y", 1)]),
        Ok(())
    );
    // Gather of 1-D indices w on x: rank 3 + 1 - 1.
    let ga = || {
        node(
            "Gather",
            "g",
            &["x", "w"],
            &["y"],
            vec![int_attr("axis", 2)],
        )
    };
    let e = check_of(13, &[1, 3, 8], w, vec![ga(), softmax("y", 3)]).unwrap_err();
    assert!(e.contains("axis 3 is out of range for rank 3"), "{e}");
    // Split's second output has the input's rank.
    let sp = || {
        node(
            "Split",
            "p",
            &["x"],
            &["y0", "y1"],
            vec![int_attr("axis", 1)],
        )
    };
    let e = check_of(13, &[1, 4, 8], &[], vec![sp(), softmax("y1", 3)]).unwrap_err();
    assert!(e.contains("axis 3 is out of range for rank 3"), "{e}");
    assert_eq!(
        check_of(13, &[1, 4, 8], &[], vec![sp(), softmax("y1", -3)]),
        Ok(())
    );
}
