//! Encryption and shipping end to end: interop with the real age CLI both ways
//! (x25519, passphrase, ssh keys), wrong keys, tampered ciphertext, random access on
//! encrypted archives, and shipping to a directory and to a local S3-compatible
//! server (moto), including an interrupted upload.

use crate::common::*;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = stdout_ok(
        &Command::new("age-keygen")
            .arg("-y")
            .arg(&key)
            .output()
            .unwrap(),
    );
    (key, public.trim().to_string())
}

fn small_tree(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/origin/master")).unwrap();
    fs::write(
        root.join("etc/origin/master/master-config.yaml"),
        "kind: MasterConfig\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/origin/master/ca.key"),
        "-----BEGIN PRIVATE KEY-----\n",
    )
    .unwrap();
    fs::write(root.join("etc/hostname"), "master-0.example.com\n").unwrap();
    root
}

#[test]
fn age_cli_interop_with_x25519_keys_both_ways() {
    if !have_tool("age", "age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let (key, public) = age_keygen(dir.path(), "key.txt");
    let a = snapshot(
        &root,
        dir.path(),
        &["--include", "/etc/origin", "--recipient", &public],
    );
    assert!(a.to_str().unwrap().ends_with(".ocpvault.age"));
    assert_eq!(&fs::read(&a).unwrap()[..21], b"age-encryption.org/v1");
    // age CLI decrypts what ocpvault wrote.
    let plain = dir.path().join("plain.ocpvault");
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&plain)
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_ok(&ocpvault(&["verify", plain.to_str().unwrap()]));
    // ocpvault reads what the age CLI encrypted.
    let cli = dir.path().join("by-cli.ocpvault.age");
    let out = Command::new("age")
        .args(["-e", "-r", &public, "-o"])
        .arg(&cli)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success());
    let k = key.to_str().unwrap();
    stdout_ok(&ocpvault(&[
        "verify",
        "--identity",
        k,
        cli.to_str().unwrap(),
    ]));
    assert_eq!(
        stdout_ok(&ocpvault(&[
            "cat",
            "-i",
            k,
            cli.to_str().unwrap(),
            "/etc/origin/master/master-config.yaml"
        ])),
        "kind: MasterConfig\n"
    );
    // No private-key warning on an encrypted archive.
    let out = ocpvault(&[
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "-o",
        dir.path().to_str().unwrap(),
        "-r",
        &public,
    ]);
    assert!(!stdout_ok(&out).contains("not encrypted"));
}

#[test]
fn missing_or_wrong_identity_is_one_clear_line() {
    if !have_tool("age", "age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let (_, public) = age_keygen(dir.path(), "key.txt");
    let (other, _) = age_keygen(dir.path(), "other.txt");
    let a = snapshot(&root, dir.path(), &["--recipient", &public]);
    let out = ocpvault(&["ls", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("ocpvault: ") && err.contains("archive is age-encrypted"),
        "{err}"
    );
    let out = ocpvault(&["ls", "-i", other.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no identity matched"), "{err}");
}

#[test]
fn passphrase_archives_and_the_age_cli() {
    if !have_tool("age", "age") || !have_tool("python3", "python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let out = bin()
        .args([
            "snapshot",
            "--passphrase",
            "--json",
            "--root",
            root.to_str().unwrap(),
            "-o",
            dir.path().to_str().unwrap(),
        ])
        .env("OCPVAULT_PASSPHRASE", "correct horse battery staple")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    let a = v["archive"].as_str().unwrap().to_string();
    let read = |pass: &str| {
        bin()
            .args([
                "cat",
                "--passphrase",
                &a,
                "/etc/origin/master/master-config.yaml",
            ])
            .env("OCPVAULT_PASSPHRASE", pass)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert_eq!(
        stdout_ok(&read("correct horse battery staple")),
        "kind: MasterConfig\n"
    );
    let bad = read("wrong");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("wrong passphrase"));
    // The age CLI asks for the passphrase on a terminal only: drive it through a pty.
    let plain = dir.path().join("p.ocpvault");
    let script = r#"
import os, pty, sys
pw, args = sys.argv[1].encode(), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[0], args)
buf = b""
answered = 0
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
    while b"assphrase" in buf:
        buf = buf.split(b"assphrase", 1)[1]
        os.write(fd, pw + b"\n")
        answered += 1
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let run_pty = |args: &[&str]| {
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg("correct horse battery staple")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run_pty(&["age", "-d", "-o", plain.to_str().unwrap(), &a]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stdout_ok(&ocpvault(&["verify", plain.to_str().unwrap()]));
    let back = dir.path().join("cli-pass.ocpvault.age");
    let out = run_pty(&[
        "age",
        "-p",
        "-o",
        back.to_str().unwrap(),
        plain.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = bin()
        .args(["verify", "--passphrase", back.to_str().unwrap()])
        .env("OCPVAULT_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    stdout_ok(&out);
}

#[test]
fn ssh_keys_work_as_recipients_and_identities() {
    if !have_tool("age", "age") || !have_tool("ssh-keygen", "openssh-client") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let mut pubs = String::from("# backup operators\n");
    for kind in ["ed25519", "rsa"] {
        let key = dir.path().join(format!("id_{kind}"));
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        pubs.push_str(&fs::read_to_string(key.with_extension("pub")).unwrap());
    }
    let rf = dir.path().join("recipients.txt");
    fs::write(&rf, pubs).unwrap();
    let a = snapshot(
        &root,
        dir.path(),
        &["--recipients-file", rf.to_str().unwrap()],
    );
    for kind in ["ed25519", "rsa"] {
        let key = dir.path().join(format!("id_{kind}"));
        let text = stdout_ok(&ocpvault(&[
            "cat",
            "-i",
            key.to_str().unwrap(),
            a.to_str().unwrap(),
            "/etc/origin/master/master-config.yaml",
        ]));
        assert_eq!(text, "kind: MasterConfig\n", "{kind}");
    }
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(dir.path().join("id_ed25519"))
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"\0\0\0\0") || out.stdout[257..262] == *b"ustar");
}

#[test]
fn tampered_ciphertext_is_refused_and_nothing_is_restored() {
    if !have_tool("age", "age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let (key, public) = age_keygen(dir.path(), "key.txt");
    let a = snapshot(&root, dir.path(), &["--recipient", &public]);
    let mut bytes = fs::read(&a).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x01;
    fs::write(&a, bytes).unwrap();
    let target = dir.path().join("t");
    let out = ocpvault(&[
        "restore",
        "-i",
        key.to_str().unwrap(),
        a.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !target.exists() || walk_files(&target).is_empty(),
        "restored files from a tampered archive"
    );
    // verify: exit 1 as for a damaged plain archive, saying where.
    let out = ocpvault(&["verify", "-i", key.to_str().unwrap(), a.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("damaged or tampered") && text.contains("chunk"),
        "{text}"
    );
    // Damage in the last chunk (read first, to learn the length) is named as well.
    let mut bytes = fs::read(&a).unwrap();
    bytes[mid] ^= 0x01;
    let end = bytes.len() - 100;
    bytes[end] ^= 0x01;
    fs::write(&a, bytes).unwrap();
    let out = ocpvault(&["verify", "-i", key.to_str().unwrap(), a.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("damaged or tampered: the last encrypted chunk"),
        "{text}"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Counts the bytes read from the underlying file.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn reading_one_file_of_an_encrypted_archive_decrypts_a_small_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    // 24 MiB of incompressible data ahead of the small file in the archive.
    fs::create_dir_all(root.join("var/lib/etcd/member/snap")).unwrap();
    let data = incompressible(24 << 20, 0x9e3779b97f4a7c15);
    fs::write(root.join("var/lib/etcd/member/snap/db"), &data).unwrap();
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let a = snapshot(
        &root,
        dir.path(),
        &[
            "--no-default-paths",
            "--include",
            "/var/lib/etcd",
            "--include",
            "/etc/origin",
            "--recipient",
            &public,
        ],
    );
    let total = fs::metadata(&a).unwrap().len();
    let count = Arc::new(AtomicU64::new(0));
    let file = Counting {
        inner: fs::File::open(&a).unwrap(),
        read: count.clone(),
    };
    let keys = ocpvault::crypto::DecryptKeys {
        identities: vec![Box::new(id)],
        passphrase: None,
    };
    let source =
        ocpvault::crypto::decrypting_reader(&a, std::io::BufReader::new(file), &keys).unwrap();
    let mut reader = ocpvault::archive::ArchiveReader::from_source(&a, source).unwrap();
    let entry = reader
        .manifest()
        .entry(b"/etc/origin/master/master-config.yaml")
        .unwrap()
        .clone();
    let mut text = String::new();
    reader
        .open_object(&entry.object.unwrap())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "kind: MasterConfig\n");
    let read = count.load(Ordering::Relaxed);
    eprintln!("read {read} of {total} bytes to get one file");
    assert!(read < 1 << 20, "read {read} bytes");
    assert!(read * 20 < total, "read {read} of {total} bytes");
}

#[test]
fn ship_to_a_directory_list_fetch_prune() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let nfs = dir.path().join("nfs");
    fs::create_dir(&nfs).unwrap();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let a1 = snapshot(&root, &out_dir, &["--ship", nfs.to_str().unwrap()]);
    next_second();
    let a2 = snapshot(&root, &out_dir, &[]);
    let out = ocpvault(&[
        "ship",
        a1.to_str().unwrap(),
        a2.to_str().unwrap(),
        nfs.to_str().unwrap(),
    ]);
    let text = stdout_ok(&out);
    assert!(text.contains("already present"), "{text}");
    let list: serde_json::Value = serde_json::from_str(&stdout_ok(&ocpvault(&[
        "list",
        nfs.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(list["archives"].as_array().unwrap().len(), 2);
    assert!(list["archives"][0]["sha256"].as_str().unwrap().len() == 64);
    assert_eq!(list["archives"][0]["host"], "master-0.example.com");
    // A sidecar in sha256sum format.
    let name2 = a2.file_name().unwrap().to_str().unwrap();
    let out = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{name2}.sha256"))
        .current_dir(&nfs)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Fetch verifies; a corrupted copy is refused and not left under its name.
    let fetched = dir.path().join("fetched");
    fs::create_dir(&fetched).unwrap();
    stdout_ok(&ocpvault(&[
        "fetch",
        &format!("{}/{name2}", nfs.display()),
        "-o",
        fetched.to_str().unwrap(),
    ]));
    stdout_ok(&ocpvault(&[
        "verify",
        fetched.join(name2).to_str().unwrap(),
    ]));
    let name1 = a1.file_name().unwrap().to_str().unwrap();
    let mut bytes = fs::read(nfs.join(name1)).unwrap();
    bytes[700] ^= 1;
    fs::write(nfs.join(name1), bytes).unwrap();
    let out = ocpvault(&[
        "fetch",
        &format!("{}/{name1}", nfs.display()),
        "-o",
        fetched.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!fetched.join(name1).exists());
    // A different archive under an existing name is never overwritten.
    let out = ocpvault(&["ship", a1.to_str().unwrap(), nfs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    // Prune keeps the newest.
    let out = ocpvault(&["prune", nfs.to_str().unwrap(), "--keep-last", "1"]);
    assert!(stdout_ok(&out).contains(&format!("deleted {name1}")));
    assert!(
        nfs.join(name2).exists()
            && !nfs.join(name1).exists()
            && !nfs.join(format!("{name1}.sha256")).exists()
    );
}

/// A local S3-compatible server: moto's server mode, from PyPI, installed by
/// .ci/install-deps into /opt/ocpvault-test-venv.
pub(crate) struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn moto_server() -> Option<Moto> {
    let bin = Path::new("/opt/ocpvault-test-venv/bin/moto_server");
    if !bin.exists() {
        assert!(
            !in_ci(),
            "moto_server missing in CI; .ci/install-deps installs it"
        );
        eprintln!("SKIP: {} not found (run .ci/install-deps)", bin.display());
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // Owned by the guard from the start, so the server is killed on every path.
    let moto = Moto {
        child: Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        endpoint: endpoint.clone(),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Create the bucket with a plain PUT (moto does not check signatures).
            let out = Command::new("curl")
                .args(["-sf", "-X", "PUT", &format!("{endpoint}/backups")])
                .output()
                .unwrap();
            if out.status.success() {
                return Some(moto);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("moto server did not start");
}

pub(crate) fn s3_cmd(moto: &Moto, args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .output()
        .unwrap()
}

#[test]
fn ship_to_s3_list_fetch_prune_and_survive_an_interrupted_upload() {
    if !have_tool("curl", "curl") {
        return;
    }
    let Some(moto) = moto_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    // A 40 MiB incompressible file makes a multipart upload.
    fs::create_dir_all(root.join("var/lib/etcd")).unwrap();
    let data = incompressible(40 << 20, 88172645463325252);
    fs::write(root.join("var/lib/etcd/db"), &data).unwrap();
    drop(data);
    let big = snapshot(
        &root,
        dir.path(),
        &["--include", "/var/lib/etcd", "--level", "1"],
    );
    let dest = "s3://backups/ocp/prod";
    // Interrupt an upload: kill the client mid-way. Nothing may appear under the name.
    let mut child = bin()
        .args(["ship", big.to_str().unwrap(), dest])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    let _ = child.kill();
    let status = child.wait().unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&stdout_ok(&s3_cmd(&moto, &["list", dest, "--json"]))).unwrap();
    if !status.success() {
        for e in list["archives"].as_array().unwrap() {
            // Anything visible must be complete: the right size.
            assert_eq!(
                e["size"].as_u64().unwrap(),
                fs::metadata(&big).unwrap().len()
            );
        }
    }
    // The retry is safe and completes.
    let out = s3_cmd(&moto, &["ship", big.to_str().unwrap(), dest]);
    let text = stdout_ok(&out);
    assert!(
        text.contains("shipped") || text.contains("already present"),
        "{text}"
    );
    next_second();
    let small = snapshot(&small_tree(&dir.path().join("b")), dir.path(), &[]);
    stdout_ok(&s3_cmd(&moto, &["ship", small.to_str().unwrap(), dest]));
    let list: serde_json::Value =
        serde_json::from_str(&stdout_ok(&s3_cmd(&moto, &["list", dest, "--json"]))).unwrap();
    assert_eq!(list["archives"].as_array().unwrap().len(), 2, "{list}");
    assert!(
        list["archives"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["sha256"].as_str().is_some_and(|s| s.len() == 64))
    );
    // Fetch the big one back and verify it.
    let fetched = dir.path().join("fetched");
    fs::create_dir(&fetched).unwrap();
    let big_name = big.file_name().unwrap().to_str().unwrap();
    stdout_ok(&s3_cmd(
        &moto,
        &[
            "fetch",
            &format!("{dest}/{big_name}"),
            "-o",
            fetched.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        fs::read(fetched.join(big_name)).unwrap(),
        fs::read(&big).unwrap()
    );
    stdout_ok(&ocpvault(&[
        "verify",
        fetched.join(big_name).to_str().unwrap(),
    ]));
    // Prune keeps only the newest.
    let out = s3_cmd(&moto, &["prune", dest, "--keep-last", "1", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    assert_eq!(plan["delete"][0], big_name);
    let list: serde_json::Value =
        serde_json::from_str(&stdout_ok(&s3_cmd(&moto, &["list", dest, "--json"]))).unwrap();
    assert_eq!(list["archives"].as_array().unwrap().len(), 1);
}

#[test]
fn output_and_destination_directories_that_do_not_exist() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    // Not ending in .ocpvault: a directory, created 0700 with its parents.
    for out in ["backup/ocpvault", "slash/new/"] {
        let a = snapshot(&root, &dir.path().join(out), &[]);
        let parent = a.parent().unwrap();
        assert_eq!(parent, dir.path().join(out.trim_end_matches('/')));
        assert!(parent.is_dir());
        assert_eq!(
            fs::metadata(parent).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // A second run writes a second archive into the same directory.
    let again = snapshot(&root, &dir.path().join("backup/ocpvault"), &[]);
    assert!(again.is_file());
    // fetch -o creates its directory; list and prune say "does not exist".
    let nfs = dir.path().join("nfs/archives");
    let text = stdout_ok(&ocpvault(&[
        "ship",
        again.to_str().unwrap(),
        nfs.to_str().unwrap(),
    ]));
    assert!(text.contains("shipped"), "{text}");
    let name = again.file_name().unwrap().to_str().unwrap();
    let fetched = dir.path().join("fetched/here");
    stdout_ok(&ocpvault(&[
        "fetch",
        &format!("{}/{name}", nfs.display()),
        "-o",
        fetched.to_str().unwrap(),
    ]));
    assert!(fetched.join(name).is_file());
    let missing = dir.path().join("missing");
    for args in [
        vec!["list", missing.to_str().unwrap()],
        vec!["prune", missing.to_str().unwrap(), "--keep-last", "1"],
    ] {
        let out = ocpvault(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("does not exist") && !err.contains("not a directory"),
            "{err}"
        );
        assert!(!missing.exists(), "list/prune create nothing");
    }
}

#[test]
fn name_and_encryption_agree_and_list_reads_the_header() {
    if !have_tool("age-keygen", "age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let (key, public) = age_keygen(dir.path(), "key.txt");
    let r = root.to_str().unwrap();
    let plain_as_age = dir.path().join("x.ocpvault.age");
    let age_as_plain = dir.path().join("x.ocpvault");
    for (args, want) in [
        (
            vec![
                "snapshot",
                "--root",
                r,
                "-o",
                plain_as_age.to_str().unwrap(),
            ],
            "is not encrypted",
        ),
        (
            vec![
                "snapshot",
                "--root",
                r,
                "-r",
                &public,
                "-o",
                age_as_plain.to_str().unwrap(),
            ],
            "is encrypted",
        ),
    ] {
        let mut args = args;
        args.extend(["--etcd", "skip", "--projects", "skip"]);
        let out = ocpvault(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{err}");
    }
    assert!(!plain_as_age.exists() && !age_as_plain.exists());
    // list decides from the first bytes: a plain archive renamed to .age is plain.
    let nfs = dir.path().join("nfs");
    let plain = snapshot(&root, &dir.path().join("plain"), &[]);
    let enc = snapshot(&root, &dir.path().join("enc"), &["-r", &public]);
    fs::create_dir(&nfs).unwrap();
    let misnamed = "master-0.example.com-20200101T000000Z.ocpvault.age";
    fs::copy(&plain, nfs.join(misnamed)).unwrap();
    fs::copy(&enc, nfs.join(enc.file_name().unwrap())).unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout_ok(&ocpvault(&[
        "list",
        nfs.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    for row in list["archives"].as_array().unwrap() {
        let is_enc = row["name"].as_str() == enc.file_name().unwrap().to_str();
        assert_eq!(row["encrypted"], is_enc, "{row}");
    }
    // info and the snapshot summary give the size on disk and say it is encrypted.
    let info: serde_json::Value = serde_json::from_str(&stdout_ok(&ocpvault(&[
        "info",
        "--json",
        "-i",
        key.to_str().unwrap(),
        enc.to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(info["encrypted"], true);
    assert_eq!(info["archive_bytes"], fs::metadata(&enc).unwrap().len());
    let text = stdout_ok(&ocpvault(&[
        "info",
        "-i",
        key.to_str().unwrap(),
        enc.to_str().unwrap(),
    ]));
    assert!(text.contains("(age-encrypted)"), "{text}");
    let out = ocpvault(&[
        "snapshot",
        "--root",
        r,
        "-r",
        &public,
        "-o",
        dir.path().join("enc2").to_str().unwrap(),
        "--etcd",
        "skip",
        "--projects",
        "skip",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = summary["archive"].as_str().unwrap();
    assert_eq!(
        summary["stats"]["archive_size"],
        fs::metadata(path).unwrap().len()
    );
}

#[test]
fn fetch_is_idempotent_and_a_missing_archive_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_tree(dir.path());
    let nfs = dir.path().join("nfs");
    let a = snapshot(
        &root,
        &dir.path().join("out"),
        &["--ship", nfs.to_str().unwrap()],
    );
    let name = a.file_name().unwrap().to_str().unwrap();
    let fetched = dir.path().join("fetched");
    let src = format!("{}/{name}", nfs.display());
    let args = ["fetch", &src, "-o", fetched.to_str().unwrap()];
    assert!(stdout_ok(&ocpvault(&args)).starts_with("fetched"));
    let text = stdout_ok(&ocpvault(&args));
    assert!(text.contains("already present"), "{text}");
    // A different file under the name stays, and is a conflict.
    fs::write(fetched.join(name), b"other").unwrap();
    let out = ocpvault(&args);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fs::read(fetched.join(name)).unwrap(), b"other");
    let gone = format!(
        "{}/master-0.example.com-20200101T000000Z.ocpvault",
        nfs.display()
    );
    let out = ocpvault(&["fetch", &gone, "-o", fetched.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("not found") && !err.contains("sidecar"),
        "{err}"
    );
}

#[test]
fn s3_without_credentials_names_the_missing_variables() {
    let out = bin()
        .args([
            "list",
            "s3://ocp-backups/prod",
            "--s3-endpoint",
            "http://127.0.0.1:1",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set"),
        "{err}"
    );
}
