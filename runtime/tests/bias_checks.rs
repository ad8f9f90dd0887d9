//! FullyConnected and Conv biases at load: `Model::load` accepts only a constant bias of
//! shape `[output channels]` and of the op's dtype (f32, or int32 for int8). The kernels
//! index the bias by output channel, so a shorter one must never reach them.

use ferrite::format::types::{Activation, DType, Op, QParams, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OwnedSession};

/// Output channels of both ops.
const M: u32 = 3;

#[derive(Clone, Copy, Debug)]
enum Bias {
    Good,
    Len(u32),
    Rank2,
    GraphInput,
    OtherDtype,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    FullyConnected,
    Conv,
}

fn q(scale: f32) -> Quant {
    Quant::PerTensor {
        scale,
        zero_point: 0,
    }
}

/// One op (`kind`, f32 or int8) with the bias `bias`.
fn model(kind: Kind, int8: bool, bias: Bias) -> Vec<u8> {
    let (xs, ws, ys): (&[u32], &[u32], &[u32]) = match kind {
        Kind::FullyConnected => (&[1, 4], &[M, 4], &[1, M]),
        Kind::Conv => (&[1, 2, 5, 4], &[M, 2, 3, 3], &[1, M, 5, 4]),
    };
    let n = |s: &[u32]| s.iter().product::<u32>() as usize;
    let mut m = ModelBuilder::new("bias");
    let (dt, xq, wq, yq) = if int8 {
        (DType::I8, q(0.05), q(0.01), q(0.1))
    } else {
        (DType::F32, Quant::None, Quant::None, Quant::None)
    };
    let x = m.add_tensor("x", dt, xs, xq).unwrap();
    let w = if int8 {
        m.add_const("w", DType::I8, ws, &vec![1u8; n(ws)], wq)
            .unwrap()
    } else {
        m.add_const_f32("w", ws, &vec![0.5; n(ws)]).unwrap()
    };
    let y = m.add_tensor("y", dt, ys, yq).unwrap();
    let (bias_dt, shape): (DType, Vec<u32>) = match (bias, int8) {
        (Bias::OtherDtype, false)
        | (Bias::Good | Bias::Len(_) | Bias::Rank2 | Bias::GraphInput, true) => {
            (DType::I32, vec![M])
        }
        _ => (DType::F32, vec![M]),
    };
    let shape = match bias {
        Bias::Len(l) => vec![l],
        Bias::Rank2 => vec![M, 1],
        _ => shape,
    };
    let b = if let Bias::GraphInput = bias {
        m.add_tensor("b", bias_dt, &shape, Quant::None).unwrap()
    } else {
        let bytes = vec![0u8; 4 * n(&shape)];
        m.add_const("b", bias_dt, &shape, &bytes, Quant::None)
            .unwrap()
    };
    let qp = int8.then(|| QParams {
        requant: m.add_i32_blob(&[1 << 30, -3]),
        channels: 1,
        act_min: -128,
        act_max: 127,
    });
    let op = match kind {
        Kind::FullyConnected => Op::FullyConnected {
            act: Activation::None,
            q: qp,
        },
        Kind::Conv => Op::Conv {
            window: Window {
                kernel: [3, 3],
                stride: [1, 1],
                dilation: [1, 1],
                pads: [1, 1, 1, 1],
            },
            groups: 1,
            act: Activation::None,
            q: qp,
        },
    };
    m.add_op(op, &[x, w, b], &[y]).unwrap();
    let inputs: &[u32] = if let Bias::GraphInput = bias {
        &[x, b]
    } else {
        &[x]
    };
    m.set_io(inputs, &[y]).unwrap();
    m.finish().unwrap()
}

#[test]
fn a_bias_of_another_length_rank_dtype_or_not_constant_is_a_load_error() {
    for kind in [Kind::FullyConnected, Kind::Conv] {
        for int8 in [false, true] {
            for bias in [
                Bias::Len(M - 1),
                Bias::Len(M + 1),
                Bias::Len(1),
                Bias::Rank2,
                Bias::GraphInput,
                Bias::OtherDtype,
            ] {
                let r = AlignedModel::new(&model(kind, int8, bias))
                    .model()
                    .map(|_| ());
                assert!(
                    matches!(r, Err(Error::BadOp { .. })),
                    "{kind:?} int8={int8} bias {bias:?}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn the_right_bias_loads_and_runs() {
    for kind in [Kind::FullyConnected, Kind::Conv] {
        for int8 in [false, true] {
            let bytes = model(kind, int8, Bias::Good);
            let a = AlignedModel::new(&bytes);
            let m = a
                .model()
                .unwrap_or_else(|e| panic!("{kind:?} int8={int8}: {e:?}"));
            let mut os = OwnedSession::new(&m);
            let mut s = os.session();
            let len = m.input(0).unwrap().byte_len().unwrap();
            s.set_input_bytes(0, &vec![1u8; len]).unwrap();
            s.run().unwrap();
        }
    }
}
