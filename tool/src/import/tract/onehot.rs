//! One-hot encodings and the zero-norm guard, which tract builds from ops ferrite has
//! no kernel for (`OneHot`, comparisons, `Iff`), as exact compositions of `Cast`,
//! `Binary` and `Unary` ops:
//!
//! | ONNX op | decluttered tract ops | ferrite ops |
//! |---|---|---|
//! | Hardmax | `Reduce<ArgMax>`, `OneHot` | `ArgMax`, then `d = Cast(index) − [0, 1, …, dim−1]` along the axis and `on + Clip(Abs(d), 0, 1) · (off − on)` |
//! | LpNormalization | `Reduce<Sum>` of `Abs(x)` or `x²` (+ `Sqrt`), `Eq(norm, 0)`, `Iff(·, 1, norm)`, `Div` | the reduction, then `norm + (1 − Abs(Sign(norm)))` for the guarded norm, `Div` |
//!
//! Both are exact: the one-hot arithmetic works on small integers and the values
//! `on`/`off`; the guard adds exactly 0 to a non-zero norm and turns a zero norm into 1.

use super::lower::{scalar_of, tensor_f32, Lower, Outcome};
use crate::error::Result;
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::OneHot;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::logic::Iff;

/// `OneHot`; `Eq(v, 0)` read only by an `Iff(·, 1, v)`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    if let Some(oh) = node.op_as::<OneHot>() {
        return l.one_hot(node, oh).map(Outcome::from);
    }
    if let Some(b) = node.op_as::<TypedBinOp>() {
        if b.0.name() == "Eq" {
            return l.zero_guard(node).map(|ok| {
                if ok {
                    Outcome::Lowered
                } else {
                    Outcome::NotMine
                }
            });
        }
    }
    Ok(Outcome::NotMine)
}

/// An f32 binary op without activation.
fn bin(op: BinaryOp) -> Op {
    Op::Binary {
        op,
        act: Activation::None,
        q: None,
    }
}

impl Lower<'_> {
    /// `OneHot { axis, dim, on, off }` of integer indices (f32 `on`/`off`).
    fn one_hot(&mut self, node: &TypedNode, oh: &OneHot) -> Result<bool> {
        let o = self.out(node);
        if self.dtype(o)? != DType::F32 {
            return Ok(false);
        }
        let (Some(on), Some(off)) = (
            tensor_f32(&oh.on).ok().and_then(|v| scalar_of(&v)),
            tensor_f32(&oh.off).ok().and_then(|v| scalar_of(&v)),
        ) else {
            return Ok(false);
        };
        let idx = self.value(node.inputs[0])?;
        if !matches!(self.g.tensors[idx].dtype, DType::I64 | DType::I32) {
            return Ok(false);
        }
        let so = self.shape(o)?;
        if oh.axis >= so.len() || so[oh.axis] != oh.dim {
            return Ok(false);
        }
        let name = node.name.clone();
        // The indices with a unit axis where the one-hot axis goes, as f32.
        let mut ks = so.clone();
        ks[oh.axis] = 1;
        let idx = self.reshape(idx, &ks, &format!("{name}.unsqueeze"));
        let f = self
            .g
            .add_node(&format!("{name}.cast"), Op::Cast, &[idx], &ks, DType::F32);
        // [0, 1, ..., dim-1] along the axis, right-aligned for broadcasting.
        let iota_shape: Vec<usize> = so[oh.axis..]
            .iter()
            .enumerate()
            .map(|(k, &n)| if k == 0 { n } else { 1 })
            .collect();
        let iota = self.g.add_const(
            &format!("{name}.iota"),
            &iota_shape,
            Data::F32((0..oh.dim).map(|i| i as f32).collect()),
        );
        let d = self.g.add_node(
            &format!("{name}.diff"),
            bin(BinaryOp::Sub),
            &[f, iota],
            &so,
            DType::F32,
        );
        let a = self.g.add_node(
            &format!("{name}.abs"),
            Op::Unary { op: UnaryOp::Abs },
            &[d],
            &so,
            DType::F32,
        );
        let c = self.g.add_node(
            &format!("{name}.miss"),
            Op::Unary {
                op: UnaryOp::Clip { min: 0.0, max: 1.0 },
            },
            &[a],
            &so,
            DType::F32,
        );
        let step = self
            .g
            .add_const(&format!("{name}.step"), &[1], Data::F32(vec![off - on]));
        let s = self.g.add_node(
            &format!("{name}.scaled"),
            bin(BinaryOp::Mul),
            &[c, step],
            &so,
            DType::F32,
        );
        let on = self
            .g
            .add_const(&format!("{name}.on"), &[1], Data::F32(vec![on]));
        self.emit(node, bin(BinaryOp::Add), &[s, on])?;
        Ok(true)
    }

    /// `Eq(v, 0)` whose only reader is `Iff(eq, 1, v)` (tract's LpNormalization guard
    /// against a zero norm): lowers both as `v + (1 − |sign(v)|)`. Anything else is
    /// left to the other families (and reported as unsupported).
    fn zero_guard(&mut self, node: &TypedNode) -> Result<bool> {
        let eq = self.out(node);
        let Some(iff) = self.single_successor(eq) else {
            return Ok(false);
        };
        if !iff.op_is::<Iff>() || iff.inputs.len() != 3 || iff.inputs[0] != eq {
            return Ok(false);
        }
        let (v, zero) = match (
            self.konst_f32(node.inputs[0]).and_then(|k| scalar_of(&k)),
            self.konst_f32(node.inputs[1]).and_then(|k| scalar_of(&k)),
        ) {
            (None, Some(z)) => (node.inputs[0], z),
            (Some(z), None) => (node.inputs[1], z),
            _ => return Ok(false),
        };
        let one = self.konst_f32(iff.inputs[1]).and_then(|k| scalar_of(&k));
        let io = OutletId::new(iff.id, 0);
        if zero != 0.0
            || one != Some(1.0)
            || iff.inputs[2] != v
            || self.dtype(v)? != DType::F32
            || self.shape(v)? != self.shape(io)?
        {
            return Ok(false);
        }
        let vt: TId = self.value(v)?;
        let s = self.g.tensors[vt].shape.clone();
        let name = iff.name.clone();
        let un = |l: &mut Self, op: UnaryOp, x: TId, what: &str| {
            l.g.add_node(
                &format!("{name}.{what}"),
                Op::Unary { op },
                &[x],
                &s,
                DType::F32,
            )
        };
        let sign = un(self, UnaryOp::Sign, vt, "sign");
        let nonzero = un(self, UnaryOp::Abs, sign, "nonzero");
        let one = self
            .g
            .add_const(&format!("{name}.one"), &[1], Data::F32(vec![1.0]));
        let zero_ind = self.g.add_node(
            &format!("{name}.is_zero"),
            bin(BinaryOp::Sub),
            &[one, nonzero],
            &s,
            DType::F32,
        );
        let y = self
            .g
            .add_node(&name, bin(BinaryOp::Add), &[vt, zero_ind], &s, DType::F32);
        self.map.insert(io, y);
        self.skip.insert(iff.id);
        Ok(true)
    }
}
