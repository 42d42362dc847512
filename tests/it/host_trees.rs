//! The role trees of testdata/make-host-tree.sh (`--role master|node|infra|etcd`):
//! each has the shape openshift-ansible 3.11 gives that kind of host, and
//! `ocpvault snapshot` of it then `ocpvault diff` against it finds no drift.

use crate::common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLUSTER: &str = "m0.example.com=https://127.0.0.11:2380,m1.example.com=https://127.0.0.12:2380,etcd-3.example.com=https://127.0.0.13:2380";

/// Generates one role tree under `dir/<host>`, sharing the CAs in `dir/ca`.
fn role_tree(dir: &Path, host: &str, role: &str, extra: &[&str]) -> PathBuf {
    let root = dir.join(host);
    let out = Command::new("bash")
        .arg(testdata().join("make-host-tree.sh"))
        .arg(&root)
        .args(["--role", role, "--host", host, "--etcd-cluster", CLUSTER])
        .arg("--ca-dir")
        .arg(dir.join("ca"))
        .args(extra)
        .output()
        .expect("run make-host-tree.sh");
    assert!(
        out.status.success(),
        "make-host-tree.sh --role {role} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

fn exists(root: &Path, p: &str) -> bool {
    fs::symlink_metadata(root.join(p.trim_start_matches('/'))).is_ok()
}

fn read(root: &Path, p: &str) -> String {
    fs::read_to_string(root.join(p.trim_start_matches('/'))).unwrap()
}

fn mode(root: &Path, p: &str) -> u32 {
    fs::symlink_metadata(root.join(p.trim_start_matches('/')))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Snapshot, then diff against the same tree: exit 0 and no change. The archive
/// holds every regular file and symlink of the tree's /etc.
fn snapshot_then_diff_is_clean(root: &Path, dir: &Path) {
    let archive = snapshot(root, &dir.join("archives"), &["--packages", "skip"]);
    let listed = stdout_ok(&ocpvault(&["ls", archive.to_str().unwrap()]));
    for p in [
        "etc/origin/node/certificates/kubelet-client-current.pem",
        "etc/etcd/etcd.conf",
        "etc/origin/master/master-config.yaml",
    ] {
        if exists(root, p) {
            assert!(
                listed.contains(&format!("/{p}")),
                "{p} not archived: {listed}"
            );
        }
    }
    let out = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "diff of {}: {}{}",
        root.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The node part every master, infra and compute host has.
fn assert_node_shape(root: &Path, label: &str, group: &str) {
    let c = "/etc/origin/node/certificates";
    for kind in ["client", "server"] {
        let current = root.join(format!(
            "etc/origin/node/certificates/kubelet-{kind}-current.pem"
        ));
        let target = fs::read_link(&current).unwrap();
        assert!(target.is_absolute(), "{target:?} is absolute");
        let dated = target.to_str().unwrap();
        assert!(
            dated.starts_with(&format!("{c}/kubelet-{kind}-2026-")) && dated.ends_with(".pem"),
            "{dated}"
        );
        assert!(exists(root, dated), "{dated} exists in the tree");
        assert_eq!(mode(root, dated), 0o600);
    }
    for p in [
        "/etc/origin/node/bootstrap.kubeconfig",
        "/etc/origin/node/node.kubeconfig",
    ] {
        assert!(read(root, p).contains("kind: Config"), "{p}");
        assert_eq!(mode(root, p), 0o600, "{p}");
    }
    assert!(root.join("etc/origin/node/pods").is_dir());
    let cfg = read(root, "/etc/origin/node/node-config.yaml");
    assert!(
        cfg.contains("kind: NodeConfig") && cfg.contains(label),
        "{cfg}"
    );
    assert!(cfg.contains("cert-dir:\n  - /etc/origin/node/certificates"));
    let sysconfig = read(root, "/etc/sysconfig/atomic-openshift-node");
    assert!(sysconfig.contains("KUBECONFIG=/etc/origin/node/bootstrap.kubeconfig"));
    assert!(sysconfig.contains(&format!("BOOTSTRAP_CONFIG_NAME={group}")));
}

fn assert_no_ca_files(root: &Path) {
    for p in [
        "/etc/origin/master/ca.serial.txt",
        "/etc/etcd/ca",
        "/etc/etcd/generated_certs",
    ] {
        assert!(!exists(root, p), "{p} only on the first master");
    }
}

/// With root and xattrs, /etc is etc_t and /etc/pki cert_t, as RHEL 7 labels them.
fn assert_labels(root: &Path) {
    if !is_root("checking SELinux labels of the role trees") || !has_xattrs(root) {
        return;
    }
    let label = |p: &str| {
        xattr::get(root.join(p.trim_start_matches('/')), "security.selinux")
            .unwrap()
            .map(|v| {
                String::from_utf8_lossy(&v)
                    .trim_end_matches('\0')
                    .to_string()
            })
    };
    assert_eq!(
        label("/etc/hostname").as_deref(),
        Some("system_u:object_r:etc_t:s0")
    );
    if exists(root, "/etc/pki") {
        assert_eq!(
            label("/etc/pki/ca-trust/source/anchors/openshift-ca.crt").as_deref(),
            Some("system_u:object_r:cert_t:s0")
        );
    }
}

#[test]
fn first_master_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = role_tree(
        dir.path(),
        "m0.example.com",
        "master",
        &[
            "--first-master",
            "--etcd-name",
            "m0.example.com",
            "--etcd-peer-ip",
            "127.0.0.11",
        ],
    );
    assert_node_shape(
        &root,
        "node-role.kubernetes.io/master=true",
        "node-config-master",
    );
    for p in [
        "/etc/origin/master/master-config.yaml",
        "/etc/origin/master/ca.key",
        "/etc/origin/master/admin.kubeconfig",
        "/etc/origin/node/pods/apiserver.yaml",
        "/etc/origin/node/pods/controller.yaml",
        "/etc/origin/node/pods/etcd.yaml",
        "/etc/origin/master/ca.serial.txt",
        "/etc/etcd/ca/ca.key",
        "/etc/etcd/generated_certs/etcd-m1.example.com/peer.crt",
        "/etc/etcd/generated_certs/etcd-etcd-3.example.com/server.key",
    ] {
        assert!(exists(&root, p), "{p}");
    }
    let conf = read(&root, "/etc/etcd/etcd.conf");
    assert!(conf.contains("ETCD_NAME=m0.example.com\n"), "{conf}");
    assert!(conf.contains("ETCD_INITIAL_ADVERTISE_PEER_URLS=https://127.0.0.11:2380\n"));
    assert!(conf.contains(&format!("ETCD_INITIAL_CLUSTER={CLUSTER}\n")));
    assert_eq!(mode(&root, "/etc/etcd"), 0o700);
    assert_labels(&root);
    snapshot_then_diff_is_clean(&root, dir.path());
}

#[test]
fn other_master_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = role_tree(
        dir.path(),
        "m1.example.com",
        "master",
        &[
            "--etcd-name",
            "m1.example.com",
            "--etcd-peer-ip",
            "127.0.0.12",
        ],
    );
    assert_node_shape(
        &root,
        "node-role.kubernetes.io/master=true",
        "node-config-master",
    );
    assert!(exists(&root, "/etc/origin/master/master-config.yaml"));
    assert!(exists(&root, "/etc/origin/node/pods/etcd.yaml"));
    assert_no_ca_files(&root);
    let conf = read(&root, "/etc/etcd/etcd.conf");
    assert!(conf.contains("ETCD_NAME=m1.example.com\n"), "{conf}");
    assert!(conf.contains("ETCD_LISTEN_PEER_URLS=https://127.0.0.12:2380\n"));
    // A master that is no etcd member has no etcd static pod and no /etc/etcd.
    let lone = role_tree(dir.path(), "m9.example.com", "master", &[]);
    assert!(!exists(&lone, "/etc/origin/node/pods/etcd.yaml"));
    assert!(!exists(&lone, "/etc/etcd"));
    snapshot_then_diff_is_clean(&root, dir.path());
}

#[test]
fn infra_node_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = role_tree(dir.path(), "infra-0.example.com", "infra", &[]);
    assert_node_shape(
        &root,
        "node-role.kubernetes.io/infra=true",
        "node-config-infra",
    );
    assert!(!exists(&root, "/etc/origin/master"), "masters only");
    assert!(!exists(&root, "/etc/etcd"));
    assert!(
        fs::read_dir(root.join("etc/origin/node/pods"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_labels(&root);
    snapshot_then_diff_is_clean(&root, dir.path());
}

#[test]
fn compute_node_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = role_tree(dir.path(), "node-0.example.com", "node", &[]);
    assert_node_shape(
        &root,
        "node-role.kubernetes.io/compute=true",
        "node-config-compute",
    );
    assert!(!read(&root, "/etc/origin/node/node-config.yaml").contains("infra=true"));
    assert!(!exists(&root, "/etc/origin/master"));
    assert_no_ca_files(&root);
    snapshot_then_diff_is_clean(&root, dir.path());
}

#[test]
fn etcd_host_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = role_tree(
        dir.path(),
        "etcd-3.example.com",
        "etcd",
        &["--etcd-peer-ip", "127.0.0.13"],
    );
    let conf = read(&root, "/etc/etcd/etcd.conf");
    assert!(conf.contains("ETCD_NAME=etcd-3.example.com\n"), "{conf}");
    assert!(conf.contains("ETCD_ADVERTISE_CLIENT_URLS=https://127.0.0.13:2379\n"));
    for k in ["ca.crt", "peer.crt", "peer.key", "server.crt", "server.key"] {
        assert_eq!(mode(&root, &format!("/etc/etcd/{k}")), 0o600, "{k}");
    }
    assert!(
        !exists(&root, "/etc/origin"),
        "a dedicated etcd host is no node"
    );
    assert_no_ca_files(&root);
    // Members of one cluster share the etcd CA (--ca-dir).
    let m0 = role_tree(
        dir.path(),
        "m0.example.com",
        "master",
        &["--first-master", "--etcd-name", "m0.example.com"],
    );
    assert_eq!(
        read(&root, "/etc/etcd/ca.crt"),
        read(&m0, "/etc/etcd/ca/ca.crt")
    );
    snapshot_then_diff_is_clean(&root, dir.path());
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--role", "bastion"],
        vec!["--host", "x"],
        vec!["--role", "node", "--first-master"],
    ] {
        let out = Command::new("bash")
            .arg(testdata().join("make-host-tree.sh"))
            .arg(dir.path().join("t"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
