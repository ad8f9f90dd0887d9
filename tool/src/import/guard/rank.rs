//! The output ranks the guard follows: for each op whose output ranks follow from its
//! input ranks, attributes and constant inputs (ONNX's shape rules), the rank of each
//! output.

use super::super::proto::{attr, attr_i};
use super::consts::Const;
use super::facts::Facts;
use tract_onnx::pb::NodeProto;

/// Ops whose (first) output has the rank of their first input.
const SAME_RANK: [&str; 80] = [
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Elu",
    "Selu",
    "Celu",
    "Gelu",
    "Mish",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Softplus",
    "Softsign",
    "Shrink",
    "ThresholdedRelu",
    "Abs",
    "Neg",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Erf",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Not",
    "BitwiseNot",
    "IsNaN",
    "IsInf",
    "Clip",
    "Cast",
    "CastLike",
    "Identity",
    "Dropout",
    "Softmax",
    "LogSoftmax",
    "Hardmax",
    "BatchNormalization",
    "LRN",
    "InstanceNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "RMSNormalization",
    "LpNormalization",
    "MeanVarianceNormalization",
    "Transpose",
    "Concat",
    "Slice",
    "Pad",
    "Tile",
    "Resize",
    "Upsample",
    "CumSum",
    "Trilu",
    "ReverseSequence",
    "ScatterElements",
    "ScatterND",
    "Scatter",
    "DepthToSpace",
    "SpaceToDepth",
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearConv",
    "ConvInteger",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "GlobalLpPool",
];

/// Ops whose output has the largest rank of their inputs (multidirectional
/// broadcasting).
const BROADCAST: [&str; 22] = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Mod",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Where",
    "Equal",
    "Less",
    "LessOrEqual",
    "Greater",
    "GreaterOrEqual",
    "And",
    "Or",
    "Xor",
    "BitShift",
    "BitwiseAnd",
    "BitwiseOr",
];

/// Conv-like ops: input `N x C x spatial...`, output of the same rank.
pub(super) const WINDOWED: [&str; 5] =
    ["Conv", "MaxPool", "AveragePool", "LpPool", "ConvTranspose"];

/// The ops that reduce along `axes`.
pub(super) fn is_reduce(op: &str) -> bool {
    op.starts_with("Reduce")
}

/// The axes of an Unsqueeze, Squeeze or Reduce node: the `axes` attribute up to the
/// opset where it became the second input (13 for Unsqueeze, Squeeze, ReduceSum; 18 for
/// the other reductions), else that input when it is a constant (of any data type:
/// the caller refuses one that is not of integers). `None`: not known.
pub(super) fn axes<'a>(n: &'a NodeProto, opset: i64, f: &'a Facts<'_>) -> Option<Axes<'a>> {
    let as_input = match n.op_type.as_str() {
        "Unsqueeze" | "Squeeze" | "ReduceSum" => opset >= 13,
        _ => opset >= 18,
    };
    if as_input {
        let name = n.input.get(1).filter(|i| !i.is_empty())?;
        match f.konst(name)? {
            Const::Ints(v) => Some(Axes::Ints(v)),
            Const::Other(dt) => Some(Axes::NotInts(*dt)),
        }
    } else {
        attr(n, "axes").map(|a| Axes::Ints(&a.ints))
    }
}

/// Known axes: integers, or a constant of another data type.
pub(super) enum Axes<'a> {
    Ints(&'a [i64]),
    NotInts(i32),
}

impl<'a> Axes<'a> {
    fn ints(self) -> Option<&'a [i64]> {
        match self {
            Axes::Ints(v) => Some(v),
            Axes::NotInts(_) => None,
        }
    }
}

/// The rank of a MatMul of operands of ranks `a` and `b` (a 1-D operand is a matrix
/// with one row or column that the output does not keep).
fn matmul(a: usize, b: usize) -> Option<usize> {
    match (a, b) {
        (0, _) | (_, 0) => None,
        (1, 1) => Some(0),
        (1, b) => Some(b - 1),
        (a, 1) => Some(a - 1),
        (a, b) => Some(a.max(b)),
    }
}

/// The rank of output `k` of `n`, when its op and the ranks it depends on are known.
pub(super) fn output_rank(n: &NodeProto, k: usize, opset: i64, f: &Facts<'_>) -> Option<usize> {
    let op = n.op_type.as_str();
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return None;
    }
    let rank = |i: usize| {
        n.input
            .get(i)
            .filter(|s| !s.is_empty())
            .and_then(|s| f.rank(s))
    };
    let ints_len = |i: usize| match f.konst(n.input.get(i)?)? {
        Const::Ints(v) => Some(v.len()),
        Const::Other(_) => None,
    };
    let keepdims = attr_i(n, "keepdims").unwrap_or(1) != 0;
    match (op, k) {
        ("Constant", 0) => {
            // tract's order of the attributes (a sparse value is not read).
            let has = |a: &str| attr(n, a).is_some();
            if has("value") {
                attr(n, "value")
                    .and_then(|a| a.t.as_ref())
                    .map(|t| t.dims.len())
            } else if has("value_int") || has("value_float") {
                Some(0)
            } else if has("value_ints") || has("value_floats") {
                Some(1)
            } else if has("value_string") {
                Some(0)
            } else if has("value_strings") {
                Some(1)
            } else {
                None
            }
        }
        ("Split", _) => rank(0),
        ("TopK" | "MaxPool" | "Dropout", 1) => rank(0),
        ("LayerNormalization", 1 | 2) => rank(0),
        ("DynamicQuantizeLinear", 0) => rank(0),
        ("DynamicQuantizeLinear", 1 | 2) => Some(0),
        ("LSTM" | "GRU" | "RNN", 0) => Some(4),
        ("LSTM" | "GRU" | "RNN", 1) | ("LSTM", 2) => Some(3),
        (_, 0) if SAME_RANK.contains(&op) || WINDOWED.contains(&op) => rank(0),
        ("TopK", 0) => rank(0),
        (_, 0) if BROADCAST.contains(&op) => {
            let rs: Option<Vec<usize>> = (0..n.input.len()).map(rank).collect();
            rs?.into_iter().max()
        }
        ("Flatten" | "Gemm", 0) => Some(2),
        ("MatMul" | "MatMulInteger", 0) => matmul(rank(0)?, rank(1)?),
        ("QLinearMatMul", 0) => matmul(rank(0)?, rank(3)?),
        ("Gather", 0) => {
            let (r, q) = (rank(0)?, rank(1)?);
            (r + q).checked_sub(1).filter(|_| r > 0)
        }
        ("GatherElements", 0) => rank(1),
        ("Shape" | "Range", 0) => Some(1),
        ("Size", 0) => Some(0),
        ("NonZero", 0) => Some(2),
        ("Expand", 0) => Some(rank(0)?.max(ints_len(1)?)),
        ("ConstantOfShape", 0) => ints_len(0),
        ("OneHot", 0) => Some(rank(0)? + 1),
        ("ArgMax" | "ArgMin", 0) if keepdims => rank(0),
        ("ArgMax" | "ArgMin", 0) => rank(0)?.checked_sub(1),
        ("Det", 0) => rank(0)?.checked_sub(2),
        ("Unsqueeze", 0) => Some(rank(0)? + axes(n, opset, f)?.ints()?.len()),
        ("Squeeze", 0) => rank(0)?.checked_sub(axes(n, opset, f)?.ints()?.len()),
        ("Reshape", 0) => ints_len(1),
        (_, 0) if is_reduce(op) => {
            let r = rank(0)?;
            if keepdims {
                Some(r)
            } else {
                match axes(n, opset, f)?.ints()? {
                    [] => None,
                    a => r.checked_sub(a.len()),
                }
            }
        }
        _ => None,
    }
}
