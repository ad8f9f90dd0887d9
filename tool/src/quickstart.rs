//! `ferrite quickstart`: the whole job on the bundled digits example — convert to f32
//! and int8, validate both against the ONNX model on held-out data, benchmark both
//! against tract, and summarise in one table.

use crate::bench::{bench, BenchOptions, BenchReport};
use crate::convert::{convert_file, sha256_hex, ConvertOptions, ConvertReport, Precision};
use crate::data::Dataset;
use crate::emit::{Int8Options, WeightGranularity};
use crate::error::{read_file, write_file, Error, Result};
use crate::quant::CalibrationMethod;
use crate::validate::{validate, ValidateOptions, ValidateReport};
use std::path::{Path, PathBuf};

/// Where the bundled example lives in a clone of the repository.
pub fn default_example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/digits")
}

/// The conversions the quickstart runs: f32, int8 with the defaults, and the smallest
/// int8 file (per-tensor FullyConnected weights, int8 graph input, no golden vectors;
/// `docs/quantization.md` explains the trade).
const VARIANTS: [(&str, Precision, bool); 3] = [
    ("f32", Precision::F32, false),
    ("int8", Precision::Int8, false),
    ("int8-min", Precision::Int8, true),
];

/// One conversion's results.
#[derive(Debug)]
pub struct Row {
    /// `f32`, `int8` or `int8-min` (also the file name: `digits_<label>.fer`).
    pub label: &'static str,
    pub convert: ConvertReport,
    pub file: PathBuf,
    pub validate: ValidateReport,
    pub bench: BenchReport,
}

/// The quickstart's results.
#[derive(Debug)]
pub struct Summary {
    pub onnx_bytes: usize,
    pub rows: Vec<Row>,
    pub out_dir: PathBuf,
}

/// Runs the quickstart on `example` (a folder with `digits_mlp.onnx`, `calib.csv`,
/// `test.csv`, `test_labels.csv`), writing models into `out_dir`.
pub fn quickstart(
    example: &Path,
    out_dir: &Path,
    bench_opts: &BenchOptions,
    progress: bool,
) -> Result<Summary> {
    let onnx_path = example.join("digits_mlp.onnx");
    let onnx = read_file(&onnx_path)?;
    let calib_path = example.join("calib.csv");
    let calib = Dataset::load(&calib_path)?;
    let test = Dataset::load(&example.join("test.csv"))?;
    let labels = Dataset::load(&example.join("test_labels.csv"))?.labels()?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.display().to_string(),
        source,
    })?;
    let mut rows = Vec::new();
    for (label, precision, min) in VARIANTS {
        let mut opts = ConvertOptions {
            precision,
            calibration: Some(calib.clone()),
            calibration_sha256: Some(sha256_hex(&read_file(&calib_path)?)),
            calibration_method: CalibrationMethod::MinMax,
            labels: (0..10).map(|d| d.to_string()).collect(),
            description: Some("scikit-learn digits, PyTorch MLP 64-64-32-10".into()),
            progress,
            ..ConvertOptions::default()
        };
        if min {
            opts.golden = 0;
            opts.int8 = Int8Options {
                weights: WeightGranularity::PerTensorFc,
                int8_input: true,
                ..Int8Options::default()
            };
        }
        let convert = convert_file(&onnx_path, &opts)?;
        let file = out_dir.join(format!("digits_{label}.fer"));
        write_file(&file, &convert.bytes)?;
        let validate = validate(
            &convert.bytes,
            &onnx,
            &test,
            Some(&labels),
            &ValidateOptions::default(),
        )?;
        let bench = bench(&convert.bytes, Some(&onnx), Some(&test), bench_opts)?;
        rows.push(Row {
            label,
            convert,
            file,
            validate,
            bench,
        });
    }
    Ok(Summary {
        onnx_bytes: onnx.len(),
        rows,
        out_dir: out_dir.to_path_buf(),
    })
}

impl Summary {
    /// The summary as JSON: one entry per precision, with its validation and benchmark.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "onnx_bytes": self.onnx_bytes,
            "out_dir": self.out_dir.display().to_string(),
            "models": self.rows.iter().map(|r| serde_json::json!({
                "precision": r.label,
                "file": r.file.display().to_string(),
                "file_bytes": r.convert.bytes.len(),
                "arena_bytes": r.convert.arena_bytes,
                "validate": r.validate.to_json(),
                "bench": r.bench.to_json(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The summary table.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s += &format!(
            "digits MLP (digits_mlp.onnx, {} bytes) on 360 held-out rows\n\n",
            self.onnx_bytes
        );
        s += &format!(
            "{:<9} {:>10} {:>7} {:>10} {:>11} {:>10} {:>10} {:>11} {:>11} {:>9}\n",
            "precision",
            "file B",
            "% onnx",
            "arena B",
            "max |err|",
            "agree",
            "accuracy",
            "ferrite µs",
            "tract µs",
            "speedup"
        );
        for r in &self.rows {
            let v = &r.validate;
            let b = &r.bench;
            s += &format!(
                "{:<9} {:>10} {:>6.1}% {:>10} {:>11.2e} {:>9.2}% {:>9.2}% {:>11.2} {:>11.2} {:>8.2}x\n",
                r.label,
                r.convert.bytes.len(),
                100.0 * r.convert.bytes.len() as f64 / self.onnx_bytes as f64,
                r.convert.arena_bytes,
                v.max_abs_error,
                100.0 * v.top1_agreement.unwrap_or(0.0),
                100.0 * v.accuracy_ferrite.unwrap_or(0.0),
                b.ferrite.median_us,
                b.reference.as_ref().map_or(0.0, |l| l.median_us),
                b.speedup.unwrap_or(0.0)
            );
        }
        s += "\nmax |err|  largest output difference from the float ONNX model (run by tract)\n";
        s += "agree      same top-1 class as that model; accuracy: against the true labels\n";
        s += "int8-min   per-tensor FullyConnected weights, int8 input, no golden vectors\n";
        s += "           (the smallest file; see docs/quantization.md)\n";
        s += "µs         median latency of one row; speedup: tract µs / ferrite µs\n";
        if let Some(r) = self.rows.first() {
            s += &format!(
                "accuracy of the ONNX model under tract: {:.2}%\n",
                100.0 * r.validate.accuracy_reference.unwrap_or(0.0)
            );
        }
        s += &format!("models written to {}\n", self.out_dir.display());
        s += "next: ferrite inspect <model.fer>, ferrite run <model.fer> -i <data.csv>\n";
        s
    }
}
