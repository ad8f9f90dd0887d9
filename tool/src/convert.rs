//! `ferrite convert`: ONNX → `.fer`.
//!
//! Pipeline: import (tract: typing, constant folding, declutter) → IR simplification
//! (activation and bias folding) → f32 model → for int8, calibration of every
//! activation by running the f32 model with the runtime itself → the model in the
//! requested precision → float-vs-quantized agreement → golden vectors (the runtime's
//! own outputs) → provenance. The result is loaded back with `Model::load` and its
//! golden vectors checked before it is returned.
//!
//! A model with a preprocessing pipeline (the ONNX-ML importer's, or a `FEATURES.toml`
//! one: [`Imported::preprocess`]) takes raw rows: the calibration rows are raw
//! rows, run through the f32 model's own pipeline before the graph is calibrated, and
//! the agreement is measured end to end on the same raw rows. The pipeline and the
//! classical ops stay f32 in every precision.
//!
//! With [`ConvertOptions::batch`] N > 1, the result is a batch file whose input 0 holds
//! N rows, checked to reproduce the batch-1 file (int8 outputs bit for bit, f32 up to
//! rounding; see [`crate::batch`]).

use crate::batch::{self, BATCH_PROPERTY};
use crate::data::Dataset;
use crate::emit::{self, Int8Options, Precision as EmitPrecision};
use crate::error::{Error, Result};
use crate::import::{self, qdq_clamp, ImportOptions, Imported};
use crate::ir::input_layout::{nhwc_graph, InputLayout, LAYOUT_PROPERTY};
use crate::ir::Graph;
use crate::preprocess::spec::FeatureSpec;
use crate::quant::{CalibrationMethod, Observer, Ranges};
use crate::run::{argmax, check_joined, infer_all, is_classifier};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, DType, OwnedSession};
use sha2::{Digest, Sha256};
use std::path::Path;

pub use crate::calibration::calibration_problems;
pub use crate::emit::Precision;

/// Everything `convert` can be asked to do.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub precision: Precision,
    /// Calibration rows (int8: required; otherwise used for golden vectors and the
    /// f16 agreement check).
    pub calibration: Option<Dataset>,
    /// SHA-256 of the calibration file, recorded in the provenance.
    pub calibration_sha256: Option<String>,
    pub calibration_method: CalibrationMethod,
    /// Fixed input shapes (`--input-shape`).
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// Streaming state pairs `(input name, output name)` (`--state IN=OUT`).
    pub state: Vec<(String, String)>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// Class labels of output 0, in order.
    pub labels: Vec<String>,
    /// Name of the source file, recorded in the provenance.
    pub source_name: Option<String>,
    /// Golden vectors to store: compact (seeded inputs, output digests), or the first
    /// calibration rows in full when a graph input is neither f32 nor int8 / uint8.
    pub golden: usize,
    /// Show progress bars on stderr (when it is a terminal).
    pub progress: bool,
    /// Told each stage as it starts (see [`Stage`]).
    pub stages: Option<StageLog>,
    /// int8 layout choices (weight granularity, int8 graph input).
    pub int8: Int8Options,
    /// A declarative preprocessing pipeline (`--preprocess FEATURES.toml`) that becomes
    /// part of the model; for a scikit-learn (ONNX-ML) model it runs before the model's
    /// own preprocessing. `calibration` rows are then raw rows.
    pub features: Option<FeatureSpec>,
    /// Rows input 0 holds (`--batch`): 1 for the file the device runs; N > 1 writes a
    /// batch file for scoring many rows on a host (see [`crate::batch`]).
    pub batch: usize,
    /// Layout of the image (rank-4) inputs (`--input-layout`): NHWC makes the model
    /// take them channels-last (see [`crate::ir::input_layout`]); calibration rows stay
    /// in the source's layout.
    pub input_layout: InputLayout,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            precision: Precision::F32,
            calibration: None,
            calibration_sha256: None,
            calibration_method: CalibrationMethod::MinMax,
            input_shapes: Vec::new(),
            state: Vec::new(),
            name: None,
            version: None,
            description: None,
            labels: Vec::new(),
            source_name: None,
            golden: 4,
            progress: false,
            stages: None,
            int8: Int8Options::default(),
            features: None,
            batch: 1,
            input_layout: InputLayout::Nchw,
        }
    }
}

/// A stage of [`convert`], in the order they run: import, the f32 model, calibration
/// (int8 with data), the model in the requested precision (when not f32), the agreement
/// check (f16 / int8 with data), golden vectors, and loading the result back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Import,
    Emit(Precision),
    Calibrate,
    Agreement,
    Golden,
    Check,
}

impl Stage {
    /// What the stage does, for a progress line.
    pub fn describe(self) -> String {
        match self {
            Stage::Import => "importing the ONNX model".into(),
            Stage::Emit(p) => format!("writing the {} model", p.name()),
            Stage::Calibrate => "calibrating activation ranges".into(),
            Stage::Agreement => "measuring agreement with the f32 model".into(),
            Stage::Golden => "computing golden vectors".into(),
            Stage::Check => "loading the result back and checking its golden vectors".into(),
        }
    }
}

/// A callback told each [`Stage`] of a conversion as it starts.
#[derive(Clone)]
pub struct StageLog(std::sync::Arc<dyn Fn(Stage) + Send + Sync>);

impl StageLog {
    pub fn new(f: impl Fn(Stage) + Send + Sync + 'static) -> StageLog {
        StageLog(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for StageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StageLog")
    }
}

fn stage(opts: &ConvertOptions, s: Stage) {
    if let Some(log) = &opts.stages {
        (log.0)(s);
    }
}

/// Float-vs-converted agreement measured at conversion, on the calibration rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    pub rows: usize,
    /// Share of rows with the same arg-max of output 0 (`None` unless it holds class
    /// scores, see [`crate::run::is_classifier`]).
    pub top1: Option<f64>,
    pub max_abs_error: f32,
    pub mean_abs_error: f32,
}

/// What `convert` produced.
#[derive(Clone, Debug)]
pub struct ConvertReport {
    /// The `.fer` file.
    pub bytes: Vec<u8>,
    pub precision: Precision,
    pub ops: usize,
    pub arena_bytes: usize,
    pub parameter_bytes: usize,
    pub source_sha256: String,
    pub agreement: Option<Agreement>,
    /// IR ops that an int8 model runs in f32 (between Dequantize and Quantize).
    pub float_ops: Vec<String>,
    pub golden: usize,
    /// Things the user should know about the conversion, e.g. that an int8 / f16
    /// conversion found nothing to quantize (a model of only classical ops).
    pub notes: Vec<String>,
    /// [`calibration_problems`] of the calibration rows (empty without them).
    pub calibration_problems: Vec<String>,
}

/// SHA-256 as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Converts the ONNX file at `path` (see [`convert`]).
pub fn convert_file(path: &Path, opts: &ConvertOptions) -> Result<ConvertReport> {
    let (bytes, opts) = read_source(path, opts)?;
    convert(&bytes, &opts)
}

/// The bytes of the ONNX file at `path`, and `opts` with the file's name as the
/// provenance `source` and its stem as the model name unless they are set.
fn read_source(path: &Path, opts: &ConvertOptions) -> Result<(Vec<u8>, ConvertOptions)> {
    let bytes = crate::error::read_file(path)?;
    if bytes.is_empty() {
        return Err(Error::Usage(format!(
            "{}: the file is empty (0 bytes): not an ONNX model",
            path.display()
        )));
    }
    let mut opts = opts.clone();
    if opts.source_name.is_none() {
        opts.source_name = path.file_name().map(|f| f.to_string_lossy().to_string());
    }
    if opts.name.is_none() {
        opts.name = path.file_stem().map(|f| f.to_string_lossy().to_string());
    }
    Ok((bytes, opts))
}

/// Converts ONNX bytes to a `.fer` model: [`import::import`], then
/// [`convert_imported`] (twice for a batch file, see [`crate::batch`]).
pub fn convert(onnx: &[u8], opts: &ConvertOptions) -> Result<ConvertReport> {
    match opts.batch {
        0 => return Err(Error::Usage("--batch must be at least 1".into())),
        1 => {}
        _ => return convert_batched(onnx, opts),
    }
    stage(opts, Stage::Import);
    let imported = import::import(
        onnx,
        &ImportOptions {
            input_shapes: opts.input_shapes.clone(),
            features: opts.features.clone(),
        },
    )?;
    convert_imported(&imported, onnx, opts)
}

/// Converts an imported model; `source` (the ONNX bytes) is hashed for the provenance.
pub fn convert_imported(
    imported: &Imported,
    source: &[u8],
    opts: &ConvertOptions,
) -> Result<ConvertReport> {
    if let Some(float) = qdq_clamp::float_model(imported, opts.precision != Precision::Int8) {
        return convert_imported(&float, source, opts);
    }
    if opts.input_layout == InputLayout::Nhwc {
        let (mut laid, mut opts) = (imported.clone(), opts.clone());
        let raw = laid.preprocess.is_some();
        opts.calibration = nhwc_graph(&mut laid.graph, raw, opts.calibration.as_ref())?;
        opts.input_layout = InputLayout::Nchw;
        laid.properties
            .push((LAYOUT_PROPERTY.into(), "nhwc".into()));
        return convert_laid_out(&laid, source, &opts);
    }
    convert_laid_out(imported, source, opts)
}

fn convert_laid_out(
    imported: &Imported,
    source: &[u8],
    opts: &ConvertOptions,
) -> Result<ConvertReport> {
    let graph = &imported.graph;
    let name = opts.name.clone().unwrap_or_else(|| "model".into());
    stage(opts, Stage::Emit(Precision::F32));
    let mut fb = emit::emit(graph, EmitPrecision::F32, None, &name)?.builder;
    attach_preprocess(imported, &mut fb);
    let f32_bytes = fb.finish()?;
    let data = opts.calibration.as_ref();
    {
        let a = AlignedModel::new(&f32_bytes);
        let model = a.model()?;
        // One label per class: per value of output 0, or of its last axis for a batch.
        let n = model.output_len(0)?;
        let last = model.output(0)?.shape.last().map_or(n, |&d| d as usize);
        if !opts.labels.is_empty() && opts.labels.len() != n && opts.labels.len() != last {
            return Err(Error::Usage(format!(
                "--labels: {} labels but the model's output \"{}\" has {last} values (one label per value)",
                opts.labels.len(),
                model.output(0)?.name
            )));
        }
    }
    // The calibration rows as graph inputs (after the model's own preprocessing).
    let graph_data = match data {
        Some(d) => {
            let a = AlignedModel::new(&f32_bytes);
            let model = a.model()?;
            let widths = crate::feed::input_widths(&model)?;
            check_joined(&model, d, &widths)?;
            Some(graph_rows(&model, d)?)
        }
        None => None,
    };
    let ranges = match (opts.precision, graph_data.as_ref()) {
        (Precision::Int8, Some(d)) => Some({
            stage(opts, Stage::Calibrate);
            calibrate(graph, &f32_bytes, d, opts.calibration_method, opts.progress)?
        }),
        // Without data: a pre-quantized (QDQ) source, or nothing to quantize.
        (Precision::Int8, None) => Some(Ranges {
            ranges: vec![None; graph.tensors.len()],
        }),
        _ => None,
    };
    if opts.precision != Precision::F32 {
        stage(opts, Stage::Emit(opts.precision));
    }
    // Every precision runs its convolutions channels-last on the engine ops; int8 takes
    // the calibration of the original graph through the pass's trace.
    let (nhwc, trace) = graph.to_nhwc_traced();
    let written = match (opts.precision, ranges.as_ref()) {
        (Precision::Int8, Some(r)) => emit::emit_int8_nhwc(&nhwc, &trace, r, &name, opts.int8),
        _ => emit::emit_with(&nhwc, opts.precision, ranges.as_ref(), &name, opts.int8),
    };
    let emitted = match written {
        // Something needed a calibrated range.
        Err(_)
            if opts.precision == Precision::Int8
                && data.is_none()
                && !graph.tensors.iter().any(|t| t.qhint.is_some()) =>
        {
            return Err(Error::Usage(
                "--precision int8 needs calibration data: add --calibration DATA (CSV, .npy or JSON rows of model inputs; raw rows for a model with preprocessing)".into(),
            ))
        }
        r => r?,
    };
    let (mut b, float_ops) = (emitted.builder, emitted.float_ops);
    let mut notes = imported.notes.clone();
    notes.extend(emitted.notes);
    if opts.precision != Precision::F32 && emitted.reduced_ops == 0 {
        notes.push(nothing_to_convert(graph, opts.precision, &b));
    }
    attach_preprocess(imported, &mut b);
    set_state(graph, &opts.state, &mut b)?;
    b.version = opts.version.clone().unwrap_or_else(|| "0.1.0".into());
    b.description = opts.description.clone().unwrap_or_default();
    b.labels = if opts.labels.is_empty() {
        imported.labels.clone()
    } else {
        opts.labels.clone()
    };
    let agreement = match (opts.precision, data) {
        (Precision::F32, _) | (_, None) => None,
        (_, Some(d)) => {
            stage(opts, Stage::Agreement);
            Some(measure_agreement(&f32_bytes, &b.finish()?, d)?)
        }
    };
    let mut props = imported.properties.clone();
    props.extend([
        ("source_sha256".into(), sha256_hex(source)),
        ("precision".into(), opts.precision.name().into()),
    ]);
    if opts.precision != Precision::F32 {
        props.push((
            "reduced_ops".into(),
            format!("{} of {}", emitted.reduced_ops, nhwc.nodes.len()),
        ));
    }
    if let Some(s) = &opts.source_name {
        props.push(("source".into(), s.clone()));
    }
    if let Some(d) = data {
        if let Some(h) = &opts.calibration_sha256 {
            props.push(("calibration_sha256".into(), h.clone()));
        }
        props.push(("calibration_rows".into(), d.rows.to_string()));
        if opts.precision == Precision::Int8 {
            props.push((
                "calibration_method".into(),
                opts.calibration_method.name().into(),
            ));
        }
    }
    if let Some(a) = &agreement {
        if let Some(t) = a.top1 {
            props.push(("agreement_top1".into(), format!("{t:.4}")));
        }
        props.push((
            "agreement_max_abs_error".into(),
            format!("{:.3e}", a.max_abs_error),
        ));
    }
    b.properties = props;
    stage(opts, Stage::Golden);
    let golden = crate::golden::add_golden(&mut b, graph, graph_data.as_ref(), opts.golden)?;
    let bytes = b.finish()?;
    stage(opts, Stage::Check);
    // Load it back: the runtime validates everything, and the golden vectors must hold.
    let aligned = AlignedModel::new(&bytes);
    let model = aligned.model()?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    for g in 0..model.num_golden() {
        s.check_golden(g)?;
    }
    Ok(ConvertReport {
        precision: opts.precision,
        ops: model.num_ops() as usize,
        arena_bytes: model.arena_size(),
        parameter_bytes: model.parameter_bytes(),
        source_sha256: sha256_hex(source),
        agreement,
        float_ops,
        golden,
        notes,
        calibration_problems: data.map(calibration_problems).unwrap_or_default(),
        bytes,
    })
}

/// A batch file of `opts.batch` rows per inference, checked against the batch-1
/// conversion (see [`crate::batch`]).
fn convert_batched(onnx: &[u8], opts: &ConvertOptions) -> Result<ConvertReport> {
    let n = opts.batch;
    if import::is_onnxml(onnx) || opts.features.is_some() {
        return Err(Error::Usage(format!(
            "--batch {n} applies to neural ONNX models without preprocessing: a \
             scikit-learn (ONNX-ML) pipeline or a --preprocess pipeline runs one row at a \
             time; convert it without --batch"
        )));
    }
    let single = convert(
        onnx,
        &ConvertOptions {
            batch: 1,
            ..opts.clone()
        },
    )?;
    let device_file = AlignedModel::new(&single.bytes);
    let device = device_file.model()?;
    let (input, mut shape) = batch::batchable_input(&device, n)?;
    shape[0] = n;
    if let (InputLayout::Nhwc, &[n, h, w, c]) = (opts.input_layout, shape.as_slice()) {
        shape = vec![n, c, h, w]; // the importer takes the source's (NCHW) shape
    }
    let mut bopts = opts.clone();
    bopts.input_shapes.retain(|(name, _)| *name != input);
    bopts.input_shapes.push((input, shape));
    bopts.golden = 0;
    bopts.calibration = opts.calibration.as_ref().map(|d| batch::repeat_rows(d, n));
    let mut imported = import::import(
        onnx,
        &ImportOptions {
            input_shapes: bopts.input_shapes.clone(),
            features: None,
        },
    )?;
    imported
        .properties
        .push((BATCH_PROPERTY.into(), n.to_string()));
    let report = convert_imported(&imported, onnx, &bopts)?;
    let batch_file = AlignedModel::new(&report.bytes);
    let batched = batch_file.model()?;
    if batch::rows_per_run(&batched) != n {
        return Err(Error::Usage(format!(
            "--batch {n}: the converted model's outputs do not all have a leading \
             dimension of {n} rows, so its rows cannot be split; convert it without --batch"
        )));
    }
    batch::check_same_results(&device, &batched, opts.calibration.as_ref(), n)?;
    Ok(report)
}

/// Makes `b` a streaming model with the `(input, output)` state pairs named in `state`:
/// each a graph input (not the first) and a graph output (not the first) of the same
/// shape; every recurrent op must run forward (a reverse pass needs the frames to come).
fn set_state(graph: &Graph, state: &[(String, String)], b: &mut ModelBuilder) -> Result<()> {
    if state.is_empty() {
        return Ok(());
    }
    use ferrite::format::types::{Direction, Op};
    if let Some(n) = graph.nodes.iter().find(
        |n| matches!(&n.op, Op::Recurrent { direction, .. } if *direction != Direction::Forward),
    ) {
        return Err(Error::Usage(format!(
            "--state: {} \"{}\" is not a forward recurrent op; streaming feeds one frame at a time, which a reverse or bidirectional pass cannot use",
            n.op.name(),
            n.name
        )));
    }
    let find = |ids: &[usize], name: &str, what: &str| {
        ids.iter()
            .position(|&t| graph.tensors[t].name == name)
            .filter(|&k| k > 0)
            .ok_or_else(|| {
                let names: Vec<&str> = ids.iter().map(|&t| graph.tensors[t].name.as_str()).collect();
                Error::Usage(format!(
                    "--state: \"{name}\" is not a graph {what} other than the first (the {what}s are: {})",
                    names.join(", ")
                ))
            })
    };
    let mut pairs = Vec::new();
    for (i, o) in state {
        let (ki, ko) = (
            find(&graph.inputs, i, "input")?,
            find(&graph.outputs, o, "output")?,
        );
        let (ti, to) = (
            &graph.tensors[graph.inputs[ki]],
            &graph.tensors[graph.outputs[ko]],
        );
        if ti.shape != to.shape {
            return Err(Error::Usage(format!(
                "--state {i}={o}: shapes {:?} and {:?} differ",
                ti.shape, to.shape
            )));
        }
        pairs.push((ki as u32, ko as u32));
    }
    b.set_state(&pairs)?;
    Ok(())
}

/// Adds the model's PREPROCESS section, if it has one.
fn attach_preprocess(imported: &Imported, b: &mut ModelBuilder) {
    if let Some(s) = &imported.preprocess {
        b.add_section(ferrite::format::kind::PREPROCESS, true, s.clone());
    }
}

/// The note for an f16 / int8 conversion that converted no op (e.g. a pipeline of only
/// linear models and tree ensembles).
fn nothing_to_convert(graph: &Graph, precision: Precision, b: &ModelBuilder) -> String {
    let mut ops: Vec<&str> = graph.nodes.iter().map(|n| n.op.name()).collect();
    ops.sort_unstable();
    ops.dedup();
    let (what, why) = match precision {
        Precision::Int8 => ("quantize", "no op runs in int8"),
        _ => ("store as f16", "no FullyConnected / Conv / MatMul weights"),
    };
    // Exact when the file holds no int8 / f16 tensor at all (e.g. no int8 input either).
    let exact = (0..b.num_tensors())
        .filter_map(|t| b.tensor_info(t))
        .all(|(_, dt, _, _)| !matches!(dt, DType::I8 | DType::F16));
    format!(
        "nothing to {what}: {why} (its ops — {} — and any preprocessing stay f32){}",
        ops.join(", "),
        if exact {
            "; the model computes exactly what the f32 model computes"
        } else {
            ""
        }
    )
}

/// The rows of `data` as graph input 0: unchanged without a preprocessing pipeline;
/// with one, each row's pipeline output, leaving out rows the pipeline rejects or
/// leaves with a missing value (the model rejects those too).
pub fn graph_rows(model: &ferrite::Model<'_>, data: &Dataset) -> Result<Dataset> {
    if model.preprocess().is_none() {
        return Ok(data.clone());
    }
    let width = model.input_len(0)?;
    let mut owned = OwnedSession::new(model);
    let mut s = owned.session();
    let mut feats = vec![0f32; width];
    let mut out = Dataset {
        rows: 0,
        cols: width,
        values: Vec::new(),
        header: None,
        lines: Vec::new(),
        origin: format!("{} (after the model's preprocessing)", data.origin),
    };
    for (r, row) in data.iter_rows().enumerate() {
        if s.preprocess(row, &mut feats).is_err() || feats.iter().any(|v| !v.is_finite()) {
            continue;
        }
        out.values.extend_from_slice(&feats);
        out.lines.push(data.lines.get(r).copied().unwrap_or(r + 1));
        out.rows += 1;
    }
    if out.rows == 0 && data.rows > 0 {
        return Err(Error::Data {
            path: data.origin.clone(),
            line: data.lines.first().copied().unwrap_or(0),
            column: 0,
            message: "the model's preprocessing rejects every row".into(),
        });
    }
    Ok(out)
}

/// Runs the f32 model over the calibration rows and records every activation range.
pub fn calibrate(
    graph: &Graph,
    f32_bytes: &[u8],
    data: &Dataset,
    method: CalibrationMethod,
    progress: bool,
) -> Result<Ranges> {
    let aligned = AlignedModel::new(f32_bytes);
    let model = aligned.model()?;
    if model.num_ops() as usize != graph.nodes.len() {
        return Err(Error::Other(
            "internal: the f32 model does not map 1:1 to the IR".into(),
        ));
    }
    let mut obs = Observer::new(graph.tensors.len(), method);
    let passes = obs.passes();
    let bar = progress_bar(
        progress,
        (data.rows * passes as usize) as u64,
        "calibrating",
    );
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let widths: Vec<usize> = graph
        .inputs
        .iter()
        .map(|&i| graph.tensors[i].elements())
        .collect();
    for p in 0..passes {
        obs.begin_pass(p);
        for row in data.iter_rows() {
            for (k, x) in crate::feed::split(row, &widths).into_iter().enumerate() {
                s.set_input_f32(k, x)?;
                obs.observe(graph.inputs[k], x);
            }
            let mut err = None;
            s.run_observed(|op, def, bytes| {
                let t = graph.nodes[op as usize].output;
                if def.dtype == DType::F32 {
                    match bytemuck::try_cast_slice::<u8, f32>(bytes) {
                        Ok(v) => obs.observe(t, v),
                        Err(_) => err = Some(Error::Other("internal: misaligned tensor".into())),
                    }
                }
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(obs.finish())
}

fn progress_bar(enabled: bool, len: u64, msg: &'static str) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} rows (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(msg);
    bar
}

/// Compares the float and converted models on the rows of `data` (raw rows: each
/// model runs its own preprocessing; rows the f32 model's pipeline rejects are left
/// out, `rows` counts the rows compared).
pub fn measure_agreement(f32_bytes: &[u8], conv_bytes: &[u8], data: &Dataset) -> Result<Agreement> {
    let fa = AlignedModel::new(f32_bytes);
    let fm = fa.model()?;
    let ca = AlignedModel::new(conv_bytes);
    let cm = ca.model()?;
    let mut fo = OwnedSession::new(&fm);
    let mut co = OwnedSession::new(&cm);
    let (mut fs, mut cs) = (fo.session(), co.session());
    let widths = crate::feed::input_widths(&fm)?;
    let (mut same, mut max, mut sum, mut count) = (0usize, 0f32, 0f64, 0usize);
    let classifier = is_classifier(&fm)?;
    let mut rows = 0;
    for row in data.iter_rows() {
        let a = match infer_all(&fm, &mut fs, row, &widths) {
            Ok(a) => a,
            Err(_) if fm.preprocess().is_some() => continue,
            Err(e) => return Err(e),
        };
        rows += 1;
        let b = infer_all(&cm, &mut cs, row, &widths)?;
        if argmax(&a[0]) == argmax(&b[0]) {
            same += 1;
        }
        for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
            let d = (x - y).abs();
            max = max.max(d);
            sum += d as f64;
            count += 1;
        }
    }
    Ok(Agreement {
        rows,
        top1: classifier.then(|| same as f64 / rows.max(1) as f64),
        max_abs_error: max,
        mean_abs_error: (sum / count.max(1) as f64) as f32,
    })
}
