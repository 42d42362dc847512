//! The configuration file (formats/config.md): site defaults for `snapshot`, the
//! shipping destination, retention, etcd and oc settings. TOML, or JSON when the
//! file name ends in `.json`.
//!
//! Guarantees: unknown keys and values of the wrong type or out of range are refused
//! with one message naming the file, the key (`etcd.mode`) and the problem, with the
//! line and column for TOML. The file only supplies defaults: the CLI decides how
//! flags override them.

use crate::projects::capture::ProjectSelection;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the configuration is read from when neither `--config` nor
/// `OCPVAULT_CONFIG` names a file; a missing file there is not an error.
pub const DEFAULT_PATHS: &[&str] = &["/etc/ocpvault/config.toml", "/etc/ocpvault/config.json"];

/// Files larger than this are refused before parsing.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024; // 1 MiB

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub snapshot: SnapshotConfig,
    pub s3: S3Config,
    pub etcd: EtcdConfig,
    pub oc: OcConfig,
    pub retention: RetentionConfig,
}

/// Defaults for `ocpvault snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    pub output: Option<PathBuf>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub recipients: Vec<String>,
    pub recipients_files: Vec<PathBuf>,
    pub ship: Option<String>,
    pub level: Option<u8>,
}

/// S3 settings for every command that reaches a destination.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub endpoint: Option<String>,
}

/// The etcd source of `snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdConfig {
    pub mode: Option<EtcdMode>,
    pub endpoints: Vec<String>,
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `--etcd auto|skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EtcdMode {
    Auto,
    Skip,
}

impl EtcdMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Skip => "skip",
        }
    }
}

/// The OpenShift client used for project exports.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcConfig {
    pub path: Option<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
    /// `auto`, `all`, `skip` or `NAME[,NAME...]`.
    pub projects: Option<String>,
}

/// Defaults for `ocpvault prune`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub keep_last: Option<usize>,
    pub keep_daily: Option<usize>,
    pub keep_weekly: Option<usize>,
}

/// The hint after an invalid file: where every key is documented on an installed
/// host (man/ocpvault-config.5, the summary of formats/config.md).
pub const INVALID_HINT: &str = "every key and its type: man 5 ocpvault-config";

/// A configuration file that could not be used. Displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config {path}: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("config {path}: {key}{problem}{location}")]
    Invalid {
        path: PathBuf,
        /// `etcd.mode: ` or empty when the problem is not about one key.
        key: String,
        problem: String,
        /// ` (line 3, column 8)` or empty.
        location: String,
    },
}

/// Reads the file that `explicit` names (an error when missing) or, when it is
/// `None`, the first of `DEFAULT_PATHS` that exists (none is fine).
pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, ConfigError> {
    if let Some(p) = explicit {
        return Ok(Some((p.to_path_buf(), load_file(p)?)));
    }
    for p in DEFAULT_PATHS.iter().map(Path::new) {
        if p.exists() {
            return Ok(Some((p.to_path_buf(), load_file(p)?)));
        }
    }
    Ok(None)
}

/// Reads and checks one configuration file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let read_err = |error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let config = if is_json {
        parse_json(&text)
    } else {
        parse_toml(&text)
    };
    let config = config.and_then(|c| check(&c).map(|()| c));
    config.map_err(|(key, problem, location)| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: if key.is_empty() {
            key
        } else {
            format!("{key}: ")
        },
        problem,
        location,
    })
}

/// (key, problem, location) of a bad file.
type Problem = (String, String, String);

/// Parses TOML text.
pub fn parse_toml(text: &str) -> Result<Config, Problem> {
    let position = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| line_column(text, s.start)).unwrap_or_default()
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| (String::new(), first_line(e.message()), position(e.span())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = key_of(e.path());
        let inner = e.into_inner();
        (key, first_line(inner.message()), position(inner.span()))
    })
}

/// Parses JSON text.
pub fn parse_json(text: &str) -> Result<Config, Problem> {
    let mut de = serde_json::Deserializer::from_str(text);
    let config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let key = key_of(e.path());
        let inner = e.into_inner();
        let location = format!(" (line {}, column {})", inner.line(), inner.column());
        // serde_json appends " at line L column C" itself; keep one location.
        let msg = inner.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        (key, msg, location)
    })?;
    de.end()
        .map_err(|e| (String::new(), e.to_string(), String::new()))?;
    Ok(config)
}

/// The dotted key of a serde path (`etcd.mode`, `snapshot.outptu`); empty for the
/// document itself.
fn key_of(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." { String::new() } else { text }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// ` (line L, column C)` of a byte offset, both counted from 1.
fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

/// Checks values that parse but make no sense.
fn check(c: &Config) -> Result<(), Problem> {
    let bad = |key: &str, problem: String| Err((key.to_string(), problem, String::new()));
    if let Some(level) = c.snapshot.level {
        if !(1..=19).contains(&level) {
            return bad(
                "snapshot.level",
                format!("{level} is not a zstd level (1 to 19)"),
            );
        }
    }
    if let Some(p) = &c.oc.projects {
        if let Err(e) = p.parse::<ProjectSelection>() {
            return bad("oc.projects", e);
        }
    }
    for (key, value) in [
        ("oc.path", &c.oc.path),
        ("snapshot.output", &c.snapshot.output),
    ] {
        if value.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return bad(key, "must not be empty".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_err(text: &str) -> String {
        let (k, p, l) = parse_toml(text).expect_err("should fail");
        format!("{k}|{p}|{l}")
    }

    #[test]
    fn a_full_file_parses() {
        let c = parse_toml(
            "[snapshot]\noutput = \"/backup\"\nlevel = 9\ninclude = [\"/etc/x\"]\n\
             [etcd]\nmode = \"skip\"\n[retention]\nkeep_last = 3\n",
        )
        .expect("parse");
        assert_eq!(c.snapshot.output.as_deref(), Some(Path::new("/backup")));
        assert_eq!(c.snapshot.level, Some(9));
        assert_eq!(c.etcd.mode, Some(EtcdMode::Skip));
        assert_eq!(c.retention.keep_last, Some(3));
        assert_eq!(parse_toml("").expect("empty"), Config::default());
    }

    #[test]
    fn unknown_keys_name_the_section_and_line() {
        let e = toml_err("[snapshot]\noutput = \"/b\"\noutptu = \"/c\"\n");
        assert!(
            e.starts_with("snapshot.outptu|unknown field `outptu`"),
            "{e}"
        );
        assert!(e.ends_with("(line 3, column 1)"), "{e}");
        let e = toml_err("[snapshto]\n");
        assert!(e.starts_with("snapshto|unknown field `snapshto`"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = toml_err("[retention]\nkeep_last = \"seven\"\n");
        assert!(
            e.starts_with("retention.keep_last|invalid type: string"),
            "{e}"
        );
        assert!(e.ends_with("(line 2, column 13)"), "{e}");
        let e = toml_err("[etcd]\nmode = \"sometimes\"\n");
        assert!(
            e.starts_with("etcd.mode|unknown variant `sometimes`"),
            "{e}"
        );
        let (k, p, _) = parse_json("{\"snapshot\": {\"level\": \"x\"}}").expect_err("json");
        assert_eq!(k, "snapshot.level");
        assert!(p.starts_with("invalid type: string"), "{p}");
    }

    #[test]
    fn the_documented_examples_parse() {
        let doc = include_str!("../formats/config.md");
        let block = |fence: &str| {
            let start = doc.find(fence).expect("example") + fence.len();
            doc[start..]
                .split("```")
                .next()
                .expect("closing fence")
                .to_string()
        };
        let c = parse_toml(&block("```toml\n")).expect("toml example");
        check(&c).expect("toml example values");
        assert_eq!(c.retention.keep_weekly, Some(8));
        let j = parse_json(&block("```json\n")).expect("json example");
        assert_eq!(j.snapshot.level, Some(9));
    }

    #[test]
    fn values_are_checked() {
        let c = parse_toml("[snapshot]\nlevel = 25\n").expect("parses");
        assert_eq!(check(&c).expect_err("range").0, "snapshot.level");
        let c = parse_toml("[oc]\nprojects = \"Bad_Name\"\n").expect("parses");
        assert_eq!(check(&c).expect_err("name").0, "oc.projects");
    }
}
