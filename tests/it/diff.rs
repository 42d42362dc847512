//! `ocpvault diff`: snapshot the demo tree, change it the ways an installer does, and
//! check every change is reported with exit 1; an unchanged tree and a fresh
//! `restore --target` give exit 0.

use crate::common::{demo_tree, has_xattrs, is_root, ocpvault, snapshot, stdout_ok};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const MASTER: &str = "etc/origin/master";

fn diff_json(archive: &Path, root: &Path) -> (Option<i32>, Vec<Value>) {
    let out = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--json",
    ]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "diff --json: {e}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code(),
        list.as_array().expect("an array").clone(),
    )
}

/// Asserts that `list` holds a `change` for `path`, returning it.
fn find<'a>(list: &'a [Value], change: &str, path: &str) -> &'a Value {
    list.iter()
        .find(|d| d["change"] == change && d["path"] == path)
        .unwrap_or_else(|| panic!("no {change} for {path} in {list:#?}"))
}

#[test]
fn unchanged_tree_has_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let out = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(stdout_ok(&out), "", "no line for an unchanged tree");
    let (code, list) = diff_json(&archive, &root);
    assert_eq!((code, list.len()), (Some(0), 0));
}

#[test]
fn every_kind_of_change_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let m = root.join(MASTER);
    // Same size, new bytes: only the hash can tell.
    let cfg = m.join("master-config.yaml");
    let mut text = std::fs::read(&cfg).unwrap();
    text[0] = if text[0] == b'#' { b';' } else { b'#' };
    std::fs::write(&cfg, &text).unwrap();
    std::fs::write(m.join("policy.json"), b"grown\n").unwrap();
    std::fs::set_permissions(m.join("ca.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(m.join("installer-added.yaml"), b"new: true\n").unwrap();
    std::fs::remove_file(root.join("etc/origin/node/node-config.yaml")).unwrap();
    std::fs::remove_file(root.join("etc/sysconfig/selinux")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", root.join("etc/sysconfig/selinux")).unwrap();

    let (code, list) = diff_json(&archive, &root);
    assert_eq!(code, Some(1), "{list:#?}");
    let p = |name: &str| format!("/{MASTER}/{name}");
    let same_size = find(&list, "content", &p("master-config.yaml"));
    assert_eq!(same_size["archived"].as_str().map(str::len), Some(64));
    find(&list, "content", &p("policy.json"));
    let mode = find(&list, "mode", &p("ca.key"));
    assert_eq!(
        (&mode["archived"], &mode["current"]),
        (&"0600".into(), &"0644".into())
    );
    assert_eq!(
        find(&list, "added", &p("installer-added.yaml"))["current"],
        "file"
    );
    find(&list, "removed", "/etc/origin/node/node-config.yaml");
    assert_eq!(
        find(&list, "target", "/etc/sysconfig/selinux")["current"],
        "/elsewhere"
    );

    let text = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("changed content {}\n", p("master-config.yaml"))),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("added {} (file)\n", p("installer-added.yaml"))));
}

#[test]
fn type_owner_and_xattr_changes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let m = root.join(MASTER);
    let env = m.join("scheduler.json");
    std::fs::remove_file(&env).unwrap();
    std::fs::create_dir(&env).unwrap();
    let xattrs = has_xattrs(dir.path());
    if xattrs {
        xattr::set(m.join("ca.crt"), "user.drift", b"1").unwrap();
    }
    let root_user = is_root("chown and SELinux label drift");
    if root_user {
        rustix::fs::chown(
            m.join("ca.crt"),
            Some(rustix::fs::Uid::from_raw(4242)),
            None,
        )
        .unwrap();
        rustix::fs::chown(
            m.join("ca.key"),
            None,
            Some(rustix::fs::Gid::from_raw(4242)),
        )
        .unwrap();
    }
    let labelled = root_user
        && xattrs
        && xattr::set(
            m.join("ca.crt"),
            "security.selinux",
            b"system_u:object_r:tmp_t:s0\0",
        )
        .is_ok();
    if root_user && !labelled {
        eprintln!("SKIP: this filesystem refuses security.selinux; label drift not tested");
    }

    let (code, list) = diff_json(&archive, &root);
    assert_eq!(code, Some(1), "{list:#?}");
    let t = find(&list, "type", &format!("/{MASTER}/scheduler.json"));
    assert_eq!(
        (&t["archived"], &t["current"]),
        (&"file".into(), &"dir".into())
    );
    let crt = format!("/{MASTER}/ca.crt");
    if xattrs {
        let x = find(&list, "xattr", &crt);
        assert_eq!(
            (&x["name"], &x["current"]),
            (&"user.drift".into(), &"1".into())
        );
    }
    if root_user {
        assert_eq!(find(&list, "owner", &crt)["current"], "4242");
        assert_eq!(
            find(&list, "group", &format!("/{MASTER}/ca.key"))["current"],
            "4242"
        );
    }
    if labelled {
        assert_eq!(
            find(&list, "label", &crt)["current"],
            "system_u:object_r:tmp_t:s0"
        );
    }
}

#[test]
fn a_full_restore_has_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let target = dir.path().join("restored");
    let out = ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    stdout_ok(&out);
    let (code, list) = diff_json(&archive, &target);
    assert_eq!((code, list.len()), (Some(0), 0), "{list:#?}");
}

#[test]
fn paths_narrow_the_diff_and_unknown_paths_fail() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    std::fs::write(root.join("etc/origin/node/extra"), b"x").unwrap();
    std::fs::write(root.join(MASTER).join("extra"), b"x").unwrap();
    let (a, r) = (archive.to_str().unwrap(), root.to_str().unwrap());
    let out = ocpvault(&["diff", a, "/etc/origin/node", "--root", r]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "added /etc/origin/node/extra (file)\n"
    );
    let out = ocpvault(&["diff", a, "/etc/etcd", "--root", r]);
    assert_eq!(out.status.code(), Some(0));
    let out = ocpvault(&["diff", a, "/var/nothing", "--root", r]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/var/nothing: not in the archive"));
}

#[test]
fn an_encrypted_archive_is_read_with_its_identity() {
    use age::secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let archive = snapshot(&root, dir.path(), &["--recipient", &public]);
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let (a, r) = (archive.to_str().unwrap(), root.to_str().unwrap());
    let out = ocpvault(&["diff", a, "--root", r, "--identity", key.to_str().unwrap()]);
    assert_eq!(stdout_ok(&out), "");
    std::fs::write(root.join("etc/origin/master/extra"), b"x").unwrap();
    let out = ocpvault(&["diff", a, "--root", r, "-i", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = ocpvault(&["diff", a, "--root", r]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint: pass --identity"));
}

#[test]
fn an_mtime_only_change_is_reported_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let file = root.join(MASTER).join("master-config.yaml");
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    let then = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    f.set_modified(then).unwrap();
    drop(f);
    let (code, list) = diff_json(&archive, &root);
    assert_eq!(code, Some(1), "{list:#?}");
    let d = find(&list, "mtime", "/etc/origin/master/master-config.yaml");
    assert_eq!(d["current"], "2001-09-09T01:46:40.000000000Z");
    assert_eq!(list.len(), 1, "only the mtime: {list:#?}");
    let out = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--ignore-mtime",
    ]);
    assert_eq!(stdout_ok(&out), "");
}
