//! A Gemm / MatMul of a pre-quantized (QDQ) model whose input is a `Concat`, joined
//! back into one product.
//!
//! tract's declutter splits `Gemm(Concat(a, b), W)` into one product per concatenated
//! input, `a · W[:, ..ka] + b · W[:, ka..]` (IR nodes named `NODE….concat-einsum-…`).
//! The partial sums exist in no QDQ file, so they have no quantization. onnxruntime
//! runs the Concat on the int8 values (each input requantized to the Concat output's
//! scale) and one integer product; this pass rebuilds that form: a `Concat` of the
//! flattened inputs (quantized as the product's input in the file) and one
//! `FullyConnected` whose weights are the slices side by side, with the bias `Add`
//! that follows folded in. The sum is the same in f32; the int8 file then runs the
//! product the way onnxruntime does.

use crate::error::{Error, Result};
use crate::ir::{Data, Graph, Node, QuantHint, TId};
use ferrite::format::types::{Activation, BinaryOp, Op};
use ferrite::DType;

/// The marker tract puts in the names of the per-input products.
const SPLIT: &str = ".concat-einsum-";

/// Joins every product tract split over a Concat back into Concat → FullyConnected.
/// `inputs`: the quantization of each Gemm / MatMul node's input in the source file.
pub fn join_split_products(g: &mut Graph, inputs: &[(String, Option<(f32, i32)>)]) -> Result<()> {
    while let Some(first) = g.nodes.iter().position(|n| is_partial(g, n)) {
        let name = &g.nodes[first].name;
        let split = name[..name.find(SPLIT).unwrap_or(name.len())].to_string();
        // The ONNX node: the longest Gemm / MatMul name the product's name starts with.
        let onnx = inputs
            .iter()
            .filter(|(n, _)| split == *n || split.starts_with(&format!("{n}.")))
            .max_by_key(|(n, _)| n.len());
        let (node, q) = onnx.cloned().unwrap_or((split, None));
        let Some((scale, zp)) = q else {
            return Err(unsupported(
                &node,
                "the source model gives no quantization for its input (no QuantizeLinear → DequantizeLinear pair between the Concat and it)",
            ));
        };
        join_one(g, &node, first, scale, zp)?;
    }
    Ok(())
}

fn unsupported(node: &str, why: &str) -> Error {
    Error::Other(format!(
        "the Gemm / MatMul \"{node}\" reads a Concat, which tract splits into one product per concatenated input; ferrite joins them back, but {why}"
    ))
}

/// A per-input product: FullyConnected without bias or activation of an activation
/// by a constant, named by tract's split.
fn is_partial(g: &Graph, n: &Node) -> bool {
    matches!(
        n.op,
        Op::FullyConnected {
            act: Activation::None,
            q: None
        }
    ) && n.name.contains(SPLIT)
        && n.inputs.len() == 2
        && !g.is_const(n.inputs[0])
        && g.is_const(n.inputs[1])
        && g.tensors[n.inputs[1]].shape.len() == 2
}

/// The only node reading `t`, if `t` is not a graph output.
fn sole_reader(g: &Graph, t: TId) -> Option<usize> {
    if g.uses(t) != 1 {
        return None;
    }
    g.nodes.iter().position(|n| n.inputs.contains(&t))
}

fn is_add(op: &Op) -> bool {
    matches!(
        op,
        Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: None
        }
    )
}

/// Joins the products of the ONNX node `node`, starting at the partial product `first`.
fn join_one(g: &mut Graph, node: &str, first: usize, scale: f32, zp: i32) -> Result<()> {
    let prefix = g.nodes[first].name[..g.nodes[first].name.find(SPLIT).unwrap_or(0)].to_string();
    let partials: Vec<usize> = (0..g.nodes.len())
        .filter(|&i| {
            is_partial(g, &g.nodes[i]) && g.nodes[i].name.starts_with(&format!("{prefix}{SPLIT}"))
        })
        .collect();
    if partials.len() < 2 {
        return Err(unsupported(node, "only one of its products was found"));
    }
    let mut removed: Vec<usize> = Vec::new();
    // Each product's sum term: its output, through a Reshape read only there.
    let mut terms: Vec<TId> = Vec::new();
    for &p in &partials {
        let mut t = g.nodes[p].output;
        removed.push(p);
        if let Some(r) = sole_reader(g, t).filter(|&r| g.nodes[r].op == Op::Reshape) {
            removed.push(r);
            t = g.nodes[r].output;
        }
        terms.push(t);
    }
    // The Adds of the terms, until one sum is left.
    while terms.len() > 1 {
        let add = g.nodes.iter().position(|n| {
            is_add(&n.op)
                && n.inputs.len() == 2
                && n.inputs.iter().all(|i| terms.contains(i))
                && n.inputs.iter().all(|&i| g.uses(i) == 1)
        });
        let Some(a) = add else {
            return Err(unsupported(node, "its products are not summed directly"));
        };
        let n = &g.nodes[a];
        terms.retain(|t| !n.inputs.contains(t));
        terms.push(n.output);
        removed.push(a);
    }
    let sum = terms[0];
    let xs: Vec<TId> = partials.iter().map(|&p| g.nodes[p].inputs[0]).collect();
    let ws: Vec<TId> = partials.iter().map(|&p| g.nodes[p].inputs[1]).collect();
    let n_out = g.tensors[ws[0]].shape[0];
    let x_shape = g.tensors[xs[0]].shape.clone();
    let lead = &x_shape[..x_shape.len().saturating_sub(1)];
    let same_lead = xs.iter().all(|&x| {
        let s = &g.tensors[x].shape;
        s.len() == x_shape.len() && !s.is_empty() && s[..s.len() - 1] == *lead
    });
    if x_shape.is_empty()
        || !same_lead
        || ws.iter().any(|&w| g.tensors[w].shape[0] != n_out)
        || xs
            .iter()
            .zip(&ws)
            .any(|(&x, &w)| g.tensors[x].shape.last() != g.tensors[w].shape.get(1))
        || lead.iter().product::<usize>().checked_mul(n_out) != Some(g.tensors[sum].elements())
        || ws.iter().any(|&w| {
            let t = &g.tensors[w];
            t.data.as_ref().map(Data::len) != Some(t.elements())
        })
    {
        return Err(unsupported(
            node,
            "its products do not have matching shapes",
        ));
    }
    // The bias Add after the sum (tract writes the Gemm's C there), folded in.
    let mut out = sum;
    let mut bias = None;
    let mut act = Activation::None;
    if let Some(b) = sole_reader(g, sum) {
        let n = &g.nodes[b];
        let other = if n.inputs[0] == sum {
            n.inputs.get(1)
        } else {
            n.inputs.first()
        };
        if let (
            Op::Binary {
                op: BinaryOp::Add,
                act: a,
                q: None,
            },
            Some(&c),
        ) = (&n.op, other)
        {
            let vals = g.tensors[c].data.as_ref().map(Data::to_f32);
            let vals = match vals {
                Some(v) if v.len() == n_out => Some(v),
                Some(v) if v.len() == 1 => Some(vec![v[0]; n_out]),
                _ => None,
            };
            if let (Some(v), 2) = (vals, n.inputs.len()) {
                bias = Some(v);
                act = *a;
                out = n.output;
                removed.push(b);
            }
        }
    }
    // Concat of the inputs along their last axis, quantized as the product's input.
    let k: usize = xs
        .iter()
        .map(|&x| g.tensors[x].shape[x_shape.len() - 1])
        .sum();
    let mut cat_shape = x_shape.clone();
    *cat_shape.last_mut().unwrap_or(&mut 0) = k;
    let cat = g.add_tensor(&format!("{prefix}.concat"), &cat_shape, DType::F32);
    g.tensors[cat].qhint = Some(QuantHint {
        scales: vec![scale],
        zero_points: vec![zp],
        axis: 0,
    });
    let mut w = Vec::with_capacity(n_out * k);
    let slices: Vec<Vec<f32>> = ws
        .iter()
        .map(|&t| {
            g.tensors[t]
                .data
                .as_ref()
                .map(Data::to_f32)
                .unwrap_or_default()
        })
        .collect();
    for row in 0..n_out {
        for (s, &t) in slices.iter().zip(&ws) {
            let kt = g.tensors[t].shape[1];
            w.extend_from_slice(&s[row * kt..(row + 1) * kt]);
        }
    }
    let w = g.add_const(&format!("{prefix}.weight"), &[n_out, k], Data::F32(w));
    let mut fc_in = vec![cat, w];
    if let Some(b) = bias {
        fc_in.push(g.add_const(&format!("{prefix}.bias"), &[n_out], Data::F32(b)));
    }
    let mut y_shape = lead.to_vec();
    y_shape.push(n_out);
    let y = if y_shape == g.tensors[out].shape {
        out
    } else {
        let y = g.add_tensor(&prefix, &y_shape, DType::F32);
        g.tensors[y].qhint = g.tensors[out].qhint.clone();
        y
    };
    let axis = u8::try_from(x_shape.len() - 1)
        .map_err(|_| unsupported(node, "its input has too many axes"))?;
    let mut new = vec![
        Node {
            name: format!("{prefix}.concat"),
            op: Op::Concat { axis },
            inputs: xs,
            output: cat,
        },
        Node {
            name: prefix.clone(),
            op: Op::FullyConnected { act, q: None },
            inputs: fc_in,
            output: y,
        },
    ];
    if y != out {
        new.push(Node {
            name: format!("{prefix}.reshape"),
            op: Op::Reshape,
            inputs: vec![y],
            output: out,
        });
    }
    // In place of the last removed node: every input is computed before it.
    let at = removed.iter().copied().max().unwrap_or(0);
    removed.sort_unstable();
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for (i, n) in std::mem::take(&mut g.nodes).into_iter().enumerate() {
        if i == at {
            nodes.append(&mut new);
        }
        if removed.binary_search(&i).is_err() {
            nodes.push(n);
        }
    }
    g.nodes = nodes;
    Ok(())
}
