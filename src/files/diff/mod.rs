//! Drift between an archive and a host tree: what was added, removed, or had its
//! content, type, symlink target, mode, owner, group, SELinux label or other xattrs
//! changed since the snapshot.
//!
//! Only `files`-source entries are compared (never the reserved `/.ocpvault/`
//! entries, nor the etcd data directory, which changes by design). Content is
//! compared by size first and, when the sizes match, always by SHA-256: an mtime
//! shortcut would miss edits by tools that keep times (`cp -p`, rpm, restore
//! itself). Owners are compared the way restore applies them (by name when the
//! name exists on this host, else by number) so a restore followed by a diff is
//! clean. The modification time of a file whose content is unchanged is compared
//! too (`mtime`, as `tar --diff` does), unless `ignore_mtime`; a content change
//! already says the file changed, so its mtime is not reported again. A path that
//! cannot be read is not a difference: it is recorded in `errors` and the caller
//! decides.

mod walk;

use crate::accounts::Accounts;
use crate::archive::{
    ArchiveReader, ByteString, Entry, EntryType, ObjectId, format_mode, format_time, parse_time,
};
use crate::files::capture::read_xattrs;
use crate::files::restore::hash_file;
use crate::files::restore::meta::owner_for;
use base64::Engine;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The xattr that holds the SELinux label; reported as `label`, not `xattr`.
const SELINUX_XATTR: &[u8] = b"security.selinux";

/// What to compare.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The tree to compare, read as if it were `/`.
    pub root: PathBuf,
    /// Only these archive paths and what is under them; empty means all.
    pub paths: Vec<String>,
    /// Compare owners by number only (restore's `--numeric-owner`).
    pub numeric_owner: bool,
    /// Do not report modification times.
    pub ignore_mtime: bool,
}

/// The kind of one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// On disk under a captured path, not in the archive.
    Added,
    /// In the archive, not on disk.
    Removed,
    /// File type differs (file, dir, symlink, ...).
    Type,
    /// Symlink target differs.
    Target,
    /// Size or SHA-256 differs.
    Content,
    /// Permission bits (with setuid, setgid, sticky) differ.
    Mode,
    /// Owning uid differs.
    Owner,
    /// Owning gid differs.
    Group,
    /// The `security.selinux` xattr differs.
    Label,
    /// Any other xattr was added, removed or changed.
    Xattr,
    /// The modification time of a file with unchanged content differs.
    Mtime,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Type => "type",
            Self::Target => "target",
            Self::Content => "content",
            Self::Mode => "mode",
            Self::Owner => "owner",
            Self::Group => "group",
            Self::Label => "label",
            Self::Xattr => "xattr",
            Self::Mtime => "mtime",
        }
    }
}

/// One difference between the archive and the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub change: Change,
    pub path: ByteString,
    /// The xattr's name, for `xattr` changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<ByteString>,
    /// The archived value, shown as text (absent for `added`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<String>,
    /// The value on disk, shown as text (absent for `removed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
}

/// A path that could not be compared, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffError {
    pub path: ByteString,
    pub error: String,
}

/// The result of a diff: every difference, sorted by path then change, and every
/// path that could not be compared.
#[derive(Debug, Default)]
pub struct DiffReport {
    pub differences: Vec<Difference>,
    pub errors: Vec<DiffError>,
    /// Archive entries compared.
    pub entries_compared: u64,
}

impl DiffReport {
    fn push(
        &mut self,
        change: Change,
        path: &[u8],
        archived: Option<String>,
        current: Option<String>,
    ) {
        self.differences.push(Difference {
            change,
            path: ByteString(path.to_vec()),
            name: None,
            archived,
            current,
        });
    }

    fn error(&mut self, path: &[u8], error: impl ToString) {
        self.errors.push(DiffError {
            path: ByteString(path.to_vec()),
            error: error.to_string(),
        });
    }
}

/// Compares the host tree under `opts.root` with the archive's host-file entries.
pub fn diff_archive(reader: &ArchiveReader, opts: &DiffOptions) -> DiffReport {
    let manifest = reader.manifest();
    let entries: BTreeMap<&[u8], &Entry> = manifest
        .entries
        .iter()
        .filter(|e| e.source == "files" && !e.is_reserved())
        .map(|e| (e.path.as_bytes(), e))
        .collect();
    let accounts = Accounts::of_tree_or_host(&opts.root);
    let mut report = DiffReport::default();
    for (path, entry) in &entries {
        if !is_selected(path, &opts.paths) {
            continue;
        }
        report.entries_compared += 1;
        let ctx = EntryContext {
            entries: &entries,
            accounts: &accounts,
            numeric_owner: opts.numeric_owner,
            ignore_mtime: opts.ignore_mtime,
        };
        compare_entry(&ctx, entry, &host_path(&opts.root, path), &mut report);
    }
    walk::find_added(manifest, &entries, opts, &mut report);
    report
        .differences
        .sort_by(|a, b| (&a.path, a.change, &a.name).cmp(&(&b.path, b.change, &b.name)));
    report
}

/// True when `path` is one of `paths` or under one; an empty list selects all.
pub(crate) fn is_selected(path: &[u8], paths: &[String]) -> bool {
    paths.is_empty()
        || paths
            .iter()
            .any(|p| is_under(path, p.trim_end_matches('/').as_bytes()))
}

/// True when `path` is `top` or below it.
pub(crate) fn is_under(path: &[u8], top: &[u8]) -> bool {
    path == top || (path.starts_with(top) && path.get(top.len()) == Some(&b'/'))
}

/// The host path of an archive path under `root`.
pub(crate) fn host_path(root: &Path, archive_path: &[u8]) -> PathBuf {
    let rel = archive_path.strip_prefix(b"/").unwrap_or(archive_path);
    root.join(OsStr::from_bytes(rel))
}

struct EntryContext<'a> {
    entries: &'a BTreeMap<&'a [u8], &'a Entry>,
    accounts: &'a Accounts,
    numeric_owner: bool,
    ignore_mtime: bool,
}

fn compare_entry(ctx: &EntryContext, entry: &Entry, host: &Path, report: &mut DiffReport) {
    let path = entry.path.as_bytes();
    let meta = match std::fs::symlink_metadata(host) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.push(
                Change::Removed,
                path,
                Some(entry.kind.as_str().into()),
                None,
            );
            return;
        }
        Err(e) => return report.error(path, e),
    };
    let disk_type = disk_type(meta.file_type());
    if !same_type(entry.kind, disk_type) {
        let archived = Some(entry.kind.as_str().to_string());
        report.push(Change::Type, path, archived, Some(disk_type.into()));
        return;
    }
    match entry.kind {
        EntryType::Symlink => compare_target(entry, host, report),
        EntryType::File | EntryType::Hardlink => compare_content(ctx, entry, host, &meta, report),
        _ => {}
    }
    if entry.kind != EntryType::Symlink {
        let (archived, current) = (entry.mode & 0o7777, meta.mode() & 0o7777);
        if archived != current {
            report.push(
                Change::Mode,
                path,
                Some(format_mode(archived)),
                Some(format_mode(current)),
            );
        }
    }
    let (uid, gid) = owner_for(entry, ctx.accounts, ctx.numeric_owner);
    if uid != meta.uid() {
        report.push(
            Change::Owner,
            path,
            Some(uid.to_string()),
            Some(meta.uid().to_string()),
        );
    }
    if gid != meta.gid() {
        report.push(
            Change::Group,
            path,
            Some(gid.to_string()),
            Some(meta.gid().to_string()),
        );
    }
    compare_xattrs(entry, host, report);
}

/// The archive's type name for what is on disk.
fn disk_type(ft: std::fs::FileType) -> &'static str {
    if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else {
        "socket"
    }
}

/// A hard link is a regular file on disk.
fn same_type(kind: EntryType, disk: &str) -> bool {
    match kind {
        EntryType::Hardlink => disk == "file",
        k => k.as_str() == disk,
    }
}

fn compare_target(entry: &Entry, host: &Path, report: &mut DiffReport) {
    let path = entry.path.as_bytes();
    match std::fs::read_link(host) {
        Ok(t) => {
            let current = t.as_os_str().as_bytes();
            let archived = entry
                .target
                .as_ref()
                .map(|t| t.as_bytes())
                .unwrap_or_default();
            if current != archived {
                let show = |b: &[u8]| Some(String::from_utf8_lossy(b).into_owned());
                report.push(Change::Target, path, show(archived), show(current));
            }
        }
        Err(e) => report.error(path, e),
    }
}

/// Size first; when the sizes match, the SHA-256 of the file on disk.
fn compare_content(
    ctx: &EntryContext,
    entry: &Entry,
    host: &Path,
    meta: &Metadata,
    report: &mut DiffReport,
) {
    let path = entry.path.as_bytes();
    let Some(object) = content_object(ctx, entry) else {
        return report.error(path, "the archive records no content for this entry");
    };
    if meta.size() != entry.size {
        let bytes = |n: u64| Some(format!("{n} bytes"));
        report.push(Change::Content, path, bytes(entry.size), bytes(meta.size()));
        return;
    }
    match hash_file(host) {
        Ok(id) if id == object => {
            if !ctx.ignore_mtime {
                compare_mtime(entry, meta, report);
            }
        }
        Ok(id) => report.push(
            Change::Content,
            path,
            Some(object.to_string()),
            Some(id.to_string()),
        ),
        Err(e) => report.error(path, e),
    }
}

/// Reports a modification time that differs from the archived one, to the nanosecond.
fn compare_mtime(entry: &Entry, meta: &Metadata, report: &mut DiffReport) {
    let current = (meta.mtime(), meta.mtime_nsec() as u32);
    if parse_time(&entry.mtime) != Some(current) {
        report.push(
            Change::Mtime,
            entry.path.as_bytes(),
            Some(entry.mtime.clone()),
            Some(format_time(current.0, current.1)),
        );
    }
}

/// The object of a file, or of the file a hard link points at.
fn content_object(ctx: &EntryContext, entry: &Entry) -> Option<ObjectId> {
    match entry.kind {
        EntryType::Hardlink => {
            let link = entry.link.as_ref()?;
            ctx.entries.get(link.as_bytes())?.object
        }
        _ => entry.object,
    }
}

fn compare_xattrs(entry: &Entry, host: &Path, report: &mut DiffReport) {
    let path = entry.path.as_bytes();
    let archived: BTreeMap<&[u8], &[u8]> = entry
        .xattrs
        .iter()
        .map(|x| (x.name.as_bytes(), x.value.as_slice()))
        .collect();
    let disk = read_xattrs(host);
    let current: BTreeMap<&[u8], &[u8]> = disk
        .iter()
        .map(|x| (x.name.as_bytes(), x.value.as_slice()))
        .collect();
    let mut names: Vec<&[u8]> = archived.keys().chain(current.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (a, c) = (archived.get(name), current.get(name));
        if a == c {
            continue;
        }
        let show = |v: Option<&&[u8]>| v.map(|v| show_value(v));
        let change = if name == SELINUX_XATTR {
            Change::Label
        } else {
            Change::Xattr
        };
        report.differences.push(Difference {
            change,
            path: ByteString(path.to_vec()),
            name: (change == Change::Xattr).then(|| ByteString(name.to_vec())),
            archived: show(a),
            current: show(c),
        });
    }
}

/// An xattr value as text: printable UTF-8 as is (without the trailing NUL labels
/// carry), anything else as `base64:...`.
fn show_value(value: &[u8]) -> String {
    let trimmed = value.strip_suffix(b"\0").unwrap_or(value);
    match std::str::from_utf8(trimmed) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => s.to_string(),
        _ => format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(value)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_matches_whole_components() {
        let paths = vec!["/etc/origin/".to_string()];
        assert!(is_selected(b"/etc/origin", &paths));
        assert!(is_selected(b"/etc/origin/master/a", &paths));
        assert!(!is_selected(b"/etc/origin2", &paths));
        assert!(is_selected(b"/anything", &[]));
    }

    #[test]
    fn values_show_as_text_or_base64() {
        assert_eq!(
            show_value(b"system_u:object_r:etc_t:s0\0"),
            "system_u:object_r:etc_t:s0"
        );
        assert_eq!(show_value(&[2, 0, 0, 0]), "base64:AgAAAA==");
    }

    #[test]
    fn hard_links_are_files_on_disk() {
        assert!(same_type(EntryType::Hardlink, "file"));
        assert!(!same_type(EntryType::File, "dir"));
        assert!(same_type(EntryType::Symlink, "symlink"));
    }
}
