//! Byte strings in JSON (spec §5.1): UTF-8 as a plain string, anything else as
//! `{"base64": "..."}`, so that non-UTF-8 file names survive a round trip.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An arbitrary byte string, such as a Linux path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteString(pub Vec<u8>);

impl ByteString {
    /// The bytes as an OS path.
    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.0))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&Path> for ByteString {
    fn from(p: &Path) -> Self {
        Self(p.as_os_str().as_bytes().to_vec())
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl fmt::Display for ByteString {
    /// Lossy display for messages; never used to write data back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Binary { base64: String },
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => Repr::Binary {
                base64: STANDARD.encode(&self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(Self(t.into_bytes())),
            Repr::Binary { base64 } => STANDARD
                .decode(base64)
                .map(Self)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Serde helper for `Vec<u8>` fields stored as a base64 string (xattr values).
pub mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_a_plain_string_and_other_bytes_are_base64() {
        let text = ByteString::from("/etc/origin/node/system:node:m0.crt");
        assert_eq!(
            serde_json::to_string(&text).unwrap(),
            "\"/etc/origin/node/system:node:m0.crt\""
        );
        let raw = ByteString(b"/etc/caf\xe9".to_vec());
        let json = serde_json::to_string(&raw).unwrap();
        assert_eq!(json, r#"{"base64":"L2V0Yy9jYWbp"}"#);
        let back: ByteString = serde_json::from_str(&json).unwrap();
        assert_eq!(back, raw);
    }
}
