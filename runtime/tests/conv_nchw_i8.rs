//! `ConvNchwI8` (format 1.6), the int8 first-layer conv that reads the f32 NCHW graph
//! input and quantizes it as it reads it: its bytes equal the unfused chain's.
//!
//! - The engine function on every ISA this CPU has (`engine::i8_conv_nchw_on`; on
//!   x86-64 the portable, AVX2, AVX-512 and AVX-512 VNNI int8 convs) against an
//!   independent reference: the reference `quantize_i8` of the NCHW image, the
//!   reference int8 NCHW `conv2d` (`kernels::int8`), its output transposed to NHWC here.
//!   The image holds the quantizer's corners (NaN, ±∞, values beyond the int8 range,
//!   exact halves) and the shapes cross the 8-row bands, padding on every side,
//!   strides 1–3, dilation and 1–4 channels. On AArch64 (QEMU, with and without
//!   dot product) and wasm32 SIMD128 it runs as `engine_kernels.rs` describes, with
//!   `--test conv_nchw_i8`.
//! - Whole models: a `ConvNchwI8` model against the model of `Quantize`, the
//!   `Transpose` NCHW → NHWC and the int8 `ConvNhwc` with the same packed weights, byte
//!   for byte, at batch 2; the load-time checks of hostile records; the encoding
//!   (Op variant 33, format minor 6).

use ferrite::format::types::{Activation, DType, Op, QNhwc, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::engine::{self, ConvShape, I8Header, I8Out, Isa};
use ferrite::kernels::{f32 as kf, int8 as ki, ConvParams, QuantOut};
use ferrite::{AlignedModel, Error, OpReason};
use support::{run_model as run, window};

mod support;

use support::Rng;

/// One first layer and its data.
struct Case {
    s: ConvShape,
    x: Vec<f32>,
    scale: f32,
    x_zp: i32,
    w: Vec<i8>,
    bias: Vec<i32>,
    rq: Vec<i32>,
    out_zp: i32,
    act: (i32, i32),
}

fn shape(c: usize, (h, w): (usize, usize), m: usize, k: [usize; 2], st: [usize; 2]) -> ConvShape {
    ConvShape {
        in_h: h,
        in_w: w,
        in_c: c,
        out_h: 0,
        out_w: 0,
        out_c: m,
        kernel: k,
        stride: st,
        dilation: [1, 1],
        pad: [0, 0],
    }
}

/// `s` with its pads (top/left `pad`, bottom/right `end`) and dilation, and the
/// floor-mode output size.
fn padded(mut s: ConvShape, pad: [usize; 2], end: [usize; 2], dil: [usize; 2]) -> ConvShape {
    s.pad = pad;
    s.dilation = dil;
    let o = |len: usize, a: usize| {
        (len + pad[a] + end[a] - (s.kernel[a] - 1) * dil[a] - 1) / s.stride[a] + 1
    };
    s.out_h = o(s.in_h, 0);
    s.out_w = o(s.in_w, 1);
    s
}

fn win(s: &ConvShape) -> Window {
    let end = |a: usize, len: usize, out: usize| {
        ((out - 1) * s.stride[a] + (s.kernel[a] - 1) * s.dilation[a] + 1)
            .saturating_sub(len + s.pad[a]) as u32
    };
    window(
        s.kernel.map(|v| v as u32),
        s.stride.map(|v| v as u32),
        s.dilation.map(|v| v as u32),
        [
            s.pad[0] as u32,
            s.pad[1] as u32,
            end(0, s.in_h, s.out_h),
            end(1, s.in_w, s.out_w),
        ],
    )
}

impl Case {
    fn new(s: ConvShape, seed: u64) -> Case {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let scale = [0.0078125, 0.02, 1.0 / 3.0][seed as usize % 3];
        let x_zp = [-128, 127, 0, -3, 41][seed as usize % 5];
        let corners = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            0.5 * scale,
            -0.5 * scale,
            2.5 * scale,
            -1.5 * scale,
            0.0,
            -0.0,
        ];
        let x = (0..s.in_c * s.in_h * s.in_w)
            .map(|i| match r.range(0, 30) {
                0 => corners[i % corners.len()],
                _ => (r.range(-160, 160) as f32 + 0.25 * r.range(0, 3) as f32) * scale,
            })
            .collect();
        let k = s.in_c * s.kernel[0] * s.kernel[1];
        let w = (0..s.out_c * k).map(|_| r.range(-128, 127) as i8).collect();
        let bias = (0..s.out_c).map(|_| r.range(-5000, 5000) as i32).collect();
        let rq = (0..s.out_c)
            .flat_map(|_| {
                [
                    r.range(1 << 30, i32::MAX as i64) as i32,
                    -(r.range(6, 12) as i32),
                ]
            })
            .collect();
        let out_zp = r.range(-128, 127) as i32;
        let act = [(-128, 127), (out_zp, 127), (out_zp, (out_zp + 60).min(127))][seed as usize % 3];
        Case {
            s,
            x,
            scale,
            x_zp,
            w,
            bias,
            rq,
            out_zp,
            act,
        }
    }

    fn packed(&self, h: I8Header) -> Vec<u8> {
        let s = &self.s;
        let mut p = vec![0u8; engine::i8_conv_packed_len_as(h, s.out_c, s.in_c, s.kernel).unwrap()];
        let (b, m) = (Some(&self.bias[..]), (s.out_c, s.in_c));
        engine::pack_i8_conv_as(h, &self.w, b, &self.rq, self.x_zp, m, s.kernel, &mut p).unwrap();
        p
    }

    fn out(&self, header: I8Header) -> I8Out<'static> {
        I8Out {
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
            residual: None,
            header,
        }
    }

    /// Reference quantize, reference NCHW conv, NHWC here.
    fn reference(&self) -> Vec<i8> {
        let s = &self.s;
        let mut xq = vec![0i8; self.x.len()];
        kf::quantize_i8(&self.x, self.scale, self.x_zp, &mut xq);
        let cp = ConvParams {
            x: [1, s.in_c, s.in_h, s.in_w],
            w: [s.out_c, s.in_c, s.kernel[0], s.kernel[1]],
            y: [1, s.out_c, s.out_h, s.out_w],
            window: win(s),
            groups: 1,
        };
        let out = QuantOut {
            bias: Some(&self.bias),
            requant: &self.rq,
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
        };
        let mut y = vec![0i8; s.out_c * s.out_h * s.out_w];
        ki::conv2d(&cp, &xq, self.x_zp, &self.w, &out, &mut y);
        let px = s.out_h * s.out_w;
        (0..y.len())
            .map(|i| y[(i % s.out_c) * px + i / s.out_c])
            .collect()
    }
}

fn cases() -> Vec<Case> {
    let vww = shape(3, (96, 96), 8, [3, 3], [2, 2]);
    let shapes = [
        padded(vww, [0, 0], [1, 1], [1, 1]),
        padded(
            shape(3, (96, 96), 16, [3, 3], [2, 2]),
            [1, 1],
            [1, 1],
            [1, 1],
        ),
        padded(
            shape(1, (49, 10), 20, [10, 4], [2, 2]),
            [4, 1],
            [5, 2],
            [1, 1],
        ),
        padded(shape(1, (9, 37), 5, [5, 5], [1, 1]), [2, 2], [2, 2], [1, 1]),
        padded(
            shape(4, (23, 11), 20, [7, 7], [2, 2]),
            [3, 3],
            [3, 3],
            [1, 1],
        ),
        padded(
            shape(2, (17, 17), 3, [3, 3], [1, 3]),
            [0, 1],
            [1, 0],
            [1, 1],
        ),
        padded(
            shape(3, (19, 13), 33, [3, 3], [1, 1]),
            [2, 2],
            [2, 2],
            [2, 2],
        ),
        padded(shape(2, (1, 1), 4, [1, 1], [1, 1]), [0, 0], [0, 0], [1, 1]),
        padded(shape(3, (34, 7), 8, [3, 3], [3, 1]), [1, 1], [1, 1], [1, 1]),
        // 81 taps of 2 channels: the per-tap padded layout, not the flat one.
        padded(
            shape(2, (20, 21), 6, [9, 9], [2, 2]),
            [4, 4],
            [4, 4],
            [1, 1],
        ),
        // The padded-rows kernel (AVX-512 VBMI): two panels (20 channels), odd
        // widths (output rows of 16 + 9 pixels and of 7), left padding 2, rows of 17.
        padded(
            shape(3, (21, 47), 20, [3, 3], [2, 2]),
            [2, 2],
            [0, 1],
            [1, 1],
        ),
        // 4 channels (36 k: 9 quads), stride 1, a 35-pixel row.
        padded(shape(4, (9, 35), 8, [3, 3], [1, 1]), [1, 1], [1, 1], [1, 1]),
        // A wide kernel row: 1 × 11, stride 2 (a window of 41 bytes per 16 pixels).
        padded(
            shape(2, (5, 64), 16, [1, 11], [1, 2]),
            [0, 5],
            [0, 5],
            [1, 1],
        ),
        // 64 k (the largest that kernel takes), no padding, 16 channels.
        padded(
            shape(4, (12, 40), 16, [4, 4], [2, 2]),
            [0, 0],
            [0, 0],
            [1, 1],
        ),
        // 1 channel, 2 × 2: quads spanning 2 kernel rows, the right padding only.
        padded(shape(1, (7, 33), 3, [2, 2], [2, 2]), [0, 0], [1, 1], [1, 1]),
        // The sensor 1D-CNN's first layer: 3 channels of 64 samples, 1 × 5, padding 2.
        padded(shape(3, (1, 64), 8, [1, 5], [1, 1]), [0, 2], [0, 2], [1, 1]),
    ];
    shapes
        .into_iter()
        .enumerate()
        .map(|(i, s)| Case::new(s, 1 + i as u64))
        .collect()
}

#[test]
fn i8_conv_nchw_matches_the_reference_on_every_isa() {
    for (i, c) in cases().iter().enumerate() {
        let want = c.reference();
        let s = &c.s;
        for h in [I8Header::Wide, I8Header::Compact] {
            let packed = c.packed(h);
            let len = engine::i8_conv_nchw_scratch_len(s).unwrap();
            let mut scratch = vec![0x11i8; len];
            let mut y = vec![0x55i8; want.len() + 7];
            engine::i8_conv_nchw(
                s,
                &c.x,
                c.scale,
                c.x_zp,
                &packed,
                &c.out(h),
                &mut y,
                &mut scratch,
            )
            .unwrap();
            assert_eq!(&y[..want.len()], &want[..], "case {i} dispatched, {h:?}");
            assert!(
                y[want.len()..].iter().all(|&v| v == 0x55),
                "case {i}: tail written"
            );
            for isa in Isa::ALL {
                let mut y = vec![0x55i8; want.len()];
                let mut scratch = vec![-7i8; len];
                let out = c.out(h);
                let Some(r) = engine::i8_conv_nchw_on(
                    isa,
                    s,
                    &c.x,
                    c.scale,
                    c.x_zp,
                    &packed,
                    &out,
                    &mut y,
                    &mut scratch,
                ) else {
                    continue;
                };
                r.unwrap();
                assert_eq!(y, want, "case {i} on {}, {h:?}", isa.name());
            }
        }
    }
}

/// One dispatched run of `c` against its reference, for both headers.
fn dispatched_matches(c: &Case, what: &str) {
    let want = c.reference();
    let s = &c.s;
    for h in [I8Header::Wide, I8Header::Compact] {
        let packed = c.packed(h);
        let len = engine::i8_conv_nchw_scratch_len(s).unwrap();
        let mut scratch = vec![0x11i8; len];
        let mut y = vec![0x55i8; want.len() + 7];
        let out = c.out(h);
        engine::i8_conv_nchw(
            s,
            &c.x,
            c.scale,
            c.x_zp,
            &packed,
            &out,
            &mut y,
            &mut scratch,
        )
        .unwrap();
        assert_eq!(&y[..want.len()], &want[..], "{what}, {h:?}");
        assert!(y[want.len()..].iter().all(|&v| v == 0x55), "{what}: tail");
    }
}

/// The sensor 1D-CNN's first layer (3 → 8 channels, 1 × 5, one input row) and its
/// neighbours: widths around the 16-pixel blocks and the 64-byte windows, no or 2
/// columns of padding, strides 1 and 2, the input zero points −128 and 127, and a
/// multiplier of exactly `2^30` (the requantization's general form on AVX-512, not the
/// offset form), each against the reference on the dispatched kernel (on AVX-512
/// VBMI, the one-quantize-call path of a band that is the whole image).
#[test]
fn i8_conv_nchw_one_row_shapes() {
    let mut seed = 100;
    for w in [1, 5, 63, 64, 65, 200] {
        for pad in [0, 2] {
            for sx in [1, 2] {
                for x_zp in [-128, 127] {
                    if w + 2 * pad < 5 {
                        continue;
                    }
                    seed += 1;
                    let s = shape(3, (1, w), 8, [1, 5], [1, sx]);
                    let mut c = Case::new(padded(s, [0, pad], [0, pad], [1, 1]), seed);
                    c.x_zp = x_zp;
                    if seed % 3 == 0 {
                        c.rq[0] = 1 << 30;
                    }
                    let what = format!("w {w}, pad {pad}, stride {sx}, x_zp {x_zp}");
                    dispatched_matches(&c, &what);
                }
            }
        }
    }
    // One output row of the top padding (the image row is not read): every output
    // from `x_zp`.
    for (sx, seed) in [(1, 9), (2, 10)] {
        let s = shape(3, (1, 64), 8, [1, 5], [2, sx]);
        let c = Case::new(padded(s, [1, 2], [0, 2], [1, 1]), seed);
        assert_eq!(c.s.out_h, 1);
        dispatched_matches(&c, &format!("top padding row, stride {sx}"));
    }
    // 16 channels, and 20 (two panels), on one row.
    for (m, seed) in [(16, 7), (20, 8)] {
        let s = shape(3, (1, 64), m, [1, 5], [1, 1]);
        let c = Case::new(padded(s, [0, 2], [0, 2], [1, 1]), seed);
        dispatched_matches(&c, &format!("{m} channels"));
    }
    // 1 and 2 channels, other kernel widths, paddings and channel counts (on AVX-512
    // VBMI the one-row kernel where its window fits, the planar one elsewhere).
    let more = [
        (1, 3, 1, 1, 64, 8),
        (1, 9, 2, 4, 50, 8),
        (1, 1, 1, 0, 64, 8),
        (2, 7, 1, 3, 64, 16),
        (2, 3, 2, 0, 33, 4),
        (2, 5, 1, 2, 64, 8),
        (3, 3, 1, 1, 20, 24),
        (3, 5, 1, 6, 40, 8),
    ];
    for (i, (ch, kw, sx, pad, w, m)) in more.into_iter().enumerate() {
        let s = shape(ch, (1, w), m, [1, kw], [1, sx]);
        let mut c = Case::new(padded(s, [0, pad], [0, pad], [1, 1]), 40 + i as u64);
        c.x_zp = [-128, 127, 3][i % 3];
        // NaN, infinities, values far outside the range and halfway cases.
        let half = c.scale * 2.5;
        let odd = [
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            1e30,
            -1e30,
            half,
            -half,
            -0.0,
        ];
        for (v, &o) in c.x.iter_mut().step_by(7).zip(&odd) {
            *v = o;
        }
        let what = format!("{ch} channels, 1x{kw}, stride {sx}, pad {pad}, w {w}, {m} out");
        dispatched_matches(&c, &what);
    }
}

#[test]
fn i8_conv_nchw_rejects_bad_lengths() {
    // A 2D stem and the sensor's one-row shape (the one-row kernel's own checks).
    let one_row = Case::new(
        padded(shape(3, (1, 64), 8, [1, 5], [1, 1]), [0, 2], [0, 2], [1, 1]),
        5,
    );
    for c in [&cases()[3], &one_row] {
        rejects_bad_lengths(c);
    }
}

fn rejects_bad_lengths(c: &Case) {
    let s = &c.s;
    let packed = c.packed(I8Header::Compact);
    let out = c.out(I8Header::Compact);
    let len = engine::i8_conv_nchw_scratch_len(s).unwrap();
    let n = s.out_c * s.out_h * s.out_w;
    let run = |x: &[f32], p: &[u8], y: usize, sc: usize, s: &ConvShape| {
        let (mut y, mut scratch) = (vec![0i8; y], vec![0i8; sc]);
        engine::i8_conv_nchw(s, x, c.scale, c.x_zp, p, &out, &mut y, &mut scratch)
    };
    assert!(run(&c.x, &packed, n, len, s).is_ok());
    let short = |e: usize, a: usize| {
        Err(Error::WrongLength {
            expected: e,
            actual: a,
        })
    };
    assert_eq!(
        run(&c.x[1..], &packed, n, len, s),
        short(c.x.len(), c.x.len() - 1)
    );
    let p = packed.len();
    assert_eq!(run(&c.x, &packed[1..], n, len, s), short(p, p - 1));
    assert_eq!(run(&c.x, &packed, n - 1, len, s), short(n, n - 1));
    assert_eq!(run(&c.x, &packed, n, len - 1, s), short(len, len - 1));
    let five = ConvShape { in_c: 5, ..*s };
    assert_eq!(run(&c.x, &packed, n, len, &five), Err(Error::Unsupported));
}

/// The int8 model of case `c` at batch `n`: the fused op, or `Quantize`, `Transpose`
/// and `ConvNhwc`.
fn model(c: &Case, n: u32, fused: bool) -> Vec<u8> {
    let s = &c.s;
    let d = |v: usize| v as u32;
    let mut b = ModelBuilder::new("stem");
    let xs = [n, d(s.in_c), d(s.in_h), d(s.in_w)];
    let ys = [n, d(s.out_h), d(s.out_w), d(s.out_c)];
    let q = |scale, zero_point| Quant::PerTensor { scale, zero_point };
    let x = b.add_tensor("x", DType::F32, &xs, Quant::None).unwrap();
    let p = c.packed(I8Header::Compact);
    let w = b
        .add_const("w", DType::U8, &[p.len() as u32], &p, Quant::None)
        .unwrap();
    let y = b.add_tensor("y", DType::I8, &ys, q(0.1, c.out_zp)).unwrap();
    let (window, act) = (win(s), Activation::Relu);
    if fused {
        let op = Op::ConvNchwI8 {
            window,
            act,
            x_scale: c.scale,
            x_zero_point: c.x_zp,
            act_min: c.act.0,
            act_max: c.act.1,
        };
        b.add_op(op, &[x, w], &[y]).unwrap();
    } else {
        let xq = b
            .add_tensor("xq", DType::I8, &xs, q(c.scale, c.x_zp))
            .unwrap();
        b.add_op(Op::Quantize, &[x], &[xq]).unwrap();
        let hw = [n, d(s.in_h), d(s.in_w), d(s.in_c)];
        let xt = b
            .add_tensor("xt", DType::I8, &hw, q(c.scale, c.x_zp))
            .unwrap();
        let perm = heapless::Vec::from_slice(&[0, 2, 3, 1]).unwrap();
        b.add_op(Op::Transpose { perm }, &[xq], &[xt]).unwrap();
        let qn = Some(QNhwc {
            act_min: c.act.0,
            act_max: c.act.1,
            residual: None,
        });
        let op = Op::ConvNhwc { window, act, q: qn };
        b.add_op(op, &[xt, w], &[y]).unwrap();
    }
    b.set_io(&[x], &[y]).unwrap();
    b.finish().unwrap()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

#[test]
fn conv_nchw_i8_models_equal_quantize_transpose_conv_nhwc() {
    for (i, c) in cases().iter().enumerate() {
        // Two images: the case's and its reverse.
        let mut x = c.x.clone();
        x.extend(c.x.iter().rev());
        let want = run(&model(c, 2, false), &bytes(&x)).unwrap();
        let got = run(&model(c, 2, true), &bytes(&x)).unwrap();
        assert_eq!(got, want, "case {i}");
        let one = c.reference();
        assert_eq!(
            &got[..one.len()],
            one.iter().map(|&v| v as u8).collect::<Vec<_>>()
        );
    }
}

fn bad(file: &[u8], reason: OpReason) {
    match AlignedModel::new(file).model().unwrap_err() {
        Error::BadOp { op: 0, reason: r } => assert_eq!(r, reason),
        e => panic!("expected BadOp({reason:?}), got {e:?}"),
    }
}

/// `model(c, 1, true)` with its op, its weights or its tensors changed by `edit`.
fn edited(
    c: &Case,
    edit: impl Fn(&mut Op, &mut Vec<u8>, &mut [DType; 2], &mut [u32; 4]),
) -> Vec<u8> {
    let s = &c.s;
    let d = |v: usize| v as u32;
    let mut op = Op::ConvNchwI8 {
        window: win(s),
        act: Activation::None,
        x_scale: c.scale,
        x_zero_point: c.x_zp,
        act_min: c.act.0,
        act_max: c.act.1,
    };
    let mut p = c.packed(I8Header::Wide);
    let mut dt = [DType::F32, DType::I8];
    let mut xs = [1, d(s.in_c), d(s.in_h), d(s.in_w)];
    edit(&mut op, &mut p, &mut dt, &mut xs);
    let mut b = ModelBuilder::new("stem");
    let q = Quant::PerTensor {
        scale: 0.5,
        zero_point: 1,
    };
    let xq = if dt[0] == DType::F32 { Quant::None } else { q };
    let x = b.add_tensor("x", dt[0], &xs, xq).unwrap();
    let w = b
        .add_const("w", DType::U8, &[p.len() as u32], &p, Quant::None)
        .unwrap();
    let ys = [1, d(s.out_h), d(s.out_w), d(s.out_c)];
    let yq = if dt[1] == DType::F32 { Quant::None } else { q };
    let y = b.add_tensor("y", dt[1], &ys, yq).unwrap();
    b.add_op(op, &[x, w], &[y]).unwrap();
    b.set_io(&[x], &[y]).unwrap();
    b.finish().unwrap()
}

#[test]
fn hostile_conv_nchw_i8_records_are_rejected() {
    let c = &cases()[4];
    let ok = edited(c, |_, _, _, _| {});
    let s = &c.s;
    let n = s.in_c * s.in_h * s.in_w;
    assert_eq!(
        run(&ok, &bytes(&c.x)).unwrap().len(),
        s.out_c * s.out_h * s.out_w
    );
    assert_eq!(n, c.x.len());
    fn set(op: &mut Op, v: (f32, i32, i32, i32)) {
        if let Op::ConvNchwI8 {
            x_scale,
            x_zero_point,
            act_min,
            act_max,
            ..
        } = op
        {
            (*x_scale, *x_zero_point, *act_min, *act_max) = v;
        }
    }
    let field = |v: (f32, i32, i32, i32)| edited(c, move |op, _, _, _| set(op, v));
    bad(&field((0.0, 0, -128, 127)), OpReason::Quantization);
    bad(&field((f32::NAN, 0, -128, 127)), OpReason::Quantization);
    bad(
        &field((f32::INFINITY, 0, -128, 127)),
        OpReason::Quantization,
    );
    bad(&field((0.5, 128, -128, 127)), OpReason::Quantization);
    bad(&field((0.5, 0, 5, 4)), OpReason::Quantization);
    bad(&field((0.5, 0, -129, 127)), OpReason::Quantization);
    // Packed weights one byte short, or with an invalid requantization.
    bad(
        &edited(c, |_, p, _, _| p.truncate(p.len() - 1)),
        OpReason::Shape,
    );
    bad(
        // (The wide header's multiplier row is at byte 128: 5 is no valid multiplier.)
        &edited(c, |_, p, _, _| p[128..132].copy_from_slice(&[5, 0, 0, 0])),
        OpReason::ConstantData,
    );
    // int8 input, f32 output, five channels, rank 3.
    bad(&edited(c, |_, _, dt, _| dt[0] = DType::I8), OpReason::DType);
    bad(
        &edited(c, |_, _, dt, _| dt[1] = DType::F32),
        OpReason::DType,
    );
    bad(&edited(c, |_, _, _, xs| xs[1] = 5), OpReason::Shape);
    // A zero stride.
    let zero_stride = edited(c, |op, _, _, _| {
        if let Op::ConvNchwI8 { window, .. } = op {
            window.stride[1] = 0;
        }
    });
    bad(&zero_stride, OpReason::Attribute);
}

#[test]
fn conv_nchw_i8_is_op_variant_33_of_format_1_6() {
    let op = Op::ConvNchwI8 {
        window: window([3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
        act: Activation::Relu,
        x_scale: 1.0,
        x_zero_point: -1,
        act_min: -128,
        act_max: 127,
    };
    let enc = postcard::to_allocvec(&op).unwrap();
    // Variant 33, the window (kernel, stride, dilation, pads), the activation, the
    // scale (f32 LE), then zig-zag varints: -1, -128, 127.
    let want = [
        33, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0x80, 0x3F, 1, 0xFF, 1, 0xFE, 1,
    ];
    assert_eq!(enc, want);
    assert_eq!(op.since_minor(), 6);
    let c = &cases()[7];
    let file = model(c, 1, true);
    assert_eq!(
        u16::from_le_bytes([file[6], file[7]]),
        6,
        "the header's minor"
    );
    let unfused = model(c, 1, false);
    assert_eq!(
        u16::from_le_bytes([unfused[6], unfused[7]]),
        4,
        "compact headers: 1.4"
    );
}
