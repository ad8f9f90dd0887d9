//! The int8 one-row first layer (`ConvNchwI8` of a 1D CNN: the sensor's 3 → 8
//! channels, 1 × 5, padding 2, one input row) at the bounds of its requantization,
//! against an independent reference (the reference `quantize_i8`, the reference int8
//! NCHW `conv2d`, its output transposed to NHWC here), byte for byte, for both panel
//! headers. On AVX-512 VBMI the dispatched kernel is `stem_row1.rs`, which
//! requantizes the channel vectors in the offset form when every multiplier is above
//! `2^30`, every bias within `±2^29` and every right shift in `1..=22` (else the
//! general form): the cases put multipliers at `2^30 + 1`, `2^30`, `2^31 − 2` and
//! `2^31 − 1`, right shifts at 1, 22 and 23 (and no shift), biases at `±2^29` and one
//! beyond, output zero points −128 and 127, ReLU and no activation, widths of one
//! to four 16-pixel blocks, and the input's sums at their extremes.

use ferrite::kernels::engine::{self, ConvShape, I8Header, I8Out};
use ferrite::kernels::{f32 as kf, int8 as ki, ConvParams, QuantOut};

mod support;

use support::Rng;

/// One sensor-like first layer: 3 input channels of `w` samples, 8 output channels.
struct Layer {
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

impl Layer {
    fn shape(w: usize) -> ConvShape {
        ConvShape {
            in_h: 1,
            in_w: w,
            in_c: 3,
            out_h: 1,
            out_w: w,
            out_c: 8,
            kernel: [1, 5],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 2],
        }
    }

    /// Reference quantize, reference NCHW conv, NHWC here.
    fn reference(&self) -> Vec<i8> {
        let s = &self.s;
        let mut xq = vec![0i8; self.x.len()];
        kf::quantize_i8(&self.x, self.scale, self.x_zp, &mut xq);
        let cp = ConvParams {
            x: [1, 3, 1, s.in_w],
            w: [8, 3, 1, 5],
            y: [1, 8, 1, s.out_w],
            window: support::window([1, 5], [1, 1], [1, 1], [0, 2, 0, 2]),
            groups: 1,
        };
        let out = QuantOut {
            bias: Some(&self.bias),
            requant: &self.rq,
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
        };
        let mut y = vec![0i8; 8 * s.out_w];
        ki::conv2d(&cp, &xq, self.x_zp, &self.w, &out, &mut y);
        (0..y.len()).map(|i| y[(i % 8) * s.out_w + i / 8]).collect()
    }

    /// The dispatched kernel against the reference, for both headers.
    fn check(&self, what: &str) {
        let want = self.reference();
        let s = &self.s;
        for h in [I8Header::Wide, I8Header::Compact] {
            let len = engine::i8_conv_packed_len_as(h, 8, 3, s.kernel).unwrap();
            let mut p = vec![0u8; len];
            let b = Some(&self.bias[..]);
            engine::pack_i8_conv_as(h, &self.w, b, &self.rq, self.x_zp, (8, 3), s.kernel, &mut p)
                .unwrap();
            let out = I8Out {
                zero_point: self.out_zp,
                act_min: self.act.0,
                act_max: self.act.1,
                residual: None,
                header: h,
            };
            let mut scratch = vec![0x11i8; engine::i8_conv_nchw_scratch_len(s).unwrap()];
            let mut y = vec![0x55i8; want.len() + 9];
            engine::i8_conv_nchw(
                s,
                &self.x,
                self.scale,
                self.x_zp,
                &p,
                &out,
                &mut y,
                &mut scratch,
            )
            .unwrap();
            assert_eq!(&y[..want.len()], &want[..], "{what}, {h:?}");
            assert!(y[want.len()..].iter().all(|&v| v == 0x55), "{what}: tail");
        }
    }
}

const M_EDGES: [i32; 5] = [
    (1 << 30) + 1,
    (1 << 30) + 2,
    3 << 29,
    i32::MAX - 1,
    i32::MAX,
];
const E_EDGES: [i32; 4] = [1, 2, 21, 22];
const B: i32 = 1 << 29;

/// A layer of random data around the bounds: `trial` picks the width, the
/// requantization constants per channel (mostly at their edges), the zero points,
/// the activation and whether the input and weights sit at their extremes.
fn layer(trial: u64) -> Layer {
    let mut r = Rng(trial.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let w = r.pick(&[1, 5, 16, 17, 33, 48, 63, 64]);
    let s = Layer::shape(w);
    let scale = r.pick(&[0.0078125, 0.02, 1.0 / 3.0]);
    let x_zp = r.pick(&[-128, 127, 0, -3]);
    let extreme = trial % 4 == 0;
    let x = (0..3 * w)
        .map(|_| match (extreme, r.range(0, 20)) {
            (true, _) => 1e30 * if trial % 8 == 0 { 1.0 } else { -1.0 },
            (false, 0) => 0.5 * scale,
            (false, 1) => f32::NAN,
            _ => (r.range(-300, 300) as f32 + 0.5 * r.range(0, 1) as f32) * scale,
        })
        .collect();
    let wt = (0..8 * 15)
        .map(|_| match extreme {
            true => r.pick(&[-128, 127]),
            false => r.range(-128, 127) as i8,
        })
        .collect();
    let mut rq = Vec::new();
    let mut bias = Vec::new();
    for _ in 0..8 {
        let m = match r.range(0, 2) {
            0 => r.range((1 << 30) + 1, i32::MAX as i64) as i32,
            _ => r.pick(&M_EDGES),
        };
        let e = match r.range(0, 2) {
            0 => r.range(1, 22) as i32,
            _ => r.pick(&E_EDGES),
        };
        rq.extend([m, -e]);
        // A bias that brings the output into range for this shift, or an edge.
        let b = match r.range(0, 3) {
            0 => r.pick(&[-B, B, -B + 1, B - 1]),
            _ => (r.range(-200, 200) << e.min(29) as u32).clamp(-B as i64, B as i64) as i32,
        };
        bias.push(b);
    }
    let out_zp = r.pick(&[-128, 127, 0, 5]);
    let act = r.pick(&[(-128, 127), (out_zp, 127), (-128, out_zp)]);
    Layer {
        s,
        x,
        scale,
        x_zp,
        w: wt,
        bias,
        rq,
        out_zp,
        act,
    }
}

#[test]
fn one_row_requantization_at_the_offset_forms_bounds() {
    for trial in 0..600 {
        layer(trial).check(&format!("trial {trial}"));
    }
}

type Edit = fn(&mut Layer);

/// One constant just outside the offset form's bounds in one channel (the layer takes
/// the general form), or at them.
#[test]
fn one_row_requantization_just_outside_the_bounds() {
    let edits: [(&str, Edit); 8] = [
        ("multiplier 2^30", |l| l.rq[6] = 1 << 30),
        ("multiplier 2^30 + 1", |l| l.rq[6] = (1 << 30) + 1),
        ("bias 2^29 + 1", |l| l.bias[5] = B + 1),
        ("bias -2^29 - 1", |l| l.bias[0] = -B - 1),
        ("right shift 23", |l| l.rq[3] = -23),
        ("no shift", |l| l.rq[9] = 0),
        ("left shift 1", |l| l.rq[15] = 1),
        ("output zero point -128, relu", |l| {
            l.out_zp = -128;
            l.act = (-128, 127);
        }),
    ];
    for trial in 0..40 {
        for (name, edit) in edits {
            let mut l = layer(1000 + trial);
            edit(&mut l);
            l.check(&format!("trial {trial}, {name}"));
        }
    }
}

/// `v` moved by `j` units in the last place (toward +∞ for `j > 0`; `v` finite).
fn ulps(v: f32, j: i32) -> f32 {
    // The floats in order: `±bits` of the magnitude (both zeros at 0).
    let b = v.to_bits();
    let key = (b & 0x7fff_ffff) as i32 * if b >> 31 == 1 { -1 } else { 1 };
    let k = key + j;
    f32::from_bits(k.unsigned_abs() | if k < 0 { 1 << 31 } else { 0 })
}

/// The quantization of the input near its rounding boundaries: values within 64 ulps
/// of `(k + ½)·scale` and at up to 9000 ulps (across the one-row kernel's margin
/// around the halves, below which it divides), for `k` across and beyond the int8
/// range, scales inside and outside its reciprocal's range, each output channel one
/// input channel's centre tap (weight 1, multiplier `2^31 − 1`, no shift: the output
/// is the quantized input itself), against the reference.
#[test]
fn one_row_quantization_near_the_halves() {
    let mut js: Vec<i32> = (0..=64).collect();
    js.extend([
        100, 300, 1000, 3000, 4000, 4095, 4096, 4097, 4200, 5000, 9000,
    ]);
    let js: Vec<i32> = js.iter().flat_map(|&j| [j, -j]).collect();
    let scales = [
        0.0078125,
        0.02,
        1.0 / 3.0,
        0.123_456_7,
        3.7e-5,
        7.5,
        1e-31,
        2e30,
        1e-30,
    ];
    let mut w = vec![0i8; 8 * 15];
    for j in 0..8 {
        w[j * 15 + (j % 3) * 5 + 2] = 1;
    }
    let mut calls = 0;
    for (si, &scale) in scales.iter().enumerate() {
        let xs: Vec<f32> = (-140..140)
            .flat_map(|k| {
                let h = (k as f32 + 0.5) * scale;
                js.iter().map(move |&j| ulps(h, j))
            })
            .collect();
        for (ci, chunk) in xs.chunks(192).enumerate() {
            let mut x = chunk.to_vec();
            x.resize(192, 0.0);
            let l = Layer {
                s: Layer::shape(64),
                x,
                scale,
                x_zp: [0, 3, -3][(si + ci) % 3],
                w: w.clone(),
                bias: vec![0; 8],
                rq: [i32::MAX, 0].repeat(8),
                out_zp: 0,
                act: (-128, 127),
            };
            l.check(&format!("scale {scale}, chunk {ci}"));
            calls += 1;
        }
    }
    assert!(calls > 1000);
}
