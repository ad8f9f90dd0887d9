//! The engine convolutions of an int8 model: `ConvNhwc` / `DepthwiseNhwc` of the NHWC
//! pass ([`crate::ir::nhwc`]) written with int8 activations.
//!
//! The integers are the NCHW int8 `Conv`'s ([`super::Int8::weighted`]): weights per
//! output channel (`quant::quantize_weights`, or the exact scales of a pre-quantized
//! source), the bias in `x_scale · w_scale` steps, one `(multiplier, shift)` pair per
//! channel for `x_scale · w_scale / y_scale`. They go into the file packed by the
//! runtime's own packers (`pack_i8_conv_as` folds the input zero point into the bias,
//! `pack_i8_dwconv_as`), as one `U8` constant, with the compact panel headers of
//! format 1.4 (the wide ones of 1.1 for a conv whose `Σw` overflows i16). The activation (ReLU, ReLU6, clip) is the
//! output clamp. A fused residual `Add` keeps the quantization of the conv's own
//! output (the original graph's tensor, calibrated) as the Add's input `a`, so the op
//! computes exactly the reference `Conv` followed by the reference int8 `Add`.
//!
//! A first-layer conv that reads an f32 NCHW graph input with 1–4 channels through the
//! NHWC pass's `Transpose` (the f32 emitter's `ConvNchw` stems) is written as one
//! `ConvNchwI8` (format 1.6) instead of the input's `Quantize`, that `Transpose` and
//! the `ConvNhwc`: the same weights, quantizing the f32 image as it reads it.

use super::Int8;
use crate::error::{Error, Result};
use crate::ir::{Node, TId};
use crate::quant::{self, QParam};
use ferrite::format::types::{Activation, BinaryOp, Op, QBinary, QNhwc, Quant, Window};
use ferrite::kernels::engine;
use ferrite::DType;

/// What an engine conv is written with besides its input: the packed weights (a new
/// constant), the output clamp, the fused residual and the output's quantization.
pub(super) struct Parts {
    window: Window,
    act: Activation,
    depthwise: bool,
    packed: u32,
    act_min: i32,
    act_max: i32,
    residual: Option<(u32, QBinary)>,
    out: QParam,
}

impl Int8<'_, '_> {
    /// Writes engine conv `n` in int8.
    pub(super) fn engine(&mut self, n: &Node) -> Result<()> {
        let (xq, xp) = self.i8(n.inputs[0])?;
        let p = self.engine_parts(n, xp)?;
        let mut ins = vec![xq, p.packed];
        if let Some((r, _)) = p.residual {
            ins.push(r);
        }
        let (window, act) = (p.window, p.act);
        let q = Some(QNhwc {
            act_min: p.act_min,
            act_max: p.act_max,
            residual: p.residual.map(|(_, add)| add),
        });
        let op = if p.depthwise {
            Op::DepthwiseNhwc { window, act, q }
        } else {
            Op::ConvNhwc { window, act, q }
        };
        let out = self.new_i8(n.output, p.out)?;
        self.w.b.add_op(op, &ins, &[out])?;
        Ok(())
    }

    /// Writes the first-layer conv `n` (an `emit::nhwc::nchw_stems` conv, no residual)
    /// as `ConvNchwI8` over the f32 NCHW graph input `x` (format 1.6): it quantizes `x`
    /// with the quantization a `Quantize` op would give it, so the output bytes are
    /// those of `Quantize`, the NCHW → NHWC `Transpose` and the int8 `ConvNhwc`.
    pub(super) fn nchw_stem(&mut self, n: &Node, x: TId) -> Result<()> {
        let xp = self.out_q(x)?;
        let p = self.engine_parts(n, xp)?;
        if p.depthwise || p.residual.is_some() {
            return Err(Error::Other(format!(
                "internal: \"{}\" is no plain ConvNhwc",
                n.name
            )));
        }
        let op = Op::ConvNchwI8 {
            window: p.window,
            act: p.act,
            x_scale: xp.scale,
            x_zero_point: xp.zero_point,
            act_min: p.act_min,
            act_max: p.act_max,
        };
        let xi = self.w.f32(x)?;
        let out = self.new_i8(n.output, p.out)?;
        self.w.b.add_op(op, &[xi, p.packed], &[out])?;
        Ok(())
    }

    /// The packed weights and parameters of engine conv `n` reading an input quantized
    /// with `xp`.
    fn engine_parts(&mut self, n: &Node, xp: QParam) -> Result<Parts> {
        let g = self.w.g;
        let internal = |what: &str| Error::Other(format!("internal: {what} of \"{}\"", n.name));
        let (window, act, depthwise) = match &n.op {
            Op::ConvNhwc { window, act, .. } => (*window, *act, false),
            Op::DepthwiseNhwc { window, act, .. } => (*window, *act, true),
            _ => return Err(internal("engine op")),
        };
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
        // The compact headers (format 1.4) when they hold the layer (every `Σw` of a
        // conv in i16, always so up to 258 weights per channel), else the wide ones.
        let pack = |h: engine::I8Header| -> Result<Option<Vec<u8>>> {
            let len = if depthwise {
                engine::i8_dwconv_packed_len_as(h, m, kernel)
            } else {
                engine::i8_conv_packed_len_as(h, m, cg, kernel)
            }
            .ok_or_else(|| internal("size"))?;
            let mut p = vec![0u8; len];
            let r = if depthwise {
                engine::pack_i8_dwconv_as(h, &wq, Some(&bq), &rq, m, kernel, &mut p)
            } else {
                let zp = xp.zero_point;
                engine::pack_i8_conv_as(h, &wq, Some(&bq), &rq, zp, (m, cg), kernel, &mut p)
            };
            match r {
                Ok(()) => Ok(Some(p)),
                Err(ferrite::Error::Unsupported) if h == engine::I8Header::Compact => Ok(None),
                Err(e) => Err(bad(e)),
            }
        };
        let packed = match pack(engine::I8Header::Compact)? {
            Some(p) => p,
            None => pack(engine::I8Header::Wide)?.ok_or_else(|| internal("packing"))?,
        };
        let pw = self.w.b.add_const(
            &format!("{}.packed", wt.name),
            DType::U8,
            &[packed.len() as u32],
            &packed,
            Quant::None,
        )?;
        Ok(Parts {
            window,
            act,
            depthwise,
            packed: pw,
            act_min,
            act_max,
            residual,
            out: op_p,
        })
    }
}
