//! A plain (already decrypted) etcd value as the API object `oc get -o json` prints:
//! JSON values as stored, protobuf values decoded through the type schemas, with
//! `metadata.resourceVersion` set from the key's mod revision in both cases.
//!
//! This is the one entry point `etcd get`, `etcd dump` and `project restore
//! --from-etcd` use to turn a value into an object.

use super::values::{ValueKind, decode_envelope, sniff};
use serde_json::Value;

/// An object decoded from a value, and what the decoding could not render.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The object, with apiVersion, kind and metadata.resourceVersion.
    pub object: Value,
    /// Parts that were kept as field numbers (an unknown type or field), one line each.
    pub notes: Vec<String>,
}

/// Why a value is not an object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("the JSON value does not parse: {0}")]
    Json(String),
    #[error("the JSON value is not an object")]
    NotAnObject,
    #[error("protobuf envelope: {0}")]
    Envelope(String),
    #[error("protobuf {kind} ({api_version}): {why}")]
    Protobuf {
        api_version: String,
        kind: String,
        why: String,
    },
    #[error("the value is encrypted at rest; decrypt it first")]
    Encrypted,
    #[error("the value is neither JSON nor protobuf ({0} bytes)")]
    Raw(usize),
}

/// Decodes a plain value stored under `key` at `mod_revision`.
pub fn to_api_object(key: &str, plain: &[u8], mod_revision: i64) -> Result<Decoded, ObjectError> {
    let mut decoded = match sniff(plain) {
        ValueKind::Json => {
            let v: Value =
                serde_json::from_slice(plain).map_err(|e| ObjectError::Json(e.to_string()))?;
            if !v.is_object() {
                return Err(ObjectError::NotAnObject);
            }
            Decoded {
                object: v,
                notes: Vec::new(),
            }
        }
        ValueKind::Protobuf => {
            let env = decode_envelope(plain, false).map_err(ObjectError::Envelope)?;
            let r = super::proto::decode(key, &env).map_err(|why| ObjectError::Protobuf {
                api_version: env.api_version.clone(),
                kind: env.kind.clone(),
                why,
            })?;
            Decoded {
                object: r.object,
                notes: r.notes,
            }
        }
        ValueKind::Encrypted { .. } => return Err(ObjectError::Encrypted),
        ValueKind::Raw => return Err(ObjectError::Raw(plain.len())),
    };
    set_resource_version(&mut decoded.object, mod_revision);
    Ok(decoded)
}

/// Sets `metadata.resourceVersion` (a string, as the API server writes it).
fn set_resource_version(object: &mut Value, mod_revision: i64) {
    if let Some(obj) = object.as_object_mut() {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), mod_revision.to_string().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_value_gets_resource_version() {
        let d = to_api_object(
            "/kubernetes.io/configmaps/p/c",
            br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","resourceVersion":"1"}}"#,
            42,
        )
        .unwrap();
        assert_eq!(d.object["metadata"]["resourceVersion"], "42");
        assert_eq!(d.object["kind"], "ConfigMap");
    }

    #[test]
    fn protobuf_value_is_decoded_with_resource_version() {
        // k8s\0 + Unknown {1 TypeMeta {1 "v1", 2 "ConfigMap"}, 2 raw ConfigMap {1 metadata
        // {1 "c"}, 2 data {"k": "v"}}}.
        let wrap = |raw: &[u8]| {
            let mut v = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12".to_vec();
            v.push(raw.len() as u8);
            v.extend_from_slice(raw);
            v
        };
        let raw = b"\x0a\x03\x0a\x01c\x12\x06\x0a\x01k\x12\x01v";
        let d = to_api_object("/kubernetes.io/configmaps/p/c", &wrap(raw), 7).unwrap();
        assert_eq!(
            d.object,
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "resourceVersion": "7"}, "data": {"k": "v"}})
        );
        assert!(d.notes.is_empty());
        // A payload cut short is an error naming the type.
        let err = to_api_object("/k", &wrap(&raw[..raw.len() - 2]), 7)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("protobuf ConfigMap (v1): "), "{err}");
    }

    #[test]
    fn non_objects_are_errors() {
        // Only `{` sniffs as JSON, so a JSON array is a raw value.
        assert!(matches!(
            to_api_object("/k", b"[1]", 1),
            Err(ObjectError::Raw(3))
        ));
        assert!(matches!(
            to_api_object("/k", b"abc", 1),
            Err(ObjectError::Raw(3))
        ));
    }
}
