//! ONNX LpPool, which tract-onnx does not import, parsed into tract ops the lowering
//! already maps:
//!
//! | ONNX op | tract graph built here | ferrite ops |
//! |---|---|---|
//! | LpPool (1-D to 3-D; kernel_shape, strides, pads, auto_pad, dilations; `ceil_mode` 0) | `Abs`, `|x|^p` (`Mul` for p = 2, `Pow` otherwise), `SumPool` (mean over the whole window, padding included), `Mul` by the window size, `^(1/p)` (`Sqrt` for p = 2) | `Unary Abs`, `Binary Mul/Pow`, `AvgPool` (3-D: two 2-D pools), `Binary Mul`, `Unary Sqrt` / `Binary Pow` |
//!
//! `y = (sum over the window of |x|^p)^(1/p)`, the padding contributing zeros; the sum
//! is the padded window's mean times its size (one rounding more than a plain sum).

use super::arith::scalar;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::cnn::{HirSumPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_hir::ops::nn::DataFormat;

/// ONNX LpPool with its pool geometry and exponent.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct LpPool {
    pool: HirSumPool,
    p: i64,
}

/// The parser of ONNX LpPool (`p` default 2; `ceil_mode = 1` is refused).
pub(super) fn lp_pool(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel: TVec<usize> = node.get_attr_tvec("kernel_shape")?;
    let rank = kernel.len();
    let p: i64 = node.get_attr_opt("p")?.unwrap_or(2);
    if p < 1 {
        bail!("LpPool with p = {p}");
    }
    if node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) != 0 {
        bail!("LpPool with ceil_mode = 1 is not supported");
    }
    let padding = if let Some(pads) = node.get_attr_opt_tvec::<usize>("pads")? {
        ensure!(pads.len() == 2 * rank, "LpPool pads of the wrong length");
        PaddingSpec::ExplicitOnnxPool(pads[..rank].into(), pads[rank..].into(), false)
    } else {
        match node.get_attr_opt::<&str>("auto_pad")?.unwrap_or("NOTSET") {
            "SAME_UPPER" => PaddingSpec::SameUpper,
            "SAME_LOWER" => PaddingSpec::SameLower,
            "VALID" => PaddingSpec::Valid,
            _ => PaddingSpec::ExplicitOnnxPool(tvec![0; rank], tvec![0; rank], false),
        }
    };
    let spec = PoolSpec::new(
        DataFormat::NCHW,
        kernel,
        padding,
        node.get_attr_opt_tvec("dilations")?,
        node.get_attr_opt_tvec("strides")?,
        0,
        0,
    );
    Ok((
        expand(LpPool {
            pool: HirSumPool::new(spec, true, true),
            p,
        }),
        vec![],
    ))
}

impl Expansion for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.pool.rules(s, inputs, outputs)
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = inputs[0];
        let a = model.wire_node(format!("{name}.abs"), math::abs(), &[x])?[0];
        let powed = match self.p {
            1 => a,
            2 => model.wire_node(format!("{name}.square"), math::mul(), &[a, a])?[0],
            p => {
                let k = scalar(model, &format!("{name}.p"), a, p as f32)?;
                model.wire_node(format!("{name}.pow"), math::pow(), &[a, k])?[0]
            }
        };
        let mean = self.pool.wire(&format!("{name}.mean"), model, &[powed])?[0];
        let taps: usize = self.pool.pool_spec.kernel_shape.iter().product();
        let size = scalar(model, &format!("{name}.window"), mean, taps as f32)?;
        let sum = model.wire_node(format!("{name}.sum"), math::mul(), &[mean, size])?[0];
        match self.p {
            1 => Ok(tvec![sum]),
            2 => model.wire_node(name, math::sqrt(), &[sum]),
            p => {
                let k = scalar(model, &format!("{name}.inv_p"), sum, 1.0 / p as f32)?;
                model.wire_node(name, math::pow(), &[sum, k])
            }
        }
    }
}
