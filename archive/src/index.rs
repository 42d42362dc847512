//! The index (spec §6): where every object and the manifest live in the stream.

use super::{ByteString, ObjectId};
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
    /// Version 2: where pack `n` is, at position `n - 1` (v2 §3, §6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<PackLocation>,
    /// Version 2: where the entry chunks are (v2 §4, §6), in path order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_chunks: Vec<Chunk>,
    /// Version 2: where the object chunks are (v2 §5, §6), in id order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_chunks: Vec<Chunk>,
}

/// Where one pack member's data is (v2 §6).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PackLocation {
    pub offset: u64,
    pub length: u64,
    pub stored_sha256: ObjectId,
}

/// One row of an object chunk as stored (v2 §5): an object with its own member has
/// `offset`, `length` and `stored_sha256`; a packed one `pack` and `start`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ChunkRow {
    pub id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_sha256: Option<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

/// One chunk member of a version 2 archive (v2 §6): its keys, item count, where its
/// data is, and the size and hashes of its JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chunk {
    pub first: ByteString,
    pub last: ByteString,
    pub count: u64,
    pub offset: u64,
    pub length: u64,
    pub size: u64,
    pub sha256: ObjectId,
    pub stored_sha256: ObjectId,
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
    /// Version 2: the pack the object is stored in (v2 §3, §5). A reader fills
    /// `offset`, `length` and `stored_sha256` with the pack member's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<u64>,
    /// Version 2: where the object's content starts in its decompressed pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}
