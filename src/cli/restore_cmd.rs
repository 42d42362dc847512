//! `ocpvault restore`: replay files from an archive.

use super::archive_cmds::ReadArchive;
use super::output::{self, escape, human_bytes, print_json};
use super::progress::Bars;
use super::{CliError, CmdResult, Outcome};
use crate::files::restore::{MetaWarning, RestoreOptions, RestoreReport, restore_with_progress};
use crate::outln;
use crate::progress::Progress;
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
    /// List every metadata warning, not only a summary.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RestoreArgs, progress: &super::progress::ProgressMode) -> CmdResult {
    let relative: Vec<&String> = args.paths.iter().filter(|p| !p.starts_with('/')).collect();
    if !relative.is_empty() {
        return Err(output::not_in_archive(&relative));
    }
    // Named paths: read only their entry chunks and object rows
    // (formats/archive-v2.md §6), so one file costs the same in any archive.
    let mut reader = if args.paths.is_empty() {
        args.input.open()?
    } else {
        let paths = args.paths.iter().map(|p| p.as_bytes().to_vec()).collect();
        args.input
            .open_scoped(&crate::archive::Scope::Paths(paths))?
    };
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
    let bars = Bars::new(progress);
    bars.begin("restore", None);
    let report = restore_with_progress(&mut reader, &opts, &bars);
    bars.end();
    let report = report?;
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report, args.dry_run, args.verbose);
    }
    if !report.errors.is_empty() {
        return Err(CliError::new(format!(
            "restore finished with {} error(s); see above",
            report.errors.len()
        )));
    }
    Ok(if report.has_warnings() {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

/// The text report: one line per change (host paths), warnings and errors on
/// stderr, metadata warnings summarised per kind unless `verbose`.
fn print_report(report: &RestoreReport, dry_run: bool, verbose: bool) {
    let verb = if dry_run { "would " } else { "" };
    for a in &report.actions {
        if a.action == "unchanged" || a.action == "error" {
            continue;
        }
        match &a.detail {
            Some(d) => outln!("{verb}{} {} ({})", a.action, escape(&a.dest), escape(d)),
            None => outln!("{verb}{} {}", a.action, escape(&a.dest)),
        }
    }
    if let Some(first) = report.privileged.first() {
        outln!(
            "{verb}restore {} privileged entr{} (setuid/setgid, file capabilities, devices); first: {} ({})",
            report.privileged.len(),
            if report.privileged.len() == 1 {
                "y"
            } else {
                "ies"
            },
            escape(&first.dest),
            first.why
        );
    }
    for w in &report.warnings {
        output::warn(format_args!("{}", escape(w)));
    }
    print_metadata_warnings(&report.metadata_warnings, verbose);
    for e in &report.errors {
        output::error(format_args!("{}", escape(e)));
    }
    outln!(
        "restore: {} entries under {}{}, {} files written ({}), {} warning(s), {} error(s)",
        report.actions.len(),
        escape(&report.target),
        if dry_run {
            " (dry run, nothing written)"
        } else {
            ""
        },
        report.files_written,
        human_bytes(report.bytes_written),
        report.warnings.len() + report.metadata_warnings.len(),
        report.errors.len()
    );
}

/// One line per kind of failed step (chown, set xattr ...) with the count and the
/// first path; every one with `verbose`.
fn print_metadata_warnings(warnings: &[MetaWarning], verbose: bool) {
    if verbose {
        for w in warnings {
            output::warn(format_args!("{}: {}: {}", escape(&w.path), w.what, w.error));
        }
        return;
    }
    let mut kinds: Vec<(&str, usize, &MetaWarning)> = Vec::new();
    for w in warnings {
        let kind = w.what.split(' ').next().unwrap_or("");
        match kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            Some(k) => k.1 += 1,
            None => kinds.push((kind, 1, w)),
        }
    }
    for (_, n, first) in kinds {
        output::warn(format_args!(
            "{}: {} on {n} entr{} (first: {}); not root? --verbose lists them",
            first.what,
            first.error,
            if n == 1 { "y" } else { "ies" },
            escape(&first.path)
        ));
    }
}
