//! Safe A/B updates on the QEMU board (issue 17): the host tool makes a key pair
//! (`ferrite keygen`) and signs the firmware's model three times (`ferrite sign
//! --version 1/2/3`); `boards/mps2-an386`'s `ferrite-mps2-an386-update` embeds them and
//! plays a factory install, a good update, a tampered one, an old version and a power cut
//! mid-write on a RAM-backed flash, rebooting after each (see its module docs). Checked:
//! QEMU's exit status is 0 and every scenario line says `ok` with the right slot and
//! version; the output bytes are compared on the device with the host runtime's (by the
//! board's build script) and here once more with `ferrite run`'s f32 scores.
//!
//! The model: `target/firmware/sensor_cnn_int8.fer` (the `firmware-model` CI step), else
//! converted here. Needs what `qemu_parity.rs` needs (`cargo xtask setup`) and the host
//! tool: `$FERRITE_TOOL`, else `target/{release,debug}/ferrite`, else it is built. The
//! files and the QEMU log go to `target/firmware/update/`.

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "support/host.rs"]
mod host;
use host::{check, root, tool, without_outer_build_env, LLD, TRIPLE};

fn ferrite(tool: &Path, root: &Path, args: &[&str]) -> String {
    check(
        &format!("ferrite {}", args.join(" ")),
        Command::new(tool)
            .current_dir(root)
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn ab_update_scenarios_on_the_qemu_board() {
    let root = root().canonicalize().unwrap();
    let tool = tool(&root);
    let work = root.join("target/firmware/update");
    std::fs::create_dir_all(&work).unwrap();
    let model = root.join("target/firmware/sensor_cnn_int8.fer");
    let model = if model.is_file() {
        model
    } else {
        let m = work.join("sensor_cnn_int8.fer");
        ferrite(
            &tool,
            &root,
            &[
                "convert",
                "examples/sensor/sensor_cnn.onnx",
                "-o",
                m.to_str().unwrap(),
                "--precision",
                "int8",
                "--calibration",
                "examples/sensor/calib.csv",
                "--unfused-stem",
                "--labels",
                "idle,walk,run,shake",
            ],
        );
        m
    };
    let key = work.join("key");
    let w = |p: &Path| p.to_str().unwrap().to_string();
    ferrite(&tool, &root, &["keygen", "-o", &w(&key), "--force"]);
    for v in ["1", "2", "3"] {
        let out = work.join(format!("v{v}.fer"));
        ferrite(
            &tool,
            &root,
            &[
                "sign",
                &w(&model),
                "--key",
                &w(&work.join("key.secret")),
                "--version",
                v,
                "-o",
                &w(&out),
            ],
        );
        // The tool's own verifier accepts it.
        ferrite(
            &tool,
            &root,
            &["verify", &w(&out), "--public", &w(&work.join("key.pub"))],
        );
    }

    let board = root.join("firmware/boards/mps2-an386");
    let target_dir = root.join("target/cross");
    let mut cmd = Command::new("/usr/bin/cargo");
    cmd.current_dir(&board)
        .args(["build", "--release", "-Zbuild-std=core", "--target", TRIPLE])
        .args(["--bin", "ferrite-mps2-an386-update"])
        .arg("--manifest-path")
        .arg(board.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("FERRITE_MODEL", &model)
        .env("FERRITE_UPDATE_DIR", &work)
        .env("CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER", LLD);
    without_outer_build_env(&mut cmd);
    check("building ferrite-mps2-an386-update", cmd.output().unwrap());
    let elf = target_dir
        .join(TRIPLE)
        .join("release/ferrite-mps2-an386-update");

    let run = Command::new("timeout")
        .arg("120")
        .arg("qemu-system-arm")
        .args(["-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::write(work.join("qemu_update.log"), &log).unwrap();
    eprintln!("{log}");
    assert_eq!(run.status.code(), Some(0), "firmware exit status\n{log}");

    let scenarios: Vec<&str> = log.lines().filter(|l| l.starts_with("scenario=")).collect();
    let want = [
        ("install", "A", 1),
        ("good", "B", 2),
        ("tampered", "B", 2),
        ("old", "B", 2),
        ("power-cut", "B", 2),
        ("after-power-cut", "A", 3),
    ];
    assert_eq!(scenarios.len(), want.len(), "{log}");
    // `ferrite run` on the same first window: the device's output bytes are its f32
    // scores.
    let trace = std::fs::read_to_string(root.join("examples/sensor/trace.csv")).unwrap();
    let rows: Vec<[i16; 3]> = trace
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(ferrite_firmware::WINDOW)
        .map(|l| {
            let v: Vec<i16> = l.split(',').map(|f| f.trim().parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    let mut x = vec![0f32; ferrite_firmware::INPUT_LEN];
    for (s, r) in rows.iter().enumerate() {
        for c in 0..ferrite_firmware::CHANNELS {
            x[c * ferrite_firmware::WINDOW + s] = ferrite_firmware::mg_to_input(r[c]);
        }
    }
    let csv = work.join("window0.csv");
    let line: Vec<String> = x.iter().map(|v| format!("{v:?}")).collect();
    std::fs::write(&csv, format!("{}\n", line.join(","))).unwrap();
    let ran = ferrite(
        &tool,
        &root,
        &["run", &w(&work.join("v2.fer")), "--input", &w(&csv)],
    );
    eprintln!("ferrite run: {ran}");
    // The CSV row: the scores, then the predicted label.
    let host: Vec<f32> = ran
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .filter_map(|f| f.parse().ok())
        .collect();
    assert!(!host.is_empty(), "{ran}");
    for (line, (name, slot, version)) in scenarios.iter().zip(want) {
        assert!(
            line.starts_with(&format!(
                "scenario={name} ok active=Some({slot}) version={version} out="
            )),
            "{line}\n{log}"
        );
        let hex = line.rsplit("out=").next().unwrap();
        let device: Vec<f32> = (0..hex.len() / 8)
            .map(|i| {
                let b: Vec<u8> = (0..4)
                    .map(|k| u8::from_str_radix(&hex[8 * i + 2 * k..][..2], 16).unwrap())
                    .collect();
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            })
            .collect();
        assert_eq!(
            device.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            host.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{name}: device scores {device:?}, `ferrite run` {host:?}"
        );
    }
    assert!(log.contains("done all scenarios ok"), "{log}");
}
