//! The key index stored next to a live snapshot at [`KEY_INDEX_PATH`]: one row per
//! live key of the db (key, type, project, name, kind, revisions, value size, how the
//! value is stored), so `ocpvault etcd ls` answers without decompressing and scanning
//! the db. JSON, zstd-compressed, with a format version; a newer version fails cleanly
//! and archives without an index are read through a scan.

use super::bbolt::BoltDb;
use super::mvcc::{MvccError, Object, ReadOptions, read_state};
use super::values::{ValueKind, kind_of, sniff};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Seek, Write};

/// Where the index of a live snapshot is stored.
pub const KEY_INDEX_PATH: &str = "/.ocpvault/etcd/keys.json.zst";
/// The index format this code writes and reads.
pub const INDEX_VERSION: u32 = 1;
/// The largest decompressed index read: 1 GiB.
pub const MAX_INDEX_BYTES: u64 = 1024 * 1024 * 1024;

const ROOTS: [&str; 2] = ["/kubernetes.io/", "/openshift.io/"];

/// What a key says about its object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// `/kubernetes.io/<resource>/[<namespace>/]<name>` and the same under
/// `/openshift.io/`; a first segment with a dot is an API group
/// (`/kubernetes.io/apiregistration.k8s.io/apiservices/<name>`), extra middle
/// segments belong to the type (`services/specs`).
pub fn parse_key(key: &str) -> KeyParts {
    let Some(rest) = ROOTS.iter().find_map(|r| key.strip_prefix(r)) else {
        return KeyParts::default();
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    let mut resource = parts.remove(0).to_string();
    if resource.contains('.') && parts.len() >= 2 {
        resource = format!("{resource}/{}", parts.remove(0));
    }
    let (namespace, name) = match parts.as_slice() {
        [] => (None, None),
        [name] => (None, Some(name.to_string())),
        [.., ns, name] => {
            for extra in &parts[..parts.len() - 2] {
                resource = format!("{resource}/{extra}");
            }
            (Some(ns.to_string()), Some(name.to_string()))
        }
    };
    KeyParts {
        resource: Some(resource),
        namespace,
        name,
    }
}

/// One live key, as `etcd ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedKey {
    pub key: String,
    #[serde(flatten)]
    pub parts: KeyParts,
    pub kind: Option<String>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    pub size: u64,
    /// `protobuf`, `json`, `encrypted` or `raw`.
    pub encoding: String,
    pub encrypted: bool,
    /// `<provider>:<key name>` when encrypted.
    pub encryption: Option<String>,
}

impl IndexedKey {
    /// Describes one object from its key and the head of its value.
    pub fn describe(obj: &Object) -> Self {
        let key = String::from_utf8_lossy(&obj.key).into_owned();
        let kind = sniff(&obj.head);
        let encryption = match &kind {
            ValueKind::Encrypted { provider, key_name } => Some(format!("{provider}:{key_name}")),
            _ => None,
        };
        Self {
            parts: parse_key(&key),
            key,
            kind: kind_of(&obj.head),
            create_revision: obj.create_revision,
            mod_revision: obj.mod_revision,
            version: obj.version,
            lease: obj.lease,
            size: obj.size,
            encoding: kind.as_str().to_string(),
            encrypted: encryption.is_some(),
            encryption,
        }
    }
}

/// The index of one db.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIndex {
    pub version: u32,
    /// The newest revision in the db: the revision the rows describe.
    pub revision: i64,
    pub compacted_revision: i64,
    pub keys: Vec<IndexedKey>,
}

/// Why an index cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{KEY_INDEX_PATH}: {0}")]
    Read(String),
    #[error(
        "{KEY_INDEX_PATH}: index format version {found} is newer than version {INDEX_VERSION}, which this ocpvault reads"
    )]
    Newer { found: u32 },
}

/// Builds the index of the newest state of `db` (no salvage: a damaged db has none).
pub fn build_index<R: Read + Seek>(db: &mut BoltDb<R>) -> Result<KeyIndex, MvccError> {
    let state = read_state(
        db,
        &ReadOptions {
            at: None,
            want_value: &|_| false,
            salvage: false,
        },
    )?;
    Ok(KeyIndex {
        version: INDEX_VERSION,
        revision: state.revision,
        compacted_revision: state.compacted,
        keys: state.objects.values().map(IndexedKey::describe).collect(),
    })
}

/// Writes the index as zstd-compressed JSON.
pub fn write_index(index: &KeyIndex, out: impl Write) -> io::Result<()> {
    let mut enc = zstd::Encoder::new(out, 3)?;
    serde_json::to_writer(&mut enc, index)?;
    enc.finish()?;
    Ok(())
}

/// Reads an index written by [`write_index`], at most [`MAX_INDEX_BYTES`] of JSON.
pub fn read_index(input: impl Read) -> Result<KeyIndex, IndexError> {
    let dec = zstd::Decoder::new(input).map_err(|e| IndexError::Read(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_reader(dec.take(MAX_INDEX_BYTES))
        .map_err(|e| IndexError::Read(e.to_string()))?;
    let found = value
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| IndexError::Read("no format version".into()))?;
    if found > u64::from(INDEX_VERSION) {
        return Err(IndexError::Newer {
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_value(value).map_err(|e| IndexError::Read(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_type_namespace_name() {
        let p = parse_key("/kubernetes.io/secrets/p1/s1");
        assert_eq!(p.resource.as_deref(), Some("secrets"));
        assert_eq!(p.namespace.as_deref(), Some("p1"));
        assert_eq!(p.name.as_deref(), Some("s1"));
        let p = parse_key("/openshift.io/deploymentconfigs/p1/dc");
        assert_eq!(p.resource.as_deref(), Some("deploymentconfigs"));
        let p = parse_key("/kubernetes.io/namespaces/p1");
        assert_eq!((p.namespace, p.name.as_deref()), (None, Some("p1")));
        let p = parse_key("/kubernetes.io/services/specs/p1/web");
        assert_eq!(p.resource.as_deref(), Some("services/specs"));
        let p = parse_key("/kubernetes.io/apiregistration.k8s.io/apiservices/v1.apps");
        assert_eq!(
            p.resource.as_deref(),
            Some("apiregistration.k8s.io/apiservices")
        );
        assert_eq!((p.namespace, p.name.as_deref()), (None, Some("v1.apps")));
        assert_eq!(parse_key("/ocpvault-test/x"), KeyParts::default());
    }

    fn sample() -> KeyIndex {
        let obj = Object {
            key: b"/kubernetes.io/secrets/p/s".to_vec(),
            create_revision: 3,
            mod_revision: 9,
            version: 2,
            lease: 0,
            size: 40,
            head: b"k8s:enc:aescbc:v1:key1:xxxx".to_vec(),
            value: None,
        };
        KeyIndex {
            version: INDEX_VERSION,
            revision: 12,
            compacted_revision: 5,
            keys: vec![IndexedKey::describe(&obj)],
        }
    }

    #[test]
    fn index_round_trips() {
        let index = sample();
        assert_eq!(index.keys[0].encryption.as_deref(), Some("aescbc:key1"));
        let mut buf = Vec::new();
        write_index(&index, &mut buf).unwrap();
        assert_eq!(read_index(&buf[..]).unwrap(), index);
    }

    #[test]
    fn newer_or_damaged_index_fails_cleanly() {
        let mut index = sample();
        index.version = INDEX_VERSION + 1;
        let mut buf = Vec::new();
        write_index(&index, &mut buf).unwrap();
        let err = read_index(&buf[..]).unwrap_err().to_string();
        assert!(err.contains("is newer than version 1"), "{err}");
        assert!(read_index(&buf[..buf.len() / 2]).is_err());
        assert!(read_index(&b"not zstd"[..]).is_err());
    }
}
