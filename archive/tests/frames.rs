//! Large objects are stored as independent zstd frames with a frame table (spec
//! §4.1): a reader seeks in them, reading one frame; verify checks every frame.

use ocpvault_archive::verify::verify_archive;
use ocpvault_archive::{
    ArchiveReader, ArchiveWriter, ByteString, Entry, EntryType, FRAME_SIZE, HostFacts, Sink,
    WriterOptions,
};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Bytes that compress somewhat and differ at every position.
fn content(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|i| {
            if i % 3 == 0 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            } else {
                (i / 4096) as u8
            }
        })
        .collect()
}

/// Writes `data` as the one object of a plain archive, compressing its frames on
/// the calling thread (`threads` 0) or in the parallel pipeline.
fn write_archive(dir: &Path, data: &[u8], threads: u32) -> PathBuf {
    let path = dir.join(format!("h-{threads}.ocpvault"));
    let opts = WriterOptions {
        level: 3,
        threads,
        created: (0, 0),
    };
    let mut w = ArchiveWriter::create(&path, opts, |f| Ok(Box::new(f) as Box<dyn Sink>)).unwrap();
    let id = w.add_object(&mut &data[..]).unwrap();
    w.add_entry(Entry {
        path: ByteString(b"/var/lib/etcd/member/snap/db".to_vec()),
        kind: EntryType::File,
        source: "files".into(),
        mode: 0o600,
        uid: 0,
        gid: 0,
        user: None,
        group: None,
        mtime: "2026-01-01T00:00:00Z".into(),
        size: data.len() as u64,
        object: Some(id),
        target: None,
        link: None,
        hardlink_group: None,
        rdev: None,
        xattrs: vec![],
    });
    let host = HostFacts {
        hostname: "h".into(),
        os_release: None,
        root: ByteString(b"/".to_vec()),
    };
    w.finish(host, Default::default()).unwrap().0
}

#[test]
fn large_objects_are_framed_and_seekable_serial_and_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let len = 2 * FRAME_SIZE as usize + 12_345;
    let data = content(len);
    let mut archives = Vec::new();
    for threads in [0, 1, 3] {
        let path = write_archive(dir.path(), &data, threads);
        archives.push(std::fs::read(&path).unwrap());
        let mut reader = ArchiveReader::open(&path).unwrap();
        let id = reader.manifest().entries[0].object.unwrap();
        let table = reader.frame_table(&id).expect("a frame table").clone();
        assert_eq!(table.frame_size, FRAME_SIZE);
        assert_eq!(table.frames.len(), 3, "threads={threads}");
        let stored: u64 = table.frames.iter().map(|f| f.length).sum();
        assert_eq!(stored, reader.object_location(&id).unwrap().length);
        // The whole stream still reads sequentially, checked by its SHA-256.
        let mut all = Vec::new();
        reader
            .open_object(&id)
            .unwrap()
            .read_to_end(&mut all)
            .unwrap();
        assert!(all == data, "sequential read differs (threads={threads})");
        assert!(verify_archive(&mut reader, &|_| {}).is_sound());

        let mut obj = reader.into_framed_object(&id).unwrap();
        assert_eq!(obj.size(), len as u64);
        // One read in the last frame reads only that frame's stored bytes.
        let at = 2 * FRAME_SIZE + 100;
        obj.seek(SeekFrom::Start(at)).unwrap();
        let mut buf = [0u8; 4096];
        obj.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &data[at as usize..at as usize + 4096]);
        assert_eq!(obj.stored_bytes_read(), table.frames[2].length);
        // A read across a frame boundary.
        let at = FRAME_SIZE - 10;
        obj.seek(SeekFrom::Start(at)).unwrap();
        let mut buf = vec![0u8; 100];
        obj.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &data[at as usize..at as usize + 100]);
        // Past the end: nothing.
        obj.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(obj.read(&mut buf).unwrap(), 0);
    }
    // Frames compressed in parallel are written in order: the same bytes.
    assert!(archives.iter().all(|a| *a == archives[0]));
}

#[test]
fn a_damaged_frame_fails_its_own_read_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(2 * FRAME_SIZE as usize + 1);
    let path = write_archive(dir.path(), &data, 2);
    let (id, frame1_at) = {
        let r = ArchiveReader::open(&path).unwrap();
        let id = r.manifest().entries[0].object.unwrap();
        let off = r.object_location(&id).unwrap().offset;
        (id, off + r.frame_table(&id).unwrap().frames[0].length)
    };
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[frame1_at as usize + 20] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    let mut reader = ArchiveReader::open(&path).unwrap();
    let report = verify_archive(&mut reader, &|_| {});
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("frame 1: stored bytes fail")),
        "{:?}",
        report.findings
    );
    let mut obj = reader.into_framed_object(&id).unwrap();
    let mut buf = [0u8; 16];
    obj.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[..], &data[..16], "frame 0 is intact");
    obj.seek(SeekFrom::Start(FRAME_SIZE + 5)).unwrap();
    let err = obj.read(&mut buf).unwrap_err();
    assert!(err.to_string().contains("frame 1"), "{err}");
}

#[test]
fn objects_of_one_frame_have_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(FRAME_SIZE as usize);
    let path = write_archive(dir.path(), &data, 2);
    let reader = ArchiveReader::open(&path).unwrap();
    let id = reader.manifest().entries[0].object.unwrap();
    assert!(reader.frame_table(&id).is_none());
    assert!(reader.index().frames.is_empty());
}
