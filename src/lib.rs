//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! The direction of imports is the architecture:
//! `cli` -> `snapshot` (the pipeline: every source in order into one archive, one
//! [`progress::Progress`] sink, a report back; it prints nothing) -> one folder per
//! source (`files`, `etcd`, `projects`, `packages`, `ship`) -> `collect` (what every
//! source shares when it writes into an archive) -> `archive` (the ocpvault-archive
//! crate). Each source folder owns both directions of
//! its data: capture, inspection and restore. `accounts`, `config`, `progress` and
//! `shell` are small helpers below the sources.

/// The archive format lives in its own crate (no async runtime, no gRPC, no S3).
pub use ocpvault_archive as archive;
pub use ocpvault_archive::{crypto, verify};

pub mod accounts;
pub mod cli;
pub mod collect;
pub mod config;
pub mod etcd;
pub mod files;
pub mod packages;
pub mod progress;
pub mod projects;
pub mod shell;
pub mod ship;
pub mod snapshot;
