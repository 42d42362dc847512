//! End-to-end tests of the archive core through the built binary: snapshot, verify,
//! ls, cat, restore, tampering, hostile archives, interrupted snapshots and the
//! manual recovery recipe from formats/archive-v1.md §11.

use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every attribute the archive promises to keep, read from a tree on disk.
#[derive(Debug, PartialEq)]
struct Attrs {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    size: u64,
    content: Option<Vec<u8>>,
    target: Option<PathBuf>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

fn attrs(path: &Path) -> Attrs {
    let m = fs::symlink_metadata(path).unwrap();
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else {
        "file"
    };
    let xattrs = xattr::list(path)
        .map(|names| {
            names
                .filter_map(|n| {
                    let v = xattr::get(path, &n).ok().flatten()?;
                    Some((n.to_string_lossy().into_owned(), v))
                })
                .collect()
        })
        .unwrap_or_default();
    Attrs {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: (m.mtime(), m.mtime_nsec()),
        size: if ft.is_file() { m.len() } else { 0 },
        content: ft.is_file().then(|| fs::read(path).unwrap()),
        target: ft.is_symlink().then(|| fs::read_link(path).unwrap()),
        xattrs,
    }
}

fn archived_paths(archive: &Path) -> Vec<String> {
    let out = ocpvault(&["ls", archive.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

fn join(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

#[test]
fn snapshot_verify_restore_keeps_every_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    assert!(
        archive
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("master-0.example.com-")
    );
    assert_eq!(
        fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );

    stdout_ok(&ocpvault(&["verify", archive.to_str().unwrap()]));
    let target = dir.path().join("restored");
    // By number: the tree names its own accounts (etcd is 993:990 there), and this
    // host's etcd, if any, has other ids. tests/it/owners.rs covers restoring by name.
    let out = ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--numeric-owner",
        "--target",
        target.to_str().unwrap(),
    ]);
    stdout_ok(&out);

    let paths = archived_paths(&archive);
    assert!(paths.len() > 100, "only {} entries", paths.len());
    for must in [
        "/etc/origin/master/master-config.yaml",
        "/etc/origin/master/ca.key",
        "/etc/origin/node/system:node:master-0.example.com.crt",
        "/etc/origin/node/pods/etcd.yaml",
        "/etc/etcd/etcd.conf",
        "/etc/etcd/generated_certs/etcd-master-0.example.com/peer.key",
        "/etc/sysconfig/iptables",
        "/etc/sysconfig/selinux",
        "/etc/dnsmasq.conf",
        "/etc/cni/net.d/80-openshift-network.conf",
        "/etc/pki/ca-trust/source/anchors/openshift-ca.crt",
        "/etc/ansible/hosts",
    ] {
        assert!(paths.iter().any(|p| p == must), "{must} not captured");
    }
    for p in &paths {
        let (a, b) = (attrs(&join(&root, p)), attrs(&join(&target, p)));
        // Parent directories of the default paths (/etc, /etc/pki, ...) get children
        // written after their mtime was set in the source; compare all else.
        assert_eq!(a, b, "attributes differ for {p}");
    }
    // The hard link is restored as a hard link.
    let ca = fs::metadata(join(&target, "/etc/origin/node/ca.crt")).unwrap();
    let client = fs::metadata(join(&target, "/etc/origin/node/client-ca.crt")).unwrap();
    assert_eq!(ca.ino(), client.ino());
    // A second restore over the same tree changes nothing and keeps no .ocpvault-old.
    stdout_ok(&ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--numeric-owner",
        "--target",
        target.to_str().unwrap(),
    ]));
    assert!(!join(&target, "/etc/origin/master/ca.key.ocpvault-old").exists());
}

#[test]
fn labels_owners_and_acls_are_captured_when_available() {
    let dir = tempfile::tempdir().unwrap();
    if !is_root("owners and SELinux labels")
        || !has_xattrs(dir.path())
        || !have_tool("setfacl", "acl")
    {
        return;
    }
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let out = ocpvault(&[
        "ls",
        archive.to_str().unwrap(),
        "--json",
        "/etc/origin/master",
        "/etc/etcd/peer.key",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    let find = |p: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == p)
            .cloned()
            .unwrap()
    };
    let key = find("/etc/origin/master/ca.key");
    assert_eq!(key["mode"], "0600");
    assert_eq!(key["selinux"], "system_u:object_r:etc_t:s0");
    assert_eq!(key["user"], "root");
    let names: Vec<&str> = key["xattrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(names.contains(&"user.backup-note"), "{names:?}");
    let cfg = find("/etc/origin/master/master-config.yaml");
    assert!(
        cfg["xattrs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "system.posix_acl_access")
    );
    let peer = find("/etc/etcd/peer.key");
    assert_eq!(peer["uid"], 993);
    assert_eq!(peer["gid"], 990);
}

#[test]
fn selective_restore_of_one_file_and_one_subtree() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let a = archive.to_str().unwrap();
    let t1 = dir.path().join("one");
    stdout_ok(&ocpvault(&[
        "restore",
        a,
        "/etc/origin/master/master-config.yaml",
        "--target",
        t1.to_str().unwrap(),
    ]));
    assert_eq!(
        fs::read(join(&t1, "/etc/origin/master/master-config.yaml")).unwrap(),
        fs::read(join(&root, "/etc/origin/master/master-config.yaml")).unwrap()
    );
    let files: Vec<_> = walk(&t1);
    assert_eq!(
        files,
        vec![join(&t1, "/etc/origin/master/master-config.yaml")]
    );

    let t2 = dir.path().join("sub");
    stdout_ok(&ocpvault(&[
        "restore",
        a,
        "/etc/etcd",
        "--target",
        t2.to_str().unwrap(),
    ]));
    assert!(join(&t2, "/etc/etcd/ca/ca.key").is_file());
    assert!(
        join(
            &t2,
            "/etc/etcd/generated_certs/etcd-master-0.example.com/peer.crt"
        )
        .is_file()
    );
    assert!(!join(&t2, "/etc/origin").exists());

    let out = ocpvault(&["restore", a, "/etc/nope", "--target", t2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/nope: not in the archive"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir(dir) {
        if fs::symlink_metadata(&e).unwrap().is_file() {
            out.push(e);
        }
    }
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            out.push(p.clone());
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                out.extend(walkdir(&p));
            }
        }
    }
    out
}

#[test]
fn dry_run_writes_nothing_and_existing_files_are_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let a = archive.to_str().unwrap();
    let target = dir.path().join("t");
    let out = ocpvault(&[
        "restore",
        a,
        "--target",
        target.to_str().unwrap(),
        "--dry-run",
    ]);
    let text = stdout_ok(&out);
    // Lines name the host path that is written, not the archive path.
    let shown_key = format!(
        "would create {}",
        join(&target, "/etc/origin/master/ca.key").display()
    );
    assert!(text.contains(&shown_key), "{text}");
    assert!(!target.exists(), "dry run created the target");

    // An edited file is replaced, and the edited version is kept beside it.
    stdout_ok(&ocpvault(&[
        "restore",
        a,
        "--target",
        target.to_str().unwrap(),
    ]));
    let cfg = join(&target, "/etc/origin/master/master-config.yaml");
    fs::write(&cfg, "edited by hand\n").unwrap();
    let out = ocpvault(&[
        "restore",
        a,
        "/etc/origin/master",
        "--target",
        target.to_str().unwrap(),
        "--dry-run",
    ]);
    let shown_cfg = format!("would replace {}", cfg.display());
    assert!(stdout_ok(&out).contains(&shown_cfg));
    assert_eq!(fs::read_to_string(&cfg).unwrap(), "edited by hand\n");
    stdout_ok(&ocpvault(&[
        "restore",
        a,
        "/etc/origin/master/master-config.yaml",
        "--target",
        target.to_str().unwrap(),
    ]));
    let old = cfg.with_file_name("master-config.yaml.ocpvault-old");
    assert_eq!(fs::read_to_string(&old).unwrap(), "edited by hand\n");
    assert_eq!(
        fs::read(&cfg).unwrap(),
        fs::read(join(&root, "/etc/origin/master/master-config.yaml")).unwrap()
    );
    // --overwrite keeps nothing aside.
    fs::write(&cfg, "edited again\n").unwrap();
    stdout_ok(&ocpvault(&[
        "restore",
        a,
        "/etc/origin/master/master-config.yaml",
        "--target",
        target.to_str().unwrap(),
        "--overwrite",
    ]));
    assert!(
        !cfg.with_file_name("master-config.yaml.ocpvault-old.1")
            .exists()
    );
    assert_eq!(fs::read_to_string(&old).unwrap(), "edited by hand\n");
}

/// Flips one byte inside the data of the tar member `member`.
fn flip_byte_in_member(archive: &Path, member: &str, at: u64) {
    let out = Command::new("tar")
        .args(["-tvf"])
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Locate the member by scanning headers ourselves.
    let bytes = fs::read(archive).unwrap();
    let mut pos = 0usize;
    while pos + 512 <= bytes.len() {
        let h = &bytes[pos..pos + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let name_end = h[..100].iter().position(|b| *b == 0).unwrap_or(100);
        let name = std::str::from_utf8(&h[..name_end]).unwrap();
        let size_txt = std::str::from_utf8(&h[124..136])
            .unwrap()
            .trim_matches(|c| c == '\0' || c == ' ');
        let size = u64::from_str_radix(size_txt, 8).unwrap() as usize;
        if name == member {
            let mut data = bytes.clone();
            data[pos + 512 + at as usize] ^= 0x5a;
            fs::write(archive, data).unwrap();
            return;
        }
        pos += 512 + size.div_ceil(512) * 512;
    }
    panic!("member {member} not found");
}

fn object_of(archive: &Path, path: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "tar -xOf '{}' --wildcards 'entries/*' | zstd -dc | jq -r --arg p '{path}' '.[] | select(.path == $p) | .object'",
            archive.display()
        ))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The member that stores an object: its pack (formats/archive-v2.md §5) or its own.
fn member_of(archive: &Path, id: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "tar -xOf '{}' --wildcards 'objects-index/*' | zstd -dc | jq -r --arg id '{id}' '.[] | select(.id == $id) | .pack // empty'",
            archive.display()
        ))
        .output()
        .unwrap();
    match String::from_utf8(out.stdout).unwrap().trim() {
        "" => format!("objects/{id}.zst"),
        n => format!("packs/{:08}.zst", n.parse::<u64>().unwrap()),
    }
}

#[test]
fn a_changed_byte_is_caught_by_verify_and_refused_by_restore() {
    if !have_tool("jq", "jq") || !have_tool("zstd", "zstd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    // Over the pack limit (formats/archive-v2.md §2): a member of its own, which the
    // damage to the pack below does not touch.
    let big = join(&root, "/etc/origin/master/big.log");
    fs::write(&big, crate::common::incompressible(300 * 1024, 7)).unwrap();
    let archive = snapshot(&root, dir.path(), &[]);
    let a = archive.to_str().unwrap();
    let id = object_of(&archive, "/etc/origin/master/master-config.yaml");
    assert_eq!(id.len(), 64);
    let member = member_of(&archive, &id);
    assert!(member.starts_with("packs/"), "{member}");
    flip_byte_in_member(&archive, &member, 20);

    let out = ocpvault(&["verify", a]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("error: object {id}")), "{text}");
    // The object is named once, and so is the file that uses it.
    assert_eq!(text.matches(id.as_str()).count(), 1, "{text}");
    assert!(
        text.contains("used by /etc/origin/master/master-config.yaml"),
        "{text}"
    );

    // The restore refuses the damaged file and leaves the existing one untouched.
    let target = dir.path().join("t");
    let cfg = join(&target, "/etc/origin/master/master-config.yaml");
    fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    fs::write(&cfg, "current config\n").unwrap();
    let out = ocpvault(&[
        "restore",
        a,
        "/etc/origin/master",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/etc/origin/master/master-config.yaml"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&cfg).unwrap(), "current config\n");
    let leftovers: Vec<_> = walk(cfg.parent().unwrap())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".ocpvault-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A damaged pack takes every file in it (up to 1 MiB of small files) with it;
    // files stored elsewhere are restored.
    assert_eq!(
        fs::read(join(&target, "/etc/origin/master/big.log")).unwrap(),
        fs::read(&big).unwrap()
    );
}

#[test]
fn damaged_index_or_truncation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let a = archive.to_str().unwrap();
    let good = fs::read(&archive).unwrap();
    flip_byte_in_member(&archive, "index.json.zst", 3);
    let out = ocpvault(&["verify", a]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("index does not match"));
    let out = ocpvault(&["ls", a]);
    assert_eq!(out.status.code(), Some(2));

    fs::write(&archive, &good[..good.len() - 700]).unwrap();
    let out = ocpvault(&["cat", a, "/etc/dnsmasq.conf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn newer_format_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let mut bytes = fs::read(&archive).unwrap();
    let magic = b"ocpvault-archive 2\n";
    assert_eq!(&bytes[512..512 + magic.len()], magic);
    bytes[512 + 17] = b'3';
    fs::write(&archive, bytes).unwrap();
    let out = ocpvault(&["ls", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("archive format version 3 is newer than this ocpvault supports (2)"),
        "{err}"
    );
    assert!(err.contains("hint: upgrade ocpvault"), "{err}");
}

#[test]
fn recovery_recipe_recovers_a_packed_file() {
    if !have_tool("jq", "jq") || !have_tool("zstd", "zstd") || !have_tool("sha256sum", "coreutils")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let out = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let list = stdout_ok(&out);
    let names: Vec<&str> = list.lines().collect();
    assert_eq!(names.first(), Some(&"OCPVAULT"));
    assert_eq!(names.last(), Some(&"TRAILER"));
    assert!(names.contains(&"manifest.json.zst") && names.contains(&"index.json.zst"));
    // master-config.yaml is small, so it is in a pack (formats/archive-v2.md §2).
    let id = object_of(&archive, "/etc/origin/master/master-config.yaml");
    assert!(member_of(&archive, &id).starts_with("packs/"));

    // The recipe from formats/archive-v2.md §8, extracted from the spec itself.
    let spec =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/archive-v2.md"))
            .unwrap();
    let section = spec
        .split("## 8. Recovery without ocpvault")
        .nth(1)
        .unwrap();
    let script = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let script = script.replacen(
        "A=master-0.example.com-20261122T021935Z.ocpvault",
        &format!("A={}", archive.file_name().unwrap().to_str().unwrap()),
        1,
    );
    let out = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = stdout_ok(&out);
    assert!(text.contains("out: OK"), "{text}");
    assert_eq!(
        fs::read(dir.path().join("recover/out")).unwrap(),
        fs::read(join(&root, "/etc/origin/master/master-config.yaml")).unwrap()
    );
}

#[test]
fn identical_contents_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let out = ocpvault(&[
        "snapshot",
        "--etcd",
        "skip",
        "--projects",
        "skip",
        "--root",
        root.to_str().unwrap(),
        "--output",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // ca.crt appears in /etc/origin/master, /etc/origin/node, two anchors and certs.d.
    assert!(v["stats"]["dedup_saved"].as_u64().unwrap() > 4 * 500, "{v}");
    let archive = v["archive"].as_str().unwrap();
    let list = stdout_ok(
        &Command::new("tar")
            .arg("-tf")
            .arg(archive)
            .output()
            .unwrap(),
    );
    let own = list.lines().filter(|l| l.starts_with("objects/")).count() as u64;
    let reader = ocpvault::archive::ArchiveReader::open(Path::new(archive)).unwrap();
    let objects = reader.index().objects.len() as u64;
    let packed = reader
        .index()
        .objects
        .iter()
        .filter(|o| o.pack.is_some())
        .count() as u64;
    assert_eq!(own + packed, objects);
    assert!(
        packed > 0 && list.lines().any(|l| l.starts_with("packs/")),
        "{list}"
    );
    assert_eq!(objects, v["stats"]["objects"].as_u64().unwrap());
    let files = v["stats"]["entries"].as_u64().unwrap();
    assert!(objects < files);
}

#[test]
fn non_utf8_names_and_special_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let odd = root.join("etc/odd");
    fs::create_dir_all(&odd).unwrap();
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.conf");
    fs::write(odd.join(name), b"latin-1 name\n").unwrap();
    fs::write(odd.join("empty"), b"").unwrap();
    fs::set_permissions(odd.join("empty"), fs::Permissions::from_mode(0o4750)).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        odd.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    std::os::unix::fs::symlink("empty", odd.join("link")).unwrap();
    let archive = snapshot(
        &root,
        dir.path(),
        &["--no-default-paths", "--include", "/etc/odd"],
    );
    stdout_ok(&ocpvault(&["verify", archive.to_str().unwrap()]));
    let target = dir.path().join("t");
    stdout_ok(&ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]));
    let back = target.join("etc/odd");
    assert_eq!(fs::read(back.join(name)).unwrap(), b"latin-1 name\n");
    assert_eq!(
        fs::metadata(back.join("empty"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o4750
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        fs::symlink_metadata(back.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        fs::read_link(back.join("link")).unwrap(),
        Path::new("empty")
    );
    for n in ["empty", "fifo", "link"] {
        assert_eq!(attrs(&odd.join(n)), attrs(&back.join(n)), "{n}");
    }
}

#[test]
fn symlinked_parent_in_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    let target = dir.path().join("t");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(target.join("etc")).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, target.join("etc/origin")).unwrap();
    let out = ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "/etc/origin",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is a symlink; restore never writes through one")
    );
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "wrote through the symlink"
    );
}

#[test]
fn snapshot_killed_midway_leaves_no_final_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("var/big")).unwrap();
    // A sparse 8 GiB file takes seconds to read and compress.
    let f = fs::File::create(root.join("var/big/db")).unwrap();
    f.set_len(8 << 30).unwrap();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let mut child = bin()
        .args([
            "snapshot",
            "--no-default-paths",
            "--include",
            "/var/big",
            "-q",
        ])
        .arg("--root")
        .arg(&root)
        .arg("--output")
        .arg(&out_dir)
        .spawn()
        .unwrap();
    // Kill it while it writes: once its temporary archive exists.
    wait_for(std::time::Duration::from_secs(20), || {
        has_entry_containing(&out_dir, ".tmp-")
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for e in fs::read_dir(&out_dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".ocpvault") && !name.starts_with('.') {
            // Only acceptable if the snapshot really finished before the kill.
            let v = ocpvault(&["verify", out_dir.join(&name).to_str().unwrap()]);
            assert_eq!(
                v.status.code(),
                Some(0),
                "{name} exists but does not verify"
            );
        }
    }
}

#[test]
fn two_snapshots_in_the_same_second_do_not_clash() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let spawn = || {
        bin()
            .args([
                "snapshot",
                "-q",
                "--json",
                "--etcd",
                "skip",
                "--projects",
                "skip",
                "--root",
                root.to_str().unwrap(),
                "--output",
                out_dir.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let pa: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let pb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_ne!(pa["archive"], pb["archive"]);
    for p in [&pa, &pb] {
        stdout_ok(&ocpvault(&["verify", p["archive"].as_str().unwrap()]));
    }
}

#[test]
fn restore_without_privileges_completes_with_warnings_or_fails_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    if !is_root("switching to an unprivileged user") || !have_tool("setpriv", "util-linux") {
        return;
    }
    let root = demo_tree(dir.path());
    let archive = snapshot(&root, dir.path(), &[]);
    fs::set_permissions(&archive, fs::Permissions::from_mode(0o644)).unwrap();
    let target = dir.path().join("t");
    fs::create_dir(&target).unwrap();
    rustix::fs::chown(
        &target,
        Some(rustix::fs::Uid::from_raw(65534)),
        Some(rustix::fs::Gid::from_raw(65534)),
    )
    .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let run = |extra: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_ocpvault"))
            .args([
                "restore",
                archive.to_str().unwrap(),
                "/etc/origin/master/ca.key",
                "--target",
                target.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // ca.key is owned by root and labelled: as nobody, chown and security.* fail.
    let out = run(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One summary line per kind of failed step, naming the first path.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let key = join(&target, "/etc/origin/master/ca.key");
    assert!(
        stderr.contains("warning: chown 0:0: ")
            && stderr.contains(&format!("(first: {})", key.display())),
        "{stderr}"
    );
    assert!(join(&target, "/etc/origin/master/ca.key").is_file());
    let out = run(&["--strict", "--overwrite"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn golden_v2_archive_is_still_read() {
    // testdata/golden/v2-basic.ocpvault was written by the first version 2 writer
    // (formats/archive-v2.md) and is kept forever: a pack of small files, a member of
    // its own (big.log) and a framed one (the 6.8 MB db), a hard link and a symlink.
    let golden = testdata().join("golden/v2-basic.ocpvault");
    let g = golden.to_str().unwrap();
    stdout_ok(&ocpvault(&["verify", g]));
    assert_eq!(
        stdout_ok(&ocpvault(&[
            "cat",
            g,
            "/etc/origin/master/master-config.yaml"
        ])),
        "kind: MasterConfig\napiVersion: v1\n"
    );
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", g, "/etc/origin/node/client-ca.crt"])),
        "golden-ca\n"
    );
    let log: String = (0..12000)
        .map(|i| format!("line {i:06} of the golden v2 log\n"))
        .collect();
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", g, "/etc/origin/master/big.log"])),
        log
    );
    let db: String = (0..200_000)
        .map(|i| format!("key /kubernetes.io/golden/{i:07}\n"))
        .collect();
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", g, "/var/lib/etcd/member/snap/db"])),
        db
    );
    let r = ocpvault::archive::ArchiveReader::open(&golden).unwrap();
    assert_eq!(r.version(), 2);
    assert_eq!(r.index().frames.len(), 1);
    assert_eq!(r.index().packs.len(), 1);
    let v: serde_json::Value =
        serde_json::from_str(&stdout_ok(&ocpvault(&["ls", g, "--json"]))).unwrap();
    let by_path = |p: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == p)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by_path("/etc/sysconfig/selinux")["target"],
        "../selinux/config"
    );
    assert_eq!(
        by_path("/etc/origin/node/client-ca.crt")["type"],
        "hardlink"
    );
    assert_eq!(
        by_path("/etc/origin/master/master-config.yaml")["mode"],
        "0600"
    );
    assert_eq!(
        by_path("/etc/origin/master/master-config.yaml")["mtime"],
        "2026-11-01T10:00:00.500000000Z"
    );
    let info: serde_json::Value =
        serde_json::from_str(&stdout_ok(&ocpvault(&["info", g, "--json"]))).unwrap();
    assert_eq!(info["host"]["hostname"], "golden-host");
    assert_eq!(info["format_version"], 2);
}

#[test]
fn golden_v1_archive_is_still_read() {
    // testdata/golden/v1-basic.ocpvault was written by the first version of the format
    // and is kept forever (STYLE.md): every later version must read it.
    let golden = testdata().join("golden/v1-basic.ocpvault");
    let g = golden.to_str().unwrap();
    stdout_ok(&ocpvault(&["verify", g]));
    assert_eq!(
        stdout_ok(&ocpvault(&[
            "cat",
            g,
            "/etc/origin/master/master-config.yaml"
        ])),
        "kind: MasterConfig\napiVersion: v1\n"
    );
    assert_eq!(
        stdout_ok(&ocpvault(&["cat", g, "/etc/origin/node/client-ca.crt"])),
        "golden-ca\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&stdout_ok(&ocpvault(&["ls", g, "--json"]))).unwrap();
    let by_path = |p: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == p)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by_path("/etc/sysconfig/selinux")["target"],
        "../selinux/config"
    );
    assert_eq!(
        by_path("/etc/origin/node/client-ca.crt")["type"],
        "hardlink"
    );
    assert_eq!(
        by_path("/etc/origin/master/master-config.yaml")["mode"],
        "0600"
    );
    assert_eq!(
        by_path("/etc/origin/master/master-config.yaml")["mtime"],
        "2026-11-01T10:00:00.500000000Z"
    );
    let info: serde_json::Value =
        serde_json::from_str(&stdout_ok(&ocpvault(&["info", g, "--json"]))).unwrap();
    assert_eq!(info["host"]["hostname"], "golden-host");
    assert_eq!(info["format_version"], 1);
}

#[test]
fn an_interrupted_restore_converges_when_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for d in 0..40 {
        let sub = root.join(format!("etc/origin/gen/d{d:02}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..50 {
            fs::write(
                sub.join(format!("f{f:02}.yaml")),
                format!("dir {d} file {f}\n").repeat(20),
            )
            .unwrap();
        }
    }
    let archive = snapshot(
        &root,
        dir.path(),
        &["--no-default-paths", "--include", "/etc/origin"],
    );
    let target = dir.path().join("t");
    let mut child = bin()
        .args([
            "restore",
            archive.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it mid-way: once it has started writing under the target.
    wait_for(std::time::Duration::from_secs(20), || {
        fs::read_dir(&target).is_ok_and(|mut rd| rd.next().is_some())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = ocpvault(&[
        "restore",
        archive.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every archived entry is back with its attributes, and nothing else is there.
    let paths = archived_paths(&archive);
    for p in &paths {
        assert_eq!(attrs(&join(&root, p)), attrs(&join(&target, p)), "{p}");
    }
    let on_disk = walkdir(&target.join("etc/origin")).len();
    assert_eq!(
        on_disk,
        paths
            .iter()
            .filter(|p| p.starts_with("/etc/origin/"))
            .count()
    );
}

/// `--output` inside a captured path: the archive being written is skipped by name,
/// not read back into itself (a large, growing file would never reach its end).
#[test]
fn an_output_directory_inside_a_captured_path_is_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let backups = root.join("var/backups");
    fs::create_dir_all(&backups).unwrap();
    // Incompressible, so the archive itself passes the 1 MiB large-object size.
    let noise = incompressible(3 << 20, 12345);
    fs::write(backups.join("noise.bin"), &noise).unwrap();
    let out = bin()
        .args(["snapshot", "--root"])
        .arg(&root)
        .args(["--no-default-paths", "--include", "/var/backups"])
        .args(["--etcd", "skip", "--projects", "skip", "--packages", "skip"])
        .args(["--threads", "1", "--json", "--output"])
        .arg(&backups)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("snapshot failed: {}", String::from_utf8_lossy(&out.stderr)));
    let files = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "files")
        .unwrap();
    let skipped = files["skipped"].to_string();
    assert!(
        skipped.contains("the archive being written"),
        "skipped: {skipped}"
    );
    let archive = v["archive"].as_str().unwrap();
    let listing = stdout_ok(&ocpvault(&["ls", archive]));
    assert!(listing.contains("/var/backups/noise.bin"), "{listing}");
    assert!(!listing.contains(".tmp-"), "{listing}");
    let size = fs::metadata(archive).unwrap().len();
    assert!(size < 4 << 20, "archive holds more than the data: {size}");
}
