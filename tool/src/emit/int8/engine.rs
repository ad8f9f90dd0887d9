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

use super::Int8;
use crate::error::{Error, Result};
use crate::ir::Node;
use crate::quant;
use ferrite::format::types::{BinaryOp, Op, QNhwc, Quant};
use ferrite::kernels::engine;
use ferrite::DType;

impl Int8<'_, '_> {
    /// Writes engine conv `n` in int8.
    pub(super) fn engine(&mut self, n: &Node) -> Result<()> {
        let g = self.w.g;
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
