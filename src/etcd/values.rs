//! What an etcd value is, as the Kubernetes/OpenShift API server stores it, and the
//! decryption of values encrypted at rest.
//!
//! - `k8s:enc:<provider>:v1:<key name>:` then the ciphertext: encryption at rest.
//!   `aescbc`: a 16-byte IV, then AES-CBC with PKCS#7 padding. `aesgcm`: a 12-byte
//!   nonce, then AES-GCM whose additional authenticated data is the etcd key. The
//!   keys come from an EncryptionConfig (`resources[].providers[].aescbc|aesgcm.
//!   keys[].{name,secret}`, the secret base64). `kms` and `secretbox` values cannot
//!   be decrypted offline and say so.
//! - `k8s\0` then a protobuf `runtime.Unknown` (1 TypeMeta{1 apiVersion, 2 kind},
//!   2 raw, 3 contentEncoding, 4 contentType).
//! - `{`: JSON. Anything else: raw bytes.
//!
//! Decrypted bytes are returned to the caller only: never logged, never written to a
//! file; key material is never shown by `Debug`.

use super::mvcc::{Field, for_each_field};
use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use serde::Deserialize;

/// The prefix of every value encrypted at rest.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";
/// The prefix of a protobuf value.
pub const PROTOBUF_PREFIX: &[u8] = b"k8s\0";

const CBC_IV_BYTES: usize = 16;
const GCM_NONCE_BYTES: usize = 12;

/// How a value is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    Encrypted { provider: String, key_name: String },
    Protobuf,
    Json,
    Raw,
}

impl ValueKind {
    /// `encrypted`, `protobuf`, `json` or `raw`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Encrypted { .. } => "encrypted",
            Self::Protobuf => "protobuf",
            Self::Json => "json",
            Self::Raw => "raw",
        }
    }
}

/// Splits `k8s:enc:<provider>:v1:<name>:` off `value`: (provider, name, rest).
fn split_encrypted(value: &[u8]) -> Option<(String, String, &[u8])> {
    let rest = value.strip_prefix(ENCRYPTED_PREFIX)?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let provider = String::from_utf8_lossy(&rest[..colon]).into_owned();
    let rest = rest[colon + 1..].strip_prefix(b"v1:")?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let name = String::from_utf8_lossy(&rest[..colon]).into_owned();
    Some((provider, name, &rest[colon + 1..]))
}

/// Tells how `value` (or its first bytes) is stored.
pub fn sniff(value: &[u8]) -> ValueKind {
    if let Some((provider, key_name, _)) = split_encrypted(value) {
        ValueKind::Encrypted { provider, key_name }
    } else if value.starts_with(PROTOBUF_PREFIX) {
        ValueKind::Protobuf
    } else if value.first() == Some(&b'{') {
        ValueKind::Json
    } else {
        ValueKind::Raw
    }
}

/// A protobuf value's `runtime.Unknown` envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub api_version: String,
    pub kind: String,
    pub raw: Vec<u8>,
    pub content_encoding: String,
    pub content_type: String,
}

/// Decodes the envelope of a `k8s\0` value. With `partial`, a value cut short (the
/// head kept by the MVCC reader) yields what was decoded before the cut.
pub fn decode_envelope(value: &[u8], partial: bool) -> Result<Envelope, String> {
    let body = value
        .strip_prefix(PROTOBUF_PREFIX)
        .ok_or("no k8s protobuf prefix")?;
    let mut env = Envelope::default();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let res = for_each_field(body, |f| {
        match f {
            Field::Bytes(1, tm) => for_each_field(tm, |g| {
                match g {
                    Field::Bytes(1, v) => env.api_version = text(v),
                    Field::Bytes(2, v) => env.kind = text(v),
                    _ => {}
                }
                Ok(())
            })?,
            Field::Bytes(2, raw) => env.raw = raw.to_vec(),
            Field::Bytes(3, v) => env.content_encoding = text(v),
            Field::Bytes(4, v) => env.content_type = text(v),
            _ => {}
        }
        Ok(())
    });
    match res {
        Err(e) if !partial || env.kind.is_empty() => Err(e),
        _ => Ok(env),
    }
}

/// The `kind` of a JSON value from its first bytes: the API server writes
/// `{"kind":"...","apiVersion":...` first; anything else gives None.
pub fn json_kind(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head)
        .or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
        .ok()?;
    let at = text.find("\"kind\"")? + "\"kind\"".len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// The kind of an object from the first bytes of a plain (not encrypted) value.
pub fn kind_of(head: &[u8]) -> Option<String> {
    match sniff(head) {
        ValueKind::Protobuf => decode_envelope(head, true)
            .ok()
            .map(|e| e.kind)
            .filter(|k| !k.is_empty()),
        ValueKind::Json => json_kind(head),
        _ => None,
    }
}

/// The AES keys of an EncryptionConfig.
#[derive(Default)]
pub struct EncryptionKeys {
    keys: Vec<(Cipher, String, Vec<u8>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cipher {
    Cbc,
    Gcm,
}

impl std::fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .keys
            .iter()
            .map(|(c, n, _)| format!("{c:?}:{n}"))
            .collect();
        write!(f, "EncryptionKeys({names:?}, secrets redacted)")
    }
}

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    resources: Vec<ResourceConfig>,
}

#[derive(Deserialize)]
struct ResourceConfig {
    #[serde(default)]
    providers: Vec<ProviderConfig>,
}

#[derive(Deserialize)]
struct ProviderConfig {
    aescbc: Option<AesConfig>,
    aesgcm: Option<AesConfig>,
}

#[derive(Deserialize)]
struct AesConfig {
    #[serde(default)]
    keys: Vec<KeyConfig>,
}

#[derive(Deserialize)]
struct KeyConfig {
    name: String,
    secret: String,
}

impl EncryptionKeys {
    /// Reads the aescbc and aesgcm keys of an EncryptionConfig (YAML or JSON).
    /// Errors name the key, never its secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: Config = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = Vec::new();
        for p in cfg.resources.iter().flat_map(|r| &r.providers) {
            for (cipher, aes) in [(Cipher::Cbc, &p.aescbc), (Cipher::Gcm, &p.aesgcm)] {
                for k in aes.iter().flat_map(|a| &a.keys) {
                    let secret = base64::engine::general_purpose::STANDARD
                        .decode(k.secret.trim())
                        .map_err(|_| format!("key {}: secret is not base64", k.name))?;
                    if ![16, 24, 32].contains(&secret.len()) {
                        return Err(format!(
                            "key {}: secret is {} bytes, AES needs 16, 24 or 32",
                            k.name,
                            secret.len()
                        ));
                    }
                    keys.push((cipher, k.name.clone(), secret));
                }
            }
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, cipher: Cipher, name: &str) -> Option<&[u8]> {
        self.keys
            .iter()
            .find(|(c, n, _)| *c == cipher && n == name)
            .map(|(_, _, s)| s.as_slice())
    }
}

/// Why a value was not decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the value is not encrypted")]
    NotEncrypted,
    #[error(
        "{provider} values cannot be decrypted offline (they need the {provider} key that only the API server's {provider} provider holds)"
    )]
    Offline { provider: String },
    #[error("no {provider} key named {name} in the encryption configuration")]
    NoKey { provider: String, name: String },
    #[error("{provider} key {name} does not decrypt the value: {why}")]
    Failed {
        provider: String,
        name: String,
        why: &'static str,
    },
}

/// Decrypts a `k8s:enc:aescbc|aesgcm:v1:` value stored under `etcd_key`.
pub fn decrypt(
    value: &[u8],
    etcd_key: &[u8],
    keys: &EncryptionKeys,
) -> Result<Vec<u8>, DecryptError> {
    let (provider, name, data) = split_encrypted(value).ok_or(DecryptError::NotEncrypted)?;
    let cipher = match provider.as_str() {
        "aescbc" => Cipher::Cbc,
        "aesgcm" => Cipher::Gcm,
        _ => return Err(DecryptError::Offline { provider }),
    };
    let Some(secret) = keys.find(cipher, &name) else {
        return Err(DecryptError::NoKey { provider, name });
    };
    let out = match cipher {
        Cipher::Cbc => cbc_decrypt(secret, data),
        Cipher::Gcm => gcm_decrypt(secret, data, etcd_key),
    };
    out.map_err(|why| DecryptError::Failed {
        provider,
        name,
        why,
    })
}

fn cbc_decrypt(secret: &[u8], data: &[u8]) -> Result<Vec<u8>, &'static str> {
    if data.len() < 2 * CBC_IV_BYTES || data.len() % CBC_IV_BYTES != 0 {
        return Err("ciphertext is not whole AES blocks after the IV");
    }
    let (iv, ct) = data.split_at(CBC_IV_BYTES);
    let mut buf = ct.to_vec();
    let bad = "wrong key or damaged value (bad padding)";
    let n = match secret.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(secret, iv)
            .map_err(|_| "bad key length")?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| bad)?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(secret, iv)
            .map_err(|_| "bad key length")?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| bad)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(secret, iv)
            .map_err(|_| "bad key length")?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| bad)?
            .len(),
    };
    buf.truncate(n);
    Ok(buf)
}

fn gcm_decrypt(secret: &[u8], data: &[u8], aad: &[u8]) -> Result<Vec<u8>, &'static str> {
    if data.len() < GCM_NONCE_BYTES + 16 {
        return Err("shorter than a nonce and a tag");
    }
    let (nonce, msg) = data.split_at(GCM_NONCE_BYTES);
    let nonce = aes_gcm::Nonce::from_slice(nonce);
    let payload = Payload { msg, aad };
    let bad = "wrong key or damaged value (authentication failed)";
    match secret.len() {
        16 => aes_gcm::Aes128Gcm::new_from_slice(secret)
            .map_err(|_| "bad key length")?
            .decrypt(nonce, payload)
            .map_err(|_| bad),
        24 => aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(secret)
            .map_err(|_| "bad key length")?
            .decrypt(nonce, payload)
            .map_err(|_| bad),
        _ => aes_gcm::Aes256Gcm::new_from_slice(secret)
            .map_err(|_| "bad key length")?
            .decrypt(nonce, payload)
            .map_err(|_| bad),
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
