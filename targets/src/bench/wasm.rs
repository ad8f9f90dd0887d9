//! The Node run: the ferrite-wasm package against onnxruntime-web
//! (`bindings/wasm/bench/bench.mjs --suite`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::suite::Model;
use super::{pin_prefix, tool_env, Options};
use crate::cmd::Cmd;
use crate::{Ctx, Result};

pub const ORT_WEB: &str = "onnxruntime-web";
pub const FERRITE_F32: &str = "ferrite-wasm f32";
pub const FERRITE_INT8: &str = "ferrite-wasm int8";
/// Table order.
pub const ENGINES: [&str; 3] = [ORT_WEB, FERRITE_F32, FERRITE_INT8];

/// A model as the Node run gets it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub model: Model,
    /// The input's shape, batch 1.
    pub shape: Vec<u64>,
    pub macs: Option<u64>,
    pub f32: Option<PathBuf>,
    pub int8: Option<PathBuf>,
}

/// One engine on one model: statistics over every timed call of every round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub median_us: f64,
    pub p90_us: f64,
    pub calls: u64,
}

#[derive(Debug, Clone)]
pub struct WasmModel {
    pub entry: Entry,
    pub engines: BTreeMap<String, Stat>,
    /// Largest |ferrite output − onnxruntime-web output| over the data rows, per engine.
    pub max_abs_diff: BTreeMap<String, f64>,
    pub errors: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct WasmRun {
    pub node: String,
    pub ort_web: String,
    pub ferrite: String,
    pub simd128: bool,
    /// Where the package came from (built here, or `FERRITE_WASM_PKG`).
    pub pkg_source: String,
    pub runs: usize,
    pub rounds: usize,
    /// `.wasm` bytes: (name, raw, gzip).
    pub sizes: Vec<(String, u64, u64)>,
    pub models: Vec<WasmModel>,
}

/// The npm package: `FERRITE_WASM_PKG`, else built by `bindings/wasm/build.mjs` (with
/// the wasm-bindgen and wasm-opt that setup installed, unless the environment names
/// others).
pub fn package(ctx: &Ctx) -> Result<(PathBuf, String)> {
    if let Some(p) = std::env::var_os("FERRITE_WASM_PKG") {
        eprintln!(
            "ferrite-wasm package: FERRITE_WASM_PKG={}",
            Path::new(&p).display()
        );
        return Ok((
            p.into(),
            "from FERRITE_WASM_PKG, not built by this run".into(),
        ));
    }
    let mut cmd = Cmd::new("node")
        .arg("bindings/wasm/build.mjs")
        .cwd(&ctx.root)
        .stdout_to_stderr();
    for key in ["WASM_BINDGEN", "WASM_OPT"] {
        if std::env::var_os(key).is_none() {
            cmd = cmd.env(key, tool_env(ctx, key)?.display().to_string());
        }
    }
    cmd.run()?;
    Ok((
        ctx.root.join("target/wasm/pkg"),
        "built by `node bindings/wasm/build.mjs`".into(),
    ))
}

/// Writes the suite file, runs bench.mjs on it, reads its JSON.
pub fn run(
    ctx: &Ctx,
    (pkg, pkg_source): &(PathBuf, String),
    entries: &[Entry],
    opts: &Options,
    out_dir: &Path,
) -> Result<WasmRun> {
    let suite = out_dir.join("wasm-suite.json");
    let result = out_dir.join("wasm.json");
    let models: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "name": e.model.name,
                "onnx": ctx.root.join(&e.model.onnx),
                "data": ctx.root.join(&e.model.data),
                "shape": e.shape,
                "fer": {"f32": e.f32, "int8": e.int8},
            })
        })
        .collect();
    std::fs::write(
        &suite,
        serde_json::to_string_pretty(&json!({ "models": models }))? + "\n",
    )?;
    let _ = std::fs::remove_file(&result);
    let per_round = opts.per_round();
    let mut argv = pin_prefix();
    argv.extend(["node".into(), "bindings/wasm/bench/bench.mjs".into()]);
    let (first, rest) = argv.split_first().ok_or("empty command")?;
    Cmd::new(first)
        .args(rest)
        .arg("--suite")
        .arg(&suite)
        .args(["--runs", &per_round.to_string()])
        .args(["--rounds", &opts.rounds.to_string()])
        .args(["--warmup", &(per_round / 10).max(1).to_string()])
        .arg("--json")
        .arg(&result)
        .env("FERRITE_WASM_PKG", pkg.display().to_string())
        .cwd(&ctx.root)
        .stdout_to_stderr()
        .run()?;
    let text =
        std::fs::read_to_string(&result).map_err(|e| format!("{}: {e}", result.display()))?;
    let mut run = parse(&serde_json::from_str(&text)?, entries, opts)?;
    run.pkg_source = pkg_source.clone();
    Ok(run)
}

fn parse(v: &Value, entries: &[Entry], opts: &Options) -> Result<WasmRun> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut models = Vec::new();
    for e in entries {
        let m = &v["models"][&e.model.name];
        let mut engines = BTreeMap::new();
        if let Some(lat) = m["latencyUs"].as_object() {
            for (name, st) in lat {
                if let (Some(median_us), Some(p90_us)) = (st["median"].as_f64(), st["p90"].as_f64())
                {
                    let calls = st["n"].as_u64().unwrap_or_default();
                    engines.insert(
                        name.clone(),
                        Stat {
                            median_us,
                            p90_us,
                            calls,
                        },
                    );
                }
            }
        }
        let mut max_abs_diff = BTreeMap::new();
        if let Some(agree) = m["agreement"].as_object() {
            for (name, a) in agree {
                if let Some(d) = a["maxAbsDiff"].as_f64() {
                    max_abs_diff.insert(name.clone(), d);
                }
            }
        }
        let mut errors: BTreeMap<String, String> = m["errors"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), s(v))).collect())
            .unwrap_or_default();
        for (name, path) in [(FERRITE_F32, &e.f32), (FERRITE_INT8, &e.int8)] {
            if path.is_none() {
                errors.insert(name.into(), "no conversion (see the host table)".into());
            }
        }
        models.push(WasmModel {
            entry: e.clone(),
            engines,
            max_abs_diff,
            errors,
        });
    }
    let sizes = v["sizes"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        s["raw"].as_u64().unwrap_or_default(),
                        s["gzip"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(WasmRun {
        node: s(&v["node"]),
        ort_web: s(&v["ort"]["version"]),
        ferrite: s(&v["ferrite"]["version"]),
        simd128: v["ferrite"]["simd128"].as_bool().unwrap_or(false),
        pkg_source: String::new(),
        runs: opts.per_round(),
        rounds: opts.rounds,
        sizes,
        models,
    })
}
