//! Reading project exports back from an archive: which projects it holds, with counts
//! per type, and the objects of one project, parsed, each once.

use super::ProjectRestoreError;
use crate::archive::{ArchiveReader, Manifest};
use crate::projects::capture::{NAMESPACE_FILE, PROJECTS_PREFIX, SOURCE, VOLUMES_FILE};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Largest export read for a restore (256 MiB); checked before reading.
const MAX_EXPORT_BYTES: u64 = 256 * 1024 * 1024;

/// One stored export file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportFile {
    /// The qualified type (`deploymentconfigs.apps.openshift.io`) or `_cluster/...`.
    #[serde(rename = "type")]
    pub rel: String,
    pub path: String,
    /// Objects in the file, as counted at capture; null when unknown.
    pub objects: Option<u64>,
    pub size: u64,
}

/// A type the source did not capture for this project, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportProblem {
    pub path: String,
    pub reason: String,
}

/// One project in an archive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProjectSummary {
    pub name: String,
    /// Sum of `files[].objects`.
    pub objects: u64,
    pub files: Vec<ExportFile>,
    pub skipped: Vec<ExportProblem>,
    pub failed: Vec<ExportProblem>,
}

/// The projects an archive holds, by name.
pub fn list_projects(manifest: &Manifest) -> Vec<ProjectSummary> {
    let report = manifest.source(SOURCE);
    let counts = report.and_then(|r| r.details.get("projects"));
    let mut projects: BTreeMap<String, ProjectSummary> = BTreeMap::new();
    for e in &manifest.entries {
        let path = e.path.to_string();
        let Some((project, rel)) = split_export_path(&path) else {
            continue;
        };
        let objects = counts
            .and_then(|c| c.get(project))
            .and_then(|p| p.get(rel))
            .and_then(Value::as_u64);
        let summary = summary_for(&mut projects, project);
        summary.objects += objects.unwrap_or(0);
        summary.files.push(ExportFile {
            rel: rel.to_string(),
            path: path.clone(),
            objects,
            size: e.size,
        });
    }
    if let Some(r) = report {
        for s in &r.skipped {
            add_problem(&mut projects, &s.path.to_string(), &s.reason, true);
        }
        for f in &r.failed {
            add_problem(&mut projects, &f.path.to_string(), &f.error, false);
        }
    }
    projects.into_values().collect()
}

fn summary_for<'a>(
    projects: &'a mut BTreeMap<String, ProjectSummary>,
    name: &str,
) -> &'a mut ProjectSummary {
    projects
        .entry(name.to_string())
        .or_insert_with(|| ProjectSummary {
            name: name.to_string(),
            objects: 0,
            files: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
        })
}

fn add_problem(
    projects: &mut BTreeMap<String, ProjectSummary>,
    path: &str,
    reason: &str,
    skipped: bool,
) {
    let Some(rest) = path.strip_prefix(PROJECTS_PREFIX) else {
        return;
    };
    let project = rest.split('/').next().unwrap_or(rest);
    let problem = ExportProblem {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let summary = summary_for(projects, project);
    if skipped {
        summary.skipped.push(problem);
    } else {
        summary.failed.push(problem);
    }
}

/// `/.ocpvault/projects/P/REL.yaml` -> (P, REL).
fn split_export_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(PROJECTS_PREFIX)?;
    let (project, file) = rest.split_once('/')?;
    Some((project, file.strip_suffix(".yaml")?))
}

/// A second copy of an object, in an export of another API group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DuplicateObject {
    pub kind: String,
    pub name: String,
    /// The export (qualified type) the kept copy came from.
    pub kept_from: String,
    /// The export this copy came from.
    pub copy_in: String,
}

/// The objects of one project, each once, and what was read twice.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    /// Objects read, counting every copy.
    pub listed: usize,
    pub objects: Vec<Value>,
    pub duplicates: Vec<DuplicateObject>,
}

/// Reads every object of `project`, each once: when the server listed the same objects
/// under two API groups (`deployments.apps` and `deployments.extensions`, the
/// OpenShift and the RBAC role bindings), the copy from the preferred group is kept
/// and the other is named in `duplicates`.
pub fn load_objects(
    reader: &mut ArchiveReader,
    project: &str,
) -> Result<LoadedProject, ProjectRestoreError> {
    let mut files: Vec<(String, String, u64)> = Vec::new();
    for e in &reader.manifest().entries {
        let path = e.path.to_string();
        match split_export_path(&path) {
            Some((p, rel)) if p == project => files.push((rel.to_string(), path.clone(), e.size)),
            _ => {}
        }
    }
    if files.is_empty() {
        return Err(ProjectRestoreError::NotInArchive {
            project: project.to_string(),
            available: list_projects(reader.manifest())
                .into_iter()
                .filter(|p| !p.files.is_empty())
                .map(|p| p.name)
                .collect(),
        });
    }
    let mut read = Vec::new();
    for (rel, path, size) in files {
        read.push((rel, read_export(reader, &path, size)?));
    }
    Ok(dedupe_files(read))
}

/// The objects of a project's export files, each once: files are taken in order of
/// preference (the namespace and volumes, the core group, other groups, OpenShift's,
/// `extensions` last), and a later copy of an object is named in `duplicates`. The
/// one loader of both the archived exports and the etcd snapshot's objects.
pub fn dedupe_files(mut files: Vec<(String, Vec<Value>)>) -> LoadedProject {
    files.sort_by_key(|(rel, _)| (file_preference(rel), rel.clone()));
    let mut seen: HashMap<(String, String, String), String> = HashMap::new();
    let mut loaded = LoadedProject {
        listed: 0,
        objects: Vec::new(),
        duplicates: Vec::new(),
    };
    for (rel, objects) in files {
        for obj in objects {
            loaded.listed += 1;
            let id = identity(&obj);
            match seen.get(&id) {
                Some(first) => loaded.duplicates.push(DuplicateObject {
                    kind: id.1.clone(),
                    name: id.2.clone(),
                    kept_from: first.clone(),
                    copy_in: rel.clone(),
                }),
                None => {
                    seen.insert(id, rel.clone());
                    loaded.objects.push(obj);
                }
            }
        }
    }
    loaded
}

/// Reads one export and splits a List into its items.
fn read_export(
    reader: &mut ArchiveReader,
    path: &str,
    size: u64,
) -> Result<Vec<Value>, ProjectRestoreError> {
    if size > MAX_EXPORT_BYTES {
        return Err(ProjectRestoreError::TooLarge {
            path: path.to_string(),
            size,
        });
    }
    let entry = reader
        .manifest()
        .entry(path.as_bytes())
        .ok_or_else(|| ProjectRestoreError::Damaged(path.to_string()))?;
    let id = entry
        .object
        .ok_or_else(|| ProjectRestoreError::Damaged(path.to_string()))?;
    let object = reader.open_object(&id)?;
    let value = super::yaml11::from_reader(std::io::BufReader::new(object)).map_err(|source| {
        ProjectRestoreError::Yaml {
            path: path.to_string(),
            source,
        }
    })?;
    Ok(split_list(value))
}

/// The items of a `List` (or `*List`), or the value itself when it is one object.
pub fn split_list(value: Value) -> Vec<Value> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"));
    match value {
        Value::Object(mut m) if is_list => match m.remove("items") {
            Some(Value::Array(items)) => items.into_iter().filter(Value::is_object).collect(),
            _ => Vec::new(),
        },
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    }
}

/// Which copy of an object wins: the namespace and volumes first, then the core group,
/// then other groups, then OpenShift's own groups, and the deprecated `extensions`
/// last.
fn file_preference(rel: &str) -> u8 {
    if rel == NAMESPACE_FILE || rel == VOLUMES_FILE {
        return 0;
    }
    match rel.split_once('.').map_or("", |(_, g)| g) {
        "" => 1,
        "extensions" => 4,
        g if g.ends_with("openshift.io") => 3,
        _ => 2,
    }
}

/// The API group of an object, from its apiVersion (`apps/v1` -> `apps`).
pub fn group_of(obj: &Value) -> &str {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g)
}

/// (group, kind, name), with the groups that serve the same objects under another
/// name folded together.
fn identity(obj: &Value) -> (String, String, String) {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = match (group_of(obj), kind) {
        ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet") => "apps",
        ("extensions", "NetworkPolicy" | "Ingress") => "networking.k8s.io",
        ("events.k8s.io", _) => "",
        ("authorization.openshift.io", "Role" | "RoleBinding") => "rbac.authorization.k8s.io",
        (g, _) => g,
    };
    (group.to_string(), kind.to_string(), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_split_and_aliases_fold() {
        let list = json!({"kind": "List", "items": [{"kind": "A"}, 3, {"kind": "B"}]});
        assert_eq!(split_list(list).len(), 2);
        assert_eq!(split_list(json!({"kind": "Namespace"})).len(), 1);
        let a = json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "x"}});
        let b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}});
        assert_eq!(identity(&a), identity(&b));
        let r1 = json!({"apiVersion": "authorization.openshift.io/v1", "kind": "RoleBinding", "metadata": {"name": "admin"}});
        let r2 = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "admin"}});
        assert_eq!(identity(&r1), identity(&r2));
        let c = json!({"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "x"}});
        assert_ne!(identity(&b), identity(&c));
    }

    #[test]
    fn preferred_groups_come_first() {
        let mut rels = vec![
            "rolebindings.authorization.openshift.io",
            "deployments.extensions",
            "rolebindings.rbac.authorization.k8s.io",
            "configmaps",
            "_cluster/namespace",
        ];
        rels.sort_by_key(|r| (file_preference(r), r.to_string()));
        assert_eq!(
            rels,
            [
                "_cluster/namespace",
                "configmaps",
                "rolebindings.rbac.authorization.k8s.io",
                "rolebindings.authorization.openshift.io",
                "deployments.extensions"
            ]
        );
    }

    #[test]
    fn export_paths_split() {
        assert_eq!(
            split_export_path("/.ocpvault/projects/p/_cluster/namespace.yaml"),
            Some(("p", "_cluster/namespace"))
        );
        assert_eq!(split_export_path("/.ocpvault/projects/p"), None);
        assert_eq!(split_export_path("/etc/origin/x.yaml"), None);
    }
}
