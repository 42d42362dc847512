//! `ocpvault snapshot`: run every source into one new archive and summarise.

use super::output::{human_bytes, print_json};
use super::progress::ProgressMode;
use super::{CliError, CmdResult, Outcome};
use crate::archive::{ArchiveWriter, HostFacts, SourceReport, WriteStats, WriterOptions};
use crate::collect::host;
use crate::crypto::{self, EncryptKey};
use crate::files::capture as files;
use crate::outln;
use std::io::BufWriter;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Collect from DIR as if it were / (archive paths stay absolute).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Directory for <hostname>-<UTC time>.ocpvault[.age] (created, mode 0700, when
    /// missing), or the archive file name when it ends in .ocpvault or .ocpvault.age.
    #[arg(long, short = 'o', value_name = "DIR|FILE", default_value = ".")]
    pub output: PathBuf,
    /// Add a path (absolute, as on the host); repeatable.
    #[arg(long, value_name = "PATH")]
    pub include: Vec<String>,
    /// Leave out paths matching a glob on the absolute path, e.g. '/etc/sysconfig/network-scripts/**'; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Capture only --include paths, not the default OpenShift file set.
    #[arg(long)]
    pub no_default_paths: bool,
    /// zstd compression level, 1 (fast) to 19 (small).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: i32,
    /// zstd worker threads for large files (default: number of CPUs).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Encrypt to this age public key (age1...) or ssh-ed25519/ssh-rsa key; repeatable.
    #[arg(long, short = 'r', value_name = "KEY")]
    pub recipient: Vec<String>,
    /// Encrypt to every key in an age recipients file.
    #[arg(long, short = 'R', value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    /// Encrypt with a passphrase (scrypt), read from the terminal or OCPVAULT_PASSPHRASE.
    #[arg(long, conflicts_with_all = ["recipient", "recipients_file"])]
    pub passphrase: bool,
    /// After writing, ship the archive to a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DEST")]
    pub ship: Option<String>,
    #[command(flatten)]
    pub s3: super::ship_cmd::S3Args,
    /// Mark the archive as part of cluster run ID (in its manifest and its name,
    /// <hostname>@ID-<UTC time>.ocpvault[.age]); ID is 1-64 characters of [A-Za-z0-9._-].
    #[arg(long, value_name = "ID", value_parser = super::run_cmd::parse_run_id)]
    pub run_id: Option<String>,
    /// Warn and exit 1 (the archive is still written and shipped) unless the archive
    /// holds PATH (absolute, as on the host; for a directory, its entry); repeatable.
    #[arg(long, value_name = "PATH", value_parser = super::run_cmd::parse_required_path)]
    pub require: Vec<String>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub packages: super::packages_cmd::PackagesSourceArgs,
    #[command(flatten)]
    pub etcd: super::etcd_cmd::EtcdSnapshotArgs,
    #[command(flatten)]
    pub projects: super::project_cmd::ProjectsSourceArgs,
}

/// The encryption the flags ask for, if any.
fn encrypt_key(args: &SnapshotArgs) -> Result<Option<EncryptKey>, CliError> {
    if args.passphrase {
        return Ok(Some(EncryptKey::Passphrase(
            super::passphrase::read_passphrase(true)?,
        )));
    }
    let mut rs = Vec::new();
    for r in &args.recipient {
        rs.push(crypto::parse_recipient(r)?);
    }
    for f in &args.recipients_file {
        rs.extend(crypto::read_recipients_file(f)?);
    }
    Ok((!rs.is_empty()).then_some(EncryptKey::Recipients(rs)))
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    archive: String,
    encrypted: bool,
    hostname: &'a str,
    run_id: Option<&'a str>,
    required: &'a [super::run_cmd::Required],
    stats: &'a WriteStats,
    sources: &'a [SourceReport],
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipped: Option<serde_json::Value>,
}

pub fn run(args: SnapshotArgs, progress: &ProgressMode) -> CmdResult {
    let now = chrono::Utc::now();
    let created = (now.timestamp(), now.timestamp_subsec_nanos());
    let root = std::fs::canonicalize(&args.root)
        .map_err(|e| CliError::new(format!("--root {}: {e}", args.root.display())))?;
    let hostname = host::hostname(&root);
    let key = encrypt_key(&args)?;
    // Open the ship destination first, so a typo in it costs no snapshot.
    let ship_dest = args
        .ship
        .as_ref()
        .map(|d| args.s3.open_dest(d, crate::ship::Missing::Create))
        .transpose()?;
    let final_path = archive_path(&args, &hostname, &now, key.is_some())?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let opts = WriterOptions {
        level: args.level,
        threads: if threads > 1 { threads } else { 0 },
        created,
    };
    let mut writer =
        ArchiveWriter::create(
            &final_path,
            opts,
            |w: BufWriter<std::fs::File>| match &key {
                Some(k) => crypto::encrypting_sink(w, k),
                None => Ok(Box::new(w) as Box<dyn crate::archive::Sink>),
            },
        )?;
    let counter = progress.counter("files");
    let fopts = files::FilesOptions {
        root: root.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        no_defaults: args.no_default_paths,
        created,
    };
    let report = files::collect_files(&mut writer, &fopts, &counter)?;
    counter.finish();
    let mut sources = vec![report];
    // Further sources (packages, etcd, projects) run here, in this order, each
    // writing through `&mut writer` and returning its SourceReport.
    sources.push(super::packages_cmd::snapshot_source(
        &mut writer,
        &args.packages,
        &root,
        created,
    )?);
    sources.push(super::etcd_cmd::collect(
        &mut writer,
        &args.etcd,
        &root,
        created,
        progress,
    )?);
    sources.push(super::project_cmd::run_source(
        &args.projects,
        &root,
        created,
        &mut writer,
        progress,
    )?);
    let warnings = if key.is_some() {
        Vec::new()
    } else {
        secret_warnings(&secret_files_of(&sources))
    };
    for s in &sources {
        writer.add_source(s.clone());
    }
    if let Some(id) = &args.run_id {
        writer.set_run_id(id);
    }
    let required = super::run_cmd::check_required(&writer, &args.require);
    let facts = HostFacts {
        hostname: hostname.clone(),
        os_release: host::os_release(&root),
        root: root.as_path().into(),
    };
    let mut options = serde_json::Map::new();
    options.insert("compression_level".into(), args.level.into());
    let (path, mut stats) = writer.finish(facts, options)?;
    // The size on disk (for an age file, the encrypted size, not the plain stream).
    stats.archive_size = std::fs::metadata(&path)
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?
        .len();
    // Sources stay in capture order, the archive's order, as `info` shows them.
    let mut warnings = warnings;
    let no_files = sources.iter().any(|s| s.name == "files" && s.captured == 0);
    if no_files {
        warnings.push(format!(
            "no host files found under {}: none of the captured paths exist; is this an OpenShift host? (see --root, --include)",
            root.display()
        ));
    }
    warnings.extend(super::run_cmd::required_warnings(&required));
    let lacks_required = required.iter().any(|r| !r.present);
    let outcome = if no_files || lacks_required || sources.iter().any(|s| s.has_warnings()) {
        Outcome::Findings
    } else {
        Outcome::Ok
    };
    let shipped = match &ship_dest {
        Some(dest) => Some(super::ship_cmd::ship_one(&path, dest.as_ref(), progress)?),
        None => None,
    };
    let summary = Summary {
        archive: path.display().to_string(),
        encrypted: key.is_some(),
        hostname: &hostname,
        run_id: args.run_id.as_deref(),
        required: &required,
        stats: &stats,
        sources: &sources,
        warnings,
        shipped: shipped.as_ref().map(|s| s.json()),
    };
    if args.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary);
        if let Some(s) = &shipped {
            outln!("{}", s.line());
        }
    }
    Ok(outcome)
}

/// Names of captured secret files, taken from the source reports' details.
fn secret_files_of(sources: &[SourceReport]) -> Vec<String> {
    sources
        .iter()
        .filter_map(|s| s.details.get("secret_files"))
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn secret_warnings(secret_files: &[String]) -> Vec<String> {
    if secret_files.is_empty() {
        return Vec::new();
    }
    // What holds or unlocks every Secret of the cluster is always named, then up to
    // three others.
    let (every, others): (Vec<&str>, Vec<&str>) = secret_files
        .iter()
        .map(String::as_str)
        .partition(|p| holds_every_secret(p));
    let mut shown: Vec<String> = every.iter().map(|p| describe_secret(p)).collect();
    shown.extend(others.iter().take(3).map(|p| p.to_string()));
    vec![format!(
        "the archive holds {} private key or secret file(s) ({}{}) and is not encrypted; keep it on this host or encrypt it before it leaves",
        secret_files.len(),
        shown.join(", "),
        if others.len() > 3 { ", ..." } else { "" }
    )]
}

/// The etcd snapshot or data file (every Secret of the cluster) and the master's
/// encryption-config.yaml (the keys that decrypt the Secrets stored in etcd).
fn holds_every_secret(path: &str) -> bool {
    path == crate::etcd::SNAPSHOT_PATH
        || path == crate::etcd::DATA_DIR_DB_PATH
        || path.ends_with("/encryption-config.yaml")
}

fn describe_secret(path: &str) -> String {
    if path.ends_with("/encryption-config.yaml") {
        format!("{path}: the keys to the Secrets stored in etcd")
    } else {
        format!("{path}: the etcd data, every Secret of the cluster")
    }
}

fn archive_path(
    args: &SnapshotArgs,
    hostname: &str,
    now: &chrono::DateTime<chrono::Utc>,
    encrypted: bool,
) -> Result<PathBuf, CliError> {
    let output = args.output.as_path();
    let time = now.format("%Y%m%dT%H%M%SZ").to_string();
    let name = crate::ship::archive_file_name(hostname, args.run_id.as_deref(), &time, encrypted);
    super::run_cmd::check_output_name(output, args.run_id.as_deref())?;
    let text = output.to_string_lossy();
    let names_file =
        !text.ends_with('/') && (text.ends_with(".ocpvault") || text.ends_with(".ocpvault.age"));
    if output.is_dir() || !names_file {
        // A directory, existing or not: create it (0700, parents too) and write inside.
        crate::ship::create_private_dir(output).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "exists and is not a directory".to_string()
            } else {
                format!("cannot create the directory: {e}")
            };
            CliError::new(format!("--output {}: {why}", output.display()))
                .hint("an output that does not end in .ocpvault or .ocpvault.age is a directory")
        })?;
        return Ok(output.join(name));
    }
    if text.ends_with(".ocpvault.age") != encrypted {
        let (has, wants) = if encrypted {
            ("is encrypted", ".ocpvault.age")
        } else {
            ("is not encrypted", ".ocpvault")
        };
        return Err(CliError::new(format!(
            "--output {}: the archive {has}, so its name must end in {wants}",
            output.display()
        ))
        .hint(if encrypted {
            "name it X.ocpvault.age, or give a directory"
        } else {
            "pass --recipient, --recipients-file or --passphrase to encrypt, or name it X.ocpvault"
        }));
    }
    if std::fs::symlink_metadata(output).is_ok() {
        return Err(CliError::new(format!(
            "--output {}: a file with that name exists; ocpvault never overwrites an archive",
            output.display()
        )));
    }
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => Err(CliError::new(format!(
            "--output {}: directory {} does not exist",
            output.display(),
            p.display()
        ))
        .hint("create the directory first, or pass a directory as --output")),
        _ => Ok(output.to_path_buf()),
    }
}

fn print_summary(s: &Summary) {
    let st = s.stats;
    outln!("archive: {}", s.archive);
    if let Some(id) = s.run_id {
        outln!("run id: {id}");
    }
    outln!(
        "entries: {}  objects: {}  read: {}  stored: {}  saved by dedup: {}  archive size: {}",
        st.entries,
        st.objects,
        human_bytes(st.bytes_read),
        human_bytes(st.bytes_stored),
        human_bytes(st.dedup_saved),
        human_bytes(st.archive_size)
    );
    super::archive_cmds::print_sources(s.sources);
    for w in &s.warnings {
        outln!("warning: {w}");
    }
}
