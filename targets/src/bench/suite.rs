//! The models `cargo xtask bench` measures and the engines it runs on each.

use std::path::{Path, PathBuf};

use crate::Result;

/// The MLPerf Tiny models and MobileNetV2 (files, MACs and op types in the manifest).
pub const BENCH_MANIFEST: &str = "examples/bench/manifest.json";
/// The onnxruntime-quantized variant timed next to each bench model: per-channel int8
/// weights, int8 activations (the scheme ferrite's own int8 conversion uses).
pub const QDQ_VARIANT: &str = "qdq_pc_s8";
/// Table order of the bench models; a manifest model not listed here comes after them.
const ORDER: [&str; 5] = [
    "kws_dscnn",
    "resnet8",
    "vww_mobilenetv1",
    "mobilenetv2_035",
    "ad_autoencoder",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has convolutions: the issue's conv-model criteria apply.
    Conv,
    /// Fully connected layers only.
    Dense,
}

/// One model of the suite; paths are relative to the repository root.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub onnx: PathBuf,
    /// Calibration rows for the int8 conversion.
    pub calibration: PathBuf,
    /// The inputs every engine cycles through (`.npy` or CSV rows).
    pub data: PathBuf,
    /// The onnxruntime-quantized QDQ file, when there is one.
    pub qdq: Option<PathBuf>,
    pub kind: Kind,
}

/// An engine on the host: a peer or a ferrite conversion. A new row (say ferrite int8
/// with the drift monitor on) is a variant here, its labels, and its job in
/// `host::measure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Engine {
    Onnxruntime,
    Tract,
    FerriteF32,
    FerriteF16,
    FerriteInt8,
    /// onnxruntime running the QDQ file.
    OnnxruntimeQdq,
    /// ferrite's int8 conversion of the QDQ file (the pre-quantized path).
    FerriteQdq,
}

impl Engine {
    /// Table order.
    pub const ALL: [Engine; 7] = [
        Engine::Onnxruntime,
        Engine::Tract,
        Engine::FerriteF32,
        Engine::FerriteF16,
        Engine::FerriteInt8,
        Engine::OnnxruntimeQdq,
        Engine::FerriteQdq,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Engine::Onnxruntime => "onnxruntime",
            Engine::Tract => "tract",
            Engine::FerriteF32 => "ferrite f32",
            Engine::FerriteF16 => "ferrite f16",
            Engine::FerriteInt8 => "ferrite int8",
            Engine::OnnxruntimeQdq => "onnxruntime QDQ",
            Engine::FerriteQdq => "ferrite int8 from QDQ",
        }
    }

    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Engine::Onnxruntime => "onnxruntime",
            Engine::Tract => "tract",
            Engine::FerriteF32 => "ferrite_f32",
            Engine::FerriteF16 => "ferrite_f16",
            Engine::FerriteInt8 => "ferrite_int8",
            Engine::OnnxruntimeQdq => "onnxruntime_qdq",
            Engine::FerriteQdq => "ferrite_qdq_int8",
        }
    }

    /// The peer a ferrite engine is compared with in the "÷ onnxruntime" column.
    pub fn onnxruntime_peer(self) -> Option<Engine> {
        match self {
            Engine::FerriteF32 | Engine::FerriteF16 | Engine::FerriteInt8 => {
                Some(Engine::Onnxruntime)
            }
            Engine::FerriteQdq => Some(Engine::OnnxruntimeQdq),
            _ => None,
        }
    }

    /// The peer in the "÷ tract" column (tract runs the float model only).
    pub fn tract_peer(self) -> Option<Engine> {
        match self {
            Engine::FerriteF32 | Engine::FerriteF16 | Engine::FerriteInt8 => Some(Engine::Tract),
            _ => None,
        }
    }
}

/// Every model of the suite (`names` empty) or the named ones, in table order.
pub fn load(root: &Path, names: &[String]) -> Result<Vec<Model>> {
    let manifest = root.join(BENCH_MANIFEST);
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let entries = json["models"]
        .as_object()
        .ok_or_else(|| format!("{}: no \"models\" object", manifest.display()))?;
    let mut bench: Vec<(&String, &serde_json::Value)> = entries.iter().collect();
    bench.sort_by_key(|(name, _)| ORDER.iter().position(|o| o == name).unwrap_or(ORDER.len()));

    let mut all = Vec::new();
    for (name, entry) in bench {
        let file = |v: &serde_json::Value, key: &str| -> Result<PathBuf> {
            v.as_str()
                .map(|f| Path::new("examples/bench").join(f))
                .ok_or_else(|| format!("{}: {name} has no {key}", manifest.display()).into())
        };
        let ops = entry["op_types"].as_array().cloned().unwrap_or_default();
        let qdq = Path::new("examples/qdq").join(format!("{name}_{QDQ_VARIANT}.onnx"));
        all.push(Model {
            name: name.clone(),
            onnx: file(&entry["file"], "file")?,
            calibration: file(&entry["calib"]["file"], "calib.file")?,
            data: file(&entry["test"]["file"], "test.file")?,
            qdq: root.join(&qdq).is_file().then_some(qdq),
            kind: if ops.iter().any(|o| o == "Conv") {
                Kind::Conv
            } else {
                Kind::Dense
            },
        });
    }
    all.push(Model {
        name: "sensor_cnn".into(),
        onnx: "examples/sensor/sensor_cnn.onnx".into(),
        calibration: "examples/sensor/calib.csv".into(),
        data: "examples/sensor/test.csv".into(),
        qdq: None,
        kind: Kind::Conv,
    });
    all.push(Model {
        name: "digits_mlp".into(),
        onnx: "examples/digits/digits_mlp.onnx".into(),
        calibration: "examples/digits/calib.csv".into(),
        data: "examples/digits/test.csv".into(),
        qdq: None,
        kind: Kind::Dense,
    });

    for m in &all {
        for p in [&m.onnx, &m.calibration, &m.data] {
            if !root.join(p).is_file() {
                return Err(format!("{}: {} is missing", m.name, p.display()).into());
            }
        }
    }
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|m| &m.name == n).cloned().ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
                format!("unknown model `{n}`; known: {}", known.join(", ")).into()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_suite_has_the_issues_models_and_their_files() {
        let all = load(&root(), &[]).unwrap();
        let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
        for want in [
            "kws_dscnn",
            "resnet8",
            "vww_mobilenetv1",
            "mobilenetv2_035",
            "ad_autoencoder",
            "sensor_cnn",
            "digits_mlp",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let kind = |n: &str| all.iter().find(|m| m.name == n).unwrap().kind;
        assert_eq!(kind("resnet8"), Kind::Conv);
        assert_eq!(kind("sensor_cnn"), Kind::Conv);
        assert_eq!(kind("ad_autoencoder"), Kind::Dense);
        assert_eq!(kind("digits_mlp"), Kind::Dense);
        let kws = all.iter().find(|m| m.name == "kws_dscnn").unwrap();
        assert_eq!(kws.data, Path::new("examples/bench/kws_dscnn_test.npy"));
        assert_eq!(
            kws.qdq.as_deref(),
            Some(Path::new("examples/qdq/kws_dscnn_qdq_pc_s8.onnx"))
        );
    }

    #[test]
    fn models_are_selected_by_name_in_the_order_given() {
        let names = ["digits_mlp".to_string(), "kws_dscnn".to_string()];
        let some = load(&root(), &names).unwrap();
        assert_eq!(some[0].name, "digits_mlp");
        assert_eq!(some[1].name, "kws_dscnn");
        let err = load(&root(), &["nope".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown model `nope`"), "{err}");
    }
}
