//! ONNX arithmetic that tract expands with comparisons and `Iff` (which ferrite has no
//! op for), parsed instead into one tract op each, which the lowering maps onto one
//! ferrite op:
//!
//! | ONNX op | tract op built here | ferrite op |
//! |---|---|---|
//! | Shrink | element-wise [`Shrink`] | `Unary Shrink` |
//! | Mod with `fmod = 0` | binary [`FloorMod`] (numpy broadcasting) | `Binary Mod` |
//!
//! Neither has an exact form in ferrite's other ops: a select written with `Sign` masks
//! multiplies an infinite operand by 0 (NaN) where ONNX keeps it (`Shrink(-inf)` is
//! `-inf`, `Mod(-3, inf)` is `inf`). The registered parsers replace tract-onnx's own
//! ([`super::activations::onnx`]); tract evaluates these ops too, with the arithmetic
//! of ferrite's kernels, as the float reference of `ferrite validate`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ndarray::Zip;
use tract_onnx::tract_core::ops::binary::BinMiniOp;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::binary::BinIntoHir;

/// A scalar constant of the type and rank of `like`.
pub(super) fn scalar(
    model: &mut TypedModel,
    name: &str,
    like: OutletId,
    v: f32,
) -> TractResult<OutletId> {
    let fact = model.outlet_fact(like)?.clone();
    let t = tensor0(v)
        .cast_to_dt(fact.datum_type)?
        .into_owned()
        .broadcast_into_rank(fact.rank())?;
    model.add_const(name, t)
}

/// ONNX Shrink: `x + bias` for `x < -lambd`, `x - bias` for `x > lambd`, else 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Shrink {
    pub lambd: f32,
    pub bias: f32,
}

impl Eq for Shrink {}

/// The parser of ONNX Shrink (defaults `lambd = 0.5`, `bias = 0`).
pub(super) fn shrink(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let lambd = node.get_attr_opt("lambd")?.unwrap_or(0.5);
    let bias = node.get_attr_opt("bias")?.unwrap_or(0.0);
    Ok((
        ElementWiseOp(Box::new(Shrink { lambd, bias }), None).into_hir(),
        vec![],
    ))
}

fn shrink_f64(x: f64, lambd: f64, bias: f64) -> f64 {
    if x < -lambd {
        x + bias
    } else if x > lambd {
        x - bias
    } else if x.is_nan() {
        x
    } else {
        0.0
    }
}

impl ElementWiseMiniOp for Shrink {
    fn name(&self) -> String {
        "Shrink".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("lambd: {}, bias: {}", self.lambd, self.bias)])
    }

    fn eval_in_place(&self, t: &mut Tensor, out_dt: Option<DatumType>) -> TractResult<()> {
        let dt = out_dt.unwrap_or(t.datum_type());
        let (l, b) = (f64::from(self.lambd), f64::from(self.bias));
        let mut plain = t.try_as_plain_ram_mut()?;
        if dt == f32::datum_type() {
            let (l, b) = (self.lambd, self.bias);
            for x in plain.as_slice_mut::<f32>()? {
                *x = if *x < -l {
                    *x + b
                } else if *x > l {
                    *x - b
                } else if x.is_nan() {
                    *x
                } else {
                    0.0
                };
            }
        } else if dt == f64::datum_type() {
            for x in plain.as_slice_mut::<f64>()? {
                *x = shrink_f64(*x, l, b);
            }
        } else if dt == f16::datum_type() {
            for x in plain.as_slice_mut::<f16>()? {
                *x = f16::from_f64(shrink_f64(x.to_f64(), l, b));
            }
        } else {
            bail!("Shrink on {dt:?}");
        }
        Ok(())
    }
}

/// The remainder with the divisor's sign (numpy `mod`, ONNX Mod with `fmod = 0`):
/// `fmod(a, b)`, plus `b` when that is non-zero and of the other sign than `b`; a zero
/// remainder takes `b`'s sign. Integers: the same rule on `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorMod;

/// The parser of ONNX Mod: tract's `Rem` for `fmod = 1`, else [`FloorMod`].
pub(super) fn modulo(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok(if node.get_attr_opt::<i64>("fmod")? == Some(1) {
        (tract_onnx::tract_hir::ops::math::Rem.into_hir(), vec![])
    } else {
        (FloorMod.into_hir(), vec![])
    })
}

macro_rules! float_mod {
    ($a:expr, $b:expr, $zero:expr) => {{
        let (a, b) = ($a, $b);
        let r = a % b;
        if r == $zero {
            $zero.copysign(b)
        } else if (b < $zero) != (r < $zero) {
            r + b
        } else {
            r
        }
    }};
}

macro_rules! int_mod {
    ($a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        if b == 0 {
            0
        } else {
            let r = a.wrapping_rem(b);
            if r != 0 && (b < 0) != (r < 0) {
                r.wrapping_add(b)
            } else {
                r
            }
        }
    }};
}

fn f32_mod(a: f32, b: f32) -> f32 {
    float_mod!(a, b, 0.0f32)
}

fn f64_mod(a: f64, b: f64) -> f64 {
    float_mod!(a, b, 0.0f64)
}

/// `c = a mod b` with numpy broadcasting into `c`'s shape.
fn eval_into(c: &mut Tensor, a: &Tensor, b: &Tensor) -> TractResult<()> {
    macro_rules! each {
        ($t:ty, $f:expr) => {{
            let a = a.to_plain_array_view::<$t>()?;
            let b = b.to_plain_array_view::<$t>()?;
            let mut c = c.to_plain_array_view_mut::<$t>()?;
            Zip::from(&mut c)
                .and_broadcast(&a)
                .and_broadcast(&b)
                .for_each(|c, &a, &b| *c = $f(a, b));
        }};
    }
    match c.datum_type() {
        DatumType::F32 => each!(f32, f32_mod),
        DatumType::F64 => each!(f64, f64_mod),
        DatumType::F16 => each!(f16, |a: f16, b: f16| f16::from_f64(f64_mod(
            a.to_f64(),
            b.to_f64()
        ))),
        DatumType::I8 => each!(i8, |a: i8, b: i8| int_mod!(a, b)),
        DatumType::I16 => each!(i16, |a: i16, b: i16| int_mod!(a, b)),
        DatumType::I32 => each!(i32, |a: i32, b: i32| int_mod!(a, b)),
        DatumType::I64 => each!(i64, |a: i64, b: i64| int_mod!(a, b)),
        dt => bail!("Mod on {dt:?}"),
    }
    Ok(())
}

impl BinMiniOp for FloorMod {
    fn name(&self) -> &'static str {
        "FloorMod"
    }

    fn result_datum_type(&self, a: DatumType, b: DatumType) -> TractResult<DatumType> {
        a.common_super_type(b)
            .with_context(|| format!("No super type for {a:?} and {b:?}"))
    }

    fn eval_in_a(&self, a: &mut Tensor, b: &Tensor) -> TractResult<()> {
        let a_in = a.clone();
        eval_into(a, &a_in, b)
    }

    fn eval_out_of_place(&self, c: &mut Tensor, a: &Tensor, b: &Tensor) -> TractResult<()> {
        eval_into(c, a, b)
    }

    fn is_commutative(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_mod_follows_numpy() {
        // numpy.mod on the same values.
        assert_eq!(f32_mod(-4.0, 3.0), 2.0);
        assert_eq!(f32_mod(4.0, -3.0), -2.0);
        assert_eq!(f32_mod(-3.0, f32::INFINITY), f32::INFINITY);
        assert_eq!(f32_mod(3.0, f32::INFINITY), 3.0);
        assert_eq!(f32_mod(0.0, -2.0).to_bits(), (-0.0f32).to_bits());
        assert!(f32_mod(1.0, 0.0).is_nan());
        assert_eq!(int_mod!(-7i32, 3i32), 2);
        assert_eq!(int_mod!(7i64, -3i64), -2);
        assert_eq!(int_mod!(i32::MIN, -1i32), 0);
    }

    #[test]
    fn shrink_zeroes_the_band() {
        let mut t = tensor1(&[-2.0f32, -1.0, 0.0, 1.0, 2.0, f32::NEG_INFINITY]);
        Shrink {
            lambd: 1.5,
            bias: 1.5,
        }
        .eval_in_place(&mut t, None)
        .unwrap();
        assert_eq!(
            t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap(),
            &[-0.5, 0.0, 0.0, 0.0, 0.5, f32::NEG_INFINITY]
        );
    }
}
