//! Witnesses for "nothing outside changed": a snapshot of a tree (never following a
//! symlink) that records, per path, type, content (or symlink target), mode, owner,
//! mtime, ctime, inode and link count, so that a chmod, chown, utimes, xattr change,
//! hard link or write to any of them shows up as a difference.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub kind: &'static str,
    pub content: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub ino: u64,
    pub nlink: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Facts {
    /// The facts without link count and ctime: what an outside name keeps when a
    /// selected name that shared its inode is given an inode of its own (unlinking
    /// that name lowers the link count and so changes the ctime, nothing else).
    pub fn detached(&self) -> Facts {
        Facts {
            nlink: 0,
            ctime: (0, 0),
            ..self.clone()
        }
    }
}

/// Like [`assert_same`], comparing [`Facts::detached`].
pub fn assert_same_detached(
    before: &BTreeMap<PathBuf, Facts>,
    after: &BTreeMap<PathBuf, Facts>,
    when: &str,
) {
    let strip = |m: &BTreeMap<PathBuf, Facts>| -> BTreeMap<PathBuf, Facts> {
        m.iter().map(|(p, f)| (p.clone(), f.detached())).collect()
    };
    assert_same(&strip(before), &strip(after), when);
}

/// Facts about one path, without following a symlink; None when it does not exist.
pub fn facts(p: &Path) -> Option<Facts> {
    let m = std::fs::symlink_metadata(p).ok()?;
    let ft = m.file_type();
    let (kind, content) = if ft.is_symlink() {
        let t = std::fs::read_link(p).expect("readlink");
        ("symlink", t.display().to_string())
    } else if ft.is_file() {
        let data = std::fs::read(p).expect("read witness");
        ("file", hex::encode(Sha256::digest(&data)))
    } else if ft.is_dir() {
        ("dir", String::new())
    } else {
        ("other", m.rdev().to_string())
    };
    let mut xattrs = Vec::new();
    if !ft.is_symlink() {
        if let Ok(names) = xattr::list(p) {
            for n in names {
                let v = xattr::get(p, &n).ok().flatten().unwrap_or_default();
                xattrs.push((n.to_string_lossy().into_owned(), v));
            }
        }
        xattrs.sort();
    }
    Some(Facts {
        kind,
        content,
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
        ino: m.ino(),
        nlink: m.nlink(),
        xattrs,
    })
}

/// A snapshot of `root` and everything under it, minus the subtrees in `exclude`.
pub fn snapshot(root: &Path, exclude: &[&Path]) -> BTreeMap<PathBuf, Facts> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        if exclude.iter().any(|x| p == *x) {
            continue;
        }
        let Some(f) = facts(&p) else { continue };
        if f.kind == "dir" {
            for e in std::fs::read_dir(&p).expect("read_dir").flatten() {
                stack.push(e.path());
            }
        }
        out.insert(p, f);
    }
    out
}

/// Asserts two snapshots are equal, naming the first path that differs.
pub fn assert_same(
    before: &BTreeMap<PathBuf, Facts>,
    after: &BTreeMap<PathBuf, Facts>,
    when: &str,
) {
    for (p, f) in before {
        match after.get(p) {
            None => panic!("{when}: {} was removed", p.display()),
            Some(g) if g != f => panic!(
                "{when}: {} changed\nbefore: {f:?}\nafter:  {g:?}",
                p.display()
            ),
            _ => {}
        }
    }
    for p in after.keys() {
        assert!(
            before.contains_key(p),
            "{when}: {} was created",
            p.display()
        );
    }
}
