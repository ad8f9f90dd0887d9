//! `Model::load_verified` on hostile files, and signed files with one byte changed.
#![no_main]

use ferrite_fuzz::mutate::{crossover, mutate, Focus};
use libfuzzer_sys::{fuzz_crossover, fuzz_mutator, fuzz_target};

fuzz_target!(|data: &[u8]| ferrite_fuzz::verify::load_verified(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    mutate(data, size, max_size, seed, Focus::Model)
});

fuzz_crossover!(|a: &[u8], b: &[u8], out: &mut [u8], seed: u32| { crossover(a, b, out, seed) });
