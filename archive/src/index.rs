//! The index (spec §6): where every object and the manifest live in the stream.

use super::ObjectId;
use serde::{Deserialize, Serialize};

/// The archive's index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    pub format: String,
    pub version: u32,
    pub manifest: ManifestLocation,
    #[serde(deserialize_with = "super::validate::bounded::items")]
    pub objects: Vec<IndexObject>,
}

/// Where the manifest member's data is, and the hash of the uncompressed manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestLocation {
    pub offset: u64,
    pub length: u64,
    pub size: u64,
    pub sha256: ObjectId,
    /// SHA-256 of the member data as stored (compressed); spec §6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_sha256: Option<ObjectId>,
}

/// Where one object member's data is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IndexObject {
    pub id: ObjectId,
    pub offset: u64,
    pub length: u64,
    pub size: u64,
    /// SHA-256 of the member data as stored (compressed); spec §6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_sha256: Option<ObjectId>,
}
