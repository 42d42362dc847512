//! Large objects are compressed straight into the archive as a tentative member
//! (placeholder header, patched on commit; when not committed, cut off in a plain
//! archive and turned into a discarded member in an encrypted one). These tests drive the writer through its library API and check the
//! result with the strict verifier and with GNU tar.

use ocpvault::archive::{ArchiveReader, ArchiveWriter, HostFacts, ObjectId, Sink, WriterOptions};
use ocpvault::collect::add_prepared_file;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn options() -> WriterOptions {
    WriterOptions {
        level: 1,
        // The parallel frame pipeline (serial compression: archive/tests/frames.rs).
        threads: 2,
        created: (1_700_000_000, 0),
    }
}

fn plain(dir: &Path) -> ArchiveWriter {
    ArchiveWriter::create(&dir.join("a.ocpvault"), options(), |f| {
        Ok(Box::new(f) as Box<dyn Sink>)
    })
    .unwrap()
}

/// An encrypted writer to a new x25519 key; returns the identity too.
fn encrypted(dir: &Path) -> (ArchiveWriter, age::x25519::Identity) {
    let id = age::x25519::Identity::generate();
    let key = ocpvault::crypto::EncryptKey::Recipients(vec![Box::new(id.to_public())]);
    let w = ArchiveWriter::create(&dir.join("a.ocpvault.age"), options(), |f| {
        ocpvault::crypto::encrypting_sink(f, &key)
    })
    .unwrap();
    (w, id)
}

fn open_encrypted(path: &Path, id: &age::x25519::Identity) -> ArchiveReader {
    let keys = ocpvault::crypto::DecryptKeys {
        identities: vec![Box::new(id.clone())],
        passphrase: None,
    };
    let inner = ocpvault::crypto::open_encrypted(path, &keys).unwrap();
    ArchiveReader::from_source(path, inner).unwrap()
}

/// The plaintext of an encrypted archive, by the age CLI where it is installed
/// (interop), else by the age crate.
fn decrypt(path: &Path, id: &age::x25519::Identity) -> Vec<u8> {
    use age::secrecy::ExposeSecret;
    if crate::common::have_tool("age", "age") {
        let key = path.with_extension("key");
        std::fs::write(&key, id.to_string().expose_secret()).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key)
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age -d: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&key).unwrap();
        return out.stdout;
    }
    let dec = age::Decryptor::new(File::open(path).unwrap()).unwrap();
    let mut r = dec
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut plain).unwrap();
    plain
}

fn finish(w: ArchiveWriter) -> PathBuf {
    let facts = HostFacts {
        hostname: "h".into(),
        os_release: None,
        root: "/".into(),
    };
    w.finish(facts, Default::default()).unwrap().0
}

/// Strict verify, then GNU tar must list exactly `members` objects.
fn check(path: &Path, objects: usize) -> ArchiveReader {
    let mut r = ArchiveReader::open(path).unwrap();
    let report = ocpvault::verify::verify_archive(&mut r, &|_| {});
    assert!(report.is_sound(), "{:?}", report.findings);
    if crate::common::have_tool("tar", "tar") {
        let out = std::process::Command::new("tar")
            .arg("-tf")
            .arg(path)
            .output()
            .unwrap();
        let listing = crate::common::stdout_ok(&out);
        let own = listing
            .lines()
            .filter(|l| l.starts_with("objects/"))
            .count();
        // Small objects share packs (formats/archive-v2.md §3).
        let packed = r
            .index()
            .objects
            .iter()
            .filter(|o| o.pack.is_some())
            .count();
        assert_eq!(own + packed, objects, "tar lists:\n{listing}");
    }
    r
}

/// Pseudo-random, so zstd cannot shrink it below the 1 MiB small-object limit.
fn data(seed: u64, len: usize) -> Vec<u8> {
    crate::common::incompressible(len, seed | 1)
}

#[test]
fn a_large_object_is_written_once_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain(dir.path());
    let big = data(1, 3 << 20);
    let p = w.prepare_object(&mut &big[..]).unwrap();
    add_prepared_file(&mut w, "files", "/var/lib/etcd/member/snap/db", p, (0, 0)).unwrap();
    let small = b"kind: MasterConfig\n".to_vec();
    let p = w.prepare_object(&mut &small[..]).unwrap();
    add_prepared_file(
        &mut w,
        "files",
        "/etc/origin/master/master-config.yaml",
        p,
        (0, 0),
    )
    .unwrap();
    let path = finish(w);
    let mut r = check(&path, 2);
    let mut back = Vec::new();
    std::io::copy(
        &mut r.open_object(&ObjectId::of_bytes(&big)).unwrap(),
        &mut back,
    )
    .unwrap();
    assert!(back == big, "large object reads back changed");
    // No temporary or spool files are left next to the archive.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.ocpvault")]);
}

#[test]
fn an_uncommitted_large_object_is_cut_off_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain(dir.path());
    // Prepared but dropped, as when a file changes while it is read.
    let dropped = data(2, 4 << 20);
    let p = w.prepare_object(&mut &dropped[..]).unwrap();
    drop(p);
    let kept = b"kept\n".to_vec();
    let p = w.prepare_object(&mut &kept[..]).unwrap();
    add_prepared_file(&mut w, "files", "/etc/kept", p, (0, 0)).unwrap();
    // And a last one dropped right before finish.
    let p = w.prepare_object(&mut &data(3, 2 << 20)[..]).unwrap();
    drop(p);
    let path = finish(w);
    let r = check(&path, 1);
    assert!(r.index().objects.iter().all(|o| o.size == 5));
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size < 64 * 1024,
        "dropped data left in the archive: {size} bytes"
    );
}

#[test]
fn a_large_duplicate_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain(dir.path());
    let big = data(4, 2 << 20);
    for path in ["/a", "/b"] {
        let p = w.prepare_object(&mut &big[..]).unwrap();
        add_prepared_file(&mut w, "files", path, p, (0, 0)).unwrap();
    }
    let path = finish(w);
    check(&path, 1);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < (2 << 20) + (256 << 10), "stored twice: {size} bytes");
}

#[test]
fn an_encrypted_archive_holds_the_same_bytes_as_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    // Several MiB, so the chunk with the placeholder header is held back while later
    // chunks are encrypted, then patched.
    let big = data(5, 6 << 20);
    let mut paths = Vec::new();
    let mut id = None;
    for encrypt in [false, true] {
        let sub = dir.path().join(if encrypt { "age" } else { "plain" });
        std::fs::create_dir(&sub).unwrap();
        let mut w = if encrypt {
            let (w, i) = encrypted(&sub);
            id = Some(i);
            w
        } else {
            plain(&sub)
        };
        let p = w.prepare_object(&mut &big[..]).unwrap();
        add_prepared_file(&mut w, "files", "/db", p, (0, 0)).unwrap();
        let p = w.prepare_object(&mut &b"small\n"[..]).unwrap();
        add_prepared_file(&mut w, "files", "/etc/small", p, (0, 0)).unwrap();
        paths.push(finish(w));
    }
    let id = id.unwrap();
    check(&paths[0], 2);
    let mut r = open_encrypted(&paths[1], &id);
    let report = ocpvault::verify::verify_archive(&mut r, &|_| {});
    assert!(report.is_sound(), "{:?}", report.findings);
    let inside = decrypt(&paths[1], &id);
    assert!(
        inside == std::fs::read(&paths[0]).unwrap(),
        "the decrypted archive differs from the plain one"
    );
}

#[test]
fn uncommitted_large_objects_of_an_encrypted_archive_become_discarded_members() {
    struct Broken(usize);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::from_raw_os_error(5)); // EIO
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(0x5a);
            self.0 -= n;
            Ok(n)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut w, id) = encrypted(dir.path());
    let big = data(9, 5 << 20);
    // A duplicate of a large object.
    for path in ["/a", "/b"] {
        let p = w.prepare_object(&mut &big[..]).unwrap();
        add_prepared_file(&mut w, "files", path, p, (0, 0)).unwrap();
    }
    // Prepared but dropped, as when a file changes while it is read.
    drop(w.prepare_object(&mut &data(10, 3 << 20)[..]).unwrap());
    // A source failing half-way.
    assert!(w.prepare_object(&mut Broken(6 << 20)).is_err());
    let p = w.prepare_object(&mut &b"kept\n"[..]).unwrap();
    add_prepared_file(&mut w, "files", "/etc/kept", p, (0, 0)).unwrap();
    // And one dropped right before finish.
    drop(w.prepare_object(&mut &data(11, 2 << 20)[..]).unwrap());
    let path = finish(w);

    let mut r = open_encrypted(&path, &id);
    let report = ocpvault::verify::verify_archive(&mut r, &|_| {});
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(r.index().objects.len(), 2);
    let mut back = Vec::new();
    std::io::copy(
        &mut r.open_object(&ObjectId::of_bytes(&big)).unwrap(),
        &mut back,
    )
    .unwrap();
    assert!(back == big, "large object reads back changed");
    let scan = r.scan_members().unwrap();
    let discarded: Vec<String> = scan
        .members
        .iter()
        .filter(|m| m.name.starts_with(b"discarded/"))
        .map(|m| {
            let name = String::from_utf8_lossy(&m.name).into_owned();
            assert_eq!(name, format!("discarded/{:016x}", m.offset));
            name
        })
        .collect();
    assert_eq!(discarded.len(), 4, "{discarded:?}");

    // The CLI's verify agrees.
    {
        use age::secrecy::ExposeSecret;
        let key = dir.path().join("key.txt");
        std::fs::write(&key, id.to_string().expose_secret()).unwrap();
        let out = crate::common::ocpvault(&[
            "verify",
            "--identity",
            key.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        crate::common::stdout_ok(&out);
    }
    // GNU tar lists the decrypted stream, discarded members and all.
    let inside = decrypt(&path, &id);
    let plain_copy = dir.path().join("inside.ocpvault");
    std::fs::write(&plain_copy, &inside).unwrap();
    if crate::common::have_tool("tar", "tar") {
        let out = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&plain_copy)
            .output()
            .unwrap();
        let listing = crate::common::stdout_ok(&out);
        assert_eq!(
            listing
                .lines()
                .filter(|l| l.starts_with("discarded/"))
                .count(),
            4,
            "{listing}"
        );
    }
    // Discarded members belong to encrypted archives only: the same stream as a
    // plain archive fails verify.
    let mut r = ArchiveReader::open(&plain_copy).unwrap();
    let report = ocpvault::verify::verify_archive(&mut r, &|_| {});
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("not encrypted")),
        "{:?}",
        report.findings
    );
}

#[test]
fn verify_refuses_a_discarded_member_not_named_for_its_offset() {
    if !crate::common::have_tool("age", "age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut w, id) = encrypted(dir.path());
    drop(w.prepare_object(&mut &data(12, 2 << 20)[..]).unwrap());
    let p = w.prepare_object(&mut &b"kept\n"[..]).unwrap();
    add_prepared_file(&mut w, "files", "/etc/kept", p, (0, 0)).unwrap();
    let path = finish(w);
    let mut inside = decrypt(&path, &id);
    // Rename the discarded member (same length, valid checksum) and encrypt again.
    let at = (0..inside.len())
        .step_by(512)
        .find(|&i| inside[i..].starts_with(b"discarded/"))
        .expect("a discarded member");
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&inside[at..at + 512]);
    header.as_mut_bytes()[10 + 15] ^= 1; // the last hex digit of the offset
    header.set_cksum();
    inside[at..at + 512].copy_from_slice(header.as_bytes());
    let plain = dir.path().join("renamed.ocpvault");
    std::fs::write(&plain, &inside).unwrap();
    let again = dir.path().join("renamed.ocpvault.age");
    let out = std::process::Command::new("age")
        .arg("-r")
        .arg(id.to_public().to_string())
        .arg("-o")
        .arg(&again)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut r = open_encrypted(&again, &id);
    let report = ocpvault::verify::verify_archive(&mut r, &|_| {});
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("not named for its data offset")),
        "{:?}",
        report.findings
    );
}

/// A plain layer on a disk that fills up after `budget` bytes.
struct Full {
    inner: BufWriter<File>,
    budget: u64,
}
impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.budget {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.budget -= buf.len() as u64;
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
impl Sink for Full {
    fn finish(self: Box<Self>) -> std::io::Result<File> {
        Box::new(self.inner).finish()
    }
    fn hold(&mut self, at: u64, len: u64) -> std::io::Result<()> {
        self.inner.hold(at, len)
    }
    fn patch(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.patch(at, bytes)
    }
    fn can_truncate(&self) -> bool {
        true
    }
    fn truncate_to(&mut self, at: u64) -> std::io::Result<()> {
        self.inner.truncate_to(at)
    }
}

#[test]
fn a_full_disk_during_a_large_object_fails_the_whole_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ArchiveWriter::create(&dir.path().join("a.ocpvault"), options(), |f| {
        Ok(Box::new(Full {
            inner: f,
            budget: 1 << 20,
        }) as Box<dyn Sink>)
    })
    .unwrap();
    let big = data(6, 4 << 20);
    let err = w.prepare_object(&mut &big[..]).err().expect("disk full");
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
    // A collector records that as one file failing and goes on; the next object and
    // finish must still fail: the archive has a hole.
    let small = b"x".to_vec();
    let err = w.prepare_object(&mut &small[..]).err().expect("poisoned");
    assert!(err.to_string().contains("failed earlier"), "{err}");
    let facts = HostFacts {
        hostname: "h".into(),
        os_release: None,
        root: "/".into(),
    };
    let err = w
        .finish(facts, Default::default())
        .expect_err("finish fails");
    assert!(err.to_string().contains("failed earlier"), "{err}");
    assert!(!dir.path().join("a.ocpvault").exists());
}

#[test]
fn a_source_read_error_cuts_the_member_off_and_the_archive_goes_on() {
    struct Broken(usize);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::from_raw_os_error(5)); // EIO
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(0x5a);
            self.0 -= n;
            Ok(n)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain(dir.path());
    let err = w.prepare_object(&mut Broken(3 << 20)).err().expect("EIO");
    assert_eq!(err.raw_os_error(), Some(5));
    let kept = b"kept".to_vec();
    let p = w.prepare_object(&mut &kept[..]).unwrap();
    add_prepared_file(&mut w, "files", "/etc/kept", p, (0, 0)).unwrap();
    let path = finish(w);
    check(&path, 1);
}

#[test]
fn a_stale_large_object_cannot_be_committed_over_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain(dir.path());
    let a = w.prepare_object(&mut &data(7, 2 << 20)[..]).unwrap();
    // Preparing B cuts A off and reuses its offset.
    let b = w.prepare_object(&mut &data(8, 2 << 20)[..]).unwrap();
    assert!(
        w.commit_object(a).is_err(),
        "a stale object must be refused"
    );
    add_prepared_file(&mut w, "files", "/b", b, (0, 0)).unwrap();
    let path = finish(w);
    check(&path, 1);
}
