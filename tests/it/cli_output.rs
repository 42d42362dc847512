//! The CLI's one output path: a closed stdout never panics and never changes the exit
//! code the work decided; text from an archive is escaped; output paths are
//! directories when they do not name an archive file.

use crate::common::*;
use std::os::fd::OwnedFd;
use std::process::{Output, Stdio};

/// Runs ocpvault with a stdout whose read end is already closed, so the first write
/// fails with EPIPE, deterministically (no race with a reader that exits early).
fn with_closed_stdout(args: &[&str]) -> Output {
    let (read, write): (OwnedFd, OwnedFd) = rustix::pipe::pipe().expect("pipe");
    drop(read);
    bin()
        .args(args)
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .expect("run ocpvault")
}

fn assert_quiet_exit(args: &[&str], want: i32) {
    let out = with_closed_stdout(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "{args:?} panicked with stdout closed:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(want),
        "{args:?} with stdout closed: exit code changed\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("stdout"),
        "{args:?}: a closed stdout is not an error to report:\n{stderr}"
    );
}

#[test]
fn closed_stdout_never_panics_nor_changes_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_tree(tmp.path());
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let archive = snapshot(&root, &outdir, &[]);
    let a = archive.to_str().unwrap();
    let r = root.to_str().unwrap();
    let o = outdir.to_str().unwrap();
    for args in [
        vec!["info", a],
        vec!["info", "--json", a],
        vec!["verify", a],
        vec!["ls", a],
        vec!["ls", "-l", a],
        vec!["cat", a, "/etc/origin/master/master-config.yaml"],
        vec!["list", o],
        vec!["project", "list", a],
        vec!["diff", "--root", r, a],
    ] {
        assert_quiet_exit(&args, 0);
    }
    // A restore whose reader goes away still finishes every step: the dry run and
    // the real run exit 0, and the restored tree is complete (diff exits 0).
    let t = tmp.path().join("restored");
    let ts = t.to_str().unwrap();
    assert_quiet_exit(&["restore", a, "--target", ts, "--dry-run"], 0);
    assert_quiet_exit(&["restore", a, "--target", ts], 0);
    let diff = ocpvault(&["diff", "--root", ts, a]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "the restore stopped when its output went away:\n{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    // Drift found is exit 1 whether or not anybody reads the lines.
    std::fs::write(
        root.join("etc/origin/master/master-config.yaml"),
        "changed\n",
    )
    .unwrap();
    assert_quiet_exit(&["diff", "--root", r, a], 1);
    assert_quiet_exit(&["diff", "--json", "--root", r, a], 1);
}

#[test]
fn relative_paths_get_a_hint_that_archive_paths_are_absolute() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_tree(tmp.path());
    let archive = snapshot(&root, tmp.path(), &[]);
    let a = archive.to_str().unwrap();
    for args in [
        vec!["ls", a, "etc/origin"],
        vec!["cat", a, "etc/origin/master/master-config.yaml"],
        vec!["diff", "--root", root.to_str().unwrap(), a, "etc/origin"],
        vec![
            "restore",
            a,
            "etc/origin",
            "--target",
            "/nonexistent-target",
            "--dry-run",
        ],
    ] {
        let out = ocpvault(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("hint: archive paths are absolute: write /etc/origin"),
            "{args:?}: {stderr}"
        );
    }
}

/// The `source ...` block of a summary or `info` output: from the first `source `
/// line up to the first line that is neither a source line nor indented under one.
fn source_block(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("source "))
        .take_while(|l| l.starts_with("source ") || l.starts_with("  "))
        .collect()
}

#[test]
fn the_snapshot_summary_reports_sources_as_info_does() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_tree(tmp.path());
    let out_dir = tmp.path().join("out");
    let out = ocpvault(&[
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--include",
        "/etc/origin/not-there.yaml",
        "--etcd",
        "skip",
        "--projects",
        "skip",
    ]);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let archive = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let info = stdout_ok(&ocpvault(&["info", archive.to_str().unwrap()]));
    let block = source_block(&summary);
    assert!(block.len() >= 4, "{summary}");
    assert_eq!(
        block,
        source_block(&info),
        "summary:\n{summary}\ninfo:\n{info}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.starts_with("  missing: ") && l.contains("/etc/origin/not-there.yaml")),
        "{summary}"
    );
}
