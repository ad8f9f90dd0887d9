//! int8 arithmetic for the converter: activation ranges from calibration, quantization
//! parameters, and the integer tables of the int8 kernels (TFLite conventions).
//!
//! - Activations: asymmetric per-tensor int8, `real = scale * (q - zero_point)`, with
//!   the range widened to include 0 so that 0 is exact.
//! - Weights: symmetric per output channel, `-127..=127`, zero point 0.
//! - Biases: i32 in units of `input_scale * weight_scale[c]`.
//! - Rescales: [`ferrite::kernels::fixed::quantize_multiplier`].

use crate::error::{Error, Result};
use crate::ir::{Graph, TId};
use ferrite::format::types::{Activation, BinaryOp, QBinary, Requant, UnaryOp};
use ferrite::kernels::fixed::quantize_multiplier;

/// How activation ranges are taken from the calibration data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CalibrationMethod {
    /// The observed minimum and maximum.
    #[default]
    MinMax,
    /// The 0.01th and 99.99th percentiles (clips rare outliers).
    Percentile,
}

impl CalibrationMethod {
    pub fn name(self) -> &'static str {
        match self {
            CalibrationMethod::MinMax => "minmax",
            CalibrationMethod::Percentile => "percentile",
        }
    }
}

/// Per-tensor quantization of an activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParam {
    pub scale: f32,
    pub zero_point: i32,
}

impl QParam {
    /// Asymmetric int8 parameters covering `[lo, hi]` (widened to include 0).
    pub fn from_range(lo: f32, hi: f32) -> QParam {
        let lo = lo.min(0.0) as f64;
        let mut hi = hi.max(0.0) as f64;
        if !(hi - lo).is_finite() || hi - lo < 1e-8 {
            hi = lo + 1e-8;
        }
        let scale = (hi - lo) / 255.0;
        let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i32;
        QParam {
            scale: scale as f32,
            zero_point: zp,
        }
    }

    /// `round(v / scale) + zero_point`, saturated to int8.
    pub fn quantize(&self, v: f32) -> i8 {
        ((v as f64 / self.scale as f64).round() + self.zero_point as f64).clamp(-128.0, 127.0) as i8
    }

    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }
}

/// Activation ranges per IR tensor, collected over calibration rows.
#[derive(Clone, Debug)]
pub struct Ranges {
    pub ranges: Vec<Option<(f32, f32)>>,
}

impl Ranges {
    pub fn get(&self, t: TId) -> Option<(f32, f32)> {
        self.ranges.get(t).copied().flatten()
    }
}

/// Accumulates observed values per IR tensor.
#[derive(Debug)]
pub struct Observer {
    method: CalibrationMethod,
    minmax: Vec<Option<(f32, f32)>>,
    hist: Vec<Vec<u64>>,
    pass: u8,
}

const BINS: usize = 2048;

impl Observer {
    pub fn new(tensors: usize, method: CalibrationMethod) -> Observer {
        Observer {
            method,
            minmax: vec![None; tensors],
            hist: vec![Vec::new(); tensors],
            pass: 0,
        }
    }

    /// Number of passes over the data the method needs (min/max: 1, percentile: 2).
    pub fn passes(&self) -> u8 {
        match self.method {
            CalibrationMethod::MinMax => 1,
            CalibrationMethod::Percentile => 2,
        }
    }

    /// Starts pass `p` (0-based).
    pub fn begin_pass(&mut self, p: u8) {
        self.pass = p;
        if p == 1 {
            for (h, r) in self.hist.iter_mut().zip(&self.minmax) {
                if r.is_some() {
                    *h = vec![0; BINS];
                }
            }
        }
    }

    pub fn observe(&mut self, t: TId, values: &[f32]) {
        if self.pass == 0 {
            let e = &mut self.minmax[t];
            for &v in values.iter().filter(|v| v.is_finite()) {
                *e = Some(match *e {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
        } else if let Some((lo, hi)) = self.minmax[t] {
            let h = &mut self.hist[t];
            let w = (hi - lo).max(1e-12);
            for &v in values.iter().filter(|v| v.is_finite()) {
                let b = (((v - lo) / w) * (BINS as f32 - 1.0))
                    .round()
                    .clamp(0.0, BINS as f32 - 1.0) as usize;
                h[b] += 1;
            }
        }
    }

    pub fn finish(self) -> Ranges {
        let ranges = match self.method {
            CalibrationMethod::MinMax => self.minmax,
            CalibrationMethod::Percentile => self
                .minmax
                .iter()
                .zip(&self.hist)
                .map(|(r, h)| {
                    let (lo, hi) = (*r)?;
                    let total: u64 = h.iter().sum();
                    if total == 0 {
                        return Some((lo, hi));
                    }
                    let cut = ((total as f64) * 1e-4).floor() as u64;
                    let w = (hi - lo) / (BINS as f32 - 1.0);
                    let mut acc = 0;
                    let mut first = 0;
                    for (i, &c) in h.iter().enumerate() {
                        acc += c;
                        if acc > cut {
                            first = i;
                            break;
                        }
                    }
                    acc = 0;
                    let mut last = BINS - 1;
                    for (i, &c) in h.iter().enumerate().rev() {
                        acc += c;
                        if acc > cut {
                            last = i;
                            break;
                        }
                    }
                    Some((lo + w * first as f32, lo + w * last as f32))
                })
                .collect(),
        };
        Ranges { ranges }
    }
}

/// Symmetric per-channel int8 weights (`channels` rows of the flattened tensor):
/// returns the int8 values and the scale of each channel.
pub fn quantize_weights(w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels.max(1);
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for row in w.chunks(per.max(1)).take(channels) {
        let m = row.iter().fold(0f32, |a, v| a.max(v.abs()));
        let s = if m > 0.0 { m / 127.0 } else { 1.0 };
        scales.push(s);
        q.extend(
            row.iter()
                .map(|v| (v / s).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// Weights of a pre-quantized source: the first scale set (per channel, or one scale)
/// under which every value of `w` is an integer in `-128..=127`, with those integers.
pub fn exact_weights(
    w: &[f32],
    channels: usize,
    candidates: &[Vec<f32>],
) -> Option<(Vec<i8>, Vec<f32>)> {
    let per = w.len() / channels.max(1);
    'next: for c in candidates {
        if !(c.len() == channels || c.len() == 1) || c.iter().any(|&s| s.is_nan() || s <= 0.0) {
            continue;
        }
        let mut q = Vec::with_capacity(w.len());
        for (i, &v) in w.iter().enumerate() {
            let s = if c.len() == 1 {
                c[0]
            } else {
                c[i / per.max(1)]
            };
            let r = v as f64 / s as f64;
            if (r - r.round()).abs() > 1e-3 || !(-128.0..=127.0).contains(&r.round()) {
                continue 'next;
            }
            q.push(r.round() as i8);
        }
        let scales = if c.len() == 1 {
            vec![c[0]; channels]
        } else {
            c.clone()
        };
        return Some((q, scales));
    }
    None
}

/// Interleaved `(multiplier, shift)` pairs for `real` multipliers.
/// An f32 bias in int32 steps of `x_scale · w_scale` (one weight scale per output
/// channel), rounded to nearest and saturated.
pub fn bias_i32(bias: &[f32], x_scale: f32, w_scales: &[f32]) -> Vec<i32> {
    bias.iter()
        .zip(w_scales)
        .map(|(&v, &s)| {
            (v as f64 / (x_scale as f64 * s as f64))
                .round()
                .clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect()
}

pub fn requant_table(real: &[f64]) -> Vec<i32> {
    real.iter()
        .flat_map(|&r| {
            let (m, s) = quantize_multiplier(r);
            [m, s]
        })
        .collect()
}

/// The quantized clamp of a fused activation on output `q`.
pub fn act_range(act: &Activation, q: QParam) -> (i32, i32) {
    let (lo, hi) = match *act {
        Activation::None => return (-128, 127),
        Activation::Relu => (0.0, f32::INFINITY),
        Activation::Clip { min, max } => (min, max),
    };
    let qlo = if lo.is_finite() {
        q.quantize(lo) as i32
    } else {
        -128
    };
    let qhi = if hi.is_finite() {
        q.quantize(hi) as i32
    } else {
        127
    };
    (qlo.max(-128), qhi.min(127).max(qlo))
}

/// TFLite int8 Add/Sub/Mul parameters.
pub fn qbinary(
    op: BinaryOp,
    a: QParam,
    b: QParam,
    out: QParam,
    act: &Activation,
) -> Result<QBinary> {
    let (act_min, act_max) = act_range(act, out);
    let rq = |r: f64| {
        let (multiplier, shift) = quantize_multiplier(r);
        Requant { multiplier, shift }
    };
    let (left_shift, ra, rb, ro) = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let left_shift = 20;
            let twice_max = 2.0 * (a.scale as f64).max(b.scale as f64);
            (
                left_shift,
                rq(a.scale as f64 / twice_max),
                rq(b.scale as f64 / twice_max),
                rq(twice_max / ((1u64 << left_shift) as f64 * out.scale as f64)),
            )
        }
        BinaryOp::Mul => (
            0,
            rq(0.0),
            rq(0.0),
            rq(a.scale as f64 * b.scale as f64 / out.scale as f64),
        ),
        BinaryOp::Div
        | BinaryOp::Max
        | BinaryOp::Min
        | BinaryOp::Pow
        | BinaryOp::Fmod
        | BinaryOp::Mod => return Err(Error::Other(format!("{op:?} has no int8 kernel"))),
    };
    Ok(QBinary {
        a_zero_point: a.zero_point,
        b_zero_point: b.zero_point,
        out_zero_point: out.zero_point,
        left_shift,
        a: ra,
        b: rb,
        out: ro,
        act_min,
        act_max,
    })
}

/// The float function of a unary op (f64, for tables).
pub fn unary_f64(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Clip { min, max } => x.max(min as f64).min(max as f64),
        UnaryOp::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha as f64 * x
            }
        }
        UnaryOp::Elu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha as f64 * (x.exp() - 1.0)
            }
        }
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
        UnaryOp::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Reciprocal => 1.0 / x,
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        UnaryOp::Erf => libm::erf(x),
        UnaryOp::Softplus => (1.0 + x.exp()).ln(),
        UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tan => x.tan(),
        UnaryOp::Asin => x.asin(),
        UnaryOp::Acos => x.acos(),
        UnaryOp::Atan => x.atan(),
        UnaryOp::Sinh => x.sinh(),
        UnaryOp::Cosh => x.cosh(),
        UnaryOp::Asinh => x.asinh(),
        UnaryOp::Acosh => x.acosh(),
        UnaryOp::Atanh => x.atanh(),
        UnaryOp::Round => x.round_ties_even(),
        UnaryOp::Sign => {
            if x == 0.0 {
                0.0
            } else {
                x.signum()
            }
        }
        UnaryOp::Shrink { lambd, bias } => {
            let (l, b) = (f64::from(lambd), f64::from(bias));
            if x < -l {
                x + b
            } else if x > l {
                x - b
            } else {
                0.0
            }
        }
    }
}

/// 256-entry int8 table of `f` from input quantization `i` to output `o`
/// (entry `b` is for the input byte `b`, i.e. `q = b as i8`).
pub fn lut_table(op: UnaryOp, i: QParam, o: QParam) -> Vec<u8> {
    (0..256u32)
        .map(|b| {
            let q = b as u8 as i8;
            let y = unary_f64(op, i.dequantize(q) as f64);
            let y = if y.is_nan() { 0.0 } else { y };
            let v = (y / o.scale as f64).round() + o.zero_point as f64;
            v.clamp(-128.0, 127.0) as i8 as u8
        })
        .collect()
}

/// 256-entry int8 table requantizing from `i` to `o` as ONNX defines it (and
/// onnxruntime's `QLinearConcat` / `QuantizeLinear` compute it): `DequantizeLinear` in
/// f32, `(q - zp) · scale`, then `QuantizeLinear`, f32 `x / scale` rounded half to
/// even, plus the zero point, saturated (entry `b` is for the input byte `b`).
pub fn requantize_table(i: QParam, o: QParam) -> Vec<u8> {
    (0..256u32)
        .map(|b| {
            let x = i.dequantize(b as u8 as i8);
            let v = (x / o.scale).round_ties_even() + o.zero_point as f32;
            v.clamp(-128.0, 127.0) as i8 as u8
        })
        .collect()
}

/// The int8 softmax table: `exp(-scale * d)` in Q0.31 for `d = 0..=255`.
pub fn softmax_table(scale: f32) -> Vec<i32> {
    (0..256)
        .map(|d| {
            let v = (-(scale as f64) * d as f64).exp() * 2f64.powi(31);
            v.round().clamp(0.0, (i32::MAX) as f64) as i32
        })
        .collect()
}

/// The quantization of every activation tensor of `g` from calibration ranges (or the
/// QDQ hints of a pre-quantized model).
pub fn activation_qparam(g: &Graph, ranges: &Ranges, t: TId) -> Option<QParam> {
    if let Some(h) = &g.tensors[t].qhint {
        if h.scales.len() == 1 {
            return Some(QParam {
                scale: h.scales[0],
                zero_point: h.zero_points.first().copied().unwrap_or(0),
            });
        }
    }
    ranges.get(t).map(|(lo, hi)| QParam::from_range(lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_includes_zero_and_maps_ends() {
        let q = QParam::from_range(0.0, 1.0);
        assert_eq!(q.zero_point, -128);
        assert_eq!(q.quantize(0.0), -128);
        assert_eq!(q.quantize(1.0), 127);
        let q = QParam::from_range(-1.0, 1.0);
        assert!((q.dequantize(q.quantize(0.0))).abs() < 1e-7);
    }

    #[test]
    fn weights_are_symmetric_per_channel() {
        let (q, s) = quantize_weights(&[1.0, -0.5, 0.25, 0.0, 0.0, 2.0], 2);
        assert_eq!(q, vec![127, -64, 32, 0, 0, 127]);
        assert!((s[0] - 1.0 / 127.0).abs() < 1e-9 && (s[1] - 2.0 / 127.0).abs() < 1e-9);
    }

    #[test]
    fn softmax_table_starts_saturated() {
        let t = softmax_table(0.1);
        assert_eq!(t[0], i32::MAX);
        assert!(t[255] < t[1]);
    }

    #[test]
    fn percentile_clips_outliers() {
        let mut o = Observer::new(1, CalibrationMethod::Percentile);
        let mut v: Vec<f32> = (0..100_000).map(|i| (i % 100) as f32 / 100.0).collect();
        v.push(1000.0);
        for p in 0..o.passes() {
            o.begin_pass(p);
            o.observe(0, &v);
        }
        let (lo, hi) = o.finish().get(0).unwrap();
        assert!(lo >= 0.0 && hi < 2.0, "{lo} {hi}");
    }
}
