//! Hand-crafted hostile archives (issue #12). Every archive here is assembled byte by
//! byte by tests/common/craft.rs (not with ocpvault's writer), with correct hashes,
//! index and trailer, so these tests check the readers and the restorer against what
//! an attacker who can write to the archive store could really hand the administrator.
//!
//! Restores here all go to `--target` directories under a temporary directory; the
//! in-place cases (restore to `/`) run in a private mount namespace in
//! tests/it/hostile_inplace.rs.

use crate::common::craft::*;
use crate::common::witness;
use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The reading commands that must all refuse a manifest the spec forbids, as
/// (name, arguments); `{A}` is the archive, `{P}` a path in it, `{T}` a fresh target.
const READERS: &[(&str, &[&str])] = &[
    ("info", &["info", "{A}"]),
    ("info --json", &["info", "--json", "{A}"]),
    ("ls", &["ls", "{A}"]),
    ("ls -l", &["ls", "-l", "{A}"]),
    ("ls --json", &["ls", "--json", "{A}"]),
    ("cat", &["cat", "{A}", "{P}"]),
    ("verify", &["verify", "{A}"]),
    ("restore", &["restore", "{A}", "--target", "{T}"]),
    (
        "restore --dry-run",
        &["restore", "--dry-run", "{A}", "--target", "{T}"],
    ),
    ("diff", &["diff", "{A}", "--root", "{T}"]),
];

/// Runs every reading command on `archive` and asserts each refuses it at open: exit
/// 2, no panic, one `ocpvault: ...` error line on stderr (plus an optional `hint:`)
/// that mentions one of `words` (case-insensitive), and nothing written.
fn assert_refused_everywhere(dir: &Path, archive: &Path, cat_path: &str, words: &[&str]) {
    refused_by(READERS, dir, archive, cat_path, words);
}

/// Like [`assert_refused_everywhere`] for the `readers` given.
fn refused_by(
    readers: &[(&str, &[&str])],
    dir: &Path,
    archive: &Path,
    cat_path: &str,
    words: &[&str],
) {
    for (name, args) in readers {
        let target = dir.join(format!("t-{}", name.replace([' ', '-'], "_")));
        fs::create_dir_all(&target).unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{A}", archive.to_str().unwrap())
                    .replace("{P}", cat_path)
                    .replace("{T}", target.to_str().unwrap())
            })
            .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ocpvault(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        let ctx = format!(
            "`ocpvault {}` on {}\nexit {:?}\nstdout:\n{}\nstderr:\n{err}",
            args.join(" "),
            archive.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!err.contains("panicked"), "panic: {ctx}");
        assert_eq!(out.status.code(), Some(2), "{ctx}");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("hint:"))
            .collect();
        assert_eq!(lines.len(), 1, "expected one error line: {ctx}");
        assert!(lines[0].starts_with("ocpvault: "), "{ctx}");
        let lower = lines[0].to_lowercase();
        assert!(
            words.iter().any(|w| lower.contains(w)),
            "expected one of {words:?} in the error: {ctx}"
        );
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            0,
            "{name} wrote under the target: {ctx}"
        );
    }
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = ocpvault(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "panic: {text}");
    (out.status.code(), text)
}

fn restore_to(archive: &Path, target: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

// ---------------------------------------------------------------------------------
// The generator itself

#[test]
fn the_hand_made_container_is_accepted_when_benign() {
    let dir = tempfile::tempdir().unwrap();
    let a = ArchiveBuilder::new()
        .dir("/etc")
        .file("/etc/ok.conf", b"benign\n")
        .symlink("/etc/ok.link", "ok.conf")
        .entry(hardlink_entry("/etc/ok.hard", "/etc/ok.conf", 7))
        .write(dir.path(), "benign.ocpvault");
    // verify accepts only what the writer produces (§8): the generator is faithful.
    stdout_ok(&ocpvault(&["verify", a.to_str().unwrap()]));
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", a.to_str().unwrap(), "/etc/ok.conf"])),
        "benign\n"
    );
    let t = dir.path().join("t");
    let (code, text) = restore_to(&a, &t, &[]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    assert_eq!(fs::read(t.join("etc/ok.conf")).unwrap(), b"benign\n");
    assert_eq!(
        fs::read_link(t.join("etc/ok.link")).unwrap(),
        Path::new("ok.conf")
    );
    assert_eq!(
        fs::metadata(t.join("etc/ok.hard")).unwrap().ino(),
        fs::metadata(t.join("etc/ok.conf")).unwrap().ino()
    );
}

// ---------------------------------------------------------------------------------
// A. Readers reject at open what the spec forbids, in every command.

#[test]
fn unsorted_entries_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let a = ArchiveBuilder::new()
        .file("/etc/b", b"b\n")
        .file("/etc/a", b"a\n")
        .unsorted()
        .write(dir.path(), "unsorted.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/a", &["sorted", "order"]);
}

#[test]
fn duplicate_paths_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    // The case: a file and a symlink at one path, and a hard link to that
    // path that passes a preflight check against one of them.
    let a = ArchiveBuilder::new()
        .file("/etc/a", b"a\n")
        .symlink("/etc/a", outside.to_str().unwrap())
        .entry(hardlink_entry("/etc/h", "/etc/a", 2))
        .write(dir.path(), "dup.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/h", &["duplicate"]);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    // Two files at one path, sorted (equal keys are "sorted").
    let a = ArchiveBuilder::new()
        .file("/etc/a", b"one\n")
        .file("/etc/a", b"two\n")
        .write(dir.path(), "dup2.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/a", &["duplicate"]);
}

#[test]
fn non_normalised_paths_are_refused_at_open() {
    let cases = [
        "/etc/../../evil",
        "/../evil",
        "/etc/./evil",
        "/etc//evil",
        "etc/evil",
        "evil",
        "/etc/evil/",
        "/etc/ev\0il",
        "/",
        "",
    ];
    for p in cases {
        let dir = tempfile::tempdir().unwrap();
        let a = ArchiveBuilder::new()
            .file("/etc/ok", b"x\n")
            .file(p, b"pwned\n")
            .write(dir.path(), "path.ocpvault");
        eprintln!("case {p:?}");
        assert_refused_everywhere(
            dir.path(),
            &a,
            "/etc/ok",
            &["normalised", "normalized", "absolute", "path"],
        );
        assert!(!dir.path().join("evil").exists());
    }
}

#[test]
fn hardlinks_to_anything_but_a_file_entry_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside-file");
    fs::write(&outside, b"secret\n").unwrap();
    let cases: Vec<(&str, ArchiveBuilder)> = vec![
        (
            "missing",
            ArchiveBuilder::new()
                .file("/etc/a", b"x\n")
                .entry(hardlink_entry("/etc/h", "/etc/nope", 2)),
        ),
        (
            "outside path",
            ArchiveBuilder::new()
                .file("/etc/a", b"x\n")
                .entry(hardlink_entry("/etc/h", outside.to_str().unwrap(), 7)),
        ),
        (
            "symlink",
            ArchiveBuilder::new()
                .file("/etc/a", b"x\n")
                .symlink("/etc/s", "/etc/shadow")
                .entry(hardlink_entry("/etc/h", "/etc/s", 0)),
        ),
        (
            "dir",
            ArchiveBuilder::new()
                .dir("/etc/d")
                .file("/etc/a", b"x\n")
                .entry(hardlink_entry("/etc/h", "/etc/d", 0)),
        ),
        (
            "another hardlink",
            ArchiveBuilder::new()
                .file("/etc/a", b"x\n")
                .entry(hardlink_entry("/etc/h1", "/etc/a", 2))
                .entry(hardlink_entry("/etc/h2", "/etc/h1", 2)),
        ),
        (
            "itself",
            ArchiveBuilder::new()
                .file("/etc/a", b"x\n")
                .entry(hardlink_entry("/etc/h", "/etc/h", 0)),
        ),
    ];
    for (name, b) in cases {
        eprintln!("case {name}");
        let a = b.write(dir.path(), "link.ocpvault");
        assert_refused_everywhere(dir.path(), &a, "/etc/a", &["link"]);
    }
    assert_eq!(fs::read(&outside).unwrap(), b"secret\n");
    assert_eq!(fs::metadata(&outside).unwrap().nlink(), 1);
}

#[test]
fn an_entry_whose_size_differs_from_its_object_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let big = incompressible(2 << 20, 7);
    // The manifest says 16 bytes; the object (honest id, honest index size) has 2 MiB.
    let a = ArchiveBuilder::new()
        .entry(with(file_entry("/etc/small", &big), "size", json!(16)))
        .object(&big)
        .write(dir.path(), "sizelie.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/small", &["size"]);
    // A hard link whose size disagrees with its file's object.
    let a = ArchiveBuilder::new()
        .file("/etc/a", b"0123456789\n")
        .entry(hardlink_entry("/etc/h", "/etc/a", 1 << 40))
        .write(dir.path(), "sizelie2.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/a", &["size"]);
}

#[test]
fn mtimes_that_do_not_parse_are_refused_at_open() {
    // "é" starts at byte 18 and ends at byte 20: `ls -l` slices at byte 19 today.
    let cases = [
        "2026-01-01T00:00:0\u{e9}Z",
        "2026-01-01T00:00:00\u{2028}Z",
        "\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "",
    ];
    for m in cases {
        eprintln!("case {m:?}");
        let dir = tempfile::tempdir().unwrap();
        let a = ArchiveBuilder::new()
            .entry(with(file_entry("/etc/a", b"x\n"), "mtime", json!(m)))
            .object(b"x\n")
            .write(dir.path(), "mtime.ocpvault");
        assert_refused_everywhere(dir.path(), &a, "/etc/a", &["mtime", "time"]);
    }
}

#[test]
fn xattr_values_over_64_kib_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let value = vec![b'A'; 64 * 1024 + 1];
    let a = ArchiveBuilder::new()
        .entry(with(
            file_entry("/etc/a", b"x\n"),
            "xattrs",
            json!([xattr("user.big", &value)]),
        ))
        .object(b"x\n")
        .write(dir.path(), "xattr.ocpvault");
    assert_refused_everywhere(dir.path(), &a, "/etc/a", &["xattr"]);
    // Exactly 64 KiB is allowed (§9 says "over 64 KiB").
    let a = ArchiveBuilder::new()
        .entry(with(
            file_entry("/etc/a", b"x\n"),
            "xattrs",
            json!([xattr("user.big", &value[1..])]),
        ))
        .object(b"x\n")
        .write(dir.path(), "xattr-ok.ocpvault");
    stdout_ok(&ocpvault(&["ls", "-l", a.to_str().unwrap()]));
}

#[test]
fn more_entries_than_the_limit_are_refused_before_allocating() {
    // §9: at most 16 Mi entries. A compact entry is ~130 bytes, so 16 Mi + 1 of them
    // also exceed the 1 GiB manifest limit: the count can only be reached together
    // with the size, and either check must refuse before decompressing it all.
    let dir = tempfile::tempdir().unwrap();
    let (stored, size) = huge_manifest((16 << 20) + 1);
    assert!(size > 1 << 30);
    let a = ArchiveBuilder::new()
        .stored_manifest(stored.clone(), size)
        .write(dir.path(), "count.ocpvault");
    assert_refused_everywhere(
        dir.path(),
        &a,
        "/a",
        &["too many", "limit", "out of range", "large"],
    );
    // The same manifest with the index lying that it is 4 KiB: the reader must stop
    // after 4 KiB of output, not inflate 2 GiB. Size and SHA-256 then disagree,
    // which is damage: `verify` reports it as a finding (exit 1), the others refuse.
    let a = ArchiveBuilder::new()
        .stored_manifest(stored, 4096)
        .write(dir.path(), "count-lie.ocpvault");
    let not_verify: Vec<(&str, &[&str])> = READERS
        .iter()
        .filter(|(n, _)| *n != "verify")
        .copied()
        .collect();
    refused_by(&not_verify, dir.path(), &a, "/a", &["manifest"]);
    let out = ocpvault(&["verify", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("manifest"),
        "{out:?}"
    );
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new().file("/etc/a", b"x\n");
    let deep = deeply_nested_manifest(&b, 200_000);
    let a = ArchiveBuilder::new()
        .object(b"x\n")
        .raw_manifest(deep)
        .write(dir.path(), "deep.ocpvault");
    assert_refused_everywhere(
        dir.path(),
        &a,
        "/etc/a",
        &["recursion", "nest", "deep", "manifest"],
    );
    // Deep nesting in the index too.
    let a = ArchiveBuilder::new()
        .file("/etc/a", b"x\n")
        .tweak_index(|i| {
            let mut v = json!(0);
            for _ in 0..1000 {
                v = json!([v]);
            }
            i["extra"] = v;
        })
        .write(dir.path(), "deep-index.ocpvault");
    // Index nesting within serde_json's default limit (128) is rejected as well, or
    // accepted; what matters is exit 2 or success, never a crash.
    let out = ocpvault(&["ls", a.to_str().unwrap()]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(2),
        "{out:?}"
    );
}

#[test]
fn oversized_lengths_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let base = || ArchiveBuilder::new().file("/etc/a", b"x\n");
    // These are damaged containers rather than hostile manifests: `verify` keeps
    // reporting them as a finding (exit 1, see tests/it/corruption.rs), every other
    // reader refuses them with exit 2.
    let not_verify: Vec<(&str, &[&str])> = READERS
        .iter()
        .filter(|(n, _)| *n != "verify")
        .copied()
        .collect();
    let verify_finds = |a: &Path, what: &str| {
        let out = ocpvault(&["verify", a.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(what),
            "{out:?}"
        );
    };
    // An object claiming to extend far past the end of the file.
    let a = base()
        .tweak_index(|i| i["objects"][0]["length"] = json!(1u64 << 50))
        .write(dir.path(), "a.ocpvault");
    refused_by(
        &not_verify,
        dir.path(),
        &a,
        "/etc/a",
        &["outside the archive"],
    );
    verify_finds(&a, "outside the archive");
    // A manifest claiming 1 TiB uncompressed breaks the §9 limit: refused by every
    // reader, verify included (exit 2), before anything is allocated.
    let a = base()
        .tweak_index(|i| i["manifest"]["size"] = json!(1u64 << 40))
        .write(dir.path(), "b.ocpvault");
    refused_by(READERS, dir.path(), &a, "/etc/a", &["out of range"]);
    // A trailer claiming a 2^60-byte index.
    let mut bytes = fs::read(&a).unwrap();
    let t = bytes.len() - 1536;
    let huge = format!("{:020}", 1u64 << 60);
    bytes[t + 40..t + 60].copy_from_slice(huge.as_bytes());
    fs::write(&a, bytes).unwrap();
    let out = ocpvault(&["ls", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("index location out of range"));
}

#[test]
fn not_an_archive_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    fs::write(&p, vec![b'x'; 4096]).unwrap();
    let out = ocpvault(&["info", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an ocpvault archive"));
}

// ---------------------------------------------------------------------------------
// B. Symlinks are data: created verbatim, never followed.

#[test]
fn symlink_targets_are_restored_verbatim_under_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let targets = [
        ("/etc/abs", "/etc/shadow"),
        ("/etc/dots", "./../x/../y"),
        ("/etc/up", "../../../../etc/shadow"),
        ("/etc/uproot", "/"),
    ];
    let mut b = ArchiveBuilder::new().file("/etc/a", b"x\n");
    for (p, t) in targets {
        b = b.symlink(p, t);
    }
    let a = b.write(dir.path(), "links.ocpvault");
    let t = dir.path().join("t");
    let (code, text) = restore_to(&a, &t, &[]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    for (p, target) in targets {
        let got = fs::read_link(t.join(&p[1..])).unwrap_or_else(|e| panic!("{p}: {e}\n{text}"));
        assert_eq!(got, Path::new(target), "{p}");
    }
    // A rerun changes nothing and follows none of them.
    let (code, text) = restore_to(&a, &t, &[]);
    assert!(code == Some(0) || code == Some(1), "{text}");
}

/// A directory with a few files next to the target, and its snapshot.
fn outside_dir(base: &Path) -> PathBuf {
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("passwd"), b"root:x:0:0\n").unwrap();
    fs::create_dir(outside.join("sub")).unwrap();
    fs::write(outside.join("sub/keep"), b"keep\n").unwrap();
    outside
}

/// Restores `archives` in turn into one target, twice over, asserting that nothing
/// outside the target changes; returns the exit codes of the first round.
fn restore_rounds(base: &Path, archives: &[PathBuf]) -> Vec<Option<i32>> {
    let t = base.join("t");
    fs::create_dir_all(&t).unwrap();
    let before = witness::snapshot(base, &[&t]);
    let mut codes = Vec::new();
    for round in 0..2 {
        for a in archives {
            let (code, text) = restore_to(a, &t, &[]);
            eprintln!("round {round} {}: {code:?}\n{text}", a.display());
            if round == 0 {
                codes.push(code);
            }
            let after = witness::snapshot(base, &[&t]);
            witness::assert_same(&before, &after, &format!("round {round}, {}", a.display()));
        }
    }
    codes
}

#[test]
fn an_absolute_symlink_then_entries_beneath_it_write_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = outside_dir(dir.path());
    let o = outside.to_str().unwrap();
    let a = ArchiveBuilder::new()
        .file("/etc/0ok", b"ok\n")
        .symlink("/etc/a", o)
        .file("/etc/a/passwd", b"pwned\n")
        .dir("/etc/a/sub")
        .file("/etc/a/sub/new", b"pwned\n")
        .entry(with(dir_entry("/etc/a/sub2"), "mode", json!("0777")))
        .write(dir.path(), "abs.ocpvault");
    let codes = restore_rounds(dir.path(), &[a]);
    assert_eq!(codes, [Some(2)], "entries beneath a symlink are errors");
    let t = dir.path().join("t");
    // The symlink itself is data and is restored verbatim (the decided policy).
    assert_eq!(fs::read_link(t.join("etc/a")).unwrap(), outside);
    assert_eq!(fs::read(t.join("etc/0ok")).unwrap(), b"ok\n");
}

#[test]
fn a_chain_of_relative_symlinks_cannot_lead_outside() {
    let dir = tempfile::tempdir().unwrap();
    outside_dir(dir.path());
    // /etc/l -> ../.. is the directory holding the target; /etc/m -> l looks harmless.
    let a = ArchiveBuilder::new()
        .symlink("/etc/l", "../..")
        .symlink("/etc/m", "l")
        .dir("/etc/m/outside")
        .file("/etc/m/outside/passwd", b"pwned\n")
        .file("/etc/m/planted", b"pwned\n")
        .write(dir.path(), "chain.ocpvault");
    let codes = restore_rounds(dir.path(), &[a]);
    assert_eq!(codes, [Some(2)]);
    let t = dir.path().join("t");
    assert_eq!(fs::read_link(t.join("etc/l")).unwrap(), Path::new("../.."));
    assert_eq!(fs::read_link(t.join("etc/m")).unwrap(), Path::new("l"));
}

#[test]
fn directory_and_symlink_swaps_between_archives_write_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = outside_dir(dir.path());
    let o = outside.to_str().unwrap();
    // First a real directory, then the same path as a symlink to outside with
    // entries beneath it, then a directory entry (mode 0777) over that symlink.
    let as_dir = ArchiveBuilder::new()
        .entry(with(dir_entry("/etc/d"), "mode", json!("0700")))
        .file("/etc/d/passwd", b"mine\n")
        .write(dir.path(), "1-dir.ocpvault");
    let as_link = ArchiveBuilder::new()
        .symlink("/etc/d", o)
        .file("/etc/d/passwd", b"pwned\n")
        .file("/etc/d/sub/keep", b"pwned\n")
        .write(dir.path(), "2-link.ocpvault");
    let dir_over_link = ArchiveBuilder::new()
        .entry(with(dir_entry("/etc/d"), "mode", json!("0777")))
        .entry(with(dir_entry("/etc/d/sub"), "mode", json!("0777")))
        .file("/etc/d/sub/new", b"pwned\n")
        .write(dir.path(), "3-dir.ocpvault");
    let codes = restore_rounds(dir.path(), &[as_dir, as_link, dir_over_link]);
    assert!(
        codes[0] == Some(0) || codes[0] == Some(1),
        "plain dir: {codes:?}"
    );
    assert_eq!(codes[1], Some(2), "files beneath a symlink: {codes:?}");
    assert!(codes.iter().all(|c| matches!(c, Some(0..=2))), "{codes:?}");
}

// ---------------------------------------------------------------------------------
// C. Hard links and selective restores beside files that are not selected.

/// A target holding a host file /etc/other/g (content `content`, mode 0640, owner
/// 1234:1234, old times).
fn host_file(t: &Path, rel: &str, content: &[u8]) -> PathBuf {
    let p = t.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&p, Some(1234), Some(1234)).unwrap();
    }
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    p
}

#[test]
fn a_selective_restore_never_links_to_or_touches_an_unselected_host_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let content = b"shared content\n";
    let g = host_file(&t, "etc/other/g", content);
    let a = ArchiveBuilder::new()
        .file("/etc/other/g", content)
        .file("/etc/sel/f", b"selected\n")
        .entry(hardlink_entry(
            "/etc/sel/h",
            "/etc/other/g",
            content.len() as u64,
        ))
        .write(dir.path(), "sel.ocpvault");
    let sel = t.join("etc/sel");
    // Created first, so that its creation does not change /etc's times.
    fs::create_dir_all(&sel).unwrap();
    let before = witness::snapshot(&t, &[&sel]);
    for run in 1..=2 {
        let (code, text) = restore_to(&a, &t, &["/etc/sel"]);
        assert!(matches!(code, Some(0..=2)), "{text}");
        witness::assert_same(
            &before,
            &witness::snapshot(&t, &[&sel]),
            &format!("run {run}"),
        );
        assert_eq!(fs::metadata(&g).unwrap().nlink(), 1, "run {run}: {text}");
        if let Ok(h) = fs::symlink_metadata(sel.join("h")) {
            assert_ne!(h.ino(), fs::metadata(&g).unwrap().ino(), "run {run}");
        }
    }
}

#[test]
fn metadata_is_never_applied_to_an_inode_shared_with_an_unselected_name() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let content = b"same bytes\n";
    // The host's /etc/sel/f and /etc/other/twin are one inode; the archive's
    // /etc/sel/f has the same content but other owner, mode and times.
    let f = host_file(&t, "etc/sel/f", content);
    fs::create_dir_all(t.join("etc/other")).unwrap();
    let twin = t.join("etc/other/twin");
    fs::hard_link(&f, &twin).unwrap();
    let a = ArchiveBuilder::new()
        .entry(with(
            file_entry("/etc/sel/f", content),
            "mode",
            json!("0666"),
        ))
        .object(content)
        .write(dir.path(), "twin.ocpvault");
    let other = t.join("etc/other");
    let before = witness::snapshot(&other, &[]);
    for run in 1..=2 {
        let (code, text) = restore_to(&a, &t, &["/etc/sel"]);
        assert!(matches!(code, Some(0..=2)), "{text}");
        // /etc/sel/f gets an inode of its own; the twin keeps content, mode, owner,
        // times, xattrs and inode (only its link count drops by the name that left).
        assert_ne!(
            fs::metadata(&f).unwrap().ino(),
            fs::metadata(&twin).unwrap().ino(),
            "run {run}: still shared"
        );
        witness::assert_same_detached(
            &before,
            &witness::snapshot(&other, &[]),
            &format!("run {run}"),
        );
    }
}

#[test]
fn hard_links_are_made_only_to_files_this_run_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let content = b"linked\n";
    // The host already has /etc/a with the right content (so it is "unchanged"), and
    // it is also linked from outside the archive's paths.
    let f = host_file(&t, "etc/a", content);
    let stranger = t.join("stranger");
    fs::hard_link(&f, &stranger).unwrap();
    let a = ArchiveBuilder::new()
        .file("/etc/a", content)
        .entry(hardlink_entry("/etc/h", "/etc/a", content.len() as u64))
        .write(dir.path(), "h.ocpvault");
    let before = witness::facts(&stranger).unwrap();
    for run in 1..=2 {
        let (code, text) = restore_to(&a, &t, &["/etc"]);
        assert!(matches!(code, Some(0..=2)), "{text}");
        let now = witness::facts(&stranger).unwrap();
        // /etc/a gets an inode of its own (the stranger's link count drops by that
        // name); nothing else of the stranger's inode may change.
        assert_eq!(
            now.detached(),
            before.detached(),
            "run {run}: the stranger's inode was touched\n{text}"
        );
        let h = fs::symlink_metadata(t.join("etc/h")).ok();
        if let Some(h) = h {
            assert_ne!(
                h.ino(),
                before.ino,
                "run {run}: linked to a file not written"
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// D. Temporaries and tampered objects.

#[test]
fn a_legitimate_file_named_like_a_temporary_is_restored_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let a = ArchiveBuilder::new()
        .file("/etc/.ocpvault-tmp-foo", b"mine\n")
        .file("/etc/.ocpvault-tmp-", b"mine too\n")
        .file("/etc/z", b"z\n")
        .write(dir.path(), "tmpname.ocpvault");
    let t = dir.path().join("t");
    for run in 1..=2 {
        let (code, text) = restore_to(&a, &t, &[]);
        assert!(code == Some(0) || code == Some(1), "run {run}: {text}");
        assert_eq!(
            fs::read(t.join("etc/.ocpvault-tmp-foo")).ok().as_deref(),
            Some(&b"mine\n"[..]),
            "run {run}: {text}"
        );
        assert_eq!(
            fs::read(t.join("etc/.ocpvault-tmp-")).ok().as_deref(),
            Some(&b"mine too\n"[..]),
            "run {run}: {text}"
        );
    }
}

#[test]
fn a_tampered_object_fails_only_its_file_and_leaves_no_old_copy() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let existing = host_file(&t, "etc/a", b"the host's file\n");
    let ino = fs::metadata(&existing).unwrap().ino();
    let claimed = b"the archive's file\n";
    let evil = b"the attacker's fil\n";
    assert_eq!(claimed.len(), evil.len());
    let a = ArchiveBuilder::new()
        .entry(file_entry("/etc/a", claimed))
        .crafted_object(CraftedObject::tampered(claimed, evil))
        .file("/etc/b", b"good\n")
        .write(dir.path(), "tampered.ocpvault");
    let before = witness::facts(&existing).unwrap();
    let (code, text) = restore_to(&a, &t, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(witness::facts(&existing).unwrap(), before, "{text}");
    assert_eq!(fs::metadata(&existing).unwrap().ino(), ino);
    assert_eq!(fs::metadata(&existing).unwrap().nlink(), 1, "{text}");
    let names: Vec<String> = fs::read_dir(t.join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("ocpvault-old") || n.contains("ocpvault-tmp")),
        "left behind: {names:?}\n{text}"
    );
    assert_eq!(fs::read(t.join("etc/b")).unwrap(), b"good\n", "{text}");
}

// ---------------------------------------------------------------------------------
// E. Size lies: a decompression bomb never writes more than the entry's size.

#[test]
fn a_decompression_bomb_never_writes_more_than_the_recorded_size() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of zeros in a few KiB; the index and the entry both say 16 bytes, and the
    // id is that of 16 zero bytes, so nothing at open can tell.
    let bomb = CraftedObject::bomb(8, 16);
    let a = ArchiveBuilder::new()
        .entry(
            json!({"path": "/etc/bomb", "type": "file", "source": "files",
            "mode": "0644", "uid": 0, "gid": 0, "user": "root", "group": "root",
            "mtime": "2026-01-01T00:00:00.000000000Z", "size": 16, "object": bomb.id,
            "xattrs": []}),
        )
        .crafted_object(bomb)
        .write(dir.path(), "bomb.ocpvault");
    assert!(fs::metadata(&a).unwrap().len() < 1 << 20);
    let t = dir.path().join("t");
    // Under a 1 MiB file size limit a restore that writes the bomb out is killed by
    // SIGXFSZ (or fails with EFBIG), so "never writes more" is observed, not inferred
    // from what is left afterwards.
    let out = std::process::Command::new("prlimit")
        .arg("--fsize=1048576")
        .arg(env!("CARGO_BIN_EXE_ocpvault"))
        .args([
            "restore",
            a.to_str().unwrap(),
            "--target",
            t.to_str().unwrap(),
        ])
        .output()
        .expect("run prlimit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "killed (wrote past the file size limit?): {:?}\n{text}",
        out.status
    );
    assert!(!text.contains("File too large"), "{text}");
    assert!(largest_file(&t) <= 16, "{text}");
    // cat streams no more than the recorded size either.
    let out = ocpvault(&["cat", a.to_str().unwrap(), "/etc/bomb"]);
    assert!(
        out.stdout.len() <= 16,
        "cat printed {} bytes",
        out.stdout.len()
    );
    assert!(matches!(out.status.code(), Some(0..=2)));
}

fn largest_file(root: &Path) -> u64 {
    witness::snapshot(root, &[])
        .keys()
        .filter_map(|p| fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// F. Reserved paths (the in-place refusal is in tests/it/hostile_inplace.rs).

#[test]
fn reserved_paths_restore_only_explicitly_under_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let a = ArchiveBuilder::new()
        .file("/.ocpvault/etcd/snapshot.db", b"etcd\n")
        .file("/etc/a", b"a\n")
        .write(dir.path(), "reserved.ocpvault");
    let t = dir.path().join("t");
    let (code, text) = restore_to(&a, &t, &[]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    assert!(
        !t.join(".ocpvault").exists(),
        "a full restore restored {text}"
    );
    let (code, text) = restore_to(&a, &t, &["/.ocpvault/etcd/snapshot.db"]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    assert_eq!(
        fs::read(t.join(".ocpvault/etcd/snapshot.db")).unwrap(),
        b"etcd\n"
    );
}

// ---------------------------------------------------------------------------------
// G. Privileged bits are restored, and listed.

#[test]
fn privileged_bits_are_restored_and_listed() {
    if !is_root("restoring setuid files, capabilities and device nodes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // security.capability v2: effective, cap_net_raw (13) permitted.
    let mut cap = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        cap.extend_from_slice(&word.to_le_bytes());
    }
    let privileged = [
        "/dev/blk",
        "/dev/null2",
        "/usr/bin/capped",
        "/usr/bin/gidbit",
        "/usr/bin/uidbit",
    ];
    let a = ArchiveBuilder::new()
        .entry(with(
            file_entry("/usr/bin/uidbit", b"su\n"),
            "mode",
            json!("4755"),
        ))
        .entry(with(
            file_entry("/usr/bin/gidbit", b"sg\n"),
            "mode",
            json!("2755"),
        ))
        .entry(with(
            file_entry("/usr/bin/capped", b"ping\n"),
            "xattrs",
            json!([xattr("security.capability", &cap)]),
        ))
        .entry(special_entry("/dev/null2", "char", 1, 3))
        .entry(special_entry("/dev/blk", "block", 7, 200))
        .file("/usr/bin/plain", b"plain\n")
        .object(b"su\n")
        .object(b"sg\n")
        .object(b"ping\n")
        .write(dir.path(), "priv.ocpvault");
    let t = dir.path().join("t");
    let (code, text) = restore_to(&a, &t, &[]);
    assert!(code == Some(0) || code == Some(1), "{text}");
    // Fidelity: the bits are there.
    let mode = |p: &str| fs::symlink_metadata(t.join(p)).unwrap().mode() & 0o7777;
    assert_eq!(mode("usr/bin/uidbit"), 0o4755, "{text}");
    assert_eq!(mode("usr/bin/gidbit"), 0o2755, "{text}");
    assert!(
        fs::symlink_metadata(t.join("dev/null2")).unwrap().rdev() != 0,
        "{text}"
    );
    if let Ok(Some(v)) = xattr::get(t.join("usr/bin/capped"), "security.capability") {
        assert_eq!(v, cap);
    }
    // One summary line naming the count.
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("privileged") || l.contains("setuid")
        })
        .collect();
    assert_eq!(summary.len(), 1, "one summary line expected:\n{text}");
    assert!(summary[0].contains('5'), "count missing: {}", summary[0]);
    // --json lists every path.
    let t2 = dir.path().join("t2");
    let out = ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        t2.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let listed = v["privileged"]
        .as_array()
        .unwrap_or_else(|| panic!("no privileged array in {v}"));
    let mut paths: Vec<&str> = listed.iter().filter_map(|p| p["path"].as_str()).collect();
    paths.sort();
    assert_eq!(paths, privileged, "{v}");
}

// ---------------------------------------------------------------------------------
// I. The restore_dry_run fuzz corpus, replayed on stable Rust.

/// Replays fuzz/corpus/restore_dry_run and fuzz/artifacts/restore_dry_run like the
/// fuzz target does: each input is a manifest, wrapped in a consistent container,
/// restored with a dry run under a target that does not exist, and listed with
/// `ocpvault ls -l` (the formatting is CLI-only, so through the binary here).
#[test]
fn restore_dry_run_fuzz_corpus_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for d in ["corpus", "artifacts"] {
        if let Ok(rd) = fs::read_dir(root.join(d).join("restore_dry_run")) {
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    assert!(!files.is_empty(), "the restore_dry_run corpus is committed");
    let dir = tempfile::tempdir().unwrap();
    let mut opened = 0;
    for f in files {
        let manifest = fs::read(&f).unwrap();
        let bytes = ArchiveBuilder::new()
            .object(b"x\n")
            .raw_manifest(manifest)
            .bytes();
        let source = Box::new(std::io::Cursor::new(bytes.clone()));
        if let Ok(mut r) = ocpvault::archive::ArchiveReader::from_source(&f, source) {
            opened += 1;
            for paths in [Vec::new(), vec!["/etc".to_string()]] {
                let opts = ocpvault::files::restore::RestoreOptions {
                    paths,
                    target: Some(dir.path().join("does-not-exist")),
                    dry_run: true,
                    ..Default::default()
                };
                let _ = ocpvault::files::restore::restore(&mut r, &opts);
            }
        }
        let a = dir.path().join("input.ocpvault");
        fs::write(&a, &bytes).unwrap();
        let out = ocpvault(&["ls", "-l", a.to_str().unwrap()]);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "ls -l on {}: {:?}\n{}",
            f.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dir.path().join("does-not-exist").exists());
    }
    // The benign seed must open.
    assert!(opened >= 1);
}
