//! A small stand-in for the converted sensor CNN, built with the runtime's model writer:
//! f32 input `[1, 3, 64]` (g) → Reshape `[1, 192]` → Quantize (int8) → int8
//! FullyConnected 192→4 (per-channel weights, int32 bias) → Dequantize → Softmax → f32
//! `[1, 4]`, labels `idle walk run shake`. Fixed pseudo-random weights: it exercises the
//! same int8 path as the converted model, its predictions mean nothing.

use ferrite::format::types::{Activation, DType, Op, QParams, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::fixed::quantize_multiplier;

const IN: usize = 192;
const OUT: usize = 4;
const X_SCALE: f32 = 8.192 / 255.0;
const L_SCALE: f32 = 8.0 / 255.0;

/// The model file bytes.
pub fn dev_model() -> Vec<u8> {
    dev_model_builder().finish().unwrap()
}

/// The model before [`ModelBuilder::finish`] (e.g. to add golden vectors).
pub fn dev_model_builder() -> ModelBuilder {
    let mut state = 0x5EED_CAFE_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let w: Vec<f32> = (0..OUT * IN).map(|_| next() * 0.2).collect();
    let bias: Vec<f32> = (0..OUT).map(|_| next() * 0.5).collect();

    let mut b = ModelBuilder::new("firmware-dev-model");
    b.version = "1".into();
    b.labels = ["idle", "walk", "run", "shake"].map(String::from).to_vec();
    let x = b
        .add_tensor("window", DType::F32, &[1, 3, 64], Quant::None)
        .unwrap();
    let flat = b
        .add_tensor("flat", DType::F32, &[1, IN as u32], Quant::None)
        .unwrap();
    b.add_op(Op::Reshape, &[x], &[flat]).unwrap();
    let xq = b
        .add_tensor(
            "flat.q",
            DType::I8,
            &[1, IN as u32],
            Quant::PerTensor {
                scale: X_SCALE,
                zero_point: 0,
            },
        )
        .unwrap();
    b.add_op(Op::Quantize, &[flat], &[xq]).unwrap();

    let mut wq = Vec::new();
    let mut ws = Vec::new();
    for r in 0..OUT {
        let row = &w[r * IN..(r + 1) * IN];
        let s = row.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-8) / 127.0;
        ws.push(s);
        wq.extend(
            row.iter()
                .map(|v| (v / s).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    let scales = b.add_f32_blob(&ws);
    let wt = b
        .add_const(
            "fc.w",
            DType::I8,
            &[OUT as u32, IN as u32],
            &wq,
            Quant::PerChannel { axis: 0, scales },
        )
        .unwrap();
    let bq: Vec<u8> = bias
        .iter()
        .zip(&ws)
        .flat_map(|(v, s)| ((v / (X_SCALE * s)).round() as i32).to_le_bytes())
        .collect();
    let bt = b
        .add_const("fc.b", DType::I32, &[OUT as u32], &bq, Quant::None)
        .unwrap();
    let rq: Vec<i32> = ws
        .iter()
        .flat_map(|s| {
            let (m, sh) =
                quantize_multiplier(f64::from(X_SCALE) * f64::from(*s) / f64::from(L_SCALE));
            [m, sh]
        })
        .collect();
    let requant = b.add_i32_blob(&rq);
    let l = b
        .add_tensor(
            "logits.q",
            DType::I8,
            &[1, OUT as u32],
            Quant::PerTensor {
                scale: L_SCALE,
                zero_point: 0,
            },
        )
        .unwrap();
    let q = QParams {
        requant,
        channels: OUT as u32,
        act_min: -128,
        act_max: 127,
    };
    b.add_op(
        Op::FullyConnected {
            act: Activation::None,
            q: Some(q),
        },
        &[xq, wt, bt],
        &[l],
    )
    .unwrap();
    let lf = b
        .add_tensor("logits", DType::F32, &[1, OUT as u32], Quant::None)
        .unwrap();
    b.add_op(Op::Dequantize, &[l], &[lf]).unwrap();
    let y = b
        .add_tensor("probs", DType::F32, &[1, OUT as u32], Quant::None)
        .unwrap();
    b.add_op(
        Op::Softmax {
            axis: 1,
            log: false,
        },
        &[lf],
        &[y],
    )
    .unwrap();
    b.set_io(&[x], &[y]).unwrap();
    b
}
