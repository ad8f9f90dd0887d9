//! Scaled dot-product attention. tract parses ONNX `Attention` (opset 23/24) into
//! reshapes and transposes of Q, K and V to `[B, heads, S, head_dim]`, a `Concat` with
//! the past keys and values, an additive float mask (the causal one as a constant
//! `-inf` upper triangle) and one `Sdpa` node, which stays whole in the decluttered
//! graph. The `Sdpa` node becomes ferrite ops, as ONNX defines it:
//!
//! | ONNX op | decluttered tract op | ferrite ops |
//! |---|---|---|
//! | Attention (3-D and 4-D, scale, float mask, causal, past/present keys and values, grouped-query heads, V head size ≠ Q's) | `Sdpa` | `Transpose` (Kᵀ), `MatMul` (Q·Kᵀ), `Binary Mul` (scale), `Binary Add` (mask), `Softmax` (last axis), `MatMul` (·V); grouped-query heads through `Reshape`s to `[B, kv_heads, groups, S, ·]` |
//!
//! tract refuses `softcap`, `qk_matmul_output_mode` ≠ 0 and `nonpad_kv_seqlen`
//! before this point; boolean masks reach ferrite as comparisons it does not run.

use super::lower::{tensor_f32, Lower, Outcome};
use crate::error::Result;
use crate::ir::Data;
use ferrite::format::types::{Activation, BinaryOp, Op};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_transformers::ops::sdpa::Sdpa;

/// `Sdpa`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(op) = node.op_as::<Sdpa>() else {
        return Ok(Outcome::NotMine);
    };
    l.sdpa(node, op).map(Outcome::from)
}

fn binary(op: BinaryOp) -> Op {
    Op::Binary {
        op,
        act: Activation::None,
        q: None,
    }
}

impl Lower<'_> {
    fn sdpa(&mut self, node: &TypedNode, op: &Sdpa) -> Result<bool> {
        // A causal flag reaches Sdpa only for symbolic sequence lengths (the ONNX
        // parser writes a constant mask otherwise); ferrite shapes are static.
        if op.is_causal || !(3..=4).contains(&node.inputs.len()) {
            return Ok(false);
        }
        for i in &node.inputs {
            if self.dtype(*i)? != DType::F32 {
                return Ok(false);
            }
        }
        let scale = match &op.scale {
            Some(t) => match tensor_f32(t)?.as_slice() {
                [s] => Some(*s),
                _ => return Ok(false),
            },
            None => None,
        };
        let (qs, ks, vs) = (
            self.shape(node.inputs[0])?,
            self.shape(node.inputs[1])?,
            self.shape(node.inputs[2])?,
        );
        // 3-D operands are one head: [B, S, D] as [B, 1, S, D].
        let rank = qs.len();
        let four = |s: &[usize]| -> Vec<usize> {
            if s.len() == 3 {
                vec![s[0], 1, s[1], s[2]]
            } else {
                s.to_vec()
            }
        };
        let (qs, ks, vs) = (four(&qs), four(&ks), four(&vs));
        if !(rank == 3 || rank == 4)
            || ks.len() != 4
            || vs.len() != 4
            || qs[3] != ks[3]
            || ks[2] != vs[2]
            || ks[1] != vs[1]
            || ks[1] == 0
            || qs[1] % ks[1] != 0
        {
            return Ok(false);
        }
        let (b, hq, sq, d) = (qs[0], qs[1], qs[2], qs[3]);
        let (hk, sk, dv) = (ks[1], ks[2], vs[3]);
        let groups = hq / hk;
        let scale = scale.unwrap_or_else(|| (d as f32).sqrt().recip());
        let name = node.name.clone();
        let q = self.value(node.inputs[0])?;
        let k = self.value(node.inputs[1])?;
        let v = self.value(node.inputs[2])?;
        // Q as [B, Hk, G, Sq, D]; K and V as [B, Hk, 1, S, ·], broadcast over G.
        let q = self.reshape(q, &[b, hk, groups, sq, d], &format!("{name}.q"));
        let k = self.reshape(k, &[ks[0], hk, 1, sk, d], &format!("{name}.k"));
        let v = self.reshape(v, &[vs[0], hk, 1, sk, dv], &format!("{name}.v"));
        let kt = self.transpose(k, &[0, 1, 2, 4, 3], &format!("{name}.k_t"))?;
        let scores5 = [b, hk, groups, sq, sk];
        let s = self.g.add_node(
            &format!("{name}.scores"),
            Op::MatMul,
            &[q, kt],
            &scores5,
            DType::F32,
        );
        let scores4 = [b, hq, sq, sk];
        let s = self.reshape(s, &scores4, &format!("{name}.scores_heads"));
        let c = self
            .g
            .add_const(&format!("{name}.scale"), &[1], Data::F32(vec![scale]));
        let mut s = self.g.add_node(
            &format!("{name}.scaled"),
            binary(BinaryOp::Mul),
            &[s, c],
            &scores4,
            DType::F32,
        );
        if let Some(&m) = node.inputs.get(3) {
            let ms = self.shape(m)?;
            let ok = ms.len() <= 4
                && ms
                    .iter()
                    .rev()
                    .zip(scores4.iter().rev())
                    .all(|(&a, &b)| a == b || a == 1);
            if !ok {
                return Ok(false);
            }
            let m = self.value(m)?;
            s = self.g.add_node(
                &format!("{name}.masked"),
                binary(BinaryOp::Add),
                &[s, m],
                &scores4,
                DType::F32,
            );
        }
        let w = self.g.add_node(
            &format!("{name}.weights"),
            Op::Softmax {
                axis: 3,
                log: false,
            },
            &[s],
            &scores4,
            DType::F32,
        );
        let w = self.reshape(w, &scores5, &format!("{name}.weights_groups"));
        let y = self.g.add_node(
            &format!("{name}.out"),
            Op::MatMul,
            &[w, v],
            &[b, hk, groups, sq, dv],
            DType::F32,
        );
        self.emit(node, Op::Reshape, &[y])?;
        Ok(true)
    }
}
