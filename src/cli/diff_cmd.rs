//! `ocpvault diff`: what changed on the host (or a `--root` tree) since the snapshot.
//!
//! Exit 0 when nothing differs, 1 when something does, 2 when a path could not be
//! compared (after printing every difference found, as ripgrep does with errors).

use super::archive_cmds::ReadArchive;
use super::output::{self, escape, print_json};
use super::{CliError, CmdResult, Outcome};
use crate::files::diff::{Change, DiffOptions, Difference, diff_archive};
use crate::outln;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Only these archive paths and what is under them; default: every host file.
    pub paths: Vec<String>,
    /// Compare the tree under DIR, read as if it were `/` (e.g. a `restore --target`).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Compare owners by the recorded numbers, not by the recorded names.
    #[arg(long)]
    pub numeric_owner: bool,
    /// Do not report modification times of files whose content is unchanged.
    #[arg(long)]
    pub ignore_mtime: bool,
    /// Print one JSON array of differences.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> CmdResult {
    let reader = args.input.open()?;
    if !args.root.is_dir() {
        return Err(CliError::new(format!(
            "{}: not a directory",
            args.root.display()
        )));
    }
    let opts = DiffOptions {
        root: args.root.clone(),
        paths: args.paths.clone(),
        numeric_owner: args.numeric_owner,
        ignore_mtime: args.ignore_mtime,
    };
    let report = diff_archive(&reader, &opts);
    if !args.paths.is_empty() && report.entries_compared == 0 && report.differences.is_empty() {
        return Err(output::not_in_archive(&args.paths));
    }
    if args.json {
        print_json(&report.differences)?;
    } else {
        for d in &report.differences {
            outln!("{}", line(d));
        }
    }
    for e in &report.errors {
        output::error(format_args!(
            "{}: cannot compare: {}",
            escape(&e.path.to_string()),
            e.error
        ));
    }
    if !report.errors.is_empty() {
        return Err(CliError::new(format!(
            "{} path(s) could not be compared",
            report.errors.len()
        ))
        .hint("run as root to read every file"));
    }
    Ok(if report.differences.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

/// `added /etc/x (file)`, `changed mode /etc/y (0600 -> 0644)`, ...
fn line(d: &Difference) -> String {
    let detail = match (&d.archived, &d.current) {
        // Two SHA-256s say nothing a reader can use; sizes do.
        (Some(a), Some(_)) if d.change == Change::Content && !a.ends_with("bytes") => String::new(),
        (Some(a), Some(c)) => format!(" ({a} -> {c})"),
        (None, Some(c)) if d.change == Change::Added => format!(" ({c})"),
        (Some(a), None) if d.change == Change::Removed => format!(" ({a})"),
        (Some(a), None) => format!(" ({a} -> none)"),
        (None, Some(c)) => format!(" (none -> {c})"),
        (None, None) => String::new(),
    };
    let name = d
        .name
        .as_ref()
        .map(|n| format!(" {}", escape(&n.to_string())))
        .unwrap_or_default();
    let path = d.path.to_string();
    let (path, detail) = (escape(&path), escape(&detail));
    match d.change {
        Change::Added | Change::Removed => format!("{} {path}{detail}", d.change.as_str()),
        c => format!("changed {}{name} {path}{detail}", c.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ByteString;

    fn diff(change: Change, archived: Option<&str>, current: Option<&str>) -> Difference {
        Difference {
            change,
            path: ByteString::from("/etc/origin/master/master-config.yaml"),
            name: None,
            archived: archived.map(String::from),
            current: current.map(String::from),
        }
    }

    #[test]
    fn lines_name_the_change_and_path() {
        let d = diff(Change::Mode, Some("0600"), Some("0644"));
        assert_eq!(
            line(&d),
            "changed mode /etc/origin/master/master-config.yaml (0600 -> 0644)"
        );
        let d = diff(Change::Added, None, Some("file"));
        assert_eq!(
            line(&d),
            "added /etc/origin/master/master-config.yaml (file)"
        );
        let mut d = diff(Change::Xattr, None, Some("1"));
        d.name = Some(ByteString::from("user.x"));
        assert_eq!(
            line(&d),
            "changed xattr user.x /etc/origin/master/master-config.yaml (none -> 1)"
        );
    }
}
