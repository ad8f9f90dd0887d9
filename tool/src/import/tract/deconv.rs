//! Transposed convolution as a convolution: tract parses ONNX `ConvTranspose` into a
//! `Deconv` node whose kernel is already regrouped to the convolution layout
//! `[out_channels, in_channels / groups, k…]`. Along each spatial axis, output `o`
//! sums `x[i] · w[k]` over `o = i·stride + k·dilation − pad_before`; that is a stride-1
//! convolution of `x` with `stride − 1` zeros inserted between its elements, padded by
//! `(kernel − 1)·dilation − pad_before` in front (and what the output length needs at
//! the end), with the kernel flipped along every spatial axis. Every term of the sum
//! is the same product; only zeros are added.
//!
//! | ONNX op | decluttered tract op | ferrite ops |
//! |---|---|---|
//! | ConvTranspose 1-D/2-D (strides, pads, auto_pad, dilations, output_padding, output_shape, group) | `Deconv` | zero insertion (`Reshape`, `Pad`, `Reshape`, `Slice` when the padding crops), `Conv` with the flipped kernel (a constant; a kernel computed in the graph: `Slice` with step −1), bias as the Conv's or a broadcasting `Add` |
//! | ConvTranspose 3-D (group 1, constant bias) | `Deconv` | the 2-D form above with the depth folded into the channels (a kernel computed in the graph: `MatMul` by a 0/1 tap selection, `Reshape`, `Transpose`) |
//!
//! 3-D: input depth `i` and output depth `o` become channels: `x [N, C, D, H, W]` is
//! read as `[N, C·D, H, W]`, the output `[N, M·D', H', W']` as `[N, M, D', H', W']`,
//! and the kernel entry of channels `(m, o)`, `(c, i)` is `w[m, c, k]` where
//! `o = i·stride + k·dilation − pad_before` along the depth, else 0 (the zeros add
//! nothing; the kernel grows by `D·D' / K`).

use super::lower::{Lower, Outcome};
use crate::error::Result;
use crate::ir::{Data, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, Window};
use ferrite::DType;
use heapless::Vec as HVec;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::conv::KernelFormat;
use tract_onnx::tract_core::ops::cnn::Deconv;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// `Deconv`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(d) = node.op_as::<Deconv>() else {
        return Ok(Outcome::NotMine);
    };
    l.deconv(node, d).map(Outcome::from)
}

/// `w [M, Cg, kh, kw]` with both spatial axes reversed.
fn flip(w: &[f32], kh: usize, kw: usize) -> Vec<f32> {
    let plane = kh * kw;
    let mut out = Vec::with_capacity(w.len());
    for m in w.chunks(plane) {
        for i in (0..kh).rev() {
            for j in (0..kw).rev() {
                out.push(m[i * kw + j]);
            }
        }
    }
    out
}

/// The depth axis of a 3-D transposed convolution.
struct Depth {
    d_in: usize,
    d_out: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad_before: usize,
}

impl Depth {
    /// The kernel tap joining input depth `i` to output depth `o`, if any.
    fn tap(&self, o: usize, i: usize) -> Option<usize> {
        let r = (o + self.pad_before).checked_sub(i * self.stride)?;
        (r % self.dilation == 0 && r / self.dilation < self.k).then_some(r / self.dilation)
    }

    /// `[D'·D, K]`: 1 where [`Depth::tap`] of `(o, i)` is `k`, else 0.
    fn selection(&self) -> Vec<f32> {
        let mut s = vec![0f32; self.d_out * self.d_in * self.k];
        for o in 0..self.d_out {
            for i in 0..self.d_in {
                if let Some(k) = self.tap(o, i) {
                    s[(o * self.d_in + i) * self.k + k] = 1.0;
                }
            }
        }
        s
    }

    /// The 2-D kernel `[M·D', C·D, kh·kw]` of the folded convolution from `w
    /// [M, C, K, kh·kw]` (conv layout, not flipped): channels `(m, o)`, `(c, i)` hold
    /// `w[m, c, k]` where `o = i·stride + k·dilation − pad_before`, else zeros.
    fn kernel(&self, w: &[f32], m: usize, c: usize, plane: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * self.d_out * c * self.d_in * plane];
        for mo in 0..m {
            for o in 0..self.d_out {
                for ci in 0..c {
                    for i in 0..self.d_in {
                        let Some(k) = self.tap(o, i) else {
                            continue;
                        };
                        let src = ((mo * c + ci) * self.k + k) * plane;
                        let dst =
                            ((mo * self.d_out + o) * c * self.d_in + ci * self.d_in + i) * plane;
                        out[dst..dst + plane].copy_from_slice(&w[src..src + plane]);
                    }
                }
            }
        }
        out
    }
}

impl Lower<'_> {
    /// [`Depth::kernel`] of a kernel computed in the graph (`w`, `[M, C, K, kh, kw]`):
    /// `selection [D'·D, K] × w [M·C, K, kh·kw]` (each entry one tap times 1 plus
    /// zeros), then `[M, C, D', D, kh, kw]` transposed to `[M, D', C, D, kh, kw]`.
    fn fold_kernel(&mut self, w: OutletId, ks: &[usize], depth: &Depth, name: &str) -> Result<TId> {
        let (m, c, k, plane) = (ks[0], ks[1], ks[2], ks[3] * ks[4]);
        let pairs = depth.d_out * depth.d_in;
        let w = self.value(w)?;
        let w = self.reshape(w, &[m * c, k, plane], &format!("{name}.taps"));
        let sel = self.g.add_const(
            &format!("{name}.selection"),
            &[pairs, k],
            Data::F32(depth.selection()),
        );
        let t = self.g.add_node(
            &format!("{name}.depth_kernel"),
            Op::MatMul,
            &[sel, w],
            &[m * c, pairs, plane],
            DType::F32,
        );
        let t = self.reshape(
            t,
            &[m, c, depth.d_out, depth.d_in, ks[3], ks[4]],
            &format!("{name}.depth_split"),
        );
        self.transpose(t, &[0, 2, 1, 3, 4, 5], &format!("{name}.depth_kernel_t"))
    }

    fn deconv(&mut self, node: &TypedNode, d: &Deconv) -> Result<bool> {
        let spec = &d.pool_spec;
        let rank = spec.kernel_shape.len();
        if d.kernel_format != KernelFormat::OIHW
            || spec.data_format != DataFormat::NCHW
            || !(1..=3).contains(&rank)
            || node.inputs.len() != 3
            || self.dtype(node.inputs[0])? != DType::F32
            || self.dtype(node.inputs[1])? != DType::F32
        {
            return Ok(false);
        }
        let name = node.name.clone();
        let xs0 = self.shape(node.inputs[0])?;
        let ks0 = self.shape(node.inputs[1])?;
        let so0 = self.shape(self.out(node))?;
        if xs0.len() != rank + 2 || ks0.len() != rank + 2 || so0.len() != rank + 2 {
            return Ok(false);
        }
        // 1-D as 2-D with height 1; 3-D as 2-D with the depth in the channels.
        let lift = |s: &[usize]| -> Vec<usize> {
            match rank {
                1 => vec![s[0], s[1], 1, s[2]],
                3 => vec![s[0], s[1] * s[2], s[3], s[4]],
                _ => s.to_vec(),
            }
        };
        let (xs, so) = (lift(&xs0), lift(&so0));
        let ks = match rank {
            3 => vec![so[1], xs[1], ks0[3], ks0[4]],
            _ => lift(&ks0),
        };
        let spatial = spec
            .padding
            .compute_for_deconv(
                &xs0[2..],
                &spec.kernel_shape,
                &spec.dilations(),
                &spec.strides(),
                &d.adjustments,
            )
            .map_err(super::lower::imp)?;
        let lift2 = |v: Vec<usize>, one: usize| -> Vec<usize> {
            match rank {
                1 => vec![one, v[0]],
                3 => v[1..].to_vec(),
                _ => v,
            }
        };
        // The depth folded into the channels: the kernel and bias, constants.
        let mut wdyn = None;
        let (mut wconst, mut bconst) = (
            self.konst_f32(node.inputs[1]),
            self.konst_f32(node.inputs[2]),
        );
        if rank == 3 {
            let Some(b) = &bconst else {
                return Ok(false);
            };
            if d.group != 1 || ![1, ks0[0]].contains(&b.len()) {
                return Ok(false);
            }
            let depth = Depth {
                d_in: xs0[2],
                d_out: so0[2],
                k: ks0[2],
                stride: spec.strides()[0],
                dilation: spec.dilations()[0],
                pad_before: spatial[0].pad_before,
            };
            match &wconst {
                Some(w) => wconst = Some(depth.kernel(w, ks0[0], ks0[1], ks0[3] * ks0[4])),
                None => wdyn = Some(self.fold_kernel(node.inputs[1], &ks0, &depth, &name)?),
            }
            bconst = Some(
                (0..ks0[0])
                    .flat_map(|m| std::iter::repeat_n(b[m.min(b.len() - 1)], so0[2]))
                    .collect(),
            );
        }
        let strides = lift2(spec.strides().to_vec(), 1);
        let dil = lift2(spec.dilations().to_vec(), 1);
        let pad_before = lift2(spatial.iter().map(|c| c.pad_before).collect(), 0);
        let (n, c, m) = (xs[0], xs[1], so[1]);
        let (kh, kw) = (ks[2], ks[3]);
        if ks[0] != m || d.group == 0 || c != ks[1] * d.group {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        let x = self.reshape(x, &xs, &format!("{name}.x"));
        // Zero insertion: [N, C, H, W] -> [N, C, H, 1, W, 1] -> pad the unit axes to the
        // strides -> [N, C, H·sh, W·sw] (with sh - 1 / sw - 1 trailing zeros).
        let (h, w) = (xs[2], xs[3]);
        let (sh, sw) = (strides[0], strides[1]);
        let mut z = x;
        if sh > 1 || sw > 1 {
            let t = self.reshape(z, &[n, c, h, 1, w, 1], &format!("{name}.split"));
            let mut pads: HVec<u32, 16> = HVec::new();
            for p in [0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1] {
                let _ = pads.push(p as u32);
            }
            let t = self.g.add_node(
                &format!("{name}.zeros"),
                Op::Pad { pads, value: 0.0 },
                &[t],
                &[n, c, h, sh, w, sw],
                DType::F32,
            );
            z = self.reshape(t, &[n, c, h * sh, w * sw], &format!("{name}.upsampled"));
        }
        // Per axis: the conv's padding, and the part of the zero-inserted input it reads.
        let avail = [h * sh, w * sw];
        let out_len = [so[2], so[3]];
        let k = [kh, kw];
        let (mut before, mut after, mut start, mut len) = ([0; 2], [0; 2], [0; 2], [0; 2]);
        for a in 0..2 {
            let reach = (k[a] - 1) * dil[a];
            let pb = reach as i64 - pad_before[a] as i64;
            start[a] = (-pb).max(0) as usize;
            before[a] = pb.max(0) as usize;
            // A stride-1 conv gives len + before + after - reach outputs.
            let need = (out_len[a] + reach) as i64 - before[a] as i64;
            let have = avail[a] as i64 - start[a] as i64;
            if need <= 0 || have <= 0 {
                return Ok(false);
            }
            len[a] = need.min(have) as usize;
            after[a] = (need - have).max(0) as usize;
        }
        if start != [0, 0] || len != avail {
            let starts = HVec::from_slice(&[0, 0, start[0] as i32, start[1] as i32])
                .map_err(|_| crate::error::Error::Other("rank".into()))?;
            let steps = HVec::from_slice(&[1, 1, 1, 1])
                .map_err(|_| crate::error::Error::Other("rank".into()))?;
            z = self.g.add_node(
                &format!("{name}.crop"),
                Op::Slice { starts, steps },
                &[z],
                &[n, c, len[0], len[1]],
                DType::F32,
            );
        }
        // The flipped kernel.
        let wt = match wconst {
            Some(wv) => {
                self.g
                    .add_const(&format!("{name}.weight"), &ks, Data::F32(flip(&wv, kh, kw)))
            }
            None => {
                let wv = match wdyn {
                    Some(t) => t,
                    None => self.value(node.inputs[1])?,
                };
                let wv = self.reshape(wv, &ks, &format!("{name}.kernel"));
                let starts = HVec::from_slice(&[0, 0, kh as i32 - 1, kw as i32 - 1])
                    .map_err(|_| crate::error::Error::Other("rank".into()))?;
                let steps = HVec::from_slice(&[1, 1, -1, -1])
                    .map_err(|_| crate::error::Error::Other("rank".into()))?;
                self.g.add_node(
                    &format!("{name}.flipped"),
                    Op::Slice { starts, steps },
                    &[wv],
                    &ks,
                    DType::F32,
                )
            }
        };
        let op = Op::Conv {
            window: Window {
                kernel: [kh as u32, kw as u32],
                stride: [1, 1],
                dilation: [dil[0] as u32, dil[1] as u32],
                pads: [
                    before[0] as u32,
                    before[1] as u32,
                    after[0] as u32,
                    after[1] as u32,
                ],
            },
            groups: d.group as u32,
            act: Activation::None,
            q: None,
        };
        let mut inputs: Vec<TId> = vec![z, wt];
        let bias = node.inputs[2];
        let konst_bias = bconst;
        if let Some(b) = &konst_bias {
            let b = match b.len() {
                1 => vec![b[0]; m],
                l if l == m => b.clone(),
                _ => return Ok(false),
            };
            if b.iter().any(|&v| v != 0.0) {
                inputs.push(
                    self.g
                        .add_const(&format!("{name}.bias"), &[m], Data::F32(b)),
                );
            }
        } else if self.dtype(bias)? != DType::F32
            || self.shape(bias)?.iter().product::<usize>() != m
        {
            return Ok(false);
        }
        let mut y = self
            .g
            .add_node(&format!("{name}.conv"), op, &inputs, &so, DType::F32);
        if konst_bias.is_none() {
            let b = self.value(bias)?;
            let b = self.reshape(b, &[m, 1, 1], &format!("{name}.bias"));
            let add = Op::Binary {
                op: BinaryOp::Add,
                act: Activation::None,
                q: None,
            };
            y = self
                .g
                .add_node(&format!("{name}.biased"), add, &[y, b], &so, DType::F32);
        }
        let y = self.reshape(y, &so0, &format!("{name}.unlift"));
        self.map.insert(self.out(node), y);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::Depth;

    /// Depth 2 → 3 with stride 2, kernel 3, pad 1: output `o` reads input `i` through
    /// tap `o + 1 − 2i` (by hand: (0,0)→1, (1,0)→2, (1,1)→0, (2,1)→1; the rest none).
    #[test]
    fn depth_taps_fold_into_channels() {
        let d = Depth {
            d_in: 2,
            d_out: 3,
            k: 3,
            stride: 2,
            dilation: 1,
            pad_before: 1,
        };
        let taps: Vec<Option<usize>> = (0..3)
            .flat_map(|o| (0..2).map(move |i| (o, i)))
            .map(|(o, i)| d.tap(o, i))
            .collect();
        assert_eq!(taps, [Some(1), None, Some(2), Some(0), None, Some(1)]);
        // One output and input channel, 1×1 planes: kernel [3, 2] of w = [10, 20, 30].
        assert_eq!(
            d.kernel(&[10.0, 20.0, 30.0], 1, 1, 1),
            [20.0, 0.0, 30.0, 10.0, 0.0, 20.0]
        );
        let mut sel = vec![0.0f32; 18];
        for (pair, k) in [(0, 1), (2, 2), (3, 0), (5, 1)] {
            sel[pair * 3 + k] = 1.0;
        }
        assert_eq!(d.selection(), sel);
        // Dilation 2: only even distances are taps.
        let d = Depth {
            dilation: 2,
            pad_before: 0,
            stride: 1,
            ..d
        };
        assert_eq!(d.tap(2, 0), Some(1));
        assert_eq!(d.tap(1, 0), None);
        assert_eq!(d.tap(0, 1), None);
    }
}
