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
