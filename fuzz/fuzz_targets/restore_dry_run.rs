//! Fuzzed manifests (issue #12) through what an administrator runs on an archive from
//! an untrusted store: the input is the manifest JSON, wrapped here in a container
//! whose hashes, index and trailer are all correct (so the fuzzer explores the
//! manifest, not the checksums), then opened, restored with `--dry-run` under a
//! target that does not exist (nothing on this machine is read or written), and
//! listed with `ls -l`.
//!
//! `ls -l` formatting lives in the CLI (`cli::archive_cmds::ls`), which reads the
//! archive from a path and prints to stdout: the target writes the container to one
//! temporary file per process and calls it; run with `-close_fd_mask=1` to silence
//! the listing. Must never panic, hang or allocate without bound; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocpvault::archive::{ArchiveReader, expected_member_header};
use ocpvault::cli::archive_cmds::{LsArgs, ReadArchive, ls};
use ocpvault::files::restore::{RestoreOptions, restore};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// One object every fuzzed entry may refer to: "x\n".
const OBJECT: &[u8] = b"x\n";

fn push_member(out: &mut Vec<u8>, name: &str, data: &[u8]) -> Option<u64> {
    out.extend_from_slice(&expected_member_header(name, data.len() as u64, 0)?);
    let offset = out.len() as u64;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    Some(offset)
}

/// A container (spec §1) around `manifest`, consistent in every hash and offset.
fn container(manifest: &[u8]) -> Option<Vec<u8>> {
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let mut out = Vec::new();
    push_member(&mut out, "OCPVAULT", b"ocpvault-archive 1\n")?;
    let id = sha(OBJECT);
    let obj = zstd::bulk::compress(OBJECT, 1).ok()?;
    let ooff = push_member(&mut out, &format!("objects/{id}.zst"), &obj)?;
    let mz = zstd::bulk::compress(manifest, 1).ok()?;
    let moff = push_member(&mut out, "manifest.json.zst", &mz)?;
    let index = serde_json::json!({
        "format": "ocpvault-index", "version": 1,
        "manifest": {"offset": moff, "length": mz.len(), "size": manifest.len(),
                     "sha256": sha(manifest), "stored_sha256": sha(&mz)},
        "objects": [{"id": id, "offset": ooff, "length": obj.len(), "size": OBJECT.len(),
                     "stored_sha256": sha(&obj)}]
    });
    let iz = zstd::bulk::compress(&serde_json::to_vec(&index).ok()?, 1).ok()?;
    let ioff = push_member(&mut out, "index.json.zst", &iz)?;
    let trailer = format!(
        "ocpvault-trailer 1 {ioff:020} {:020} {}\n",
        iz.len(),
        sha(&iz)
    );
    push_member(&mut out, "TRAILER", trailer.as_bytes())?;
    out.extend_from_slice(&[0u8; 1024]);
    Some(out)
}

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("ocpvault-fuzz-{}.ocpvault", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = container(data) else {
        return;
    };
    let source = Box::new(Cursor::new(bytes.clone()));
    let Ok(mut reader) = ArchiveReader::from_source(Path::new("fuzz"), source) else {
        return;
    };
    for paths in [Vec::new(), vec!["/etc".to_string()]] {
        let opts = RestoreOptions {
            paths,
            target: Some(PathBuf::from("/nonexistent-ocpvault-fuzz/target")),
            dry_run: true,
            ..Default::default()
        };
        let _ = restore(&mut reader, &opts);
    }
    let path = scratch();
    if std::fs::write(&path, &bytes).is_ok() {
        let _ = ls(LsArgs {
            input: ReadArchive {
                archive: path.clone(),
                identity: Vec::new(),
                passphrase: false,
            },
            paths: Vec::new(),
            long: true,
            json: false,
        });
    }
});
