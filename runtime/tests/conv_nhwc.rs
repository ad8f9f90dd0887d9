//! The NHWC engine ops (`ConvNhwc`, `DepthwiseNhwc`) in whole models built with
//! `ModelBuilder`, against the reference NCHW ops (`Conv`, `Binary`) of the same
//! layers: int8 output bytes equal, f32 within the engine's documented bound
//! (`kernels::engine` module docs: each is within `γ(K + 2)·S` of the exact value, so
//! they are within twice that of each other). Then the load-time checks: each hostile
//! record is rejected with its typed `BadOp` reason, and the conv scratch is part of
//! `Model::arena_size`.

use ferrite::format::types::{
    Activation, BinaryOp, DType, Op, QBinary, QNhwc, QParams, Quant, Requant, Window,
};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::engine::{self, I8Header, NR};
use ferrite::kernels::fixed::quantize_multiplier;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};
use support::run_model as run;

mod support;

/// One conv layer: NHWC input `[n, h, w, c]`, `m` output channels.
#[derive(Clone, Copy)]
struct Layer {
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    m: u32,
    k: [u32; 2],
    stride: [u32; 2],
    dilation: [u32; 2],
    pads: [u32; 4],
    depthwise: bool,
}

impl Layer {
    fn window(&self) -> Window {
        Window {
            kernel: self.k,
            stride: self.stride,
            dilation: self.dilation,
            pads: self.pads,
        }
    }

    fn out_hw(&self) -> (u32, u32) {
        let o = |i: u32, k, s, d, p0, p1| (i + p0 + p1 - d * (k - 1) - 1) / s + 1;
        let [pt, pl, pb, pr] = self.pads;
        (
            o(self.h, self.k[0], self.stride[0], self.dilation[0], pt, pb),
            o(self.w, self.k[1], self.stride[1], self.dilation[1], pl, pr),
        )
    }

    fn x_nhwc(&self) -> [u32; 4] {
        [self.n, self.h, self.w, self.c]
    }

    fn x_nchw(&self) -> [u32; 4] {
        [self.n, self.c, self.h, self.w]
    }

    fn y_nhwc(&self) -> [u32; 4] {
        let (oh, ow) = self.out_hw();
        [self.n, oh, ow, self.m]
    }

    fn y_nchw(&self) -> [u32; 4] {
        let (oh, ow) = self.out_hw();
        [self.n, self.m, oh, ow]
    }

    /// ONNX weight shape `[M, C/groups, KH, KW]`.
    fn w_shape(&self) -> [u32; 4] {
        let cg = if self.depthwise { 1 } else { self.c };
        [self.m, cg, self.k[0], self.k[1]]
    }

    fn taps(&self) -> usize {
        (self.k[0] * self.k[1]) as usize
    }
}

fn count(shape: &[u32]) -> usize {
    shape.iter().map(|&d| d as usize).product()
}

/// Deterministic values in `[-1, 1)`.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn i8s(n: usize, seed: u32, lo: i32, hi: i32) -> Vec<i8> {
    values(n, seed)
        .iter()
        .map(|v| (lo + ((v + 1.0) * 0.5 * (hi - lo + 1) as f32) as i32).min(hi) as i8)
        .collect()
}

/// `[n, d1, d2, d3]` → `[n, d3, d1, d2]` (NHWC to NCHW) when `to_nchw`, else back.
fn permute<T: Copy>(v: &[T], s: [u32; 4], to_nchw: bool) -> Vec<T> {
    let [n, a, b, c] = s.map(|d| d as usize);
    let mut out = Vec::with_capacity(v.len());
    for i in 0..n {
        if to_nchw {
            for z in 0..c {
                for y in 0..a {
                    for x in 0..b {
                        out.push(v[((i * a + y) * b + x) * c + z]);
                    }
                }
            }
        } else {
            // `s` is the NCHW shape [n, c, h, w].
            for y in 0..b {
                for x in 0..c {
                    for z in 0..a {
                        out.push(v[((i * a + z) * b + y) * c + x]);
                    }
                }
            }
        }
    }
    out
}

fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

fn load_err(model: &[u8]) -> Error {
    AlignedModel::new(model).model().unwrap_err()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

struct F32Case {
    l: Layer,
    w: Vec<f32>,
    bias: Vec<f32>,
    act: Activation,
    residual: bool,
}

impl F32Case {
    fn new(l: Layer, act: Activation, residual: bool) -> Self {
        F32Case {
            w: values(count(&l.w_shape()), 3),
            bias: values(l.m as usize, 5),
            l,
            act,
            residual,
        }
    }

    fn packed(&self) -> Vec<f32> {
        let l = &self.l;
        let k = [l.k[0] as usize, l.k[1] as usize];
        if l.depthwise {
            let mut p = vec![0f32; engine::f32_dwconv_packed_len(l.c as usize, k).unwrap()];
            engine::pack_f32_dwconv(&self.w, Some(&self.bias), l.c as usize, k, &mut p).unwrap();
            p
        } else {
            let len = engine::f32_conv_packed_len(l.m as usize, l.c as usize, k).unwrap();
            let mut p = vec![0f32; len];
            let (m, c) = (l.m as usize, l.c as usize);
            engine::pack_f32_conv(&self.w, Some(&self.bias), m, c, k, &mut p).unwrap();
            p
        }
    }

    /// The engine model; the residual is a second graph input.
    fn nhwc(&self) -> Vec<u8> {
        let l = &self.l;
        let mut m = ModelBuilder::new("nhwc");
        let x = m
            .add_tensor("x", DType::F32, &l.x_nhwc(), Quant::None)
            .unwrap();
        let p = self.packed();
        let w = m.add_const_f32("w", &[p.len() as u32], &p).unwrap();
        let y = m
            .add_tensor("y", DType::F32, &l.y_nhwc(), Quant::None)
            .unwrap();
        let mut ins = vec![x, w];
        if self.residual {
            ins.push(
                m.add_tensor("r", DType::F32, &l.y_nhwc(), Quant::None)
                    .unwrap(),
            );
        }
        let (window, act) = (l.window(), self.act);
        let op = if l.depthwise {
            Op::DepthwiseNhwc {
                window,
                act,
                q: None,
            }
        } else {
            Op::ConvNhwc {
                window,
                act,
                q: None,
            }
        };
        m.add_op(op, &ins, &[y]).unwrap();
        let mut io = vec![x];
        io.extend(ins.get(2));
        m.set_io(&io, &[y]).unwrap();
        m.finish().unwrap()
    }

    /// The reference NCHW model: Conv (+ Add, the activation after it).
    fn nchw(&self) -> Vec<u8> {
        let l = &self.l;
        let mut m = ModelBuilder::new("nchw");
        let x = m
            .add_tensor("x", DType::F32, &l.x_nchw(), Quant::None)
            .unwrap();
        let w = m.add_const_f32("w", &l.w_shape(), &self.w).unwrap();
        let b = m.add_const_f32("b", &[l.m], &self.bias).unwrap();
        let t = m
            .add_tensor("t", DType::F32, &l.y_nchw(), Quant::None)
            .unwrap();
        let conv_act = if self.residual {
            Activation::None
        } else {
            self.act
        };
        let conv = Op::Conv {
            window: l.window(),
            groups: if l.depthwise { l.c } else { 1 },
            act: conv_act,
            q: None,
        };
        m.add_op(conv, &[x, w, b], &[t]).unwrap();
        if !self.residual {
            m.set_io(&[x], &[t]).unwrap();
            return m.finish().unwrap();
        }
        let r = m
            .add_tensor("r", DType::F32, &l.y_nchw(), Quant::None)
            .unwrap();
        let y = m
            .add_tensor("y", DType::F32, &l.y_nchw(), Quant::None)
            .unwrap();
        let add = Op::Binary {
            op: BinaryOp::Add,
            act: self.act,
            q: None,
        };
        m.add_op(add, &[t, r], &[y]).unwrap();
        m.set_io(&[x, r], &[y]).unwrap();
        m.finish().unwrap()
    }

    fn check(&self) {
        let l = &self.l;
        let x = values(count(&l.x_nhwc()), 11);
        let r = values(count(&l.y_nhwc()), 13);
        let run2 = |model: &[u8], x: &[f32], r: &[f32]| {
            let a = AlignedModel::new(model);
            let m = a.model().unwrap();
            let mut os = OwnedSession::new(&m);
            let mut s = os.session();
            s.set_input_bytes(0, &le(x, f32::to_le_bytes)).unwrap();
            if self.residual {
                s.set_input_bytes(1, &le(r, f32::to_le_bytes)).unwrap();
            }
            s.run().unwrap();
            f32s(s.output_bytes(0).unwrap())
        };
        let got = run2(&self.nhwc(), &x, &r);
        let want_nchw = run2(
            &self.nchw(),
            &permute(&x, l.x_nhwc(), true),
            &permute(&r, l.y_nhwc(), true),
        );
        let want = permute(&want_nchw, l.y_nchw(), false);
        // S = |bias| + Σ|x·w| + |r| per output, from the data (f64); K products.
        let k = l.taps() * if l.depthwise { 1 } else { l.c as usize };
        let gamma = |n: usize| {
            let u = f64::from(f32::EPSILON) / 2.0;
            n as f64 * u / (1.0 - n as f64 * u)
        };
        let abs_sum = self.abs_sums(&x, &r);
        assert_eq!(got.len(), want.len());
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let bound = 2.0 * gamma(k + 2) * abs_sum[i];
            assert!(
                (f64::from(g) - f64::from(w)).abs() <= bound,
                "output {i}: engine {g}, reference {w}, bound {bound}"
            );
        }
    }

    /// `|bias| + Σ|x·w| + |r|` of every NHWC output.
    fn abs_sums(&self, x: &[f32], r: &[f32]) -> Vec<f64> {
        let l = &self.l;
        let [n, oh, ow, m] = l.y_nhwc().map(|d| d as usize);
        let (h, w, c) = (l.h as usize, l.w as usize, l.c as usize);
        let [kh, kw] = l.k.map(|d| d as usize);
        let mut out = vec![0f64; n * oh * ow * m];
        for i in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for j in 0..m {
                        let o = ((i * oh + oy) * ow + ox) * m + j;
                        let mut s = f64::from(self.bias[j].abs());
                        if self.residual {
                            s += f64::from(r[o].abs());
                        }
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * l.stride[0] as usize + ky * l.dilation[0] as usize)
                                    .wrapping_sub(l.pads[0] as usize);
                                let ix = (ox * l.stride[1] as usize + kx * l.dilation[1] as usize)
                                    .wrapping_sub(l.pads[1] as usize);
                                if iy >= h || ix >= w {
                                    continue;
                                }
                                let chans = if l.depthwise { j..j + 1 } else { 0..c };
                                for ci in chans {
                                    let wi = if l.depthwise {
                                        (j * kh + ky) * kw + kx
                                    } else {
                                        ((j * c + ci) * kh + ky) * kw + kx
                                    };
                                    let xv = x[((i * h + iy) * w + ix) * c + ci];
                                    s += f64::from((xv * self.w[wi]).abs());
                                }
                            }
                        }
                        out[o] = s;
                    }
                }
            }
        }
        out
    }
}

fn layer(c: u32, m: u32, k: u32, stride: u32, pad: u32, depthwise: bool) -> Layer {
    Layer {
        n: 2,
        h: 9,
        w: 7,
        c,
        m,
        k: [k, k],
        stride: [stride, stride],
        dilation: [1, 1],
        pads: [pad; 4],
        depthwise,
    }
}

const RELU6: Activation = Activation::Clip { min: 0.0, max: 6.0 };

#[test]
fn f32_conv_matches_the_reference_conv() {
    // 3×3 stride 2 padded (the first layer of MobileNet), 1×1, 10×4 KWS-like, dilated.
    F32Case::new(layer(3, 20, 3, 2, 1, false), RELU6, false).check();
    F32Case::new(layer(24, 40, 1, 1, 0, false), Activation::None, false).check();
    let mut kws = layer(1, 17, 1, 2, 0, false);
    kws.k = [10, 4];
    kws.pads = [4, 1, 5, 2];
    kws.h = 25;
    F32Case::new(kws, Activation::Relu, false).check();
    let mut dil = layer(5, 16, 3, 1, 2, false);
    dil.dilation = [2, 2];
    F32Case::new(dil, Activation::None, false).check();
}

#[test]
fn f32_conv_with_a_residual_matches_conv_then_add() {
    F32Case::new(layer(16, 16, 3, 1, 1, false), Activation::Relu, true).check();
    F32Case::new(layer(8, 33, 1, 1, 0, false), Activation::None, true).check();
}

#[test]
fn f32_depthwise_matches_the_reference_grouped_conv() {
    F32Case::new(layer(20, 20, 3, 1, 1, true), RELU6, false).check();
    F32Case::new(layer(35, 35, 3, 2, 1, true), Activation::None, false).check();
    F32Case::new(layer(16, 16, 5, 1, 2, true), Activation::Relu, true).check();
}

/// int8 per-channel requantization pairs for `m` channels.
fn rq_pairs(m: usize, seed: u32) -> Vec<i32> {
    values(m, seed)
        .iter()
        .flat_map(|v| {
            let (mult, shift) = quantize_multiplier(0.002 + 0.004 * f64::from(v.abs()));
            [mult, shift]
        })
        .collect()
}

struct I8Case {
    l: Layer,
    x_zp: i32,
    out_zp: i32,
    act: (i32, i32),
    /// The Add's parameters and the residual's zero point.
    residual: Option<QBinary>,
}

impl I8Case {
    fn w(&self) -> Vec<i8> {
        i8s(count(&self.l.w_shape()), 3, -127, 127)
    }
    fn bias(&self) -> Vec<i32> {
        i8s(self.l.m as usize, 5, -128, 127)
            .iter()
            .map(|&b| i32::from(b) * 37)
            .collect()
    }
    fn rq(&self) -> Vec<i32> {
        rq_pairs(self.l.m as usize, 7)
    }
    /// The zero point of the conv's own output (the Add's `a` with a residual).
    fn conv_zp(&self) -> i32 {
        self.residual.map_or(self.out_zp, |a| a.a_zero_point)
    }

    /// The one-op NHWC model, its weights packed with headers of the form `h`.
    fn nhwc(&self, h: I8Header) -> Vec<u8> {
        let l = &self.l;
        let k = [l.k[0] as usize, l.k[1] as usize];
        let (w, bias, rq) = (self.w(), self.bias(), self.rq());
        let packed = if l.depthwise {
            let mut p = vec![0u8; engine::i8_dwconv_packed_len_as(h, l.c as usize, k).unwrap()];
            engine::pack_i8_dwconv_as(h, &w, Some(&bias), &rq, l.c as usize, k, &mut p).unwrap();
            p
        } else {
            let (m, c) = (l.m as usize, l.c as usize);
            let mut p = vec![0u8; engine::i8_conv_packed_len_as(h, m, c, k).unwrap()];
            engine::pack_i8_conv_as(h, &w, Some(&bias), &rq, self.x_zp, (m, c), k, &mut p).unwrap();
            p
        };
        let mut m = ModelBuilder::new("nhwc8");
        let qx = Quant::PerTensor {
            scale: 0.05,
            zero_point: self.x_zp,
        };
        let qy = Quant::PerTensor {
            scale: 0.1,
            zero_point: self.out_zp,
        };
        let x = m.add_tensor("x", DType::I8, &l.x_nhwc(), qx).unwrap();
        let pw = m
            .add_const("w", DType::U8, &[packed.len() as u32], &packed, Quant::None)
            .unwrap();
        let y = m.add_tensor("y", DType::I8, &l.y_nhwc(), qy).unwrap();
        let mut ins = vec![x, pw];
        if let Some(a) = self.residual {
            let qr = Quant::PerTensor {
                scale: 0.07,
                zero_point: a.b_zero_point,
            };
            ins.push(m.add_tensor("r", DType::I8, &l.y_nhwc(), qr).unwrap());
        }
        let q = Some(QNhwc {
            act_min: self.act.0,
            act_max: self.act.1,
            residual: self.residual,
        });
        let (window, act) = (l.window(), Activation::None);
        let op = if l.depthwise {
            Op::DepthwiseNhwc { window, act, q }
        } else {
            Op::ConvNhwc { window, act, q }
        };
        m.add_op(op, &ins, &[y]).unwrap();
        let mut io = vec![x];
        io.extend(ins.get(2));
        m.set_io(&io, &[y]).unwrap();
        m.finish().unwrap()
    }

    fn nchw(&self) -> Vec<u8> {
        let l = &self.l;
        let mut m = ModelBuilder::new("nchw8");
        let qx = Quant::PerTensor {
            scale: 0.05,
            zero_point: self.x_zp,
        };
        let qt = Quant::PerTensor {
            scale: 0.1,
            zero_point: self.conv_zp(),
        };
        let x = m.add_tensor("x", DType::I8, &l.x_nchw(), qx).unwrap();
        let w = m
            .add_const(
                "w",
                DType::I8,
                &l.w_shape(),
                &le(&self.w(), |v: i8| [v as u8]),
                Quant::None,
            )
            .unwrap();
        let b = m
            .add_const(
                "b",
                DType::I32,
                &[l.m],
                &le(&self.bias(), i32::to_le_bytes),
                Quant::None,
            )
            .unwrap();
        let requant = m.add_i32_blob(&self.rq());
        let t = m.add_tensor("t", DType::I8, &l.y_nchw(), qt).unwrap();
        let conv = Op::Conv {
            window: l.window(),
            groups: if l.depthwise { l.c } else { 1 },
            act: Activation::None,
            q: Some(QParams {
                requant,
                channels: l.m,
                act_min: self.act.0,
                act_max: self.act.1,
            }),
        };
        m.add_op(conv, &[x, w, b], &[t]).unwrap();
        let Some(add) = self.residual else {
            m.set_io(&[x], &[t]).unwrap();
            return m.finish().unwrap();
        };
        let qr = Quant::PerTensor {
            scale: 0.07,
            zero_point: add.b_zero_point,
        };
        let qy = Quant::PerTensor {
            scale: 0.1,
            zero_point: self.out_zp,
        };
        let r = m.add_tensor("r", DType::I8, &l.y_nchw(), qr).unwrap();
        let y = m.add_tensor("y", DType::I8, &l.y_nchw(), qy).unwrap();
        let op = Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: Some(add),
        };
        m.add_op(op, &[t, r], &[y]).unwrap();
        m.set_io(&[x, r], &[y]).unwrap();
        m.finish().unwrap()
    }

    fn check(&self) {
        let l = &self.l;
        let x = i8s(count(&l.x_nhwc()), 11, -128, 127);
        let r = i8s(count(&l.y_nhwc()), 13, -128, 127);
        let run2 = |model: &[u8], x: &[i8], r: &[i8]| {
            let a = AlignedModel::new(model);
            let m = a.model().unwrap();
            let mut os = OwnedSession::new(&m);
            let mut s = os.session();
            s.set_input_bytes(0, &le(x, |v: i8| [v as u8])).unwrap();
            if self.residual.is_some() {
                s.set_input_bytes(1, &le(r, |v: i8| [v as u8])).unwrap();
            }
            s.run().unwrap();
            s.output_bytes(0).unwrap().to_vec()
        };
        let want = run2(
            &self.nchw(),
            &permute(&x, l.x_nhwc(), true),
            &permute(&r, l.y_nhwc(), true),
        );
        let want = permute(&want, l.y_nchw(), false);
        // The wide headers of format 1.1 files and the compact ones of 1.4 (which the
        // header's minor version says) give the reference's bytes.
        for (h, minor) in [(I8Header::Wide, 1), (I8Header::Compact, 4)] {
            let model = self.nhwc(h);
            assert_eq!(u16::from_le_bytes([model[6], model[7]]), minor, "{h:?}");
            assert_eq!(run2(&model, &x, &r), want, "{h:?}");
        }
        let got = want;
        // Not a trivial output: the values spread over the range.
        let distinct = got.iter().collect::<std::collections::BTreeSet<_>>().len();
        assert!(distinct > 8, "{distinct} distinct output values");
    }
}

fn add_params() -> QBinary {
    let half = |v: f64| {
        let (multiplier, shift) = quantize_multiplier(v);
        Requant { multiplier, shift }
    };
    QBinary {
        a_zero_point: 3,
        b_zero_point: -7,
        out_zero_point: -2,
        left_shift: 20,
        a: half(0.5),
        b: half(0.35),
        out: half(2.0 / (1 << 20) as f64 * 10.0),
        act_min: -128,
        act_max: 127,
    }
}

#[test]
fn int8_conv_bytes_equal_the_reference_conv() {
    let cases = [
        (layer(3, 20, 3, 2, 1, false), -128, (-128, 127)),
        (layer(24, 40, 1, 1, 0, false), 5, (-20, 127)),
        (layer(17, 18, 3, 1, 1, false), -9, (-128, 127)),
    ];
    for (l, x_zp, act) in cases {
        I8Case {
            l,
            x_zp,
            out_zp: -4,
            act,
            residual: None,
        }
        .check();
    }
    let mut kws = layer(1, 17, 1, 2, 0, false);
    kws.k = [10, 4];
    kws.pads = [4, 1, 5, 2];
    kws.h = 25;
    I8Case {
        l: kws,
        x_zp: 12,
        out_zp: -128,
        act: (-128, 127),
        residual: None,
    }
    .check();
}

#[test]
fn int8_conv_with_a_residual_equals_conv_then_add() {
    for l in [layer(16, 16, 3, 1, 1, false), layer(8, 24, 1, 1, 0, false)] {
        I8Case {
            l,
            x_zp: 1,
            out_zp: -2,
            act: (-128, 127),
            residual: Some(add_params()),
        }
        .check();
    }
}

#[test]
fn int8_depthwise_bytes_equal_the_reference_grouped_conv() {
    for (l, act) in [
        (layer(20, 20, 3, 1, 1, true), (-128, 127)),
        (layer(35, 35, 3, 2, 1, true), (-128, 60)),
        (layer(16, 16, 5, 1, 2, true), (-100, 127)),
    ] {
        I8Case {
            l,
            x_zp: -3,
            out_zp: 2,
            act,
            residual: None,
        }
        .check();
    }
}

#[test]
fn a_padded_conv_reserves_its_scratch_row_in_the_arena() {
    // 3×3 padded conv over 24 channels: a padding row of 24 f32 after the tensors;
    // the unpadded 1×1 conv needs none (its arena is exactly the planned one).
    let padded = F32Case::new(layer(24, 8, 3, 1, 1, false), Activation::None, false).nhwc();
    let plain = F32Case::new(layer(24, 8, 1, 1, 0, false), Activation::None, false).nhwc();
    let tensors = |l: Layer| (count(&l.x_nhwc()) + count(&l.y_nhwc())) * 4;
    let a = AlignedModel::new(&padded);
    let m = a.model().unwrap();
    let planned = tensors(layer(24, 8, 3, 1, 1, false)).div_ceil(16) * 16;
    assert_eq!(m.arena_size(), planned + 24 * 4);
    let a = AlignedModel::new(&plain);
    assert_eq!(
        a.model().unwrap().arena_size(),
        tensors(layer(24, 8, 1, 1, 0, false)).div_ceil(16) * 16
    );
}

// ---- Hostile records: each rejected at load with its reason. ----

fn bad(model: &[u8], reason: OpReason) {
    match load_err(model) {
        Error::BadOp { op: 0, reason: r } => assert_eq!(r, reason),
        e => panic!("expected BadOp({reason:?}), got {e:?}"),
    }
}

/// A model with one f32 ConvNhwc over `x`, packed weights `w` (elements) and
/// optional residual shape, for hostile variations.
fn f32_model(
    x: &[u32],
    y: &[u32],
    window: Window,
    w: &[f32],
    r: Option<&[u32]>,
    dw: bool,
) -> Vec<u8> {
    let mut m = ModelBuilder::new("hostile");
    let xi = m.add_tensor("x", DType::F32, x, Quant::None).unwrap();
    let wi = m.add_const_f32("w", &[w.len() as u32], w).unwrap();
    let yi = m.add_tensor("y", DType::F32, y, Quant::None).unwrap();
    let mut ins = vec![xi, wi];
    let mut io = vec![xi];
    if let Some(r) = r {
        let ri = m.add_tensor("r", DType::F32, r, Quant::None).unwrap();
        ins.push(ri);
        io.push(ri);
    }
    let act = Activation::None;
    let op = if dw {
        Op::DepthwiseNhwc {
            window,
            act,
            q: None,
        }
    } else {
        Op::ConvNhwc {
            window,
            act,
            q: None,
        }
    };
    m.add_op(op, &ins, &[yi]).unwrap();
    m.set_io(&io, &[yi]).unwrap();
    m.finish().unwrap()
}

#[test]
fn hostile_f32_records_are_rejected() {
    let l = layer(3, 20, 3, 1, 1, false);
    let (x, y, win) = (l.x_nhwc(), l.y_nhwc(), l.window());
    let len = engine::f32_conv_packed_len(20, 3, [3, 3]).unwrap();
    let ok = f32_model(&x, &y, win, &vec![0.5; len], None, false);
    assert_eq!(
        run(&ok, &vec![0u8; count(&x) * 4]).unwrap().len(),
        count(&y) * 4
    );
    // Packed weights one element short or long.
    bad(
        &f32_model(&x, &y, win, &vec![0.5; len - 1], None, false),
        OpReason::Shape,
    );
    bad(
        &f32_model(&x, &y, win, &vec![0.5; len + 16], None, false),
        OpReason::Shape,
    );
    // An output size the window does not give.
    let mut y2 = y;
    y2[1] += 1;
    bad(
        &f32_model(&x, &y2, win, &vec![0.5; len], None, false),
        OpReason::Attribute,
    );
    // Zero stride.
    let mut w0 = win;
    w0.stride = [0, 1];
    bad(
        &f32_model(&x, &y, w0, &vec![0.5; len], None, false),
        OpReason::Attribute,
    );
    // Rank 3 activations.
    bad(
        &f32_model(&[2, 9, 21], &[2, 9, 140], win, &vec![0.5; len], None, false),
        OpReason::Shape,
    );
    // A residual of another shape.
    let mut r = y;
    r[3] -= 1;
    bad(
        &f32_model(&x, &y, win, &vec![0.5; len], Some(&r), false),
        OpReason::Shape,
    );
    // Depthwise with M != C.
    let dl = engine::f32_dwconv_packed_len(3, [3, 3]).unwrap();
    bad(
        &f32_model(&x, &y, win, &vec![0.5; dl], None, true),
        OpReason::Shape,
    );
    // Weights in the arena.
    let mut m = ModelBuilder::new("arena-weights");
    let xi = m.add_tensor("x", DType::F32, &x, Quant::None).unwrap();
    let wi = m
        .add_tensor("w", DType::F32, &[len as u32], Quant::None)
        .unwrap();
    let yi = m.add_tensor("y", DType::F32, &y, Quant::None).unwrap();
    let op = Op::ConvNhwc {
        window: win,
        act: Activation::None,
        q: None,
    };
    m.add_op(op, &[xi, wi], &[yi]).unwrap();
    m.set_io(&[xi, wi], &[yi]).unwrap();
    bad(&m.finish().unwrap(), OpReason::NotConstant);
}

/// A one-op int8 ConvNhwc (1×1, 8 → 16 channels) over packed bytes `p` stored as
/// `w_dtype`, with a residual input when `residual_input`.
fn i8_model(p: &[u8], w_dtype: DType, q: QNhwc, residual_input: bool, zps: [i32; 3]) -> Vec<u8> {
    let l = layer(8, 16, 1, 1, 0, false);
    let quant = |z| Quant::PerTensor {
        scale: 0.1,
        zero_point: z,
    };
    let mut m = ModelBuilder::new("hostile8");
    let x = m
        .add_tensor("x", DType::I8, &l.x_nhwc(), quant(zps[0]))
        .unwrap();
    let n = (p.len() / w_dtype.size()) as u32;
    let w = m.add_const("w", w_dtype, &[n], p, Quant::None).unwrap();
    let y = m
        .add_tensor("y", DType::I8, &l.y_nhwc(), quant(zps[1]))
        .unwrap();
    let mut ins = vec![x, w];
    if residual_input {
        ins.push(
            m.add_tensor("r", DType::I8, &l.y_nhwc(), quant(zps[2]))
                .unwrap(),
        );
    }
    let op = Op::ConvNhwc {
        window: l.window(),
        act: Activation::None,
        q: Some(q),
    };
    m.add_op(op, &ins, &[y]).unwrap();
    let mut io = vec![x];
    io.extend(ins.get(2));
    m.set_io(&io, &[y]).unwrap();
    m.finish().unwrap()
}

#[test]
fn hostile_int8_records_are_rejected() {
    let rq = rq_pairs(16, 7);
    let w = i8s(16 * 8, 3, -127, 127);
    let mut p = vec![0u8; engine::i8_conv_packed_len(16, 8, [1, 1]).unwrap()];
    engine::pack_i8_conv(&w, None, &rq, 0, 16, 8, [1, 1], &mut p).unwrap();
    let add = add_params();
    let q = |act_min, act_max, residual| QNhwc {
        act_min,
        act_max,
        residual,
    };
    // Zero points: x, output, residual (the Add's out and b zero points).
    let zps = [0, add.out_zero_point, add.b_zero_point];
    let ok = i8_model(&p, DType::U8, q(-128, 127, Some(add)), true, zps);
    assert_eq!(
        run(&ok, &[0u8; 2 * 9 * 7 * 8]).unwrap().len(),
        2 * 9 * 7 * 16
    );
    let load_ok = |b: &[u8]| AlignedModel::new(b).model().map(|_| ());
    assert_eq!(load_ok(&ok), Ok(()));
    assert_eq!(
        load_ok(&i8_model(&p, DType::U8, q(-128, 127, None), false, zps)),
        Ok(())
    );
    // The residual's or the output's zero point disagrees with the Add's.
    let zr = [0, add.out_zero_point, add.b_zero_point + 1];
    bad(
        &i8_model(&p, DType::U8, q(-128, 127, Some(add)), true, zr),
        OpReason::Quantization,
    );
    let zo = [0, add.out_zero_point + 1, add.b_zero_point];
    bad(
        &i8_model(&p, DType::U8, q(-128, 127, Some(add)), true, zo),
        OpReason::Quantization,
    );
    // A clamp outside int8, or empty.
    bad(
        &i8_model(&p, DType::U8, q(-129, 127, None), false, zps),
        OpReason::Quantization,
    );
    bad(
        &i8_model(&p, DType::U8, q(10, 9, None), false, zps),
        OpReason::Quantization,
    );
    // An invalid Add requantization.
    let mut bad_add = add;
    bad_add.a.multiplier = 5;
    bad(
        &i8_model(&p, DType::U8, q(-128, 127, Some(bad_add)), true, zps),
        OpReason::Quantization,
    );
    // A residual operand without Add parameters, and Add parameters without one.
    bad(
        &i8_model(&p, DType::U8, q(-128, 127, None), true, zps),
        OpReason::Arity,
    );
    bad(
        &i8_model(&p, DType::U8, q(-128, 127, Some(add)), false, zps),
        OpReason::Arity,
    );
    // int8 bytes stored as f32.
    bad(
        &i8_model(&p, DType::F32, q(-128, 127, None), false, zps),
        OpReason::DType,
    );
    // An invalid multiplier in the panel header (channel 3's multiplier row entry).
    let mut ph = p.clone();
    ph[engine::I8_CONV_HEADER / 2 + 4 * 3..][..4].copy_from_slice(&7i32.to_le_bytes());
    bad(
        &i8_model(&ph, DType::U8, q(-128, 127, None), false, zps),
        OpReason::ConstantData,
    );
    // One byte short.
    bad(
        &i8_model(&p[..p.len() - 1], DType::U8, q(-128, 127, None), false, zps),
        OpReason::Shape,
    );
    // The compact headers (format 1.4): accepted, and checked the same way — an
    // invalid multiplier, a shift outside -31..=30 (channel 5's i8 entry), a length
    // that is neither form's.
    let h = I8Header::Compact;
    let mut pc = vec![0u8; engine::i8_conv_packed_len_as(h, 16, 8, [1, 1]).unwrap()];
    engine::pack_i8_conv_as(h, &w, None, &rq, 0, (16, 8), [1, 1], &mut pc).unwrap();
    let compact = |b: &[u8]| i8_model(b, DType::U8, q(-128, 127, None), false, zps);
    assert_eq!(load_ok(&compact(&pc)), Ok(()));
    let mut ph = pc.clone();
    ph[4 * NR + 4 * 3..][..4].copy_from_slice(&7i32.to_le_bytes());
    bad(&compact(&ph), OpReason::ConstantData);
    let mut ph = pc.clone();
    ph[10 * NR + 5] = 40;
    bad(&compact(&ph), OpReason::ConstantData);
    bad(&compact(&pc[..pc.len() - 16]), OpReason::Shape);
}
