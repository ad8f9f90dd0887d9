//! The `.fer` container: header, section table, CRC, and indexed record tables.
//!
//! ```text
//! offset 0   header (32 bytes, little-endian)
//!            magic "FRTM" | major u16 | minor u16 | flags u32 | total_len u32
//!            body_crc u32 | section_count u16 | reserved u16 | reserved [u8; 8]
//! offset 32  section table: section_count entries of 16 bytes
//!            kind u16 | flags u16 (bit 0: required) | offset u32 | len u32 | reserved u32
//!            sections, each starting at a 16-byte aligned offset
//! ```
//! The CRC-32 (IEEE, reflected, as in zlib) covers bytes `0..total_len` with the CRC
//! field itself (bytes 16..20) read as zeros, so no byte of the file goes unchecked.
//! `docs/format.md` is the normative description.

mod classic;
mod decode;
mod grid;
mod group;
mod limits;
pub mod monitor;
mod op;
#[cfg(feature = "write")]
pub mod plan;
mod recurrent;
pub mod types;
pub(crate) mod wire;
#[cfg(feature = "write")]
pub mod write;

pub use decode::Record;
pub(crate) use decode::{op_ref, read_op};

use crate::error::{Error, Result, Section};
use core::marker::PhantomData;

/// The four magic bytes at offset 0.
pub const MAGIC: [u8; 4] = *b"FRTM";
/// Format major version written and read by this runtime.
pub const VERSION_MAJOR: u16 = 1;
/// Format minor version written by this runtime (it reads every minor of its major).
pub const VERSION_MINOR: u16 = 8;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Size of one section-table entry.
pub const SECTION_ENTRY_LEN: usize = 16;
/// Alignment of every section (and of every constant inside the weights section).
pub const ALIGN: usize = 16;
/// Alignment the writer gives to every arena tensor of at least [`WIDE_MIN`] bytes and
/// every weight constant or section of at least [`FILE_WIDE_MIN`] bytes. A 64-byte boundary is a cache line, so the 64-byte vector loads of the AVX-512 kernels never
/// split one. Readers still require only [`ALIGN`]: 64 is a multiple of 16, so such a
/// file is valid for every reader, and older files (16-aligned) load unchanged.
pub const WIDE_ALIGN: usize = 64;
/// Smallest arena tensor the planner places at a [`WIDE_ALIGN`] offset; smaller ones
/// keep [`ALIGN`], so tiny models' arenas do not grow.
pub const WIDE_MIN: usize = 256;

/// Smallest block of the *file* (a weight constant, a section) the writer places at a
/// [`WIDE_ALIGN`] offset: a file's padding is flash and download bytes, so only blocks
/// large enough for the kernels' vector loads to matter (packed conv panels, big
/// weight matrices) are moved to a cache line; small models' files do not grow.
pub const FILE_WIDE_MIN: usize = 4096;

/// The offset alignment the writer uses for a weight constant or a section of `size`
/// bytes in the file.
pub const fn file_align_for(size: usize) -> usize {
    if size >= FILE_WIDE_MIN {
        WIDE_ALIGN
    } else {
        ALIGN
    }
}

/// The offset alignment the arena planner uses for a tensor of `size` bytes.
pub const fn align_for(size: usize) -> usize {
    if size >= WIDE_MIN {
        WIDE_ALIGN
    } else {
        ALIGN
    }
}
/// Section flag: a reader that does not know this kind must reject the file.
pub const SECTION_REQUIRED: u16 = 1;
/// Most sections in one file.
pub const MAX_SECTIONS: usize = 32;

/// Section kinds. Kinds below 0x8000 are defined by this project.
pub mod kind {
    /// Metadata and provenance (required).
    pub const METADATA: u16 = 1;
    /// Tensors, ops, graph inputs and outputs, arena size (required).
    pub const GRAPH: u16 = 2;
    /// The constant tensors and tables.
    pub const WEIGHTS: u16 = 3;
    /// The preprocessing pipeline.
    pub const PREPROCESS: u16 = 4;
    /// Training-set statistics of the input features.
    pub const FEATURE_STATS: u16 = 5;
    /// Golden vectors.
    pub const GOLDEN: u16 = 6;
    /// Ed25519 signature.
    pub const SIGNATURE: u16 = 7;
    /// Compact golden vectors (seeded inputs, output digests).
    pub const GOLDEN_DIGEST: u16 = 8;
    /// Streaming state: pairs of (state input, state output) graph IO indices.
    pub const STATE: u16 = 9;
}

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3):
/// the output digest of a compact golden vector.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Fills `out` with the bytes of graph input `input` of a compact golden vector with
/// `seed`: a SplitMix64 stream seeded with `seed ^ (input * 0x9E3779B97F4A7C15)`; int8 /
/// uint8 take its bytes (little-endian, 8 per draw), f32 takes one draw per value,
/// `(draw >> 40) * 2^-23 - 1` (exact in f32, in [-1, 1)). Integer arithmetic and exact
/// float operations only, so every target produces the same bytes. Returns `false` for
/// other dtypes (or an `out` that is not a whole number of elements).
pub fn golden_input(seed: u64, input: usize, dtype: types::DType, out: &mut [u8]) -> bool {
    let mut state = seed ^ (input as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    match dtype {
        types::DType::I8 | types::DType::U8 => {
            for chunk in out.chunks_mut(8) {
                let b = next().to_le_bytes();
                chunk.copy_from_slice(&b[..chunk.len()]);
            }
            true
        }
        types::DType::F32 if out.len() % 4 == 0 => {
            for chunk in out.chunks_exact_mut(4) {
                let v = (next() >> 40) as f32 * (1.0 / (1u32 << 23) as f32) - 1.0;
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            true
        }
        _ => false,
    }
}

fn rd_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// CRC-32 (IEEE 802.3, reflected, init and xor-out 0xFFFF_FFFF), bitwise-by-nibble
/// so that it needs only a 16-entry table in flash.
pub fn crc32(bytes: &[u8]) -> u32 {
    !crc32_update(!0, bytes)
}

/// The CRC of a whole file as stored in its header: bytes 16..20 count as zeros.
pub fn file_crc(file: &[u8]) -> u32 {
    let (head, body) = file.split_at(file.len().min(HEADER_LEN));
    let c = crc32_update(!0, head.get(..16).unwrap_or(head));
    let c = crc32_update(c, &[0; 4]);
    let c = crc32_update(c, head.get(20..).unwrap_or(&[]));
    !crc32_update(c, body)
}

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    const T: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    for &b in bytes {
        crc = T[((crc ^ b as u32) & 0xF) as usize] ^ (crc >> 4);
        crc = T[((crc ^ (b as u32 >> 4)) & 0xF) as usize] ^ (crc >> 4);
    }
    crc
}

/// The parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
    /// Reserved flags.
    pub flags: u32,
    /// Length of the file in bytes (trailing bytes after it are ignored).
    pub total_len: u32,
    /// CRC-32 of the file with this field read as zeros.
    pub body_crc: u32,
    /// Number of section-table entries.
    pub section_count: u16,
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionEntry {
    /// Section kind (see [`kind`]).
    pub kind: u16,
    /// Bit 0: required ([`SECTION_REQUIRED`]).
    pub flags: u16,
    /// Offset of the section in the file (16-byte aligned).
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A checked container: header valid, CRC matches, every section in bounds and aligned,
/// no section twice, no unknown required section.
#[derive(Clone, Copy, Debug)]
pub struct Container<'a> {
    /// The parsed header.
    pub header: Header,
    bytes: &'a [u8],
}

impl<'a> Container<'a> {
    /// Checks the header, the CRC and the section table.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::parse_with(bytes, true)
    }

    /// [`parse`](Self::parse), skipping the CRC when `check_crc` is false (bytes
    /// validated before).
    pub(crate) fn parse_with(bytes: &'a [u8], check_crc: bool) -> Result<Self> {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(if bytes.len() < 4 && MAGIC.starts_with(bytes) {
                Error::Truncated {
                    expected: HEADER_LEN,
                    actual: bytes.len(),
                }
            } else {
                Error::BadMagic
            });
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated {
                expected: HEADER_LEN,
                actual: bytes.len(),
            });
        }
        let bad = Error::BadSection {
            section: Section::Header,
        };
        let header = Header {
            major: rd_u16(bytes, 4).ok_or(bad)?,
            minor: rd_u16(bytes, 6).ok_or(bad)?,
            flags: rd_u32(bytes, 8).ok_or(bad)?,
            total_len: rd_u32(bytes, 12).ok_or(bad)?,
            body_crc: rd_u32(bytes, 16).ok_or(bad)?,
            section_count: rd_u16(bytes, 20).ok_or(bad)?,
        };
        if header.major != VERSION_MAJOR {
            return Err(Error::UnsupportedVersion {
                major: header.major,
                minor: header.minor,
            });
        }
        let total = header.total_len as usize;
        if bytes.len() < total {
            return Err(Error::Truncated {
                expected: total,
                actual: bytes.len(),
            });
        }
        let table_end = HEADER_LEN + header.section_count as usize * SECTION_ENTRY_LEN;
        if total < table_end || header.section_count as usize > MAX_SECTIONS {
            return Err(Error::BadSection {
                section: Section::SectionTable,
            });
        }
        // Trailing bytes after total_len (e.g. flash padding) are ignored.
        let bytes = &bytes[..total];
        let crc = if check_crc {
            file_crc(bytes)
        } else {
            header.body_crc
        };
        if crc != header.body_crc {
            return Err(Error::Checksum {
                expected: header.body_crc,
                actual: crc,
            });
        }
        let c = Container { header, bytes };
        let mut seen = [0u16; MAX_SECTIONS];
        for i in 0..header.section_count as usize {
            let e = c.entry(i).ok_or(Error::BadSection {
                section: Section::SectionTable,
            })?;
            let end = (e.offset as usize).checked_add(e.len as usize);
            if e.offset as usize % ALIGN != 0
                || (e.offset as usize) < table_end
                || end.is_none_or(|end| end > total)
                || seen[..i].contains(&e.kind)
            {
                return Err(Error::BadSection {
                    section: section_of(e.kind),
                });
            }
            seen[i] = e.kind;
            let known = matches!(e.kind, kind::METADATA..=kind::SIGNATURE);
            if !known && e.flags & SECTION_REQUIRED != 0 {
                return Err(Error::UnknownSection { kind: e.kind });
            }
        }
        Ok(c)
    }

    fn entry(&self, i: usize) -> Option<SectionEntry> {
        let at = HEADER_LEN + i * SECTION_ENTRY_LEN;
        Some(SectionEntry {
            kind: rd_u16(self.bytes, at)?,
            flags: rd_u16(self.bytes, at + 2)?,
            offset: rd_u32(self.bytes, at + 4)?,
            len: rd_u32(self.bytes, at + 8)?,
        })
    }

    /// The section table entries.
    pub fn sections(&self) -> impl Iterator<Item = SectionEntry> + '_ {
        (0..self.header.section_count as usize).filter_map(|i| self.entry(i))
    }

    /// The bytes of the section of `kind`, if present.
    pub fn section(&self, kind: u16) -> Option<&'a [u8]> {
        let e = self.sections().find(|e| e.kind == kind)?;
        self.bytes
            .get(e.offset as usize..(e.offset as usize).checked_add(e.len as usize)?)
    }

    /// The whole file (up to `total_len`).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The [`Section`] named in errors for a section kind.
pub fn section_of(kind: u16) -> Section {
    match kind {
        kind::METADATA => Section::Metadata,
        kind::GRAPH => Section::Graph,
        kind::WEIGHTS => Section::Weights,
        kind::PREPROCESS => Section::Preprocess,
        kind::FEATURE_STATS => Section::FeatureStats,
        kind::GOLDEN | kind::GOLDEN_DIGEST => Section::Golden,
        kind::SIGNATURE => Section::Signature,
        kind::STATE => Section::State,
        _ => Section::SectionTable,
    }
}

/// An indexed table of postcard records inside a section:
/// `count u32 | offsets u32 × count | records…`. Offsets are relative to the start of
/// the table's bytes; record `i` spans `offsets[i] .. offsets[i + 1]` (the last one to
/// the end of the table). Random access is O(1), decoding is borrowed.
#[derive(Clone, Copy, Debug)]
pub struct RecordTable<'a, T> {
    bytes: &'a [u8],
    count: u32,
    section: Section,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Record<'a>> RecordTable<'a, T> {
    /// Checks the index (monotone, in bounds) and decodes every record once.
    pub fn parse(bytes: &'a [u8], section: Section) -> Result<Self> {
        Self::parse_with(bytes, section, true)
    }

    /// [`parse`](Self::parse); with `check` false it reads the count only, for bytes
    /// validated before.
    pub(crate) fn parse_with(bytes: &'a [u8], section: Section, check: bool) -> Result<Self> {
        // The record type's only part is whether a record decodes exactly: the walk
        // over the index is one function for every record type (flash on Cortex-M).
        let decodes: fn(&'a [u8]) -> bool = |b| matches!(T::decode(b), Some((_, [])));
        let count = parse_index(bytes, section, check.then_some(decodes))?;
        Ok(RecordTable {
            bytes,
            count,
            section,
            _t: PhantomData,
        })
    }

    /// Number of records.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when the table has no records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The raw bytes of record `i`, for the trusted decoders of the executor
    /// ([`Wire`]); `None` when out of range.
    #[inline]
    pub(crate) fn record(&self, i: u32) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        let (start, end) = span(self.bytes, self.count, i)?;
        self.bytes.get(start..end)
    }

    /// Decodes record `i`; the record must use exactly its span.
    pub fn get(&self, i: u32) -> Result<T> {
        let rec = record_checked(self.bytes, self.count, self.section, i)?;
        match T::decode(rec) {
            Some((v, [])) => Ok(v),
            _ => Err(Error::Decode {
                section: self.section,
                index: i,
            }),
        }
    }

    /// Iterates over the records in order.
    pub fn iter(&self) -> impl Iterator<Item = Result<T>> + use<'_, 'a, T> {
        (0..self.count).map(move |i| self.get(i))
    }
}

/// Span `start..end` of record `i` of a table of `count` records.
fn span(bytes: &[u8], count: u32, i: u32) -> Option<(usize, usize)> {
    let start = rd_u32(bytes, 4 + 4 * i as usize)? as usize;
    let end = if i + 1 < count {
        rd_u32(bytes, 4 + 4 * (i as usize + 1))? as usize
    } else {
        bytes.len()
    };
    Some((start, end))
}

/// The record count of a table; with `decodes`, also checks the index (monotone, in
/// bounds) and that every record decodes exactly.
#[inline(never)]
fn parse_index<'a>(
    bytes: &'a [u8],
    section: Section,
    decodes: Option<fn(&'a [u8]) -> bool>,
) -> Result<u32> {
    let bad = Error::BadSection { section };
    let count = rd_u32(bytes, 0).ok_or(bad)?;
    let data_start = (count as usize)
        .checked_mul(4)
        .and_then(|n| n.checked_add(4))
        .ok_or(bad)?;
    if data_start > bytes.len() {
        return Err(bad);
    }
    let Some(decodes) = decodes else {
        return Ok(count);
    };
    let mut prev = data_start;
    for i in 0..count {
        let (start, end) = span(bytes, count, i).ok_or(bad)?;
        if start != prev || end < start || end > bytes.len() {
            return Err(bad);
        }
        prev = end;
        if !decodes(record_checked(bytes, count, section, i)?) {
            return Err(Error::Decode { section, index: i });
        }
    }
    Ok(count)
}

/// The bytes of record `i` for [`RecordTable::get`].
#[inline(never)]
fn record_checked(bytes: &[u8], count: u32, section: Section, i: u32) -> Result<&[u8]> {
    if i >= count {
        return Err(Error::NoSuchIndex { index: i });
    }
    let err = Error::Decode { section, index: i };
    let (start, end) = span(bytes, count, i).ok_or(err)?;
    bytes.get(start..end).ok_or(err)
}
