//! `cargo xtask setup`: install what is missing, one module per concern.
//!
//! Every step checks first and installs only what is missing, so a second run takes
//! seconds. To add a concern (npm packages, `wasm-bindgen-cli`, …): write
//! `setup/<concern>.rs` with `pub fn steps() -> Vec<Step>` (stage [`Stage::Setup`])
//! and add it below, after the steps it depends on (apt comes first: later steps use
//! what it installs).

use crate::step::Step;

mod apt;
mod node;
mod python;
mod rust;
mod wasm_bindgen;

pub fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    steps.extend(apt::steps()); // Debian packages: toolchain, QEMU, linkers, Chromium, JNA
    steps.extend(rust::steps()); // rustup components and targets, or the build-std route
    steps.extend(python::steps()); // .venv with tests/requirements.txt
    steps.extend(node::steps()); // npm packages (playwright-core, kotlin-compiler, onnxruntime-web)
    steps.extend(wasm_bindgen::steps()); // cargo install wasm-bindgen-cli --version =<Cargo.lock>
    steps
}
