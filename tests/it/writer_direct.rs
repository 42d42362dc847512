//! Large objects in plain archives are compressed straight into the archive as a
//! tentative member (placeholder header, patched on commit, cut off when not
//! committed). These tests drive the writer through its library API and check the
//! result with the strict verifier and with GNU tar.

use ocpvault::archive::{ArchiveReader, ArchiveWriter, HostFacts, ObjectId, Sink, WriterOptions};
use ocpvault::collect::add_prepared_file;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn options() -> WriterOptions {
    WriterOptions {
        level: 1,
        threads: 0,
        created: (1_700_000_000, 0),
    }
}

fn plain(dir: &Path) -> ArchiveWriter {
    ArchiveWriter::create(&dir.join("a.ocpvault"), options(), |f| {
        Ok(Box::new(f) as Box<dyn Sink>)
    })
    .unwrap()
}

/// A layer that cannot patch (as age encryption cannot): large objects are spooled.
struct Opaque(BufWriter<File>);
impl Write for Opaque {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
impl Sink for Opaque {
    fn finish(self: Box<Self>) -> std::io::Result<File> {
        self.0.into_inner().map_err(|e| e.into_error())
    }
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
fn a_layer_that_cannot_patch_gets_the_same_archive_through_a_spool() {
    let dir = tempfile::tempdir().unwrap();
    let big = data(5, 3 << 20);
    let mut paths = Vec::new();
    for opaque in [false, true] {
        let sub = dir.path().join(if opaque { "opaque" } else { "plain" });
        std::fs::create_dir(&sub).unwrap();
        let mut w = if opaque {
            ArchiveWriter::create(&sub.join("a.ocpvault"), options(), |f| {
                Ok(Box::new(Opaque(f)) as Box<dyn Sink>)
            })
            .unwrap()
        } else {
            plain(&sub)
        };
        let p = w.prepare_object(&mut &big[..]).unwrap();
        add_prepared_file(&mut w, "files", "/db", p, (0, 0)).unwrap();
        let path = finish(w);
        check(&path, 1);
        paths.push(path);
    }
    assert!(
        std::fs::read(&paths[0]).unwrap() == std::fs::read(&paths[1]).unwrap(),
        "direct and spooled writes must give byte-identical archives"
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
    fn can_patch(&self) -> bool {
        true
    }
    fn patch(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.patch(at, bytes)
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
