//! `ship`, `list`, `fetch`, `prune`: archives at an off-host destination.

use super::output::{human_bytes, print_json};
use super::progress::{ProgressMode, TransferBar};
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::ship::{
    self, Destination, Missing, PutOutcome, Retention, S3Options, parse_archive_name,
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
    let (sha, size) = {
        let mut bar = TransferBar::new(progress, format!("hashing {name}"));
        ship::hash_local_with(archive, &mut |done, total| bar.update(done, total))?
    };
    let result = {
        let mut bar = TransferBar::new(progress, format!("uploading {name}"));
        dest.put(archive, &name, &sha, size, &mut |done| {
            bar.update(done, size)
        })?
    };
    Ok(ShippedInfo(Shipped {
        archive: archive.display().to_string(),
        destination: dest.describe(),
        name,
        size,
        sha256: sha.to_hex(),
        result,
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
            "{what}: {} -> {}/{} ({}, sha256 {})",
            s.archive,
            s.destination,
            s.name,
            human_bytes(s.size),
            &s.sha256[..16]
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

pub fn list(args: ListArgs) -> CmdResult {
    let dest = args
        .s3
        .open_dest(&args.dest, Missing::Refuse { s3_hint: true })?;
    let mut rows: Vec<Listed> = dest
        .list()?
        .into_iter()
        .filter_map(|r| {
            let n = parse_archive_name(&r.name)?;
            Some(Listed {
                host: n.host,
                time: n.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                encrypted: r.encrypted,
                name: r.name,
                size: r.size,
                sha256: r.sha256,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.host.cmp(&b.host).then(b.time.cmp(&a.time)));
    if args.json {
        print_json(&rows)?;
        return Ok(Outcome::Ok);
    }
    let mut host = "";
    for r in &rows {
        if r.host != host {
            outln!("{}:", r.host);
            host = &r.host;
        }
        outln!(
            "  {}  {:>10}  {}  {}{}",
            r.time,
            human_bytes(r.size),
            if r.encrypted {
                "encrypted"
            } else {
                "plain    "
            },
            r.name,
            if r.sha256.is_none() {
                "  (no .sha256 sidecar)"
            } else {
                ""
            }
        );
    }
    if rows.is_empty() {
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
    let (path, outcome) = {
        let mut bar = TransferBar::new(progress, format!("fetching {name}"));
        dest.fetch(name, &args.output, &mut |done, total| {
            bar.update(done, total)
        })?
    };
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
    /// Keep the N newest archives of each host.
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
    let (keep, delete) = ship::plan_prune(&dest.list()?, policy);
    if !args.dry_run {
        for name in &delete {
            dest.delete(name)?;
        }
    }
    if args.json {
        print_json(&serde_json::json!({"dry_run": args.dry_run, "keep": keep, "delete": delete}))?;
    } else {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for name in &delete {
            outln!("{verb} {name}");
        }
        outln!("prune: kept {}, {verb} {}", keep.len(), delete.len());
    }
    Ok(Outcome::Ok)
}
