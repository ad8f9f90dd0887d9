//! # ferrite — the edge inference runtime
//!
//! One model file (`.fer`), one `no_std` core: load and validate a model once, then run
//! it over a fixed arena with no allocation and no panics.
//!
//! ```no_run
//! # fn main() -> Result<(), ferrite::Error> {
//! # let bytes: &[u8] = &[];
//! let model = ferrite::Model::load(bytes)?;          // validates everything, allocates nothing
//! let mut arena = [0u8; 4096];                        // or ferrite::Session::owned (alloc)
//! let mut session = ferrite::Session::new(&model, &mut arena)?;
//! let mut scores = [0f32; 10];
//! let label = session.predict(&[0.5; 64], &mut scores)?;
//! # Ok(()) }
//! ```
//!
//! Cargo features: `alloc` (owned sessions and aligned copies), `std`, `write` (the model
//! writer and arena planner used by the host tool), and operator groups `ops-conv`,
//! `ops-pool`, `ops-shape`, `ops-math` (all in `all-ops`, on by default).
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![allow(missing_docs)] // fields of wire-format records are documented in docs/format.md

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
mod exec;
pub mod format;
pub mod kernels;
mod model;
pub mod monitor;
#[cfg(feature = "write")]
pub mod plan;
pub mod preprocess;
mod validate;

pub use error::{Error, Result, Section};
#[cfg(feature = "alloc")]
pub use exec::OwnedSession;
pub use exec::{Arena, Session};
pub use format::types::{DType, Metadata, Op, OpDef, Quant, TensorDef};
#[cfg(feature = "alloc")]
pub use model::OwnedModel;
pub use model::{AlignedModel, Model};
pub use monitor::{Drift, DriftLevel, FeatureDrift, Latency, Monitor, MonitorBuffer, MonitorState};
pub use preprocess::{Preprocess, WindowBuffer, WindowFeature};

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
