//! Grid sampling:
//!
//! | ONNX op | decluttered tract op | ferrite op |
//! |---|---|---|
//! | GridSample (1–3 spatial axes; every mode, padding mode and `align_corners`) | `GridSample` | `GridSample` |

use super::lower::{Lower, Outcome};
use crate::error::Result;
use ferrite::format::types::{GridMode, GridPadding, Op};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::grid_sample::{GridSample, InterpolationMode, PaddingMode};

/// `GridSample`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(gs) = node.op_as::<GridSample>() else {
        return Ok(Outcome::NotMine);
    };
    let (x, grid) = (node.inputs[0], node.inputs[1]);
    let rank = l.shape(x)?.len();
    let f32s = [x, grid, l.out(node)]
        .iter()
        .map(|&o| l.dtype(o))
        .collect::<Result<Vec<_>>>()?
        .iter()
        .all(|&d| d == DType::F32);
    if !f32s || !(3..=5).contains(&rank) {
        return Ok(Outcome::Unsupported);
    }
    let op = Op::GridSample {
        mode: match gs.mode {
            InterpolationMode::Nearest => GridMode::Nearest,
            InterpolationMode::Bilinear => GridMode::Linear,
            InterpolationMode::Bicubic => GridMode::Cubic,
        },
        padding: match gs.padding_mode {
            PaddingMode::Zeros => GridPadding::Zeros,
            PaddingMode::Border => GridPadding::Border,
            PaddingMode::Reflection => GridPadding::Reflection,
        },
        align_corners: gs.align_corners,
    };
    let (x, grid) = (l.value(x)?, l.value(grid)?);
    l.emit(node, op, &[x, grid])?;
    Ok(Outcome::Lowered)
}
