//! Applying recorded metadata: owner, mode, xattrs (SELinux labels, ACLs,
//! capabilities) and times. Order matters: chown clears setuid bits and file
//! capabilities, so it comes first, then chmod, then xattrs, then times.

use crate::accounts::Accounts;
use crate::archive::{Entry, EntryType, parse_time};
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

/// Applies everything recorded for `entry` to a node that cannot be opened for
/// writing: a symlink, FIFO or device node. `node` is an O_PATH descriptor of it
/// (the caller checked its type), `name` its path inside a pinned directory.
///
/// The owner is set on the descriptor. For FIFOs and devices, mode, xattrs and times
/// go through `/proc/self/fd/N`, which resolves to the node itself. For a symlink,
/// xattrs and times go through `name` without following it (a swap there can only
/// touch a file in the same pinned directory, and never gives it a new owner).
/// Returns the steps that failed.
pub fn apply_metadata_node(
    node: &OwnedFd,
    name: &Path,
    entry: &Entry,
    accounts: &Accounts,
    opts: MetaOptions,
) -> Vec<MetaFailure> {
    let mut failures = Vec::new();
    let mut fail = |what: &str, error: std::io::Error| {
        failures.push(MetaFailure {
            what: what.to_string(),
            error,
        })
    };
    let (uid, gid) = owner_for(entry, accounts, opts.numeric_owner);
    if let Err(e) = rustix::fs::chownat(
        node,
        "",
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::EMPTY_PATH,
    ) {
        fail(&format!("chown {uid}:{gid}"), e.into());
    }
    let is_link = entry.kind == EntryType::Symlink;
    let proc = super::paths::proc_fd_path(node);
    let (path, flags) = if is_link {
        (name, AtFlags::SYMLINK_NOFOLLOW)
    } else {
        (proc.as_path(), AtFlags::empty())
    };
    if !is_link {
        let mode = rustix::fs::Mode::from_raw_mode(entry.mode);
        if let Err(e) = rustix::fs::chmodat(CWD, path, mode, AtFlags::empty()) {
            fail("chmod", e.into());
        }
    }
    if !opts.no_xattrs {
        for x in &entry.xattrs {
            let xname = std::ffi::OsStr::from_bytes(x.name.as_bytes());
            let set = if is_link {
                xattr::set(path, xname, &x.value)
            } else {
                xattr::set_deref(path, xname, &x.value)
            };
            if let Err(e) = set {
                fail(&format!("set xattr {}", x.name), e);
            }
        }
    }
    if let Some(times) = recorded_times(entry) {
        if let Err(e) = rustix::fs::utimensat(CWD, path, &times, flags) {
            fail("set mtime", e.into());
        }
    }
    failures
}

/// Applies everything recorded for `entry` to an open file or directory: nothing is looked up by path,
/// so nothing can be redirected to another file between the check and the change.
pub fn apply_metadata_fd(
    file: &std::fs::File,
    entry: &Entry,
    accounts: &Accounts,
    opts: MetaOptions,
) -> Vec<MetaFailure> {
    use xattr::FileExt;
    let mut failures = Vec::new();
    let mut fail = |what: &str, error: std::io::Error| {
        failures.push(MetaFailure {
            what: what.to_string(),
            error,
        })
    };
    let (uid, gid) = owner_for(entry, accounts, opts.numeric_owner);
    if let Err(e) = rustix::fs::fchown(
        file,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    ) {
        fail(&format!("chown {uid}:{gid}"), e.into());
    }
    if let Err(e) = rustix::fs::fchmod(file, rustix::fs::Mode::from_raw_mode(entry.mode)) {
        fail("chmod", e.into());
    }
    if !opts.no_xattrs {
        for x in &entry.xattrs {
            let name = std::ffi::OsStr::from_bytes(x.name.as_bytes());
            if let Err(e) = file.set_xattr(name, &x.value) {
                fail(&format!("set xattr {}", x.name), e);
            }
        }
    }
    if let Some(times) = recorded_times(entry) {
        if let Err(e) = rustix::fs::futimens(file, &times) {
            fail("set mtime", e.into());
        }
    }
    failures
}

/// The entry's mtime as access and modification time.
fn recorded_times(entry: &Entry) -> Option<Timestamps> {
    let (sec, nsec) = parse_time(&entry.mtime)?;
    let t = Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    Some(Timestamps {
        last_access: t,
        last_modification: t,
    })
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
