//! The drift-monitoring demo on the QEMU board: the sensor CNN is converted to int8 with
//! a monitoring baseline made of the windows of `examples/sensor/trace.csv` (the device as
//! commissioned), `boards/mps2-an386`'s `ferrite-mps2-an386-monitor` replays that trace
//! and then a copy with the x axis shifted by one standard deviation of its window mean
//! (made here), under `qemu-system-arm -icount shift=0`, and prints a drift report after
//! each phase. Checked: nothing is flagged on the normal trace; on the shifted one `x_mean`
//! and only it is; the device's snapshot, decoded on the host by `ferrite monitor
//! --snapshot`, gives the same flags and PSI. The cost line (instructions per `observe`
//! and per `predict`) is printed.
//!
//! Needs what `qemu_parity.rs` needs (Debian's cargo/rustc with the library source,
//! ld.lld, qemu-system-arm: `cargo xtask setup`) and the host tool: `$FERRITE_TOOL`, else
//! `target/{release,debug}/ferrite`, else it is built (`cargo build -p ferrite-tool`).

use ferrite_firmware::{mg_to_input, CHANNELS, HOP, WINDOW};
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/host.rs"]
mod host;
use host::{check, root, tool, without_outer_build_env, LLD, TRIPLE};

fn read_trace(path: &Path) -> Vec<[i16; 3]> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<i16> = l.split(',').map(|f| f.trim().parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

/// The model input of every window (hop `HOP`), as the firmware forms it.
fn windows(trace: &[[i16; 3]]) -> Vec<Vec<f32>> {
    (0..=(trace.len() - WINDOW) / HOP)
        .map(|w| {
            let mut x = vec![0f32; CHANNELS * WINDOW];
            for s in 0..WINDOW {
                for c in 0..CHANNELS {
                    x[c * WINDOW + s] = mg_to_input(trace[w * HOP + s][c]);
                }
            }
            x
        })
        .collect()
}

struct Feature {
    name: String,
    psi: f64,
    flagged: bool,
}

/// The `feature` lines and the snapshot hex of phase `name`.
fn phase(out: &str, name: &str) -> (Vec<Feature>, String) {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.starts_with(&format!("phase={name} ")));
    assert!(lines.next().is_some(), "no phase {name} in:\n{out}");
    let mut feats = Vec::new();
    let mut snap = String::new();
    for l in lines {
        if let Some(rest) = l.strip_prefix("feature ") {
            let field = |k: &str| {
                rest.split(' ')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .unwrap()
                    .to_string()
            };
            feats.push(Feature {
                name: field("name"),
                psi: field("psi").parse().unwrap(),
                flagged: field("flagged") == "1",
            });
        } else if let Some(h) = l.strip_prefix("snapshot=") {
            snap = h.to_string();
            break;
        }
    }
    (feats, snap)
}

#[test]
fn drift_report_over_semihosting_flags_the_shifted_axis() {
    let root = root();
    let work = root.join("target/firmware/monitor");
    std::fs::create_dir_all(&work).unwrap();
    let trace = read_trace(&root.join("examples/sensor/trace.csv"));
    let wins = windows(&trace);
    // Baseline: the trace's own windows, in g, channel-major (x0..x63, y0.., z0..).
    let head: Vec<String> = ["x", "y", "z"]
        .iter()
        .flat_map(|c| (0..WINDOW).map(move |i| format!("{c}{i}")))
        .collect();
    let mut csv = head.join(",") + "\n";
    for w in &wins {
        let row: Vec<String> = w.iter().map(|v| v.to_string()).collect();
        csv += &(row.join(",") + "\n");
    }
    let baseline = work.join("trace_windows.csv");
    std::fs::write(&baseline, csv).unwrap();
    // The shifted copy: x + one standard deviation of the windows' x mean (2 mg steps).
    let means: Vec<f64> = wins
        .iter()
        .map(|w| w[..WINDOW].iter().map(|&v| v as f64).sum::<f64>() / WINDOW as f64)
        .collect();
    let m = means.iter().sum::<f64>() / means.len() as f64;
    let sd = (means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / means.len() as f64).sqrt();
    let shift = 2 * ((sd * 1000.0 / 2.0).round() as i16).max(1);
    let mut shifted = String::from("ax,ay,az\n");
    for s in &trace {
        shifted += &format!("{},{},{}\n", s[0] + shift, s[1], s[2]);
    }
    let shifted_path = work.join("trace_shifted.csv");
    std::fs::write(&shifted_path, shifted).unwrap();

    let tool = tool(&root);
    let model = work.join("sensor_cnn_int8_monitor.fer");
    let said = check(
        "ferrite convert",
        Command::new(&tool)
            .arg("convert")
            .arg(root.join("examples/sensor/sensor_cnn.onnx"))
            .arg("-o")
            .arg(&model)
            .args([
                "--precision",
                "int8",
                "--unfused-stem",
                "--labels",
                "idle,walk,run,shake",
            ])
            .arg("--calibration")
            .arg(root.join("examples/sensor/calib.csv"))
            .arg("--baseline")
            .arg(&baseline)
            .output()
            .unwrap(),
    );
    assert!(said.contains("monitoring baseline"), "{said}");

    let board = root.join("firmware/boards/mps2-an386");
    let target_dir = root.join("target/cross");
    let mut cmd = Command::new("/usr/bin/cargo");
    cmd.current_dir(&board)
        .args(["build", "--release", "-Zbuild-std=core", "--target", TRIPLE])
        .args(["--bin", "ferrite-mps2-an386-monitor"])
        .arg("--manifest-path")
        .arg(board.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("FERRITE_MODEL", &model)
        .env("FERRITE_SHIFTED_TRACE", &shifted_path)
        .env("CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER", LLD);
    without_outer_build_env(&mut cmd);
    check("building ferrite-mps2-an386-monitor", cmd.output().unwrap());
    let elf = target_dir
        .join(TRIPLE)
        .join("release/ferrite-mps2-an386-monitor");

    let run = Command::new("timeout")
        .arg("300")
        .arg("qemu-system-arm")
        .args(["-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-icount", "shift=0"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = check("qemu-system-arm", run);
    std::fs::write(work.join("qemu_monitor.log"), &out).unwrap();
    for l in out.lines().filter(|l| !l.starts_with("snapshot=")) {
        eprintln!("{l}");
    }

    let (normal, _) = phase(&out, "normal");
    let names: Vec<&str> = normal.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["x_mean", "x_std", "y_mean", "y_std", "z_mean", "z_std"]
    );
    assert!(normal.iter().all(|f| !f.flagged && f.psi < 0.1), "{out}");
    let (shifted, snap) = phase(&out, "shifted");
    let flagged: Vec<&str> = shifted
        .iter()
        .filter(|f| f.flagged)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(flagged, ["x_mean"], "{out}");

    // The device's snapshot decodes on the host to the same report.
    let bytes: Vec<u8> = (0..snap.len() / 2)
        .map(|i| u8::from_str_radix(&snap[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let snap_path = work.join("shifted.snap");
    std::fs::write(&snap_path, bytes).unwrap();
    let json = check(
        "ferrite monitor --snapshot",
        Command::new(&tool)
            .args(["monitor", "--json", "--snapshot"])
            .arg(&snap_path)
            .arg(&model)
            .output()
            .unwrap(),
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let host = report["features"].as_array().unwrap();
    assert_eq!(host.len(), shifted.len());
    for (f, h) in shifted.iter().zip(host) {
        assert_eq!(h["name"], f.name.as_str());
        assert_eq!(h["flagged"].as_bool().unwrap(), f.flagged, "{json}");
        let psi = h["psi"].as_f64().unwrap();
        assert!((psi - f.psi).abs() < 1e-4, "{} {psi} vs {}", f.name, f.psi);
    }
    assert_eq!(report["rows"], 30);
    let cost = out.lines().find(|l| l.starts_with("cost ")).unwrap();
    assert!(cost.contains("observe_instructions="), "{cost}");
}
