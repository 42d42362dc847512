//! The steps of an etcd restore and their shell equivalents, which `--print` shows
//! and which an operator can run by hand.

use crate::archive::ObjectId;
use std::path::PathBuf;
use std::time::Duration;

/// One step of an etcd restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write the stored snapshot to `dest` (mode 0600), checking the archive's
    /// SHA-256 and, for live snapshots, etcd's trailer.
    Extract {
        object: ObjectId,
        archive_path: String,
        archive_args: Vec<String>,
        dest: PathBuf,
        check_trailer: bool,
    },
    /// Move the static pod manifest out of the kubelet's directory.
    StopPod {
        manifest: PathBuf,
        stopped: PathBuf,
    },
    /// Wait until no etcd holds the db (bbolt's flock), at most `wait`.
    WaitStopped {
        db: PathBuf,
        wait: Duration,
    },
    /// Move the old data directory aside.
    MoveAside {
        from: PathBuf,
        to: PathBuf,
    },
    /// `snapshot restore` into the new data directory.
    Restore {
        program: PathBuf,
        env: Vec<(String, String)>,
        args: Vec<String>,
    },
    RemoveFile {
        path: PathBuf,
    },
    /// `chown -R user:group` (ids as found on this host).
    Chown {
        path: PathBuf,
        user: String,
        group: String,
        uid: u32,
        gid: u32,
    },
    /// Set the SELinux label on the directory and everything in it.
    Label {
        path: PathBuf,
        label: String,
    },
    /// Move the static pod manifest back.
    StartPod {
        stopped: PathBuf,
        manifest: PathBuf,
    },
}

impl Step {
    /// The shell command that does the same.
    pub fn shell(&self) -> String {
        match self {
            Step::Extract {
                archive_path,
                archive_args,
                dest,
                ..
            } => {
                let mut cmd = vec!["ocpvault".to_string(), "cat".into()];
                cmd.extend(archive_args.iter().cloned());
                cmd.push(archive_path.clone());
                format!("(umask 077 && {} > {})", join(&cmd), quote_path(dest))
            }
            Step::StopPod { manifest, stopped } => format!(
                "mkdir -p {} && mv {} {}",
                quote_path(&stopped.parent().map(PathBuf::from).unwrap_or_default()),
                quote_path(manifest),
                quote_path(stopped)
            ),
            Step::WaitStopped { db, wait } if wait.is_zero() => {
                format!(
                    "flock -s -n {} true  # fails while etcd runs",
                    quote_path(db)
                )
            }
            Step::WaitStopped { db, .. } => format!(
                "until [ ! -e {0} ] || flock -s -n {0} true; do sleep 1; done",
                quote_path(db)
            ),
            Step::MoveAside { from, to } => format!("mv {} {}", quote_path(from), quote_path(to)),
            Step::Restore { program, env, args } => {
                let mut cmd: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                cmd.push(program.display().to_string());
                cmd.extend(args.iter().cloned());
                join(&cmd)
            }
            Step::RemoveFile { path } => format!("rm -f {}", quote_path(path)),
            Step::Chown {
                path, user, group, ..
            } => format!(
                "chown -R {}:{} {}",
                quote(user),
                quote(group),
                quote_path(path)
            ),
            Step::Label { path, label } => {
                format!("chcon -R {} {}", quote(label), quote_path(path))
            }
            Step::StartPod { stopped, manifest } => {
                format!("mv {} {}", quote_path(stopped), quote_path(manifest))
            }
        }
    }
}

fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

fn quote_path(p: &std::path::Path) -> String {
    quote(&p.display().to_string())
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    crate::shell::quote(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/var/lib/etcd"), "/var/lib/etcd");
        assert_eq!(
            quote("m0=https://10.0.0.1:2380,m1=https://10.0.0.2:2380"),
            "m0=https://10.0.0.1:2380,m1=https://10.0.0.2:2380"
        );
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn restore_step_reads_like_the_guide() {
        let s = Step::Restore {
            program: "etcdctl".into(),
            env: vec![("ETCDCTL_API".into(), "3".into())],
            args: vec![
                "snapshot".into(),
                "restore".into(),
                "/var/lib/etcd.ocpvault-snapshot.db".into(),
            ],
        };
        assert_eq!(
            s.shell(),
            "ETCDCTL_API=3 etcdctl snapshot restore /var/lib/etcd.ocpvault-snapshot.db"
        );
    }
}
