//! Steps and the runner: each step prints a header, runs, prints its duration (wall time,
//! and the CPU time of the driver and its children, `crate::cpu`); the run
//! stops at the first failure and ends with a summary table, also written to
//! `target/xtask-<title>.txt` (e.g. `target/xtask-ci.txt`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{Ctx, Result};

/// Where a step sits in `test all`: cheapest and most likely to fail first.
/// Steps are run sorted by stage, in registration order within a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// `cargo xtask setup`: install what is missing.
    Setup,
    /// fmt, clippy.
    Lint,
    /// `cargo test` on the host.
    HostTest,
    /// Cross builds that only compile (no_std MCU / wasm builds of the runtime).
    NoStd,
    /// Tests run under an emulator (qemu-user).
    Emulated,
    /// Static libraries for Android / iOS.
    Mobile,
    /// Bindings tested in their own language (C, wasm/JS, Kotlin, Python).
    Bindings,
    /// Firmware built and booted in QEMU.
    Firmware,
    /// Flash / RAM budgets (`cargo xtask size`).
    Size,
    /// Long suites: ONNX conformance, fidelity against upstream models.
    Conformance,
}

/// What a step reports when it did not fail.
#[derive(Debug)]
pub enum Outcome {
    Passed,
    /// Nothing to do here, with the reason (e.g. a tool that is not installed on purpose).
    Skipped(String),
}

type Action = Box<dyn Fn(&Ctx) -> Result<Outcome>>;

/// One unit of work of `setup`, `build`, `test` or `ci`.
pub struct Step {
    /// Unique; `group:triple` for per-target steps (`nostd:thumbv6m-none-eabi`).
    pub name: String,
    pub stage: Stage,
    /// The target this step belongs to (`test <triple>` selects by it).
    pub target: Option<String>,
    /// One line shown in the header and by `cargo xtask list`.
    pub about: String,
    action: Action,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("stage", &self.stage)
            .field("target", &self.target)
            .finish()
    }
}

impl Step {
    pub fn new(
        name: impl Into<String>,
        stage: Stage,
        about: impl Into<String>,
        action: impl Fn(&Ctx) -> Result<Outcome> + 'static,
    ) -> Step {
        Step {
            name: name.into(),
            stage,
            target: None,
            about: about.into(),
            action: Box::new(action),
        }
    }

    /// Attach the step to a target triple.
    pub fn for_target(mut self, triple: impl Into<String>) -> Step {
        self.target = Some(triple.into());
        self
    }

    /// The part of the name before `:` (`nostd` for `nostd:thumbv6m-none-eabi`).
    pub fn group(&self) -> &str {
        self.name.split(':').next().unwrap_or(&self.name)
    }

    /// `--skip`/`--only` patterns match a step's full name, its group, its target
    /// triple, or its stage (`lint`, `no-std`, `mobile`, …).
    pub fn matches(&self, pattern: &str) -> bool {
        self.name == pattern
            || self.group() == pattern
            || self.target.as_deref() == Some(pattern)
            || stage_name(self.stage) == pattern
    }
}

pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Setup => "setup",
        Stage::Lint => "lint",
        Stage::HostTest => "host-test",
        Stage::NoStd => "no-std",
        Stage::Emulated => "emulated",
        Stage::Mobile => "mobile",
        Stage::Bindings => "bindings",
        Stage::Firmware => "firmware",
        Stage::Size => "size",
        Stage::Conformance => "conformance",
    }
}

/// `--skip` / `--only` from the command line.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub skip: Vec<String>,
    pub only: Vec<String>,
}

impl Filter {
    pub fn keeps(&self, step: &Step) -> bool {
        let only = self.only.is_empty() || self.only.iter().any(|p| step.matches(p));
        only && !self.skip.iter().any(|p| step.matches(p))
    }

    /// Patterns that match none of `steps` (most likely typos).
    pub fn unknown<'a>(&'a self, steps: &[Step]) -> Vec<&'a str> {
        self.skip
            .iter()
            .chain(&self.only)
            .filter(|p| !steps.iter().any(|s| s.matches(p)))
            .map(String::as_str)
            .collect()
    }
}

#[derive(Debug)]
enum Status {
    Passed,
    Skipped(String),
    Filtered,
    Failed(String),
    NotRun,
}

/// Run `steps` in stage order; stop at the first failure; print the summary.
/// Returns whether every step that ran passed.
pub fn run(ctx: &Ctx, title: &str, mut steps: Vec<Step>, filter: &Filter) -> Result<bool> {
    let unknown = filter.unknown(&steps);
    if !unknown.is_empty() {
        return Err(format!(
            "--skip/--only pattern(s) match no step: {} (see `cargo xtask list`)",
            unknown.join(", ")
        )
        .into());
    }
    steps.sort_by_key(|s| s.stage); // stable: registration order within a stage
    let selected = steps.iter().filter(|s| filter.keeps(s)).count();
    let started = Instant::now();
    let started_cpu = crate::cpu::used();
    let mut rows: Vec<Row> = Vec::new();
    let mut failed = false;
    let mut index = 0;
    for step in &steps {
        if !filter.keeps(step) {
            rows.push((step.name.clone(), Status::Filtered, Duration::ZERO, None));
            continue;
        }
        if failed {
            rows.push((step.name.clone(), Status::NotRun, Duration::ZERO, None));
            continue;
        }
        index += 1;
        println!();
        println!("==> [{index}/{selected}] {}  ({})", step.name, step.about);
        let t0 = Instant::now();
        let cpu0 = crate::cpu::used();
        let result = (step.action)(ctx);
        let took = t0.elapsed();
        let cpu_used = crate::cpu::used()
            .zip(cpu0)
            .map(|(a, b)| a.saturating_sub(b));
        let cpu = crate::cpu::note(cpu_used);
        let status = match result {
            Ok(Outcome::Passed) => {
                println!("<== ok {}  {}{cpu}", step.name, fmt_duration(took));
                Status::Passed
            }
            Ok(Outcome::Skipped(why)) => {
                println!(
                    "<== skipped {}: {why}  {}{cpu}",
                    step.name,
                    fmt_duration(took)
                );
                Status::Skipped(why)
            }
            Err(e) => {
                println!("<== FAILED {}  {}{cpu}", step.name, fmt_duration(took));
                println!("    {e}");
                failed = true;
                Status::Failed(e.to_string())
            }
        };
        rows.push((step.name.clone(), status, took, cpu_used));
    }
    let total_cpu = crate::cpu::used()
        .zip(started_cpu)
        .map(|(a, b)| a.saturating_sub(b));
    let table = summary(title, &rows, started.elapsed(), total_cpu);
    print!("{table}");
    // Kept for later reading (how long each step took in the last run): the table is
    // only printed once, at the end of a long log.
    let file = ctx
        .root
        .join("target")
        .join(format!("xtask-{}.txt", title.replace(' ', "-")));
    let _ = std::fs::create_dir_all(ctx.root.join("target"));
    let _ = std::fs::write(&file, &table);
    Ok(!failed)
}

/// A summary row: step name, outcome, wall time, CPU time (when it could be read).
type Row = (String, Status, Duration, Option<Duration>);

fn summary(title: &str, rows: &[Row], total: Duration, total_cpu: Option<Duration>) -> String {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(5);
    let mut out = String::new();
    let _ = writeln!(out, "\n==> summary: {title}");
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8}  {:>9}  {:>9}",
        "step", "result", "time", "cpu"
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let cpu_text = |cpu: Option<Duration>| cpu.map(fmt_duration).unwrap_or_default();
    for (name, status, took, cpu) in rows {
        let (word, time, note) = match status {
            Status::Passed => {
                passed += 1;
                ("ok", fmt_duration(*took), String::new())
            }
            Status::Skipped(why) => {
                skipped += 1;
                ("skipped", fmt_duration(*took), format!("  {why}"))
            }
            Status::Filtered => {
                skipped += 1;
                ("-", String::new(), "  (--skip/--only)".to_owned())
            }
            Status::NotRun => {
                skipped += 1;
                ("not run", String::new(), String::new())
            }
            Status::Failed(_) => {
                failed += 1;
                ("FAILED", fmt_duration(*took), String::new())
            }
        };
        let cpu = if time.is_empty() {
            String::new()
        } else {
            cpu_text(*cpu)
        };
        let _ = writeln!(
            out,
            "  {name:<width$}  {word:<8}  {time:>9}  {cpu:>9}{note}"
        );
    }
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8}  {:>9}  {:>9}",
        "total",
        "",
        fmt_duration(total),
        cpu_text(total_cpu)
    );
    if let Some((name, Status::Failed(e), _, _)) =
        rows.iter().find(|r| matches!(r.1, Status::Failed(_)))
    {
        let _ = writeln!(out, "stopped at the first failure: {name}: {e}");
    }
    let _ = writeln!(
        out,
        "steps: {passed} passed, {failed} failed, {skipped} skipped"
    );
    out
}

pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, stage: Stage, target: Option<&str>) -> Step {
        let s = Step::new(name, stage, "test", |_| Ok(Outcome::Passed));
        match target {
            Some(t) => s.for_target(t),
            None => s,
        }
    }

    #[test]
    fn patterns_match_name_group_target_and_stage() {
        let s = step(
            "nostd:thumbv6m-none-eabi",
            Stage::NoStd,
            Some("thumbv6m-none-eabi"),
        );
        for p in [
            "nostd:thumbv6m-none-eabi",
            "nostd",
            "thumbv6m-none-eabi",
            "no-std",
        ] {
            assert!(s.matches(p), "{p}");
        }
        assert!(!s.matches("nostd:thumbv7em-none-eabihf"));
        let f = Filter {
            skip: vec!["nostd".into()],
            only: vec![],
        };
        assert!(!f.keeps(&s));
        let f = Filter {
            skip: vec![],
            only: vec!["lint".into()],
        };
        assert!(!f.keeps(&s));
        assert!(f.keeps(&step("fmt", Stage::Lint, None)));
    }

    #[test]
    fn summary_ends_with_a_plain_count_line() {
        let rows = vec![
            (
                "fmt".to_owned(),
                Status::Passed,
                Duration::from_millis(300),
                Some(Duration::from_millis(200)),
            ),
            (
                "clippy".to_owned(),
                Status::Failed("boom".into()),
                Duration::from_secs(61),
                Some(Duration::from_secs(100)),
            ),
            ("test".to_owned(), Status::NotRun, Duration::ZERO, None),
        ];
        let s = summary(
            "test all",
            &rows,
            Duration::from_secs(62),
            Some(Duration::from_secs(101)),
        );
        assert!(s.contains("1m01s"));
        assert!(s.contains("1m40s"), "the clippy row's CPU time: {s}");
        assert!(s.contains("1m41s"), "the total CPU time: {s}");
        assert!(s.contains("stopped at the first failure: clippy: boom"));
        assert!(s.ends_with("steps: 1 passed, 1 failed, 1 skipped\n"));
    }
}
