//! Reductions and the normalizations tract builds from them:
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | GlobalAveragePool, ReduceMean, ReduceSum | `Reduce<Sum>` (+ `Div`/`Mul`) | `GlobalAvgPool` (+ `Mul` when not a mean) |
//! | GlobalMaxPool, ReduceMax, ReduceMin | `Reduce<Max/Min>` | `GlobalMaxPool` (Min: between two `Neg`) |
//! | ReduceProd | `Reduce<Prod>` | `GlobalProd` |
//! | mean of a square (the variance in InstanceNormalization, GroupNormalization, MeanVarianceNormalization) | `Reduce<MeanOfSquares>` | `Binary Mul` (x·x) + `GlobalAvgPool` |
//! | (any of the reductions above over axes that are not the trailing spatial ones) | `Reduce<…>` | `Transpose` (reduced axes last) + `Reshape [outer, 1, count]` + the global pool + `Reshape` |
//! | LayerNormalization, RMSNormalization | `Reduce<Sum>`, `Sub`, `RmsNorm`, `Mul`/`Add` | `x · Reciprocal(Sqrt(mean(x²) + eps))` with broadcasting `Binary` ops |
//! | ArgMax | `Reduce<ArgMax>` | `ArgMax` |

use super::lower::{scalar_of, tensor_f32, Lower, Outcome};
use crate::error::Result;
use crate::ir::{Data, Graph, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer, RmsNorm};

/// `Reduce`, `RmsNorm`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    if let Some(r) = node.op_as::<Reduce>() {
        return l.reduce(node, r).map(Outcome::from);
    }
    if let Some(rn) = node.op_as::<RmsNorm>() {
        return l.rms_norm(node, rn).map(Outcome::from);
    }
    Ok(Outcome::NotMine)
}

impl Lower<'_> {
    fn reduce(&mut self, node: &TypedNode, r: &Reduce) -> Result<bool> {
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let o = self.out(node);
        let so = self.shape(o)?;
        let mut axes: Vec<usize> = r.axes.to_vec();
        axes.sort_unstable();
        let name = node.name.clone();
        match r.reducer {
            Reducer::ArgMax(last) if axes.len() == 1 => {
                self.emit(
                    node,
                    Op::ArgMax {
                        axis: axes[0] as u8,
                        keepdims: true,
                        select_last: last,
                    },
                    &[x],
                )?;
                Ok(true)
            }
            Reducer::Sum | Reducer::MeanOfSquares | Reducer::Max | Reducer::Min | Reducer::Prod => {
                if self.g.tensors[x].dtype != DType::F32 || axes.iter().any(|&a| a >= xs.len()) {
                    return Ok(false);
                }
                let mean_of_squares = r.reducer == Reducer::MeanOfSquares;
                let (src, pool) = if mean_of_squares {
                    let sq = self.g.add_node(
                        &format!("{name}.square"),
                        Op::Binary {
                            op: BinaryOp::Mul,
                            act: Activation::None,
                            q: None,
                        },
                        &[x, x],
                        &xs,
                        DType::F32,
                    );
                    (sq, Reducer::Sum)
                } else {
                    (x, r.reducer)
                };
                let mut y = self.pool_axes(src, &axes, pool, &name)?;
                if !matches!(r.reducer, Reducer::Sum | Reducer::MeanOfSquares) {
                    let y = self.reshape(y, &so, &format!("{name}.reshape"));
                    self.map.insert(o, y);
                    return Ok(true);
                }
                // The pool gives the mean: a Sum is the mean times the count. Fold a
                // following division or multiplication by a scalar constant.
                let mut factor = if mean_of_squares {
                    1.0
                } else {
                    axes.iter().map(|&a| xs[a]).product::<usize>() as f32
                };
                let mut last = o;
                let mut out_name = name.clone();
                if let Some(next) = self.single_successor(o) {
                    if let Some(b) = next.op_as::<TypedBinOp>() {
                        let slot = next.inputs.iter().position(|i| *i == o).unwrap_or(0);
                        let other = next.inputs[1 - slot];
                        if let Some(k) = self.konst_f32(other).and_then(|v| scalar_of(&v)) {
                            let f = match (b.0.name(), slot) {
                                ("Div", 0) => Some(factor / k),
                                ("Mul", _) => Some(factor * k),
                                _ => None,
                            };
                            if let Some(f) = f {
                                if self.shape(OutletId::new(next.id, 0))? == so {
                                    factor = f;
                                    last = OutletId::new(next.id, 0);
                                    out_name = next.name.clone();
                                    self.skip.insert(next.id);
                                }
                            }
                        }
                    }
                }
                if factor != 1.0 {
                    self.g.tensors[y].name = format!("{name}.mean");
                    let k =
                        self.g
                            .add_const(&format!("{name}.count"), &[1], Data::F32(vec![factor]));
                    let s = self.g.tensors[y].shape.clone();
                    y = self.g.add_node(
                        &out_name,
                        Op::Binary {
                            op: BinaryOp::Mul,
                            act: Activation::None,
                            q: None,
                        },
                        &[y, k],
                        &s,
                        DType::F32,
                    );
                } else {
                    self.g.tensors[y].name = out_name.clone();
                }
                let y = self.reshape(y, &so, &format!("{out_name}.reshape"));
                self.map.insert(last, y);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// `x` (f32) reduced over `axes` (sorted, distinct) by a global pool: the mean for
    /// `Sum`, the maximum for `Max`, the minimum for `Min` (GlobalMaxPool between two
    /// `Neg`), the product for `Prod` (`GlobalProd`). When the axes are the trailing ones of an `[N, C, ...]` tensor the pool
    /// reads `x` as it is and the result has `x`'s shape with the reduced axes set to 1;
    /// otherwise the reduced axes are moved last (Transpose), flattened into
    /// `[outer, 1, count]` (Reshape) and the result is `[outer, 1, 1]`, the kept axes in
    /// their order. The result tensor is named `name`.
    fn pool_axes(&mut self, x: TId, axes: &[usize], reducer: Reducer, name: &str) -> Result<TId> {
        let xs = self.g.tensors[x].shape.clone();
        let rank = xs.len();
        let count: usize = axes.iter().map(|&a| xs[a]).product();
        let trailing = axes
            .iter()
            .enumerate()
            .all(|(i, &a)| a + axes.len() == rank + i);
        // Global pools reduce every axis after the first two of [N, C, ...].
        let (mut t, pooled_shape) = if trailing && rank >= 3 && axes.first() == Some(&2) {
            let s: Vec<usize> = xs
                .iter()
                .enumerate()
                .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
                .collect();
            (x, s)
        } else {
            let mut perm: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
            perm.extend(axes);
            let t = if perm.iter().enumerate().all(|(i, &p)| i == p) {
                x
            } else {
                self.transpose(x, &perm, &format!("{name}.transpose"))?
            };
            let outer = xs.iter().product::<usize>() / count.max(1);
            let t = self.reshape(t, &[outer, 1, count], &format!("{name}.flatten"));
            (t, vec![outer, 1, 1])
        };
        let neg = |g: &mut Graph, t: TId, n: &str| {
            let s = g.tensors[t].shape.clone();
            g.add_node(n, Op::Unary { op: UnaryOp::Neg }, &[t], &s, DType::F32)
        };
        let min = reducer == Reducer::Min;
        if min {
            t = neg(&mut self.g, t, &format!("{name}.neg"));
        }
        let op = match reducer {
            Reducer::Sum => Op::GlobalAvgPool,
            Reducer::Prod => Op::GlobalProd,
            _ => Op::GlobalMaxPool,
        };
        let pool_name = if min {
            format!("{name}.pool")
        } else {
            name.to_string()
        };
        let y = self
            .g
            .add_node(&pool_name, op, &[t], &pooled_shape, DType::F32);
        Ok(if min { neg(&mut self.g, y, name) } else { y })
    }

    /// RmsNorm (what tract makes of LayerNormalization and RMSNormalization):
    /// `x · (1 / sqrt(mean(x², axis) + eps))`, the mean broadcast back along `axis`.
    fn rms_norm(&mut self, node: &TypedNode, rn: &RmsNorm) -> Result<bool> {
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        if self.g.tensors[x].dtype != DType::F32 || rn.axis >= xs.len() {
            return Ok(false);
        }
        let Some(eps) = tensor_f32(&rn.eps)?.first().copied() else {
            return Ok(false);
        };
        let name = node.name.clone();
        let bin = |op| Op::Binary {
            op,
            act: Activation::None,
            q: None,
        };
        let sq = self.g.add_node(
            &format!("{name}.square"),
            bin(BinaryOp::Mul),
            &[x, x],
            &xs,
            DType::F32,
        );
        let ms = self.pool_axes(sq, &[rn.axis], Reducer::Sum, &format!("{name}.mean_sq"))?;
        let mut ks = xs.clone();
        ks[rn.axis] = 1;
        let ms = self.reshape(ms, &ks, &format!("{name}.mean_sq.reshape"));
        let e = self
            .g
            .add_const(&format!("{name}.eps"), &[1], Data::F32(vec![eps]));
        let v = self.g.add_node(
            &format!("{name}.add_eps"),
            bin(BinaryOp::Add),
            &[ms, e],
            &ks,
            DType::F32,
        );
        let s = self.g.add_node(
            &format!("{name}.sqrt"),
            Op::Unary { op: UnaryOp::Sqrt },
            &[v],
            &ks,
            DType::F32,
        );
        let inv = self.g.add_node(
            &format!("{name}.recip"),
            Op::Unary {
                op: UnaryOp::Reciprocal,
            },
            &[s],
            &ks,
            DType::F32,
        );
        self.emit(node, bin(BinaryOp::Mul), &[x, inv])?;
        Ok(true)
    }
}
