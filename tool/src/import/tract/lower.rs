//! The state of a tract → IR lowering ([`Lower`]) and the helpers every op family
//! uses: tract values as IR tensors, constants, shapes, and the folding of per-channel
//! affine ops into the weights of the op before them.

use crate::error::{Error, Result};
use crate::ir::{Data, Graph, TId};
use ferrite::format::types::Op;
use ferrite::DType;
use std::collections::{HashMap, HashSet};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::konst::Const;

/// What an op family made of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Not an op of this family: the next family is asked.
    NotMine,
    /// Lowered to ferrite ops.
    Lowered,
    /// An op of this family in a form ferrite cannot run (reported as unsupported).
    Unsupported,
}

impl From<bool> for Outcome {
    fn from(lowered: bool) -> Outcome {
        if lowered {
            Outcome::Lowered
        } else {
            Outcome::Unsupported
        }
    }
}

/// An op family: lowers the tract nodes whose op it recognises.
pub(super) type Family = fn(&mut Lower<'_>, &TypedNode) -> Result<Outcome>;

/// A tract model being lowered into an IR graph.
pub(super) struct Lower<'m> {
    pub m: &'m TypedModel,
    pub g: Graph,
    /// The IR tensor of every tract value lowered so far.
    pub map: HashMap<OutletId, TId>,
    /// Nodes already lowered as part of another (folded affine ops, scalings).
    pub skip: HashSet<usize>,
    /// `(op, node name)` of every node no family could lower.
    pub unsupported: Vec<(String, String)>,
}

/// A constant folded by an affine successor: `y = x * scale + shift` per channel.
pub(super) struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// The last folded node's output (the value the result stands for).
    pub last: OutletId,
    /// The last folded node's name (empty when nothing was folded).
    pub name: String,
}

/// A tract error as an import error.
pub(super) fn imp(e: impl std::fmt::Display) -> Error {
    Error::Import(format!("{e:#}"))
}

/// A tract tensor's values as f32.
pub(super) fn tensor_f32(t: &Tensor) -> Result<Vec<f32>> {
    let c = t.cast_to::<f32>().map_err(imp)?;
    let v = c.to_plain_array_view::<f32>().map_err(imp)?;
    Ok(v.iter().copied().collect())
}

/// A tract tensor's values as i64.
pub(super) fn tensor_i64(t: &Tensor) -> Result<Vec<i64>> {
    let c = t.cast_to::<i64>().map_err(imp)?;
    let v = c.to_plain_array_view::<i64>().map_err(imp)?;
    Ok(v.iter().copied().collect())
}

/// The one value all of `v` holds, if it holds one (NaN counts as one value).
pub(super) fn scalar_of(v: &[f32]) -> Option<f32> {
    let f = *v.first()?;
    v.iter()
        .all(|&x| x == f || x.is_nan() && f.is_nan())
        .then_some(f)
}

impl<'m> Lower<'m> {
    /// The constant value of `o`, if tract knows it.
    pub(super) fn konst(&self, o: OutletId) -> Option<Arc<Tensor>> {
        let node = self.m.node(o.node);
        if let Some(c) = node.op_as::<Const>() {
            return Some(c.val().clone());
        }
        self.m.outlet_fact(o).ok()?.konst.clone()
    }

    /// [`Lower::konst`] as f32 values.
    pub(super) fn konst_f32(&self, o: OutletId) -> Option<Vec<f32>> {
        self.konst(o).and_then(|t| tensor_f32(&t).ok())
    }

    /// The concrete shape of `o` (an import error if it is symbolic).
    pub(super) fn shape(&self, o: OutletId) -> Result<Vec<usize>> {
        let f = self.m.outlet_fact(o).map_err(imp)?;
        f.shape.as_concrete().map(|s| s.to_vec()).ok_or_else(|| {
            Error::Import(format!(
                "node \"{}\" has a non-constant shape {:?}",
                self.m.node(o.node).name,
                f.shape
            ))
        })
    }

    /// The ferrite dtype of `o` (f32, i64, i32; an import error otherwise).
    pub(super) fn dtype(&self, o: OutletId) -> Result<DType> {
        let dt = self.m.outlet_fact(o).map_err(imp)?.datum_type;
        if dt == f32::datum_type() {
            Ok(DType::F32)
        } else if dt == i64::datum_type() {
            Ok(DType::I64)
        } else if dt == i32::datum_type() {
            Ok(DType::I32)
        } else {
            Err(Error::Import(format!(
                "values of type {dt:?} are not supported"
            )))
        }
    }

    /// The IR tensor of a tract value (constants become IR constants on first use).
    pub(super) fn value(&mut self, o: OutletId) -> Result<TId> {
        if let Some(&t) = self.map.get(&o) {
            return Ok(t);
        }
        let k = self
            .konst(o)
            .ok_or_else(|| Error::Other(format!("internal: no value for {o:?}")))?;
        let name = self.m.node(o.node).name.clone();
        let shape = k.shape().to_vec();
        let data = if k.datum_type() == i64::datum_type() || k.datum_type() == i32::datum_type() {
            Data::I64(tensor_i64(&k)?)
        } else {
            Data::F32(tensor_f32(&k)?)
        };
        let t = self.g.add_const(&name, &shape, data);
        self.map.insert(o, t);
        Ok(t)
    }

    /// Output 0 of `node`.
    pub(super) fn out(&self, node: &TypedNode) -> OutletId {
        OutletId::new(node.id, 0)
    }

    /// Adds an op computing the node's output (named after the node).
    pub(super) fn emit(&mut self, node: &TypedNode, op: Op, inputs: &[TId]) -> Result<TId> {
        let o = self.out(node);
        let shape = self.shape(o)?;
        let dt = self.dtype(o)?;
        let t = self.g.add_node(&node.name, op, inputs, &shape, dt);
        self.map.insert(o, t);
        Ok(t)
    }

    /// `x` reshaped to `shape` (`x` itself when it has that shape).
    pub(super) fn reshape(&mut self, x: TId, shape: &[usize], name: &str) -> TId {
        if self.g.tensors[x].shape == shape {
            return x;
        }
        let dt = self.g.tensors[x].dtype;
        self.g.add_node(name, Op::Reshape, &[x], shape, dt)
    }

    /// `x` with its axes permuted by `perm`.
    pub(super) fn transpose(&mut self, x: TId, perm: &[usize], name: &str) -> Result<TId> {
        let s = self.g.tensors[x].shape.clone();
        let shape: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let dt = self.g.tensors[x].dtype;
        let p = heapless::Vec::from_slice(&perm.iter().map(|&p| p as u8).collect::<Vec<_>>())
            .map_err(|_| Error::Other("rank too large".into()))?;
        Ok(self
            .g
            .add_node(name, Op::Transpose { perm: p }, &[x], &shape, dt))
    }

    /// Single consumer of `o`, unless `o` is a model output.
    pub(super) fn single_successor(&self, o: OutletId) -> Option<&'m TypedNode> {
        let succ = self.m.outlet_successors(o);
        let is_output = self.m.output_outlets().ok()?.contains(&o);
        if succ.len() != 1 || is_output {
            return None;
        }
        Some(self.m.node(succ[0].node))
    }

    /// Folds `Add/Sub/Mul/Div` by constants that vary only along the channel axes
    /// (`channel_axes` positions in the output, `channels` values) into an affine map.
    pub(super) fn fold_affine(
        &mut self,
        start: OutletId,
        out_shape: &[usize],
        channel_axes: &[usize],
        channels: usize,
    ) -> Affine {
        let mut aff = Affine {
            scale: vec![1.0; channels],
            shift: vec![0.0; channels],
            last: start,
            name: String::new(),
        };
        while let Some(next) = self.single_successor(aff.last) {
            let Some(bin) = next.op_as::<TypedBinOp>() else {
                break;
            };
            let op = bin.0.name();
            let slot = next.inputs.iter().position(|i| *i == aff.last).unwrap_or(0);
            if next.inputs.len() != 2 || next.inputs[1 - slot] == aff.last {
                break;
            }
            let other = next.inputs[1 - slot];
            let Some(k) = self.konst(other) else { break };
            let ks = k.shape().to_vec();
            let Ok(kv) = tensor_f32(&k) else { break };
            let Ok(next_shape) = self.shape(OutletId::new(next.id, 0)) else {
                break;
            };
            if next_shape != out_shape || ks.len() > out_shape.len() {
                break;
            }
            // Right-align the constant with the output and read it per channel.
            let off = out_shape.len() - ks.len();
            let ok = ks.iter().enumerate().all(|(d, &n)| {
                n == 1 || channel_axes.contains(&(d + off)) && n == out_shape[d + off]
            });
            if !ok {
                break;
            }
            let mut per = Vec::with_capacity(channels);
            let ch_sizes: Vec<usize> = channel_axes.iter().map(|&a| out_shape[a]).collect();
            for c in 0..channels {
                let mut rem = c;
                let mut idx = vec![0usize; ch_sizes.len()];
                for (j, &s) in ch_sizes.iter().enumerate().rev() {
                    idx[j] = rem % s;
                    rem /= s;
                }
                let mut off_k = 0;
                for (d, &n) in ks.iter().enumerate() {
                    let i = channel_axes
                        .iter()
                        .position(|&a| a == d + off)
                        .map_or(0, |j| idx[j]);
                    off_k = off_k * n + if n == 1 { 0 } else { i };
                }
                per.push(kv[off_k]);
            }
            match (op, slot) {
                ("Add", _) => aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s += v),
                ("Sub", 0) => aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s -= v),
                ("Mul", _) => {
                    aff.scale.iter_mut().zip(&per).for_each(|(s, v)| *s *= v);
                    aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s *= v);
                }
                ("Div", 0) => {
                    aff.scale.iter_mut().zip(&per).for_each(|(s, v)| *s /= v);
                    aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s /= v);
                }
                _ => break,
            }
            self.skip.insert(next.id);
            aff.last = OutletId::new(next.id, 0);
            aff.name = next.name.clone();
        }
        aff
    }
}
