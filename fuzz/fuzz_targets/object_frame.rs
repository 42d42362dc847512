//! Object frames: the fuzz input becomes the stored bytes of one object inside an
//! otherwise valid archive, then the object is read through `open_object` (zstd
//! decoding, size limit, content and stored-bytes SHA-256). Must never panic, and a
//! read that succeeds must return bytes whose SHA-256 is the object id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocpvault_archive::{ArchiveReader, ObjectId, expected_member_header, magic_bytes};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read};
use std::path::Path;

fn member(out: &mut Vec<u8>, name: &str, data: &[u8]) -> u64 {
    out.extend_from_slice(&expected_member_header(name, data.len() as u64, 0).expect("our names"));
    let off = out.len() as u64;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    off
}

fuzz_target!(|data: &[u8]| {
    // Claim the content is "hello" (5 bytes): only a frame decoding to it may pass.
    let id = ObjectId::of_bytes(b"hello");
    let mut out = Vec::new();
    member(&mut out, "OCPVAULT", &magic_bytes());
    let obj_off = member(&mut out, &format!("objects/{id}.zst"), data);
    let manifest = br#"{"format":"ocpvault-manifest","version":1,"ocpvault_version":"0","created":"2026-01-01T00:00:00Z","host":{"hostname":"f","os_release":null,"root":"/"},"sources":[],"entries":[]}"#;
    let mz = zstd::bulk::compress(manifest, 1).expect("compress");
    let m_off = member(&mut out, "manifest.json.zst", &mz);
    let index = format!(
        r#"{{"format":"ocpvault-index","version":1,"manifest":{{"offset":{m_off},"length":{},"size":{},"sha256":"{}"}},"objects":[{{"id":"{id}","offset":{obj_off},"length":{},"size":5}}]}}"#,
        mz.len(),
        manifest.len(),
        hex::encode(Sha256::digest(manifest)),
        data.len()
    );
    let i_off = member(&mut out, "index.json", index.as_bytes());
    let trailer = format!(
        "ocpvault-trailer 1 {i_off:020} {:020} {}\n",
        index.len(),
        hex::encode(Sha256::digest(index.as_bytes()))
    );
    member(&mut out, "TRAILER", trailer.as_bytes());
    out.extend_from_slice(&[0u8; 1024]);
    let mut reader = ArchiveReader::from_source(Path::new("fuzz"), Box::new(Cursor::new(out)))
        .expect("the frame around the object is valid");
    let mut got = Vec::new();
    if let Ok(mut r) = reader.open_object(&id) {
        if r.read_to_end(&mut got).is_ok() {
            assert_eq!(got, b"hello");
        }
    }
});
