//! The engine convolutions of an int8 model: `ConvNhwc` / `DepthwiseNhwc` of the NHWC
//! pass ([`crate::ir::nhwc`]) written with int8 activations.
//!
//! The integers are the NCHW int8 `Conv`'s ([`super::Int8::weighted`]): weights per
//! output channel (`quant::quantize_weights`, or the exact scales of a pre-quantized
//! source), the bias in `x_scale · w_scale` steps, one `(multiplier, shift)` pair per
//! channel for `x_scale · w_scale / y_scale`. They go into the file packed by the
//! runtime's own packers (`pack_i8_conv` folds the input zero point into the bias rows,
//! `pack_i8_dwconv`), as one `U8` constant. The activation (ReLU, ReLU6, clip) is the
//! output clamp. A fused residual `Add` keeps the quantization of the conv's own
//! output (the original graph's tensor, calibrated) as the Add's input `a`, so the op
//! computes exactly the reference `Conv` followed by the reference int8 `Add`.
//!
//! A (near-)global average pool, which the pass writes as a depthwise conv with
//! weights `1 / taps`, is the int8 `AvgPool` instead (no weights in the file, the
//! pool's rounding division, the input's quantization): a window of the first `kh`
//! whole rows of an NHWC tensor `[N, H, W, C]` is its first `kh·W` pixels, so the
//! tensor seen as `[N, 1, H·W, C]` and pooled by a `kh·W × 1` window (stride `H·W`:
//! one output) gives the NHWC result `[N, 1, 1, C]` byte for byte.

use super::Int8;
use crate::error::{Error, Result};
use crate::ir::Node;
use crate::ir::{Data, Graph};
use crate::quant;
use ferrite::format::types::{Activation, BinaryOp, Op, QNhwc, Quant, Window};
use ferrite::kernels::engine;
use ferrite::DType;

impl Int8<'_, '_> {
    /// Writes engine conv `n` in int8.
    pub(super) fn engine(&mut self, n: &Node) -> Result<()> {
        let g = self.w.g;
        if let Some((taps, hw)) = global_mean(g, n) {
            return self.global_mean(n, taps, hw);
        }
        let internal = |what: &str| Error::Other(format!("internal: {what} of \"{}\"", n.name));
        let (window, act, depthwise) = match &n.op {
            Op::ConvNhwc { window, act, .. } => (*window, *act, false),
            Op::DepthwiseNhwc { window, act, .. } => (*window, *act, true),
            _ => return Err(internal("engine op")),
        };
        let (xq, xp) = self.i8(n.inputs[0])?;
        let wt = &g.tensors[n.inputs[1]];
        let &[m, cg, kh, kw] = wt.shape.as_slice() else {
            return Err(internal("conv weights"));
        };
        let kernel = [kh, kw];
        let wdata = wt.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
        let (wq, ws) = quant::exact_weights(&wdata, m, &g.weight_scales)
            .unwrap_or_else(|| quant::quantize_weights(&wdata, m));
        let bias = match n.inputs.get(2) {
            Some(&b) => g.tensors[b].data.as_ref().map(|d| d.to_f32()),
            None => None,
        }
        .ok_or_else(|| internal("bias"))?;
        let bq = quant::bias_i32(&bias, xp.scale, &ws);
        let op_p = self.out_q(n.output)?;
        // The conv's own output quantization and clamp, and the residual Add.
        let (conv_p, (act_min, act_max), residual) = match n.inputs.get(3) {
            None => (op_p, quant::act_range(&act, op_p), None),
            Some(&r) => {
                let &a = self
                    .residual_input
                    .get(&n.output)
                    .ok_or_else(|| internal("residual"))?;
                let ap = self.out_q(a)?;
                let (rq, rp) = self.i8(r)?;
                let add = quant::qbinary(BinaryOp::Add, ap, rp, op_p, &act)?;
                (ap, (-128, 127), Some((rq, add)))
            }
        };
        let real: Vec<f64> = ws
            .iter()
            .map(|&s| xp.scale as f64 * s as f64 / conv_p.scale as f64)
            .collect();
        let rq = quant::requant_table(&real);
        let bad = |e: ferrite::Error| Error::Other(format!("packing \"{}\": {e}", n.name));
        let packed = if depthwise {
            let len = engine::i8_dwconv_packed_len(m, kernel).ok_or_else(|| internal("size"))?;
            let mut p = vec![0u8; len];
            engine::pack_i8_dwconv(&wq, Some(&bq), &rq, m, kernel, &mut p).map_err(bad)?;
            p
        } else {
            let len = engine::i8_conv_packed_len(m, cg, kernel).ok_or_else(|| internal("size"))?;
            let mut p = vec![0u8; len];
            engine::pack_i8_conv(&wq, Some(&bq), &rq, xp.zero_point, m, cg, kernel, &mut p)
                .map_err(bad)?;
            p
        };
        let pw = self.w.b.add_const(
            &format!("{}.packed", wt.name),
            DType::U8,
            &[packed.len() as u32],
            &packed,
            Quant::None,
        )?;
        let mut ins = vec![xq, pw];
        if let Some((r, _)) = residual {
            ins.push(r);
        }
        let q = Some(QNhwc {
            act_min,
            act_max,
            residual: residual.map(|(_, add)| add),
        });
        let op = if depthwise {
            Op::DepthwiseNhwc { window, act, q }
        } else {
            Op::ConvNhwc { window, act, q }
        };
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(op, &ins, &[out])?;
        Ok(())
    }
}

impl Int8<'_, '_> {
    /// Mean `n` of the first `taps` of `hw` pixels as `Reshape` + int8 `AvgPool`.
    fn global_mean(&mut self, n: &Node, taps: usize, hw: usize) -> Result<()> {
        let g = self.w.g;
        let (xq, xp) = self.i8(n.inputs[0])?;
        let ys = &g.tensors[n.output].shape;
        let flat = [ys[0] as u32, 1, hw as u32, ys[3] as u32];
        let name = format!("{}.flat", g.tensors[n.inputs[0]].name);
        let xf = self
            .w
            .b
            .add_tensor(&name, DType::I8, &flat, super::per_tensor(xp))?;
        self.w.b.add_op(Op::Reshape, &[xq], &[xf])?;
        let pool = Op::AvgPool {
            window: Window {
                kernel: [taps as u32, 1],
                stride: [hw as u32, 1],
                dilation: [1, 1],
                pads: [0; 4],
            },
            count_include_pad: false,
        };
        let out = self.new_i8(n.output, xp)?;
        self.w.b.add_op(pool, &[xf], &[out])?;
        Ok(())
    }
}

/// `Some((kh·W, H·W))` when `n` is a depthwise conv whose one output pixel averages
/// the first `kh` whole rows of its `H × W` input: unpadded, undilated, every weight
/// `1 / (kh·W)`, zero bias, no activation or residual.
fn global_mean(g: &Graph, n: &Node) -> Option<(usize, usize)> {
    let Op::DepthwiseNhwc {
        window,
        act: Activation::None,
        ..
    } = &n.op
    else {
        return None;
    };
    let (xs, ys) = (&g.tensors[n.inputs[0]].shape, &g.tensors[n.output].shape);
    let (&[_, h, w, _], &[_, 1, 1, _]) = (xs.as_slice(), ys.as_slice()) else {
        return None;
    };
    let kh = window.kernel[0] as usize;
    let rows = kh <= h
        && window.kernel[1] as usize == w
        && window.pads == [0; 4]
        && window.dilation == [1, 1];
    let consts = |t: usize| match g.tensors.get(t).and_then(|t| t.data.as_ref()) {
        Some(Data::F32(v)) => Some(v.clone()),
        _ => None,
    };
    let (wv, bv) = (consts(*n.inputs.get(1)?)?, consts(*n.inputs.get(2)?)?);
    let mean = 1.0 / (kh * w) as f32;
    let exact = wv.iter().all(|&v| v == mean) && bv.iter().all(|&v| v == 0.0);
    (rows && exact && n.inputs.len() == 3).then_some((kh * w, h * w))
}
