//! `ocpvault etcd ls|get|dump|audit`: read the objects of the archived etcd snapshot
//! offline, with no etcd and no API server (formats/etcd-browse.md).
//!
//! The snapshot object is decompressed into a 0600 file in a private 0700 temporary
//! directory, read page by page, and deleted on return. Only the stored bytes go there:
//! decrypted values exist in memory and on stdout only.

use super::archive_cmds::ReadArchive;
use super::output::print_json;
use super::{CliError, CmdResult, Outcome};
use crate::archive::ArchiveReader;
use crate::etcd::bbolt::{BoltDb, MAGIC};
use crate::etcd::index::{IndexedKey, KEY_INDEX_PATH, KeyIndex, read_index};
use crate::etcd::mvcc::{MvccError, ReadOptions, State, read_state};
use crate::etcd::{DATA_DIR_DB_PATH, SNAPSHOT_PATH};
use serde::Serialize;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

mod audit;
mod dump;
mod encryption;
mod get;

pub use audit::audit;
pub(crate) use dump::read_project;
pub use dump::{DumpArgs, dump};
pub use get::get;

/// Where OpenShift 3.11 keeps the API server's encryption configuration.
pub const ENCRYPTION_CONFIG_PATH: &str = "/etc/origin/master/encryption-config.yaml";
const MAX_CONFIG_BYTES: u64 = 1024 * 1024; // 1 MiB
const ROOTS: [&str; 2] = ["/kubernetes.io/", "/openshift.io/"];

const AFTER_HELP: &str = "ARCHIVE may also be an etcd v3 db file itself (a copy of member/snap/db, \
or what `etcdctl snapshot save` wrote). Keys are /kubernetes.io/<type>/<project>/<name> and \
/openshift.io/<type>/<project>/<name>; cluster-scoped ones have no <project>. See formats/etcd-browse.md.";

/// The db to read: an archive's snapshot, or a bbolt file itself.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Read the state at revision N instead of the newest (unless compacted away).
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Read a damaged db: skip the pages and records that cannot be read, and list them.
    #[arg(long)]
    pub salvage: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct LsArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// A key prefix (starting with /), or a resource type (secrets, configmaps, routes, ...).
    #[arg(value_name = "PREFIX|TYPE")]
    pub selector: Option<String>,
    /// Only objects of this project (namespace).
    #[arg(long, short = 'n', value_name = "PROJECT")]
    pub namespace: Option<String>,
    /// Print one JSON object (formats/etcd-browse.md).
    #[arg(long)]
    pub json: bool,
}

/// How `etcd get` prints the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetFormat {
    /// The API object as JSON (`oc get -o json`): JSON values as stored, protobuf ones
    /// decoded (formats/etcd-types.md); metadata.resourceVersion from the key's revision.
    Json,
    /// The same object as YAML (`oc get -o yaml`).
    Yaml,
    /// The value's bytes, decrypted when encrypted at rest.
    Raw,
    /// The bytes exactly as etcd stores them (still encrypted).
    Stored,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct GetArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// An etcd key (/kubernetes.io/secrets/PROJECT/NAME) or TYPE/NAME with -n.
    #[arg(value_name = "KEY|TYPE/NAME")]
    pub target: String,
    /// The project (namespace) of TYPE/NAME; without it TYPE/NAME is cluster-scoped.
    #[arg(long, short = 'n', value_name = "PROJECT")]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    pub output: GetFormat,
    /// The API server's EncryptionConfig, for values encrypted at rest (default: the
    /// archived /etc/origin/master/encryption-config.yaml).
    #[arg(long, value_name = "FILE")]
    pub encryption_config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Print one JSON object (formats/etcd-browse.md).
    #[arg(long)]
    pub json: bool,
}

/// The db, open, and the temporary copy that is deleted when this is dropped.
struct OpenDb {
    db: BoltDb<File>,
    label: String,
    /// The archived encryption configuration, in memory.
    encryption_config: Option<String>,
    _tmp: Option<tempfile::TempDir>,
}

/// True when `path` starts like a bbolt file: the magic of meta page 0, or of meta
/// page 1 at 4 KiB (the page size of every etcd host) when page 0 is torn.
fn is_bolt_file(path: &Path) -> bool {
    let mut head = Vec::new();
    if File::open(path)
        .and_then(|f| f.take(4096 + 20).read_to_end(&mut head))
        .is_err()
    {
        return false;
    }
    let magic = MAGIC.to_le_bytes();
    [16, 4096 + 16]
        .iter()
        .any(|at| head.get(*at..at + 4) == Some(&magic[..]))
}

/// An archive, or a db file given as ARCHIVE.
enum Input {
    Archive(Box<ArchiveReader>),
    Db(OpenDb),
}

fn open_input(args: &DbArgs) -> Result<Input, CliError> {
    let path = &args.input.archive;
    if is_bolt_file(path) {
        let file =
            File::open(path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
        let db = finish_open(file, path.display().to_string(), None, None, args.salvage)?;
        return Ok(Input::Db(db));
    }
    Ok(Input::Archive(Box::new(args.input.open()?)))
}

fn open_db(args: &DbArgs) -> Result<OpenDb, CliError> {
    match open_input(args)? {
        Input::Db(db) => Ok(db),
        Input::Archive(reader) => db_from_archive(*reader, args),
    }
}

/// The key index of the archive, when it has one and it answers the question (the
/// newest revision, no salvage).
fn archived_index(reader: &mut ArchiveReader, args: &DbArgs) -> Result<Option<KeyIndex>, CliError> {
    if args.revision.is_some() || args.salvage {
        return Ok(None);
    }
    let Some(id) = reader
        .manifest()
        .entry(KEY_INDEX_PATH.as_bytes())
        .and_then(|e| e.object)
    else {
        return Ok(None);
    };
    let mut obj = reader.open_object(&id)?;
    let index = read_index(&mut obj)?;
    // Reading to the end is what checks the object's size and hash.
    std::io::copy(&mut obj, &mut std::io::sink())
        .map_err(|e| CliError::new(format!("{KEY_INDEX_PATH} in the archive: {e}")))?;
    Ok(Some(index))
}

fn db_from_archive(mut reader: ArchiveReader, args: &DbArgs) -> Result<OpenDb, CliError> {
    let path = &args.input.archive;
    let entry = [SNAPSHOT_PATH, DATA_DIR_DB_PATH].iter().find_map(|p| {
        let e = reader.manifest().entry(p.as_bytes())?;
        Some((*p, e.object?))
    });
    let Some((db_path, id)) = entry else {
        return Err(CliError::new(format!(
            "{}: the archive holds no etcd snapshot",
            path.display()
        ))
        .hint("see `ocpvault etcd status ARCHIVE`"));
    };
    let encryption_config = archived_encryption_config(&mut reader)?;
    let tmp = tempfile::Builder::new()
        .prefix("ocpvault-etcd-")
        .tempdir()
        .map_err(|e| CliError::new(format!("temporary directory: {e}")))?;
    let copy = tmp.path().join("snapshot.db");
    let tmp_err = |e: std::io::Error| CliError::new(format!("{}: {e}", copy.display()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&copy)
        .map_err(tmp_err)?;
    let mut obj = reader.open_object(&id)?;
    std::io::copy(&mut obj, &mut out)
        .map_err(|e| CliError::new(format!("{db_path} in the archive: {e}")))?;
    drop(out);
    let file = File::open(&copy).map_err(tmp_err)?;
    let label = format!("{}:{db_path}", path.display());
    finish_open(file, label, encryption_config, Some(tmp), args.salvage)
}

/// The archived EncryptionConfig of the API server, in memory.
fn archived_encryption_config(reader: &mut ArchiveReader) -> Result<Option<String>, CliError> {
    let Some(cid) = reader
        .manifest()
        .entry(ENCRYPTION_CONFIG_PATH.as_bytes())
        .and_then(|e| e.object)
    else {
        return Ok(None);
    };
    let mut text = String::new();
    reader
        .open_object(&cid)?
        .take(MAX_CONFIG_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| CliError::new(format!("{ENCRYPTION_CONFIG_PATH} in the archive: {e}")))?;
    Ok(Some(text))
}

/// One key read through the key index and the framed snapshot object (spec §4.1):
/// the index gives the key's latest revision, and a seek in the db's `key` bucket
/// reads the pages on the way to that revision only, one 4 MiB frame each at most,
/// instead of decompressing the whole db.
pub(crate) struct IndexedRead {
    pub object: crate::etcd::mvcc::Object,
    pub encryption_config: Option<String>,
    /// Stored bytes of the snapshot object read.
    pub snapshot_bytes_read: u64,
}

/// Reads the first of `wanted` that the key index lists, when the archive has a key
/// index and a framed snapshot and neither --revision nor --salvage is given. None
/// means "answer by a scan" (older archives, keys the index does not list, whose
/// scan also says when they were deleted).
fn read_indexed(args: &DbArgs, wanted: &[String]) -> Result<Option<IndexedRead>, CliError> {
    if args.revision.is_some() || args.salvage || is_bolt_file(&args.input.archive) {
        return Ok(None);
    }
    // Only the three entries this read needs (formats/archive-v2.md §6).
    let scope = crate::archive::Scope::Paths(
        [KEY_INDEX_PATH, SNAPSHOT_PATH, ENCRYPTION_CONFIG_PATH]
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect(),
    );
    let mut reader = args.input.open_scoped(&scope)?;
    let Some(index) = archived_index(&mut reader, args)? else {
        return Ok(None);
    };
    let Some(row) = index.keys.iter().find(|k| wanted.contains(&k.key)) else {
        return Ok(None);
    };
    let Some(id) = reader
        .manifest()
        .entry(SNAPSHOT_PATH.as_bytes())
        .and_then(|e| e.object)
        .filter(|id| reader.frame_table(id).is_some())
    else {
        return Ok(None);
    };
    let encryption_config = archived_encryption_config(&mut reader)?;
    let label = format!("{}:{SNAPSHOT_PATH}", args.input.archive.display());
    let framed = reader.into_framed_object(&id)?;
    let size = framed.size();
    let mut db =
        BoltDb::open(framed, size, false).map_err(|e| CliError::new(format!("{label}: {e}")))?;
    let found = crate::etcd::mvcc::read_put_at(&mut db, row.key.as_bytes(), row.mod_revision)
        .map_err(|e| {
            CliError::new(format!("{label}: {e}"))
                .hint("--salvage reads what is intact and lists what is not")
        })?;
    let snapshot_bytes_read = db.source().stored_bytes_read();
    Ok(found.map(|object| IndexedRead {
        object,
        encryption_config,
        snapshot_bytes_read,
    }))
}

fn finish_open(
    file: File,
    label: String,
    encryption_config: Option<String>,
    tmp: Option<tempfile::TempDir>,
    salvage: bool,
) -> Result<OpenDb, CliError> {
    let len = file
        .metadata()
        .map_err(|e| CliError::new(format!("{label}: {e}")))?
        .len();
    let db =
        BoltDb::open(file, len, salvage).map_err(|e| CliError::new(format!("{label}: {e}")))?;
    Ok(OpenDb {
        db,
        label,
        encryption_config,
        _tmp: tmp,
    })
}

fn read(open: &mut OpenDb, args: &DbArgs, want: &dyn Fn(&[u8]) -> bool) -> Result<State, CliError> {
    let opts = ReadOptions {
        at: args.revision,
        want_value: want,
        salvage: args.salvage,
    };
    read_state(&mut open.db, &opts).map_err(|e| {
        let hint = match &e {
            MvccError::Bolt(_) | MvccError::BadRecord { .. } if !args.salvage => {
                Some("--salvage reads what is intact and lists what is not")
            }
            MvccError::Compacted { .. } => Some("an older archive may still hold that revision"),
            _ => None,
        };
        let err = CliError::new(format!("{}: {e}", open.label));
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    })
}

fn type_matches(resource: Option<&str>, wanted: &str) -> bool {
    resource.is_some_and(|r| r == wanted || r.rsplit('/').next() == Some(wanted))
}

#[derive(Debug, Default, Serialize)]
struct Damage {
    skipped_pages: Vec<SkippedRow>,
    bad_records: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SkippedRow {
    page: u64,
    error: String,
}

#[derive(Debug, Serialize)]
struct LsReport {
    db: String,
    /// `index` (the archived key index) or `scan` (the db itself).
    source: &'static str,
    revision: i64,
    current_revision: i64,
    compacted_revision: i64,
    objects: Vec<IndexedKey>,
    #[serde(flatten)]
    damage: Damage,
}

fn damage(open: &OpenDb, state: &State) -> Damage {
    Damage {
        skipped_pages: open
            .db
            .skipped()
            .iter()
            .map(|s| SkippedRow {
                page: s.page,
                error: s.error.clone(),
            })
            .collect(),
        bad_records: state.bad_records.clone(),
    }
}

fn warn_damage(d: &Damage) -> Outcome {
    for s in &d.skipped_pages {
        crate::cli::output::warn(format_args!("skipped {}", s.error));
    }
    for r in &d.bad_records {
        crate::cli::output::warn(format_args!("skipped {r}"));
    }
    if d.skipped_pages.is_empty() && d.bad_records.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
}

/// Runs `ocpvault etcd ls`.
pub fn ls(args: LsArgs) -> CmdResult {
    let mut report = match open_input(&args.db)? {
        Input::Archive(mut reader) => match archived_index(&mut reader, &args.db)? {
            Some(index) => LsReport {
                db: format!("{}:{KEY_INDEX_PATH}", args.db.input.archive.display()),
                source: "index",
                revision: index.revision,
                current_revision: index.revision,
                compacted_revision: index.compacted_revision,
                objects: index.keys,
                damage: Damage::default(),
            },
            None => ls_scan(db_from_archive(*reader, &args.db)?, &args.db)?,
        },
        Input::Db(open) => ls_scan(open, &args.db)?,
    };
    let selector = args.selector.as_deref();
    report.objects.retain(|r| {
        let selected = match selector {
            Some(p) if p.starts_with('/') => r.key.starts_with(p),
            Some(t) => type_matches(r.parts.resource.as_deref(), t),
            None => true,
        };
        selected && (args.namespace.is_none() || r.parts.namespace == args.namespace)
    });
    if args.json {
        print_json(&report)?;
    } else {
        print_ls(&report)?;
    }
    Ok(warn_damage(&report.damage))
}

/// Every live key, from a scan of the db.
fn ls_scan(mut open: OpenDb, args: &DbArgs) -> Result<LsReport, CliError> {
    let state = read(&mut open, args, &|_| false)?;
    Ok(LsReport {
        db: open.label.clone(),
        source: "scan",
        revision: state.revision,
        current_revision: state.current_revision,
        compacted_revision: state.compacted,
        objects: state.objects.values().map(IndexedKey::describe).collect(),
        damage: damage(&open, &state),
    })
}

fn print_ls(r: &LsReport) -> Result<(), CliError> {
    // Built whole, then written through the one output path (a closed stdout ends
    // output quietly).
    let mut out: Vec<u8> = Vec::new();
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let mut table = vec![[
        "KEY".to_string(),
        "KIND".into(),
        "NAMESPACE".into(),
        "NAME".into(),
        "REVISION".into(),
        "SIZE".into(),
        "ENCRYPTED".into(),
    ]];
    for o in &r.objects {
        table.push([
            o.key.clone(),
            dash(&o.kind),
            dash(&o.parts.namespace),
            dash(&o.parts.name),
            o.mod_revision.to_string(),
            o.size.to_string(),
            if o.encrypted { "yes" } else { "no" }.into(),
        ]);
    }
    let mut widths = [0usize; 7];
    for line in &table {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for line in &table {
        let mut text = String::new();
        for (i, (w, cell)) in widths.iter().zip(line).enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{text}")?;
    }
    writeln!(
        out,
        "{} object(s) at revision {} (newest {}, compacted below {})",
        r.objects.len(),
        r.revision,
        r.current_revision,
        r.compacted_revision
    )?;
    crate::cli::output::with_stdout(|o| o.write_all(&out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::index::parse_key;

    #[test]
    fn type_names_match_the_last_segment() {
        let p = parse_key("/kubernetes.io/services/specs/p1/web");
        assert!(type_matches(p.resource.as_deref(), "specs"));
        assert!(type_matches(p.resource.as_deref(), "services/specs"));
        assert!(!type_matches(p.resource.as_deref(), "services"));
    }
}
