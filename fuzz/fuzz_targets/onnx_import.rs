//! The host tool's ONNX import (`ferrite convert`) on hostile ONNX files.
#![no_main]

use ferrite_fuzz::onnx::{onnx_import, Outcome};
use libfuzzer_sys::{fuzz_mutator, fuzz_target, Corpus};

// An input over the size bound is not kept in the corpus.
fuzz_target!(|data: &[u8]| -> Corpus {
    match onnx_import(data) {
        Outcome::TooLarge => Corpus::Reject,
        Outcome::Refused | Outcome::Converted => Corpus::Keep,
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    ferrite_fuzz::onnx::mutate(data, size, max_size, seed)
});
