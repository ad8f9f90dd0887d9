//! # ferrite — the edge inference runtime
//!
//! One model file (`.fer`), one `no_std` core: load and validate a model once, then run
//! it over a fixed arena with no allocation and no panics.
//!
//! ```no_run
//! # fn main() -> Result<(), ferrite::Error> {
//! # let bytes: &[u8] = &[];
//! let model = ferrite::Model::load(bytes)?;          // validates everything, allocates nothing
//! let mut arena = [0u8; 4096];                        // or ferrite::OwnedSession (alloc)
//! let mut session = ferrite::Session::new(&model, &mut arena)?;
//! let mut scores = [0f32; 10];
//! let label = session.predict(&[0.5; 64], &mut scores)?;
//! # Ok(()) }
//! ```
//!
//! [`Model`] and [`Session`] show complete examples.
//!
//! Cargo features: `alloc` (owned sessions and aligned copies), `std`, `write` (the model
//! writer and arena planner used by the host tool), `verify` (Ed25519 signatures:
//! [`Model::load_verified`], and with `write` [`signature::sign`]), and the operator groups
//! ([`OpGroup`]) `ops-conv`, `ops-pool`, `ops-shape`, `ops-math`, `ops-recurrent`,
//! `ops-classic`, `ops-conv-nchw`, `ops-conv-f32`, `ops-f16` (all in `all-ops`, on by default): a build without a group rejects its ops at load
//! ([`Error::UnsupportedOp`]) and leaves their kernels out of the binary.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(target_endian = "big")]
compile_error!(
    "ferrite reads little-endian model data in place and supports little-endian targets only"
);

pub mod classic;
pub mod error;
pub mod format;
mod graph;
pub mod kernels;
mod model;
pub mod monitor;
mod ops;
mod plan;
pub mod preprocess;
mod session;
pub mod signature;
mod validate;

pub use error::{Error, OpReason, Result, Section};
pub use format::types::{DType, Metadata, Op, OpDef, OpGroup, Quant, TensorDef};
#[cfg(feature = "alloc")]
pub use model::OwnedModel;
pub use model::{AlignedModel, Model};
pub use monitor::{Drift, DriftLevel, FeatureDrift, Latency, Monitor, MonitorBuffer, MonitorState};
pub use plan::{NoPlan, Plan, PlanSlot};
pub use preprocess::{Preprocess, WindowBuffer, WindowFeature};
#[cfg(feature = "alloc")]
pub use session::OwnedSession;
pub use session::{Arena, Session};
pub use signature::{PublicKey, SignatureInfo, VerifyPolicy};

/// Align the bytes of a model file embedded with `include_bytes!` to 16 bytes, as
/// [`Model::load`] requires.
///
/// ```ignore
/// static MODEL: &[u8] = ferrite::include_model!("../model.fer");
/// ```
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        #[repr(C, align(16))]
        struct __Aligned<T: ?Sized>(T);
        static __ALIGNED: &__Aligned<[u8]> = &__Aligned(*include_bytes!($path));
        &__ALIGNED.0
    }};
}
