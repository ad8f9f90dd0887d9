//! `ferrite`: the command-line front of `ferrite_tool` (argument parsing and printing).
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

use clap::{Parser, Subcommand};
use ferrite_tool::bench::{bench, BenchOptions};
use ferrite_tool::convert::{convert_file, sha256_hex, ConvertOptions, Precision};
use ferrite_tool::data::{to_csv, Dataset};
use ferrite_tool::emit::{Int8Options, WeightGranularity};
use ferrite_tool::error::{read_file, write_file};
use ferrite_tool::import::parse_input_shape;
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
    about = "Bring ONNX models to ferrite: convert, quantize, validate, inspect, run, bench"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert an ONNX model to a .fer model (f32, f16 or int8).
    #[command(after_help = "Examples:
  ferrite convert model.onnx -o model.fer
  ferrite convert model.onnx -o model-int8.fer --precision int8 --calibration calib.csv
  ferrite convert cnn.onnx -o cnn.fer --input-shape input=1,3,32,32 --name cnn --version 1.2.0
  ferrite convert pipeline.onnx -o pipeline-int8.fer --precision int8 --calibration raw.csv
  ferrite convert model.onnx -o model-b256.fer --batch 256   # for `ferrite run` on many rows

scikit-learn (ONNX-ML) pipelines: preprocessing, linear models and tree ensembles stay
exact in f32 in every precision; int8 / f16 convert the neural part (an MLP's layers).
Calibration rows are raw rows (NaN where the pipeline imputes) for a model with
preprocessing; a model with nothing neural converts unchanged, with a note saying so.")]
    Convert {
        /// The ONNX model.
        model: PathBuf,
        /// Where to write the .fer model.
        #[arg(short, long)]
        output: PathBuf,
        /// Numeric precision: f32, f16 (weights stored as f16) or int8 (static
        /// quantization). Preprocessing and classical ops (trees, linear models) stay f32.
        #[arg(long, default_value = "f32")]
        precision: String,
        /// Calibration data (CSV, .npy or JSON rows of model inputs: raw rows when the model
        /// has a preprocessing pipeline); required for int8 when there is something to quantize.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// How activation ranges are taken from the calibration data: minmax or percentile.
        #[arg(long, default_value = "minmax")]
        calibration_method: String,
        /// Fix an input's shape: NAME=d0,d1,... (repeatable). A symbolic leading (batch)
        /// dimension defaults to 1.
        #[arg(long = "input-shape", value_name = "NAME=DIMS")]
        input_shape: Vec<String>,
        /// Model name stored in the file (default: the file stem).
        #[arg(long)]
        name: Option<String>,
        /// Model version stored in the file.
        #[arg(long)]
        version: Option<String>,
        /// Class labels of the output, comma-separated, or @FILE with one per line.
        #[arg(long)]
        labels: Option<String>,
        /// int8 weight scales: per-channel, or per-tensor for FullyConnected layers
        /// (smaller file; Conv stays per channel).
        #[arg(long, default_value = "per-channel")]
        weights: String,
        /// int8: make the graph input int8 (quantized by the runtime's f32 input call)
        /// instead of an f32 input followed by a Quantize op.
        #[arg(long)]
        int8_input: bool,
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
        /// The conversion checks that it gives the batch-1 file's outputs bit for bit;
        /// it has no golden vectors and `validate` refuses it (validate the batch-1 file).
        /// Neural models with one input and no preprocessing only.
        #[arg(long, default_value_t = 1, value_name = "N")]
        batch: usize,
    },
    /// Run only a model's preprocessing pipeline on every row of a CSV file.
    #[command(after_help = "Example:
  ferrite preprocess model.fer --input raw.csv --output features.csv")]
    Preprocess {
        model: PathBuf,
        /// Raw rows (CSV; header optional; empty or nan for missing values).
        #[arg(long)]
        input: PathBuf,
        /// Where to write the features (CSV, header f0..).
        #[arg(long)]
        output: PathBuf,
    },
    /// Run a .fer model on every row of a data file; one output row per input row.
    #[command(after_help = "Examples:
  ferrite run model.fer --input test.csv
  ferrite run model.fer --input rows.npy --output scores.csv")]
    Run {
        model: PathBuf,
        /// Input rows (CSV, .npy or JSON).
        #[arg(long)]
        input: PathBuf,
        /// Write the outputs here as CSV (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Compare a .fer model with its ONNX source run in f32 by tract.
    #[command(after_help = "Exits with status 1 when a threshold is breached.

Examples:
  ferrite validate model.fer --reference model.onnx --data test.csv --labels test_labels.csv
  ferrite validate model-int8.fer --reference model.onnx --data test.csv --min-agreement 0.99 --json
  ferrite validate model.fer --reference model.onnx --data test.csv --per-layer")]
    Validate {
        model: PathBuf,
        /// The ONNX model the .fer file was converted from.
        #[arg(long)]
        reference: PathBuf,
        /// Input rows (CSV, .npy or JSON).
        #[arg(long)]
        data: PathBuf,
        /// Class index per row, to report the accuracy of both.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Minimum top-1 agreement with the reference.
        #[arg(long, default_value_t = 0.99)]
        min_agreement: f64,
        /// Maximum absolute error of any output value.
        #[arg(long)]
        max_abs_error: Option<f32>,
        /// Also report the error of every intermediate tensor.
        #[arg(long)]
        per_layer: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show what a .fer model contains: metadata, provenance, inputs/outputs, ops, sizes.
    #[command(after_help = "Examples:
  ferrite inspect model.fer
  ferrite inspect model.fer --json | jq .arena_bytes")]
    Inspect {
        model: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Batch-1 latency of ferrite and, on the same inputs, of tract running the ONNX model.
    #[command(after_help = "Examples:
  ferrite bench model.fer
  ferrite bench model-int8.fer --reference model.onnx --data test.csv --json")]
    Bench {
        model: PathBuf,
        /// The ONNX model, run by tract in the same process.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Inputs to cycle through (default: the model's golden vectors).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Timed runs per engine.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        #[arg(long)]
        json: bool,
    },
    /// Convert, validate and benchmark the bundled digits example; print a summary table.
    #[command(after_help = "Example:
  ferrite quickstart
  ferrite quickstart --out /tmp/ferrite-demo")]
    Quickstart {
        /// Folder of the example (default: examples/digits of this repository).
        #[arg(long)]
        example: Option<PathBuf>,
        /// Where to write the models (default: a folder in the system temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Timed runs per engine.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
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

fn parse_labels(s: &str) -> Result<Vec<String>> {
    if let Some(path) = s.strip_prefix('@') {
        let text = String::from_utf8_lossy(&read_file(path.as_ref())?).to_string();
        return Ok(text
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect());
    }
    Ok(s.split(',').map(|l| l.trim().to_string()).collect())
}

fn dispatch(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Convert {
            model,
            output,
            precision,
            calibration,
            calibration_method,
            input_shape,
            name,
            version,
            labels,
            weights,
            int8_input,
            golden,
            json,
            preprocess,
            batch,
        } => {
            let weights = match weights.as_str() {
                "per-channel" => WeightGranularity::PerChannel,
                "per-tensor" => WeightGranularity::PerTensorFc,
                w => {
                    return Err(Error::Usage(format!(
                        "unknown --weights \"{w}\" (per-channel, per-tensor)"
                    )))
                }
            };
            let precision: Precision = precision.parse()?;
            let calibration_method = match calibration_method.as_str() {
                "minmax" => CalibrationMethod::MinMax,
                "percentile" => CalibrationMethod::Percentile,
                m => {
                    return Err(Error::Usage(format!(
                        "unknown calibration method \"{m}\" (minmax, percentile)"
                    )))
                }
            };
            let (cal, cal_sha) = match &calibration {
                Some(p) => (Some(Dataset::load(p)?), Some(sha256_hex(&read_file(p)?))),
                None => (None, None),
            };
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
                name,
                version,
                labels: labels
                    .as_deref()
                    .map(parse_labels)
                    .transpose()?
                    .unwrap_or_default(),
                golden,
                progress: !json,
                int8: Int8Options {
                    weights,
                    int8_input,
                },
                features,
                batch,
                ..ConvertOptions::default()
            };
            let r = convert_file(&model, &opts)?;
            write_file(&output, &r.bytes)?;
            for n in &r.notes {
                eprintln!("note: {n}");
            }
            if json {
                let v = serde_json::json!({
                    "output": output.display().to_string(),
                    "precision": r.precision.name(),
                    "file_bytes": r.bytes.len(),
                    "ops": r.ops,
                    "arena_bytes": r.arena_bytes,
                    "parameter_bytes": r.parameter_bytes,
                    "source_sha256": r.source_sha256,
                    "golden_vectors": r.golden,
                    "float_ops": r.float_ops,
                    "notes": r.notes,
                    "agreement": r.agreement.as_ref().map(|a| serde_json::json!({
                        "rows": a.rows, "top1": a.top1, "max_abs_error": a.max_abs_error, "mean_abs_error": a.mean_abs_error,
                    })),
                });
                say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                say!(
                    "wrote {} ({} bytes, {}, {} ops, arena {} bytes, parameters {} bytes, {} golden vectors)",
                    output.display(),
                    r.bytes.len(),
                    r.precision.name(),
                    r.ops,
                    r.arena_bytes,
                    r.parameter_bytes,
                    r.golden
                );
                if let Some(a) = &r.agreement {
                    let top1 = a.top1.map_or(String::new(), |t| {
                        format!("top-1 agreement {:.2}%, ", t * 100.0)
                    });
                    say!(
                        "vs f32 on {} calibration rows: {top1}max abs error {:.3e}",
                        a.rows,
                        a.max_abs_error
                    );
                }
                if r.precision == Precision::Int8 && !r.float_ops.is_empty() {
                    say!("ops kept in f32:");
                    for op in &r.float_ops {
                        say!("  {op}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Preprocess {
            model,
            input,
            output,
        } => {
            let rows = ferrite_tool::preprocess::preprocess_file(&model, &input, &output)?;
            say!("wrote {} ({rows} rows)", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            model,
            input,
            output,
        } => {
            let fer = read_file(&model)?;
            let data = Dataset::load(&input)?;
            let rows = run::run_rows(&fer, &data)?;
            let aligned = ferrite::AlignedModel::new(&fer);
            let names = run::output_names(&aligned.model()?)?;
            let csv = to_csv(&names, &rows);
            match output {
                Some(p) => write_file(&p, csv.as_bytes())?,
                None => say_raw!("{csv}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            model,
            reference,
            data,
            labels,
            min_agreement,
            max_abs_error,
            per_layer,
            json,
        } => {
            let fer = read_file(&model)?;
            let onnx = read_file(&reference)?;
            let data = Dataset::load(&data)?;
            let labels = labels
                .map(|p| Dataset::load(&p).and_then(|d| d.labels()))
                .transpose()?;
            let opts = ValidateOptions {
                min_agreement,
                max_abs_error,
                per_layer,
                ..ValidateOptions::default()
            };
            let r = validate(&fer, &onnx, &data, labels.as_deref(), &opts)?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()
                );
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
            let fer = read_file(&model)?;
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
            data,
            iterations,
            json,
        } => {
            let fer = read_file(&model)?;
            let onnx = reference.map(|p| read_file(&p)).transpose()?;
            let data = data.map(|p| Dataset::load(&p)).transpose()?;
            let opts = BenchOptions {
                iterations: iterations.max(1),
                warmup: (iterations / 10).max(1),
            };
            let r = bench(&fer, onnx.as_deref(), data.as_ref(), &opts)?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()
                );
            } else {
                say_raw!("{}", r.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Quickstart {
            example,
            out,
            iterations,
        } => {
            let example = example.unwrap_or_else(quickstart::default_example_dir);
            let out = out.unwrap_or_else(|| std::env::temp_dir().join("ferrite-quickstart"));
            let opts = BenchOptions {
                iterations: iterations.max(1),
                warmup: (iterations / 10).max(1),
            };
            let s = quickstart::quickstart(&example, &out, &opts, true)?;
            say_raw!("{}", s.to_text());
            Ok(ExitCode::SUCCESS)
        }
    }
}
