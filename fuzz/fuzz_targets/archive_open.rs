//! Whole-container fuzzing: magic, trailer, index, manifest, member scan and every
//! object, through the same calls `ocpvault verify` makes. Must never panic, hang or
//! allocate without bound; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocpvault_archive::ArchiveReader;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let source = Box::new(Cursor::new(data.to_vec()));
    if let Ok(mut reader) = ArchiveReader::from_source(Path::new("fuzz"), source) {
        let _ = ocpvault_archive::verify::verify_archive(&mut reader, &|_| {});
    }
});
