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

/// The form of a path that is not UTF-8.
#[derive(Serialize)]
struct Binary {
    base64: String,
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => Binary {
                base64: STANDARD.encode(&self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        // A visitor rather than an untagged enum: an untagged enum buffers every value
        // before trying its variants, and every manifest path is a ByteString (a
        // single-file restore parses all of them).
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a string or {"base64": "..."}"#)
            }
            fn visit_str<E: Error>(self, s: &str) -> Result<ByteString, E> {
                Ok(ByteString(s.as_bytes().to_vec()))
            }
            fn visit_string<E: Error>(self, s: String) -> Result<ByteString, E> {
                Ok(ByteString(s.into_bytes()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ByteString, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "base64" {
                        return Err(A::Error::unknown_field(&key, &["base64"]));
                    }
                    if bytes.is_some() {
                        return Err(A::Error::duplicate_field("base64"));
                    }
                    let text: String = map.next_value()?;
                    bytes = Some(STANDARD.decode(text).map_err(A::Error::custom)?);
                }
                bytes
                    .map(ByteString)
                    .ok_or_else(|| A::Error::missing_field("base64"))
            }
        }
        d.deserialize_any(V)
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
        // Escaped text, and the malformed forms.
        let back: ByteString = serde_json::from_str(r#""/etc/a\"b""#).unwrap();
        assert_eq!(back.as_bytes(), b"/etc/a\"b");
        for bad in [
            r#"{"base64":"!!"}"#,
            r#"{"b64":"L2V0Yw=="}"#,
            r#"{"base64":"L2V0Yw==","base64":"L2V0Yw=="}"#,
            r#"{}"#,
            "7",
            "null",
        ] {
            assert!(serde_json::from_str::<ByteString>(bad).is_err(), "{bad}");
        }
    }
}
