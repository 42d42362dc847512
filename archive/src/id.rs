//! Object identifiers: the SHA-256 of an object's uncompressed bytes (spec §4).

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The id of an object: SHA-256 of its uncompressed content, shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// Hashes a byte slice held in memory.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Hashes everything `reader` yields, streamed in 256 KiB reads.
    pub fn of_reader(reader: &mut dyn std::io::Read) -> std::io::Result<Self> {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            h.update(&buf[..n]);
        }
        Ok(Self::from_hasher(h))
    }

    /// Finishes a running hash.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Self(hasher.finalize().into())
    }

    /// The lowercase hex form used in member names and JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

/// The text was not 64 lowercase or uppercase hex digits.
#[derive(Debug, thiserror::Error)]
#[error("invalid object id {0:?}: expected 64 hex digits")]
pub struct ParseIdError(String);

impl FromStr for ObjectId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_hex32(s.as_bytes())
            .map(Self)
            .ok_or_else(|| ParseIdError(s.chars().take(80).collect()))
    }
}

/// 64 hex digits (either case) to 32 bytes. Written out rather than `hex::decode`,
/// which a perf profile of a single-file restore showed at 19% (every id of the index
/// and manifest is decoded on open).
fn decode_hex32(s: &[u8]) -> Option<[u8; 32]> {
    // Nibble values; 0xff marks a byte that is not a hex digit.
    const LUT: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (LUT[pair[0] as usize], LUT[pair[1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    // Valid nibbles are < 16, so any 0xff leaves high bits set.
    (bad & 0xf0 == 0).then_some(out)
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor instead of String::deserialize: no allocation per id. Indexes and
        // manifests hold one to three ids per file, and a single-file restore parses
        // all of them (a perf profile put this at 17% of such a restore).
        struct Hex;
        impl serde::de::Visitor<'_> for Hex {
            type Value = ObjectId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ObjectId, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_id_is_the_sha256_of_nothing() {
        assert_eq!(
            ObjectId::of_bytes(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_round_trips_and_rejects_bad_text() {
        let id = ObjectId::of_bytes(b"ca.crt");
        assert_eq!(id.to_hex().parse::<ObjectId>().unwrap(), id);
        assert!("abc".parse::<ObjectId>().is_err());
        assert!("zz".repeat(32).parse::<ObjectId>().is_err());
        let upper = id.to_hex().to_ascii_uppercase();
        assert_eq!(upper.parse::<ObjectId>().unwrap(), id);
        // A bad digit in the last position, and a multi-byte character.
        let mut bad = id.to_hex();
        bad.replace_range(63..64, "g");
        assert!(bad.parse::<ObjectId>().is_err());
        assert!(
            format!("{}é", &id.to_hex()[..62])
                .parse::<ObjectId>()
                .is_err()
        );
        let via_json: ObjectId = serde_json::from_str(&format!("\"{id}\"")).unwrap();
        assert_eq!(via_json, id);
        assert!(serde_json::from_str::<ObjectId>("\"00\"").is_err());
    }
}
