//! Offline capture of a stopped member's data directory (`--etcd-data-dir`):
//! `member/snap/db` (the v3 store) plus the v2 store (`member/snap/*.snap`,
//! `member/wal/*`), each as a file entry under [`DATA_DIR_PREFIX`] with its owner,
//! mode, times and xattrs.
//!
//! Guarantees: a db that a running etcd holds locked is refused instead of copied
//! torn (bbolt keeps an exclusive `flock` on it while etcd runs; we hold a shared one
//! while copying); a file that changes while read is reported, not stored.

use super::failed;
use crate::accounts::Accounts;
use crate::archive::{
    ArchiveError, ByteString, Entry, EntryType, FailedItem, ObjectId, SourceReport, SourceStatus,
    Store, format_mode,
};
use crate::etcd::record::{CaptureKind, DataDirRecord, EtcdDetails, SnapshotRecord};
use crate::etcd::{DATA_DIR_DB_PATH, DATA_DIR_PREFIX, SOURCE_NAME};
use crate::files::capture::{entry_from_metadata, is_unchanged};
use crate::progress::Progress;
use crate::progress::ProgressReader;
use std::fs::{File, Metadata};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The subdirectories of a member that hold its data, in capture order.
const MEMBER_DIRS: &[&str] = &["member", "member/snap", "member/wal"];

/// Owner, mode and SELinux label of a data directory, when it exists.
pub(super) fn dir_record(shown: &str, host: &Path) -> Option<DataDirRecord> {
    let meta = std::fs::symlink_metadata(host)
        .ok()
        .filter(Metadata::is_dir)?;
    let accounts = Accounts::host();
    Some(DataDirRecord {
        path: shown.to_string(),
        uid: meta.uid(),
        gid: meta.gid(),
        user: accounts.user_name(meta.uid()),
        group: accounts.group_name(meta.gid()),
        mode: format_mode(meta.mode()),
        selinux: xattr::get(host, "security.selinux")
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(v.strip_suffix(b"\0").unwrap_or(&v)).into_owned()),
    })
}

/// Captures the files of the stopped member at `dir`.
pub(super) fn capture(
    store: &mut dyn Store,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<SourceReport, ArchiveError> {
    let shown = dir.display().to_string();
    let mut details = EtcdDetails {
        capture: Some(CaptureKind::DataDir),
        config: Some("--etcd-data-dir".into()),
        data_dir: dir_record(&shown, dir),
        ..Default::default()
    };
    let db_path = dir.join("member/snap/db");
    let _lock = match lock_db(&db_path) {
        Ok(lock) => lock,
        Err(e) => return Ok(failed(details, e)),
    };
    let mut c = DirCapture {
        store,
        accounts: Accounts::host(),
        entries: Vec::new(),
        failed: Vec::new(),
        db: None,
        progress,
    };
    c.add_dir(dir, DATA_DIR_PREFIX);
    for sub in MEMBER_DIRS {
        c.add_tree(&dir.join(sub), &format!("{DATA_DIR_PREFIX}/{sub}"))?;
    }
    let DirCapture {
        store,
        entries,
        failed: failures,
        db,
        ..
    } = c;
    let Some((object, size)) = db else {
        let why = failures
            .iter()
            .find(|f| f.path.as_bytes() == DATA_DIR_DB_PATH.as_bytes())
            .map_or("not captured".to_string(), |f| f.error.clone());
        return Ok(failed(details, format!("{}: {why}", db_path.display())));
    };
    details.snapshot = Some(SnapshotRecord {
        path: DATA_DIR_DB_PATH.into(),
        object,
        size,
        trailer_sha256: None,
    });
    details.secret_files = entries
        .iter()
        .filter(|e| e.kind == EntryType::File)
        .map(|e| e.path.to_string())
        .collect();
    let mut report = SourceReport::new(SOURCE_NAME);
    report.captured = entries.len() as u64;
    if !failures.is_empty() {
        report.status = SourceStatus::Partial;
    }
    report.failed = failures;
    report.details = details.to_map();
    for e in entries {
        store.add_entry(e);
    }
    Ok(report)
}

/// Opens the db and takes a shared lock, refusing a db a running etcd holds.
fn lock_db(db: &Path) -> Result<File, String> {
    let file = File::open(db).map_err(|e| {
        format!(
            "{}: {e}; --etcd-data-dir must name an etcd data directory (such as /var/lib/etcd)",
            db.display()
        )
    })?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(format!(
            "{}: locked by a running etcd; stop etcd first, or take a live snapshot (leave out --etcd-data-dir)",
            db.display()
        )),
        Err(e) => Err(format!("{}: cannot lock: {e}", db.display())),
    }
}

struct DirCapture<'a> {
    store: &'a mut dyn Store,
    accounts: Accounts,
    entries: Vec<Entry>,
    failed: Vec<FailedItem>,
    db: Option<(ObjectId, u64)>,
    progress: &'a dyn Progress,
}

impl DirCapture<'_> {
    fn fail(&mut self, apath: &str, error: String) {
        self.failed.push(FailedItem {
            path: ByteString::from(apath),
            error,
        });
    }

    fn add_dir(&mut self, host: &Path, apath: &str) {
        if let Ok(meta) = std::fs::symlink_metadata(host) {
            let mut e = self.entry(apath, host, &meta);
            e.kind = EntryType::Dir;
            self.entries.push(e);
        }
    }

    /// One member subdirectory and the regular files directly in it (etcd's layout
    /// is flat; anything deeper is not etcd's).
    fn add_tree(&mut self, host: &Path, apath: &str) -> Result<(), ArchiveError> {
        if !host.is_dir() {
            return Ok(());
        }
        self.add_dir(host, apath);
        let mut names: Vec<_> = match std::fs::read_dir(host) {
            Ok(rd) => rd.filter_map(Result::ok).map(|d| d.file_name()).collect(),
            Err(e) => {
                self.fail(apath, e.to_string());
                return Ok(());
            }
        };
        names.sort();
        for name in names {
            let child = host.join(&name);
            let capath = format!("{apath}/{}", name.to_string_lossy());
            if std::fs::symlink_metadata(&child).is_ok_and(|m| m.is_file()) {
                self.add_file(&child, &capath)?;
            }
        }
        Ok(())
    }

    fn add_file(&mut self, host: &Path, apath: &str) -> Result<(), ArchiveError> {
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        let mut file = match File::options().read(true).custom_flags(nofollow).open(host) {
            Ok(f) => f,
            Err(e) => {
                self.fail(apath, e.to_string());
                return Ok(());
            }
        };
        let before = file.metadata();
        let total = before.as_ref().map(|m| m.size()).unwrap_or(0);
        // At most the size seen at open plus one byte: growth shows as a change.
        let mut file = std::io::Read::take(&mut file, total.saturating_add(1));
        // A byte bar for the db (WAL segments and snap files are not drawn).
        let prepared = if apath == DATA_DIR_DB_PATH {
            let progress = self.progress;
            progress.begin("etcd data-dir db", Some(total));
            let mut last = 0;
            let mut reader = ProgressReader::new(&mut file, 8 << 20, |done| {
                progress.advance(done - last);
                last = done;
            });
            let prepared = self.store.prepare_object(&mut reader);
            progress.end();
            prepared
        } else {
            self.store.prepare_object(&mut file)
        };
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.fail(apath, e.to_string());
                return Ok(());
            }
        };
        let after = std::fs::symlink_metadata(host);
        let meta = match (before, after) {
            (Ok(b), Ok(a)) if is_unchanged(&b, &a) && a.size() == prepared.size => a,
            _ => {
                self.fail(apath, "changed while read (is etcd stopped?)".into());
                return Ok(());
            }
        };
        let size = prepared.size;
        let id = self.store.commit_object(prepared)?;
        let mut e = self.entry(apath, host, &meta);
        e.object = Some(id);
        e.size = size;
        if apath == DATA_DIR_DB_PATH {
            self.db = Some((id, size));
        }
        self.entries.push(e);
        Ok(())
    }

    fn entry(&self, apath: &str, host: &Path, meta: &Metadata) -> Entry {
        entry_from_metadata(
            ByteString::from(apath),
            SOURCE_NAME,
            host,
            meta,
            &self.accounts,
        )
    }
}
