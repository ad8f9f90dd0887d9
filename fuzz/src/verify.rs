//! `Model::load_verified` on hostile files (docs/security.md, "Signatures").
//!
//! Each input is a `.fer` file and its trailer. The harness:
//! - verifies the input as it is against the fuzz key: it must not panic, and an
//!   accepted file must also pass `Model::load` and report a signature;
//! - when `Model::load` accepts the model, signs it with the fuzz key at the version in
//!   the trailer, then changes one byte (position and XOR mask from the trailer):
//!   unchanged it must verify with that version, refuse a higher `min_version` with
//!   `VersionTooOld`, and be refused by another key with `UnknownKey`; changed anywhere
//!   it must be refused (never accepted).

use crate::fer;
use ferrite::signature::sign::{public_key, sign};
use ferrite::{AlignedModel, Error, Model, PublicKey, VerifyPolicy};

/// The fuzz signing key's secret seed (public: this is a test key).
pub const FUZZ_SEED: [u8; 32] = [0x5a; 32];

fn load(bytes: &[u8], keys: &[PublicKey], min_version: u64) -> Result<u64, Error> {
    let a = AlignedModel::new(bytes);
    let m = Model::load_verified_with(a.bytes(), &VerifyPolicy { keys, min_version })?;
    // An accepted file is a valid model and carries its signed header.
    Model::load(a.bytes()).expect("a verified model passes Model::load");
    Ok(m.signature()
        .expect("a verified model is signed")
        .model_version)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    for (i, x) in v.iter_mut().enumerate() {
        *x = b.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(v)
}

/// The `load_verified` harness.
pub fn load_verified(data: &[u8]) {
    let key = public_key(&FUZZ_SEED);
    let _ = load(data, &[key], 0);
    let (model, trailer) = fer::split(data);
    let version = u64_at(trailer, 0) >> 1;
    let pos = u64_at(trailer, 8) as usize;
    let mask = trailer.get(16).copied().unwrap_or(0);
    let Ok(signed) = sign(model, &FUZZ_SEED, version) else {
        return;
    };
    assert_eq!(load(&signed, &[key], version), Ok(version));
    assert_eq!(
        load(&signed, &[key], version + 1),
        Err(Error::VersionTooOld {
            version,
            min: version + 1
        })
    );
    let other = public_key(&[0xa5; 32]);
    assert_eq!(load(&signed, &[other], 0), Err(Error::UnknownKey));
    if mask != 0 {
        let mut changed = signed.clone();
        let at = pos % changed.len();
        changed[at] ^= mask;
        let r = load(&changed, &[key], 0);
        assert!(r.is_err(), "byte {at} ^ {mask:#04x} still verifies");
    }
}
