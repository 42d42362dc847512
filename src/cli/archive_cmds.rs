//! Read-only archive commands: `ls`, `cat`, `info`, `verify`.

use super::output::{self, escape, human_bytes, mode_string, print_json};
use super::progress::ProgressMode;
use super::{CliError, CmdResult, Outcome};
use crate::archive::{
    ArchiveError, ArchiveReader, Entry, EntryType, Scope, SourceReport, format_mode,
};
use crate::crypto;
use crate::outln;
use crate::verify::{Level, verify_archive};
use std::io::Read;
use std::path::PathBuf;

/// The archive argument of every command that reads an archive, with the keys that
/// decrypt it.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArchive {
    /// The archive file (.ocpvault or .ocpvault.age).
    pub archive: PathBuf,
    /// An age identity file or ssh private key that decrypts the archive; repeatable.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// Decrypt with a passphrase (from the terminal, or OCPVAULT_PASSPHRASE).
    #[arg(long)]
    pub passphrase: bool,
}

impl ReadArchive {
    /// Opens the archive, decrypting it when needed.
    pub fn open(&self) -> Result<ArchiveReader, CliError> {
        self.open_scoped(&Scope::All)
    }

    /// Opens the archive reading only what `scope` needs: for `Paths`, the entries
    /// of those paths and beneath them and their objects' rows (formats/archive-v2.md
    /// §6), so the cost does not grow with the number of entries.
    pub fn open_scoped(&self, scope: &Scope) -> Result<ArchiveReader, CliError> {
        self.open_raw_scoped(scope).map_err(|e| match e {
            OpenError::Archive(a) => open_error(a),
            OpenError::Cli(c) => c,
        })
    }

    /// Like `open`, but keeps a damaged-archive error apart so verify can report it
    /// as a finding.
    pub fn open_raw(&self) -> Result<ArchiveReader, OpenError> {
        self.open_raw_scoped(&Scope::All)
    }

    fn open_raw_scoped(&self, scope: &Scope) -> Result<ArchiveReader, OpenError> {
        let path = &self.archive;
        let encrypted = crypto::is_age_file(path)
            .map_err(|e| OpenError::Cli(CliError::new(format!("{}: {e}", path.display()))))?;
        if !encrypted {
            if !self.identity.is_empty() || self.passphrase {
                // Keys are harmless on a plain archive; say so instead of failing.
                output::note(format_args!(
                    "{} is not encrypted; --identity/--passphrase ignored",
                    path.display()
                ));
            }
            return ArchiveReader::open_scoped(path, scope).map_err(OpenError::Archive);
        }
        let keys = self.keys().map_err(OpenError::Cli)?;
        if keys.identities.is_empty() && keys.passphrase.is_none() {
            return Err(OpenError::Cli(
                CliError::new(format!("{}: archive is age-encrypted", path.display()))
                    .hint("pass --identity FILE (age identity or ssh private key) or --passphrase"),
            ));
        }
        let source = crypto::open_encrypted(path, &keys).map_err(|e| {
            let hint = match &e {
                crypto::CryptoError::NeedsPassphrase { .. } => Some("pass --passphrase"),
                crypto::CryptoError::NotPassphrase { .. } => {
                    Some("pass --identity FILE (age identity or ssh private key)")
                }
                _ => None,
            };
            let err = CliError::from(e);
            OpenError::Cli(match hint {
                Some(h) => err.hint(h),
                None => err,
            })
        })?;
        ArchiveReader::from_source_scoped(path, source, scope).map_err(OpenError::Archive)
    }

    /// True when the archive file is age-encrypted.
    pub fn is_encrypted(&self) -> bool {
        crypto::is_age_file(&self.archive).unwrap_or(false)
    }

    fn keys(&self) -> Result<crypto::DecryptKeys, CliError> {
        let mut keys = crypto::DecryptKeys::default();
        for f in &self.identity {
            keys.identities.extend(crypto::load_identity_file(f)?);
        }
        if self.passphrase {
            keys.passphrase = Some(super::passphrase::read_passphrase(false)?);
        }
        Ok(keys)
    }
}

/// Why an archive could not be opened.
pub enum OpenError {
    /// The archive layer refused it (damaged, newer version, not an archive).
    Archive(ArchiveError),
    /// Keys, decryption or file access failed.
    Cli(CliError),
}

/// Turns an open error into a CLI error, with a hint for the common mistakes.
fn open_error(e: ArchiveError) -> CliError {
    let hint = match &e {
        ArchiveError::NewerVersion { .. } => Some("upgrade ocpvault to read this archive"),
        ArchiveError::NotAnArchive { why, .. } if why.contains("age-encrypted") => {
            Some("pass --identity FILE (age identity or ssh private key) or --passphrase")
        }
        _ => None,
    };
    let err = CliError::from(e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Only these paths and what is under them.
    pub paths: Vec<String>,
    /// Long listing: type, mode, owner, size, mtime, SELinux label.
    #[arg(long, short = 'l')]
    pub long: bool,
    /// Print one JSON array of entries.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct LsEntry<'a> {
    path: String,
    #[serde(rename = "type")]
    kind: &'static str,
    mode: String,
    uid: u32,
    gid: u32,
    user: Option<&'a str>,
    group: Option<&'a str>,
    size: u64,
    mtime: &'a str,
    selinux: Option<String>,
    xattrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

fn matches(entry: &Entry, paths: &[String]) -> bool {
    paths.is_empty()
        || paths.iter().any(|p| {
            let p = p.trim_end_matches('/');
            let ep = entry.path.as_bytes();
            ep == p.as_bytes() || (ep.starts_with(p.as_bytes()) && ep.get(p.len()) == Some(&b'/'))
        })
}

pub fn ls(args: LsArgs) -> CmdResult {
    let reader = args.input.open()?;
    let entries: Vec<&Entry> = reader
        .manifest()
        .entries
        .iter()
        .filter(|e| matches(e, &args.paths))
        .collect();
    if entries.is_empty() && !args.paths.is_empty() {
        return Err(output::not_in_archive(&args.paths));
    }
    if args.json {
        let list: Vec<LsEntry> = entries
            .iter()
            .map(|e| LsEntry {
                path: e.path.to_string(),
                kind: e.kind.as_str(),
                mode: format_mode(e.mode),
                uid: e.uid,
                gid: e.gid,
                user: e.user.as_deref(),
                group: e.group.as_deref(),
                size: e.size,
                mtime: &e.mtime,
                selinux: e.selinux_label(),
                xattrs: e.xattrs.iter().map(|x| x.name.to_string()).collect(),
                target: e.target.as_ref().map(|t| t.to_string()),
                link: e.link.as_ref().map(|t| t.to_string()),
            })
            .collect();
        print_json(&list)?;
        return Ok(Outcome::Ok);
    }
    for e in entries {
        if args.long {
            let owner = e.user.clone().unwrap_or_else(|| e.uid.to_string());
            let group = e.group.clone().unwrap_or_else(|| e.gid.to_string());
            let label = e.selinux_label().unwrap_or_else(|| "-".into());
            let suffix = match (e.kind, &e.target, &e.link) {
                (EntryType::Symlink, Some(t), _) => format!(" -> {t}"),
                (EntryType::Hardlink, _, Some(l)) => format!(" link to {l}"),
                _ => String::new(),
            };
            outln!(
                "{} {:<8} {:<8} {:>10} {} {} {}{}",
                mode_string(e.kind.type_char(), e.mode),
                owner,
                group,
                e.size,
                ls_time(&e.mtime),
                escape(&label),
                escape(&e.path.to_string()),
                escape(&suffix)
            );
        } else {
            outln!("{}", escape(&e.path.to_string()));
        }
    }
    Ok(Outcome::Ok)
}

/// An entry's mtime for `ls -l`: to the second, with its zone (`Z`, UTC). A time
/// that does not parse is shown escaped as recorded, never cut at a byte index.
fn ls_time(recorded: &str) -> String {
    crate::archive::parse_time(recorded)
        .and_then(|(secs, _)| chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| escape(recorded).into_owned())
}

#[derive(Debug, clap::Args)]
pub struct CatArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Absolute path of the file in the archive.
    pub path: String,
}

pub fn cat(args: CatArgs) -> CmdResult {
    let mut reader = args
        .input
        .open_scoped(&Scope::Paths(vec![args.path.as_bytes().to_vec()]))?;
    let entry = reader
        .manifest()
        .entry(args.path.as_bytes())
        .cloned()
        .ok_or_else(|| output::not_in_archive(&[&args.path]))?;
    let file_entry = match entry.kind {
        EntryType::File => entry,
        EntryType::Hardlink => {
            let link = entry.link.clone().unwrap_or_default();
            reader
                .manifest()
                .entry(link.as_bytes())
                .cloned()
                .ok_or_else(|| {
                    CliError::new(format!("{}: hard link target {link} missing", args.path))
                })?
        }
        EntryType::Symlink => {
            return Err(CliError::new(format!(
                "{}: is a symlink to {}",
                args.path,
                entry.target.unwrap_or_default()
            )));
        }
        other => {
            return Err(CliError::new(format!(
                "{}: is a {}, not a file",
                args.path,
                other.as_str()
            )));
        }
    };
    let id = file_entry
        .object
        .ok_or_else(|| CliError::new(format!("{}: entry has no object", args.path)))?;
    let mut obj = reader.open_object(&id)?;
    // Read errors (a damaged object) are the archive's; write errors are stdout's,
    // which the shared writer handles (a closed pipe just ends the copy).
    let mut read_error = None;
    output::with_stdout(|out| {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match obj.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    read_error = Some(e);
                    return Ok(());
                }
            };
            out.write_all(&buf[..n])?;
        }
    });
    if let Some(e) = read_error {
        return Err(CliError::new(format!("{}: {e}", escape(&args.path))));
    }
    Ok(Outcome::Ok)
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn info(args: InfoArgs) -> CmdResult {
    let reader = args.input.open()?;
    let m = reader.manifest();
    // A pack's length counts once, however many objects it holds.
    let mut packs = std::collections::HashSet::new();
    let stored: u64 = reader
        .index()
        .objects
        .iter()
        .filter(|o| o.pack.is_none() || packs.insert(o.offset))
        .map(|o| o.length)
        .sum();
    let content: u64 = reader.index().objects.iter().map(|o| o.size).sum();
    let encrypted = args.input.is_encrypted();
    // The size on disk: for an age file that is the encrypted size, not the plain
    // stream the reader sees.
    let on_disk = std::fs::metadata(&args.input.archive)
        .map(|m| m.len())
        .map_err(|e| CliError::new(format!("{}: {e}", args.input.archive.display())))?;
    if args.json {
        print_json(&serde_json::json!({
            "archive": args.input.archive.display().to_string(),
            "format_version": m.version,
            "ocpvault_version": m.ocpvault_version,
            "created": m.created,
            "host": m.host,
            "run_id": m.run_id,
            "entries": m.entries.len(),
            "objects": reader.index().objects.len(),
            "content_bytes": content,
            "stored_bytes": stored,
            "archive_bytes": on_disk,
            "encrypted": encrypted,
            "sources": m.sources,
        }))?;
        return Ok(Outcome::Ok);
    }
    outln!(
        "archive:   {}{}",
        args.input.archive.display(),
        if encrypted { " (age-encrypted)" } else { "" }
    );
    outln!(
        "format:    ocpvault archive v{} (written by ocpvault {})",
        m.version,
        m.ocpvault_version
    );
    outln!("created:   {}", m.created);
    outln!("hostname:  {}", m.host.hostname);
    if let Some(id) = &m.run_id {
        outln!("run id:    {id}");
    }
    outln!(
        "os:        {}",
        m.host.os_release.as_deref().unwrap_or("unknown")
    );
    outln!("root:      {}", m.host.root);
    outln!(
        "entries:   {}  objects: {}  content: {}  stored: {}  archive: {}",
        m.entries.len(),
        reader.index().objects.len(),
        human_bytes(content),
        human_bytes(stored),
        human_bytes(on_disk)
    );
    print_sources(&m.sources);
    Ok(Outcome::Ok)
}

/// The per-source lines of `info` and of the snapshot summary: the same words, in
/// the archive's source order, naming every path counted as missing.
pub(super) fn print_sources(sources: &[SourceReport]) {
    for s in sources {
        let (missing, other): (Vec<_>, Vec<_>) =
            s.skipped.iter().partition(|i| i.reason == "missing");
        outln!(
            "source {}: {} ({} captured, {} missing, {} skipped, {} failed)",
            s.name,
            s.status.as_str(),
            s.captured,
            missing.len(),
            other.len(),
            s.failed.len()
        );
        if !missing.is_empty() {
            let paths: Vec<String> = missing
                .iter()
                .map(|i| escape(&i.path.to_string()).into_owned())
                .collect();
            outln!("  missing: {}", paths.join(", "));
        }
        for i in &other {
            outln!("  skipped {}: {}", escape(&i.path.to_string()), i.reason);
        }
        for f in &s.failed {
            outln!(
                "  failed {}: {}",
                escape(&f.path.to_string()),
                escape(&f.error)
            );
        }
        // Skipped and failed sources say why in details (spec §5.3).
        for key in ["reason", "error"] {
            if let Some(why) = s.details.get(key).and_then(|v| v.as_str()) {
                outln!("  {key}: {why}");
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn verify(args: VerifyArgs, progress: &ProgressMode) -> CmdResult {
    let mut reader = match args.input.open_raw() {
        Ok(r) => r,
        // An archive that cannot even be opened is a finding of verify, not a usage
        // error, unless the file is not an archive at all.
        Err(OpenError::Archive(e))
            if matches!(e, ArchiveError::Corrupt { .. }) || crypto::is_tampered(&e) =>
        {
            if args.json {
                print_json(&serde_json::json!({
                    "objects_checked": 0, "bytes_checked": 0, "entries_checked": 0,
                    "findings": [{"level": "error", "subject": "archive", "message": e.to_string()}]
                }))?;
            } else {
                outln!("error: {e}");
                outln!("verify: archive is damaged");
            }
            return Ok(Outcome::Findings);
        }
        Err(OpenError::Archive(e)) => return Err(open_error(e)),
        Err(OpenError::Cli(e)) => return Err(e),
    };
    let total: u64 = reader.index().objects.iter().map(|o| o.size).sum();
    let bar = progress.bytes("verify", total);
    let report = verify_archive(&mut reader, &|n| {
        if let Some(b) = &bar {
            b.inc(n)
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if args.json {
        print_json(&report)?;
    } else {
        for f in &report.findings {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            outln!("{level}: {}: {}", f.subject, f.message);
        }
        outln!(
            "verify: {} objects ({}), {} entries checked, {} problem(s)",
            report.objects_checked,
            human_bytes(report.bytes_checked),
            report.entries_checked,
            report.findings.len()
        );
    }
    Ok(if report.is_sound() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_times_carry_their_zone_and_never_slice_bytes() {
        assert_eq!(
            ls_time("2026-11-22T02:28:55.123456789Z"),
            "2026-11-22T02:28:55Z"
        );
        // A damaged time with a multibyte char across byte 19 must not panic.
        assert_eq!(ls_time("2026-11-22T02:28:5é"), "2026-11-22T02:28:5é");
        assert_eq!(ls_time("bad\x1b"), "bad\\u{1b}");
    }
}
