//! A lenient view of `.fer` bytes for the mutator: the sections as owned byte vectors
//! (so that one can grow or shrink), the record tables inside them, and reassembly with a
//! correct `total_len` and CRC (`ferrite::format::write::container`).
//!
//! The fuzz inputs are `.fer` files followed by a *trailer*: the bytes after
//! `total_len`, which `Model::load` ignores (flash padding) and the harnesses read as run
//! inputs. A corpus entry is therefore always a file `ferrite inspect` can read.

use ferrite::format::{self, HEADER_LEN, SECTION_ENTRY_LEN, SECTION_REQUIRED};

/// One section: kind, required flag, bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: u16,
    pub required: bool,
    pub bytes: Vec<u8>,
}

/// A parsed input: the sections in file order, and the trailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub sections: Vec<Section>,
    pub trailer: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Splits fuzz input into the model part (`..total_len`, or everything when the header
/// is unreadable or claims more than there is) and the trailer.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match u32_at(data, 12) {
        Some(total) if data.starts_with(&format::MAGIC) && (total as usize) <= data.len() => {
            data.split_at(total as usize)
        }
        _ => (data, &[]),
    }
}

/// Parses the header and section table without checking the CRC or the contents;
/// `None` when the table itself is unreadable.
pub fn parse(data: &[u8]) -> Option<File> {
    let (model, trailer) = split(data);
    if !model.starts_with(&format::MAGIC) || model.len() < HEADER_LEN {
        return None;
    }
    let count = u16_at(model, 20)? as usize;
    if count > format::MAX_SECTIONS {
        return None;
    }
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let e = HEADER_LEN + i * SECTION_ENTRY_LEN;
        let kind = u16_at(model, e)?;
        let flags = u16_at(model, e + 2)?;
        let off = u32_at(model, e + 4)? as usize;
        let len = u32_at(model, e + 8)? as usize;
        let bytes = model.get(off..off.checked_add(len)?)?.to_vec();
        sections.push(Section {
            kind,
            required: flags & SECTION_REQUIRED != 0,
            bytes,
        });
    }
    Some(File {
        sections,
        trailer: trailer.to_vec(),
    })
}

/// Lays the sections out as the writer does (16-byte aligned, correct `total_len` and
/// CRC) and appends the trailer.
pub fn assemble(file: &File) -> Vec<u8> {
    let secs: Vec<(u16, bool, Vec<u8>)> = file
        .sections
        .iter()
        .map(|s| (s.kind, s.required, s.bytes.clone()))
        .collect();
    // Only fails beyond 4 GiB, far above any fuzz input.
    let mut out = format::write::container(&secs).unwrap_or_default();
    out.extend_from_slice(&file.trailer);
    out
}

/// Rewrites `total_len` (to `model_len`) and the CRC of the model part of `buf` in place.
pub fn fix_header(buf: &mut [u8], model_len: usize) {
    if buf.len() < HEADER_LEN || model_len < HEADER_LEN || model_len > buf.len() {
        return;
    }
    buf[12..16].copy_from_slice(&(model_len as u32).to_le_bytes());
    let crc = format::file_crc(&buf[..model_len]);
    buf[16..20].copy_from_slice(&crc.to_le_bytes());
}

/// A record table (`count | offsets | records`) split into its records; `None` when the
/// offsets are not the contiguous layout the writer produces.
pub fn records(table: &[u8]) -> Option<Vec<Vec<u8>>> {
    let count = u32_at(table, 0)? as usize;
    let start = count.checked_mul(4)?.checked_add(4)?;
    if start > table.len() || count > 1 << 16 {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let a = u32_at(table, 4 + 4 * i)? as usize;
        let b = if i + 1 < count {
            u32_at(table, 8 + 4 * i)? as usize
        } else {
            table.len()
        };
        out.push(table.get(a..b)?.to_vec());
    }
    Some(out)
}

/// The record table of `recs`.
pub fn table(recs: &[Vec<u8>]) -> Vec<u8> {
    format::write::record_table(recs).unwrap_or_default()
}

/// The graph section's parts: GraphIo bytes, tensor records, op records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    pub io: Vec<u8>,
    pub tensors: Vec<Vec<u8>>,
    pub ops: Vec<Vec<u8>>,
}

impl Graph {
    /// Splits a graph section (`io_len | tensors_len | ops_len | 0 | io | tensors | ops`).
    pub fn parse(g: &[u8]) -> Option<Graph> {
        let io_len = u32_at(g, 0)? as usize;
        let t_len = u32_at(g, 4)? as usize;
        let o_len = u32_at(g, 8)? as usize;
        let a = 16;
        let b = a + io_len;
        let c = b.checked_add(t_len)?;
        let d = c.checked_add(o_len)?;
        Some(Graph {
            io: g.get(a..b)?.to_vec(),
            tensors: records(g.get(b..c)?)?,
            ops: records(g.get(c..d)?)?,
        })
    }

    /// The section bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (t, o) = (table(&self.tensors), table(&self.ops));
        let mut g = Vec::with_capacity(16 + self.io.len() + t.len() + o.len());
        for n in [self.io.len(), t.len(), o.len(), 0] {
            g.extend_from_slice(&(n as u32).to_le_bytes());
        }
        g.extend_from_slice(&self.io);
        g.extend_from_slice(&t);
        g.extend_from_slice(&o);
        g
    }
}

/// The PREPROCESS section's parts: the postcard `Pipeline` header and the step records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub header: Vec<u8>,
    pub steps: Vec<Vec<u8>>,
}

impl Pipeline {
    /// Splits a PREPROCESS section (`header_len | header | record table of Step`).
    pub fn parse(p: &[u8]) -> Option<Pipeline> {
        let h = u32_at(p, 0)? as usize;
        let end = h.checked_add(4)?;
        Some(Pipeline {
            header: p.get(4..end)?.to_vec(),
            steps: records(p.get(end..)?)?,
        })
    }

    /// The section bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = (self.header.len() as u32).to_le_bytes().to_vec();
        p.extend_from_slice(&self.header);
        p.extend_from_slice(&table(&self.steps));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = format::write::ModelBuilder::new("t");
        let x = b
            .add_tensor("x", ferrite::DType::F32, &[1, 4], ferrite::Quant::None)
            .unwrap();
        let y = b
            .add_tensor("y", ferrite::DType::F32, &[1, 4], ferrite::Quant::None)
            .unwrap();
        b.add_op(
            ferrite::Op::Unary {
                op: ferrite::format::types::UnaryOp::Relu,
            },
            &[x],
            &[y],
        )
        .unwrap();
        b.set_io(&[x], &[y]).unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn parse_assemble_round_trip_is_byte_exact() {
        let mut bytes = sample();
        bytes.extend_from_slice(b"trailer");
        let f = parse(&bytes).unwrap();
        assert_eq!(f.trailer, b"trailer");
        assert_eq!(assemble(&f), bytes);
    }

    #[test]
    fn graph_and_record_tables_round_trip() {
        let bytes = sample();
        let f = parse(&bytes).unwrap();
        let g = &f.sections.iter().find(|s| s.kind == 2).unwrap().bytes;
        let parsed = Graph::parse(g).unwrap();
        assert_eq!(parsed.tensors.len(), 2);
        assert_eq!(parsed.ops.len(), 1);
        assert_eq!(&parsed.encode(), g);
    }

    #[test]
    fn fix_header_makes_a_mutated_file_load_again() {
        let mut bytes = sample();
        let n = bytes.len();
        // The metadata name "t" (section 0: a length byte, then the name) becomes "u":
        // the CRC no longer matches.
        let meta = u32_at(&bytes, HEADER_LEN + 4).unwrap() as usize;
        assert_eq!(&bytes[meta..meta + 2], b"\x01t");
        bytes[meta + 1] = b'u';
        let a = ferrite::AlignedModel::new(&bytes);
        assert!(matches!(
            ferrite::Model::load(a.bytes()),
            Err(ferrite::Error::Checksum { .. })
        ));
        fix_header(&mut bytes, n);
        let a = ferrite::AlignedModel::new(&bytes);
        assert!(ferrite::Model::load(a.bytes()).is_ok());
    }
}
