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
    ArchiveReader, FIXED_MEMBERS, ObjectReader, ReadSeek, ScannedMember, object_member,
};
pub use writer::{ArchiveWriter, PreparedObject, Sink, Store, WriteStats, WriterOptions};

/// The format version this build writes and the newest it reads (spec §2).
pub const FORMAT_VERSION: u32 = 1;
