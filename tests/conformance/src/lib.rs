//! ONNX backend conformance harness for ferrite.
//!
//! Runs the test cases shipped in the `onnx` Python package — the backend **node**
//! tests and the **light** model tests (`light_*`: nine real CNN topologies) — through
//! `ferrite_tool::convert::convert` (f32) and the ferrite runtime, and through tract
//! (`model_for_path → into_optimized → into_runnable → run`) on the same inputs, and
//! compares both with the expected outputs using the case's `rtol`/`atol`
//! (`|got - want| <= atol + rtol * |want|`, as `np.testing.assert_allclose`).
//!
//! The cases are generated at test time by `tests/onnx/gen_node_tests.py` and
//! `tests/onnx/gen_light_models.py` (see [`ensure_cases`]); nothing generated is
//! committed. `tests/onnx/manifest.txt` lists the cases that pass for ferrite; the
//! integration test `tests/onnx_backend.rs` fails when one of them fails.
//!
//! Attempted set: every plain node case (not `*_expanded*`, default domain only) whose
//! inputs and outputs are all float32 tensors, plus the nine light models. Cases whose
//! ops ferrite cannot convert count as ferrite failures ("unsupported"), so the per-op
//! table is the honest pass rate of both runtimes on the same cases.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tract_onnx::prelude::*;

/// Repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter used to generate the cases: `$FERRITE_PYTHON`, else
/// `<repo>/.venv/bin/python`, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRITE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Where the generated cases live: `$FERRITE_ONNX_CASES`, else `<repo>/target/onnx-cases`.
pub fn cases_dir() -> PathBuf {
    match std::env::var_os("FERRITE_ONNX_CASES") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("target/onnx-cases"),
    }
}

/// Generates `OUT/node` and `OUT/light` with the Python scripts when their
/// `index.json` is missing (no network needed: the data ships in the `onnx` package).
pub fn ensure_cases(out: &Path) -> Result<(), String> {
    for (sub, script) in [
        ("node", "gen_node_tests.py"),
        ("light", "gen_light_models.py"),
    ] {
        if out.join(sub).join("index.json").exists() {
            continue;
        }
        let py = python();
        let script = repo_root().join("tests/onnx").join(script);
        eprintln!(
            "generating {sub} cases: {} {} {}",
            py.display(),
            script.display(),
            out.display()
        );
        let st = Command::new(&py)
            .arg(&script)
            .arg(out)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {} (set FERRITE_PYTHON to a Python with onnx==1.23.2): {e}",
                    py.display()
                )
            })?;
        if !st.status.success() {
            return Err(format!(
                "{} {} failed ({}):\n{}",
                py.display(),
                script.display(),
                st.status,
                String::from_utf8_lossy(&st.stderr)
            ));
        }
    }
    Ok(())
}

/// One test case on disk.
#[derive(Clone, Debug)]
pub struct Case {
    /// `node/<name>` or `light/<name>` (the manifest key).
    pub key: String,
    pub dir: PathBuf,
    /// Op types of the top-level graph joined by `+` (the table row).
    pub ops: String,
    pub rtol: f32,
    pub atol: f32,
    /// Graph input names, in declared order.
    pub inputs: Vec<String>,
    /// Graph output names, in declared order.
    pub outputs: Vec<String>,
    pub light: bool,
}

fn all_f32(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_some_and(|a| {
        a.iter().all(|t| {
            t.get("kind").and_then(Value::as_str).unwrap_or("tensor") == "tensor"
                && matches!(
                    t.get("dtype").and_then(Value::as_str),
                    Some("float32" | "FLOAT")
                )
        })
    })
}

/// The attempted cases: plain float32 node cases and the light models.
pub fn load_cases(root: &Path) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for sub in ["node", "light"] {
        let idx = root.join(sub).join("index.json");
        let text = std::fs::read_to_string(&idx).map_err(|e| format!("{}: {e}", idx.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", idx.display()))?;
        let list = v
            .get("cases")
            .and_then(Value::as_array)
            .ok_or("index.json: no cases")?;
        for c in list {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let light = sub == "light";
            if !light {
                let expanded = c.get("expanded").and_then(Value::as_bool).unwrap_or(false);
                let domains_ok = c
                    .get("domains")
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().all(|x| x.as_str() == Some("")));
                let sets = c.get("data_sets").and_then(Value::as_u64).unwrap_or(0);
                if expanded
                    || !domains_ok
                    || sets == 0
                    || !all_f32(c.get("inputs"))
                    || !all_f32(c.get("outputs"))
                {
                    continue;
                }
                if c.get("inputs")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.is_empty())
                {
                    continue;
                }
            }
            let ops: Vec<&str> = c
                .get("op_types")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter(|o| *o != "ConstantOfShape")
                        .collect()
                })
                .unwrap_or_default();
            let ops = if light {
                format!("light:{}", name.trim_start_matches("test_"))
            } else {
                ops.join("+")
            };
            let names = |key: &str| -> Vec<String> {
                c.get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.get("name")?.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (inputs, outputs) = (names("inputs"), names("outputs"));
            cases.push(Case {
                key: format!("{sub}/{name}"),
                dir: root.join(sub).join(&name),
                ops,
                rtol: c.get("rtol").and_then(Value::as_f64).unwrap_or(1e-3) as f32,
                atol: c.get("atol").and_then(Value::as_f64).unwrap_or(1e-7) as f32,
                inputs,
                outputs,
                light,
            });
        }
    }
    Ok(cases)
}

/// Outcome of one runtime on one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass {
        max_err: f32,
    },
    /// Ran, but an output differs (or has the wrong shape).
    Mismatch(String),
    /// Could not convert / load (ferrite: an op it does not support, etc.).
    Unsupported(String),
    /// Converted but failed or panicked while running.
    Error(String),
    Skipped(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Pass { max_err } => write!(f, "pass (max abs error {max_err:.3e})"),
            Outcome::Mismatch(m) => write!(f, "mismatch: {m}"),
            Outcome::Unsupported(m) => write!(f, "unsupported: {m}"),
            Outcome::Error(m) => write!(f, "error: {m}"),
            Outcome::Skipped(m) => write!(f, "skipped: {m}"),
        }
    }
}

/// A test-data tensor: shape and values (f32), plus the tract tensor.
#[derive(Debug)]
pub struct Data {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    pub tensor: Tensor,
}

/// Reads a serialized `TensorProto` (`input_K.pb` / `output_K.pb`).
pub fn read_pb(path: &Path) -> Result<Data, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let proto = tract_onnx::tensor::proto_from_reader(f)
        .map_err(|e| format!("{}: {e:#}", path.display()))?;
    let tensor = tract_onnx::tensor::load_tensor(
        &tract_onnx::data_resolver::FopenDataResolver,
        &proto,
        None,
    )
    .map_err(|e| format!("{}: {e:#}", path.display()))?;
    let values: Vec<f32> = tensor
        .cast_to::<f32>()
        .map_err(|e| format!("{e:#}"))?
        .to_plain_array_view::<f32>()
        .map_err(|e| format!("{e:#}"))?
        .iter()
        .copied()
        .collect();
    Ok(Data {
        shape: tensor.shape().to_vec(),
        values,
        tensor,
    })
}

fn data_files(dir: &Path, prefix: &str) -> Result<Vec<Data>, String> {
    let set = dir.join("test_data_set_0");
    let mut out = Vec::new();
    for k in 0.. {
        let p = set.join(format!("{prefix}_{k}.pb"));
        if !p.exists() {
            break;
        }
        out.push(read_pb(&p)?);
    }
    Ok(out)
}

/// Compares `got` with `want` like `np.testing.assert_allclose` (NaN equals NaN).
pub fn compare(
    got: &[f32],
    got_shape: &[usize],
    want: &Data,
    rtol: f32,
    atol: f32,
) -> Result<f32, String> {
    let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    if got.len() != want.values.len() || squeeze(got_shape) != squeeze(&want.shape) {
        return Err(format!("shape {got_shape:?}, expected {:?}", want.shape));
    }
    let (mut max_err, mut bad) = (0f32, None);
    for (i, (&g, &w)) in got.iter().zip(&want.values).enumerate() {
        if g.is_nan() && w.is_nan() || g == w {
            continue;
        }
        let d = (g - w).abs();
        if !d.is_nan() {
            max_err = max_err.max(d);
        }
        // NaN differences are never within tolerance.
        let within = d <= atol + rtol * w.abs();
        if !within && bad.is_none() {
            bad = Some((i, g, w));
        }
    }
    match bad {
        None => Ok(max_err),
        Some((i, g, w)) => Err(format!("max abs error {max_err:.3e}; first bad element {i}: got {g}, expected {w} (rtol {rtol}, atol {atol})")),
    }
}

fn panic_msg(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").to_string();
    if l.len() > 160 {
        format!(
            "{}…",
            &l[..l.char_indices().nth(157).map(|(i, _)| i).unwrap_or(l.len())]
        )
    } else {
        l
    }
}

/// Converts and runs one case with ferrite.
pub fn run_ferrite(case: &Case, inputs: &[Data], outputs: &[Data]) -> Outcome {
    let onnx = match std::fs::read(case.dir.join("model.onnx")) {
        Ok(b) => b,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let opts = ferrite_tool::convert::ConvertOptions {
        input_shapes: case
            .inputs
            .iter()
            .cloned()
            .zip(inputs.iter().map(|d| d.shape.clone()))
            .collect(),
        golden: 0,
        name: Some(case.key.clone()),
        ..Default::default()
    };
    let report = match catch_unwind(AssertUnwindSafe(|| {
        ferrite_tool::convert::convert(&onnx, &opts)
    })) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Outcome::Unsupported(first_line(&e.to_string().replace('\n', " "))),
        Err(p) => {
            return Outcome::Unsupported(format!(
                "converter panicked: {}",
                first_line(&panic_msg(p))
            ))
        }
    };
    let res = catch_unwind(AssertUnwindSafe(
        || -> Result<Result<f32, String>, String> {
            let owned =
                ferrite::OwnedModel::new(&report.bytes).map_err(|e| format!("load: {e}"))?;
            let model = owned.model();
            if model.num_inputs() != inputs.len() || model.num_outputs() != outputs.len() {
                return Err(format!(
                    "model has {} inputs / {} outputs, case has {} / {}",
                    model.num_inputs(),
                    model.num_outputs(),
                    inputs.len(),
                    outputs.len()
                ));
            }
            let mut os = ferrite::OwnedSession::new(&model);
            let mut s = os.session();
            // Inputs by index, as the bindings address them: the model's inputs must be
            // the ONNX graph's, in its declared order (`input_K.pb` is input K).
            for (i, d) in inputs.iter().enumerate() {
                let name = model.input(i).map_err(|e| e.to_string())?.name;
                if let Some(want) = case.inputs.get(i).filter(|&w| w != name) {
                    return Err(format!(
                        "input {i} is \"{name}\", the ONNX graph declares \"{want}\" there"
                    ));
                }
                let bytes: Vec<u8> = d.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                s.set_input_bytes(i, &bytes)
                    .map_err(|e| format!("input {i} ({name}): {e}"))?;
            }
            s.run().map_err(|e| format!("run: {e}"))?;
            let mut max_err = 0f32;
            for (i, want) in outputs.iter().enumerate() {
                let def = model.output(i).map_err(|e| e.to_string())?;
                if let Some(name) = case.outputs.get(i).filter(|&n| n != def.name) {
                    return Err(format!(
                        "output {i} is \"{}\", the ONNX graph declares \"{name}\" there",
                        def.name
                    ));
                }
                let shape: Vec<usize> = def.shape.iter().map(|&d| d as usize).collect();
                let mut got = vec![0f32; model.output_len(i).map_err(|e| e.to_string())?];
                s.output_f32(i, &mut got)
                    .map_err(|e| format!("output {i}: {e}"))?;
                match compare(&got, &shape, want, case.rtol, case.atol) {
                    Ok(e) => max_err = max_err.max(e),
                    Err(m) => return Ok(Err(format!("output {i}: {m}"))),
                }
            }
            Ok(Ok(max_err))
        },
    ));
    outcome(res, |_| false)
}

/// The outcome of a run caught by `catch_unwind`: the largest error (pass), a
/// mismatch, or an error message — reported as unsupported when `unsupported` says so.
fn outcome(
    res: std::thread::Result<Result<Result<f32, String>, String>>,
    unsupported: impl Fn(&str) -> bool,
) -> Outcome {
    match res {
        Ok(Ok(Ok(max_err))) => Outcome::Pass { max_err },
        Ok(Ok(Err(m))) => Outcome::Mismatch(m),
        Ok(Err(m)) if unsupported(&m) => Outcome::Unsupported(m),
        Ok(Err(m)) => Outcome::Error(m),
        Err(p) => Outcome::Error(format!("panicked: {}", first_line(&panic_msg(p)))),
    }
}

/// Runs one case with tract (`model_for_path → into_optimized → into_runnable → run`).
pub fn run_tract(case: &Case, inputs: &[Data], outputs: &[Data]) -> Outcome {
    let res = catch_unwind(AssertUnwindSafe(
        || -> Result<Result<f32, String>, String> {
            let mut model = tract_onnx::onnx()
                .model_for_path(case.dir.join("model.onnx"))
                .map_err(|e| format!("load: {e:#}"))?;
            for (i, d) in inputs.iter().enumerate() {
                model
                    .set_input_fact(
                        i,
                        InferenceFact::dt_shape(f32::datum_type(), d.shape.clone()),
                    )
                    .map_err(|e| format!("{e:#}"))?;
            }
            let plan = model
                .into_optimized()
                .and_then(|m| m.into_runnable())
                .map_err(|e| format!("optimize: {}", first_line(&format!("{e:#}"))))?;
            let ins: TVec<TValue> = inputs.iter().map(|d| d.tensor.clone().into()).collect();
            let outs = plan
                .run(ins)
                .map_err(|e| format!("run: {}", first_line(&format!("{e:#}"))))?;
            if outs.len() != outputs.len() {
                return Ok(Err(format!(
                    "{} outputs, expected {}",
                    outs.len(),
                    outputs.len()
                )));
            }
            let mut max_err = 0f32;
            for (i, (o, want)) in outs.iter().zip(outputs).enumerate() {
                let t = o.cast_to::<f32>().map_err(|e| format!("{e:#}"))?;
                let got: Vec<f32> = t
                    .to_plain_array_view::<f32>()
                    .map_err(|e| format!("{e:#}"))?
                    .iter()
                    .copied()
                    .collect();
                match compare(&got, o.shape(), want, case.rtol, case.atol) {
                    Ok(e) => max_err = max_err.max(e),
                    Err(m) => return Ok(Err(format!("output {i}: {m}"))),
                }
            }
            Ok(Ok(max_err))
        },
    ));
    outcome(res, |m| m.starts_with("load") || m.starts_with("optimize"))
}

/// Results of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: Case,
    pub ferrite: Outcome,
    pub tract: Outcome,
    pub ferrite_time: Duration,
    pub tract_time: Duration,
}

/// Runs `cases` on `jobs` threads; `skip` gives a reason to skip a case.
pub fn run_all(
    cases: &[Case],
    jobs: usize,
    skip: &(dyn Fn(&Case) -> Option<String> + Sync),
) -> Vec<CaseResult> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..jobs.max(1) {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let r = run_case(case, skip(case));
                results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
            });
        }
    });
    let mut r = results.into_inner().unwrap_or_else(|e| e.into_inner());
    r.sort_by(|a, b| a.case.key.cmp(&b.case.key));
    r
}

fn run_case(case: &Case, skip: Option<String>) -> CaseResult {
    let (ferrite, tract, ft, tt) = match skip {
        Some(why) => (
            Outcome::Skipped(why.clone()),
            Outcome::Skipped(why),
            Duration::ZERO,
            Duration::ZERO,
        ),
        None => match (
            data_files(&case.dir, "input"),
            data_files(&case.dir, "output"),
        ) {
            (Ok(i), Ok(o)) => {
                let t0 = Instant::now();
                let f = run_ferrite(case, &i, &o);
                let t1 = Instant::now();
                let t = run_tract(case, &i, &o);
                (f, t, t1 - t0, t1.elapsed())
            }
            (Err(e), _) | (_, Err(e)) => (
                Outcome::Error(e.clone()),
                Outcome::Error(e),
                Duration::ZERO,
                Duration::ZERO,
            ),
        },
    };
    CaseResult {
        case: case.clone(),
        ferrite,
        tract,
        ferrite_time: ft,
        tract_time: tt,
    }
}

/// Per-op table: `op | attempted | ferrite | tract`, with totals.
pub fn table(results: &[CaseResult]) -> String {
    let mut rows: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| !matches!(r.ferrite, Outcome::Skipped(_)))
    {
        let e = rows.entry(r.case.ops.as_str()).or_default();
        e.0 += 1;
        e.1 += r.ferrite.passed() as usize;
        e.2 += r.tract.passed() as usize;
    }
    let w = rows.keys().map(|k| k.len()).max().unwrap_or(2).max(10);
    let mut s = format!(
        "{:<w$} {:>9} {:>8} {:>6}\n",
        "op", "attempted", "ferrite", "tract"
    );
    let (mut ta, mut tf, mut tt) = (0, 0, 0);
    let (mut na, mut nf, mut nt) = (0, 0, 0);
    for (op, (a, f, t)) in &rows {
        s += &format!("{op:<w$} {a:>9} {f:>8} {t:>6}\n");
        ta += a;
        tf += f;
        tt += t;
        if !op.starts_with("light:") {
            na += a;
            nf += f;
            nt += t;
        }
    }
    let ops_f = rows
        .iter()
        .filter(|(k, v)| !k.starts_with("light:") && v.1 > 0)
        .count();
    let ops_t = rows
        .iter()
        .filter(|(k, v)| !k.starts_with("light:") && v.2 > 0)
        .count();
    let ops_n = rows.keys().filter(|k| !k.starts_with("light:")).count();
    s += &format!("{:<w$} {na:>9} {nf:>8} {nt:>6}\n", "TOTAL node");
    s += &format!(
        "{:<w$} {:>9} {:>8} {:>6}\n",
        "TOTAL light",
        ta - na,
        tf - nf,
        tt - nt
    );
    s += &format!("{:<w$} {ta:>9} {tf:>8} {tt:>6}\n", "TOTAL");
    s += &format!(
        "op rows (node): {ops_n}; with >=1 ferrite pass: {ops_f}; with >=1 tract pass: {ops_t}\n"
    );
    s
}

/// Reads the manifest: case keys, ignoring `#` comments and blank lines.
pub fn read_manifest(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Writes the manifest (sorted, with its header).
pub fn write_manifest(path: &Path, keys: &[String]) -> std::io::Result<()> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    let mut s = String::from(
        "# ONNX conformance cases that pass for ferrite (f32: convert with ferrite-tool, run with the runtime).\n\
         # One case per line: node/<onnx backend node test> or light/<light model test>.\n\
         # The harness (tests/conformance, `cargo test --release -p ferrite-conformance`) fails when a listed\n\
         # case fails. Regenerate with FERRITE_BLESS=1 (keeps listed cases that were skipped in that run).\n",
    );
    for k in keys {
        s += &k;
        s.push('\n');
    }
    std::fs::write(path, s)
}
