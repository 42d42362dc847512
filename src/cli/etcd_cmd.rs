//! `ocpvault etcd status|restore`, and the `--etcd*` flags of `ocpvault snapshot`.

use super::progress::ProgressMode;
use crate::archive::{ArchiveError, SourceReport, Store};
use crate::collect::etcd::{EtcdMode, EtcdOptions, SnapshotProgress, Timeouts, collect_etcd};
use indicatif::ProgressBar;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// `--etcd auto|skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EtcdModeArg {
    /// Snapshot etcd when <root>/etc/etcd/etcd.conf or the static pod manifest says
    /// this host runs it (or --etcd-endpoints names it).
    Auto,
    /// Do not capture etcd.
    Skip,
}

/// The etcd flags of `ocpvault snapshot`.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdSnapshotArgs {
    /// Capture etcd: auto (when this host's configuration says it runs etcd) or skip.
    #[arg(long = "etcd", id = "etcd_mode", value_enum, default_value = "auto")]
    pub mode: EtcdModeArg,
    /// etcd client URLs to try in order, instead of ETCD_LISTEN_CLIENT_URLS.
    #[arg(
        long = "etcd-endpoints",
        value_name = "URL[,URL...]",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// CA certificate that signed the etcd server certificate (default: ETCD_TRUSTED_CA_FILE or /etc/etcd/ca.crt).
    #[arg(long = "etcd-cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (default: ETCD_PEER_CERT_FILE, as the guide's etcdctl3 alias).
    #[arg(long = "etcd-cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key (default: ETCD_PEER_KEY_FILE).
    #[arg(long = "etcd-key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Capture the files of a STOPPED member's data directory (e.g. /var/lib/etcd)
    /// instead of a live snapshot.
    #[arg(long = "etcd-data-dir", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs the etcd source of `ocpvault snapshot`.
pub fn collect(
    store: &mut dyn Store,
    args: &EtcdSnapshotArgs,
    root: &Path,
    created: (i64, u32),
    progress: &ProgressMode,
) -> Result<SourceReport, ArchiveError> {
    let opts = EtcdOptions {
        mode: match args.mode {
            EtcdModeArg::Auto => EtcdMode::Auto,
            EtcdModeArg::Skip => EtcdMode::Skip,
        },
        root: root.to_path_buf(),
        endpoints: args.endpoints.clone(),
        cacert: args.cacert.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
        data_dir: args.data_dir.clone(),
        created,
        timeouts: Timeouts::default(),
    };
    let bar = ByteBar {
        mode: progress,
        bar: RefCell::new(None),
    };
    collect_etcd(store, &opts, &bar)
}

/// Draws the snapshot stream against the db size from status.
struct ByteBar<'a> {
    mode: &'a ProgressMode,
    bar: RefCell<Option<ProgressBar>>,
}

impl SnapshotProgress for ByteBar<'_> {
    fn start(&self, total: u64) {
        *self.bar.borrow_mut() = self.mode.bytes("etcd snapshot", total);
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = self.bar.borrow().as_ref() {
            b.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}
