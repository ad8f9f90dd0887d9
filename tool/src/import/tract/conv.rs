//! Convolutions and pools, 1-D and 2-D, in NCHW (NCW) or batch-less CHW (CW) layouts:
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | Conv 1-D/2-D (stride, pads, dilation, groups, depthwise) | `Conv` | `Conv` (weights not constant: read from the arena, f32 only; such a bias: a broadcasting `Add`) |
//! | BatchNormalization, Add/Mul by per-channel constants after Conv | `Mul`/`Add` | folded into the weights and bias |
//! | MaxPool, AveragePool | `MaxPool`, `SumPool` (normalized) | `MaxPool`, `AvgPool` |
//! | MaxPool, AveragePool 3-D | `MaxPool`, `SumPool` (normalized) | two 2-D `MaxPool` / `AvgPool` (H×W, then depth) between `Reshape`s |

use super::lower::{Lower, Outcome};
use crate::error::{Error, Result};
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, Window};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::conv::KernelFormat;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// `Conv`, `MaxPool`, `SumPool`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    if let Some(c) = node.op_as::<Conv>() {
        return l.conv(node, c).map(Outcome::from);
    }
    if let Some(p) = node.op_as::<MaxPool>() {
        if p.with_index_outputs.is_some() {
            return Ok(Outcome::Unsupported);
        }
        return l.pool(node, &p.pool_spec, None).map(Outcome::from);
    }
    if let Some(p) = node.op_as::<SumPool>() {
        if !p.normalize {
            return Ok(Outcome::Unsupported);
        }
        return l
            .pool(node, &p.pool_spec, Some(p.count_include_pad))
            .map(Outcome::from);
    }
    Ok(Outcome::NotMine)
}

/// A conv / pool node's input in NCHW ([`Lower::spatial`]).
struct Spatial {
    x: TId,
    window: Window,
    /// Whether tract's layout already had the batch dimension (NCHW, not CHW).
    batched: bool,
    /// The output shape with the batch dimension, and tract's own.
    so: Vec<usize>,
    tract_so: Vec<usize>,
}

fn window_of(spec: &PoolSpec, spatial: &[usize]) -> Result<Window> {
    let rank = spec.kernel_shape.len();
    let pads = spec.computed_padding(spatial);
    let strides = spec.strides();
    let dil = spec.dilations();
    Ok(match rank {
        1 => Window {
            kernel: [1, spec.kernel_shape[0] as u32],
            stride: [1, strides[0] as u32],
            dilation: [1, dil[0] as u32],
            pads: [0, pads[0].pad_before as u32, 0, pads[0].pad_after as u32],
        },
        2 => Window {
            kernel: [spec.kernel_shape[0] as u32, spec.kernel_shape[1] as u32],
            stride: [strides[0] as u32, strides[1] as u32],
            dilation: [dil[0] as u32, dil[1] as u32],
            pads: [
                pads[0].pad_before as u32,
                pads[1].pad_before as u32,
                pads[0].pad_after as u32,
                pads[1].pad_after as u32,
            ],
        },
        r => return Err(Error::Other(format!("{r}-D windows are not supported"))),
    })
}

impl Lower<'_> {
    fn conv(&mut self, node: &TypedNode, c: &Conv) -> Result<bool> {
        if c.q_params.is_some() || c.kernel_fmt != KernelFormat::OIHW {
            return Ok(false);
        }
        let spec = &c.pool_spec;
        let rank = spec.kernel_shape.len();
        // Weights are normally constants (initializers) and fold the per-channel affine
        // ops that follow. Weights or a bias computed in the graph (or fed as graph
        // inputs, as in the ONNX node tests) stay tensors: the f32 Conv kernel reads
        // its weights from the arena, and such a bias is added by a broadcasting `Add`.
        let kernel = self.konst_f32(node.inputs[1]);
        let ks = self.shape(node.inputs[1])?;
        if ks.len() != rank + 2 {
            return Ok(false);
        }
        let Some(sp) = self.spatial(node, spec)? else {
            return Ok(false);
        };
        let o = self.out(node);
        let (x, so) = (sp.x, sp.so.clone());
        let name = node.name.clone();
        let m = ks[0];
        enum Bias {
            Const(Vec<f32>),
            Tensor(OutletId),
        }
        let bias = match node.inputs.get(2) {
            Some(b) => match self.konst_f32(*b) {
                Some(v) if v.len() == m => Bias::Const(v),
                Some(v) if v.len() == 1 => Bias::Const(vec![v[0]; m]),
                Some(_) => return Ok(false),
                None => {
                    let bs = self.shape(*b)?;
                    if bs.iter().product::<usize>() != m || self.dtype(*b)? != DType::F32 {
                        return Ok(false);
                    }
                    Bias::Tensor(*b)
                }
            },
            None => Bias::Const(vec![0.0; m]),
        };
        let ch_axis = if sp.batched { 1 } else { 0 };
        let op = Op::Conv {
            window: sp.window,
            groups: c.group as u32,
            act: Activation::None,
            q: None,
        };
        let (Some(kernel), Bias::Const(bias)) = (kernel, &bias) else {
            if self.dtype(node.inputs[1])? != DType::F32 {
                return Ok(false);
            }
            let w = self.value(node.inputs[1])?;
            let mut y = self.g.add_node(&name, op, &[x, w], &so, DType::F32);
            if let Bias::Tensor(b) = bias {
                let b = self.value(b)?;
                let mut bs = vec![1; so.len() - 1];
                bs[0] = m;
                let b = self.reshape(b, &bs, &format!("{name}.bias"));
                let add = Op::Binary {
                    op: BinaryOp::Add,
                    act: Activation::None,
                    q: None,
                };
                let conv_name = format!("{name}.conv");
                self.g.tensors[y].name = conv_name;
                y = self.g.add_node(&name, add, &[y, b], &so, DType::F32);
            }
            let y = self.unbatch(y, &sp, &name);
            self.map.insert(o, y);
            return Ok(true);
        };
        let aff = self.fold_affine(o, &sp.tract_so, &[ch_axis], m);
        let per = kernel.len() / m.max(1);
        let mut w = kernel;
        for (r, s) in w.chunks_mut(per.max(1)).zip(&aff.scale) {
            r.iter_mut().for_each(|v| *v *= s);
        }
        let b: Vec<f32> = bias
            .iter()
            .zip(aff.scale.iter().zip(&aff.shift))
            .map(|(b, (s, t))| b * s + t)
            .collect();
        let wt = self
            .g
            .add_const(&format!("{name}.weight"), &ks, Data::F32(w));
        let mut inputs = vec![x, wt];
        if b.iter().any(|&v| v != 0.0) {
            inputs.push(
                self.g
                    .add_const(&format!("{name}.bias"), &[m], Data::F32(b)),
            );
        }
        let out_name = if aff.name.is_empty() {
            name.clone()
        } else {
            aff.name.clone()
        };
        let y = self.g.add_node(&out_name, op, &inputs, &so, DType::F32);
        let y = self.unbatch(y, &sp, &out_name);
        self.map.insert(aff.last, y);
        Ok(true)
    }

    fn pool(&mut self, node: &TypedNode, spec: &PoolSpec, avg: Option<bool>) -> Result<bool> {
        if spec.kernel_shape.len() == 3 {
            return self.pool3d(node, spec, avg);
        }
        let Some(sp) = self.spatial(node, spec)? else {
            return Ok(false);
        };
        let window = sp.window;
        let op = match avg {
            None => Op::MaxPool { window },
            Some(count_include_pad) => Op::AvgPool {
                window,
                count_include_pad,
            },
        };
        let name = node.name.clone();
        let y = self.g.add_node(&name, op, &[sp.x], &sp.so, DType::F32);
        let y = self.unbatch(y, &sp, &name);
        self.map.insert(self.out(node), y);
        Ok(true)
    }

    /// A 3-D pool as two 2-D pools: over (H, W) with depth folded into the channels,
    /// then over depth with the (H, W) positions as columns. The window is a box, so its
    /// maximum, sum and count of valid (or all) cells split per axis: the max of maxes,
    /// and the mean of means (each divided by its own axis' count), are the 3-D results.
    fn pool3d(&mut self, node: &TypedNode, spec: &PoolSpec, avg: Option<bool>) -> Result<bool> {
        if spec.data_format != DataFormat::NCHW || self.dtype(node.inputs[0])? != DType::F32 {
            return Ok(false);
        }
        let xs = self.shape(node.inputs[0])?;
        let so = self.shape(self.out(node))?;
        if xs.len() != 5 || so.len() != 5 {
            return Ok(false);
        }
        let pads = spec.computed_padding(&xs[2..]);
        let (k, st, dil) = (&spec.kernel_shape, spec.strides(), spec.dilations());
        let (n, c, d, h, w) = (xs[0], xs[1], xs[2], xs[3], xs[4]);
        let (od, oh, ow) = (so[2], so[3], so[4]);
        let window = |a: usize, b: Option<usize>| Window {
            kernel: [k[a] as u32, b.map_or(1, |b| k[b] as u32)],
            stride: [st[a] as u32, b.map_or(1, |b| st[b] as u32)],
            dilation: [dil[a] as u32, b.map_or(1, |b| dil[b] as u32)],
            pads: [
                pads[a].pad_before as u32,
                b.map_or(0, |b| pads[b].pad_before as u32),
                pads[a].pad_after as u32,
                b.map_or(0, |b| pads[b].pad_after as u32),
            ],
        };
        let op = |window: Window| match avg {
            None => Op::MaxPool { window },
            Some(count_include_pad) => Op::AvgPool {
                window,
                count_include_pad,
            },
        };
        let name = node.name.clone();
        let x = self.value(node.inputs[0])?;
        let x = self.reshape(x, &[n, c * d, h, w], &format!("{name}.planes"));
        let y = self.g.add_node(
            &format!("{name}.hw"),
            op(window(1, Some(2))),
            &[x],
            &[n, c * d, oh, ow],
            DType::F32,
        );
        let y = self.reshape(y, &[n * c, 1, d, oh * ow], &format!("{name}.columns"));
        let y = self.g.add_node(
            &format!("{name}.depth"),
            op(window(0, None)),
            &[y],
            &[n * c, 1, od, oh * ow],
            DType::F32,
        );
        let y = self.reshape(y, &so, &name);
        self.map.insert(self.out(node), y);
        Ok(true)
    }

    /// The NCHW view of a 1-D / 2-D conv or pool node: its input, with a leading batch
    /// dimension added by a Reshape for a CHW layout (and in the output shape), and its
    /// window. `None` for other layouts and ranks.
    fn spatial(&mut self, node: &TypedNode, spec: &PoolSpec) -> Result<Option<Spatial>> {
        let batched = match spec.data_format {
            DataFormat::NCHW => true,
            DataFormat::CHW => false,
            _ => return Ok(None),
        };
        let rank = spec.kernel_shape.len();
        if !(rank == 1 || rank == 2) {
            return Ok(None);
        }
        let x0 = self.value(node.inputs[0])?;
        let mut xs = self.g.tensors[x0].shape.clone();
        let tract_so = self.shape(self.out(node))?;
        let mut so = tract_so.clone();
        let x = if batched {
            x0
        } else {
            xs.insert(0, 1);
            so.insert(0, 1);
            self.reshape(x0, &xs, &format!("{}.batch", node.name))
        };
        let window = window_of(spec, &xs[2..])?;
        Ok(Some(Spatial {
            x,
            window,
            batched,
            so,
            tract_so,
        }))
    }

    /// `y` (computed on [`Lower::spatial`]'s batched view) in tract's output shape.
    fn unbatch(&mut self, y: TId, sp: &Spatial, name: &str) -> TId {
        if sp.batched {
            y
        } else {
            self.reshape(y, &sp.tract_so, &format!("{name}.unbatch"))
        }
    }
}
