//! Glue between the ONNX-ML importer and `ferrite convert` (the tool's
//! [`ConvertOptions`] / [`ConvertReport`]).

use super::spec::FeatureSpec;
use super::{import_onnxml_bytes, is_onnxml, OnnxMlOptions};
use crate::convert::{sha256_hex, ConvertOptions, ConvertReport, Precision};
use crate::error::{Error, Result};
use std::path::Path;

/// `ferrite convert` for an ONNX-ML (scikit-learn) model: the whole pipeline in f32
/// (preprocessing section + graph), provenance, and golden vectors from the first
/// calibration rows (raw features) when `--calibration` is given.
///
/// `--precision f16/int8` is rejected: ONNX-ML models convert in f32 (trees and
/// preprocessing are exact in f32; quantizing an MLP part is not implemented yet).
pub fn convert_report(
    onnx: &[u8],
    opts: &ConvertOptions,
    features: Option<&FeatureSpec>,
) -> Result<ConvertReport> {
    if opts.precision != Precision::F32 {
        return Err(Error::Usage(format!(
            "--precision {} is not supported for ONNX-ML (scikit-learn) models yet: convert them in f32",
            opts.precision.name()
        )));
    }
    let imp = import_onnxml_bytes(
        onnx,
        &OnnxMlOptions {
            name: opts.name.clone(),
            features: features.cloned(),
        },
    )?;
    let mut b = imp.builder;
    if let Some(v) = &opts.version {
        b.version = v.clone();
    }
    b.description = opts.description.clone().unwrap_or_default();
    if !opts.labels.is_empty() {
        b.labels = opts.labels.clone();
    }
    b.properties
        .push(("source_sha256".into(), sha256_hex(onnx)));
    if let Some(s) = &opts.source_name {
        b.properties.push(("source".into(), s.clone()));
    }
    // Golden vectors: graph input bytes after the pipeline, and the outputs.
    let mut golden = 0;
    if let Some(d) = opts.calibration.as_ref().filter(|_| opts.golden > 0) {
        if let Some(h) = &opts.calibration_sha256 {
            b.properties.push(("calibration_sha256".into(), h.clone()));
        }
        let first = b.finish()?;
        let owned = ferrite::OwnedModel::new(&first)?;
        let model = owned.model();
        if d.cols != model.raw_input_len()? {
            return Err(Error::Usage(format!(
                "--calibration rows have {} values, the model takes {} raw features",
                d.cols,
                model.raw_input_len()?
            )));
        }
        let mut os = ferrite::OwnedSession::new(&model);
        let mut s = os.session();
        let mut feats = vec![0f32; model.input_len(0)?];
        let mut vectors = Vec::new();
        for row in d.iter_rows() {
            if vectors.len() == opts.golden {
                break;
            }
            // Rows the model rejects (e.g. an unknown category) make no golden vector.
            if s.preprocess(row, &mut feats).is_err() || feats.iter().any(|v| !v.is_finite()) {
                continue;
            }
            s.set_input_f32(0, &feats)?;
            s.run()?;
            vectors.push((feats_bytes(&feats), s.output_bytes(0)?.to_vec()));
        }
        golden = vectors.len();
        for (i, o) in vectors {
            b.add_golden(vec![i], vec![o]);
        }
    }
    let bytes = b.finish()?;
    let owned = ferrite::OwnedModel::new(&bytes)?;
    let model = owned.model();
    let mut os = ferrite::OwnedSession::new(&model);
    let mut s = os.session();
    for g in 0..model.num_golden() {
        s.check_golden(g)?;
    }
    Ok(ConvertReport {
        precision: Precision::F32,
        ops: model.num_ops() as usize,
        arena_bytes: model.arena_size(),
        parameter_bytes: model.parameter_bytes(),
        source_sha256: sha256_hex(onnx),
        agreement: None,
        float_ops: Vec::new(),
        golden,
        bytes,
    })
}

fn feats_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `ferrite convert MODEL.onnx [--preprocess FEATURES.toml]`: ONNX-ML models go
/// through the ONNX-ML importer (the FEATURES.toml steps run before the model's own
/// preprocessing), other models through [`crate::convert::convert_file`] with the
/// FEATURES.toml pipeline attached afterwards.
pub fn convert_file_with_features(
    path: &Path,
    opts: &ConvertOptions,
    features: Option<&Path>,
) -> Result<ConvertReport> {
    let spec = features.map(FeatureSpec::load).transpose()?;
    let onnx = crate::error::read_file(path)?;
    let mut opts = opts.clone();
    if opts.source_name.is_none() {
        opts.source_name = path.file_name().map(|f| f.to_string_lossy().to_string());
    }
    if opts.name.is_none() {
        opts.name = path.file_stem().map(|f| f.to_string_lossy().to_string());
    }
    if is_onnxml(&onnx) {
        return convert_report(&onnx, &opts, spec.as_ref());
    }
    let mut r = crate::convert::convert(&onnx, &opts)?;
    if let Some(spec) = &spec {
        r.bytes = super::spec::attach(&r.bytes, spec)?;
        let owned = ferrite::OwnedModel::new(&r.bytes)?;
        r.arena_bytes = owned.model().arena_size();
    }
    Ok(r)
}
