//! The host reference for the firmware's predictions: the `ferrite` runtime run directly
//! on the trace windows (sliced and transposed here, not by the firmware's `Window`),
//! with the firmware's shared milli-g → input conversion.

#![allow(dead_code)]

use core::fmt::Write as _;
use ferrite_firmware::{mg_to_input, CHANNELS, HOP, WINDOW};
use std::path::PathBuf;

/// Repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `examples/sensor/trace.csv` as `[x, y, z]` milli-g rows.
pub fn trace() -> Vec<[i16; 3]> {
    let path = repo_root().join("examples/sensor/trace.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(
        lines.next().map(str::trim),
        Some("ax,ay,az"),
        "{}: header",
        path.display()
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<i16> = l
                .split(',')
                .map(|f| f.trim().parse().expect("integer milli-g"))
                .collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

/// One window's expected result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub window: u32,
    pub start: u64,
    /// Hex of output 0's raw bytes.
    pub out: String,
    pub label: Option<usize>,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Runs `model` on every window of `trace` (start 0, HOP, 2·HOP … while a full window
/// fits).
pub fn expected(model: &[u8], trace: &[[i16; 3]]) -> Vec<Expected> {
    let owned = ferrite::OwnedModel::new(model).expect("reference model loads");
    let m = owned.model();
    let mut session = ferrite::OwnedSession::new(&m);
    let mut s = session.session();
    let mut scores = vec![0f32; m.output_len(0).unwrap()];
    let mut out = Vec::new();
    let mut start = 0usize;
    while start + WINDOW <= trace.len() {
        let mut input = vec![0f32; CHANNELS * WINDOW];
        for i in 0..WINDOW {
            for c in 0..CHANNELS {
                input[c * WINDOW + i] = mg_to_input(trace[start + i][c]);
            }
        }
        let label = s.predict(&input, &mut scores).expect("reference predict");
        out.push(Expected {
            window: out.len() as u32,
            start: start as u64,
            out: hex(s.output_bytes(0).unwrap()),
            label,
        });
        start += HOP;
    }
    out
}

/// Parses a firmware log line `window=N start=S out=HEX label=L [name]`.
pub fn parse_line(line: &str) -> Option<Expected> {
    let mut f = line.split_whitespace();
    let window = f.next()?.strip_prefix("window=")?.parse().ok()?;
    let start = f.next()?.strip_prefix("start=")?.parse().ok()?;
    let out = f.next()?.strip_prefix("out=")?.to_string();
    let label = match f.next()?.strip_prefix("label=")? {
        "-" => None,
        l => Some(l.parse().ok()?),
    };
    Some(Expected {
        window,
        start,
        out,
        label,
    })
}
