//! The restore plan: for every selected entry, what the run will do, computed once
//! from the archive and the host as it is, then printed by `--dry-run` or executed.
//!
//! Looking at the host goes through the same pinned directories as writing (see
//! `dirs`), so planning never follows a symlink either.

use super::dirs::{Dirs, split};
use super::meta::{self, Change, MetaOptions, Node};
use crate::accounts::Accounts;
use crate::archive::{ArchiveReader, Entry, EntryType, ObjectId};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat, statat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// What the run does with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Nothing is there: create it.
    Create,
    /// Something else is there (other content, type or target): put the entry in
    /// its place; the previous node is kept as `.ocpvault-old` unless --overwrite.
    Replace,
    /// The node is right but its metadata differs: fix only that.
    Update,
    Unchanged,
    /// Cannot be restored; `note` says why.
    Refuse,
}

impl StepKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Refuse => "error",
        }
    }
}

/// One entry of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index of the entry in the manifest.
    pub index: usize,
    pub kind: StepKind,
    /// The metadata changes of an `Update`.
    pub changes: Vec<Change>,
    /// Why (replace, refuse) or what (hard link).
    pub note: Option<String>,
    /// For a hard link whose file is not selected: the file entry whose content is
    /// restored as a separate copy (a link is only ever made to a file this run
    /// wrote).
    pub copy_of: Option<usize>,
    /// The node there now already holds this content (a `Replace` only to give it
    /// an inode of its own): nothing is kept as `.ocpvault-old`.
    pub same_content: bool,
}

/// The identity of an existing file whose content matches its entry.
#[derive(Debug, Clone, Copy)]
struct SameFile {
    dev: u64,
    ino: u64,
    nlink: u64,
}

/// Builds the plan for `selected` (manifest indices in path order). `dirs` is None
/// when the target does not exist yet (a dry run): then everything is created.
pub fn plan(
    reader: &mut ArchiveReader,
    selected: &[usize],
    dirs: Option<&mut Dirs>,
    accounts: &Accounts,
    opts: MetaOptions,
) -> Vec<Step> {
    let Some(dirs) = dirs else {
        return selected
            .iter()
            .map(|i| step(*i, StepKind::Create))
            .collect();
    };
    let mut same: HashMap<usize, SameFile> = HashMap::new();
    let mut steps: Vec<Step> = Vec::with_capacity(selected.len());
    let is_selected = |i: usize| selected.binary_search(&i).is_ok();
    for &i in selected {
        let e = reader.manifest().entries[i].clone();
        let s = match e.kind {
            EntryType::Hardlink => {
                let f = linked_index(reader, &e);
                match f {
                    Some(f) if is_selected(f) => step(i, StepKind::Unchanged), // decided below
                    Some(f) => {
                        let mut s = plan_one(reader, dirs, i, f, accounts, opts, &mut same);
                        s.copy_of = Some(f);
                        s
                    }
                    None => refuse(i, "hard link does not name a file entry".into()),
                }
            }
            _ => plan_one(reader, dirs, i, i, accounts, opts, &mut same),
        };
        steps.push(s);
    }
    join_hard_links(reader, dirs, &mut steps, &same);
    steps
}

fn step(index: usize, kind: StepKind) -> Step {
    Step {
        index,
        kind,
        changes: Vec::new(),
        note: None,
        copy_of: None,
        same_content: false,
    }
}

fn refuse(index: usize, why: String) -> Step {
    Step {
        note: Some(why),
        ..step(index, StepKind::Refuse)
    }
}

fn linked_index(reader: &ArchiveReader, e: &Entry) -> Option<usize> {
    let link = e.link.as_ref()?;
    let entries = &reader.manifest().entries;
    entries
        .binary_search_by(|x| x.path.as_bytes().cmp(link.as_bytes()))
        .ok()
        .filter(|f| entries[*f].kind == EntryType::File)
}

/// Plans one entry; a file's content comes from entry `content` (itself, or the
/// file a hard link names).
fn plan_one(
    reader: &mut ArchiveReader,
    dirs: &mut Dirs,
    index: usize,
    content: usize,
    accounts: &Accounts,
    opts: MetaOptions,
    same: &mut HashMap<usize, SameFile>,
) -> Step {
    let e = &reader.manifest().entries[index].clone();
    let (parent, name) = split(e.path.as_bytes());
    let pfd = match dirs.open(parent, false) {
        Err(u) => return refuse(index, u.to_string()),
        Ok(None) => return step(index, StepKind::Create),
        Ok(Some(fd)) => fd,
    };
    let name = OsStr::from_bytes(name);
    let st = match statat(pfd.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => return step(index, StepKind::Create),
        Err(err) => return refuse(index, format!("cannot inspect: {err}")),
        Ok(st) => st,
    };
    let ft = FileType::from_raw_mode(st.st_mode as _);
    let want = want_type(e.kind);
    if ft == FileType::Directory && want != FileType::Directory {
        return refuse(index, "a directory is in the way".into());
    }
    if ft != want {
        return replace(index, format!("a {} is in the way", type_name(ft)));
    }
    let same_node = match e.kind {
        EntryType::Dir => true,
        EntryType::File | EntryType::Hardlink => {
            let content_entry = reader.manifest().entries[content].clone();
            match same_content(&pfd, name, &content_entry, st.st_ino) {
                Some(nlink) => {
                    same.insert(
                        index,
                        SameFile {
                            dev: st.st_dev,
                            ino: st.st_ino,
                            nlink,
                        },
                    );
                    true
                }
                None => false,
            }
        }
        EntryType::Symlink => rustix::fs::readlinkat(pfd.as_fd(), name, Vec::new())
            .is_ok_and(|t| Some(t.as_bytes()) == e.target.as_ref().map(|x| x.as_bytes())),
        EntryType::Char | EntryType::Block => e
            .rdev
            .is_some_and(|r| st.st_rdev == rustix::fs::makedev(r.major, r.minor)),
        EntryType::Fifo => true,
    };
    if same_node && e.kind != EntryType::Dir {
        same.entry(index).or_insert(SameFile {
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink as u64,
        });
    }
    if !same_node {
        let why = match e.kind {
            EntryType::Symlink => "symlink target differs",
            EntryType::Char | EntryType::Block => "device number differs",
            _ => "content differs",
        };
        return replace(index, why.into());
    }
    match metadata_changes(&pfd, name, e, accounts, opts) {
        Ok(changes) if changes.is_empty() => step(index, StepKind::Unchanged),
        Ok(changes) => Step {
            changes,
            ..step(index, StepKind::Update)
        },
        Err(err) => refuse(index, format!("cannot inspect: {err}")),
    }
}

fn replace(index: usize, why: String) -> Step {
    Step {
        note: Some(why),
        ..step(index, StepKind::Replace)
    }
}

/// The link count of `name` when it is a regular file holding exactly the content
/// of `content` (size and SHA-256), read without following a symlink.
fn same_content(dir: &OwnedFd, name: &OsStr, content: &Entry, ino: u64) -> Option<u64> {
    let id = content.object?;
    let fd = open_file(dir, name).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    let is_file = FileType::from_raw_mode(st.st_mode as _) == FileType::RegularFile;
    if !is_file || st.st_ino != ino || st.st_size as u64 != content.size {
        return None;
    }
    let hash = ObjectId::of_reader(&mut File::from(fd)).ok()?;
    (hash == id).then_some(st.st_nlink as u64)
}

/// Opens a regular file for reading without following a symlink and without
/// blocking on a FIFO put in its place.
pub fn open_file(dir: &OwnedFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    openat(
        dir.as_fd(),
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens a node that cannot be opened for reading (symlink, FIFO, device) as an
/// O_PATH descriptor, checked to be of type `want`.
pub fn open_node(dir: &OwnedFd, name: &OsStr, want: FileType) -> std::io::Result<OwnedFd> {
    let fd = openat(
        dir.as_fd(),
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode as _) != want {
        return Err(std::io::Error::other("changed during the restore"));
    }
    Ok(fd)
}

/// The metadata differences of the node `name` in `dir`, which is of the entry's type.
pub fn metadata_changes(
    dir: &OwnedFd,
    name: &OsStr,
    e: &Entry,
    accounts: &Accounts,
    opts: MetaOptions,
) -> std::io::Result<Vec<Change>> {
    let read_xattrs = !opts.no_xattrs;
    let cur = match e.kind {
        EntryType::Dir => {
            let fd = openat(
                dir.as_fd(),
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            meta::current(&Node::Open(&File::from(fd)), read_xattrs)?
        }
        EntryType::File | EntryType::Hardlink => {
            let f = File::from(open_file(dir, name)?);
            meta::current(&Node::Open(&f), read_xattrs)?
        }
        kind => {
            let node = open_node(dir, name, want_type(kind))?;
            let n = Node::Named {
                dir,
                name,
                node: &node,
                is_symlink: kind == EntryType::Symlink,
            };
            meta::current(&n, read_xattrs)?
        }
    };
    Ok(meta::differences(&cur, e, accounts, opts))
}

/// Hard links: a link is made only to a file this run writes, and metadata is
/// never applied to an inode that names outside the selection share. So a file
/// whose inode has other names than its selected hard links, or whose hard links
/// do not all share its inode, is written anew, and its hard links are linked to
/// the new inode.
fn join_hard_links(
    reader: &ArchiveReader,
    dirs: &mut Dirs,
    steps: &mut [Step],
    same: &HashMap<usize, SameFile>,
) {
    let pos: HashMap<usize, usize> = steps
        .iter()
        .enumerate()
        .map(|(p, s)| (s.index, p))
        .collect();
    let entries = &reader.manifest().entries;
    // Selected hard links per selected file, and which of them share its inode now.
    let mut group: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut links: Vec<(usize, usize, Option<FileType>)> = Vec::new();
    for s in steps.iter() {
        let e = &entries[s.index];
        if e.kind != EntryType::Hardlink || s.copy_of.is_some() || s.kind == StepKind::Refuse {
            continue;
        }
        let Some(f) = linked_index(reader, e) else {
            continue;
        };
        let (shares, here) = current_identity(dirs, e.path.as_bytes());
        let sharing = match (same.get(&f), shares) {
            (Some(sf), Some((dev, ino))) => sf.dev == dev && sf.ino == ino,
            _ => false,
        };
        let g = group.entry(f).or_insert((0, 0));
        g.0 += 1;
        g.1 += usize::from(sharing);
        links.push((s.index, f, here));
    }
    for (&f, &(count, sharing)) in &group {
        let Some(&p) = pos.get(&f) else { continue };
        let s = &mut steps[p];
        let nlink_ok = same
            .get(&f)
            .is_some_and(|sf| sf.nlink == 1 + sharing as u64);
        if matches!(s.kind, StepKind::Unchanged | StepKind::Update)
            && (sharing < count || !nlink_ok)
        {
            s.kind = StepKind::Replace;
            s.changes.clear();
            s.same_content = true;
            s.note = Some("written anew so its hard links share one inode".into());
        }
    }
    // Other nodes whose inode more names share (a file or a hard-link copy, a
    // symlink or device linked elsewhere): a metadata fix would change those names
    // too, so the node is made anew instead. Without a fix it is left alone.
    for s in steps.iter_mut() {
        let kind = entries[s.index].kind;
        let grouped = kind == EntryType::File && group.contains_key(&s.index);
        let linked = kind == EntryType::Hardlink && s.copy_of.is_none();
        if kind == EntryType::Dir || grouped || linked {
            continue;
        }
        if let Some(sf) = same.get(&s.index) {
            if sf.nlink > 1 && s.kind == StepKind::Update {
                s.kind = StepKind::Replace;
                s.changes.clear();
                s.same_content = true;
                s.note = Some("its inode is shared with other names; made anew".into());
            }
        }
    }
    for (h, f, here) in links {
        let file_written = pos
            .get(&f)
            .is_some_and(|p| matches!(steps[*p].kind, StepKind::Create | StepKind::Replace));
        let file_refused = pos
            .get(&f)
            .is_some_and(|p| steps[*p].kind == StepKind::Refuse);
        let link = entries[f].path.to_string();
        let s = &mut steps[pos[&h]];
        s.note = Some(format!("hard link to {link}"));
        s.kind = if file_refused {
            StepKind::Refuse
        } else if !file_written {
            StepKind::Unchanged
        } else if here == Some(FileType::Directory) {
            s.note = Some("a directory is in the way".into());
            StepKind::Refuse
        } else if here.is_some() {
            StepKind::Replace
        } else {
            StepKind::Create
        };
    }
}

/// The (dev, ino) and type of what is at `path` now, without following symlinks.
fn current_identity(dirs: &mut Dirs, path: &[u8]) -> (Option<(u64, u64)>, Option<FileType>) {
    let (parent, name) = split(path);
    let Ok(Some(pfd)) = dirs.open(parent, false) else {
        return (None, None);
    };
    match statat(
        pfd.as_fd(),
        OsStr::from_bytes(name),
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => (
            Some((st.st_dev, st.st_ino)),
            Some(FileType::from_raw_mode(st.st_mode as _)),
        ),
        Err(_) => (None, None),
    }
}

/// The file type an entry creates.
pub fn want_type(kind: EntryType) -> FileType {
    match kind {
        EntryType::File | EntryType::Hardlink => FileType::RegularFile,
        EntryType::Dir => FileType::Directory,
        EntryType::Symlink => FileType::Symlink,
        EntryType::Fifo => FileType::Fifo,
        EntryType::Char => FileType::CharacterDevice,
        EntryType::Block => FileType::BlockDevice,
    }
}

fn type_name(ft: FileType) -> &'static str {
    match ft {
        FileType::RegularFile => "file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "FIFO",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "socket or unknown node",
    }
}
