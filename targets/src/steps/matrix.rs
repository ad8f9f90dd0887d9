//! Steps made from the `[[build]]` and `[[test]]` jobs of the target files.

use crate::cargo::CargoCall;
use crate::step::{Outcome, Step};
use crate::target::{Job, Target};
use crate::Ctx;

/// `test all`: every `[[test]]` job, and every `[[build]]` job with `in-test = true`.
pub fn test_steps(ctx: &Ctx) -> Vec<Step> {
    let mut steps = Vec::new();
    for t in &ctx.targets {
        for job in t.build.iter().filter(|j| j.in_test) {
            steps.push(job_step(t, job, "build"));
        }
        for job in &t.test {
            steps.push(job_step(t, job, "test"));
        }
    }
    steps
}

/// `build all`: every `[[build]]` job.
pub fn build_steps(ctx: &Ctx) -> Vec<Step> {
    ctx.targets
        .iter()
        .flat_map(|t| t.build.iter().map(move |j| job_step(t, j, "build")))
        .collect()
}

fn job_step(target: &Target, job: &Job, subcommand: &'static str) -> Step {
    let stage = target.stage_of(job, subcommand == "test");
    let what = if job.workspace {
        "workspace"
    } else {
        job.package.as_str()
    };
    let mut about = format!("cargo {subcommand} {what}");
    if let Some(ct) = &job.crate_type {
        about.push_str(&format!(" as {ct}"));
    }
    if !job.default_features(target) {
        about.push_str(" --no-default-features");
    }
    let features = job.features(target);
    if !features.is_empty() {
        about.push_str(&format!(" --features {}", features.join(",")));
    }
    if subcommand == "test" {
        if let Some(runner) = target.emulator() {
            about.push_str(&format!(
                ", run with {}",
                runner.split(' ').next().unwrap_or("")
            ));
        }
    }
    for (k, v) in &job.env {
        about.push_str(&format!(", {k}={v}"));
    }
    let triple = target.triple.clone();
    let job = job.clone();
    Step::new(
        format!("{}:{}", job.name, triple),
        stage,
        about,
        move |ctx| {
            let target = ctx.target(&triple)?;
            let call = CargoCall::for_job(subcommand, target, &job);
            let mut cmd = call.command(ctx)?;
            for (k, v) in &job.env {
                cmd = cmd.env(k, v);
            }
            if subcommand == "test" && triple == ctx.host().triple {
                // The tool this same build makes (as `firmware-model` built it): tests
                // that convert with the CLI from outside ferrite-tool's own tests run it
                // instead of `cargo run -p ferrite-tool`, which resolves other features
                // and compiles tract a second time.
                let tool = super::firmware::tool_of(&call, ctx);
                cmd = cmd.env("FERRITE_TOOL", tool.display().to_string());
                if job.workspace {
                    // Likewise the runtime's `fixtures` example, which a workspace test
                    // build compiles: the binding tests (C, cross, UniFFI, JS) run it
                    // instead of `cargo run -p ferrite --example fixtures`, whose own
                    // feature resolution compiles the debug runtime and 23 crates
                    // under it again. Same runtime features, same fixtures.
                    let fixtures = fixtures_of(&call, ctx);
                    cmd = cmd.env("FERRITE_FIXTURES_BIN", fixtures.display().to_string());
                }
            }
            cmd.run()?;
            Ok(Outcome::Passed)
        },
    )
    .for_target(target.triple.clone())
}

/// Where the cargo call `build` puts the runtime's `fixtures` example.
pub fn fixtures_of(build: &CargoCall, ctx: &Ctx) -> std::path::PathBuf {
    build
        .artifact_dir(ctx)
        .join("examples")
        .join(format!("fixtures{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `FERRITE_FIXTURES_BIN` names the example the host workspace test job builds: the
    /// runtime's `fixtures` (`cargo test` compiles every example of the workspace).
    #[test]
    fn fixtures_bin_is_the_workspace_builds_example() {
        let ctx = Ctx::load(false).unwrap();
        let host = ctx.host();
        let job = host.test.iter().find(|j| j.name == "test").unwrap();
        assert!(job.workspace);
        let call = CargoCall::for_job("test", host, job);
        let bin = fixtures_of(&call, &ctx);
        let name = format!("fixtures{}", std::env::consts::EXE_SUFFIX);
        assert_eq!(bin, ctx.root.join("target/debug/examples").join(name));
        assert!(ctx.root.join("runtime/examples/fixtures.rs").is_file());
    }
}
