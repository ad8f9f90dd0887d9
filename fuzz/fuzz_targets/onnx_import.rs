//! The host tool's ONNX import (`ferrite convert`) on hostile ONNX files.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fuzz_target!(|data: &[u8]| ferrite_fuzz::onnx::onnx_import(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    ferrite_fuzz::onnx::mutate(data, size, max_size, seed)
});
