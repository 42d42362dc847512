//! Replays the fuzz corpora and any crash artifacts (fuzz/corpus/*, fuzz/artifacts/*)
//! through the same parsers as the cargo-fuzz targets, on stable Rust, so every input
//! the fuzzers ever kept stays a regression test.

use ocpvault::archive::{ArchiveReader, Index, Manifest};
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "artifacts"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    out.sort();
    out
}

#[test]
fn archive_open_corpus_never_panics() {
    let files = inputs("archive_open");
    assert!(!files.is_empty(), "the archive_open corpus is committed");
    let mut opened = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        if let Ok(mut r) = ArchiveReader::from_source(&f, Box::new(Cursor::new(data))) {
            opened += 1;
            let _ = ocpvault::verify::verify_archive(&mut r, &|_| {});
        }
    }
    // The golden archive is in the corpus and must open.
    assert!(opened >= 1);
}

#[test]
fn index_manifest_corpus_never_panics() {
    for f in inputs("index_manifest") {
        let data = std::fs::read(&f).unwrap();
        let _ = serde_json::from_slice::<Index>(&data);
        if let Ok(m) = serde_json::from_slice::<Manifest>(&data) {
            let again = serde_json::to_vec(&m).unwrap();
            let back: Manifest = serde_json::from_slice(&again).unwrap();
            assert_eq!(back.entries, m.entries, "{}", f.display());
        }
    }
}
