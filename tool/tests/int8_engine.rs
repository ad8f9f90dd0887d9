//! int8 conv models on the NHWC engine: the bench models (`examples/bench`) converted
//! with `--precision int8` run their convolutions as int8 `ConvNhwc` / `DepthwiseNhwc`
//! ops (packed weights, the activation as the output clamp, residual `Add`s fused)
//! and their pools as `AvgPoolNhwc`, with no Transpose inside the graph and no `Lut`
//! for ReLU / ReLU6.
//!
//! The strong check is byte equality against the reference kernels: the NHWC graph is
//! written back as the NCHW int8 graph the emitter wrote before the engine — each
//! engine conv a `Transpose → Conv (→ Add) → Transpose` on the reference int8 `Conv`
//! and `Add` kernels, each NHWC pool a `Transpose → AvgPool → Transpose`, with the
//! same calibration — and both files must give the same
//! output bytes (the dequantized f32 outputs compared bit for bit) on the test inputs.
//! Then the labels: the engine file agrees with onnxruntime's f32 labels at least as
//! often as the previous NCHW int8 file does.

use ferrite::format::types::{Op, Window};
use ferrite::AlignedModel;
use ferrite_tool::convert::{calibrate, convert, ConvertOptions, Precision};
use ferrite_tool::data::Dataset;
use ferrite_tool::emit::{self, Int8Options};
use ferrite_tool::import::{import, ImportOptions};
use ferrite_tool::ir::nhwc::NhwcTrace;
use ferrite_tool::ir::{Graph, Node, TId};
use ferrite_tool::quant::{CalibrationMethod, Ranges};
use ferrite_tool::run::run_rows;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn bench(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/bench")
        .join(file)
}

fn op_counts(bytes: &[u8]) -> BTreeMap<&'static str, usize> {
    let a = AlignedModel::new(bytes);
    let m = a.model().unwrap();
    let mut ops = BTreeMap::new();
    for i in 0..m.num_ops() {
        *ops.entry(m.op(i).unwrap().op.name()).or_default() += 1;
    }
    ops
}

fn count(ops: &BTreeMap<&str, usize>, name: &str) -> usize {
    ops.get(name).copied().unwrap_or(0)
}

fn perm(p: [u8; 4]) -> Op {
    Op::Transpose {
        perm: heapless::Vec::from_slice(&p).unwrap(),
    }
}

/// The NHWC graph `g` with every engine conv written back as NCHW reference ops:
/// `Transpose → Conv → Transpose`, and for a fused residual `Conv → Add` (the conv's
/// own output calibrated as the original graph's conv output). Returns the graph and
/// its ranges.
fn reference_graph(g: &Graph, trace: &NhwcTrace, calib: &Ranges) -> (Graph, Ranges) {
    let mut r = g.clone();
    r.nodes.clear();
    let mut ranges: Vec<Option<(f32, f32)>> = trace.origin.iter().map(|&o| calib.get(o)).collect();
    let mut new = |r: &mut Graph, name: String, op: Op, ins: &[TId], shape: &[usize], range| {
        let t = r.add_node(&name, op, ins, shape, ferrite::DType::F32);
        ranges.push(range);
        t
    };
    let nchw = |s: &[usize]| [s[0], s[3], s[1], s[2]];
    for n in &g.nodes {
        // An NHWC pool: the NCHW reference pool between two Transposes.
        let pool = match n.op {
            Op::MaxPoolNhwc { window } => Some(Op::MaxPool { window }),
            Op::AvgPoolNhwc {
                window,
                count_include_pad,
            } => Some(Op::AvgPool {
                window,
                count_include_pad,
            }),
            _ => None,
        };
        if let Some(op) = pool {
            let (x, y) = (n.inputs[0], n.output);
            let (xr, yr) = (calib.get(trace.origin[x]), calib.get(trace.origin[y]));
            let xs = nchw(&g.tensors[x].shape);
            let ys = nchw(&g.tensors[y].shape);
            let name = format!("{}.ref_x", n.name);
            let xc = new(&mut r, name, perm([0, 3, 1, 2]), &[x], &xs, xr);
            let yc = new(&mut r, format!("{}.ref", n.name), op, &[xc], &ys, yr);
            r.nodes.push(Node {
                name: n.name.clone(),
                op: perm([0, 2, 3, 1]),
                inputs: vec![yc],
                output: y,
            });
            continue;
        }
        let (window, act, depthwise): (Window, _, bool) = match &n.op {
            Op::ConvNhwc { window, act, .. } => (*window, *act, false),
            Op::DepthwiseNhwc { window, act, .. } => (*window, *act, true),
            _ => {
                r.nodes.push(n.clone());
                continue;
            }
        };
        let (x, y) = (n.inputs[0], n.output);
        let xs = nchw(&g.tensors[x].shape);
        let ys = nchw(&g.tensors[y].shape);
        let xr = calib.get(trace.origin[x]);
        let yr = calib.get(trace.origin[y]);
        let xc = new(
            &mut r,
            format!("{}.ref_x", n.name),
            perm([0, 3, 1, 2]),
            &[x],
            &xs,
            xr,
        );
        let groups = if depthwise { xs[1] as u32 } else { 1 };
        let conv = |act| Op::Conv {
            window,
            groups,
            act,
            q: None,
        };
        let wb = [xc, n.inputs[1], n.inputs[2]];
        let yc = match n.inputs.get(3) {
            None => new(&mut r, format!("{}.ref", n.name), conv(act), &wb, &ys, yr),
            Some(&res) => {
                let own = calib.get(trace.residual_input[&y]);
                let none = ferrite::format::types::Activation::None;
                let c = new(&mut r, format!("{}.ref", n.name), conv(none), &wb, &ys, own);
                let rr = calib.get(trace.origin[res]);
                let rc = new(
                    &mut r,
                    format!("{}.ref_r", n.name),
                    perm([0, 3, 1, 2]),
                    &[res],
                    &ys,
                    rr,
                );
                let add = Op::Binary {
                    op: ferrite::format::types::BinaryOp::Add,
                    act,
                    q: None,
                };
                new(
                    &mut r,
                    format!("{}.ref_add", n.name),
                    add,
                    &[c, rc],
                    &ys,
                    yr,
                )
            }
        };
        r.nodes.push(Node {
            name: n.name.clone(),
            op: perm([0, 2, 3, 1]),
            inputs: vec![yc],
            output: y,
        });
    }
    (r, Ranges { ranges })
}

struct Files {
    /// The int8 file `convert` writes (engine ops).
    engine: Vec<u8>,
    /// The same NHWC graph and calibration on the reference NCHW int8 kernels.
    reference: Vec<u8>,
    /// The NCHW int8 graph the emitter wrote before the engine (same calibration).
    previous: Vec<u8>,
}

fn files(name: &str) -> Files {
    let onnx = std::fs::read(bench(&format!("{name}.onnx"))).unwrap();
    let calib_path = bench(&format!("{name}_calib.npy"));
    let calib = Dataset::load(&calib_path).unwrap();
    let opts = ConvertOptions {
        precision: Precision::Int8,
        calibration: Some(calib.clone()),
        ..ConvertOptions::default()
    };
    let engine = convert(&onnx, &opts).unwrap().bytes;
    let graph = import(&onnx, &ImportOptions::default()).unwrap().graph;
    let f32_bytes = emit::emit(&graph, emit::Precision::F32, None, name)
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let ranges = calibrate(&graph, &f32_bytes, &calib, CalibrationMethod::MinMax, false).unwrap();
    let (nhwc, trace) = graph.to_nhwc_traced();
    let own = emit::emit_int8_nhwc(&nhwc, &trace, &ranges, name, Int8Options::default())
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let (rg, rr) = reference_graph(&nhwc, &trace, &ranges);
    let reference = emit::emit(&rg, emit::Precision::Int8, Some(&rr), name)
        .unwrap()
        .builder
        .finish()
        .unwrap();
    let previous = emit::emit(&graph, emit::Precision::Int8, Some(&ranges), name)
        .unwrap()
        .builder
        .finish()
        .unwrap();
    // `convert` writes the same graph (plus metadata and golden vectors): same outputs.
    let test = Dataset::load(&bench(&format!("{name}_test.npy"))).unwrap();
    assert_eq!(
        run_rows(&own, &test).unwrap(),
        run_rows(&engine, &test).unwrap(),
        "{name}: convert vs emit_int8_nhwc"
    );
    Files {
        engine,
        reference,
        previous,
    }
}

/// Test and calibration rows through `bytes`.
fn outputs(name: &str, bytes: &[u8]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for set in ["test", "calib"] {
        let d = Dataset::load(&bench(&format!("{name}_{set}.npy"))).unwrap();
        out.extend(run_rows(bytes, &d).unwrap());
    }
    out
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

/// Labels of `bytes` on the test rows that equal onnxruntime's f32 labels.
fn agreement(name: &str, bytes: &[u8]) -> usize {
    let test = Dataset::load(&bench(&format!("{name}_test.npy"))).unwrap();
    let ort = Dataset::load(&bench(&format!("{name}_ort.npy"))).unwrap();
    run_rows(bytes, &test)
        .unwrap()
        .iter()
        .zip(ort.iter_rows())
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count()
}

/// The engine file's contract and its checks against the reference kernels and
/// onnxruntime: `engine_ops` conv ops on the engine, `stems` of them the first conv
/// reading the f32 NCHW image input itself (`ConvNchwI8`, format 1.6, for an input of
/// more than one channel: no Quantize, no Transpose left), no NCHW Conv, no pool
/// (the average pools are depthwise convs), no Lut (ReLU and ReLU6 are output
/// clamps), no Add / Unary op (residuals fused).
fn check(name: &str, engine_ops: usize, stems: usize) {
    let f = files(name);
    let ops = op_counts(&f.engine);
    for absent in ["Conv", "AvgPool", "Lut", "Binary", "Unary", "Transpose"] {
        assert_eq!(count(&ops, absent), 0, "{name}: {absent} in {ops:?}");
    }
    assert_eq!(count(&ops, "ConvNchwI8"), stems, "{name}: {ops:?}");
    assert_eq!(count(&ops, "Quantize"), 1 - stems, "{name}: {ops:?}");
    assert_eq!(
        count(&ops, "ConvNhwc") + count(&ops, "DepthwiseNhwc") + stems,
        engine_ops,
        "{name}: {ops:?}"
    );
    assert_eq!(count(&ops, "AvgPoolNhwc"), 1, "{name}: {ops:?}");
    let ref_ops = op_counts(&f.reference);
    assert_eq!(count(&ref_ops, "Conv"), engine_ops, "{name}: {ref_ops:?}");
    assert_eq!(count(&ref_ops, "AvgPool"), 1, "{name}: {ref_ops:?}");
    assert_eq!(
        count(&ref_ops, "ConvNhwc") + count(&ref_ops, "DepthwiseNhwc"),
        0
    );
    let (got, want) = (outputs(name, &f.engine), outputs(name, &f.reference));
    for (row, (a, b)) in got.iter().zip(&want).enumerate() {
        let (a, b): (Vec<u32>, Vec<u32>) = (
            a.iter().map(|v| v.to_bits()).collect(),
            b.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(a, b, "{name}: row {row}, engine vs reference kernels");
    }
    let (new, old) = (agreement(name, &f.engine), agreement(name, &f.previous));
    assert!(
        new >= old,
        "{name}: labels as onnxruntime: {new} (engine) < {old} (NCHW int8)"
    );
}

#[test]
fn kws_dscnn_int8_on_the_engine_equals_the_reference_kernels() {
    // 1 first conv + 4 × (depthwise + 1×1); the average pool an AvgPoolNhwc.
    check("kws_dscnn", 9, 0);
}

/// 7 3×3 convs, 2 strided 1×1 shortcuts (an int8 Slice, then the conv); the residual
/// Adds fused.
#[test]
fn resnet8_int8_on_the_engine_equals_the_reference_kernels() {
    check("resnet8", 9, 1);
}

/// 27 convs.
#[test]
fn vww_mobilenetv1_int8_on_the_engine_equals_the_reference_kernels() {
    // The first reads the NCHW input (`ConvNchwI8`).
    check("vww_mobilenetv1", 27, 1);
}

/// 52 convs, ReLU6 as the clamp, the residual Adds fused.
#[test]
fn mobilenetv2_int8_on_the_engine_equals_the_reference_kernels() {
    check("mobilenetv2_035", 52, 1);
}
