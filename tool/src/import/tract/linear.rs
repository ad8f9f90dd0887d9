//! Matrix products. tract declutters Gemm and MatMul into `EinSum`:
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | Gemm, MatMul with a constant operand | `EinSum` (+ `Add`) | `FullyConnected` (+ bias, Transpose/Reshape as needed) |
//! | MatMul of two activations, batched (batch axes broadcast) | `EinSum` | `MatMul` |
//! | Add/Sub/Mul/Div by per-output-channel constants after it (biases, folded BatchNorm) | `Mul`/`Add` | folded into the weights and bias |

use super::lower::{Lower, Outcome};
use crate::error::Result;
use crate::ir::{permute, Data, TId};
use ferrite::format::types::{Activation, Op};
use ferrite::DType;
use std::collections::HashMap;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

/// `EinSum` with two operands in f32.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    match node.op_as::<EinSum>() {
        Some(es) => l.einsum(node, es).map(Outcome::from),
        None => Ok(Outcome::NotMine),
    }
}

impl Lower<'_> {
    fn einsum(&mut self, node: &TypedNode, es: &EinSum) -> Result<bool> {
        if node.inputs.len() != 2 || es.q_params.is_some() || es.operating_dt != f32::datum_type() {
            return Ok(false);
        }
        let (ins, outs) = es.axes.to_strs();
        let labels: Vec<Vec<char>> = ins.iter().map(|s| s.chars().collect()).collect();
        let ol: Vec<char> = outs[0].chars().collect();
        let o = self.out(node);
        let so = self.shape(o)?;
        let s0 = self.shape(node.inputs[0])?;
        let s1 = self.shape(node.inputs[1])?;
        let mut size: HashMap<char, usize> = HashMap::new();
        for (ls, ss) in [(&labels[0], &s0), (&labels[1], &s1), (&ol, &so)] {
            for (l, s) in ls.iter().zip(ss.iter()) {
                size.insert(*l, *s);
            }
        }
        let c0 = self.konst(node.inputs[0]).is_some();
        let c1 = self.konst(node.inputs[1]).is_some();
        let (xi, wi) = if c1 || !c0 { (0, 1) } else { (1, 0) };
        let w_const = self.konst(node.inputs[wi]).is_some();
        let (xl, wl) = (&labels[xi], &labels[wi]);
        let (xs, ws) = if xi == 0 { (&s0, &s1) } else { (&s1, &s0) };
        let nt = |l: &char| size[l] > 1;
        let mut m_l = Vec::new();
        let mut k_l = Vec::new();
        let mut b_l = Vec::new();
        for l in xl.iter().filter(|l| nt(l)) {
            match (wl.contains(l), ol.contains(l)) {
                (true, false) => k_l.push(*l),
                (false, true) => m_l.push(*l),
                (true, true) => b_l.push(*l),
                (false, false) => return Ok(false),
            }
        }
        let mut n_l = Vec::new();
        for l in ol.iter().filter(|l| nt(l)) {
            if wl.contains(l) && !xl.contains(l) {
                n_l.push(*l);
            } else if !xl.contains(l) {
                return Ok(false);
            }
        }
        if wl
            .iter()
            .any(|l| nt(l) && !xl.contains(l) && !ol.contains(l))
        {
            return Ok(false);
        }
        // b_l in output order.
        b_l.sort_by_key(|l| ol.iter().position(|x| x == l));
        let prod = |ls: &[char]| ls.iter().map(|l| size[l]).product::<usize>();
        let (mm, kk, nn, bb) = (prod(&m_l), prod(&k_l), prod(&n_l), prod(&b_l));
        let x = self.value(node.inputs[xi])?;
        let name = node.name.clone();
        let (result, result_labels, result_sizes) = if w_const && b_l.is_empty() {
            // FullyConnected: x [M..., K], w [N, K].
            let mut want_x = m_l.clone();
            want_x.extend(&k_l);
            let x_lead: Vec<usize> = m_l.iter().map(|l| size[l]).collect();
            let x2 = if self.g.tensors[x].shape.last() == Some(&kk)
                && xl
                    .iter()
                    .zip(xs.iter())
                    .filter(|(_, &s)| s > 1)
                    .map(|(l, _)| *l)
                    .collect::<Vec<_>>()
                    == want_x
                && k_l.len() <= 1
            {
                x
            } else {
                let mut shape = x_lead.clone();
                shape.push(kk);
                self.arrange(x, xl, xs, &want_x, &shape, &format!("{name}.x"))?
            };
            let wdata = self.konst_f32(node.inputs[wi]).unwrap_or_default();
            let mut want_w = n_l.clone();
            want_w.extend(&k_l);
            let perm = arrange_perm(wl, ws, &want_w);
            let mut w = permute(&wdata, ws, &perm);
            let mut fc_shape: Vec<usize> = self.g.tensors[x2].shape.clone();
            fc_shape.pop();
            fc_shape.push(nn);
            // Output channels are the n axes of the einsum output.
            let ch_axes: Vec<usize> = ol
                .iter()
                .enumerate()
                .filter(|(_, l)| n_l.contains(l))
                .map(|(i, _)| i)
                .collect();
            let aff = self.fold_affine(o, &so, &ch_axes, nn);
            for (r, s) in w.chunks_mut(kk.max(1)).zip(&aff.scale) {
                r.iter_mut().for_each(|v| *v *= s);
            }
            let wt = self
                .g
                .add_const(&format!("{name}.weight"), &[nn, kk], Data::F32(w));
            let mut inputs = vec![x2, wt];
            if aff.shift.iter().any(|&b| b != 0.0) {
                let bt =
                    self.g
                        .add_const(&format!("{name}.bias"), &[nn], Data::F32(aff.shift.clone()));
                inputs.push(bt);
            }
            let out_name = if aff.name.is_empty() {
                name.clone()
            } else {
                aff.name.clone()
            };
            let y = self.g.add_node(
                &out_name,
                Op::FullyConnected {
                    act: Activation::None,
                    q: None,
                },
                &inputs,
                &fc_shape,
                DType::F32,
            );
            let mut labels: Vec<char> = m_l.clone();
            labels.extend(&n_l);
            let sizes: Vec<usize> = labels.iter().map(|l| size[l]).collect();
            let want_o: Vec<char> = ol.iter().copied().filter(|l| nt(l)).collect();
            let t = self.arrange(y, &labels, &sizes, &want_o, &so, &out_name)?;
            self.map.insert(aff.last, t);
            return Ok(true);
        } else {
            // MatMul: [B, M, K] x [B, K, N]; with batch axes one operand broadcasts
            // (size 1 in it), [B1.., M, K] x [B1'.., K, N], MatMul broadcasting them.
            let w = self.value(node.inputs[wi])?;
            let dim = |ls: &[char], ss: &[usize], l: &char| {
                ls.iter().position(|x| x == l).map_or(1, |i| ss[i])
            };
            let broadcast = b_l
                .iter()
                .any(|l| dim(xl, xs, l) != size[l] || dim(wl, ws, l) != size[l]);
            let (x2, w2, y_shape) = if broadcast {
                let x2 =
                    self.arrange_batched(x, xl, xs, [&b_l, &m_l, &k_l], &format!("{name}.a"))?;
                let w2 =
                    self.arrange_batched(w, wl, ws, [&b_l, &k_l, &n_l], &format!("{name}.b"))?;
                let mut y_shape: Vec<usize> = b_l.iter().map(|l| size[l]).collect();
                y_shape.extend([mm, nn]);
                (x2, w2, y_shape)
            } else {
                let mut want_x = b_l.clone();
                want_x.extend(&m_l);
                want_x.extend(&k_l);
                let x2 = self.arrange(x, xl, xs, &want_x, &[bb, mm, kk], &format!("{name}.a"))?;
                let mut want_w = b_l.clone();
                want_w.extend(&k_l);
                want_w.extend(&n_l);
                let w2 = self.arrange(w, wl, ws, &want_w, &[bb, kk, nn], &format!("{name}.b"))?;
                (x2, w2, vec![bb, mm, nn])
            };
            let y = self.g.add_node(
                &format!("{name}.matmul"),
                Op::MatMul,
                &[x2, w2],
                &y_shape,
                DType::F32,
            );
            let mut labels = b_l.clone();
            labels.extend(&m_l);
            labels.extend(&n_l);
            let sizes: Vec<usize> = labels.iter().map(|l| size[l]).collect();
            (y, labels, sizes)
        };
        let want_o: Vec<char> = ol.iter().copied().filter(|l| nt(l)).collect();
        let t = self.arrange(result, &result_labels, &result_sizes, &want_o, &so, &name)?;
        self.map.insert(o, t);
        Ok(true)
    }

    /// A MatMul operand with broadcast batch axes: `x` (axes labelled `labels`, sizes
    /// `sizes`, every label outside `batch`, `rows` and `cols` of size 1) transposed to
    /// `[batch.., rows.., cols..]` and reshaped to `[batch sizes.., prod(rows),
    /// prod(cols)]`, each batch axis keeping its size in `x` (1 where it broadcasts).
    fn arrange_batched(
        &mut self,
        x: TId,
        labels: &[char],
        sizes: &[usize],
        [batch, rows, cols]: [&[char]; 3],
        name: &str,
    ) -> Result<TId> {
        let pos = |l: &char| labels.iter().position(|x| x == l);
        let grouped: Vec<usize> = batch
            .iter()
            .chain(rows)
            .chain(cols)
            .filter_map(pos)
            .collect();
        let mut perm: Vec<usize> = (0..labels.len()).filter(|i| !grouped.contains(i)).collect();
        perm.extend(&grouped);
        let dim = |l: &char| pos(l).map_or(1, |i| sizes[i]);
        let mut shape: Vec<usize> = batch.iter().map(dim).collect();
        shape.push(rows.iter().map(dim).product());
        shape.push(cols.iter().map(dim).product());
        if self.g.is_const(x) {
            let data = self.g.tensors[x].data.clone().unwrap_or(Data::F32(vec![]));
            let data = Data::F32(permute(&data.to_f32(), sizes, &perm));
            return Ok(self.g.add_const(name, &shape, data));
        }
        let mut t = self.reshape(x, sizes, &format!("{name}.unflatten"));
        if perm.iter().enumerate().any(|(i, &p)| i != p) {
            t = self.transpose(t, &perm, &format!("{name}.transpose"))?;
        }
        Ok(self.reshape(t, &shape, &format!("{name}.reshape")))
    }

    /// Rearranges `x` (row-major data whose axes are labelled `labels` with sizes
    /// `sizes`) so that its non-trivial axes come in the order `want`, then reshapes it
    /// to `shape`.
    #[allow(clippy::too_many_arguments)]
    fn arrange(
        &mut self,
        x: TId,
        labels: &[char],
        sizes: &[usize],
        want: &[char],
        shape: &[usize],
        name: &str,
    ) -> Result<TId> {
        let cur: Vec<char> = labels
            .iter()
            .zip(sizes)
            .filter(|(_, &s)| s > 1)
            .map(|(&l, _)| l)
            .collect();
        if self.g.is_const(x) {
            let data = self.g.tensors[x].data.clone().unwrap_or(Data::F32(vec![]));
            if cur == want && self.g.tensors[x].shape == shape {
                return Ok(x);
            }
            let data = if cur == want {
                data
            } else {
                Data::F32(permute(
                    &data.to_f32(),
                    sizes,
                    &arrange_perm(labels, sizes, want),
                ))
            };
            return Ok(self.g.add_const(name, shape, data));
        }
        let mut t = x;
        if cur != want {
            t = self.reshape(t, sizes, &format!("{name}.unflatten"));
            t = self.transpose(
                t,
                &arrange_perm(labels, sizes, want),
                &format!("{name}.transpose"),
            )?;
        }
        Ok(self.reshape(t, shape, &format!("{name}.reshape")))
    }
}

/// Permutation putting the trivial (size 1) axes first, then the non-trivial axes in
/// the order `want`.
fn arrange_perm(labels: &[char], sizes: &[usize], want: &[char]) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..labels.len()).filter(|&i| sizes[i] <= 1).collect();
    for l in want {
        if let Some(i) = labels.iter().position(|x| x == l) {
            perm.push(i);
        }
    }
    perm
}
