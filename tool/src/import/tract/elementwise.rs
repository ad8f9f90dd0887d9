//! Element-wise ops:
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | Add, Sub, Mul, Div, Max, Min, Pow (broadcasting) | `TypedBinOp` (Pow by a scalar constant: `PowConst`) | `Binary` (Div by a constant: `Mul` by its inverse) |
//! | Mod with `fmod = 1` (f32) | `Rem` | `Binary Fmod` |
//! | Mod with `fmod = 0` (f32) | [`arith::FloorMod`] (parsed by [`arith`]) | `Binary Mod` |
//! | Shrink | [`arith::Shrink`] (parsed by [`arith`]) | `Unary Shrink` |
//! | Relu, Clip, Max/Min with a scalar constant | `Max`/`Min` | `Unary Clip/Relu`, fused into the producer |
//! | Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil, Erf, HardSwish, LeakyRelu, Gelu | `ElementWiseOp` | `Unary` |
//! | Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Round (half to even), Sign | `ElementWiseOp` | `Unary` |
//! | Elu, Selu, PRelu, ThresholdedRelu | parsed by [`super::activations`] (not tract's `Iff` expansions) | `Unary Elu` (Selu: + `Mul`); PRelu: `Relu`, `Clip`, `Mul`, `Add`; ThresholdedRelu: `Sub`, `Sign`, `Relu`, `Clip`, `Mul` |
//! | HardSigmoid, Softplus, Softsign, Celu | expanded by tract to Mul/Add/Min/Max/Exp/Ln | the corresponding `Binary`/`Unary` ops |
//! | Silu, Square, Rsqrt | `ElementWiseOp` | `Unary` + `Binary` |
//! | Gelu (approximate = "tanh") | `GeluApproximate` | `Binary` Mul/Add and `Unary Tanh`, term by term |

use super::lower::{scalar_of, Lower, Outcome};
use super::{activations, arith};
use crate::error::Result;
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;

/// `TypedBinOp`, `ElementWiseOp`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    if let Some(b) = node.op_as::<TypedBinOp>() {
        return l.binary(node, b.0.name()).map(Outcome::from);
    }
    if let Some(e) = node.op_as::<ElementWiseOp>() {
        return l.unary(node, e).map(Outcome::from);
    }
    Ok(Outcome::NotMine)
}

impl Lower<'_> {
    fn binary(&mut self, node: &TypedNode, op: &str) -> Result<bool> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let kb = self.konst_f32(b).and_then(|v| scalar_of(&v));
        let ka = self.konst_f32(a).and_then(|v| scalar_of(&v));
        let o = self.out(node);
        let so = self.shape(o)?;
        // max(x, c) / min(x, c) with a scalar constant are clips (Relu, Relu6, Clip).
        let clip = match (op, ka, kb) {
            ("Max", _, Some(c)) if self.shape(a)? == so => Some((a, c, f32::INFINITY)),
            ("Max", Some(c), _) if self.shape(b)? == so => Some((b, c, f32::INFINITY)),
            ("Min", _, Some(c)) if self.shape(a)? == so => Some((a, f32::NEG_INFINITY, c)),
            ("Min", Some(c), _) if self.shape(b)? == so => Some((b, f32::NEG_INFINITY, c)),
            _ => None,
        };
        if let Some((x, min, max)) = clip {
            let x = self.value(x)?;
            self.emit(
                node,
                Op::Unary {
                    op: UnaryOp::Clip { min, max },
                },
                &[x],
            )?;
            return Ok(true);
        }
        let bop = match op {
            "Add" => BinaryOp::Add,
            "Sub" => BinaryOp::Sub,
            "Mul" => BinaryOp::Mul,
            "Div" => BinaryOp::Div,
            "Max" => BinaryOp::Max,
            "Min" => BinaryOp::Min,
            "Pow" => BinaryOp::Pow,
            "Rem" => BinaryOp::Fmod,
            "FloorMod" => BinaryOp::Mod,
            _ => return Ok(false),
        };
        if self.dtype(o)? != DType::F32 {
            return Ok(false);
        }
        let (va, vb) = (self.value(a)?, self.value(b)?);
        for v in [va, vb] {
            if self.g.tensors[v].dtype != DType::F32 {
                return Ok(false);
            }
        }
        // x / c is x * (1 / c): the kernels multiply faster than they divide.
        if bop == BinaryOp::Div && self.g.is_const(vb) {
            if let Some(Data::F32(d)) = self.g.tensors[vb].data.clone() {
                let shape = self.g.tensors[vb].shape.clone();
                let inv = self.g.add_const(
                    &format!("{}.recip", node.name),
                    &shape,
                    Data::F32(d.iter().map(|v| 1.0 / v).collect()),
                );
                self.emit(
                    node,
                    Op::Binary {
                        op: BinaryOp::Mul,
                        act: Activation::None,
                        q: None,
                    },
                    &[va, inv],
                )?;
                return Ok(true);
            }
        }
        self.emit(
            node,
            Op::Binary {
                op: bop,
                act: Activation::None,
                q: None,
            },
            &[va, vb],
        )?;
        Ok(true)
    }

    fn unary(&mut self, node: &TypedNode, e: &ElementWiseOp) -> Result<bool> {
        use tract_onnx::tract_core::ops::nn::LeakyRelu;
        let name = e.0.name();
        let u = match name.as_str() {
            "Sigmoid" => UnaryOp::Sigmoid,
            "Tanh" => UnaryOp::Tanh,
            "Exp" => UnaryOp::Exp,
            "Ln" => UnaryOp::Log,
            "Sqrt" => UnaryOp::Sqrt,
            "Neg" => UnaryOp::Neg,
            "Abs" => UnaryOp::Abs,
            "Recip" => UnaryOp::Reciprocal,
            "Floor" => UnaryOp::Floor,
            "Ceil" => UnaryOp::Ceil,
            "Erf" => UnaryOp::Erf,
            "HardSwish" => UnaryOp::HardSwish,
            "GeluExact" => UnaryOp::Gelu,
            "Sin" => UnaryOp::Sin,
            "Cos" => UnaryOp::Cos,
            "Tan" => UnaryOp::Tan,
            "Asin" => UnaryOp::Asin,
            "Acos" => UnaryOp::Acos,
            "Atan" => UnaryOp::Atan,
            "Sinh" => UnaryOp::Sinh,
            "Cosh" => UnaryOp::Cosh,
            "Asinh" => UnaryOp::Asinh,
            "Acosh" => UnaryOp::Acosh,
            "Atanh" => UnaryOp::Atanh,
            "RoundHalfToEven" => UnaryOp::Round,
            "Sign" => UnaryOp::Sign,
            "LeakyRelu" => match e.0.downcast_ref::<LeakyRelu>() {
                Some(l) => UnaryOp::LeakyRelu { alpha: l.alpha },
                None => return Ok(false),
            },
            "Elu" => match e.0.downcast_ref::<activations::Elu>() {
                Some(l) => UnaryOp::Elu { alpha: l.alpha },
                None => return Ok(false),
            },
            "Shrink" => match e.0.downcast_ref::<arith::Shrink>() {
                Some(s) => UnaryOp::Shrink {
                    lambd: s.lambd,
                    bias: s.bias,
                },
                None => return Ok(false),
            },
            "GeluApproximate" => return self.gelu_tanh(node, e),
            "PowConst" => return self.pow_const(node, e),
            "Square" | "Silu" | "Rsqrt" => {
                let x = self.value(node.inputs[0])?;
                let s = self.g.tensors[x].shape.clone();
                let mul = Op::Binary {
                    op: BinaryOp::Mul,
                    act: Activation::None,
                    q: None,
                };
                match name.as_str() {
                    "Square" => {
                        self.emit(node, mul, &[x, x])?;
                    }
                    "Silu" => {
                        let sg = self.g.add_node(
                            &format!("{}.sigmoid", node.name),
                            Op::Unary {
                                op: UnaryOp::Sigmoid,
                            },
                            &[x],
                            &s,
                            DType::F32,
                        );
                        self.emit(node, mul, &[x, sg])?;
                    }
                    _ => {
                        let sq = self.g.add_node(
                            &format!("{}.sqrt", node.name),
                            Op::Unary { op: UnaryOp::Sqrt },
                            &[x],
                            &s,
                            DType::F32,
                        );
                        self.emit(
                            node,
                            Op::Unary {
                                op: UnaryOp::Reciprocal,
                            },
                            &[sq],
                        )?;
                    }
                }
                return Ok(true);
            }
            _ => return Ok(false),
        };
        if self.dtype(self.out(node))? != DType::F32 {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        self.emit(node, Op::Unary { op: u }, &[x])?;
        Ok(true)
    }

    /// `x ^ c` for a constant `c` (tract's form of a Pow by a scalar constant): `Binary
    /// Pow` with `c` as a one-element constant.
    fn pow_const(&mut self, node: &TypedNode, e: &ElementWiseOp) -> Result<bool> {
        use tract_onnx::tract_core::ops::math::PowConst;
        let Some(p) = e.0.downcast_ref::<PowConst>() else {
            return Ok(false);
        };
        if self.dtype(self.out(node))? != DType::F32 {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let c = self.g.add_const(
            &format!("{}.exponent", node.name),
            &[1],
            Data::F32(vec![p.exponent]),
        );
        self.emit(
            node,
            Op::Binary {
                op: BinaryOp::Pow,
                act: Activation::None,
                q: None,
            },
            &[x, c],
        )?;
        Ok(true)
    }

    /// Gelu with `approximate = "tanh"`, tract's formula term by term:
    /// `0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))`.
    fn gelu_tanh(&mut self, node: &TypedNode, e: &ElementWiseOp) -> Result<bool> {
        use tract_onnx::tract_core::ops::nn::gelu_approximate::GeluApproximate;
        let Some(GeluApproximate { fast_impl: false }) = e.0.downcast_ref::<GeluApproximate>()
        else {
            return Ok(false);
        };
        if self.dtype(self.out(node))? != DType::F32 {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let s = self.g.tensors[x].shape.clone();
        let name = node.name.clone();
        let bin = |l: &mut Self, op: BinaryOp, a: TId, b: TId, what: &str| {
            l.g.add_node(
                &format!("{name}.{what}"),
                Op::Binary {
                    op,
                    act: Activation::None,
                    q: None,
                },
                &[a, b],
                &s,
                DType::F32,
            )
        };
        let k = |l: &mut Self, v: f32, what: &str| {
            l.g.add_const(&format!("{}.{what}", node.name), &[1], Data::F32(vec![v]))
        };
        let x2 = bin(self, BinaryOp::Mul, x, x, "x2");
        let x3 = bin(self, BinaryOp::Mul, x2, x, "x3");
        let a = k(self, 0.044715, "a");
        let ax3 = bin(self, BinaryOp::Mul, x3, a, "ax3");
        let inner = bin(self, BinaryOp::Add, x, ax3, "inner");
        let c = k(self, (2.0 / std::f32::consts::PI).sqrt(), "c");
        let arg = bin(self, BinaryOp::Mul, inner, c, "arg");
        let t = self.g.add_node(
            &format!("{name}.tanh"),
            Op::Unary { op: UnaryOp::Tanh },
            &[arg],
            &s,
            DType::F32,
        );
        let one = k(self, 1.0, "one");
        let t1 = bin(self, BinaryOp::Add, t, one, "plus1");
        let half = k(self, 0.5, "half");
        let hx = bin(self, BinaryOp::Mul, x, half, "halfx");
        let y = bin(self, BinaryOp::Mul, hx, t1, "y");
        self.map.insert(self.out(node), y);
        Ok(true)
    }
}
