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
    /// Frame tables of the objects stored as more than one independent zstd frame
    /// (spec §4.1), in archive order. Absent in archives written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameTable>,
}

/// How one object is split into independent zstd frames (spec §4.1): every frame
/// but the last decompresses to exactly `frame_size` bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameTable {
    pub id: ObjectId,
    pub frame_size: u64,
    pub frames: Vec<Frame>,
}

/// One frame of a framed object: its stored (compressed) length, in order from the
/// member's first byte, and the SHA-256 of those stored bytes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Frame {
    pub length: u64,
    pub stored_sha256: ObjectId,
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
