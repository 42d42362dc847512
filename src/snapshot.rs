//! The snapshot pipeline: every source, in order, into one new archive.
//!
//! [`run`] takes [`SnapshotOptions`] (built by the CLI from its flags, or by any other
//! caller) and one [`Progress`] sink, and returns a [`SnapshotReport`]; it prints
//! nothing. The sources run in the archive's order: host files, packages, etcd,
//! projects. Each writes through the archive writer and returns its `SourceReport`;
//! only a failure to write the archive itself (or a bad `--include`/`--exclude`)
//! stops the run, everything a source could not capture is in its report.

use crate::archive::{
    ArchiveError, ArchiveWriter, HostFacts, Sink, SourceReport, WriteStats, WriterOptions,
};
use crate::collect::host;
use crate::crypto::{self, EncryptKey};
use crate::etcd::capture::{EtcdOptions, collect_etcd};
use crate::files::capture::{FilesError, FilesOptions, collect_files};
use crate::packages::capture::{PackagesOptions, collect_packages};
use crate::progress::Progress;
use crate::projects::capture::{ProjectsOptions, collect_projects};
use std::io::BufWriter;
use std::path::PathBuf;

/// What one snapshot captures and where it goes.
pub struct SnapshotOptions {
    /// The archive file to create (it must not exist).
    pub archive: PathBuf,
    /// The tree collected as `/` (canonical).
    pub root: PathBuf,
    /// The host name recorded in the manifest.
    pub hostname: String,
    /// The capture time (seconds, nanoseconds): every generated entry's mtime.
    pub created: (i64, u32),
    /// zstd level, 1..=19.
    pub level: i32,
    /// zstd worker threads for large objects (0 or 1: none).
    pub threads: u32,
    /// Encrypt the archive (age) to these recipients or with a passphrase.
    pub encrypt: Option<EncryptKey>,
    /// The cluster run this archive belongs to (recorded in the manifest).
    pub run_id: Option<String>,
    /// Paths the archive must hold (`--require`); a missing one is a finding.
    pub require: Vec<String>,
    pub files: FilesOptions,
    pub packages: PackagesOptions,
    pub etcd: EtcdOptions,
    pub projects: ProjectsOptions,
}

/// What a snapshot wrote and what each source captured.
#[derive(Debug, serde::Serialize)]
pub struct SnapshotReport {
    pub archive: PathBuf,
    pub encrypted: bool,
    pub hostname: String,
    pub run_id: Option<String>,
    pub required: Vec<Required>,
    pub stats: WriteStats,
    /// In capture order, the archive's order.
    pub sources: Vec<SourceReport>,
    /// Findings about the archive as a whole (secrets in a plain archive, no host
    /// files found), one sentence each.
    pub warnings: Vec<String>,
}

impl SnapshotReport {
    /// True when a source has findings or no host file was found (exit 1). An
    /// unencrypted archive holding secrets is a warning, not a finding.
    pub fn has_findings(&self) -> bool {
        self.required.iter().any(|r| !r.present)
            || self
                .sources
                .iter()
                .any(|s| s.has_warnings() || (s.name == "files" && s.captured == 0))
    }
}

/// Whether a `--require` path is in the archive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Required {
    pub path: String,
    pub present: bool,
}

/// Why a snapshot stopped.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs every source into a new archive at `opts.archive`.
pub fn run(
    opts: SnapshotOptions,
    progress: &dyn Progress,
) -> Result<SnapshotReport, SnapshotError> {
    let writer_opts = WriterOptions {
        level: opts.level,
        threads: if opts.threads > 1 { opts.threads } else { 0 },
        created: opts.created,
    };
    let key = opts.encrypt.as_ref();
    let mut writer = ArchiveWriter::create(
        &opts.archive,
        writer_opts,
        |w: BufWriter<std::fs::File>| match key {
            Some(k) => crypto::encrypting_sink(w, k),
            None => Ok(Box::new(w) as Box<dyn Sink>),
        },
    )?;

    progress.begin("files", None);
    let files = collect_files(&mut writer, &opts.files, progress);
    progress.end();
    let mut sources = vec![files?];
    progress.begin("packages", None);
    let packages = collect_packages(&mut writer, &opts.packages);
    progress.end();
    sources.push(packages?);
    // The etcd source frames its own byte bar around the snapshot stream.
    sources.push(collect_etcd(&mut writer, &opts.etcd, progress)?);
    progress.begin("projects", None);
    let projects = collect_projects(&mut writer, &opts.projects, progress);
    progress.end();
    sources.push(projects?);

    let mut warnings = if key.is_some() {
        Vec::new()
    } else {
        secret_warnings(&secret_files_of(&sources))
    };
    for s in &sources {
        writer.add_source(s.clone());
    }
    if let Some(id) = &opts.run_id {
        writer.set_run_id(id);
    }
    let required: Vec<Required> = opts
        .require
        .iter()
        .map(|p| Required {
            path: p.clone(),
            present: writer.has_entry(p.as_bytes()),
        })
        .collect();
    let facts = HostFacts {
        hostname: opts.hostname.clone(),
        os_release: host::os_release(&opts.root),
        root: opts.root.as_path().into(),
    };
    let mut options = serde_json::Map::new();
    options.insert("compression_level".into(), opts.level.into());
    let (path, mut stats) = writer.finish(facts, options)?;
    // The size on disk (for an age file, the encrypted size, not the plain stream).
    stats.archive_size = std::fs::metadata(&path)
        .map_err(|source| SnapshotError::Io {
            path: path.clone(),
            source,
        })?
        .len();
    if sources.iter().any(|s| s.name == "files" && s.captured == 0) {
        warnings.push(format!(
            "no host files found under {}: none of the captured paths exist; is this an OpenShift host? (see --root, --include)",
            opts.root.display()
        ));
    }
    warnings.extend(required.iter().filter(|r| !r.present).map(|r| {
        format!(
            "required path {} is not in the archive (--require); is this the host that holds it?",
            r.path
        )
    }));
    Ok(SnapshotReport {
        archive: path,
        encrypted: key.is_some(),
        hostname: opts.hostname,
        run_id: opts.run_id,
        required,
        stats,
        sources,
        warnings,
    })
}

/// Names of captured secret files, taken from the source reports' details.
fn secret_files_of(sources: &[SourceReport]) -> Vec<String> {
    sources
        .iter()
        .filter_map(|s| s.details.get("secret_files"))
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn secret_warnings(secret_files: &[String]) -> Vec<String> {
    if secret_files.is_empty() {
        return Vec::new();
    }
    // What holds or unlocks every Secret of the cluster is always named, then up to
    // three others.
    let (every, others): (Vec<&str>, Vec<&str>) = secret_files
        .iter()
        .map(String::as_str)
        .partition(|p| holds_every_secret(p));
    let mut shown: Vec<String> = every.iter().map(|p| describe_secret(p)).collect();
    shown.extend(others.iter().take(3).map(|p| p.to_string()));
    vec![format!(
        "the archive holds {} private key or secret file(s) ({}{}) and is not encrypted; keep it on this host or encrypt it before it leaves",
        secret_files.len(),
        shown.join(", "),
        if others.len() > 3 { ", ..." } else { "" }
    )]
}

/// The etcd snapshot or data file (every Secret of the cluster) and the master's
/// encryption-config.yaml (the keys that decrypt the Secrets stored in etcd).
fn holds_every_secret(path: &str) -> bool {
    path == crate::etcd::SNAPSHOT_PATH
        || path == crate::etcd::DATA_DIR_DB_PATH
        || path.ends_with("/encryption-config.yaml")
}

fn describe_secret(path: &str) -> String {
    if path.ends_with("/encryption-config.yaml") {
        format!("{path}: the keys to the Secrets stored in etcd")
    } else {
        format!("{path}: the etcd data, every Secret of the cluster")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::capture::{EtcdMode, Timeouts};
    use crate::packages::capture::PackagesMode;
    use crate::packages::rpm::RpmOptions;
    use crate::projects::capture::ProjectSelection;
    use std::cell::RefCell;

    /// Records every call, to check the frames the pipeline reports.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<String>>);

    impl Progress for Recorder {
        fn begin(&self, step: &str, total: Option<u64>) {
            self.0.borrow_mut().push(format!("begin {step} {total:?}"));
        }
        fn item(&self, _bytes: u64) {
            self.0.borrow_mut().push("item".into());
        }
        fn end(&self) {
            self.0.borrow_mut().push("end".into());
        }
    }

    fn options(root: &std::path::Path, archive: PathBuf) -> SnapshotOptions {
        let created = (1_700_000_000, 0);
        SnapshotOptions {
            archive,
            root: root.to_path_buf(),
            hostname: "master-0.example.com".into(),
            created,
            level: 3,
            threads: 1,
            encrypt: None,
            run_id: None,
            require: Vec::new(),
            files: FilesOptions {
                root: root.to_path_buf(),
                include: vec!["/etc/origin".into()],
                exclude: Vec::new(),
                no_defaults: true,
                created,
            },
            packages: PackagesOptions {
                mode: PackagesMode::Skip,
                rpm: RpmOptions {
                    rpm: "rpm".into(),
                    root: root.to_path_buf(),
                    dbpath: None,
                },
                created,
            },
            etcd: EtcdOptions {
                mode: EtcdMode::Skip,
                root: root.to_path_buf(),
                endpoints: Vec::new(),
                cacert: None,
                cert: None,
                key: None,
                data_dir: None,
                created,
                timeouts: Timeouts::default(),
            },
            projects: crate::projects::capture::ProjectsOptions {
                selection: ProjectSelection::Skip,
                oc: "oc".into(),
                kubeconfig: None,
                root: root.to_path_buf(),
                created,
            },
        }
    }

    #[test]
    fn runs_every_source_in_order_and_reports_to_one_sink() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc/origin/master")).unwrap();
        std::fs::write(
            root.join("etc/origin/master/master-config.yaml"),
            "kind: x\n",
        )
        .unwrap();
        let archive = tmp.path().join("h.ocpvault");
        let progress = Recorder::default();
        let report = run(options(&root, archive.clone()), &progress).unwrap();

        assert_eq!(report.archive, archive);
        assert!(archive.is_file());
        let names: Vec<&str> = report.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["files", "packages", "etcd", "projects"]);
        // /etc, /etc/origin, /etc/origin/master and the file.
        assert_eq!(report.sources[0].captured, 4);
        assert!(!report.has_findings());
        assert!(report.warnings.is_empty());
        let calls = progress.0.into_inner();
        let begins: Vec<&String> = calls.iter().filter(|c| c.starts_with("begin")).collect();
        assert_eq!(
            begins,
            [
                "begin files None",
                "begin packages None",
                "begin projects None"
            ]
        );
        assert_eq!(calls.iter().filter(|c| *c == "end").count(), 3);
        assert_eq!(calls.iter().filter(|c| *c == "item").count(), 4);
    }

    #[test]
    fn a_tree_without_host_files_is_a_finding() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("h.ocpvault");
        let report = run(options(tmp.path(), archive), &crate::progress::NoProgress).unwrap();
        assert!(report.has_findings());
        assert!(
            report.warnings[0].contains("no host files found"),
            "{:?}",
            report.warnings
        );
    }
}
