//! Signed models: `Model::load_verified` accepts a file signed by a trusted key and
//! refuses every other case with its own error (docs/security.md).

use ferrite::format::types::{Op, UnaryOp};
use ferrite::format::write::{container, ModelBuilder};
use ferrite::format::{file_crc, kind, Container, SECTION_REQUIRED};
use ferrite::signature::sign::{public_key, sign};
use ferrite::{AlignedModel, DType, Error, Model, PublicKey, Quant, Session, VerifyPolicy};

const SEED: [u8; 32] = [0x42; 32];
const OTHER_SEED: [u8; 32] = [0x17; 32];

/// ReLU over 4 floats with one golden vector (computed by hand below).
fn unsigned() -> Vec<u8> {
    let mut b = ModelBuilder::new("relu");
    let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    let y = b.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
    b.add_op(Op::Unary { op: UnaryOp::Relu }, &[x], &[y])
        .unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let xs: Vec<u8> = [-1.5f32, 0.0, 2.0, -0.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let ys: Vec<u8> = [0.0f32, 0.0, 2.0, 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    b.add_golden(vec![xs], vec![ys]);
    b.finish().unwrap()
}

fn fix_crc(f: &mut [u8]) {
    let crc = file_crc(f);
    f[16..20].copy_from_slice(&crc.to_le_bytes());
}

fn verified(bytes: &[u8], keys: &[PublicKey], min_version: u64) -> Result<(), Error> {
    let a = AlignedModel::new(bytes);
    let m = Model::load_verified_with(a.bytes(), &VerifyPolicy { keys, min_version })?;
    // A verified model runs and reproduces its golden vector.
    let mut arena = vec![0u8; m.arena_size() + 16];
    Session::new(&m, &mut arena)?.check_golden(0)
}

/// (offset, len) of the SIGNATURE section.
fn sig_section(f: &[u8]) -> (usize, usize) {
    let c = Container::parse(f).unwrap();
    let e = c.sections().find(|e| e.kind == kind::SIGNATURE).unwrap();
    (e.offset as usize, e.len as usize)
}

#[test]
fn rfc8032_test1_public_key() {
    // RFC 8032 section 7.1, TEST 1: the keygen derivation matches the standard.
    let seed: [u8; 32] = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let pk: [u8; 32] = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert_eq!(public_key(&seed).0, pk);
}

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn right_key_loads_and_runs() {
    let signed = sign(&unsigned(), &SEED, 3).unwrap();
    let key = public_key(&SEED);
    verified(&signed, &[key], 0).unwrap();
    verified(&signed, &[key], 3).unwrap();
    // Key rotation: any trusted key may have signed.
    verified(&signed, &[public_key(&OTHER_SEED), key], 0).unwrap();
    let a = AlignedModel::new(&signed);
    let m = Model::load(a.bytes()).unwrap();
    let info = m.signature().unwrap();
    assert_eq!(info.model_version, 3);
    assert_eq!(info.key_id, key.0[..8]);
    assert!(Model::load(AlignedModel::new(&unsigned()).bytes())
        .unwrap()
        .signature()
        .is_none());
}

#[test]
fn signed_message_is_the_file_with_crc_and_signature_zeroed() {
    // Independent check of the documented message with the Ed25519 crate directly.
    let signed = sign(&unsigned(), &SEED, 9).unwrap();
    let (at, len) = sig_section(&signed);
    assert_eq!(len, 96);
    assert_eq!(at + len, signed.len());
    let sig = ed25519_compact::Signature::from_slice(&signed[at + 32..at + 96]).unwrap();
    let mut msg = signed.clone();
    msg[16..20].fill(0);
    msg[at + 32..at + 96].fill(0);
    let pk = ed25519_compact::PublicKey::new(public_key(&SEED).0);
    pk.verify(&msg, &sig).unwrap();
    // Header fields of the section: scheme 1, version, key id.
    assert_eq!(signed[at..at + 4], 1u32.to_le_bytes());
    assert_eq!(signed[at + 8..at + 16], 9u64.to_le_bytes());
    assert_eq!(signed[at + 16..at + 24], public_key(&SEED).0[..8]);
    // The CRC still covers the whole file.
    assert_eq!(
        u32::from_le_bytes(signed[16..20].try_into().unwrap()),
        file_crc(&signed)
    );
}

#[test]
fn wrong_key_is_unknown_key() {
    let signed = sign(&unsigned(), &SEED, 1).unwrap();
    assert_eq!(
        verified(&signed, &[public_key(&OTHER_SEED)], 0),
        Err(Error::UnknownKey)
    );
    assert_eq!(verified(&signed, &[], 0), Err(Error::UnknownKey));
    // A different key that happens to share the key id: the signature does not verify.
    let mut impostor = public_key(&OTHER_SEED);
    impostor.0[..8].copy_from_slice(&public_key(&SEED).0[..8]);
    assert_eq!(verified(&signed, &[impostor], 0), Err(Error::BadSignature));
}

#[test]
fn any_flipped_byte_is_refused() {
    let signed = sign(&unsigned(), &SEED, 1).unwrap();
    let key = [public_key(&SEED)];
    let (at, _) = sig_section(&signed);
    let table_end = 32 + 16 * usize::from(u16::from_le_bytes([signed[20], signed[21]]));
    for i in 0..signed.len() {
        for fix in [false, true] {
            if fix && (16..20).contains(&i) {
                continue; // recomputing the CRC would undo the flip
            }
            let mut f = signed.clone();
            f[i] ^= 0x01;
            if fix {
                fix_crc(&mut f);
            }
            let r = verified(&f, &key, 0);
            assert!(
                r.is_err(),
                "byte {i} flipped (crc fixed: {fix}) still verifies"
            );
            let covered_body = (table_end..at).contains(&i) || (at + 32..at + 96).contains(&i);
            if covered_body {
                // Whether or not the attacker fixes the CRC: the signature fails first.
                assert_eq!(r, Err(Error::BadSignature), "byte {i}, crc fixed: {fix}");
            }
            if (at + 16..at + 24).contains(&i) {
                assert_eq!(r, Err(Error::UnknownKey), "key id byte {i}");
            }
        }
    }
    // The CRC field is outside the signature; `load` still checks it.
    let mut f = signed.clone();
    f[17] ^= 0x10;
    assert!(matches!(verified(&f, &key, 0), Err(Error::Checksum { .. })));
}

#[test]
fn stripped_signature_is_unsigned_and_still_loads_unverified() {
    let signed = sign(&unsigned(), &SEED, 1).unwrap();
    let c = Container::parse(&signed).unwrap();
    let stripped = container(
        &c.sections()
            .filter(|e| e.kind != kind::SIGNATURE)
            .map(|e| {
                (
                    e.kind,
                    e.flags & SECTION_REQUIRED != 0,
                    c.section(e.kind).unwrap().to_vec(),
                )
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let key = [public_key(&SEED)];
    assert_eq!(verified(&stripped, &key, 0), Err(Error::Unsigned));
    assert_eq!(verified(&unsigned(), &key, 0), Err(Error::Unsigned));
    // Compatibility: unsigned files load with `Model::load` as before.
    Model::load(AlignedModel::new(&stripped).bytes()).unwrap();
    Model::load(AlignedModel::new(&unsigned()).bytes()).unwrap();
}

#[test]
fn lower_version_is_refused() {
    let key = [public_key(&SEED)];
    let v4 = sign(&unsigned(), &SEED, 4).unwrap();
    assert_eq!(
        verified(&v4, &key, 5),
        Err(Error::VersionTooOld { version: 4, min: 5 })
    );
    verified(&v4, &key, 4).unwrap();
    // The version is signed: editing it breaks the signature.
    let (at, _) = sig_section(&v4);
    let mut bumped = v4.clone();
    bumped[at + 8] = 9;
    fix_crc(&mut bumped);
    assert_eq!(verified(&bumped, &key, 5), Err(Error::BadSignature));
    // Errors are distinct values with distinct codes.
    let codes = [
        Error::Unsigned.code(),
        Error::UnknownKey.code(),
        Error::BadSignature.code(),
        Error::VersionTooOld { version: 0, min: 1 }.code(),
    ];
    for (i, a) in codes.iter().enumerate() {
        assert!(!codes[i + 1..].contains(a));
    }
}

#[test]
fn resigning_replaces_the_signature() {
    let v1 = sign(&unsigned(), &SEED, 1).unwrap();
    let v2 = sign(&v1, &OTHER_SEED, 2).unwrap();
    assert_eq!(v2.len(), v1.len());
    assert_eq!(
        verified(&v2, &[public_key(&SEED)], 0),
        Err(Error::UnknownKey)
    );
    verified(&v2, &[public_key(&OTHER_SEED)], 2).unwrap();
}

#[test]
fn malformed_signature_section_is_bad_section() {
    let signed = sign(&unsigned(), &SEED, 1).unwrap();
    let (at, _) = sig_section(&signed);
    let mut f = signed.clone();
    f[at] = 2; // unknown scheme
    fix_crc(&mut f);
    let bad = Err(Error::BadSection {
        section: ferrite::Section::Signature,
    });
    assert_eq!(verified(&f, &[public_key(&SEED)], 0), bad);
    assert_eq!(Model::load(AlignedModel::new(&f).bytes()).map(|_| ()), bad);
}

#[test]
fn owned_model_verifies_before_it_validates() {
    let signed = sign(&unsigned(), &SEED, 3).unwrap();
    let keys = [public_key(&SEED)];
    let policy = VerifyPolicy {
        keys: &keys,
        min_version: 3,
    };
    // Any alignment: an odd offset into a larger buffer.
    let mut odd = vec![0u8; signed.len() + 1];
    odd[1..].copy_from_slice(&signed);
    let owned = ferrite::OwnedModel::new_verified(&odd[1..], &policy).unwrap();
    assert_eq!(owned.bytes(), &signed[..]);
    assert_eq!(owned.model().signature().unwrap().model_version, 3);
    // A flipped byte is a bad signature, not the checksum error `OwnedModel::new` gives.
    let mut flipped = signed.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    assert!(matches!(
        ferrite::OwnedModel::new(&flipped),
        Err(Error::Checksum { .. })
    ));
    assert_eq!(
        ferrite::OwnedModel::new_verified(&flipped, &policy).unwrap_err(),
        Error::BadSignature
    );
    let old = VerifyPolicy {
        keys: &keys,
        min_version: 4,
    };
    assert_eq!(
        ferrite::OwnedModel::new_verified(&signed, &old).unwrap_err(),
        Error::VersionTooOld { version: 3, min: 4 }
    );
}

/// The file's sections, rewritten with header minor `minor` (and an extra section).
fn with_minor(file: &[u8], minor: u16, extra: Option<(u16, Vec<u8>)>) -> Vec<u8> {
    let a = AlignedModel::new(file);
    let c = Container::parse(a.bytes()).unwrap();
    let mut sections: Vec<(u16, bool, Vec<u8>)> = c
        .sections()
        .map(|e| {
            let bytes = c.section(e.kind).unwrap().to_vec();
            (e.kind, e.flags & SECTION_REQUIRED != 0, bytes)
        })
        .collect();
    sections.extend(extra.map(|(k, b)| (k, false, b)));
    let mut out = ferrite::format::write::container_exact(&sections, minor).unwrap();
    fix_crc(&mut out);
    out
}

#[test]
fn signing_keeps_the_format_minor_version() {
    for minor in [0u16, 1, 2] {
        let file = with_minor(&unsigned(), minor, None);
        let signed = sign(&file, &SEED, 1).unwrap();
        let a = AlignedModel::new(&signed);
        let c = Container::parse(a.bytes()).unwrap();
        assert_eq!(c.header.minor, minor, "signed copy of a 1.{minor} file");
        assert_eq!(verified(&signed, &[public_key(&SEED)], 0), Ok(()));
    }
}

/// Found by the load_verified fuzz target: a 1.0 file carrying a kind-5 section (which
/// a 1.0 reader ignores) was signed as a 1.1 file, whose FEATURE_STATS then failed to
/// decode, so the signed copy of a loadable file did not load.
#[test]
fn a_1_0_file_with_an_undecodable_kind_5_section_loads_signed_too() {
    let file = with_minor(&unsigned(), 0, Some((kind::FEATURE_STATS, vec![0xee; 37])));
    let a = AlignedModel::new(&file);
    assert!(Model::load(a.bytes()).is_ok(), "1.0 ignores kind 5");
    let signed = sign(&file, &SEED, 3).unwrap();
    assert_eq!(verified(&signed, &[public_key(&SEED)], 3), Ok(()));
}
