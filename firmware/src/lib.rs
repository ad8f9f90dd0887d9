//! # ferrite-firmware — ferrite on a microcontroller
//!
//! The application logic of the firmware, over **embedded-hal 1.0** traits only, with no
//! allocator: sensor → window → predict → actuate.
//!
//! - [`lis3dh`]: register-level LIS3DH accelerometer driver over
//!   [`embedded_hal::i2c::I2c`];
//! - [`window`]: a `heapless` sliding window of samples with a hop;
//! - [`input`]: the model's input convention (milli-g → g, window shape);
//! - [`app`]: the sampling loop ([`DelayNs`](embedded_hal::delay::DelayNs)), inference
//!   with a [`ferrite::Session`] over a caller-provided (static) arena, the LED
//!   ([`OutputPin`](embedded_hal::digital::OutputPin)) and one log line per window
//!   through a [`core::fmt::Write`] sink;
//! - [`emu`]: a software LIS3DH (an `I2c` device replaying a recorded trace) for the
//!   QEMU board and the tests;
//! - [`update`]: safe A/B model updates — two slots in flash, a torn-write-safe state
//!   record, signature + version + on-device golden checks before activation, rollback
//!   of a trial slot that fails after a reboot;
//! - `build` (feature `build`, for board build scripts): selects the model file
//!   (`FERRITE_MODEL`), validates it and emits its arena size as a constant.
//!
//! Boards live in `boards/` (`mps2-an386` for QEMU, `stm32f4` for an STM32F411); see
//! the README.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "build"))]
extern crate std;

pub mod app;
#[cfg(feature = "build")]
pub mod build;
pub mod emu;
pub mod input;
pub mod lis3dh;
pub mod update;
pub mod window;

pub use app::{Accelerometer, App, Config, LedPolarity, Prediction, SetupError};
pub use input::{mg_to_input, CHANNELS, HOP, INPUT_LEN, WINDOW};
pub use window::Window;
