//! The converter's intermediate graph: ferrite ops in f32, in execution order, with
//! constants held as host values.
//!
//! Importers (`import::tract`, later `import::onnxml`) produce a [`Graph`]; the emitter
//! (`emit`) writes it as f32, f16 or int8. One IR node becomes exactly one ferrite op in
//! the f32 model, so op `i` of an f32 `.fer` is node `i` here: calibration and per-layer
//! validation rely on that.

use ferrite::format::types::{Activation, Op, UnaryOp};
use ferrite::DType;
use std::collections::HashMap;

/// Index of a tensor in [`Graph::tensors`].
pub type TId = usize;

/// Constant data of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
}

impl Data {
    /// Values as f32 (integers converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I32(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Little-endian bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::I64(_) => DType::I64,
            Data::I32(_) => DType::I32,
        }
    }
}

/// Quantization of a tensor given by a pre-quantized (QDQ) source model.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantHint {
    /// Per-tensor scale (or per-channel scales for weights).
    pub scales: Vec<f32>,
    /// Zero points in the int8 domain (uint8 sources already shifted by -128).
    pub zero_points: Vec<i32>,
    /// Channel axis for per-channel weights.
    pub axis: usize,
}

/// One tensor: an activation (computed by a node or a graph input) or a constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Option<Data>,
    /// Quantization required by the source model (QDQ import), if any.
    pub qhint: Option<QuantHint>,
}

impl Tensor {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One operation: a ferrite op (float form: `q: None`) and its operands.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TId>,
    pub output: TId,
}

/// A graph of ferrite ops in execution order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<TId>,
    pub outputs: Vec<TId>,
    /// Weight scales of a pre-quantized source (QDQ): the int8 emitter uses a scale set
    /// under which a weight constant is exactly integral instead of computing its own.
    pub weight_scales: Vec<Vec<f32>>,
}

impl Graph {
    /// A graph input or intermediate tensor.
    pub fn add_tensor(&mut self, name: &str, shape: &[usize], dtype: DType) -> TId {
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.into(),
            dtype,
            data: None,
            qhint: None,
        });
        self.tensors.len() - 1
    }

    /// A constant tensor.
    pub fn add_const(&mut self, name: &str, shape: &[usize], data: Data) -> TId {
        let dtype = data.dtype();
        self.tensors.push(Tensor {
            name: name.into(),
            shape: shape.into(),
            dtype,
            data: Some(data),
            qhint: None,
        });
        self.tensors.len() - 1
    }

    /// Appends a node computing a new tensor; returns that tensor.
    pub fn add_node(
        &mut self,
        name: &str,
        op: Op,
        inputs: &[TId],
        shape: &[usize],
        dtype: DType,
    ) -> TId {
        let out = self.add_tensor(name, shape, dtype);
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.into(),
            output: out,
        });
        out
    }

    pub fn is_const(&self, t: TId) -> bool {
        self.tensors[t].data.is_some()
    }

    /// Number of nodes reading `t` (plus one if it is a graph output).
    pub fn uses(&self, t: TId) -> usize {
        self.nodes
            .iter()
            .map(|n| n.inputs.iter().filter(|&&i| i == t).count())
            .sum::<usize>()
            + self.outputs.iter().filter(|&&o| o == t).count()
    }

    /// Index of the node producing `t`.
    pub fn producer(&self, t: TId) -> Option<usize> {
        self.nodes.iter().position(|n| n.output == t)
    }

    /// Replaces every read of `from` by `to` (nodes and graph outputs).
    pub fn replace_uses(&mut self, from: TId, to: TId) {
        for n in &mut self.nodes {
            for i in &mut n.inputs {
                if *i == from {
                    *i = to;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == from {
                *o = to;
            }
        }
    }

    /// Simplifies the graph: fuses activations into FullyConnected / Conv / Binary,
    /// merges clips and reshapes, drops identity ops and dead nodes.
    pub fn optimize(&mut self) {
        for _ in 0..10_000 {
            let before = self.nodes.len();
            self.drop_identities();
            self.merge_clips();
            self.fuse_activations();
            self.merge_reshapes();
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

    /// Constant tensors read by some node, in first-use order.
    pub fn used_consts(&self) -> Vec<TId> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for n in &self.nodes {
            for &i in &n.inputs {
                if self.is_const(i) && seen.insert(i, ()).is_none() {
                    out.push(i);
                }
            }
        }
        out
    }

    /// Multiply-accumulate count of node `i` (0 for data movement).
    pub fn macs(&self, i: usize) -> u64 {
        let n = &self.nodes[i];
        let out = self.tensors[n.output].elements() as u64;
        match &n.op {
            Op::FullyConnected { .. } => out * self.tensors[n.inputs[1]].shape[1] as u64,
            Op::Conv { .. } => {
                let w = &self.tensors[n.inputs[1]].shape;
                out * w[1..].iter().product::<usize>() as u64
            }
            Op::MatMul => {
                let a = &self.tensors[n.inputs[0]].shape;
                out * *a.last().unwrap_or(&1) as u64
            }
            _ => 0,
        }
    }
}

/// Permutes a row-major array: `y` has shape `shape[perm[i]]` along axis `i`.
pub fn permute<T: Copy>(x: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let r = shape.len();
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut in_strides = vec![1usize; r];
    for d in (0..r.saturating_sub(1)).rev() {
        in_strides[d] = in_strides[d + 1] * shape[d + 1];
    }
    let n: usize = shape.iter().product();
    let mut y = Vec::with_capacity(n);
    let mut idx = vec![0usize; r];
    for _ in 0..n {
        let off: usize = (0..r).map(|d| idx[d] * in_strides[perm[d]]).sum();
        y.push(x[off]);
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_transposes_a_matrix() {
        let x = [1, 2, 3, 4, 5, 6];
        assert_eq!(permute(&x, &[2, 3], &[1, 0]), vec![1, 4, 2, 5, 3, 6]);
        assert_eq!(permute(&x, &[2, 3], &[0, 1]), x.to_vec());
    }

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
}
