//! ONNX activations that tract expands with comparisons and `Iff` (which ferrite has no
//! op for), parsed instead into ops the lowering maps onto ferrite's own:
//!
//! | ONNX op | tract graph built here | ferrite ops |
//! |---|---|---|
//! | Elu | one element-wise [`Elu`] | `Unary Elu` |
//! | Selu | `gamma * Elu_alpha(x)` | `Unary Elu`, `Binary Mul` |
//! | PRelu | `max(x, 0) + slope * min(x, 0)` | `Unary Relu/Clip`, `Binary Mul/Add` |
//! | ThresholdedRelu | `max(x, f32::MIN) * max(sign(x - alpha), 0)` | `Binary Sub/Mul`, `Unary Sign/Relu/Clip` |
//!
//! Each form is exact in IEEE arithmetic: `max(x, 0) + slope * min(x, 0)` adds a zero to
//! the one non-zero term, and `x - alpha` is zero only when `x == alpha` (gradual
//! underflow), so `sign(x - alpha)` is 1 exactly when `x > alpha`; `x` is clamped to
//! `f32::MIN` before the mask so that `-inf * 0` does not make a NaN.
//!
//! The builders replace tract-onnx's own in the parser ([`onnx`]); tract evaluates the
//! resulting graph too, as the float reference of `ferrite validate`.

use super::arith::scalar;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_hir::internal::*;

/// tract's ONNX parser with the builders of this module, of [`super::arith`] and of
/// [`super::lppool`] registered.
pub fn onnx() -> tract_onnx::Onnx {
    let mut o = tract_onnx::onnx();
    let reg = &mut o.op_register;
    reg.insert("Elu", |_, node| {
        let alpha = node.get_attr_opt("alpha")?.unwrap_or(1.0);
        Ok((elu(alpha).into_hir(), vec![]))
    });
    reg.insert("Selu", selu);
    reg.insert("PRelu", |_, _| Ok((expand(Activation::Prelu), vec![])));
    reg.insert("ThresholdedRelu", thresholded_relu);
    reg.insert("Shrink", super::arith::shrink);
    reg.insert("Mod", super::arith::modulo);
    reg.insert("LpPool", super::lppool::lp_pool);
    o
}

/// `x` for `x >= 0`, `alpha * (e^x - 1)` below (ONNX Elu), on f16/f32/f64; NaN passes
/// through.
#[derive(Debug, Clone, PartialEq)]
pub struct Elu {
    pub alpha: f32,
}

impl Eq for Elu {}

fn elu(alpha: f32) -> ElementWiseOp {
    ElementWiseOp(Box::new(Elu { alpha }), None)
}

impl ElementWiseMiniOp for Elu {
    fn name(&self) -> String {
        "Elu".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("alpha: {}", self.alpha)])
    }

    fn eval_in_place(&self, t: &mut Tensor, out_dt: Option<DatumType>) -> TractResult<()> {
        let dt = out_dt.unwrap_or(t.datum_type());
        let a = self.alpha as f64;
        let f = |x: f64| if x < 0.0 { a * x.exp_m1() } else { x };
        let mut plain = t.try_as_plain_ram_mut()?;
        if dt == f32::datum_type() {
            let a = self.alpha;
            let xs = plain.as_slice_mut::<f32>()?;
            xs.iter_mut()
                .for_each(|x| *x = if *x < 0.0 { a * x.exp_m1() } else { *x });
        } else if dt == f64::datum_type() {
            let xs = plain.as_slice_mut::<f64>()?;
            xs.iter_mut().for_each(|x| *x = f(*x));
        } else if dt == f16::datum_type() {
            let xs = plain.as_slice_mut::<f16>()?;
            xs.iter_mut()
                .for_each(|x| *x = f16::from_f64(f(x.to_f64())));
        } else {
            bail!("Elu on {dt:?}");
        }
        Ok(())
    }
}

fn selu(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    // ONNX defaults, at the precision the operator schema gives them.
    let alpha = node.get_attr_opt("alpha")?.unwrap_or(1.673_263_2);
    let gamma = node.get_attr_opt("gamma")?.unwrap_or(1.050_701);
    Ok((expand(Activation::Selu { alpha, gamma }), vec![]))
}

fn thresholded_relu(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let alpha = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    Ok((expand(Activation::ThresholdedRelu { alpha }), vec![]))
}

/// Inference rules of an op with `arity` inputs whose one output has the type and
/// shape of its first input.
fn like_first_input<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    arity: usize,
) -> InferenceResult {
    check_input_arity(inputs, arity)?;
    check_output_arity(outputs, 1)?;
    s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
    s.equals(&inputs[0].shape, &outputs[0].shape)?;
    Ok(())
}

/// The activations built from tract ops here:
/// - `Prelu`: `max(x, 0) + slope * min(x, 0)`, `slope` broadcast to `x`
///   (unidirectionally);
/// - `Selu`: `gamma * Elu_alpha(x)`;
/// - `ThresholdedRelu`: `max(x, f32::MIN) * max(sign(x - alpha), 0)`, i.e. `x` where
///   `x > alpha`, else 0 (`x` is kept above -inf so that -inf times a zero mask is 0,
///   not NaN).
#[derive(Debug, Clone, PartialEq)]
enum Activation {
    Prelu,
    Selu { alpha: f32, gamma: f32 },
    ThresholdedRelu { alpha: f32 },
}

impl Expansion for Activation {
    fn name(&self) -> StaticName {
        match self {
            Activation::Prelu => "Prelu".into(),
            Activation::Selu { .. } => "Selu".into(),
            Activation::ThresholdedRelu { .. } => "ThresholdedRelu".into(),
        }
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let arity = if let Activation::Prelu = self { 2 } else { 1 };
        like_first_input(s, inputs, outputs, arity)
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = inputs[0];
        match *self {
            Activation::Prelu => {
                let mut slope = inputs[1];
                let rank = model.outlet_fact(x)?.rank();
                while model.outlet_fact(slope)?.rank() < rank {
                    let r = model.outlet_fact(slope)?.rank();
                    slope = model.wire_node(
                        format!("{name}.add-axis-{r}"),
                        AxisOp::Add(0),
                        &[slope],
                    )?[0];
                }
                let zero = scalar(model, &format!("{name}.zero"), x, 0.0)?;
                let pos = model.wire_node(format!("{name}.pos"), math::max(), &[x, zero])?[0];
                let neg = model.wire_node(format!("{name}.neg"), math::min(), &[x, zero])?[0];
                let neg = model.wire_node(format!("{name}.scaled"), math::mul(), &[slope, neg])?[0];
                model.wire_node(name, math::add(), &[pos, neg])
            }
            Activation::Selu { alpha, gamma } => {
                let e = model.wire_node(format!("{name}.elu"), elu(alpha), inputs)?[0];
                let g = scalar(model, &format!("{name}.gamma"), x, gamma)?;
                model.wire_node(name, math::mul(), &[e, g])
            }
            Activation::ThresholdedRelu { alpha } => {
                let alpha = scalar(model, &format!("{name}.alpha"), x, alpha)?;
                let zero = scalar(model, &format!("{name}.zero"), x, 0.0)?;
                let lowest = scalar(model, &format!("{name}.lowest"), x, f32::MIN)?;
                let d = model.wire_node(format!("{name}.sub"), math::sub(), &[x, alpha])?[0];
                let s = model.wire_node(format!("{name}.sign"), math::sign(), &[d])?[0];
                let m = model.wire_node(format!("{name}.mask"), math::max(), &[s, zero])?[0];
                let f = model.wire_node(format!("{name}.finite"), math::max(), &[x, lowest])?[0];
                model.wire_node(name, math::mul(), &[f, m])
            }
        }
    }
}
