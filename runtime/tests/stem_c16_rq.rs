//! The int8 NCHW-input stem of exactly 16 output channels (MobileNetV2's 3 → 16,
//! 3×3, stride 2, padding 1, and its neighbours) at the bounds of its requantization
//! and its 4-pixel stores, against an independent reference (the reference
//! `quantize_i8`, the reference int8 NCHW `conv2d`, its output transposed to NHWC
//! here), byte for byte, for both panel headers. On AVX-512 VBMI the dispatched
//! kernel is `stem_rows.rs`, whose 16-channel store (`stem_store::store16_c16`)
//! narrows four pixels' requantized vectors together and stores them as 64 bytes, is
//! taken in the offset form, which applies when every multiplier is above `2^30`, every
//! `bias_u8` within `±2^29` and every right shift in `1..=22` (else the general form
//! and the general store):
//! the cases put multipliers at `2^30 + 1`, `2^30`, `2^31 − 2` and `2^31 − 1`, right
//! shifts at 1, 22 and 23 (and none, and a left shift), biases at `±2^29` and beyond,
//! output zero points −128 and 127, ReLU6-like clamps and no activation, widths
//! leaving 1–3 pixels after the last full 4-pixel store (and 16-pixel block), and the
//! input's sums at their extremes; and 32 channels (two panels: the general store).

use ferrite::kernels::engine::{self, ConvShape, I8Header, I8Out};
use ferrite::kernels::{f32 as kf, int8 as ki, ConvParams, QuantOut};

mod support;

use support::Rng;

/// One stem: `c` input planes of `h × w`, `oc` output channels, 3×3, padding 1.
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
    fn shape(c: usize, oc: usize, [h, w]: [usize; 2], sd: usize) -> ConvShape {
        ConvShape {
            in_h: h,
            in_w: w,
            in_c: c,
            out_h: (h - 1) / sd + 1,
            out_w: (w - 1) / sd + 1,
            out_c: oc,
            kernel: [3, 3],
            stride: [sd, sd],
            dilation: [1, 1],
            pad: [1, 1],
        }
    }

    /// Reference quantize, reference NCHW conv, NHWC here.
    fn reference(&self) -> Vec<i8> {
        let s = &self.s;
        let mut xq = vec![0i8; self.x.len()];
        kf::quantize_i8(&self.x, self.scale, self.x_zp, &mut xq);
        let sd = s.stride[0] as u32;
        let cp = ConvParams {
            x: [1, s.in_c, s.in_h, s.in_w],
            w: [s.out_c, s.in_c, 3, 3],
            y: [1, s.out_c, s.out_h, s.out_w],
            window: support::window([3, 3], [sd, sd], [1, 1], [1, 1, 1, 1]),
            groups: 1,
        };
        let out = QuantOut {
            bias: Some(&self.bias),
            requant: &self.rq,
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
        };
        let (oc, hw) = (s.out_c, s.out_h * s.out_w);
        let mut y = vec![0i8; oc * hw];
        ki::conv2d(&cp, &xq, self.x_zp, &self.w, &out, &mut y);
        (0..y.len()).map(|i| y[(i % oc) * hw + i / oc]).collect()
    }

    /// The dispatched kernel against the reference, for both headers.
    fn check(&self, what: &str) {
        let want = self.reference();
        let s = &self.s;
        let (oc, c) = (s.out_c, s.in_c);
        for h in [I8Header::Wide, I8Header::Compact] {
            let len = engine::i8_conv_packed_len_as(h, oc, c, s.kernel).unwrap();
            let mut p = vec![0u8; len];
            let b = Some(&self.bias[..]);
            engine::pack_i8_conv_as(
                h,
                &self.w,
                b,
                &self.rq,
                self.x_zp,
                (oc, c),
                s.kernel,
                &mut p,
            )
            .unwrap();
            let out = I8Out {
                zero_point: self.out_zp,
                act_min: self.act.0,
                act_max: self.act.1,
                residual: None,
                header: h,
            };
            let mut scratch = vec![0x11i8; engine::i8_conv_nchw_scratch_len(s).unwrap()];
            let mut y = vec![0x55i8; want.len() + 67];
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

/// A layer of random data around the bounds: `trial` picks the shape, the
/// requantization constants per channel (mostly at their edges), the zero points,
/// the activation and whether the input and weights sit at their extremes.
fn layer(trial: u64, oc: usize) -> Layer {
    let mut r = Rng(trial.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    // Output widths 1..=3 past a multiple of 4 (and of 16), and exact multiples.
    let ow = r.pick(&[
        1, 2, 3, 4, 5, 6, 7, 13, 16, 17, 18, 19, 20, 30, 31, 33, 35, 48,
    ]);
    let sd = r.pick(&[2, 2, 1]);
    let w = if sd == 2 {
        2 * ow - r.range(0, 1) as usize
    } else {
        ow
    };
    let h = r.range(1, 5) as usize;
    let c = r.pick(&[3, 3, 1, 4]);
    let s = Layer::shape(c, oc, [h, w.max(1)], sd);
    let scale = r.pick(&[0.0078125, 0.02, 1.0 / 3.0]);
    let x_zp = r.pick(&[-128, 127, 0, -3]);
    let extreme = trial % 4 == 0;
    let x = (0..c * h * s.in_w)
        .map(|_| match (extreme, r.range(0, 20)) {
            (true, _) => 1e30 * if trial % 8 == 0 { 1.0 } else { -1.0 },
            (false, 0) => 0.5 * scale,
            (false, 1) => f32::NAN,
            _ => (r.range(-300, 300) as f32 + 0.5 * r.range(0, 1) as f32) * scale,
        })
        .collect();
    let wt = (0..oc * c * 9)
        .map(|_| match extreme {
            true => r.pick(&[-128, 127]),
            false => r.range(-128, 127) as i8,
        })
        .collect();
    let mut rq = Vec::new();
    let mut bias = Vec::new();
    for _ in 0..oc {
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
    // No activation, ReLU, and a ReLU6-like clamp `zp..=zp + k`.
    let act = r.pick(&[
        (-128, 127),
        (out_zp, 127),
        (-128, out_zp),
        (out_zp, (out_zp + 90).min(127)),
    ]);
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
fn stem16_requantization_at_the_offset_forms_bounds() {
    for trial in 0..500 {
        layer(trial, 16).check(&format!("trial {trial}"));
    }
}

#[test]
fn stem32_two_panels() {
    for trial in 0..60 {
        layer(5000 + trial, 32).check(&format!("trial {trial}"));
    }
}

type Edit = fn(&mut Layer);

/// One constant just outside the offset form's bounds in one channel (the layer takes
/// the general form), or at them.
#[test]
fn stem16_requantization_just_outside_the_bounds() {
    let edits: [(&str, Edit); 10] = [
        ("multiplier 2^30", |l| l.rq[6] = 1 << 30),
        ("multiplier 2^30 + 1", |l| l.rq[6] = (1 << 30) + 1),
        ("multiplier i32::MAX", |l| l.rq[30] = i32::MAX),
        ("bias 2^29 + 1", |l| l.bias[5] = B + 1),
        ("bias -2^29 - 1", |l| l.bias[15] = -B - 1),
        ("bias i32::MAX / 2", |l| l.bias[9] = i32::MAX / 2),
        ("right shift 23", |l| l.rq[3] = -23),
        ("no shift", |l| l.rq[9] = 0),
        ("left shift 1", |l| l.rq[31] = 1),
        ("output zero point -128, relu", |l| {
            l.out_zp = -128;
            l.act = (-128, 127);
        }),
    ];
    for trial in 0..40 {
        for (name, edit) in edits {
            let mut l = layer(1000 + trial, 16);
            edit(&mut l);
            l.check(&format!("trial {trial}, {name}"));
        }
    }
}

/// Sums of exactly −1 and 0 (zero weights, biases −1 and 0) in channels of
/// multiplier `2^30` (the offset form's sign term `[a < 0]` stands for the short
/// form's `[a·m < −2^30]` only for `m > 2^30`, so these take the general form) and of
/// `2^30 + 1` (the offset form), every right shift 1..=22.
#[test]
fn stem16_multiplier_two_to_the_thirty_falls_back() {
    for (trial, m) in (0..64).flat_map(|t| [(t, 1 << 30), (t, (1 << 30) + 1)]) {
        let mut l = layer(2000 + trial, 16);
        l.w.fill(0);
        for j in 0..16 {
            l.bias[j] = -((j % 2) as i32);
            l.rq[2 * j] = if j == 3 || j == 10 { m } else { i32::MAX };
            l.rq[2 * j + 1] = -(1 + (trial as i32 + j as i32) % 22);
        }
        l.check(&format!("trial {trial}, multiplier {m}"));
    }
}
