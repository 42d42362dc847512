//! The archive format (formats/archive-v1.md): object ids, the manifest, the index,
//! the tar container, and the streaming writer and random-access reader.
//!
//! This module imports nothing from the collectors, the restorer or the CLI.

mod bytes;
mod container;
mod error;
mod id;
mod index;
mod manifest;
mod reader;
mod validate;
mod writer;

pub use bytes::{ByteString, base64_bytes};
pub use error::ArchiveError;
pub use id::ObjectId;
pub use index::{Index, IndexObject, ManifestLocation};
pub use manifest::{
    Entry, EntryType, FailedItem, HostFacts, Manifest, RESERVED_PREFIX, Rdev, SkippedItem,
    SourceReport, SourceStatus, Xattr, format_mode, format_time, is_normalized_path, parse_mode,
    parse_time,
};
pub use reader::{
    ArchiveReader, FIXED_MEMBERS, ObjectReader, PLAIN_INDEX_MEMBER, ReadSeek, Scan, ScannedMember,
    object_member,
};
pub use validate::{MAX_XATTR_VALUE, ManifestProblem, is_utc_rfc3339, manifest_problems};
pub use writer::{
    ArchiveWriter, PreparedObject, SMALL_OBJECT_MAX, Sink, Store, WriteStats, WriterOptions,
    place_noreplace,
};

/// Most objects or entries one archive may hold (spec §9).
pub const MAX_ITEMS: usize = 16 * 1024 * 1024;

/// The exact header this format writes for a member (spec §3.1), for strict checks;
/// None for a name this format never writes.
pub fn expected_member_header(name: &str, size: u64, mtime: u64) -> Option<[u8; 512]> {
    container::try_member_header(name, size, mtime)
}

/// The exact content of the magic member (spec §2).
pub fn magic_bytes() -> Vec<u8> {
    format!("{}{}\n", container::MAGIC_PREFIX, FORMAT_VERSION).into_bytes()
}

/// The format version this build writes and the newest it reads (spec §2).
pub const FORMAT_VERSION: u32 = 1;
