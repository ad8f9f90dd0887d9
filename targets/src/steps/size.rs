//! One `size:<triple>` step per target with `[[size]]` probes: fails over budget.

use crate::size;
use crate::step::{Outcome, Stage, Step};
use crate::Ctx;

pub fn steps(ctx: &Ctx) -> Vec<Step> {
    ctx.targets
        .iter()
        .filter(|t| !t.size.is_empty())
        .map(|t| {
            let triple = t.triple.clone();
            let names: Vec<&str> = t.size.iter().map(|p| p.name.as_str()).collect();
            Step::new(
                format!("size:{triple}"),
                Stage::Size,
                format!("flash/RAM of {} against the budgets", names.join(", ")),
                move |ctx| {
                    let rows = size::measure(ctx, ctx.target(&triple)?, false)?;
                    print!("{}", size::table(&rows));
                    if rows.iter().any(|r| r.over_budget()) {
                        return Err(format!(
                            "{triple}: over the size budget (targets/targets/{triple}.toml)"
                        )
                        .into());
                    }
                    Ok(Outcome::Passed)
                },
            )
            .for_target(t.triple.clone())
        })
        .collect()
}
