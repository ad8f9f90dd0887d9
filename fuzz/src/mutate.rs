//! The structure-aware mutator of the `.fer` targets.
//!
//! libFuzzer's byte mutations alone stop at the CRC: almost every mutated file is
//! rejected with `Error::Checksum` before the validator sees it. This mutator parses
//! the container, mutates *one* part — a whole section, a single record of a record
//! table (a tensor, an op, a pipeline step, a golden vector), the record list itself, a
//! field of a decoded tensor or op, the section list, or the trailer of run inputs —
//! and writes the file back with a correct `total_len` and CRC. The byte-level changes
//! inside a part are libFuzzer's own (`fuzzer_mutate`), so its comparison feedback
//! still steers them. A small share of mutations is left unrepaired (raw bytes, a stale
//! CRC or length) so the container checks stay covered too.

use crate::fer::{self, File, Graph, Pipeline, Section};
use crate::rng::{mutate_bytes, Rng, INTERESTING_F32};
use ferrite::format::kind;
use ferrite::format::types::{DType, Location, OpDef, Quant, TensorDef};

/// Which part of a model the mutations favour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// Every part alike (`load_run`, `c_abi`).
    Model,
    /// The PREPROCESS section and the rows in the trailer (`preprocess`).
    Preprocess,
}

/// Values that make interesting dimensions, offsets and indices.
const INTERESTING_U32: [u32; 20] = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    17,
    31,
    64,
    255,
    256,
    4096,
    65535,
    65536,
    0x7FFF_FFFF,
    0x8000_0000,
    u32::MAX,
];

fn interesting_u32(rng: &mut Rng, around: u32) -> u32 {
    match rng.below(4) {
        0 => around.wrapping_add(1),
        1 => around.wrapping_sub(1),
        2 => around.wrapping_mul(2),
        _ => INTERESTING_U32[rng.below(INTERESTING_U32.len())],
    }
}

/// The custom mutator: `data[..size]` is the input; returns the new size (at most
/// `max_size`).
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32, focus: Focus) -> usize {
    let mut rng = Rng::new(seed);
    let input = &data[..size];
    let out = match fer::parse(input) {
        Some(file) if !rng.chance(1, 16) => mutate_file(file, &mut rng, focus),
        _ => mutate_raw(input, &mut rng),
    };
    if out.len() > max_size {
        // Too large: fall back to an in-place byte mutation of the input.
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
}

/// Byte mutation of the whole input, then (usually) a repaired `total_len` and CRC.
fn mutate_raw(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let (model, trailer) = fer::split(input);
    let mut m = model.to_vec();
    mutate_bytes(&mut m, 64);
    let n = m.len();
    m.extend_from_slice(trailer);
    if rng.chance(7, 8) {
        fer::fix_header(&mut m, n);
    }
    m
}

fn mutate_file(mut f: File, rng: &mut Rng, focus: Focus) -> Vec<u8> {
    let pre = f.sections.iter().position(|s| s.kind == kind::PREPROCESS);
    let choice = match (focus, pre) {
        // Pipeline target: the steps and the rows most of the time.
        (Focus::Preprocess, Some(p)) => match rng.below(10) {
            0..=4 => {
                mutate_pipeline(&mut f.sections[p].bytes, rng);
                return finish(f, rng);
            }
            5..=7 => 7,
            _ => rng.below(8),
        },
        _ => rng.below(8),
    };
    match choice {
        // One part of one section, re-laid-out.
        0..=3 => {
            if !f.sections.is_empty() {
                let i = rng.below(f.sections.len());
                mutate_section(&mut f.sections[i], rng);
            }
        }
        // A decoded tensor or op with one field changed.
        4 => {
            if let Some(s) = f.sections.iter_mut().find(|s| s.kind == kind::GRAPH) {
                mutate_graph_fields(&mut s.bytes, rng);
            }
        }
        // The section list.
        5 => mutate_section_list(&mut f.sections, rng),
        // Splice: a section's bytes from another section (e.g. golden <-> weights).
        6 => {
            if f.sections.len() > 1 {
                let a = rng.below(f.sections.len());
                let b = rng.below(f.sections.len());
                let src = f.sections[a].bytes.clone();
                let dst = &mut f.sections[b].bytes;
                let at = rng.below(dst.len() + 1);
                let n = rng.below(src.len() + 1).min(256);
                let from = rng.below(src.len() - n + 1);
                dst.splice(
                    at..(at + n).min(dst.len()),
                    src[from..from + n].iter().copied(),
                );
            }
        }
        // The run inputs.
        _ => mutate_trailer(&mut f.trailer, rng),
    }
    finish(f, rng)
}

/// Reassembles `f`; one time in 32 leaves a wrong CRC or `total_len` behind.
fn finish(f: File, rng: &mut Rng) -> Vec<u8> {
    let mut out = fer::assemble(&f);
    if rng.chance(1, 32) && out.len() >= 20 {
        let at = 12 + rng.below(8);
        out[at] ^= 1 << rng.below(8);
    }
    out
}

fn mutate_section(s: &mut Section, rng: &mut Rng) {
    match s.kind {
        kind::GRAPH => mutate_graph(&mut s.bytes, rng),
        kind::PREPROCESS => mutate_pipeline(&mut s.bytes, rng),
        kind::GOLDEN => mutate_table(&mut s.bytes, rng),
        // Weights keep their size most of the time: offsets into them are what matters.
        kind::WEIGHTS if !s.bytes.is_empty() && rng.chance(3, 4) => {
            let len = s.bytes.len();
            let at = rng.below(len);
            let n = (len - at).min(1 + rng.below(16));
            let mut part = s.bytes[at..at + n].to_vec();
            libfuzzer_sys::fuzzer_mutate(&mut part, n, n);
            s.bytes[at..at + n].copy_from_slice(&part);
        }
        _ => mutate_bytes(&mut s.bytes, 64),
    }
}

/// One record of a record table, or the record list (duplicate, drop, swap).
fn mutate_records(recs: &mut Vec<Vec<u8>>, rng: &mut Rng) {
    if recs.is_empty() {
        recs.push(Vec::new());
    }
    let i = rng.below(recs.len());
    match rng.below(8) {
        0 => {
            let r = recs[i].clone();
            recs.insert(rng.below(recs.len() + 1), r);
        }
        1 if recs.len() > 1 => {
            recs.remove(i);
        }
        2 => {
            let j = rng.below(recs.len());
            recs.swap(i, j);
        }
        3 => {
            let j = rng.below(recs.len());
            recs[i] = recs[j].clone();
        }
        _ => mutate_bytes(&mut recs[i], 16),
    }
}

fn mutate_table(bytes: &mut Vec<u8>, rng: &mut Rng) {
    match fer::records(bytes) {
        Some(mut recs) if rng.chance(7, 8) => {
            mutate_records(&mut recs, rng);
            *bytes = fer::table(&recs);
        }
        _ => mutate_bytes(bytes, 32),
    }
}

fn mutate_graph(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let Some(mut g) = Graph::parse(bytes) else {
        mutate_bytes(bytes, 32);
        return;
    };
    match rng.below(8) {
        0 | 1 => mutate_bytes(&mut g.io, 8),
        2..=4 => mutate_records(&mut g.tensors, rng),
        5..=6 => mutate_records(&mut g.ops, rng),
        _ => {
            mutate_bytes(bytes, 32);
            return;
        }
    }
    *bytes = g.encode();
}

fn mutate_pipeline(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let Some(mut p) = Pipeline::parse(bytes) else {
        mutate_bytes(bytes, 32);
        return;
    };
    match rng.below(8) {
        0 => mutate_bytes(&mut p.header, 8),
        1..=6 => mutate_records(&mut p.steps, rng),
        _ => {
            mutate_bytes(bytes, 32);
            return;
        }
    }
    *bytes = p.encode();
}

/// Decodes one tensor or op record, changes one field to a boundary value, encodes it.
fn mutate_graph_fields(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let Some(mut g) = Graph::parse(bytes) else {
        return;
    };
    let n_tensors = g.tensors.len() as u32;
    let n_ops = g.ops.len() as u32;
    if rng.chance(1, 2) && !g.tensors.is_empty() {
        let i = rng.below(g.tensors.len());
        if let Ok(mut t) = postcard::from_bytes::<TensorDef<'_>>(&g.tensors[i]) {
            mutate_tensor(&mut t, rng, n_ops);
            if let Ok(b) = postcard::to_allocvec(&t) {
                g.tensors[i] = b;
            }
        }
    } else if !g.ops.is_empty() {
        let i = rng.below(g.ops.len());
        if let Ok(mut o) = postcard::from_bytes::<OpDef>(&g.ops[i]) {
            let pick = |rng: &mut Rng| rng.below(n_tensors as usize + 2) as u32;
            match rng.below(4) {
                0 if !o.inputs.is_empty() => {
                    let k = rng.below(o.inputs.len());
                    o.inputs[k] = pick(rng);
                }
                1 => {
                    let _ = o.inputs.push(pick(rng));
                }
                2 => {
                    o.inputs.pop();
                }
                _ if !o.outputs.is_empty() => {
                    let k = rng.below(o.outputs.len());
                    o.outputs[k] = pick(rng);
                }
                _ => {}
            }
            if let Ok(b) = postcard::to_allocvec(&o) {
                g.ops[i] = b;
            }
        }
    }
    *bytes = g.encode();
}

fn mutate_tensor(t: &mut TensorDef<'_>, rng: &mut Rng, n_ops: u32) {
    const DTYPES: [DType; 6] = [
        DType::F32,
        DType::F16,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::I64,
    ];
    match rng.below(7) {
        0 => t.dtype = DTYPES[rng.below(DTYPES.len())],
        1 if !t.shape.is_empty() => {
            let k = rng.below(t.shape.len());
            t.shape[k] = interesting_u32(rng, t.shape[k]);
        }
        2 => {
            if rng.chance(1, 2) {
                t.shape.pop();
            } else {
                let _ = t.shape.push(1 + rng.below(4) as u32);
            }
        }
        3 => {
            t.location = match t.location {
                Location::Arena {
                    offset,
                    first,
                    last,
                } => match rng.below(4) {
                    0 => Location::Arena {
                        offset: interesting_u32(rng, offset),
                        first,
                        last,
                    },
                    1 => Location::Arena {
                        offset,
                        first: interesting_u32(rng, first) % (n_ops + 2),
                        last,
                    },
                    2 => Location::Arena {
                        offset,
                        first,
                        last: interesting_u32(rng, last) % (n_ops + 2),
                    },
                    _ => Location::Weights { offset },
                },
                Location::Weights { offset } => {
                    if rng.chance(3, 4) {
                        Location::Weights {
                            offset: interesting_u32(rng, offset),
                        }
                    } else {
                        Location::Arena {
                            offset,
                            first: 0,
                            last: n_ops,
                        }
                    }
                }
            }
        }
        4 => {
            t.quant = match rng.below(3) {
                0 => Quant::None,
                1 => Quant::PerTensor {
                    scale: INTERESTING_F32[rng.below(INTERESTING_F32.len())],
                    zero_point: interesting_u32(rng, 0) as i32,
                },
                _ => Quant::PerChannel {
                    axis: rng.below(4) as u8,
                    scales: interesting_u32(rng, 0),
                },
            }
        }
        5 => {
            if let Quant::PerTensor { scale, zero_point } = &mut t.quant {
                if rng.chance(1, 2) {
                    *scale = INTERESTING_F32[rng.below(INTERESTING_F32.len())];
                } else {
                    *zero_point = interesting_u32(rng, *zero_point as u32) as i32;
                }
            }
        }
        _ => t.name = "",
    }
}

fn mutate_section_list(s: &mut Vec<Section>, rng: &mut Rng) {
    if s.is_empty() {
        return;
    }
    let i = rng.below(s.len());
    match rng.below(5) {
        0 if s.len() > 1 => {
            s.remove(i);
        }
        1 => {
            let j = rng.below(s.len());
            s.swap(i, j);
        }
        2 => s[i].required = !s[i].required,
        3 => s[i].kind = [0, 5, 7, 8, 0x7FFF, 0x8000, 0xFFFF][rng.below(7)],
        _ => {
            let c = s[i].clone();
            s.push(c);
        }
    }
}

/// The trailer holds run inputs: bytes for raw tensors, f32 values for `predict`.
fn mutate_trailer(t: &mut Vec<u8>, rng: &mut Rng) {
    if rng.chance(1, 3) {
        // Plant interesting f32 values at aligned positions.
        if t.len() < 4 {
            t.resize(4 * (1 + rng.below(64)), 0);
        }
        for _ in 0..1 + rng.below(4) {
            let at = 4 * rng.below(t.len() / 4);
            let v = INTERESTING_F32[rng.below(INTERESTING_F32.len())];
            t[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    } else {
        mutate_bytes(t, 256);
    }
}

/// Crossover of two inputs: each section kind taken from either parent, the trailer
/// from one of them. Unparsable parents are spliced as bytes.
pub fn crossover(a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(seed);
    let bytes = match (fer::parse(a), fer::parse(b)) {
        (Some(fa), Some(fb)) => {
            let mut f = fa.clone();
            for s in &mut f.sections {
                if rng.chance(1, 2) {
                    if let Some(o) = fb.sections.iter().find(|o| o.kind == s.kind) {
                        s.bytes = o.bytes.clone();
                    }
                }
            }
            if rng.chance(1, 2) {
                f.trailer = fb.trailer;
            }
            fer::assemble(&f)
        }
        _ => {
            let (i, j) = (rng.below(a.len() + 1), rng.below(b.len() + 1));
            [&a[..i], &b[j..]].concat()
        }
    };
    let n = bytes.len().min(out.len());
    out[..n].copy_from_slice(&bytes[..n]);
    n
}
