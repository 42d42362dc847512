//! The etcd source and `ocpvault etcd` against a real etcd (Debian's etcd-server and
//! etcd-client): TLS with client-certificate auth, a few thousand keys, snapshot,
//! restore into a new data directory, start etcd on it and read every key back.
//! Each test has its own directory, certificates and ports.

use crate::common::{ocpvault, stdout_ok};
use crate::etcd_support::{EtcdServer, Pki, ServerConfig, have_etcd, host_root, test_keys};
use std::path::{Path, PathBuf};
use std::process::Output;

const SNAPSHOT: &str = "/.ocpvault/etcd/snapshot.db";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ocpvault snapshot` into `dir/out`; returns the output and the archive.
fn take_snapshot(root: &Path, dir: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut args = vec!["snapshot", "--root", s(root), "--output", s(&out_dir)];
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    let archive = text(&out)
        .lines()
        .find_map(|l| l.strip_prefix("archive: ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("no archive line: {}", String::from_utf8_lossy(&out.stderr)));
    (out, archive)
}

fn cat_to(archive: &Path, path: &str, dest: &Path) {
    let out = ocpvault(&["cat", s(archive), path]);
    assert!(
        out.status.success(),
        "cat {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dest, &out.stdout).unwrap();
}

fn assert_verifies(archive: &Path) {
    let out = stdout_ok(&ocpvault(&["verify", s(archive)]));
    assert!(out.contains("0 problem(s)"), "{out}");
}

fn status_json(archive: &Path) -> (Option<i32>, serde_json::Value) {
    let out = ocpvault(&["etcd", "status", s(archive), "--json"]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).expect("status json"),
    )
}

/// Restores `archive` into `data_dir` and checks the command reported success.
fn restore_into(archive: &Path, data_dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["etcd", "restore", s(archive), "--data-dir", s(data_dir)];
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    // 1 only for owner/label warnings, which need root.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "restore failed: {}{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let t = text(&out);
    assert!(t.contains("etcd data restored into"), "{t}");
    t
}

#[test]
fn live_snapshot_over_tls_restores_every_key() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let mut server = EtcdServer::start(&cfg);
    let keys = test_keys();
    server.put_all(&keys);
    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let (out, archive) = take_snapshot(&root, dir.path(), &[]);
    let summary = stdout_ok(&out);
    assert!(summary.contains("source etcd: captured"), "{summary}");

    // Byte for byte what etcdctl snapshot save writes, and etcdctl accepts it.
    let ours = dir.path().join("ours.db");
    cat_to(&archive, SNAPSHOT, &ours);
    let theirs = dir.path().join("theirs.db");
    let saved = server.etcdctl(&["snapshot", "save", s(&theirs)]);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap());
    let st = server.etcdctl(&["snapshot", "status", s(&ours), "-w", "json"]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert!(
        st["totalKey"].as_u64().unwrap() >= keys.len() as u64,
        "{st}"
    );

    let (code, status) = status_json(&archive);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["ok"], true);
    assert_eq!(status["details"]["status"]["endpoint"], cfg.client_url());
    assert!(
        status["details"]["status"]["version"]
            .as_str()
            .unwrap()
            .starts_with("3.")
    );
    assert_eq!(status["details"]["members"][0]["name"], "master-0");
    assert_eq!(status["check"]["trailer"], "ok");
    assert_verifies(&archive);

    // A running member's data directory is never moved away under it.
    let out = ocpvault(&[
        "etcd",
        "restore",
        s(&archive),
        "--data-dir",
        s(&cfg.data_dir),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("etcd still holds"), "{err}");
    assert!(cfg.data_dir.join("member/snap/db").is_file());
    let leftover = format!("{}.ocpvault-snapshot.db", cfg.data_dir.display());
    assert!(!Path::new(&leftover).exists(), "snapshot copy left behind");

    // Restore over an existing data directory, which is moved aside, not deleted,
    // with the guide's static pod steps around it.
    server.stop();
    let data_dir = dir.path().join("restored/etcd");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("marker"), "old").unwrap();
    let manifest = dir.path().join("node/pods/etcd.yaml");
    std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
    std::fs::write(&manifest, "kind: Pod\n").unwrap();
    let extra = ["--static-pod", "--pod-manifest", s(&manifest)];
    let steps = restore_into(&archive, &data_dir, &extra);
    let stop = steps
        .find("node/pods-stopped/etcd.yaml")
        .expect("pod stopped");
    let restore = steps.find("snapshot restore").expect("restored");
    assert!(
        stop < restore && steps.rfind("mv ").unwrap() > restore,
        "{steps}"
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "kind: Pod\n");
    let aside: Vec<_> = std::fs::read_dir(dir.path().join("restored"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("etcd.ocpvault-old-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path().join("marker")).unwrap(),
        "old"
    );

    let restored = EtcdServer::start(&ServerConfig {
        data_dir,
        log: dir.path().join("restored.log"),
        ..cfg.clone()
    });
    assert!(
        restored.get_prefix("/ocpvault-test/") == keys,
        "keys differ after restore"
    );
}

/// Snapshots with etcd failing; checks the one error line, the rest of the archive
/// and `etcd status`. Returns the error line.
fn assert_etcd_failed(root: &Path, dir: &Path, extra: &[&str], must: &[&str]) -> String {
    let (out, archive) = take_snapshot(root, dir, extra);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("source etcd: failed"), "{t}");
    let errors: Vec<&str> = t
        .lines()
        .filter(|l| l.trim_start().starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{t}");
    for m in must {
        assert!(errors[0].contains(m), "{m:?} not in {}", errors[0]);
    }
    assert_verifies(&archive);
    let ls = stdout_ok(&ocpvault(&["ls", s(&archive)]));
    assert!(ls.contains("/etc/etcd/etcd.conf"), "{ls}");
    assert!(!ls.contains(SNAPSHOT), "{ls}");
    let status = ocpvault(&["etcd", "status", s(&archive)]);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        text(&status).contains("etcd:      failed"),
        "{}",
        text(&status)
    );
    errors[0].to_string()
}

#[test]
fn wrong_ca_fails_the_source_and_keeps_the_archive() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let _server = EtcdServer::start(&cfg);
    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    std::fs::copy(pki.path("otherca.crt"), root.join("etc/etcd/ca.crt")).unwrap();
    let ca = root.join("etc/etcd/ca.crt");
    assert_etcd_failed(
        &root,
        dir.path(),
        &[],
        &[&cfg.client_url(), s(&ca), "not signed by the given CA"],
    );
}

#[test]
fn wrong_client_certificate_fails_the_source_and_keeps_the_archive() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let _server = EtcdServer::start(&cfg);
    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let (cert, key) = (pki.path("rogue.crt"), pki.path("rogue.key"));
    let extra = ["--etcd-cert", s(&cert), "--etcd-key", s(&key)];
    assert_etcd_failed(
        &root,
        dir.path(),
        &extra,
        &[&cfg.client_url(), s(&cert), "accept the client certificate"],
    );
}

#[test]
fn stopped_server_fails_the_source_and_keeps_the_archive() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    EtcdServer::start(&cfg).stop();
    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    assert_etcd_failed(
        &root,
        dir.path(),
        &[],
        &[&cfg.client_url(), "Connection refused"],
    );
}

#[test]
fn data_dir_capture_of_a_stopped_member_restores_every_key() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig::new(dir.path(), "etcd-0", None);
    let mut server = EtcdServer::start(&cfg);
    let keys = test_keys();
    server.put_all(&keys);
    let root = host_root(dir.path(), &cfg.etcd_conf(), None);
    let data = ["--etcd-data-dir", s(&cfg.data_dir)];

    // A running member's db is locked: refused, not copied torn.
    let db = cfg.data_dir.join("member/snap/db");
    assert_etcd_failed(
        &root,
        &dir.path().join("running"),
        &data,
        &[s(&db), "locked by a running etcd"],
    );

    server.stop();
    let (out, archive) = take_snapshot(&root, dir.path(), &data);
    assert!(stdout_ok(&out).contains("source etcd: captured"));
    let ls = stdout_ok(&ocpvault(&["ls", s(&archive), "/.ocpvault/etcd/data-dir"]));
    assert!(
        ls.contains("/.ocpvault/etcd/data-dir/member/snap/db"),
        "{ls}"
    );
    assert!(
        ls.contains("/.ocpvault/etcd/data-dir/member/wal/0000000000000000-0000000000000000.wal"),
        "{ls}"
    );
    let (code, status) = status_json(&archive);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["details"]["capture"], "data-dir");
    assert_eq!(status["check"]["trailer"], "absent");
    assert_verifies(&archive);

    let new_dir = dir.path().join("new.etcd");
    let printed = stdout_ok(&ocpvault(&[
        "etcd",
        "restore",
        s(&archive),
        "--data-dir",
        s(&new_dir),
        "--print",
    ]));
    assert!(
        printed.contains("snapshot restore") && printed.contains("--skip-hash-check"),
        "{printed}"
    );
    assert!(!new_dir.exists(), "--print changed the host");
    restore_into(&archive, &new_dir, &[]);
    let restored = EtcdServer::start(&ServerConfig {
        data_dir: new_dir,
        log: dir.path().join("restored.log"),
        ..cfg.clone()
    });
    assert!(
        restored.get_prefix("/ocpvault-test/") == keys,
        "keys differ after restore"
    );
}

/// An archive whose stored snapshot has an altered trailer, written with the library
/// (its archive hashes are right; only etcd's own hash is wrong). No etcd needed.
fn archive_with_altered_trailer(dir: &Path) -> PathBuf {
    use ocpvault::archive::{ArchiveWriter, HostFacts, Sink, SourceReport, WriterOptions};
    use ocpvault::collect::add_generated_file;
    use ocpvault::etcd::record::{CaptureKind, EtcdDetails, SnapshotRecord};
    use ocpvault::etcd::trailer::with_trailer;
    let opts = WriterOptions {
        level: 1,
        threads: 0,
        created: (1_700_000_000, 0),
    };
    let mut w = ArchiveWriter::create(&dir.join("bad.ocpvault"), opts, |f| {
        Ok(Box::new(f) as Box<dyn Sink>)
    })
    .unwrap();
    let conf = b"ETCD_NAME=m0\nETCD_INITIAL_CLUSTER=m0=https://10.0.0.8:2380\n\
ETCD_INITIAL_CLUSTER_TOKEN=t\nETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.8:2380\n";
    add_generated_file(
        &mut w,
        "files",
        "/etc/etcd/etcd.conf",
        &mut &conf[..],
        (0, 0),
    )
    .unwrap();
    let mut snapshot = with_trailer(&vec![42u8; 4 * 4096]);
    let last = snapshot.len() - 1;
    snapshot[last] ^= 0x80;
    let e = add_generated_file(&mut w, "etcd", SNAPSHOT, &mut &snapshot[..], (0, 0)).unwrap();
    let mut report = SourceReport::new("etcd");
    report.captured = 1;
    report.details = EtcdDetails {
        capture: Some(CaptureKind::Snapshot),
        snapshot: Some(SnapshotRecord {
            path: SNAPSHOT.into(),
            object: e.object.unwrap(),
            size: e.size,
            trailer_sha256: None,
        }),
        ..Default::default()
    }
    .to_map();
    w.add_source(report);
    let facts = HostFacts {
        hostname: "master-0".into(),
        os_release: None,
        root: "/".into(),
    };
    w.finish(facts, Default::default()).unwrap().0
}

#[test]
fn altered_trailer_is_reported_and_never_restored() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_altered_trailer(dir.path());
    assert_verifies(&archive);
    let out = ocpvault(&["etcd", "status", s(&archive)]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    let errors: Vec<&str> = t.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{t}");
    assert!(
        errors[0].contains(SNAPSHOT) && errors[0].contains("trailer mismatch"),
        "{t}"
    );

    let data_dir = dir.path().join("etcd");
    std::fs::create_dir_all(&data_dir).unwrap();
    let out = ocpvault(&["etcd", "restore", s(&archive), "--data-dir", s(&data_dir)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(SNAPSHOT) && err.contains("nothing on the host was changed"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}
