//! Extra lowerings from decluttered tract ops to ferrite ops, added for the ONNX
//! conformance suite (`tests/conformance`): LRN, static slices (tract `Slice` and
//! `Downsample`, which ONNX Slice with steps and strided convolutions declutter into),
//! Gather with constant indices forming an arithmetic progression, and Softmax over
//! several contiguous axes (opset < 13 Softmax on a 4-D tensor).
//!
//! A child module of [`super::tract`] (hooked at the top of `Lower::node`): each
//! function returns `Ok(None)` when it does not apply, so the regular lowering runs.

use super::*;
use tract_onnx::tract_core::ops::array::{Gather, Slice};
use tract_onnx::tract_core::ops::Downsample;

type Starts = heapless::Vec<i32, { ferrite::format::types::MAX_RANK }>;

fn rank_err() -> Error {
    Error::Other("rank too large".into())
}

impl<'m> Lower<'m> {
    /// Lowers `node` if it is one of the ops of this module (`Ok(Some(lowered))`).
    pub(super) fn extra_node(&mut self, node: &TypedNode) -> Result<Option<bool>> {
        if let Some(l) = node.op_as::<tract_onnx_opl::lrn::Lrn>() {
            let x = self.value(node.inputs[0])?;
            if self.g.tensors[x].dtype != DType::F32 || self.g.tensors[x].shape.len() < 2 {
                return Ok(Some(false));
            }
            let op = Op::Lrn {
                size: l.size as u32,
                alpha: l.alpha,
                beta: l.beta,
                bias: l.bias,
            };
            self.emit(node, op, &[x])?;
            return Ok(Some(true));
        }
        if let Some(s) = node.op_as::<Slice>() {
            let (Ok(start), Ok(end)) = (s.start.to_usize(), s.end.to_usize()) else {
                return Ok(Some(false));
            };
            let x = self.value(node.inputs[0])?;
            let _ = end;
            return self.slice_axis(node, x, s.axis, start as i64, 1).map(Some);
        }
        if let Some(d) = node.op_as::<Downsample>() {
            let x = self.value(node.inputs[0])?;
            let n = self.g.tensors[x].shape.get(d.axis).copied().unwrap_or(0) as i64;
            let start = if d.stride > 0 { d.modulo as i64 } else { n - 1 };
            return self
                .slice_axis(node, x, d.axis, start, d.stride as i64)
                .map(Some);
        }
        if let Some(g) = node.op_as::<Gather>() {
            return self.gather(node, g.axis).map(Some);
        }
        if let Some(s) = node.op_as::<Softmax>() {
            if s.axes.len() > 1 && s.quant_output_dt.is_none() {
                return self.softmax_axes(node, s).map(Some);
            }
        }
        Ok(None)
    }

    /// `Op::Slice` along one axis (start, step), the output shape from the node.
    fn slice_axis(
        &mut self,
        node: &TypedNode,
        x: TId,
        axis: usize,
        start: i64,
        step: i64,
    ) -> Result<bool> {
        let r = self.g.tensors[x].shape.len();
        if axis >= r || step == 0 {
            return Ok(false);
        }
        let (mut starts, mut steps) = (Starts::new(), Starts::new());
        for d in 0..r {
            let (b, s) = if d == axis { (start, step) } else { (0, 1) };
            starts.push(b as i32).map_err(|_| rank_err())?;
            steps.push(s as i32).map_err(|_| rank_err())?;
        }
        self.emit(node, Op::Slice { starts, steps }, &[x])?;
        Ok(true)
    }

    /// Gather of a non-constant tensor by constant indices in arithmetic progression:
    /// a strided slice, then a reshape to the gathered shape.
    fn gather(&mut self, node: &TypedNode, axis: usize) -> Result<bool> {
        let Some(idx) = self.konst(node.inputs[1]) else {
            return Ok(false);
        };
        if self.konst(node.inputs[0]).is_some() {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let Some(&n) = xs.get(axis) else {
            return Ok(false);
        };
        let idx: Vec<i64> = tensor_i64(&idx)?
            .into_iter()
            .map(|i| if i < 0 { i + n as i64 } else { i })
            .collect();
        if idx.is_empty() || idx.iter().any(|&i| i < 0 || i >= n as i64) {
            return Ok(false);
        }
        let step = if idx.len() > 1 { idx[1] - idx[0] } else { 1 };
        if step == 0 || idx.windows(2).any(|w| w[1] - w[0] != step) {
            return Ok(false);
        }
        let mut sliced = xs.clone();
        sliced[axis] = idx.len();
        let (mut starts, mut steps) = (Starts::new(), Starts::new());
        for d in 0..xs.len() {
            let (b, s) = if d == axis { (idx[0], step) } else { (0, 1) };
            starts.push(b as i32).map_err(|_| rank_err())?;
            steps.push(s as i32).map_err(|_| rank_err())?;
        }
        let dt = self.g.tensors[x].dtype;
        let out_shape = self.shape(self.out(node))?;
        if sliced == out_shape {
            self.emit(node, Op::Slice { starts, steps }, &[x])?;
        } else {
            let t = self.g.add_node(
                &format!("{}.slice", node.name),
                Op::Slice { starts, steps },
                &[x],
                &sliced,
                dt,
            );
            self.emit(node, Op::Reshape, &[t])?;
        }
        Ok(true)
    }

    /// Softmax over contiguous axes `a..=b`: reshape them into one axis, softmax, reshape back.
    fn softmax_axes(&mut self, node: &TypedNode, s: &Softmax) -> Result<bool> {
        let mut axes: Vec<usize> = s.axes.iter().copied().collect();
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[1] != w[0] + 1) {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let (a, b) = (axes[0], axes[axes.len() - 1]);
        if b >= xs.len() {
            return Ok(false);
        }
        let mut flat: Vec<usize> = xs[..a].to_vec();
        flat.push(xs[a..=b].iter().product());
        flat.extend_from_slice(&xs[b + 1..]);
        let t = self.reshape(x, &flat, &format!("{}.flatten", node.name));
        let log = s.kind == SoftmaxKind::LogSoftmax;
        let y = self.g.add_node(
            &format!("{}.softmax", node.name),
            Op::Softmax { axis: a as u8, log },
            &[t],
            &flat,
            DType::F32,
        );
        self.emit(node, Op::Reshape, &[y])?;
        Ok(true)
    }
}
