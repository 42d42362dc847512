//! Every `--json` output matches formats/json-output.md: the field tables are parsed
//! from the markdown and checked against the real output of each command, so the
//! document and the code cannot drift apart. Every row must be exercised by at
//! least one output (a row under an always-empty array would prove nothing).

use crate::common::{demo_tree, have_tool, ocpvault, snapshot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One table row: field path, allowed JSON types, optional.
#[derive(Debug, Clone)]
struct Field {
    path: String,
    types: Vec<String>,
    optional: bool,
}

/// The tables of formats/json-output.md, by the name in `<!-- json: NAME -->`.
fn schemas() -> BTreeMap<String, Vec<Field>> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/json-output.md"),
    )
    .expect("read formats/json-output.md");
    let mut out: BTreeMap<String, Vec<Field>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_table = false;
    for line in doc.lines() {
        if let Some(name) = line
            .strip_prefix("<!-- json: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            current = Some(name.to_string());
            in_table = false;
            continue;
        }
        let Some(name) = &current else { continue };
        if !line.starts_with('|') {
            if in_table {
                current = None;
            }
            continue;
        }
        in_table = true;
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (field, ty) = (cells[1].trim_matches('`'), cells[2]);
        if field == "field" || field.starts_with('-') {
            continue;
        }
        let (ty, optional) = match ty.strip_suffix(", optional") {
            Some(t) => (t, true),
            None => (ty, false),
        };
        out.entry(name.clone()).or_default().push(Field {
            path: field.to_string(),
            types: ty.split(" or ").map(|t| t.trim().to_string()).collect(),
            optional,
        });
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The values a path's parent resolves to, and the final key (None for `.` or
/// a path ending in `[]`).
fn parents<'a>(root: &'a Value, path: &str) -> (Vec<&'a Value>, Option<String>) {
    if path == "." {
        return (vec![root], None);
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut values = vec![root];
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (key, each) = match part.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*part, false),
        };
        if last && !each {
            return (values, Some(key.to_string()));
        }
        if !key.is_empty() {
            values = values.iter().filter_map(|v| v.get(key)).collect();
        }
        if each {
            values = values
                .iter()
                .filter_map(|v| v.as_array())
                .flatten()
                .collect();
        }
    }
    (values, None)
}

/// Checks `value` against `fields`; returns the paths exercised, panics on a mismatch.
fn check(command: &str, value: &Value, fields: &[Field]) -> BTreeSet<String> {
    let mut exercised = BTreeSet::new();
    for f in fields {
        let (parents, key) = parents(value, &f.path);
        for p in parents {
            let v = match &key {
                None => Some(p),
                Some(k) => {
                    assert!(
                        p.is_object(),
                        "{command}: parent of {} is not an object",
                        f.path
                    );
                    p.get(k)
                }
            };
            match v {
                Some(v) => {
                    let t = type_name(v);
                    assert!(
                        f.types.iter().any(|a| a == t),
                        "{command}: {} is {t}, documented as {:?}: {v}",
                        f.path,
                        f.types
                    );
                    exercised.insert(f.path.clone());
                }
                None => assert!(f.optional, "{command}: required {} missing", f.path),
            }
        }
    }
    exercised
}

/// Runs ocpvault, expecting one of `codes`, and parses stdout.
fn json(args: &[&str], codes: &[i32]) -> Value {
    let out = ocpvault(args);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "{args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

struct Outputs(Vec<(&'static str, Value)>);

/// `restore --json` of root-owned files by a user who cannot chown them: as root,
/// through `setpriv` as nobody; otherwise as the current user. Either way the report
/// has metadata warnings.
fn unprivileged_restore(dir: &Path, archive: &Path) -> Value {
    let target = dir.join("nobody-target");
    let args = [
        "restore",
        s(archive),
        "/etc/origin/master",
        "--target",
        s(&target),
        "--json",
    ];
    if !rustix::process::geteuid().is_root() {
        return json(&args, &[1]);
    }
    assert!(have_tool("setpriv", "util-linux"));
    std::fs::create_dir(&target).unwrap();
    rustix::fs::chown(
        &target,
        Some(rustix::fs::Uid::from_raw(65534)),
        Some(rustix::fs::Gid::from_raw(65534)),
    )
    .unwrap();
    for p in [dir, archive] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_ocpvault"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("restore --json as nobody")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Archive commands on the demo tree: snapshot (shipped), ls, info, verify (sound
/// and damaged), restore (twice, so a kept-old file has a detail), diff, ship, list,
/// prune, etcd status, project list.
fn archive_outputs(dir: &Path) -> Outputs {
    let root = demo_tree(dir);
    // A setuid helper, so the restore report lists a privileged entry.
    let tool = root.join("etc/origin/master/suid-tool");
    std::fs::write(&tool, b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let dest = dir.join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    let mut o = Vec::new();
    let snap = json(
        &[
            "snapshot",
            "--root",
            s(&root),
            "--output",
            s(dir),
            "--etcd",
            "skip",
            "--projects",
            "skip",
            "--packages",
            "skip",
            "--ship",
            s(&dest),
            "--json",
        ],
        &[0, 1],
    );
    let archive = PathBuf::from(snap["archive"].as_str().expect("archive"));
    let a = s(&archive).to_string();
    o.push(("snapshot", snap));
    o.push(("ls", json(&["ls", &a, "--json"], &[0])));
    o.push(("info", json(&["info", &a, "--json"], &[0])));
    o.push(("verify", json(&["verify", &a, "--json"], &[0])));
    o.push((
        "verify",
        json(&["verify", s(&damaged_copy(&archive)), "--json"], &[1]),
    ));
    let target = dir.join("restored");
    let restore = [
        "restore",
        &a,
        "/etc/origin/master",
        "--target",
        s(&target),
        "--json",
    ];
    o.push(("restore", json(&restore, &[0, 1])));
    std::fs::write(
        target.join("etc/origin/master/master-config.yaml"),
        "edited\n",
    )
    .unwrap();
    o.push(("restore", json(&restore, &[0, 1])));
    o.push(("restore", unprivileged_restore(dir, &archive)));
    std::fs::write(
        root.join("etc/origin/master/master-config.yaml"),
        "edited\n",
    )
    .unwrap();
    xattr::set(root.join("etc/origin/master/ca.crt"), "user.drift", b"1").ok();
    std::fs::remove_file(root.join("etc/origin/node/node-config.yaml")).unwrap();
    o.push((
        "diff",
        json(&["diff", &a, "--root", s(&root), "--json"], &[1]),
    ));
    o.push(("ship", json(&["ship", &a, s(&dest), "--json"], &[0])));
    // A run: one archive with a run id and a required path it lacks, then the
    // record, naming a second host that has no archive (exit 1 for both).
    let run_snap = json(
        &[
            "snapshot",
            "--root",
            s(&root),
            "--output",
            s(&dir.join("run")),
            "--etcd",
            "skip",
            "--projects",
            "skip",
            "--packages",
            "skip",
            "--run-id",
            "r1",
            "--require",
            "/etc/origin/master/",
            "--require",
            "/etc/not-here",
            "--ship",
            s(&dest),
            "--json",
        ],
        &[1],
    );
    o.push(("snapshot", run_snap));
    o.push((
        "run-seal",
        json(
            &[
                "run",
                "seal",
                s(&dest),
                "--run-id",
                "r1",
                "--host",
                "master-0.example.com",
                "node-9",
                "--json",
            ],
            &[1],
        ),
    ));
    o.push(("list", json(&["list", s(&dest), "--json"], &[0])));
    o.push((
        "prune",
        json(
            &["prune", s(&dest), "--keep-last", "1", "-n", "--json"],
            &[0],
        ),
    ));
    o.push((
        "etcd-status",
        json(&["etcd", "status", &a, "--json"], &[0, 1]),
    ));
    o.push((
        "project-list",
        json(&["project", "list", &a, "--json"], &[0, 1]),
    ));
    Outputs(o)
}

/// A copy of `archive` with one byte of its first object flipped (spec §3: the
/// object's data starts at 1536, after the magic member and the object's header).
fn damaged_copy(archive: &Path) -> PathBuf {
    let copy = archive.with_file_name("damaged-20261122T000000Z.ocpvault");
    let mut bytes = std::fs::read(archive).unwrap();
    bytes[1536 + 8] ^= 0xff;
    std::fs::write(&copy, bytes).unwrap();
    copy
}

/// `packages list` and `packages diff` against an rpm database made here.
fn packages_outputs(dir: &Path) -> Option<Outputs> {
    if !have_tool("rpmbuild", "rpm") || !have_tool("rpm", "rpm") {
        return None;
    }
    let rpmroot = dir.join("rpmroot");
    let rpm = |args: &[&str]| {
        let out = Command::new("rpm")
            .env("LC_ALL", "C")
            .env("HOME", dir)
            .args(["--root", s(&rpmroot), "--dbpath", "/var/lib/rpm"])
            .args(args)
            .output()
            .expect("run rpm");
        assert!(
            out.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(&rpmroot).unwrap();
    rpm(&["--initdb"]);
    rpm(&["-i", s(&build_rpm(dir, "alpha", "1.0"))]);
    let host = dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    let rpm_args = ["--rpm-root", s(&rpmroot), "--rpm-dbpath", "/var/lib/rpm"];
    let mut extra = vec!["--no-default-paths"];
    extra.extend_from_slice(&rpm_args);
    let archive = snapshot(&host, dir, &extra);
    rpm(&["-i", s(&build_rpm(dir, "beta", "2.0"))]);
    let a = s(&archive);
    let mut diff = vec!["packages", "diff", a, "--json"];
    diff.extend_from_slice(&rpm_args);
    Some(Outputs(vec![
        (
            "packages-list",
            json(&["packages", "list", a, "--json"], &[0]),
        ),
        ("packages-diff", json(&diff, &[1])),
    ]))
}

/// Builds an empty noarch package with rpmbuild.
fn build_rpm(dir: &Path, name: &str, version: &str) -> PathBuf {
    let top = dir.join("rpmbuild");
    std::fs::create_dir_all(&top).unwrap();
    let spec = top.join(format!("{name}.spec"));
    let text = format!(
        "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: test\nLicense: MIT\n\
         BuildArch: noarch\n%description\ntest\n%files\n"
    );
    std::fs::write(&spec, text).unwrap();
    let out = Command::new("rpmbuild")
        .env("LC_ALL", "C")
        .env("HOME", dir)
        .args(["--define", &format!("_topdir {}", top.display())])
        .args([
            "--define",
            &format!("_dbpath {}", dir.join("builddb").display()),
        ])
        .args(["-bb", s(&spec)])
        .output()
        .expect("run rpmbuild");
    assert!(
        out.status.success(),
        "rpmbuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    top.join(format!("RPMS/noarch/{name}-{version}-1.noarch.rpm"))
}

#[test]
fn every_documented_json_output_matches_its_table() {
    let schemas = schemas();
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = archive_outputs(dir.path()).0;
    let packages = packages_outputs(&dir.path().join("packages"));
    let have_packages = packages.is_some();
    outputs.extend(packages.map(|p| p.0).unwrap_or_default());
    let mut exercised: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, value) in &outputs {
        let fields = schemas
            .get(*name)
            .unwrap_or_else(|| panic!("formats/json-output.md has no table for {name}"));
        exercised
            .entry(name)
            .or_default()
            .extend(check(name, value, fields));
    }
    for (name, fields) in &schemas {
        if name.starts_with("packages-") && !have_packages {
            continue;
        }
        let seen = exercised
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no output checked for the {name} table"));
        for f in fields {
            assert!(
                seen.contains(&f.path),
                "{name}: row {} never exercised",
                f.path
            );
        }
    }
}

#[test]
fn the_table_parser_reads_paths_types_and_optionality() {
    let schemas = schemas();
    let diff = &schemas["diff"];
    let name = diff
        .iter()
        .find(|f| f.path == "[].name")
        .expect("[].name row");
    assert_eq!(
        (name.types.clone(), name.optional),
        (vec!["string".into(), "object".into()], true)
    );
    let v: Value = serde_json::json!([{"change": "added", "path": 3}]);
    let caught = std::panic::catch_unwind(|| check("diff", &v, diff));
    assert!(
        caught.is_err(),
        "a number where a path belongs must fail the check"
    );
}
