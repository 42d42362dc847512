//! The command line: clap definitions, one file per subcommand, and the only code
//! that prints. Errors become `ocpvault: <what>: <why>` plus an optional hint.

pub mod archive_cmds;
mod config_defaults;
mod diff_cmd;
mod docs_cmd;
mod etcd_browse;
mod etcd_cmd;
pub mod output;
mod packages_cmd;
mod passphrase;
mod progress;
mod project_cmd;
mod restore_cmd;
mod run_cmd;
mod run_report;
mod ship_cmd;
mod snapshot;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The outcome of a command that completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: completed with findings or warnings.
    Findings,
}

/// An error that stops a command (exit 2). It keeps the error it came from, so
/// `main` can tell a closed stdout (`io::ErrorKind::BrokenPipe`) from a failure.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True when the error comes from writing to a stdout its reader closed.
    pub fn is_broken_pipe(&self) -> bool {
        self.source
            .as_deref()
            .is_some_and(|s| output::is_broken_pipe(s))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for CliError {
    fn from(e: E) -> Self {
        Self {
            message: error_chain_text(&e),
            hint: None,
            source: Some(Box::new(e)),
        }
    }
}

/// The error's text and its sources', each added only when it says something new:
/// a source whose text is already part of the message (the usual `{path}: {source}`
/// display) is not repeated, nor is a message that already contains the next one.
pub fn error_chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        src = s.source();
    }
    message
}

pub type CmdResult = Result<Outcome, CliError>;

/// Offline backup and restore for OpenShift 3.x hosts.
#[derive(Debug, Parser)]
#[command(name = "ocpvault", version, about, long_about = None)]
pub struct Cli {
    /// Do not draw progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Read defaults from FILE (TOML, or JSON when it ends in .json) instead of
    /// /etc/ocpvault/config.toml or config.json; flags override it.
    #[arg(long, global = true, value_name = "FILE", env = "OCPVAULT_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture host files into a new archive.
    Snapshot(Box<snapshot::SnapshotArgs>),
    /// List the entries of an archive.
    Ls(archive_cmds::LsArgs),
    /// Write one file's content from an archive to stdout.
    Cat(archive_cmds::CatArgs),
    /// Show archive facts and what each source captured.
    Info(archive_cmds::InfoArgs),
    /// Check every object's hash and the manifest/index consistency.
    Verify(archive_cmds::VerifyArgs),
    /// Show what changed on this host (or a --root tree) since the snapshot.
    Diff(diff_cmd::DiffArgs),
    /// Restore files from an archive, verified, with owners, modes and labels.
    Restore(restore_cmd::RestoreArgs),
    /// Copy archives to a directory or s3://bucket/prefix, verified and atomic.
    Ship(ship_cmd::ShipArgs),
    /// List the archives at a destination, by run, and per host for the others.
    List(ship_cmd::ListArgs),
    /// Download an archive from a destination and verify it.
    Fetch(ship_cmd::FetchArgs),
    /// Delete old archives at a destination by retention: whole runs, else per host.
    Prune(ship_cmd::PruneArgs),
    /// Cluster runs at a destination: seal a run with the hosts it holds.
    Run(run_cmd::RunArgs),
    /// List archived rpm packages, or show how this host's packages drifted from them.
    Packages(packages_cmd::PackagesArgs),
    /// Inspect the archived etcd snapshot, or restore it into a new data directory.
    Etcd(etcd_cmd::EtcdArgs),
    /// List the projects an archive holds, or re-create one in a cluster.
    Project(project_cmd::ProjectArgs),
    /// Write a shell completion script (bash, zsh, fish, ...) to stdout.
    Completions(docs_cmd::CompletionsArgs),
    /// Write the man pages into DIR (used to refresh man/).
    #[command(hide = true)]
    Manpages(docs_cmd::ManpagesArgs),
}

/// Parses `args` with the configuration file's values as defaults; on failure
/// prints why and returns the exit code.
fn parse_with_config(args: Vec<std::ffi::OsString>) -> Result<Cli, u8> {
    let explicit = config_defaults::explicit_path(&args);
    let cmd = match crate::config::load(explicit.as_deref()) {
        Ok(Some((_, config))) => config_defaults::apply(Cli::command(), &config),
        Ok(None) => Cli::command(),
        Err(e) => {
            let mut err = CliError::new(e.to_string());
            if matches!(e, crate::config::ConfigError::Invalid { .. }) {
                err = err.hint(crate::config::INVALID_HINT);
            }
            output::print_error(&err);
            return Err(2);
        }
    };
    let parsed = cmd
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    parsed.map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { 2 } else { 0 }
    })
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match parse_with_config(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let progress = progress::ProgressMode::new(cli.quiet);
    let result = match cli.command {
        Command::Snapshot(a) => snapshot::run(*a, &progress),
        Command::Ls(a) => archive_cmds::ls(a),
        Command::Cat(a) => archive_cmds::cat(a),
        Command::Info(a) => archive_cmds::info(a),
        Command::Verify(a) => archive_cmds::verify(a, &progress),
        Command::Diff(a) => diff_cmd::run(a),
        Command::Restore(a) => restore_cmd::run(a, &progress),
        Command::Ship(a) => ship_cmd::ship(a, &progress),
        Command::List(a) => ship_cmd::list(a),
        Command::Fetch(a) => ship_cmd::fetch(a, &progress),
        Command::Prune(a) => ship_cmd::prune(a),
        Command::Run(a) => run_cmd::run(a),
        Command::Packages(a) => packages_cmd::run(a),
        Command::Etcd(a) => etcd_cmd::run(a),
        Command::Project(a) => project_cmd::run(a),
        Command::Completions(a) => docs_cmd::completions(a),
        Command::Manpages(a) => docs_cmd::manpages(a),
    };
    let work = match result {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Findings) => 1,
        // The reader of stdout went away: the work stopped only because nobody
        // listens any more, which is not a failure of the work.
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            output::print_error(&e);
            2
        }
    };
    output::exit_code(work)
}
