//! Signed models: an Ed25519 signature over the whole file, a key id and a monotonic
//! `model_version` (anti-rollback). Layout in `docs/format.md` (SIGNATURE section),
//! threat model in `docs/security.md`.
//!
//! The SIGNATURE section (kind 7, required) holds 96 bytes:
//!
//! ```text
//! 0  u32      scheme: 1 = Ed25519
//! 4  u32      reserved, zero
//! 8  u64      model_version
//! 16 [u8; 8]  key id: the first 8 bytes of the signer's public key
//! 24 [u8; 8]  reserved, zero
//! 32 [u8; 64] Ed25519 signature
//! ```
//!
//! The signed message is the file (`0..total_len`) with two fields read as zeros: the
//! header's CRC (bytes 16..20, computed after signing) and the 64 signature bytes.
//! Everything else — header, section table, every section, the version and the key id —
//! is covered.
//!
//! Verification ([`Model::load_verified`](crate::Model::load_verified), feature
//! `verify`) streams the file through SHA-512 in place: no copy, no allocation.

use crate::error::{Error, Result, Section};
use crate::format::{kind, Container};

/// Bytes of the SIGNATURE section.
pub const SIGNATURE_SECTION_LEN: usize = 96;
/// Signature scheme id of Ed25519 (the only one in format 1.0).
pub const SCHEME_ED25519: u32 = 1;
/// Offset of the 64 signature bytes inside the SIGNATURE section.
pub const SIGNATURE_OFFSET: usize = 32;

/// An Ed25519 public key (32 bytes, as written by `ferrite keygen` in `key.pub`).
///
/// `#[repr(transparent)]`: an array of keys has the layout of `n * 32` bytes, so the
/// bindings can lend a caller's key buffer to [`VerifyPolicy`] without copying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The key id a file signed with this key carries: the key's first 8 bytes.
    pub fn key_id(&self) -> [u8; 8] {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        id
    }
}

/// The signed header of a model's SIGNATURE section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Which key signed the file (first 8 bytes of its public key).
    pub key_id: [u8; 8],
    /// The model's version, chosen by the signer; devices refuse versions below the
    /// highest they have accepted (see [`VerifyPolicy::min_version`]).
    pub model_version: u64,
}

/// What [`Model::load_verified_with`](crate::Model::load_verified_with) requires.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPolicy<'k> {
    /// Trusted keys: a file signed by any of them is accepted (key rotation).
    pub keys: &'k [PublicKey],
    /// Lowest `model_version` accepted ([`Error::VersionTooOld`] below it). The
    /// device stores the highest version it has accepted in its own persistent
    /// storage and passes it here.
    pub min_version: u64,
}

/// Parses a SIGNATURE section: its signed header and the 64 signature bytes.
pub(crate) fn parse(section: &[u8]) -> Result<(SignatureInfo, &[u8])> {
    let bad = Error::BadSection {
        section: Section::Signature,
    };
    if section.len() != SIGNATURE_SECTION_LEN {
        return Err(bad);
    }
    let u32_at = |at: usize| {
        u32::from_le_bytes([
            section[at],
            section[at + 1],
            section[at + 2],
            section[at + 3],
        ])
    };
    if u32_at(0) != SCHEME_ED25519 || u32_at(4) != 0 || section[24..32].iter().any(|&b| b != 0) {
        return Err(bad);
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&section[8..16]);
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&section[16..24]);
    Ok((
        SignatureInfo {
            key_id,
            model_version: u64::from_le_bytes(version),
        },
        &section[SIGNATURE_OFFSET..],
    ))
}

/// The file offset of the SIGNATURE section, if the container has one.
#[cfg(feature = "verify")]
fn section_offset(c: &Container<'_>) -> Option<usize> {
    c.sections()
        .find(|e| e.kind == kind::SIGNATURE)
        .map(|e| e.offset as usize)
}

/// Checks the signature of `bytes` against `policy` without validating the model.
#[cfg(feature = "verify")]
pub(crate) fn verify(bytes: &[u8], policy: &VerifyPolicy<'_>) -> Result<SignatureInfo> {
    // Header and section table only: the CRC is excluded from the signature, and a
    // flipped byte must be reported as a bad signature, not as a checksum error.
    let c = Container::parse_with(bytes, false)?;
    let at = section_offset(&c).ok_or(Error::Unsigned)?;
    let section = c.section(kind::SIGNATURE).ok_or(Error::Unsigned)?;
    let (info, sig) = parse(section)?;
    let sig = ed25519_compact::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
    let file = c.bytes();
    let sig_at = at + SIGNATURE_OFFSET;
    let mut trusted = false;
    let mut ok = false;
    for key in policy.keys.iter().filter(|k| k.key_id() == info.key_id) {
        trusted = true;
        let Ok(pk) = ed25519_compact::PublicKey::from_slice(&key.0) else {
            continue;
        };
        let Ok(mut state) = pk.verify_incremental(&sig) else {
            continue;
        };
        state.absorb(&file[..16]);
        state.absorb([0u8; 4]);
        state.absorb(&file[20..sig_at]);
        state.absorb([0u8; 64]);
        state.absorb(&file[sig_at + 64..]);
        if state.verify().is_ok() {
            ok = true;
            break;
        }
    }
    if !trusted {
        return Err(Error::UnknownKey);
    }
    if !ok {
        return Err(Error::BadSignature);
    }
    if info.model_version < policy.min_version {
        return Err(Error::VersionTooOld {
            version: info.model_version,
            min: policy.min_version,
        });
    }
    Ok(info)
}

/// The signed header of a loaded model, `None` when it is unsigned.
pub(crate) fn info(c: &Container<'_>) -> Option<SignatureInfo> {
    parse(c.section(kind::SIGNATURE)?).ok().map(|(i, _)| i)
}

/// Signing (host side: `ferrite sign`).
#[cfg(all(feature = "verify", feature = "write"))]
pub mod sign {
    use super::{PublicKey, SCHEME_ED25519, SIGNATURE_OFFSET, SIGNATURE_SECTION_LEN};
    use crate::error::Error;
    use crate::format::write::{container_exact, WriteError};
    use crate::format::{file_crc, kind, Container, SECTION_REQUIRED};
    use alloc::vec::Vec;

    /// Why a file could not be signed.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum SignError {
        /// The input is not a valid model file.
        Invalid(Error),
        /// The signed file would exceed the format's size limit.
        Write(WriteError),
    }

    impl core::fmt::Display for SignError {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self {
                SignError::Invalid(e) => write!(f, "not a valid model: {e}"),
                SignError::Write(e) => write!(f, "cannot write the signed model: {e}"),
            }
        }
    }

    impl core::error::Error for SignError {}

    /// The public key of a 32-byte Ed25519 secret seed.
    pub fn public_key(seed: &[u8; 32]) -> PublicKey {
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        PublicKey(*kp.pk)
    }

    /// Signs a model file with the secret `seed`, stamping `model_version`: returns
    /// the file with a SIGNATURE section (any previous one is replaced). The input
    /// must pass `Model::load`.
    pub fn sign(file: &[u8], seed: &[u8; 32], model_version: u64) -> Result<Vec<u8>, SignError> {
        let aligned = crate::AlignedModel::new(file);
        crate::Model::load(aligned.bytes()).map_err(SignError::Invalid)?;
        let c = Container::parse(aligned.bytes()).map_err(SignError::Invalid)?;
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        let pk = PublicKey(*kp.pk);
        let mut sections: Vec<(u16, bool, Vec<u8>)> = c
            .sections()
            .filter(|e| e.kind != kind::SIGNATURE)
            .filter_map(|e| {
                let bytes = c.section(e.kind)?.to_vec();
                Some((e.kind, e.flags & SECTION_REQUIRED != 0, bytes))
            })
            .collect();
        let mut payload = alloc::vec![0u8; SIGNATURE_SECTION_LEN];
        payload[0..4].copy_from_slice(&SCHEME_ED25519.to_le_bytes());
        payload[8..16].copy_from_slice(&model_version.to_le_bytes());
        payload[16..24].copy_from_slice(&pk.key_id());
        sections.push((kind::SIGNATURE, true, payload));
        // The file's own minor version: the writer's default (0, or 1 with
        // FEATURE_STATS) would make a 1.1/1.2 file claim an older format, and would
        // make a 1.0 reader's ignored kind-5 section count in a 1.0 file.
        let mut out = container_exact(&sections, c.header.minor).map_err(SignError::Write)?;
        // `container` places the new section last; its payload ends the file.
        let sig_at = out.len() - SIGNATURE_SECTION_LEN + SIGNATURE_OFFSET;
        let mut message = out.clone();
        message[16..20].fill(0);
        let sig = kp.sk.sign(&message, None);
        out[sig_at..sig_at + 64].copy_from_slice(&sig[..]);
        let crc = file_crc(&out);
        out[16..20].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }
}
