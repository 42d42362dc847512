//! The Ansible role and playbooks (ansible/) against a five-host test cluster on this
//! machine: three masters that are also etcd members (a real three-member etcd with
//! TLS on loopback), an infra node and an application node, one host tree each
//! (`ocpvault_root`, `ansible_connection=local`), moto as the S3 store, and
//! ansible-playbook from PyPI (ansible-core, pinned by .ci/install-deps).

mod cluster;

use crate::common::*;
use cluster::{Cluster, MASTERS, NODES, text};
use std::path::Path;

fn have_everything() -> bool {
    cluster::ansible_playbook().is_some()
        && crate::etcd_support::have_etcd()
        && have_tool("age-keygen", "age")
        && have_tool("curl", "curl")
        && have_tool("setfacl", "acl")
}

/// The cluster report of the run the last snapshot.yml wrote.
fn report(c: &Cluster) -> serde_json::Value {
    let dir = c.dir.join("report");
    let mut reports: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    reports.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let last = reports.last().expect("a report was written");
    serde_json::from_str(&std::fs::read_to_string(last).unwrap()).unwrap()
}

fn hosts_of(report: &serde_json::Value) -> Vec<String> {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect()
}

fn keys(c: &Cluster) -> String {
    stdout_ok(&c.etcdctl(&["get", "--prefix", "/ocpvault-test/"]))
}

fn put_keys(c: &Cluster) {
    for i in 0..50 {
        let out = c.etcdctl(&[
            "put",
            &format!("/ocpvault-test/key-{i:03}"),
            &format!("v{i}"),
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

#[test]
fn snapshot_gate_then_restore_a_master_and_the_etcd_cluster() {
    if !have_everything() || !is_root("restoring owners and ACLs of the host trees") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c = Cluster::new(tmp.path());
    put_keys(&c);
    let before = keys(&c);
    let inv = c.inventory("s3://backups/prod", "");

    // 1. The whole-cluster snapshot: the gate passes; all five hosts, one etcd snapshot.
    let out = c.playbook("snapshot.yml", &inv, &[]);
    assert!(out.status.success(), "snapshot.yml failed:\n{}", text(&out));
    let r = report(&c);
    assert_eq!(r["passed"], true, "{r}");
    assert_eq!(r["sealed"], true, "{r}");
    let mut hosts = hosts_of(&r);
    hosts.sort();
    let mut want: Vec<String> = MASTERS
        .iter()
        .chain(NODES.iter())
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(hosts, want);
    assert_eq!(
        r["etcd_snapshot_hosts"],
        serde_json::json!([MASTERS[0]]),
        "{r}"
    );
    let id = r["run_id"].as_str().unwrap();
    let table =
        std::fs::read_to_string(c.dir.join(format!("report/ocpvault-run-{id}.txt"))).unwrap();
    for h in &want {
        assert!(table.contains(h.as_str()), "{table}");
    }
    let listed: serde_json::Value = serde_json::from_str(&stdout_ok(&c.ocpvault(&[
        "list",
        "s3://backups/prod",
        "--json",
    ])))
    .unwrap();
    let run = &listed["runs"][0];
    assert_eq!(run["run_id"], id, "{listed}");
    assert_eq!(run["complete"], true, "{listed}");

    // 2. A damaged master: /etc/origin/master deleted, a key's mode changed, an ACL removed.
    let m1 = c.host_root(MASTERS[1]);
    std::fs::remove_dir_all(m1.join("etc/origin/master")).unwrap();
    let key = m1.join("etc/etcd/peer.key");
    std::os::unix::fs::chown(&key, None, None).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let acl_file = m1.join("etc/origin/cloudprovider");
    let out = std::process::Command::new("setfacl")
        .arg("-b")
        .arg("-k")
        .arg(&acl_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let archived = c.dir.join("restored-check");
    assert_ne!(
        diff_exit(&c, &m1, &archived),
        Some(0),
        "the damage shows in a diff"
    );
    let out = c.playbook("restore-host.yml", &inv, &["-l", MASTERS[1]]);
    assert!(
        out.status.success(),
        "restore-host.yml failed:\n{}",
        text(&out)
    );
    assert!(m1.join("etc/origin/master/master-config.yaml").exists());
    assert_eq!(diff_exit(&c, &m1, &archived), Some(0));
    assert!(
        !has_entry_containing(&c.dir.join("hosttmp"), ".ocpvault"),
        "the decrypted copy is removed"
    );

    // 3. etcd data wiped on all three members: restore-etcd.yml brings every key back.
    for i in 0..3 {
        c.stop_member(i);
        std::fs::remove_dir_all(c.members[i].root.join("var/lib/etcd/member")).unwrap();
    }
    let out = c.playbook("restore-etcd.yml", &inv, &[]);
    assert!(
        out.status.success(),
        "restore-etcd.yml failed:\n{}",
        text(&out)
    );
    c.wait_healthy();
    let members = stdout_ok(&c.etcdctl(&["member", "list"]));
    for m in MASTERS {
        assert!(members.contains(m), "{members}");
    }
    assert_eq!(keys(&c), before, "every key is back");
    for m in &c.members {
        assert!(
            has_entry_containing(&m.root.join("var/lib"), "etcd.ocpvault-old-"),
            "the old data dir of {} was moved aside",
            m.name
        );
    }
}

/// `ocpvault diff` of `root` against the newest archive of master-1, fetched and
/// decrypted into `work`.
fn diff_exit(c: &Cluster, root: &Path, work: &Path) -> Option<i32> {
    let listed: serde_json::Value = serde_json::from_str(&stdout_ok(&c.ocpvault(&[
        "list",
        "s3://backups/prod",
        "--json",
    ])))
    .unwrap();
    let name = listed["runs"][0]["archives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["host"] == MASTERS[1])
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let src = format!("s3://backups/prod/{name}");
    stdout_ok(&c.ocpvault(&["fetch", "-q", &src, "-o", work.to_str().unwrap()]));
    let a = work.join(&name);
    let out = c.ocpvault(&[
        "diff",
        "-q",
        "--numeric-owner",
        "-i",
        c.key.to_str().unwrap(),
        a.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    out.status.code()
}

#[test]
fn failures_name_the_host_and_lose_nothing_stored() {
    if !have_everything() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c = Cluster::new(tmp.path());
    let dest = "s3://backups/prod";
    let inv = c.inventory(dest, "");

    // One etcd member down: the run takes the snapshot from the next one and passes.
    c.stop_member(0);
    let out = c.playbook("snapshot.yml", &inv, &[]);
    assert!(out.status.success(), "snapshot.yml failed:\n{}", text(&out));
    let r = report(&c);
    assert_eq!(
        r["etcd_snapshot_hosts"],
        serde_json::json!([MASTERS[1]]),
        "{r}"
    );
    let stored = |c: &Cluster| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&stdout_ok(&c.ocpvault(&["list", dest, "--json"]))).unwrap();
        let mut names: Vec<String> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["archives"].as_array().unwrap().iter())
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let first = stored(&c);
    assert_eq!(first.len(), 5);

    // Every member down: the gate fails, naming the run's missing etcd snapshot.
    c.stop_member(1);
    c.stop_member(2);
    next_second();
    let out = c.playbook("snapshot.yml", &inv, &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("no etcd snapshot"), "{t}");
    assert!(t.contains(MASTERS[0]), "{t}");
    for i in 0..3 {
        c.start_member(i);
    }
    c.wait_healthy();

    // An unreachable host: the gate names it; the others still ship.
    next_second();
    let gone = "node-9.example.com ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 \
                ansible_ssh_common_args='-o ConnectTimeout=3'\n";
    let inv_gone = c.inventory(dest, gone);
    let out = c.playbook("snapshot.yml", &inv_gone, &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("host node-9.example.com: no snapshot summary"),
        "{t}"
    );
    let r = report(&c);
    assert_eq!(r["passed"], false);
    assert_eq!(
        r["etcd_snapshot_hosts"],
        serde_json::json!([MASTERS[0]]),
        "{r}"
    );

    // A store that refuses writes (a bucket that does not exist): every host is named.
    next_second();
    let inv_bad = c.inventory("s3://no-such-bucket/prod", "");
    let out = c.playbook("snapshot.yml", &inv_bad, &[]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("no-such-bucket"), "{t}");
    for h in MASTERS.iter().chain(NODES.iter()) {
        assert!(t.contains(&format!("host {h}:")), "{h} not named:\n{t}");
    }

    // Nothing already stored was lost.
    let now = stored(&c);
    for name in &first {
        assert!(now.contains(name), "{name} lost");
    }
}

/// The benchmark of bench/cluster.sh (not a test: it asserts only that the runs
/// worked, and writes its figures to bench/results/cluster.md): wall time of
/// snapshot.yml for the five-host cluster, against the same five snapshots taken one
/// after another with the same options, and the store size of each.
#[test]
#[ignore = "a benchmark: run by bench/cluster.sh"]
fn bench_cluster_snapshot() {
    if !have_everything() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c = Cluster::new(tmp.path());
    put_keys(&c);
    let store_size = |dest: &str| -> (usize, u64) {
        let v: serde_json::Value =
            serde_json::from_str(&stdout_ok(&c.ocpvault(&["list", dest, "--json"]))).unwrap();
        let sizes: Vec<u64> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["archives"].as_array().unwrap().iter())
            .map(|a| a["size"].as_u64().unwrap())
            .collect();
        (sizes.len(), sizes.iter().sum())
    };

    let inv = c.inventory("s3://backups/ansible", "");
    let t0 = std::time::Instant::now();
    let out = c.playbook("snapshot.yml", &inv, &[]);
    let ansible_s = t0.elapsed().as_secs_f64();
    assert!(out.status.success(), "snapshot.yml failed:\n{}", text(&out));
    let (ansible_n, ansible_bytes) = store_size("s3://backups/ansible");

    // The same hosts, one after another: etcd from the first master only, as the
    // playbook does, same recipients and sources.
    let out_dir = tmp.path().join("seq-out");
    let t0 = std::time::Instant::now();
    for (i, h) in MASTERS.iter().chain(NODES.iter()).enumerate() {
        let root = c.host_root(h);
        let out = c.ocpvault(&[
            "snapshot",
            "--json",
            "-q",
            "--root",
            root.to_str().unwrap(),
            "--output",
            out_dir.join(h).to_str().unwrap(),
            "--ship",
            "s3://backups/sequential",
            "--run-id",
            "sequential-1",
            "--etcd",
            if i == 0 { "auto" } else { "skip" },
            "--recipient",
            &c.recipient,
            "--projects",
            "skip",
            "--packages",
            "skip",
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{h}: {}",
            text(&out)
        );
    }
    let seq_s = t0.elapsed().as_secs_f64();
    let (seq_n, seq_bytes) = store_size("s3://backups/sequential");

    let report = format!(
        "# Whole-cluster snapshot: ansible/snapshot.yml against one host after another\n\n\
         Command: `bench/cluster.sh` ({} cores, {}). The five-host test cluster of\n\
         tests/it/ansible.rs: three masters that are also the members of a real\n\
         three-member TLS etcd, an infra and an application node, one host tree each\n\
         (ansible_connection=local), moto as the S3 store, archives encrypted to one age\n\
         recipient, etcd snapshot from the first healthy member only.\n\n\
         | run | archives | store bytes | wall s |\n|---|---|---|---|\n\
         | ansible-playbook snapshot.yml (install, etcd members serial: 1, then masters and nodes in batches, gate, report, seal) | {ansible_n} | {ansible_bytes} | {ansible_s:.1} |\n\
         | the same five `ocpvault snapshot --ship` one after another (no Ansible) | {seq_n} | {seq_bytes} | {seq_s:.1} |\n\n\
         The playbook's extra time is Ansible's own (fact gathering, one task round trip\n\
         per host and step, the copy of the binary and config) and the gate; the\n\
         snapshots themselves are the same work.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        chrono::Utc::now().format("%Y-%m-%d"),
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results/cluster.md");
    std::fs::write(&path, &report).unwrap();
    println!("{report}");
}
