//! One project as the archived etcd snapshot holds it, sorted into the files of the
//! `oc` exports (formats/projects.md §2), so that `etcd dump` writes the same layout
//! and `project restore --from-etcd` runs the same loading, cleaning and ordering.
//!
//! Guarantees: etcd keys are data: a key becomes at most a type file name, and only
//! when every part of that name is `a-z 0-9 . -` and does not start with a dot; an
//! object name never becomes a path. A key whose parts or value do not match (a name
//! with `/`, a value naming another project or object) is skipped with a reason.
//! Written dumps are a new or empty directory created 0700 with 0600 files.

use super::clean::always_left_out;
use super::{ProjectRestoreError, emit};
use crate::projects::capture::{NAMESPACE_FILE, VOLUMES_FILE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The two key roots the OpenShift 3.11 API server writes under.
const ROOTS: [&str; 2] = ["/kubernetes.io/", "/openshift.io/"];
const NAMESPACES: &str = "/kubernetes.io/namespaces/";
const VOLUMES: &str = "/kubernetes.io/persistentvolumes/";

/// What a key is to one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRole {
    /// `/kubernetes.io/namespaces/<project>`.
    Namespace,
    /// A cluster-scoped persistent volume: the project's when its claim is.
    Volume { name: String },
    /// `/<root>/<resource>/<project>/<name>`.
    Object {
        openshift: bool,
        resource: String,
        name: String,
    },
    /// Has the project as a key part but cannot be dumped safely.
    Unsafe(String),
}

/// The role of `key` for `project`, or None when the key is not the project's.
pub fn key_role(key: &str, project: &str) -> Option<KeyRole> {
    if key.strip_prefix(NAMESPACES) == Some(project) {
        return Some(KeyRole::Namespace);
    }
    if let Some(name) = key.strip_prefix(VOLUMES) {
        return is_object_name(name).then(|| KeyRole::Volume {
            name: name.to_string(),
        });
    }
    let (root, rest) = ROOTS
        .iter()
        .find_map(|r| key.strip_prefix(r).map(|rest| (*r, rest)))?;
    let parts: Vec<&str> = rest.split('/').collect();
    // The first part after the type equal to the project: names cannot hold '/', so a
    // well-formed key has exactly one part after it.
    let at = parts.iter().skip(1).position(|p| *p == project)? + 1;
    if at + 1 == parts.len() {
        // A cluster-scoped object that has the project's name (a cluster role binding).
        return None;
    }
    let resource = parts[..at].join("/");
    let name = parts[at + 1..].join("/");
    if !parts[..at].iter().all(|p| is_safe_part(p)) {
        return Some(KeyRole::Unsafe(format!(
            "the type {resource:?} is not a plain resource name"
        )));
    }
    if !is_object_name(&name) {
        return Some(KeyRole::Unsafe(format!(
            "the name {name:?} is not an object name"
        )));
    }
    Some(KeyRole::Object {
        openshift: root == "/openshift.io/",
        resource,
        name,
    })
}

/// A type file name part: `a-z 0-9 . -`, not starting with a dot.
fn is_safe_part(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('.')
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// An API object name: non-empty, no '/', not `.` or `..` (the API server refuses
/// these, so a key holding one was not written by it).
fn is_object_name(n: &str) -> bool {
    !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('\0')
}

/// The API resource of an etcd resource path, where they differ.
fn api_resource(resource: &str) -> &str {
    match resource {
        "services/specs" => "services",
        "services/endpoints" => "endpoints",
        "controllers" => "replicationcontrollers",
        "ingress" => "ingresses",
        r => r.rsplit('/').next().unwrap_or(r),
    }
}

/// The API group of an OpenShift type stored with the legacy group-less `v1`.
fn openshift_group(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "deploymentconfigs" => "apps.openshift.io",
        "builds" | "buildconfigs" => "build.openshift.io",
        "imagestreams" => "image.openshift.io",
        "routes" => "route.openshift.io",
        "templates" | "templateinstances" => "template.openshift.io",
        "egressnetworkpolicies" => "network.openshift.io",
        "rolebindingrestrictions" => "authorization.openshift.io",
        _ => return None,
    })
}

/// A key that was not dumped, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyProblem {
    pub key: String,
    pub reason: String,
}

/// An object left out as the `oc` export leaves its type out (events, metrics).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftOut {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub reason: String,
}

/// The project's objects by export file (qualified type or `_cluster/...`), in key
/// order within each, and every key of the project that is not among them.
#[derive(Debug, Clone, Default)]
pub struct EtcdExport {
    pub project: String,
    pub files: BTreeMap<String, Vec<Value>>,
    /// Values that could not be decrypted or decoded.
    pub not_decoded: Vec<KeyProblem>,
    /// Keys that cannot be dumped safely or whose value does not match the key.
    pub skipped: Vec<KeyProblem>,
    pub left_out: Vec<LeftOut>,
}

impl EtcdExport {
    pub fn new(project: &str) -> Self {
        Self {
            project: project.to_string(),
            ..Self::default()
        }
    }

    /// Objects in files.
    pub fn objects(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }

    /// Records a value that could not be turned into an object. A protobuf value of
    /// a kind the export leaves out anyway is left out, not a failure.
    pub fn not_decoded(&mut self, key: &str, kind: Option<&str>, reason: String) {
        if let (Some(kind), Some(KeyRole::Object { name, .. })) =
            (kind, key_role(key, &self.project))
            && let Some(why) = always_left_out(kind)
        {
            self.left_out.push(LeftOut {
                key: key.to_string(),
                kind: kind.to_string(),
                name,
                reason: why.to_string(),
            });
            return;
        }
        if matches!(key_role(key, &self.project), Some(KeyRole::Volume { .. })) {
            // Whose volume it is cannot be told; say so only when it is undecodable.
            self.not_decoded.push(KeyProblem {
                key: key.to_string(),
                reason: format!("{reason} (a persistent volume: whose claim it binds is unknown)"),
            });
            return;
        }
        self.not_decoded.push(KeyProblem {
            key: key.to_string(),
            reason,
        });
    }

    /// Sorts the decoded object stored under `key` into its file.
    pub fn add(&mut self, key: &str, role: KeyRole, mut object: Value) {
        let skip = |this: &mut Self, reason: String| {
            this.skipped.push(KeyProblem {
                key: key.to_string(),
                reason,
            });
        };
        let kind = str_at(&object, "/kind").to_string();
        let name = str_at(&object, "/metadata/name").to_string();
        match role {
            KeyRole::Unsafe(reason) => skip(self, reason),
            KeyRole::Namespace => {
                if kind != "Namespace" || name != self.project {
                    return skip(self, format!("the value is {kind:?} {name:?}"));
                }
                self.files.insert(NAMESPACE_FILE.to_string(), vec![object]);
            }
            KeyRole::Volume { name: key_name } => {
                if str_at(&object, "/spec/claimRef/namespace") != self.project {
                    return;
                }
                if kind != "PersistentVolume" || name != key_name {
                    return skip(self, format!("the value is {kind:?} {name:?}"));
                }
                self.files
                    .entry(VOLUMES_FILE.to_string())
                    .or_default()
                    .push(object);
            }
            KeyRole::Object {
                openshift,
                resource,
                name: key_name,
            } => {
                let ns = str_at(&object, "/metadata/namespace");
                if name != key_name || (!ns.is_empty() && ns != self.project) {
                    return skip(
                        self,
                        format!("the value is {kind:?} {name:?} in project {ns:?}"),
                    );
                }
                if let Some(why) = always_left_out(&kind) {
                    self.left_out.push(LeftOut {
                        key: key.to_string(),
                        kind,
                        name,
                        reason: why.to_string(),
                    });
                    return;
                }
                let rel = qualify(&mut object, openshift, &resource);
                self.files.entry(rel).or_default().push(object);
            }
        }
    }

    /// The objects of each file, as `load` reads exports: (file, objects).
    pub fn into_files(self) -> Vec<(String, Vec<Value>)> {
        self.files.into_iter().collect()
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The export file of an object (`configmaps`, `deploymentconfigs.apps.openshift.io`),
/// giving an OpenShift object stored with the group-less `v1` its group's apiVersion,
/// as `oc get` prints it.
fn qualify(object: &mut Value, openshift: bool, resource: &str) -> String {
    let plural = api_resource(resource);
    let version = str_at(object, "/apiVersion").to_string();
    let group = match version.rsplit_once('/') {
        Some((g, _)) => g.to_string(),
        None if openshift => match openshift_group(plural) {
            Some(g) => {
                object["apiVersion"] = format!("{g}/{version}").into();
                g.to_string()
            }
            None => String::new(),
        },
        None => String::new(),
    };
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// Writes the export into `dir` (new or empty): `<type>.yaml` holding a `List`,
/// `_cluster/namespace.yaml` the Namespace, `_cluster/persistentvolumes.yaml` the
/// volume or a List of them. Returns (file relative to `dir`, objects) in order.
pub fn write_export(
    export: &EtcdExport,
    dir: &Path,
) -> Result<Vec<(String, usize)>, ProjectRestoreError> {
    super::prepare_output_dir(dir)?;
    let mut written = Vec::new();
    for (rel, objects) in &export.files {
        if !rel.split('/').all(|p| p == "_cluster" || is_safe_part(p)) {
            // key_role admits no such name; a second look costs nothing.
            continue;
        }
        let path = dir.join(format!("{rel}.yaml"));
        if let Some(parent) = path.parent().filter(|p| *p != dir) {
            make_dir(parent)?;
        }
        let doc = match objects.as_slice() {
            [one] if rel.starts_with("_cluster/") => one.clone(),
            _ => json!({
                "apiVersion": "v1",
                "items": objects,
                "kind": "List",
                "metadata": {"resourceVersion": "", "selfLink": ""},
            }),
        };
        write_file(&path, emit::to_yaml(&doc).as_bytes())?;
        written.push((format!("{rel}.yaml"), objects.len()));
    }
    Ok(written)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectRestoreError {
    let path = path.display().to_string();
    move |source| ProjectRestoreError::Io { path, source }
}

fn make_dir(path: &Path) -> Result<(), ProjectRestoreError> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

fn write_file(path: &Path, text: &[u8]) -> Result<(), ProjectRestoreError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(text)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_project() {
        let obj = |o: bool, r: &str, n: &str| KeyRole::Object {
            openshift: o,
            resource: r.into(),
            name: n.into(),
        };
        assert_eq!(
            key_role("/kubernetes.io/configmaps/p/c", "p"),
            Some(obj(false, "configmaps", "c"))
        );
        assert_eq!(
            key_role("/kubernetes.io/services/specs/p/web", "p"),
            Some(obj(false, "services/specs", "web"))
        );
        assert_eq!(
            key_role("/openshift.io/routes/p/r", "p"),
            Some(obj(true, "routes", "r"))
        );
        assert_eq!(
            key_role("/kubernetes.io/namespaces/p", "p"),
            Some(KeyRole::Namespace)
        );
        assert_eq!(key_role("/kubernetes.io/namespaces/q", "p"), None);
        assert_eq!(key_role("/kubernetes.io/configmaps/q/c", "p"), None);
        assert_eq!(key_role("/kubernetes.io/p/c", "p"), None);
        // Cluster-scoped objects named like the project are not the project's.
        assert_eq!(key_role("/kubernetes.io/clusterrolebindings/p", "p"), None);
        assert_eq!(key_role("/registry/configmaps/p/c", "p"), None);
        for hostile in [
            "/kubernetes.io/configmaps/p/../../../tmp/x",
            "/kubernetes.io/configmaps/p/..",
            "/kubernetes.io/configmaps/p/",
            "/kubernetes.io/../../tmp/p/x",
            "/kubernetes.io/.hidden/p/x",
        ] {
            assert!(
                matches!(key_role(hostile, "p"), Some(KeyRole::Unsafe(_))),
                "{hostile}"
            );
        }
    }

    #[test]
    fn objects_go_to_the_files_oc_would_export() {
        let mut e = EtcdExport::new("p");
        let add = |e: &mut EtcdExport, key: &str, v: Value| {
            let role = key_role(key, "p").unwrap();
            e.add(key, role, v);
        };
        add(
            &mut e,
            "/openshift.io/deploymentconfigs/p/web",
            json!({"kind": "DeploymentConfig", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "p"}}),
        );
        add(
            &mut e,
            "/kubernetes.io/services/specs/p/web",
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "p"}}),
        );
        add(
            &mut e,
            "/kubernetes.io/deployments/p/d",
            json!({"kind": "Deployment", "apiVersion": "extensions/v1beta1", "metadata": {"name": "d", "namespace": "p"}}),
        );
        add(
            &mut e,
            "/kubernetes.io/events/p/ev",
            json!({"kind": "Event", "apiVersion": "v1", "metadata": {"name": "ev", "namespace": "p"}}),
        );
        // A value that names another object than its key.
        add(
            &mut e,
            "/kubernetes.io/configmaps/p/a",
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "b", "namespace": "p"}}),
        );
        add(
            &mut e,
            "/kubernetes.io/persistentvolumes/pv1",
            json!({"kind": "PersistentVolume", "apiVersion": "v1", "metadata": {"name": "pv1"}, "spec": {"claimRef": {"namespace": "p"}}}),
        );
        add(
            &mut e,
            "/kubernetes.io/persistentvolumes/pv2",
            json!({"kind": "PersistentVolume", "apiVersion": "v1", "metadata": {"name": "pv2"}, "spec": {"claimRef": {"namespace": "q"}}}),
        );
        let files: Vec<&str> = e.files.keys().map(String::as_str).collect();
        assert_eq!(
            files,
            [
                "_cluster/persistentvolumes",
                "deploymentconfigs.apps.openshift.io",
                "deployments.extensions",
                "services"
            ]
        );
        assert_eq!(
            e.files["deploymentconfigs.apps.openshift.io"][0]["apiVersion"],
            "apps.openshift.io/v1"
        );
        assert_eq!(e.left_out.len(), 1);
        assert_eq!(e.skipped.len(), 1);
        assert_eq!(e.objects(), 4);

        e.not_decoded(
            "/kubernetes.io/events/p/e2",
            Some("Event"),
            "protobuf".into(),
        );
        e.not_decoded(
            "/kubernetes.io/secrets/p/s",
            Some("Secret"),
            "protobuf".into(),
        );
        assert_eq!((e.left_out.len(), e.not_decoded.len()), (2, 1));
    }

    #[test]
    fn written_dump_reads_back_as_exports() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dump");
        let mut e = EtcdExport::new("p");
        let ns = json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "p"}});
        e.add(
            "/kubernetes.io/namespaces/p",
            KeyRole::Namespace,
            ns.clone(),
        );
        let cm = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "namespace": "p"}, "data": {"on": "yes"}});
        let key = "/kubernetes.io/configmaps/p/c";
        e.add(key, key_role(key, "p").unwrap(), cm.clone());
        let written = write_export(&e, &out).unwrap();
        assert_eq!(
            written,
            [
                ("_cluster/namespace.yaml".to_string(), 1),
                ("configmaps.yaml".to_string(), 1)
            ]
        );
        let read = |rel: &str| {
            let text = std::fs::read_to_string(out.join(rel)).unwrap();
            super::super::yaml11::from_str(&text).unwrap()
        };
        assert_eq!(read("_cluster/namespace.yaml"), ns);
        assert_eq!(
            super::super::load::split_list(read("configmaps.yaml")),
            [cm]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&out.join("_cluster")), 0o700);
        assert_eq!(mode(&out.join("configmaps.yaml")), 0o600);
        assert!(matches!(
            write_export(&e, &out),
            Err(ProjectRestoreError::OutputNotEmpty(_))
        ));
    }
}
