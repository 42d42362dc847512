//! Restore as one plan: the dry run lists exactly what the real run then does, a
//! second restore removes every metadata drift (so `diff` exits 0), overlapping
//! selections are fine, and a bad `--target` is one error up front.

use crate::common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn join(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn restore(archive: &Path, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ocpvault(&args)
}

/// The change lines of a restore's stdout, without the summary and without "would ".
fn change_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("restore: "))
        .map(|l| l.strip_prefix("would ").unwrap_or(l).to_string())
        .collect()
}

fn diff_code(archive: &Path, root: &Path) -> (Option<i32>, String) {
    let out = ocpvault(&[
        "diff",
        archive.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_second_restore_removes_metadata_drift_and_the_dry_run_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let t = dir.path().join("t");
    stdout_ok(&restore(&archive, &t, &[]));
    assert_eq!(diff_code(&archive, &t).0, Some(0), "fresh restore drifts");
    // Nothing to do: the dry run and the real run print no change line.
    assert!(change_lines(&restore(&archive, &t, &["--dry-run"])).is_empty());

    let kubeconfig = join(&t, "/etc/origin/master/admin.kubeconfig");
    fs::set_permissions(&kubeconfig, fs::Permissions::from_mode(0o640)).unwrap();
    let cfg = join(&t, "/etc/origin/master/master-config.yaml");
    let with_xattrs = has_xattrs(&t);
    if with_xattrs {
        xattr::set(&cfg, "user.x", b"y").unwrap();
    }
    let acl = have_tool("setfacl", "acl")
        && Command::new("setfacl")
            .args(["-m", "u:nobody:r"])
            .arg(&cfg)
            .status()
            .unwrap()
            .success();
    let (code, drift) = diff_code(&archive, &t);
    assert_eq!(code, Some(1), "{drift}");

    let dry = restore(&archive, &t, &["--dry-run"]);
    let planned = change_lines(&dry);
    let shown_kc = kubeconfig.display().to_string();
    assert!(
        planned
            .iter()
            .any(|l| l.starts_with(&format!("update {shown_kc} "))
                && l.contains("mode 0640 -> 0600")),
        "{planned:?}"
    );
    if with_xattrs {
        assert!(
            planned
                .iter()
                .any(|l| l.contains(&cfg.display().to_string())
                    && l.contains("xattr user.x removed")),
            "{planned:?}"
        );
    }
    if acl {
        assert!(
            planned
                .iter()
                .any(|l| l.contains("xattr system.posix_acl_access")),
            "{planned:?}"
        );
    }
    // Unchanged entries and unchanged directories print nothing.
    assert!(
        planned.iter().all(|l| !l.contains("unchanged")),
        "{planned:?}"
    );
    assert_eq!(
        fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
        0o640,
        "the dry run wrote"
    );

    let real = restore(&archive, &t, &[]);
    stdout_ok(&real);
    assert_eq!(
        change_lines(&real),
        planned,
        "the real run did not do what the dry run said"
    );
    let (code, drift) = diff_code(&archive, &t);
    assert_eq!(
        code,
        Some(0),
        "drift left after the second restore:\n{drift}"
    );
    if with_xattrs {
        assert!(xattr::get(&cfg, "user.x").unwrap().is_none());
    }
}

#[test]
fn no_xattrs_leaves_xattrs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let t = dir.path().join("t");
    stdout_ok(&restore(&archive, &t, &[]));
    if !has_xattrs(&t) {
        return;
    }
    let cfg = join(&t, "/etc/origin/master/master-config.yaml");
    xattr::set(&cfg, "user.x", b"y").unwrap();
    let out = restore(&archive, &t, &["--no-xattrs"]);
    stdout_ok(&out);
    assert!(change_lines(&out).is_empty(), "{:?}", change_lines(&out));
    assert_eq!(
        xattr::get(&cfg, "user.x").unwrap().as_deref(),
        Some(&b"y"[..])
    );
}

#[test]
fn overlapping_and_repeated_selections_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let t = dir.path().join("t");
    let out = restore(
        &archive,
        &t,
        &[
            "/etc/origin",
            "/etc/origin/master/ca.crt",
            "/etc/origin/master/ca.crt",
            "/etc/origin/master/",
        ],
    );
    let text = stdout_ok(&out);
    let ca = join(&t, "/etc/origin/master/ca.crt");
    assert_eq!(
        fs::read(&ca).unwrap(),
        fs::read(join(&root, "/etc/origin/master/ca.crt")).unwrap()
    );
    // Each entry appears once.
    let shown = format!("create {}", ca.display());
    assert_eq!(text.lines().filter(|l| *l == shown).count(), 1, "{text}");
    assert!(
        !join(&t, "/etc/sysconfig").exists(),
        "restored outside the selection"
    );
}

#[test]
fn a_target_that_is_a_file_is_one_error_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"keep me\n").unwrap();
    for extra in [&[][..], &["--dry-run"][..]] {
        let out = restore(&archive, &file, extra);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("hint:")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].contains("is not a directory"), "{err}");
    }
    assert_eq!(fs::read(&file).unwrap(), b"keep me\n");
}

#[test]
fn a_relative_path_argument_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let out = restore(&archive, &dir.path().join("t"), &["etc/origin"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hint:") && err.contains("/etc/origin"),
        "{err}"
    );
}
