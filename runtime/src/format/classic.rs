//! The attributes of the classical-model ops ([`Op::Linear`](super::op::Op::Linear),
//! [`Op::TreeEnsemble`](super::op::Op::TreeEnsemble),
//! [`Op::Normalize`](super::op::Op::Normalize)), re-exported by [`super::types`]. The
//! variant index of each enum is its encoding, so new variants go at the end (see
//! `docs/format.md`).

use serde::{Deserialize, Serialize};

/// Post transform of ONNX-ML linear and tree-ensemble models, applied per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PostTransform {
    /// The raw scores.
    None,
    /// `exp(s) / sum(exp)` over the row.
    Softmax,
    /// `1 / (1 + exp(-s))` per value.
    Logistic,
    /// Softmax over the non-zero scores; zero scores stay 0 (ONNX `SOFTMAX_ZERO`).
    SoftmaxZero,
}

/// How the leaf values of the trees of an ensemble are combined per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Aggregate {
    /// Sum of the trees' values.
    Sum,
    /// Sum divided by the number of trees.
    Average,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
}

/// Row normalization (ONNX-ML Normalizer, scikit-learn `Normalizer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Norm {
    /// Divide by the sum of absolute values.
    L1,
    /// Divide by the Euclidean norm.
    L2,
    /// Divide by the largest absolute value.
    Max,
}
