//! The host engines: the ferrite host tool (`convert`, `inspect`, and `bench`, which
//! times ferrite and, in the same process, tract) and the onnxruntime server
//! (`targets/bench/ort_bench.py`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

use super::suite::{Engine, Model};
use super::{pin_prefix, Round, Timing};
use crate::cmd::Cmd;
use crate::Result;

/// A ferrite conversion of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    F32,
    F16,
    Int8,
    /// `--precision int8` of the QDQ file, without calibration data.
    Qdq,
}

impl Precision {
    pub const ALL: [Precision; 4] = [
        Precision::F32,
        Precision::F16,
        Precision::Int8,
        Precision::Qdq,
    ];

    pub fn engine(self) -> Engine {
        match self {
            Precision::F32 => Engine::FerriteF32,
            Precision::F16 => Engine::FerriteF16,
            Precision::Int8 => Engine::FerriteInt8,
            Precision::Qdq => Engine::FerriteQdq,
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
            Precision::Qdq => "qdq_int8",
        }
    }
}

/// What `ferrite inspect --json` says about a converted file.
#[derive(Debug, Clone)]
pub struct Converted {
    pub path: PathBuf,
    pub arena_bytes: u64,
    pub file_bytes: u64,
}

/// The host tool binary, run pinned to one CPU when that is possible.
pub struct Tool {
    pub path: PathBuf,
    pub root: PathBuf,
}

impl Tool {
    fn cmd(&self, pinned: bool) -> Cmd {
        let prefix = if pinned { pin_prefix() } else { Vec::new() };
        match prefix.split_first() {
            Some((first, rest)) => Cmd::new(first).args(rest).arg(&self.path),
            None => Cmd::new(&self.path),
        }
        .cwd(&self.root)
    }

    /// `ferrite --version`.
    pub fn version(&self) -> Result<String> {
        Ok(self.cmd(false).arg("--version").output()?.trim().to_owned())
    }

    /// Converts `model` at `precision` into `out_dir`; `Ok(Err(message))` when the tool
    /// refuses (a conversion failure is a result of the benchmark, not of the harness).
    pub fn convert(
        &self,
        model: &Model,
        precision: Precision,
        out_dir: &Path,
    ) -> Result<std::result::Result<Converted, String>> {
        let out = out_dir.join(format!("{}_{}.fer", model.name, precision.file_suffix()));
        let _ = std::fs::remove_file(&out);
        let source = match precision {
            Precision::Qdq => match &model.qdq {
                Some(q) => q,
                None => return Ok(Err("no QDQ file".into())),
            },
            _ => &model.onnx,
        };
        let mut cmd = self
            .cmd(false)
            .arg("convert")
            .arg(source)
            .arg("-o")
            .arg(&out)
            .args(["--name", &model.name]);
        cmd = match precision {
            Precision::F32 => cmd,
            Precision::F16 => cmd.args(["--precision", "f16"]),
            Precision::Int8 => cmd
                .args(["--precision", "int8", "--calibration"])
                .arg(&model.calibration),
            Precision::Qdq => cmd.args(["--precision", "int8"]),
        };
        eprintln!("+ {}", cmd.display());
        if let Err(e) = cmd.output() {
            return Ok(Err(last_line(&e.to_string())));
        }
        let info: Value = serde_json::from_str(
            &self
                .cmd(false)
                .arg("inspect")
                .arg(&out)
                .arg("--json")
                .output()?,
        )?;
        let num = |k: &str| {
            info[k]
                .as_u64()
                .ok_or_else(|| format!("`ferrite inspect --json` has no {k}"))
        };
        Ok(Ok(Converted {
            path: out,
            arena_bytes: num("arena_bytes")?,
            file_bytes: num("file_bytes")?,
        }))
    }

    /// One round of `ferrite bench` on `fer` (with tract on `reference` when given):
    /// ferrite's round and tract's.
    pub fn bench(
        &self,
        fer: &Path,
        reference: Option<&Path>,
        data: &Path,
        iterations: usize,
        echo: bool,
    ) -> std::result::Result<(Round, Option<Round>), String> {
        let mut cmd = self.cmd(true).arg("bench").arg(fer);
        if let Some(r) = reference {
            cmd = cmd.arg("--reference").arg(r);
        }
        cmd = cmd
            .arg("--data")
            .arg(data)
            .args(["--iterations", &iterations.to_string(), "--json"]);
        if echo {
            eprintln!("+ {}", cmd.display());
        }
        let out = cmd.output().map_err(|e| last_line(&e.to_string()))?;
        let v: Value = serde_json::from_str(&out).map_err(|e| format!("ferrite bench: {e}"))?;
        let ferrite = round(&v["ferrite"]).ok_or("ferrite bench: no ferrite timing")?;
        Ok((ferrite, round(&v["tract"])))
    }
}

fn round(v: &Value) -> Option<Round> {
    Some(Round {
        median_us: v["median_us"].as_f64()?,
        p90_us: v["p90_us"].as_f64()?,
        iterations: v["iterations"].as_u64()? as usize,
    })
}

/// The last non-empty line of an error (the tool's own message, after cargo's or the
/// driver's context lines).
fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

/// `targets/bench/ort_bench.py`, started once and fed one JSON request per line.
pub struct Onnxruntime {
    child: Child,
    /// `None` once closed (which ends the server's loop).
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Onnxruntime {
    pub fn start(python: &Path, root: &Path) -> Result<Onnxruntime> {
        let script = root.join("targets/bench/ort_bench.py");
        let mut argv: Vec<String> = pin_prefix();
        argv.push(python.display().to_string());
        argv.push(script.display().to_string());
        argv.push(root.display().to_string());
        eprintln!(
            "+ {} (the onnxruntime peer, one JSON request per line)",
            argv.join(" ")
        );
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Onnxruntime {
            child,
            stdin: Some(stdin),
            stdout,
        })
    }

    /// One request; `Ok(Err(..))` is the server's own error answer.
    fn ask(&mut self, request: Value) -> Result<std::result::Result<Value, String>> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or("the onnxruntime peer is closed")?;
        writeln!(stdin, "{request}")?;
        stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("the onnxruntime peer (ort_bench.py) exited; its error is above".into());
        }
        let v: Value = serde_json::from_str(&line)?;
        Ok(match v["error"].as_str() {
            Some(e) => Err(e.to_owned()),
            None => Ok(v),
        })
    }

    /// Versions of onnxruntime, numpy and Python.
    pub fn info(&mut self) -> Result<BTreeMap<String, String>> {
        let v = self
            .ask(json!({"op": "info"}))?
            .map_err(|e| e.to_string())?;
        Ok(v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// MACs of one batch-1 inference (`examples/bench/count_macs.py`).
    pub fn macs(&mut self, onnx: &Path) -> Result<std::result::Result<u64, String>> {
        Ok(self
            .ask(json!({"op": "macs", "onnx": onnx}))?
            .and_then(|v| v["macs"].as_u64().ok_or_else(|| "no macs".into())))
    }

    /// The first input's shape, symbolic dimensions set to 1.
    pub fn shape(&mut self, onnx: &Path) -> Result<std::result::Result<Vec<u64>, String>> {
        Ok(self
            .ask(json!({"op": "shape", "onnx": onnx}))?
            .and_then(|v| {
                v["shape"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .ok_or_else(|| "no shape".into())
            }))
    }

    /// One round of timed runs, after `iterations / 10` untimed ones (as `ferrite bench`).
    pub fn time(
        &mut self,
        onnx: &Path,
        data: &Path,
        iterations: usize,
    ) -> Result<std::result::Result<Round, String>> {
        let request = json!({
            "op": "time", "onnx": onnx, "data": data,
            "iterations": iterations, "warmup": (iterations / 10).max(1),
        });
        Ok(self
            .ask(request)?
            .and_then(|v| round(&v).ok_or_else(|| "no timing".into())))
    }
}

impl Drop for Onnxruntime {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Everything measured on the host for one model.
#[derive(Debug, Clone)]
pub struct HostModel {
    pub model: Model,
    pub macs: Option<u64>,
    pub engines: BTreeMap<Engine, Measured>,
}

/// One engine's result on one model.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub timing: Timing,
    pub arena_bytes: Option<u64>,
    pub file_bytes: Option<u64>,
    /// Why there is no (complete) timing.
    pub error: Option<String>,
}

/// Times every engine on `model` in `rounds` interleaved rounds of `iterations` runs
/// each (engine order reversed every other round), given its conversions.
pub fn measure(
    tool: &Tool,
    ort: &mut Onnxruntime,
    model: &Model,
    converted: &BTreeMap<Precision, std::result::Result<Converted, String>>,
    rounds: usize,
    iterations: usize,
) -> Result<HostModel> {
    let root = &tool.root;
    let mut engines: BTreeMap<Engine, Measured> = BTreeMap::new();
    for p in Precision::ALL {
        let m = engines.entry(p.engine()).or_default();
        match converted.get(&p) {
            Some(Ok(c)) => {
                m.arena_bytes = Some(c.arena_bytes);
                m.file_bytes = Some(c.file_bytes);
            }
            Some(Err(e)) => m.error = Some(format!("conversion failed: {e}")),
            None => m.error = Some("not converted".into()),
        }
    }
    let tract_error = match converted.get(&Precision::F32) {
        Some(Ok(_)) => None,
        _ => {
            Some("timed by `ferrite bench --reference` on the f32 conversion, which failed".into())
        }
    };
    engines.entry(Engine::Tract).or_default().error = tract_error;
    engines.entry(Engine::Onnxruntime).or_default();
    if model.qdq.is_some() {
        engines.entry(Engine::OnnxruntimeQdq).or_default();
    } else {
        engines.remove(&Engine::FerriteQdq);
    }

    let macs = ort.macs(&root.join(&model.onnx))?.ok();
    let data = root.join(&model.data);
    #[derive(Clone, Copy)]
    enum Job {
        Ferrite(Precision),
        Ort(Engine),
    }
    let mut jobs: Vec<Job> = Precision::ALL
        .iter()
        .filter(|p| matches!(converted.get(p), Some(Ok(_))))
        .map(|&p| Job::Ferrite(p))
        .collect();
    jobs.push(Job::Ort(Engine::Onnxruntime));
    if model.qdq.is_some() {
        jobs.push(Job::Ort(Engine::OnnxruntimeQdq));
    }
    for r in 0..rounds {
        let order: Vec<Job> = if r % 2 == 0 {
            jobs.clone()
        } else {
            jobs.iter().rev().copied().collect()
        };
        for job in order {
            match job {
                Job::Ferrite(p) => {
                    if engines[&p.engine()].error.is_some() {
                        continue;
                    }
                    let Some(Ok(c)) = converted.get(&p) else {
                        continue;
                    };
                    let with_tract = p == Precision::F32 && engines[&Engine::Tract].error.is_none();
                    let reference = with_tract.then(|| root.join(&model.onnx));
                    let mut timed =
                        tool.bench(&c.path, reference.as_deref(), &data, iterations, r == 0);
                    if let (Err(e), Some(_)) = (&timed, &reference) {
                        // tract may fail where ferrite does not: time ferrite alone.
                        engines.entry(Engine::Tract).or_default().error = Some(e.clone());
                        timed = tool.bench(&c.path, None, &data, iterations, r == 0);
                    }
                    match timed {
                        Ok((ferrite, tract)) => {
                            engines
                                .entry(p.engine())
                                .or_default()
                                .timing
                                .rounds
                                .push(ferrite);
                            if let Some(t) = tract {
                                engines
                                    .entry(Engine::Tract)
                                    .or_default()
                                    .timing
                                    .rounds
                                    .push(t);
                            }
                        }
                        Err(e) => engines.entry(p.engine()).or_default().error = Some(e),
                    }
                }
                Job::Ort(engine) => {
                    if engines[&engine].error.is_some() {
                        continue;
                    }
                    let onnx = match engine {
                        Engine::OnnxruntimeQdq => model.qdq.clone().unwrap_or_default(),
                        _ => model.onnx.clone(),
                    };
                    match ort.time(&root.join(onnx), &data, iterations)? {
                        Ok(round) => engines.entry(engine).or_default().timing.rounds.push(round),
                        Err(e) => engines.entry(engine).or_default().error = Some(e),
                    }
                }
            }
        }
    }
    Ok(HostModel {
        model: model.clone(),
        macs,
        engines,
    })
}
