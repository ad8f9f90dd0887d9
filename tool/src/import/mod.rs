//! Importers: one function per source format, each producing the IR ([`crate::ir::Graph`]).
//!
//! - [`onnx`]: neural ONNX models through tract ([`tract`]), with pre-quantized QDQ models
//!   recognised by [`qdq`] and batch norms with non-constant parameters expanded by
//!   [`batchnorm`].
//! - ONNX-ML (scikit-learn exports: preprocessing, linear and tree models) is read from
//!   the protobuf directly by a sibling module `onnxml` (issue 4); `onnx` is the place
//!   that dispatches between the two.

pub mod batchnorm;
pub mod proto;
pub mod qdq;
pub mod tract;

use crate::error::Result;
use crate::ir::Graph;

/// Options common to every importer.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Fixed shapes for named inputs (`--input-shape NAME=1,3,32,32`).
    pub input_shapes: Vec<(String, Vec<usize>)>,
}

/// Imports an ONNX model (bytes of a `.onnx` file) into the IR.
///
/// A model whose Quantize/DequantizeLinear pairs carry the quantization (QDQ, as written
/// by `onnxruntime.quantization`) has the quantization recorded on the IR tensors
/// ([`crate::ir::Tensor::qhint`]) so the int8 emitter reuses it instead of calibrating.
pub fn onnx(bytes: &[u8], opts: &ImportOptions) -> Result<Graph> {
    let mut proto = tract::parse(bytes)?;
    batchnorm::prepare(&mut proto);
    let hints = qdq::prepare(&mut proto)?;
    let mut g = tract::import_proto(&proto, opts)?;
    qdq::apply(&mut g, &hints);
    Ok(g)
}

/// Parses `NAME=d0,d1,...` (the `--input-shape` syntax).
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>)> {
    let bad = || {
        crate::Error::Usage(format!(
            "--input-shape expects NAME=d0,d1,... (e.g. input=1,3,32,32), got \"{s}\""
        ))
    };
    let (name, dims) = s.rsplit_once('=').ok_or_else(bad)?;
    let dims: Vec<usize> = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    if name.is_empty() || dims.is_empty() || dims.contains(&0) {
        return Err(bad());
    }
    Ok((name.to_string(), dims))
}
