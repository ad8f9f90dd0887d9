//! The report of `cargo xtask bench`: markdown tables, the targets with
//! PASS/FAIL, JSON, and the tables of `docs/performance.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::host::HostModel;
use super::suite::{Engine, Kind};
use super::wasm::{WasmRun, FERRITE_F32, ORT_WEB};
use super::{Machine, Options};
use crate::Result;

/// The documentation page whose tables `--update-docs` rewrites.
pub const DOCS: &str = "docs/performance.md";
const HOST_BLOCK: &str = "host";
const WASM_BLOCK: &str = "wasm";

pub struct Report {
    pub machine: Machine,
    /// onnxruntime, numpy, python, ferrite (the tool's `--version`).
    pub versions: BTreeMap<String, String>,
    pub commit: String,
    /// tract-onnx's version in Cargo.lock (the tool's tract).
    pub tract: String,
    /// Where the host tool came from (built here, or `FERRITE_TOOL`).
    pub tool_source: String,
    pub date: String,
    pub options: Options,
    pub host: Vec<HostModel>,
    pub wasm: Option<WasmRun>,
    /// Why the Node run, asked for, did not happen (the package did not build, Node
    /// failed): the host results are reported all the same.
    pub wasm_error: Option<String>,
}

/// One of the done-when targets on one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: &'static str,
    pub model: String,
    /// The measured ratio, as shown.
    pub measured: String,
    pub needed: &'static str,
    /// `None`: not measured (`measured` says why).
    pub pass: Option<bool>,
}

impl Target {
    fn result(&self) -> &'static str {
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "n/a",
        }
    }
}

fn us(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else {
        thousands(v.round() as u64)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn macs(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.2} M", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.1} k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

/// GMAC/s of one batch-1 inference of `macs` multiply-accumulates in `median_us`.
pub fn gmacs(macs: u64, median_us: f64) -> f64 {
    macs as f64 / (median_us * 1e3)
}

fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// The median of `engine` on `m`, when it was timed.
fn median_of(m: &HostModel, engine: Engine) -> Option<f64> {
    m.engines.get(&engine).and_then(|e| e.timing.median_us())
}

/// Why `engine` has no time on `m`.
fn missing(m: &HostModel, engine: Engine) -> String {
    match m.engines.get(&engine).and_then(|e| e.error.clone()) {
        Some(e) => format!("{} not timed: {e}", engine.label()),
        None => format!("{} not timed", engine.label()),
    }
}

/// `a ÷ b` of two engines' medians, as a target.
fn time_ratio_target(
    m: &HostModel,
    what: &'static str,
    a: Engine,
    b: Engine,
    needed: &'static str,
    ok: impl Fn(f64) -> bool,
) -> Target {
    let (measured, pass) = match (median_of(m, a), median_of(m, b)) {
        (Some(x), Some(y)) => {
            let r = x / y;
            (ratio(r), Some(ok(r)))
        }
        (None, _) => (missing(m, a), None),
        (_, None) => (missing(m, b), None),
    };
    Target {
        what,
        model: m.model.name.clone(),
        measured,
        needed,
        pass,
    }
}

/// The host targets (#14, done-when).
pub fn host_targets(models: &[HostModel]) -> Vec<Target> {
    let mut t = Vec::new();
    for m in models {
        t.push(time_ratio_target(
            m,
            "ferrite f32 faster than tract (time ÷ tract's)",
            Engine::FerriteF32,
            Engine::Tract,
            "< 1×",
            |r| r < 1.0,
        ));
    }
    for m in models.iter().filter(|m| m.model.kind == Kind::Conv) {
        t.push(time_ratio_target(
            m,
            "ferrite f32 within 1.5× of onnxruntime's time (conv)",
            Engine::FerriteF32,
            Engine::Onnxruntime,
            "≤ 1.5×",
            |r| r <= 1.5,
        ));
    }
    for m in models.iter().filter(|m| m.model.kind == Kind::Conv) {
        t.push(time_ratio_target(
            m,
            "ferrite int8 ≤ 0.6× ferrite f32's time (conv)",
            Engine::FerriteInt8,
            Engine::FerriteF32,
            "≤ 0.6×",
            |r| r <= 0.6,
        ));
    }
    for m in models.iter().filter(|m| m.model.name == "digits_mlp") {
        t.push(time_ratio_target(
            m,
            "digits MLP: ferrite f32 ≥ 3× faster than tract (time ÷ tract's)",
            Engine::FerriteF32,
            Engine::Tract,
            "≤ 0.33×",
            |r| r <= 1.0 / 3.0,
        ));
    }
    t
}

/// The Node target: ferrite-wasm (f32) faster than onnxruntime-web on every conv
/// model.
pub fn wasm_targets(run: &WasmRun) -> Vec<Target> {
    run.models
        .iter()
        .filter(|m| m.entry.model.kind == Kind::Conv)
        .map(|m| {
            let (measured, pass) = match (m.engines.get(FERRITE_F32), m.engines.get(ORT_WEB)) {
                (Some(f), Some(o)) => {
                    let r = f.median_us / o.median_us;
                    (ratio(r), Some(r < 1.0))
                }
                (None, _) => (
                    format!(
                        "{FERRITE_F32} not timed{}",
                        m.errors
                            .get(FERRITE_F32)
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                    None,
                ),
                (_, None) => (format!("{ORT_WEB} not timed"), None),
            };
            Target {
                what: "ferrite-wasm f32 faster than onnxruntime-web (time ÷ its, conv)",
                model: m.entry.model.name.clone(),
                measured,
                needed: "< 1×",
                pass,
            }
        })
        .collect()
}

fn targets_table(targets: &[Target]) -> String {
    let mut s =
        String::from("| target | model | measured | needed | result |\n|---|---|---:|---:|---|\n");
    for t in targets {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            t.what,
            t.model,
            t.measured,
            t.needed,
            t.result()
        );
    }
    let count = |p: Option<bool>| targets.iter().filter(|t| t.pass == p).count();
    let _ = writeln!(
        s,
        "\ntargets: {} PASS, {} FAIL, {} not measured",
        count(Some(true)),
        count(Some(false)),
        count(None)
    );
    s
}

impl Report {
    fn header(&self) -> String {
        let m = &self.machine;
        format!(
            "Measured {} at commit `{}` on {} ({} CPUs, load average {} at the start{}); \
             ferrite picks {} (the runtime's detection rules on /proc/cpuinfo). \
             Batch 1, {} round(s) × {} runs per engine and model{}.",
            self.date,
            self.commit,
            m.cpu,
            m.cpus,
            m.load,
            if m.pinned {
                "; every engine pinned to CPU 1 with `taskset -c 1`"
            } else {
                ""
            },
            m.isa,
            self.options.rounds,
            self.options.per_round(),
            if self.options.quick {
                " (`--quick`: a smoke run, the figures mean little)"
            } else {
                ""
            }
        )
    }

    /// The host section: versions, the table, notes, the targets.
    /// `header`: start with the run's header line (the docs blocks, which `--update-docs`
    /// rewrites one at a time, each carry it).
    pub fn host_markdown(&self, header: bool) -> String {
        let v = |k: &str| self.versions.get(k).cloned().unwrap_or_else(|| "?".into());
        let mut s = if header {
            format!("{}\n\n", self.header())
        } else {
            String::new()
        };
        s += &format!(
            "Engines: {} (`ferrite bench`, host tool {}); onnxruntime {} (CPU execution provider, \
             Python {}, `intra_op_num_threads = 1`, sequential, all graph optimizations); \
             tract {} (in the tool's process, on the same inputs). Times are the median of \
             the rounds' medians and p90s; ÷ columns are ferrite's time divided by the \
             peer's (below 1: ferrite is faster); GMAC/s counts the ONNX graph's \
             multiply-accumulates (`examples/bench/count_macs.py`). QDQ rows: onnxruntime \
             on `examples/qdq/MODEL_qdq_pc_s8.onnx` and ferrite's `--precision int8` \
             conversion of that file (its own quantization, no calibration).\n\n",
            v("ferrite"),
            self.tool_source,
            v("onnxruntime"),
            v("python"),
            self.tract,
        );
        s += "| model | MACs | engine | median µs | p90 µs | GMAC/s | ÷ onnxruntime | ÷ tract | arena bytes |\n";
        s += "|---|---:|---|---:|---:|---:|---:|---:|---:|\n";
        let mut notes = Vec::new();
        for m in &self.host {
            let mut first = true;
            for engine in Engine::ALL {
                let Some(e) = m.engines.get(&engine) else {
                    continue;
                };
                let (model, n) = if first {
                    (
                        format!("`{}`", m.model.name),
                        m.macs.map(macs).unwrap_or_default(),
                    )
                } else {
                    (String::new(), String::new())
                };
                first = false;
                let med = e.timing.median_us();
                let cell = |x: Option<f64>, f: &dyn Fn(f64) -> String| {
                    x.map(f).unwrap_or_else(|| "—".into())
                };
                // Empty for an engine without that peer, — when either was not timed.
                let peer = |p: Option<Engine>| match p {
                    None => String::new(),
                    Some(p) => cell(med.zip(median_of(m, p)).map(|(x, y)| x / y), &ratio),
                };
                if let Some(err) = &e.error {
                    notes.push(format!("`{}`, {}: {err}", m.model.name, engine.label()));
                }
                let _ = writeln!(
                    s,
                    "| {model} | {n} | {} | {} | {} | {} | {} | {} | {} |",
                    engine.label(),
                    cell(med, &us),
                    cell(e.timing.p90_us(), &us),
                    cell(med.and_then(|t| m.macs.map(|n| gmacs(n, t))), &|g| format!(
                        "{g:.2}"
                    )),
                    peer(engine.onnxruntime_peer()),
                    peer(engine.tract_peer()),
                    e.arena_bytes.map(thousands).unwrap_or_default(),
                );
            }
        }
        if !notes.is_empty() {
            s += "\nNot timed:\n";
            for n in notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s += "\nThe issue's targets (information, not a test):\n\n";
        s += &targets_table(&host_targets(&self.host));
        s
    }

    /// The engines a working harness always times: the peers and ferrite's f32 and
    /// int8 conversions (`model, engine: why` for each that was not).
    pub fn untimed_essentials(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.host {
            for engine in [
                Engine::Onnxruntime,
                Engine::Tract,
                Engine::OnnxruntimeQdq,
                Engine::FerriteF32,
                Engine::FerriteInt8,
            ] {
                if let Some(e) = m.engines.get(&engine) {
                    if e.timing.median_us().is_none() {
                        out.push(format!(
                            "{}, {}: {}",
                            m.model.name,
                            engine.label(),
                            e.error.as_deref().unwrap_or("no timing")
                        ));
                    }
                }
            }
        }
        if let Some(e) = &self.wasm_error {
            out.push(format!("the Node run: {e}"));
        }
        for m in self.wasm.iter().flat_map(|w| &w.models) {
            for name in [ORT_WEB, FERRITE_F32] {
                if !m.engines.contains_key(name) {
                    out.push(format!(
                        "{}, {name}: {}",
                        m.entry.model.name,
                        m.errors.get(name).map_or("no timing", String::as_str)
                    ));
                }
            }
        }
        out
    }

    /// The Node section (`header` as for [`Report::host_markdown`]).
    pub fn wasm_markdown(&self, header: bool) -> Option<String> {
        let run = self.wasm.as_ref()?;
        let mut s = if header {
            format!("{}\n\n", self.header())
        } else {
            String::new()
        };
        s += &format!(
            "ferrite-wasm {} (simd128: {}, package {}) vs \
             onnxruntime-web {} (wasm backend, `numThreads = 1`, SIMD) in Node {}: \
             {} interleaved round(s) of {} calls per engine; median and p90 over every \
             call. ÷ column: ferrite's time divided by onnxruntime-web's. max \\|Δ\\|: the \
             largest difference of an output value from onnxruntime-web's over the \
             model's data rows.\n\n",
            run.ferrite, run.simd128, run.pkg_source, run.ort_web, run.node, run.rounds, run.runs,
        );
        s += "| model | MACs | engine | median µs | p90 µs | GMAC/s | ÷ onnxruntime-web | max \\|Δ\\| |\n";
        s += "|---|---:|---|---:|---:|---:|---:|---:|\n";
        let mut notes = Vec::new();
        for m in &run.models {
            let base = m.engines.get(ORT_WEB).map(|o| o.median_us);
            let mut first = true;
            for name in super::wasm::ENGINES {
                let (model, n) = if first {
                    (
                        format!("`{}`", m.entry.model.name),
                        m.entry.macs.map(macs).unwrap_or_default(),
                    )
                } else {
                    (String::new(), String::new())
                };
                first = false;
                if let Some(e) = m.errors.get(name) {
                    notes.push(format!("`{}`, {name}: {e}", m.entry.model.name));
                }
                let Some(st) = m.engines.get(name) else {
                    let _ = writeln!(s, "| {model} | {n} | {name} | — | — | — | — | — |");
                    continue;
                };
                let r = match base {
                    Some(b) if name != ORT_WEB => ratio(st.median_us / b),
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "| {model} | {n} | {name} | {} | {} | {} | {r} | {} |",
                    us(st.median_us),
                    us(st.p90_us),
                    m.entry
                        .macs
                        .map(|n| format!("{:.2}", gmacs(n, st.median_us)))
                        .unwrap_or_default(),
                    m.max_abs_diff
                        .get(name)
                        .map(|d| format!("{d:.1e}"))
                        .unwrap_or_default(),
                );
            }
        }
        if !notes.is_empty() {
            s += "\nNot timed:\n";
            for n in notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        if !run.sizes.is_empty() {
            s += "\n.wasm sizes: ";
            let parts: Vec<String> = run
                .sizes
                .iter()
                .map(|(name, raw, gz)| {
                    format!(
                        "{name} {:.1} KiB ({:.1} KiB gzip)",
                        *raw as f64 / 1024.0,
                        *gz as f64 / 1024.0
                    )
                })
                .collect();
            s += &parts.join("; ");
            s += ".\n";
        }
        s += "\nThe issue's target (information, not a test):\n\n";
        s += &targets_table(&wasm_targets(run));
        Some(s)
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# ferrite benchmark (`cargo xtask bench`)\n\n{}\n\n",
            self.header()
        );
        if self.options.host {
            s += "## Host\n\n";
            s += &self.host_markdown(false);
            s += "\n";
        }
        if let Some(w) = self.wasm_markdown(false) {
            s += "## WASM (Node)\n\n";
            s += &w;
        }
        if let Some(e) = &self.wasm_error {
            let _ = writeln!(
                s,
                "## WASM (Node)\n\nNot run: {e} (the command's own message is in the run's output)."
            );
        }
        s
    }

    pub fn json(&self) -> Value {
        let target = |t: &Target| {
            json!({"target": t.what, "model": t.model, "measured": t.measured,
                   "needed": t.needed, "result": t.result()})
        };
        let host: Vec<Value> = self
            .host
            .iter()
            .map(|m| {
                let engines: serde_json::Map<String, Value> = m
                    .engines
                    .iter()
                    .map(|(e, r)| {
                        let rounds: Vec<Value> = r
                            .timing
                            .rounds
                            .iter()
                            .map(|x| json!({"median_us": x.median_us, "p90_us": x.p90_us, "iterations": x.iterations}))
                            .collect();
                        (
                            e.key().to_owned(),
                            json!({
                                "label": e.label(),
                                "median_us": r.timing.median_us(),
                                "p90_us": r.timing.p90_us(),
                                "iterations": r.timing.iterations(),
                                "gmac_per_s": r.timing.median_us().and_then(|t| m.macs.map(|n| gmacs(n, t))),
                                "rounds": rounds,
                                "arena_bytes": r.arena_bytes,
                                "file_bytes": r.file_bytes,
                                "error": r.error,
                            }),
                        )
                    })
                    .collect();
                json!({
                    "model": m.model.name,
                    "kind": if m.model.kind == Kind::Conv { "conv" } else { "dense" },
                    "onnx": m.model.onnx,
                    "qdq": m.model.qdq,
                    "macs": m.macs,
                    "engines": engines,
                })
            })
            .collect();
        let wasm = self.wasm.as_ref().map(|run| {
            let models: Vec<Value> = run
                .models
                .iter()
                .map(|m| {
                    let engines: serde_json::Map<String, Value> = m
                        .engines
                        .iter()
                        .map(|(k, st)| {
                            (
                                k.clone(),
                                json!({"median_us": st.median_us, "p90_us": st.p90_us, "calls": st.calls,
                                       "gmac_per_s": m.entry.macs.map(|n| gmacs(n, st.median_us)),
                                       "max_abs_diff_vs_onnxruntime_web": m.max_abs_diff.get(k)}),
                            )
                        })
                        .collect();
                    json!({"model": m.entry.model.name, "macs": m.entry.macs, "shape": m.entry.shape,
                           "engines": engines, "errors": m.errors})
                })
                .collect();
            json!({
                "node": run.node, "onnxruntime_web": run.ort_web, "ferrite_wasm": run.ferrite,
                "simd128": run.simd128, "rounds": run.rounds, "calls_per_round": run.runs,
                "sizes": run.sizes.iter().map(|(n, r, g)| json!({"file": n, "raw": r, "gzip": g})).collect::<Vec<_>>(),
                "models": models,
                "targets": wasm_targets(run).iter().map(target).collect::<Vec<_>>(),
            })
        });
        let mut versions = self.versions.clone();
        versions.insert("tract".into(), self.tract.clone());
        json!({
            "date": self.date,
            "commit": self.commit,
            "machine": {"cpu": self.machine.cpu, "cpus": self.machine.cpus, "isa": self.machine.isa,
                        "load_average": self.machine.load, "pinned_to_cpu_1": self.machine.pinned},
            "versions": versions,
            "host_tool": self.tool_source,
            "options": {"rounds": self.options.rounds, "runs_per_round": self.options.per_round(),
                        "quick": self.options.quick},
            "host": if self.options.host {
                json!({"models": host, "targets": host_targets(&self.host).iter().map(target).collect::<Vec<_>>()})
            } else {
                Value::Null
            },
            "wasm": wasm,
            "wasm_error": self.wasm_error,
        })
    }

    /// Rewrites the host and Node blocks of `path` (between `<!-- bench:host:begin -->`
    /// and `<!-- bench:host:end -->`, and the same for `wasm`) with this run's sections.
    pub fn update_docs(&self, path: &Path) -> Result<()> {
        let mut text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if self.options.host {
            text = replace_block(&text, HOST_BLOCK, &self.host_markdown(true))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(w) = self.wasm_markdown(true) {
            text = replace_block(&text, WASM_BLOCK, &w)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        std::fs::write(path, text)?;
        Ok(())
    }
}

/// `text` with everything between the `name` markers replaced by `body`.
pub fn replace_block(text: &str, name: &str, body: &str) -> Result<String> {
    let begin = format!("<!-- bench:{name}:begin -->");
    let end = format!("<!-- bench:{name}:end -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        return Err(format!("no `{begin}` … `{end}` markers").into());
    };
    if e < b {
        return Err(format!("`{end}` comes before `{begin}`").into());
    }
    Ok(format!(
        "{}{begin}\n{}\n{}",
        &text[..b],
        body.trim_end(),
        &text[e..]
    ))
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    civil_date(days)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The version of `package` in a Cargo.lock.
pub fn locked_version(lock: &str, package: &str) -> Option<String> {
    let head = format!("name = \"{package}\"\nversion = \"");
    let at = lock.find(&head)? + head.len();
    lock[at..].split('"').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::host::Measured;
    use super::super::suite::Model;
    use super::super::{Round, Timing};
    use super::*;

    fn timing(us: f64) -> Timing {
        Timing {
            rounds: vec![Round {
                median_us: us,
                p90_us: us * 1.2,
                iterations: 10,
            }],
        }
    }

    fn model(name: &str, kind: Kind, times: &[(Engine, f64)]) -> HostModel {
        let mut engines = BTreeMap::new();
        for &(e, t) in times {
            engines.insert(
                e,
                Measured {
                    timing: timing(t),
                    arena_bytes: e.onnxruntime_peer().map(|_| 64_000),
                    ..Default::default()
                },
            );
        }
        HostModel {
            model: Model {
                name: name.into(),
                onnx: format!("{name}.onnx").into(),
                calibration: "c.npy".into(),
                data: "d.npy".into(),
                qdq: None,
                kind,
            },
            macs: Some(2_000_000),
            engines,
        }
    }

    #[test]
    fn targets_compare_the_right_engines() {
        use Engine::*;
        let conv = model(
            "kws_dscnn",
            Kind::Conv,
            &[
                (Onnxruntime, 100.0),
                (Tract, 200.0),
                (FerriteF32, 140.0),
                (FerriteInt8, 90.0),
            ],
        );
        let digits = model(
            "digits_mlp",
            Kind::Dense,
            &[(Onnxruntime, 5.0), (Tract, 10.0), (FerriteF32, 4.0)],
        );
        let t = host_targets(&[conv, digits]);
        let find = |what: &str, model: &str| {
            t.iter()
                .find(|x| x.what.starts_with(what) && x.model == model)
                .unwrap_or_else(|| panic!("{what} {model} in {t:?}"))
                .clone()
        };
        let faster = find("ferrite f32 faster than tract", "kws_dscnn");
        assert_eq!(
            (faster.measured.as_str(), faster.pass),
            ("0.70×", Some(true))
        );
        let ort = find("ferrite f32 within 1.5×", "kws_dscnn");
        assert_eq!((ort.measured.as_str(), ort.pass), ("1.40×", Some(true)));
        let int8 = find("ferrite int8 ≤ 0.6×", "kws_dscnn");
        assert_eq!((int8.measured.as_str(), int8.pass), ("0.64×", Some(false)));
        let digits3 = find("digits MLP", "digits_mlp");
        assert_eq!(
            (digits3.measured.as_str(), digits3.pass),
            ("0.40×", Some(false))
        );
        // The conv-only targets skip the dense model.
        assert!(!t
            .iter()
            .any(|x| x.model == "digits_mlp" && x.what.contains("conv")));
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn a_missing_engine_is_not_measured_rather_than_failed() {
        let mut m = model("resnet8", Kind::Conv, &[(Engine::Onnxruntime, 100.0)]);
        m.engines.insert(
            Engine::FerriteF32,
            Measured {
                error: Some("conversion failed: unsupported op".into()),
                ..Default::default()
            },
        );
        let t = host_targets(&[m]);
        let ort = t.iter().find(|x| x.what.contains("onnxruntime")).unwrap();
        assert_eq!(ort.pass, None);
        assert!(ort.measured.contains("unsupported op"), "{}", ort.measured);
    }

    #[test]
    fn a_failed_node_run_keeps_the_host_results_and_the_docs_node_table() {
        let report = Report {
            machine: Machine::default(),
            versions: BTreeMap::new(),
            commit: "abc1234".into(),
            tract: "0.23.9".into(),
            tool_source: "built".into(),
            date: "2026-12-06".into(),
            options: Options::default(),
            host: vec![model(
                "digits_mlp",
                Kind::Dense,
                &[
                    (Engine::Onnxruntime, 5.0),
                    (Engine::Tract, 10.0),
                    (Engine::FerriteF32, 2.0),
                    (Engine::FerriteInt8, 3.0),
                ],
            )],
            wasm: None,
            wasm_error: Some("build.mjs failed".into()),
        };
        let md = report.markdown();
        assert!(md.contains("| `digits_mlp` |"), "{md}");
        assert!(md.contains("Not run: build.mjs failed"), "{md}");
        assert_eq!(report.json()["wasm_error"], "build.mjs failed");
        assert_eq!(
            report.untimed_essentials(),
            ["the Node run: build.mjs failed"]
        );
        let dir = std::env::temp_dir().join(format!("xtask-bench-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let doc = dir.join("performance.md");
        let before = "<!-- bench:host:begin -->\nold host\n<!-- bench:host:end -->\n\
                      <!-- bench:wasm:begin -->\nold node\n<!-- bench:wasm:end -->\n";
        std::fs::write(&doc, before).unwrap();
        report.update_docs(&doc).unwrap();
        let after = std::fs::read_to_string(&doc).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            !after.contains("old host") && after.contains("`digits_mlp`"),
            "{after}"
        );
        assert!(after.contains("\nold node\n"), "{after}");
    }

    #[test]
    fn docs_blocks_are_replaced_between_their_markers_only() {
        let doc = "# P\n\n## Host\n<!-- bench:host:begin -->\nold\n<!-- bench:host:end -->\ntail\n";
        let new = replace_block(doc, "host", "new table\n").unwrap();
        assert_eq!(
            new,
            "# P\n\n## Host\n<!-- bench:host:begin -->\nnew table\n<!-- bench:host:end -->\ntail\n"
        );
        assert!(replace_block(doc, "wasm", "x").is_err());
    }

    #[test]
    fn numbers_are_formatted_for_the_table() {
        assert_eq!(us(5.4761), "5.48");
        assert_eq!(us(113.546), "113.5");
        assert_eq!(us(13139.98), "13,140");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(macs(2_656_768), "2.66 M");
        assert_eq!(macs(28_224), "28.2 k");
        // 2.66 M MACs in 1 ms: 2.66 GMAC/s.
        assert!((gmacs(2_656_768, 1000.0) - 2.656768).abs() < 1e-12);
    }

    #[test]
    fn dates_and_lock_versions() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_793), "2026-12-06");
        let lock = "[[package]]\nname = \"tract-onnx\"\nversion = \"0.23.1\"\n";
        assert_eq!(
            locked_version(lock, "tract-onnx").as_deref(),
            Some("0.23.1")
        );
        assert_eq!(locked_version(lock, "nope"), None);
    }
}
