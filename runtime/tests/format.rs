//! The wire format pinned by bytes, and every kind of bad file rejected with the
//! right error (never a panic).

use ferrite::format::kind;
use ferrite::format::types::{Activation, DType, Location, Op, Quant};
use ferrite::format::write::{container, record_table, ModelBuilder};
use ferrite::{Error, Model, OpReason, Section, Session};

/// Bitwise CRC-32 (IEEE, reflected), written independently of the runtime's nibble table.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// 16-byte aligned copy of some bytes (Model::load requires alignment).
struct Aligned(Vec<u128>, usize);
impl Aligned {
    fn new(b: &[u8]) -> Self {
        let mut w = vec![0u128; b.len().div_ceil(16) + 1];
        bytemuck_copy(&mut w, b);
        Aligned(w, b.len())
    }
    fn bytes(&self) -> &[u8] {
        &as_bytes(&self.0)[..self.1]
    }
}
fn as_bytes(w: &[u128]) -> &[u8] {
    bytemuck::cast_slice(w)
}
fn bytemuck_copy(w: &mut [u128], b: &[u8]) {
    bytemuck::cast_slice_mut::<u128, u8>(w)[..b.len()].copy_from_slice(b);
}

/// y = x · wᵀ + b for x [1,2], w [1,2] = [0.5, -2], b [1] = [0.25].
fn tiny_builder() -> ModelBuilder {
    let mut m = ModelBuilder::new("m");
    let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let w = m.add_const_f32("w", &[1, 2], &[0.5, -2.0]).unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 1], Quant::None).unwrap();
    m.add_op(
        Op::FullyConnected {
            act: Activation::None,
            q: None,
        },
        &[x, w],
        &[y],
    )
    .unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m
}

/// The bytes of `tiny_builder()`'s model, assembled by hand from docs/format.md.
fn tiny_expected() -> Vec<u8> {
    let le32 = |v: u32| v.to_le_bytes();
    // Metadata: six empty-or-short strings (varint length + bytes).
    let meta = vec![1, b'm', 0, 0, 0, 0, 0];
    // GraphIo { inputs [0], outputs [2], arena_size 32 }: x (8 bytes) at 0, y at 16.
    let io = vec![1, 0, 1, 2, 32];
    // TensorDef: name, dtype (F32 = 0), shape (len, dims), location, quant (None = 0).
    let tx = vec![1, b'x', 0, 2, 1, 2, 0, 0, 0, 0, 0];
    let tw = vec![1, b'w', 0, 2, 1, 2, 1, 0, 0];
    let ty = vec![1, b'y', 0, 2, 1, 1, 0, 16, 0, 0, 0];
    // OpDef: FullyConnected (variant 0) { act None (0), q None (0) }, inputs [0,1], outputs [2].
    let op = vec![0, 0, 0, 2, 0, 1, 1, 2];
    let mut tensors = Vec::new();
    tensors.extend(le32(3));
    tensors.extend(le32(16));
    tensors.extend(le32(16 + 11));
    tensors.extend(le32(16 + 11 + 9));
    tensors.extend(&tx);
    tensors.extend(&tw);
    tensors.extend(&ty);
    let mut ops = Vec::new();
    ops.extend(le32(1));
    ops.extend(le32(8));
    ops.extend(&op);
    let mut graph = Vec::new();
    graph.extend(le32(io.len() as u32));
    graph.extend(le32(tensors.len() as u32));
    graph.extend(le32(ops.len() as u32));
    graph.extend(le32(0));
    graph.extend(&io);
    graph.extend(&tensors);
    graph.extend(&ops);
    assert_eq!(graph.len(), 84);
    let mut weights = Vec::new();
    weights.extend(0.5f32.to_le_bytes());
    weights.extend((-2.0f32).to_le_bytes());

    let mut f = vec![0u8; 200];
    f[0..4].copy_from_slice(b"FRTM");
    f[4..6].copy_from_slice(&1u16.to_le_bytes());
    f[6..8].copy_from_slice(&0u16.to_le_bytes());
    f[12..16].copy_from_slice(&le32(200));
    f[20..22].copy_from_slice(&3u16.to_le_bytes());
    let sections = [(1u16, 80u32, &meta), (2, 96, &graph), (3, 192, &weights)];
    for (i, (k, at, b)) in sections.iter().enumerate() {
        let e = 32 + 16 * i;
        f[e..e + 2].copy_from_slice(&k.to_le_bytes());
        f[e + 2..e + 4].copy_from_slice(&1u16.to_le_bytes());
        f[e + 4..e + 8].copy_from_slice(&le32(*at));
        f[e + 8..e + 12].copy_from_slice(&le32(b.len() as u32));
        f[*at as usize..*at as usize + b.len()].copy_from_slice(b);
    }
    let crc = crc32_bitwise(&f);
    f[16..20].copy_from_slice(&le32(crc));
    f
}

#[test]
fn tiny_model_bytes_are_pinned() {
    assert_eq!(tiny_builder().finish().unwrap(), tiny_expected());
}

#[test]
fn crc_matches_the_reference_check_value() {
    // The CRC-32 check value of "123456789" is 0xCBF43926 (the standard's own example).
    assert_eq!(ferrite::format::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32_bitwise(b"123456789"), 0xCBF4_3926);
}

#[test]
fn tiny_model_loads_and_runs() {
    let a = Aligned::new(&tiny_expected());
    let m = Model::load(a.bytes()).unwrap();
    assert_eq!(m.arena_size(), 32);
    assert_eq!(m.num_inputs(), 1);
    assert_eq!(m.input(0).unwrap().shape.as_slice(), &[1, 2]);
    assert_eq!(
        m.output(0).unwrap().location,
        Location::Arena {
            offset: 16,
            first: 0,
            last: 0
        }
    );
    let mut arena = ferrite::Arena::<32>::new();
    let mut s = Session::new(&m, &mut arena.0).unwrap();
    let mut y = [0f32];
    assert_eq!(s.predict(&[3.0, 1.5], &mut y).unwrap(), None);
    assert_eq!(y[0], 3.0 * 0.5 - 1.5 * 2.0);
}

#[test]
fn every_truncation_is_rejected() {
    let full = tiny_expected();
    for n in 0..full.len() {
        let a = Aligned::new(&full[..n]);
        let e = Model::load(a.bytes()).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "len {n}: {e:?}");
    }
}

#[test]
fn every_flipped_byte_is_rejected() {
    let full = tiny_expected();
    for i in 0..full.len() {
        for bit in [0x01u8, 0x80] {
            let mut f = full.clone();
            f[i] ^= bit;
            let a = Aligned::new(&f);
            assert!(
                Model::load(a.bytes()).is_err(),
                "byte {i} bit {bit:#x} accepted"
            );
        }
    }
}

fn with_crc(mut f: Vec<u8>) -> Vec<u8> {
    f[16..20].fill(0);
    let crc = crc32_bitwise(&f);
    f[16..20].copy_from_slice(&crc.to_le_bytes());
    f
}

fn load_err(f: &[u8]) -> Error {
    Model::load(Aligned::new(f).bytes()).unwrap_err()
}

#[test]
fn header_errors_name_the_problem() {
    let full = tiny_expected();
    let mut f = full.clone();
    f[0] = b'X';
    assert_eq!(load_err(&f), Error::BadMagic);
    let mut f = full.clone();
    f[4..6].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(
        load_err(&f),
        Error::UnsupportedVersion { major: 2, minor: 0 }
    );
    let mut f = full.clone();
    f[16] ^= 0xFF;
    assert!(matches!(load_err(&f), Error::Checksum { .. }));
    // A newer minor version of the same major is read.
    let mut f = full.clone();
    f[6..8].copy_from_slice(&7u16.to_le_bytes());
    assert!(Model::load(Aligned::new(&with_crc(f)).bytes()).is_ok());
}

#[test]
fn section_past_the_end_is_rejected() {
    let mut f = tiny_expected();
    // Weights section (entry 2) length pushed past the end.
    f[32 + 32 + 8..32 + 32 + 12].copy_from_slice(&100u32.to_le_bytes());
    assert_eq!(
        load_err(&with_crc(f)),
        Error::BadSection {
            section: Section::Weights
        }
    );
    let mut f = tiny_expected();
    // Graph section at a misaligned offset.
    f[32 + 16 + 4..32 + 16 + 8].copy_from_slice(&97u32.to_le_bytes());
    assert_eq!(
        load_err(&with_crc(f)),
        Error::BadSection {
            section: Section::Graph
        }
    );
}

#[test]
fn unknown_sections_required_vs_optional() {
    let b = tiny_builder();
    let mut opt = b.clone();
    opt.add_section(0x4242, false, vec![1, 2, 3]);
    let f = opt.finish().unwrap();
    assert!(Model::load(Aligned::new(&f).bytes()).is_ok());
    let mut req = b;
    req.add_section(0x4242, true, vec![1, 2, 3]);
    assert_eq!(
        load_err(&req.finish().unwrap()),
        Error::UnknownSection { kind: 0x4242 }
    );
}

/// Rebuilds the tiny model with hand-edited tensor records.
fn tiny_with_tensors(tx: &[u8], tw: &[u8], ty: &[u8], arena: u8) -> Vec<u8> {
    let meta = vec![1, b'm', 0, 0, 0, 0, 0];
    let io = vec![1, 0, 1, 2, arena];
    let tensors = record_table(&[tx.to_vec(), tw.to_vec(), ty.to_vec()]).unwrap();
    let ops = record_table(&[vec![0, 0, 0, 2, 0, 1, 1, 2]]).unwrap();
    let mut graph = Vec::new();
    for n in [io.len(), tensors.len(), ops.len(), 0] {
        graph.extend((n as u32).to_le_bytes());
    }
    graph.extend(io);
    graph.extend(tensors);
    graph.extend(ops);
    let mut weights = Vec::new();
    weights.extend(0.5f32.to_le_bytes());
    weights.extend((-2.0f32).to_le_bytes());
    container(&[
        (kind::METADATA, true, meta),
        (kind::GRAPH, true, graph),
        (kind::WEIGHTS, true, weights),
    ])
    .unwrap()
}

const TX: [u8; 11] = [1, b'x', 0, 2, 1, 2, 0, 0, 0, 0, 0];
const TW: [u8; 9] = [1, b'w', 0, 2, 1, 2, 1, 0, 0];
const TY: [u8; 11] = [1, b'y', 0, 2, 1, 1, 0, 16, 0, 0, 0];

#[test]
fn hand_built_records_match_the_builder() {
    assert_eq!(tiny_with_tensors(&TX, &TW, &TY, 32), tiny_expected());
}

#[test]
fn overlapping_tensors_are_rejected() {
    // y placed at offset 0: overlaps x, both alive at step 0.
    let ty = [1, b'y', 0, 2, 1, 1, 0, 0, 0, 0, 0];
    assert_eq!(
        load_err(&tiny_with_tensors(&TX, &TW, &ty, 32)),
        Error::BadPlan { tensor: 2 }
    );
}

#[test]
fn tensor_outside_arena_is_rejected() {
    // Arena of 16 bytes cannot hold y at 16.
    assert_eq!(
        load_err(&tiny_with_tensors(&TX, &TW, &TY, 16)),
        Error::BadPlan { tensor: 2 }
    );
}

#[test]
fn weights_offset_past_the_end_is_rejected() {
    let tw = [1, b'w', 0, 2, 1, 2, 1, 16, 0];
    assert_eq!(
        load_err(&tiny_with_tensors(&TX, &tw, &TY, 32)),
        Error::BadTensor { tensor: 1 }
    );
}

#[test]
fn wrong_shapes_are_rejected() {
    // w [1,3] does not match x [1,2] (and is larger than the 8 bytes stored).
    let tw = [1, b'w', 0, 2, 1, 3, 1, 0, 0];
    assert!(matches!(
        load_err(&tiny_with_tensors(&TX, &tw, &TY, 32)),
        Error::BadTensor { .. }
    ));
    // y [1,2] where the op produces [1,1].
    let ty = [1, b'y', 0, 2, 1, 2, 0, 16, 0, 0, 0];
    assert_eq!(
        load_err(&tiny_with_tensors(&TX, &TW, &ty, 32)),
        Error::BadOp {
            op: 0,
            reason: OpReason::Shape
        }
    );
    // An unknown dtype variant.
    let tx = [1, b'x', 9, 2, 1, 2, 0, 0, 0, 0, 0];
    assert!(matches!(
        load_err(&tiny_with_tensors(&tx, &TW, &TY, 32)),
        Error::Decode { .. }
    ));
}

#[test]
fn session_argument_errors() {
    let a = Aligned::new(&tiny_expected());
    let m = Model::load(a.bytes()).unwrap();
    let mut small = [0u8; 20];
    assert!(matches!(
        Session::new(&m, &mut small),
        Err(Error::ArenaTooSmall { .. })
    ));
    let mut arena = ferrite::Arena::<32>::new();
    let mut s = Session::new(&m, &mut arena.0).unwrap();
    let mut y = [0f32];
    assert_eq!(
        s.predict(&[1.0], &mut y),
        Err(Error::WrongLength {
            expected: 2,
            actual: 1
        })
    );
    assert_eq!(
        s.predict(&[1.0, f32::NAN], &mut y),
        Err(Error::InvalidInput { feature: 1 })
    );
    assert_eq!(
        s.predict(&[f32::INFINITY, 0.0], &mut y),
        Err(Error::InvalidInput { feature: 0 })
    );
    let mut y2 = [0f32; 2];
    assert_eq!(
        s.predict(&[1.0, 1.0], &mut y2),
        Err(Error::WrongLength {
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(s.output_bytes(3), Err(Error::NoSuchIndex { index: 3 }));
}

#[test]
fn misaligned_bytes_are_rejected() {
    let f = tiny_expected();
    let mut w = vec![0u128; f.len().div_ceil(16) + 1];
    bytemuck::cast_slice_mut::<u128, u8>(&mut w)[1..1 + f.len()].copy_from_slice(&f);
    let b = &bytemuck::cast_slice::<u128, u8>(&w)[1..1 + f.len()];
    assert_eq!(Model::load(b).unwrap_err(), Error::Misaligned);
}

#[test]
fn unaligned_arena_with_slack_works() {
    let a = Aligned::new(&tiny_expected());
    let m = Model::load(a.bytes()).unwrap();
    let mut buf = [0u128; 4];
    let bytes = bytemuck::cast_slice_mut::<u128, u8>(&mut buf);
    let mut s = Session::new(&m, &mut bytes[1..48]).unwrap();
    let mut y = [0f32];
    s.predict(&[2.0, 0.0], &mut y).unwrap();
    assert_eq!(y[0], 1.0);
}

#[test]
fn golden_vectors_round_trip() {
    let mut b = tiny_builder();
    let x: Vec<u8> = [1.0f32, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let y = (-1.5f32).to_le_bytes().to_vec();
    b.add_golden(vec![x.clone()], vec![y]);
    let f = b.finish().unwrap();
    let a = Aligned::new(&f);
    let m = Model::load(a.bytes()).unwrap();
    let mut s = ferrite::OwnedSession::new(&m);
    s.session().check_golden(0).unwrap();
    let mut b2 = tiny_builder();
    b2.add_golden(vec![x], vec![(-1.0f32).to_le_bytes().to_vec()]);
    let f2 = b2.finish().unwrap();
    let a2 = Aligned::new(&f2);
    let m2 = Model::load(a2.bytes()).unwrap();
    let mut s2 = ferrite::OwnedSession::new(&m2);
    assert_eq!(
        s2.session().check_golden(0),
        Err(Error::GoldenMismatch { index: 0 })
    );
}
