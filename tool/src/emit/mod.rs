//! IR → `.fer`: writes a [`Graph`] with the runtime's own `ModelBuilder` in f32, f16
//! or int8.
//!
//! - **f32**: one ferrite op per IR node (op `i` of the file is node `i`); the engine
//!   ops of the NHWC pass get their weights packed (`nhwc.rs`), and a first-layer
//!   `ConvNhwc` behind the pass's NCHW → NHWC transpose of a graph input with 1–4
//!   channels reads the input itself (`ConvNchw`, format 1.5): that transpose is not
//!   written, so such a file has one op fewer than the graph.
//! - **f16** ([`mod@f16`]): FullyConnected and the NHWC engine convolutions store their
//!   weights packed as f16 and read them directly (the arena is the f32 model's); an
//!   NCHW Conv or a MatMul stores f16 weights widened by a `Cast` op into an arena
//!   scratch tensor right before the op.
//! - **int8** ([`int8`]): the ops with an int8 form run on int8, every other op is an
//!   f32 island between a `Dequantize` and a `Quantize`, named with its reason in
//!   [`Emitted::float_ops`]. [`emit_int8_nhwc`] writes the graph of the NHWC pass: its
//!   convolutions become int8 engine ops with packed weights.
//!
//! What each op becomes in f16 and int8 is decided in one exhaustive match,
//! [`plan::forms`].

pub mod f16;
pub mod int8;
mod nhwc;
pub mod plan;
mod writer;

pub use int8::{Int8Options, WeightGranularity};
pub use writer::producer;

use crate::error::{Error, Result};
use crate::ir::nhwc::NhwcTrace;
use crate::ir::{Graph, TId};
use crate::quant::Ranges;
use ferrite::format::types::Op;
use ferrite::format::write::ModelBuilder;
use std::collections::HashMap;
use writer::Writer;

/// Numeric precision of a written model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    F16,
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "int8" | "i8" => Ok(Precision::Int8),
            _ => Err(Error::Usage(format!(
                "unknown precision \"{s}\" (f32, f16, int8)"
            ))),
        }
    }
}

/// A written graph: the builder (metadata and golden vectors still to add) and the
/// IR nodes that an int8 model runs in f32.
#[derive(Debug)]
pub struct Emitted {
    pub builder: ModelBuilder,
    /// The f32 islands of an int8 model, one per IR node: `name (Op): reason`
    /// ([`plan::F32Reason`]).
    pub float_ops: Vec<String>,
    /// IR nodes written in the requested reduced precision: int8 ops, or ops whose
    /// weights are stored as f16 (0 for f32, and when there was nothing to convert,
    /// e.g. a model of only classical ops).
    pub reduced_ops: usize,
    /// Choices the emitter made that the caller should report.
    pub notes: Vec<String>,
}

/// Writes `g` into a new builder. `ranges` is required for int8.
pub fn emit(
    g: &Graph,
    precision: Precision,
    ranges: Option<&Ranges>,
    name: &str,
) -> Result<Emitted> {
    emit_with(g, precision, ranges, name, Int8Options::default())
}

/// [`emit`] with int8 options.
pub fn emit_with(
    g: &Graph,
    precision: Precision,
    ranges: Option<&Ranges>,
    name: &str,
    int8: Int8Options,
) -> Result<Emitted> {
    emit_impl(g, precision, ranges, name, int8, &HashMap::new())
}

/// The int8 model of `g`, the result of [`Graph::to_nhwc_traced`] with its `trace`;
/// `ranges` are the calibration of the original graph (each new tensor takes its
/// origin's range).
pub fn emit_int8_nhwc(
    g: &Graph,
    trace: &NhwcTrace,
    ranges: &Ranges,
    name: &str,
    int8: Int8Options,
) -> Result<Emitted> {
    let ranges = Ranges {
        ranges: trace.origin.iter().map(|&o| ranges.get(o)).collect(),
    };
    emit_impl(
        g,
        Precision::Int8,
        Some(&ranges),
        name,
        int8,
        &trace.residual_input,
    )
}

fn emit_impl(
    g: &Graph,
    precision: Precision,
    ranges: Option<&Ranges>,
    name: &str,
    int8: Int8Options,
    residual_input: &HashMap<TId, TId>,
) -> Result<Emitted> {
    let mut w = Writer::new(g, name);
    let mut notes = Vec::new();
    let mut input_ids = Vec::new();
    for &i in &g.inputs {
        let q = match (precision, ranges) {
            (Precision::Int8, Some(r)) => int8::input_qparam(g, i, r, int8, &mut notes),
            _ => None,
        };
        input_ids.push(w.input(i, q)?);
    }
    let (reduced_ops, float_ops) = match precision {
        Precision::F32 => {
            let (stems, skip) = nhwc::nchw_stems(g, true);
            for (i, n) in g.nodes.iter().enumerate() {
                if skip.contains(&i) {
                    continue;
                }
                if let Some(&x) = stems.get(&i) {
                    nhwc::write_stem(&mut w, n, x)?;
                } else if matches!(n.op, Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. }) {
                    let ins = nhwc::operands(&mut w, n, false)?;
                    w.op_f32(n, &ins)?;
                } else {
                    w.node_f32(n)?;
                }
            }
            (0, Vec::new())
        }
        Precision::F16 => (f16::nodes(&mut w)?, Vec::new()),
        Precision::Int8 => {
            let ranges = ranges.ok_or_else(|| {
                Error::Usage("int8 needs calibration data (--calibration DATA)".into())
            })?;
            let float_ops = int8::nodes(&mut w, ranges, int8, residual_input)?;
            (g.nodes.len() - float_ops.len(), float_ops)
        }
    };
    let mut outs = Vec::new();
    for &o in &g.outputs {
        outs.push(w.f32(o)?);
    }
    w.b.set_io(&input_ids, &outs)?;
    Ok(Emitted {
        builder: w.b,
        float_ops,
        reduced_ops,
        notes,
    })
}
