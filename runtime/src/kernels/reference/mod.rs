//! Portable reference kernels (see the parent module for the shared contract).
pub mod f32;
pub mod fixed;
pub mod generic;
pub mod int8;

mod bcast;
pub mod recurrent;
mod softmax;
pub(crate) mod window;
