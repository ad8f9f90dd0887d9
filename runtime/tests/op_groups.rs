//! The feature `ops-conv-nchw`: with it, int8 models with the channels-first Conv and
//! pools load; without it (`ops-conv` + `ops-pool` only, the int8 CNN firmware's set),
//! `Model::load` refuses them with `UnsupportedOp` naming the op, while the NHWC pool
//! of the same shapes still loads.
//!
//! The default (`all-ops`) build checks the first half; the x86_64 target's
//! `op-groups` test job runs this file with `--no-default-features --features
//! std,write,ops-conv,ops-pool` for the second.

use ferrite::format::types::{Activation, DType, Op, QParams, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::{Error, Model};

const NCHW: bool = cfg!(feature = "ops-conv-nchw");

fn q(scale: f32) -> Quant {
    Quant::PerTensor {
        scale,
        zero_point: 0,
    }
}

fn window(k: u32, stride: u32, pad: u32) -> Window {
    Window {
        kernel: [k, k],
        stride: [stride, stride],
        dilation: [1, 1],
        pads: [pad; 4],
    }
}

/// A Quantize op (index 0) and then `op` on the int8 tensor: x `[1, 2, 4, 4]` f32.
fn model(op: Op, w: Option<(&[u32], &[u8])>, y: &[u32], requant: Option<&[i32]>) -> Vec<u8> {
    let mut m = ModelBuilder::new("op_groups");
    let f = m
        .add_tensor("f", DType::F32, &[1, 2, 4, 4], Quant::None)
        .unwrap();
    let x = m
        .add_tensor("x", DType::I8, &[1, 2, 4, 4], q(0.05))
        .unwrap();
    m.add_op(Op::Quantize, &[f], &[x]).unwrap();
    let mut ins = vec![x];
    if let Some((shape, data)) = w {
        ins.push(m.add_const("w", DType::I8, shape, data, q(0.01)).unwrap());
    }
    // A conv rescales (`requant`); a pool's output shares the input's quantization.
    let scale = if requant.is_some() { 0.1 } else { 0.05 };
    let out = m.add_tensor("y", DType::I8, y, q(scale)).unwrap();
    let op = match (op, requant) {
        (Op::Conv { window, groups, .. }, Some(r)) => Op::Conv {
            window,
            groups,
            act: Activation::None,
            q: Some(QParams {
                requant: m.add_i32_blob(r),
                channels: 1,
                act_min: -128,
                act_max: 127,
            }),
        },
        (op, _) => op,
    };
    m.add_op(op, &ins, &[out]).unwrap();
    m.set_io(&[f], &[out]).unwrap();
    m.finish().unwrap()
}

/// `Model::load`'s answer: Ok, or the error.
fn load(bytes: &[u8]) -> Result<(), Error> {
    let mut a = vec![0u64; bytes.len().div_ceil(8)];
    let buf = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut a)[..bytes.len()];
    buf.copy_from_slice(bytes);
    Model::load(buf).map(|_| ())
}

/// What a build gives an NCHW op (op 1, after the Quantize).
fn nchw_expected() -> Result<(), Error> {
    if NCHW {
        Ok(())
    } else {
        Err(Error::UnsupportedOp { op: 1 })
    }
}

#[test]
fn int8_nchw_conv_needs_ops_conv_nchw() {
    let conv = Op::Conv {
        window: window(3, 1, 1),
        groups: 1,
        act: Activation::None,
        q: None,
    };
    let w = model(
        conv,
        Some((&[3, 2, 3, 3], &[1u8; 54])),
        &[1, 3, 4, 4],
        Some(&[1 << 30, -3]),
    );
    assert_eq!(load(&w), nchw_expected());
}

#[test]
fn int8_nchw_pools_need_ops_conv_nchw() {
    let pools = [
        Op::MaxPool {
            window: window(2, 2, 0),
        },
        Op::AvgPool {
            window: window(2, 2, 0),
            count_include_pad: false,
        },
    ];
    for op in pools {
        assert_eq!(load(&model(op, None, &[1, 2, 2, 2], None)), nchw_expected());
    }
    for op in [Op::GlobalAvgPool, Op::GlobalMaxPool] {
        assert_eq!(load(&model(op, None, &[1, 2, 1, 1], None)), nchw_expected());
    }
}

#[test]
fn int8_nhwc_pool_loads_without_ops_conv_nchw() {
    // x read as NHWC [1, 2, 4, 4] (H 2, W 4, C 4): a 2x2 window of stride 2.
    let op = Op::MaxPoolNhwc {
        window: window(2, 2, 0),
    };
    assert_eq!(load(&model(op, None, &[1, 1, 2, 4], None)), Ok(()));
}

/// An op of a group the build lacks (here `ops-shape`, which the `op-groups` job leaves
/// out) is refused with `UnsupportedOp` naming it: its attributes (lists, an `f32`) are
/// read without being decoded into the op (`format/decode.rs`'s skip table), so the
/// operand lists after them are found and checked as before.
#[test]
fn an_op_of_a_missing_group_is_refused_by_index() {
    let shape = cfg!(feature = "ops-shape");
    let ops = [
        Op::Transpose {
            perm: heapless::Vec::from_slice(&[0, 1, 3, 2]).unwrap(),
        },
        Op::Pad {
            pads: heapless::Vec::from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]).unwrap(),
            value: 0.0,
        },
    ];
    let outs: [&[u32]; 2] = [&[1, 2, 4, 4], &[1, 2, 4, 6]];
    for (op, y) in ops.into_iter().zip(outs) {
        let want = if shape {
            Ok(())
        } else {
            Err(Error::UnsupportedOp { op: 1 })
        };
        assert_eq!(load(&model(op.clone(), None, y, None)), want, "{op:?}");
    }
}
