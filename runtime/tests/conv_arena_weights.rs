//! f32 `Conv` weights read from the arena (a graph input or a computed tensor, as the
//! host tool writes for ONNX graphs whose Conv weights are not initializers, and for f16
//! weights widened by a `Cast`): `Model::load` accepts them with their shapes checked,
//! the result equals the constant-weight model's, and int8 `Conv` still needs constant
//! weights.

use ferrite::format::types::{Activation, DType, Op, QParams, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OwnedSession};

const X: [u32; 4] = [1, 2, 5, 4];
const W: [u32; 4] = [3, 2, 3, 3];
const Y: [u32; 4] = [1, 3, 5, 4];

fn window() -> Window {
    Window {
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [1, 1, 1, 1],
    }
}

fn conv() -> Op {
    Op::Conv {
        window: window(),
        groups: 1,
        act: Activation::None,
        q: None,
    }
}

fn values(n: usize, k: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Runs `model` on `inputs` (one f32 vector per graph input) and returns output 0.
fn run(model: &[u8], inputs: &[&[f32]]) -> Result<Vec<f32>, Error> {
    let a = AlignedModel::new(model);
    let m = a.model()?;
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    for (i, v) in inputs.iter().enumerate() {
        s.set_input_bytes(i, &bytes(v))?;
    }
    s.run()?;
    let mut y = vec![0f32; m.output_len(0)?];
    s.output_f32(0, &mut y)?;
    Ok(y)
}

fn load(model: &[u8]) -> Result<(), Error> {
    AlignedModel::new(model).model().map(|_| ())
}

/// `Conv(x, w, b)` with `w` a graph input of shape `w_shape`.
fn input_weights(w_shape: &[u32]) -> Vec<u8> {
    let mut m = ModelBuilder::new("conv_input_weights");
    let x = m.add_tensor("x", DType::F32, &X, Quant::None).unwrap();
    let w = m.add_tensor("w", DType::F32, w_shape, Quant::None).unwrap();
    let b = m.add_const_f32("b", &[W[0]], &[0.5, -0.25, 1.0]).unwrap();
    let y = m.add_tensor("y", DType::F32, &Y, Quant::None).unwrap();
    m.add_op(conv(), &[x, w, b], &[y]).unwrap();
    m.set_io(&[x, w], &[y]).unwrap();
    m.finish().unwrap()
}

#[test]
fn f32_conv_reads_weights_from_a_graph_input() {
    let xv = values(X.iter().product::<u32>() as usize, 0.37);
    let wv = values(W.iter().product::<u32>() as usize, 0.91);

    let mut m = ModelBuilder::new("conv_const_weights");
    let x = m.add_tensor("x", DType::F32, &X, Quant::None).unwrap();
    let w = m.add_const_f32("w", &W, &wv).unwrap();
    let b = m.add_const_f32("b", &[W[0]], &[0.5, -0.25, 1.0]).unwrap();
    let y = m.add_tensor("y", DType::F32, &Y, Quant::None).unwrap();
    m.add_op(conv(), &[x, w, b], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let want = run(&m.finish().unwrap(), &[&xv]).unwrap();

    let got = run(&input_weights(&W), &[&xv, &wv]).unwrap();
    assert_eq!(got, want);
}

#[test]
fn f32_conv_reads_weights_computed_in_the_graph() {
    // w = w0 * 2 (a Binary op writes the weights into the arena), then Conv.
    let xv = values(X.iter().product::<u32>() as usize, 0.37);
    let wv = values(W.iter().product::<u32>() as usize, 0.91);
    let w2: Vec<f32> = wv.iter().map(|v| v * 2.0).collect();

    let mut m = ModelBuilder::new("conv_computed_weights");
    let x = m.add_tensor("x", DType::F32, &X, Quant::None).unwrap();
    let w0 = m.add_const_f32("w0", &W, &wv).unwrap();
    let two = m.add_const_f32("two", &[1], &[2.0]).unwrap();
    let w = m.add_tensor("w", DType::F32, &W, Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &Y, Quant::None).unwrap();
    m.add_op(
        Op::Binary {
            op: ferrite::format::types::BinaryOp::Mul,
            act: Activation::None,
            q: None,
        },
        &[w0, two],
        &[w],
    )
    .unwrap();
    m.add_op(conv(), &[x, w], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let got = run(&m.finish().unwrap(), &[&xv]).unwrap();

    let mut m = ModelBuilder::new("conv_const_weights");
    let x = m.add_tensor("x", DType::F32, &X, Quant::None).unwrap();
    let w = m.add_const_f32("w", &W, &w2).unwrap();
    let y = m.add_tensor("y", DType::F32, &Y, Quant::None).unwrap();
    m.add_op(conv(), &[x, w], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let want = run(&m.finish().unwrap(), &[&xv]).unwrap();
    assert_eq!(got, want);
}

#[test]
fn arena_weights_with_a_wrong_shape_are_rejected_at_load() {
    for bad in [
        vec![3, 2, 3, 2], // kernel width differs from the window
        vec![3, 1, 3, 3], // input channels differ
        vec![3, 2, 9],    // rank differs
        vec![4, 2, 3, 3], // output channels differ from y
    ] {
        let model = input_weights(&bad);
        assert!(
            matches!(load(&model), Err(Error::BadOp { .. })),
            "weights {bad:?}: {:?}",
            load(&model)
        );
    }
    load(&input_weights(&W)).unwrap();
}

/// An int8 Conv model whose weights are a graph input or, with `constant`, a constant.
fn int8_conv(constant: bool) -> Vec<u8> {
    let mut m = ModelBuilder::new("int8_conv");
    let q = |s: f32| Quant::PerTensor {
        scale: s,
        zero_point: 0,
    };
    let x = m.add_tensor("x", DType::I8, &X, q(0.05)).unwrap();
    let w = if constant {
        m.add_const("w", DType::I8, &W, &[1u8; 54], q(0.01))
    } else {
        m.add_tensor("w", DType::I8, &W, q(0.01))
    }
    .unwrap();
    let y = m.add_tensor("y", DType::I8, &Y, q(0.1)).unwrap();
    let requant = m.add_i32_blob(&[1 << 30, -3]);
    let op = Op::Conv {
        window: window(),
        groups: 1,
        act: Activation::None,
        q: Some(QParams {
            requant,
            channels: 1,
            act_min: -128,
            act_max: 127,
        }),
    };
    m.add_op(op, &[x, w], &[y]).unwrap();
    let inputs: &[u32] = if constant { &[x] } else { &[x, w] };
    m.set_io(inputs, &[y]).unwrap();
    m.finish().unwrap()
}

#[test]
fn int8_conv_still_needs_constant_weights() {
    assert!(matches!(load(&int8_conv(false)), Err(Error::BadOp { .. })));
    // The same op with constant weights loads.
    load(&int8_conv(true)).unwrap();
}
