//! `ferrite keygen`, `ferrite sign`, `ferrite verify`: Ed25519 model signatures
//! (format: `docs/format.md`, SIGNATURE section; guarantees: `docs/security.md`).
//!
//! Key files are raw bytes: `NAME.secret` holds the 32-byte Ed25519 secret seed,
//! `NAME.pub` the 32-byte public key (embed it in firmware with `include_bytes!` and
//! wrap it in [`ferrite::PublicKey`]).

use crate::error::{read_file, write_file, Error, Result};
use ferrite::signature::sign::{public_key, sign, SignError};
use ferrite::{AlignedModel, Model, PublicKey, SignatureInfo, VerifyPolicy};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The signature subcommands, flattened into the `ferrite` command line.
#[derive(clap::Subcommand, Debug)]
pub enum TrustCommand {
    /// Create an Ed25519 key pair: PREFIX.secret (keep it private) and PREFIX.pub.
    #[command(after_help = "Example:
  ferrite keygen -o release-key      # writes release-key.secret and release-key.pub

Both files are raw bytes (32 each). Anyone holding the .secret file can sign models
your devices accept: keep it offline. The .secret file is created with mode 0600 on Unix.
Existing files are never overwritten unless --force is given.")]
    Keygen {
        /// Prefix of the key files (PREFIX.secret and PREFIX.pub).
        #[arg(short, long, value_name = "PREFIX")]
        output: PathBuf,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a .fer model with an Ed25519 secret key, stamping its model version.
    #[command(after_help = "Examples:
  ferrite sign model.fer --key release-key.secret --version 7 -o model.signed.fer
  ferrite sign model.fer --key release-key.secret --version 8      # signs in place

The signature covers the whole file (every byte but the header's CRC field and the
signature itself), including --version and the key id. A device calling
Model::load_verified_with refuses a version below the minimum it stores
(anti-rollback), so increase --version with every release. An existing signature is
replaced. The input must be a valid model.")]
    Sign {
        /// The model to sign.
        model: PathBuf,
        /// The secret key file written by `ferrite keygen` (PREFIX.secret).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The model version to stamp (0 to 2^64-1).
        #[arg(long, default_value = "0", value_name = "N")]
        version: u64,
        /// Where to write the signed model (default: replace MODEL).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a model's signature against trusted public keys (exit 1 if refused).
    #[command(after_help = "Examples:
  ferrite verify model.signed.fer --public release-key.pub
  ferrite verify model.signed.fer --public old.pub --public new.pub --min-version 7

Runs what a device runs (Model::load_verified_with): the signature, then the version
against --min-version, then every check of Model::load. Prints the key id and the
model version on success; otherwise names the refusal (unsigned, unknown key, bad
signature, version too old, invalid model) and exits with status 1.")]
    Verify {
        /// The model to check.
        model: PathBuf,
        /// A trusted public key file (PREFIX.pub); repeat for several keys.
        #[arg(long, value_name = "FILE", required = true)]
        public: Vec<PathBuf>,
        /// Refuse a model whose signed version is lower.
        #[arg(long, default_value = "0", value_name = "N")]
        min_version: u64,
    },
}

/// Runs one of the signature subcommands, printing its result.
pub fn run(cmd: TrustCommand) -> Result<ExitCode> {
    match cmd {
        TrustCommand::Keygen { output, force } => {
            let (secret, public) = keygen(&output, force)?;
            println!(
                "wrote {} (secret: keep it private) and {}",
                secret.display(),
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::Sign {
            model,
            key,
            version,
            output,
        } => {
            let out = output.unwrap_or_else(|| model.clone());
            let info = sign_file(&model, &key, version, &out)?;
            println!(
                "signed {} -> {}: key id {}, model version {}",
                model.display(),
                out.display(),
                hex(&info.key_id),
                info.model_version
            );
            Ok(ExitCode::SUCCESS)
        }
        TrustCommand::Verify {
            model,
            public,
            min_version,
        } => match verify_file(&model, &public, min_version)? {
            Ok(info) => {
                println!(
                    "ok: {} is signed by key id {}, model version {}",
                    model.display(),
                    hex(&info.key_id),
                    info.model_version
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("refused: {}: {e}", model.display());
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// Writes PREFIX.secret and PREFIX.pub; returns their paths.
pub fn keygen(prefix: &Path, force: bool) -> Result<(PathBuf, PathBuf)> {
    let secret = with_suffix(prefix, "secret");
    let public = with_suffix(prefix, "pub");
    for p in [&secret, &public] {
        if p.exists() && !force {
            return Err(Error::Usage(format!(
                "{} exists: choose another -o prefix or pass --force",
                p.display()
            )));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::Other(format!("no system randomness for the key: {e}")))?;
    write_secret(&secret, &seed)?;
    write_file(&public, &public_key(&seed).0)?;
    Ok((secret, public))
}

#[cfg(unix)]
fn write_secret(path: &Path, seed: &[u8; 32]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    // Remove first so a --force overwrite does not keep an old, wider mode.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(seed).map_err(io)
}

#[cfg(not(unix))]
fn write_secret(path: &Path, seed: &[u8; 32]) -> Result<()> {
    write_file(path, seed)
}

/// Signs the model at `model` with the secret key file `key`, writes it to `out`.
pub fn sign_file(model: &Path, key: &Path, version: u64, out: &Path) -> Result<SignatureInfo> {
    let seed = read_key(key, "secret key")?;
    let bytes = read_file(model)?;
    let signed = sign(&bytes, &seed, version).map_err(|e| match e {
        SignError::Invalid(e) => Error::Runtime(e),
        SignError::Write(e) => Error::Write(e.to_string()),
    })?;
    write_file(out, &signed)?;
    Ok(SignatureInfo {
        key_id: public_key(&seed).key_id(),
        model_version: version,
    })
}

/// Verifies the model at `model` against the public key files: the outer `Result`
/// is an I/O or usage error, the inner one the runtime's verdict.
pub fn verify_file(
    model: &Path,
    public: &[PathBuf],
    min_version: u64,
) -> Result<std::result::Result<SignatureInfo, ferrite::Error>> {
    let keys = public
        .iter()
        .map(|p| read_key(p, "public key").map(PublicKey))
        .collect::<Result<Vec<_>>>()?;
    let bytes = AlignedModel::new(&read_file(model)?);
    let policy = VerifyPolicy {
        keys: &keys,
        min_version,
    };
    Ok(Model::load_verified_with(bytes.bytes(), &policy)
        .and_then(|m| m.signature().ok_or(ferrite::Error::Unsigned)))
}

fn read_key(path: &Path, what: &str) -> Result<[u8; 32]> {
    let bytes = read_file(path)?;
    bytes.as_slice().try_into().map_err(|_| {
        Error::Usage(format!(
            "{} is not a {what} file from `ferrite keygen` (32 bytes, got {})",
            path.display(),
            bytes.len()
        ))
    })
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
