//! The NHWC layout pass on small hand-built graphs: the rewritten graph, written and
//! run by the runtime, gives the NCHW graph's outputs (within the engine's f32 bound,
//! checked here as 1e-5 relative to the outputs' scale), and the fusions happen only
//! where they are safe (a conv output that something else also reads keeps its value).

use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp, Window};
use ferrite::{AlignedModel, DType, OwnedSession};
use ferrite_tool::emit::{emit, Precision};
use ferrite_tool::ir::{Data, Graph, TId};

fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

const W3: Window = Window {
    kernel: [3, 3],
    stride: [1, 1],
    dilation: [1, 1],
    pads: [1, 1, 1, 1],
};

/// A 3×3 same-size conv of `x` (`[1, c, 6, 5]`) to `m` channels.
fn conv(g: &mut Graph, name: &str, x: TId, c: usize, m: usize, act: Activation) -> TId {
    let w = g.add_const(
        &format!("{name}.w"),
        &[m, c, 3, 3],
        Data::F32(values(m * c * 9, m as u32 + 7 * c as u32)),
    );
    let b = g.add_const(&format!("{name}.b"), &[m], Data::F32(values(m, 3)));
    let op = Op::Conv {
        window: W3,
        groups: 1,
        act,
        q: None,
    };
    g.add_node(name, op, &[x, w, b], &[1, m, 6, 5], DType::F32)
}

/// Runs `g` written in f32 on `x`; returns every output and the op names.
fn run(g: &Graph, x: &[f32]) -> (Vec<Vec<f32>>, Vec<&'static str>) {
    let bytes = emit(g, Precision::F32, None, "t")
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let a = AlignedModel::new(&bytes);
    let m = a.model().unwrap();
    let ops = (0..m.num_ops())
        .map(|i| m.op(i).unwrap().op.name())
        .collect();
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_f32(0, x).unwrap();
    s.run().unwrap();
    let outs = (0..m.num_outputs())
        .map(|i| {
            let mut y = vec![0f32; m.output_len(i).unwrap()];
            s.output_f32(i, &mut y).unwrap();
            y
        })
        .collect();
    (outs, ops)
}

/// The NHWC graph's outputs equal the NCHW graph's; returns the NHWC op names.
fn same_results(g: &Graph) -> Vec<&'static str> {
    let x = values(g.tensors[g.inputs[0]].elements(), 99);
    let (want, _) = run(g, &x);
    let (got, ops) = run(&g.to_nhwc(), &x);
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(&want) {
        let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() <= 1e-5 * scale, "{p} vs {q}: {ops:?}");
        }
    }
    ops
}

fn input(g: &mut Graph, c: usize) -> TId {
    let x = g.add_tensor("x", &[1, c, 6, 5], DType::F32);
    g.inputs.push(x);
    x
}

#[test]
fn a_conv_output_read_twice_keeps_its_value() {
    // y1 = relu(conv(x)) and y2 = conv(x) itself: the ReLU must not be fused.
    let mut g = Graph::default();
    let x = input(&mut g, 3);
    let c = conv(&mut g, "c", x, 3, 5, Activation::None);
    let r = g.add_node(
        "relu",
        Op::Unary { op: UnaryOp::Relu },
        &[c],
        &[1, 5, 6, 5],
        DType::F32,
    );
    g.outputs = vec![r, c];
    let ops = same_results(&g);
    assert_eq!(
        ops.iter()
            .filter(|&&o| o == "ConvNhwc" || o == "ConvNchw")
            .count(),
        1,
        "{ops:?}"
    );
    assert!(ops.contains(&"Unary"), "{ops:?}");
}

#[test]
fn relu_and_residual_add_fuse_into_the_later_conv() {
    // a = conv1(x); b = conv2(a); y = relu(a + b): b's conv takes a as its residual
    // and the ReLU as its clamp; conv1's output (read twice) is left alone.
    let mut g = Graph::default();
    let x = input(&mut g, 4);
    let a = conv(&mut g, "c1", x, 4, 6, Activation::Relu);
    let b = conv(&mut g, "c2", a, 6, 6, Activation::None);
    let add = Op::Binary {
        op: BinaryOp::Add,
        act: Activation::None,
        q: None,
    };
    let s = g.add_node("add", add, &[a, b], &[1, 6, 6, 5], DType::F32);
    let y = g.add_node(
        "relu",
        Op::Unary { op: UnaryOp::Relu },
        &[s],
        &[1, 6, 6, 5],
        DType::F32,
    );
    g.outputs = vec![y];
    let ops = same_results(&g);
    assert_eq!(ops, ["ConvNchw", "ConvNhwc", "Transpose"]);
}

#[test]
fn an_add_of_a_conv_and_a_later_tensor_is_not_fused() {
    // y = conv1(x) + neg(conv2(x)).
    let mut g = Graph::default();
    let x = input(&mut g, 2);
    let a = conv(&mut g, "c1", x, 2, 3, Activation::None);
    let b0 = conv(&mut g, "c2", x, 2, 3, Activation::None);
    let b = g.add_node(
        "neg",
        Op::Unary { op: UnaryOp::Neg },
        &[b0],
        &[1, 3, 6, 5],
        DType::F32,
    );
    let add = Op::Binary {
        op: BinaryOp::Add,
        act: Activation::None,
        q: None,
    };
    // `a` is a conv output but `b` (a Neg, computed after conv1) is not ready when
    // conv1 runs: the Add stays an op of its own.
    let y = g.add_node("add", add, &[a, b], &[1, 3, 6, 5], DType::F32);
    g.outputs = vec![y];
    let ops = same_results(&g);
    assert!(ops.contains(&"Binary"), "{ops:?}");
}

/// `Slice` of the NCHW `x` (shape `from`) with `starts` and `steps`, output `to`.
fn slice(g: &mut Graph, x: TId, starts: [i32; 4], steps: [i32; 4], to: &[usize]) -> TId {
    let op = Op::Slice {
        starts: heapless::Vec::from_slice(&starts).unwrap(),
        steps: heapless::Vec::from_slice(&steps).unwrap(),
    };
    g.add_node("slice", op, &[x], to, DType::F32)
}

/// A 1×1 conv of the NCHW `x` (`[1, c, h, w]`) to `m` channels.
fn conv1x1(g: &mut Graph, x: TId, c: usize, m: usize, hw: [usize; 2]) -> TId {
    let w = g.add_const("p.w", &[m, c, 1, 1], Data::F32(values(m * c, 11)));
    let b = g.add_const("p.b", &[m], Data::F32(values(m, 5)));
    let op = Op::Conv {
        window: Window {
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [0; 4],
        },
        groups: 1,
        act: Activation::None,
        q: None,
    };
    g.add_node("proj", op, &[x, w, b], &[1, m, hw[0], hw[1]], DType::F32)
}

#[test]
fn a_strided_shortcut_becomes_a_strided_1x1_conv_without_slices() {
    // ResNet's projection shortcut as tract gives it: every second row, then every
    // second column (6×5 → 3×5 → 3×3), then a 1×1 conv.
    let mut g = Graph::default();
    let x = input(&mut g, 3);
    let a = conv(&mut g, "c1", x, 3, 4, Activation::Relu);
    let rows = slice(&mut g, a, [0; 4], [1, 1, 2, 1], &[1, 4, 3, 5]);
    let both = slice(&mut g, rows, [0; 4], [1, 1, 1, 2], &[1, 4, 3, 3]);
    let y = conv1x1(&mut g, both, 4, 8, [3, 3]);
    g.outputs = vec![y];
    let ops = same_results(&g);
    assert_eq!(ops, ["ConvNchw", "ConvNhwc", "Transpose"]);
    let nhwc = g.to_nhwc();
    let strides: Vec<[u32; 2]> = nhwc
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::ConvNhwc { window, .. } => Some(window.stride),
            _ => None,
        })
        .collect();
    assert_eq!(strides, [[1, 1], [2, 2]]);
}

#[test]
fn a_slice_from_an_offset_or_read_elsewhere_stays() {
    // Starting at row 1 is not a strided conv's pixel grid; a slice that is also a
    // graph output must still be computed.
    let mut g = Graph::default();
    let x = input(&mut g, 3);
    let a = conv(&mut g, "c1", x, 3, 4, Activation::None);
    let odd = slice(&mut g, a, [0, 0, 1, 0], [1, 1, 2, 1], &[1, 4, 3, 5]);
    let y1 = conv1x1(&mut g, odd, 4, 2, [3, 5]);
    let even = slice(&mut g, a, [0; 4], [1, 1, 2, 2], &[1, 4, 3, 3]);
    let y2 = conv1x1(&mut g, even, 4, 2, [3, 3]);
    g.outputs = vec![y1, y2, even];
    let ops = same_results(&g);
    assert_eq!(ops.iter().filter(|&&o| o == "Slice").count(), 2, "{ops:?}");
}
