//! Re-creating one project from its export (the Day Two guide's "Restoring a project",
//! in an order that works): load the project's objects from the archive, leave out
//! what the cluster re-creates by itself, clean the rest for `oc create`, order them
//! so that dependencies come first, and write them as numbered files or create them.
//!
//! Guarantees: nothing is written before the whole plan is built; the output
//! directory must be new or empty and is created 0700 with files 0600 (the plan holds
//! secrets); files are written with `create_new`, never over an existing file.

pub mod apply;
mod checks;
pub mod clean;
mod emit;
pub mod from_etcd;
mod load;
pub mod order;
pub mod yaml11;

pub use load::{
    DuplicateObject, ExportFile, ExportProblem, LoadedProject, ProjectSummary, dedupe_files,
    list_projects, load_objects, split_list,
};

use crate::archive::{ArchiveError, ArchiveReader};
pub use clean::PlanOptions;
use clean::{ProjectFacts, kind, name};
use serde_json::Value;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One object to create, in order.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    /// The numbered file name, e.g. `010-project.yaml`.
    pub file: String,
    pub kind: String,
    pub name: String,
    /// The cleaned object.
    pub value: Value,
}

/// An object left out, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedObject {
    pub kind: String,
    pub name: String,
    pub reason: String,
}

/// Everything a restore of one project will do. Every object the archive lists for
/// the project is accounted for once: `listed` = `objects` + `skipped` + `duplicates`.
#[derive(Debug, Clone)]
pub struct ProjectPlan {
    pub project: String,
    /// Objects in the project's exports, counting each copy.
    pub listed: usize,
    pub objects: Vec<PlannedObject>,
    pub skipped: Vec<SkippedObject>,
    /// Second copies of objects the server listed under two API groups.
    pub duplicates: Vec<DuplicateObject>,
    pub warnings: Vec<String>,
}

/// Errors that stop a project restore.
#[derive(Debug, thiserror::Error)]
pub enum ProjectRestoreError {
    #[error("project {project} is not in the archive{}", available_list(.available))]
    NotInArchive {
        project: String,
        available: Vec<String>,
    },
    #[error("{path}: {size} bytes, more than a project export may hold (256 MiB)")]
    TooLarge { path: String, size: u64 },
    #[error("{0}: the manifest entry has no object")]
    Damaged(String),
    #[error("{path}: not a YAML export")]
    Yaml {
        path: String,
        #[source]
        source: yaml11::Yaml11Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("project {0} is not in the etcd snapshot (no namespace and no objects)")]
    NotInSnapshot(String),
    #[error("{0}: exists and is not empty; choose a new directory")]
    OutputNotEmpty(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        " (it holds no project exports)".into()
    } else {
        format!(" (it holds: {})", available.join(", "))
    }
}

/// Reads `project` from the archive and builds its restore plan.
pub fn plan_project(
    reader: &mut ArchiveReader,
    project: &str,
    options: PlanOptions,
) -> Result<ProjectPlan, ProjectRestoreError> {
    let loaded = load_objects(reader, project)?;
    let mut plan = build_plan(project, loaded.objects, options);
    plan.listed = loaded.listed;
    plan.duplicates = loaded.duplicates;
    Ok(plan)
}

/// Builds the plan from a project read out of the etcd snapshot: the same loading
/// (each object once, preferred groups first), cleaning and ordering as for an
/// export. Objects the export would not have held (events, metrics) are counted as
/// left out; the snapshot's own problems (values not decoded, keys skipped) are the
/// caller's to report.
pub fn plan_from_etcd(
    export: from_etcd::EtcdExport,
    options: PlanOptions,
) -> Result<ProjectPlan, ProjectRestoreError> {
    if export.files.is_empty() && export.left_out.is_empty() {
        return Err(ProjectRestoreError::NotInSnapshot(export.project));
    }
    let project = export.project.clone();
    let has_namespace = export
        .files
        .contains_key(crate::projects::capture::NAMESPACE_FILE);
    let left_out = export.left_out.clone();
    let loaded = dedupe_files(export.into_files());
    let mut plan = build_plan(&project, loaded.objects, options);
    plan.listed = loaded.listed + left_out.len();
    plan.duplicates = loaded.duplicates;
    plan.skipped
        .extend(left_out.into_iter().map(|l| SkippedObject {
            kind: l.kind,
            name: l.name,
            reason: l.reason,
        }));
    if !has_namespace {
        plan.warnings.push(format!(
            "the snapshot holds no namespace object for project {project}; create the project first"
        ));
    }
    Ok(plan)
}

/// Builds the plan from the project's objects (each once).
pub fn build_plan(project: &str, objects: Vec<Value>, options: PlanOptions) -> ProjectPlan {
    let listed = objects.len();
    let facts = ProjectFacts::of(&objects, options);
    let registries = checks::internal_registry_hosts(&objects);
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();
    for mut obj in objects {
        if let Some(reason) = clean::skip_reason(&obj, &facts) {
            skipped.push(SkippedObject {
                kind: kind(&obj).to_string(),
                name: name(&obj).to_string(),
                reason,
            });
            continue;
        }
        warnings.extend(checks::warnings(&obj, &registries));
        clean::clean(&mut obj, &facts);
        kept.push(obj);
    }
    kept.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                order::rank(kind(o)),
                kind(o).to_string(),
                name(o).to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let files = order::file_names(kept.iter().map(|o| (kind(o), name(o))));
    let objects = kept
        .into_iter()
        .zip(files)
        .map(|(value, file)| PlannedObject {
            file,
            kind: kind(&value).to_string(),
            name: name(&value).to_string(),
            value,
        })
        .collect();
    ProjectPlan {
        project: project.to_string(),
        listed,
        objects,
        skipped,
        duplicates: Vec::new(),
        warnings,
    }
}

/// Writes one YAML file per planned object into `dir`, which must not exist or be
/// empty. Returns the paths written, in order.
pub fn write_plan(plan: &ProjectPlan, dir: &Path) -> Result<Vec<PathBuf>, ProjectRestoreError> {
    prepare_output_dir(dir)?;
    let mut written = Vec::new();
    for obj in &plan.objects {
        let path = dir.join(&obj.file);
        write_object(&path, &obj.value).map_err(io_err(&path))?;
        written.push(path);
    }
    Ok(written)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ProjectRestoreError {
    let path = path.display().to_string();
    move |source| ProjectRestoreError::Io { path, source }
}

/// Makes sure `dir` is an empty directory: creates it 0700 (with its parents) when it
/// does not exist, refuses one that has anything in it.
pub fn prepare_output_dir(dir: &Path) -> Result<(), ProjectRestoreError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ProjectRestoreError::OutputNotEmpty(
                    dir.display().to_string(),
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?,
        Err(e) => return Err(io_err(dir)(e)),
    }
    Ok(())
}

fn write_object(path: &Path, value: &Value) -> io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let mut file = file;
    file.write_all(emit::to_yaml(value).as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "web"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "clusterIP": "172.30.0.9"}}),
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p", "annotations": {"pv.kubernetes.io/bind-completed": "yes", "openshift.io/sa.scc.uid-range": "1000/10000"}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "s"}, "data": {"a": "eWVz"}}),
        ]
    }

    #[test]
    fn plans_order_skip_and_clean() {
        let plan = build_plan("p", objects(), PlanOptions::default());
        let files: Vec<&str> = plan.objects.iter().map(|o| o.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "010-project.yaml",
                "020-secret-s.yaml",
                "030-service-web.yaml",
                "040-route-web.yaml"
            ]
        );
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].kind, "Endpoints");
        assert!(plan.objects[2].value["spec"].get("clusterIP").is_none());
    }

    #[test]
    fn written_files_round_trip_and_quote_yaml_11_booleans() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut plan = build_plan("p", objects(), PlanOptions::default());
        // A value that YAML 1.1 readers (oc's go-yaml) would take as a boolean.
        plan.objects[0].value["metadata"]["annotations"]["x"] = json!("yes");
        let written = write_plan(&plan, &out).unwrap();
        assert_eq!(written.len(), 4);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert!(text.contains("x: \"yes\""), "{text}");
        let back: Value = yaml11::from_str(&text).unwrap();
        assert_eq!(back, plan.objects[0].value);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(matches!(
            write_plan(&plan, &out),
            Err(ProjectRestoreError::OutputNotEmpty(_))
        ));
    }
}
