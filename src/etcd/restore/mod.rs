//! Restoring etcd from an archive, as the 3.11 guide's "Restoring etcd data" does:
//! stop the static pod, move the old data aside, `etcdctl snapshot restore` with the
//! values of the backed-up etcd.conf, set owner and SELinux label, start the pod.
//!
//! [`plan`] decides every step without touching the host, so `--print` shows exactly
//! what [`execute`] then does. Guarantees: the snapshot is extracted and verified
//! (archive SHA-256 and etcd's trailer) before anything on the host changes; an
//! existing data directory is moved aside, never deleted; etcd must have released
//! the db before its data directory is moved.

mod run;
pub mod status;
mod steps;

pub use run::{ExecReport, execute};
pub use steps::Step;

use crate::accounts::Accounts;
use crate::archive::{ArchiveError, ArchiveReader, ObjectId, SourceStatus};
use crate::etcd::conf::EtcdConf;
use crate::etcd::record::{CaptureKind, EtcdDetails};
use crate::etcd::{ETCD_CONF_PATH, SOURCE_NAME};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// etcd.conf files are a few hundred bytes; refuse to read more than this.
const MAX_CONF_BYTES: u64 = 1024 * 1024; // 1 MiB
/// How long to wait for the kubelet to stop the etcd pod.
pub const POD_STOP_WAIT: Duration = Duration::from_secs(120);

/// What to restore where.
#[derive(Debug, Clone)]
pub struct EtcdRestoreOptions {
    pub data_dir: PathBuf,
    pub name: Option<String>,
    pub initial_cluster: Option<String>,
    pub initial_cluster_token: Option<String>,
    pub initial_advertise_peer_urls: Option<String>,
    /// Stop and restart the static pod by moving its manifest, as the guide does.
    pub static_pod: bool,
    /// The static pod manifest (normally /etc/origin/node/pods/etcd.yaml).
    pub pod_manifest: PathBuf,
    /// Time for the name of the moved-aside data directory.
    pub now: chrono::DateTime<chrono::Utc>,
    /// How the printed `ocpvault cat` names the archive (keys first, then the path).
    pub archive_args: Vec<String>,
}

/// Errors that stop an etcd restore.
#[derive(Debug, thiserror::Error)]
pub enum EtcdRestoreError {
    #[error("{archive}: no etcd data to restore ({why})")]
    NoCapture { archive: String, why: String },
    #[error("{missing}: not given, and {why}")]
    MissingParams { missing: String, why: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Integrity(String),
    #[error("{what}: {why}{state}")]
    Step {
        what: String,
        why: String,
        /// Where things were left ("; the old data directory is kept at ...").
        state: String,
    },
}

impl EtcdRestoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The values passed to `snapshot restore`, each with where it came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    pub name: (String, &'static str),
    pub initial_cluster: (String, &'static str),
    pub initial_cluster_token: (String, &'static str),
    pub initial_advertise_peer_urls: (String, &'static str),
}

/// Every step of a restore, decided before any runs.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub capture: CaptureKind,
    pub object: ObjectId,
    pub data_dir: PathBuf,
    pub params: Params,
    pub steps: Vec<Step>,
    /// Things the operator should know (multi-member clusters, no label recorded).
    pub notes: Vec<String>,
}

/// Reads what the archive recorded and decides the steps.
pub fn plan(
    reader: &mut ArchiveReader,
    opts: &EtcdRestoreOptions,
) -> Result<RestorePlan, EtcdRestoreError> {
    let details = recorded_details(reader)?;
    let capture = details.capture.unwrap_or(CaptureKind::Snapshot);
    let snapshot = details
        .snapshot
        .clone()
        .ok_or_else(|| no_capture(reader, "no snapshot recorded"))?;
    let conf = archived_conf(reader)?;
    let params = resolve_params(opts, conf.as_ref())?;
    let mut notes = Vec::new();
    let members = params.initial_cluster.0.split(',').count();
    if members > 1 {
        notes.push(format!(
            "the initial cluster lists {members} members: restore this snapshot on each of them with its own --name and --initial-advertise-peer-urls, or pass --initial-cluster NAME=URL for a single-member cluster and add the others afterwards"
        ));
    }
    let data_dir = opts.data_dir.clone();
    let snapshot_file = sibling(&data_dir, ".ocpvault-snapshot.db");
    let mut steps = vec![Step::Extract {
        object: snapshot.object,
        archive_path: snapshot.path.clone(),
        archive_args: opts.archive_args.clone(),
        dest: snapshot_file.clone(),
        check_trailer: capture == CaptureKind::Snapshot,
    }];
    let pod = opts.static_pod.then(|| {
        let stopped_dir = opts
            .pod_manifest
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("pods-stopped"), |p| p.join("pods-stopped"));
        let name = opts.pod_manifest.file_name().unwrap_or_default();
        (opts.pod_manifest.clone(), stopped_dir.join(name))
    });
    if let Some((manifest, stopped)) = &pod {
        steps.push(Step::StopPod {
            manifest: manifest.clone(),
            stopped: stopped.clone(),
        });
    }
    let db = data_dir.join("member/snap/db");
    if db.exists() || pod.is_some() {
        let wait = if pod.is_some() {
            POD_STOP_WAIT
        } else {
            Duration::ZERO
        };
        steps.push(Step::WaitStopped { db, wait });
    }
    if data_dir.exists() {
        let stamp = opts.now.format("%Y%m%dT%H%M%SZ");
        steps.push(Step::MoveAside {
            from: data_dir.clone(),
            to: sibling(&data_dir, &format!(".ocpvault-old-{stamp}")),
        });
    }
    steps.push(restore_step(&snapshot_file, &data_dir, &params, capture));
    steps.push(Step::RemoveFile {
        path: snapshot_file,
    });
    owner_and_label(&details, &data_dir, &mut steps, &mut notes);
    if let Some((manifest, stopped)) = pod {
        steps.push(Step::StartPod { stopped, manifest });
    }
    Ok(RestorePlan {
        capture,
        object: snapshot.object,
        data_dir,
        params,
        steps,
        notes,
    })
}

fn no_capture(reader: &ArchiveReader, why: &str) -> EtcdRestoreError {
    EtcdRestoreError::NoCapture {
        archive: reader.path().display().to_string(),
        why: why.to_string(),
    }
}

/// The etcd source's details, if it captured something.
fn recorded_details(reader: &ArchiveReader) -> Result<EtcdDetails, EtcdRestoreError> {
    let report = reader
        .manifest()
        .source(SOURCE_NAME)
        .ok_or_else(|| no_capture(reader, "the archive has no etcd source"))?;
    let details = EtcdDetails::from_report(report)
        .map_err(|e| no_capture(reader, &format!("unreadable etcd details: {e}")))?;
    match report.status {
        SourceStatus::Captured | SourceStatus::Partial => Ok(details),
        other => {
            let why = details.error.or(details.reason).unwrap_or_default();
            Err(no_capture(
                reader,
                &format!("etcd {}: {why}", other.as_str()),
            ))
        }
    }
}

/// The archived /etc/etcd/etcd.conf, if the archive holds one.
fn archived_conf(reader: &mut ArchiveReader) -> Result<Option<EtcdConf>, EtcdRestoreError> {
    let Some(id) = reader
        .manifest()
        .entry(ETCD_CONF_PATH.as_bytes())
        .and_then(|e| e.object)
    else {
        return Ok(None);
    };
    let mut text = String::new();
    reader
        .open_object(&id)?
        .take(MAX_CONF_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| {
            EtcdRestoreError::Integrity(format!("{ETCD_CONF_PATH} in the archive: {e}"))
        })?;
    Ok(Some(EtcdConf::parse(&text)))
}

fn resolve_params(
    opts: &EtcdRestoreOptions,
    conf: Option<&EtcdConf>,
) -> Result<Params, EtcdRestoreError> {
    let mut missing = Vec::new();
    let mut pick = |flag: &Option<String>, key: &str, name: &str| match (
        flag,
        conf.and_then(|c| c.get(key)),
    ) {
        (Some(v), _) => (v.clone(), "flag"),
        (None, Some(v)) => (v.to_string(), "etcd.conf"),
        (None, None) => {
            missing.push(format!("--{name} ({key})"));
            (String::new(), "")
        }
    };
    let params = Params {
        name: pick(&opts.name, "ETCD_NAME", "name"),
        initial_cluster: pick(
            &opts.initial_cluster,
            "ETCD_INITIAL_CLUSTER",
            "initial-cluster",
        ),
        initial_cluster_token: pick(
            &opts.initial_cluster_token,
            "ETCD_INITIAL_CLUSTER_TOKEN",
            "initial-cluster-token",
        ),
        initial_advertise_peer_urls: pick(
            &opts.initial_advertise_peer_urls,
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            "initial-advertise-peer-urls",
        ),
    };
    if missing.is_empty() {
        return Ok(params);
    }
    let why = if conf.is_some() {
        format!("the archived {ETCD_CONF_PATH} does not set them")
    } else {
        format!("the archive holds no {ETCD_CONF_PATH}")
    };
    Err(EtcdRestoreError::MissingParams {
        missing: missing.join(", "),
        why,
    })
}

/// `etcdutl snapshot restore` where it exists (etcd 3.5+), else `etcdctl` with
/// ETCDCTL_API=3. A data-dir capture's db has no trailer, hence --skip-hash-check.
fn restore_step(snapshot: &Path, data_dir: &Path, p: &Params, capture: CaptureKind) -> Step {
    let etcdutl = find_program("etcdutl");
    let (program, env) = match etcdutl {
        Some(path) => (path, Vec::new()),
        None => (
            find_program("etcdctl").unwrap_or_else(|| PathBuf::from("etcdctl")),
            vec![("ETCDCTL_API".to_string(), "3".to_string())],
        ),
    };
    let mut args: Vec<String> = vec![
        "snapshot".into(),
        "restore".into(),
        snapshot.display().to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--name".into(),
        p.name.0.clone(),
        "--initial-cluster".into(),
        p.initial_cluster.0.clone(),
        "--initial-cluster-token".into(),
        p.initial_cluster_token.0.clone(),
        "--initial-advertise-peer-urls".into(),
        p.initial_advertise_peer_urls.0.clone(),
    ];
    if capture == CaptureKind::DataDir {
        args.push("--skip-hash-check".into());
    }
    Step::Restore { program, env, args }
}

fn owner_and_label(
    details: &EtcdDetails,
    data_dir: &Path,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
) {
    let accounts = Accounts::host();
    match (accounts.uid("etcd"), accounts.gid("etcd")) {
        (Some(uid), Some(gid)) => steps.push(Step::Chown {
            path: data_dir.to_path_buf(),
            user: "etcd".into(),
            group: "etcd".into(),
            uid,
            gid,
        }),
        _ => notes.push(
            "no etcd user and group on this host: the data directory stays owned by root".into(),
        ),
    }
    match details.data_dir.as_ref().and_then(|d| d.selinux.clone()) {
        Some(label) => steps.push(Step::Label {
            path: data_dir.to_path_buf(),
            label,
        }),
        None => notes.push(format!(
            "no SELinux label was recorded for the data directory; where SELinux is enforcing run: restorecon -RvF {}",
            data_dir.display()
        )),
    }
}

/// `DIR` + suffix, next to DIR (same filesystem, so renames are atomic).
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let trimmed = dir.to_string_lossy().trim_end_matches('/').to_string();
    PathBuf::from(format!("{trimmed}{suffix}"))
}

/// A program on PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

#[cfg(test)]
mod tests;
