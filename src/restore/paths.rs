//! Path safety for restore: nothing is ever written outside the target directory.
//!
//! Entry paths must be normalised absolute paths (spec §5.2); symlink entries may not
//! point above the target; existing parent directories under the target must be real
//! directories, not symlinks, so a write can never be redirected elsewhere. Parents
//! are opened component by component with O_NOFOLLOW and held open while an entry is
//! written ([`open_parent`]), so swapping one for a symlink after the check changes
//! nothing (RHEL 7's kernel has no openat2 with RESOLVE_BENEATH).

use crate::archive::{Entry, EntryType, is_normalized_path};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why an entry cannot be restored safely.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsafePath {
    #[error(
        "{0}: refusing path that is not absolute and normalised (contains '..', '.', '//' or NUL)"
    )]
    BadPath(String),
    #[error("{0}: refusing symlink whose target {1:?} escapes the restore target")]
    EscapingSymlink(String, String),
    #[error(
        "{0}: refusing absolute symlink target {1:?} under --target (restore it in place, without --target)"
    )]
    AbsoluteSymlink(String, String),
    #[error("{0}: refusing hard link to {1:?}, which is not a file entry in this archive")]
    BadHardlink(String, String),
    #[error("{0}: refusing to write through symlinked parent directory {1}")]
    SymlinkParent(String, String),
    #[error("{0}: parent {1} exists and is not a directory")]
    ParentNotDir(String, String),
    #[error("{0}: cannot open parent directory {1}: {2}")]
    ParentOpen(String, String, String),
    #[error("{0}: a parent directory disappeared during the restore")]
    MissingParent(String),
}

/// Checks one entry before anything is written. `in_place` is true when the target is
/// `/`, where absolute symlinks are the host's own and allowed.
pub fn check_entry(
    entry: &Entry,
    in_place: bool,
    is_file_path: impl Fn(&[u8]) -> bool,
) -> Result<(), UnsafePath> {
    let shown = entry.path.to_string();
    if !is_normalized_path(entry.path.as_bytes()) {
        return Err(UnsafePath::BadPath(shown));
    }
    match entry.kind {
        EntryType::Symlink => {
            let target = entry.target.as_ref().map(|t| t.as_bytes()).unwrap_or(b"");
            let shown_target = String::from_utf8_lossy(target).into_owned();
            if target.is_empty() || target.contains(&0) {
                return Err(UnsafePath::EscapingSymlink(shown, shown_target));
            }
            if target[0] == b'/' {
                if !in_place {
                    return Err(UnsafePath::AbsoluteSymlink(shown, shown_target));
                }
            } else if escapes(entry.path.as_bytes(), target) {
                return Err(UnsafePath::EscapingSymlink(shown, shown_target));
            }
        }
        EntryType::Hardlink => {
            let link = entry.link.as_ref().map(|l| l.as_bytes()).unwrap_or(b"");
            if !is_normalized_path(link) || !is_file_path(link) {
                return Err(UnsafePath::BadHardlink(
                    shown,
                    String::from_utf8_lossy(link).into_owned(),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// True when a relative symlink target, resolved from the link's directory, climbs
/// above the root.
fn escapes(link_path: &[u8], target: &[u8]) -> bool {
    // Depth of the directory holding the link: "/etc/a/link" -> 2.
    let mut depth = link_path[1..].split(|b| *b == b'/').count() as i64 - 1;
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// The host path for an archive path under `target`.
pub fn dest_path(target: &Path, archive_path: &[u8]) -> PathBuf {
    target.join(OsStr::from_bytes(&archive_path[1..]))
}

/// A directory under the target held open. Operations go through
/// `/proc/self/fd/N/<name>`, which the kernel resolves through the open directory
/// itself: renaming it or swapping one of its ancestors for a symlink after it was
/// opened cannot redirect them outside the target.
#[derive(Debug)]
pub struct PinnedDir {
    _fd: std::os::fd::OwnedFd,
    proc_path: PathBuf,
}

impl PinnedDir {
    /// The path of `name` inside the pinned directory.
    pub fn join(&self, name: &OsStr) -> PathBuf {
        self.proc_path.join(name)
    }
}

/// `/proc/self/fd/N` for an open descriptor: a path that resolves to that very file.
pub fn proc_fd_path(fd: &impl std::os::fd::AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// True when `/proc/self/fd` can pin directories here.
pub fn can_pin() -> bool {
    Path::new("/proc/self/fd").is_dir()
}

/// Opens `dir` (the target itself, which the caller names and trusts) for pinning.
pub fn open_target(dir: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, open};
    open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// Opens the parent directory of `archive_path` under the open target `root`, one
/// component at a time with O_NOFOLLOW, so no symlink is ever followed. Missing
/// components are created (mode 0700 until their own entries set it) when `create`;
/// otherwise a missing one gives `Ok(None)` (a dry run writes nothing). Returns the
/// pinned parent and the host paths of the directories created.
pub fn open_parent(
    root: &std::os::fd::OwnedFd,
    target: &Path,
    archive_path: &[u8],
    create: bool,
) -> Result<Option<(PinnedDir, Vec<PathBuf>)>, UnsafePath> {
    use rustix::fs::{Mode, OFlags, mkdirat, openat};
    use rustix::io::Errno;
    use std::os::fd::AsFd;
    let shown = String::from_utf8_lossy(archive_path).into_owned();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let comps: Vec<&[u8]> = archive_path[1..].split(|b| *b == b'/').collect();
    let mut cur = rustix::io::fcntl_dupfd_cloexec(root, 0).map_err(|e| {
        UnsafePath::ParentOpen(shown.clone(), target.display().to_string(), e.to_string())
    })?;
    let mut host = target.to_path_buf();
    let mut created = Vec::new();
    for comp in &comps[..comps.len() - 1] {
        let name = OsStr::from_bytes(comp);
        host.push(name);
        let next = match openat(cur.as_fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match mkdirat(cur.as_fd(), name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => created.push(host.clone()),
                    Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(UnsafePath::ParentOpen(
                            shown,
                            host.display().to_string(),
                            e.to_string(),
                        ));
                    }
                }
                openat(cur.as_fd(), name, flags, Mode::empty())
                    .map_err(|e| refusal(&cur, name, e, shown.clone(), &host))?
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(refusal(&cur, name, e, shown, &host)),
        };
        cur = next;
    }
    let proc_path = proc_fd_path(&cur);
    Ok(Some((
        PinnedDir {
            _fd: cur,
            proc_path,
        },
        created,
    )))
}

/// Why `name` in `dir` could not be opened as a directory: a symlink (ELOOP or
/// ENOTDIR, depending on the kernel) or anything else.
fn refusal(
    dir: &std::os::fd::OwnedFd,
    name: &OsStr,
    e: rustix::io::Errno,
    shown: String,
    host: &Path,
) -> UnsafePath {
    use rustix::fs::{AtFlags, FileType, statat};
    let host = host.display().to_string();
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::Symlink => {
            UnsafePath::SymlinkParent(shown, host)
        }
        Ok(st) if FileType::from_raw_mode(st.st_mode as _) != FileType::Directory => {
            UnsafePath::ParentNotDir(shown, host)
        }
        _ => UnsafePath::ParentOpen(shown, host, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ByteString;

    fn entry(path: &[u8], kind: EntryType, target: Option<&[u8]>) -> Entry {
        Entry {
            path: ByteString(path.to_vec()),
            kind,
            source: "files".into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            mtime: "2026-01-01T00:00:00Z".into(),
            size: 0,
            object: None,
            target: target.map(|t| ByteString(t.to_vec())),
            link: target.map(|t| ByteString(t.to_vec())),
            hardlink_group: None,
            rdev: None,
            xattrs: vec![],
        }
    }

    #[test]
    fn refuses_dot_dot_and_relative_paths() {
        for p in [&b"/etc/../../x"[..], b"etc/x", b"/etc/./x", b"/"] {
            let e = entry(p, EntryType::File, None);
            assert!(matches!(
                check_entry(&e, false, |_| true),
                Err(UnsafePath::BadPath(_))
            ));
        }
    }

    #[test]
    fn symlink_escapes_are_refused() {
        let ok = entry(
            b"/etc/sysconfig/selinux",
            EntryType::Symlink,
            Some(b"../selinux/config"),
        );
        assert!(check_entry(&ok, false, |_| true).is_ok());
        let bad = entry(b"/etc/x", EntryType::Symlink, Some(b"../../../etc/shadow"));
        assert!(matches!(
            check_entry(&bad, false, |_| true),
            Err(UnsafePath::EscapingSymlink(..))
        ));
        let abs = entry(b"/etc/x", EntryType::Symlink, Some(b"/etc/shadow"));
        assert!(matches!(
            check_entry(&abs, false, |_| true),
            Err(UnsafePath::AbsoluteSymlink(..))
        ));
        assert!(check_entry(&abs, true, |_| true).is_ok());
    }

    #[test]
    fn hardlinks_must_name_a_file_entry() {
        let e = entry(b"/etc/b", EntryType::Hardlink, Some(b"/etc/a"));
        assert!(check_entry(&e, false, |p| p == b"/etc/a").is_ok());
        assert!(check_entry(&e, false, |_| false).is_err());
    }

    #[test]
    fn a_pinned_parent_keeps_writes_inside_when_an_ancestor_is_swapped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(target.join("etc/origin")).unwrap();
        std::fs::create_dir_all(outside.join("origin")).unwrap();
        let root = open_target(&target).unwrap();
        let (pin, created) = open_parent(&root, &target, b"/etc/origin/x.key", true)
            .unwrap()
            .unwrap();
        assert!(created.is_empty());
        // After the check, /etc is swapped for a symlink to a directory outside.
        std::fs::rename(target.join("etc"), dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&outside, target.join("etc")).unwrap();
        std::fs::write(pin.join(OsStr::new("x.key")), b"secret").unwrap();
        assert!(
            !outside.join("origin/x.key").exists(),
            "write was redirected"
        );
        assert_eq!(
            std::fs::read(dir.path().join("moved/origin/x.key")).unwrap(),
            b"secret"
        );
        // Opening again now refuses the symlinked parent.
        let again = open_parent(&root, &target, b"/etc/origin/x.key", true);
        assert!(
            matches!(again, Err(UnsafePath::SymlinkParent(..))),
            "{again:?}"
        );
    }

    #[test]
    fn open_parent_creates_missing_directories_0700_and_refuses_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = open_target(dir.path()).unwrap();
        assert!(matches!(
            open_parent(&root, dir.path(), b"/a/b/c", false),
            Ok(None)
        ));
        let (_, created) = open_parent(&root, dir.path(), b"/a/b/c", true)
            .unwrap()
            .unwrap();
        assert_eq!(created, vec![dir.path().join("a"), dir.path().join("a/b")]);
        let mode = std::fs::metadata(dir.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(dir.path().join("f"), b"").unwrap();
        assert!(matches!(
            open_parent(&root, dir.path(), b"/f/x", true),
            Err(UnsafePath::ParentNotDir(..))
        ));
    }

    #[test]
    fn symlinked_parent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("etc/origin")).unwrap();
        let root = open_target(dir.path()).unwrap();
        let err = open_parent(&root, dir.path(), b"/etc/origin/master/x", true).unwrap_err();
        assert!(matches!(err, UnsafePath::SymlinkParent(..)));
        let (_, made) = open_parent(&root, dir.path(), b"/etc/new/deeper/x", true)
            .unwrap()
            .unwrap();
        assert_eq!(made.len(), 2);
        assert!(dir.path().join("etc/new/deeper").is_dir());
    }
}
