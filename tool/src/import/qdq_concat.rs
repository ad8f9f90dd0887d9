//! A Gemm / MatMul / 1×1 Conv of a pre-quantized (QDQ) model whose input is a
//! `Concat`, joined back into one product.
//!
//! tract's declutter splits `Gemm(Concat(a, b), W)` into one product per concatenated
//! input, `a · W[:, ..ka] + b · W[:, ka..]` (IR nodes named `NODE….concat-einsum-…`).
//! The partial sums exist in no QDQ file, so they have no quantization. onnxruntime
//! runs the Concat on the int8 values (each input requantized to the Concat output's
//! scale) and one integer product; this pass rebuilds that form: a `Concat` of the
//! products' inputs along their last axis (quantized as the product's input in the
//! file) and one `FullyConnected` whose weights are the slices side by side, then the
//! Reshape / Transpose nodes tract put after each product (checked to move every
//! value the same way for all of them), with the bias `Add` that follows folded in
//! when its constant is one value per output column. The sum is the same in f32; the
//! int8 file then runs the product the way onnxruntime does.

use crate::ir::{Data, Graph, Node, QuantHint, TId};
use ferrite::format::types::{Activation, BinaryOp, Op};
use ferrite::DType;

/// The marker tract puts in the names of the per-input products.
const SPLIT: &str = ".concat-einsum-";

/// Joins every product tract split over a Concat back into Concat → FullyConnected.
/// `inputs`: the quantization of each Gemm / MatMul / Conv node's input in the source
/// file. A product that cannot be joined (no quantization for its input, products not
/// summed directly, shapes that do not match) is left split: the f32 file is still
/// exact, and the int8 emitter's error names its partial products.
pub fn join_split_products(g: &mut Graph, inputs: &[(String, Option<(f32, i32)>)]) {
    let split_of = |name: &str| name[..name.find(SPLIT).unwrap_or(name.len())].to_string();
    let mut left: Vec<String> = Vec::new();
    while let Some(first) = g
        .nodes
        .iter()
        .position(|n| is_partial(g, n) && !left.contains(&split_of(&n.name)))
    {
        let split = split_of(&g.nodes[first].name);
        // The ONNX node: the longest Gemm / MatMul / Conv name the product's starts with.
        let q = inputs
            .iter()
            .filter(|(n, _)| split == *n || split.starts_with(&format!("{n}.")))
            .max_by_key(|(n, _)| n.len())
            .and_then(|(_, q)| *q);
        let joined = q.and_then(|(scale, zp)| join_one(g, first, scale, zp));
        if joined.is_none() {
            left.push(split);
        }
    }
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

/// The Reshape / Transpose nodes that carry a partial product's output `t` to its sum
/// term, each read only by the next: their indices and the term.
fn layout_chain(g: &Graph, mut t: TId) -> (Vec<usize>, TId) {
    let mut chain = Vec::new();
    while let Some(r) = sole_reader(g, t) {
        if !matches!(g.nodes[r].op, Op::Reshape | Op::Transpose { .. }) {
            break;
        }
        chain.push(r);
        t = g.nodes[r].output;
    }
    (chain, t)
}

/// Where each value of a `shape` tensor ends up through `chain`: the source's flat
/// index at each position of the chain's output; `None` for another op or bad perm.
fn follow(g: &Graph, chain: &[usize], shape: &[usize]) -> Option<Vec<usize>> {
    let mut v: Vec<usize> = (0..shape.iter().product()).collect();
    let mut cur = shape.to_vec();
    for &c in chain {
        let n = &g.nodes[c];
        if let Op::Transpose { perm } = &n.op {
            let perm: Vec<usize> = perm.iter().map(|&p| p as usize).collect();
            let mut seen = perm.clone();
            seen.sort_unstable();
            if perm.len() != cur.len() || seen != (0..cur.len()).collect::<Vec<_>>() {
                return None;
            }
            v = crate::ir::permute(&v, &cur, &perm);
        }
        cur = g.tensors[n.output].shape.clone();
        if cur.iter().product::<usize>() != v.len() {
            return None;
        }
    }
    Some(v)
}

/// `c` broadcast (numpy rules) to `shape`, row-major; `None` if it does not broadcast.
fn broadcast(c: &[f32], c_shape: &[usize], shape: &[usize]) -> Option<Vec<f32>> {
    if c_shape.len() > shape.len() || c.len() != c_shape.iter().product::<usize>() {
        return None;
    }
    let mut cs = vec![1usize; shape.len() - c_shape.len()];
    cs.extend_from_slice(c_shape);
    if cs.iter().zip(shape).any(|(&a, &b)| a != 1 && a != b) {
        return None;
    }
    let mut strides = vec![0usize; shape.len()];
    let mut acc = 1;
    for d in (0..shape.len()).rev() {
        strides[d] = if cs[d] == 1 { 0 } else { acc };
        acc *= cs[d];
    }
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..total {
        out.push(c[idx.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>()]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}

/// Joins the split products that `first` belongs to, their Concat input quantized
/// with `(scale, zp)`; `None` (the graph untouched) when they do not have the form.
fn join_one(g: &mut Graph, first: usize, scale: f32, zp: i32) -> Option<()> {
    let prefix = g.nodes[first].name[..g.nodes[first].name.find(SPLIT).unwrap_or(0)].to_string();
    let partials: Vec<usize> = (0..g.nodes.len())
        .filter(|&i| {
            is_partial(g, &g.nodes[i]) && g.nodes[i].name.starts_with(&format!("{prefix}{SPLIT}"))
        })
        .collect();
    if partials.len() < 2 {
        return None;
    }
    let xs: Vec<TId> = partials.iter().map(|&p| g.nodes[p].inputs[0]).collect();
    let ws: Vec<TId> = partials.iter().map(|&p| g.nodes[p].inputs[1]).collect();
    let n_out = g.tensors[ws[0]].shape[0];
    let x_shape = g.tensors[xs[0]].shape.clone();
    let (_, lead) = x_shape.split_last()?;
    let axis = u8::try_from(lead.len()).ok()?;
    let rows: usize = lead.iter().product();
    let fits = xs.iter().zip(&ws).all(|(&x, &w)| {
        let (xt, wt) = (&g.tensors[x], &g.tensors[w]);
        xt.shape
            .split_last()
            .is_some_and(|(k, l)| l.iter().product::<usize>() == rows && wt.shape == [n_out, *k])
            && wt.data.as_ref().map(Data::len) == Some(wt.elements())
    });
    if !fits {
        return None;
    }
    let mut y_shape = lead.to_vec();
    y_shape.push(n_out);
    // Each product's sum term: its output through the layout ops read only there,
    // the same ops on every product (checked by where they move each value).
    let mut removed: Vec<usize> = partials.clone();
    let mut terms: Vec<TId> = Vec::new();
    let mut chain0: Vec<usize> = Vec::new();
    let mut moves: Option<Vec<usize>> = None;
    for (i, &p) in partials.iter().enumerate() {
        let out = g.nodes[p].output;
        let (chain, t) = layout_chain(g, out);
        let m = follow(g, &chain, &g.tensors[out].shape)?;
        if moves.as_ref().is_some_and(|m0| *m0 != m) || m.len() != rows * n_out {
            return None;
        }
        if i == 0 {
            chain0 = chain.clone();
            moves = Some(m);
        }
        removed.extend_from_slice(&chain);
        terms.push(t);
    }
    let moves = moves.unwrap_or_default();
    // The Adds of the terms, until one sum is left.
    while terms.len() > 1 {
        let add = g.nodes.iter().position(|n| {
            is_add(&n.op)
                && n.inputs.len() == 2
                && n.inputs.iter().all(|i| terms.contains(i))
                && n.inputs.iter().all(|&i| g.uses(i) == 1)
        });
        let a = add?;
        let n = &g.nodes[a];
        if g.tensors[n.inputs[0]].shape != g.tensors[n.inputs[1]].shape {
            return None;
        }
        terms.retain(|t| !n.inputs.contains(t));
        terms.push(n.output);
        removed.push(a);
    }
    let sum = terms[0];
    // The bias Add after the sum (tract writes the Gemm's C there), folded in when its
    // constant is one value per output column wherever the layout ops put it.
    let mut out = sum;
    let mut bias = None;
    let mut act = Activation::None;
    if let Some(b) = sole_reader(g, sum) {
        let n = &g.nodes[b];
        let other = n.inputs.iter().copied().find(|&i| i != sum);
        if let (
            Op::Binary {
                op: BinaryOp::Add,
                act: a,
                q: None,
            },
            Some(c),
            2,
        ) = (&n.op, other, n.inputs.len())
        {
            let full = g.tensors[c]
                .data
                .as_ref()
                .and_then(|d| broadcast(&d.to_f32(), &g.tensors[c].shape, &g.tensors[sum].shape));
            let mut per_col: Vec<Option<f32>> = vec![None; n_out];
            let consistent = full.as_ref().is_some_and(|full| {
                full.len() == moves.len()
                    && moves.iter().zip(full).all(|(&src, &v)| {
                        let slot = &mut per_col[src % n_out];
                        *slot.get_or_insert(v) == v
                    })
            });
            if consistent && g.tensors[n.output].shape == g.tensors[sum].shape {
                bias = per_col.into_iter().collect::<Option<Vec<f32>>>();
                if bias.is_some() {
                    act = *a;
                    out = n.output;
                    removed.push(b);
                }
            }
        }
    }
    let hint = QuantHint {
        scales: vec![scale],
        zero_points: vec![zp],
        axis: 0,
    };
    let mut new = Vec::new();
    // Every input with the first one's leading shape, then their Concat.
    let mut cat_in = Vec::new();
    for &x in &xs {
        let k = g.tensors[x].shape.last().copied().unwrap_or(0);
        let mut shape = lead.to_vec();
        shape.push(k);
        if g.tensors[x].shape == shape {
            cat_in.push(x);
            continue;
        }
        let name = format!("{}.lead", g.tensors[x].name);
        let r = g.add_tensor(&name, &shape, DType::F32);
        g.tensors[r].qhint = g.tensors[x].qhint.clone();
        new.push(Node {
            name,
            op: Op::Reshape,
            inputs: vec![x],
            output: r,
        });
        cat_in.push(r);
    }
    let k: usize = xs
        .iter()
        .map(|&x| g.tensors[x].shape.last().copied().unwrap_or(0))
        .sum();
    let mut cat_shape = lead.to_vec();
    cat_shape.push(k);
    let cat = g.add_tensor(&format!("{prefix}.concat"), &cat_shape, DType::F32);
    g.tensors[cat].qhint = Some(hint);
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
    let mut w = Vec::with_capacity(n_out * k);
    for row in 0..n_out {
        for s in &slices {
            let kt = s.len() / n_out;
            w.extend_from_slice(&s[row * kt..(row + 1) * kt]);
        }
    }
    let w = g.add_const(&format!("{prefix}.weight"), &[n_out, k], Data::F32(w));
    let mut fc_in = vec![cat, w];
    if let Some(b) = bias {
        fc_in.push(g.add_const(&format!("{prefix}.bias"), &[n_out], Data::F32(b)));
    }
    new.push(Node {
        name: format!("{prefix}.concat"),
        op: Op::Concat { axis },
        inputs: cat_in,
        output: cat,
    });
    // The product, then the first product's layout ops into the sum's (or the bias
    // Add's) tensor; the tensors between carry its quantization.
    let out_hint = g.tensors[out].qhint.clone();
    let mut steps: Vec<(String, Op, Vec<usize>)> =
        vec![(prefix.clone(), Op::FullyConnected { act, q: None }, y_shape)];
    for &c in &chain0 {
        let n = &g.nodes[c];
        steps.push((
            n.name.clone(),
            n.op.clone(),
            g.tensors[n.output].shape.clone(),
        ));
    }
    if steps
        .last()
        .is_some_and(|(_, _, s)| *s != g.tensors[out].shape)
    {
        steps.push((
            format!("{prefix}.reshape"),
            Op::Reshape,
            g.tensors[out].shape.clone(),
        ));
    }
    let mut inputs = fc_in;
    let last = steps.len() - 1;
    for (i, (name, op, shape)) in steps.into_iter().enumerate() {
        let t = if i == last {
            out
        } else {
            let t = g.add_tensor(&name, &shape, DType::F32);
            g.tensors[t].qhint = out_hint.clone();
            t
        };
        new.push(Node {
            name,
            op,
            inputs,
            output: t,
        });
        inputs = vec![t];
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
    Some(())
}
