//! Importers: source files → [`Imported`] (converter IR plus what the model file carries
//! besides the graph). [`import`] dispatches on the file:
//!
//! - ONNX-ML (scikit-learn exports with `ai.onnx.ml` nodes: preprocessing, linear and
//!   tree models) is read from the protobuf directly by [`onnxml`];
//! - every other ONNX model goes through tract ([`tract`]), after the protobuf-level
//!   passes: [`batchnorm`] expands batch norms with non-constant parameters, [`qdq`]
//!   turns a pre-quantized (QDQ / QLinear) model into a float one and keeps its
//!   quantization as hints (an f32 / f16 conversion turns them into clamps:
//!   [`qdq_clamp`]); [`recurrent`] cuts LSTM / GRU / RNN nodes out before tract
//!   and splices them back in as ferrite's `Recurrent` op; [`scan`] unrolls `Scan`
//!   loops.
//!
//! [`proto`] holds the protobuf readers and builders all of them share.

pub mod batchnorm;
mod guard;
mod imported;
pub mod onnxml;
pub mod proto;
pub mod qdq;
pub mod qdq_clamp;
mod qdq_concat;
pub mod recurrent;
pub mod scan;
pub mod tract;

pub use imported::Imported;
pub use onnxml::is_onnxml;

use crate::error::{Error, Result};
use crate::preprocess::spec::FeatureSpec;

/// Options common to every importer.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Fixed shapes for named inputs (`--input-shape NAME=1,3,32,32`).
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// A declarative preprocessing pipeline (`FEATURES.toml`, `--preprocess`) whose
    /// output feeds the model's input; for an ONNX-ML model it runs before the model's
    /// own preprocessing.
    pub features: Option<FeatureSpec>,
}

/// Imports an ONNX model (bytes of a `.onnx` file).
///
/// A model whose Quantize/DequantizeLinear pairs carry the quantization (QDQ, as written
/// by `onnxruntime.quantization`) has the quantization recorded on the IR tensors
/// ([`crate::ir::Tensor::qhint`]) so the int8 emitter reuses it instead of calibrating.
pub fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported> {
    if bytes.is_empty() {
        return Err(Error::Usage(
            "the file is empty (0 bytes): not an ONNX model".into(),
        ));
    }
    if is_onnxml(bytes) {
        return onnxml::lower(bytes, opts.features.as_ref());
    }
    let mut proto = tract::parse(bytes)?;
    batchnorm::prepare(&mut proto);
    let hints = qdq::prepare(&mut proto)?;
    scan::unroll(&mut proto, &opts.input_shapes)?;
    // A recurrent node ferrite's Recurrent op cannot take (weights fed as inputs,
    // batch-major layout) may still import through tract's lowering into plain ops;
    // the recurrent reason is reported only if that fails too.
    let uncut = recurrent::present(&proto).then(|| proto.clone());
    let mut graph = match recurrent::prepare(&mut proto, &opts.input_shapes) {
        Ok(cuts) => {
            let mut graph = tract::import_proto(&proto, &opts.input_shapes)?;
            recurrent::apply(&mut graph, &cuts)?;
            graph
        }
        Err(why @ Error::Unsupported { .. }) => match uncut {
            Some(uncut) => tract::import_proto(&uncut, &opts.input_shapes).map_err(|_| why)?,
            None => return Err(why),
        },
        Err(e) => return Err(e),
    };
    qdq::apply(&mut graph, &hints);
    let preprocess = match &opts.features {
        Some(spec) => {
            let want = graph
                .inputs
                .first()
                .map(|&i| graph.tensors[i].elements())
                .unwrap_or(0);
            if spec.out_len() != want {
                return Err(Error::Usage(format!(
                    "FEATURES.toml produces {} values but the model input has {want}",
                    spec.out_len()
                )));
            }
            Some(spec.section()?)
        }
        None => None,
    };
    Ok(Imported {
        graph,
        preprocess,
        ..Imported::default()
    })
}

/// The names of an ONNX model's graph inputs (initializers left out), in order.
pub fn input_names_of(bytes: &[u8]) -> Result<Vec<String>> {
    let proto = tract::parse(bytes)?;
    let Some(g) = proto.graph.as_ref() else {
        return Ok(Vec::new());
    };
    Ok(g.input
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| !g.initializer.iter().any(|t| &t.name == n))
        .collect())
}

/// Parses `NAME=d0,d1,...` (the `--input-shape` syntax).
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>)> {
    let bad = || {
        Error::Usage(format!(
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
