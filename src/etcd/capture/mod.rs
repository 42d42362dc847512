//! The etcd source: a verified v3 snapshot from a live member over TLS, or the files
//! of a stopped member's data directory (`--etcd-data-dir`).
//!
//! Guarantees: a host whose `<root>/etc/etcd/etcd.conf` or static pod manifest says it
//! runs etcd is never skipped silently: either the snapshot is stored or the source is
//! reported failed with the endpoint, the certificate paths and the server's error.
//! The snapshot is stored as one object byte for byte as `etcdctl snapshot save`
//! writes it, and only after its integrity trailer checked out; memory stays bounded
//! whatever the db size. A failure never aborts the rest of the archive.
//!
//! The etcd client is async (tonic); the async code lives in `live` and runs on a
//! current-thread runtime of its own thread. Everything else is synchronous.

mod datadir;
mod discover;
mod keyindex;
mod live;
mod stream;

use crate::archive::{ArchiveError, SourceReport, SourceStatus, Store};
use crate::etcd::SOURCE_NAME;
use crate::etcd::record::EtcdDetails;
use crate::progress::Progress;
use std::path::PathBuf;
use std::time::Duration;

pub use discover::Target;

/// `--etcd auto|skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdMode {
    /// Capture when the host's configuration (or a flag) names etcd.
    Auto,
    /// Do not capture etcd.
    Skip,
}

/// How long to wait for etcd.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Each unary request (status, health, member list).
    pub request: Duration,
    /// The longest gap between two pieces of the snapshot stream.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(15),
            idle: Duration::from_secs(60),
        }
    }
}

/// What to capture and how to connect.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub mode: EtcdMode,
    /// The `--root` the host's configuration is read from.
    pub root: PathBuf,
    /// `--etcd-endpoints`: replaces the discovered client URLs.
    pub endpoints: Vec<String>,
    /// `--etcd-cacert`, `--etcd-cert`, `--etcd-key`: literal paths on this machine.
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `--etcd-data-dir`: capture this stopped member's files instead of a snapshot.
    pub data_dir: Option<PathBuf>,
    pub created: (i64, u32),
    pub timeouts: Timeouts,
}

/// Runs the etcd source into `store` and returns its report. Only a failure to write
/// the archive itself is an error; everything etcd-side is in the report.
pub fn collect_etcd(
    store: &mut dyn Store,
    opts: &EtcdOptions,
    progress: &dyn Progress,
) -> Result<SourceReport, ArchiveError> {
    if opts.mode == EtcdMode::Skip {
        return Ok(skipped("turned off with --etcd skip".into()));
    }
    if let Some(dir) = &opts.data_dir {
        return datadir::capture(store, dir, progress);
    }
    match discover::discover(opts) {
        Ok(discover::Discovery::NotConfigured(reason)) => Ok(skipped(reason)),
        Ok(discover::Discovery::Found(target)) => live::capture(store, &target, opts, progress),
        Err(e) => Ok(failed(*e.details, e.error)),
    }
}

fn skipped(reason: String) -> SourceReport {
    let mut report = SourceReport::new(SOURCE_NAME);
    report.status = SourceStatus::Skipped;
    report.details = EtcdDetails {
        reason: Some(reason),
        ..Default::default()
    }
    .to_map();
    report
}

/// A failed report: `details` says what was tried, `error` why it failed.
fn failed(mut details: EtcdDetails, error: String) -> SourceReport {
    let mut report = SourceReport::new(SOURCE_NAME);
    report.status = SourceStatus::Failed;
    details.error = Some(error);
    details.snapshot = None;
    details.secret_files.clear();
    report.details = details.to_map();
    report
}
