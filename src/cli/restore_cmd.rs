//! `ocpvault restore`: replay files from an archive.

use super::archive_cmds::ReadArchive;
use super::output::{human_bytes, print_json};
use super::{CliError, CmdResult, Outcome};
use crate::restore::{RestoreOptions, restore_with_progress};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Files or subtrees to restore (absolute archive paths); default: every host file.
    pub paths: Vec<String>,
    /// Restore under DIR instead of to the original absolute paths.
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Print what would change and write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Use the recorded numeric uid/gid, not the names.
    #[arg(long)]
    pub numeric_owner: bool,
    /// Do not restore extended attributes (SELinux labels, ACLs, capabilities).
    #[arg(long)]
    pub no_xattrs: bool,
    /// Replace differing files without keeping <name>.ocpvault-old.
    #[arg(long)]
    pub overwrite: bool,
    /// Treat failures to set owners or privileged xattrs as errors.
    #[arg(long)]
    pub strict: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RestoreArgs, progress: &super::progress::ProgressMode) -> CmdResult {
    let mut reader = args.input.open()?;
    let target = match &args.target {
        Some(t) if !t.is_absolute() => Some(
            std::env::current_dir()
                .map_err(|e| CliError::new(format!("current directory: {e}")))?
                .join(t),
        ),
        other => other.clone(),
    };
    let opts = RestoreOptions {
        paths: args.paths.clone(),
        target,
        dry_run: args.dry_run,
        numeric_owner: args.numeric_owner,
        no_xattrs: args.no_xattrs,
        overwrite: args.overwrite,
        strict: args.strict,
        // Tampered ciphertext must not lead to a partial restore: check every selected
        // object before writing anything.
        verify_first: args.input.is_encrypted(),
    };
    let counter = progress.counter("restore");
    let report = restore_with_progress(&mut reader, &opts, &counter);
    counter.finish();
    let report = report?;
    if args.json {
        print_json(&report)?;
    } else {
        let verb = if args.dry_run { "would " } else { "" };
        for a in &report.actions {
            if a.action == "unchanged" && !args.dry_run {
                continue;
            }
            match &a.detail {
                Some(d) => println!("{verb}{} {} ({d})", a.action, a.path),
                None => println!("{verb}{} {}", a.action, a.path),
            }
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        println!(
            "restore: {} entries under {}{}, {} files written ({}), {} warning(s), {} error(s)",
            report.actions.len(),
            report.target,
            if args.dry_run {
                " (dry run, nothing written)"
            } else {
                ""
            },
            report.files_written,
            human_bytes(report.bytes_written),
            report.warnings.len(),
            report.errors.len()
        );
    }
    if !report.errors.is_empty() {
        return Err(CliError::new(format!(
            "restore finished with {} error(s); see above",
            report.errors.len()
        )));
    }
    Ok(if report.warnings.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
