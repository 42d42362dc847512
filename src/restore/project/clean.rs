//! Preparing exported objects for `oc create`: which objects the cluster re-creates by
//! itself (and are skipped), and which fields a new object must not carry.
//!
//! Dropped from every object (what the API server's `--export` drops, plus the fields
//! of later servers): `status`, and in `metadata` the fields below (`DROPPED_METADATA`).
//! `--export` itself strips no annotations; the ones in `DROPPED_ANNOTATIONS` are
//! written by controllers and describe the old cluster's state, so they are dropped
//! too. Kept on purpose: `kubectl.kubernetes.io/last-applied-configuration` (so `oc
//! apply` keeps working), `pv.kubernetes.io/provisioned-by` (so the provisioner can
//! still delete the volume), the project's `openshift.io/sa.scc.*` ranges (so files on
//! restored volumes keep matching the pods' UIDs), node ports and route hosts.

use serde_json::{Map, Value};
use std::collections::HashSet;

/// Metadata fields that belong to the stored object, not to its definition.
pub const DROPPED_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "selfLink",
    "creationTimestamp",
    "generation",
    "managedFields",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations that record the old cluster's state and would mislead its controllers.
pub const DROPPED_ANNOTATIONS: &[&str] = &[
    // The PV controller's binding state: a claim re-created with bind-completed is
    // taken as already bound and marked Lost when its volume's claimRef does not match.
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    // The image import controller skips image streams that carry this, so the
    // restored stream's tags would never be imported again.
    "openshift.io/image.dockerRepositoryCheck",
];

/// Facts about the whole project that some rules need.
#[derive(Debug, Default)]
pub struct ProjectFacts {
    /// Services with a selector: the cluster maintains their endpoints.
    pub selector_services: HashSet<String>,
}

impl ProjectFacts {
    pub fn of(objects: &[Value]) -> Self {
        let selector_services = objects
            .iter()
            .filter(|o| kind(o) == "Service")
            .filter(|o| {
                o.pointer("/spec/selector")
                    .and_then(Value::as_object)
                    .is_some_and(|s| !s.is_empty())
            })
            .map(|o| name(o).to_string())
            .collect();
        Self { selector_services }
    }
}

pub fn kind(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The first owner reference of one of `kinds` (any kind when empty).
fn owner<'a>(obj: &'a Value, kinds: &[&str]) -> Option<(&'a str, &'a str)> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .map(|r| {
            let k = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let n = r.get("name").and_then(Value::as_str).unwrap_or("");
            (k, n)
        })
        .find(|(k, _)| kinds.is_empty() || kinds.contains(k))
}

/// Why an object is left out of a restore, or None to restore it.
pub fn skip_reason(obj: &Value, facts: &ProjectFacts) -> Option<String> {
    let n = name(obj);
    match kind(obj) {
        "" => Some("has no kind".into()),
        "Event" => Some("events are history, not configuration".into()),
        "Endpoints" if facts.selector_services.contains(n) => Some(format!(
            "the cluster maintains it from service {n}'s selector"
        )),
        "Secret" => secret_skip(obj),
        "ImageStreamTag" | "ImageTag" | "ImageStreamImage" => {
            Some("a view of an image stream, re-created with it".into())
        }
        "PodMetrics" | "AppliedClusterResourceQuota" => {
            Some("a read-only view, not an object that can be created".into())
        }
        k => owned_skip(k, obj),
    }
}

fn secret_skip(obj: &Value) -> Option<String> {
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let sa = annotation(obj, "kubernetes.io/service-account.name");
    match (kind, sa) {
        ("kubernetes.io/service-account-token", Some(sa)) => Some(format!(
            "token of service account {sa}; the cluster creates a new one"
        )),
        ("kubernetes.io/service-account-token", None) => {
            Some("service account token; the cluster creates a new one".into())
        }
        ("kubernetes.io/dockercfg", Some(sa)) => Some(format!(
            "image pull secret of service account {sa}; the cluster creates a new one"
        )),
        _ => None,
    }
}

/// Objects a controller creates from another object in the project.
fn owned_skip(kind: &str, obj: &Value) -> Option<String> {
    let by = |owner: (&str, &str)| Some(format!("created by {} {}", owner.0, owner.1));
    match kind {
        "Pod" | "ControllerRevision" => owner(obj, &[]).and_then(by),
        "ReplicationController" => owner(obj, &["DeploymentConfig"])
            .or_else(|| {
                annotation(obj, "openshift.io/deployment-config.name")
                    .map(|n| ("DeploymentConfig", n))
            })
            .and_then(by),
        "Build" => owner(obj, &["BuildConfig"])
            .or_else(|| {
                annotation(obj, "openshift.io/build-config.name").map(|n| ("BuildConfig", n))
            })
            .and_then(by),
        "ReplicaSet" => owner(obj, &["Deployment"]).and_then(by),
        "Job" => owner(obj, &["CronJob"]).and_then(by),
        _ => None,
    }
}

/// Removes what a new object must not carry (see the module documentation).
pub fn clean(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    map.remove("status");
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        clean_metadata(meta);
    }
    match kind(obj).to_string().as_str() {
        "Service" => clean_service(obj),
        "ServiceAccount" => clean_service_account(obj),
        "PersistentVolume" => {
            if let Some(claim) = obj
                .pointer_mut("/spec/claimRef")
                .and_then(Value::as_object_mut)
            {
                // Without the old claim's uid the volume binds to the re-created claim.
                claim.remove("uid");
                claim.remove("resourceVersion");
            }
        }
        "DeploymentConfig" => clear_in_triggers(obj, "imageChangeParams", "lastTriggeredImage"),
        "BuildConfig" => clear_in_triggers(obj, "imageChange", "lastTriggeredImageID"),
        _ => {}
    }
}

fn clean_metadata(meta: &mut Map<String, Value>) {
    for f in DROPPED_METADATA {
        meta.remove(*f);
    }
    let now_empty = match meta.get_mut("annotations").and_then(Value::as_object_mut) {
        Some(a) => {
            for k in DROPPED_ANNOTATIONS {
                a.remove(*k);
            }
            a.is_empty()
        }
        None => false,
    };
    if now_empty {
        meta.remove("annotations");
    }
}

/// The cluster IP belongs to the old cluster's service network; a headless service
/// keeps `None`.
fn clean_service(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
}

/// References to the token and image pull secrets the cluster generates for a
/// service account name secrets that are not restored; the cluster adds new ones.
fn clean_service_account(obj: &mut Value) {
    let sa = name(obj).to_string();
    let generated = [format!("{sa}-token-"), format!("{sa}-dockercfg-")];
    let is_generated = |r: &Value| {
        let n = r.get("name").and_then(Value::as_str).unwrap_or("");
        generated.iter().any(|p| n.starts_with(p.as_str()))
    };
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for field in ["secrets", "imagePullSecrets"] {
        let now_empty = match map.get_mut(field).and_then(Value::as_array_mut) {
            Some(refs) => {
                refs.retain(|r| !is_generated(r));
                refs.is_empty()
            }
            None => false,
        };
        if now_empty {
            map.remove(field);
        }
    }
}

/// Clears a field the controllers set in each trigger of a deployment or build config.
fn clear_in_triggers(obj: &mut Value, params: &str, field: &str) {
    let Some(triggers) = obj
        .pointer_mut("/spec/triggers")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for t in triggers {
        if let Some(p) = t.get_mut(params).and_then(Value::as_object_mut) {
            p.remove(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleaning_drops_state_and_keeps_definitions() {
        let mut pvc = json!({
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "uid": "u", "resourceVersion": "7",
                "creationTimestamp": "2018-01-01T00:00:00Z",
                "annotations": {"pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"volumeName": "pv0003"},
            "status": {"phase": "Bound"}
        });
        clean(&mut pvc);
        assert_eq!(
            pvc,
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                   "spec": {"volumeName": "pv0003"}})
        );
        let mut svc = json!({"kind": "Service", "metadata": {"name": "a",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"clusterIP": "172.30.1.2", "ports": [{"port": 8080, "nodePort": 30080}]}});
        clean(&mut svc);
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 8080, "nodePort": 30080}]})
        );
        assert!(
            svc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
        );
        let mut headless = json!({"kind": "Service", "spec": {"clusterIP": "None"}});
        clean(&mut headless);
        assert_eq!(headless["spec"]["clusterIP"], "None");
    }

    #[test]
    fn service_accounts_lose_generated_secret_references() {
        let mut sa = json!({"kind": "ServiceAccount", "metadata": {"name": "builder"},
            "secrets": [{"name": "builder-token-x"}, {"name": "builder-dockercfg-y"}, {"name": "git"}],
            "imagePullSecrets": [{"name": "builder-dockercfg-y"}]});
        clean(&mut sa);
        assert_eq!(sa["secrets"], json!([{"name": "git"}]));
        assert!(sa.get("imagePullSecrets").is_none());
    }

    #[test]
    fn generated_objects_are_skipped() {
        let facts = ProjectFacts::of(&[
            json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}),
            json!({"kind": "Service", "metadata": {"name": "db"}, "spec": {}}),
        ]);
        let skip = |v: Value| skip_reason(&v, &facts);
        assert!(skip(json!({"kind": "Endpoints", "metadata": {"name": "web"}})).is_some());
        assert!(skip(json!({"kind": "Endpoints", "metadata": {"name": "db"}})).is_none());
        let rc = json!({"kind": "ReplicationController", "metadata": {"name": "web-1",
            "ownerReferences": [{"kind": "DeploymentConfig", "name": "web", "controller": true}]}});
        assert_eq!(skip(rc).unwrap(), "created by DeploymentConfig web");
        assert!(
            skip(json!({"kind": "ReplicationController", "metadata": {"name": "plain"}})).is_none()
        );
        assert!(skip(json!({"kind": "Pod", "metadata": {"name": "bare"}})).is_none());
        let token = json!({"kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "default-token-a", "annotations": {"kubernetes.io/service-account.name": "default"}}});
        assert_eq!(
            skip(token).unwrap(),
            "token of service account default; the cluster creates a new one"
        );
        let own_cfg = json!({"kind": "Secret", "type": "kubernetes.io/dockercfg", "metadata": {"name": "quay"}});
        assert!(skip(own_cfg).is_none());
        assert!(
            skip(json!({"kind": "ImageStreamTag", "metadata": {"name": "a:latest"}})).is_some()
        );
    }

    #[test]
    fn trigger_state_and_claim_uids_are_cleared() {
        let mut dc = json!({"kind": "DeploymentConfig", "spec": {"triggers": [
            {"type": "ConfigChange"},
            {"type": "ImageChange", "imageChangeParams": {"automatic": true, "lastTriggeredImage": "x@sha256:1"}}]}});
        clean(&mut dc);
        assert_eq!(
            dc["spec"]["triggers"][1]["imageChangeParams"],
            json!({"automatic": true})
        );
        let mut pv = json!({"kind": "PersistentVolume", "spec": {"claimRef": {"name": "data", "namespace": "p", "uid": "u", "resourceVersion": "1"}}});
        clean(&mut pv);
        assert_eq!(
            pv["spec"]["claimRef"],
            json!({"name": "data", "namespace": "p"})
        );
    }
}
