//! The index and manifest JSON parsers (spec §5, §6), including byte strings, modes,
//! times and object ids. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocpvault_archive::{Index, Manifest, parse_mode, parse_time};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Index>(data);
    if let Ok(m) = serde_json::from_slice::<Manifest>(data) {
        for e in &m.entries {
            let _ = e.selinux_label();
            let _ = ocpvault_archive::is_normalized_path(e.path.as_bytes());
        }
        // What parses must serialise and parse back to the same value.
        let again = serde_json::to_vec(&m).expect("a parsed manifest serialises");
        let back: Manifest = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back.entries, m.entries);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_mode(text);
        let _ = parse_time(text);
    }
});
