//! The fixed capacities of the format (re-exported by [`super::types`]).

/// Largest tensor rank the format and the kernels accept.
pub const MAX_RANK: usize = 8;
/// Most inputs a single op may have (Concat / Sum are the wide ones).
pub const MAX_OP_INPUTS: usize = 8;
/// Most outputs a single op may have.
pub const MAX_OP_OUTPUTS: usize = 2;
/// Most graph inputs / outputs.
pub const MAX_GRAPH_IO: usize = 8;
