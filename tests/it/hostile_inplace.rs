//! Hostile archives restored in place (to `/`), issue #12. Every restore here runs in
//! a private mount namespace (testdata/sandbox-run.sh under `unshare -m`) in which
//! everything but one sandbox directory is read-only, so a restorer bug cannot harm
//! this machine; the archives' paths all lie under the sandbox, plus hostile ones that
//! try to reach outside it.
//!
//! Two kinds of evidence: the witnesses (files and directories next to the sandbox,
//! and unselected files inside it) must be unchanged after a run and after a rerun,
//! and no output may mention "Read-only file system": in the namespace, that error is
//! the trace of an attempted write outside the sandbox, which on a real host would
//! have succeeded.

use crate::common::craft::*;
use crate::common::witness;
use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Sandbox {
    _base: tempfile::TempDir,
    /// Holds the sandbox, the witnesses and the archives.
    base: PathBuf,
    /// The only writable directory in the namespace.
    sbx: PathBuf,
    /// Witnesses outside the sandbox.
    outside: PathBuf,
    /// The crafted archives (outside the sandbox, not witnessed).
    archives: PathBuf,
}

/// A sandbox, or None (with the reason printed) when the harness cannot run here.
/// Under CI=true a missing `unshare` or a harness that does not work fails instead.
fn sandbox(why: &str) -> Option<Sandbox> {
    if !is_root(why) || !have_tool("unshare", "util-linux") {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("ocpvault-sbx-")
        .tempdir_in("/tmp")
        .unwrap();
    let base = dir.path().to_path_buf();
    let sbx = base.join("sbx");
    let outside = base.join("outside");
    let archives = base.join("archives");
    fs::create_dir(&sbx).unwrap();
    fs::create_dir(&archives).unwrap();
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("passwd"), b"root:x:0:0\n").unwrap();
    fs::write(outside.join("sub/keep"), b"keep\n").unwrap();
    std::os::unix::fs::chown(outside.join("passwd"), Some(4321), Some(4321)).unwrap();
    let s = Sandbox {
        _base: dir,
        base,
        sbx,
        outside,
        archives,
    };
    let probe = s.run_cmd(&["true"]);
    if !probe.status.success() {
        let why = format!(
            "the mount-namespace sandbox does not work here ({:?}): {}",
            probe.status.code(),
            String::from_utf8_lossy(&probe.stderr)
        );
        assert!(!in_ci(), "{why}");
        eprintln!("SKIP: {why}");
        return None;
    }
    Some(s)
}

impl Sandbox {
    fn s(&self) -> &str {
        self.sbx.to_str().unwrap()
    }

    /// Runs `argv` inside the namespace.
    fn run_cmd(&self, argv: &[&str]) -> Output {
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh"])
            .arg(testdata().join("sandbox-run.sh"))
            .arg(&self.sbx)
            .arg(&self.outside)
            .args(argv)
            .output()
            .expect("run unshare")
    }

    /// Runs ocpvault inside the namespace; returns its exit code and all its output,
    /// after checking it did not panic nor try to write outside the sandbox.
    fn ocpvault(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut argv = vec![env!("CARGO_BIN_EXE_ocpvault")];
        argv.extend_from_slice(args);
        let out = self.run_cmd(&argv);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "ocpvault {}: {:?}\n{text}",
            args.join(" "),
            out.status.code()
        );
        assert!(
            !matches!(out.status.code(), Some(90..=93)),
            "sandbox harness failed: {text}"
        );
        assert!(!text.contains("panicked"), "panic: {text}");
        assert!(
            !text.contains("Read-only file system"),
            "ocpvault {} tried to write outside the sandbox:\n{text}",
            args.join(" ")
        );
        (out.status.code(), text)
    }

    /// Everything under the base directory except the sandbox.
    fn outside_witness(&self) -> std::collections::BTreeMap<PathBuf, witness::Facts> {
        witness::snapshot(&self.base, &[&self.sbx, &self.archives])
    }

    fn write(&self, b: ArchiveBuilder, name: &str) -> PathBuf {
        b.write(&self.archives, name)
    }
}

#[test]
fn the_sandbox_makes_everything_outside_it_read_only() {
    let Some(s) = sandbox("the mount-namespace sandbox") else {
        return;
    };
    let probe = s.outside.join("probe");
    let out = s.run_cmd(&["sh", "-c", "echo x > \"$1\"", "sh", probe.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{out:?}"
    );
    assert!(!probe.exists());
    let inside = s.sbx.join("probe");
    let out = s.run_cmd(&[
        "sh",
        "-c",
        "echo x > \"$1\"",
        "sh",
        inside.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(&inside).unwrap(), b"x\n");
    // The host's own mounts are untouched by the namespace.
    fs::write(&probe, b"host\n").unwrap();
}

#[test]
fn in_place_symlinks_then_entries_beneath_them_never_reach_outside() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let p = |rel: &str| format!("{}{rel}", s.s());
    let o = s.outside.to_str().unwrap();
    let a = s.write(
        ArchiveBuilder::new()
            .dir(&p("/etc"))
            .file(&p("/etc/0ok"), b"ok\n")
            // Absolute, at a real directory outside the sandbox.
            .symlink(&p("/etc/a"), o)
            .file(&p("/etc/a/passwd"), b"pwned\n")
            .entry(with(dir_entry(&p("/etc/a/sub")), "mode", json!("0777")))
            .file(&p("/etc/a/sub/new"), b"pwned\n")
            // A chain of relative symlinks: l -> ../.. is the base directory.
            .symlink(&p("/etc/l"), "../..")
            .symlink(&p("/etc/m"), "l")
            .file(&p("/etc/m/outside/passwd"), b"pwned\n")
            .file(&p("/etc/m/planted"), b"pwned\n"),
        "symlinks.ocpvault",
    );
    let before = s.outside_witness();
    for run in 1..=2 {
        let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap()]);
        assert_eq!(code, Some(2), "run {run}: {text}");
        witness::assert_same(&before, &s.outside_witness(), &format!("run {run}"));
        assert_eq!(fs::read(p("/etc/0ok")).unwrap(), b"ok\n", "run {run}");
        assert_eq!(fs::read_link(p("/etc/a")).unwrap(), s.outside, "run {run}");
        assert_eq!(fs::read_link(p("/etc/l")).unwrap(), Path::new("../.."));
    }
}

#[test]
fn in_place_directory_and_symlink_swaps_never_reach_outside() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let p = |rel: &str| format!("{}{rel}", s.s());
    let o = s.outside.to_str().unwrap();
    let as_dir = s.write(
        ArchiveBuilder::new()
            .entry(with(dir_entry(&p("/etc/d")), "mode", json!("0700")))
            .file(&p("/etc/d/passwd"), b"mine\n"),
        "1-dir.ocpvault",
    );
    let as_link = s.write(
        ArchiveBuilder::new()
            .symlink(&p("/etc/d"), o)
            .file(&p("/etc/d/passwd"), b"pwned\n"),
        "2-link.ocpvault",
    );
    let dir_over_link = s.write(
        ArchiveBuilder::new()
            .entry(with(dir_entry(&p("/etc/d")), "mode", json!("0777")))
            .entry(with(dir_entry(&p("/etc/d/sub")), "mode", json!("0777")))
            .file(&p("/etc/d/sub/keep"), b"pwned\n"),
        "3-dir.ocpvault",
    );
    let before = s.outside_witness();
    for round in 1..=2 {
        for a in [&as_dir, &as_link, &dir_over_link] {
            let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap()]);
            assert!(matches!(code, Some(0..=2)), "{text}");
            witness::assert_same(
                &before,
                &s.outside_witness(),
                &format!("round {round}, {}", a.display()),
            );
        }
    }
}

#[test]
fn in_place_archives_refused_at_open_write_nothing() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let p = |rel: &str| format!("{}{rel}", s.s());
    let o = s.outside.to_str().unwrap();
    let cases = [
        (
            "dot-dot",
            ArchiveBuilder::new()
                .file(&p("/etc/a"), b"x\n")
                .file(&p("/../outside/passwd"), b"pwned\n"),
        ),
        (
            "hard link to an outside path",
            ArchiveBuilder::new()
                .file(&p("/etc/a"), b"x\n")
                .entry(hardlink_entry(&p("/etc/h"), &format!("{o}/passwd"), 11)),
        ),
        (
            "hard link to a symlink",
            ArchiveBuilder::new()
                .symlink(&p("/etc/s"), &format!("{o}/passwd"))
                .entry(hardlink_entry(&p("/etc/h"), &p("/etc/s"), 0)),
        ),
        (
            "duplicate",
            ArchiveBuilder::new()
                .symlink(&p("/etc/a"), o)
                .file(&p("/etc/a"), b"x\n")
                .entry(hardlink_entry(&p("/etc/h"), &p("/etc/a"), 2)),
        ),
    ];
    let before = s.outside_witness();
    for (name, b) in cases {
        let a = s.write(b, "refused.ocpvault");
        for run in 1..=2 {
            let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap()]);
            assert_eq!(code, Some(2), "{name}, run {run}: {text}");
            assert_eq!(
                fs::read_dir(&s.sbx).unwrap().count(),
                0,
                "{name}: wrote in the sandbox\n{text}"
            );
            witness::assert_same(&before, &s.outside_witness(), name);
        }
    }
}

/// A host file inside the sandbox with owner 1234, mode 0640 and old times.
fn host_file(p: &Path, content: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
    fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(p, Some(1234), Some(1234)).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[test]
fn in_place_selective_restore_beside_unselected_host_files() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let p = |rel: &str| PathBuf::from(format!("{}{rel}", s.s()));
    let ps = |rel: &str| format!("{}{rel}", s.s());
    let shared = b"shared content\n";
    let twin_content = b"twin content\n";
    // /etc/other/g: an unselected host file with the content of the archive's
    // /etc/other/g, which the selected hard link /etc/sel/h points at.
    host_file(&p("/etc/other/g"), shared);
    // /etc/sel/t and /etc/other/twin: one host inode, one name selected.
    host_file(&p("/etc/sel/t"), twin_content);
    fs::hard_link(p("/etc/sel/t"), p("/etc/other/twin")).unwrap();
    let a = s.write(
        ArchiveBuilder::new()
            .file(&ps("/etc/other/g"), shared)
            .file(&ps("/etc/sel/f"), b"selected\n")
            .entry(hardlink_entry(
                &ps("/etc/sel/h"),
                &ps("/etc/other/g"),
                shared.len() as u64,
            ))
            .entry(with(
                file_entry(&ps("/etc/sel/t"), twin_content),
                "mode",
                json!("0666"),
            ))
            .object(twin_content),
        "selective.ocpvault",
    );
    let sel = p("/etc/sel");
    let inside = || witness::snapshot(&s.sbx, &[&sel]);
    let before_inside = inside();
    let before_outside = s.outside_witness();
    for run in 1..=2 {
        let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap(), &ps("/etc/sel")]);
        assert!(matches!(code, Some(0..=2)), "run {run}: {text}");
        // /etc/sel/t gets an inode of its own: /etc/other/twin keeps everything but
        // the name that left (link count, and so ctime).
        witness::assert_same_detached(&before_inside, &inside(), &format!("run {run}"));
        witness::assert_same(&before_outside, &s.outside_witness(), &format!("run {run}"));
        assert_ne!(
            fs::metadata(p("/etc/sel/t")).unwrap().ino(),
            fs::metadata(p("/etc/other/twin")).unwrap().ino()
        );
        assert_eq!(fs::read(p("/etc/sel/f")).unwrap(), b"selected\n");
        if let Ok(h) = fs::symlink_metadata(p("/etc/sel/h")) {
            assert_ne!(h.ino(), fs::metadata(p("/etc/other/g")).unwrap().ino());
        }
    }
}

#[test]
fn in_place_reserved_paths_are_refused_but_allowed_under_a_target() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let ps = |rel: &str| format!("{}{rel}", s.s());
    let reserved_existed = Path::new("/.ocpvault").exists();
    let a = s.write(
        ArchiveBuilder::new()
            .file("/.ocpvault/etcd/snapshot.db", b"etcd\n")
            .file(&ps("/etc/a"), b"a\n"),
        "reserved.ocpvault",
    );
    let (code, text) = s.ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "/.ocpvault/etcd/snapshot.db",
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--target"), "{text}");
    let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap()]);
    assert!(matches!(code, Some(0 | 1)), "{text}");
    assert_eq!(fs::read(ps("/etc/a")).unwrap(), b"a\n");
    assert_eq!(Path::new("/.ocpvault").exists(), reserved_existed);
    let t = ps("/t");
    let (code, text) = s.ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        &t,
        "/.ocpvault/etcd/snapshot.db",
    ]);
    assert!(matches!(code, Some(0 | 1)), "{text}");
    assert_eq!(
        fs::read(format!("{t}/.ocpvault/etcd/snapshot.db")).unwrap(),
        b"etcd\n"
    );
}

#[test]
fn in_place_tampered_objects_and_temporary_names() {
    let Some(s) = sandbox("in-place restore") else {
        return;
    };
    let p = |rel: &str| PathBuf::from(format!("{}{rel}", s.s()));
    let ps = |rel: &str| format!("{}{rel}", s.s());
    host_file(&p("/etc/a"), b"the host's file\n");
    let claimed = b"the archive's file\n";
    let evil = b"the attacker's fil\n";
    let a = s.write(
        ArchiveBuilder::new()
            .entry(file_entry(&ps("/etc/a"), claimed))
            .crafted_object(CraftedObject::tampered(claimed, evil))
            .file(&ps("/etc/.ocpvault-tmp-foo"), b"mine\n")
            .file(&ps("/etc/b"), b"good\n"),
        "tampered.ocpvault",
    );
    let before = witness::facts(&p("/etc/a")).unwrap();
    for run in 1..=2 {
        let (code, text) = s.ocpvault(&["restore", a.to_str().unwrap()]);
        assert_eq!(code, Some(2), "run {run}: {text}");
        assert_eq!(witness::facts(&p("/etc/a")).unwrap(), before, "run {run}");
        assert!(!p("/etc/a.ocpvault-old").exists(), "run {run}: {text}");
        assert_eq!(fs::read(p("/etc/b")).unwrap(), b"good\n");
        assert_eq!(
            fs::read(p("/etc/.ocpvault-tmp-foo")).ok().as_deref(),
            Some(&b"mine\n"[..]),
            "run {run}: {text}"
        );
    }
}
