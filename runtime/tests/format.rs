//! The wire format pinned by bytes, and every kind of bad file rejected with the
//! right error (never a panic).

use ferrite::format::kind;
use ferrite::format::types::{Activation, DType, Location, Op, Quant, Window};
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
    tiny_file(0)
}

/// The tiny model as written by a runtime of format minor `minor`.
fn tiny_file(minor: u16) -> Vec<u8> {
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
    f[6..8].copy_from_slice(&minor.to_le_bytes());
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
fn minor_1_header_files_load_and_run() {
    // The tiny graph in a file whose header says 1.1 (this runtime's minor; the
    // writer keeps 1.0 for files without minor-1 ops) loads and gives the same result.
    let a = Aligned::new(&tiny_file(1));
    let m = Model::load(a.bytes()).unwrap();
    assert_eq!(m.arena_size(), 32);
    let mut arena = ferrite::Arena::<32>::new();
    let mut s = Session::new(&m, &mut arena.0).unwrap();
    let mut y = [0f32];
    s.predict(&[3.0, 1.5], &mut y).unwrap();
    assert_eq!(y[0], 3.0 * 0.5 - 1.5 * 2.0);
}

/// y = ConvNhwc(x) for x `[1, 1, 2, 1]`, a 1×1 conv to one channel with weight -2 and
/// bias 0.5 packed by `pack_f32_conv` (one panel: bias[16], w[1][1][16]), ReLU.
fn nhwc_builder() -> ModelBuilder {
    let mut m = ModelBuilder::new("n");
    let x = m
        .add_tensor("x", DType::F32, &[1, 1, 2, 1], Quant::None)
        .unwrap();
    let mut packed = [0f32; 32];
    packed[0] = 0.5;
    packed[16] = -2.0;
    let w = m.add_const_f32("w", &[32], &packed).unwrap();
    let y = m
        .add_tensor("y", DType::F32, &[1, 1, 2, 1], Quant::None)
        .unwrap();
    let window = Window {
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [0; 4],
    };
    let op = Op::ConvNhwc {
        window,
        act: Activation::Relu,
        q: None,
    };
    m.add_op(op, &[x, w], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m
}

#[test]
fn nhwc_op_record_bytes_are_pinned() {
    let f = nhwc_builder().finish().unwrap();
    // Header: format 1.1 (the file uses a minor-1 op; the tiny FullyConnected model
    // stays 1.0, byte for byte what earlier runtimes wrote).
    assert_eq!(&f[4..8], &[1, 0, 1, 0]);
    // OpDef: ConvNhwc is variant 25 (appended after Lrn = 24); window: kernel [1, 1],
    // stride [1, 1], dilation [1, 1], pads [0; 4] (varints); act Relu (1); q None (0);
    // inputs [0, 1]; outputs [2].
    let op = [25, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 2, 0, 1, 1, 2];
    // The GRAPH section's op table: count 1, end offset 18, then the record.
    let mut table = 1u32.to_le_bytes().to_vec();
    table.extend(8u32.to_le_bytes());
    table.extend(op);
    assert!(
        f.windows(table.len()).any(|w| w == table.as_slice()),
        "op table not found"
    );
    // The packed weights in the WEIGHTS section: 0.5 then 15 zeros, -2 then 15 zeros.
    let mut w = 0.5f32.to_le_bytes().to_vec();
    w.extend([0u8; 60]);
    w.extend((-2.0f32).to_le_bytes());
    w.extend([0u8; 60]);
    assert!(f.windows(w.len()).any(|x| x == w.as_slice()));
    let a = Aligned::new(&f);
    let m = Model::load(a.bytes()).unwrap();
    let mut s = ferrite::OwnedSession::new(&m);
    let mut y = [0f32; 2];
    s.session().predict(&[-1.0, 1.0], &mut y).unwrap();
    assert_eq!(y, [2.5, 0.0]);
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
    // The error names the file's own minor (a file without 1.1 ops is written as 1.0).
    let minor = u16::from_le_bytes([full[6], full[7]]);
    assert_eq!(minor, 0);
    assert_eq!(load_err(&f), Error::UnsupportedVersion { major: 2, minor });
    let mut f = full.clone();
    f[16] ^= 0xFF;
    assert!(matches!(load_err(&f), Error::Checksum { .. }));
    // A newer minor version of the same major is read, and so is a 1.0 file.
    for minor in [7u16, 0] {
        let mut f = full.clone();
        f[6..8].copy_from_slice(&minor.to_le_bytes());
        assert!(Model::load(Aligned::new(&with_crc(f)).bytes()).is_ok());
    }
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

/// SplitMix64 as `docs/format.md` specifies the compact golden inputs (restated here
/// from the document, not taken from the runtime).
fn splitmix64(seed: u64, input: u64, n: usize) -> Vec<u64> {
    let mut s = seed ^ input.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

/// FNV-1a 64 as `docs/format.md` specifies the compact golden digest.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 14695981039346656037;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(1099511628211);
    }
    h
}

#[test]
fn golden_generator_and_digest_match_their_specification() {
    // Published test vectors: SplitMix64 from seed 0, FNV-1a 64 of "" / "a" / "foobar".
    assert_eq!(splitmix64(0, 0, 1)[0], 0xE220_A839_7B1D_CDAF);
    assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    assert_eq!(ferrite::format::fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    let mut i8s = [0u8; 11];
    assert!(ferrite::format::golden_input(7, 1, DType::I8, &mut i8s));
    let d = splitmix64(7, 1, 2);
    let want: Vec<u8> = d.iter().flat_map(|v| v.to_le_bytes()).take(11).collect();
    assert_eq!(&i8s[..], &want[..]);
    let mut f = [0u8; 12];
    assert!(ferrite::format::golden_input(7, 0, DType::F32, &mut f));
    for (c, z) in f.chunks_exact(4).zip(splitmix64(7, 0, 3)) {
        let v = f32::from_le_bytes(c.try_into().unwrap()) as f64;
        assert_eq!(v, (z >> 40) as f64 / 8388608.0 - 1.0);
    }
    assert!(!ferrite::format::golden_input(7, 0, DType::I32, &mut f));
}

#[test]
fn compact_golden_vectors_round_trip_and_detect_a_wrong_output() {
    // y = 0.5 x0 - 2 x1 on the generated input (both products exact: one rounding).
    let seed = 0x1234_5678_9abc_def0;
    let z = splitmix64(seed, 0, 2);
    let x: Vec<f32> = z
        .iter()
        .map(|&v| ((v >> 40) as f64 / 8388608.0 - 1.0) as f32)
        .collect();
    let y = x[0] * 0.5 + x[1] * -2.0;
    let mut b = tiny_builder();
    b.add_golden_digest(seed, vec![fnv(&y.to_le_bytes())]);
    b.add_golden_digest(seed, vec![fnv(&(y + 1.0).to_le_bytes())]);
    let f = b.finish().unwrap();
    let a = Aligned::new(&f);
    let m = Model::load(a.bytes()).unwrap();
    assert_eq!(m.num_golden(), 2);
    let mut s = ferrite::OwnedSession::new(&m);
    s.session().check_golden(0).unwrap();
    assert_eq!(
        s.session().check_golden(1),
        Err(Error::GoldenMismatch { index: 1 })
    );
    let mut input = [0u8; 8];
    m.golden_input(0, 0, &mut input).unwrap();
    let want: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(&input[..], &want[..]);
    // Full and compact vectors together: the full ones are numbered first.
    let mut b = tiny_builder();
    let xb: Vec<u8> = [1.0f32, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    b.add_golden(vec![xb], vec![(-1.5f32).to_le_bytes().to_vec()]);
    b.add_golden_digest(seed, vec![fnv(&y.to_le_bytes())]);
    let f = b.finish().unwrap();
    let a = Aligned::new(&f);
    let m = Model::load(a.bytes()).unwrap();
    let mut s = ferrite::OwnedSession::new(&m);
    s.session().check_golden(0).unwrap();
    s.session().check_golden(1).unwrap();
    assert!(m.golden(1).is_err());
    // A digest record without one digest per output does not load.
    let mut b = tiny_builder();
    b.add_golden_digest(seed, vec![]);
    let f = b.finish().unwrap();
    let a = Aligned::new(&f);
    assert!(matches!(Model::load(a.bytes()), Err(Error::Decode { .. })));
}

/// The wire encoding of `Op::Recurrent` (format 1.1): variant 27 (after `Lrn` and the NHWC engine ops), then
/// cell, direction, the activations (length, then `UnaryOp` indices) and the clip.
#[test]
fn recurrent_op_encoding_is_pinned() {
    use ferrite::format::types::{Cell, Direction, UnaryOp};
    let (sig, tanh) = (UnaryOp::Sigmoid, UnaryOp::Tanh);
    let lstm = Op::Recurrent {
        cell: Cell::Lstm,
        direction: Direction::Bidirectional,
        acts: heapless::Vec::from_slice(&[sig, tanh, tanh, sig, tanh, tanh]).unwrap(),
        clip: None,
    };
    assert_eq!(
        postcard::to_allocvec(&lstm).unwrap(),
        [27, 0, 2, 6, 4, 5, 5, 4, 5, 5, 0]
    );
    let gru = Op::Recurrent {
        cell: Cell::Gru {
            linear_before_reset: true,
        },
        direction: Direction::Reverse,
        acts: heapless::Vec::from_slice(&[sig, UnaryOp::Relu]).unwrap(),
        clip: Some(1.0),
    };
    assert_eq!(
        postcard::to_allocvec(&gru).unwrap(),
        [27, 1, 1, 1, 2, 4, 0, 1, 0, 0, 0x80, 0x3f]
    );
}

/// The wire encoding of `Op::GridSample` (format 1.3): variant 28 (after `Recurrent`),
/// then the mode, the padding mode and `align_corners`; a model using it is written as
/// minor 3.
#[test]
fn grid_sample_op_encoding_is_pinned() {
    use ferrite::format::types::{GridMode, GridPadding};
    let op = Op::GridSample {
        mode: GridMode::Cubic,
        padding: GridPadding::Reflection,
        align_corners: true,
    };
    assert_eq!(postcard::to_allocvec(&op).unwrap(), [28, 2, 2, 1]);
    assert_eq!(op.since_minor(), 3);
    let op = Op::GridSample {
        mode: GridMode::Nearest,
        padding: GridPadding::Zeros,
        align_corners: false,
    };
    assert_eq!(postcard::to_allocvec(&op).unwrap(), [28, 0, 0, 0]);
}

/// `BinaryOp::Fmod` (format 1.3) is variant 7 after `Pow`; only a Binary using it makes
/// a file 1.3.
#[test]
fn fmod_binary_encoding_is_pinned() {
    use ferrite::format::types::{Activation, BinaryOp};
    let bin = |op| Op::Binary {
        op,
        act: Activation::None,
        q: None,
    };
    // Binary is variant 7 of Op; then the BinaryOp, the activation (None = 0), q (None).
    assert_eq!(
        postcard::to_allocvec(&bin(BinaryOp::Fmod)).unwrap(),
        [7, 7, 0, 0]
    );
    assert_eq!(bin(BinaryOp::Fmod).since_minor(), 3);
    assert_eq!(bin(BinaryOp::Pow).since_minor(), 0);
}
