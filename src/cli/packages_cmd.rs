//! `ocpvault packages list|diff` and the snapshot options of the packages source.

use super::archive_cmds::ReadArchive;
use super::output::print_json;
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::packages::capture::{PackagesMode, PackagesOptions};
use crate::packages::{
    Change, DiffOptions, DiffReport, Package, RpmError, RpmOptions, diff_packages,
    load_from_archive, read_text_listing, yum_commands,
};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Which rpm to run and which installed system it reads.
#[derive(Debug, Clone, clap::Args)]
pub struct RpmArgs {
    /// The rpm program [default: rpm on PATH].
    #[arg(long = "rpm", value_name = "PATH")]
    pub rpm: Option<PathBuf>,
    /// Read the rpm database of the system installed under DIR (rpm --root).
    #[arg(long, value_name = "DIR")]
    pub rpm_root: Option<PathBuf>,
    /// The rpm database directory inside the rpm root (rpm --dbpath) [default: rpm's].
    #[arg(long, value_name = "DIR")]
    pub rpm_dbpath: Option<PathBuf>,
}

impl RpmArgs {
    /// The rpm options; `--rpm-root` is made absolute (rpm requires it) and
    /// `--rpm-dbpath` must be absolute (it names a directory inside the root).
    fn options(&self, default_root: &Path) -> Result<RpmOptions, CliError> {
        let root = match &self.rpm_root {
            Some(r) => std::path::absolute(r)
                .map_err(|e| CliError::new(format!("--rpm-root {}: {e}", r.display())))?,
            None => default_root.to_path_buf(),
        };
        if let Some(db) = self.rpm_dbpath.as_ref().filter(|d| !d.is_absolute()) {
            return Err(CliError::new(format!(
                "--rpm-dbpath {}: must be absolute, as seen inside the rpm root",
                db.display()
            ))
            .hint("for a database at /mnt/sysimage/var/lib/rpm: --rpm-root /mnt/sysimage --rpm-dbpath /var/lib/rpm"));
        }
        Ok(RpmOptions {
            rpm: self.rpm.clone().unwrap_or_else(|| PathBuf::from("rpm")),
            root,
            dbpath: self.rpm_dbpath.clone(),
        })
    }

    fn is_given(&self) -> bool {
        self.rpm.is_some() || self.rpm_root.is_some() || self.rpm_dbpath.is_some()
    }
}

/// `--packages` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackagesArg {
    /// Capture; skip the source when rpm or its database is absent.
    Auto,
    /// Capture; a missing rpm or database fails the source (exit 1).
    Require,
    /// Do not capture the package list.
    Skip,
}

/// The snapshot options of the packages source.
#[derive(Debug, clap::Args)]
pub struct PackagesSourceArgs {
    /// Capture the installed rpm list. Any --rpm* option makes auto act as require.
    #[arg(long = "packages", value_enum, value_name = "MODE", default_value_t = PackagesArg::Auto)]
    pub mode: PackagesArg,
    #[command(flatten)]
    pub rpm: RpmArgs,
}

/// Runs the packages source of a snapshot of `root` (the default rpm root).
impl PackagesSourceArgs {
    /// The packages source's options for a snapshot of `root`.
    pub fn options(&self, root: &Path, created: (i64, u32)) -> Result<PackagesOptions, CliError> {
        let mode = match self.mode {
            PackagesArg::Skip => PackagesMode::Skip,
            // rpm options name something that should exist: its absence is an error.
            PackagesArg::Auto if !self.rpm.is_given() => PackagesMode::Auto,
            _ => PackagesMode::Require,
        };
        Ok(PackagesOptions {
            mode,
            rpm: self.rpm.options(root)?,
            created,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct PackagesArgs {
    #[command(subcommand)]
    pub command: PackagesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PackagesCommand {
    /// List the packages recorded in an archive.
    List(ListArgs),
    /// Compare the archived packages with this host, another archive or a listing.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Print one JSON array of packages.
    #[arg(long)]
    pub json: bool,
}

/// `--format` values of `packages diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// A table of changed packages with counts.
    Text,
    /// yum commands that put the archived packages back.
    Yum,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// What to compare with: live (this host's rpm database), another archive, or a
    /// saved `rpm -qa` listing (use ./live for a file named live).
    #[arg(long, value_name = "live|ARCHIVE2|FILE", default_value = "live")]
    pub against: String,
    /// Print one JSON array of changed packages.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// With --format yum: also downgrade upgraded packages to their archived version.
    #[arg(long)]
    pub restore_versions: bool,
    #[command(flatten)]
    pub rpm: RpmArgs,
}

pub fn run(args: PackagesArgs) -> CmdResult {
    match args.command {
        PackagesCommand::List(a) => list(a),
        PackagesCommand::Diff(a) => diff(a),
    }
}

fn list(args: ListArgs) -> CmdResult {
    let mut reader = args.input.open()?;
    let packages = load_from_archive(&mut reader).map_err(no_list_hint)?;
    if args.json {
        print_json(&packages)?;
        return Ok(Outcome::Ok);
    }
    for p in &packages {
        outln!("{}", p.nevra());
    }
    Ok(Outcome::Ok)
}

fn no_list_hint(e: crate::packages::ListError) -> CliError {
    let no_list = matches!(e, crate::packages::ListError::NoList { .. });
    let err = CliError::from(e);
    if no_list {
        err.hint("`ocpvault info` shows the packages source; snapshot with --packages require to make a missing list fail the snapshot")
    } else {
        err
    }
}

/// The current side of a diff.
struct Current {
    label: String,
    packages: Vec<Package>,
    ignore_epoch: bool,
}

fn diff(args: DiffArgs) -> CmdResult {
    if args.restore_versions && args.format != DiffFormat::Yum {
        return Err(CliError::new(
            "--restore-versions only applies to --format yum",
        ));
    }
    let mut reader = args.input.open()?;
    let archived = load_from_archive(&mut reader).map_err(no_list_hint)?;
    let current = load_current(&args)?;
    let opts = DiffOptions {
        ignore_epoch: current.ignore_epoch,
    };
    let report = diff_packages(&archived, &current.packages, opts);
    if args.json {
        let records: Vec<_> = report.changes.iter().map(|c| c.record()).collect();
        print_json(&records)?;
    } else if args.format == DiffFormat::Yum {
        for line in yum_commands(&report, args.restore_versions) {
            outln!("{line}");
        }
    } else {
        let archive = args.input.archive.display().to_string();
        print_table(&report, &archive, &current.label)?;
    }
    Ok(if report.has_drift() {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

fn load_current(args: &DiffArgs) -> Result<Current, CliError> {
    if args.against == "live" {
        let rpm = args.rpm.options(Path::new("/"))?;
        return query_live(&rpm);
    }
    if args.rpm.is_given() {
        return Err(CliError::new(
            "--rpm, --rpm-root and --rpm-dbpath only apply to --against live",
        ));
    }
    let path = PathBuf::from(&args.against);
    if is_archive(&path)? {
        let other = ReadArchive {
            archive: path,
            ..args.input.clone()
        };
        let mut reader = other.open()?;
        return Ok(Current {
            label: args.against.clone(),
            packages: load_from_archive(&mut reader).map_err(no_list_hint)?,
            ignore_epoch: false,
        });
    }
    let file = std::fs::File::open(&path)
        .map_err(|e| CliError::new(format!("--against {}: {e}", path.display())))?;
    let listing = read_text_listing(file, &args.against)?;
    Ok(Current {
        label: args.against.clone(),
        ignore_epoch: !listing.has_epochs,
        packages: listing.packages,
    })
}

fn query_live(rpm: &RpmOptions) -> Result<Current, CliError> {
    let hint = |e: RpmError| {
        let unavailable = e.is_unavailable();
        let err = CliError::from(e);
        if unavailable {
            err.hint("compare with a saved listing or archive instead: --against FILE|ARCHIVE2")
        } else {
            err
        }
    };
    let rpm = rpm.resolved().map_err(hint)?;
    let packages = rpm.query_packages().map_err(hint)?;
    Ok(Current {
        label: format!("the rpm database of {}", rpm.root.display()),
        packages,
        ignore_epoch: false,
    })
}

/// True when `path` starts like an ocpvault archive (tar member `OCPVAULT`) or an age
/// file; anything else is read as a listing.
fn is_archive(path: &Path) -> Result<bool, CliError> {
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| CliError::new(format!("--against {}: {e}", path.display())))?;
    Ok(head.starts_with(b"OCPVAULT\0")
        || head.starts_with(b"age-encryption.org/")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"))
}

fn print_table(report: &DiffReport, archive: &str, current: &str) -> Result<(), CliError> {
    outln!(
        "archived: {} packages in {archive}\ncurrent:  {} packages in {current}",
        report.archived_total,
        report.current_total
    );
    let side = |p: &Option<Package>| p.as_ref().map_or_else(|| "-".to_string(), Package::evr);
    let rows: Vec<[String; 5]> = report
        .changes
        .iter()
        .map(|c| {
            [
                c.change.as_str().to_string(),
                c.name().to_string(),
                c.arch().unwrap_or("-").to_string(),
                side(&c.archived),
                side(&c.current),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let header = ["CHANGE", "NAME", "ARCH", "ARCHIVED", "CURRENT"].map(String::from);
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].len())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in [&header].into_iter().chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            outln!("{}", cells.join("  ").trim_end());
        }
    }
    let counts: Vec<String> = Change::ALL
        .iter()
        .map(|c| format!("{} {}", report.count(*c), c.as_str()))
        .collect();
    outln!("{}, {} unchanged", counts.join(", "), report.unchanged);
    Ok(())
}
