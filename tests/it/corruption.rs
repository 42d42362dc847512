//! Corruption campaign (issue 8): many random single-byte changes and truncations of
//! a real archive. Verify must report a problem every time, and a restore must never
//! leave a file whose content differs from the original.

use ocpvault::archive::ArchiveReader;
use ocpvault::files::restore::{RestoreOptions, restore};
use ocpvault::verify::verify_archive;
use std::fs;
use std::path::{Path, PathBuf};

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn build_tree(root: &Path) {
    let m = root.join("etc/origin/master");
    fs::create_dir_all(&m).unwrap();
    fs::write(
        m.join("master-config.yaml"),
        "kind: MasterConfig\napiVersion: v1\n".repeat(40),
    )
    .unwrap();
    fs::write(m.join("ca.crt"), "-----BEGIN CERTIFICATE-----\nMIIC\n").unwrap();
    fs::write(m.join("ca-copy.crt"), "-----BEGIN CERTIFICATE-----\nMIIC\n").unwrap();
    std::os::unix::fs::symlink("ca.crt", m.join("ca-link.crt")).unwrap();
    // Larger than the in-memory limit, so the large-object writer path is covered too.
    let mut rng = Rng(7);
    let big: Vec<u8> = (0..1_300_000)
        .map(|i| if i % 3 == 0 { rng.next() as u8 } else { b'a' })
        .collect();
    fs::write(root.join("etc/origin/big.db"), big).unwrap();
}

fn is_reported(path: &Path) -> bool {
    match ArchiveReader::open(path) {
        Err(_) => true,
        Ok(mut r) => !verify_archive(&mut r, &|_| {}).is_sound(),
    }
}

/// Restores whatever the damaged archive allows and checks that every file written
/// matches the original tree byte for byte.
fn restore_writes_nothing_corrupt(archive: &Path, original: &Path, target: &Path) {
    let Ok(mut r) = ArchiveReader::open(archive) else {
        return;
    };
    let opts = RestoreOptions {
        target: Some(target.to_path_buf()),
        ..Default::default()
    };
    let _ = restore(&mut r, &opts);
    for f in walk(target) {
        let rel = f.strip_prefix(target).unwrap();
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            !name.starts_with(".ocpvault-tmp-"),
            "temporary file left: {}",
            f.display()
        );
        let orig = original.join(rel);
        if fs::symlink_metadata(&f).unwrap().is_file() {
            assert_eq!(
                fs::read(&f).unwrap(),
                fs::read(&orig).unwrap(),
                "corrupt file restored: {}",
                rel.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_single_byte_change_and_truncation_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    build_tree(&root);
    let archive = crate::common::snapshot(
        &root,
        dir.path(),
        &["--no-default-paths", "--include", "/etc/origin"],
    );
    let good = fs::read(&archive).unwrap();
    assert!(!is_reported(&archive), "the intact archive must verify");
    let bad = dir.path().join("bad.ocpvault");
    let mut rng = Rng(0x5eed_0cb7_a017);
    let changes = 600;
    for i in 0..changes {
        let mut bytes = good.clone();
        let at = rng.below(bytes.len() as u64) as usize;
        let flip = (rng.below(255) + 1) as u8;
        bytes[at] ^= flip;
        fs::write(&bad, &bytes).unwrap();
        assert!(
            is_reported(&bad),
            "change {i}: byte {at} ^= {flip:#04x} of {} went unnoticed",
            good.len()
        );
        if i % 15 == 0 {
            let target = dir.path().join(format!("t{i}"));
            restore_writes_nothing_corrupt(&bad, &root, &target);
        }
    }
    for i in 0..150 {
        let cut = rng.below(good.len() as u64) as usize;
        fs::write(&bad, &good[..cut]).unwrap();
        assert!(
            is_reported(&bad),
            "truncation {i} to {cut} bytes went unnoticed"
        );
    }
}
