//! Running rpm: the structured query (name, epoch, version, release, arch through
//! `--queryformat`, never by parsing plain `rpm -qa`, which prints no epoch) and the
//! plain `rpm -qa` listing kept for people who diff by hand.
//!
//! Guarantees: rpm runs with `LC_ALL=C`; the database directory is checked to exist
//! before rpm is asked anything, because rpm (sqlite backend) creates an empty database
//! where none exists and a backup must not write into the tree it reads; rpm's output
//! is read line by line with a length limit; a non-zero exit is an error carrying
//! rpm's own message.

use super::list::{MAX_LINE_BYTES, Package};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One line per package: name, epoch (empty when none), version, release, arch (empty
/// when none, as for gpg-pubkey), separated by tabs.
pub const QUERY_FORMAT: &str =
    "%{NAME}\\t%|EPOCH?{%{EPOCH}}:{}|\\t%{VERSION}\\t%{RELEASE}\\t%|ARCH?{%{ARCH}}:{}|\\n";
/// More packages than any real host has; a bound on memory for hostile output.
const MAX_PACKAGES: usize = 1_000_000;
/// How much of rpm's stderr is kept for an error message.
const MAX_STDERR_BYTES: u64 = 16 * 1024; // 16 KiB

/// Which rpm, and which installed system it looks at.
#[derive(Debug, Clone)]
pub struct RpmOptions {
    /// The rpm program (a bare name is looked up on PATH).
    pub rpm: PathBuf,
    /// The system root (`rpm --root`); `/` is the running host.
    pub root: PathBuf,
    /// The database directory inside `root` (`rpm --dbpath`); None uses rpm's default.
    pub dbpath: Option<PathBuf>,
}

/// Why rpm could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    #[error("{}", not_found(.0))]
    NotFound(PathBuf),
    #[error("no rpm database at {0}")]
    NoDatabase(PathBuf),
    #[error("no rpm database in {} (looked for {})", .0.display(), .1.join(", "))]
    NoDatabaseIn(PathBuf, Vec<String>),
    #[error("{command}: {source}")]
    Run {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{command}: unexpected output line {line}: {why}")]
    BadOutput {
        command: String,
        line: usize,
        why: String,
    },
    #[error(
        "the rpm database changed while it was read (three attempts); run again when no package transaction is running"
    )]
    Changed,
}

fn not_found(rpm: &Path) -> String {
    if rpm.components().count() > 1 {
        format!("{}: no such rpm program", rpm.display())
    } else {
        format!("{} not found on PATH", rpm.display())
    }
}

impl RpmError {
    /// True when rpm or its database is simply not there (a host without rpm), as
    /// opposed to rpm failing.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_) | Self::NoDatabase(_) | Self::NoDatabaseIn(..)
        )
    }
}

impl RpmOptions {
    /// The rpm command with `--root` (unless `/`) and `--dbpath`.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.rpm);
        cmd.env("LC_ALL", "C");
        if self.root != Path::new("/") {
            cmd.arg("--root").arg(&self.root);
        }
        if let Some(db) = &self.dbpath {
            cmd.arg("--dbpath").arg(db);
        }
        cmd
    }

    /// The command line, for messages.
    fn describe(&self, args: &[&str]) -> String {
        let cmd = self.command();
        let mut words: Vec<OsString> = vec![cmd.get_program().to_os_string()];
        words.extend(cmd.get_args().map(|a| a.to_os_string()));
        words.extend(args.iter().map(OsString::from));
        let words: Vec<String> = words
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        words.join(" ")
    }

    /// The database directory on disk (root joined with dbpath), which must exist.
    pub fn database_dir(&self) -> Result<PathBuf, RpmError> {
        let dbpath = match &self.dbpath {
            Some(d) => d.clone(),
            None => self.default_dbpath()?,
        };
        let dir = self.root.join(dbpath.strip_prefix("/").unwrap_or(&dbpath));
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(RpmError::NoDatabase(dir))
        }
    }

    /// These options with the database directory made explicit. For the running host
    /// (`root` is `/`) rpm's own default stands. For another root, rpm's default is a
    /// setting of the rpm running here (Debian's is `~/.rpmdb`), not of the tree: the
    /// first of that default, `/var/lib/rpm` (RHEL 7 and 8) and
    /// `/usr/lib/sysimage/rpm` (RHEL 9) that exists inside the root is used.
    pub fn resolved(&self) -> Result<RpmOptions, RpmError> {
        if self.dbpath.is_some() || self.root == Path::new("/") {
            self.database_dir()?;
            return Ok(self.clone());
        }
        let default = self.default_dbpath()?;
        let candidates = [
            default.clone(),
            PathBuf::from("/var/lib/rpm"),
            PathBuf::from("/usr/lib/sysimage/rpm"),
        ];
        for db in &candidates {
            let dir = self.root.join(db.strip_prefix("/").unwrap_or(db));
            if dir.is_dir() {
                return Ok(RpmOptions {
                    dbpath: Some(db.clone()),
                    ..self.clone()
                });
            }
        }
        let tried = candidates.iter().map(|c| c.display().to_string()).collect();
        Err(RpmError::NoDatabaseIn(self.root.clone(), tried))
    }

    /// rpm's configured `%{_dbpath}`.
    fn default_dbpath(&self) -> Result<PathBuf, RpmError> {
        let mut cmd = Command::new(&self.rpm);
        cmd.env("LC_ALL", "C").args(["--eval", "%{_dbpath}"]);
        let command = format!("{} --eval %{{_dbpath}}", self.rpm.display());
        let mut lines = Vec::new();
        run_lines(&self.rpm, cmd, &command, |_, line| {
            lines.push(line.to_vec());
            Ok(())
        })?;
        let text = lines.concat();
        let text = String::from_utf8_lossy(&text);
        let text = text.trim();
        if !text.starts_with('/') {
            return Err(RpmError::BadOutput {
                command,
                line: 1,
                why: format!("{text:?} is not an absolute database path"),
            });
        }
        Ok(PathBuf::from(text))
    }

    /// Every installed package, in rpm's order.
    pub fn query_packages(&self) -> Result<Vec<Package>, RpmError> {
        let args = ["-qa", "--queryformat", QUERY_FORMAT];
        // The format is long and documented (formats/packages-json.md); elide it.
        let command = self.describe(&["-qa", "--queryformat", "..."]);
        let mut cmd = self.command();
        cmd.args(args);
        let mut packages = Vec::new();
        run_lines(&self.rpm, cmd, &command, |number, line| {
            let bad = |why: String| RpmError::BadOutput {
                command: command.clone(),
                line: number,
                why,
            };
            if packages.len() >= MAX_PACKAGES {
                return Err(bad(format!("more than {MAX_PACKAGES} packages")));
            }
            packages.push(parse_query_line(line).map_err(bad)?);
            Ok(())
        })?;
        Ok(packages)
    }

    /// Plain `rpm -qa` output, sorted like `LC_ALL=C sort` (by bytes), every line
    /// newline-terminated. Returns the text and its number of lines.
    pub fn query_listing(&self) -> Result<(Vec<u8>, usize), RpmError> {
        let command = self.describe(&["-qa"]);
        let mut cmd = self.command();
        cmd.arg("-qa");
        let mut lines: Vec<Vec<u8>> = Vec::new();
        run_lines(&self.rpm, cmd, &command, |number, line| {
            if lines.len() >= MAX_PACKAGES {
                return Err(RpmError::BadOutput {
                    command: command.clone(),
                    line: number,
                    why: format!("more than {MAX_PACKAGES} packages"),
                });
            }
            lines.push(line.to_vec());
            Ok(())
        })?;
        lines.sort();
        let count = lines.len();
        let mut text = Vec::new();
        for l in lines {
            text.extend_from_slice(&l);
            text.push(b'\n');
        }
        Ok((text, count))
    }
}

/// Parses one line of [`QUERY_FORMAT`] output.
fn parse_query_line(line: &[u8]) -> Result<Package, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let fields: Vec<&str> = text.split('\t').collect();
    let [name, epoch, version, release, arch] = fields[..] else {
        return Err(format!("{text:?}: expected 5 tab-separated fields"));
    };
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return Err(format!("{text:?}: empty name, version or release"));
    }
    let epoch = match epoch {
        "" => None,
        e => Some(
            e.parse::<u64>()
                .map_err(|_| format!("{text:?}: bad epoch"))?,
        ),
    };
    let arch = (!arch.is_empty()).then(|| arch.to_string());
    Ok(Package {
        name: name.into(),
        epoch,
        version: version.into(),
        release: release.into(),
        arch,
    })
}

/// Runs `cmd`, handing each stdout line (without its newline) and its 1-based number
/// to `on_line`; fails on a spawn error, an over-long line or a non-zero exit.
fn run_lines(
    rpm: &Path,
    mut cmd: Command,
    command: &str,
    mut on_line: impl FnMut(usize, &[u8]) -> Result<(), RpmError>,
) -> Result<(), RpmError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => RpmError::NotFound(rpm.to_path_buf()),
        _ => RpmError::Run {
            command: command.to_string(),
            source,
        },
    })?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut limited = stderr.take(MAX_STDERR_BYTES);
        let _ = limited.read_to_end(&mut kept);
        // Drain the rest so rpm never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        kept
    });
    let read = read_stdout(&mut child, command, &mut on_line);
    if read.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|source| RpmError::Run {
        command: command.to_string(),
        source,
    })?;
    let stderr = stderr_reader.join().unwrap_or_default();
    read?;
    if !status.success() {
        return Err(RpmError::Failed {
            command: command.to_string(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&stderr).trim().replace('\n', "; "),
        });
    }
    Ok(())
}

fn read_stdout(
    child: &mut Child,
    command: &str,
    on_line: &mut impl FnMut(usize, &[u8]) -> Result<(), RpmError>,
) -> Result<(), RpmError> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| RpmError::Run {
                command: command.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            if n as u64 > MAX_LINE_BYTES {
                return Err(RpmError::BadOutput {
                    command: command.to_string(),
                    line: number,
                    why: "line too long".into(),
                });
            }
        } else {
            line.pop();
        }
        on_line(number, &line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lines_parse_with_and_without_epoch_and_arch() {
        let p = parse_query_line(b"bind-libs\t32\t9.11.4\t26.P2.el7\tx86_64").unwrap();
        assert_eq!(p.nevra(), "bind-libs-32:9.11.4-26.P2.el7.x86_64");
        let p = parse_query_line(b"gpg-pubkey\t\tfd431d51\t4ae0493b\t").unwrap();
        assert_eq!((p.epoch, p.arch), (None, None));
        assert!(parse_query_line(b"a\t\t1\t1").is_err());
        assert!(parse_query_line(b"a\tx\t1\t1\tnoarch").is_err());
        assert!(parse_query_line(b"\t\t1\t1\tnoarch").is_err());
    }

    #[test]
    fn a_missing_rpm_is_unavailable_not_failed() {
        let opts = RpmOptions {
            rpm: PathBuf::from("/nonexistent/rpm"),
            root: PathBuf::from("/"),
            dbpath: Some(PathBuf::from("/")),
        };
        let err = opts.query_packages().unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(err.to_string(), "/nonexistent/rpm: no such rpm program");
    }

    #[test]
    fn a_missing_database_is_found_before_rpm_runs() {
        let dir = tempfile::tempdir().unwrap();
        let opts = RpmOptions {
            rpm: PathBuf::from("/nonexistent/rpm"),
            root: dir.path().to_path_buf(),
            dbpath: Some(PathBuf::from("/var/lib/rpm")),
        };
        let err = opts.database_dir().unwrap_err();
        assert!(matches!(err, RpmError::NoDatabase(_)), "{err}");
        assert!(err.is_unavailable());
        assert!(!dir.path().join("var").exists());
    }

    #[test]
    fn another_root_uses_the_tree_database_not_this_host_default() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // An rpm whose own default is Debian's.
        let rpm = dir.path().join("rpm");
        std::fs::write(&rpm, "#!/bin/sh\necho /root/.rpmdb\n").unwrap();
        std::fs::set_permissions(&rpm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join("root");
        let opts = RpmOptions {
            rpm,
            root: root.clone(),
            dbpath: None,
        };
        let err = opts.resolved().unwrap_err();
        assert!(err.is_unavailable());
        assert_eq!(
            err.to_string(),
            format!(
                "no rpm database in {} (looked for /root/.rpmdb, /var/lib/rpm, /usr/lib/sysimage/rpm)",
                root.display()
            )
        );
        std::fs::create_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
        let got = opts.resolved().unwrap().dbpath;
        assert_eq!(got, Some(PathBuf::from("/usr/lib/sysimage/rpm")));
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        let got = opts.resolved().unwrap().dbpath;
        assert_eq!(got, Some(PathBuf::from("/var/lib/rpm")));
        // rpm's own default wins when the tree has it.
        std::fs::create_dir_all(root.join("root/.rpmdb")).unwrap();
        let got = opts.resolved().unwrap().dbpath;
        assert_eq!(got, Some(PathBuf::from("/root/.rpmdb")));
    }

    #[test]
    fn a_failing_command_reports_its_exit_and_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo oops >&2; exit 3"]);
        let mut seen = Vec::new();
        let err = run_lines(Path::new("sh"), cmd, "sh", |_, l| {
            seen.push(l.to_vec());
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, [b"one".to_vec()]);
        assert_eq!(err.to_string(), "sh failed (exit status: 3): oops");
    }
}
