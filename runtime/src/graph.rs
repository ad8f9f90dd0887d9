//! The GRAPH section (tensors, ops, graph inputs and outputs, arena size) with the
//! WEIGHTS and GOLDEN sections it refers to, as the loader, the validator and the
//! executor read them. [`Model`](crate::Model) owns one; `validate` checks it once.

use crate::error::{Error, Result, Section};
use crate::format::types::DType;
use crate::format::types::{
    Golden, GoldenDigest, GraphIo, Location, Op, OpDef, OpRef, Operands, TensorDef, TensorRef,
};
use crate::format::{kind, rd_u32, Container, Record, RecordTable};

/// The parsed graph of a model file (records decoded on demand).
#[derive(Clone, Debug)]
pub(crate) struct Graph<'a> {
    pub(crate) io: GraphIo,
    pub(crate) tensors: RecordTable<'a, TensorDef<'a>>,
    pub(crate) ops: RecordTable<'a, OpDef>,
    pub(crate) weights: &'a [u8],
    pub(crate) golden: Option<RecordTable<'a, Golden<'a>>>,
    pub(crate) golden_digest: Option<RecordTable<'a, GoldenDigest>>,
}

/// The three parts of the GRAPH section: `io_len u32 | tensors_len u32 | ops_len u32 |
/// reserved u32`, then the graph IO record, the tensor table and the op table.
fn graph_parts(g: &[u8]) -> Result<(&[u8], &[u8], &[u8])> {
    let bad = Error::BadSection {
        section: Section::Graph,
    };
    let io_len = rd_u32(g, 0).ok_or(bad)? as usize;
    let t_len = rd_u32(g, 4).ok_or(bad)? as usize;
    let o_len = rd_u32(g, 8).ok_or(bad)? as usize;
    let a = 16usize;
    let b = a.checked_add(io_len).ok_or(bad)?;
    let c = b.checked_add(t_len).ok_or(bad)?;
    let d = c.checked_add(o_len).ok_or(bad)?;
    if d != g.len() {
        return Err(bad);
    }
    Ok((&g[a..b], &g[b..c], &g[c..d]))
}

/// One record that spans exactly `bytes`.
pub(crate) fn decode_exact<'a, T: Record<'a>>(bytes: &'a [u8], section: Section) -> Result<T> {
    match T::decode(bytes) {
        Some((v, [])) => Ok(v),
        _ => Err(Error::Decode { section, index: 0 }),
    }
}

/// `n` little-endian values of `T` at a weights offset aligned for `T`.
fn table<T: bytemuck::Pod>(weights: &[u8], offset: u32, n: usize) -> Option<&[T]> {
    let len = n.checked_mul(core::mem::size_of::<T>())?;
    let b = weights.get(offset as usize..(offset as usize).checked_add(len)?)?;
    bytemuck::try_cast_slice(b).ok()
}

impl<'a> Graph<'a> {
    /// The graph of `container`; with `check` false only the counts of the record
    /// tables are read (bytes validated before).
    pub(crate) fn parse(container: &Container<'a>, check: bool) -> Result<Self> {
        let graph = container.section(kind::GRAPH).ok_or(Error::BadSection {
            section: Section::Graph,
        })?;
        let weights = container.section(kind::WEIGHTS).unwrap_or(&[]);
        let (io_b, t_b, o_b) = graph_parts(graph)?;
        let io = decode_exact(io_b, Section::Graph)?;
        let tensors = RecordTable::parse_with(t_b, Section::Graph, check)?;
        let ops = RecordTable::parse_with(o_b, Section::Graph, check)?;
        let golden = match container.section(kind::GOLDEN) {
            Some(g) => Some(RecordTable::parse_with(g, Section::Golden, check)?),
            None => None,
        };
        let golden_digest = match container.section(kind::GOLDEN_DIGEST) {
            Some(g) => Some(RecordTable::parse_with(g, Section::Golden, check)?),
            None => None,
        };
        Ok(Graph {
            io,
            tensors,
            ops,
            weights,
            golden,
            golden_digest,
        })
    }

    /// Definition of graph input (`outputs` false) or output `i`.
    pub(crate) fn io_def(&self, outputs: bool, i: usize) -> Result<TensorDef<'a>> {
        let list = if outputs {
            &self.io.outputs
        } else {
            &self.io.inputs
        };
        let t = *list.get(i).ok_or(Error::NoSuchIndex { index: i as u32 })?;
        self.tensors.get(t)
    }

    /// Number of full golden vectors (section 6); compact ones (section 8) follow.
    pub(crate) fn num_full_golden(&self) -> u32 {
        self.golden.as_ref().map_or(0, |g| g.len())
    }

    /// Number of golden vectors, full and compact.
    pub(crate) fn num_golden(&self) -> u32 {
        self.num_full_golden() + self.golden_digest.as_ref().map_or(0, |g| g.len())
    }

    /// Compact golden vector `i` (counted after the full ones).
    pub(crate) fn golden_digest(&self, i: u32) -> Result<GoldenDigest> {
        let j = i
            .checked_sub(self.num_full_golden())
            .ok_or(Error::NoSuchIndex { index: i })?;
        self.golden_digest
            .as_ref()
            .ok_or(Error::NoSuchIndex { index: i })?
            .get(j)
    }

    /// Golden vector `i`.
    pub(crate) fn golden(&self, i: u32) -> Result<Golden<'a>> {
        self.golden
            .as_ref()
            .ok_or(Error::NoSuchIndex { index: i })?
            .get(i)
    }

    /// Bytes of constant `t` in the weights section (`None` for arena tensors).
    pub(crate) fn constant_bytes(&self, t: &TensorDef<'_>) -> Option<&'a [u8]> {
        match t.location {
            Location::Weights { offset } => {
                let len = t.byte_len()?;
                self.weights
                    .get(offset as usize..(offset as usize).checked_add(len)?)
            }
            Location::Arena { .. } => None,
        }
    }

    /// `n` little-endian i32 values at a 4-aligned weights offset.
    pub(crate) fn i32_table(&self, offset: u32, n: usize) -> Option<&'a [i32]> {
        table(self.weights, offset, n)
    }

    /// `n` little-endian f32 values at a 4-aligned weights offset.
    pub(crate) fn f32_table(&self, offset: u32, n: usize) -> Option<&'a [f32]> {
        table(self.weights, offset, n)
    }

    /// Tensor `i` for the executor (trusted decode of a validated record; see
    /// [`TensorRef`]). In debug builds it is checked against the full decode.
    #[inline]
    pub(crate) fn tensor_ref(&self, i: u32) -> Option<TensorRef> {
        let mut t = TensorRef::EMPTY;
        self.read_tensor(i, &mut t)?;
        Some(t)
    }

    /// [`tensor_ref`](Self::tensor_ref) into `t` (the executor's hot path: writing in
    /// place rather than returning the record keeps it in registers and aligned slots).
    #[inline(never)]
    pub(crate) fn read_tensor(&self, i: u32, t: &mut TensorRef) -> Option<()> {
        t.read(self.tensors.record(i)?)?;
        #[cfg(debug_assertions)]
        if let Ok(d) = self.tensors.get(i) {
            debug_assert_eq!(*t, TensorRef::of(&d), "tensor {i}");
        }
        Some(())
    }

    /// Whether tensor `i` is f16, from its record's dtype tag (the field after the
    /// name) without decoding the rest: the executor's choice of FullyConnected kernels.
    #[inline]
    pub(crate) fn is_f16(&self, i: u32) -> bool {
        let dtype = |rec| {
            let mut w = crate::format::wire::Wire(rec);
            let name = w.usize()?;
            w.take(name)?;
            w.u32()
        };
        self.tensors.record(i).and_then(dtype) == Some(DType::F16 as u32)
    }

    /// Op `i` for the executor (trusted decode; see [`OpRef`]).
    #[inline]
    pub(crate) fn op_ref(&self, i: u32) -> Option<OpRef> {
        let o = crate::format::op_ref(self.ops.record(i)?);
        // The op itself is decoded by the same postcard call in both; comparing it
        // with `==` would fail on a NaN attribute (an unbounded Clip), so only the
        // operand lists, which `OpRef` decodes by hand, are compared.
        #[cfg(debug_assertions)]
        if let (Ok(d), Some(o)) = (self.ops.get(i), &o) {
            debug_assert!(
                d.inputs[..] == *o.inputs() && d.outputs.first() == Some(&o.io.output),
                "op {i}"
            );
        }
        o
    }

    /// Op `i` for the executor's run: as [`op_ref`](Self::op_ref), decoded in place, the
    /// op into `op` (by the decoder itself: no copy) and its operand lists into `io`.
    #[inline(always)]
    pub(crate) fn read_op(&self, i: u32, op: &mut Option<Op>, io: &mut Operands) -> Option<()> {
        let mut rest: &[u8] = &[];
        *op = crate::format::read_op(self.ops.record(i)?, &mut rest);
        io.read(rest)
    }

    /// Graph input (`outputs` false) or output `i` for the executor.
    #[inline]
    pub(crate) fn io_ref(&self, outputs: bool, i: usize) -> Result<TensorRef> {
        let list = if outputs {
            &self.io.outputs
        } else {
            &self.io.inputs
        };
        let t = *list.get(i).ok_or(Error::NoSuchIndex { index: i as u32 })?;
        self.tensor_ref(t).ok_or(Error::BadTensor { tensor: t })
    }
}
