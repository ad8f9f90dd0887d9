//! The `onnx_import` fuzz target's crash inputs that ferrite's own import code caused
//! (`fuzz/regressions/onnx_import/qdq-*.onnx`, found by the long run of issue #17):
//! each must give an import error, not a panic. The fuzz crate's replay test runs them
//! too, but it needs the fuzz build of tract; this test runs with the tool's own tests.

use ferrite_tool::import::{self, ImportOptions};
use std::path::Path;

fn import_of(name: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/onnx_import")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    import::import(&bytes, &ImportOptions::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
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
