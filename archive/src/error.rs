//! Errors from reading and writing archives.

use std::path::PathBuf;

/// Everything that can go wrong in the archive layer.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an ocpvault archive ({why})")]
    NotAnArchive { path: PathBuf, why: String },
    #[error(
        "{path}: archive format version {found} is newer than this ocpvault supports ({supported})"
    )]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: corrupt archive: {why}")]
    Corrupt { path: PathBuf, why: String },
    /// The hashes hold but the content breaks the format's rules: no writer made
    /// this archive as it is (spec §5.2, §9).
    #[error("{path}: malformed archive: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error("{path}: object {id} not in the archive index")]
    MissingObject { path: PathBuf, id: String },
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            why: why.into(),
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, why: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.into(),
            why: why.into(),
        }
    }
}
