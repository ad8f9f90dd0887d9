//! Signing a model file (host side: `ferrite sign`).

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
