//! ONNX backend conformance: the `onnx` package's node tests and light model tests
//! through ferrite (convert + run, f32) and tract; see the crate docs.
//!
//! Run: `cargo test --release -p ferrite-conformance` (debug builds skip the heaviest
//! light models). Environment:
//! - `FERRITE_PYTHON`: Python with `onnx==1.23.2` for generating the cases (default
//!   `<repo>/.venv/bin/python`, else `python3`);
//! - `FERRITE_ONNX_CASES`: case directory (default `<repo>/target/onnx-cases`);
//! - `FERRITE_BLESS=1`: rewrite `tests/onnx/manifest.txt` with the passing cases;
//! - `FERRITE_CONFORMANCE_FILTER=substr`: only cases whose key contains `substr`;
//! - `FERRITE_CONFORMANCE_ALL=1`: also run the heavy light models in debug builds;
//! - `FERRITE_CONFORMANCE_JOBS=N`: worker threads (default: available cores);
//! - `FERRITE_CONFORMANCE_VERBOSE=1`: print every case's outcome.

use ferrite_conformance::*;
use std::collections::BTreeSet;
use std::time::Instant;

/// Light models skipped in debug builds (tens of GFLOP each).
const HEAVY: &[&str] = &[
    "light/test_vgg19",
    "light/test_zfnet512",
    "light/test_bvlc_alexnet",
    "light/test_densenet121",
    "light/test_inception_v2",
    "light/test_resnet50",
];

fn main() {
    // The harness is the only test here; accept libtest's arguments and ignore them.
    if std::env::args().any(|a| a == "--list") {
        println!("onnx_backend: test");
        return;
    }
    let start = Instant::now();
    let root = cases_dir();
    if let Err(e) = ensure_cases(&root) {
        eprintln!("error: cannot generate the ONNX test cases: {e}");
        std::process::exit(1);
    }
    let mut cases = match load_cases(&root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let filter = std::env::var("FERRITE_CONFORMANCE_FILTER").ok();
    if let Some(f) = &filter {
        cases.retain(|c| c.key.contains(f.as_str()));
    }
    let jobs = std::env::var("FERRITE_CONFORMANCE_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    let all = std::env::var_os("FERRITE_CONFORMANCE_ALL").is_some_and(|v| v == "1");
    let debug = cfg!(debug_assertions);
    let skip = move |c: &Case| -> Option<String> {
        (debug && !all && HEAVY.contains(&c.key.as_str())).then(|| {
            "heavy light model in a debug build (use --release or FERRITE_CONFORMANCE_ALL=1)".into()
        })
    };
    // Converter / tract panics are caught and reported per case; keep stderr readable.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    println!(
        "running {} ONNX cases from {} on {jobs} threads",
        cases.len(),
        root.display()
    );
    let results = run_all(&cases, jobs, &skip);
    std::panic::set_hook(default_hook);

    let verbose = std::env::var_os("FERRITE_CONFORMANCE_VERBOSE").is_some_and(|v| v == "1");
    for r in &results {
        if verbose || r.case.light {
            println!(
                "{:<58} ferrite: {} [{:.2}s] | tract: {} [{:.2}s]",
                r.case.key,
                r.ferrite,
                r.ferrite_time.as_secs_f64(),
                r.tract,
                r.tract_time.as_secs_f64()
            );
        }
    }
    println!("\n{}", table(&results));

    let manifest_path = repo_root().join("tests/onnx/manifest.txt");
    let manifest: BTreeSet<String> = read_manifest(&manifest_path).into_iter().collect();
    let keys: BTreeSet<&str> = results.iter().map(|r| r.case.key.as_str()).collect();
    let mut failures = Vec::new();
    let mut new_passes = Vec::new();
    let mut skipped_listed = Vec::new();
    for r in &results {
        let listed = manifest.contains(&r.case.key);
        match (&r.ferrite, listed) {
            (Outcome::Skipped(_), true) => skipped_listed.push(r.case.key.clone()),
            (o, true) if !o.passed() => failures.push(format!("{}: {o}", r.case.key)),
            (o, false) if o.passed() => new_passes.push(r.case.key.clone()),
            _ => {}
        }
    }
    let missing: Vec<&String> = if filter.is_none() {
        manifest
            .iter()
            .filter(|k| !keys.contains(k.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    for k in &missing {
        failures.push(format!(
            "{k}: listed in the manifest but no such case was generated"
        ));
    }
    if !skipped_listed.is_empty() {
        println!(
            "{} listed case(s) skipped in this build: {}",
            skipped_listed.len(),
            skipped_listed.join(", ")
        );
    }
    if std::env::var_os("FERRITE_BLESS").is_some_and(|v| v == "1") {
        let mut keep: Vec<String> = results
            .iter()
            .filter(|r| r.ferrite.passed())
            .map(|r| r.case.key.clone())
            .collect();
        keep.extend(skipped_listed.iter().cloned());
        if filter.is_some() {
            // A filtered run only knows about its own cases: keep the others as listed.
            keep.extend(
                manifest
                    .iter()
                    .filter(|k| !keys.contains(k.as_str()))
                    .cloned(),
            );
        }
        match write_manifest(&manifest_path, &keep) {
            Ok(()) => println!(
                "FERRITE_BLESS=1: wrote {} cases to {}",
                keep.len(),
                manifest_path.display()
            ),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", manifest_path.display());
                std::process::exit(1);
            }
        }
    } else if !new_passes.is_empty() {
        println!(
            "{} case(s) pass but are not in tests/onnx/manifest.txt; add them (or rerun with FERRITE_BLESS=1):",
            new_passes.len()
        );
        for k in &new_passes {
            println!("  {k}");
        }
    }
    println!("done in {:.1}s", start.elapsed().as_secs_f64());
    if !failures.is_empty() && std::env::var_os("FERRITE_BLESS").is_none_or(|v| v != "1") {
        eprintln!(
            "\n{} case(s) listed in tests/onnx/manifest.txt failed:",
            failures.len()
        );
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
    println!(
        "test result: ok. {} manifest cases passed",
        manifest.len() - skipped_listed.len()
    );
}
