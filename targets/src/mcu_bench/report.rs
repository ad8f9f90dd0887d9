//! The table and the JSON of `cargo xtask mcu-bench`, and the published figures they
//! show beside ferrite's.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Measured, Options};

/// The published cycles per MAC (MLPerf Tiny v0.5/v1.0 results on an STM32L4R5,
/// Cortex-M4 at 120 MHz) and TFLM's arena for the same models, as collected in
/// issue #15.
pub(super) struct Published {
    pub(super) model: &'static str,
    cycles_per_mac: [f64; 4],
    tflm_arena_kb: f64,
}

const RUNTIMES: [&str; 4] = [
    "TFLM reference kernels",
    "microTVM + CMSIS-NN",
    "X-CUBE-AI 7.3",
    "Plumerai",
];

pub(super) const PUBLISHED: [Published; 3] = [
    Published {
        model: "kws_dscnn",
        cycles_per_mac: [8.2, 4.5, 3.4, 3.2],
        tflm_arena_kb: 21.4,
    },
    Published {
        model: "resnet8",
        cycles_per_mac: [6.8, 3.7, 2.2, 1.7],
        tflm_arena_kb: 54.0,
    },
    Published {
        model: "vww_mobilenetv1",
        cycles_per_mac: [9.6, 4.8, 3.7, 3.3],
        tflm_arena_kb: 156.0,
    },
];

fn published(model: &str) -> Option<&'static Published> {
    PUBLISHED.iter().find(|p| p.model == model)
}

/// A count with a metric prefix: `6.46 k`, `2.66 M`.
fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.2} k", n as f64 / 1e3),
        _ => format!("{:.2} M", n as f64 / 1e6),
    }
}

fn kib(n: u64) -> String {
    format!("{:.1}", n as f64 / 1024.0)
}

/// Kilobytes (1000 bytes), the unit of the published arenas.
fn kb(n: u64) -> String {
    format!("{:.1}", n as f64 / 1000.0)
}

fn per_mac(instructions: u64, macs: u64) -> String {
    if macs == 0 {
        "—".into()
    } else {
        format!("{:.1}", instructions as f64 / macs as f64)
    }
}

/// One line of the main table.
fn main_row(c: [&str; 16]) -> String {
    format!(
        "{:<16} {:<11} {:>8} {:>13} {:>7} | {:>4} {:>5} {:>5} {:>5} | {:>6} {:>6} | {:>6} {:>6} {:>5} {:>6} | {}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]
    )
}

pub(super) fn table(results: &[Measured], opts: &Options) -> String {
    let mut out = String::new();
    let profile = if opts.profile == "release" {
        "release: opt-level 3, fat LTO"
    } else {
        "release-size: opt-level z, fat LTO"
    };
    let _ = writeln!(
        out,
        "mcu-bench: int8 models in QEMU with -icount shift=0, firmware profile {profile}"
    );
    let _ = writeln!(
        out,
        "QEMU counts instructions, not cycles: a real Cortex-M4/M33 spends more than one cycle on\n\
         loads, multiplies and taken branches, so instructions/MAC is a lower bound of cycles/MAC.\n"
    );
    // The group labels over the columns of `main_row` (widths 23, 13 and 27).
    let _ = writeln!(
        out,
        "{:<16} {:<11} {:>8} {:>13} {:>7} | {:^23} | {:^13} | {:^27} |",
        "", "", "", "instructions", "instr/", "published cycles/MAC", "flash KiB", "RAM kB"
    );
    out.push_str(&main_row([
        "model",
        "board",
        "MACs",
        "/inference",
        "MAC",
        "TFLM",
        "CMSIS",
        "XCUBE",
        "Plum.",
        "code",
        "model",
        "arena",
        "(TFLM)",
        "stack",
        "static",
        "output",
    ]));
    for m in results {
        let p = published(&m.model);
        let cpm = |i: usize| p.map_or("—".to_string(), |p| format!("{:.1}", p.cycles_per_mac[i]));
        let tflm = p.map_or("—".to_string(), |p| format!("{:.1}", p.tflm_arena_kb));
        let output = if m.failures.iter().any(|f| f.starts_with("output")) {
            "DIFFERS"
        } else {
            "= host"
        };
        out.push_str(&main_row([
            &m.model,
            m.board.name,
            &count(m.macs),
            &count(m.instructions),
            &per_mac(m.instructions, m.macs),
            &cpm(0),
            &cpm(1),
            &cpm(2),
            &cpm(3),
            &kib(m.flash_code),
            &kib(m.flash_model),
            &kb(m.arena),
            &tflm,
            &kb(m.stack),
            &kb(m.ram_static),
            output,
        ]));
    }
    let _ = writeln!(out, "\nper op kind (instructions of one inference):");
    for m in results {
        let _ = writeln!(
            out,
            "\n{} on {}: {} instructions ({} per MAC); Model::load {}, Session::new + set_input_f32 {}",
            m.model,
            m.board.name,
            m.instructions,
            per_mac(m.instructions, m.macs),
            m.load_instructions,
            m.session_input_instructions
        );
        let _ = writeln!(
            out,
            "  {:<16} {:>4} {:>13} {:>6} {:>11} {:>9}",
            "kind", "ops", "instructions", "share", "MACs", "instr/MAC"
        );
        let total: u64 = m.op_instructions.iter().sum::<u64>().max(1);
        for r in m.by_kind() {
            let _ = writeln!(
                out,
                "  {:<16} {:>4} {:>13} {:>5.1}% {:>11} {:>9}",
                r.kind,
                r.ops,
                r.instructions,
                100.0 * r.instructions as f64 / total as f64,
                if r.macs == 0 {
                    "—".into()
                } else {
                    r.macs.to_string()
                },
                per_mac(r.instructions, r.macs)
            );
        }
    }
    let _ = writeln!(out);
    let mut resolution: Vec<String> = results
        .iter()
        .map(|m| format!("{} on {}", m.resolution, m.board.name))
        .collect();
    resolution.sort();
    resolution.dedup();
    let overhead: Vec<u64> = results.iter().map(|m| m.observer_overhead).collect();
    let _ = writeln!(
        out,
        "instructions: `Session::run` of the first test input, counted by the board's timer\n  \
         (resolution in instructions: {}), validated on a loop of 2,000,000\n  \
         instructions; per op: timer reads in `run_observed`'s callback, less the observer's\n  \
         own bookkeeping spread evenly over the ops ({}–{} instructions per op).",
        resolution.join(", "),
        overhead.iter().min().unwrap_or(&0),
        overhead.iter().max().unwrap_or(&0),
    );
    let _ = writeln!(
        out,
        "MACs: MLPerf Tiny's count for the benchmark models (examples/bench/manifest.json), else\n  \
         `ferrite inspect`'s."
    );
    let _ = writeln!(
        out,
        "published: cycles/MAC of MLPerf Tiny v0.5/v1.0 results on an STM32L4R5 (Cortex-M4, 120 MHz):\n  \
         {}; TFLM's arena for the same model.",
        RUNTIMES.join(", ")
    );
    let _ = writeln!(
        out,
        "flash: code = vector table + .text + .rodata + .data less the model and the benchmark\n  \
         input: the runtime with every op group, cortex-m-rt and the harness (semihosting, fmt);\n  \
         model = the .fer file in flash."
    );
    let _ = writeln!(
        out,
        "RAM, in kB of 1000 bytes as the arenas are published: arena = Model::arena_size() (a\n  \
         static of exactly that size); stack = deepest word of the painted stack that\n  \
         Model::load + Session::new + set_input_f32 + run overwrote; static = .data + .bss\n  \
         (the arena and the harness's buffers).\n\
         output: output 0's bytes compared with `ferrite run` of the same .fer on the same input."
    );
    out
}

pub(super) fn to_json(results: &[Measured], opts: &Options) -> Value {
    let rows: Vec<Value> = results
        .iter()
        .map(|m| {
            let p = published(&m.model);
            json!({
                "model": m.model,
                "board": m.board.name,
                "triple": m.board.triple,
                "macs": m.macs,
                "instructions": m.instructions,
                "instructions_per_mac": if m.macs == 0 { Value::Null } else { json!(m.instructions as f64 / m.macs as f64) },
                "timer_resolution_instructions": m.resolution,
                "load_instructions": m.load_instructions,
                "session_input_instructions": m.session_input_instructions,
                "op_instructions": m.op_instructions,
                "op_macs": m.op_macs,
                "observer_overhead_per_op": m.observer_overhead,
                "op_kinds": m.op_kinds,
                "kinds": m.by_kind().iter().map(|r| json!({"kind": r.kind, "ops": r.ops, "instructions": r.instructions, "macs": r.macs})).collect::<Vec<_>>(),
                "convert": m.convert,
                "flash_code_bytes": m.flash_code,
                "flash_model_bytes": m.flash_model,
                "arena_bytes": m.arena,
                "stack_peak_bytes": m.stack,
                "ram_static_bytes": m.ram_static,
                "output_hex": m.output_hex,
                "budget": m.budget.map(|b| json!({"instructions": b.instructions, "stack_bytes": b.stack_bytes})),
                "published": p.map(|p| json!({
                    "cycles_per_mac": RUNTIMES.iter().zip(p.cycles_per_mac).map(|(r, c)| json!({"runtime": r, "cycles_per_mac": c})).collect::<Vec<_>>(),
                    "tflm_arena_kb": p.tflm_arena_kb,
                })),
                "failures": m.failures,
            })
        })
        .collect();
    json!({
        "profile": opts.profile,
        "counts": "instructions executed under qemu-system-arm -icount shift=0, not cycles",
        "results": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Measured, Options, BOARDS};
    use super::*;

    fn kws(failures: Vec<String>) -> Measured {
        Measured {
            board: BOARDS[0],
            model: "kws_dscnn".into(),
            macs: 2_656_768,
            instructions: 31_713_880,
            load_instructions: 1_740_080,
            session_input_instructions: 17_240,
            resolution: 40,
            op_instructions: vec![5_000_000, 20_000_000, 6_713_880],
            observer_overhead: 600,
            op_kinds: vec!["Conv".into(), "FullyConnected".into(), "Conv".into()],
            op_macs: vec![320_000, 2_048_768, 288_000],
            arena: 16_000,
            stack: 2_552,
            ram_static: 16_300,
            flash_code: 158_400,
            flash_model: 36_432,
            output_hex: "00".into(),
            convert: String::new(),
            budget: None,
            failures,
        }
    }

    #[test]
    fn the_table_puts_the_published_figures_beside_ferrites() {
        let t = table(&[kws(Vec::new())], &Options::short());
        assert!(t.contains("QEMU counts instructions, not cycles"));
        let row = t.lines().find(|l| l.starts_with("kws_dscnn")).unwrap();
        // instructions/MAC = 31,713,880 / 2,656,768 = 11.94; TFLM 8.2 … Plumerai 3.2;
        // arena 16,000 B = 16.0 kB beside TFLM's 21.4 kB; flash 158,400 B = 154.7 KiB.
        for cell in [
            "31.71 M", "11.9", "8.2", "4.5", "3.4", "3.2", "154.7", "35.6", "16.0", "21.4",
            "= host",
        ] {
            assert!(row.contains(cell), "{cell} missing in {row}");
        }
        // Per kind, most expensive first: FullyConnected 20 M (63.1 %, 9.8 per MAC),
        // then Conv 11.7 M over 608,000 MACs (19.3 per MAC).
        let fc = t.find("FullyConnected").unwrap();
        let conv = t[fc..].find("  Conv ").unwrap();
        assert!(t[fc..].lines().next().unwrap().contains("63.1%"));
        assert!(t[fc + conv..].lines().next().unwrap().contains("19.3"));
    }

    #[test]
    fn a_differing_output_shows_in_the_table() {
        let bad = kws(vec!["output bytes differ from the host runtime's".into()]);
        let t = table(&[bad], &Options::short());
        assert!(t
            .lines()
            .any(|l| l.starts_with("kws_dscnn") && l.ends_with("DIFFERS")));
    }
}
