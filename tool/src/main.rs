//! `ferrite`: the command-line front of `ferrite_tool` (argument parsing and printing).
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

use clap::{Parser, Subcommand};
use ferrite_tool::args::{
    load_calibration, load_fer, parse_bound, parse_count, parse_input_layout, parse_labels,
    parse_share, parse_weights, plural, refuse_overwrite, rejected_path, stage_printer, AFTER_HELP,
    CONVERT_HELP, MONITOR_HELP, RUN_HELP, VALIDATE_HELP,
};
use ferrite_tool::bench::{bench, BenchOptions};
use ferrite_tool::convert::{convert_file, ConvertOptions, Precision};
use ferrite_tool::data::{to_csv, Dataset};
use ferrite_tool::emit::{Int8Options, WeightGranularity};
use ferrite_tool::error::{read_file, write_file};
use ferrite_tool::feed::{self, InputArg};
use ferrite_tool::import::parse_input_shape;
use ferrite_tool::ir::input_layout::InputLayout;
use ferrite_tool::output::{self, Format, Targets};
use ferrite_tool::preprocess::spec::FeatureSpec;
use ferrite_tool::quant::CalibrationMethod;
use ferrite_tool::validate::{validate, ValidateOptions};
use ferrite_tool::{inspect, quickstart, run, Error, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Prints to stdout, ignoring a closed pipe (`ferrite inspect m.fer | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

#[derive(Parser, Debug)]
#[command(
    name = "ferrite",
    version,
    about = "Bring ONNX models to ferrite: convert, quantize, validate, inspect, run, bench",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert an ONNX model to a .fer model (f32, f16 or int8).
    #[command(after_help = CONVERT_HELP)]
    Convert {
        /// The ONNX model.
        model: PathBuf,
        /// Where to write the .fer model (never the source or calibration file).
        #[arg(short, long)]
        output: PathBuf,
        /// Numeric precision: f32, f16 (weights stored as f16 and read directly: half the
        /// weight bytes, the same arena as f32) or int8 (static quantization). Preprocessing and classical ops (trees, linear models) stay f32.
        #[arg(long, default_value = "f32")]
        precision: String,
        /// Calibration data (CSV, .npy or JSON rows of model inputs: raw rows when the model
        /// has a preprocessing pipeline); one per input (FILE in input order, or NAME=FILE).
        /// Required for int8 when there is something to quantize, except for a model
        /// already quantized by onnxruntime (QDQ / QOperator), whose own scales are used.
        #[arg(short, long, value_name = "[NAME=]FILE")]
        calibration: Vec<String>,
        /// How activation ranges are taken from the calibration data: minmax or percentile.
        #[arg(long, default_value = "minmax", value_name = "METHOD")]
        calibration_method: String,
        /// f16 / int8 with calibration data: the lowest top-1 agreement with the f32 model
        /// on the calibration rows (0..1 or a percentage); below it the model is written
        /// as NAME.rejected.fer and convert exits with status 1.
        #[arg(long, default_value = "0.9", value_parser = parse_share, value_name = "SHARE", allow_hyphen_values = true)]
        min_agreement: f64,
        /// Fix an input's shape: NAME=d0,d1,... (repeatable). A symbolic leading (batch)
        /// dimension defaults to 1.
        #[arg(long = "input-shape", value_name = "NAME=DIMS")]
        input_shape: Vec<String>,
        /// Make a streaming model: the state input IN takes output OUT's value after each
        /// step (repeatable; e.g. --state initial_h=h_n --state initial_c=c_n).
        #[arg(long = "state", value_name = "IN=OUT")]
        state: Vec<String>,
        /// Model name stored in the file (default: the file stem).
        #[arg(long)]
        name: Option<String>,
        /// Model version stored in the file.
        #[arg(long)]
        version: Option<String>,
        /// Class labels of output 0, comma-separated, or @FILE with one per line; as many
        /// as the output has values.
        #[arg(long)]
        labels: Option<String>,
        /// int8 weight scales: per-channel (default), or per-tensor for FullyConnected
        /// layers (smaller file; Conv stays per channel). Only with --precision int8.
        #[arg(long)]
        #[arg(long, value_parser = parse_weights)]
        weights: Option<WeightGranularity>,
        /// int8: make the graph input int8 (quantized by the runtime's f32 input call)
        /// instead of an f32 input followed by a Quantize op. Only with --precision int8.
        #[arg(long)]
        int8_input: bool,
        /// int8: the stem as Quantize, Transpose, ConvNhwc (no ConvNchwI8: format 1.6).
        #[arg(long)]
        unfused_stem: bool,
        /// Number of golden vectors to store.
        #[arg(long, default_value_t = 4)]
        golden: usize,
        /// Print the conversion report as JSON.
        #[arg(long)]
        json: bool,
        /// Attach a declarative preprocessing pipeline (FEATURES.toml, see
        /// docs/preprocessing.md); for scikit-learn models it runs before the model's own.
        #[arg(long, value_name = "FEATURES.toml")]
        preprocess: Option<PathBuf>,
        /// Rows per inference: N > 1 writes a batch file for scoring many rows on a
        /// host (`ferrite run`, Python), with input 0's leading dimension fixed to N.
        /// The conversion checks that it gives the batch-1 file's outputs (int8 outputs
        /// bit for bit, f32 up to rounding: batched f32 layers run on a GEMM);
        /// it has no golden vectors and `validate` refuses it (validate the batch-1 file).
        /// Neural models with one input and no preprocessing only.
        #[arg(long, default_value_t = 1, value_name = "N")]
        batch: usize,
        /// Image inputs as the ONNX model takes them (nchw) or channels-last (nhwc).
        #[arg(long, default_value = "nchw", value_parser = parse_input_layout, value_name = "LAYOUT")]
        input_layout: InputLayout,
        #[command(flatten)]
        baseline: ferrite_tool::monitor::BaselineArgs,
    },
    /// Drift and latency of a model in the field: the runtime's monitor over a data file,
    /// or a device's monitor snapshot decoded against the model.
    #[command(
        after_help = MONITOR_HELP
    )]
    Monitor(ferrite_tool::monitor::MonitorArgs),
    /// Run only a model's preprocessing pipeline on every row of a data file.
    #[command(after_help = "Example:
  ferrite preprocess model.fer -i raw.csv -o features.csv")]
    Preprocess {
        /// The .fer model.
        model: PathBuf,
        /// Raw rows (CSV, .npy or JSON; empty or nan for missing values in CSV).
        #[arg(short, long, alias = "data")]
        input: PathBuf,
        /// Where to write the features: .csv (header f0..), .json or .npy (default: CSV
        /// on stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print the features as JSON rows on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run a .fer model on every row of its input data; every output, one row per sample.
    #[command(
        after_help = RUN_HELP
    )]
    Run {
        /// The .fer model.
        model: PathBuf,
        /// Input rows (CSV, .npy or JSON): one file per model input, in input order, or
        /// NAME=FILE.
        #[arg(
            short,
            long,
            alias = "data",
            required = true,
            value_name = "[NAME=]FILE"
        )]
        input: Vec<String>,
        /// Where to write: FILE (.csv, .json or .npy: the whole table) or NAME=FILE (one
        /// output); repeatable. Default: CSV on stdout.
        #[arg(short, long, value_name = "[NAME=]FILE")]
        output: Vec<String>,
        /// Write one file per output into this folder, named after the output.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// File format of --output-dir: csv, json or npy.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Predicted classes per row for a classifier (0: no predicted column).
        #[arg(long, default_value_t = 1)]
        top_k: usize,
        /// Print the table as JSON on stdout (one object per sample).
        #[arg(long)]
        json: bool,
    },
    /// Compare a .fer model with its ONNX source run in f32 by tract.
    #[command(
        after_help = VALIDATE_HELP
    )]
    Validate {
        /// The .fer model.
        model: PathBuf,
        /// The ONNX model the .fer file was converted from.
        #[arg(long)]
        reference: PathBuf,
        /// Input rows (CSV, .npy or JSON): one file per model input, in input order, or
        /// NAME=FILE.
        #[arg(
            short,
            long,
            alias = "data",
            required = true,
            value_name = "[NAME=]FILE"
        )]
        input: Vec<String>,
        /// Class index per row (0..classes-1), to report the accuracy of both.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Minimum top-1 agreement with the reference: 0..1 or a percentage (99%).
        #[arg(long, default_value = "0.99", value_parser = parse_share, value_name = "SHARE", allow_hyphen_values = true)]
        min_agreement: f64,
        /// Maximum absolute error of any value of any output.
        #[arg(long, value_parser = parse_bound, value_name = "BOUND", allow_hyphen_values = true)]
        max_abs_error: Option<f32>,
        /// Also report the error of every intermediate tensor.
        #[arg(long)]
        per_layer: bool,
        /// Rows compared by --per-layer.
        #[arg(long, default_value_t = 8, value_parser = parse_count, value_name = "N")]
        per_layer_rows: usize,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also write the JSON report to this file.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show what a .fer model contains: metadata, provenance, inputs/outputs, ops, sizes.
    #[command(after_help = "Examples:
  ferrite inspect model.fer
  ferrite inspect model.fer --json | jq .arena_bytes")]
    Inspect {
        /// The .fer model.
        model: PathBuf,
        /// Print the description as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Batch-1 latency of ferrite and, on the same inputs, of tract running the ONNX model.
    #[command(after_help = "Examples:
  ferrite bench model.fer
  ferrite bench model-int8.fer --reference model.onnx -i test.csv --json")]
    Bench {
        /// The .fer model.
        model: PathBuf,
        /// The ONNX model, run by tract in the same process.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Inputs to cycle through (default: the model's golden vectors); one file per
        /// model input, in input order, or NAME=FILE.
        #[arg(short, long, alias = "data", value_name = "[NAME=]FILE")]
        input: Vec<String>,
        /// Timed runs per engine (at least 1).
        #[arg(long, default_value = "2000", value_parser = parse_count, value_name = "N", allow_hyphen_values = true)]
        iterations: usize,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also write the JSON report to this file.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Convert, validate and benchmark the bundled digits example; print a summary table.
    #[command(after_help = "Example:
  ferrite quickstart
  ferrite quickstart -o /tmp/ferrite-demo")]
    Quickstart {
        /// Folder of the example (default: examples/digits of this repository).
        #[arg(long)]
        example: Option<PathBuf>,
        /// Where to write the models (default: a folder in the system temp dir).
        #[arg(short, long, alias = "out")]
        output: Option<PathBuf>,
        /// Timed runs per engine (at least 1).
        #[arg(long, default_value = "2000", value_parser = parse_count, value_name = "N", allow_hyphen_values = true)]
        iterations: usize,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Trust(ferrite_tool::sign::TrustCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Convert {
            model,
            output,
            precision,
            calibration,
            calibration_method,
            min_agreement,
            input_shape,
            state,
            name,
            version,
            labels,
            weights,
            int8_input,
            unfused_stem,
            golden,
            json,
            preprocess,
            batch,
            input_layout,
            baseline,
        } => {
            let precision: Precision = precision.parse()?;
            let int8_flags = [
                (int8_input, "--int8-input"),
                (unfused_stem, "--unfused-stem"),
                (weights.is_some(), "--weights"),
            ];
            let int8 = precision == Precision::Int8;
            if let Some((_, flag)) = int8_flags.iter().find(|(set, _)| *set && !int8) {
                return Err(Error::Usage(format!(
                    "{flag} applies to --precision int8 only (this conversion is {})",
                    precision.name()
                )));
            }
            let weights = weights.unwrap_or(WeightGranularity::PerChannel);
            let calibration_method = match calibration_method.as_str() {
                "minmax" => CalibrationMethod::MinMax,
                "percentile" => CalibrationMethod::Percentile,
                m => {
                    return Err(Error::Usage(format!(
                        "unknown calibration method \"{m}\" (minmax, percentile)"
                    )))
                }
            };
            let sources = [(&model, "the source model")];
            refuse_overwrite(&[output.display().to_string()], &sources, &calibration)?;
            let (cal, cal_sha) = match load_calibration(&model, &calibration)? {
                Some((d, h)) => (Some(d), Some(h)),
                None => (None, None),
            };
            let baseline_data = baseline.data(cal.as_ref())?;
            // The pipeline is read (and checked) before the model.
            let features = preprocess.as_deref().map(FeatureSpec::load).transpose()?;
            let opts = ConvertOptions {
                precision,
                calibration: cal,
                calibration_sha256: cal_sha,
                calibration_method,
                input_shapes: input_shape
                    .iter()
                    .map(|s| parse_input_shape(s))
                    .collect::<Result<_>>()?,
                state: state
                    .iter()
                    .map(|s| {
                        s.split_once('=')
                            .filter(|(i, o)| !i.is_empty() && !o.is_empty())
                            .map(|(i, o)| (i.to_string(), o.to_string()))
                            .ok_or_else(|| {
                                Error::Usage(format!("--state expects IN=OUT, got \"{s}\""))
                            })
                    })
                    .collect::<Result<_>>()?,
                name,
                version,
                labels: labels
                    .as_deref()
                    .map(parse_labels)
                    .transpose()?
                    .unwrap_or_default(),
                golden,
                progress: !json,
                stages: (!json).then(stage_printer),
                int8: Int8Options {
                    weights,
                    int8_input,
                    unfused_stem,
                },
                features,
                batch,
                input_layout,
                ..ConvertOptions::default()
            };
            let mut r = convert_file(&model, &opts)?;
            // A batch file carries no monitoring baseline (nor golden vectors): the
            // batch-1 file, the one deployed, does. The default baseline (the calibration
            // rows) is for one-input models; --baseline on others is refused by attach.
            let one_input = ferrite::AlignedModel::new(&r.bytes).model()?.num_inputs() == 1;
            let baseline_data =
                baseline_data.filter(|_| batch <= 1 && (one_input || baseline.baseline.is_some()));
            let baseline = baseline.attach(&mut r.bytes, baseline_data.as_ref())?;
            let low = r
                .agreement
                .as_ref()
                .and_then(|a| a.top1)
                .filter(|&t| t < min_agreement);
            let written = if low.is_some() {
                rejected_path(&output)
            } else {
                output.clone()
            };
            write_file(&written, &r.bytes)?;
            for n in &r.notes {
                eprintln!("note: {n}");
            }
            for w in &r.calibration_problems {
                eprintln!("warning: calibration data: {w}");
            }
            if json {
                let v = serde_json::json!({
                    "output": written.display().to_string(),
                    "rejected": low.is_some(),
                    "precision": r.precision.name(),
                    "file_bytes": r.bytes.len(),
                    "ops": r.ops,
                    "arena_bytes": r.arena_bytes,
                    "parameter_bytes": r.parameter_bytes,
                    "source_sha256": r.source_sha256,
                    "golden_vectors": r.golden,
                    "float_ops": r.float_ops,
                    "notes": r.notes,
                    "baseline": baseline.as_ref().map(|b| serde_json::json!({
                        "rows": b.rows, "features": b.features, "bins": b.bins,
                    })),
                    "calibration_problems": r.calibration_problems,
                    "min_agreement": min_agreement,
                    "agreement": r.agreement.as_ref().map(|a| serde_json::json!({
                        "rows": a.rows, "top1": a.top1, "max_abs_error": a.max_abs_error, "mean_abs_error": a.mean_abs_error,
                    })),
                });
                say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                say!(
                    "wrote {} ({} bytes, {}, {}, arena {} bytes, parameters {} bytes, {})",
                    written.display(),
                    r.bytes.len(),
                    r.precision.name(),
                    plural(r.ops, "op", "ops"),
                    r.arena_bytes,
                    r.parameter_bytes,
                    plural(r.golden, "golden vector", "golden vectors")
                );
                if let Some(a) = &r.agreement {
                    let top1 = a.top1.map_or(String::new(), |t| {
                        format!("top-1 agreement {:.2}%, ", t * 100.0)
                    });
                    say!(
                        "vs f32 on {}: {top1}max abs error {:.3e}",
                        plural(a.rows, "calibration row", "calibration rows"),
                        a.max_abs_error
                    );
                }
                if let Some(b) = &baseline {
                    say!(
                        "monitoring baseline: {} rows, {} features × {} bins",
                        b.rows,
                        b.features,
                        b.bins
                    );
                }
                if r.precision == Precision::Int8 && !r.float_ops.is_empty() {
                    say!("ops kept in f32:");
                    for op in &r.float_ops {
                        say!("  {op}");
                    }
                }
            }
            if let Some(t) = low {
                let why = if r.calibration_problems.is_empty() {
                    "the calibration data shows no obvious problem (no constant columns, \
                     enough rows): try --calibration-method percentile or more representative rows"
                        .to_string()
                } else {
                    format!("calibration data: {}", r.calibration_problems.join("; "))
                };
                eprintln!(
                    "error: top-1 agreement {:.2}% with the f32 model on the calibration rows \
                     is below --min-agreement {:.2}%: {} was not written; the model is kept as \
                     {} for inspection. {why}. (--min-agreement 0 accepts it.)",
                    t * 100.0,
                    min_agreement * 100.0,
                    output.display(),
                    written.display()
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Monitor(args) => {
            say_raw!("{}", ferrite_tool::monitor::run_command(&args)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Preprocess {
            model,
            input,
            output,
            json,
        } => {
            let fer = load_fer(&model)?;
            let data = Dataset::load(&input)?;
            let rows = ferrite_tool::preprocess::preprocess_rows(&fer, &data)?;
            let width = rows.first().map_or(0, Vec::len);
            let names: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
            if json {
                say_raw!(
                    "{}",
                    String::from_utf8_lossy(&output::rows_bytes(Format::Json, &names, &rows))
                );
            }
            match output {
                Some(p) => {
                    write_file(&p, &output::rows_bytes(Format::of(&p)?, &names, &rows))?;
                    eprintln!(
                        "wrote {} ({})",
                        p.display(),
                        plural(rows.len(), "row", "rows")
                    );
                }
                None if !json => say_raw!("{}", to_csv(&names, &rows)),
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            model,
            input,
            output,
            output_dir,
            format,
            top_k,
            json,
        } => {
            refuse_overwrite(&output, &[(&model, "the model")], &input)?;
            let fer = load_fer(&model)?;
            let aligned = ferrite::AlignedModel::new(&fer);
            let m = aligned.model()?;
            let args: Vec<InputArg> = input.into_iter().map(InputArg).collect();
            let bound = feed::bind(&m, &args, true, "-i")?;
            let out = run::run_bound(&fer, &bound)?;
            let targets = Targets {
                outputs: output,
                dir: output_dir,
                format: Some(Format::parse(&format)?),
                top_k,
            };
            if json {
                let v = output::json_table(&out, top_k)?;
                say!("{}", serde_json::to_string(&v).unwrap_or_default());
            }
            if targets.outputs.is_empty() && targets.dir.is_none() {
                if !json {
                    say_raw!("{}", output::csv_table(&out, top_k)?);
                }
            } else {
                output::write(&out, &targets)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            model,
            reference,
            input,
            labels,
            min_agreement,
            max_abs_error,
            per_layer,
            per_layer_rows,
            json,
            output,
        } => {
            let fer = load_fer(&model)?;
            let onnx = read_file(&reference)?;
            let aligned = ferrite::AlignedModel::new(&fer);
            let m = aligned.model()?;
            ferrite_tool::batch::refuse_validation(&m)?;
            let args: Vec<InputArg> = input.into_iter().map(InputArg).collect();
            let bound = feed::bind(&m, &args, false, "-i")?;
            let classes = m.output_len(0)?;
            let labels = labels
                .map(|p| Dataset::load(&p).and_then(|d| d.labels_below(classes)))
                .transpose()?;
            let opts = ValidateOptions {
                min_agreement,
                max_abs_error,
                per_layer,
                per_layer_rows,
            };
            let r = validate(&fer, &onnx, &bound.data, labels.as_deref(), &opts)?;
            let v = r.to_json();
            if let Some(p) = &output {
                write_file(
                    p,
                    serde_json::to_string_pretty(&v)
                        .unwrap_or_default()
                        .as_bytes(),
                )?;
            }
            if json {
                if let Some(w) = r.source_warning() {
                    eprintln!("warning: {w}");
                }
                say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                say_raw!("{}", r.to_text());
            }
            Ok(if r.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Inspect { model, json } => {
            let fer = load_fer(&model)?;
            let r = inspect::inspect(&fer)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                say_raw!("{}", inspect::to_text(&r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            model,
            reference,
            input,
            iterations,
            json,
            output,
        } => {
            let fer = load_fer(&model)?;
            let onnx = reference.map(|p| read_file(&p)).transpose()?;
            let data = if input.is_empty() {
                None
            } else {
                let aligned = ferrite::AlignedModel::new(&fer);
                let m = aligned.model()?;
                let args: Vec<InputArg> = input.into_iter().map(InputArg).collect();
                Some(feed::bind(&m, &args, false, "-i")?.data)
            };
            let opts = BenchOptions {
                iterations,
                warmup: (iterations / 10).max(1),
            };
            let r = bench(&fer, onnx.as_deref(), data.as_ref(), &opts)?;
            let v = r.to_json();
            if let Some(p) = &output {
                write_file(
                    p,
                    serde_json::to_string_pretty(&v)
                        .unwrap_or_default()
                        .as_bytes(),
                )?;
            }
            if json {
                say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                say_raw!("{}", r.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Quickstart {
            example,
            output,
            iterations,
            json,
        } => {
            let example = example.unwrap_or_else(quickstart::default_example_dir);
            let out = output.unwrap_or_else(|| std::env::temp_dir().join("ferrite-quickstart"));
            let opts = BenchOptions {
                iterations,
                warmup: (iterations / 10).max(1),
            };
            let s = quickstart::quickstart(&example, &out, &opts, !json)?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&s.to_json()).unwrap_or_default()
                );
            } else {
                say_raw!("{}", s.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trust(cmd) => ferrite_tool::sign::run(cmd),
    }
}
