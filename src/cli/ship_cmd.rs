//! `ship`, `list`, `fetch`, `prune`: archives at an off-host destination.

use super::output::{human_bytes, print_json};
use super::progress::{Bars, ProgressMode};
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::ship::{
    self, Destination, Missing, PutOutcome, RemoteArchive, Retention, RunGroup, S3Options,
    parse_archive_name,
};
use std::path::{Path, PathBuf};

/// Where archives go: a directory or s3://bucket/prefix.
#[derive(Debug, Clone, clap::Args)]
pub struct S3Args {
    /// S3 endpoint URL for S3-compatible stores (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
}

impl S3Args {
    /// Opens a destination; `missing` says what a directory that does not exist
    /// becomes (created for `ship`, "does not exist" for `list`, `prune`, `fetch`).
    pub fn open_dest(
        &self,
        dest: &str,
        missing: Missing,
    ) -> Result<Box<dyn Destination>, CliError> {
        let opts = S3Options {
            endpoint: self.s3_endpoint.clone(),
        };
        Ok(ship::open_destination(dest, &opts, missing)?)
    }
}

#[derive(Debug, clap::Args)]
pub struct ShipArgs {
    /// Archives to ship, then the destination (a directory or s3://bucket/prefix).
    #[arg(required = true, num_args = 2.., value_name = "ARCHIVE... DEST")]
    pub items: Vec<String>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Shipped {
    archive: String,
    destination: String,
    name: String,
    size: u64,
    sha256: String,
    result: PutOutcome,
    /// True only when the SHA-256 of the stored copy was checked after the upload.
    verified: bool,
}

/// Ships one archive; used by `ship` and `snapshot --ship`.
pub fn ship_one(
    archive: &Path,
    dest: &dyn Destination,
    progress: &ProgressMode,
) -> Result<ShippedInfo, CliError> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::new(format!("{}: not a file name", archive.display())))?;
    if parse_archive_name(&name).is_none() {
        return Err(CliError::new(format!(
            "{name}: not an archive name (<host>-<UTC time>.ocpvault[.age])"
        ))
        .hint("ship archives under the names snapshot gave them"));
    }
    let bars = Bars::new(progress);
    let (sha, size) = ship::hash_local_with(archive, &bars)?;
    let stored = dest.put(archive, &name, &sha, size, &bars)?;
    Ok(ShippedInfo(Shipped {
        archive: archive.display().to_string(),
        destination: dest.describe(),
        name,
        size,
        sha256: sha.to_hex(),
        result: stored.outcome,
        verified: stored.verified,
    }))
}

/// The result of one upload, for printing.
pub struct ShippedInfo(Shipped);

impl ShippedInfo {
    pub fn line(&self) -> String {
        let s = &self.0;
        let what = match s.result {
            PutOutcome::Uploaded => "shipped",
            PutOutcome::AlreadyPresent => "already present",
        };
        format!(
            "{what}: {} -> {}/{} ({}, sha256 {}{})",
            s.archive,
            s.destination,
            s.name,
            human_bytes(s.size),
            &s.sha256[..16],
            if s.verified {
                ", stored copy verified"
            } else {
                ""
            }
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
}

pub fn ship(args: ShipArgs, progress: &ProgressMode) -> CmdResult {
    let (dest_arg, archives) = args.items.split_last().expect("clap requires two items");
    let dest = args.s3.open_dest(dest_arg, Missing::Create)?;
    let mut results = Vec::new();
    for a in archives {
        let info = ship_one(Path::new(a), dest.as_ref(), progress)?;
        if !args.json {
            outln!("{}", info.line());
        }
        results.push(info.json());
    }
    if args.json {
        print_json(&results)?;
    }
    Ok(Outcome::Ok)
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// A directory or s3://bucket/prefix.
    pub dest: String,
    #[command(flatten)]
    pub s3: S3Args,
    /// Print one JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Listed {
    host: String,
    name: String,
    time: String,
    size: u64,
    encrypted: bool,
    sha256: Option<String>,
}

impl Listed {
    fn of(r: &RemoteArchive) -> Option<Self> {
        let n = parse_archive_name(&r.name)?;
        Some(Listed {
            host: n.host,
            time: n.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            encrypted: r.encrypted,
            name: r.name.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
        })
    }

    fn line(&self) -> String {
        format!(
            "{}  {:>10}  {}  {}{}",
            self.time,
            human_bytes(self.size),
            if self.encrypted {
                "encrypted"
            } else {
                "plain    "
            },
            self.name,
            if self.sha256.is_none() {
                "  (no .sha256 sidecar)"
            } else {
                ""
            }
        )
    }
}

/// One run as `list --json` gives it (formats/json-output.md).
#[derive(serde::Serialize)]
struct ListedRun {
    run_id: String,
    complete: bool,
    sealed: Option<String>,
    hosts: Vec<String>,
    recorded_hosts: Option<Vec<String>>,
    missing: Vec<String>,
    archives: Vec<Listed>,
}

impl ListedRun {
    fn of(g: &RunGroup) -> Self {
        Self {
            run_id: g.run_id.clone(),
            complete: g.is_complete(),
            sealed: g.record.as_ref().map(|r| r.sealed.clone()),
            hosts: g.hosts.clone(),
            recorded_hosts: g.record.as_ref().map(|r| r.hosts.clone()),
            missing: g.missing.clone(),
            archives: g
                .archives
                .iter()
                .filter_map(|(_, a)| Listed::of(a))
                .collect(),
        }
    }

    fn status(&self) -> String {
        match (&self.sealed, self.complete) {
            (Some(t), true) => format!("complete, {} host(s), sealed {t}", self.hosts.len()),
            (Some(_), false) if self.archives.is_empty() => {
                "incomplete: sealed, but no archive of it is left".into()
            }
            (Some(_), false) => format!("incomplete: missing {}", self.missing.join(", ")),
            (None, _) => format!(
                "incomplete: not sealed (no {})",
                ship::run_record_key(&self.run_id)
            ),
        }
    }
}

/// Reads the archives and run records at `dest`, warning about unusable records.
fn runs_at(dest: &dyn Destination) -> Result<(Vec<RunGroup>, Vec<RemoteArchive>), CliError> {
    let archives = dest.list()?;
    let (records, problems) = ship::read_run_records(dest)?;
    for p in &problems {
        super::output::warn(format_args!("{}: {p}", dest.describe()));
    }
    Ok(ship::group_runs(&archives, &records))
}

pub fn list(args: ListArgs) -> CmdResult {
    let dest = args
        .s3
        .open_dest(&args.dest, Missing::Refuse { s3_hint: true })?;
    let (runs, loose) = runs_at(dest.as_ref())?;
    let runs: Vec<ListedRun> = runs.iter().map(ListedRun::of).collect();
    let mut rows: Vec<Listed> = loose.iter().filter_map(Listed::of).collect();
    rows.sort_by(|a, b| a.host.cmp(&b.host).then(b.time.cmp(&a.time)));
    if args.json {
        print_json(&serde_json::json!({"runs": runs, "archives": rows}))?;
        return Ok(Outcome::Ok);
    }
    for r in &runs {
        outln!("run {}: {}", r.run_id, r.status());
        for a in &r.archives {
            outln!("  {}  {}", a.host, a.line());
        }
    }
    let mut host = "";
    for r in &rows {
        if r.host != host {
            outln!("{}:", r.host);
            host = &r.host;
        }
        outln!("  {}", r.line());
    }
    if rows.is_empty() && runs.is_empty() {
        outln!("no archives at {}", dest.describe());
    }
    Ok(Outcome::Ok)
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// DEST/NAME: a directory or s3://bucket/prefix, then the archive name.
    pub source: String,
    /// Directory to download into (created, mode 0700, when missing).
    #[arg(long, short = 'o', default_value = ".")]
    pub output: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn fetch(args: FetchArgs, progress: &ProgressMode) -> CmdResult {
    let (dest_arg, name) = args
        .source
        .rsplit_once('/')
        .filter(|(_, n)| !n.is_empty())
        .ok_or_else(|| CliError::new(format!("{}: expected DEST/NAME", args.source)))?;
    let dest_arg = if dest_arg.is_empty() { "/" } else { dest_arg };
    let dest = args
        .s3
        .open_dest(dest_arg, Missing::Refuse { s3_hint: true })?;
    let (path, outcome) = dest.fetch(name, &args.output, &Bars::new(progress))?;
    let what = match outcome {
        PutOutcome::Uploaded => "fetched",
        PutOutcome::AlreadyPresent => "already present:",
    };
    outln!("{what} {} (SHA-256 verified)", path.display());
    Ok(Outcome::Ok)
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// A directory or s3://bucket/prefix.
    pub dest: String,
    /// Keep the N newest archives of each host (of runs: the N newest runs).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_last: usize,
    /// Keep the newest archive of each of the last D days that have one.
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub keep_daily: usize,
    /// Keep the newest archive of each of the last W ISO weeks that have one.
    #[arg(long, value_name = "W", default_value_t = 0)]
    pub keep_weekly: usize,
    /// Print what would be deleted, delete nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    #[command(flatten)]
    pub s3: S3Args,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn prune(args: PruneArgs) -> CmdResult {
    if args.keep_last == 0 && args.keep_daily == 0 && args.keep_weekly == 0 {
        return Err(CliError::new(
            "prune: give at least one of --keep-last, --keep-daily, --keep-weekly",
        ));
    }
    let dest = args
        .s3
        .open_dest(&args.dest, Missing::Refuse { s3_hint: true })?;
    let policy = Retention {
        keep_last: args.keep_last,
        keep_daily: args.keep_daily,
        keep_weekly: args.keep_weekly,
    };
    let (runs, loose) = runs_at(dest.as_ref())?;
    let plan = ship::plan_prune_runs(&runs, &loose, policy);
    if !args.dry_run {
        delete_planned(dest.as_ref(), &plan)?;
    }
    if args.json {
        print_json(&serde_json::json!({
            "dry_run": args.dry_run,
            "keep": plan.keep,
            "delete": plan.delete,
            "runs_kept": plan.runs_kept,
            "runs_deleted": plan.runs_deleted,
        }))?;
    } else {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for name in &plan.delete {
            outln!("{verb} {name}");
        }
        for id in &plan.runs_deleted {
            outln!("{verb} run {id} (its record {})", ship::run_record_key(id));
        }
        outln!(
            "prune: kept {} ({} run(s)), {verb} {} ({} run(s))",
            plan.keep.len(),
            plan.runs_kept.len(),
            plan.delete.len(),
            plan.runs_deleted.len()
        );
    }
    Ok(Outcome::Ok)
}

/// Deletes the planned archives, then each deleted run's record, last: a prune that
/// stops half way leaves the record, so `list` shows the run as incomplete (and the
/// next prune finishes it) instead of a run that looks whole.
fn delete_planned(dest: &dyn Destination, plan: &ship::PrunePlan) -> Result<(), CliError> {
    for name in &plan.delete {
        dest.delete(name)?;
    }
    for id in &plan.runs_deleted {
        dest.delete_small(&ship::run_record_key(id))?;
    }
    Ok(())
}
