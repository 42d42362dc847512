//! The host-file source: the paths the OpenShift 3.x backup guides name, plus
//! `--include`, minus `--exclude`, read from `--root` as if it were `/`.
//!
//! Guarantees: symlinks are recorded, never followed; every xattr is kept raw; a file
//! that changes while it is read is re-read, and after three attempts reported as
//! skipped ("changed while read") rather than stored torn; one unreadable path never
//! aborts the source.

use crate::accounts::Accounts;
use crate::archive::{
    ArchiveError, ByteString, Entry, EntryType, Rdev, SkippedItem, SourceReport, SourceStatus,
    Store, Xattr, format_time,
};
use crate::collect::Progress;
use crate::progress::ProgressReader;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The default file set: every path the 3.11 Day Two guide (sections 4.1-4.4, 4.6.1.1)
/// and the 3.1 administration guide (18.3) name for masters, nodes and etcd hosts.
pub const DEFAULT_PATHS: &[&str] = &[
    "/etc/origin",
    "/etc/sysconfig",
    "/etc/etcd",
    "/etc/cni",
    "/etc/dnsmasq.conf",
    "/etc/dnsmasq.d",
    "/etc/pki/ca-trust/source/anchors",
    "/etc/docker/certs.d",
    "/etc/containers/registries.conf",
    "/etc/ansible/hosts",
    "/etc/yum.repos.d",
    "/etc/haproxy",
];

const CHANGE_RETRIES: usize = 3;

/// File names the guides list as private keys or secrets. encryption-config.yaml
/// holds the keys that decrypt every Secret stored in etcd (the 3.11 guide's
/// "Encrypting data at datastore layer"; openshift-ansible writes it to
/// /etc/origin/master when openshift_encryption_config is set).
const SECRET_NAMES: &[&str] = &[
    "serviceaccounts.private.key",
    "htpasswd",
    "session-secrets.yaml",
    "encryption-config.yaml",
];

/// True for a path whose file holds a private key or secret.
pub fn is_secret_path(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    name.ends_with(b".key") || SECRET_NAMES.iter().any(|s| s.as_bytes() == name)
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct FilesOptions {
    pub root: PathBuf,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Leave out the default set (tests and `--no-defaults`).
    pub no_defaults: bool,
    pub created: (i64, u32),
}

/// A bad `--include` or `--exclude` value.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("--include {0:?}: paths must be absolute and must not use '..' or /.ocpvault/")]
    BadInclude(String),
    #[error("--exclude {0:?}: {1}")]
    BadExclude(String, globset::Error),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Collects the files into `store` and records one `files` source report.
pub fn collect_files(
    store: &mut dyn Store,
    opts: &FilesOptions,
    progress: &dyn Progress,
) -> Result<SourceReport, FilesError> {
    let excludes = build_excludes(&opts.exclude)?;
    let mut paths: BTreeSet<String> = BTreeSet::new();
    if !opts.no_defaults {
        paths.extend(DEFAULT_PATHS.iter().map(|s| s.to_string()));
    }
    for inc in &opts.include {
        paths.insert(normalize_include(inc).ok_or_else(|| FilesError::BadInclude(inc.clone()))?);
    }
    let mut c = Collector {
        store,
        root: &opts.root,
        excludes,
        accounts: Accounts::of_root(&opts.root),
        report: SourceReport::new("files"),
        seen: BTreeSet::new(),
        links: HashMap::new(),
        held: Vec::new(),
        secrets: Vec::new(),
        next_group: 1,
        progress,
    };
    for p in &paths {
        c.collect_tree(p)?;
    }
    if !c.report.failed.is_empty()
        || c.report
            .skipped
            .iter()
            .any(|s| s.reason == "changed while read")
    {
        c.report.status = SourceStatus::Partial;
    }
    c.report.details.insert(
        "paths".into(),
        serde_json::json!(paths.iter().collect::<Vec<_>>()),
    );
    let mut secrets = std::mem::take(&mut c.secrets);
    secrets.sort();
    c.report
        .details
        .insert("secret_files".into(), serde_json::json!(secrets));
    let Collector {
        store,
        held,
        report,
        ..
    } = c;
    for e in held {
        store.add_entry(e);
    }
    Ok(report)
}

fn build_excludes(globs: &[String]) -> Result<GlobSet, FilesError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| FilesError::BadExclude(g.clone(), e))?);
    }
    b.build()
        .map_err(|e| FilesError::BadExclude(globs.join(","), e))
}

/// `/etc//foo/` -> `/etc/foo`; refuses relative paths, `..` and the reserved prefix.
fn normalize_include(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") || parts[0] == ".ocpvault" {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

struct Collector<'a> {
    store: &'a mut dyn Store,
    root: &'a Path,
    excludes: GlobSet,
    accounts: Accounts,
    report: SourceReport,
    seen: BTreeSet<Vec<u8>>,
    /// (dev, ino) of multiply-linked files -> index in `held` of the first path.
    links: HashMap<(u64, u64), usize>,
    /// The first entry of each multiply-linked file, held back until the walk ends
    /// because a later link may give it a hard-link group. Every other entry goes
    /// to the store as soon as it is read, so memory does not grow with the tree.
    held: Vec<Entry>,
    /// Paths of the captured files that hold secrets (sorted at the end).
    secrets: Vec<String>,
    next_group: u64,
    progress: &'a dyn Progress,
}

impl Collector<'_> {
    fn host_path(&self, archive_path: &[u8]) -> PathBuf {
        let rel = archive_path.strip_prefix(b"/").unwrap_or(archive_path);
        self.root.join(std::ffi::OsStr::from_bytes(rel))
    }

    fn skip(&mut self, path: &[u8], reason: &str) {
        self.report.skipped.push(SkippedItem {
            path: ByteString(path.to_vec()),
            reason: reason.into(),
        });
    }

    fn collect_tree(&mut self, top: &str) -> Result<(), FilesError> {
        let host_top = self.host_path(top.as_bytes());
        match std::fs::symlink_metadata(&host_top) {
            Err(e) => {
                self.skip(top.as_bytes(), &reason_for(&e));
                return Ok(());
            }
            Ok(_) if self.is_excluded(top.as_bytes()) => {
                self.skip(top.as_bytes(), "excluded");
                return Ok(());
            }
            Ok(_) => {}
        }
        self.add_ancestors(top)?;
        let walker = walkdir::WalkDir::new(&host_top)
            .follow_links(false)
            .sort_by_file_name();
        let mut it = walker.into_iter();
        while let Some(next) = it.next() {
            let dent = match next {
                Ok(d) => d,
                Err(e) => {
                    let p = e.path().map(|p| self.archive_path(p)).unwrap_or_default();
                    let reason = e
                        .io_error()
                        .map(reason_for)
                        .unwrap_or_else(|| e.to_string());
                    self.skip(&p, &reason);
                    continue;
                }
            };
            let apath = self.archive_path(dent.path());
            if self.is_excluded(&apath) {
                self.skip(&apath, "excluded");
                if dent.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            self.add_path(&apath, dent.path())?;
        }
        Ok(())
    }

    fn archive_path(&self, host: &Path) -> Vec<u8> {
        let rel = host.strip_prefix(self.root).unwrap_or(host);
        let mut out = b"/".to_vec();
        out.extend_from_slice(rel.as_os_str().as_bytes());
        out
    }

    fn is_excluded(&self, apath: &[u8]) -> bool {
        !self.excludes.is_empty()
            && self
                .excludes
                .is_match(Path::new(std::ffi::OsStr::from_bytes(apath)))
    }

    /// Records `/etc`, `/etc/pki`, ... so a restore can recreate parents faithfully.
    fn add_ancestors(&mut self, top: &str) -> Result<(), FilesError> {
        let mut prefix = String::new();
        let parts: Vec<&str> = top.split('/').filter(|s| !s.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix.push('/');
            prefix.push_str(part);
            let host = self.host_path(prefix.as_bytes());
            if std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir()) {
                self.add_path(prefix.clone().as_bytes(), &host)?;
            }
        }
        Ok(())
    }

    fn add_path(&mut self, apath: &[u8], host: &Path) -> Result<(), FilesError> {
        if !self.seen.insert(apath.to_vec()) {
            return Ok(());
        }
        let meta = match std::fs::symlink_metadata(host) {
            Ok(m) => m,
            Err(e) => {
                self.skip(apath, &reason_for(&e));
                return Ok(());
            }
        };
        let ft = meta.file_type();
        if ft.is_file() && self.store.own_file() == Some((meta.dev(), meta.ino())) {
            self.skip(
                apath,
                "the archive being written (--output is inside a captured path)",
            );
            return Ok(());
        }
        let mut entry = self.base_entry(apath, host, &meta);
        if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(&first) = self.links.get(&(meta.dev(), meta.ino())) {
                    let group = match self.held[first].hardlink_group {
                        Some(g) => g,
                        None => {
                            let g = self.next_group;
                            self.next_group += 1;
                            self.held[first].hardlink_group = Some(g);
                            g
                        }
                    };
                    entry.kind = EntryType::Hardlink;
                    entry.link = Some(self.held[first].path.clone());
                    entry.size = self.held[first].size;
                    entry.hardlink_group = Some(group);
                    self.push(entry, false);
                    return Ok(());
                }
            }
            match self.read_file(apath, host)? {
                Some((id, size, mtime)) => {
                    entry.object = Some(id);
                    entry.size = size;
                    entry.mtime = mtime;
                }
                None => return Ok(()),
            }
            if meta.nlink() > 1 {
                self.links.insert((meta.dev(), meta.ino()), self.held.len());
                self.push(entry, true);
                return Ok(());
            }
        } else if ft.is_dir() {
            entry.kind = EntryType::Dir;
        } else if ft.is_symlink() {
            entry.kind = EntryType::Symlink;
            match std::fs::read_link(host) {
                Ok(t) => entry.target = Some(ByteString::from(t.as_path())),
                Err(e) => {
                    self.skip(apath, &reason_for(&e));
                    return Ok(());
                }
            }
        } else if ft.is_fifo() {
            entry.kind = EntryType::Fifo;
        } else if ft.is_char_device() || ft.is_block_device() {
            entry.kind = if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            };
            let rdev = meta.rdev();
            entry.rdev = Some(Rdev {
                major: rustix::fs::major(rdev),
                minor: rustix::fs::minor(rdev),
            });
        } else {
            self.skip(apath, "unsupported file type");
            return Ok(());
        }
        self.push(entry, false);
        Ok(())
    }

    /// Records a captured entry: held back (`hold`, see [`Collector::held`]) or
    /// handed to the store.
    fn push(&mut self, entry: Entry, hold: bool) {
        self.report.captured += 1;
        self.progress.item(entry.size);
        if entry.kind == EntryType::File && is_secret_path(entry.path.as_bytes()) {
            self.secrets.push(entry.path.to_string());
        }
        if hold {
            self.held.push(entry);
        } else {
            self.store.add_entry(entry);
        }
    }

    fn base_entry(&self, apath: &[u8], host: &Path, meta: &Metadata) -> Entry {
        entry_from_metadata(
            ByteString(apath.to_vec()),
            "files",
            host,
            meta,
            &self.accounts,
        )
    }

    /// Reads a regular file into a prepared object, re-reading when it changes under
    /// us. Returns None (and records why) when it could not be captured.
    fn read_file(
        &mut self,
        apath: &[u8],
        host: &Path,
    ) -> Result<Option<(crate::archive::ObjectId, u64, String)>, FilesError> {
        for _ in 0..CHANGE_RETRIES {
            let mut file = match File::options()
                .read(true)
                .custom_flags(libc_nofollow())
                .open(host)
            {
                Ok(f) => f,
                Err(e) => {
                    self.skip(apath, &reason_for(&e));
                    return Ok(None);
                }
            };
            let before = file.metadata();
            let total = before.as_ref().map(|m| m.size()).unwrap_or(0);
            // Never more than the size seen at open, plus one byte to notice growth:
            // a file that keeps growing (a log, or an archive being written into a
            // collected directory) is "changed while read" instead of an endless read.
            let mut file = std::io::Read::take(&mut file, total.saturating_add(1));
            let prepared = if total > crate::archive::SMALL_OBJECT_MAX as u64 {
                let what = String::from_utf8_lossy(apath);
                let progress = self.progress;
                let mut reader = ProgressReader::new(&mut file, 8 << 20, |done| {
                    progress.reading(&what, done, total)
                });
                self.store.prepare_object(&mut reader)
            } else {
                self.store.prepare_object(&mut file)
            };
            let prepared = match prepared {
                Ok(p) => p,
                Err(e) => {
                    self.report.failed.push(crate::archive::FailedItem {
                        path: ByteString(apath.to_vec()),
                        error: e.to_string(),
                    });
                    return Ok(None);
                }
            };
            let after = std::fs::symlink_metadata(host);
            if let (Ok(b), Ok(a)) = (&before, &after) {
                if is_unchanged(b, a) && prepared.size == a.size() {
                    let mtime = format_time(a.mtime(), a.mtime_nsec() as u32);
                    let size = prepared.size;
                    let id = self.store.commit_object(prepared)?;
                    return Ok(Some((id, size, mtime)));
                }
            }
        }
        self.skip(apath, "changed while read");
        Ok(None)
    }
}

/// A `file` entry carrying everything `lstat` and the xattrs say about `host`; the
/// caller sets the type, object and size.
pub fn entry_from_metadata(
    path: ByteString,
    source: &str,
    host: &Path,
    meta: &Metadata,
    accounts: &Accounts,
) -> Entry {
    Entry {
        path,
        kind: EntryType::File,
        source: source.into(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        user: accounts.user_name(meta.uid()),
        group: accounts.group_name(meta.gid()),
        mtime: format_time(meta.mtime(), meta.mtime_nsec() as u32),
        size: 0,
        object: None,
        target: None,
        link: None,
        hardlink_group: None,
        rdev: None,
        xattrs: read_xattrs(host),
    }
}

/// True when a file's identity, size, mtime and ctime are the same in both stats: it
/// did not change while it was read.
pub fn is_unchanged(a: &Metadata, b: &Metadata) -> bool {
    a.ino() == b.ino()
        && a.size() == b.size()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.ctime() == b.ctime()
        && a.ctime_nsec() == b.ctime_nsec()
}

fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Every xattr of every namespace, raw, without following symlinks.
pub fn read_xattrs(path: &Path) -> Vec<Xattr> {
    let Ok(names) = xattr::list(path) else {
        return Vec::new();
    };
    names
        .filter_map(|name| {
            let value = xattr::get(path, &name).ok().flatten()?;
            Some(Xattr {
                name: ByteString(name.as_bytes().to_vec()),
                value,
            })
        })
        .collect()
}

/// The skip reason for an I/O error (spec §5.3).
fn reason_for(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "missing".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_paths_are_recognised() {
        assert!(is_secret_path(b"/etc/origin/master/ca.key"));
        assert!(is_secret_path(b"/etc/origin/master/htpasswd"));
        assert!(is_secret_path(b"/etc/origin/master/session-secrets.yaml"));
        assert!(is_secret_path(b"/etc/origin/master/encryption-config.yaml"));
        assert!(!is_secret_path(b"/etc/origin/master/ca.crt"));
    }

    #[test]
    fn includes_are_normalized_and_checked() {
        assert_eq!(
            normalize_include("/etc//origin/").as_deref(),
            Some("/etc/origin")
        );
        assert_eq!(normalize_include("etc/origin"), None);
        assert_eq!(normalize_include("/etc/../root"), None);
        assert_eq!(normalize_include("/.ocpvault/x"), None);
        assert_eq!(normalize_include("/"), None);
    }
}
