//! `ocpvault completions SHELL` and the hidden `ocpvault manpages DIR`, both
//! generated from the clap definitions so they cannot drift from the flags.
//!
//! The pages in man/ are committed; tests/man_pages.rs regenerates them into a
//! temporary directory and fails when a committed page differs.

use super::{Cli, CliError, CmdResult, Outcome};
use crate::outln;
use clap::CommandFactory;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManpagesArgs {
    /// Directory to write ocpvault.1 and ocpvault-<command>.1 into.
    pub dir: PathBuf,
}

/// Writes the completion script to stdout.
pub fn completions(args: CompletionsArgs) -> CmdResult {
    let mut cmd = Cli::command();
    // clap_complete panics when its writer fails; render first, so a closed pipe is
    // an ordinary (quiet) write error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ocpvault", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Outcome::Ok)
}

/// Writes one page for ocpvault and each (nested) subcommand, then lists them.
pub fn manpages(args: ManpagesArgs) -> CmdResult {
    let written = write_manpages(&args.dir)
        .map_err(|e| CliError::new(format!("{}: {e}", args.dir.display())))?;
    for p in written {
        outln!("{}", p.display());
    }
    Ok(Outcome::Ok)
}

/// Renders every page into `dir` (created when missing); returns the paths.
pub fn write_manpages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    Ok(pages)
}
