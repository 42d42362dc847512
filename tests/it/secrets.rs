//! The unencrypted-secrets warning and the modes of secret files in outputs: the etcd
//! snapshot (every Secret of the cluster, from a real etcd) and
//! /etc/origin/master/encryption-config.yaml (the keys that decrypt the Secrets stored
//! in etcd) are counted, always named in the warning, and 0600 wherever ocpvault
//! writes them.

use crate::common::{demo_tree, ocpvault, stdout_ok};
use crate::etcd_support::{EtcdServer, ServerConfig, have_etcd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SNAPSHOT: &str = "/.ocpvault/etcd/snapshot.db";
const ENCRYPTION_CONFIG: &str = "/etc/origin/master/encryption-config.yaml";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn warnings(summary: &serde_json::Value) -> String {
    summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn encryption_config_is_a_secret_file_named_in_the_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = crate::common::snapshot(&root, dir.path(), &[]);
    let out = ocpvault(&["info", s(&archive), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = info["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "files")
        .unwrap();
    let secrets = files["details"]["secret_files"].as_array().unwrap();
    assert!(
        secrets.iter().any(|p| p == ENCRYPTION_CONFIG),
        "{secrets:?}"
    );
    // Named in the warning although many key files come before it.
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    let out = ocpvault(&[
        "snapshot",
        "--root",
        s(&root),
        "-o",
        s(&again),
        "--etcd",
        "skip",
        "--projects",
        "skip",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = warnings(&summary);
    assert!(w.contains(ENCRYPTION_CONFIG), "{w}");
    assert!(
        w.contains("/etc/etcd/ca/ca.key") || w.contains(", ..."),
        "{w}"
    );
}

#[test]
fn the_etcd_snapshot_is_named_in_the_warning_and_restored_0600() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let cfg = ServerConfig::new(dir.path(), "master-0", None);
    let server = EtcdServer::start(&cfg);
    server.put_all(&crate::etcd_support::test_keys());
    std::fs::write(root.join("etc/etcd/etcd.conf"), cfg.etcd_conf()).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = ocpvault(&[
        "snapshot",
        "--root",
        s(&root),
        "-o",
        s(&dir.path().join("out")),
        "--projects",
        "skip",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let w = warnings(&summary);
    assert!(w.contains(SNAPSHOT), "{w}");
    assert!(w.contains(ENCRYPTION_CONFIG), "{w}");
    let archive = summary["archive"].as_str().unwrap();
    assert_eq!(mode(Path::new(archive)), 0o600);

    // restore --target of the snapshot and the encryption config.
    let target = dir.path().join("target");
    let out = ocpvault(&[
        "restore",
        archive,
        SNAPSHOT,
        ENCRYPTION_CONFIG,
        "--target",
        s(&target),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for p in [SNAPSHOT, ENCRYPTION_CONFIG] {
        let restored = target.join(p.trim_start_matches('/'));
        assert_eq!(mode(&restored), 0o600, "{}", restored.display());
    }

    // etcd restore into a new data directory: the db is 0600, its directories 0700.
    let data_dir = dir.path().join("restored.etcd");
    let out = ocpvault(&["etcd", "restore", archive, "--data-dir", s(&data_dir)]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = data_dir.join("member/snap/db");
    assert_eq!(mode(&db), 0o600, "{}", db.display());
    assert_eq!(mode(&data_dir), 0o700);

    // cat writes to stdout only; fetch and ship keep the archive 0600.
    let shipped = dir.path().join("shipped");
    let fetched = dir.path().join("fetched");
    std::fs::create_dir(&shipped).unwrap();
    std::fs::create_dir(&fetched).unwrap();
    stdout_ok(&ocpvault(&["ship", archive, s(&shipped)]));
    let name = Path::new(archive).file_name().unwrap();
    assert_eq!(mode(&shipped.join(name)), 0o600);
    let source = shipped.join(name);
    let out = ocpvault(&["fetch", s(&source), "-o", s(&fetched)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&fetched.join(name)), 0o600);
}
