//! The `projects` source: every project's API objects as YAML, read through the
//! OpenShift client with the master's admin kubeconfig, one archive entry per project
//! and resource type under `/.ocpvault/projects/` (layout: formats/projects.md). This
//! is the Day Two guide's "Backing up a project" (`oc get -o yaml` for every namespaced
//! type from `oc api-resources`) done for every project at once.
//!
//! Guarantees: only types that support list are asked for, and not those whose objects
//! a restore always leaves out (events, pod metrics, image stream tags: recorded in
//! the report's `not_exported`); a type the server cannot list by design
//! (MethodNotAllowed) is recorded once per snapshot in `not_listable` and not asked
//! for again, without making the source partial; a type that is gone (NotFound) is
//! recorded as skipped, and Forbidden or any other failure as failed (the source is
//! then partial), with the server's message; none of these aborts the source; an answer is stored only when the client
//! exited successfully, and an empty list is not stored; a missing client or an
//! unreachable server fails the source with a clear reason, and the rest of the
//! archive is still written.

use super::api_resources::{ApiResource, is_resource_name, parse_api_resources};
use super::yaml_scan::ListScan;
use crate::archive::{ArchiveError, FailedItem, SkippedItem, SourceReport, SourceStatus, Store};
use crate::collect::Progress;
use crate::projects::oc::{Oc, OcError, Refusal};
use crate::projects::restore::clean::always_left_out;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The source name in the manifest.
pub const SOURCE: &str = "projects";
/// Where the exports live in the archive.
pub const PROJECTS_PREFIX: &str = "/.ocpvault/projects/";
/// The project's namespace object, relative to its directory (without `.yaml`).
pub const NAMESPACE_FILE: &str = "_cluster/namespace";
/// The persistent volumes the project's claims are bound to.
pub const VOLUMES_FILE: &str = "_cluster/persistentvolumes";
/// The admin kubeconfig on a master, relative to the root.
pub const ADMIN_KUBECONFIG: &str = "etc/origin/master/admin.kubeconfig";

/// Which projects to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectSelection {
    /// All projects when the admin kubeconfig exists, otherwise none.
    Auto,
    All,
    Skip,
    Named(Vec<String>),
}

impl std::str::FromStr for ProjectSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "all" => Ok(Self::All),
            "skip" => Ok(Self::Skip),
            _ => {
                let names: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                match names.iter().find(|n| !is_project_name(n)) {
                    Some(bad) => Err(format!(
                        "{bad:?} is not a project name (lowercase letters, digits and '-', at most 63)"
                    )),
                    None if names.is_empty() => Err("no project named".into()),
                    None => Ok(Self::Named(names)),
                }
            }
        }
    }
}

/// True for a valid project (namespace) name: a DNS-1123 label.
pub fn is_project_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The archive path of one export; `rel` is a qualified type name or one of the
/// `_cluster/` files.
pub fn entry_path(project: &str, rel: &str) -> String {
    format!("{PROJECTS_PREFIX}{project}/{rel}.yaml")
}

/// What to collect and how to reach the API.
#[derive(Debug, Clone)]
pub struct ProjectsOptions {
    pub selection: ProjectSelection,
    /// The client: `oc` on PATH by default; kubectl works too.
    pub oc: PathBuf,
    /// An explicit kubeconfig; None means `<root>/etc/origin/master/admin.kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    pub root: PathBuf,
    pub created: (i64, u32),
}

/// Collects the selected projects into `store` and returns the `projects` report.
/// Only a failure to write the archive is an error; every client or server problem
/// ends up in the report.
pub fn collect_projects(
    store: &mut dyn Store,
    opts: &ProjectsOptions,
    progress: &dyn Progress,
) -> Result<SourceReport, ArchiveError> {
    let mut report = SourceReport::new(SOURCE);
    let kubeconfig = match decide_start(opts) {
        Start::Run(k) => k,
        Start::Skip(reason) => {
            report.status = SourceStatus::Skipped;
            report.details.insert("reason".into(), reason.into());
            return Ok(report);
        }
        Start::Fail(error) => {
            report.status = SourceStatus::Failed;
            report.details.insert("error".into(), error.into());
            return Ok(report);
        }
    };
    let oc = Oc::new(&opts.oc, Some(&kubeconfig));
    report
        .details
        .insert("oc".into(), opts.oc.display().to_string().into());
    report
        .details
        .insert("kubeconfig".into(), kubeconfig.display().to_string().into());
    let mut c = Collector {
        store,
        oc,
        report,
        counts: BTreeMap::new(),
        secret_files: Vec::new(),
        not_listable: BTreeMap::new(),
        created: opts.created,
        progress,
    };
    match c.run(&opts.selection) {
        Ok(()) => {}
        Err(Stop::Archive(e)) => return Err(e),
        Err(Stop::Oc(e)) => c.stop(&e),
    }
    Ok(c.finish())
}

enum Start {
    Run(PathBuf),
    Skip(String),
    Fail(String),
}

fn decide_start(opts: &ProjectsOptions) -> Start {
    if opts.selection == ProjectSelection::Skip {
        return Start::Skip("not requested (--projects skip)".into());
    }
    let default = opts.root.join(ADMIN_KUBECONFIG);
    let kubeconfig = opts.kubeconfig.clone().unwrap_or(default);
    if kubeconfig.is_file() {
        return Start::Run(kubeconfig);
    }
    if opts.selection == ProjectSelection::Auto && opts.kubeconfig.is_none() {
        return Start::Skip(format!(
            "no admin kubeconfig at {}: not a master (use --projects all --kubeconfig FILE to export anyway)",
            kubeconfig.display()
        ));
    }
    Start::Fail(format!(
        "kubeconfig {} does not exist; pass --kubeconfig FILE",
        kubeconfig.display()
    ))
}

/// Why collecting stopped early.
enum Stop {
    Archive(ArchiveError),
    Oc(OcError),
}

/// The result of one client call.
enum Got {
    Stored,
    Empty,
    Refused(Refusal, String),
    Failed(String),
}

struct Collector<'a> {
    store: &'a mut dyn Store,
    oc: Oc,
    report: SourceReport,
    /// project -> file (qualified type or `_cluster/...`) -> objects.
    counts: BTreeMap<String, BTreeMap<String, u64>>,
    secret_files: Vec<String>,
    /// Types the server answered MethodNotAllowed for: it cannot list them by design,
    /// so they are recorded once and not asked for again.
    not_listable: BTreeMap<String, String>,
    created: (i64, u32),
    progress: &'a dyn Progress,
}

impl Collector<'_> {
    fn run(&mut self, selection: &ProjectSelection) -> Result<(), Stop> {
        let types = self.list_types()?;
        let projects = self.project_names(selection)?;
        for (i, project) in projects.iter().enumerate() {
            self.progress
                .message(&format!("projects {}/{}: {project}", i + 1, projects.len()));
            self.collect_project(project, &types)?;
        }
        Ok(())
    }

    /// The namespaced types that support list.
    fn list_types(&mut self) -> Result<Vec<ApiResource>, Stop> {
        let out = self
            .oc
            .capture(&["api-resources", "--namespaced=true", "-o", "wide"])
            .map_err(Stop::Oc)?;
        let parsed = parse_api_resources(&out.stdout);
        let types = match (parsed, out.failure) {
            (_, Some(e)) if e.is_fatal() => return Err(Stop::Oc(e)),
            (Err(_), Some(e)) => return Err(Stop::Oc(e)),
            (Err(e), None) => {
                return Err(Stop::Oc(OcError::Failed {
                    message: format!("{} api-resources: {e}", self.oc.program()),
                }));
            }
            (Ok(types), failure) => {
                // Some API groups may be down while the rest answers (a broken
                // metrics service, typically): keep what was listed, say what was not.
                if let Some(e) = failure {
                    self.report.skipped.push(SkippedItem {
                        path: "api-resources".into(),
                        reason: e.to_string(),
                    });
                }
                types
            }
        };
        // Types whose objects a restore always leaves out are not exported at all.
        let mut not_exported = serde_json::Map::new();
        let mut listable = Vec::new();
        for t in types.into_iter().filter(ApiResource::is_listable) {
            match always_left_out(&t.kind) {
                Some(why) => {
                    not_exported.insert(t.qualified_name(), why.into());
                }
                None => listable.push(t),
            }
        }
        let names: Vec<String> = listable.iter().map(ApiResource::qualified_name).collect();
        self.report.details.insert("types".into(), names.into());
        self.report
            .details
            .insert("not_exported".into(), not_exported.into());
        Ok(listable)
    }

    fn project_names(&mut self, selection: &ProjectSelection) -> Result<Vec<String>, Stop> {
        if let ProjectSelection::Named(names) = selection {
            return Ok(names.clone());
        }
        let out = self
            .oc
            .run(&["get", "namespaces", "-o", "name"])
            .map_err(Stop::Oc)?;
        let mut names = Vec::new();
        for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let name = line.rsplit('/').next().unwrap_or(line);
            if is_project_name(name) {
                names.push(name.to_string());
            } else {
                self.report.skipped.push(SkippedItem {
                    path: line.into(),
                    reason: "not a valid project name".into(),
                });
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn collect_project(&mut self, project: &str, types: &[ApiResource]) -> Result<(), Stop> {
        let args = ["get", "namespace", project, "-o", "yaml"];
        match self.capture(project, NAMESPACE_FILE, &args, Some(1))? {
            Got::Stored | Got::Empty => {}
            Got::Refused(Refusal::NotFound, reason) => {
                self.skip(&format!("{PROJECTS_PREFIX}{project}"), reason);
                return Ok(());
            }
            Got::Refused(_, error) | Got::Failed(error) => {
                self.fail(&format!("{PROJECTS_PREFIX}{project}"), error);
                return Ok(());
            }
        }
        for t in types {
            let name = t.qualified_name();
            if self.not_listable.contains_key(&name) {
                continue;
            }
            let args = ["get", name.as_str(), "-n", project, "-o", "yaml"];
            self.capture_type(project, &name, &args, None)?;
        }
        self.capture_volumes(project)
    }

    /// The cluster-scoped persistent volumes this project's claims are bound to.
    fn capture_volumes(&mut self, project: &str) -> Result<(), Stop> {
        let has_claims = self
            .counts
            .get(project)
            .is_some_and(|c| c.contains_key("persistentvolumeclaims"));
        if !has_claims {
            return Ok(());
        }
        let query = [
            "get",
            "persistentvolumeclaims",
            "-n",
            project,
            "-o",
            "jsonpath={.items[*].spec.volumeName}",
        ];
        let names = match self.oc.run(&query) {
            Ok(out) => volume_names(&out),
            Err(e) if e.is_fatal() => return Err(Stop::Oc(e)),
            Err(e) => {
                self.fail(&entry_path(project, VOLUMES_FILE), e.to_string());
                return Ok(());
            }
        };
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["get", "persistentvolumes"];
        args.extend(names.iter().map(String::as_str));
        args.extend(["-o", "yaml"]);
        // One name prints the object itself, several print a List.
        let expect = (names.len() == 1).then_some(1);
        self.capture_type(project, VOLUMES_FILE, &args, expect)
    }

    /// Like `capture`, recording a refusal as skipped and an error as failed.
    fn capture_type(
        &mut self,
        project: &str,
        rel: &str,
        args: &[&str],
        objects: Option<u64>,
    ) -> Result<(), Stop> {
        match self.capture(project, rel, args, objects)? {
            Got::Stored | Got::Empty => {}
            // Listing is not allowed for this type at all (3.11 answers so for
            // imagestreamtags): a fact about the server, not a gap in this archive.
            Got::Refused(Refusal::MethodNotAllowed, reason) if rel != VOLUMES_FILE => {
                self.not_listable.insert(rel.to_string(), reason);
            }
            Got::Refused(Refusal::NotFound, reason) => self.skip(&entry_path(project, rel), reason),
            Got::Refused(_, error) | Got::Failed(error) => {
                self.fail(&entry_path(project, rel), error)
            }
        }
        Ok(())
    }

    /// Runs the client and stores its output as the entry for `rel`, unless the call
    /// failed or the list was empty. `objects` is the count when the answer is not a
    /// list.
    fn capture(
        &mut self,
        project: &str,
        rel: &str,
        args: &[&str],
        objects: Option<u64>,
    ) -> Result<Got, Stop> {
        let store = &mut *self.store;
        let result = self.oc.stream(args, |out| {
            let mut scan = ListScan::new(out);
            let prepared = store.prepare_object(&mut scan)?;
            Ok((prepared, scan.summary()))
        });
        let (prepared, summary) = match result {
            Ok(v) => v,
            Err(e) if e.is_fatal() => return Err(Stop::Oc(e)),
            Err(OcError::Refused { refusal, message }) => {
                return Ok(Got::Refused(refusal, message));
            }
            Err(e) => return Ok(Got::Failed(e.to_string())),
        };
        if summary.empty && objects.is_none() {
            return Ok(Got::Empty);
        }
        let path = entry_path(project, rel);
        let size = prepared.size;
        crate::collect::add_prepared_file(self.store, SOURCE, &path, prepared, self.created)
            .map_err(Stop::Archive)?;
        self.report.captured += 1;
        self.counts
            .entry(project.to_string())
            .or_default()
            .insert(rel.to_string(), objects.unwrap_or(summary.items));
        if rel == "secrets" {
            self.secret_files.push(path);
        }
        self.progress.item(size);
        Ok(Got::Stored)
    }

    fn skip(&mut self, path: &str, reason: String) {
        self.report.skipped.push(SkippedItem {
            path: path.into(),
            reason,
        });
    }

    fn fail(&mut self, path: &str, error: String) {
        self.report.failed.push(FailedItem {
            path: path.into(),
            error,
        });
    }

    /// Records why the source stopped early.
    fn stop(&mut self, e: &OcError) {
        let reason = match e {
            OcError::Spawn { program, source } if source.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    "cannot run {program}: not found; install the OpenShift client (oc) or pass --oc PATH, or --projects skip"
                )
            }
            other => other.to_string(),
        };
        self.report.status = if self.report.captured > 0 {
            SourceStatus::Partial
        } else {
            SourceStatus::Failed
        };
        self.report.details.insert("error".into(), reason.into());
    }

    fn finish(mut self) -> SourceReport {
        if !self.report.failed.is_empty() && self.report.status == SourceStatus::Captured {
            self.report.status = SourceStatus::Partial;
        }
        let counts = serde_json::to_value(&self.counts).expect("string maps serialize");
        let not_listable = serde_json::to_value(&self.not_listable).expect("string maps serialize");
        self.report
            .details
            .insert("not_listable".into(), not_listable);
        self.report.details.insert("projects".into(), counts);
        self.report
            .details
            .insert("secret_files".into(), self.secret_files.into());
        self.report
    }
}

/// Volume names from `{.items[*].spec.volumeName}`; unbound claims print nothing.
fn volume_names(out: &str) -> Vec<String> {
    let mut names: Vec<String> = out
        .split_whitespace()
        .filter(|n| is_resource_name(n))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The default kubeconfig for a root.
pub fn default_kubeconfig(root: &Path) -> PathBuf {
    root.join(ADMIN_KUBECONFIG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_and_refuse_unsafe_names() {
        assert_eq!("auto".parse(), Ok(ProjectSelection::Auto));
        assert_eq!("skip".parse(), Ok(ProjectSelection::Skip));
        assert_eq!(
            "myproject, other".parse(),
            Ok(ProjectSelection::Named(vec![
                "myproject".into(),
                "other".into()
            ]))
        );
        assert!("../etc".parse::<ProjectSelection>().is_err());
        assert!("a/b".parse::<ProjectSelection>().is_err());
        assert!(",".parse::<ProjectSelection>().is_err());
        assert!(!is_project_name(&"a".repeat(64)));
        assert!(!is_project_name("-a"));
    }

    #[test]
    fn volume_names_skip_unbound_and_odd_names() {
        assert_eq!(
            volume_names("pv0003  pv0001 pv0003 ../x\n"),
            ["pv0001", "pv0003"]
        );
        assert!(volume_names("").is_empty());
    }

    #[test]
    fn auto_skips_without_an_admin_kubeconfig_and_all_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ProjectsOptions {
            selection: ProjectSelection::Auto,
            oc: "oc".into(),
            kubeconfig: None,
            root: dir.path().to_path_buf(),
            created: (0, 0),
        };
        assert!(matches!(decide_start(&opts), Start::Skip(_)));
        opts.selection = ProjectSelection::All;
        assert!(matches!(decide_start(&opts), Start::Fail(_)));
        let k = default_kubeconfig(dir.path());
        std::fs::create_dir_all(k.parent().unwrap()).unwrap();
        std::fs::write(&k, "apiVersion: v1\n").unwrap();
        opts.selection = ProjectSelection::Auto;
        assert!(matches!(decide_start(&opts), Start::Run(p) if p == k));
    }
}
