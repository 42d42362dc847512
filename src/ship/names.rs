//! Archive file names: `<hostname>-<YYYYMMDDTHHMMSSZ>[-N].ocpvault[.age]`.

use chrono::{DateTime, NaiveDateTime, Utc};

/// A parsed archive name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveName {
    pub file_name: String,
    pub host: String,
    pub time: DateTime<Utc>,
    /// The `-N` suffix added when two snapshots share a second.
    pub seq: u32,
    pub encrypted: bool,
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
    let time = NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()?
        .and_utc();
    Some(ArchiveName {
        file_name: name.to_string(),
        host: host.to_string(),
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
    }
}
