//! Off-host shipping: copy archives to a directory (an NFS mount, say) or an
//! S3-compatible object store, list them per host, fetch them back verified, and
//! prune by retention.
//!
//! Guarantees: an upload never leaves a partial object under its final name (directory:
//! temporary name + fsync + rename; S3: a single PUT or a multipart upload, which are
//! only visible once complete); every archive gets a `<name>.sha256` sidecar in
//! `sha256sum` format; a retry after a failure is safe (an identical archive already
//! there is skipped, a different one is never overwritten); fetch checks size and
//! SHA-256 before the file appears under its final name.

mod dir;
pub mod names;
pub mod runs;
mod s3;

pub use dir::{Missing, create_private_dir};
pub use names::{ArchiveName, archive_file_name, parse_archive_name};
pub use runs::{
    PrunePlan, RunGroup, RunRecord, group_runs, plan_prune_runs, read_run_records, run_record_key,
    write_run_record,
};

use crate::archive::ObjectId;
use crate::progress::{Progress, Step};
use std::path::{Path, PathBuf};

/// Errors of the shipping layer. Messages name the destination, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("{dest}: {why}")]
    Dest { dest: String, why: String },
    #[error("{dest}: {name} already exists there with different content; refusing to overwrite")]
    Conflict { dest: String, name: String },
    #[error("{dest}: {name}: not found")]
    NotFound { dest: String, name: String },
    #[error("{dest}: {name}: verification failed: {why}")]
    Verify {
        dest: String,
        name: String,
        why: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One archive at a destination.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteArchive {
    pub name: String,
    pub size: u64,
    pub sha256: Option<String>,
    /// Decided from the file's first bytes (the age header), not from its name.
    pub encrypted: bool,
}

/// What `put` did, and whether the stored copy was checked afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub outcome: PutOutcome,
    /// True only when the SHA-256 of what the destination holds under the name was
    /// computed from the stored bytes and matched the local archive's.
    pub verified: bool,
}

/// What happened to one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PutOutcome {
    Uploaded,
    AlreadyPresent,
}

/// A place archives are shipped to.
pub trait Destination {
    /// Stores `local` as `name`, atomically and verified. `sent` gets the running
    /// count of bytes handed to the destination, for a progress bar.
    fn put(
        &self,
        local: &Path,
        name: &str,
        sha256: &ObjectId,
        size: u64,
        progress: &dyn Progress,
    ) -> Result<Stored, ShipError>;
    /// Writes a small file (a run record) at `key` (`dir/name`), atomically,
    /// replacing an older one.
    fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), ShipError>;
    /// Reads the small file at `key`; None when there is none. Larger than `limit`
    /// bytes is an error.
    fn get_small(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, ShipError>;
    /// The names of the files directly in `dir` (empty when there is no such dir).
    fn list_small(&self, dir: &str) -> Result<Vec<String>, ShipError>;
    /// Deletes the small file at `key`; a missing one is no error.
    fn delete_small(&self, key: &str) -> Result<(), ShipError>;
    /// Every archive there (files whose names parse as archive names).
    fn list(&self) -> Result<Vec<RemoteArchive>, ShipError>;
    /// Downloads `name` into `out_dir` (created 0700 when missing), verified against
    /// its sidecar; returns the path, and `AlreadyPresent` when an identical file was
    /// there already. `got` gets (bytes received so far, total size), for a progress bar.
    fn fetch(
        &self,
        name: &str,
        out_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<(PathBuf, PutOutcome), ShipError>;
    /// Deletes `name` and its sidecar.
    fn delete(&self, name: &str) -> Result<(), ShipError>;
    /// The destination as the user wrote it, for messages.
    fn describe(&self) -> String;
}

/// Options for S3 destinations beyond the URL.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint URL (for S3-compatible stores), else AWS_ENDPOINT_URL or AWS.
    pub endpoint: Option<String>,
}

/// Opens `dest`: `s3://bucket/prefix` or a directory path; `missing` says what a
/// directory that does not exist becomes.
pub fn open_destination(
    dest: &str,
    s3: &S3Options,
    missing: Missing,
) -> Result<Box<dyn Destination>, ShipError> {
    if let Some(rest) = dest.strip_prefix("s3://") {
        return Ok(Box::new(s3::S3Dest::open(rest, s3)?));
    }
    if dest.contains("://") {
        return Err(ShipError::Dest {
            dest: dest.into(),
            why: "unsupported URL scheme; use a directory or s3://bucket/prefix".into(),
        });
    }
    Ok(Box::new(dir::DirDest::open(Path::new(dest), missing)?))
}

/// The `sha256sum`-format sidecar for an archive.
pub fn sidecar_text(sha256: &ObjectId, name: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// Parses a sidecar; returns the hex digest when it names `name`.
pub fn parse_sidecar(text: &str, name: &str) -> Option<String> {
    let line = text.lines().next()?;
    let (hex, rest) = line.split_once("  ")?;
    (rest == name && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Hashes a local file: (SHA-256, size).
pub fn hash_local(path: &Path) -> Result<(ObjectId, u64), ShipError> {
    hash_local_with(path, &crate::progress::NoProgress)
}

/// [`hash_local`], as a step `hashing NAME` of `progress`.
pub fn hash_local_with(path: &Path, progress: &dyn Progress) -> Result<(ObjectId, u64), ShipError> {
    let io = |e| ShipError::Io {
        path: path.into(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let step = Step::begin(progress, &format!("hashing {name}"), Some(size));
    let mut reader =
        crate::progress::ProgressReader::new(file, 8 << 20, |hashed| step.total(hashed));
    let id = ObjectId::of_reader(&mut reader).map_err(io)?;
    Ok((id, size))
}

/// Which archives a retention policy deletes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    pub keep_last: usize,
    pub keep_daily: usize,
    pub keep_weekly: usize,
}

/// Splits `archives` into (keep, delete) per host. The newest archive of every host is
/// always kept; names that do not parse are never touched.
pub fn plan_prune(archives: &[RemoteArchive], policy: Retention) -> (Vec<String>, Vec<String>) {
    use std::collections::BTreeMap;
    let mut by_host: BTreeMap<String, Vec<ArchiveName>> = BTreeMap::new();
    for a in archives {
        if let Some(n) = parse_archive_name(&a.name) {
            by_host.entry(n.host.clone()).or_default().push(n);
        }
    }
    let (mut keep, mut delete) = (Vec::new(), Vec::new());
    for (_, mut list) in by_host {
        list.sort_by(|a, b| b.time.cmp(&a.time).then(b.seq.cmp(&a.seq)));
        let mut kept = retained_indices(&list.iter().map(|a| a.time).collect::<Vec<_>>(), policy);
        kept.insert(0);
        for (i, a) in list.into_iter().enumerate() {
            if kept.contains(&i) {
                keep.push(a.file_name);
            } else {
                delete.push(a.file_name);
            }
        }
    }
    (keep, delete)
}

/// The positions in `times` (newest first) that `policy` keeps: the first
/// `keep_last`, and the newest of each of the last `keep_daily` days and
/// `keep_weekly` ISO weeks that have one.
pub fn retained_indices(
    times: &[chrono::DateTime<chrono::Utc>],
    policy: Retention,
) -> std::collections::BTreeSet<usize> {
    use chrono::Datelike;
    use std::collections::BTreeSet;
    let mut kept: BTreeSet<usize> = (0..policy.keep_last.min(times.len())).collect();
    let mut days = BTreeSet::new();
    let mut weeks = BTreeSet::new();
    for (i, t) in times.iter().enumerate() {
        let day = t.date_naive();
        if days.len() < policy.keep_daily && days.insert(day) {
            kept.insert(i);
        }
        let w = day.iso_week();
        if weeks.len() < policy.keep_weekly && weeks.insert((w.year(), w.week())) {
            kept.insert(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str) -> RemoteArchive {
        RemoteArchive {
            name: name.into(),
            size: 1,
            sha256: None,
            encrypted: false,
        }
    }

    #[test]
    fn prune_keeps_newest_per_host_and_policy() {
        let names = [
            "m0.example.com-20261120T010000Z.ocpvault",
            "m0.example.com-20261121T010000Z.ocpvault",
            "m0.example.com-20261121T020000Z.ocpvault.age",
            "m0.example.com-20261122T010000Z.ocpvault",
            "node-1-20261101T000000Z.ocpvault",
            "notes.txt",
        ];
        let list: Vec<_> = names.iter().map(|n| remote(n)).collect();
        let (keep, delete) = plan_prune(
            &list,
            Retention {
                keep_last: 1,
                ..Default::default()
            },
        );
        assert!(keep.contains(&names[3].to_string()));
        assert!(
            keep.contains(&names[4].to_string()),
            "the only archive of a host stays"
        );
        assert_eq!(delete.len(), 3);
        assert!(!delete.iter().any(|d| d == "notes.txt"));
        let (keep, _) = plan_prune(
            &list,
            Retention {
                keep_daily: 2,
                ..Default::default()
            },
        );
        // Newest of 22nd and newest of 21st (the 02:00 one).
        assert!(keep.contains(&names[3].to_string()) && keep.contains(&names[2].to_string()));
        assert!(!keep.contains(&names[1].to_string()));
        let (_, delete) = plan_prune(&list, Retention::default());
        assert_eq!(delete.len(), 3, "keep-last 0 still keeps the newest");
    }

    #[test]
    fn sidecars_round_trip() {
        let id = ObjectId::of_bytes(b"x");
        let text = sidecar_text(&id, "a.ocpvault");
        assert_eq!(parse_sidecar(&text, "a.ocpvault"), Some(id.to_hex()));
        assert_eq!(parse_sidecar(&text, "b.ocpvault"), None);
    }
}
