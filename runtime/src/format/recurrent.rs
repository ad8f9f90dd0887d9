//! The attributes of [`Op::Recurrent`](super::op::Op::Recurrent): its [`Cell`] and [`Direction`] (re-exported
//! by [`super::types`]). Wire encoding as in `op.rs`: the variant index of each enum
//! is its encoding, so new variants go at the end (see `docs/format.md`). The cells'
//! default activations are beside [`UnaryOp`](super::op::UnaryOp), in `op.rs`.

use serde::{Deserialize, Serialize};

/// The cell of an [`Op::Recurrent`](super::op::Op::Recurrent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cell {
    /// ONNX LSTM (gates `i, o, f, c`).
    Lstm,
    /// ONNX GRU (gates `z, r, h`).
    Gru {
        /// Apply the reset gate after the recurrent product (`linear_before_reset = 1`,
        /// what torch exports).
        linear_before_reset: bool,
    },
    /// ONNX RNN (one gate).
    Rnn,
}

impl Cell {
    /// Gates per direction (`G`).
    pub const fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru { .. } => 3,
            Cell::Rnn => 1,
        }
    }

    /// Activations per direction.
    pub const fn activations(self) -> usize {
        match self {
            Cell::Lstm => 3,
            Cell::Gru { .. } => 2,
            Cell::Rnn => 1,
        }
    }

    /// Rows of state after `Y` in the output (`K`): `Y_h`, and `Y_c` for LSTM.
    pub const fn state_rows(self) -> usize {
        match self {
            Cell::Lstm => 2,
            Cell::Gru { .. } | Cell::Rnn => 1,
        }
    }
}

/// The direction of an [`Op::Recurrent`](super::op::Op::Recurrent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    /// Time steps `0, 1, …, S-1`.
    Forward,
    /// Time steps `S-1, …, 0`.
    Reverse,
    /// Forward (direction 0) and reverse (direction 1).
    Bidirectional,
}

impl Direction {
    /// Directions computed (`D`).
    pub const fn count(self) -> usize {
        match self {
            Direction::Bidirectional => 2,
            Direction::Forward | Direction::Reverse => 1,
        }
    }
}
