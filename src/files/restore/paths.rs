//! Path safety for restore: nothing is ever written outside the target directory.
//!
//! The symlink policy: symlink targets are data. They are created verbatim, as GNU
//! tar and restic do, absolute targets and targets with `..` included, in place and
//! under `--target`. Safety does not come from checking where a symlink points (a
//! chain of two relative symlinks gets past any such check); it comes from never
//! following one: every operation of a restore names its node relative to a
//! directory opened one component at a time with O_NOFOLLOW (see `dirs`), so no
//! write, link, rename, unlink, chmod, chown, utimes, xattr or fsync goes through a
//! symlink, at any depth, in this run or a rerun. An entry beneath a symlink is
//! refused.
//!
//! The reader has already checked the spec's rules at open (normalised, sorted,
//! unique paths; hard links that name a `file` entry), so what is left here is what
//! depends on the host.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why an entry cannot be restored safely. Paths are host paths.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsafePath {
    #[error("{0} is a symlink; restore never writes through one")]
    SymlinkParent(String),
    #[error("{0} exists and is not a directory")]
    ParentNotDir(String),
    #[error("cannot open directory {0}: {1}")]
    ParentOpen(String, String),
}

/// The host path for an archive path under `target`.
pub fn dest_path(target: &Path, archive_path: &[u8]) -> PathBuf {
    if archive_path.len() <= 1 {
        return target.to_path_buf();
    }
    target.join(OsStr::from_bytes(&archive_path[1..]))
}

/// Temporaries are `.ocpvault-tmp-` and 16 hex digits: the sweep removes only
/// names of exactly that shape that are not paths in the archive.
pub const TEMP_PREFIX: &[u8] = b".ocpvault-tmp-";

/// True for a name this restorer could have given a temporary.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.strip_prefix(TEMP_PREFIX).is_some_and(|rest| {
        rest.len() == 16
            && rest
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_have_one_shape() {
        assert!(is_temp_name(b".ocpvault-tmp-0123456789abcdef"));
        assert!(!is_temp_name(b".ocpvault-tmp-foo"));
        assert!(!is_temp_name(b".ocpvault-tmp-0123456789ABCDEF"));
        assert!(!is_temp_name(b".ocpvault-tmp-0123456789abcdef0"));
    }

    #[test]
    fn dest_paths_join_under_the_target() {
        assert_eq!(
            dest_path(Path::new("/tmp/t"), b"/etc/origin"),
            PathBuf::from("/tmp/t/etc/origin")
        );
        assert_eq!(dest_path(Path::new("/"), b"/etc"), PathBuf::from("/etc"));
    }
}
