//! What every snapshot source shares: the host facts (`host`) and the helpers that
//! add generated files under `/.ocpvault/` through [`crate::archive::Store`]. The
//! sources themselves live in their own folders (`files`, `etcd`, `projects`,
//! `packages`).

pub mod host;

use crate::archive::{ByteString, Entry, EntryType, PreparedObject, Store, format_time};

pub use crate::progress::{NoProgress, Progress};

/// Adds a synthetic entry under `/.ocpvault/` holding `data`, owned by root with mode
/// 0600 and the capture time as mtime. Used by the non-file sources.
pub fn add_generated_file(
    store: &mut dyn Store,
    source: &str,
    path: &str,
    data: &mut dyn std::io::Read,
    created: (i64, u32),
) -> Result<Entry, crate::archive::ArchiveError> {
    let prepared = store
        .prepare_object(data)
        .map_err(|e| crate::archive::ArchiveError::Io {
            path: path.into(),
            source: e,
        })?;
    add_prepared_file(store, source, path, prepared, created)
}

/// Like [`add_generated_file`], for content the source has already read with
/// [`Store::prepare_object`] and decided to keep (for instance only once the command
/// that produced it exited successfully).
pub fn add_prepared_file(
    store: &mut dyn Store,
    source: &str,
    path: &str,
    prepared: PreparedObject,
    created: (i64, u32),
) -> Result<Entry, crate::archive::ArchiveError> {
    let size = prepared.size;
    let id = store.commit_object(prepared)?;
    let entry = generated_entry(source, path, id, size, created);
    store.add_entry(entry.clone());
    Ok(entry)
}

/// The entry [`add_generated_file`] records for an object already committed: a file
/// owned by root with mode 0600 and the capture time as mtime.
pub fn generated_entry(
    source: &str,
    path: &str,
    id: crate::archive::ObjectId,
    size: u64,
    created: (i64, u32),
) -> Entry {
    Entry {
        path: ByteString::from(path),
        kind: EntryType::File,
        source: source.to_string(),
        mode: 0o600,
        uid: 0,
        gid: 0,
        user: Some("root".into()),
        group: Some("root".into()),
        mtime: format_time(created.0, created.1),
        size,
        object: Some(id),
        target: None,
        link: None,
        hardlink_group: None,
        rdev: None,
        xattrs: Vec::new(),
    }
}
