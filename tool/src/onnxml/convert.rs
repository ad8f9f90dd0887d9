//! Glue between the ONNX-ML importer and `ferrite convert` (the tool's
//! [`ConvertOptions`] / [`ConvertReport`]).

use super::spec::FeatureSpec;
use super::{is_onnxml, lower_onnxml_bytes, OnnxMlOptions};
use crate::convert::{convert_graph_with, ConvertOptions, ConvertReport, Extras};
use crate::error::{Error, Result};
use std::path::Path;

/// `ferrite convert` for an ONNX-ML (scikit-learn) model. The importer lowers the
/// model part to converter IR and the preprocessing to a PREPROCESS section; the IR
/// then takes the same road as any ONNX model ([`convert_graph_with`]): f32, f16
/// (FullyConnected weights as f16) or int8 (the neural ops — an MLP's
/// FullyConnected layers — quantized with ranges calibrated on the calibration rows
/// after the model's own preprocessing). Preprocessing, `Linear`, `TreeEnsemble` and
/// `Normalize` stay exact in f32 in every precision; a pipeline with nothing neural
/// converts to the f32 model and the report says so (`notes`). Calibration rows,
/// agreement rows and golden-vector rows are raw feature rows (NaN allowed where the
/// pipeline imputes).
pub fn convert_report(
    onnx: &[u8],
    opts: &ConvertOptions,
    features: Option<&FeatureSpec>,
) -> Result<ConvertReport> {
    let l = lower_onnxml_bytes(
        onnx,
        &OnnxMlOptions {
            name: opts.name.clone(),
            features: features.cloned(),
        },
    )?;
    convert_graph_with(&l.graph, onnx, opts, &l.extras())
}

/// `ferrite convert MODEL.onnx [--preprocess FEATURES.toml]`: ONNX-ML models go
/// through the ONNX-ML importer (the FEATURES.toml steps run before the model's own
/// preprocessing), other models through tract; either way the FEATURES.toml pipeline
/// is part of the model from the start, so `--calibration` rows are raw rows.
pub fn convert_file_with_features(
    path: &Path,
    opts: &ConvertOptions,
    features: Option<&Path>,
) -> Result<ConvertReport> {
    let spec = features.map(FeatureSpec::load).transpose()?;
    let (onnx, opts) = crate::convert::read_source(path, opts)?;
    convert_with_features(&onnx, &opts, spec.as_ref())
}

/// [`convert_file_with_features`] on bytes.
pub fn convert_with_features(
    onnx: &[u8],
    opts: &ConvertOptions,
    spec: Option<&FeatureSpec>,
) -> Result<ConvertReport> {
    if is_onnxml(onnx) {
        return convert_report(onnx, opts, spec);
    }
    let Some(spec) = spec else {
        return crate::convert::convert(onnx, opts);
    };
    let graph = crate::convert::import_graph(onnx, &opts.input_shapes)?;
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
    let extras = Extras {
        preprocess: Some(spec.section()?),
        ..Extras::default()
    };
    convert_graph_with(&graph, onnx, opts, &extras)
}
