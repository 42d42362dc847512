//! `ocpvault etcd status|restore`, and the `--etcd*` flags of `ocpvault snapshot`.

use super::archive_cmds::ReadArchive;
use super::output::{human_bytes, print_json};
use super::{CliError, CmdResult, Outcome};
use crate::etcd::STATIC_POD_MANIFEST;
use crate::etcd::capture::{EtcdMode, EtcdOptions, Timeouts};
use crate::etcd::record::CaptureKind;
use crate::etcd::restore::status::{EtcdStatusReport, inspect};
use crate::etcd::restore::{
    EtcdRestoreError, EtcdRestoreOptions, RestorePlan, Step, execute, plan,
};
use crate::outln;
use std::path::{Path, PathBuf};

/// `--etcd auto|skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EtcdModeArg {
    /// Snapshot etcd when <root>/etc/etcd/etcd.conf or the static pod manifest says
    /// this host runs it (or --etcd-endpoints names it).
    Auto,
    /// Do not capture etcd.
    Skip,
}

/// The etcd flags of `ocpvault snapshot`.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdSnapshotArgs {
    /// Capture etcd: auto (when this host's configuration says it runs etcd) or skip.
    #[arg(
        long = "etcd",
        id = "etcd_mode",
        value_name = "MODE",
        value_enum,
        default_value = "auto"
    )]
    pub mode: EtcdModeArg,
    /// etcd client URLs to try in order, instead of ETCD_LISTEN_CLIENT_URLS.
    #[arg(
        long = "etcd-endpoints",
        value_name = "URL[,URL...]",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// CA certificate that signed the etcd server certificate (default: ETCD_TRUSTED_CA_FILE or /etc/etcd/ca.crt).
    #[arg(long = "etcd-cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (default: ETCD_PEER_CERT_FILE, as the guide's etcdctl3 alias).
    #[arg(long = "etcd-cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key (default: ETCD_PEER_KEY_FILE).
    #[arg(long = "etcd-key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Capture the files of a STOPPED member's data directory (e.g. /var/lib/etcd)
    /// instead of a live snapshot.
    #[arg(long = "etcd-data-dir", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl EtcdSnapshotArgs {
    /// The etcd source's options for a snapshot of `root`.
    pub fn options(&self, root: &Path, created: (i64, u32)) -> EtcdOptions {
        EtcdOptions {
            mode: match self.mode {
                EtcdModeArg::Auto => EtcdMode::Auto,
                EtcdModeArg::Skip => EtcdMode::Skip,
            },
            root: root.to_path_buf(),
            endpoints: self.endpoints.clone(),
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            data_dir: self.data_dir.clone(),
            created,
            timeouts: Timeouts::default(),
        }
    }
}

/// Inspect and restore the etcd data of an archive.
#[derive(Debug, clap::Args)]
pub struct EtcdArgs {
    #[command(subcommand)]
    pub command: EtcdCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EtcdCommand {
    /// Show the recorded etcd status and member list, and check the stored snapshot.
    Status(StatusArgs),
    /// Restore the archived snapshot into a new etcd data directory.
    Restore(RestoreArgs),
    /// List the keys and objects of the archived snapshot, offline.
    Ls(super::etcd_browse::LsArgs),
    /// Print one object of the archived snapshot, decrypted when encrypted at rest.
    Get(super::etcd_browse::GetArgs),
    /// Write every object of one project as YAML, in the layout of the oc exports.
    Dump(super::etcd_browse::DumpArgs),
    /// Count objects per type, JSON vs protobuf, and secrets not encrypted at rest.
    Audit(super::etcd_browse::AuditArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Print one JSON object (formats/etcd-json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// The etcd data directory to create (e.g. /var/lib/etcd); an existing one is
    /// moved aside to DIR.ocpvault-old-<UTC time>.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Member name (default: ETCD_NAME of the archived /etc/etcd/etcd.conf).
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// Initial cluster, NAME=URL[,...] (default: ETCD_INITIAL_CLUSTER).
    #[arg(long, value_name = "C")]
    pub initial_cluster: Option<String>,
    /// Initial cluster token (default: ETCD_INITIAL_CLUSTER_TOKEN).
    #[arg(long, value_name = "T")]
    pub initial_cluster_token: Option<String>,
    /// This member's peer URLs (default: ETCD_INITIAL_ADVERTISE_PEER_URLS).
    #[arg(long, value_name = "U")]
    pub initial_advertise_peer_urls: Option<String>,
    /// Print the exact commands instead of running them.
    #[arg(long)]
    pub print: bool,
    /// Stop the etcd static pod first by moving its manifest to pods-stopped/, and
    /// move it back after the restore.
    #[arg(long)]
    pub static_pod: bool,
    /// The static pod manifest that --static-pod moves.
    #[arg(long, value_name = "FILE", default_value = STATIC_POD_MANIFEST)]
    pub pod_manifest: PathBuf,
}

/// Runs `ocpvault etcd ...`.
pub fn run(args: EtcdArgs) -> CmdResult {
    match args.command {
        EtcdCommand::Status(a) => status(a),
        EtcdCommand::Restore(a) => restore(a),
        EtcdCommand::Ls(a) => super::etcd_browse::ls(a),
        EtcdCommand::Get(a) => super::etcd_browse::get(a),
        EtcdCommand::Dump(a) => super::etcd_browse::dump(a),
        EtcdCommand::Audit(a) => super::etcd_browse::audit(a),
    }
}

fn status(args: StatusArgs) -> CmdResult {
    let mut reader = args.input.open()?;
    let report = inspect(&mut reader);
    if args.json {
        print_json(&report)?;
    } else {
        print_status(&report);
    }
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

fn print_status(r: &EtcdStatusReport) {
    let d = &r.details;
    outln!("archive:   {}", r.archive);
    let kind = d
        .capture
        .map_or(String::new(), |c| format!(" ({})", c.as_str()));
    outln!("etcd:      {}{kind}", r.source);
    if let Some(reason) = &d.reason {
        outln!("reason:    {reason}");
    }
    if let Some(error) = &d.error {
        outln!("error:     {error}");
    }
    if let Some(s) = &d.status {
        outln!("endpoint:  {}  etcd {}", s.endpoint, s.version);
        outln!(
            "status:    db size {}  revision {}  raft index {}  raft term {}",
            human_bytes(s.db_size),
            s.revision,
            s.raft_index,
            s.raft_term
        );
        outln!(
            "member:    {}  leader {}  cluster {}",
            s.member_id,
            s.leader,
            s.cluster_id
        );
    }
    if !d.members.is_empty() {
        outln!("members:   {}", d.members.len());
        for m in &d.members {
            outln!(
                "  {}  {}  peer {}  client {}{}",
                m.id,
                m.name,
                m.peer_urls.join(","),
                m.client_urls.join(","),
                if m.is_learner { "  learner" } else { "" }
            );
        }
    }
    if let Some(dd) = &d.data_dir {
        let owner = format!(
            "{}:{}",
            dd.user.clone().unwrap_or_else(|| dd.uid.to_string()),
            dd.group.clone().unwrap_or_else(|| dd.gid.to_string())
        );
        let label = dd.selinux.as_deref().unwrap_or("no SELinux label");
        outln!("data dir:  {}  {owner} {}  {label}", dd.path, dd.mode);
    }
    if let Some(c) = &r.check {
        outln!(
            "snapshot:  {}  {}  archive sha256 {}  etcd trailer {}",
            c.path,
            human_bytes(c.size),
            c.archive_hash,
            c.trailer
        );
        if let Some(e) = &c.error {
            outln!("error:     {e}");
        }
    }
}

fn restore(args: RestoreArgs) -> CmdResult {
    let mut reader = args.input.open()?;
    let opts = EtcdRestoreOptions {
        data_dir: absolute(&args.data_dir)?,
        name: args.name,
        initial_cluster: args.initial_cluster,
        initial_cluster_token: args.initial_cluster_token,
        initial_advertise_peer_urls: args.initial_advertise_peer_urls,
        static_pod: args.static_pod,
        pod_manifest: args.pod_manifest,
        now: chrono::Utc::now(),
        archive_args: archive_args(&args.input),
    };
    let plan = plan(&mut reader, &opts).map_err(restore_error)?;
    if args.print {
        print_plan(&plan);
        return Ok(Outcome::Ok);
    }
    for note in &plan.notes {
        outln!("note: {note}");
    }
    let report = execute(&mut reader, &plan, &mut |step: &Step| {
        outln!("+ {}", step.shell())
    })
    .map_err(restore_error)?;
    outln!("etcd data restored into {}", plan.data_dir.display());
    for w in &report.warnings {
        outln!("warning: {w}");
    }
    Ok(if report.warnings.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

fn restore_error(e: EtcdRestoreError) -> CliError {
    let hint = match &e {
        EtcdRestoreError::MissingParams { .. } => {
            Some("pass the missing flags; the values are in the etcd.conf of the backed-up member")
        }
        EtcdRestoreError::NoCapture { .. } => Some("see `ocpvault etcd status ARCHIVE`"),
        _ => None,
    };
    let err = CliError::from(e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

fn absolute(path: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// How the printed `ocpvault cat` reaches the archive.
fn archive_args(input: &ReadArchive) -> Vec<String> {
    let mut out = Vec::new();
    for id in &input.identity {
        out.push("-i".into());
        out.push(id.display().to_string());
    }
    if input.passphrase {
        out.push("--passphrase".into());
    }
    out.push(input.archive.display().to_string());
    out
}

fn print_plan(plan: &RestorePlan) {
    outln!("# ocpvault etcd restore: the steps below; nothing has been changed");
    let kind = match plan.capture {
        CaptureKind::Snapshot => "live snapshot; etcdctl checks its hash trailer",
        CaptureKind::DataDir => "db copied from a stopped data dir; it has no hash trailer",
    };
    outln!("# {kind}; object {}", plan.object);
    let p = &plan.params;
    for (flag, (value, from)) in [
        ("--name", &p.name),
        ("--initial-cluster", &p.initial_cluster),
        ("--initial-cluster-token", &p.initial_cluster_token),
        (
            "--initial-advertise-peer-urls",
            &p.initial_advertise_peer_urls,
        ),
    ] {
        outln!("# {flag} {value} (from {from})");
    }
    for note in &plan.notes {
        outln!("# note: {note}");
    }
    for step in &plan.steps {
        outln!("{}", step.shell());
    }
}
