//! Plans built from archives written in memory: parameters from the archived
//! etcd.conf, flags overriding them, and the order of the guide's steps.

use super::*;
use crate::archive::{ArchiveWriter, HostFacts, Sink, SourceReport, WriterOptions};
use crate::collect::{add_generated_file, generated_entry};
use crate::etcd::SNAPSHOT_PATH;
use crate::etcd::record::SnapshotRecord;
use crate::etcd::trailer::with_trailer;
use std::io::BufWriter;

const CONF: &str = "ETCD_NAME=master-0\nETCD_INITIAL_CLUSTER=master-0=https://10.0.0.8:2380\n\
ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster-1\nETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.8:2380\n";

/// Writes an archive with an etcd.conf (when given) and a "snapshot" of `db`.
pub(super) fn archive_with(dir: &Path, conf: Option<&str>, snapshot: &[u8]) -> PathBuf {
    let path = dir.join("a.ocpvault");
    let opts = WriterOptions {
        level: 1,
        threads: 0,
        created: (1_700_000_000, 0),
    };
    let mut w = ArchiveWriter::create(&path, opts, |f: BufWriter<File>| {
        Ok(Box::new(f) as Box<dyn Sink>)
    })
    .unwrap();
    if let Some(conf) = conf {
        let id = w.add_object(&mut conf.as_bytes()).unwrap();
        let mut e = generated_entry("files", ETCD_CONF_PATH, id, conf.len() as u64, (0, 0));
        e.mode = 0o644;
        w.add_entry(e);
    }
    let e = add_generated_file(&mut w, "etcd", SNAPSHOT_PATH, &mut &snapshot[..], (0, 0)).unwrap();
    let mut report = SourceReport::new("etcd");
    report.captured = 1;
    report.details = EtcdDetails {
        capture: Some(CaptureKind::Snapshot),
        snapshot: Some(SnapshotRecord {
            path: SNAPSHOT_PATH.into(),
            object: e.object.unwrap(),
            size: e.size,
            trailer_sha256: None,
        }),
        ..Default::default()
    }
    .to_map();
    w.add_source(report);
    let facts = HostFacts {
        hostname: "h".into(),
        os_release: None,
        root: "/".into(),
    };
    w.finish(facts, Default::default()).unwrap().0
}

use std::fs::File;

fn options(dir: &Path) -> EtcdRestoreOptions {
    EtcdRestoreOptions {
        data_dir: dir.join("var/lib/etcd"),
        name: None,
        initial_cluster: None,
        initial_cluster_token: None,
        initial_advertise_peer_urls: None,
        static_pod: false,
        pod_manifest: dir.join("etc/origin/node/pods/etcd.yaml"),
        now: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        archive_args: vec!["a.ocpvault".into()],
    }
}

fn db() -> Vec<u8> {
    with_trailer(&vec![7u8; 8192])
}

#[test]
fn parameters_come_from_the_archived_etcd_conf_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ArchiveReader::open(&archive_with(dir.path(), Some(CONF), &db())).unwrap();
    let mut o = options(dir.path());
    o.name = Some("restored".into());
    let plan = plan(&mut r, &o).unwrap();
    assert_eq!(plan.params.name, ("restored".to_string(), "flag"));
    assert_eq!(
        plan.params.initial_cluster,
        ("master-0=https://10.0.0.8:2380".to_string(), "etcd.conf")
    );
    let Some(Step::Restore { args, .. }) = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::Restore { .. }))
    else {
        panic!("no restore step")
    };
    assert!(args.contains(&"etcd-cluster-1".to_string()));
    assert!(!args.contains(&"--skip-hash-check".to_string()));
}

#[test]
fn missing_parameters_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ArchiveReader::open(&archive_with(dir.path(), None, &db())).unwrap();
    let err = plan(&mut r, &options(dir.path())).unwrap_err().to_string();
    assert!(err.contains("--name (ETCD_NAME)"), "{err}");
    assert!(err.contains("--initial-advertise-peer-urls"), "{err}");
    assert!(err.contains("holds no /etc/etcd/etcd.conf"), "{err}");
}

#[test]
fn static_pod_steps_wrap_the_restore_in_the_guides_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ArchiveReader::open(&archive_with(dir.path(), Some(CONF), &db())).unwrap();
    let mut o = options(dir.path());
    o.static_pod = true;
    std::fs::create_dir_all(o.data_dir.join("member/snap")).unwrap();
    let plan = plan(&mut r, &o).unwrap();
    let kinds: Vec<&str> = plan
        .steps
        .iter()
        .map(|s| match s {
            Step::Extract { .. } => "extract",
            Step::StopPod { .. } => "stop",
            Step::WaitStopped { .. } => "wait",
            Step::MoveAside { .. } => "aside",
            Step::Restore { .. } => "restore",
            Step::RemoveFile { .. } => "rm",
            Step::Chown { .. } => "chown",
            Step::Label { .. } => "label",
            Step::StartPod { .. } => "start",
        })
        .filter(|k| *k != "chown")
        .collect();
    assert_eq!(
        kinds,
        ["extract", "stop", "wait", "aside", "restore", "rm", "start"]
    );
    let aside = plan.steps[3].shell();
    assert!(
        aside.ends_with("var/lib/etcd.ocpvault-old-20231114T221320Z"),
        "{aside}"
    );
    assert!(
        plan.steps[1]
            .shell()
            .contains("etc/origin/node/pods-stopped/etcd.yaml")
    );
}

#[test]
fn a_bad_trailer_is_refused_before_the_host_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = db();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let mut r = ArchiveReader::open(&archive_with(dir.path(), Some(CONF), &bad)).unwrap();
    let o = options(dir.path());
    std::fs::create_dir_all(o.data_dir.join("member")).unwrap();
    let plan = plan(&mut r, &o).unwrap();
    let err = execute(&mut r, &plan, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("trailer mismatch"), "{err}");
    assert!(err.contains("nothing on the host was changed"), "{err}");
    assert!(o.data_dir.join("member").is_dir());
    assert!(
        !dir.path()
            .join("var/lib/etcd.ocpvault-snapshot.db")
            .exists()
    );
    let status = status::inspect(&mut r);
    assert!(!status.ok);
    assert_eq!(status.check.as_ref().unwrap().archive_hash, "ok");
    assert_eq!(status.check.as_ref().unwrap().trailer, "failed");
}
