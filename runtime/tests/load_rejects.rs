//! `Model::load` rejects every crafted model whose op operands, quantization
//! parameters, tensors or arena plan disagree with what the kernels index. Each case
//! pairs a model that loads and runs with one that differs in a single field and must
//! be a load error, so a test pins the one check that rejects it (found by mutating
//! the validator (now `validate.rs` and the op checks under `ops/`): most of these
//! checks could be dropped without any test failing).
//! The builder only writes consistent plans, so the plan cases patch the graph
//! records of a built model. The two tests at the end pinned models that the validator
//! accepted and the executor then mishandled (Pad of i32/i64, int8 AvgPool without a
//! scale), until both were fixed.

use ferrite::classic::{Node, NodeMode};
use ferrite::format::types::{
    Activation, Aggregate, BinaryOp, DType, Norm, Op, PostTransform, QBinary, QParams, Quant,
    Requant, UnaryOp, Window,
};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession, Section};

mod patch;
use patch::{patch_graph, patch_location, u32_at};

/// An operand of the op under test: a graph input in the arena, or a constant.
#[derive(Clone, Debug)]
enum T {
    In(DType, Vec<u32>, Quant),
    Const(DType, Vec<u32>, Vec<u8>, Quant),
}

fn q(scale: f32, zero_point: i32) -> Quant {
    Quant::PerTensor { scale, zero_point }
}

fn f32_in(shape: &[u32]) -> T {
    T::In(DType::F32, shape.to_vec(), Quant::None)
}

fn i8_in(shape: &[u32]) -> T {
    T::In(DType::I8, shape.to_vec(), q(0.05, 0))
}

fn f32_const(shape: &[u32], v: &[f32]) -> T {
    let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    T::Const(DType::F32, shape.to_vec(), b, Quant::None)
}

fn i32_const(shape: &[u32], v: &[i32]) -> T {
    let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    T::Const(DType::I32, shape.to_vec(), b, Quant::None)
}

fn filled(shape: &[u32], v: f32) -> T {
    let n = shape.iter().product::<u32>() as usize;
    f32_const(shape, &vec![v; n])
}

fn i8_const(shape: &[u32], quant: Quant) -> T {
    let n = shape.iter().product::<u32>() as usize;
    T::Const(DType::I8, shape.to_vec(), vec![1; n], quant)
}

/// The output of the op under test (the graph output): dtype, shape, quantization.
type Out = (DType, Vec<u32>, Quant);

/// The output of a one-axis case for a given length.
type OutOfLen = fn(u32) -> Out;

/// A named edit of a good case that must make it a load error.
type Edit<S> = (&'static str, fn(&mut S));

fn out(dtype: DType, shape: &[u32], quant: Quant) -> Out {
    (dtype, shape.to_vec(), quant)
}

fn f32_out(shape: &[u32]) -> Out {
    out(DType::F32, shape, Quant::None)
}

fn i8_out(shape: &[u32]) -> Out {
    out(DType::I8, shape, q(0.1, 0))
}

/// A model of one op: `op` gets the builder to add its tables (requantization pairs)
/// to the weights.
fn model(op: impl FnOnce(&mut ModelBuilder) -> Op, ins: &[T], (dt, shape, quant): Out) -> Vec<u8> {
    let mut m = ModelBuilder::new("load_rejects");
    let mut ids = Vec::new();
    let mut inputs = Vec::new();
    for (k, t) in ins.iter().enumerate() {
        let name = format!("in{k}");
        let id = match t {
            T::In(dt, s, qt) => {
                let id = m.add_tensor(&name, *dt, s, *qt).unwrap();
                inputs.push(id);
                id
            }
            T::Const(dt, s, b, qt) => m.add_const(&name, *dt, s, b, *qt).unwrap(),
        };
        ids.push(id);
    }
    let y = m.add_tensor("y", dt, &shape, quant).unwrap();
    let op = op(&mut m);
    m.add_op(op, &ids, &[y]).unwrap();
    m.set_io(&inputs, &[y]).unwrap();
    m.finish().unwrap()
}

fn load(bytes: &[u8]) -> Result<(), Error> {
    AlignedModel::new(bytes).model().map(|_| ())
}

/// The model loads, and runs on inputs of ones.
#[track_caller]
fn runs(what: &str, bytes: &[u8]) {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    for i in 0..m.num_inputs() {
        let len = m.input(i).unwrap().byte_len().unwrap();
        s.set_input_bytes(i, &vec![1u8; len]).unwrap();
    }
    s.run().unwrap_or_else(|e| panic!("{what}: run: {e:?}"));
}

#[track_caller]
fn bad_op(what: &str, bytes: &[u8]) {
    let r = load(bytes);
    assert!(
        matches!(r, Err(Error::BadOp { op: 0, .. })),
        "{what}: {r:?}"
    );
}

#[track_caller]
fn bad_tensor(what: &str, bytes: &[u8]) {
    let r = load(bytes);
    assert!(matches!(r, Err(Error::BadTensor { .. })), "{what}: {r:?}");
}

fn no_op(op: Op) -> impl FnOnce(&mut ModelBuilder) -> Op {
    move |_| op
}

/// `Error::BadOp` names the check that failed: one model per reason.
#[test]
fn bad_op_reasons_name_the_failed_check() {
    let reshape = |ins: &[T], y| model(no_op(Op::Reshape), ins, y);
    let w = || i8_const(&[3, 4], q(0.01, 0));
    let linear = Op::Linear {
        post: PostTransform::None,
    };
    let nan_weight = f32_const(&[2, 2], &[1.0, f32::NAN, 0.0, 0.0]);
    let cases = [
        (
            OpReason::Arity,
            reshape(&[f32_in(&[2]), f32_in(&[2])], f32_out(&[2])),
        ),
        (
            OpReason::DType,
            model(
                no_op(Op::Unary { op: UnaryOp::Relu }),
                &[i8_in(&[2])],
                i8_out(&[2]),
            ),
        ),
        (OpReason::Shape, reshape(&[f32_in(&[2])], f32_out(&[3]))),
        (
            OpReason::Attribute,
            conv(
                &[1, 2, 5, 4],
                &[3, 2, 3, 3],
                &[1, 3, 5, 4],
                win([3, 3], [1, 1], [1; 4]),
                0,
            ),
        ),
        (OpReason::Quantization, fc_int8(w(), &[RQ], (10, -10))),
        (
            OpReason::NotConstant,
            fc_int8(T::In(DType::I8, vec![3, 4], q(0.01, 0)), &[RQ], (-128, 127)),
        ),
        (
            OpReason::ConstantData,
            model(
                no_op(linear),
                &[f32_in(&[1, 2]), nan_weight, f32_const(&[2], &[0.0; 2])],
                f32_out(&[1, 2]),
            ),
        ),
    ];
    for (reason, bytes) in cases {
        assert_eq!(load(&bytes), Err(Error::BadOp { op: 0, reason }));
        let message = load(&bytes).unwrap_err().to_string();
        assert!(message.ends_with(reason.describe()), "{message}");
    }
}

// ---------------------------------------------------------------- FullyConnected

/// Per-tensor int8 parameters: `pairs` (multiplier, shift) and the clamp.
fn qparams(m: &mut ModelBuilder, pairs: &[[i32; 2]], act: (i32, i32)) -> QParams {
    let flat: Vec<i32> = pairs.iter().flatten().copied().collect();
    QParams {
        requant: m.add_i32_blob(&flat),
        channels: pairs.len() as u32,
        act_min: act.0,
        act_max: act.1,
    }
}

const RQ: [i32; 2] = [1 << 30, -3];

fn fc_f32(xs: &[u32], ws: &[u32], ys: &[u32]) -> Vec<u8> {
    let fc = Op::FullyConnected {
        act: Activation::None,
        q: None,
    };
    model(no_op(fc), &[f32_in(xs), filled(ws, 0.5)], f32_out(ys))
}

fn fc_int8(w: T, pairs: &[[i32; 2]], act: (i32, i32)) -> Vec<u8> {
    let pairs = pairs.to_vec();
    model(
        move |m| Op::FullyConnected {
            act: Activation::None,
            q: Some(qparams(m, &pairs, act)),
        },
        &[i8_in(&[2, 4]), w],
        i8_out(&[2, 3]),
    )
}

#[test]
fn fully_connected_operands_of_other_shapes_are_load_errors() {
    runs("good", &fc_f32(&[2, 4], &[3, 4], &[2, 3]));
    bad_op("x rows of 5 for k = 4", &fc_f32(&[2, 5], &[3, 4], &[2, 3]));
    bad_op("x rows of 3 for k = 4", &fc_f32(&[2, 3], &[3, 4], &[2, 3]));
    bad_op(
        "output of higher rank",
        &fc_f32(&[2, 4], &[3, 4], &[2, 3, 2]),
    );
    bad_op("output batch 3 for 2", &fc_f32(&[2, 4], &[3, 4], &[3, 3]));
    bad_op(
        "output width 4 for n = 3",
        &fc_f32(&[2, 4], &[3, 4], &[2, 4]),
    );
}

#[test]
fn int8_fully_connected_parameters_out_of_range_are_load_errors() {
    let w = || i8_const(&[3, 4], q(0.01, 0));
    runs("per tensor", &fc_int8(w(), &[RQ], (-128, 127)));
    runs("per channel", &fc_int8(w(), &[RQ; 3], (-128, 127)));
    let weights_input = T::In(DType::I8, vec![3, 4], q(0.01, 0));
    bad_op(
        "int8 weights not constant",
        &fc_int8(weights_input, &[RQ], (-128, 127)),
    );
    let u8_weights = T::Const(DType::U8, vec![3, 4], vec![1; 12], q(0.01, 0));
    bad_op("u8 weights", &fc_int8(u8_weights, &[RQ], (-128, 127)));
    bad_op(
        "2 requant pairs for 3 channels",
        &fc_int8(w(), &[RQ; 2], (-128, 127)),
    );
    bad_op(
        "4 requant pairs for 3 channels",
        &fc_int8(w(), &[RQ; 4], (-128, 127)),
    );
    bad_op("act_min > act_max", &fc_int8(w(), &[RQ], (10, -10)));
    bad_op("act_min below int8", &fc_int8(w(), &[RQ], (-129, 127)));
    bad_op("act_max above int8", &fc_int8(w(), &[RQ], (-128, 128)));
    bad_op(
        "multiplier below 2^30",
        &fc_int8(w(), &[[5, -3]], (-128, 127)),
    );
    bad_op(
        "negative multiplier",
        &fc_int8(w(), &[[-(1 << 30), -3]], (-128, 127)),
    );
    bad_op("shift of 31", &fc_int8(w(), &[[1 << 30, 31]], (-128, 127)));
    bad_op(
        "shift of -32",
        &fc_int8(w(), &[[1 << 30, -32]], (-128, 127)),
    );
    let fc = |x: T, y| {
        model(
            |m| Op::FullyConnected {
                act: Activation::None,
                q: Some(qparams(m, &[RQ], (-128, 127))),
            },
            &[x, w()],
            y,
        )
    };
    bad_op("f32 x", &fc(f32_in(&[2, 4]), i8_out(&[2, 3])));
    let no_quant_x = T::In(DType::I8, vec![2, 4], Quant::None);
    bad_op("x without quantization", &fc(no_quant_x, i8_out(&[2, 3])));
    bad_op(
        "output without quantization",
        &fc(i8_in(&[2, 4]), out(DType::I8, &[2, 3], Quant::None)),
    );
    let fc_table_at = |off: u32| {
        model(
            move |_| Op::FullyConnected {
                act: Activation::None,
                q: Some(QParams {
                    requant: off,
                    channels: 1,
                    act_min: -128,
                    act_max: 127,
                }),
            },
            &[i8_in(&[2, 4]), w()],
            i8_out(&[2, 3]),
        )
    };
    bad_op("requant table past the weights", &fc_table_at(1 << 20));
}

#[test]
fn fused_clip_with_nan_or_min_above_max_is_a_load_error() {
    let fc = |act| {
        let op = Op::FullyConnected { act, q: None };
        model(
            no_op(op),
            &[f32_in(&[1, 4]), filled(&[3, 4], 0.5)],
            f32_out(&[1, 3]),
        )
    };
    runs("clip 0..6", &fc(Activation::Clip { min: 0.0, max: 6.0 }));
    for (min, max) in [(f32::NAN, 6.0), (0.0, f32::NAN), (6.0, 0.0)] {
        bad_op(
            &format!("clip {min}..{max}"),
            &fc(Activation::Clip { min, max }),
        );
    }
}

// ---------------------------------------------------------------- Conv and pools

fn win(kernel: [u32; 2], stride: [u32; 2], pads: [u32; 4]) -> Window {
    Window {
        kernel,
        stride,
        dilation: [1, 1],
        pads,
    }
}

fn conv(xs: &[u32], ws: &[u32], ys: &[u32], window: Window, groups: u32) -> Vec<u8> {
    let op = Op::Conv {
        window,
        groups,
        act: Activation::None,
        q: None,
    };
    model(no_op(op), &[f32_in(xs), filled(ws, 0.5)], f32_out(ys))
}

#[test]
fn conv_geometry_that_disagrees_with_the_weights_is_a_load_error() {
    let w3 = win([3, 3], [1, 1], [1, 1, 1, 1]);
    let (xs, ws, ys) = (&[1, 2, 5, 4][..], &[3, 2, 3, 3][..], &[1, 3, 5, 4][..]);
    runs("good", &conv(xs, ws, ys, w3, 1));
    runs(
        "groups 2",
        &conv(&[1, 4, 5, 4], &[4, 2, 3, 3], &[1, 4, 5, 4], w3, 2),
    );
    bad_op("groups 0", &conv(xs, ws, ys, w3, 0));
    bad_op(
        "3 input channels for 2",
        &conv(&[1, 3, 5, 4], ws, ys, w3, 1),
    );
    bad_op(
        "3 output channels in 2 groups",
        &conv(&[1, 4, 5, 4], ws, ys, w3, 2),
    );
    let w2 = win([2, 2], [1, 1], [1, 1, 1, 1]);
    bad_op(
        "window 2x2 over 3x3 weights",
        &conv(xs, ws, &[1, 3, 6, 5], w2, 1),
    );
    bad_op(
        "rank-3 weights for a 2D conv",
        &conv(xs, &[3, 2, 9], ys, w3, 1),
    );
    bad_op(
        "4 output channels for 3",
        &conv(xs, ws, &[1, 4, 5, 4], w3, 1),
    );
    bad_op("output batch 2", &conv(xs, ws, &[2, 3, 5, 4], w3, 1));
    bad_op("output width 5 for 4", &conv(xs, ws, &[1, 3, 5, 5], w3, 1));
    bad_op("output height 4 for 5", &conv(xs, ws, &[1, 3, 4, 4], w3, 1));
    bad_op("rank-5 input", &conv(&[1, 2, 5, 4, 1], ws, ys, w3, 1));
}

#[test]
fn a_1d_window_with_height_padding_is_a_load_error() {
    let (xs, ws, ys) = (&[1, 2, 5][..], &[3, 2, 3][..], &[1, 3, 5][..]);
    runs(
        "good",
        &conv(xs, ws, ys, win([1, 3], [1, 1], [0, 1, 0, 1]), 1),
    );
    // Height 1 padded above and stepped by 2 still gives one output row, read from
    // the padding.
    let w = win([1, 3], [2, 1], [1, 1, 0, 1]);
    bad_op("conv, top padding", &conv(xs, ws, ys, w, 1));
    let pool = Op::MaxPool { window: w };
    let p = model(no_op(pool), &[f32_in(&[1, 2, 5])], f32_out(&[1, 2, 5]));
    bad_op("max pool, top padding", &p);
}

fn pool(op: Op, x: T, y: Out) -> Vec<u8> {
    model(no_op(op), &[x], y)
}

#[test]
fn pool_outputs_of_another_shape_dtype_or_scale_are_load_errors() {
    let w = win([2, 2], [2, 2], [0; 4]);
    let max = Op::MaxPool { window: w };
    let avg = Op::AvgPool {
        window: w,
        count_include_pad: false,
    };
    for op in [max.clone(), avg] {
        let x = || f32_in(&[1, 2, 5, 4]);
        runs("floor", &pool(op.clone(), x(), f32_out(&[1, 2, 2, 2])));
        runs("ceil", &pool(op.clone(), x(), f32_out(&[1, 2, 3, 2])));
        let i8_y = out(DType::I8, &[1, 2, 2, 2], q(0.05, 0));
        runs("int8", &pool(op.clone(), i8_in(&[1, 2, 5, 4]), i8_y));
        bad_op("4 rows", &pool(op.clone(), x(), f32_out(&[1, 2, 4, 2])));
        bad_op("3 channels", &pool(op.clone(), x(), f32_out(&[1, 3, 2, 2])));
        bad_op("rank 3", &pool(op.clone(), x(), f32_out(&[1, 2, 4])));
        bad_op("i8 output", &pool(op.clone(), x(), i8_out(&[1, 2, 2, 2])));
        let rescaled = out(DType::I8, &[1, 2, 2, 2], q(0.2, 3));
        bad_op(
            "int8 rescaled",
            &pool(op.clone(), i8_in(&[1, 2, 5, 4]), rescaled),
        );
        let i32_x = T::In(DType::I32, vec![1, 2, 5, 4], Quant::None);
        let i32_y = out(DType::I32, &[1, 2, 2, 2], Quant::None);
        bad_op("i32", &pool(op.clone(), i32_x, i32_y));
    }
    for kernel in [[0, 2], [2, 0]] {
        let op = Op::MaxPool {
            window: win(kernel, [1, 1], [0; 4]),
        };
        bad_op(
            "kernel 0",
            &pool(op, f32_in(&[1, 2, 5, 4]), f32_out(&[1, 2, 4, 4])),
        );
    }
    let zero_stride = Op::MaxPool {
        window: win([2, 2], [0, 1], [0; 4]),
    };
    let p = pool(zero_stride, f32_in(&[1, 2, 5, 4]), f32_out(&[1, 2, 4, 3]));
    bad_op("stride 0", &p);
}

#[test]
fn global_pool_outputs_not_n_c_1_1_are_load_errors() {
    for op in [Op::GlobalAvgPool, Op::GlobalMaxPool] {
        let p = |xs: &[u32], ys: &[u32]| pool(op.clone(), f32_in(xs), f32_out(ys));
        runs("good", &p(&[1, 2, 3, 3], &[1, 2, 1, 1]));
        bad_op("1x2 output plane", &p(&[1, 2, 3, 3], &[1, 2, 1, 2]));
        bad_op("3 channels", &p(&[1, 2, 3, 3], &[1, 3, 1, 1]));
        bad_op("batch 2", &p(&[1, 2, 3, 3], &[2, 2, 1, 1]));
        bad_op("rank 2", &p(&[2, 3], &[2, 3]));
        bad_op("output rank 3", &p(&[1, 2, 3, 3], &[1, 2, 1]));
        let i8_y = out(DType::I8, &[1, 2, 1, 1], q(0.05, 0));
        bad_op("f32 to i8", &pool(op.clone(), f32_in(&[1, 2, 3, 3]), i8_y));
        let rescaled = out(DType::I8, &[1, 2, 1, 1], q(0.5, 0));
        bad_op(
            "int8 rescaled",
            &pool(op.clone(), i8_in(&[1, 2, 3, 3]), rescaled),
        );
    }
}

// ---------------------------------------------------------------- math

#[test]
fn matmul_shapes_that_do_not_chain_are_load_errors() {
    let mm = |a: &[u32], b: &[u32], y: &[u32]| {
        model(no_op(Op::MatMul), &[f32_in(a), f32_in(b)], f32_out(y))
    };
    runs("good", &mm(&[2, 3], &[3, 4], &[2, 4]));
    runs("batched", &mm(&[2, 2, 3], &[3, 4], &[2, 2, 4]));
    bad_op("k 3 against 5", &mm(&[2, 3], &[5, 4], &[2, 4]));
    bad_op("output 2x5", &mm(&[2, 3], &[3, 4], &[2, 5]));
    bad_op("output transposed", &mm(&[2, 3], &[3, 4], &[4, 2]));
    bad_op("batches 2 and 3", &mm(&[2, 2, 3], &[3, 3, 4], &[2, 2, 4]));
    let i8_b = T::In(DType::I8, vec![3, 4], q(0.1, 0));
    let p = model(
        no_op(Op::MatMul),
        &[f32_in(&[2, 3]), i8_b],
        f32_out(&[2, 4]),
    );
    bad_op("int8 operand", &p);
}

fn add_f32(a: &[u32], b: &[u32], y: &[u32]) -> Vec<u8> {
    let op = Op::Binary {
        op: BinaryOp::Add,
        act: Activation::None,
        q: None,
    };
    model(no_op(op), &[f32_in(a), f32_in(b)], f32_out(y))
}

fn qbinary() -> QBinary {
    let rq = Requant {
        multiplier: 1 << 30,
        shift: 0,
    };
    QBinary {
        a_zero_point: 0,
        b_zero_point: 0,
        out_zero_point: 0,
        left_shift: 20,
        a: rq,
        b: rq,
        out: Requant {
            multiplier: 1 << 30,
            shift: -19,
        },
        act_min: -128,
        act_max: 127,
    }
}

fn binary_int8(op: BinaryOp, qb: QBinary) -> Vec<u8> {
    let op = Op::Binary {
        op,
        act: Activation::None,
        q: Some(qb),
    };
    model(no_op(op), &[i8_in(&[2, 3]), i8_in(&[3])], i8_out(&[2, 3]))
}

#[test]
fn binary_shapes_that_do_not_broadcast_to_the_output_are_load_errors() {
    runs("good", &add_f32(&[2, 3], &[3], &[2, 3]));
    runs("both broadcast", &add_f32(&[2, 1], &[1, 3], &[2, 3]));
    bad_op("output 3x3", &add_f32(&[2, 3], &[3], &[3, 3]));
    bad_op("output 2x3x1", &add_f32(&[2, 3], &[3], &[2, 3, 1]));
    bad_op("3 against 4", &add_f32(&[2, 3], &[4], &[2, 4]));
    bad_op("4 against 3", &add_f32(&[2, 4], &[3], &[2, 4]));
    bad_op("2x3 against 4x3", &add_f32(&[2, 3], &[4, 3], &[4, 3]));
}

#[test]
fn int8_binary_parameters_out_of_range_are_load_errors() {
    runs("add", &binary_int8(BinaryOp::Add, qbinary()));
    runs("mul", &binary_int8(BinaryOp::Mul, qbinary()));
    bad_op("int8 div", &binary_int8(BinaryOp::Div, qbinary()));
    let cases: [Edit<QBinary>; 11] = [
        ("left shift 21", |q| q.left_shift = 21),
        ("left shift -1", |q| q.left_shift = -1),
        ("a zero point 128", |q| q.a_zero_point = 128),
        ("b zero point -129", |q| q.b_zero_point = -129),
        ("out zero point 1000", |q| q.out_zero_point = 1000),
        ("a multiplier 7", |q| q.a.multiplier = 7),
        ("b shift 31", |q| q.b.shift = 31),
        ("out shift -32", |q| q.out.shift = -32),
        ("act_min > act_max", |q| (q.act_min, q.act_max) = (5, -5)),
        ("act_min -129", |q| q.act_min = -129),
        ("act_max 128", |q| q.act_max = 128),
    ];
    for (what, f) in cases {
        let mut qb = qbinary();
        f(&mut qb);
        bad_op(what, &binary_int8(BinaryOp::Add, qb));
    }
}

// ---------------------------------------------------------------- tables

fn lut(table: T, ys: &[u32]) -> Vec<u8> {
    let y = out(DType::I8, ys, q(0.05, 0));
    model(no_op(Op::Lut), &[i8_in(&[4]), table], y)
}

#[test]
fn lut_tables_not_of_256_constant_bytes_are_load_errors() {
    let table = |n: u32| T::Const(DType::I8, vec![n], vec![7; n as usize], Quant::None);
    runs("good", &lut(table(256), &[4]));
    bad_op("255 entries", &lut(table(255), &[4]));
    bad_op("16 entries", &lut(table(16), &[4]));
    bad_op("257 entries", &lut(table(257), &[4]));
    bad_op(
        "table in the arena",
        &lut(T::In(DType::I8, vec![256], Quant::None), &[4]),
    );
    bad_op("5 outputs for 4", &lut(table(256), &[5]));
    bad_op("i32 table", &lut(i32_const(&[256], &[1; 256]), &[4]));
}

fn softmax_int8(axis: u8, table: T) -> Vec<u8> {
    let y = out(DType::I8, &[2, 3], q(1.0 / 256.0, -128));
    let op = Op::Softmax { axis, log: false };
    model(no_op(op), &[i8_in(&[2, 3]), table], y)
}

#[test]
fn softmax_axes_and_tables_out_of_range_are_load_errors() {
    let sm = |axis, ys: &[u32]| {
        let op = Op::Softmax { axis, log: false };
        model(no_op(op), &[f32_in(&[2, 3])], f32_out(ys))
    };
    runs("f32", &sm(1, &[2, 3]));
    bad_op("axis 2 of rank 2", &sm(2, &[2, 3]));
    bad_op("output 3x2", &sm(1, &[3, 2]));
    let table = |n: usize, first: i32| {
        let mut v = vec![1000; n];
        v[0] = first;
        i32_const(&[n as u32], &v)
    };
    runs("int8", &softmax_int8(1, table(256, 1 << 16)));
    bad_op("int8 axis 2", &softmax_int8(2, table(256, 1 << 16)));
    bad_op("255-entry table", &softmax_int8(1, table(255, 1 << 16)));
    bad_op("table[0] = 0", &softmax_int8(1, table(256, 0)));
    bad_op("f32 table", &softmax_int8(1, filled(&[256], 1.0)));
    let arena_table = T::In(DType::I32, vec![256], Quant::None);
    bad_op("table in the arena", &softmax_int8(1, arena_table));
    let op = Op::Softmax {
        axis: 1,
        log: false,
    };
    let y = out(DType::I8, &[2, 3], q(0.1, 0));
    let p = model(no_op(op), &[i8_in(&[2, 3]), table(256, 1 << 16)], y);
    bad_op("output scale not 1/256", &p);
}

// ---------------------------------------------------------------- shape ops

#[test]
fn reshape_to_another_element_count_is_a_load_error() {
    let r = |ys: &[u32]| model(no_op(Op::Reshape), &[f32_in(&[2, 3])], f32_out(ys));
    runs("good", &r(&[6]));
    bad_op("7 elements", &r(&[7]));
    bad_op("12 elements", &r(&[2, 6]));
}

#[test]
fn transpose_with_a_bad_permutation_or_output_is_a_load_error() {
    let t = |perm: &[u8], ys: &[u32]| {
        let op = Op::Transpose {
            perm: heapless::Vec::from_slice(perm).unwrap(),
        };
        model(no_op(op), &[f32_in(&[2, 3, 4])], f32_out(ys))
    };
    runs("good", &t(&[2, 0, 1], &[4, 2, 3]));
    bad_op("axis 0 twice", &t(&[0, 0, 1], &[2, 2, 3]));
    bad_op("axis 3 of rank 3", &t(&[3, 0, 1], &[4, 2, 3]));
    bad_op("output 4x3x2", &t(&[2, 0, 1], &[4, 3, 2]));
    bad_op("short permutation", &t(&[1, 0], &[3, 2, 4]));
}

#[test]
fn concat_parts_that_do_not_tile_the_output_are_load_errors() {
    let c = |ins: &[T], ys: &[u32]| model(no_op(Op::Concat { axis: 1 }), ins, f32_out(ys));
    runs("good", &c(&[f32_in(&[2, 3]), f32_in(&[2, 2])], &[2, 5]));
    bad_op(
        "output 6 wide",
        &c(&[f32_in(&[2, 3]), f32_in(&[2, 2])], &[2, 6]),
    );
    bad_op(
        "output 4 wide",
        &c(&[f32_in(&[2, 3]), f32_in(&[2, 2])], &[2, 4]),
    );
    bad_op(
        "3 rows and 2",
        &c(&[f32_in(&[2, 3]), f32_in(&[3, 2])], &[2, 5]),
    );
    bad_op(
        "rank 3 part",
        &c(&[f32_in(&[2, 3]), f32_in(&[2, 2, 2])], &[2, 5]),
    );
    let i32_part = T::In(DType::I32, vec![2, 2], Quant::None);
    bad_op("i32 part", &c(&[f32_in(&[2, 3]), i32_part], &[2, 5]));
    let op = Op::Concat { axis: 2 };
    let p = model(
        no_op(op),
        &[f32_in(&[2, 3]), f32_in(&[2, 2])],
        f32_out(&[2, 5]),
    );
    bad_op("axis 2 of rank 2", &p);
    let y = out(DType::I8, &[2, 5], q(0.05, 0));
    let rescaled = T::In(DType::I8, vec![2, 2], q(0.5, 0));
    let p = model(
        no_op(Op::Concat { axis: 1 }),
        &[i8_in(&[2, 3]), rescaled],
        y,
    );
    bad_op("int8 part of another scale", &p);
}

#[test]
fn pad_with_a_bad_output_or_fill_is_a_load_error() {
    let pad = |x: T, pads: &[u32], value: f32, y| {
        let op = Op::Pad {
            pads: heapless::Vec::from_slice(pads).unwrap(),
            value,
        };
        model(no_op(op), &[x], y)
    };
    let i8_y = |ys: &[u32]| out(DType::I8, ys, q(0.05, 0));
    runs(
        "f32",
        &pad(f32_in(&[2, 3]), &[1, 0, 0, 2], 0.5, f32_out(&[3, 5])),
    );
    runs(
        "int8",
        &pad(i8_in(&[2, 3]), &[1, 0, 0, 2], -3.0, i8_y(&[3, 5])),
    );
    bad_op(
        "6 wide",
        &pad(f32_in(&[2, 3]), &[1, 0, 0, 2], 0.0, f32_out(&[3, 6])),
    );
    bad_op(
        "4 wide",
        &pad(f32_in(&[2, 3]), &[1, 0, 0, 2], 0.0, f32_out(&[3, 4])),
    );
    bad_op(
        "2 pads for rank 2",
        &pad(f32_in(&[2, 3]), &[1, 2], 0.0, f32_out(&[3, 5])),
    );
    for v in [300.0, -129.0, 0.5, f32::NAN, f32::INFINITY] {
        let p = pad(i8_in(&[2, 3]), &[1, 0, 0, 2], v, i8_y(&[3, 5]));
        bad_op(&format!("int8 fill {v}"), &p);
    }
    let p = pad(f32_in(&[2, 3]), &[1, 0, 0, 2], 0.0, i8_y(&[3, 5]));
    bad_op("f32 to i8", &p);
}

fn slice(x: T, starts: &[i32], steps: &[i32], y: Out) -> Vec<u8> {
    let op = Op::Slice {
        starts: heapless::Vec::from_slice(starts).unwrap(),
        steps: heapless::Vec::from_slice(steps).unwrap(),
    };
    model(no_op(op), &[x], y)
}

#[test]
fn slices_reading_outside_the_input_are_load_errors() {
    let s = |start, step, n: u32| slice(f32_in(&[5]), &[start], &[step], f32_out(&[n]));
    runs("1, 3", &s(1, 2, 2));
    runs("4, 2, 0", &s(4, -2, 3));
    bad_op("1, 3, 5", &s(1, 2, 3));
    bad_op("4, 2, 0, -2", &s(4, -2, 4));
    bad_op("start 5", &s(5, 1, 1));
    bad_op("start -1", &s(-1, 1, 1));
    bad_op("step 0", &s(0, 0, 1));
    bad_op("start -1 stepping into range", &s(-1, 1, 3));
    bad_op(
        "f32 to i32",
        &slice(f32_in(&[5]), &[1], &[2], out(DType::I32, &[2], Quant::None)),
    );
    bad_op(
        "2 starts for rank 1",
        &slice(f32_in(&[5]), &[1, 0], &[2], f32_out(&[2])),
    );
}

#[test]
fn argmax_with_a_bad_axis_or_output_is_a_load_error() {
    let am = |axis, keepdims, ys: &[u32]| {
        let op = Op::ArgMax {
            axis,
            keepdims,
            select_last: false,
        };
        model(
            no_op(op),
            &[f32_in(&[2, 3])],
            out(DType::I64, ys, Quant::None),
        )
    };
    runs("good", &am(1, false, &[2]));
    runs("keepdims", &am(1, true, &[2, 1]));
    bad_op("axis 2 of rank 2", &am(2, false, &[2]));
    bad_op("axis 2 of rank 2, output 2x3", &am(2, false, &[2, 3]));
    bad_op("axis 7 of rank 2, output 2x3", &am(7, false, &[2, 3]));
    bad_op("3 outputs for 2", &am(1, false, &[3]));
    bad_op("keepdims dropped", &am(1, true, &[2]));
    bad_op("axis 0 kept as 3", &am(0, false, &[2]));
}

// ---------------------------------------------------------------- element-wise

#[test]
fn elementwise_ops_with_another_output_shape_are_load_errors() {
    let rq = Requant {
        multiplier: 1 << 30,
        shift: 0,
    };
    let cases: Vec<(&str, Op, T, OutOfLen)> = vec![
        ("quantize", Op::Quantize, f32_in(&[4]), |n| i8_out(&[n])),
        ("dequantize", Op::Dequantize, i8_in(&[4]), |n| f32_out(&[n])),
        ("requantize", Op::Requantize { rq }, i8_in(&[4]), |n| {
            i8_out(&[n])
        }),
        ("cast", Op::Cast, f32_in(&[4]), |n| {
            out(DType::I32, &[n], Quant::None)
        }),
        (
            "normalize",
            Op::Normalize { norm: Norm::L2 },
            f32_in(&[4]),
            |n| f32_out(&[n]),
        ),
    ];
    for (what, op, x, y) in cases {
        runs(
            what,
            &model(no_op(op.clone()), core::slice::from_ref(&x), y(4)),
        );
        let five = model(no_op(op.clone()), core::slice::from_ref(&x), y(5));
        bad_op(&format!("{what}: 5 outputs for 4"), &five);
        bad_op(
            &format!("{what}: 3 outputs for 4"),
            &model(no_op(op), &[x], y(3)),
        );
    }
}

#[test]
fn quantization_ops_without_scales_or_with_bad_requant_are_load_errors() {
    let p = model(
        no_op(Op::Quantize),
        &[f32_in(&[4])],
        out(DType::I8, &[4], Quant::None),
    );
    bad_op("quantize without output scale", &p);
    let x = T::In(DType::I8, vec![4], Quant::None);
    bad_op(
        "dequantize without input scale",
        &model(no_op(Op::Dequantize), &[x], f32_out(&[4])),
    );
    for (multiplier, shift) in [(5, 0), (1 << 30, 31), (1 << 30, -32)] {
        let op = Op::Requantize {
            rq: Requant { multiplier, shift },
        };
        let p = model(no_op(op), &[i8_in(&[4])], i8_out(&[4]));
        bad_op(&format!("requantize by {multiplier} << {shift}"), &p);
    }
}

#[test]
fn lrn_of_size_0_is_a_load_error() {
    let lrn = |size| {
        let op = Op::Lrn {
            size,
            alpha: 1e-4,
            beta: 0.75,
            bias: 1.0,
        };
        model(no_op(op), &[f32_in(&[1, 3, 2, 2])], f32_out(&[1, 3, 2, 2]))
    };
    runs("size 3", &lrn(3));
    bad_op("size 0", &lrn(0));
}

#[test]
fn grid_sample_operands_of_other_shapes_or_dtypes_are_load_errors() {
    use ferrite::format::types::{GridMode, GridPadding};
    let gs = |x: T, grid: T, y: Out| {
        let op = Op::GridSample {
            mode: GridMode::Linear,
            padding: GridPadding::Zeros,
            align_corners: false,
        };
        model(no_op(op), &[x, grid], y)
    };
    runs(
        "2-D",
        &gs(
            f32_in(&[1, 3, 4, 5]),
            f32_in(&[1, 2, 6, 2]),
            f32_out(&[1, 3, 2, 6]),
        ),
    );
    runs(
        "3-D",
        &gs(
            f32_in(&[2, 1, 2, 3, 4]),
            f32_in(&[2, 1, 1, 5, 3]),
            f32_out(&[2, 1, 1, 1, 5]),
        ),
    );
    let cases = [
        (
            "grid of 3 coordinates for 2 axes",
            [1, 3, 4, 5],
            vec![1, 2, 6, 3],
            vec![1, 3, 2, 6],
        ),
        (
            "grid batch differs",
            [1, 3, 4, 5],
            vec![2, 2, 6, 2],
            vec![1, 3, 2, 6],
        ),
        (
            "output size differs from the grid's",
            [1, 3, 4, 5],
            vec![1, 2, 6, 2],
            vec![1, 3, 6, 2],
        ),
        (
            "output channels differ",
            [1, 3, 4, 5],
            vec![1, 2, 6, 2],
            vec![1, 2, 2, 6],
        ),
        (
            "grid rank differs",
            [1, 3, 4, 5],
            vec![1, 12, 2],
            vec![1, 3, 12],
        ),
    ];
    for (what, xs, g, ys) in cases {
        bad_op(what, &gs(f32_in(&xs), f32_in(&g), f32_out(&ys)));
    }
    bad_op(
        "int8 input",
        &gs(
            i8_in(&[1, 3, 4, 5]),
            f32_in(&[1, 2, 6, 2]),
            f32_out(&[1, 3, 2, 6]),
        ),
    );
    bad_op(
        "rank 2 input",
        &gs(f32_in(&[1, 3]), f32_in(&[1, 2]), f32_out(&[1, 3])),
    );
}

// ---------------------------------------------------------------- classic ML

fn linear(xs: &[u32], ws: &[u32], bs: &[u32], ys: &[u32]) -> Vec<u8> {
    let op = Op::Linear {
        post: PostTransform::None,
    };
    model(
        no_op(op),
        &[f32_in(xs), filled(ws, 0.5), filled(bs, 0.1)],
        f32_out(ys),
    )
}

#[test]
fn linear_operands_of_other_shapes_are_load_errors() {
    runs("good", &linear(&[2, 4], &[3, 4], &[3], &[2, 3]));
    bad_op("x rows of 5", &linear(&[2, 5], &[3, 4], &[3], &[2, 3]));
    bad_op("bias of 2", &linear(&[2, 4], &[3, 4], &[2], &[2, 3]));
    bad_op("bias of 4", &linear(&[2, 4], &[3, 4], &[4], &[2, 3]));
    bad_op("output 2x4", &linear(&[2, 4], &[3, 4], &[3], &[2, 4]));
    bad_op("output 3x3", &linear(&[2, 4], &[3, 4], &[3], &[3, 3]));
    let op = Op::Linear {
        post: PostTransform::None,
    };
    let mut w = vec![0.5; 12];
    w[5] = f32::NAN;
    let p = model(
        no_op(op),
        &[f32_in(&[2, 4]), f32_const(&[3, 4], &w), filled(&[3], 0.1)],
        f32_out(&[2, 3]),
    );
    bad_op("NaN weight", &p);
}

fn branch(feature: u32, a: u32, b: u32) -> [i32; 4] {
    Node {
        mode: NodeMode::BranchLeq,
        feature,
        threshold: 0.5,
        missing_true: false,
        a,
        b,
    }
    .encode()
}

fn leaf(first: u32, n: u32) -> [i32; 4] {
    Node {
        mode: NodeMode::Leaf,
        feature: 0,
        threshold: 0.0,
        missing_true: false,
        a: first,
        b: n,
    }
    .encode()
}

/// One tree over 2 features and 2 targets: node 0 branches to leaves 1 and 2.
#[derive(Clone)]
struct Trees {
    nodes: Vec<[i32; 4]>,
    roots: Vec<i32>,
    ids: Vec<i32>,
    ws: Vec<f32>,
    ys: Vec<u32>,
}

impl Trees {
    fn good() -> Trees {
        Trees {
            nodes: vec![branch(1, 1, 2), leaf(0, 1), leaf(1, 1)],
            roots: vec![0],
            ids: vec![0, 1],
            ws: vec![1.0, 2.0],
            ys: vec![1, 2],
        }
    }

    fn model(&self) -> Vec<u8> {
        let op = Op::TreeEnsemble {
            aggregate: Aggregate::Sum,
            post: PostTransform::None,
        };
        let nodes: Vec<i32> = self.nodes.iter().flatten().copied().collect();
        let ins = [
            f32_in(&[1, 2]),
            i32_const(&[self.nodes.len() as u32, 4], &nodes),
            i32_const(&[self.roots.len() as u32], &self.roots),
            i32_const(&[self.ids.len() as u32], &self.ids),
            f32_const(&[self.ws.len() as u32], &self.ws),
            filled(&[2], 0.0),
        ];
        model(no_op(op), &ins, f32_out(&self.ys))
    }
}

#[test]
fn tree_ensembles_with_indices_out_of_range_or_cycles_are_load_errors() {
    runs("good", &Trees::good().model());
    let cases: [Edit<Trees>; 13] = [
        ("leaf target 2 of 2", |t| t.ids[1] = 2),
        ("leaf target -1", |t| t.ids[0] = -1),
        ("root 3 of 3 nodes", |t| t.roots[0] = 3),
        ("root -1", |t| t.roots[0] = -1),
        ("leaf entries past the end", |t| t.nodes[2] = leaf(1, 2)),
        ("leaf first past the end", |t| t.nodes[2] = leaf(2, 1)),
        ("feature 2 of 2", |t| t.nodes[0] = branch(2, 1, 2)),
        ("branch to itself", |t| t.nodes[0] = branch(0, 0, 2)),
        ("false branch to itself", |t| t.nodes[0] = branch(0, 1, 0)),
        ("child 3 of 3 nodes", |t| t.nodes[0] = branch(0, 1, 3)),
        ("output of 3 targets", |t| t.ys = vec![1, 3]),
        ("output batch 2", |t| t.ys = vec![2, 2]),
        ("3 leaf targets, 2 weights", |t| t.ids.push(0)),
    ];
    for (what, f) in cases {
        let mut t = Trees::good();
        f(&mut t);
        bad_op(what, &t.model());
    }
    let mut back = Trees::good();
    back.nodes = vec![branch(0, 1, 2), branch(0, 0, 2), leaf(0, 1)];
    bad_op("branch back to the root", &back.model());
}

// ---------------------------------------------------------------- tensors and golden data

#[test]
fn tensors_with_empty_dims_short_data_or_bad_scales_are_load_errors() {
    let fc = |w: T, x: T| {
        let op = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        model(no_op(op), &[x, w], f32_out(&[1, 3]))
    };
    runs("good", &fc(filled(&[3, 4], 0.5), f32_in(&[1, 4])));
    let short = T::Const(DType::F32, vec![3, 4], vec![0; 40], Quant::None);
    bad_tensor("weights 8 bytes short", &fc(short, f32_in(&[1, 4])));
    let r = |xs: &[u32], ys: &[u32]| model(no_op(Op::Reshape), &[f32_in(xs)], f32_out(ys));
    bad_tensor("dim 0", &r(&[2, 0], &[0]));
    for zero_point in [128, -129] {
        let x = T::In(DType::I8, vec![4], q(0.1, zero_point));
        let p = model(no_op(Op::Dequantize), &[x], f32_out(&[4]));
        bad_tensor(&format!("zero point {zero_point}"), &p);
    }
    for scale in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let x = T::In(DType::I8, vec![4], q(scale, 0));
        let p = model(no_op(Op::Dequantize), &[x], f32_out(&[4]));
        bad_tensor(&format!("scale {scale}"), &p);
    }
}

/// Int8 FullyConnected whose weights carry per-channel scales at `scales`.
fn per_channel_fc(scales: impl FnOnce(&mut ModelBuilder) -> u32) -> Vec<u8> {
    let mut m = ModelBuilder::new("per_channel");
    let x = m.add_tensor("x", DType::I8, &[1, 4], q(0.05, 0)).unwrap();
    let off = scales(&mut m);
    let quant = Quant::PerChannel {
        axis: 0,
        scales: off,
    };
    let w = m
        .add_const("w", DType::I8, &[3, 4], &[1; 12], quant)
        .unwrap();
    let y = m.add_tensor("y", DType::I8, &[1, 3], q(0.1, 0)).unwrap();
    let qp = qparams(&mut m, &[RQ; 3], (-128, 127));
    let op = Op::FullyConnected {
        act: Activation::None,
        q: Some(qp),
    };
    m.add_op(op, &[x, w], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m.finish().unwrap()
}

#[test]
fn per_channel_scales_past_the_weights_or_not_positive_are_load_errors() {
    runs(
        "good",
        &per_channel_fc(|m| m.add_f32_blob(&[0.01, 0.02, 0.03])),
    );
    bad_tensor("scales past the weights", &per_channel_fc(|_| 1 << 20));
    bad_tensor(
        "scale 0",
        &per_channel_fc(|m| m.add_f32_blob(&[0.01, 0.0, 0.03])),
    );
}

#[test]
fn golden_vectors_of_another_length_are_load_errors() {
    let build = |inp: usize, outp: usize| {
        let mut m = ModelBuilder::new("golden");
        let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
        let y = m.add_tensor("y", DType::F32, &[4], Quant::None).unwrap();
        m.add_op(Op::Reshape, &[x], &[y]).unwrap();
        m.set_io(&[x], &[y]).unwrap();
        m.add_golden(vec![vec![0; inp]], vec![vec![0; outp]]);
        m.finish().unwrap()
    };
    assert!(load(&build(16, 16)).is_ok());
    let golden = Error::Decode {
        section: Section::Golden,
        index: 0,
    };
    assert_eq!(load(&build(12, 16)), Err(golden));
    assert_eq!(load(&build(16, 20)), Err(golden));
}

// ---------------------------------------------------------------- accepted, then wrong

/// Runs a one-op model on `input` and returns its output bytes.
fn output_of(bytes: &[u8], input: &[u8]) -> Result<Vec<u8>, Error> {
    let a = AlignedModel::new(bytes);
    let m = a.model()?;
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_bytes(0, input)?;
    s.run()?;
    Ok(s.output_bytes(0)?.to_vec())
}

/// Pad of an i32 or i64 tensor computes with a fill of the element's width (the
/// executor used to pass a one-byte fill, which `kernels::reference::generic::pad`
/// refused, leaving the output as the arena held it).
#[test]
fn pad_of_a_wide_integer_tensor_is_computed() {
    for (dt, size) in [(DType::I32, 4), (DType::I64, 8)] {
        let op = Op::Pad {
            pads: heapless::Vec::from_slice(&[1, 1]).unwrap(),
            value: 7.0,
        };
        let x = T::In(dt, vec![2], Quant::None);
        let p = model(no_op(op), &[x], out(dt, &[4], Quant::None));
        let le = |v: i64| v.to_le_bytes()[..size].to_vec();
        let input = [le(1), le(2)].concat();
        let want = [le(7), le(1), le(2), le(7)].concat();
        assert_eq!(output_of(&p, &input), Ok(want), "{dt:?}");
    }
}

/// Int8 AvgPool without a per-tensor scale is a load error: the executor needs the
/// input zero point (the pool check used to ask only that input and output agree).
#[test]
fn int8_avg_pool_without_a_scale_is_a_load_error() {
    let op = Op::AvgPool {
        window: win([2, 2], [2, 2], [0; 4]),
        count_include_pad: false,
    };
    let x = T::In(DType::I8, vec![1, 1, 2, 2], Quant::None);
    let p = model(no_op(op), &[x], out(DType::I8, &[1, 1, 1, 1], Quant::None));
    assert!(
        matches!(
            load(&p),
            Err(Error::BadOp {
                op: 0,
                reason: OpReason::Quantization
            })
        ),
        "{:?}",
        load(&p)
    );
}

#[test]
fn an_arena_tensor_read_before_any_op_writes_it_is_a_plan_error() {
    let build = |t_is_input: bool| {
        let mut m = ModelBuilder::new("unwritten");
        let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
        let t = m.add_tensor("t", DType::F32, &[4], Quant::None).unwrap();
        let y = m.add_tensor("y", DType::F32, &[4], Quant::None).unwrap();
        let z = m.add_tensor("z", DType::F32, &[4], Quant::None).unwrap();
        m.add_op(Op::Reshape, &[x], &[y]).unwrap();
        let add = Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: None,
        };
        m.add_op(add, &[y, t], &[z]).unwrap();
        let inputs: &[u32] = if t_is_input { &[x, t] } else { &[x] };
        m.set_io(inputs, &[z]).unwrap();
        (m.finish().unwrap(), t)
    };
    runs("t a graph input", &build(true).0);
    let (bytes, t) = build(false);
    assert_eq!(load(&bytes), Err(Error::BadPlan { tensor: t }));
}

// ---------------------------------------------------------------- graph record

/// `bytes` with the graph's IO record (postcard: input count, inputs, output count,
/// outputs, arena size, all varints) edited by `f`.
fn patch_graph_io(bytes: &[u8], f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    patch_graph(bytes, |g| {
        let io_len = u32_at(g, 0);
        f(&mut g[16..16 + io_len]);
    })
}

/// x -> Relu -> y -> Relu -> z, 16 bytes each: the IO record is `[1, x, 1, z, arena]`.
/// (Not Reshapes: the writer puts a Reshape's output on its input's bytes, format 1.7;
/// `tests/reshape_in_place.rs`.)
fn chain() -> Vec<u8> {
    let mut m = ModelBuilder::new("chain");
    let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[4], Quant::None).unwrap();
    let z = m.add_tensor("z", DType::F32, &[4], Quant::None).unwrap();
    let relu = Op::Unary { op: UnaryOp::Relu };
    m.add_op(relu.clone(), &[x], &[y]).unwrap();
    m.add_op(relu, &[y], &[z]).unwrap();
    m.set_io(&[x], &[z]).unwrap();
    m.finish().unwrap()
}

#[test]
fn an_arena_smaller_than_its_tensors_is_a_plan_error() {
    let good = chain();
    assert_eq!(patch_graph_io(&good, |_| {}), good);
    runs("good", &good);
    let io = |b: &[u8]| {
        let mut io = Vec::new();
        patch_graph_io(b, |r| io.extend_from_slice(r));
        io
    };
    assert_eq!(io(&good), [1, 0, 1, 2, 32]);
    let small = patch_graph_io(&good, |r| r[4] = 16);
    assert!(matches!(load(&small), Err(Error::BadPlan { .. })));
}

#[test]
fn a_graph_output_dead_before_the_last_op_is_a_plan_error() {
    // x is last read by op 0, so op 1 may reuse its bytes.
    let early = patch_graph_io(&chain(), |r| r[3] = 0);
    assert_eq!(load(&early), Err(Error::BadPlan { tensor: 0 }));
}

/// The arena locations `[offset, first, last]` of x, y and z in [`chain`].
fn chain_locations(bytes: &[u8]) -> Vec<Vec<u8>> {
    (0..3)
        .map(|t| {
            let mut loc = Vec::new();
            patch_location(bytes, t, |l| loc.extend_from_slice(l));
            loc
        })
        .collect()
}

#[test]
fn tensors_alive_together_that_share_bytes_are_a_plan_error() {
    let good = chain();
    let locs = chain_locations(&good);
    assert_eq!(locs[0][1..], [0, 0], "x lives at op 0");
    assert_eq!(locs[1][1..], [0, 1], "y lives at ops 0 and 1");
    assert_eq!(locs[2][1..], [1, 1], "z lives at op 1");
    assert_ne!(locs[0][0], locs[1][0]);
    assert_ne!(locs[1][0], locs[2][0]);
    let (x_at, y_at) = (locs[0][0], locs[1][0]);
    let y_on_x = patch_location(&good, 1, |l| l[0] = x_at);
    assert!(matches!(load(&y_on_x), Err(Error::BadPlan { .. })));
    // Alive together from different first steps.
    let z_on_y = patch_location(&good, 2, |l| l[0] = y_at);
    assert!(matches!(load(&z_on_y), Err(Error::BadPlan { .. })));
}

#[test]
fn a_lifetime_past_the_last_op_or_ending_before_it_starts_is_a_plan_error() {
    let good = chain();
    let past = patch_location(&good, 1, |l| l[2] = 2);
    assert_eq!(load(&past), Err(Error::BadPlan { tensor: 1 }));
    let reversed = patch_location(&good, 1, |l| (l[1], l[2]) = (1, 0));
    assert!(matches!(load(&reversed), Err(Error::BadPlan { .. })));
}

#[test]
fn an_op_reading_a_tensor_after_its_last_step_is_a_plan_error() {
    let dead = patch_location(&chain(), 1, |l| l[2] = 0);
    assert_eq!(load(&dead), Err(Error::BadPlan { tensor: 1 }));
}

#[test]
fn an_arena_tensor_that_no_op_writes_is_a_plan_error() {
    let mut m = ModelBuilder::new("orphan");
    let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[4], Quant::None).unwrap();
    let orphan = m
        .add_tensor("orphan", DType::F32, &[4], Quant::None)
        .unwrap();
    m.add_op(Op::Reshape, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    assert_eq!(
        load(&m.finish().unwrap()),
        Err(Error::BadPlan { tensor: orphan })
    );
}

/// x, w -> t1 = x + w, t_k = t_(k-1) + t_(k-3) (t0 = x), t10 = t9 + w: lifetimes of one
/// to nine steps, two graph inputs. Every tensor is 16 bytes (f32 × 4).
fn skips() -> Vec<u8> {
    let mut m = ModelBuilder::new("skips");
    let f = |m: &mut ModelBuilder, name: &str| {
        m.add_tensor(name, DType::F32, &[4], Quant::None).unwrap()
    };
    let x = f(&mut m, "x");
    let w = f(&mut m, "w");
    let add = Op::Binary {
        op: BinaryOp::Add,
        act: Activation::None,
        q: None,
    };
    let mut t = vec![x];
    for k in 1..=10usize {
        let y = f(&mut m, &format!("t{k}"));
        let other = match k {
            1 | 10 => w,
            _ => t[k.saturating_sub(3)],
        };
        m.add_op(add.clone(), &[t[k - 1], other], &[y]).unwrap();
        t.push(y);
    }
    m.set_io(&[x, w], &[t[10]]).unwrap();
    m.finish().unwrap()
}

/// The plan check gives the pairwise verdict (every two tensors alive at a common step
/// must not share a byte, computed here from the file's own locations) on random
/// re-placements of a valid plan, through `Model::load`.
#[test]
fn random_arena_plans_get_the_pairwise_verdict() {
    let good = skips();
    runs("skips", &good);
    let n = 12;
    let locs = |b: &[u8]| -> Vec<[u8; 3]> {
        (0..n)
            .map(|t| {
                let mut l = [0; 3];
                patch_location(b, t, |r| l.copy_from_slice(r));
                l
            })
            .collect()
    };
    let mut io = Vec::new();
    patch_graph_io(&good, |r| io.extend_from_slice(r));
    let arena = *io.last().unwrap();
    assert!((64..128).contains(&arena), "arena {arena}");
    let pairwise_ok = |l: &[[u8; 3]]| {
        (0..n).all(|i| {
            (i + 1..n).all(|j| {
                let (a, b) = (l[i], l[j]);
                let together = a[1] <= b[2] && b[1] <= a[2];
                let overlap = a[0] < b[0] + 16 && b[0] < a[0] + 16;
                !(together && overlap)
            })
        })
    };
    assert!(pairwise_ok(&locs(&good)));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut below = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..600 {
        let mut bytes = good.clone();
        for _ in 0..1 + below(3) {
            let t = below(n as u64) as usize;
            let at = 16 * below(arena as u64 / 16) as u8;
            bytes = patch_location(&bytes, t, |l| l[0] = at);
        }
        let expected = pairwise_ok(&locs(&bytes));
        match load(&bytes) {
            Ok(()) => assert!(expected, "accepted an overlap: {:?}", locs(&bytes)),
            Err(Error::BadPlan { .. }) => assert!(!expected, "refused {:?}", locs(&bytes)),
            Err(e) => panic!("{e:?}"),
        }
        if expected {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(accepted > 50 && rejected > 50, "{accepted} / {rejected}");
}

/// Found by the `load_run` fuzz target (`fuzz/regressions/load_run/clip_nan_max.fer`):
/// a Clip whose bound is NaN is a valid op (NaN clips nothing), but the debug build's
/// cross-check of the executor's op decoder compared the two decoded ops with `==`,
/// which is false for NaN, and panicked in `Model::load`. It loads and runs, and the
/// NaN bound leaves every value as it is (`v > NaN` is false).
#[test]
fn a_clip_with_a_nan_bound_loads_and_clips_nothing_there() {
    let clip = Op::Unary {
        op: UnaryOp::Clip {
            min: -1.0,
            max: f32::NAN,
        },
    };
    let bytes = model(no_op(clip), &[f32_in(&[4])], f32_out(&[4]));
    let a = AlignedModel::new(&bytes);
    let m = a.model().expect("a NaN bound is valid");
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_f32(0, &[-2.5, 0.0, 1.0, 1e30]).unwrap();
    s.run().unwrap();
    let mut y = [0f32; 4];
    s.output_f32(0, &mut y).unwrap();
    assert_eq!(y, [-1.0, 0.0, 1.0, 1e30]);
}
