//! tract as the float reference: the same ONNX file, run in f32 by tract, in the same
//! process as ferrite (validation, per-layer errors, benchmarks).

use crate::error::{Error, Result};
use crate::import::tract::load_typed;
use std::collections::HashMap;
use tract_onnx::prelude::*;

fn imp(e: impl std::fmt::Display) -> Error {
    Error::Import(format!("{e:#}"))
}

/// A runnable tract model with one f32 input.
#[derive(Debug)]
pub struct Reference {
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
}

impl Reference {
    /// Loads and optimizes `onnx` with the given input shapes (`--input-shape`).
    pub fn load(onnx: &[u8], input_shapes: &[(String, Vec<usize>)]) -> Result<Reference> {
        if crate::import::is_onnxml(onnx) {
            return Err(Error::Usage(
                "the reference is an ONNX-ML (scikit-learn) model, which tract cannot run; \
                 compare `ferrite run` output with onnxruntime's instead \
                 (see examples/sklearn/README.md)"
                    .into(),
            ));
        }
        let typed = load_typed(onnx, input_shapes)?;
        let input_shape = typed
            .input_fact(0)
            .map_err(imp)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| Error::Import("the reference input shape is not fixed".into()))?;
        let plan = typed
            .into_optimized()
            .map_err(imp)?
            .into_runnable()
            .map_err(imp)?;
        Ok(Reference { plan, input_shape })
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Runs one input; returns output 0 flattened.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let t = Tensor::from_shape(&self.input_shape, input).map_err(imp)?;
        let out = self.plan.run(tvec!(t.into_tvalue())).map_err(imp)?;
        tvalue_f32(&out[0])
    }

    /// Runs one input and returns the raw tract values (for benchmarks).
    pub fn run_raw(&self, input: &Tensor) -> Result<TVec<TValue>> {
        self.plan
            .run(tvec!(input.clone().into_tvalue()))
            .map_err(imp)
    }

    /// The input as a tract tensor.
    pub fn tensor(&self, input: &[f32]) -> Result<Tensor> {
        Tensor::from_shape(&self.input_shape, input).map_err(imp)
    }
}

/// Clears the upper halves of the AVX registers (`vzeroupper`).
///
/// tract's hand-written AVX kernels return without `vzeroupper`; SSE code that runs
/// next in the same thread (ferrite's kernels built for baseline x86-64) then pays the
/// AVX–SSE transition penalty: the digits MLP ran 2.6x slower after one tract call in
/// our measurements. Called after every tract run so same-process comparisons are fair.
pub fn clear_avx_upper() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above).
            unsafe { zeroupper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper() {
    core::arch::x86_64::_mm256_zeroupper();
}

fn tvalue_f32(v: &TValue) -> Result<Vec<f32>> {
    let c = v.cast_to::<f32>().map_err(imp)?;
    let view = c.to_plain_array_view::<f32>().map_err(imp)?;
    Ok(view.iter().copied().collect())
}

/// Every intermediate f32 value of the decluttered tract model for one input, by node
/// name (the names the converter gives ferrite tensors).
pub fn intermediates(
    onnx: &[u8],
    input_shapes: &[(String, Vec<usize>)],
    input: &[f32],
) -> Result<HashMap<String, Vec<f32>>> {
    let mut typed = load_typed(onnx, input_shapes)?;
    let shape = typed
        .input_fact(0)
        .map_err(imp)?
        .shape
        .as_concrete()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let mut outlets = Vec::new();
    let mut names = Vec::new();
    for node in typed.nodes() {
        if node.op_is::<tract_onnx::tract_core::ops::konst::Const>() || node.outputs.is_empty() {
            continue;
        }
        let o = OutletId::new(node.id, 0);
        let f = typed.outlet_fact(o).map_err(imp)?;
        if f.datum_type == f32::datum_type() && f.konst.is_none() {
            outlets.push(o);
            names.push(node.name.clone());
        }
    }
    typed.select_output_outlets(&outlets).map_err(imp)?;
    let plan = typed.into_runnable().map_err(imp)?;
    let t = Tensor::from_shape(&shape, input).map_err(imp)?;
    let out = plan.run(tvec!(t.into_tvalue())).map_err(imp);
    clear_avx_upper();
    let out = out?;
    let mut map = HashMap::new();
    for (name, v) in names.into_iter().zip(out.iter()) {
        map.insert(name, tvalue_f32(v)?);
    }
    Ok(map)
}
