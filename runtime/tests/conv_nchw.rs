//! `ConvNchw` (format 1.5), the first-layer conv that reads the NCHW graph input and
//! writes NHWC, in whole models built with `ModelBuilder`: against an f64 reference
//! computed here, within the engine's documented f32 bound (`kernels::engine` module
//! docs: `γ(K + 2)·S`), for 1–4 channels, strides 1 and 2, 3×3 / 5×5 / 7×7 kernels,
//! padding and a batch of two; then its load-time checks and its encoding (Op variant
//! 32, format minor 5).

use ferrite::format::types::{Activation, DType, Op, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::engine;
use ferrite::{AlignedModel, Error, OpReason};
use support::{out_hw, run_model as run, window};

mod support;

/// Deterministic values in `[-1, 1)`.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// One layer: `n` images `[c, h, w]`, `m` outputs, a square kernel.
struct Layer {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    m: u32,
    win: Window,
}

impl Layer {
    fn new(c: u32, (h, w): (u32, u32), m: u32, k: u32, stride: u32, pads: [u32; 4]) -> Self {
        let win = window([k, k], [stride, stride], [1, 1], pads);
        Layer {
            n: 2,
            c,
            h,
            w,
            m,
            win,
        }
    }

    fn y_shape(&self) -> [u32; 4] {
        let k = self.win.kernel.map(|v| v as usize);
        let [oh, ow] = out_hw(self.h as usize, self.w as usize, k, &self.win, false).unwrap();
        [self.n, oh as u32, ow as u32, self.m]
    }

    fn packed(&self, wv: &[f32], bias: &[f32]) -> Vec<f32> {
        let (m, c, k) = (
            self.m as usize,
            self.c as usize,
            self.win.kernel.map(|v| v as usize),
        );
        let mut p = vec![0f32; engine::f32_conv_packed_len(m, c, k).unwrap()];
        engine::pack_f32_conv(wv, Some(bias), m, c, k, &mut p).unwrap();
        p
    }
}

/// A one-op model: `ConvNchw` over x (`dtype`), weights `w` (a constant unless
/// `w_in_arena`), output `y`.
fn model(x: &[u32], dtype: DType, y: &[u32], win: Window, w: &[f32], w_in_arena: bool) -> Vec<u8> {
    let mut b = ModelBuilder::new("stem");
    let q = match dtype {
        DType::I8 => Quant::PerTensor {
            scale: 0.5,
            zero_point: 0,
        },
        _ => Quant::None,
    };
    let xi = b.add_tensor("x", dtype, x, q).unwrap();
    let wi = if w_in_arena {
        b.add_tensor("w", DType::F32, &[w.len() as u32], Quant::None)
            .unwrap()
    } else {
        b.add_const_f32("w", &[w.len() as u32], w).unwrap()
    };
    let yi = b.add_tensor("y", DType::F32, y, Quant::None).unwrap();
    let act = Activation::Clip {
        min: -0.5,
        max: 6.0,
    };
    b.add_op(Op::ConvNchw { window: win, act }, &[xi, wi], &[yi])
        .unwrap();
    let io = if w_in_arena { vec![xi, wi] } else { vec![xi] };
    b.set_io(&io, &[yi]).unwrap();
    b.finish().unwrap()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

#[test]
fn conv_nchw_models_are_within_the_bound_of_the_exact_conv() {
    let layers = [
        Layer::new(3, (96, 96), 8, 3, 2, [0, 0, 1, 1]),
        Layer::new(3, (32, 32), 16, 3, 1, [1; 4]),
        Layer::new(1, (9, 37), 5, 5, 1, [2; 4]),
        Layer::new(4, (11, 23), 20, 7, 2, [3; 4]),
        Layer::new(2, (6, 17), 3, 3, 2, [0, 1, 0, 1]),
    ];
    for (i, l) in layers.iter().enumerate() {
        let (c, h, w, m) = (l.c as usize, l.h as usize, l.w as usize, l.m as usize);
        let k = l.win.kernel[0] as usize;
        let x = values(l.n as usize * c * h * w, 1 + i as u64);
        let wv = values(m * c * k * k, 100 + i as u64);
        let bias = values(m, 200 + i as u64);
        let y = l.y_shape();
        let file = model(
            &[l.n, l.c, l.h, l.w],
            DType::F32,
            &y,
            l.win,
            &l.packed(&wv, &bias),
            false,
        );
        let got: Vec<f32> = run(&file, &bytes(&x))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let [n, oh, ow, _] = y.map(|d| d as usize);
        assert_eq!(got.len(), n * oh * ow * m);
        let (s, p) = (
            l.win.stride[0] as usize,
            [l.win.pads[0] as usize, l.win.pads[1] as usize],
        );
        let u = 2f64.powi(-24);
        let terms = (k * k * c + 2) as f64;
        let gamma = terms * u / (1.0 - terms * u) + terms * 2f64.powi(-52);
        for (o, &g) in got.iter().enumerate() {
            let (j, px) = (o % m, o / m);
            let (img, oy, ox) = (px / (oh * ow), px / ow % oh, px % ow);
            let (mut e, mut mag) = (f64::from(bias[j]), f64::from(bias[j]).abs());
            for ky in 0..k {
                for kx in 0..k {
                    let (iy, ix) = (
                        (oy * s + ky).wrapping_sub(p[0]),
                        (ox * s + kx).wrapping_sub(p[1]),
                    );
                    if iy >= h || ix >= w {
                        continue;
                    }
                    for ci in 0..c {
                        let xv = f64::from(x[((img * c + ci) * h + iy) * w + ix]);
                        let t = xv * f64::from(wv[((j * c + ci) * k + ky) * k + kx]);
                        e += t;
                        mag += t.abs();
                    }
                }
            }
            let want = e.clamp(-0.5, 6.0);
            assert!(
                (f64::from(g) - want).abs() <= gamma * mag,
                "layer {i}, output {o}: {g} against {want}"
            );
        }
    }
}

fn bad(file: &[u8], reason: OpReason) {
    match AlignedModel::new(file).model().unwrap_err() {
        Error::BadOp { op: 0, reason: r } => assert_eq!(r, reason),
        e => panic!("expected BadOp({reason:?}), got {e:?}"),
    }
}

#[test]
fn hostile_conv_nchw_records_are_rejected() {
    let l = Layer::new(3, (8, 8), 8, 3, 2, [1; 4]);
    let (x, y, win) = ([2, 3, 8, 8], l.y_shape(), l.win);
    let p = vec![0.25; engine::f32_conv_packed_len(8, 3, [3, 3]).unwrap()];
    let ok = model(&x, DType::F32, &y, win, &p, false);
    assert_eq!(
        run(&ok, &vec![0u8; 2 * 3 * 64 * 4]).unwrap().len(),
        2 * 4 * 4 * 8 * 4
    );
    // Packed weights one element short.
    bad(
        &model(&x, DType::F32, &y, win, &p[1..], false),
        OpReason::Shape,
    );
    // Five input channels (packed for five).
    let p5 = vec![0.25; engine::f32_conv_packed_len(8, 5, [3, 3]).unwrap()];
    bad(
        &model(&[2, 5, 8, 8], DType::F32, &y, win, &p5, false),
        OpReason::Shape,
    );
    // An output size the window does not give.
    bad(
        &model(&x, DType::F32, &[2, 5, 4, 8], win, &p, false),
        OpReason::Attribute,
    );
    // Another batch size, rank 3.
    bad(
        &model(&x, DType::F32, &[1, 4, 4, 8], win, &p, false),
        OpReason::Shape,
    );
    bad(
        &model(&[3, 8, 8], DType::F32, &y, win, &p, false),
        OpReason::Shape,
    );
    // Zero stride.
    let w0 = Window {
        stride: [1, 0],
        ..win
    };
    bad(
        &model(&x, DType::F32, &y, w0, &p, false),
        OpReason::Attribute,
    );
    // int8 input; weights in the arena.
    bad(&model(&x, DType::I8, &y, win, &p, false), OpReason::DType);
    bad(
        &model(&x, DType::F32, &y, win, &p, true),
        OpReason::NotConstant,
    );
}

#[test]
fn conv_nchw_is_op_variant_32_of_format_1_5() {
    let op = Op::ConvNchw {
        window: window([3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
        act: Activation::Relu,
    };
    let enc = postcard::to_allocvec(&op).unwrap();
    // Variant 32, then the window (kernel, stride, dilation, pads) and the activation.
    assert_eq!(enc, [32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1]);
    assert_eq!(op.since_minor(), 5);
    let l = Layer::new(1, (4, 4), 2, 3, 1, [1; 4]);
    let p = vec![0.5; engine::f32_conv_packed_len(2, 1, [3, 3]).unwrap()];
    let file = model(&[2, 1, 4, 4], DType::F32, &l.y_shape(), l.win, &p, false);
    assert_eq!(
        u16::from_le_bytes([file[6], file[7]]),
        5,
        "the header's minor"
    );
}
