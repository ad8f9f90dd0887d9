//! Graph rewrite passes: [`Graph::optimize`] simplifies an imported graph before it is
//! written (activation fusion, clip and reshape merging, identity and dead-node removal).
//! Every pass keeps the graph's results exact in f32: it only removes work or moves it
//! into an op's fused activation.

use super::{Data, Graph, Node, TId};
use ferrite::format::types::{Activation, Op, UnaryOp};
use ferrite::DType;

impl Graph {
    /// Simplifies the graph: fuses activations into FullyConnected / Conv / Binary,
    /// merges clips and reshapes, drops identity ops and dead nodes.
    pub fn optimize(&mut self) {
        for _ in 0..10_000 {
            let before = self.nodes.len();
            self.drop_identities();
            self.merge_clips();
            self.fuse_activations();
            self.merge_reshapes();
            self.fold_fc_reshapes();
            self.drop_dead();
            let sunk = self.sink_reshape();
            if self.nodes.len() == before && !sunk {
                break;
            }
        }
        self.normalize_relu();
    }

    fn drop_identities(&mut self) {
        let mut i = 0;
        while i < self.nodes.len() {
            let n = &self.nodes[i];
            let x = n.inputs.first().copied();
            let identity = match &n.op {
                Op::Reshape => {
                    x.is_some_and(|x| self.tensors[x].shape == self.tensors[n.output].shape)
                }
                Op::Transpose { perm } => perm.iter().enumerate().all(|(a, &p)| a == p as usize),
                Op::Unary {
                    op: UnaryOp::Clip { min, max },
                } => *min == f32::NEG_INFINITY && *max == f32::INFINITY,
                _ => false,
            };
            // Keep a copy between a graph input and a graph output: an op must produce outputs.
            let (out, x) = (n.output, x.unwrap_or(0));
            if identity
                && !(self.outputs.contains(&out)
                    && (self.inputs.contains(&x) || self.outputs.contains(&x)))
            {
                let out_is_graph_output = self.outputs.contains(&out);
                if out_is_graph_output && self.producer(x).is_some() && self.uses(x) == 1 {
                    // Let the producer of x write the graph output directly.
                    let p = self.producer(x).unwrap_or(0);
                    self.tensors[out].name = self.tensors[x].name.clone();
                    let shape = self.tensors[out].shape.clone();
                    if shape == self.tensors[x].shape {
                        self.nodes[p].output = out;
                        self.nodes.remove(i);
                        continue;
                    }
                } else if !out_is_graph_output {
                    self.replace_uses(out, x);
                    self.nodes.remove(i);
                    continue;
                }
            }
            i += 1;
        }
    }

    fn clip_of(op: &Op) -> Option<(f32, f32)> {
        match op {
            Op::Unary { op: UnaryOp::Relu } => Some((0.0, f32::INFINITY)),
            Op::Unary {
                op: UnaryOp::Clip { min, max },
            } => Some((*min, *max)),
            _ => None,
        }
    }

    fn merge_clips(&mut self) {
        let mut i = 0;
        while i < self.nodes.len() {
            if let Some((lo, hi)) = Self::clip_of(&self.nodes[i].op) {
                let x = self.nodes[i].inputs[0];
                if let Some(p) = self.producer(x) {
                    if let Some((plo, phi)) = Self::clip_of(&self.nodes[p].op) {
                        if self.uses(x) == 1 && !self.outputs.contains(&x) {
                            let (nlo, nhi) = (lo.max(plo), hi.min(phi));
                            let out = self.nodes[i].output;
                            self.nodes[p].op = Op::Unary {
                                op: UnaryOp::Clip {
                                    min: nlo,
                                    max: nhi.max(nlo),
                                },
                            };
                            self.nodes[p].output = out;
                            self.nodes.remove(i);
                            continue;
                        }
                    }
                }
            }
            i += 1;
        }
    }

    fn fuse_activations(&mut self) {
        let mut i = 0;
        while i < self.nodes.len() {
            if let Some((lo, hi)) = Self::clip_of(&self.nodes[i].op) {
                let x = self.nodes[i].inputs[0];
                if let Some(p) = self.producer(x) {
                    if self.uses(x) == 1
                        && !self.outputs.contains(&x)
                        && self.tensors[x].dtype == DType::F32
                    {
                        let fused = match &mut self.nodes[p].op {
                            Op::FullyConnected { act, .. }
                            | Op::Conv { act, .. }
                            | Op::Binary { act, .. } => {
                                let (alo, ahi) = match *act {
                                    Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
                                    Activation::Relu => (0.0, f32::INFINITY),
                                    Activation::Clip { min, max } => (min, max),
                                };
                                let (nlo, nhi) = (lo.max(alo), hi.min(ahi));
                                *act = Activation::Clip {
                                    min: nlo,
                                    max: nhi.max(nlo),
                                };
                                true
                            }
                            _ => false,
                        };
                        if fused {
                            let out = self.nodes[i].output;
                            self.nodes[p].output = out;
                            self.nodes.remove(i);
                            continue;
                        }
                    }
                }
            }
            i += 1;
        }
    }

    /// `Reshape(Reshape(x))` → `Reshape(x)` when the middle tensor has no other use.
    fn merge_reshapes(&mut self) {
        let mut i = 0;
        while i < self.nodes.len() {
            if matches!(self.nodes[i].op, Op::Reshape) {
                let x = self.nodes[i].inputs[0];
                if let Some(p) = self.producer(x) {
                    if matches!(self.nodes[p].op, Op::Reshape)
                        && self.uses(x) == 1
                        && !self.outputs.contains(&x)
                    {
                        let src = self.nodes[p].inputs[0];
                        self.nodes[i].inputs[0] = src;
                        self.nodes.remove(p);
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// Moves one Reshape below the element-wise op or FullyConnected that reads it
    /// (`f(reshape(x)) = reshape(f(x))`), so activations fuse and reshapes cancel.
    fn sink_reshape(&mut self) -> bool {
        for i in 0..self.nodes.len() {
            if !matches!(self.nodes[i].op, Op::Reshape) {
                continue;
            }
            let (x, r) = (self.nodes[i].inputs[0], self.nodes[i].output);
            if self.uses(r) != 1 || self.outputs.contains(&r) {
                continue;
            }
            let Some(j) = self.nodes.iter().position(|n| n.inputs.contains(&r)) else {
                continue;
            };
            let xs = self.tensors[x].shape.clone();
            let u = &self.nodes[j];
            let new_shape = match &u.op {
                Op::Unary { .. } => Some(xs.clone()),
                Op::Binary { .. } => {
                    let other = if u.inputs[0] == r {
                        u.inputs[1]
                    } else {
                        u.inputs[0]
                    };
                    (other != r
                        && self.is_const(other)
                        && self.tensors[other].elements() == 1
                        && !xs.is_empty())
                    .then(|| xs.clone())
                }
                Op::FullyConnected { .. }
                    if u.inputs[0] == r && xs.last() == self.tensors[r].shape.last() =>
                {
                    let mut s = xs.clone();
                    s.pop();
                    s.push(self.tensors[u.inputs[1]].shape[0]);
                    Some(s)
                }
                _ => None,
            };
            let Some(new_shape) = new_shape else { continue };
            let mut u2 = self.nodes[j].clone();
            if let Op::Binary { .. } = u2.op {
                for k in 0..2 {
                    if u2.inputs[k] != r {
                        let c = u2.inputs[k];
                        let data = self.tensors[c].data.clone().unwrap_or(Data::F32(vec![0.0]));
                        let name = self.tensors[c].name.clone();
                        u2.inputs[k] = self.add_const(&name, &[1], data);
                    }
                }
            }
            for inp in &mut u2.inputs {
                if *inp == r {
                    *inp = x;
                }
            }
            let uo = u2.output;
            let name = self.tensors[uo].name.clone();
            let dt = self.tensors[uo].dtype;
            u2.output = self.add_tensor(&name, &new_shape, dt);
            let reshape = Node {
                name: self.nodes[i].name.clone(),
                op: Op::Reshape,
                inputs: vec![u2.output],
                output: uo,
            };
            self.nodes[i] = u2;
            self.nodes[j] = reshape;
            return true;
        }
        false
    }

    /// `Reshape(FullyConnected(Reshape(a)))` → `FullyConnected(Reshape(a))`: the FC
    /// reads its input with the final reshape's leading dimensions and writes that
    /// reshape's output itself (a classifier head `[1,1,1,K] → [K] → FC → [N] → [1,N]`
    /// becomes `[1,1,1,K] → [1,K] → FC → [1,N]`, one op fewer). The FC computes the same
    /// rows on the same bytes, so the results are exact; the first Reshape goes too when
    /// it becomes an identity ([`Self::drop_identities`]).
    fn fold_fc_reshapes(&mut self) {
        let mut j = 0;
        while j < self.nodes.len() {
            if let Some((b, d, k)) = self.fc_reshapes(j) {
                // `fc_reshapes` checked that both shapes have a last dimension.
                let kdim = self.tensors[b].shape.last().copied().unwrap_or(0);
                let mut bs = self.tensors[d].shape.clone();
                bs.pop();
                bs.push(kdim);
                self.tensors[b].shape = bs;
                self.nodes[j].output = d;
                self.nodes.remove(k);
                continue;
            }
            j += 1;
        }
    }

    /// For a FullyConnected node `j` between two Reshapes that [`Self::fold_fc_reshapes`]
    /// may fold: its input `b`, the second Reshape's output `d` and that Reshape's node.
    fn fc_reshapes(&self, j: usize) -> Option<(TId, TId, usize)> {
        let n = &self.nodes[j];
        if !matches!(n.op, Op::FullyConnected { q: None, .. }) {
            return None;
        }
        let (b, c) = (n.inputs[0], n.output);
        let r1 = self.producer(b)?;
        let k = self.nodes.iter().position(|m| m.inputs.contains(&c))?;
        let r2 = &self.nodes[k];
        let d = r2.output;
        let (bt, ct, dt) = (&self.tensors[b], &self.tensors[c], &self.tensors[d]);
        let rows = |s: &[usize]| s.split_last().map(|(_, l)| l.iter().product::<usize>());
        let ok = matches!(self.nodes[r1].op, Op::Reshape)
            && matches!(r2.op, Op::Reshape)
            && self.uses(b) == 1
            && self.uses(c) == 1
            && !self.outputs.contains(&b)
            && !self.outputs.contains(&c)
            && ct.qhint == dt.qhint
            && ct.dtype == dt.dtype
            && !bt.shape.is_empty()
            && ct.shape.last().is_some()
            && dt.shape.last() == ct.shape.last()
            && rows(&dt.shape) == rows(&bt.shape)
            && rows(&ct.shape) == rows(&bt.shape);
        ok.then_some((b, d, k))
    }

    /// `FullyConnected(Reshape(a))` → `FullyConnected(a)` when the Reshape keeps the
    /// last dimension (so the rows): the FC reads `a` as it is (format 1.7 lets its
    /// rows be shaped unlike its output's, e.g. `[1,1,1,K] → [1,N]`). For the NHWC
    /// graph, whose pooled `[1,1,1,K]` tensors a classifier reads as `[1,K]`.
    pub fn fc_reads_rows_as_they_are(&mut self) {
        let mut j = 0;
        while j < self.nodes.len() {
            let n = &self.nodes[j];
            let b = n.inputs.first().copied().unwrap_or(0);
            let r = self.producer(b).filter(|_| {
                matches!(n.op, Op::FullyConnected { q: None, .. })
                    && self.uses(b) == 1
                    && !self.outputs.contains(&b)
            });
            if let Some(r) = r.filter(|&r| matches!(self.nodes[r].op, Op::Reshape)) {
                let a = self.nodes[r].inputs[0];
                let (at, bt) = (&self.tensors[a], &self.tensors[b]);
                if !self.is_const(a)
                    && at.shape.last() == bt.shape.last()
                    && at.dtype == bt.dtype
                    && at.qhint == bt.qhint
                {
                    self.nodes[j].inputs[0] = a;
                    self.nodes.remove(r);
                    continue;
                }
            }
            j += 1;
        }
    }

    fn drop_dead(&mut self) {
        loop {
            let used: std::collections::HashSet<TId> = self
                .nodes
                .iter()
                .flat_map(|n| n.inputs.iter().copied())
                .chain(self.outputs.iter().copied())
                .collect();
            let before = self.nodes.len();
            self.nodes.retain(|n| used.contains(&n.output));
            if self.nodes.len() == before {
                break;
            }
        }
    }

    /// Writes `Clip { 0, inf }` as `Relu`, the form the kernels special-case.
    fn normalize_relu(&mut self) {
        for n in &mut self.nodes {
            match &mut n.op {
                Op::FullyConnected { act, .. } | Op::Conv { act, .. } | Op::Binary { act, .. } => {
                    if let Activation::Clip { min, max } = *act {
                        if min == 0.0 && max == f32::INFINITY {
                            *act = Activation::Relu;
                        } else if min == f32::NEG_INFINITY && max == f32::INFINITY {
                            *act = Activation::None;
                        }
                    }
                }
                Op::Unary { op } => {
                    if let UnaryOp::Clip { min, max } = *op {
                        if min == 0.0 && max == f32::INFINITY {
                            *op = UnaryOp::Relu;
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_fuses_into_fully_connected() {
        let mut g = Graph::default();
        let x = g.add_tensor("x", &[1, 2], DType::F32);
        g.inputs.push(x);
        let w = g.add_const("w", &[3, 2], Data::F32(vec![0.0; 6]));
        let y = g.add_node(
            "fc",
            Op::FullyConnected {
                act: Activation::None,
                q: None,
            },
            &[x, w],
            &[1, 3],
            DType::F32,
        );
        let z = g.add_node(
            "relu",
            Op::Unary { op: UnaryOp::Relu },
            &[y],
            &[1, 3],
            DType::F32,
        );
        g.outputs.push(z);
        g.optimize();
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(
            g.nodes[0].op,
            Op::FullyConnected {
                act: Activation::Relu,
                q: None
            }
        );
        assert_eq!(g.nodes[0].output, z);
    }

    #[test]
    fn the_reshapes_around_a_classifier_fold_into_one() {
        // [1,1,1,4] → Reshape [4] → FC → [3] → Reshape [1,3] → Softmax
        let mut g = Graph::default();
        let x = g.add_tensor("x", &[1, 4, 1, 1], DType::F32);
        g.inputs.push(x);
        let p = g.add_node("pool", Op::GlobalAvgPool, &[x], &[1, 4, 1, 1], DType::F32);
        let flat = g.add_node("flat", Op::Reshape, &[p], &[4], DType::F32);
        let w = g.add_const("w", &[3, 4], Data::F32(vec![0.5; 12]));
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        let y = g.add_node("fc", fc, &[flat, w], &[3], DType::F32);
        let y2 = g.add_node("row", Op::Reshape, &[y], &[1, 3], DType::F32);
        let sm = Op::Softmax {
            axis: 1,
            log: false,
        };
        let z = g.add_node("softmax", sm, &[y2], &[1, 3], DType::F32);
        g.outputs.push(z);
        g.optimize();
        let ops: Vec<&Op> = g.nodes.iter().map(|n| &n.op).collect();
        assert_eq!(ops.len(), 4, "{ops:?}");
        assert!(matches!(ops[1], Op::Reshape));
        let fc = &g.nodes[2];
        assert!(matches!(fc.op, Op::FullyConnected { .. }));
        assert_eq!(g.tensors[fc.inputs[0]].shape, [1, 4]);
        assert_eq!(fc.output, y2);
        assert_eq!(g.nodes[3].inputs, [y2]);
    }

    #[test]
    fn a_classifier_reads_the_pooled_tensor_as_it_is() {
        // [1,1,1,4] → Reshape [1,4] → FC → [1,3]: the FC reads [1,1,1,4] (format 1.7).
        let mut g = Graph::default();
        let x = g.add_tensor("x", &[1, 1, 1, 4], DType::F32);
        g.inputs.push(x);
        let p = g.add_node("pool", Op::GlobalAvgPool, &[x], &[1, 1, 1, 4], DType::F32);
        let flat = g.add_node("flat", Op::Reshape, &[p], &[1, 4], DType::F32);
        let w = g.add_const("w", &[3, 4], Data::F32(vec![0.5; 12]));
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        let y = g.add_node("fc", fc, &[flat, w], &[1, 3], DType::F32);
        g.outputs.push(y);
        g.fc_reads_rows_as_they_are();
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].inputs, [p, w]);
        // Not when the Reshape changes the last dimension.
        let mut g2 = Graph::default();
        let x = g2.add_tensor("x", &[1, 4, 1, 1], DType::F32);
        g2.inputs.push(x);
        let flat = g2.add_node("flat", Op::Reshape, &[x], &[1, 4], DType::F32);
        let w = g2.add_const("w", &[3, 4], Data::F32(vec![0.5; 12]));
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        let y = g2.add_node("fc", fc, &[flat, w], &[1, 3], DType::F32);
        g2.outputs.push(y);
        g2.fc_reads_rows_as_they_are();
        assert_eq!(g2.nodes.len(), 2);
    }
}
