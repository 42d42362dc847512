//! Recorded metadata against what is on disk: reading a node's current owner, mode,
//! xattrs and times, the list of differences to the archive, and applying exactly
//! those differences.
//!
//! Every read and change goes through a [`Node`]: an open file or directory, or a
//! symlink, FIFO or device node named inside an open (pinned) directory and never
//! followed. Order matters when applying: chown clears setuid bits and file
//! capabilities, so it comes first, then chmod, then xattrs, then times.

use crate::accounts::Accounts;
use crate::archive::{Entry, EntryType, parse_time};
use rustix::fs::{AtFlags, CWD, Mode, Timespec, Timestamps};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// How owners and xattrs are applied.
#[derive(Debug, Clone, Copy)]
pub struct MetaOptions {
    pub numeric_owner: bool,
    pub no_xattrs: bool,
}

/// A metadata step that failed; the caller decides whether it is a warning.
#[derive(Debug)]
pub struct MetaFailure {
    pub what: String,
    pub error: std::io::Error,
}

/// The uid and gid to give `entry` on this host: by name when the name exists here,
/// else by number (GNU tar's rule); always by number with `numeric_owner`.
pub fn owner_for(entry: &Entry, accounts: &Accounts, numeric_owner: bool) -> (u32, u32) {
    if numeric_owner {
        return (entry.uid, entry.gid);
    }
    let uid = entry
        .user
        .as_deref()
        .and_then(|n| accounts.uid(n))
        .unwrap_or(entry.uid);
    let gid = entry
        .group
        .as_deref()
        .and_then(|n| accounts.gid(n))
        .unwrap_or(entry.gid);
    (uid, gid)
}

/// A node whose metadata is read or changed.
pub enum Node<'a> {
    /// A regular file or directory, open.
    Open(&'a File),
    /// A symlink, FIFO or device node: `name` inside the open directory `dir`,
    /// and an O_PATH descriptor of it that the caller checked to be that node.
    Named {
        dir: &'a OwnedFd,
        name: &'a OsStr,
        node: &'a OwnedFd,
        is_symlink: bool,
    },
}

impl Node<'_> {
    /// A path that reaches the node itself without following it: the l* xattr calls
    /// act on the last component, and `/proc/self/fd/N` is the pinned directory.
    fn xattr_path(&self) -> Option<PathBuf> {
        match self {
            Node::Open(_) => None,
            Node::Named { dir, name, .. } => Some(super::dirs::proc_fd_path(*dir).join(name)),
        }
    }
}

/// What a node has now.
#[derive(Debug, Clone)]
pub struct Current {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, u32),
    /// None when they could not be listed.
    pub xattrs: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// Reads a node's current metadata.
pub fn current(node: &Node, read_xattrs: bool) -> std::io::Result<Current> {
    let st = match node {
        Node::Open(f) => rustix::fs::fstat(f)?,
        Node::Named { node, .. } => rustix::fs::fstat(node)?,
    };
    let xattrs = if read_xattrs {
        read_xattr_list(node).ok()
    } else {
        None
    };
    Ok(Current {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime: (st.st_mtime, st.st_mtime_nsec as u32),
        xattrs,
    })
}

fn read_xattr_list(node: &Node) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use xattr::FileExt;
    let mut out = Vec::new();
    match node {
        Node::Open(f) => {
            for name in f.list_xattr()? {
                if let Some(v) = f.get_xattr(&name)? {
                    out.push((name.as_bytes().to_vec(), v));
                }
            }
        }
        Node::Named { .. } => {
            let path = node.xattr_path().unwrap_or_default();
            for name in xattr::list(&path)? {
                if let Some(v) = xattr::get(&path, &name)? {
                    out.push((name.as_bytes().to_vec(), v));
                }
            }
        }
    }
    Ok(out)
}

/// One way a node differs from its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Mode { from: u32, to: u32 },
    Owner { from: (u32, u32), to: (u32, u32) },
    Label { from: Option<String>, to: String },
    SetXattr(String),
    RemoveXattr(String),
    Mtime,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Mode { from, to } => write!(f, "mode {from:04o} -> {to:04o}"),
            Change::Owner { from, to } => {
                write!(f, "owner {}:{} -> {}:{}", from.0, from.1, to.0, to.1)
            }
            Change::Label { from: Some(a), to } => write!(f, "label {a} -> {to}"),
            Change::Label { from: None, to } => write!(f, "label {to} set"),
            Change::SetXattr(n) => write!(f, "xattr {n} set"),
            Change::RemoveXattr(n) => write!(f, "xattr {n} removed"),
            Change::Mtime => write!(f, "mtime"),
        }
    }
}

const SELINUX: &[u8] = b"security.selinux";

fn label_text(v: &[u8]) -> String {
    String::from_utf8_lossy(v.strip_suffix(b"\0").unwrap_or(v)).into_owned()
}

/// Every difference between `cur` and what `entry` records, in the order they are
/// applied. The label of a node is never removed (a host with SELinux gives every
/// file one); other xattrs the archive lacks are removed.
pub fn differences(
    cur: &Current,
    entry: &Entry,
    accounts: &Accounts,
    opts: MetaOptions,
) -> Vec<Change> {
    let mut out = Vec::new();
    let want = owner_for(entry, accounts, opts.numeric_owner);
    if (cur.uid, cur.gid) != want {
        out.push(Change::Owner {
            from: (cur.uid, cur.gid),
            to: want,
        });
    }
    if entry.kind != EntryType::Symlink && cur.mode != entry.mode & 0o7777 {
        out.push(Change::Mode {
            from: cur.mode,
            to: entry.mode & 0o7777,
        });
    }
    if !opts.no_xattrs {
        let have = cur.xattrs.as_deref().unwrap_or(&[]);
        let find = |n: &[u8]| have.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_slice());
        for x in &entry.xattrs {
            let name = x.name.as_bytes();
            let now = find(name);
            if now == Some(x.value.as_slice()) {
                continue;
            }
            if name == SELINUX {
                out.push(Change::Label {
                    from: now.map(label_text),
                    to: label_text(&x.value),
                });
            } else {
                out.push(Change::SetXattr(x.name.to_string()));
            }
        }
        if cur.xattrs.is_some() {
            for (name, _) in have {
                if name != SELINUX && entry.xattr(name).is_none() {
                    out.push(Change::RemoveXattr(
                        String::from_utf8_lossy(name).into_owned(),
                    ));
                }
            }
        }
    }
    if recorded_mtime(entry).is_some_and(|t| t != cur.mtime) {
        out.push(Change::Mtime);
    }
    out
}

/// Applies `changes` to `node`. Returns the steps that failed.
pub fn apply_changes(node: &Node, entry: &Entry, changes: &[Change]) -> Vec<MetaFailure> {
    let mut failures = Vec::new();
    let mut fail = |what: String, error: std::io::Error| failures.push(MetaFailure { what, error });
    for c in changes {
        let result = match c {
            Change::Owner { to, .. } => {
                set_owner(node, *to).map_err(|e| (format!("chown {}:{}", to.0, to.1), e))
            }
            Change::Mode { to, .. } => set_mode(node, *to).map_err(|e| ("chmod".to_string(), e)),
            Change::Label { .. } => set_xattr(node, SELINUX, entry.xattr(SELINUX).unwrap_or(b""))
                .map_err(|e| ("set SELinux label".to_string(), e)),
            Change::SetXattr(name) => set_xattr(
                node,
                name.as_bytes(),
                entry.xattr(name.as_bytes()).unwrap_or(b""),
            )
            .map_err(|e| (format!("set xattr {name}"), e)),
            Change::RemoveXattr(name) => {
                remove_xattr(node, name.as_bytes()).map_err(|e| (format!("remove xattr {name}"), e))
            }
            Change::Mtime => set_times(node, entry).map_err(|e| ("set mtime".to_string(), e)),
        };
        if let Err((what, e)) = result {
            fail(what, e);
        }
    }
    failures
}

fn set_owner(node: &Node, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    let (u, g) = (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    );
    match node {
        Node::Open(f) => rustix::fs::fchown(f, u, g)?,
        Node::Named { node, .. } => rustix::fs::chownat(node, "", u, g, AtFlags::EMPTY_PATH)?,
    }
    Ok(())
}

fn set_mode(node: &Node, mode: u32) -> std::io::Result<()> {
    let mode = Mode::from_raw_mode(mode);
    match node {
        Node::Open(f) => rustix::fs::fchmod(f, mode)?,
        // Symlinks have no mode of their own; a FIFO or device is reached through
        // /proc/self/fd/N of its O_PATH descriptor, which is that very node.
        Node::Named {
            is_symlink: true, ..
        } => {}
        Node::Named { node, .. } => {
            let path = super::dirs::proc_fd_path(*node);
            rustix::fs::chmodat(CWD, &path, mode, AtFlags::empty())?
        }
    }
    Ok(())
}

fn set_xattr(node: &Node, name: &[u8], value: &[u8]) -> std::io::Result<()> {
    use xattr::FileExt;
    let name = OsStr::from_bytes(name);
    match node {
        Node::Open(f) => f.set_xattr(name, value),
        Node::Named { .. } => xattr::set(node.xattr_path().unwrap_or_default(), name, value),
    }
}

fn remove_xattr(node: &Node, name: &[u8]) -> std::io::Result<()> {
    use xattr::FileExt;
    let name = OsStr::from_bytes(name);
    match node {
        Node::Open(f) => f.remove_xattr(name),
        Node::Named { .. } => xattr::remove(node.xattr_path().unwrap_or_default(), name),
    }
}

fn set_times(node: &Node, entry: &Entry) -> std::io::Result<()> {
    let Some((sec, nsec)) = recorded_mtime(entry) else {
        return Ok(());
    };
    let t = Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    match node {
        Node::Open(f) => rustix::fs::futimens(f, &times)?,
        // Without following: the name is inside the pinned directory.
        Node::Named { dir, name, .. } => {
            rustix::fs::utimensat(*dir, *name, &times, AtFlags::SYMLINK_NOFOLLOW)?
        }
    }
    Ok(())
}

/// The entry's mtime as seconds and nanoseconds.
pub fn recorded_mtime(entry: &Entry) -> Option<(i64, u32)> {
    parse_time(&entry.mtime)
}

/// True when a failed step is only a privilege problem (not root, no CAP_SYS_ADMIN,
/// or a filesystem without that xattr namespace), which is a warning unless --strict.
pub fn is_privilege_failure(f: &MetaFailure) -> bool {
    matches!(
        f.error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::PERM.raw_os_error()
            || code == rustix::io::Errno::ACCESS.raw_os_error()
            || code == rustix::io::Errno::NOTSUP.raw_os_error()
    )
}
