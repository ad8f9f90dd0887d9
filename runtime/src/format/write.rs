//! Writing model files (feature `write`): the host tool builds a graph with
//! [`ModelBuilder`] and the very types the runtime reads.

use super::plan;
use super::types::{
    DType, Golden, GraphIo, Location, Metadata, Op, OpDef, Quant, Shape, TensorDef, MAX_GRAPH_IO,
};
use super::VERSION_MAJOR;
use super::{
    file_align_for, file_crc, kind, HEADER_LEN, MAGIC, SECTION_ENTRY_LEN, SECTION_REQUIRED,
};
use crate::kernels::engine;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a model could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// A list exceeds a fixed capacity of the format (rank, op operands, graph IO).
    Capacity(&'static str),
    /// A tensor index that does not exist.
    BadIndex(u32),
    /// The file would exceed 4 GiB.
    TooLarge,
    /// postcard failed to encode a record.
    Encode,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Capacity(what) => write!(f, "too many {what} for the model format"),
            WriteError::BadIndex(i) => write!(f, "no tensor {i}"),
            WriteError::TooLarge => f.write_str("model larger than 4 GiB"),
            WriteError::Encode => f.write_str("cannot encode a record"),
        }
    }
}

impl core::error::Error for WriteError {}

/// Input bytes per graph input and output bytes per graph output of one golden vector.
type GoldenBytes = (Vec<Vec<u8>>, Vec<Vec<u8>>);

#[derive(Clone, Debug)]
struct TensorSpec {
    name: String,
    dtype: DType,
    shape: Shape,
    weights_offset: Option<u32>,
    quant: Quant,
}

/// Builds a `.fer` file: constants, arena tensors, ops in execution order, then
/// [`finish`](ModelBuilder::finish) plans the arena and serializes.
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    /// [`Metadata::name`](super::types::Metadata::name).
    pub name: String,
    /// [`Metadata::version`](super::types::Metadata::version).
    pub version: String,
    /// [`Metadata::description`](super::types::Metadata::description).
    pub description: String,
    /// [`Metadata::producer`](super::types::Metadata::producer).
    pub producer: String,
    /// Class labels of the first output, in order.
    pub labels: Vec<String>,
    /// `key=value` provenance properties.
    pub properties: Vec<(String, String)>,
    tensors: Vec<TensorSpec>,
    ops: Vec<OpDef>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    weights: Vec<u8>,
    golden: Vec<GoldenBytes>,
    golden_digest: Vec<(u64, Vec<u64>)>,
    extra: Vec<(u16, bool, Vec<u8>)>,
    state: Vec<(u32, u32)>,
}

fn shape_of(dims: &[u32]) -> Result<Shape, WriteError> {
    Shape::from_slice(dims).map_err(|_| WriteError::Capacity("dimensions"))
}

impl ModelBuilder {
    /// An empty model named `name`.
    pub fn new(name: &str) -> Self {
        ModelBuilder {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Appends raw bytes to the weights section at an aligned offset: 64 bytes for a
    /// blob of at least [`FILE_WIDE_MIN`](super::FILE_WIDE_MIN) bytes (packed weight
    /// panels), 16 otherwise ([`file_align_for`]).
    pub fn add_blob(&mut self, bytes: &[u8]) -> u32 {
        let a = file_align_for(bytes.len());
        let at = self.weights.len().div_ceil(a) * a;
        self.weights.resize(at, 0);
        self.weights.extend_from_slice(bytes);
        at as u32
    }

    /// Appends little-endian f32 values to the weights section; returns the offset.
    pub fn add_f32_blob(&mut self, values: &[f32]) -> u32 {
        let b: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_blob(&b)
    }

    /// Appends little-endian i32 values to the weights section; returns the offset.
    pub fn add_i32_blob(&mut self, values: &[i32]) -> u32 {
        let b: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_blob(&b)
    }

    /// A constant tensor whose little-endian bytes are `data`.
    pub fn add_const(
        &mut self,
        name: &str,
        dtype: DType,
        dims: &[u32],
        data: &[u8],
        quant: Quant,
    ) -> Result<u32, WriteError> {
        let shape = shape_of(dims)?;
        let off = self.add_blob(data);
        self.tensors.push(TensorSpec {
            name: name.into(),
            dtype,
            shape,
            weights_offset: Some(off),
            quant,
        });
        Ok(self.tensors.len() as u32 - 1)
    }

    /// An f32 constant.
    pub fn add_const_f32(
        &mut self,
        name: &str,
        dims: &[u32],
        data: &[f32],
    ) -> Result<u32, WriteError> {
        let b: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_const(name, DType::F32, dims, &b, Quant::None)
    }

    /// A tensor that lives in the arena (placed by the planner in `finish`).
    pub fn add_tensor(
        &mut self,
        name: &str,
        dtype: DType,
        dims: &[u32],
        quant: Quant,
    ) -> Result<u32, WriteError> {
        let shape = shape_of(dims)?;
        self.tensors.push(TensorSpec {
            name: name.into(),
            dtype,
            shape,
            weights_offset: None,
            quant,
        });
        Ok(self.tensors.len() as u32 - 1)
    }

    /// Appends an op (execution order is insertion order).
    pub fn add_op(&mut self, op: Op, inputs: &[u32], outputs: &[u32]) -> Result<(), WriteError> {
        for &t in inputs.iter().chain(outputs) {
            if t as usize >= self.tensors.len() {
                return Err(WriteError::BadIndex(t));
            }
        }
        self.ops.push(OpDef {
            op,
            inputs: heapless::Vec::from_slice(inputs)
                .map_err(|_| WriteError::Capacity("op inputs"))?,
            outputs: heapless::Vec::from_slice(outputs)
                .map_err(|_| WriteError::Capacity("op outputs"))?,
        });
        Ok(())
    }

    /// Sets the graph inputs and outputs.
    pub fn set_io(&mut self, inputs: &[u32], outputs: &[u32]) -> Result<(), WriteError> {
        if inputs.len() > MAX_GRAPH_IO || outputs.len() > MAX_GRAPH_IO {
            return Err(WriteError::Capacity("graph inputs/outputs"));
        }
        self.inputs = inputs.into();
        self.outputs = outputs.into();
        Ok(())
    }

    /// Makes the model a streaming model: each `(input, output)` pair of graph IO
    /// indices is a state that [`Session::run_step`](crate::Session::run_step) carries
    /// from the output to the input between calls (a STATE section; the state inputs
    /// stay alive for the whole run). Call after [`set_io`](Self::set_io).
    pub fn set_state(&mut self, pairs: &[(u32, u32)]) -> Result<(), WriteError> {
        if pairs.len() > MAX_GRAPH_IO {
            return Err(WriteError::Capacity("state pairs"));
        }
        self.state = pairs.into();
        Ok(())
    }

    /// Adds a golden vector (input bytes per graph input, output bytes per output).
    pub fn add_golden(&mut self, inputs: Vec<Vec<u8>>, outputs: Vec<Vec<u8>>) {
        self.golden.push((inputs, outputs));
    }

    /// Adds a compact golden vector: inputs generated from `seed`
    /// ([`golden_input`](crate::format::golden_input)), one FNV-1a 64 digest per output.
    pub fn add_golden_digest(&mut self, seed: u64, outputs: Vec<u64>) {
        self.golden_digest.push((seed, outputs));
    }

    /// Removes all golden vectors.
    pub fn clear_golden(&mut self) {
        self.golden_digest.clear();
        self.golden.clear();
    }

    /// Adds an extra section (e.g. preprocessing, feature statistics).
    pub fn add_section(&mut self, kind: u16, required: bool, bytes: Vec<u8>) {
        self.extra.retain(|(k, _, _)| *k != kind);
        self.extra.push((kind, required, bytes));
    }

    /// Tensor count so far.
    pub fn num_tensors(&self) -> u32 {
        self.tensors.len() as u32
    }

    /// Name, dtype and shape of tensor `t`.
    pub fn tensor_info(&self, t: u32) -> Option<(&str, DType, &[u32], Quant)> {
        self.tensors
            .get(t as usize)
            .map(|s| (s.name.as_str(), s.dtype, s.shape.as_slice(), s.quant))
    }

    /// Plans the arena and serializes the model.
    pub fn finish(&self) -> Result<Vec<u8>, WriteError> {
        let op_io: Vec<(Vec<u32>, Vec<u32>)> = self
            .ops
            .iter()
            .map(|o| (o.inputs.to_vec(), o.outputs.to_vec()))
            .collect();
        let mut life = plan::lifetimes(self.tensors.len(), &op_io, &self.inputs, &self.outputs);
        // A state input stays alive to the end: the session writes the next step's
        // state into it after the run, which must not clobber any output.
        let last = self.ops.len().saturating_sub(1) as u32;
        for &(i, _) in &self.state {
            let t = self.inputs.get(i as usize).copied();
            if let Some(Some(v)) = t.and_then(|t| life.get_mut(t as usize)) {
                v.1 = last;
            }
        }
        let (root, span_last) = self.in_place(&life);
        let arena_ids: Vec<usize> = (0..self.tensors.len())
            .filter(|&i| self.tensors[i].weights_offset.is_none() && root[i] == i)
            .collect();
        let reqs: Vec<plan::Request> = arena_ids
            .iter()
            .map(|&i| {
                let (first, _) = life[i].unwrap_or((0, 0));
                plan::Request {
                    size: self.byte_len(i),
                    first,
                    last: span_last[i],
                }
            })
            .collect();
        let p = plan::plan(&reqs);
        let mut offsets = alloc::vec![0usize; self.tensors.len()];
        for (k, &i) in arena_ids.iter().enumerate() {
            offsets[i] = p.offsets[k];
        }
        let mut locs: Vec<Location> = self
            .tensors
            .iter()
            .map(|t| Location::Weights {
                offset: t.weights_offset.unwrap_or(0),
            })
            .collect();
        for (i, t) in self.tensors.iter().enumerate() {
            if t.weights_offset.is_none() {
                let (first, last) = life[i].unwrap_or((0, 0));
                locs[i] = Location::Arena {
                    offset: offsets[root[i]] as u32,
                    first,
                    last,
                };
            }
        }
        let io = GraphIo {
            inputs: heapless::Vec::from_slice(&self.inputs)
                .map_err(|_| WriteError::Capacity("inputs"))?,
            outputs: heapless::Vec::from_slice(&self.outputs)
                .map_err(|_| WriteError::Capacity("outputs"))?,
            arena_size: u32::try_from(p.arena_size).map_err(|_| WriteError::TooLarge)?,
        };
        let tensor_recs = self
            .tensors
            .iter()
            .zip(&locs)
            .map(|(t, &location)| {
                enc(&TensorDef {
                    name: &t.name,
                    dtype: t.dtype,
                    shape: t.shape.clone(),
                    location,
                    quant: t.quant,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let op_recs = self.ops.iter().map(enc).collect::<Result<Vec<_>, _>>()?;
        let io_b = enc(&io)?;
        let t_b = record_table(&tensor_recs)?;
        let o_b = record_table(&op_recs)?;
        let mut graph = Vec::new();
        for n in [io_b.len(), t_b.len(), o_b.len(), 0] {
            graph.extend_from_slice(&(n as u32).to_le_bytes());
        }
        graph.extend_from_slice(&io_b);
        graph.extend_from_slice(&t_b);
        graph.extend_from_slice(&o_b);

        let labels = self.labels.join("\n");
        let props: Vec<String> = self
            .properties
            .iter()
            .map(|(k, v)| alloc::format!("{k}={v}"))
            .collect();
        let props = props.join("\n");
        let meta = enc(&Metadata {
            name: &self.name,
            version: &self.version,
            description: &self.description,
            producer: &self.producer,
            labels: &labels,
            properties: &props,
        })?;

        let mut sections: Vec<(u16, bool, Vec<u8>)> = alloc::vec![
            (kind::METADATA, true, meta),
            (kind::GRAPH, true, graph),
            (kind::WEIGHTS, true, self.weights.clone()),
        ];
        for (k, req, b) in &self.extra {
            sections.push((*k, *req, b.clone()));
        }
        // A STATE section given with `add_section` (hand-made files) replaces this one.
        if !self.state.is_empty() && !self.extra.iter().any(|e| e.0 == kind::STATE) {
            let mut b = Vec::new();
            b.extend_from_slice(&(self.state.len() as u32).to_le_bytes());
            for &(i, o) in &self.state {
                b.extend_from_slice(&i.to_le_bytes());
                b.extend_from_slice(&o.to_le_bytes());
            }
            sections.push((kind::STATE, false, b));
        }
        if !self.golden.is_empty() {
            let recs = self
                .golden
                .iter()
                .map(|(i, o)| {
                    let cap = WriteError::Capacity("golden tensors");
                    let i: Vec<&[u8]> = i.iter().map(|v| v.as_slice()).collect();
                    let o: Vec<&[u8]> = o.iter().map(|v| v.as_slice()).collect();
                    let g = Golden {
                        inputs: heapless::Vec::from_slice(&i).map_err(|_| cap.clone())?,
                        outputs: heapless::Vec::from_slice(&o).map_err(|_| cap)?,
                    };
                    enc(&g)
                })
                .collect::<Result<Vec<_>, _>>()?;
            sections.push((kind::GOLDEN, false, record_table(&recs)?));
        }
        if !self.golden_digest.is_empty() {
            let recs = self
                .golden_digest
                .iter()
                .map(|(seed, o)| {
                    let g = super::types::GoldenDigest {
                        seed: *seed,
                        outputs: heapless::Vec::from_slice(o)
                            .map_err(|_| WriteError::Capacity("golden tensors"))?,
                    };
                    enc(&g)
                })
                .collect::<Result<Vec<_>, _>>()?;
            sections.push((kind::GOLDEN_DIGEST, false, record_table(&recs)?));
        }
        // The smallest minor whose readers know every op of the file: files without
        // the minor-1 ops stay byte-identical to what format 1.0 writers produced.
        // A FullyConnected / ConvNhwc / DepthwiseNhwc reading f16 weights directly is
        // format 1.2 (earlier runtimes read f16 weights only through a Cast).
        let f16_weights = |o: &OpDef| {
            matches!(
                o.op,
                Op::FullyConnected { .. } | Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. }
            ) && o
                .inputs
                .get(1)
                .and_then(|&w| self.tensors.get(w as usize))
                .is_some_and(|t| t.dtype == DType::F16)
        };
        // A Recurrent op whose w, r, b or p is computed at run time is format 1.4
        // (earlier runtimes require them constant).
        let runtime_weights = |o: &OpDef| {
            matches!(o.op, Op::Recurrent { .. })
                && [1, 2, 3, 6].iter().any(|&k| {
                    o.inputs
                        .get(k)
                        .and_then(|&w| self.tensors.get(w as usize))
                        .is_some_and(|t| t.weights_offset.is_none())
                })
        };
        // An int8 ConvNhwc / DepthwiseNhwc whose packed weights are not the length of
        // the wide panel headers has the compact ones of format 1.4.
        let compact_i8 = |o: &OpDef| {
            let (Op::ConvNhwc { window, .. } | Op::DepthwiseNhwc { window, .. }) = &o.op else {
                return false;
            };
            let t = |i: Option<&u32>| i.and_then(|&i| self.tensors.get(i as usize));
            let (Some(x), Some(w), Some(y)) = (
                t(o.inputs.first()),
                t(o.inputs.get(1)),
                t(o.outputs.first()),
            ) else {
                return false;
            };
            let (Some(&c), Some(&m)) = (x.shape.get(3), y.shape.get(3)) else {
                return false;
            };
            let kernel = [window.kernel[0] as usize, window.kernel[1] as usize];
            let wide = match o.op {
                Op::ConvNhwc { .. } => engine::i8_conv_packed_len(m as usize, c as usize, kernel),
                _ => engine::i8_dwconv_packed_len(c as usize, kernel),
            };
            w.dtype == DType::U8 && wide != w.shape.first().map(|&n| n as usize)
        };
        let minor = self
            .ops
            .iter()
            .map(|o| {
                if runtime_weights(o) || compact_i8(o) {
                    4
                } else if f16_weights(o) {
                    2
                } else {
                    o.op.since_minor()
                }
            })
            .max()
            .unwrap_or(0);
        // A Reshape in place is format 1.7 (earlier runtimes reject the shared bytes
        // with `Error::BadPlan`).
        // So is a FullyConnected whose output rows are shaped unlike its input's.
        let fc_rows = self.ops.iter().any(|o| {
            let lead = |t: Option<&u32>| {
                let s = &self.tensors.get(*t? as usize)?.shape;
                s.split_last().map(|(_, l)| l)
            };
            matches!(o.op, Op::FullyConnected { .. })
                && lead(o.inputs.first()) != lead(o.outputs.first())
        });
        let in_place = fc_rows || root.iter().enumerate().any(|(i, &r)| r != i);
        let minor = if in_place { minor.max(7) } else { minor };
        // A Softmax from int8 logits to f32 is format 1.8 (earlier runtimes reject it
        // with `Error::BadOp`: their int8 Softmax has an int8 output and a table).
        let dtype = |t: Option<&u32>| Some(self.tensors.get(*t? as usize)?.dtype);
        let softmax_i8 = self.ops.iter().any(|o| {
            matches!(o.op, Op::Softmax { .. })
                && dtype(o.inputs.first()) == Some(DType::I8)
                && dtype(o.outputs.first()) == Some(DType::F32)
        });
        container_minor(&sections, if softmax_i8 { minor.max(8) } else { minor })
    }

    /// Bytes of tensor `i`.
    fn byte_len(&self, i: usize) -> usize {
        let t = &self.tensors[i];
        t.shape.iter().map(|&d| d as usize).product::<usize>() * t.dtype.size()
    }

    /// The Reshapes written *in place* (format 1.7): a Reshape whose arena input is not
    /// read after it gets the input's bytes as its output, so it has nothing to copy;
    /// not when the input is a state input, or when the bytes are a graph input's and
    /// the Reshape writes a graph output (the next input would change the last
    /// output). Returns
    /// the tensor whose bytes each tensor has (itself but for those outputs), and the
    /// last step those bytes are alive (from `life`, through chains of such Reshapes).
    fn in_place(&self, life: &[Option<(u32, u32)>]) -> (Vec<usize>, Vec<u32>) {
        let mut root: Vec<usize> = (0..self.tensors.len()).collect();
        let mut span_last: Vec<u32> = life.iter().map(|l| l.map_or(0, |l| l.1)).collect();
        for (s, o) in self.ops.iter().enumerate() {
            let (Op::Reshape, Some(&x), Some(&y)) = (&o.op, o.inputs.first(), o.outputs.first())
            else {
                continue;
            };
            let (x, y) = (x as usize, y as usize);
            let arena = |t: usize| {
                self.tensors
                    .get(t)
                    .is_some_and(|t| t.weights_offset.is_none())
            };
            let state = self
                .state
                .iter()
                .any(|&(i, _)| self.inputs.get(i as usize) == Some(&(x as u32)));
            let io = self.inputs.contains(&(root[x] as u32)) && self.outputs.contains(&(y as u32));
            let last_read = life.get(x).copied().flatten().map(|l| l.1) == Some(s as u32);
            if arena(x)
                && arena(y)
                && x != y
                && !state
                && !io
                && last_read
                && self.byte_len(x) == self.byte_len(y)
            {
                root[y] = root[x];
                let y_last = life[y].map_or(0, |l| l.1);
                span_last[root[y]] = span_last[root[y]].max(y_last);
            }
        }
        (root, span_last)
    }
}

fn enc<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, WriteError> {
    postcard::to_allocvec(v).map_err(|_| WriteError::Encode)
}

/// `count | offsets | records` (see [`super::RecordTable`]).
pub fn record_table(recs: &[Vec<u8>]) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::new();
    out.extend_from_slice(&(recs.len() as u32).to_le_bytes());
    let mut at = 4 + 4 * recs.len();
    for r in recs {
        out.extend_from_slice(
            &u32::try_from(at)
                .map_err(|_| WriteError::TooLarge)?
                .to_le_bytes(),
        );
        at += r.len();
    }
    for r in recs {
        out.extend_from_slice(r);
    }
    Ok(out)
}

/// Lays out header, section table and sections, and fills in the CRC; the header
/// says format 1.0 (what [`ModelBuilder::finish`] writes for a graph without minor-1
/// ops; see [`container_minor`]).
pub fn container(sections: &[(u16, bool, Vec<u8>)]) -> Result<Vec<u8>, WriteError> {
    container_minor(sections, 0)
}

/// [`container`] with the header's minor version `minor` (at most
/// [`VERSION_MINOR`](super::VERSION_MINOR): the largest [`Op::since_minor`](super::types::Op::since_minor) of
/// the file's ops), raised to 1 when a FEATURE_STATS section is present (its layout is
/// defined from format 1.1 on; a 1.0 reader ignores kind 5).
pub fn container_minor(
    sections: &[(u16, bool, Vec<u8>)],
    minor: u16,
) -> Result<Vec<u8>, WriteError> {
    let minor = if sections.iter().any(|s| s.0 == super::kind::FEATURE_STATS) {
        minor.max(1)
    } else {
        minor
    };
    container_exact(sections, minor)
}

/// [`container`] with exactly the header's minor version `minor`: for rewriting an
/// existing file (signing) without changing how its sections are read.
pub fn container_exact(
    sections: &[(u16, bool, Vec<u8>)],
    minor: u16,
) -> Result<Vec<u8>, WriteError> {
    let table_end = HEADER_LEN + SECTION_ENTRY_LEN * sections.len();
    let mut out = alloc::vec![0u8; table_end];
    let mut entries = Vec::new();
    for (kind, req, bytes) in sections {
        let a = file_align_for(bytes.len());
        let at = out.len().div_ceil(a) * a;
        out.resize(at, 0);
        out.extend_from_slice(bytes);
        entries.push((*kind, *req, at, bytes.len()));
    }
    let total = u32::try_from(out.len()).map_err(|_| WriteError::TooLarge)?;
    out[0..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
    out[6..8].copy_from_slice(&minor.to_le_bytes());
    out[12..16].copy_from_slice(&total.to_le_bytes());
    out[20..22].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    for (i, (kind, req, at, len)) in entries.into_iter().enumerate() {
        let e = HEADER_LEN + i * SECTION_ENTRY_LEN;
        out[e..e + 2].copy_from_slice(&kind.to_le_bytes());
        let flags: u16 = if req { SECTION_REQUIRED } else { 0 };
        out[e + 2..e + 4].copy_from_slice(&flags.to_le_bytes());
        out[e + 4..e + 8].copy_from_slice(&(at as u32).to_le_bytes());
        out[e + 8..e + 12].copy_from_slice(&(len as u32).to_le_bytes());
    }
    let crc = file_crc(&out);
    out[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}
