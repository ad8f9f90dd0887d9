//! ferrite's build and test driver. `cargo xtask help` lists the commands;
//! `targets/README.md` documents them and the target files.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod cargo;
mod cmd;
mod cpu;
mod lane;
mod mcu_bench;
mod setup;
mod size;
mod step;
mod steps;
mod target;

use cargo::Route;
use step::{Filter, Step};
use target::Target;

pub type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup                 install what is missing (apt packages, Rust targets or the
                        build-std route, a venv with tests/requirements.txt, npm
                        packages, cargo-installed tools such as wasm-bindgen-cli)
  build [TARGET…|all]   the [[build]] jobs of the target files (default: all)
  test  [TARGET…|all]   the test steps of the targets, cheapest first (default: all)
  size  [--json]        flash/RAM of the MCU size probes against their budgets
  ci                    setup, then test all (the README's test command)
  bench [--models M,…]  batch-1 latency of ferrite vs onnxruntime and tract (host) and
                        vs onnxruntime-web (Node), one table; `cargo xtask bench --help`
  mcu-bench [MODEL…]    instructions per inference, flash and RAM of int8 models in QEMU
                        (Cortex-M4F mps2-an386, Cortex-M33 mps2-an505), outputs checked
                        against the host; `cargo xtask mcu-bench --help` for its options
  list                  targets, their route here, and every step name

options (setup, build, test, ci):
  --skip PATTERN        skip steps matching PATTERN (repeatable, or comma-separated)
  --only PATTERN        run only steps matching PATTERN
  PATTERN is a step name (nostd:thumbv6m-none-eabi), a group (nostd, clippy), a
  triple, or a stage (lint, host-test, no-std, emulated, mobile, size).
  --fresh               setup: install everything again as on a new machine, into
                        throw-away prefixes under target/fresh/ (cargo-root/, venv/;
                        `npm ci` replaces node_modules/, each apt package and cross
                        standard library is checked again); test: use the tools of the
                        last `setup --fresh`; ci: both. `ci` is fresh when CI=true.

The steps after setup get the tools setup installed, not whatever is on PATH: PATH
starts with the cargo root's and the venv's bin/, and WASM_BINDGEN, CARGO_FUZZ,
FERRITE_PYTHON, PYTHON, KOTLINC, WASM_OPT name the installed files (printed at the start
of a run).

environment:
  XTASK_ROUTE=rustup|build-std   force how cross targets are built (default: rustup
                                 when it has the target's std, else build-std)
  CI=true                        `ci` runs the fresh setup (as --fresh)
  XTASK_SIDE_LANE=0              `ci` runs every step in one lane (default: the
                                 cross-target steps in a second process alongside)
";

/// What every step gets: the repository, the target files, and where the tools are.
#[derive(Debug)]
pub struct Ctx {
    /// The repository root.
    pub root: PathBuf,
    pub targets: Vec<Target>,
    /// The fresh layout: setup installs into throw-away prefixes under `target/fresh/`
    /// and the steps use the tools from there (`setup/mod.rs`).
    pub fresh: bool,
    rustup: RefCell<Option<Vec<String>>>,
}

impl Ctx {
    fn load(fresh: bool) -> Result<Ctx> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .ok_or("xtask must live one level below the repository root")?
            .to_owned();
        let targets = Target::load_all(&manifest_dir.join("targets"))?;
        Ok(Ctx {
            root,
            targets,
            fresh,
            rustup: RefCell::new(None),
        })
    }

    pub fn host(&self) -> &Target {
        self.targets
            .iter()
            .find(|t| t.is_host())
            .expect("a target file with kind = \"host\"")
    }

    /// A target by triple (or `host`).
    pub fn target(&self, name: &str) -> Result<&Target> {
        if name == "host" {
            return Ok(self.host());
        }
        self.targets
            .iter()
            .find(|t| t.triple == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.targets.iter().map(|t| t.triple.as_str()).collect();
                format!("unknown target `{name}`; known: host, {}", known.join(", ")).into()
            })
    }

    /// `rustup target list --installed` (empty without rustup).
    pub fn rustup_targets(&self) -> Vec<String> {
        self.rustup
            .borrow_mut()
            .get_or_insert_with(|| {
                cmd::Cmd::new("timeout")
                    .args(["30", "rustup", "target", "list", "--installed"])
                    .output()
                    .map(|out| out.lines().map(str::to_owned).collect())
                    .unwrap_or_default()
            })
            .clone()
    }

    pub fn forget_rustup_targets(&self) {
        *self.rustup.borrow_mut() = None;
    }

    /// How `target` is built on this machine (see `cargo.rs`).
    pub fn route(&self, target: &Target) -> Route {
        if target.is_host() {
            return Route::Host;
        }
        match std::env::var("XTASK_ROUTE").as_deref() {
            Ok("rustup") => return Route::Rustup,
            Ok("build-std") => return Route::BuildStd,
            _ => {}
        }
        if self.rustup_targets().contains(&target.triple) {
            Route::Rustup
        } else {
            Route::BuildStd
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parsed options: positional words, `--skip`/`--only`, `--json`, `--fresh`.
#[derive(Debug, Default)]
struct Options {
    words: Vec<String>,
    filter: Filter,
    json: bool,
    fresh: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        match flag {
            "--skip" | "--only" => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or(format!("{flag} needs a value"))?.clone(),
                };
                let list = if flag == "--skip" {
                    &mut opts.filter.skip
                } else {
                    &mut opts.filter.only
                };
                list.extend(
                    value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            "--json" => opts.json = true,
            "--fresh" => opts.fresh = true,
            f if f.starts_with('-') => return Err(format!("unknown option {f}\n\n{USAGE}").into()),
            _ => opts.words.push(arg.clone()),
        }
    }
    Ok(opts)
}

/// Steps of the named targets (`all` or nothing = every step).
fn select(ctx: &Ctx, steps: Vec<Step>, words: &[String]) -> Result<Vec<Step>> {
    if words.is_empty() || words.iter().any(|w| w == "all") {
        return Ok(steps);
    }
    let triples: Vec<String> = words
        .iter()
        .map(|w| ctx.target(w).map(|t| t.triple.clone()))
        .collect::<Result<_>>()?;
    Ok(steps
        .into_iter()
        .filter(|s| s.target.as_ref().is_some_and(|t| triples.contains(t)))
        .collect())
}

fn run(args: &[String]) -> Result<bool> {
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(true);
    };
    if command == "bench" {
        // Its own options (models, rounds, --quick, --update-docs, …).
        return bench::command(&Ctx::load(false)?, rest);
    }
    if command == "mcu-bench" {
        // Its own options (models, --board, --profile, --short, --json).
        let ctx = Ctx::load(false)?;
        return mcu_bench::command(&ctx, rest);
    }
    let opts = parse(rest)?;
    if opts.fresh && !matches!(command.as_str(), "setup" | "test" | "ci") {
        return Err(format!("--fresh is an option of setup, test and ci\n\n{USAGE}").into());
    }
    let ci_env = std::env::var("CI").is_ok_and(|v| v == "true");
    let fresh = opts.fresh || (command == "ci" && ci_env);
    let ctx = Ctx::load(fresh)?;
    if command == "ci" && ci_env && !opts.fresh {
        println!(
            "CI=true: fresh setup into {}",
            setup::fresh_dir(&ctx).display()
        );
    }
    match command.as_str() {
        "setup" => {
            let title = if fresh { "setup --fresh" } else { "setup" };
            step::run(&ctx, title, setup::steps(), &opts.filter)
        }
        "build" => {
            let steps = select(&ctx, steps::builds(&ctx), &opts.words)?;
            step::run(
                &ctx,
                &format!("build {}", words(&opts)),
                steps,
                &opts.filter,
            )
        }
        "test" => {
            if fresh && !setup::fresh_dir(&ctx).is_dir() {
                return Err(format!(
                    "{} does not exist: run `cargo xtask setup --fresh` first",
                    setup::fresh_dir(&ctx).display()
                )
                .into());
            }
            setup::hand_down(&ctx)?;
            let steps = select(&ctx, steps::all(&ctx), &opts.words)?;
            step::run(&ctx, &format!("test {}", words(&opts)), steps, &opts.filter)
        }
        "ci" => {
            // A CI run builds everything once: incremental caches would only cost disk
            // (~0.9 GB in target/debug/incremental) and time.
            std::env::set_var("CARGO_INCREMENTAL", "0");
            setup::hand_down(&ctx)?;
            let mut steps = setup::steps();
            let tests = steps::all(&ctx);
            // The side lane (lane.rs) only for a whole run: with --only/--skip the
            // steps run in one lane, in order.
            let split = lane::enabled()
                && opts.filter.only.is_empty()
                && opts.filter.skip.is_empty()
                && tests.iter().any(|s| s.name == "firmware-model");
            if split {
                let (side, host): (Vec<Step>, Vec<Step>) =
                    tests.into_iter().partition(lane::is_side);
                for step in host {
                    let after_tool = step.name == "firmware-model";
                    steps.push(step);
                    if after_tool {
                        // The side steps need the host tool and the firmware's model.
                        steps.push(lane::start(side.iter().map(|s| s.name.clone()).collect()));
                    }
                }
                steps.push(lane::wait());
            } else {
                steps.extend(tests);
            }
            let title = if fresh {
                "ci (setup --fresh + test all)"
            } else {
                "ci (setup + test all)"
            };
            let ok = step::run(&ctx, title, steps, &opts.filter);
            lane::abandon(&ctx);
            ok
        }
        "size" => size_command(&ctx, &opts),
        "list" => {
            list(&ctx);
            Ok(true)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(true)
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}").into()),
    }
}

fn words(opts: &Options) -> String {
    if opts.words.is_empty() {
        "all".into()
    } else {
        opts.words.join(" ")
    }
}

fn size_command(ctx: &Ctx, opts: &Options) -> Result<bool> {
    let mut rows = Vec::new();
    for t in ctx.targets.iter().filter(|t| !t.size.is_empty()) {
        if !opts.words.is_empty() && !opts.words.iter().any(|w| w == "all" || *w == t.triple) {
            continue;
        }
        rows.extend(size::measure(ctx, t, opts.json)?);
    }
    if opts.json {
        println!("{}", size::json(&rows));
    } else {
        println!();
        print!("{}", size::table(&rows));
    }
    let over: Vec<String> = rows
        .iter()
        .filter(|r| r.over_budget())
        .map(|r| format!("{} {}", r.target, r.probe))
        .collect();
    if !over.is_empty() {
        eprintln!("over budget: {}", over.join(", "));
    }
    Ok(over.is_empty())
}

fn list(ctx: &Ctx) {
    println!("targets (targets/targets/*.toml):");
    for t in &ctx.targets {
        println!(
            "  {:<30} {:<7} route {:<10} runner {:<16} {}",
            t.triple,
            t.kind.name(),
            ctx.route(t).name(),
            t.runner
                .as_deref()
                .map(|r| r.split(' ').next().unwrap_or(r))
                .unwrap_or("none"),
            t.description
        );
    }
    println!("\nsetup steps:");
    for s in setup::steps() {
        println!("  {:<40} {}", s.name, s.about);
    }
    println!("\ntest steps (test all order):");
    let mut all = steps::all(ctx);
    all.sort_by_key(|s| s.stage);
    for s in &all {
        println!(
            "  {:<40} {:<10} {}",
            s.name,
            step::stage_name(s.stage),
            s.about
        );
    }
    println!("\nbuild steps:");
    for s in steps::builds(ctx) {
        println!("  {:<40} {}", s.name, s.about);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        let args: Vec<String> = [
            "thumbv6m-none-eabi",
            "--skip",
            "a,b",
            "--only=c",
            "--json",
            "--fresh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse(&args).unwrap();
        assert_eq!(o.words, ["thumbv6m-none-eabi"]);
        assert_eq!(o.filter.skip, ["a", "b"]);
        assert_eq!(o.filter.only, ["c"]);
        assert!(o.json);
        assert!(o.fresh);
        assert!(parse(&["--bogus".to_string()]).is_err());
    }

    #[test]
    fn every_step_name_is_unique_and_test_all_is_ordered() {
        let ctx = Ctx::load(false).unwrap();
        let mut names: Vec<String> = steps::all(&ctx)
            .into_iter()
            .chain(steps::builds(&ctx))
            .chain(setup::steps())
            .map(|s| s.name)
            .collect();
        let total = names.len();
        names.sort();
        names.dedup();
        // build steps with in-test appear in both lists
        assert!(names.len() <= total);
        let all = steps::all(&ctx);
        let mut test_names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        test_names.sort();
        let n = test_names.len();
        test_names.dedup();
        assert_eq!(n, test_names.len(), "duplicate test step names");
        for want in [
            "fmt",
            "clippy",
            "nostd:thumbv7em-none-eabihf",
            "qemu-test:aarch64-unknown-linux-gnu",
        ] {
            assert!(all.iter().any(|s| s.name == want), "{want}");
        }
    }
}
