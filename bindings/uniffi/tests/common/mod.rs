//! Test material shared by the Rust and foreign-language tests.
//!
//! Everything the tests compare against comes from the Rust runtime, never from this
//! binding: the fixtures of `cargo run -p ferrite --example fixtures` (models, inputs
//! and the runtime's exact outputs), plus a few small models built here with the
//! runtime's writer whose reference values (arena sizes, golden vectors) are computed
//! by the runtime itself.
#![allow(dead_code)]

use ferrite::format::types::{Activation, BinaryOp, DType, Op, Quant};
use ferrite::format::write::ModelBuilder;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of everything the tests need.
#[derive(Debug)]
pub struct Material {
    /// Fixtures and harness models (`*.fer`, `*.csv`, `*.hex`, `harness.txt`).
    pub fixtures: PathBuf,
    /// The cdylib as `cargo build -p ferrite-uniffi` makes it (what apps ship).
    pub cdylib: PathBuf,
    /// Scratch space for generated sources and compiled tests.
    pub work: PathBuf,
}

/// The cargo that runs the tests (or `cargo`).
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command, panicking with its output when it fails.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{cmd:?}\n{text}",
        out.status
    );
    text
}

/// `target/<profile>` of the running test binary (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Builds (once per test binary) the cdylib, the fixtures and the harness models.
pub fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ferrite-uniffi");
        let fixtures = root.join("fixtures");
        let work = root.join("work");
        std::fs::create_dir_all(&fixtures).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let release = !cfg!(debug_assertions);
        // The real cdylib: `cargo test` builds the library with the dev-dependencies'
        // features, and does not place the cdylib where a user finds it.
        let mut build = Command::new(cargo());
        build.args(["build", "-q", "-p", "ferrite-uniffi", "--lib"]);
        if release {
            build.arg("--release");
        }
        run(&mut build, "building the ferrite-uniffi cdylib");
        // `FERRITE_FIXTURES_BIN` (set by `cargo xtask test`: the `fixtures` example its
        // workspace build made), else `cargo run`, which resolves features of its own and
        // so compiles the runtime again.
        let mut fx = match std::env::var_os("FERRITE_FIXTURES_BIN").filter(|p| !p.is_empty()) {
            Some(bin) => Command::new(bin),
            None => {
                let mut fx = Command::new(cargo());
                fx.args(["run", "-q", "-p", "ferrite", "--example", "fixtures"]);
                if release {
                    fx.arg("--release");
                }
                fx.arg("--");
                fx
            }
        };
        fx.arg(&fixtures);
        run(&mut fx, "generating the runtime fixtures");
        harness_models(&fixtures);
        let name = format!(
            "{}ferrite_uniffi{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let cdylib = profile_dir().join(name);
        assert!(
            cdylib.exists(),
            "{} missing after cargo build",
            cdylib.display()
        );
        Material {
            fixtures,
            cdylib,
            work,
        }
    })
}

/// A small f32 model `x[1,4] -> FC 3x4 + bias -> y[1,3]`, with metadata to inspect.
fn small_model(name: &str) -> ModelBuilder {
    let mut b = ModelBuilder::new(name);
    b.version = "2.1".into();
    b.description = "harness model".into();
    b.producer = "ferrite-uniffi tests".into();
    b.labels = ["a", "b", "c"].map(String::from).to_vec();
    b.properties = vec![
        ("precision".into(), "f32".into()),
        ("source".into(), "harness".into()),
    ];
    let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) / 8.0).collect();
    let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    let wt = b.add_const_f32("w", &[3, 4], &w).unwrap();
    let bt = b.add_const_f32("b", &[3], &[0.25, -0.5, 0.125]).unwrap();
    let y = b.add_tensor("y", DType::F32, &[1, 3], Quant::None).unwrap();
    b.add_op(
        Op::FullyConnected {
            act: Activation::None,
            q: None,
        },
        &[x, wt, bt],
        &[y],
    )
    .unwrap();
    b.set_io(&[x], &[y]).unwrap();
    b
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Output bytes of `model` on `inputs`, computed by the runtime.
fn runtime_outputs(model: &[u8], inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let owned = ferrite::OwnedModel::new(model).unwrap();
    let m = owned.model();
    let mut os = ferrite::OwnedSession::new(&m);
    let mut s = os.session();
    for (i, b) in inputs.iter().enumerate() {
        s.set_input_bytes(i, b).unwrap();
    }
    s.run().unwrap();
    (0..m.num_outputs())
        .map(|o| s.output_bytes(o).unwrap().to_vec())
        .collect()
}

/// Writes the harness models and `harness.txt` (`key=value` reference facts computed
/// by the runtime).
fn harness_models(dir: &Path) {
    signed_models(dir);
    let mut facts = String::new();
    // Golden vectors: the runtime's own outputs, and a copy with one byte flipped.
    let plain = small_model("harness-small").finish().unwrap();
    let vectors: Vec<Vec<u8>> = [[1.0f32, 2.0, 3.0, 4.0], [-0.5, 0.25, 8.0, -3.0]]
        .iter()
        .map(|v| f32_bytes(v))
        .collect();
    let mut good = small_model("harness-small");
    let mut bad = small_model("harness-small");
    for (i, x) in vectors.iter().enumerate() {
        let y = runtime_outputs(&plain, core::slice::from_ref(x));
        let mut y_bad = y.clone();
        if i == 1 {
            y_bad[0][5] ^= 0x40;
        }
        good.add_golden(vec![x.clone()], y);
        bad.add_golden(vec![x.clone()], y_bad);
    }
    let good = good.finish().unwrap();
    std::fs::write(dir.join("golden.fer"), &good).unwrap();
    std::fs::write(dir.join("golden_bad.fer"), bad.finish().unwrap()).unwrap();
    let gm = ferrite::OwnedModel::new(&good).unwrap();
    facts += &format!(
        "golden.arena_size={}\ngolden.num_golden={}\n",
        gm.model().arena_size(),
        gm.model().num_golden()
    );

    // Two inputs, two outputs: `sum = a + b`, `prod = a * b` over [1,4] f32.
    let mut b = ModelBuilder::new("harness-two-inputs");
    let a = b.add_tensor("a", DType::F32, &[1, 4], Quant::None).unwrap();
    let c = b.add_tensor("b", DType::F32, &[1, 4], Quant::None).unwrap();
    let sum = b
        .add_tensor("sum", DType::F32, &[1, 4], Quant::None)
        .unwrap();
    let prod = b
        .add_tensor("prod", DType::F32, &[1, 4], Quant::None)
        .unwrap();
    b.add_op(
        Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: None,
        },
        &[a, c],
        &[sum],
    )
    .unwrap();
    b.add_op(
        Op::Binary {
            op: BinaryOp::Mul,
            act: Activation::None,
            q: None,
        },
        &[a, c],
        &[prod],
    )
    .unwrap();
    b.set_io(&[a, c], &[sum, prod]).unwrap();
    let two = b.finish().unwrap();
    std::fs::write(dir.join("two_inputs.fer"), &two).unwrap();
    let ins = [
        f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
        f32_bytes(&[0.5, -1.0, 2.0, 10.0]),
    ];
    let outs = runtime_outputs(&two, &ins);
    facts += &format!(
        "two_inputs.a={}\ntwo_inputs.b={}\n",
        hex(&ins[0]),
        hex(&ins[1])
    );
    facts += &format!(
        "two_inputs.sum={}\ntwo_inputs.prod={}\n",
        hex(&outs[0]),
        hex(&outs[1])
    );

    for name in ["mlp_f32", "mlp_int8", "mlp_int8_raw"] {
        let bytes = std::fs::read(dir.join(format!("{name}.fer"))).unwrap();
        let m = ferrite::OwnedModel::new(&bytes).unwrap();
        facts += &format!(
            "{name}.arena_size={}\n{name}.file_size={}\n",
            m.model().arena_size(),
            bytes.len()
        );
    }
    std::fs::write(dir.join("harness.txt"), facts).unwrap();
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|v| format!("{v:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Lines of a fixture file.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A fact from `harness.txt`.
pub fn fact(fixtures: &Path, key: &str) -> String {
    lines(&fixtures.join("harness.txt"))
        .into_iter()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no fact {key}"))
}

/// Signed copies of the fixture `mlp_f32.fer` (the runtime's `signature::sign`, what
/// `ferrite sign` runs): `signed.fer` at model version 7 by the key of seed [7; 32]
/// (`release.pub`), a key that did not sign (`other.pub`), and `signed_flipped.fer` with
/// one byte in the middle of the weights flipped (the first weight tensor's middle).
fn signed_models(dir: &Path) {
    use ferrite::signature::sign::{public_key, sign};
    let plain = std::fs::read(dir.join("mlp_f32.fer")).unwrap();
    let seed = [7u8; 32];
    let signed = sign(&plain, &seed, 7).unwrap();
    std::fs::write(dir.join("signed.fer"), &signed).unwrap();
    std::fs::write(dir.join("release.pub"), public_key(&seed).0).unwrap();
    std::fs::write(dir.join("other.pub"), public_key(&[9u8; 32]).0).unwrap();
    // The WEIGHTS section's middle byte, located through the container's section table.
    let c = ferrite::format::Container::parse(&signed).unwrap();
    let w = c
        .sections()
        .find(|e| e.kind == ferrite::format::kind::WEIGHTS)
        .unwrap();
    let mut flipped = signed.clone();
    flipped[w.offset as usize + w.len as usize / 2] ^= 0x10;
    std::fs::write(dir.join("signed_flipped.fer"), flipped).unwrap();
}
