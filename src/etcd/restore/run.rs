//! Carrying out a [`RestorePlan`] step by step.
//!
//! A failing step stops the restore and the error says where things were left: the
//! old data directory (kept, never deleted) and the stopped pod manifest (left
//! stopped, because starting etcd on an empty data directory would create a new,
//! empty cluster). Owner and label failures are warnings: they need root.

use super::{EtcdRestoreError, RestorePlan, Step};
use crate::archive::ArchiveReader;
use crate::etcd::trailer::TrailerChecker;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What happened.
#[derive(Debug, Default, serde::Serialize)]
pub struct ExecReport {
    /// The shell form of each step that ran.
    pub done: Vec<String>,
    pub warnings: Vec<String>,
}

/// Where things stand, for error messages.
#[derive(Default)]
struct State {
    old_data: Option<PathBuf>,
    pod_stopped: Option<(PathBuf, PathBuf)>,
    snapshot: Option<PathBuf>,
}

impl State {
    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(old) = &self.old_data {
            s.push_str(&format!(
                "; the old data directory is kept at {}",
                old.display()
            ));
        }
        if let Some((stopped, manifest)) = &self.pod_stopped {
            s.push_str(&format!(
                "; the etcd pod stays stopped: once the data directory is right, run mv {} {}",
                stopped.display(),
                manifest.display()
            ));
        }
        s
    }
}

/// Runs every step of `plan`, calling `on_step` before each.
pub fn execute(
    reader: &mut ArchiveReader,
    plan: &RestorePlan,
    on_step: &mut dyn FnMut(&Step),
) -> Result<ExecReport, EtcdRestoreError> {
    let mut report = ExecReport::default();
    let mut state = State::default();
    for step in &plan.steps {
        on_step(step);
        if let Err(why) = run_step(reader, step, &mut state, &mut report) {
            // The archive still holds the snapshot; a leftover copy would only block
            // the next attempt.
            if let Some(snapshot) = state.snapshot.take() {
                let _ = std::fs::remove_file(snapshot);
            }
            return Err(match why {
                StepError::Fatal(e) => e,
                StepError::Failed(why) => EtcdRestoreError::Step {
                    what: step_name(step),
                    why,
                    state: state.describe(),
                },
            });
        }
        report.done.push(step.shell());
    }
    Ok(report)
}

enum StepError {
    Fatal(EtcdRestoreError),
    Failed(String),
}

impl From<io::Error> for StepError {
    fn from(e: io::Error) -> Self {
        StepError::Failed(e.to_string())
    }
}

fn step_name(step: &Step) -> String {
    match step {
        Step::Extract { dest, .. } => format!("extract snapshot to {}", dest.display()),
        Step::StopPod { manifest, .. } => format!("stop the etcd pod ({})", manifest.display()),
        Step::WaitStopped { db, .. } => format!("wait for etcd to release {}", db.display()),
        Step::MoveAside { from, .. } => format!("move {} aside", from.display()),
        Step::Restore { program, .. } => format!("{} snapshot restore", program.display()),
        Step::RemoveFile { path } => format!("remove {}", path.display()),
        Step::Chown { path, .. } => format!("chown {}", path.display()),
        Step::Label { path, .. } => format!("label {}", path.display()),
        Step::StartPod { manifest, .. } => format!("start the etcd pod ({})", manifest.display()),
    }
}

fn run_step(
    reader: &mut ArchiveReader,
    step: &Step,
    state: &mut State,
    report: &mut ExecReport,
) -> Result<(), StepError> {
    match step {
        Step::Extract {
            object,
            archive_path,
            dest,
            check_trailer,
            ..
        } => {
            extract(reader, object, archive_path, dest, *check_trailer)
                .map_err(StepError::Fatal)?;
            state.snapshot = Some(dest.clone());
        }
        Step::StopPod { manifest, stopped } => {
            if !manifest.exists() {
                report.warnings.push(format!(
                    "{}: not found; etcd is not running as a static pod here",
                    manifest.display()
                ));
                return Ok(());
            }
            if let Some(dir) = stopped.parent() {
                std::fs::create_dir_all(dir)?;
            }
            rename_new(manifest, stopped)?;
            state.pod_stopped = Some((stopped.clone(), manifest.clone()));
        }
        Step::WaitStopped { db, wait } => wait_unlocked(db, *wait)?,
        Step::MoveAside { from, to } => {
            rename_new(from, to)?;
            state.old_data = Some(to.clone());
        }
        Step::Restore { program, env, args } => run_restore(program, env, args)?,
        Step::RemoveFile { path } => {
            if let Err(e) = std::fs::remove_file(path) {
                report.warnings.push(format!("{}: {e}", path.display()));
            }
            state.snapshot = None;
        }
        Step::Chown { path, uid, gid, .. } => walk_apply(path, report, "chown", |p| {
            rustix::fs::chownat(
                rustix::fs::CWD,
                p,
                Some(rustix::fs::Uid::from_raw(*uid)),
                Some(rustix::fs::Gid::from_raw(*gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(io::Error::from)
        }),
        Step::Label { path, label } => walk_apply(path, report, "set SELinux label", |p| {
            let mut value = label.as_bytes().to_vec();
            value.push(0);
            xattr::set(p, "security.selinux", &value)
        }),
        Step::StartPod { stopped, manifest } => {
            if state.pod_stopped.take().is_some() {
                rename_new(stopped, manifest)?;
            }
        }
    }
    Ok(())
}

/// Renames without replacing an existing file or directory.
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("mv {} {}: {e}", from.display(), to.display()),
        )
    })
}

/// Writes the object to a new file, verifying it on the way; removes the file again
/// if any check fails.
fn extract(
    reader: &mut ArchiveReader,
    object: &crate::archive::ObjectId,
    archive_path: &str,
    dest: &Path,
    check_trailer: bool,
) -> Result<(), EtcdRestoreError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EtcdRestoreError::io(parent, e))?;
    }
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| EtcdRestoreError::io(dest, e))?;
    let mut checker = TrailerChecker::new();
    let result = (|| -> Result<(), String> {
        let mut obj = reader.open_object(object).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = obj
                .read(&mut buf)
                .map_err(|e| format!("{archive_path}: {e}"))?;
            if n == 0 {
                break;
            }
            checker.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        if check_trailer {
            checker
                .finish()
                .map_err(|e| format!("{archive_path}: {e}"))?;
        }
        file.sync_all()
            .map_err(|e| format!("{}: {e}", dest.display()))
    })();
    if let Err(why) = result {
        drop(file);
        let _ = std::fs::remove_file(dest);
        return Err(EtcdRestoreError::Integrity(format!(
            "{why}; nothing on the host was changed"
        )));
    }
    Ok(())
}

/// Waits until no process holds an exclusive flock on `db` (etcd's bbolt does while
/// it runs); a missing db counts as released.
fn wait_unlocked(db: &Path, wait: Duration) -> Result<(), StepError> {
    let start = Instant::now();
    loop {
        let file = match File::open(db) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StepError::Failed(format!("{}: {e}", db.display()))),
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(StepError::Failed(format!(
                    "etcd still holds {}; stop it first (systemctl stop etcd, or --static-pod)",
                    db.display()
                )));
            }
            Err(e) => return Err(StepError::Failed(format!("{}: {e}", db.display()))),
        }
    }
}

fn run_restore(program: &Path, env: &[(String, String)], args: &[String]) -> Result<(), StepError> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| {
            StepError::Failed(format!(
                "{}: {e}; install etcd (yum install etcd) for etcdctl",
                program.display()
            ))
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    Err(StepError::Failed(format!("{}: {last}", out.status)))
}

/// Applies `f` to `root` and everything below it, without following symlinks.
/// Failures are warnings (they need root), one per step.
fn walk_apply(
    root: &Path,
    report: &mut ExecReport,
    what: &str,
    f: impl Fn(&Path) -> io::Result<()>,
) {
    let mut failed = 0usize;
    let mut first = None;
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let result = match &entry {
            Ok(e) => f(e.path()).map_err(|err| format!("{}: {err}", e.path().display())),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            failed += 1;
            first.get_or_insert(e);
        }
    }
    if let Some(first) = first {
        report
            .warnings
            .push(format!("{what} failed on {failed} path(s), first {first}"));
    }
}
