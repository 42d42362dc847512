//! The parallel restore (issue #17 item 5): file contents are decoded on one thread
//! and written, read back and fsynced on a pool of writer threads, with the renames
//! into place back on the plan thread. These tests would fail if that split lost a
//! guarantee: a file renamed before its object's hash was checked, a temporary left
//! behind, a hard link made before (or to something other than) its file, or a
//! failed write reported as success.

use crate::common::craft::*;
use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Every name under `dir` (recursively) that a restore must never leave behind.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("ocpvault-tmp") || name.contains("ocpvault-old") {
            out.push(e.display().to_string());
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_corrupted_object_among_many_files_fails_alone_and_nothing_bad_takes_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    // The host already has a file where the large tampered object goes.
    fs::create_dir_all(t.join("srv/b")).unwrap();
    fs::write(t.join("srv/b/m-large"), b"the host's copy\n").unwrap();
    // Exactly 1 MiB (a whole number of buffers): every byte is written before the
    // object reader's final check fails, so only that verdict stands between the
    // bad bytes and the name. 1 MiB + 5: the check fails in the middle of a buffer.
    let tampered = |path: &str, len: usize, seed: u64| {
        let claimed = incompressible(len, seed);
        let mut evil = claimed.clone();
        evil[len - 2] ^= 0x55;
        (
            file_entry(path, &claimed),
            CraftedObject::tampered(&claimed, &evil),
        )
    };
    let (large, large_obj) = tampered("/srv/b/m-large", 1 << 20, 7);
    let (odd, odd_obj) = tampered("/srv/a/m-odd", (1 << 20) + 5, 9);
    let mut b = ArchiveBuilder::new()
        .entry(large)
        .crafted_object(large_obj)
        .entry(odd)
        .crafted_object(odd_obj)
        .entry(file_entry("/srv/c/m-small", b"claimed\n"))
        .crafted_object(CraftedObject::tampered(b"claimed\n", b"evil!!!\n"));
    let mut want = BTreeMap::new();
    for d in ["a", "b", "c"] {
        for i in 0..60 {
            let path = format!("/srv/{d}/f{i:03}");
            let content = if i % 20 == 7 {
                incompressible(300 * 1024 + i, 1 + i as u64)
            } else {
                format!("{d} {i}\n").repeat(i).into_bytes()
            };
            b = b.file(&path, &content);
            want.insert(path, content);
        }
    }
    let a = b.write(dir.path(), "many.ocpvault");
    let out = ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        t.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(out.status.code(), Some(2), "{text}");
    for bad in ["srv/b/m-large", "srv/a/m-odd", "srv/c/m-small"] {
        assert!(text.contains(bad), "{bad}: {text}");
    }
    assert!(text.contains("3 error(s)"), "{text}");
    assert_eq!(
        fs::read(t.join("srv/b/m-large")).unwrap(),
        b"the host's copy\n",
        "{text}"
    );
    assert!(!t.join("srv/c/m-small").exists(), "{text}");
    assert!(!t.join("srv/a/m-odd").exists(), "{text}");
    for (path, content) in &want {
        let got = fs::read(t.join(&path[1..])).unwrap_or_default();
        assert!(got == *content, "{path} differs\n{text}");
    }
    assert_eq!(leftovers(&t), Vec::<String>::new(), "{text}");
}

/// Mode, mtime and size of every node, and which names share an inode (by the first
/// name of each inode), keyed by path relative to `root`.
fn facts(root: &Path) -> BTreeMap<String, (u32, i64, i64, u64, String)> {
    let mut first: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut paths = walk(root);
    paths.sort();
    let mut out = BTreeMap::new();
    for p in paths {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let group = if m.is_file() {
            first
                .entry((m.dev(), m.ino()))
                .or_insert(rel.clone())
                .clone()
        } else {
            String::new()
        };
        let mtime = if m.is_dir() { 0 } else { m.mtime() };
        let nsec = if m.is_dir() { 0 } else { m.mtime_nsec() };
        let size = if m.is_dir() { 0 } else { m.len() };
        out.insert(rel, (m.mode(), mtime, nsec, size, group));
    }
    out
}

#[test]
fn many_files_and_hard_links_restore_identically_across_the_writer_threads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let data = root.join("srv/data");
    for d in 0..4 {
        let sub = data.join(format!("d{d}"));
        fs::create_dir_all(&sub).unwrap();
        for i in 0..80usize {
            let p = sub.join(format!("f{i:03}"));
            let content = match i % 16 {
                0 => Vec::new(),
                5 => incompressible(256 * 1024 * (1 + i % 3) + d, 3 + i as u64),
                _ => format!("{d}:{i}\n").repeat(i * 7).into_bytes(),
            };
            fs::write(&p, content).unwrap();
            fs::set_permissions(
                &p,
                fs::Permissions::from_mode(0o600 + (i as u32 % 3) * 0o40),
            )
            .unwrap();
        }
    }
    // Hard links: a multi-buffer file with names in three directories, small files
    // with two names in one directory, and a link whose name sorts before its file.
    for (from, to) in [
        ("d0/f005", "d1/link-to-d0-f005"),
        ("d0/f005", "d3/another-link"),
        ("d2/f010", "d2/f010-again"),
        ("d3/f079", "d0/a-first"),
    ] {
        fs::hard_link(data.join(from), data.join(to)).unwrap();
    }
    std::os::unix::fs::symlink("../d0/f005", data.join("d2/sym")).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let a = snapshot(
        &root,
        &out,
        &[
            "--no-default-paths",
            "--include",
            "/srv/data",
            "--packages",
            "skip",
        ],
    );
    let t = dir.path().join("t");
    let r = ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        t.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(matches!(r.status.code(), Some(0 | 1)), "{text}");
    let diff = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(&data)
        .arg(t.join("srv/data"))
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&diff.stdout)
    );
    assert_eq!(facts(&data), facts(&t.join("srv/data")), "{text}");
    assert_eq!(leftovers(&t), Vec::<String>::new());
    // A rerun over the restored tree changes nothing and leaves nothing behind.
    let r = ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        t.to_str().unwrap(),
    ]);
    assert!(matches!(r.status.code(), Some(0 | 1)));
    assert_eq!(facts(&data), facts(&t.join("srv/data")));
    assert_eq!(leftovers(&t), Vec::<String>::new());
}

/// A write that fails in a writer thread (ENOSPC on a small tmpfs, mounted in a
/// private mount namespace) and a temporary that cannot be created (a read-only
/// bind mount) are each reported as that file's error; nothing half-written is
/// left, and the other files are restored.
#[test]
fn failing_writes_are_reported_and_leave_nothing_half_written() {
    if !is_root("mounts a tmpfs and a read-only bind mount") || !have_tool("unshare", "util-linux")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let big = incompressible(3 << 20, 11);
    let a = ArchiveBuilder::new()
        .file("/srv/full/big", &big)
        .file("/srv/ok/fine", b"fine\n")
        .file("/srv/ro/blocked", b"blocked\n")
        .file("/srv/ok/zz-after", &incompressible(600 * 1024, 5))
        .write(dir.path(), "w.ocpvault");
    let t = dir.path().join("t");
    for d in ["srv/full", "srv/ro", "srv/ok"] {
        fs::create_dir_all(t.join(d)).unwrap();
    }
    let script = r#"set -e
T=$1; B=$2; A=$3
mount -t tmpfs -o size=1m tmpfs "$T/srv/full"
mount --bind "$T/srv/ro" "$T/srv/ro"
mount -o remount,bind,ro "$T/srv/ro"
set +e
"$B" restore "$A" --target "$T"
echo "exit=$?"
echo "full:$(ls -A "$T/srv/full" | tr '\n' ' ')"
echo "ro:$(ls -A "$T/srv/ro" | tr '\n' ' ')"
"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&t)
        .arg(env!("CARGO_BIN_EXE_ocpvault"))
        .arg(&a)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !text.contains("exit=") {
        assert!(!in_ci(), "the mount namespace does not work here: {text}");
        eprintln!("SKIP: the mount namespace does not work here: {text}");
        return;
    }
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.contains("exit=2"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.contains("2 error(s)"), "{text}");
    // Inside the namespace the tmpfs and the read-only directory were empty after
    // the run: no temporary, no partial file.
    assert!(
        text.contains("full: \n") || text.contains("full:\n"),
        "{text}"
    );
    assert!(text.contains("ro:\n") || text.contains("ro: \n"), "{text}");
    assert_eq!(
        fs::read(t.join("srv/ok/fine")).unwrap(),
        b"fine\n",
        "{text}"
    );
    assert_eq!(
        fs::read(t.join("srv/ok/zz-after")).unwrap(),
        incompressible(600 * 1024, 5),
        "{text}"
    );
    assert_eq!(leftovers(&t), Vec::<String>::new(), "{text}");
}
