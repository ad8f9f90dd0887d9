//! `ferrite keygen`, `sign`, `verify` end to end through the binary.

use std::path::Path;
use std::process::{Command, Output};

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .output()
        .expect("run ferrite")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let o = ferrite(args);
    assert!(o.status.success(), "ferrite {args:?} failed: {}", text(&o));
    text(&o)
}

/// Exit status 1 and the refusal message.
fn refused(args: &[&str], why: &str) {
    let o = ferrite(args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "ferrite {args:?}: {t}");
    assert!(t.contains(why), "ferrite {args:?}: expected {why:?} in {t}");
}

fn dir(name: &str) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ferrite-sign")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.display().to_string()
}

/// The digits example model, converted once.
fn model(d: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let onnx = root.join("examples/digits/digits_mlp.onnx");
    let out = format!("{d}/m.fer");
    ok(&["convert", onnx.to_str().unwrap(), "-o", &out]);
    out
}

#[test]
fn keygen_sign_verify_and_each_refusal() {
    let d = dir("flow");
    let m = model(&d);
    let (k, other) = (format!("{d}/k"), format!("{d}/other"));
    ok(&["keygen", "-o", &k]);
    ok(&["keygen", "-o", &other]);
    let (secret, public) = (format!("{k}.secret"), format!("{k}.pub"));
    assert_eq!(std::fs::read(&secret).unwrap().len(), 32);
    assert_eq!(std::fs::read(&public).unwrap().len(), 32);
    assert_ne!(
        std::fs::read(&secret).unwrap(),
        std::fs::read(format!("{other}.secret")).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Keys are never overwritten by accident.
    let o = ferrite(&["keygen", "-o", &k]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--force"));

    let signed = format!("{d}/signed.fer");
    ok(&[
        "sign",
        &m,
        "--key",
        &secret,
        "--version",
        "7",
        "-o",
        &signed,
    ]);
    let t = ok(&["verify", &signed, "--public", &public]);
    assert!(t.contains("model version 7"), "{t}");
    ok(&["verify", &signed, "--public", &public, "--min-version", "7"]);
    let other_pub = format!("{other}.pub");
    ok(&[
        "verify", &signed, "--public", &other_pub, "--public", &public,
    ]);

    // The signed model still runs like the original (inspect reads it with Model::load).
    ok(&["inspect", &signed]);

    refused(&["verify", &signed, "--public", &other_pub], "not trusted");
    refused(&["verify", &m, "--public", &public], "not signed");
    refused(
        &["verify", &signed, "--public", &public, "--min-version", "8"],
        "model version 7 is older than the minimum accepted version 8",
    );
    let mut bytes = std::fs::read(&signed).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    let flipped = format!("{d}/flipped.fer");
    std::fs::write(&flipped, &bytes).unwrap();
    refused(
        &["verify", &flipped, "--public", &public],
        "does not verify",
    );

    // Signing in place replaces the signature (new key, new version).
    ok(&[
        "sign",
        &signed,
        "--key",
        &format!("{other}.secret"),
        "--version",
        "8",
    ]);
    refused(&["verify", &signed, "--public", &public], "not trusted");
    ok(&[
        "verify",
        &signed,
        "--public",
        &other_pub,
        "--min-version",
        "8",
    ]);
}

#[test]
fn bad_key_files_and_models_are_errors() {
    let d = dir("bad");
    let m = model(&d);
    let junk = format!("{d}/junk.secret");
    std::fs::write(&junk, b"not a key").unwrap();
    let o = ferrite(&["sign", &m, "--key", &junk]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("32 bytes"), "{}", text(&o));
    let k = format!("{d}/k");
    ok(&["keygen", "-o", &k]);
    let not_model = format!("{d}/x.fer");
    std::fs::write(&not_model, b"hello").unwrap();
    let o = ferrite(&["sign", &not_model, "--key", &format!("{k}.secret")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // --public is required.
    let o = ferrite(&["verify", &m]);
    assert_eq!(o.status.code(), Some(2));
    for cmd in ["keygen", "sign", "verify"] {
        let h = ok(&[cmd, "--help"]);
        assert!(h.contains("Example"), "{cmd} --help: {h}");
    }
}
