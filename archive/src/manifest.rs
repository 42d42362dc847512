//! The manifest (spec §5): archive facts, per-source reports and one entry per path.

use super::{ByteString, ObjectId, base64_bytes};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Paths under this prefix hold data that is not a host file (spec §5.2).
pub const RESERVED_PREFIX: &str = "/.ocpvault/";

/// The whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub ocpvault_version: String,
    pub created: String,
    pub host: HostFacts,
    /// The cluster run this snapshot belongs to (spec §5), absent in archives written
    /// without `--run-id` and by versions before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
    pub sources: Vec<SourceReport>,
    #[serde(deserialize_with = "super::validate::bounded::items")]
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Finds an entry by exact path.
    pub fn entry(&self, path: &[u8]) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.path.as_bytes().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Finds a source report by name.
    pub fn source(&self, name: &str) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Longest run id (spec §5).
pub const MAX_RUN_ID_LEN: usize = 64;

/// True for a valid run id (spec §5): 1 to 64 characters of `[A-Za-z0-9._-]`,
/// starting with a letter or digit, and no `..`. Run ids become parts of file names
/// and object keys, so nothing that could name another directory passes.
pub fn is_valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RUN_ID_LEN
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && !id.contains("..")
}

/// Facts about the captured host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    pub os_release: Option<String>,
    pub root: ByteString,
}

/// What one source captured, skipped and failed (spec §5.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    pub name: String,
    pub status: SourceStatus,
    pub captured: u64,
    #[serde(default)]
    pub skipped: Vec<SkippedItem>,
    #[serde(default)]
    pub failed: Vec<FailedItem>,
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl SourceReport {
    /// A new, empty report that says the source captured everything.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            status: SourceStatus::Captured,
            captured: 0,
            skipped: Vec::new(),
            failed: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    /// True when this report should make the run finish with exit code 1.
    pub fn has_warnings(&self) -> bool {
        matches!(self.status, SourceStatus::Failed | SourceStatus::Partial)
            || !self.failed.is_empty()
            || self
                .skipped
                .iter()
                .any(|s| s.reason != "missing" && s.reason != "excluded")
    }
}

/// The outcome of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    Captured,
    Partial,
    Skipped,
    Failed,
}

impl SourceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Captured => "captured",
            Self::Partial => "partial",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// An item a source did not capture, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedItem {
    pub path: ByteString,
    pub reason: String,
}

/// An item a source failed to capture, and the error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedItem {
    pub path: ByteString,
    pub error: String,
}

/// The type of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Char,
    Block,
}

impl EntryType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Symlink => "symlink",
            Self::Hardlink => "hardlink",
            Self::Fifo => "fifo",
            Self::Char => "char",
            Self::Block => "block",
        }
    }

    /// The `ls -l` type character.
    pub fn type_char(&self) -> char {
        match self {
            Self::File | Self::Hardlink => '-',
            Self::Dir => 'd',
            Self::Symlink => 'l',
            Self::Fifo => 'p',
            Self::Char => 'c',
            Self::Block => 'b',
        }
    }
}

/// A device number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rdev {
    pub major: u32,
    pub minor: u32,
}

/// One extended attribute, raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    pub name: ByteString,
    #[serde(with = "base64_bytes")]
    pub value: Vec<u8>,
}

/// One path in the archive (spec §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: ByteString,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub source: String,
    #[serde(with = "mode_octal")]
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
    pub group: Option<String>,
    pub mtime: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ByteString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<ByteString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardlink_group: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdev: Option<Rdev>,
    #[serde(default)]
    pub xattrs: Vec<Xattr>,
}

impl Entry {
    /// The SELinux label, if the entry carries one.
    pub fn selinux_label(&self) -> Option<String> {
        self.xattr(b"security.selinux").map(|v| {
            let v = v.strip_suffix(b"\0").unwrap_or(v);
            String::from_utf8_lossy(v).into_owned()
        })
    }

    /// The value of one xattr by name.
    pub fn xattr(&self, name: &[u8]) -> Option<&[u8]> {
        self.xattrs
            .iter()
            .find(|x| x.name.as_bytes() == name)
            .map(|x| x.value.as_slice())
    }

    /// True for synthetic entries under `/.ocpvault/`.
    pub fn is_reserved(&self) -> bool {
        self.path.as_bytes().starts_with(RESERVED_PREFIX.as_bytes())
    }
}

/// True when `path` is absolute and normalised as spec §5.2 requires: it starts with
/// `/`, has no empty, `.` or `..` component, no trailing `/` and no NUL byte.
pub fn is_normalized_path(path: &[u8]) -> bool {
    path.len() > 1
        && path[0] == b'/'
        && !path.contains(&0)
        && path[1..]
            .split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Formats permission bits as 4 octal digits.
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Parses 1 to 4 octal digits of permission bits.
pub fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// Formats seconds and nanoseconds since the epoch as RFC 3339 UTC with nanoseconds.
pub fn format_time(secs: i64, nsec: u32) -> String {
    DateTime::<Utc>::from_timestamp(secs, nsec)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses an RFC 3339 time back into seconds and nanoseconds.
pub fn parse_time(text: &str) -> Option<(i64, u32)> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    Some((t.timestamp(), t.timestamp_subsec_nanos()))
}

mod mode_octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_mode(*mode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_mode(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid mode {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_paths() {
        assert!(is_normalized_path(b"/etc/origin/master/ca.key"));
        assert!(is_normalized_path(b"/etc/caf\xe9"));
        for bad in [
            &b""[..],
            b"/",
            b"etc/x",
            b"/etc/../x",
            b"/etc/./x",
            b"/etc//x",
            b"/etc/",
            b"/a\0b",
        ] {
            assert!(
                !is_normalized_path(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn mode_keeps_special_bits() {
        assert_eq!(format_mode(0o104755), "4755");
        assert_eq!(parse_mode("1777"), Some(0o1777));
        assert_eq!(parse_mode("17777"), None);
        assert_eq!(parse_mode("0968"), None);
    }

    #[test]
    fn time_keeps_nanoseconds() {
        let text = format_time(1_700_000_000, 123_456_789);
        assert_eq!(text, "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_time(&text), Some((1_700_000_000, 123_456_789)));
    }
}
