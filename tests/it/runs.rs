//! Cluster runs: `snapshot --run-id` and `--require`, `run seal`, `list` grouping
//! archives by run, and `prune` keeping or deleting whole runs, at a directory and
//! at a local S3-compatible server (moto).

use crate::common::*;
use crate::crypto_ship::{moto_server, s3_cmd};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A small host tree named `host` under `dir/host`.
fn host_tree(dir: &Path, host: &str) -> PathBuf {
    let root = dir.join(host);
    fs::create_dir_all(root.join("etc/origin/master")).unwrap();
    fs::write(
        root.join("etc/origin/master/master-config.yaml"),
        "kind: MasterConfig\n",
    )
    .unwrap();
    fs::write(root.join("etc/hostname"), format!("{host}\n")).unwrap();
    root
}

fn snap_args<'a>(root: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--etcd",
        "skip",
        "--projects",
        "skip",
        "--packages",
        "skip",
        "--json",
    ];
    args.extend_from_slice(extra);
    args
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn the_run_id_is_in_the_manifest_the_name_info_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tree(dir.path(), "m0.example.com");
    let out_dir = dir.path().join("out");
    let out = ocpvault(&snap_args(&root, &out_dir, &["--run-id", "nightly-7.a_b"]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary = json_of(&out);
    assert_eq!(summary["run_id"], "nightly-7.a_b");
    assert_eq!(summary["required"], serde_json::json!([]));
    let archive = summary["archive"].as_str().unwrap();
    let name = Path::new(archive).file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("m0.example.com@nightly-7.a_b-") && name.ends_with("Z.ocpvault"),
        "{name}"
    );
    let info = json_of(&ocpvault(&["info", archive, "--json"]));
    assert_eq!(info["run_id"], "nightly-7.a_b");
    let text = stdout_ok(&ocpvault(&["info", archive]));
    assert!(text.contains("run id:    nightly-7.a_b"), "{text}");
    // Without --run-id: no run, the old name.
    let plain = json_of(&ocpvault(&snap_args(&root, &out_dir, &[])));
    assert_eq!(plain["run_id"], Value::Null);
    assert!(!plain["archive"].as_str().unwrap().contains('@'));
    let info = json_of(&ocpvault(&[
        "info",
        plain["archive"].as_str().unwrap(),
        "--json",
    ]));
    assert_eq!(info["run_id"], Value::Null);
}

#[test]
fn run_ids_that_could_name_another_place_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tree(dir.path(), "m0");
    let out_dir = dir.path().join("out");
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let long = "a".repeat(65);
    for bad in [
        "a/b", "..", "a..b", ".hidden", "-x", "", "a b", "a@b", &long,
    ] {
        let flag = format!("--run-id={bad}");
        let out = ocpvault(&snap_args(&root, &out_dir, &[&flag]));
        assert_eq!(out.status.code(), Some(2), "snapshot --run-id {bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("run id is 1-64 characters"),
            "{out:?}"
        );
        let out = ocpvault(&["run", "seal", dest.to_str().unwrap(), &flag, "--host", "m0"]);
        assert_eq!(out.status.code(), Some(2), "run seal --run-id {bad:?}");
    }
    assert!(!out_dir.exists() || fs::read_dir(&out_dir).unwrap().next().is_none());
    assert!(!dest.join("runs").exists());
    // A name whose run id breaks the rule is no archive name: list ignores it.
    fs::write(dest.join("m0@..-20261122T010000Z.ocpvault"), b"x").unwrap();
    let list = json_of(&ocpvault(&["list", dest.to_str().unwrap(), "--json"]));
    assert_eq!(list, serde_json::json!({"runs": [], "archives": []}));
}

#[test]
fn require_warns_and_exits_1_but_still_writes_and_ships() {
    let dir = tempfile::tempdir().unwrap();
    let root = host_tree(dir.path(), "m0");
    let out_dir = dir.path().join("out");
    let dest = dir.path().join("dest");
    let present = [
        "--require",
        "/etc/origin/master/",
        "--require",
        "/etc/origin/master/master-config.yaml",
    ];
    let out = ocpvault(&snap_args(&root, &out_dir, &present));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s = json_of(&out);
    assert_eq!(
        s["required"],
        serde_json::json!([
            {"path": "/etc/origin/master", "present": true},
            {"path": "/etc/origin/master/master-config.yaml", "present": true}
        ])
    );
    let missing = [
        "--require",
        "/etc/etcd/ca",
        "--ship",
        dest.to_str().unwrap(),
    ];
    let out = ocpvault(&snap_args(&root, &out_dir, &missing));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let s = json_of(&out);
    assert_eq!(s["required"][0]["present"], false);
    assert!(
        s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("required path /etc/etcd/ca")),
        "{s}"
    );
    assert!(Path::new(s["archive"].as_str().unwrap()).exists());
    assert_eq!(s["shipped"]["result"], "uploaded");
    assert_eq!(s["shipped"]["verified"], true);
    // The human summary names it too.
    let mut args = snap_args(&root, &out_dir, &["--require", "/etc/etcd/ca"]);
    args.retain(|a| *a != "--json");
    let out = ocpvault(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("warning: required path /etc/etcd/ca is not in the archive")
    );
    let out = ocpvault(&snap_args(&root, &out_dir, &["--require", "etc/relative"]));
    assert_eq!(out.status.code(), Some(2));
}

/// Runs `args` against the destination (a directory, or moto with its environment).
type Cmd<'a> = dyn Fn(&[&str]) -> Output + 'a;

/// Builds at `dest`: run `full` (m0 and n1, sealed), run `short` (m0 only, sealed
/// naming n1 too), run `open` (m0, never sealed) and one archive without a run.
fn three_runs(dir: &Path, dest: &str, cmd: &Cmd) {
    let m0 = host_tree(dir, "m0.example.com");
    let n1 = host_tree(dir, "node-1.example.com");
    let out = dir.join("out");
    let ship = |root: &Path, run: Option<&str>| {
        let mut extra = vec!["--ship", dest];
        if let Some(r) = run {
            extra.extend_from_slice(&["--run-id", r]);
        }
        let o = cmd(&snap_args(root, &out, &extra));
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let s = json_of(&o);
        assert_eq!(s["shipped"]["verified"], true, "{s}");
    };
    ship(&m0, Some("full"));
    ship(&n1, Some("full"));
    let seal = |run: &str, hosts: &[&str]| {
        let mut args = vec!["run", "seal", dest, "--run-id", run, "--host"];
        args.extend_from_slice(hosts);
        cmd(&args)
    };
    assert_eq!(
        seal("full", &["m0.example.com", "node-1.example.com"])
            .status
            .code(),
        Some(0)
    );
    next_second();
    ship(&m0, Some("short"));
    let o = seal("short", &["m0.example.com", "node-1.example.com"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("warning: host node-1.example.com has no archive of run short"),
        "{o:?}"
    );
    next_second();
    ship(&m0, Some("open"));
    ship(&n1, None);
}

fn check_grouping(dest: &str, cmd: &Cmd) {
    let list = json_of(&cmd(&["list", dest, "--json"]));
    let runs = list["runs"].as_array().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["open", "short", "full"], "newest first: {list}");
    let (open, short, full) = (&runs[0], &runs[1], &runs[2]);
    assert_eq!(full["complete"], true);
    assert_eq!(
        full["hosts"],
        serde_json::json!(["m0.example.com", "node-1.example.com"])
    );
    assert_eq!(full["missing"], serde_json::json!([]));
    assert_eq!(full["archives"].as_array().unwrap().len(), 2);
    assert!(full["sealed"].is_string());
    assert_eq!(short["complete"], false);
    assert_eq!(short["missing"], serde_json::json!(["node-1.example.com"]));
    assert_eq!(open["complete"], false);
    assert_eq!(open["sealed"], Value::Null);
    assert_eq!(open["hosts"], serde_json::json!(["m0.example.com"]));
    let loose = list["archives"].as_array().unwrap();
    assert_eq!(loose.len(), 1);
    assert_eq!(loose[0]["host"], "node-1.example.com");
    let text = stdout_ok(&cmd(&["list", dest]));
    assert!(text.contains("run full: complete, 2 host(s)"), "{text}");
    assert!(
        text.contains("run short: incomplete: missing node-1.example.com"),
        "{text}"
    );
    assert!(text.contains("run open: incomplete: not sealed"), "{text}");
}

/// Keep the newest run: `open` (newest) and `full` (newest complete) stay whole,
/// `short` goes, archives first and its record last; the loose archive stays.
fn check_prune(dest: &str, cmd: &Cmd) {
    let dry = json_of(&cmd(&["prune", dest, "--keep-last", "1", "-n", "--json"]));
    assert_eq!(dry["runs_deleted"], serde_json::json!(["short"]));
    assert_eq!(dry["runs_kept"], serde_json::json!(["open", "full"]));
    let before = json_of(&cmd(&["list", dest, "--json"]));
    assert_eq!(
        before["runs"].as_array().unwrap().len(),
        3,
        "dry run deletes nothing"
    );
    let plan = json_of(&cmd(&["prune", dest, "--keep-last", "1", "--json"]));
    assert_eq!(plan["delete"].as_array().unwrap().len(), 1);
    let after = json_of(&cmd(&["list", dest, "--json"]));
    let ids: Vec<&str> = after["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["open", "full"], "{after}");
    assert_eq!(after["runs"][1]["complete"], true);
    assert_eq!(after["runs"][1]["archives"].as_array().unwrap().len(), 2);
    assert_eq!(after["archives"].as_array().unwrap().len(), 1);
}

#[test]
fn list_groups_runs_and_prune_keeps_whole_runs_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let d = dest.to_str().unwrap();
    three_runs(dir.path(), d, &|a| ocpvault(a));
    check_grouping(d, &|a| ocpvault(a));
    // The record: 0600, in runs/.
    use std::os::unix::fs::PermissionsExt;
    let rec = dest.join("runs/full.json");
    assert_eq!(
        fs::metadata(&rec).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let r: Value = serde_json::from_slice(&fs::read(&rec).unwrap()).unwrap();
    assert_eq!(r["run_id"], "full");
    check_prune(d, &|a| ocpvault(a));
    assert!(!dest.join("runs/short.json").exists() && rec.exists());
    // A run whose archives are gone but whose record stayed (a prune that stopped
    // just before the record) is shown, then finished by the next prune.
    for e in fs::read_dir(&dest).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.contains("@open-") {
            fs::remove_file(dest.join(&name)).unwrap();
        }
    }
    let sealed = &ocpvault(&[
        "run",
        "seal",
        d,
        "--run-id",
        "open",
        "--host",
        "m0.example.com",
    ]);
    assert_eq!(
        sealed.status.code(),
        Some(1),
        "no archive of the run: a warning"
    );
    let text = stdout_ok(&ocpvault(&["list", d]));
    assert!(
        text.contains("run open: incomplete: sealed, but no archive"),
        "{text}"
    );
    let plan = json_of(&ocpvault(&["prune", d, "--keep-last", "1", "--json"]));
    assert_eq!(plan["runs_deleted"], serde_json::json!(["open"]));
    assert!(!dest.join("runs/open.json").exists());
}

#[test]
fn list_groups_runs_and_prune_keeps_whole_runs_in_s3() {
    if !have_tool("curl", "curl") {
        return;
    }
    let Some(moto) = moto_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dest = "s3://backups/cluster/prod";
    let cmd = |a: &[&str]| s3_cmd(&moto, a);
    three_runs(dir.path(), dest, &cmd);
    check_grouping(dest, &cmd);
    check_prune(dest, &cmd);
}
