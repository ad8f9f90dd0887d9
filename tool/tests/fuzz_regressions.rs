//! The `onnx_import` fuzz target's crash inputs (`fuzz/regressions/onnx_import/`, found
//! by the long runs of issue #17 and, for session 12's, made by hand around the CI's
//! crash): those of ferrite's own import code (`qdq-*.onnx`) and of tract
//! (`tract-*.onnx`, refused by the guard before tract, `tool/src/import/guard/`) must
//! give an import error, not a panic, and every input in the directory imports without
//! one. The fuzz crate's replay test runs them too, but it needs the fuzz build of
//! tract; this test runs with the tool's own tests (and so in CI). One input still
//! panics inside tract, caught as an import error
//! (`tract-reduce-axes-folded.onnx`).

use ferrite_tool::import::{self, ImportOptions};
use std::path::Path;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/onnx_import")
}

fn imported(name: &str) -> Result<import::Imported, String> {
    let path = dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    import::import(&bytes, &ImportOptions::default()).map_err(|e| e.to_string())
}

fn import_of(name: &str) -> Result<(), String> {
    imported(name).map(|_| ())
}

/// Every regression input of the target imports (or is refused) without a panic.
#[test]
fn every_onnx_import_regression_imports_without_a_panic() {
    let mut n = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let name = e.unwrap().file_name();
        let _ = import_of(name.to_str().unwrap());
        n += 1;
    }
    assert!(n >= 24, "{n} inputs");
}

/// The input that took over 30 s in the fuzz build is a valid model declaring a batch
/// of 65,536 windows of 3 x 64 values: its import is fine, and the conversion's golden
/// vectors run two convolutions of 1.85 G multiply-adds (the fuzz target converts
/// only imports of at most 4 M values).
#[test]
fn the_slow_input_declares_a_batch_of_65536_windows() {
    let i = imported("huge-batch.onnx").unwrap();
    let input = &i.graph.tensors[i.graph.inputs[0]];
    assert_eq!(input.elements(), 65_536 * 3 * 64);
}

/// A QDQ model with a node that has no inputs (the QDQ rewrite indexed `input[0]`; the
/// import's node check now refuses it before the rewrite runs).
#[test]
fn a_qdq_model_with_a_node_without_inputs_is_an_import_error() {
    let e = import_of("qdq-101.onnx").unwrap_err();
    assert!(e.contains("has no input"), "{e}");
}

/// A per-channel constant whose dims do not describe its values (the rewrite indexed
/// past the end of the values).
#[test]
fn per_channel_dims_that_disagree_with_the_values_are_an_import_error() {
    let e = import_of("qdq-142.onnx").unwrap_err();
    assert!(e.contains("do not describe its 4 values"), "{e}");
}

/// A QOperator node with no outputs (the rewrite indexed `output[0]`).
#[test]
fn a_quantized_node_without_outputs_is_an_import_error() {
    let e = import_of("qdq-403.onnx").unwrap_err();
    assert!(e.contains("QuantizeLinear has no output"), "{e}");
}

/// An Unsqueeze (opset 18) whose constant axes input holds -2^60 for a rank-3 input:
/// tract-onnx inserted the axis unchecked (smallvec `insert` panicked); the guard before
/// tract (`tool/src/import/guard.rs`) refuses the axis.
#[test]
fn an_unsqueeze_axis_out_of_range_is_an_import_error() {
    let e = import_of("tract-unsqueeze-axis.onnx").unwrap_err();
    assert!(
        e.contains("(Unsqueeze): axis -1152921504606846978 is out of range for rank 4"),
        "{e}"
    );
}

/// A ReduceMean (opset 19) with axes [-1, -7.1e16] on a rank-4 value: tract-hir
/// unwrapped the error of the out-of-range axis (`reduce.rs:124`).
#[test]
fn a_reduce_axis_out_of_range_is_an_import_error() {
    let e = import_of("tract-reduce-axis.onnx").unwrap_err();
    assert!(
        e.contains("(ReduceMean): axis -71494644084506626 is out of range for rank 4"),
        "{e}"
    );
}

/// A MaxPool with an empty `dilations` list: tract-core indexed it per spatial axis
/// (`padding.rs:76`, index out of bounds).
#[test]
fn a_pool_with_an_empty_dilations_list_is_an_import_error() {
    let e = import_of("tract-pool-empty-dilations.onnx").unwrap_err();
    assert!(
        e.contains("(MaxPool): dilations has 0 values, 1 expected (1 spatial axes)"),
        "{e}"
    );
}

/// Variants of `tract-reduce-axis.onnx` (ReduceMean, opset 19, axes input [-1,
/// -71494644084506626] on a rank-4 value) that got past the guard of session 11, each
/// panicking in tract-hir (`reduce.rs:124`, the panic of CI's fuzz step, whose input
/// was not kept): the axes as another integer type or through a node tract folds, or
/// the rank reaching the ReduceMean through an op the guard did not follow. The guard
/// now refuses each, naming the node.
#[test]
fn reduce_axes_the_guard_did_not_see_are_import_errors() {
    let axis =
        "node \"node_mean\" (ReduceMean): axis -71494644084506626 is out of range for rank 4";
    for (file, expected) in [
        // The axes initializer typed UINT64 (the same bytes): tract casts it to i64.
        ("tract-reduce-axes-uint64.onnx", axis),
        // The axes from a Constant node's `value_ints`.
        ("tract-reduce-axes-value-ints.onnx", axis),
        // The axes through an Identity.
        ("tract-reduce-axes-identity.onnx", axis),
        // The Unsqueeze before it with UINT64 axes (its output rank was unknown).
        ("tract-unsqueeze-axes-uint64.onnx", axis),
        // The Relu before the Unsqueeze replaced by an op the guard did not follow:
        // Einsum (the rank comes from the file's value_info, which tract reads too),
        // MatMul, Gather, Slice, Pad.
        ("tract-reduce-rank-value-info.onnx", axis),
        ("tract-reduce-rank-matmul.onnx", axis),
        ("tract-reduce-rank-gather.onnx", axis),
        ("tract-reduce-rank-slice.onnx", axis),
        ("tract-reduce-rank-pad.onnx", axis),
        // FLOAT axes [-1, -7e16]: refused for their type.
        (
            "tract-reduce-axes-float.onnx",
            "(ReduceMean): its axes input is a constant of type FLOAT; ONNX requires INT64 axes",
        ),
    ] {
        let e = import_of(file).unwrap_err();
        assert!(e.contains(expected), "{file}: {e}");
    }
}

/// The axes as the sum of two constants: tract folds the Add, the guard does not
/// follow it, and tract panics (`reduce.rs:124`). The panic is caught around tract's
/// calls and is an import error (the fuzz target's panic hook lets such a panic unwind
/// to that catch instead of aborting, `ferrite_fuzz::onnx::contain_tract_panics`).
#[test]
fn a_panic_in_tract_is_an_import_error() {
    let path = dir().join("tract-reduce-axes-folded.onnx");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let e = import::import(&bytes, &ImportOptions::default())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tract panicked while reading the model: called `Result::unwrap()` on an `Err` value: Illegal combination of values for rank and axis: 4 and -71494644084506626 (the file is malformed"),
        "{e}"
    );
}
