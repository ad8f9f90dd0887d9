//! Resize as matrix products. ONNX `Resize` (and `Upsample`) resamples one axis after
//! another, each output element a weighted sum of a few input elements along the axis:
//! every interpolation mode (nearest, linear, cubic), coordinate transformation,
//! `exclude_outside` and antialiasing is a constant `[len_out, len_in]` matrix per
//! axis. tract keeps the clean subset as `tract_core`'s `Resize` and the other forms as
//! the ONNX op of `tract-onnx-opl`; both give their per-axis plan (taps and weights),
//! which becomes that matrix, applied in the same axis order:
//!
//! | ONNX op | decluttered tract op | ferrite ops |
//! |---|---|---|
//! | Resize, Upsample (constant scales / sizes / roi) | `Resize` (core or ONNX) | per resized axis: `Transpose` (the axis last, when it is not), `FullyConnected` with the constant interpolation matrix (and a bias holding `extrapolation_value` for the rows `tf_crop_and_resize` puts outside the input), `Transpose` back |
//!
//! Nearest upsampling by integer factors that tract turns into broadcasts is lowered
//! by the shape family.

use super::lower::{tensor_f32, tensor_i64, Lower, Outcome};
use crate::error::Result;
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, Op};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::resize::{
    self as core, cubic_weights, linear_weights, plan_axis, window_size, AxisPlan, Interpolator,
};
use tract_onnx_opl::resize::{AspectRatio, CoordTransform, Nearest, Resize as OnnxResize};

/// `Resize` (tract-core) and `Resize` (tract-onnx-opl).
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    if let Some(r) = node.op_as::<core::Resize>() {
        return l.resize_core(node, r).map(Outcome::from);
    }
    if let Some(r) = node.op_as::<OnnxResize>() {
        return l.resize_onnx(node, r).map(Outcome::from);
    }
    Ok(Outcome::NotMine)
}

/// One resampled axis: its plan and the value of the rows it leaves outside the input.
struct Axis {
    axis: usize,
    plan: AxisPlan,
    extrapolation: f32,
}

/// The plan as a row-major `[len_out, len_in]` matrix and a bias per output row.
fn matrix(a: &Axis, len_in: usize) -> (Vec<f32>, Vec<f32>) {
    let len_out = a.plan.extrapolated.len();
    let w = a.plan.window;
    let mut m = vec![0f32; len_out * len_in];
    let mut bias = vec![0f32; len_out];
    for x in 0..len_out {
        if a.plan.extrapolated[x] {
            bias[x] = a.extrapolation;
            continue;
        }
        for k in 0..w {
            let (i, wt) = (a.plan.indices[x * w + k], a.plan.weights[x * w + k]);
            if wt != 0.0 {
                m[x * len_in + i] += wt;
            }
        }
    }
    (m, bias)
}

impl Lower<'_> {
    /// The constant f32 values of input `ix` of `node`, if it has one.
    fn const_input_f32(&self, node: &TypedNode, ix: Option<usize>) -> Option<Vec<f32>> {
        let o = *node.inputs.get(ix?)?;
        self.konst(o).and_then(|t| tensor_f32(&t).ok())
    }

    fn resize_core(&mut self, node: &TypedNode, r: &core::Resize) -> Result<bool> {
        let xs = self.shape(node.inputs[0])?;
        let so = self.shape(self.out(node))?;
        if xs.len() != so.len() {
            return Ok(false);
        }
        let scales = match self.const_input_f32(node, r.optional_scales_input) {
            Some(s) if s.len() == xs.len() => s,
            _ => so
                .iter()
                .zip(&xs)
                .map(|(&o, &i)| o as f32 / i as f32)
                .collect(),
        };
        let mut axes = Vec::new();
        for (axis, &scale) in scales.iter().enumerate() {
            let (len_in, len_out) = (xs[axis], so[axis]);
            if len_in == len_out && scale == 1.0 {
                continue;
            }
            axes.push(Axis {
                axis,
                plan: r.plan_axis(scale, len_in, len_out),
                extrapolation: 0.0,
            });
        }
        self.resample(node, &axes)
    }

    fn resize_onnx(&mut self, node: &TypedNode, r: &OnnxResize) -> Result<bool> {
        let xs = self.shape(node.inputs[0])?;
        let so = self.shape(self.out(node))?;
        let rank = xs.len();
        if so.len() != rank {
            return Ok(false);
        }
        let Ok(resized) = r.resized_axes(rank) else {
            return Ok(false);
        };
        // Per-axis scales as tract's ONNX op resolves them.
        let mut scales = vec![1f32; rank];
        let given = self.const_input_f32(node, r.optional_scales_input);
        match given {
            Some(s) if s.len() == resized.len() => {
                for (&a, &v) in resized.iter().zip(&s) {
                    scales[a] = v;
                }
            }
            _ if r.keep_aspect_ratio_policy != AspectRatio::Stretch => {
                let Some(sizes) = r
                    .optional_sizes_input
                    .and_then(|ix| node.inputs.get(ix))
                    .and_then(|o| self.konst(*o))
                    .and_then(|t| tensor_i64(&t).ok())
                else {
                    return Ok(false);
                };
                let ratios = resized
                    .iter()
                    .zip(&sizes)
                    .map(|(&a, &s)| s as f32 / xs[a] as f32);
                let scale = if r.keep_aspect_ratio_policy == AspectRatio::NotLarger {
                    ratios.fold(f32::INFINITY, f32::min)
                } else {
                    ratios.fold(f32::NEG_INFINITY, f32::max)
                };
                for &a in &resized {
                    scales[a] = scale;
                }
            }
            _ => {
                for &a in &resized {
                    scales[a] = so[a] as f32 / xs[a] as f32;
                }
            }
        }
        let tf_crop = r.coord_transformer == CoordTransform::TfCropAndResize;
        let mut roi = vec![(0f32, 1f32); rank];
        if tf_crop {
            let Some(v) = self.const_input_f32(node, r.optional_roi_input) else {
                return Ok(false);
            };
            if v.len() != 2 * resized.len() {
                return Ok(false);
            }
            for (i, &a) in resized.iter().enumerate() {
                roi[a] = (v[i], v[i + resized.len()]);
            }
        }
        let mut axes = Vec::new();
        for axis in 0..rank {
            let (scale, len_in, len_out) = (scales[axis], xs[axis], so[axis]);
            if len_in == len_out && scale == 1.0 && !tf_crop {
                continue;
            }
            axes.push(Axis {
                axis,
                plan: onnx_plan(r, scale, len_in, len_out, roi[axis]),
                extrapolation: r.extrapolation_value(),
            });
        }
        self.resample(node, &axes)
    }

    /// Applies the axes' matrices in order, each on the axis moved last.
    fn resample(&mut self, node: &TypedNode, axes: &[Axis]) -> Result<bool> {
        if self.dtype(node.inputs[0])? != DType::F32 {
            return Ok(false);
        }
        let name = node.name.clone();
        let mut x = self.value(node.inputs[0])?;
        for a in axes {
            let shape = self.g.tensors[x].shape.clone();
            let rank = shape.len();
            let len_in = shape[a.axis];
            let len_out = a.plan.extrapolated.len();
            let mut perm: Vec<usize> = (0..rank).filter(|&d| d != a.axis).collect();
            perm.push(a.axis);
            let moved = a.axis + 1 != rank;
            let t = if moved {
                self.transpose(x, &perm, &format!("{name}.axis{}", a.axis))?
            } else {
                x
            };
            let tshape = self.g.tensors[t].shape.clone();
            let rows: usize = tshape[..rank - 1].iter().product();
            let t = self.reshape(t, &[rows, len_in], &format!("{name}.rows{}", a.axis));
            let (m, bias) = matrix(a, len_in);
            let w = self.g.add_const(
                &format!("{name}.matrix{}", a.axis),
                &[len_out, len_in],
                Data::F32(m),
            );
            let mut inputs: Vec<TId> = vec![t, w];
            if bias.iter().any(|&b| b != 0.0) {
                inputs.push(self.g.add_const(
                    &format!("{name}.bias{}", a.axis),
                    &[len_out],
                    Data::F32(bias),
                ));
            }
            let y = self.g.add_node(
                &format!("{name}.resample{}", a.axis),
                Op::FullyConnected {
                    act: Activation::None,
                    q: None,
                },
                &inputs,
                &[rows, len_out],
                DType::F32,
            );
            let mut yshape = tshape.clone();
            yshape[rank - 1] = len_out;
            let y = self.reshape(y, &yshape, &format!("{name}.unrows{}", a.axis));
            x = if moved {
                let mut inv = vec![0; rank];
                for (k, &p) in perm.iter().enumerate() {
                    inv[p] = k;
                }
                self.transpose(y, &inv, &format!("{name}.back{}", a.axis))?
            } else {
                y
            };
        }
        let so = self.shape(self.out(node))?;
        if self.g.tensors[x].shape != so {
            return Ok(false);
        }
        let o = self.out(node);
        let x = if axes.is_empty() {
            self.g.add_node(&name, Op::Reshape, &[x], &so, DType::F32)
        } else {
            x
        };
        self.map.insert(o, x);
        Ok(true)
    }
}

/// tract-onnx-opl's per-axis plan of its ONNX `Resize` (private there), from the
/// public building blocks of tract-core: the same coordinates, windows and weights.
fn onnx_plan(
    r: &OnnxResize,
    scale: f32,
    len_in: usize,
    len_out: usize,
    roi: (f32, f32),
) -> AxisPlan {
    let window = window_size(&r.interpolator, r.antialias, scale);
    let coord: Box<dyn Fn(usize) -> Option<f32>> = match &r.coord_transformer {
        CoordTransform::Plain(t) => {
            let t = t.clone();
            Box::new(move |x| Some(t.transform(x, scale, len_in, len_out)))
        }
        CoordTransform::TfCropAndResize => {
            let last = len_in as f32 - 1.0;
            let span = last * (roi.1 - roi.0);
            let width = scale * len_in as f32;
            Box::new(move |x| {
                let offset = if width == 1.0 {
                    span / 2.0
                } else {
                    x as f32 * span / (width - 1.0)
                };
                let x = offset + roi.0 * last;
                (x >= 0.0 && x <= last).then_some(x)
            })
        }
    };
    let exclude = r.exclude_outside;
    let (antialias, a) = (r.antialias, r.cubic_coeff_a());
    let nearest = r.nearest;
    match r.interpolator {
        Interpolator::Linear => plan_axis(len_in, len_out, window, exclude, coord, |x, w| {
            linear_weights(x, scale, antialias, w)
        }),
        Interpolator::Cubic => plan_axis(len_in, len_out, window, exclude, coord, |x, w| {
            cubic_weights(x, scale, a, antialias, w)
        }),
        Interpolator::Nearest => plan_axis(len_in, len_out, window, exclude, coord, |x, w| {
            let right = x == 1.0
                || match nearest {
                    Nearest::Floor => false,
                    Nearest::Ceil => true,
                    Nearest::RoundPreferFloor => x > 0.5,
                    Nearest::RoundPreferCeil => x >= 0.5,
                };
            w[0] = !right as u8 as f32;
            w[1] = right as u8 as f32;
        }),
    }
}
