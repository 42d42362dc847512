//! Owner names with `--root`: a snapshot of a tree from another host names owners
//! from the tree's own etc/passwd and etc/group (none when the tree has neither), and
//! a restore maps those names to this host's ids.

use crate::common::{demo_tree, is_root, ocpvault, snapshot, stdout_ok};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ls --json` of `path` in `archive`.
fn entry(archive: &Path, path: &str) -> serde_json::Value {
    let out = ocpvault(&["ls", s(archive), "--json", path]);
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .cloned()
        .unwrap_or_else(|| panic!("{path} not listed: {v}"))
}

/// The id of `name` in an /etc/passwd- or /etc/group-style file.
fn id_in(file: &str, name: &str) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[0] == name).then(|| f[2].parse().ok())?
    })
}

#[test]
fn names_come_from_the_trees_own_passwd_and_group() {
    let dir = tempfile::tempdir().unwrap();
    if !is_root("chown to the tree's etcd user") {
        return;
    }
    let root = demo_tree(dir.path());
    // Give this tree's accounts names this host cannot have, so a host lookup cannot
    // pass by chance: uid 0 is "admin0" there, gid 990 "etcdgrp".
    let edit = |file: &str, from: &str, to: &str| {
        let p = root.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} lacks {from}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    edit("etc/passwd", "root:x:0:0:", "admin0:x:0:0:");
    edit("etc/group", "etcd:x:990:", "etcdgrp:x:990:");
    let archive = snapshot(&root, dir.path(), &[]);
    let key = entry(&archive, "/etc/etcd/peer.key");
    assert_eq!(
        (key["uid"].as_u64(), key["gid"].as_u64()),
        (Some(993), Some(990))
    );
    assert_eq!(key["user"], "etcd");
    assert_eq!(key["group"], "etcdgrp");
    let ca = entry(&archive, "/etc/origin/master/ca.key");
    assert_eq!(ca["user"], "admin0");
    assert_eq!(ca["group"], "root");

    // A restore gives the files this host's ids for the recorded names (by number
    // when this host lacks the name).
    let target = dir.path().join("target");
    let out = ocpvault(&[
        "restore",
        s(&archive),
        "/etc/etcd/peer.key",
        "--target",
        s(&target),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::symlink_metadata(target.join("etc/etcd/peer.key")).unwrap();
    assert_eq!(meta.uid(), id_in("/etc/passwd", "etcd").unwrap_or(993));
    assert_eq!(meta.gid(), id_in("/etc/group", "etcdgrp").unwrap_or(990));
}

#[test]
fn a_tree_without_passwd_or_group_records_no_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    std::fs::remove_file(root.join("etc/passwd")).unwrap();
    std::fs::remove_file(root.join("etc/group")).unwrap();
    let archive = snapshot(&root, dir.path(), &[]);
    // Owned by root (uid 0) when run as root, else by the user running the test: this
    // host has a name for either, the tree has none.
    let e = entry(&archive, "/etc/origin/master/master-config.yaml");
    assert!(e["uid"].is_u64(), "{e}");
    assert!(e["user"].is_null(), "{e}");
    assert!(e["group"].is_null(), "{e}");
}
