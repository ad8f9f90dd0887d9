//! `cargo xtask bench`: batch-1 latency of ferrite next to the engines a user would
//! otherwise pick, in one table (issue #14).
//!
//! Host: for each model, the host tool converts the ONNX file to f32, f16 and int8 (and
//! the onnxruntime-quantized QDQ file of `examples/qdq/` to int8, the pre-quantized
//! path, #16); `ferrite bench` times each conversion and, in the same process on the
//! same inputs, tract on the ONNX file; `targets/bench/ort_bench.py` times onnxruntime
//! (CPU, one thread, sequential, all graph optimizations) on the ONNX file and on the
//! QDQ file. The engines of one model run one after another in interleaved rounds
//! (order reversed every other round) so that a change of load on the machine hits
//! them all; each round reports its median and p90, and the table shows the median of
//! the rounds' medians and of their p90s. Every engine runs pinned to CPU 1
//! (`taskset -c 1`) when the machine has two CPUs or more.
//!
//! Node: `bindings/wasm/bench/bench.mjs --suite` times the ferrite-wasm package (f32
//! and int8 conversions) against onnxruntime-web (wasm backend, one thread, SIMD) on
//! the same models, interleaving them the same way.
//!
//! The targets are checked from the medians and printed with PASS/FAIL: this is
//! information for the reader, never an exit status (speed is measured, not tested).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cargo::host_cargo;
use crate::cmd::{which, Cmd};
use crate::step::{Outcome, Stage, Step};
use crate::{Ctx, Result};

mod host;
mod report;
mod suite;
mod wasm;

use host::{Onnxruntime, Precision, Tool};

pub const USAGE: &str = "\
usage: cargo xtask bench [--models M,M…] [--quick] [--rounds R] [--iterations N]
                         [--no-host] [--no-wasm] [--update-docs]

Batch-1 latency of ferrite (f32, f16, int8, and int8 converted from onnxruntime's QDQ
files) next to onnxruntime (Python, 1 thread) and tract (in ferrite's process) on the
host, and of the ferrite-wasm package next to onnxruntime-web (wasm, 1 thread) in Node:
median and p90 µs, GMAC/s, ferrite's time ÷ each peer's, arena bytes, and the issue's
targets with PASS/FAIL (information only: the exit status does not depend on them).
Prints a markdown report and writes target/bench/report.md and report.json. Exits 1
when the Node run could not happen (the host report is printed and written first).

  --models M,M      digits_mlp, sensor_cnn, or a model of examples/bench/manifest.json
                    (kws_dscnn, resnet8, vww_mobilenetv1, mobilenetv2_035,
                    ad_autoencoder); default: all
  --quick           1 round of 10 runs per engine (checks that the harness works; the
                    figures mean little)
  --rounds R        interleaved rounds per model (default 4)
  --iterations N    timed runs per engine and model, over all rounds (default 200)
  --no-host         skip the host engines (onnxruntime, tract, ferrite)
  --no-wasm         skip the Node run (ferrite-wasm vs onnxruntime-web)
  --update-docs     also rewrite the tables of docs/performance.md (between its
                    `<!-- bench:… -->` markers)

Builds what it needs: the host tool (`cargo build --release -p ferrite-tool`) and the
npm package (`node bindings/wasm/build.mjs`). Needs the venv and the npm packages of
`cargo xtask setup` (onnxruntime from tests/requirements.txt, onnxruntime-web from
bindings/wasm/package.json).

environment:
  FERRITE_TOOL      a host tool binary to use instead of building one
  FERRITE_WASM_PKG  a built ferrite-wasm package folder to use instead of building one
  FERRITE_PYTHON    the Python with onnxruntime (default: the setup's venv)
";

/// Where conversions, the Node suite and the reports go.
const OUT_DIR: &str = "target/bench";
/// The CPU the engines are pinned to.
const PIN_CPU: &str = "1";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub models: Vec<String>,
    pub rounds: usize,
    /// Timed runs per engine and model, over all rounds.
    pub iterations: usize,
    pub quick: bool,
    pub host: bool,
    pub wasm: bool,
    pub update_docs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            models: Vec::new(),
            rounds: 4,
            iterations: 200,
            quick: false,
            host: true,
            wasm: true,
            update_docs: false,
        }
    }
}

impl Options {
    /// Timed runs per engine in one round.
    pub fn per_round(&self) -> usize {
        self.iterations.div_ceil(self.rounds).max(1)
    }
}

/// `None` for `--help`.
pub fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options::default();
    let (mut rounds, mut iterations) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => Ok(it.next().ok_or(format!("{flag} needs a value"))?.clone()),
            }
        };
        let count = |v: String| -> Result<usize> {
            match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag} takes a positive number, not `{v}`").into()),
            }
        };
        match flag {
            "--models" => o.models.extend(
                value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            "--quick" => o.quick = true,
            "--rounds" => rounds = Some(count(value()?)?),
            "--iterations" => iterations = Some(count(value()?)?),
            "--no-host" => o.host = false,
            "--no-wasm" => o.wasm = false,
            "--update-docs" => o.update_docs = true,
            "-h" | "--help" | "help" => return Ok(None),
            f => return Err(format!("unknown option {f}\n\n{USAGE}").into()),
        }
    }
    if o.quick {
        o.rounds = 1;
        o.iterations = 10;
    }
    o.rounds = rounds.unwrap_or(o.rounds);
    o.iterations = iterations.unwrap_or(o.iterations);
    if !o.host && !o.wasm {
        return Err("--no-host and --no-wasm leave nothing to measure".into());
    }
    Ok(Some(o))
}

/// One round of one engine: its median and p90 over `iterations` timed runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    pub median_us: f64,
    pub p90_us: f64,
    pub iterations: usize,
}

/// Every round of one engine on one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    pub rounds: Vec<Round>,
}

impl Timing {
    /// The median of the rounds' medians.
    pub fn median_us(&self) -> Option<f64> {
        median(self.rounds.iter().map(|r| r.median_us).collect())
    }

    /// The median of the rounds' p90s.
    pub fn p90_us(&self) -> Option<f64> {
        median(self.rounds.iter().map(|r| r.p90_us).collect())
    }

    pub fn iterations(&self) -> usize {
        self.rounds.iter().map(|r| r.iterations).sum()
    }
}

/// The median (the mean of the middle two for an even count); `None` when empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `taskset -c 1` when `taskset` exists and the machine has a CPU 1, else nothing.
pub fn pin_prefix() -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 && which("taskset").is_some() {
        vec!["taskset".into(), "-c".into(), PIN_CPU.into()]
    } else {
        Vec::new()
    }
}

/// The machine the figures were measured on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    /// The kernel families ferrite's dispatch picks on this CPU.
    pub isa: String,
    pub load: String,
    pub pinned: bool,
}

impl Machine {
    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        };
        let flags: Vec<String> = field("flags")
            .or_else(|| field("Features"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Machine {
            cpu: field("model name")
                .or_else(|| field("Model"))
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            isa: isa(std::env::consts::ARCH, &flags),
            load: std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            pinned: !pin_prefix().is_empty(),
        }
    }
}

/// The kernels ferrite's run-time dispatch picks for a CPU with these `/proc/cpuinfo`
/// flags: `kernels::fast` (the executor's f32/int8 kernels: AVX2 when the CPU has it)
/// and `kernels::engine::Isa::best` (the conv engine: AVX-512 VNNI, AVX-512, AVX2+FMA
/// on x86-64; NEON with or without the dot product on AArch64). The tool does not
/// print its choice, so this follows the runtime's detection rules.
pub fn isa(arch: &str, flags: &[String]) -> String {
    let has = |f: &str| flags.iter().any(|x| x == f);
    let (fast, engine) = match arch {
        "x86_64" => {
            let avx2 = has("avx2");
            let avx512 = has("avx512f") && has("avx512bw") && has("avx512vl") && avx2 && has("fma");
            let engine = if avx512 && has("avx512_vnni") {
                "avx512vnni"
            } else if avx512 {
                "avx512"
            } else if avx2 && has("fma") {
                "avx2"
            } else {
                "portable"
            };
            (if avx2 { "avx2" } else { "portable" }, engine)
        }
        "aarch64" => ("neon", if has("asimddp") { "neondot" } else { "neon" }),
        _ => ("portable", "portable"),
    };
    format!("kernels::fast {fast}, conv engine {engine}")
}

/// The host tool: `FERRITE_TOOL`, else built in release; and where it came from.
fn host_tool(ctx: &Ctx) -> Result<(PathBuf, String)> {
    if let Some(p) = std::env::var_os("FERRITE_TOOL") {
        eprintln!("host tool: FERRITE_TOOL={}", Path::new(&p).display());
        return Ok((p.into(), "from FERRITE_TOOL, not built by this run".into()));
    }
    // `-p ferrite-python --bin ferrite` builds only the tool but resolves features as
    // the Python wheel's release build does (pyo3 turns on `syn` features), so both,
    // and the conformance step, share tract and its dependencies (steps/python.rs).
    Cmd::new(host_cargo())
        .args([
            "build",
            "--release",
            "-p",
            "ferrite-tool",
            "-p",
            "ferrite-python",
        ])
        .args(["--bin", "ferrite"])
        .cwd(&ctx.root)
        .stdout_to_stderr()
        .run()?;
    let tool = ctx
        .root
        .join("target/release")
        .join(format!("ferrite{}", std::env::consts::EXE_SUFFIX));
    if !tool.is_file() {
        return Err(format!("built, but {} is not there", tool.display()).into());
    }
    Ok((
        tool,
        "built by `cargo build --release -p ferrite-tool`".into(),
    ))
}

/// The interpreter with onnxruntime: `FERRITE_PYTHON`, else the setup's venv.
fn python(ctx: &Ctx) -> Result<PathBuf> {
    let p = match std::env::var_os("FERRITE_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => tool_env(ctx, "FERRITE_PYTHON")?,
    };
    if !p.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo xtask setup` (the venv has onnxruntime)",
            p.display()
        )
        .into());
    }
    Ok(p)
}

/// The file `cargo xtask setup` installed for the variable `key` (`setup::tool_env`).
pub fn tool_env(ctx: &Ctx, key: &str) -> Result<PathBuf> {
    crate::setup::tool_env(ctx)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("setup hands down no {key}").into())
}

/// `cargo xtask bench …`; returns whether the harness ran (the targets never fail it).
pub fn command(ctx: &Ctx, args: &[String]) -> Result<bool> {
    let Some(opts) = parse(args)? else {
        print!("{USAGE}");
        return Ok(true);
    };
    let report = run(ctx, &opts)?;
    if let Some(e) = &report.wasm_error {
        eprintln!("xtask bench: the Node run failed ({e}); the host results are above");
    }
    Ok(report.wasm_error.is_none())
}

/// Measures, prints the report and writes its files (and the docs with `--update-docs`).
pub fn run(ctx: &Ctx, opts: &Options) -> Result<report::Report> {
    let opts = opts.clone();
    let models = suite::load(&ctx.root, &opts.models)?;
    let out_dir = ctx.root.join(OUT_DIR);
    let fer_dir = out_dir.join("models");
    std::fs::create_dir_all(&fer_dir)?;
    let machine = Machine::probe();
    eprintln!(
        "{} ({} CPUs; load {}), ferrite picks {}{}",
        machine.cpu,
        machine.cpus,
        machine.load,
        machine.isa,
        if machine.pinned {
            "; engines pinned to CPU 1"
        } else {
            ""
        }
    );

    let (tool_path, tool_source) = host_tool(ctx)?;
    let tool = Tool {
        path: tool_path,
        root: ctx.root.clone(),
    };
    let mut ort = Onnxruntime::start(&python(ctx)?, &ctx.root)?;
    let mut versions: BTreeMap<String, String> = ort.info()?;
    versions.insert("ferrite".into(), tool.version()?);

    // Conversions (both the host and the Node run use them), MACs and input shapes.
    let mut prepared = Vec::new();
    for m in &models {
        let mut converted = BTreeMap::new();
        for p in Precision::ALL {
            if p == Precision::Qdq && m.qdq.is_none() {
                continue;
            }
            converted.insert(p, tool.convert(m, p, &fer_dir)?);
        }
        prepared.push((m.clone(), converted));
    }

    let mut host_results = Vec::new();
    if opts.host {
        for (m, converted) in &prepared {
            eprintln!(
                "\n== {}: {} round(s) of {} runs per engine",
                m.name,
                opts.rounds,
                opts.per_round()
            );
            let r = host::measure(&tool, &mut ort, m, converted, opts.rounds, opts.per_round())?;
            for (engine, measured) in &r.engines {
                match (measured.timing.median_us(), &measured.error) {
                    (_, Some(e)) => eprintln!("   {:<22} {e}", engine.label()),
                    (Some(t), None) => eprintln!("   {:<22} median {t:.1} µs", engine.label()),
                    (None, None) => {}
                }
            }
            host_results.push(r);
        }
    }

    let (mut wasm_results, mut wasm_error) = (None, None);
    if opts.wasm {
        let mut entries = Vec::new();
        for (m, converted) in &prepared {
            let fer = |p: Precision| match converted.get(&p) {
                Some(Ok(c)) => Some(c.path.clone()),
                _ => None,
            };
            entries.push(wasm::Entry {
                model: m.clone(),
                shape: ort
                    .shape(&ctx.root.join(&m.onnx))?
                    .map_err(|e| format!("{}: {e}", m.name))?,
                macs: ort.macs(&ctx.root.join(&m.onnx))?.ok(),
                f32: fer(Precision::F32),
                int8: fer(Precision::Int8),
            });
        }
        // A failed Node run (no wasm-bindgen, Node missing, …) is reported next to the
        // host results rather than discarding them.
        match wasm::package(ctx).and_then(|pkg| wasm::run(ctx, &pkg, &entries, &opts, &out_dir)) {
            Ok(run) => wasm_results = Some(run),
            Err(e) => {
                eprintln!("the Node run failed: {e}");
                wasm_error = Some(e.to_string());
            }
        }
    }
    drop(ort);

    let report = report::Report {
        machine,
        versions,
        commit: Cmd::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .cwd(&ctx.root)
            .output()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        tract: std::fs::read_to_string(ctx.root.join("Cargo.lock"))
            .ok()
            .and_then(|lock| report::locked_version(&lock, "tract-onnx"))
            .unwrap_or_else(|| "?".into()),
        tool_source,
        date: report::today(),
        options: opts.clone(),
        host: host_results,
        wasm: wasm_results,
        wasm_error,
    };
    let markdown = report.markdown();
    std::fs::write(out_dir.join("report.md"), &markdown)?;
    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&report.json())? + "\n",
    )?;
    println!("\n{markdown}");
    eprintln!("wrote {0}/report.md and {0}/report.json", out_dir.display());
    if opts.update_docs {
        let docs = ctx.root.join(report::DOCS);
        report.update_docs(&docs)?;
        eprintln!("updated {}", docs.display());
    }
    Ok(report)
}

/// The models of the CI form.
pub const SMOKE_MODELS: [&str; 2] = ["kws_dscnn", "digits_mlp"];

/// The CI step: `cargo xtask bench --quick` on [`SMOKE_MODELS`]. It fails when the
/// harness is broken — a peer (onnxruntime, tract, onnxruntime-web) or ferrite's own f32
/// and int8 conversions were not timed — never on the figures.
pub fn steps(ctx: &Ctx) -> Vec<Step> {
    vec![Step::new(
        "bench-smoke",
        Stage::Conformance,
        format!(
            "cargo xtask bench --quick --models {} (the benchmark harness runs; figures not checked)",
            SMOKE_MODELS.join(",")
        ),
        |ctx| {
            let opts = Options {
                models: SMOKE_MODELS.iter().map(|m| m.to_string()).collect(),
                rounds: 1,
                iterations: 10,
                quick: true,
                ..Options::default()
            };
            let missing = run(ctx, &opts)?.untimed_essentials();
            if missing.is_empty() {
                Ok(Outcome::Passed)
            } else {
                Err(format!("not timed: {}", missing.join("; ")).into())
            }
        },
    )
    .for_target(ctx.host().triple.clone())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options() {
        let o = parse(&args(
            "--models kws_dscnn,digits_mlp --rounds 2 --iterations=50 --no-wasm",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(o.models, ["kws_dscnn", "digits_mlp"]);
        assert_eq!((o.rounds, o.iterations, o.per_round()), (2, 50, 25));
        assert!(o.host && !o.wasm && !o.update_docs);
        let q = parse(&args("--quick --update-docs")).unwrap().unwrap();
        assert_eq!((q.rounds, q.iterations, q.per_round()), (1, 10, 10));
        assert!(q.update_docs);
        assert_eq!(parse(&args("--help")).unwrap(), None);
        for bad in [
            "--rounds 0",
            "--iterations x",
            "--bogus",
            "--no-host --no-wasm",
            "--models",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn rounds_combine_by_median() {
        let r = |median_us, p90_us| Round {
            median_us,
            p90_us,
            iterations: 50,
        };
        let t = Timing {
            rounds: vec![r(10.0, 12.0), r(30.0, 90.0), r(11.0, 13.0), r(12.0, 20.0)],
        };
        assert_eq!(t.median_us(), Some(11.5));
        assert_eq!(t.p90_us(), Some(16.5));
        assert_eq!(t.iterations(), 200);
        assert_eq!(Timing::default().median_us(), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn isa_follows_the_runtime_dispatch_rules() {
        let f = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            isa(
                "x86_64",
                &f("sse2 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni")
            ),
            "kernels::fast avx2, conv engine avx512vnni"
        );
        assert_eq!(
            isa("x86_64", &f("avx2 fma avx512f avx512bw avx512vl")),
            "kernels::fast avx2, conv engine avx512"
        );
        assert_eq!(
            isa("x86_64", &f("avx2 fma avx512f")),
            "kernels::fast avx2, conv engine avx2"
        );
        assert_eq!(
            isa("x86_64", &f("sse2 avx")),
            "kernels::fast portable, conv engine portable"
        );
        assert_eq!(
            isa("aarch64", &f("fp asimd asimddp")),
            "kernels::fast neon, conv engine neondot"
        );
    }
}
