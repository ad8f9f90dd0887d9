//! The operator groups (Cargo features) and which of them this build has
//! (re-exported by [`super::types`] through `op`).

/// The operator groups of the runtime: each is a Cargo feature of the `ferrite` crate
/// (but `Core`, always built), and `Op::group` says which group every op belongs to
/// (each op's module under `ops/` states it).
/// A build without a group rejects its ops at load ([`Error::UnsupportedOp`]) and leaves
/// their checks and kernels out of the binary (flash size on microcontrollers).
///
/// [`Error::UnsupportedOp`]: crate::Error::UnsupportedOp
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpGroup {
    /// The MLP op set, in every build: FullyConnected, the core activations, Softmax,
    /// Lut, Quantize/Dequantize/Requantize, Reshape and ArgMax.
    Core,
    /// Conv, ConvNhwc, DepthwiseNhwc (`ops-conv`; on f32 activations with
    /// [`ConvF32`](OpGroup::ConvF32), the NCHW `Conv` with [`Nchw`](OpGroup::Nchw)).
    Conv,
    /// MaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPoolNhwc, AvgPoolNhwc
    /// (`ops-pool`; on f32 activations with [`ConvF32`](OpGroup::ConvF32), the NCHW ones
    /// with [`Nchw`](OpGroup::Nchw)).
    Pool,
    /// Transpose, Concat, Pad, Slice, Cast (`ops-shape`).
    Shape,
    /// MatMul, Binary, Lrn and the unary functions beyond the core activations
    /// (`ops-math`).
    Math,
    /// LSTM, GRU and RNN (`ops-recurrent`).
    Recurrent,
    /// The classical models: Linear, TreeEnsemble, Normalize (`ops-classic`).
    Classic,
    /// The f32 forms of the conv and pool ops (`ops-conv-f32`, with `ops-conv` /
    /// `ops-pool`): Conv, ConvNhwc, DepthwiseNhwc and the pools on f32 activations. A
    /// build without it runs int8 CNNs only. No op's `Op::group`: the loader asks for
    /// it besides the op's group when the op's input is f32.
    ConvF32,
    /// The f16-weight kernels (`ops-f16`): FullyConnected, and with `ops-conv` ConvNhwc
    /// and DepthwiseNhwc, whose weights (input 1) are f16. No op's `Op::group`: the
    /// loader asks for it besides the op's group when the op's weights are f16.
    F16,
    /// The channels-first (NCHW) conv and pool ops (`ops-conv-nchw`, with `ops-conv` /
    /// `ops-pool`): Conv, MaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool. A build
    /// without it runs the NHWC ops of `ferrite convert` only. No op's `Op::group`:
    /// the loader asks for it besides the op's group.
    Nchw,
}

impl OpGroup {
    /// Whether this build has the group's kernels (a constant: always inlined, so that
    /// code behind a disabled group folds away).
    #[inline(always)]
    pub const fn enabled(self) -> bool {
        match self {
            OpGroup::Core => true,
            OpGroup::Conv => cfg!(feature = "ops-conv"),
            OpGroup::Pool => cfg!(feature = "ops-pool"),
            OpGroup::Shape => cfg!(feature = "ops-shape"),
            OpGroup::Math => cfg!(feature = "ops-math"),
            OpGroup::Recurrent => cfg!(feature = "ops-recurrent"),
            OpGroup::Classic => cfg!(feature = "ops-classic"),
            OpGroup::ConvF32 => cfg!(feature = "ops-conv-f32"),
            OpGroup::F16 => cfg!(feature = "ops-f16"),
            OpGroup::Nchw => cfg!(feature = "ops-conv-nchw"),
        }
    }
}
