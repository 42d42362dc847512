//! Format v2 (formats/archive-v2.md): small objects share packs, and the entries and
//! object rows are in chunks the index locates, so that reading one file reads the
//! index, two chunks and one pack, however many entries the archive holds.

use ocpvault_archive::verify::verify_archive;
use ocpvault_archive::{
    ArchiveReader, ArchiveWriter, ByteString, CHUNK_ITEMS, Entry, EntryType, HostFacts, PACK_MAX,
    ReadSeek, Scope, WriterOptions,
};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn entry(path: &str, kind: EntryType, size: u64) -> Entry {
    Entry {
        path: ByteString(path.as_bytes().to_vec()),
        kind,
        source: "files".into(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        user: None,
        group: None,
        mtime: "2026-01-01T00:00:00Z".into(),
        size,
        object: None,
        target: None,
        link: None,
        hardlink_group: None,
        rdev: None,
        xattrs: vec![],
    }
}

fn text(i: usize) -> Vec<u8> {
    format!(
        "kind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: \"{:x}\"\n",
        i * 7919
    )
    .repeat(4 + i % 8)
    .into_bytes()
}

/// An archive of `n` small files under /etc/many, plus a hard link at the end whose
/// file is in the first chunk.
fn write_many(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("many.ocpvault");
    let opts = WriterOptions {
        level: 3,
        threads: 0,
        created: (0, 0),
    };
    let mut w = ArchiveWriter::create(&path, opts, |f| Ok(Box::new(f))).unwrap();
    for i in 0..n {
        let data = text(i);
        let id = w.add_object(&mut &data[..]).unwrap();
        let mut e = entry(
            &format!("/etc/many/f{i:06}"),
            EntryType::File,
            data.len() as u64,
        );
        e.object = Some(id);
        if i == 0 {
            e.hardlink_group = Some(1);
        }
        w.add_entry(e);
    }
    let mut link = entry("/etc/zz-link", EntryType::Hardlink, text(0).len() as u64);
    link.link = Some(ByteString(b"/etc/many/f000000".to_vec()));
    link.hardlink_group = Some(1);
    w.add_entry(link);
    w.add_entry(entry("/etc/many", EntryType::Dir, 0));
    // A framed object (over 4 MiB): a scoped open that does not load its row must
    // not trip over its frame table.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i / 4096) as u8).collect();
    let id = w.add_object(&mut &big[..]).unwrap();
    let mut e = entry("/var/big", EntryType::File, big.len() as u64);
    e.object = Some(id);
    w.add_entry(e);
    let host = HostFacts {
        hostname: "h".into(),
        os_release: None,
        root: ByteString(b"/".to_vec()),
    };
    w.finish(host, Default::default()).unwrap().0
}

/// A file source that counts the bytes read through it.
struct Counted(BufReader<File>, Arc<AtomicU64>);

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Seek for Counted {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

fn counted(path: &Path) -> (Box<dyn ReadSeek>, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let f = BufReader::with_capacity(8 * 1024, File::open(path).unwrap());
    (Box::new(Counted(f, Arc::clone(&n))), n)
}

fn read_all(r: &mut ArchiveReader, path: &str) -> Vec<u8> {
    let e = r.manifest().entry(path.as_bytes()).cloned().unwrap();
    let mut out = Vec::new();
    r.open_object(&e.object.unwrap())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn small_objects_share_packs_and_verify_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3 * CHUNK_ITEMS + 10;
    let path = write_many(dir.path(), n);
    let mut r = ArchiveReader::open(&path).unwrap();
    assert_eq!(r.version(), 2);
    assert_eq!(r.manifest().entries.len(), n + 3);
    assert_eq!(r.index().entry_chunks.len(), 4);
    assert_eq!(r.index().object_chunks.len(), 4);
    let rows = r.index().objects.clone();
    assert_eq!(rows.len(), n + 1);
    assert_eq!(rows.iter().filter(|o| o.pack.is_none()).count(), 1);
    // Packs hold at most 1 MiB each, and more than one object each.
    let mut per_pack = std::collections::BTreeMap::new();
    for o in rows.iter().filter(|o| o.pack.is_some()) {
        *per_pack.entry(o.pack.unwrap()).or_insert(0u64) += o.size;
    }
    assert!(
        per_pack.len() > 1 && per_pack.len() < n / 10,
        "{per_pack:?}"
    );
    assert!(per_pack.values().all(|s| *s <= PACK_MAX));
    for i in [0, 1, CHUNK_ITEMS, n - 1] {
        assert_eq!(read_all(&mut r, &format!("/etc/many/f{i:06}")), text(i));
    }
    let report = verify_archive(&mut r, &|_| {});
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(report.objects_checked, n as u64 + 1);

    // GNU tar lists the packs and chunks as ordinary members.
    if let Ok(out) = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&path)
        .output()
    {
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(list.contains("packs/00000001.zst\n"), "{list}");
        assert!(list.contains("entries/00000004.json.zst\n"), "{list}");
        assert!(list.contains("objects-index/00000001.json.zst\n"), "{list}");
    }
}

#[test]
fn one_path_reads_only_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let n = 8 * CHUNK_ITEMS;
    let path = write_many(dir.path(), n);
    let total = std::fs::metadata(&path).unwrap().len();

    let want = format!("/etc/many/f{:06}", 5 * CHUNK_ITEMS + 3);
    let (src, read) = counted(&path);
    let mut r =
        ArchiveReader::from_source_scoped(&path, src, &Scope::Paths(vec![want.clone().into()]))
            .unwrap();
    // One entry chunk (of 1,024 entries) and one object chunk.
    assert!(
        r.manifest().entries.len() <= CHUNK_ITEMS,
        "{}",
        r.manifest().entries.len()
    );
    assert!(r.index().objects.len() <= CHUNK_ITEMS);
    assert_eq!(read_all(&mut r, &want), text(5 * CHUNK_ITEMS + 3));
    let n_read = read.load(Ordering::Relaxed);
    // What one file needs: one entry chunk, one object chunk, one pack, plus the
    // index, the magic and trailer blocks and the buffering (8 KiB reads): 64 KiB.
    let full = ArchiveReader::open(&path).unwrap();
    let ix = full.index();
    let key = want.as_bytes();
    let entry_chunk = ix
        .entry_chunks
        .iter()
        .find(|c| c.first.as_bytes() <= key && key <= c.last.as_bytes())
        .unwrap();
    let row = r.index().objects[0];
    let hex = row.id.to_hex();
    let object_chunk = ix
        .object_chunks
        .iter()
        .find(|c| c.first.as_bytes() <= hex.as_bytes() && hex.as_bytes() <= c.last.as_bytes())
        .unwrap();
    let bound = entry_chunk.length + object_chunk.length + row.length + 64 * 1024;
    assert!(
        n_read < bound && n_read * 4 < total,
        "read {n_read} of {total} bytes for one file (bound {bound})"
    );

    // A whole open of the same archive reads every chunk.
    let (src, all_read) = counted(&path);
    let r = ArchiveReader::from_source_scoped(&path, src, &Scope::All).unwrap();
    assert_eq!(r.manifest().entries.len(), n + 3);
    assert!(all_read.load(Ordering::Relaxed) > 3 * n_read);

    // A subtree spans every chunk under it; a hard link brings in its file's chunk.
    let r = ArchiveReader::open_scoped(&path, &Scope::Paths(vec![b"/etc/many/".to_vec()])).unwrap();
    assert_eq!(r.manifest().entries.len(), n + 1);
    let mut r =
        ArchiveReader::open_scoped(&path, &Scope::Paths(vec![b"/etc/zz-link".to_vec()])).unwrap();
    assert!(r.manifest().entry(b"/etc/many/f000000").is_some());
    assert_eq!(read_all(&mut r, "/etc/many/f000000"), text(0));
    // A path that is not there is simply absent.
    let r = ArchiveReader::open_scoped(&path, &Scope::Paths(vec![b"/etc/nope".to_vec()])).unwrap();
    assert!(r.manifest().entry(b"/etc/nope").is_none());
}

#[test]
fn a_damaged_chunk_or_pack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_many(dir.path(), 2 * CHUNK_ITEMS);
    let good = std::fs::read(&path).unwrap();
    let r = ArchiveReader::open(&path).unwrap();
    let chunk = r.index().entry_chunks[1].clone();
    let pack = r.index().objects[0];
    drop(r);

    let mut bad = good.clone();
    bad[(chunk.offset + chunk.length / 2) as usize] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let err = ArchiveReader::open(&path).err().unwrap().to_string();
    assert!(err.contains("entries/00000002.json.zst"), "{err}");
    // A scoped open that does not need that chunk still works.
    let scope = Scope::Paths(vec![b"/etc/many/f000001".to_vec()]);
    assert!(ArchiveReader::open_scoped(&path, &scope).is_ok());

    let mut bad = good.clone();
    bad[(pack.offset + 10) as usize] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let mut r = ArchiveReader::open(&path).unwrap();
    let e = r.manifest().entry(b"/etc/many/f000000").cloned().unwrap();
    let err = match r.open_object(&e.object.unwrap()) {
        Err(e) => e.to_string(),
        Ok(mut o) => o.read_to_end(&mut Vec::new()).unwrap_err().to_string(),
    };
    assert!(err.contains("packs/00000001.zst"), "{err}");
    let report = verify_archive(&mut r, &|_| {});
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.subject == "packs/00000001.zst"),
        "{:?}",
        report.findings
    );
}
