//! `ocpvault etcd dump`: every object of one project from the archived etcd snapshot,
//! written as the `oc` exports a snapshot stores (formats/projects.md §2), and the
//! reading that `project restore --from-etcd` shares.
//!
//! Decrypted values exist in memory and in the 0600 files of the 0700 output
//! directory only; messages name keys, never values.

use super::encryption::encryption_keys;
use super::*;
use crate::etcd::object::{ObjectError, to_api_object};
use crate::etcd::values::{EncryptionKeys, ValueKind, decrypt, sniff};
use crate::outln;
use crate::projects::capture::is_project_name;
use crate::projects::restore::from_etcd::{
    EtcdExport, KeyProblem, KeyRole, LeftOut, key_role, write_export,
};
use serde_json::Value;

const DUMP_AFTER_HELP: &str = "DIR gets <type>.yaml (a List per type, e.g. configmaps.yaml, \
deploymentconfigs.apps.openshift.io.yaml) and _cluster/namespace.yaml, as the oc exports of \
`ocpvault snapshot`; `ocpvault project restore --from-etcd ARCHIVE PROJECT` re-creates the \
project from the same objects. ARCHIVE may also be an etcd v3 db file. See formats/etcd-browse.md.";

#[derive(Debug, clap::Args)]
#[command(after_help = DUMP_AFTER_HELP)]
pub struct DumpArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The project (namespace) to dump.
    #[arg(long, short = 'n', value_name = "PROJECT")]
    pub project: String,
    /// The directory to write: new or empty; created 0700, files 0600 (secrets are in it).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    /// The API server's EncryptionConfig, for values encrypted at rest (default: the
    /// archived /etc/origin/master/encryption-config.yaml).
    #[arg(long, value_name = "FILE")]
    pub encryption_config: Option<PathBuf>,
    /// Print one JSON object (formats/etcd-browse.md).
    #[arg(long)]
    pub json: bool,
}

/// One project read from the snapshot, and what reading it found.
pub(crate) struct ProjectRead {
    pub export: EtcdExport,
    /// The db read (archive and entry, or the file).
    pub db: String,
    pub revision: i64,
    damage: Damage,
    /// Findings when values were not decoded, keys skipped or pages damaged.
    pub outcome: Outcome,
}

/// Keys for encrypted values: loaded on the first one, or up front when a file was
/// given (an unreadable file is an error, not a finding).
enum Keys {
    NotYet,
    Loaded(EncryptionKeys),
    Missing(String),
}

/// Reads every object of `project` at the revision `db` asks for, decrypted and
/// decoded, sorted into export files; warns (stderr) about what could not be.
pub(crate) fn read_project(
    db: &DbArgs,
    project: &str,
    encryption_config: Option<&Path>,
    what: &str,
) -> Result<ProjectRead, CliError> {
    if !is_project_name(project) {
        return Err(CliError::new(format!(
            "{what}: {:?} is not a project name (lowercase letters, digits and '-', at most 63)",
            crate::cli::output::escape(project)
        )));
    }
    let mut open = open_db(db)?;
    let mut keys = match encryption_config {
        Some(p) => Keys::Loaded(encryption_keys(
            Some(p),
            open.encryption_config.as_deref(),
            what,
        )?),
        None => Keys::NotYet,
    };
    let want = |k: &[u8]| {
        std::str::from_utf8(k)
            .ok()
            .and_then(|k| key_role(k, project))
            .is_some()
    };
    let state = read(&mut open, db, &want)?;
    let mut export = EtcdExport::new(project);
    for obj in state.objects.values() {
        let Ok(key) = std::str::from_utf8(&obj.key) else {
            continue;
        };
        let Some(role) = key_role(key, project) else {
            continue;
        };
        if let KeyRole::Unsafe(_) = role {
            // Nothing of the value is used: the key alone is refused.
            export.add(key, role, Value::Null);
            continue;
        }
        let stored = obj.value.as_deref().unwrap_or_default();
        let plain = match plain_value(key, stored, &mut keys, &open, what) {
            Ok(p) => p,
            Err(reason) => {
                export.not_decoded(key, None, reason);
                continue;
            }
        };
        match to_api_object(key, &plain, obj.mod_revision) {
            Ok(d) => export.add(key, role, d.object),
            Err(e) => {
                let kind = match &e {
                    ObjectError::Protobuf { kind, .. } => Some(kind.clone()),
                    _ => None,
                };
                export.not_decoded(key, kind.as_deref(), e.to_string());
            }
        }
    }
    let damage = damage(&open, &state);
    let mut outcome = warn_damage(&damage);
    for p in &export.not_decoded {
        crate::cli::output::warn(format_args!(
            "{what}: {}: not decoded: {}",
            escape(&p.key),
            escape(&p.reason)
        ));
        outcome = Outcome::Findings;
    }
    for p in &export.skipped {
        crate::cli::output::warn(format_args!(
            "{what}: {}: skipped: {}",
            escape(&p.key),
            escape(&p.reason)
        ));
        outcome = Outcome::Findings;
    }
    Ok(ProjectRead {
        export,
        db: open.label.clone(),
        revision: state.revision,
        damage,
        outcome,
    })
}

fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    crate::cli::output::escape(s)
}

/// The value decrypted when it is encrypted at rest; the reason when it cannot be.
fn plain_value(
    key: &str,
    stored: &[u8],
    keys: &mut Keys,
    open: &OpenDb,
    what: &str,
) -> Result<Vec<u8>, String> {
    if !matches!(sniff(stored), ValueKind::Encrypted { .. }) {
        return Ok(stored.to_vec());
    }
    if let Keys::NotYet = keys {
        *keys = match encryption_keys(None, open.encryption_config.as_deref(), what) {
            Ok(k) => Keys::Loaded(k),
            Err(e) => Keys::Missing(match e.hint {
                Some(h) => format!("{}; {h}", e.message),
                None => e.message,
            }),
        };
    }
    match keys {
        Keys::Loaded(k) => decrypt(stored, key.as_bytes(), k).map_err(|e| e.to_string()),
        Keys::Missing(why) => Err(why.clone()),
        Keys::NotYet => Err("no encryption keys".into()),
    }
}

#[derive(Debug, Serialize)]
struct FileRow {
    #[serde(rename = "type")]
    rel: String,
    path: String,
    objects: usize,
}

#[derive(Debug, Serialize)]
struct DumpReport<'a> {
    db: String,
    project: &'a str,
    revision: i64,
    output: String,
    objects: usize,
    files: Vec<FileRow>,
    not_decoded: &'a [KeyProblem],
    skipped: &'a [KeyProblem],
    left_out: &'a [LeftOut],
    #[serde(flatten)]
    damage: Damage,
}

/// Runs `ocpvault etcd dump`.
pub fn dump(args: DumpArgs) -> CmdResult {
    let read = read_project(
        &args.db,
        &args.project,
        args.encryption_config.as_deref(),
        "etcd dump",
    )?;
    let e = &read.export;
    if e.files.is_empty() && e.left_out.is_empty() && e.not_decoded.is_empty() {
        return Err(CliError::new(format!(
            "etcd dump: project {} is not in {} at revision {}",
            args.project, read.db, read.revision
        ))
        .hint("`ocpvault etcd ls ARCHIVE namespaces` lists the projects"));
    }
    let written = write_export(e, &args.output)?;
    let files: Vec<FileRow> = written
        .into_iter()
        .map(|(path, objects)| FileRow {
            rel: path.trim_end_matches(".yaml").to_string(),
            path,
            objects,
        })
        .collect();
    let report = DumpReport {
        db: read.db.clone(),
        project: &args.project,
        revision: read.revision,
        output: args.output.display().to_string(),
        objects: e.objects(),
        files,
        not_decoded: &e.not_decoded,
        skipped: &e.skipped,
        left_out: &e.left_out,
        damage: read.damage,
    };
    if args.json {
        print_json(&report)?;
    } else {
        print_dump(&report);
    }
    Ok(read.outcome)
}

fn print_dump(r: &DumpReport) {
    for f in &r.files {
        outln!("{:<56} {:>5}", f.path, f.objects);
    }
    for l in r.left_out {
        outln!("left out {} {}: {}", l.kind, escape(&l.name), l.reason);
    }
    outln!(
        "project {} at revision {}: {} object(s) in {} file(s) written to {}; {} not decoded, {} skipped, {} left out",
        r.project,
        r.revision,
        r.objects,
        r.files.len(),
        r.output,
        r.not_decoded.len(),
        r.skipped.len(),
        r.left_out.len()
    );
}
