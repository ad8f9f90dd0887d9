//! The converter's intermediate graph: ferrite ops in f32, in execution order, with
//! constants held as host values.
//!
//! The importers (`import::tract`, `import::onnxml`) produce a [`Graph`]; the rewrite
//! passes ([`passes`], [`Graph::optimize`]) simplify it; the emitter (`emit`) writes it
//! as f32, f16 or int8. One IR node becomes exactly one ferrite op in the f32 model, so
//! op `i` of an f32 `.fer` is node `i` here: calibration and per-layer validation rely
//! on that.

pub mod input_layout;
pub mod nhwc;
pub mod passes;

use ferrite::format::types::Op;
use ferrite::DType;

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

    /// Multiply-accumulate count of node `i` (0 for data movement).
    pub fn macs(&self, i: usize) -> u64 {
        let n = &self.nodes[i];
        let out = self.tensors[n.output].elements() as u64;
        match &n.op {
            Op::FullyConnected { .. } => out * self.tensors[n.inputs[1]].shape[1] as u64,
            Op::Conv { .. } | Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. } => {
                let w = &self.tensors[n.inputs[1]].shape;
                out * w[1..].iter().product::<usize>() as u64
            }
            Op::Recurrent { .. } => {
                // Per step, direction and batch row: G·H dot products of length I + H.
                let (x, r) = (
                    &self.tensors[n.inputs[0]].shape,
                    &self.tensors[n.inputs[2]].shape,
                );
                let per_step = r[0] * r[1] * (x[2] + r[2]) * x[1];
                (x[0] * per_step) as u64
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
}
