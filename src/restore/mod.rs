//! The verifying restorer: replays any part of an archive onto the host or under a
//! target directory.
//!
//! Guarantees: every selected entry is checked for path safety before anything is
//! written; file contents are hash-checked while being written to a temporary file in
//! the destination directory and only then renamed into place, so a bad object never
//! replaces a good file; an existing file that differs is kept as
//! `<name>.ocpvault-old` unless `overwrite`; after writing, each file is read back and
//! checked again. Writes happen inside parent directories opened without following
//! symlinks and held open (paths::open_parent), and metadata of files and directories
//! is set through open descriptors, so a concurrent symlink swap cannot redirect them.

pub mod etcd;
pub mod meta;
pub mod paths;
pub mod project;

use crate::accounts::Accounts;
use crate::archive::{ArchiveReader, Entry, EntryType, ObjectId, RESERVED_PREFIX};
use meta::{MetaOptions, apply_metadata_fd, apply_metadata_node, is_privilege_failure};
use paths::{PinnedDir, UnsafePath, can_pin, check_entry, dest_path, open_parent, open_target};
use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What to restore and how.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Archive paths (files or subtrees); empty means every host file.
    pub paths: Vec<String>,
    /// Directory to restore under; None restores in place (to `/`).
    pub target: Option<PathBuf>,
    pub dry_run: bool,
    pub numeric_owner: bool,
    pub no_xattrs: bool,
    pub overwrite: bool,
    pub strict: bool,
    /// Read and hash-check every selected object before writing anything.
    pub verify_first: bool,
}

/// What happened to one entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Action {
    pub path: String,
    /// create, replace, unchanged, update, kept-old, error
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The outcome of a restore.
#[derive(Debug, Default, serde::Serialize)]
pub struct RestoreReport {
    pub target: String,
    pub dry_run: bool,
    pub actions: Vec<Action>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub files_written: u64,
    pub bytes_written: u64,
}

/// Errors that stop a restore before it writes anything.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}: not in the archive")]
    NotInArchive(String),
    #[error(
        "{0}: paths under {RESERVED_PREFIX} are not host files; restore them with --target DIR"
    )]
    ReservedInPlace(String),
    #[error("{count} unsafe entr{} refused, nothing restored; first: {first}", if *.count == 1 { "y" } else { "ies" })]
    Unsafe { count: usize, first: UnsafePath },
    #[error("{count} damaged object(s), nothing restored; first: {first}")]
    Damaged { count: usize, first: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Restores the selected entries of `reader`.
pub fn restore(
    reader: &mut ArchiveReader,
    opts: &RestoreOptions,
) -> Result<RestoreReport, RestoreError> {
    restore_with_progress(reader, opts, &crate::progress::NoProgress)
}

/// Like [`restore`], reporting each entry (and its size) to `progress` as it is done.
pub fn restore_with_progress(
    reader: &mut ArchiveReader,
    opts: &RestoreOptions,
    progress: &dyn crate::progress::Progress,
) -> Result<RestoreReport, RestoreError> {
    let selected = select(reader, opts)?;
    let target = opts.target.clone().unwrap_or_else(|| PathBuf::from("/"));
    let in_place = target == Path::new("/");
    preflight(reader, &selected, in_place)?;
    if opts.verify_first {
        check_objects(reader, &selected)?;
    }
    if !opts.dry_run && !target.exists() {
        std::fs::create_dir_all(&target).map_err(|e| RestoreError::Io {
            path: target.display().to_string(),
            source: e,
        })?;
    }
    // Parent directories are opened one component at a time without following
    // symlinks (paths::open_parent) and, with /proc, held open while an entry is
    // written.
    let pinning = can_pin();
    let root = if target.is_dir() {
        Some(open_target(&target).map_err(|e| RestoreError::Io {
            path: target.display().to_string(),
            source: e,
        })?)
    } else {
        None
    };
    let mut r = Restorer {
        target: target.clone(),
        root,
        pinning,
        shown_parent: target.clone(),
        opts,
        accounts: Accounts::host(),
        report: RestoreReport {
            target: target.display().to_string(),
            dry_run: opts.dry_run,
            ..Default::default()
        },
        dirs_to_sync: BTreeSet::new(),
        parents: BTreeSet::new(),
    };
    if !pinning && !opts.dry_run {
        r.report.warnings.push(
            "/proc/self/fd is not available: parent directories are checked before each write but not held open while writing".into(),
        );
    }
    let entries: Vec<Entry> = selected
        .iter()
        .map(|i| reader.manifest().entries[*i].clone())
        .collect();
    // Files, dirs, symlinks and specials in path order; hard links after their files;
    // directory metadata last, deepest first, so writing children does not disturb it.
    for e in entries.iter().filter(|e| e.kind != EntryType::Hardlink) {
        r.restore_entry(reader, e);
        progress.item(e.size);
    }
    for e in entries.iter().filter(|e| e.kind == EntryType::Hardlink) {
        r.restore_entry(reader, e);
        progress.item(0);
    }
    if !opts.dry_run {
        // Before directory times are set: removing files changes them.
        for dir in std::mem::take(&mut r.parents) {
            remove_stale_temporaries(&dir, &mut r.report);
        }
    }
    for e in entries.iter().rev().filter(|e| e.kind == EntryType::Dir) {
        r.finish_dir(e);
    }
    if !opts.dry_run {
        for dir in &r.dirs_to_sync {
            let synced = open_nofollow(dir, true).and_then(|d| d.sync_all());
            if let Err(e) = synced {
                r.report
                    .warnings
                    .push(format!("{}: fsync failed: {e}", dir.display()));
            }
        }
    }
    Ok(r.report)
}

fn select(reader: &ArchiveReader, opts: &RestoreOptions) -> Result<Vec<usize>, RestoreError> {
    let entries = &reader.manifest().entries;
    if opts.paths.is_empty() {
        return Ok((0..entries.len())
            .filter(|i| !entries[*i].is_reserved())
            .collect());
    }
    let mut chosen = BTreeSet::new();
    for p in &opts.paths {
        let p = p.trim_end_matches('/');
        if p.starts_with(RESERVED_PREFIX.trim_end_matches('/')) && opts.target.is_none() {
            return Err(RestoreError::ReservedInPlace(p.to_string()));
        }
        let prefix = format!("{p}/");
        let before = chosen.len();
        for (i, e) in entries.iter().enumerate() {
            let ep = e.path.as_bytes();
            if ep == p.as_bytes() || ep.starts_with(prefix.as_bytes()) {
                chosen.insert(i);
            }
        }
        if chosen.len() == before {
            return Err(RestoreError::NotInArchive(p.to_string()));
        }
    }
    Ok(chosen.into_iter().collect())
}

fn preflight(
    reader: &ArchiveReader,
    selected: &[usize],
    in_place: bool,
) -> Result<(), RestoreError> {
    let m = reader.manifest();
    let is_file = |p: &[u8]| m.entry(p).is_some_and(|e| e.kind == EntryType::File);
    let mut problems: Vec<UnsafePath> = Vec::new();
    for i in selected {
        if let Err(u) = check_entry(&m.entries[*i], in_place, is_file) {
            problems.push(u);
        }
    }
    match problems.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(RestoreError::Unsafe {
            count: selected
                .iter()
                .filter(|i| check_entry(&m.entries[**i], in_place, is_file).is_err())
                .count(),
            first,
        }),
    }
}

/// Reads every object the selection needs and checks its SHA-256.
fn check_objects(reader: &mut ArchiveReader, selected: &[usize]) -> Result<(), RestoreError> {
    let ids: BTreeSet<ObjectId> = selected
        .iter()
        .filter_map(|i| reader.manifest().entries[*i].object)
        .collect();
    let mut bad = Vec::new();
    for id in ids {
        let result = reader
            .open_object(&id)
            .map_err(|e| e.to_string())
            .and_then(|mut r| io::copy(&mut r, &mut io::sink()).map_err(|e| e.to_string()));
        if let Err(e) = result {
            bad.push(e);
        }
    }
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(RestoreError::Damaged {
            count: bad.len(),
            first: first.clone(),
        }),
    }
}

struct Restorer<'a> {
    target: PathBuf,
    /// The open target directory parents are opened from; None when the target is
    /// not a directory (a dry run whose target does not exist yet).
    root: Option<std::os::fd::OwnedFd>,
    /// Whether writes go through the pinned parent (/proc/self/fd is available).
    pinning: bool,
    /// Host path of the directory of the entry being restored, for messages and fsync.
    shown_parent: PathBuf,
    opts: &'a RestoreOptions,
    accounts: Accounts,
    report: RestoreReport,
    dirs_to_sync: BTreeSet<PathBuf>,
    /// Every directory an entry was restored into.
    parents: BTreeSet<PathBuf>,
}

impl Restorer<'_> {
    fn act(&mut self, entry: &Entry, action: &'static str, detail: Option<String>) {
        self.report.actions.push(Action {
            path: entry.path.to_string(),
            action,
            detail,
        });
    }

    fn error(&mut self, entry: &Entry, msg: String) {
        self.report.errors.push(format!("{}: {msg}", entry.path));
        self.act(entry, "error", Some(msg));
    }

    /// Where to operate on `archive_path`. Its parents are always walked with
    /// O_NOFOLLOW (paths::open_parent); the result is a path through the pinned
    /// parent (which must stay alive while the path is used), or the plain host path
    /// without /proc, or in a dry run whose parent does not exist yet. Creates
    /// missing parents when `create` (never in a dry run).
    fn locate(
        &mut self,
        archive_path: &[u8],
        create: bool,
    ) -> Result<(PathBuf, Option<PinnedDir>), UnsafePath> {
        let shown = dest_path(&self.target, archive_path);
        let create = create && !self.opts.dry_run;
        let (located, made) = match &self.root {
            Some(root) => match open_parent(root, &self.target, archive_path, create)? {
                Some((pin, made)) => match shown.file_name() {
                    Some(name) if self.pinning => ((pin.join(name), Some(pin)), made),
                    _ => ((shown, None), made),
                },
                // Only a dry run may look at a path it could not pin: in a real run
                // a missing parent here was removed under us.
                None if self.opts.dry_run => ((shown, None), Vec::new()),
                None => {
                    return Err(UnsafePath::MissingParent(
                        String::from_utf8_lossy(archive_path).into_owned(),
                    ));
                }
            },
            None if self.opts.dry_run => ((shown, None), Vec::new()),
            None => {
                return Err(UnsafePath::ParentNotDir(
                    String::from_utf8_lossy(archive_path).into_owned(),
                    self.target.display().to_string(),
                ));
            }
        };
        if let Some(first) = made.first() {
            self.dirs_to_sync
                .insert(first.parent().unwrap_or(&self.target).to_path_buf());
        }
        Ok(located)
    }

    fn restore_entry(&mut self, reader: &mut ArchiveReader, entry: &Entry) {
        let shown = dest_path(&self.target, entry.path.as_bytes());
        self.shown_parent = shown.parent().unwrap_or(&self.target).to_path_buf();
        let (dest, _pinned) = match self.locate(entry.path.as_bytes(), true) {
            Ok(located) => located,
            Err(u) => return self.error(entry, u.to_string()),
        };
        // Only directories that passed the checks are swept for stale temporaries.
        self.parents.insert(self.shown_parent.clone());
        let dest = dest.as_path();
        let result = match entry.kind {
            EntryType::File => self.restore_file(reader, entry, dest),
            EntryType::Dir => self.restore_dir(entry, dest),
            EntryType::Symlink => self.restore_symlink(entry, dest),
            EntryType::Hardlink => self.restore_hardlink(entry, dest),
            EntryType::Fifo | EntryType::Char | EntryType::Block => {
                self.restore_special(entry, dest)
            }
        };
        if let Err(e) = result {
            self.error(entry, e.to_string());
        }
    }

    /// Applies metadata to the symlink, FIFO or device node `path` (inside a pinned
    /// directory), through an O_PATH descriptor checked to be such a node.
    fn apply_node(&mut self, path: &Path, entry: &Entry) {
        if self.opts.dry_run {
            return;
        }
        use rustix::fs::{FileType, Mode, OFlags};
        let node = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        let expected = match entry.kind {
            EntryType::Symlink => FileType::Symlink,
            EntryType::Fifo => FileType::Fifo,
            EntryType::Char => FileType::CharacterDevice,
            _ => FileType::BlockDevice,
        };
        let node = match node {
            Ok(fd) => match rustix::fs::fstat(&fd) {
                Ok(st) if FileType::from_raw_mode(st.st_mode as _) == expected => fd,
                _ => {
                    let msg = format!(
                        "{}: changed during the restore; metadata not set",
                        entry.path
                    );
                    self.report.errors.push(msg);
                    return;
                }
            },
            Err(e) => {
                self.report.errors.push(format!("{}: {e}", entry.path));
                return;
            }
        };
        let failures = apply_metadata_node(&node, path, entry, &self.accounts, self.meta());
        self.record_meta(entry, failures);
    }

    /// Applies metadata to an open file or directory.
    fn apply_fd(&mut self, file: &File, entry: &Entry) {
        if self.opts.dry_run {
            return;
        }
        let failures = apply_metadata_fd(file, entry, &self.accounts, self.meta());
        self.record_meta(entry, failures);
    }

    fn meta(&self) -> MetaOptions {
        MetaOptions {
            numeric_owner: self.opts.numeric_owner,
            no_xattrs: self.opts.no_xattrs,
        }
    }

    /// Privilege failures are warnings unless --strict; everything else is an error.
    fn record_meta(&mut self, entry: &Entry, failures: Vec<meta::MetaFailure>) {
        for f in failures {
            let msg = format!("{}: {}: {}", entry.path, f.what, f.error);
            if is_privilege_failure(&f) && !self.opts.strict {
                self.report.warnings.push(msg);
            } else {
                self.report.errors.push(msg);
            }
        }
    }

    /// Keeps an existing, different file as `<name>.ocpvault-old[.N]` (hard link, so
    /// the original name never disappears), unless --overwrite.
    fn keep_old(&mut self, dest: &Path) -> io::Result<Option<PathBuf>> {
        if self.opts.overwrite {
            return Ok(None);
        }
        let base = dest.as_os_str().to_owned();
        for n in 0..1000 {
            let mut name = base.clone();
            name.push(".ocpvault-old");
            if n > 0 {
                name.push(format!(".{n}"));
            }
            let old = PathBuf::from(name);
            if std::fs::symlink_metadata(&old).is_ok() {
                continue;
            }
            if !self.opts.dry_run {
                let meta = std::fs::symlink_metadata(dest)?;
                if meta.is_file() {
                    std::fs::hard_link(dest, &old)?;
                } else {
                    std::fs::rename(dest, &old)?;
                }
            }
            // Named as the host path (`dest` may go through /proc/self/fd).
            let shown = match old.file_name() {
                Some(name) => self.shown_parent.join(name),
                None => old,
            };
            return Ok(Some(shown));
        }
        Err(io::Error::other("too many .ocpvault-old copies"))
    }

    fn restore_file(
        &mut self,
        reader: &mut ArchiveReader,
        entry: &Entry,
        dest: &Path,
    ) -> Result<(), RestoreError> {
        let io_err = |e: io::Error| RestoreError::Io {
            path: entry.path.to_string(),
            source: e,
        };
        let id = entry.object.ok_or_else(|| {
            io_err(io::Error::new(
                io::ErrorKind::InvalidData,
                "file entry has no object",
            ))
        })?;
        let existing = std::fs::symlink_metadata(dest).ok();
        // Compared and updated through one descriptor opened without following a
        // symlink, so a swap between check and chmod cannot touch another file.
        let same = match &existing {
            Some(m) if m.is_file() && m.len() == entry.size => open_nofollow(dest, false)
                .ok()
                .filter(|f| {
                    f.metadata()
                        .is_ok_and(|fm| fm.ino() == m.ino() && fm.is_file())
                })
                .filter(|f| ObjectId::of_reader(&mut &*f).is_ok_and(|h| h == id)),
            _ => None,
        };
        if let Some(file) = same {
            self.act(entry, "unchanged", None);
            self.apply_fd(&file, entry);
            return Ok(());
        }
        let kept = match &existing {
            Some(m) if !m.is_dir() => self.keep_old(dest).map_err(io_err)?,
            Some(_) => {
                return Err(io_err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a directory is in the way",
                )));
            }
            None => None,
        };
        let action = if existing.is_some() {
            "replace"
        } else {
            "create"
        };
        let detail = kept.map(|k| format!("previous file kept as {}", k.display()));
        if self.opts.dry_run {
            self.act(entry, action, detail);
            return Ok(());
        }
        let parent = dest.parent().unwrap_or(&self.target).to_path_buf();
        let mut tmp = tempfile::Builder::new()
            .prefix(".ocpvault-tmp-")
            .tempfile_in(&parent)
            .map_err(|e| {
                // tempfile names the /proc/self/fd path; name the host directory.
                io_err(io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create a temporary file in {}: {}",
                        self.shown_parent.display(),
                        io::Error::from(e.kind())
                    ),
                ))
            })?;
        {
            let mut obj = reader
                .open_object(&id)
                .map_err(|e| io_err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
            // ObjectReader fails the copy if the bytes do not hash to `id`; the
            // temporary file is then dropped and nothing is replaced.
            io::copy(&mut obj, tmp.as_file_mut()).map_err(io_err)?;
        }
        tmp.as_file().sync_all().map_err(io_err)?;
        self.apply_fd(tmp.as_file(), entry);
        tmp.persist(dest).map_err(|e| io_err(e.error))?;
        self.dirs_to_sync.insert(self.shown_parent.clone());
        self.report.files_written += 1;
        self.report.bytes_written += entry.size;
        match open_nofollow(dest, false).and_then(|mut f| ObjectId::of_reader(&mut f)) {
            Ok(h) if h == id => {}
            Ok(h) => {
                return Err(io_err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("read back {h}, expected {id}"),
                )));
            }
            Err(e) => return Err(io_err(e)),
        }
        self.act(entry, action, detail);
        Ok(())
    }

    fn restore_dir(&mut self, entry: &Entry, dest: &Path) -> Result<(), RestoreError> {
        match std::fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {
                self.act(entry, "update", None);
                Ok(())
            }
            Ok(_) => Err(RestoreError::Io {
                path: entry.path.to_string(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a non-directory is in the way",
                ),
            }),
            Err(_) => {
                if !self.opts.dry_run {
                    std::fs::create_dir(dest).map_err(|e| RestoreError::Io {
                        path: entry.path.to_string(),
                        source: e,
                    })?;
                    self.dirs_to_sync.insert(self.shown_parent.clone());
                }
                self.act(entry, "create", None);
                Ok(())
            }
        }
    }

    fn finish_dir(&mut self, entry: &Entry) {
        if self.opts.dry_run {
            return;
        }
        let shown = dest_path(&self.target, entry.path.as_bytes());
        self.shown_parent = shown.parent().unwrap_or(&self.target).to_path_buf();
        let (dest, _pinned) = match self.locate(entry.path.as_bytes(), false) {
            Ok(located) => located,
            Err(u) => {
                let msg = format!("{u}; directory metadata not set");
                self.report.warnings.push(msg);
                return;
            }
        };
        // A directory swapped for a symlink since it was restored is left alone.
        match open_nofollow(&dest, true) {
            Ok(dir) => self.apply_fd(&dir, entry),
            Err(e) => self
                .report
                .warnings
                .push(format!("{}: {e}; directory metadata not set", entry.path)),
        }
    }

    fn restore_symlink(&mut self, entry: &Entry, dest: &Path) -> Result<(), RestoreError> {
        let io_err = |e: io::Error| RestoreError::Io {
            path: entry.path.to_string(),
            source: e,
        };
        let target = entry.target.clone().unwrap_or_default();
        if let Ok(cur) = std::fs::read_link(dest) {
            if cur.as_os_str().as_encoded_bytes() == target.as_bytes() {
                self.act(entry, "unchanged", None);
                self.apply_node(dest, entry);
                return Ok(());
            }
        }
        let existing = std::fs::symlink_metadata(dest).ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(io_err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a directory is in the way",
            )));
        }
        let kept = if existing.is_some() {
            self.keep_old(dest).map_err(io_err)?
        } else {
            None
        };
        let action = if existing.is_some() {
            "replace"
        } else {
            "create"
        };
        if !self.opts.dry_run {
            let tmp = temp_sibling(dest);
            std::os::unix::fs::symlink(target.as_path(), &tmp).map_err(io_err)?;
            self.apply_node(&tmp, entry);
            std::fs::rename(&tmp, dest).map_err(io_err)?;
        }
        self.act(
            entry,
            action,
            kept.map(|k| format!("previous kept as {}", k.display())),
        );
        Ok(())
    }

    fn restore_hardlink(&mut self, entry: &Entry, dest: &Path) -> Result<(), RestoreError> {
        let io_err = |e: io::Error| RestoreError::Io {
            path: entry.path.to_string(),
            source: e,
        };
        let link = entry.link.clone().unwrap_or_default();
        let (first, _pinned) = self
            .locate(link.as_bytes(), false)
            .map_err(|u| io_err(io::Error::other(u.to_string())))?;
        if let (Ok(a), Ok(b)) = (
            std::fs::symlink_metadata(&first),
            std::fs::symlink_metadata(dest),
        ) {
            if a.ino() == b.ino() && a.dev() == b.dev() {
                self.act(entry, "unchanged", None);
                return Ok(());
            }
        }
        if self.opts.dry_run {
            self.act(entry, "create", Some(format!("hard link to {link}")));
            return Ok(());
        }
        if !first.exists() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("hard link target {link} was not restored; select it too"),
            )));
        }
        let existing = std::fs::symlink_metadata(dest).is_ok();
        if existing {
            self.keep_old(dest).map_err(io_err)?;
        }
        let tmp = temp_sibling(dest);
        std::fs::hard_link(&first, &tmp).map_err(io_err)?;
        std::fs::rename(&tmp, dest).map_err(io_err)?;
        self.act(
            entry,
            if existing { "replace" } else { "create" },
            Some(format!("hard link to {link}")),
        );
        Ok(())
    }

    fn restore_special(&mut self, entry: &Entry, dest: &Path) -> Result<(), RestoreError> {
        use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
        let io_err = |e: io::Error| RestoreError::Io {
            path: entry.path.to_string(),
            source: e,
        };
        let (ft, dev) = match entry.kind {
            EntryType::Fifo => (FileType::Fifo, 0),
            EntryType::Char | EntryType::Block => {
                let r = entry
                    .rdev
                    .unwrap_or(crate::archive::Rdev { major: 0, minor: 0 });
                let ft = if entry.kind == EntryType::Char {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                (ft, makedev(r.major, r.minor))
            }
            _ => unreachable!("restore_special is only called for special files"),
        };
        if let Ok(m) = std::fs::symlink_metadata(dest) {
            let same = match entry.kind {
                EntryType::Fifo => m.file_type().is_fifo(),
                EntryType::Char => m.file_type().is_char_device() && m.rdev() == dev,
                _ => m.file_type().is_block_device() && m.rdev() == dev,
            };
            if same {
                self.act(entry, "unchanged", None);
                self.apply_node(dest, entry);
                return Ok(());
            }
            return Err(io_err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a different file is in the way",
            )));
        }
        if !self.opts.dry_run {
            mknodat(CWD, dest, ft, Mode::from_raw_mode(0o600), dev)
                .map_err(|e| io_err(e.into()))?;
            self.apply_node(dest, entry);
        }
        self.act(entry, "create", None);
        Ok(())
    }
}

/// Removes `.ocpvault-tmp-*` files that an interrupted earlier restore left behind, so
/// that a rerun converges to exactly the archive's state. Only files and symlinks
/// with that prefix are touched, never directories.
fn remove_stale_temporaries(dir: &Path, report: &mut RestoreReport) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let is_ours = name.as_encoded_bytes().starts_with(b".ocpvault-tmp-");
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_ours && !is_dir {
            match std::fs::remove_file(e.path()) {
                Ok(()) => report.warnings.push(format!(
                    "{}: removed a temporary file left by an interrupted restore",
                    e.path().display()
                )),
                Err(err) => report
                    .warnings
                    .push(format!("{}: {err}", e.path().display())),
            }
        }
    }
}

fn temp_sibling(dest: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".ocpvault-tmp-");
    name.push(dest.file_name().unwrap_or_default());
    name.push(format!(".{}", std::process::id()));
    dest.with_file_name(name)
}

/// Opens a file (or, with `dir`, only a directory) for reading without following a
/// final symlink and without blocking on a FIFO put in its place.
fn open_nofollow(path: &Path, dir: bool) -> io::Result<File> {
    use rustix::fs::OFlags;
    let mut flags = OFlags::NOFOLLOW | OFlags::NONBLOCK;
    if dir {
        flags |= OFlags::DIRECTORY;
    }
    File::options()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

/// SHA-256 of a file on disk, streamed.
pub fn hash_file(path: &Path) -> io::Result<ObjectId> {
    ObjectId::of_reader(&mut File::open(path)?)
}

/// Paths selected for a restore, for callers that list them first.
pub fn selected_paths(
    reader: &ArchiveReader,
    opts: &RestoreOptions,
) -> Result<HashSet<String>, RestoreError> {
    let sel = select(reader, opts)?;
    Ok(sel
        .into_iter()
        .map(|i| reader.manifest().entries[i].path.to_string())
        .collect())
}
