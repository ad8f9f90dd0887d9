//! `cargo xtask mcu-bench`: instructions per inference, flash and RAM of int8 models on
//! QEMU's Cortex-M boards, next to the figures published for other runtimes.
//!
//! Per model: the host tool converts the ONNX file to int8 (`--int8-input`, no golden
//! vectors), `ferrite run` gives the host runtime's output for the first test input,
//! `firmware/boards/mcu-bench` is built with the model and that input in flash, QEMU
//! runs it with `-icount shift=0` (the virtual clock advances 1 ns per executed
//! instruction, so the board's timer counts instructions), and the firmware's output
//! bytes must equal the host's. The firmware validates its timer on a loop of a known
//! instruction count first; the xtask checks that too.
//!
//! QEMU counts instructions, not cycles: it models no pipeline, wait states or
//! multi-cycle instructions, so an instruction count is a lower bound of the cycles on
//! a real Cortex-M4 (loads, multiplies-accumulate and taken branches take more than one
//! cycle there).
//!
//! `--short` is the CI form: two models on the AN386, with the instruction and stack
//! budgets of `firmware/boards/mcu-bench/budgets.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cargo::{DEBIAN_CARGO, DEBIAN_RUSTC};
use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

mod data;
mod report;

use data::{first_row, nchw_to_nhwc, npy_row};
use report::{table, to_json};

pub const USAGE: &str = "\
usage: cargo xtask mcu-bench [MODEL…] [--board BOARD[,BOARD]] [--profile PROFILE] [--short] [--json]

Builds firmware/boards/mcu-bench once per int8 model and board, runs it in QEMU with
-icount shift=0 (1 virtual ns per executed instruction), checks its output bytes
against `ferrite run` on the host, and prints instructions per inference and per MAC,
a per-op-kind breakdown, flash (code vs model) and RAM (arena, measured stack peak)
next to the cycles/MAC and arenas published for other runtimes.
QEMU counts instructions, not cycles.

  MODEL             digits_mlp, sensor_cnn, or a model of examples/bench/manifest.json
                    (kws_dscnn, resnet8, vww_mobilenetv1, ad_autoencoder, …); default: all
  --board B         mps2-an386 (Cortex-M4F, thumbv7em-none-eabihf), mps2-an505
                    (Cortex-M33, thumbv8m.main-none-eabihf), or all (default)
  --profile P       release (opt-level 3, fat LTO; default) or release-size (opt-level z)
  --short           the CI form: sensor_cnn and kws_dscnn on mps2-an386
  --json            print the results as JSON (also written to target/mcu-bench/results.json)

environment:
  FERRITE_TOOL      the host tool binary to use (default: built as the firmware-model step
                    builds it)
";

/// A QEMU board the bench firmware runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// QEMU's machine name, also the board's name in the tables.
    pub name: &'static str,
    pub triple: &'static str,
    /// QEMU's `-cpu`.
    pub cpu: &'static str,
}

pub const BOARDS: [Board; 2] = [
    Board {
        name: "mps2-an386",
        triple: "thumbv7em-none-eabihf",
        cpu: "cortex-m4",
    },
    Board {
        name: "mps2-an505",
        triple: "thumbv8m.main-none-eabihf",
        cpu: "cortex-m33",
    },
];

/// `--short`, the CI form: the sensor CNN (the firmware's own model) and the MLPerf Tiny
/// keyword-spotting DS-CNN, on the Cortex-M4F board.
pub const SHORT_MODELS: [&str; 2] = ["sensor_cnn", "kws_dscnn"];

/// The bench firmware's package, from the repository root.
const BOARD_DIR: &str = "firmware/boards/mcu-bench";
const BIN: &str = "ferrite-mcu-bench";
/// Where conversions, inputs, ELFs, logs and `results.json` go.
const OUT_DIR: &str = "target/mcu-bench";
const MANIFEST: &str = "examples/bench/manifest.json";
/// QEMU wall-clock limit per run.
const QEMU_TIMEOUT_SECS: &str = "600";

#[derive(Debug, Clone)]
pub struct Options {
    pub models: Vec<String>,
    pub boards: Vec<Board>,
    pub profile: String,
    pub json: bool,
}

impl Options {
    /// The CI form (`--short`).
    pub fn short() -> Options {
        Options {
            models: SHORT_MODELS.iter().map(|m| m.to_string()).collect(),
            boards: vec![BOARDS[0]],
            profile: "release".into(),
            json: false,
        }
    }
}

pub fn parse(args: &[String]) -> Result<Options> {
    let mut models = Vec::new();
    let mut boards: Vec<Board> = Vec::new();
    let mut profile = "release".to_string();
    let mut json = false;
    let mut short = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => Ok(it
                    .next()
                    .ok_or(format!("{flag} needs a value\n\n{USAGE}"))?
                    .clone()),
            }
        };
        match flag {
            "--board" => {
                for name in value("--board")?.split(',').filter(|s| !s.is_empty()) {
                    if name == "all" {
                        boards.extend(BOARDS);
                        continue;
                    }
                    let b = BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
                        format!("unknown board `{name}`; known: mps2-an386, mps2-an505, all")
                    })?;
                    boards.push(*b);
                }
            }
            "--profile" => {
                profile = value("--profile")?;
                if profile != "release" && profile != "release-size" {
                    return Err(
                        format!("--profile {profile}: release or release-size\n\n{USAGE}").into(),
                    );
                }
            }
            "--short" => short = true,
            "--json" => json = true,
            f if f.starts_with('-') => return Err(format!("unknown option {f}\n\n{USAGE}").into()),
            _ => models.push(arg.clone()),
        }
    }
    if short {
        if !models.is_empty() || !boards.is_empty() {
            return Err("--short picks its own models and board".into());
        }
        let mut o = Options::short();
        o.profile = profile;
        o.json = json;
        return Ok(o);
    }
    if boards.is_empty() {
        boards.extend(BOARDS);
    }
    boards.dedup();
    Ok(Options {
        models,
        boards,
        profile,
        json,
    })
}

/// The CI step: `mcu-bench --short`.
pub fn step() -> Step {
    Step::new(
        "mcu-bench",
        Stage::Firmware,
        "cargo xtask mcu-bench --short: sensor_cnn and kws_dscnn in QEMU mps2-an386 (instructions, bytes vs host, budgets)",
        |ctx| {
            if run(ctx, &Options::short())? {
                Ok(Outcome::Passed)
            } else {
                Err("mcu-bench: a check failed (see above)".into())
            }
        },
    )
    .for_target(BOARDS[0].triple)
}

/// `cargo xtask mcu-bench …`.
pub fn command(ctx: &Ctx, args: &[String]) -> Result<bool> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return Ok(true);
    }
    let opts = parse(args)?;
    run(ctx, &opts)
}

/// One model to benchmark.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    /// Paths relative to the repository root.
    onnx: PathBuf,
    calibration: PathBuf,
    /// The first row is the benchmark input.
    test: PathBuf,
    /// MLPerf Tiny's MAC count (the benchmark manifest), when known.
    macs: Option<u64>,
}

#[derive(Deserialize)]
struct BenchManifest {
    models: BTreeMap<String, BenchModel>,
}

#[derive(Deserialize)]
struct BenchModel {
    file: String,
    macs: u64,
    calib: FileRef,
    test: FileRef,
}

#[derive(Deserialize)]
struct FileRef {
    file: String,
}

/// The image models, converted with `--input-layout nhwc`: TFLM's models and the
/// published figures take the image channels-last, as a camera delivers it.
const IMAGE_MODELS: [&str; 3] = ["vww_mobilenetv1", "resnet8", "mobilenetv2_035"];

/// The examples' models, then those of `examples/bench/manifest.json` (`None` when the
/// manifest is absent).
fn catalogue(root: &Path) -> Result<(Vec<Spec>, bool)> {
    let mut specs = vec![
        Spec {
            name: "digits_mlp".into(),
            onnx: "examples/digits/digits_mlp.onnx".into(),
            calibration: "examples/digits/calib.csv".into(),
            test: "examples/digits/test.csv".into(),
            macs: None,
        },
        Spec {
            name: "sensor_cnn".into(),
            onnx: "examples/sensor/sensor_cnn.onnx".into(),
            calibration: "examples/sensor/calib.csv".into(),
            test: "examples/sensor/test.csv".into(),
            macs: None,
        },
    ];
    let path = root.join(MANIFEST);
    if !path.is_file() {
        return Ok((specs, false));
    }
    let text = std::fs::read_to_string(&path)?;
    let manifest: BenchManifest =
        serde_json::from_str(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
    let dir = Path::new("examples/bench");
    for (name, m) in manifest.models {
        specs.push(Spec {
            name,
            onnx: dir.join(&m.file),
            calibration: dir.join(&m.calib.file),
            test: dir.join(&m.test.file),
            macs: Some(m.macs),
        });
    }
    Ok((specs, true))
}

/// `ferrite inspect --json`, the fields used here.
#[derive(Debug, Deserialize)]
struct Inspect {
    arena_bytes: u64,
    file_bytes: u64,
    total_macs: u64,
    ops: Vec<InspectOp>,
    inputs: Vec<InspectTensor>,
    outputs: Vec<InspectTensor>,
}

#[derive(Debug, Deserialize)]
struct InspectOp {
    op: String,
    detail: String,
    macs: u64,
    inputs: Vec<InspectTensor>,
}

#[derive(Debug, Deserialize)]
struct InspectTensor {
    dtype: String,
    shape: Vec<u64>,
}

impl InspectOp {
    /// The op's kind for the breakdown: the op name, with convolutions told apart
    /// (depthwise: one group per input channel; pointwise: a 1x1 kernel).
    fn kind(&self) -> String {
        if self.op != "Conv" {
            return self.op.clone();
        }
        let groups = self
            .detail
            .split_whitespace()
            .find_map(|w| w.strip_prefix('g')?.parse::<u64>().ok())
            .unwrap_or(1);
        let in_channels = self.inputs.first().and_then(|t| t.shape.get(1)).copied();
        if groups > 1 && Some(groups) == in_channels {
            "Conv depthwise".into()
        } else if groups > 1 {
            "Conv grouped".into()
        } else if self.detail.starts_with("k1x1 ") || self.detail.starts_with("k1 ") {
            "Conv 1x1".into()
        } else {
            "Conv".into()
        }
    }
}

/// A model converted and run on the host, ready for the boards.
struct Prepared {
    spec: Spec,
    fer: PathBuf,
    input_f32: PathBuf,
    inspect: Inspect,
    /// The host runtime's output 0 bytes (`ferrite run`).
    expected: Vec<u8>,
    convert: String,
}

impl Prepared {
    /// MACs per inference: MLPerf Tiny's count for the benchmark models, else the
    /// host tool's (`ferrite inspect`).
    fn macs(&self) -> u64 {
        self.spec.macs.unwrap_or(self.inspect.total_macs)
    }
}

/// What one firmware printed (see `firmware/boards/mcu-bench/src/main.rs`).
#[derive(Debug, Default)]
struct FwRun {
    ns_per_tick: u64,
    empty_ns: u64,
    loop_instructions: u64,
    loop_ns: u64,
    model_bytes: u64,
    arena: u64,
    ops: u64,
    load_ns: u64,
    session_input_ns: u64,
    run_ns: u64,
    stack: u64,
    observed_ns: u64,
    op_ns: Vec<u64>,
    output: Vec<u8>,
    done: bool,
}

fn parse_fw(log: &str) -> Result<FwRun> {
    let mut r = FwRun::default();
    for line in log.lines() {
        let mut words = line.split_whitespace();
        let Some(record) = words.next() else { continue };
        let kv: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
        let num = |k: &str| -> Result<u64> {
            kv.get(k)
                .ok_or_else(|| format!("firmware line without {k}=: {line}"))?
                .parse::<u64>()
                .map_err(|e| format!("firmware line, {k}: {e}: {line}").into())
        };
        match record {
            "timer" => {
                r.ns_per_tick = num("ns_per_tick")?;
                r.empty_ns = num("empty_ns")?;
                r.loop_instructions = num("loop_instructions")?;
                r.loop_ns = num("loop_ns")?;
            }
            "model" => {
                r.model_bytes = num("bytes")?;
                r.arena = num("arena")?;
                r.ops = num("ops")?;
            }
            "time" => {
                r.load_ns = num("load_ns")?;
                r.session_input_ns = num("session_input_ns")?;
                r.run_ns = num("run_ns")?;
            }
            "stack" => r.stack = num("peak_bytes")?,
            "observed" => r.observed_ns = num("total_ns")?,
            "op" => {
                let i = num("index")? as usize;
                if i != r.op_ns.len() {
                    return Err(format!("firmware: op {i} out of order").into());
                }
                r.op_ns.push(num("ns")?);
            }
            "output" => {
                let hex = kv.get("hex").copied().unwrap_or_default();
                r.output = (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| format!("firmware output hex: {e}"))?;
            }
            "done" => r.done = true,
            _ => {}
        }
    }
    if !r.done {
        return Err("the firmware did not finish (no `done` line)".into());
    }
    if r.op_ns.len() as u64 != r.ops {
        return Err(format!("the firmware timed {} ops of {}", r.op_ns.len(), r.ops).into());
    }
    Ok(r)
}

/// Whether the board's timer counted the calibration loop's instructions: each
/// reading is exact to one tick, so a difference of two readings is within two ticks
/// of the true count.
fn timer_check(fw: &FwRun) -> Option<String> {
    let measured = fw.loop_ns.saturating_sub(fw.empty_ns);
    (fw.ns_per_tick == 0 || measured.abs_diff(fw.loop_instructions) > 2 * fw.ns_per_tick).then(
        || {
            format!(
                "the timer counted {measured} ns for a loop of {} instructions: it does not \
             count instructions (QEMU without -icount shift=0?)",
                fw.loop_instructions
            )
        },
    )
}

/// One model on one board.
struct Measured {
    board: Board,
    model: String,
    macs: u64,
    /// Instructions of `Session::run` (one inference).
    instructions: u64,
    load_instructions: u64,
    session_input_instructions: u64,
    /// The timer's resolution in instructions.
    resolution: u64,
    /// Per op (in order), less the observer's average bookkeeping.
    op_instructions: Vec<u64>,
    observer_overhead: u64,
    op_kinds: Vec<String>,
    op_macs: Vec<u64>,
    arena: u64,
    stack: u64,
    /// `.data` + `.bss` (the arena, the harness's statics).
    ram_static: u64,
    /// Flash without the model and the benchmark input: vector table, `.text`,
    /// `.rodata`, `.data` (the runtime with every op group, cortex-m-rt, the harness).
    flash_code: u64,
    flash_model: u64,
    output_hex: String,
    /// How the model was converted.
    convert: String,
    budget: Option<Budget>,
    failures: Vec<String>,
}

/// One line of the per-op-kind breakdown.
struct KindRow {
    kind: String,
    ops: usize,
    instructions: u64,
    macs: u64,
}

impl Measured {
    /// Instructions, op count and MACs per op kind, the most expensive first.
    fn by_kind(&self) -> Vec<KindRow> {
        let mut rows: Vec<KindRow> = Vec::new();
        let ops = self
            .op_kinds
            .iter()
            .zip(&self.op_instructions)
            .zip(&self.op_macs);
        for ((kind, &n), &macs) in ops {
            match rows.iter_mut().find(|r| r.kind == *kind) {
                Some(r) => {
                    r.ops += 1;
                    r.instructions += n;
                    r.macs += macs;
                }
                None => rows.push(KindRow {
                    kind: kind.clone(),
                    ops: 1,
                    instructions: n,
                    macs,
                }),
            }
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.instructions));
        rows
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Budget {
    instructions: u64,
    stack_bytes: u64,
}

/// `firmware/boards/mcu-bench/budgets.toml`: `[board.model]` tables.
fn budgets(root: &Path) -> Result<BTreeMap<String, BTreeMap<String, Budget>>> {
    let path = root.join(BOARD_DIR).join("budgets.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Runs the benchmark; prints the table (or JSON); false when a check failed.
pub fn run(ctx: &Ctx, opts: &Options) -> Result<bool> {
    let quiet = opts.json;
    let (all, have_manifest) = catalogue(&ctx.root)?;
    let specs: Vec<Spec> = if opts.models.is_empty() {
        if !have_manifest {
            return Err(format!(
                "{MANIFEST} not found: the MLPerf Tiny models come from examples/bench/make.py; \
                 name models to run only the others (digits_mlp, sensor_cnn)"
            )
            .into());
        }
        all
    } else {
        opts.models
            .iter()
            .map(|name| {
                all.iter()
                    .find(|s| &s.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        let known: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                        let hint = if have_manifest {
                            String::new()
                        } else {
                            format!(" ({MANIFEST} not found)")
                        };
                        format!("unknown model `{name}`; known: {}{hint}", known.join(", ")).into()
                    })
            })
            .collect::<Result<_>>()?
    };
    for t in ["qemu-system-arm", "timeout", DEBIAN_CARGO, DEBIAN_RUSTC] {
        if which(t).is_none() {
            return Err(format!("{t} not found: run `cargo xtask setup`").into());
        }
    }
    let out_dir = ctx.root.join(OUT_DIR);
    std::fs::create_dir_all(&out_dir)?;
    let tool = host_tool(ctx, quiet)?;
    let budgets = budgets(&ctx.root)?;

    let mut results = Vec::new();
    for spec in specs {
        let prepared = prepare(ctx, &tool, spec, &out_dir, quiet)?;
        for board in &opts.boards {
            let mut m = measure(ctx, board, &prepared, &opts.profile, &out_dir, quiet)?;
            if opts.profile == "release" {
                m.budget = budgets
                    .get(board.name)
                    .and_then(|b| b.get(&m.model))
                    .copied();
                if let Some(b) = m.budget {
                    if m.instructions > b.instructions {
                        m.failures.push(format!(
                            "{} instructions per inference, over the budget of {} ({BOARD_DIR}/budgets.toml)",
                            m.instructions, b.instructions
                        ));
                    }
                    if m.stack > b.stack_bytes {
                        m.failures.push(format!(
                            "stack peak {} bytes, over the budget of {} ({BOARD_DIR}/budgets.toml)",
                            m.stack, b.stack_bytes
                        ));
                    }
                }
            }
            results.push(m);
        }
    }

    let report = to_json(&results, opts);
    std::fs::write(
        out_dir.join("results.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!();
        print!("{}", table(&results, opts));
    }
    let failed: Vec<String> = results
        .iter()
        .flat_map(|m| {
            m.failures
                .iter()
                .map(move |f| format!("{} on {}: {f}", m.model, m.board.name))
        })
        .collect();
    for f in &failed {
        eprintln!("mcu-bench: FAILED {f}");
    }
    Ok(failed.is_empty())
}

/// The host tool: `$FERRITE_TOOL`, else built as the firmware-model step builds it.
fn host_tool(ctx: &Ctx, quiet: bool) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FERRITE_TOOL").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!("FERRITE_TOOL={}: no such file", p.display()).into());
        }
        log(quiet, &format!("host tool: {} (FERRITE_TOOL)", p.display()));
        return Ok(p);
    }
    crate::steps::host_tool(ctx, quiet)
}

fn log(quiet: bool, line: &str) {
    if quiet {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

fn run_cmd(cmd: Cmd, quiet: bool) -> Result<()> {
    if quiet {
        cmd.stdout_to_stderr().run()
    } else {
        cmd.run()
    }
}

/// Converts the model, writes its input, reads `inspect` and the host output.
fn prepare(ctx: &Ctx, tool: &Path, spec: Spec, out_dir: &Path, quiet: bool) -> Result<Prepared> {
    log(quiet, &format!("\n--- {}", spec.name));
    for p in [&spec.onnx, &spec.calibration, &spec.test] {
        if !ctx.root.join(p).is_file() {
            return Err(format!("{}: {} not found", spec.name, p.display()).into());
        }
    }
    let fer = out_dir.join(format!("{}.fer", spec.name));
    let layout = if IMAGE_MODELS.contains(&spec.name.as_str()) {
        "nhwc"
    } else {
        "nchw"
    };
    let convert = Cmd::new(tool)
        .arg("convert")
        .arg(&spec.onnx)
        .arg("-o")
        .arg(&fer)
        .args(["--precision", "int8", "--int8-input", "--golden", "0"])
        .arg("--calibration")
        .arg(&spec.calibration)
        // The inference alone: the calibration rows would otherwise become a
        // monitoring baseline (62 KB more flash for the 640-feature autoencoder).
        .arg("--no-baseline")
        .args(["--input-layout", layout])
        .cwd(&ctx.root);
    let convert_line = format!(
        "ferrite convert {} -o {}.fer --precision int8 --int8-input --golden 0 --calibration {} --no-baseline{}",
        spec.onnx.display(),
        spec.name,
        spec.calibration.display(),
        if layout == "nhwc" { " --input-layout nhwc" } else { "" }
    );
    run_cmd(convert, quiet)?;

    let inspect: Inspect = serde_json::from_str(
        &Cmd::new(tool)
            .arg("inspect")
            .arg(&fer)
            .arg("--json")
            .output()?,
    )
    .map_err(|e| format!("ferrite inspect --json: {e}"))?;
    // The test files hold NCHW images; the NHWC file takes them channels-last (the
    // board and the host tool get the same bytes).
    let mut values = first_row(&ctx.root.join(&spec.test))?;
    if let (true, Some(&[1, h, w, c])) = (
        layout == "nhwc",
        inspect.inputs.first().map(|t| t.shape.as_slice()),
    ) {
        values = nchw_to_nhwc(&values, c as usize, h as usize, w as usize)?;
    }
    let input_f32 = out_dir.join(format!("{}.input.f32", spec.name));
    let input_npy = out_dir.join(format!("{}.input.npy", spec.name));
    std::fs::write(
        &input_f32,
        values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )?;
    std::fs::write(&input_npy, npy_row(&values))?;

    let output = inspect
        .outputs
        .first()
        .ok_or_else(|| format!("{}: the model has no output", spec.name))?;
    if output.dtype != "f32" {
        return Err(format!(
            "{}: output 0 is {}; the comparison with `ferrite run` needs an f32 output",
            spec.name, output.dtype
        )
        .into());
    }
    let n_out: u64 = output.shape.iter().product();

    let run = Cmd::new(tool)
        .arg("run")
        .arg(&fer)
        .arg("--input")
        .arg(&input_npy)
        // Only the output values: no predicted-class column.
        .arg("--top-k")
        .arg("0");
    log(quiet, &format!("+ {}", run.display()));
    let csv = run.output()?;
    let row = csv
        .lines()
        .nth(1)
        .ok_or_else(|| format!("ferrite run printed no output row:\n{csv}"))?;
    let expected: Vec<u8> = row
        .split(',')
        .map(|v| v.trim().parse::<f32>().map(f32::to_le_bytes))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("ferrite run: {e}: {row}"))?
        .concat();
    if expected.len() as u64 != n_out * 4 {
        return Err(format!(
            "ferrite run gave {} values, the model has {n_out} outputs",
            expected.len() / 4
        )
        .into());
    }
    Ok(Prepared {
        spec,
        fer,
        input_f32,
        inspect,
        expected,
        convert: convert_line,
    })
}

/// Builds the firmware for `board` with the model, runs it, measures the ELF.
fn measure(
    ctx: &Ctx,
    board: &Board,
    p: &Prepared,
    profile: &str,
    out_dir: &Path,
    quiet: bool,
) -> Result<Measured> {
    let build = Cmd::new(DEBIAN_CARGO)
        .args(["build", "--profile", profile, "--target", board.triple])
        .arg("-Zbuild-std=core")
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("FERRITE_BENCH_MODEL", p.fer.display().to_string())
        .env("FERRITE_BENCH_INPUT", p.input_f32.display().to_string())
        .cwd(ctx.root.join(BOARD_DIR));
    run_cmd(build, quiet)?;
    let built = ctx
        .root
        .join("target/cross")
        .join(board.triple)
        .join(profile)
        .join(BIN);
    let dir = out_dir.join(board.name);
    std::fs::create_dir_all(&dir)?;
    let elf = dir.join(format!("{}.elf", p.spec.name));
    std::fs::copy(&built, &elf).map_err(|e| format!("{}: {e}", built.display()))?;

    let target = ctx.target(board.triple)?;
    let (text, data, bss) = crate::size::berkeley(&elf, target)?;
    let symbols = symbol_sizes(&elf)?;
    let sym = |name: &str| -> Result<u64> {
        symbols
            .get(name)
            .copied()
            .ok_or_else(|| format!("{}: no symbol {name}", elf.display()).into())
    };
    let model_sym = sym("ferrite_mcu_bench::MODEL::__ALIGNED")?;
    let input_sym = sym("ferrite_mcu_bench::bench::INPUT")?;

    let qemu = Cmd::new("timeout")
        .args([
            QEMU_TIMEOUT_SECS,
            "qemu-system-arm",
            "-M",
            board.name,
            "-cpu",
            board.cpu,
        ])
        .args(["-icount", "shift=0", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf);
    log(quiet, &format!("+ {}", qemu.display()));
    let (ok, stdout, stderr) = qemu.capture()?;
    let log_path = dir.join(format!("{}.log", p.spec.name));
    std::fs::write(&log_path, format!("{stdout}{stderr}"))?;
    if !ok {
        return Err(format!(
            "{} on {}: the firmware failed (log: {}):\n{}{}",
            p.spec.name,
            board.name,
            log_path.display(),
            tail(&stdout, 20),
            stderr
        )
        .into());
    }
    let fw = parse_fw(&stdout).map_err(|e| format!("{}: {e}", log_path.display()))?;

    let mut failures: Vec<String> = timer_check(&fw).into_iter().collect();
    if fw.output != p.expected {
        failures.push(format!(
            "output bytes differ from the host runtime's (`ferrite run`):\n  firmware {}\n  host     {}",
            hex(&fw.output),
            hex(&p.expected)
        ));
    }
    if fw.model_bytes != p.inspect.file_bytes || fw.arena != p.inspect.arena_bytes {
        failures.push(format!(
            "the firmware's model ({} bytes, arena {}) is not the converted one ({} bytes, arena {})",
            fw.model_bytes, fw.arena, p.inspect.file_bytes, p.inspect.arena_bytes
        ));
    }
    if fw.ops as usize != p.inspect.ops.len() {
        failures.push(format!(
            "{} ops on the board, {} in `ferrite inspect`",
            fw.ops,
            p.inspect.ops.len()
        ));
    }

    let instructions = fw.run_ns.saturating_sub(fw.empty_ns);
    // The gaps between the observer's timer reads also hold `run_observed`'s own
    // bookkeeping (decoding each output's tensor record): spread evenly over the ops.
    let observed: u64 = fw.op_ns.iter().sum();
    let overhead = observed.saturating_sub(instructions) / fw.ops.max(1);
    let op_instructions: Vec<u64> = fw
        .op_ns
        .iter()
        .map(|ns| ns.saturating_sub(overhead))
        .collect();
    Ok(Measured {
        board: *board,
        model: p.spec.name.clone(),
        macs: p.macs(),
        instructions,
        load_instructions: fw.load_ns.saturating_sub(fw.empty_ns),
        session_input_instructions: fw.session_input_ns.saturating_sub(fw.empty_ns),
        resolution: fw.ns_per_tick,
        op_instructions,
        observer_overhead: overhead,
        op_kinds: p.inspect.ops.iter().map(InspectOp::kind).collect(),
        op_macs: p.inspect.ops.iter().map(|o| o.macs).collect(),
        arena: fw.arena,
        stack: fw.stack,
        ram_static: data + bss,
        flash_code: (text + data).saturating_sub(model_sym + input_sym),
        flash_model: model_sym,
        output_hex: hex(&fw.output),
        convert: p.convert.clone(),
        budget: None,
        failures,
    })
}

/// Symbol sizes by demangled name (`llvm-nm -S --demangle`).
fn symbol_sizes(elf: &Path) -> Result<BTreeMap<String, u64>> {
    let nm = ["/usr/lib/llvm-22/bin/llvm-nm", "llvm-nm"]
        .into_iter()
        .find_map(which)
        .ok_or("no llvm-nm found: run `cargo xtask setup` (package llvm-22)")?;
    let out = Cmd::new(nm).args(["-S", "--demangle"]).arg(elf).output()?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut w = l.splitn(4, ' ');
            let (_addr, size, _kind, name) = (w.next()?, w.next()?, w.next()?, w.next()?);
            Some((name.to_owned(), u64::from_str_radix(size, 16).ok()?))
        })
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse(&args(&["kws_dscnn", "--board", "mps2-an505", "--json"])).unwrap();
        assert_eq!(o.models, ["kws_dscnn"]);
        assert_eq!(o.boards, [BOARDS[1]]);
        assert!(o.json);
        assert_eq!(o.profile, "release");
        let o = parse(&args(&["--board=all", "--profile", "release-size"])).unwrap();
        assert_eq!(o.boards, BOARDS);
        assert_eq!(o.profile, "release-size");
        let o = parse(&args(&["--short"])).unwrap();
        assert_eq!(o.models, SHORT_MODELS);
        assert_eq!(o.boards, [BOARDS[0]]);
        assert_eq!(parse(&[]).unwrap().boards, BOARDS);
        assert!(parse(&args(&["--board", "microbit"])).is_err());
        assert!(parse(&args(&["--profile", "dev"])).is_err());
        assert!(parse(&args(&["--short", "resnet8"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn the_catalogue_names_the_examples_and_the_bench_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let (specs, have_manifest) = catalogue(root).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[..2], ["digits_mlp", "sensor_cnn"]);
        for s in &specs {
            for p in [&s.onnx, &s.calibration, &s.test] {
                assert!(root.join(p).is_file(), "{}: {}", s.name, p.display());
            }
        }
        if have_manifest {
            for (model, macs) in [("kws_dscnn", 2_656_768), ("resnet8", 12_501_632)] {
                let s = specs.iter().find(|s| s.name == model).unwrap();
                assert_eq!(s.macs, Some(macs), "{model}: MLPerf Tiny's MAC count");
            }
        }
        // Every published row names a model of the benchmark manifest.
        for p in &report::PUBLISHED {
            assert!(
                !have_manifest || names.contains(&p.model),
                "{} not in the manifest",
                p.model
            );
        }
    }

    const LOG: &str = "\
timer board=mps2-an386 ns_per_tick=40 empty_ns=0 loop_iterations=1000000 loop_instructions=2000000 loop_ns=2000000
model name=m bytes=2624 arena=768 ops=2
time load_ns=214400 session_input_ns=7080 run_ns=207920
stack peak_bytes=2552
observed total_ns=209200
op index=0 ns=180000
op index=1 ns=29000
output hex=00803f7f
done
";

    #[test]
    fn firmware_output_parses() {
        let r = parse_fw(LOG).unwrap();
        assert_eq!(
            (r.ns_per_tick, r.loop_instructions, r.loop_ns),
            (40, 2_000_000, 2_000_000)
        );
        assert_eq!((r.model_bytes, r.arena, r.ops), (2624, 768, 2));
        assert_eq!(
            (r.load_ns, r.session_input_ns, r.run_ns),
            (214_400, 7080, 207_920)
        );
        assert_eq!(r.stack, 2552);
        assert_eq!(r.op_ns, [180_000, 29_000]);
        assert_eq!(r.output, [0x00, 0x80, 0x3f, 0x7f]);
        assert!(parse_fw(&LOG.replace("done\n", ""))
            .unwrap_err()
            .to_string()
            .contains("did not finish"));
        assert!(parse_fw(&LOG.replace("op index=1 ns=29000\n", "")).is_err());
        assert!(parse_fw(&LOG.replace("index=1", "index=5")).is_err());
    }

    #[test]
    fn budgets_name_known_boards_and_models_and_cover_the_short_form() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let budgets = budgets(root).unwrap();
        let (specs, _) = catalogue(root).unwrap();
        for (board, models) in &budgets {
            assert!(
                BOARDS.iter().any(|b| b.name == board),
                "unknown board {board}"
            );
            for (model, b) in models {
                assert!(
                    specs.iter().any(|s| &s.name == model) || !root.join(MANIFEST).is_file(),
                    "{board}.{model}: unknown model"
                );
                assert!(b.instructions > 0 && b.stack_bytes > 0);
            }
        }
        let short = Options::short();
        for model in &short.models {
            assert!(
                budgets[short.boards[0].name].contains_key(model),
                "--short runs {model} without a budget"
            );
        }
    }

    #[test]
    fn the_timer_must_count_the_loop_to_two_ticks() {
        let with = |loop_ns: &str| parse_fw(&LOG.replace("loop_ns=2000000", loop_ns)).unwrap();
        assert_eq!(timer_check(&with("loop_ns=2000000")), None);
        assert_eq!(timer_check(&with("loop_ns=2000080")), None);
        assert_eq!(timer_check(&with("loop_ns=1999920")), None);
        assert!(timer_check(&with("loop_ns=2000120")).is_some());
        // Without -icount the virtual clock follows the host's: far off.
        assert!(timer_check(&with("loop_ns=731240")).is_some());
    }

    fn conv(detail: &str, in_channels: u64) -> InspectOp {
        InspectOp {
            op: "Conv".into(),
            detail: detail.into(),
            macs: 0,
            inputs: vec![InspectTensor {
                dtype: "i8".into(),
                shape: vec![1, in_channels, 25, 5],
            }],
        }
    }

    #[test]
    fn conv_kinds_come_from_groups_and_kernel() {
        assert_eq!(
            conv("k3x3 s1x1 p[1, 1, 1, 1] g64 relu", 64).kind(),
            "Conv depthwise"
        );
        assert_eq!(
            conv("k3x3 s1x1 p[1, 1, 1, 1] g2 relu", 64).kind(),
            "Conv grouped"
        );
        assert_eq!(conv("k1x1 s1x1 p[0, 0, 0, 0]", 64).kind(), "Conv 1x1");
        assert_eq!(conv("k10x4 s2x2 p[5, 1, 5, 1] relu", 1).kind(), "Conv");
        let mut fc = conv("", 1);
        fc.op = "FullyConnected".into();
        assert_eq!(fc.kind(), "FullyConnected");
    }
}
