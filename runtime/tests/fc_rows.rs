//! FullyConnected whose output rows are shaped unlike its input's (format 1.7): x
//! `[1,1,1,K]` → `[1,N]` gives the bytes of the same FC on `[K]` → `[N]` (f32 and int8),
//! the file is marked 1.7, and a row count that differs is `OpReason::Shape`.

use ferrite::format::types::{Activation, DType, Op, QParams, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};

const K: usize = 6;
const N: usize = 3;

/// One FC from `x` to `y` shapes; int8 with per-tensor weights when `int8`.
fn fc(x: &[u32], y: &[u32], int8: bool) -> Result<Vec<u8>, Error> {
    let mut m = ModelBuilder::new("fc_rows");
    let w: Vec<f32> = (0..N * K).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..N).map(|i| i as f32 * 0.1 - 0.1).collect();
    let (op, xt, wt, bt, yt);
    if int8 {
        let q = |s, z| Quant::PerTensor {
            scale: s,
            zero_point: z,
        };
        xt = m.add_tensor("x", DType::I8, x, q(0.05, 3)).unwrap();
        let wq: Vec<u8> = w.iter().map(|v| ((v * 100.0) as i8) as u8).collect();
        wt = m
            .add_const("w", DType::I8, &[N as u32, K as u32], &wq, q(0.01, 0))
            .unwrap();
        let bq: Vec<u8> = (0..N as i32)
            .flat_map(|i| (i * 40 - 20).to_le_bytes())
            .collect();
        bt = m
            .add_const("b", DType::I32, &[N as u32], &bq, Quant::None)
            .unwrap();
        yt = m.add_tensor("y", DType::I8, y, q(0.04, -2)).unwrap();
        let requant = m.add_i32_blob(&[1 << 30, -3]);
        op = Op::FullyConnected {
            act: Activation::None,
            q: Some(QParams {
                requant,
                channels: 1,
                act_min: -128,
                act_max: 127,
            }),
        };
    } else {
        xt = m.add_tensor("x", DType::F32, x, Quant::None).unwrap();
        wt = m.add_const_f32("w", &[N as u32, K as u32], &w).unwrap();
        bt = m.add_const_f32("b", &[N as u32], &b).unwrap();
        yt = m.add_tensor("y", DType::F32, y, Quant::None).unwrap();
        op = Op::FullyConnected {
            act: Activation::Relu,
            q: None,
        };
    }
    m.add_op(op, &[xt, wt, bt], &[yt]).unwrap();
    m.set_io(&[xt], &[yt]).unwrap();
    Ok(m.finish().unwrap())
}

fn run(bytes: &[u8], x: &[u8]) -> Result<Vec<u8>, Error> {
    let a = AlignedModel::new(bytes);
    let m = a.model()?;
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    s.set_input_bytes(0, x)?;
    s.run()?;
    Ok(s.output_bytes(0)?.to_vec())
}

#[test]
fn rows_shaped_unlike_the_output_give_the_same_bytes() {
    for int8 in [false, true] {
        let x: Vec<u8> = if int8 {
            (0..K)
                .map(|i| (i as i8).wrapping_mul(29).wrapping_sub(70) as u8)
                .collect()
        } else {
            (0..K)
                .flat_map(|i| (i as f32 * 0.7 - 1.9).to_le_bytes())
                .collect()
        };
        let flat = fc(&[K as u32], &[N as u32], int8).unwrap();
        let rows = fc(&[1, 1, 1, K as u32], &[1, N as u32], int8).unwrap();
        assert_eq!(u16::from_le_bytes([rows[6], rows[7]]), 7, "int8 {int8}");
        assert!(u16::from_le_bytes([flat[6], flat[7]]) < 7, "int8 {int8}");
        assert_eq!(
            run(&rows, &x).unwrap(),
            run(&flat, &x).unwrap(),
            "int8 {int8}"
        );
        // Two rows either way.
        let two = fc(&[2, 1, K as u32], &[1, 2, N as u32], int8).unwrap();
        let two_flat = fc(&[2, K as u32], &[2, N as u32], int8).unwrap();
        let xx = [x.clone(), x.iter().rev().copied().collect()].concat();
        assert_eq!(run(&two, &xx).unwrap(), run(&two_flat, &xx).unwrap());
    }
}

#[test]
fn a_different_row_count_is_a_shape_error() {
    for int8 in [false, true] {
        let bytes = fc(&[1, 2, K as u32], &[1, N as u32], int8).unwrap();
        let a = AlignedModel::new(&bytes);
        assert_eq!(
            a.model().err(),
            Some(Error::BadOp {
                op: 0,
                reason: OpReason::Shape
            }),
            "int8 {int8}"
        );
    }
}
