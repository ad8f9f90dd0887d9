//! Edits of a `.fer` file's graph section for the loader tests (`load_rejects.rs`,
//! `reshape_in_place.rs`): each patches bytes the writer made and redoes the CRC, so the
//! loader's own checks (not the CRC) meet the edit.

// Every test file that includes this module with `mod patch;` is its own crate; each
// uses only part of it.
#![allow(dead_code)]

/// `bytes` with the graph section edited by `f` and the CRC redone.
pub fn patch_graph(bytes: &[u8], f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    use ferrite::format::{file_crc, kind, HEADER_LEN, SECTION_ENTRY_LEN};
    let mut b = bytes.to_vec();
    let n = u16::from_le_bytes([b[20], b[21]]) as usize;
    let e = (0..n)
        .map(|i| HEADER_LEN + i * SECTION_ENTRY_LEN)
        .find(|&e| u16::from_le_bytes([b[e], b[e + 1]]) == kind::GRAPH)
        .unwrap();
    let (at, len) = (u32_at(&b, e + 4), u32_at(&b, e + 8));
    f(&mut b[at..at + len]);
    let crc = file_crc(&b);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

pub fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// `bytes` with the arena location `[offset, first, last]` of tensor `t` edited by
/// `f` (the tensor record is postcard: name, dtype, shape, location, quant; every
/// length and value here fits one varint byte).
pub fn patch_location(bytes: &[u8], t: usize, f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    patch_graph(bytes, |g| {
        let tensors = 16 + u32_at(g, 0);
        let mut at = tensors + u32_at(g, tensors + 4 + 4 * t);
        at += 1 + g[at] as usize; // name
        at += 1; // dtype
        at += 1 + g[at] as usize; // shape
        assert_eq!(g[at], 0, "an arena location");
        f(&mut g[at + 1..at + 4]);
    })
}
