//! Executing a restore plan. Every node is named relative to a pinned directory
//! (`dirs`), contents are hash-checked in a temporary file before it is renamed into
//! place, and metadata is set on descriptors.
//!
//! File contents go through the `pipeline` (writer threads): a file step starts
//! there and is finished (metadata, rename, identity check) by [`Applier::collect`]
//! once its writer reports it written, read back, checked and fsynced. Everything
//! that names a path stays on this thread.

use super::dirs::{Dirs, proc_fd_path, split};
use super::meta::{self, MetaFailure, MetaOptions, Node, is_privilege_failure};
use super::paths::{TEMP_PREFIX, is_temp_name};
use super::pipeline::{Pipeline, Written};
use super::plan::{Step, StepKind, metadata_changes, open_file, open_node, want_type};
use super::{RestoreOptions, RestoreReport};
use crate::accounts::Accounts;
use crate::archive::{ArchiveReader, Entry, EntryType};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::rc::Rc;

/// The state of one run.
pub struct Applier<'a> {
    pub dirs: Dirs,
    pub opts: &'a RestoreOptions,
    pub accounts: &'a Accounts,
    pub meta: MetaOptions,
    /// Files written by this run that selected hard links join, by entry index.
    written: HashMap<usize, File>,
    link_targets: HashSet<usize>,
    /// Directories (archive paths) something was created in or renamed into.
    dirty: BTreeSet<Vec<u8>>,
    temp_base: u64,
    temp_seq: u64,
    pipe: Pipeline,
    /// Files handed to the writers, by their pipeline sequence number.
    pending: HashMap<u64, PendingFile>,
}

/// What a step did, for the report; errors carry their message.
pub type StepResult = Result<Option<String>, String>;

/// A step done now, or a file still with the writers (see [`Applier::collect`]).
pub enum Applied {
    Done(StepResult),
    Pending,
}

/// A file whose content is with the writers: what finishing it needs.
struct PendingFile {
    step: usize,
    same_content: bool,
    entry: Entry,
    dir: Rc<OwnedFd>,
    parent: Vec<u8>,
    name: OsString,
    tmp: OsString,
}

impl<'a> Applier<'a> {
    pub fn new(
        dirs: Dirs,
        opts: &'a RestoreOptions,
        accounts: &'a Accounts,
        meta: MetaOptions,
        link_targets: HashSet<usize>,
    ) -> io::Result<Self> {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Ok(Self {
            dirs,
            opts,
            accounts,
            meta,
            written: HashMap::new(),
            link_targets,
            dirty: BTreeSet::new(),
            temp_base: h.finish(),
            temp_seq: 0,
            pipe: Pipeline::start()?,
            pending: HashMap::new(),
        })
    }

    fn temp_name(&mut self) -> OsString {
        self.temp_seq += 1;
        let n = self
            .temp_base
            .wrapping_add(self.temp_seq.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut name = TEMP_PREFIX.to_vec();
        name.extend_from_slice(format!("{n:016x}").as_bytes());
        OsString::from_vec(name)
    }

    /// Executes one step (not directory metadata, which [`Self::finish_dir`] sets).
    /// Metadata failures go to `report`; the result is the detail or the error. A
    /// file is `Pending` until [`Self::collect`] returns its result.
    pub fn apply(
        &mut self,
        reader: &mut ArchiveReader,
        step: &Step,
        report: &mut RestoreReport,
    ) -> Applied {
        if matches!(step.kind, StepKind::Unchanged | StepKind::Refuse) {
            return Applied::Done(Ok(None));
        }
        match self.apply_now(reader, step, report) {
            Ok(Some(detail)) => Applied::Done(Ok(detail)),
            Ok(None) => Applied::Pending,
            Err(msg) => Applied::Done(Err(msg)),
        }
    }

    /// [`Self::apply`] with `Ok(None)` for a file handed to the writers.
    fn apply_now(
        &mut self,
        reader: &mut ArchiveReader,
        step: &Step,
        report: &mut RestoreReport,
    ) -> Result<Option<Option<String>>, String> {
        let e = reader.manifest().entries[step.index].clone();
        let (parent, name) = split(e.path.as_bytes());
        let name = OsStr::from_bytes(name);
        let pfd = self
            .dirs
            .open(parent, true)
            .map_err(|u| u.to_string())?
            .ok_or("parent directory could not be created")?;
        for d in std::mem::take(&mut self.dirs.created) {
            self.dirty.insert(split(&d).0.to_vec());
        }
        let done = match (e.kind, &step.kind) {
            (EntryType::Dir, StepKind::Update) => Ok(None),
            (_, StepKind::Update) => {
                let failures = self.fix_metadata(&pfd, name, &e)?;
                self.record(&e, failures, report);
                Ok(None)
            }
            (EntryType::Dir, _) => self.make_dir(&pfd, parent, name),
            (EntryType::File, _) => {
                let (parent, name) = (parent.to_vec(), name.to_os_string());
                return self
                    .start_file(reader, pfd, parent, name, e, step)
                    .map(|()| None);
            }
            (EntryType::Hardlink, _) => match step.copy_of {
                Some(f) => {
                    let content = reader.manifest().entries[f].clone();
                    let mut copy = e.clone();
                    copy.object = content.object;
                    let (parent, name) = (parent.to_vec(), name.to_os_string());
                    return self
                        .start_file(reader, pfd, parent, name, copy, step)
                        .map(|()| None);
                }
                None => self.link(&pfd, parent, name, &e, reader),
            },
            _ => self.make_node(&pfd, parent, name, &e, report),
        };
        done.map(Some)
    }

    /// True when a file still with the writers could change what a step at `path`
    /// finds: its path is a prefix of `path` (an ancestor, or a name its
    /// `.ocpvault-old` copy could take). The caller then waits for every file.
    pub fn must_wait(&self, path: &[u8]) -> bool {
        self.pending
            .values()
            .any(|p| path.starts_with(p.entry.path.as_bytes()))
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Finishes the files the writers are done with (all of them when `wait`) and
    /// returns (manifest index, result) for each.
    pub fn collect(&mut self, wait: bool, report: &mut RestoreReport) -> Vec<(usize, StepResult)> {
        let mut out = Vec::new();
        for w in self.pipe.finished() {
            out.extend(self.finish_file(w, report));
        }
        while wait && !self.pending.is_empty() {
            match self.pipe.wait() {
                Some(w) => out.extend(self.finish_file(w, report)),
                None => {
                    for (_, p) in std::mem::take(&mut self.pending) {
                        let _ = rustix::fs::unlinkat(p.dir.as_fd(), &p.tmp, AtFlags::empty());
                        out.push((p.step, Err("the writer threads stopped".into())));
                    }
                }
            }
        }
        out
    }

    fn fix_metadata(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        e: &Entry,
    ) -> Result<Vec<MetaFailure>, String> {
        let changes =
            metadata_changes(dir, name, e, self.accounts, self.meta).map_err(|x| x.to_string())?;
        match e.kind {
            EntryType::File | EntryType::Hardlink => {
                let f = File::from(open_file(dir, name).map_err(|x| x.to_string())?);
                let st = rustix::fs::fstat(&f).map_err(|x| x.to_string())?;
                if FileType::from_raw_mode(st.st_mode as _) != FileType::RegularFile {
                    return Err("changed during the restore".into());
                }
                Ok(meta::apply_changes(&Node::Open(&f), e, &changes))
            }
            kind => {
                let node = open_node(dir, name, want_type(kind)).map_err(|x| x.to_string())?;
                let n = Node::Named {
                    dir,
                    name,
                    node: &node,
                    is_symlink: kind == EntryType::Symlink,
                };
                Ok(meta::apply_changes(&n, e, &changes))
            }
        }
    }

    fn make_dir(&mut self, dir: &Rc<OwnedFd>, parent: &[u8], name: &OsStr) -> StepResult {
        let mut detail = None;
        match rustix::fs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::Directory => {
                return Ok(None);
            }
            Ok(_) => detail = self.set_aside(dir, name, true)?,
            Err(_) => {}
        }
        match rustix::fs::mkdirat(dir.as_fd(), name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(x) => return Err(x.to_string()),
        }
        self.dirty.insert(parent.to_vec());
        Ok(detail)
    }

    /// Creates the temporary file for a file entry in its pinned directory and
    /// hands its content to the writers; [`Self::finish_file`] completes it.
    fn start_file(
        &mut self,
        reader: &mut ArchiveReader,
        dir: Rc<OwnedFd>,
        parent: Vec<u8>,
        name: OsString,
        e: Entry,
        step: &Step,
    ) -> Result<(), String> {
        let id = e.object.ok_or("file entry has no object")?;
        let tmp = self.temp_name();
        let fd = rustix::fs::openat(
            dir.as_fd(),
            &tmp,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|x| format!("cannot create a temporary file: {x}"))?;
        match self.pipe.send_file(reader, id, e.size, File::from(fd)) {
            Ok(seq) => {
                let p = PendingFile {
                    step: step.index,
                    same_content: step.same_content,
                    entry: e,
                    dir,
                    parent,
                    name,
                    tmp,
                };
                self.pending.insert(seq, p);
                Ok(())
            }
            Err((_file, msg)) => {
                let _ = rustix::fs::unlinkat(dir.as_fd(), &tmp, AtFlags::empty());
                Err(msg)
            }
        }
    }

    /// A file the writers are done with: on success its metadata is set, what was
    /// there is kept, it is renamed into place and the name is checked to be the
    /// inode written; on failure the temporary is removed and nothing else changes.
    fn finish_file(
        &mut self,
        w: Written,
        report: &mut RestoreReport,
    ) -> Option<(usize, StepResult)> {
        let p = self.pending.remove(&w.seq)?;
        if let Err(msg) = w.result {
            let _ = rustix::fs::unlinkat(p.dir.as_fd(), &p.tmp, AtFlags::empty());
            return Some((p.step, Err(msg)));
        }
        let result = self.place_file(&p, w.file, report);
        Some((p.step, result))
    }

    fn place_file(
        &mut self,
        p: &PendingFile,
        file: File,
        report: &mut RestoreReport,
    ) -> StepResult {
        let e = &p.entry;
        let failures = self.set_all_metadata(&Node::Open(&file), e);
        self.record(e, failures, report);
        let detail = self.place(&p.dir, &p.tmp, &p.name, !p.same_content)?;
        self.dirty.insert(p.parent.clone());
        report.files_written += 1;
        report.bytes_written += e.size;
        // The writer read every byte back through this descriptor and hashed it;
        // the name must now be that very inode, of the recorded size.
        let back = open_file(&p.dir, &p.name).map_err(|x| format!("read back: {x}"))?;
        let (a, b) = (
            rustix::fs::fstat(&back).map_err(|x| x.to_string())?,
            rustix::fs::fstat(&file).map_err(|x| x.to_string())?,
        );
        if a.st_ino != b.st_ino || a.st_dev != b.st_dev {
            return Err("changed during the restore (read back found another file)".into());
        }
        if a.st_size as u64 != e.size {
            return Err(format!(
                "read back {} bytes, the entry says {}",
                a.st_size, e.size
            ));
        }
        if self.link_targets.contains(&p.step) {
            self.written.insert(p.step, file);
        }
        Ok(detail)
    }

    /// Links a hard link to the inode this run wrote for its file.
    fn link(
        &mut self,
        dir: &Rc<OwnedFd>,
        parent: &[u8],
        name: &OsStr,
        e: &Entry,
        reader: &ArchiveReader,
    ) -> StepResult {
        let link = e.link.as_ref().ok_or("hard link without link")?;
        let f = reader
            .manifest()
            .entries
            .binary_search_by(|x| x.path.as_bytes().cmp(link.as_bytes()))
            .map_err(|_| "hard link target is not in the archive")?;
        let tmp = self.temp_name();
        let file = self
            .written
            .get(&f)
            .ok_or_else(|| format!("{link} was not written by this restore; not linked"))?;
        // /proc/self/fd/N of the open file is the very inode this run wrote.
        rustix::fs::linkat(
            CWD,
            proc_fd_path(file),
            dir.as_fd(),
            &tmp,
            AtFlags::SYMLINK_FOLLOW,
        )
        .map_err(|x| format!("cannot link to {link}: {x}"))?;
        let detail = self.place(dir, &tmp, name, true)?;
        self.dirty.insert(parent.to_vec());
        Ok(detail)
    }

    /// Symlinks, FIFOs and device nodes: made under a temporary name, given their
    /// metadata through a checked O_PATH descriptor, renamed into place.
    fn make_node(
        &mut self,
        dir: &Rc<OwnedFd>,
        parent: &[u8],
        name: &OsStr,
        e: &Entry,
        report: &mut RestoreReport,
    ) -> StepResult {
        let tmp = self.temp_name();
        let made = match e.kind {
            EntryType::Symlink => {
                let target = e.target.as_ref().ok_or("symlink without target")?;
                rustix::fs::symlinkat(OsStr::from_bytes(target.as_bytes()), dir.as_fd(), &tmp)
            }
            kind => {
                let dev = e.rdev.map_or(0, |r| rustix::fs::makedev(r.major, r.minor));
                rustix::fs::mknodat(
                    dir.as_fd(),
                    &tmp,
                    want_type(kind),
                    Mode::from_raw_mode(0o600),
                    dev,
                )
            }
        };
        made.map_err(|x| x.to_string())?;
        match open_node(dir, &tmp, want_type(e.kind)) {
            Ok(node) => {
                let n = Node::Named {
                    dir,
                    name: &tmp,
                    node: &node,
                    is_symlink: e.kind == EntryType::Symlink,
                };
                let failures = self.set_all_metadata(&n, e);
                self.record(e, failures, report);
            }
            Err(x) => {
                let _ = rustix::fs::unlinkat(dir.as_fd(), &tmp, AtFlags::empty());
                return Err(x.to_string());
            }
        }
        let detail = self.place(dir, &tmp, name, true)?;
        self.dirty.insert(parent.to_vec());
        Ok(detail)
    }

    fn set_all_metadata(&self, node: &Node, e: &Entry) -> Vec<MetaFailure> {
        match meta::current(node, !self.meta.no_xattrs) {
            Ok(cur) => {
                let changes = meta::differences(&cur, e, self.accounts, self.meta);
                meta::apply_changes(node, e, &changes)
            }
            Err(error) => vec![MetaFailure {
                what: "read metadata".into(),
                error,
            }],
        }
    }

    /// Renames the temporary `tmp` over `name`, first keeping what is there as
    /// `<name>.ocpvault-old` unless --overwrite. A directory in the way is refused.
    fn place(&self, dir: &OwnedFd, tmp: &OsStr, name: &OsStr, keep: bool) -> StepResult {
        let mut detail = None;
        match rustix::fs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::Directory => {
                let _ = rustix::fs::unlinkat(dir.as_fd(), tmp, AtFlags::empty());
                return Err("a directory is in the way".into());
            }
            Ok(_) if !keep => {}
            Ok(_) => match self.set_aside(dir, name, false) {
                Ok(d) => detail = d,
                Err(x) => {
                    let _ = rustix::fs::unlinkat(dir.as_fd(), tmp, AtFlags::empty());
                    return Err(x);
                }
            },
            Err(_) => {}
        }
        rustix::fs::renameat(dir.as_fd(), tmp, dir.as_fd(), name).map_err(|x| {
            let _ = rustix::fs::unlinkat(dir.as_fd(), tmp, AtFlags::empty());
            x.to_string()
        })?;
        Ok(detail)
    }

    /// Keeps the non-directory `name` as `<name>.ocpvault-old[.N]`: a hard link of
    /// the node itself (never its symlink target) when it stays, or a rename when
    /// `moving` (its name is needed for a directory). With --overwrite nothing is
    /// kept (a moved node is unlinked).
    fn set_aside(&self, dir: &OwnedFd, name: &OsStr, moving: bool) -> StepResult {
        if self.opts.overwrite {
            if moving {
                rustix::fs::unlinkat(dir.as_fd(), name, AtFlags::empty())
                    .map_err(|x| x.to_string())?;
            }
            return Ok(None);
        }
        for n in 0..1000 {
            let mut old = name.to_os_string();
            old.push(".ocpvault-old");
            if n > 0 {
                old.push(format!(".{n}"));
            }
            let r = if moving {
                rustix::fs::renameat_with(
                    dir.as_fd(),
                    name,
                    dir.as_fd(),
                    &old,
                    RenameFlags::NOREPLACE,
                )
            } else {
                rustix::fs::linkat(dir.as_fd(), name, dir.as_fd(), &old, AtFlags::empty())
            };
            match r {
                Ok(()) => {
                    return Ok(Some(format!(
                        "previous kept as {}",
                        String::from_utf8_lossy(old.as_bytes())
                    )));
                }
                Err(Errno::EXIST) => continue,
                Err(x) => {
                    return Err(format!(
                        "cannot keep the previous {}: {x}",
                        name.to_string_lossy()
                    ));
                }
            }
        }
        Err("too many .ocpvault-old copies".into())
    }

    /// Sets a directory's metadata (after its children are written) and returns
    /// nothing when it already matched.
    pub fn finish_dir(&mut self, e: &Entry, report: &mut RestoreReport) {
        let path = e.path.as_bytes();
        let fd = match self.dirs.open(path, false) {
            Ok(Some(fd)) => fd,
            Ok(None) => return,
            Err(u) => {
                report
                    .warnings
                    .push(format!("{u}; directory metadata not set"));
                return;
            }
        };
        let file = match rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 0) {
            Ok(d) => File::from(d),
            Err(x) => {
                report.errors.push(format!("{}: {x}", e.path));
                return;
            }
        };
        let failures = self.set_all_metadata(&Node::Open(&file), e);
        self.record(e, failures, report);
    }

    /// Removes `.ocpvault-tmp-<16 hex>` files that an interrupted earlier restore
    /// left in the directories this run wrote into, so a rerun converges. Names that
    /// are paths in the archive, and directories, are never touched.
    pub fn sweep(&self, reader: &ArchiveReader, report: &mut RestoreReport) {
        for (dir, fd) in self.dirs.all() {
            let Ok(listing) = rustix::fs::Dir::read_from(fd.as_fd()) else {
                continue;
            };
            for ent in listing.flatten() {
                let name = ent.file_name().to_bytes();
                if !is_temp_name(name) {
                    continue;
                }
                let mut path = if dir.as_slice() == b"/" {
                    Vec::new()
                } else {
                    dir.clone()
                };
                path.push(b'/');
                path.extend_from_slice(name);
                if reader.manifest().entry(&path).is_some() {
                    continue;
                }
                let name = OsStr::from_bytes(name);
                let kind = rustix::fs::statat(fd.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| FileType::from_raw_mode(st.st_mode as _));
                if !matches!(kind, Ok(FileType::RegularFile | FileType::Symlink)) {
                    continue;
                }
                let shown = self.dirs.host_path(&path).display().to_string();
                match rustix::fs::unlinkat(fd.as_fd(), name, AtFlags::empty()) {
                    Ok(()) => report.warnings.push(format!(
                        "{shown}: removed a temporary file left by an interrupted restore"
                    )),
                    Err(x) => report.warnings.push(format!("{shown}: {x}")),
                }
            }
        }
    }

    /// fsyncs every directory something was created or renamed in.
    pub fn sync_dirs(&mut self, report: &mut RestoreReport) {
        for dir in std::mem::take(&mut self.dirty) {
            if let Ok(Some(fd)) = self.dirs.open(&dir, false) {
                if let Err(x) = rustix::fs::fsync(fd.as_fd()) {
                    let shown = self.dirs.host_path(&dir);
                    report
                        .warnings
                        .push(format!("{}: fsync failed: {x}", shown.display()));
                }
            }
        }
    }

    /// Privilege failures are warnings unless --strict; everything else is an error.
    fn record(&self, e: &Entry, failures: Vec<MetaFailure>, report: &mut RestoreReport) {
        for f in failures {
            let shown = self.dirs.host_path(e.path.as_bytes()).display().to_string();
            if is_privilege_failure(&f) && !self.opts.strict {
                report.metadata_warnings.push(super::MetaWarning {
                    path: shown,
                    what: f.what,
                    error: f.error.to_string(),
                });
            } else {
                report
                    .errors
                    .push(format!("{shown}: {}: {}", f.what, f.error));
            }
        }
    }
}
