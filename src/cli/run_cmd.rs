//! Cluster runs: the `snapshot --run-id`/`--require` checks and `ocpvault run seal`,
//! which writes a run's record at a destination once every host has shipped.

use super::output::print_json;
use super::ship_cmd::S3Args;
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::ship::{Missing, RunRecord, parse_archive_name};
use std::path::Path;

/// clap's parser for `--run-id`: the rule of spec §5, said in one line.
pub fn parse_run_id(s: &str) -> Result<String, String> {
    if crate::archive::is_valid_run_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "a run id is 1-{} characters of [A-Za-z0-9._-], starting with a letter or digit, without '..' (it becomes part of file names and object keys)",
            crate::archive::MAX_RUN_ID_LEN
        ))
    }
}

/// clap's parser for `--require`: an absolute, normalised path; trailing slashes
/// are dropped (a directory is required by its entry).
pub fn parse_required_path(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    if crate::archive::is_normalized_path(path.as_bytes()) {
        Ok(path.to_string())
    } else {
        Err("give an absolute path as on the host, without '.' or '..' parts".into())
    }
}

/// With `--run-id`, an `--output` that names the archive file must carry the run id
/// in the name, since `list` and `prune` group archives by name.
pub fn check_output_name(output: &Path, run_id: Option<&str>) -> Result<(), CliError> {
    let Some(id) = run_id else { return Ok(()) };
    let text = output.to_string_lossy();
    let names_file =
        !text.ends_with('/') && (text.ends_with(".ocpvault") || text.ends_with(".ocpvault.age"));
    if !names_file || output.is_dir() {
        return Ok(());
    }
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match parse_archive_name(&name) {
        Some(n) if n.run_id.as_deref() == Some(id) => Ok(()),
        _ => Err(CliError::new(format!(
            "--output {}: with --run-id {id} the archive must be named <hostname>@{id}-<YYYYMMDDTHHMMSSZ>.ocpvault[.age]",
            output.display()
        ))
        .hint("give a directory as --output and let snapshot name the archive")),
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(subcommand)]
    pub command: RunCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RunCommand {
    /// Write the record runs/ID.json at a destination: the hosts of a finished run.
    Seal(SealArgs),
    /// Check a run against the hosts' snapshot summaries, write the cluster report,
    /// and seal the run when every check holds (the gate of ansible/snapshot.yml).
    Report(super::run_report::ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// A directory or s3://bucket/prefix (where the run's archives were shipped).
    pub dest: String,
    /// The run id the hosts' snapshots were taken with.
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    pub run_id: String,
    /// The hosts of the run, as their archives name them; repeatable.
    #[arg(long, value_name = "HOST", required = true, num_args = 1..)]
    pub host: Vec<String>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Print the record written, and which hosts have no archive yet, as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> CmdResult {
    match args.command {
        RunCommand::Seal(a) => seal(a),
        RunCommand::Report(a) => super::run_report::report(a),
    }
}

/// Writes the record, then warns about recorded hosts that have no archive of the
/// run yet (the warning makes the exit code 1; `list` will call the run incomplete).
fn seal(args: SealArgs) -> CmdResult {
    let dest = args
        .s3
        .open_dest(&args.dest, Missing::Refuse { s3_hint: true })?;
    for h in &args.host {
        if h.is_empty() || h.contains(['/', '@']) || h.chars().any(char::is_whitespace) {
            return Err(CliError::new(format!(
                "--host {h:?}: not a hostname as archive names carry it"
            )));
        }
    }
    let record = RunRecord::new(&args.run_id, &args.host, chrono::Utc::now());
    crate::ship::write_run_record(dest.as_ref(), &record)?;
    let have: std::collections::BTreeSet<String> = dest
        .list()?
        .iter()
        .filter_map(|a| parse_archive_name(&a.name))
        .filter(|n| n.run_id.as_deref() == Some(args.run_id.as_str()))
        .map(|n| n.host)
        .collect();
    let missing: Vec<&String> = record.hosts.iter().filter(|h| !have.contains(*h)).collect();
    if args.json {
        print_json(&serde_json::json!({
            "destination": dest.describe(),
            "record": crate::ship::run_record_key(&args.run_id),
            "run_id": record.run_id,
            "hosts": record.hosts,
            "sealed": record.sealed,
            "missing": missing,
        }))?;
    } else {
        outln!(
            "sealed run {} at {}/{}: {} host(s)",
            record.run_id,
            dest.describe(),
            crate::ship::run_record_key(&args.run_id),
            record.hosts.len()
        );
    }
    for h in &missing {
        super::output::warn(format_args!(
            "host {h} has no archive of run {} at {}",
            record.run_id,
            dest.describe()
        ));
    }
    Ok(Outcome::Ok)
}
