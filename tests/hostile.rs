//! Hand-crafted hostile archives. The container is assembled here byte by byte (not
//! with ocpvault's writer), so these tests check the reader and the restorer against
//! what an attacker could really put in a file.

mod common;

use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;

fn header(name: &str, size: usize) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(size as u64);
    h.set_mode(0o600);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root").unwrap();
    h.set_groupname("root").unwrap();
    h.set_cksum();
    *h.as_bytes()
}

/// Builds a container from members, returning bytes and each member's data offset.
fn container(members: &[(&str, Vec<u8>)]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for (name, data) in members {
        out.extend_from_slice(&header(name, data.len()));
        offsets.push(out.len() as u64);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    (out, offsets)
}

fn hex_sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A complete archive whose manifest holds `entries`, with one object `content`.
/// `tweak_index` may edit the index JSON before it is hashed into the trailer.
fn hostile_archive(
    dir: &Path,
    entries: serde_json::Value,
    content: &[u8],
    tweak_index: impl Fn(&mut serde_json::Value),
) -> std::path::PathBuf {
    let id = hex_sha(content);
    let compressed = zstd::bulk::compress(content, 3).unwrap();
    let manifest = json!({
        "format": "ocpvault-manifest", "version": 1, "ocpvault_version": "0.0.0",
        "created": "2026-01-01T00:00:00.000000000Z",
        "host": {"hostname": "evil", "os_release": null, "root": "/"},
        "sources": [], "entries": entries
    });
    let mjson = serde_json::to_vec(&manifest).unwrap();
    let mz = zstd::bulk::compress(&mjson, 3).unwrap();
    let obj_name = format!("objects/{id}.zst");
    let (head, offs) = container(&[
        ("OCPVAULT", b"ocpvault-archive 1\n".to_vec()),
        (&obj_name, compressed.clone()),
        ("manifest.json.zst", mz.clone()),
    ]);
    let mut index = json!({
        "format": "ocpvault-index", "version": 1,
        "manifest": {"offset": offs[2], "length": mz.len(), "size": mjson.len(), "sha256": hex_sha(&mjson)},
        "objects": [{"id": id, "offset": offs[1], "length": compressed.len(), "size": content.len()}]
    });
    tweak_index(&mut index);
    let ijson = serde_json::to_vec(&index).unwrap();
    let index_off = head.len() as u64 + 512;
    let trailer = format!(
        "ocpvault-trailer 1 {index_off:020} {:020} {}\n",
        ijson.len(),
        hex_sha(&ijson)
    );
    let (tail, _) = container(&[("index.json", ijson), ("TRAILER", trailer.into_bytes())]);
    let mut bytes = head;
    bytes.extend_from_slice(&tail);
    bytes.extend_from_slice(&[0u8; 1024]);
    let path = dir.join("hostile.ocpvault");
    fs::write(&path, bytes).unwrap();
    path
}

fn file_entry(path: &str, content: &[u8]) -> serde_json::Value {
    json!({"path": path, "type": "file", "source": "files", "mode": "0644", "uid": 0, "gid": 0,
           "user": "root", "group": "root", "mtime": "2026-01-01T00:00:00Z",
           "size": content.len(), "object": hex_sha(content), "xattrs": []})
}

fn symlink_entry(path: &str, target: &str) -> serde_json::Value {
    json!({"path": path, "type": "symlink", "source": "files", "mode": "0777", "uid": 0, "gid": 0,
           "user": "root", "group": "root", "mtime": "2026-01-01T00:00:00Z",
           "target": target, "xattrs": []})
}

/// Restores into dir/t and asserts exit 2, the message, and that nothing was written.
fn assert_refused(dir: &Path, archive: &Path, expect: &str) {
    let target = dir.join("t");
    let out = ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(expect), "expected {expect:?} in {err}");
    assert!(
        !target.exists() || fs::read_dir(&target).unwrap().count() == 0,
        "restore wrote files"
    );
    assert!(!dir.join("evil").exists() && !dir.join("tmp/evil").exists());
}

#[test]
fn the_hand_made_container_is_accepted_when_benign() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"benign\n";
    let a = hostile_archive(
        dir.path(),
        json!([file_entry("/etc/ok.conf", content)]),
        content,
        |_| {},
    );
    stdout_ok(&ocpvault(&["verify", a.to_str().unwrap()]));
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", a.to_str().unwrap(), "/etc/ok.conf"])),
        "benign\n"
    );
}

#[test]
fn dot_dot_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"pwned\n";
    let entries = json!([
        file_entry("/etc/ok", content),
        file_entry("/../../evil", content)
    ]);
    let a = hostile_archive(dir.path(), entries, content, |_| {});
    assert_refused(
        dir.path(),
        &a,
        "refusing path that is not absolute and normalised",
    );
    let out = ocpvault(&["verify", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn relative_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"pwned\n";
    let a = hostile_archive(
        dir.path(),
        json!([file_entry("tmp/evil", content)]),
        content,
        |_| {},
    );
    assert_refused(dir.path(), &a, "refusing path that is not absolute");
}

#[test]
fn escaping_and_absolute_symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"x\n";
    let a = hostile_archive(
        dir.path(),
        json!([
            file_entry("/etc/a", content),
            symlink_entry("/etc/link", "../../../../etc/shadow")
        ]),
        content,
        |_| {},
    );
    assert_refused(dir.path(), &a, "escapes the restore target");
    let a = hostile_archive(
        dir.path(),
        json!([
            file_entry("/etc/a", content),
            symlink_entry("/etc/link", "/etc/shadow")
        ]),
        content,
        |_| {},
    );
    assert_refused(dir.path(), &a, "refusing absolute symlink target");
}

#[test]
fn a_symlink_then_a_file_through_it_cannot_escape() {
    // The classic tar attack: a symlink to outside, then a file "under" the symlink.
    let dir = tempfile::tempdir().unwrap();
    let content = b"pwned\n";
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let entries = json!([
        symlink_entry("/etc", outside.to_str().unwrap()),
        file_entry("/etc/passwd", content)
    ]);
    let a = hostile_archive(dir.path(), entries, content, |_| {});
    let target = dir.path().join("t");
    let out = ocpvault(&[
        "restore",
        a.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote outside the target"
    );
}

#[test]
fn oversized_lengths_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"x\n";
    let entries = json!([file_entry("/etc/a", content)]);
    // An object claiming to extend far past the end of the file.
    let a = hostile_archive(dir.path(), entries.clone(), content, |i| {
        i["objects"][0]["length"] = json!(1u64 << 50);
    });
    let out = ocpvault(&["ls", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lies outside the archive"));
    // A manifest claiming 1 TiB uncompressed.
    let a = hostile_archive(dir.path(), entries.clone(), content, |i| {
        i["manifest"]["size"] = json!(1u64 << 40);
    });
    let out = ocpvault(&["ls", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest location out of range"));
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
