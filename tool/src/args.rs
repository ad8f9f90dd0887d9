//! Command-line values and paths shared by the commands of the `ferrite` binary:
//! checked numbers (a share such as `--min-agreement`, an error bound, a count), the
//! guard against writing over a file a command reads, `--calibration` files bound to a
//! model's inputs, `.fer` loading with errors that name the file, the stage printer of
//! `convert`, and the end of `ferrite --help`.

use crate::convert::{sha256_hex, Stage, StageLog};
use crate::data::Dataset;
use crate::emit::WeightGranularity;
use crate::error::{read_file, Error, Result};
use crate::ir::input_layout::InputLayout;
use std::path::{Path, PathBuf};

/// The end of `ferrite --help`: the flag vocabulary, multi-input / multi-output usage and
/// the exit codes.
pub const AFTER_HELP: &str = "Flags mean the same in every command:
  -i, --input FILE        data for the model's input (CSV, .npy or JSON, chosen by
                          extension); repeat it once per input for a multi-input model,
                          in the model's input order, or write -i NAME=FILE
                          (--data is accepted as an alias)
  -o, --output FILE       where to write (convert: the .fer model; run: the outputs,
                          CSV / JSON / .npy by extension, or -o NAME=FILE per output;
                          validate / bench: the JSON report; preprocess: the
                          features; quickstart: a folder)
      --json              print the result as JSON on stdout

Multi-input / multi-output models:
  ferrite convert two.onnx -o two-int8.fer --precision int8 -c a=calib_a.csv -c b=calib_b.csv
  ferrite run two.fer -i a=a.csv -i b=b.csv                  (every output, one table)
  ferrite run two.fer -i a.csv -i b.csv -o scores=s.npy -o mix=m.csv
  ferrite run two.fer -i a.csv -i b.csv --output-dir out/    (one file per output)
  ferrite validate two.fer --reference two.onnx -i a.csv -i b.csv   (every output compared)

Exit status: 0 success, 1 a threshold breached (validate; convert below
--min-agreement), 2 an error (bad input, unreadable file, unsupported model).";

/// `--input-layout`: nchw or nhwc.
pub fn parse_input_layout(s: &str) -> std::result::Result<InputLayout, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// `--weights`: per-channel or per-tensor.
pub fn parse_weights(s: &str) -> std::result::Result<WeightGranularity, String> {
    match s {
        "per-channel" => Ok(WeightGranularity::PerChannel),
        "per-tensor" => Ok(WeightGranularity::PerTensorFc),
        w => Err(format!(
            "unknown --weights \"{w}\" (per-channel, per-tensor)"
        )),
    }
}

/// A probability in [0, 1], or a percentage (`99%`).
pub fn parse_share(s: &str) -> std::result::Result<f64, String> {
    let (v, scale) = match s.trim().strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s.trim(), 1.0),
    };
    let v: f64 = v.parse().map_err(|_| format!("\"{s}\" is not a number"))?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "must be between 0 and 1 (or a percentage such as 99%), got {s}"
        ));
    }
    Ok(v)
}

/// A finite, non-negative error bound.
pub fn parse_bound(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("must be a finite number >= 0, got {s}")),
    }
}

/// At least 1.
pub fn parse_count(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(format!("must be a whole number >= 1, got {s}")),
    }
}

/// Whether `a` and `b` name the same file (`b` may not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

/// The path of a `FILE` or `NAME=FILE` argument: the text after the first `=` when the
/// whole argument is not an existing file.
fn path_part(arg: &str) -> &Path {
    match arg.split_once('=') {
        Some((_, p)) if !Path::new(arg).exists() => Path::new(p),
        _ => Path::new(arg),
    }
}

/// Refuses to write a file that a command reads: each `-o` argument (`FILE` or
/// `NAME=FILE`) against the named `sources` and the data arguments `inputs` (`FILE`
/// or `NAME=FILE`), however the paths are spelled.
pub fn refuse_overwrite(
    outputs: &[String],
    sources: &[(&PathBuf, &str)],
    inputs: &[String],
) -> Result<()> {
    let refuse = |o: &str, what: &str| {
        Err(Error::Usage(format!(
            "-o {o}: that is {what}; writing there would overwrite it (choose another path)"
        )))
    };
    for o in outputs {
        let out = path_part(o);
        for (p, what) in sources {
            if same_file(p, out) {
                return refuse(o, what);
            }
        }
        for i in inputs {
            if same_file(path_part(i), out) {
                return refuse(o, &format!("the data file {i}"));
            }
        }
    }
    Ok(())
}

/// `out` with `.rejected` before its extension (`m.fer` → `m.rejected.fer`).
pub fn rejected_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}.rejected.fer"))
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The calibration argument(s) of `convert` as one data set (rows holding every input
/// side by side, in the model's input order) and the SHA-256 of each file.
pub fn load_calibration(onnx: &Path, args: &[String]) -> Result<Option<(Dataset, String)>> {
    if args.is_empty() {
        return Ok(None);
    }
    let names = crate::import::input_names_of(&read_file(onnx)?).unwrap_or_default();
    let mut slots: Vec<Option<PathBuf>> = vec![None; names.len().max(args.len())];
    let mut positional = Vec::new();
    for a in args {
        match a.split_once('=') {
            Some((n, p)) if names.iter().any(|x| x == n) => {
                let k = names.iter().position(|x| x == n).unwrap_or(0);
                if slots[k].is_some() {
                    return Err(Error::Usage(format!(
                        "--calibration: input \"{n}\" is given twice"
                    )));
                }
                slots[k] = Some(PathBuf::from(p));
            }
            Some((n, _)) if !Path::new(a).exists() && names.len() > 1 => {
                return Err(Error::Usage(format!(
                    "--calibration {a}: the model has no input \"{n}\" (its inputs: {})",
                    names.join(", ")
                )))
            }
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let mut rest = positional.into_iter();
    for s in slots.iter_mut().filter(|s| s.is_none()) {
        *s = rest.next();
    }
    let files: Vec<PathBuf> = slots.into_iter().flatten().collect();
    let sets = files
        .iter()
        .map(|p| Dataset::load(p))
        .collect::<Result<Vec<_>>>()?;
    if let Some(d) = sets.iter().find(|d| d.rows != sets[0].rows) {
        return Err(Error::Usage(format!(
            "{} has {} but {} has {}: every input needs one calibration row per sample",
            d.origin,
            plural(d.rows, "row", "rows"),
            sets[0].origin,
            plural(sets[0].rows, "row", "rows")
        )));
    }
    let sha = files
        .iter()
        .map(|p| Ok(sha256_hex(&read_file(p)?)))
        .collect::<Result<Vec<_>>>()?
        .join(",");
    Ok(Some((crate::feed::join(&sets), sha)))
}

/// `--labels`: comma-separated, or `@FILE` with one label per line.
pub fn parse_labels(s: &str) -> Result<Vec<String>> {
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

/// Reads a `.fer` file and checks that the runtime loads it; the error names the file
/// (and, for an ONNX file, says to convert it first).
pub fn load_fer(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_file(path)?;
    let aligned = ferrite::AlignedModel::new(&bytes);
    if let Err(e) = aligned.model() {
        let onnx = path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("onnx"));
        let hint = if onnx {
            format!(
                " (this is an ONNX model: convert it first with `ferrite convert {} -o model.fer`)",
                path.display()
            )
        } else {
            String::new()
        };
        return Err(Error::Usage(format!(
            "{}: not a valid .fer model: {e}{hint}",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Prints each conversion stage on stderr when it is a terminal, so a long conversion
/// is never silent.
pub fn stage_printer() -> StageLog {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    StageLog::new(move |s: Stage| {
        if tty {
            eprintln!("{}…", s.describe());
        }
    })
}

/// `ferrite convert --help`: examples and notes.
pub const CONVERT_HELP: &str = "Examples:
  ferrite convert model.onnx -o model.fer
  ferrite convert model.onnx -o model-int8.fer --precision int8 --calibration calib.csv
  ferrite convert cnn.onnx -o cnn.fer --input-shape input=1,3,32,32 --name cnn --version 1.2.0
  ferrite convert pipeline.onnx -o pipeline-int8.fer --precision int8 --calibration raw.csv
  ferrite convert two.onnx -o two-int8.fer --precision int8 -c a=a.csv -c b=b.csv
  ferrite convert model.onnx -o model-b256.fer --batch 256   # for `ferrite run` on many rows
  ferrite convert model_qdq.onnx -o model-int8.fer --precision int8   # already quantized
  ferrite convert gru.onnx -o gru-stream.fer --input-shape sequence=1,1,6 --state initial_h=h_n
  ferrite convert cnn.onnx -o cnn-int8.fer --precision int8 -c images.npy --input-layout nhwc

--input-layout nhwc: the model takes its image (rank-4) inputs channels-last, [N, H, W, C]
(a camera frame; what TFLite models take) instead of the ONNX model's [N, C, H, W], and
runs its first convolution on that input without a Transpose. --input-shape and the
calibration rows stay NCHW (the converter transposes them); data for the converted file
(run, validate, monitor) is NHWC.

An f16 / int8 conversion with calibration data measures its top-1 agreement with the
f32 model on the calibration rows; below --min-agreement it exits with status 1 and
writes the model as NAME.rejected.fer instead, naming what looks wrong with the
calibration data (constant columns, too few rows).

Streaming (recurrent models exported with their state as inputs and outputs): fix the
sequence length to 1 (or a chunk of frames) with --input-shape and pair each state
input with the output that carries it; Session::step then keeps the state between calls.

scikit-learn (ONNX-ML) pipelines: preprocessing, linear models and tree ensembles stay
exact in f32 in every precision; int8 / f16 convert the neural part (an MLP's layers).
Calibration rows are raw rows (NaN where the pipeline imputes) for a model with
preprocessing; a model with nothing neural converts unchanged, with a note saying so.";

/// `ferrite run --help`: the output layout and examples.
pub const RUN_HELP: &str = "Output: one table with every output side by side (headers: the output
names, or the model's labels for class scores) and a `predicted` column for a
classifier, on stdout or in -o FILE (.csv / .json / .npy by extension); or one file
per output with -o NAME=FILE or --output-dir DIR. A model converted for a batch of B
(--input-shape input=B,...) takes one sample per row and runs B rows at a time.

Examples:
  ferrite run model.fer -i test.csv
  ferrite run model.fer -i rows.npy -o scores.npy
  ferrite run model.fer -i test.csv --top-k 3 --json
  ferrite run two.fer -i a=a.csv -i b=b.csv --output-dir out/";

/// `ferrite monitor --help`: the PSI bands and examples.
pub const MONITOR_HELP: &str =
    "PSI bands: < 0.1 stable, 0.1-0.25 moderate, > 0.25 shifted (flagged).
The model needs a baseline: ferrite convert ... --baseline train.csv (or --calibration).

Examples:
  ferrite monitor model.fer --input field.csv
  ferrite monitor model.fer --input field.csv --json --plot drift.png
  ferrite monitor model.fer --snapshot snap.bin --prometheus --label device=unit-7";

/// `ferrite validate --help`: the exit status and examples.
pub const VALIDATE_HELP: &str = "Exits with status 1 when a threshold is breached, and says which.

Examples:
  ferrite validate model.fer --reference model.onnx -i test.csv --labels test_labels.csv
  ferrite validate model-int8.fer --reference model.onnx -i test.csv --min-agreement 99% --json
  ferrite validate model.fer --reference model.onnx -i test.csv --per-layer
  ferrite validate two.fer --reference two.onnx -i a.csv -i b.csv --max-abs-error 1e-4";
