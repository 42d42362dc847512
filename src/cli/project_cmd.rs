//! `ocpvault project list|restore`, and the snapshot flags of the `projects` source.

use super::archive_cmds::ReadArchive;
use super::etcd_browse::{DbArgs, read_project};
use super::output::print_json;
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::projects::capture::{PROJECTS_PREFIX, ProjectSelection, ProjectsOptions, SOURCE};
use crate::projects::oc::{Oc, OcError};
use crate::projects::restore::apply::{ApplyResult, ApplyStatus, apply_plan, has_failures};
use crate::projects::restore::{
    PlanOptions, ProjectPlan, ProjectSummary, list_projects, plan_from_etcd, plan_project,
    write_plan,
};
use std::path::{Path, PathBuf};

/// The snapshot flags of the `projects` source.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectsSourceArgs {
    /// Projects to export through the API: auto (all of them on a master, where the
    /// admin kubeconfig exists; none elsewhere), all, NAME[,NAME...] or skip.
    #[arg(
        long,
        value_name = "auto|all|NAME[,NAME...]|skip",
        default_value = "auto"
    )]
    pub projects: ProjectSelection,
    /// The OpenShift client to run for project exports (kubectl works too).
    #[arg(long, value_name = "PATH", default_value = "oc")]
    pub oc: PathBuf,
    /// Kubeconfig for project exports [default: <root>/etc/origin/master/admin.kubeconfig].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// Runs the `projects` source during a snapshot, with progress per project.
impl ProjectsSourceArgs {
    /// The projects source's options for a snapshot of `root`.
    pub fn options(&self, root: &Path, created: (i64, u32)) -> ProjectsOptions {
        ProjectsOptions {
            selection: self.projects.clone(),
            oc: self.oc.clone(),
            kubeconfig: self.kubeconfig.clone(),
            root: root.to_path_buf(),
            created,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    pub command: ProjectCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProjectCommand {
    /// List the projects an archive holds, with object counts per type.
    List(ListArgs),
    /// Re-create one project from an archive, dependencies first.
    Restore(RestoreArgs),
}

pub fn run(args: ProjectArgs) -> CmdResult {
    match args.command {
        ProjectCommand::List(a) => list(a),
        ProjectCommand::Restore(a) => restore(a),
    }
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// Print one JSON object (formats/projects.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct ListJson<'a> {
    archive: String,
    /// The projects source's status; null when the archive has none.
    status: Option<&'static str>,
    projects: &'a [ProjectSummary],
}

fn list(args: ListArgs) -> CmdResult {
    let reader = args.input.open()?;
    let manifest = reader.manifest();
    let projects = list_projects(manifest);
    let source = manifest.source(SOURCE);
    if args.json {
        print_json(&ListJson {
            archive: args.input.archive.display().to_string(),
            status: source.map(|s| s.status.as_str()),
            projects: &projects,
        })?;
        return Ok(Outcome::Ok);
    }
    if projects.is_empty() {
        outln!("no project exports in this archive");
    }
    for p in &projects {
        print_project(p);
    }
    if let Some(s) = source {
        for key in ["reason", "error"] {
            if let Some(text) = s.details.get(key).and_then(|v| v.as_str()) {
                outln!("source projects {}: {text}", s.status.as_str());
            }
        }
    }
    Ok(Outcome::Ok)
}

fn print_project(p: &ProjectSummary) {
    outln!(
        "{}: {} in {}",
        p.name,
        plural(p.objects, "object"),
        plural(p.files.len() as u64, "file")
    );
    for f in &p.files {
        let count = f.objects.map_or("?".to_string(), |n| n.to_string());
        outln!("  {:<48} {count:>5}", f.rel);
    }
    let short = |path: &str| {
        let prefix = format!("{PROJECTS_PREFIX}{}/", p.name);
        path.trim_start_matches(&prefix)
            .trim_end_matches(".yaml")
            .to_string()
    };
    for s in &p.skipped {
        outln!("  skipped {}: {}", short(&s.path), s.reason);
    }
    for f in &p.failed {
        outln!("  failed {}: {}", short(&f.path), f.reason);
    }
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["output", "apply"])))]
pub struct RestoreArgs {
    #[command(flatten)]
    pub input: ReadArchive,
    /// The project to re-create.
    #[arg(required_unless_present = "project_flag")]
    pub project: Option<String>,
    /// The project to re-create (the same as PROJECT).
    #[arg(
        long = "project",
        id = "project_flag",
        value_name = "PROJECT",
        conflicts_with = "project"
    )]
    pub project_flag: Option<String>,
    /// Read the project from the archive's etcd snapshot instead of its oc exports
    /// (also when it has none): the same cleaning and order. ARCHIVE may also be an
    /// etcd v3 db file.
    #[arg(long)]
    pub from_etcd: bool,
    /// With --from-etcd: the state at revision N of the snapshot (unless compacted).
    #[arg(long, value_name = "N", requires = "from_etcd")]
    pub revision: Option<i64>,
    /// With --from-etcd: the API server's EncryptionConfig, for secrets encrypted at
    /// rest (default: the archived /etc/origin/master/encryption-config.yaml).
    #[arg(long, value_name = "FILE", requires = "from_etcd")]
    pub encryption_config: Option<PathBuf>,
    /// Write one numbered YAML file per object, in creation order, into DIR (new or
    /// empty), ready for `oc create -f DIR`.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Create the objects now, one `oc create -f` each, in order.
    #[arg(long)]
    pub apply: bool,
    /// The OpenShift client to run with --apply (kubectl works too).
    #[arg(long, value_name = "PATH", default_value = "oc")]
    pub oc: PathBuf,
    /// Kubeconfig for --apply [default: the client's own, from KUBECONFIG or oc login].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Also re-create Jobs that had finished and bare pods that had ended; they run
    /// again.
    #[arg(long)]
    pub include_finished: bool,
    /// Also re-create the pods `oc debug` left behind.
    #[arg(long)]
    pub include_debug_pods: bool,
}

fn restore(args: RestoreArgs) -> CmdResult {
    let options = PlanOptions {
        include_finished: args.include_finished,
        include_debug_pods: args.include_debug_pods,
    };
    let project = args
        .project
        .as_deref()
        .or(args.project_flag.as_deref())
        .unwrap_or_default();
    let (plan, read_outcome) = if args.from_etcd {
        plan_etcd(&args, project, options)?
    } else {
        let mut reader = args.input.open()?;
        (plan_project(&mut reader, project, options)?, Outcome::Ok)
    };
    for s in &plan.skipped {
        outln!("left out {} {}: {}", s.kind, s.name, s.reason);
    }
    for d in &plan.duplicates {
        outln!(
            "duplicate {} {}: listed again as {}; the copy from {} is used",
            d.kind,
            d.name,
            d.copy_in,
            d.kept_from
        );
    }
    let failed = match &args.output {
        Some(dir) => {
            write_output(&plan, dir)?;
            false
        }
        None => apply(&plan, &args)?,
    };
    for w in &plan.warnings {
        outln!("warning: {w}");
    }
    Ok(
        if failed || !plan.warnings.is_empty() || read_outcome == Outcome::Findings {
            Outcome::Findings
        } else {
            Outcome::Ok
        },
    )
}

/// The plan from the etcd snapshot: the project's objects read as `etcd dump` reads
/// them, then loaded, cleaned and ordered as an export is. Values that could not be
/// decoded have been warned about; they make the restore exit 1.
fn plan_etcd(
    args: &RestoreArgs,
    project: &str,
    options: PlanOptions,
) -> Result<(ProjectPlan, Outcome), CliError> {
    let db = DbArgs {
        input: args.input.clone(),
        revision: args.revision,
        salvage: false,
    };
    let read = read_project(
        &db,
        project,
        args.encryption_config.as_deref(),
        "project restore",
    )?;
    let outcome = read.outcome;
    let plan = plan_from_etcd(read.export, options).map_err(|e| {
        CliError::from(e).hint("`ocpvault etcd ls ARCHIVE namespaces` lists the projects")
    })?;
    Ok((plan, outcome))
}

fn write_output(plan: &ProjectPlan, dir: &Path) -> Result<(), CliError> {
    write_plan(plan, dir)?;
    for o in &plan.objects {
        outln!("{:<56} {} {}", o.file, o.kind, o.name);
    }
    outln!(
        "project {}: {} listed: {} written to {}, {} left out, {}; create them with: oc create -f {}",
        plan.project,
        plural(plan.listed as u64, "object"),
        plan.objects.len(),
        dir.display(),
        plan.skipped.len(),
        plural(plan.duplicates.len() as u64, "duplicate"),
        dir.display()
    );
    Ok(())
}

/// Creates the objects; returns true when any failed.
fn apply(plan: &ProjectPlan, args: &RestoreArgs) -> Result<bool, CliError> {
    let tmp = tempfile::Builder::new()
        .prefix("ocpvault-project-")
        .tempdir()
        .map_err(|e| CliError::new(format!("temporary directory: {e}")))?;
    let dir = tmp.path().join(&plan.project);
    write_plan(plan, &dir)?;
    let oc = Oc::new(&args.oc, args.kubeconfig.as_deref());
    let results = apply_plan(plan, &dir, &oc, &mut print_result).map_err(apply_error)?;
    let count = |f: fn(&ApplyStatus) -> bool| results.iter().filter(|r| f(&r.status)).count();
    outln!(
        "project {}: {} listed: {} created, {} skipped (already exist), {} failed, {} left out, {}",
        plan.project,
        plural(plan.listed as u64, "object"),
        count(|s| matches!(s, ApplyStatus::Created)),
        count(|s| matches!(s, ApplyStatus::Skipped(_))),
        count(|s| matches!(s, ApplyStatus::Failed(_))),
        plan.skipped.len(),
        plural(plan.duplicates.len() as u64, "duplicate")
    );
    Ok(has_failures(&results))
}

fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// One line per object. The server's AlreadyExists message names the temporary file,
/// which says nothing useful, so it is shortened.
fn print_result(r: &ApplyResult) {
    let what = format!("{}/{}", r.kind.to_ascii_lowercase(), r.name);
    match &r.status {
        ApplyStatus::Created => outln!("created {what}"),
        ApplyStatus::Skipped(_) => outln!("skipped {what}: already exists"),
        ApplyStatus::Failed(m) => outln!("failed  {what}: {m}"),
    }
}

fn apply_error(e: OcError) -> CliError {
    let hint = match &e {
        OcError::Spawn { .. } => "install the OpenShift client (oc) or pass --oc PATH",
        _ => "log in with oc login, or pass --kubeconfig FILE",
    };
    CliError::from(e).hint(hint)
}
