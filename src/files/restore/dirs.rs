//! Directories under the restore target, opened one component at a time without
//! following symlinks and held open for the whole run.
//!
//! Every operation of a restore (create, write, rename, link, unlink, chmod, chown,
//! utimes, xattrs, fsync, the sweep of stale temporaries) names its node relative to
//! one of these descriptors. A symlink anywhere in a path is therefore never
//! followed: opening it as a directory fails (O_NOFOLLOW | O_DIRECTORY) and the entry
//! is refused, whatever the symlink points at. RHEL 7's kernel has no openat2 with
//! RESOLVE_BENEATH, so the walk is done by hand.

use super::paths::UnsafePath;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, mkdirat, openat, statat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// `/proc/self/fd/N` for an open descriptor: a path that resolves to that very file.
pub fn proc_fd_path(fd: &impl std::os::fd::AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens the target directory itself (the administrator names it and it is trusted).
pub fn open_target(dir: &Path) -> std::io::Result<OwnedFd> {
    rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// The directories of one run, by archive path (`/` is the target itself).
pub struct Dirs {
    target: PathBuf,
    open: HashMap<Vec<u8>, Rc<OwnedFd>>,
    /// Archive paths of the directories this run created (mode 0700 until their own
    /// entry sets their metadata).
    pub created: Vec<Vec<u8>>,
}

impl Dirs {
    /// A set rooted at the open target `root`, shown as `target` in messages.
    pub fn new(root: OwnedFd, target: &Path) -> Self {
        let mut open = HashMap::new();
        open.insert(b"/".to_vec(), Rc::new(root));
        Self {
            target: target.to_path_buf(),
            open,
            created: Vec::new(),
        }
    }

    /// The host path of an archive path.
    pub fn host_path(&self, archive_path: &[u8]) -> PathBuf {
        super::paths::dest_path(&self.target, archive_path)
    }

    /// Opens the directory at archive path `dir` (normalised, or `/`). Missing
    /// components are created with mode 0700 when `create`; otherwise a missing one
    /// gives `Ok(None)`. A symlink or non-directory on the way is refused.
    pub fn open(&mut self, dir: &[u8], create: bool) -> Result<Option<Rc<OwnedFd>>, UnsafePath> {
        if let Some(fd) = self.open.get(dir) {
            return Ok(Some(fd.clone()));
        }
        let (parent, name) = split(dir);
        let Some(parent_fd) = self.open(parent, create)? else {
            return Ok(None);
        };
        let name = OsStr::from_bytes(name);
        let host = self.host_path(dir).display().to_string();
        let shown = || host.clone();
        let fd = match openat(parent_fd.as_fd(), name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match mkdirat(parent_fd.as_fd(), name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => self.created.push(dir.to_vec()),
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(UnsafePath::ParentOpen(shown(), e.to_string())),
                }
                openat(parent_fd.as_fd(), name, DIR_FLAGS, Mode::empty())
                    .map_err(|e| refusal(&parent_fd, name, e, shown()))?
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(refusal(&parent_fd, name, e, shown())),
        };
        let fd = Rc::new(fd);
        self.open.insert(dir.to_vec(), fd.clone());
        Ok(Some(fd))
    }

    /// Every directory opened so far, for the final fsync.
    pub fn all(&self) -> impl Iterator<Item = (&Vec<u8>, &Rc<OwnedFd>)> {
        self.open.iter()
    }
}

/// Splits a normalised archive path into its parent directory and last name.
pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"/", path),
    }
}

/// Why `name` in `dir` could not be opened as a directory: a symlink (ELOOP or
/// ENOTDIR, depending on the kernel), another kind of file, or anything else.
fn refusal(dir: &OwnedFd, name: &OsStr, e: Errno, shown: String) -> UnsafePath {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode as _) == FileType::Symlink => {
            UnsafePath::SymlinkParent(shown)
        }
        Ok(st) if FileType::from_raw_mode(st.st_mode as _) != FileType::Directory => {
            UnsafePath::ParentNotDir(shown)
        }
        _ => UnsafePath::ParentOpen(shown, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_directory_keeps_writes_inside_when_an_ancestor_is_swapped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(target.join("etc/origin")).unwrap();
        std::fs::create_dir_all(outside.join("origin")).unwrap();
        let mut dirs = Dirs::new(open_target(&target).unwrap(), &target);
        let origin = dirs.open(b"/etc/origin", false).unwrap().unwrap();
        // After the open, /etc is swapped for a symlink to a directory outside.
        std::fs::rename(target.join("etc"), dir.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&outside, target.join("etc")).unwrap();
        std::fs::write(proc_fd_path(&*origin).join("x.key"), b"secret").unwrap();
        assert!(
            !outside.join("origin/x.key").exists(),
            "write was redirected"
        );
        assert_eq!(
            std::fs::read(dir.path().join("moved/origin/x.key")).unwrap(),
            b"secret"
        );
        // A fresh walk refuses the symlinked parent.
        let mut fresh = Dirs::new(open_target(&target).unwrap(), &target);
        let again = fresh.open(b"/etc/origin", true);
        assert!(
            matches!(again, Err(UnsafePath::SymlinkParent(_))),
            "{:?}",
            again.err()
        );
        assert!(!outside.join("origin").read_dir().unwrap().any(|_| true));
    }

    #[test]
    fn missing_directories_are_created_0700_and_files_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut dirs = Dirs::new(open_target(dir.path()).unwrap(), dir.path());
        assert!(dirs.open(b"/a/b", false).unwrap().is_none());
        dirs.open(b"/a/b", true).unwrap().unwrap();
        assert_eq!(dirs.created, vec![b"/a".to_vec(), b"/a/b".to_vec()]);
        let mode = std::fs::metadata(dir.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(dir.path().join("f"), b"").unwrap();
        assert!(matches!(
            dirs.open(b"/f", true),
            Err(UnsafePath::ParentNotDir(_))
        ));
    }

    #[test]
    fn split_paths() {
        assert_eq!(split(b"/etc"), (&b"/"[..], &b"etc"[..]));
        assert_eq!(split(b"/etc/origin/x"), (&b"/etc/origin"[..], &b"x"[..]));
    }
}
