//! The age encryption layer: an archive stream written through age's STREAM
//! (64 KiB chunks) and read back seekably, so `cat` and selective restore decrypt only
//! the chunks they need.
//!
//! Encrypted archives are ordinary age v1 files: the age CLI decrypts them, and
//! ocpvault reads files the age CLI encrypted. Hosts need only public keys
//! (recipients) to write; reading needs an identity file, an ssh private key or the
//! passphrase.

pub mod stream_writer;

use crate::{ReadSeek, Sink};
use age::secrecy::SecretString;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek};
use std::path::{Path, PathBuf};

/// The first bytes of every age v1 file.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/";
/// Highest scrypt work factor (log2 N) accepted when decrypting with a passphrase.
const MAX_SCRYPT_WORK_FACTOR: u8 = 22;
/// age payload chunk size (64 KiB) plus its 16-byte tag: one chunk on disk.
const AGE_CHUNK_ON_DISK: usize = 64 * 1024 + 16;

/// Errors of the encryption layer. Messages never include key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("recipient {0:?}: not an age (age1...) or ssh-ed25519/ssh-rsa public key")]
    BadRecipient(String),
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{path}: no identity matched; the archive was encrypted to other recipients")]
    NoMatchingKey { path: PathBuf },
    #[error("{path}: the archive is encrypted with a passphrase, not to a recipient")]
    NeedsPassphrase { path: PathBuf },
    #[error("{path}: the archive is encrypted to recipients, not a passphrase")]
    NotPassphrase { path: PathBuf },
    #[error("{path}: cannot decrypt: {why}")]
    Decrypt { path: PathBuf, why: String },
}

/// How a new archive is encrypted.
pub enum EncryptKey {
    Recipients(Vec<Box<dyn age::Recipient + Send>>),
    Passphrase(SecretString),
}

/// How an archive is decrypted.
#[derive(Default)]
pub struct DecryptKeys {
    pub identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    pub passphrase: Option<SecretString>,
}

/// Parses one public key: `age1...`, `ssh-ed25519 ...` or `ssh-rsa ...`.
pub fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send>, CryptoError> {
    let text = text.trim();
    if text.starts_with("age1") {
        return text
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|_| CryptoError::BadRecipient(shorten(text)));
    }
    if text.starts_with("ssh-") {
        return text
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|_| CryptoError::BadRecipient(shorten(text)));
    }
    Err(CryptoError::BadRecipient(shorten(text)))
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Reads an age recipients file: one key per line, `#` comments and blank lines
/// ignored (the format of `age -R`).
pub fn read_recipients_file(
    path: &Path,
) -> Result<Vec<Box<dyn age::Recipient + Send>>, CryptoError> {
    let text = std::fs::read_to_string(path).map_err(|e| CryptoError::File {
        path: path.into(),
        why: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_recipient(line).map_err(|_| CryptoError::File {
            path: path.into(),
            why: format!("line {}: not an age or ssh public key", n + 1),
        })?);
    }
    if out.is_empty() {
        return Err(CryptoError::File {
            path: path.into(),
            why: "no recipients in file".into(),
        });
    }
    Ok(out)
}

/// Loads an age identity file (`AGE-SECRET-KEY-1...` lines) or an unencrypted ssh
/// private key (ed25519 or rsa).
pub fn load_identity_file(
    path: &Path,
) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, CryptoError> {
    let err = |why: String| CryptoError::File {
        path: path.into(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if let Ok(file) = age::IdentityFile::from_buffer(&bytes[..]) {
        if let Ok(ids) = file.into_identities() {
            if !ids.is_empty() {
                return Ok(ids);
            }
        }
    }
    match age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string())) {
        Ok(age::ssh::Identity::Unencrypted(k)) => {
            Ok(vec![Box::new(age::ssh::Identity::Unencrypted(k))])
        }
        Ok(age::ssh::Identity::Encrypted(_)) => Err(err(
            "passphrase-protected ssh keys are not supported; use an unencrypted key or an age identity file".into(),
        )),
        Ok(age::ssh::Identity::Unsupported(_)) => Err(err("unsupported ssh key type".into())),
        Err(_) => Err(err(
            "not an age identity file or ssh private key".into(),
        )),
    }
}

/// Wraps the archive file in age encryption: this crate's own age v1 writer
/// ([`stream_writer`]), which can patch the headers of large members in place.
pub fn encrypting_sink(out: BufWriter<File>, key: &EncryptKey) -> io::Result<Box<dyn Sink>> {
    let file = out.into_inner().map_err(|e| e.into_error())?;
    match key {
        EncryptKey::Recipients(rs) => {
            let rs: Vec<&dyn age::Recipient> = rs
                .iter()
                .map(|r| r.as_ref() as &dyn age::Recipient)
                .collect();
            stream_writer::age_sink(file, &rs)
        }
        EncryptKey::Passphrase(p) => {
            let r = age::scrypt::Recipient::new(p.clone());
            stream_writer::age_sink(file, &[&r as &dyn age::Recipient])
        }
    }
}

/// True when the file starts with the age magic.
pub fn is_age_file(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 19];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(is_age_header(&head[..n]))
}

/// True when `head` (a file's first bytes) starts with the age magic: how every
/// command tells an encrypted archive from a plain one, whatever its name says.
pub fn is_age_header(head: &[u8]) -> bool {
    head.starts_with(AGE_MAGIC)
}

/// Opens an age-encrypted archive file as a seekable plaintext stream.
pub fn open_encrypted(path: &Path, keys: &DecryptKeys) -> Result<Box<dyn ReadSeek>, CryptoError> {
    let file = File::open(path).map_err(|e| CryptoError::File {
        path: path.into(),
        why: e.to_string(),
    })?;
    decrypting_reader(
        path,
        BufReader::with_capacity(AGE_CHUNK_ON_DISK, file),
        keys,
    )
}

/// Decrypts any seekable age stream; `path` names it in messages.
pub fn decrypting_reader<R: Read + Seek + Send + 'static>(
    path: &Path,
    inner: R,
    keys: &DecryptKeys,
) -> Result<Box<dyn ReadSeek>, CryptoError> {
    let dec = age::Decryptor::new(inner).map_err(|e| CryptoError::Decrypt {
        path: path.into(),
        why: e.to_string(),
    })?;
    let reader = if dec.is_scrypt() {
        let pass = keys
            .passphrase
            .clone()
            .ok_or_else(|| CryptoError::NeedsPassphrase { path: path.into() })?;
        let mut id = age::scrypt::Identity::new(pass);
        // Accept the work factors other age tools write (the age CLI uses 18)
        // instead of the crate's machine-calibrated default.
        id.set_max_work_factor(MAX_SCRYPT_WORK_FACTOR);
        dec.decrypt(std::iter::once(&id as &dyn age::Identity))
    } else {
        if keys.identities.is_empty() {
            return Err(if keys.passphrase.is_some() {
                CryptoError::NotPassphrase { path: path.into() }
            } else {
                CryptoError::NoMatchingKey { path: path.into() }
            });
        }
        dec.decrypt(
            keys.identities
                .iter()
                .map(|i| i.as_ref() as &dyn age::Identity),
        )
    };
    match reader {
        Ok(r) => Ok(Box::new(TamperReport { inner: r, pos: 0 })),
        Err(age::DecryptError::NoMatchingKeys) => {
            Err(CryptoError::NoMatchingKey { path: path.into() })
        }
        Err(age::DecryptError::DecryptionFailed) if keys.passphrase.is_some() => {
            Err(CryptoError::Decrypt {
                path: path.into(),
                why: "wrong passphrase".into(),
            })
        }
        Err(e) => Err(CryptoError::Decrypt {
            path: path.into(),
            why: e.to_string(),
        }),
    }
}

/// Plaintext bytes per age STREAM chunk (64 KiB, age spec).
const AGE_PLAIN_CHUNK: u64 = 64 * 1024;

/// An encrypted chunk that fails authentication: the archive was damaged or
/// tampered with after it was written. Carried inside the `io::Error` a read
/// returns, so callers (verify) can tell it from other failures.
#[derive(Debug, thiserror::Error)]
#[error("archive is damaged or tampered: {where_} fails authentication")]
pub struct Tampered {
    /// Which chunk: `encrypted chunk N (plaintext bytes from X)`, or the last one.
    pub where_: String,
}

impl Tampered {
    fn at_chunk(chunk: u64) -> Self {
        Self {
            where_: format!(
                "encrypted chunk {chunk} (plaintext bytes from {})",
                chunk * AGE_PLAIN_CHUNK
            ),
        }
    }

    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// True when `e` or an error in its source chain is a [`Tampered`] chunk.
pub fn is_tampered(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<Tampered>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io
                .get_ref()
                .is_some_and(|i| i.downcast_ref::<Tampered>().is_some())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Wraps the decrypting reader to turn age's bare "decryption error" into a
/// [`Tampered`] error that says where (chunk and plaintext offset).
struct TamperReport<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for TamperReport<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.pos += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err(Tampered::at_chunk(self.pos / AGE_PLAIN_CHUNK).into_io())
            }
            Err(e) => Err(e),
        }
    }
}

impl<R: Seek> Seek for TamperReport<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        // Seeking decrypts the chunk it lands in (from the end: the last chunk, to
        // learn the length), so a damaged chunk can surface here too.
        match self.inner.seek(to) {
            Ok(pos) => {
                self.pos = pos;
                Ok(pos)
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(match to {
                io::SeekFrom::Start(n) => Tampered::at_chunk(n / AGE_PLAIN_CHUNK),
                _ => Tampered {
                    where_: "the last encrypted chunk".into(),
                },
            }
            .into_io()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::io::Write;

    #[test]
    fn recipients_parse_and_bad_ones_are_named() {
        let id = age::x25519::Identity::generate();
        let public = id.to_public().to_string();
        assert!(parse_recipient(&public).is_ok());
        let err = parse_recipient("age1notakey").err().unwrap().to_string();
        assert!(err.contains("age1notakey"));
        assert!(parse_recipient("hello").is_err());
        assert!(!id.to_string().expose_secret().is_empty());
    }

    #[test]
    fn encrypt_then_seek_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let path = dir.path().join("x.age");
        let key = EncryptKey::Recipients(vec![Box::new(id.to_public())]);
        let mut sink = encrypting_sink(BufWriter::new(File::create(&path).unwrap()), &key).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        sink.write_all(&data).unwrap();
        sink.finish().unwrap();
        assert!(is_age_file(&path).unwrap());
        let keys = DecryptKeys {
            identities: vec![Box::new(id)],
            passphrase: None,
        };
        let mut r = open_encrypted(&path, &keys).unwrap();
        r.seek(io::SeekFrom::Start(200_000)).unwrap();
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &data[200_000..200_010]);
        let wrong = DecryptKeys {
            identities: vec![Box::new(age::x25519::Identity::generate())],
            passphrase: None,
        };
        assert!(matches!(
            open_encrypted(&path, &wrong),
            Err(CryptoError::NoMatchingKey { .. })
        ));
    }
}
