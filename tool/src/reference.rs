//! tract as the float reference: the same ONNX file, run in f32 by tract, in the same
//! process as ferrite (validation, per-layer errors, benchmarks).

use crate::error::{Error, Result};
use crate::import::tract::load_typed;
use std::collections::HashMap;
use tract_onnx::prelude::*;

fn imp(e: impl std::fmt::Display) -> Error {
    Error::Import(format!("{e:#}"))
}

/// A runnable tract model: its inputs in declared order, every output.
#[derive(Debug)]
pub struct Reference {
    plan: Arc<TypedRunnableModel>,
    input_shapes: Vec<Vec<usize>>,
}

/// Checks that the ONNX model's inputs are the ones named in `input_shapes` (the
/// `.fer` model's, in order), so a reference file with other inputs is named as such.
fn check_inputs(onnx: &[u8], input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    if input_shapes.is_empty() {
        return Ok(());
    }
    let proto = crate::import::tract::parse(onnx)?;
    let graph = proto.graph.as_ref();
    let consts: Vec<&str> = graph
        .map(|g| g.initializer.iter().map(|t| t.name.as_str()).collect())
        .unwrap_or_default();
    let names: Vec<&str> = graph
        .map(|g| {
            g.input
                .iter()
                .map(|i| i.name.as_str())
                .filter(|n| !consts.contains(n))
                .collect()
        })
        .unwrap_or_default();
    let want: Vec<&str> = input_shapes.iter().map(|(n, _)| n.as_str()).collect();
    if names != want {
        let q = |v: &[&str]| {
            v.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::Usage(format!(
            "the reference's inputs ({}) are not the model's ({}): is it the ONNX file the \
             model was converted from?",
            q(&names),
            q(&want)
        )));
    }
    Ok(())
}

impl Reference {
    /// Loads and optimizes `onnx` with the given input shapes (the `.fer` model's own,
    /// by input name and in its order).
    pub fn load(onnx: &[u8], input_shapes: &[(String, Vec<usize>)]) -> Result<Reference> {
        if crate::import::is_onnxml(onnx) {
            return Err(Error::Usage(
                "the reference is an ONNX-ML (scikit-learn) model, which tract cannot run; \
                 compare `ferrite run` output with onnxruntime's instead \
                 (see examples/sklearn/README.md)"
                    .into(),
            ));
        }
        check_inputs(onnx, input_shapes)?;
        let typed = load_typed(onnx, input_shapes)?;
        let input_shapes = (0..typed.inputs.len())
            .map(|i| {
                typed
                    .input_fact(i)
                    .map_err(imp)?
                    .shape
                    .as_concrete()
                    .map(|s| s.to_vec())
                    .ok_or_else(|| Error::Import("the reference input shape is not fixed".into()))
            })
            .collect::<Result<_>>()?;
        let plan = typed
            .into_optimized()
            .map_err(imp)?
            .into_runnable()
            .map_err(imp)?;
        Ok(Reference { plan, input_shapes })
    }

    /// Elements of input `i`.
    pub fn input_len(&self, i: usize) -> usize {
        self.input_shapes.get(i).map_or(0, |s| s.iter().product())
    }

    /// Runs one inference: `inputs` holds every input's values in order; returns every
    /// output flattened, as f32.
    pub fn run(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        let out = self.run_raw(&self.tensors(inputs)?)?;
        clear_avx_upper();
        out.iter().map(tvalue_f32).collect()
    }

    /// Runs one inference on prepared tensors (for benchmarks).
    pub fn run_raw(&self, inputs: &TVec<TValue>) -> Result<TVec<TValue>> {
        self.plan.run(inputs.clone()).map_err(imp)
    }

    /// The inputs as tract values.
    pub fn tensors(&self, inputs: &[&[f32]]) -> Result<TVec<TValue>> {
        if inputs.len() != self.input_shapes.len() {
            return Err(Error::Other(format!(
                "the reference takes {} inputs, {} given",
                self.input_shapes.len(),
                inputs.len()
            )));
        }
        inputs
            .iter()
            .zip(&self.input_shapes)
            .map(|(x, shape)| Ok(Tensor::from_shape(shape, x).map_err(imp)?.into_tvalue()))
            .collect()
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

/// Every intermediate f32 value of the decluttered tract model for one inference
/// (`inputs`: every input's values, in order), by node name (the names the converter
/// gives ferrite tensors).
pub fn intermediates(
    onnx: &[u8],
    input_shapes: &[(String, Vec<usize>)],
    inputs: &[&[f32]],
) -> Result<HashMap<String, Vec<f32>>> {
    let mut typed = load_typed(onnx, input_shapes)?;
    let shapes: Vec<Vec<usize>> = (0..typed.inputs.len())
        .map(|i| {
            Ok(typed
                .input_fact(i)
                .map_err(imp)?
                .shape
                .as_concrete()
                .map(|s| s.to_vec())
                .unwrap_or_default())
        })
        .collect::<Result<_>>()?;
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
    let values = inputs
        .iter()
        .zip(&shapes)
        .map(|(x, s)| Ok(Tensor::from_shape(s, x).map_err(imp)?.into_tvalue()))
        .collect::<Result<TVec<_>>>()?;
    let out = plan.run(values).map_err(imp);
    clear_avx_upper();
    let out = out?;
    let mut map = HashMap::new();
    for (name, v) in names.into_iter().zip(out.iter()) {
        map.insert(name, tvalue_f32(v)?);
    }
    Ok(map)
}
