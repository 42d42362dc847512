//! Archive file names: `<hostname>[@<run_id>]-<YYYYMMDDTHHMMSSZ>[-N].ocpvault[.age]`.
//!
//! The run id sits between the hostname and the time, joined by `@`, a character
//! neither hostnames nor run ids may hold, so the name alone says which run an
//! archive belongs to (`list` and `prune` group encrypted archives without opening
//! them), and the writer's `-N` suffix still lands after the time.

use chrono::{DateTime, NaiveDateTime, Utc};

/// A parsed archive name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveName {
    pub file_name: String,
    pub host: String,
    /// The cluster run (`snapshot --run-id`), when the name carries one.
    pub run_id: Option<String>,
    pub time: DateTime<Utc>,
    /// The `-N` suffix added when two snapshots share a second.
    pub seq: u32,
    pub encrypted: bool,
}

/// The name `snapshot` gives an archive; `time` is `YYYYMMDDTHHMMSSZ`.
pub fn archive_file_name(host: &str, run_id: Option<&str>, time: &str, encrypted: bool) -> String {
    let ext = if encrypted {
        "ocpvault.age"
    } else {
        "ocpvault"
    };
    match run_id {
        Some(id) => format!("{host}@{id}-{time}.{ext}"),
        None => format!("{host}-{time}.{ext}"),
    }
}

/// Parses an archive file name; None for anything else.
pub fn parse_archive_name(name: &str) -> Option<ArchiveName> {
    let (stem, encrypted) = if let Some(s) = name.strip_suffix(".ocpvault.age") {
        (s, true)
    } else {
        (name.strip_suffix(".ocpvault")?, false)
    };
    // Optional "-N" after the timestamp.
    let (stem, seq) = match stem.rsplit_once('-') {
        Some((a, n)) if !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()) => {
            (a, n.parse().ok()?)
        }
        _ => (stem, 0),
    };
    let (host, ts) = stem.rsplit_once('-')?;
    if host.is_empty() || ts.len() != 16 {
        return None;
    }
    let (host, run_id) = match host.split_once('@') {
        Some((h, id)) if !h.is_empty() && crate::archive::is_valid_run_id(id) => {
            (h, Some(id.to_string()))
        }
        Some(_) => return None,
        None => (host, None),
    };
    let time = NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()?
        .and_utc();
    Some(ArchiveName {
        file_name: name.to_string(),
        host: host.to_string(),
        run_id,
        time,
        seq,
        encrypted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        let n = parse_archive_name("master-0.example.com-20261122T021935Z.ocpvault").unwrap();
        assert_eq!(n.host, "master-0.example.com");
        assert_eq!(n.seq, 0);
        assert!(!n.encrypted);
        let n = parse_archive_name("node-1-20261122T021935Z-2.ocpvault.age").unwrap();
        assert_eq!(n.host, "node-1");
        assert_eq!(n.seq, 2);
        assert!(n.encrypted);
        assert!(parse_archive_name("x.ocpvault").is_none());
        assert!(parse_archive_name("host-20261122T021935Z.tar").is_none());
        assert!(parse_archive_name("host-20261399T021935Z.ocpvault").is_none());
        assert_eq!(
            parse_archive_name("node-1-20261122T021935Z.ocpvault")
                .unwrap()
                .run_id,
            None
        );
    }

    #[test]
    fn names_with_a_run_id_parse() {
        let n = parse_archive_name("m-0.example.com@night-1.a-20261122T021935Z-3.ocpvault.age")
            .unwrap();
        assert_eq!(n.host, "m-0.example.com");
        assert_eq!(n.run_id.as_deref(), Some("night-1.a"));
        assert_eq!(n.seq, 3);
        assert!(n.encrypted);
        assert_eq!(
            archive_file_name("m0", Some("r1"), "20261122T021935Z", false),
            "m0@r1-20261122T021935Z.ocpvault"
        );
        for bad in [
            "m0@-20261122T021935Z.ocpvault",
            "@r1-20261122T021935Z.ocpvault",
            "m0@..-20261122T021935Z.ocpvault",
            "m0@.r-20261122T021935Z.ocpvault",
            "m0@a@b-20261122T021935Z.ocpvault",
        ] {
            assert!(parse_archive_name(bad).is_none(), "{bad}");
        }
    }
}
