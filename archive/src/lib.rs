//! The ocpvault archive format (formats/archive-v1.md): object ids, the manifest, the
//! index, the tar container, the streaming writer, the random-access reader, verify,
//! and (feature `age`) the age encryption layer.
//!
//! This crate knows nothing of OpenShift, of the sources that fill an archive or of
//! the CLI; it has no async runtime, no gRPC and no S3 client, so any program (and
//! the fuzz targets) can read an archive with it alone.
//!
//! Reading: [`ArchiveReader::open`] checks the magic, trailer, index and manifest
//! (refusing what the spec forbids), then [`ArchiveReader::manifest`] lists the entries
//! and [`ArchiveReader::open_object`] streams a file's content, checked against its
//! SHA-256 when the stream ends.
//!
//! ```
//! use ocpvault_archive::{ArchiveReader, EntryType};
//! use std::io::Read;
//! # use ocpvault_archive::{ArchiveWriter, ByteString, Entry, HostFacts, WriterOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("master-0.ocpvault");
//! # let mut w = ArchiveWriter::create(&path, WriterOptions { level: 3, threads: 0, created: (0, 0) },
//! #     |f| Ok(Box::new(f) as Box<dyn ocpvault_archive::Sink>))?;
//! # let text = b"kind: MasterConfig\n";
//! # let id = w.add_object(&mut &text[..])?;
//! # w.add_entry(Entry { path: ByteString(b"/etc/origin/master/master-config.yaml".to_vec()),
//! #     kind: EntryType::File, source: "files".into(), mode: 0o600, uid: 0, gid: 0,
//! #     user: Some("root".into()), group: Some("root".into()),
//! #     mtime: "2026-01-01T00:00:00Z".into(), size: text.len() as u64, object: Some(id),
//! #     target: None, link: None, hardlink_group: None, rdev: None, xattrs: vec![] });
//! # let host = HostFacts { hostname: "master-0".into(), os_release: None, root: ByteString(b"/".to_vec()) };
//! # let (path, _) = w.finish(host, Default::default())?;
//! let mut reader = ArchiveReader::open(&path)?;
//! println!("{} entries from {}", reader.manifest().entries.len(), reader.manifest().host.hostname);
//! let entry = reader
//!     .manifest()
//!     .entry(b"/etc/origin/master/master-config.yaml")
//!     .cloned()
//!     .expect("the archive holds it");
//! assert_eq!(entry.kind, EntryType::File);
//! let mut content = String::new();
//! // The object reader checks size and SHA-256 when it reaches the end.
//! reader.open_object(&entry.object.expect("files have objects"))?.read_to_string(&mut content)?;
//! assert_eq!(content, "kind: MasterConfig\n");
//! # Ok(()) }
//! ```

mod bytes;
mod container;
#[cfg(feature = "age")]
pub mod crypto;
mod error;
mod id;
mod index;
mod manifest;
mod reader;
mod validate;
pub mod verify;
mod writer;

pub use bytes::{ByteString, base64_bytes};
pub use container::{
    DISCARDED_PREFIX, discarded_member, entry_chunk_member, object_chunk_member, pack_member,
};
pub use error::ArchiveError;
pub use id::ObjectId;
pub use index::{
    Chunk, ChunkRow, Frame, FrameTable, Index, IndexObject, ManifestLocation, PackLocation,
};
pub use manifest::{
    Entry, EntryType, FailedItem, HostFacts, MAX_RUN_ID_LEN, Manifest, RESERVED_PREFIX, Rdev,
    SkippedItem, SourceReport, SourceStatus, Xattr, format_mode, format_time, is_normalized_path,
    is_valid_run_id, parse_mode, parse_time,
};
pub use reader::{
    ArchiveReader, FIXED_MEMBERS, FramedObject, ObjectReader, PLAIN_INDEX_MEMBER, ReadSeek, Scan,
    ScannedMember, Scope, object_member,
};
pub use validate::{MAX_XATTR_VALUE, ManifestProblem, is_utc_rfc3339, manifest_problems};
pub use writer::{
    ArchiveWriter, FRAME_SIZE, PreparedObject, SMALL_OBJECT_MAX, Sink, Store, WriteStats,
    WriterOptions, place_noreplace,
};

/// Most objects or entries one archive may hold (spec §9).
pub const MAX_ITEMS: usize = 16 * 1024 * 1024;

/// The exact header this format writes for a member (spec §3.1), for strict checks;
/// None for a name this format never writes.
pub fn expected_member_header(name: &str, size: u64, mtime: u64) -> Option<[u8; 512]> {
    container::try_member_header(name, size, mtime)
}

/// The exact content of the magic member of a format version (spec §2).
pub fn magic_bytes(version: u32) -> Vec<u8> {
    format!("{}{}\n", container::MAGIC_PREFIX, version).into_bytes()
}

/// The format version this build writes and the newest it reads (spec §2).
pub const FORMAT_VERSION: u32 = 2;

/// Objects up to this size are stored in packs (formats/archive-v2.md §2).
pub const PACK_OBJECT_MAX: u64 = 256 * 1024;
/// Most decompressed bytes one pack may hold (formats/archive-v2.md §3).
pub const PACK_MAX: u64 = 1024 * 1024;
/// Where this writer closes a pack: half the limit, so that reading one small file
/// reads and decompresses less (formats/archive-v2.md §3).
pub const PACK_TARGET: u64 = 512 * 1024;
/// Most entries or object rows in one chunk (formats/archive-v2.md §4, §5).
pub const CHUNK_ITEMS: usize = 1024;
/// Most decompressed bytes of one chunk (formats/archive-v2.md §6).
pub const MAX_CHUNK_LEN: u64 = 64 * 1024 * 1024;
