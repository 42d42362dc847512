//! `ocpvault completions SHELL` and the hidden `ocpvault manpages DIR`, both
//! generated from the clap definitions so they cannot drift from the flags.
//!
//! The pages in man/ are committed; tests/it/man_pages.rs regenerates them into a
//! temporary directory and fails when a committed page differs. clap writes NAME,
//! SYNOPSIS, DESCRIPTION, OPTIONS and SUBCOMMANDS; EXAMPLES, EXIT STATUS, FILES and
//! SEE ALSO come from man_extra.rs and go before VERSION.

mod man_extra;

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
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    write_page(cmd, dir, &mut pages)?;
    pages.sort();
    Ok(pages)
}

/// Writes the page of `cmd` and of each visible subcommand, as clap_mangen's
/// generate_to names them (`ocpvault-etcd-restore.1`).
fn write_page(cmd: clap::Command, dir: &Path, pages: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub.clone(), dir, pages)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    let roff = String::from_utf8(roff).map_err(std::io::Error::other)?;
    let name = man.get_filename();
    let page = name.strip_suffix(".1").unwrap_or(&name);
    let extra = man_extra::render(page);
    let roff = match roff.find("\n.SH VERSION\n") {
        Some(at) => format!("{}\n{extra}{}", &roff[..at], &roff[at + 1..]),
        None => format!("{roff}{extra}"),
    };
    let path = dir.join(&name);
    std::fs::write(&path, roff)?;
    pages.push(path);
    Ok(())
}
