//! Softmax / LogSoftmax from int8 logits to f32 (format 1.8): one op gives the bytes of
//! a `Dequantize` followed by the f32 op, over random logits, shapes, axes and
//! quantizations; the file is marked 1.8 (the two-op form keeps 1.0); the int8 input
//! must be quantized per tensor and the op takes one input.

use ferrite::format::types::{DType, Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};

/// Softmax (or LogSoftmax) along `axis` of an int8 `shape` tensor quantized with
/// `(scale, zp)`: fused (one op) or as `Dequantize` then the f32 op.
fn model(shape: &[u32], axis: u8, log: bool, scale: f32, zp: i32, fused: bool) -> Vec<u8> {
    let mut m = ModelBuilder::new("softmax_i8");
    let q = Quant::PerTensor {
        scale,
        zero_point: zp,
    };
    let x = m.add_tensor("x", DType::I8, shape, q).unwrap();
    let y = m.add_tensor("y", DType::F32, shape, Quant::None).unwrap();
    let op = Op::Softmax { axis, log };
    if fused {
        m.add_op(op, &[x], &[y]).unwrap();
    } else {
        let d = m.add_tensor("d", DType::F32, shape, Quant::None).unwrap();
        m.add_op(Op::Dequantize, &[x], &[d]).unwrap();
        m.add_op(op, &[d], &[y]).unwrap();
    }
    m.set_io(&[x], &[y]).unwrap();
    m.finish().unwrap()
}

fn run(bytes: &[u8], x: &[u8]) -> Vec<u8> {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap();
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    s.set_input_bytes(0, x).unwrap();
    s.run().unwrap();
    s.output_bytes(0).unwrap().to_vec()
}

/// xorshift32: the test's own deterministic stream.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

#[test]
fn fused_softmax_gives_the_bytes_of_dequantize_then_softmax() {
    let shapes: [(&[u32], u8); 7] = [
        (&[1, 4], 1),
        (&[1, 10], 1),
        (&[3, 17], 1),
        (&[1, 1000], 1),
        (&[2, 5, 3], 1),
        (&[4, 6], 0),
        (&[1, 12, 1, 1], 1),
    ];
    let quants = [
        (0.1f32, 0),
        (0.05, -128),
        (0.25, 127),
        (1.0 / 256.0, -7),
        (3.7, 20),
        (1e-4, 5),
    ];
    let mut rng = Rng(0x9e37_79b9);
    let mut cases = 0;
    for (shape, axis) in shapes {
        for &(scale, zp) in &quants {
            for log in [false, true] {
                let fused = model(shape, axis, log, scale, zp, true);
                let split = model(shape, axis, log, scale, zp, false);
                assert_eq!(u16::from_le_bytes([fused[6], fused[7]]), 8);
                assert_eq!(u16::from_le_bytes([split[6], split[7]]), 0);
                let n: u32 = shape.iter().product();
                for trial in 0..8 {
                    let x: Vec<u8> = (0..n)
                        .map(|i| match trial {
                            // All equal, the extremes, then random.
                            0 => 17,
                            1 => [0x80, 0x7f][i as usize % 2],
                            _ => rng.next() as u8,
                        })
                        .collect();
                    let (a, b) = (run(&fused, &x), run(&split, &x));
                    assert_eq!(a, b, "{shape:?} axis {axis} log {log} q {scale} {zp}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 7 * 6 * 2 * 8);
}

#[test]
fn fused_softmax_needs_a_per_tensor_input_and_one_operand() {
    // Per-channel int8 logits: no single scale to dequantize with.
    let mut m = ModelBuilder::new("softmax_i8");
    let scales = m.add_f32_blob(&[0.1; 4]);
    let quant = Quant::PerChannel { axis: 1, scales };
    let x = m.add_tensor("x", DType::I8, &[1, 4], quant).unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
    m.add_op(
        Op::Softmax {
            axis: 1,
            log: false,
        },
        &[x],
        &[y],
    )
    .unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let bytes = m.finish().unwrap();
    let err = AlignedModel::new(&bytes).model().err();
    assert_eq!(
        err,
        Some(Error::BadOp {
            op: 0,
            reason: OpReason::Quantization
        })
    );
    // A second operand (the int8 softmax's table) is not the fused form's.
    let mut m = ModelBuilder::new("softmax_i8");
    let q = Quant::PerTensor {
        scale: 0.1,
        zero_point: 0,
    };
    let x = m.add_tensor("x", DType::I8, &[1, 4], q).unwrap();
    let table: Vec<u8> = (0..256u32).flat_map(|i| (i + 1).to_le_bytes()).collect();
    let t = m
        .add_const("t", DType::I32, &[256], &table, Quant::None)
        .unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
    m.add_op(
        Op::Softmax {
            axis: 1,
            log: false,
        },
        &[x, t],
        &[y],
    )
    .unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let bytes = m.finish().unwrap();
    let err = AlignedModel::new(&bytes).model().err();
    assert!(matches!(err, Some(Error::BadOp { op: 0, .. })), "{err:?}");
}
