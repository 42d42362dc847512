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
//! restored volumes keep matching the pods' UIDs), node ports and route hosts chosen
//! by hand (a host the router generated is dropped, so the new router makes one).

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

/// Kinds a restore always leaves out, whatever the object holds, and why; the
/// projects source does not export their types at all (formats/projects.md).
pub const ALWAYS_LEFT_OUT: &[(&str, &str)] = &[
    ("Event", "events are history, not configuration"),
    (
        "ImageStreamTag",
        "a view of an image stream, re-created with it",
    ),
    ("ImageTag", "a view of an image stream, re-created with it"),
    (
        "ImageStreamImage",
        "a view of an image stream, re-created with it",
    ),
    (
        "PodMetrics",
        "a read-only view, not an object that can be created",
    ),
    (
        "AppliedClusterResourceQuota",
        "a read-only view, not an object that can be created",
    ),
];

/// Why objects of `kind` are always left out, or None.
pub fn always_left_out(kind: &str) -> Option<&'static str> {
    ALWAYS_LEFT_OUT
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, why)| *why)
}

/// What a restore includes beyond the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Re-create Jobs that had finished and bare pods that had ended (they run again).
    pub include_finished: bool,
    /// Re-create the bare pods `oc debug` left behind.
    pub include_debug_pods: bool,
}

/// Facts about the whole project that some rules need.
#[derive(Debug, Default)]
pub struct ProjectFacts {
    /// Services with a selector: the cluster maintains their endpoints.
    pub selector_services: HashSet<String>,
    /// Secrets this restore leaves out because the cluster generates them (service
    /// account tokens and image pull secrets); references to them are dropped too.
    pub generated_secrets: HashSet<String>,
    pub options: PlanOptions,
}

impl ProjectFacts {
    pub fn of(objects: &[Value], options: PlanOptions) -> Self {
        let generated_secrets = objects
            .iter()
            .filter(|o| kind(o) == "Secret" && secret_skip(o).is_some())
            .map(|o| name(o).to_string())
            .collect();
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
        Self {
            selector_services,
            generated_secrets,
            options,
        }
    }

    fn is_generated_secret(&self, name: &str) -> bool {
        self.generated_secrets.contains(name)
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
    if let Some(why) = always_left_out(kind(obj)) {
        return Some(why.into());
    }
    match kind(obj) {
        "" => Some("has no kind".into()),
        "Endpoints" if facts.selector_services.contains(n) => Some(format!(
            "the cluster maintains it from service {n}'s selector"
        )),
        "Secret" => secret_skip(obj),
        k => owned_skip(k, obj).or_else(|| finished_skip(k, obj, facts.options)),
    }
}

/// Standalone Jobs and bare pods that had already run: re-creating them runs them
/// again, so they are left out unless asked for.
fn finished_skip(kind: &str, obj: &Value, options: PlanOptions) -> Option<String> {
    match kind {
        "Job" if !options.include_finished => {
            let ended = ["Complete", "Failed"].into_iter().find(|c| {
                obj.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter().any(|x| {
                            x.get("type").and_then(Value::as_str) == Some(*c)
                                && x.get("status").and_then(Value::as_str) == Some("True")
                        })
                    })
            })?;
            Some(format!(
                "a finished job ({ended}); re-creating it runs it again (--include-finished restores it)"
            ))
        }
        "Pod" if is_debug_pod(obj) && !options.include_debug_pods => {
            Some("a pod left by oc debug (--include-debug-pods restores it)".into())
        }
        "Pod" if !options.include_finished => {
            let phase = obj.pointer("/status/phase").and_then(Value::as_str)?;
            matches!(phase, "Succeeded" | "Failed").then(|| {
                format!(
                    "a bare pod that had ended ({phase}); re-creating it runs it again (--include-finished restores it)"
                )
            })
        }
        _ => None,
    }
}

/// `oc debug` marks the pods it creates with these annotations.
fn is_debug_pod(obj: &Value) -> bool {
    obj.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.keys().any(|k| k.starts_with("debug.openshift.io/")))
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
pub fn clean(obj: &mut Value, facts: &ProjectFacts) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    map.remove("status");
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        clean_metadata(meta);
    }
    match kind(obj).to_string().as_str() {
        "Service" => clean_service(obj),
        "ServiceAccount" => clean_service_account(obj, facts),
        "Route" => clean_route(obj),
        "Job" => clean_job(obj),
        "Pod" => clean_pod(obj, facts),
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

/// References to the token and image pull secrets that this restore leaves out (the
/// cluster generates new ones and adds them); every other reference stays, whatever
/// the secret's name.
fn clean_service_account(obj: &mut Value, facts: &ProjectFacts) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for field in ["secrets", "imagePullSecrets"] {
        drop_secret_refs(map, field, facts);
    }
}

/// Drops the entries of `map[field]` (a list of `{name: ...}`) that name a generated
/// secret, and the field when it ends up empty.
fn drop_secret_refs(map: &mut Map<String, Value>, field: &str, facts: &ProjectFacts) {
    let now_empty = match map.get_mut(field).and_then(Value::as_array_mut) {
        Some(refs) => {
            refs.retain(|r| {
                let n = r.get("name").and_then(Value::as_str).unwrap_or("");
                !facts.is_generated_secret(n)
            });
            refs.is_empty()
        }
        None => false,
    };
    if now_empty {
        map.remove(field);
    }
}

/// A host the router generated (`openshift.io/host.generated: "true"`) names the old
/// cluster's subdomain; without it the restored cluster's router generates one again.
fn clean_route(obj: &mut Value) {
    const GENERATED: &str = "openshift.io/host.generated";
    if annotation(obj, GENERATED) != Some("true") {
        return;
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("host");
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let now_empty = match meta.get_mut("annotations").and_then(Value::as_object_mut) {
            Some(a) => {
                a.remove(GENERATED);
                a.is_empty()
            }
            None => false,
        };
        if now_empty {
            meta.remove("annotations");
        }
    }
}

/// The label the Job controller puts on a Job's pods, with the Job's uid.
const CONTROLLER_UID: &str = "controller-uid";

/// A Job whose selector the server generated (`controller-uid` = the old Job's uid):
/// a server refuses to create it with that selector, so the selector and the labels
/// the server generates with it (`controller-uid`, `job-name`) go; the new server
/// generates them again. A selector chosen by hand (`manualSelector: true`) stays.
fn clean_job(obj: &mut Value) {
    let manual = obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true);
    let generated = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key(CONTROLLER_UID));
    if manual || !generated {
        return;
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("selector");
    }
    for labels in ["/metadata/labels", "/spec/template/metadata/labels"] {
        let now_empty = match obj.pointer_mut(labels).and_then(Value::as_object_mut) {
            Some(l) => {
                l.remove(CONTROLLER_UID);
                l.remove("job-name");
                l.is_empty()
            }
            None => false,
        };
        if now_empty {
            let (parent, _) = labels.rsplit_once('/').expect("a pointer with a parent");
            if let Some(p) = obj.pointer_mut(parent).and_then(Value::as_object_mut) {
                p.remove("labels");
            }
        }
    }
}

/// A bare pod: the node it ran on belongs to the old cluster, and the token volume
/// and pull secrets that admission added name generated secrets this restore leaves
/// out; the new cluster's admission adds its own.
fn clean_pod(obj: &mut Value, facts: &ProjectFacts) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.remove("nodeName");
    drop_secret_refs(spec, "imagePullSecrets", facts);
    let mut dropped = HashSet::new();
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.retain(|v| {
            let secret = v.pointer("/secret/secretName").and_then(Value::as_str);
            let keep = !secret.is_some_and(|s| facts.is_generated_secret(s));
            if !keep {
                let n = v.get("name").and_then(Value::as_str).unwrap_or("");
                dropped.insert(n.to_string());
            }
            keep
        });
        if volumes.is_empty() {
            spec.remove("volumes");
        }
    }
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            let now_empty = match c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(mounts) => {
                    mounts.retain(|m| {
                        let n = m.get("name").and_then(Value::as_str).unwrap_or("");
                        !dropped.contains(n)
                    });
                    mounts.is_empty()
                }
                None => false,
            };
            if now_empty {
                c.remove("volumeMounts");
            }
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
        clean(&mut pvc, &ProjectFacts::default());
        assert_eq!(
            pvc,
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                   "spec": {"volumeName": "pv0003"}})
        );
        let mut svc = json!({"kind": "Service", "metadata": {"name": "a",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"clusterIP": "172.30.1.2", "ports": [{"port": 8080, "nodePort": 30080}]}});
        clean(&mut svc, &ProjectFacts::default());
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 8080, "nodePort": 30080}]})
        );
        assert!(
            svc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
        );
        let mut headless = json!({"kind": "Service", "spec": {"clusterIP": "None"}});
        clean(&mut headless, &ProjectFacts::default());
        assert_eq!(headless["spec"]["clusterIP"], "None");
    }

    fn generated(name: &str, kind: &str) -> Value {
        json!({"kind": "Secret", "type": kind, "metadata": {"name": name,
            "annotations": {"kubernetes.io/service-account.name": "builder"}}})
    }

    #[test]
    fn service_accounts_lose_only_references_to_left_out_secrets() {
        let objects = [
            generated("builder-token-x", "kubernetes.io/service-account-token"),
            generated("builder-dockercfg-y", "kubernetes.io/dockercfg"),
            // The user's own secret, named like a token: restored, so kept.
            json!({"kind": "Secret", "type": "Opaque", "metadata": {"name": "builder-token-mine"}}),
        ];
        let facts = ProjectFacts::of(&objects, PlanOptions::default());
        let mut sa = json!({"kind": "ServiceAccount", "metadata": {"name": "builder"},
            "secrets": [{"name": "builder-token-x"}, {"name": "builder-dockercfg-y"},
                {"name": "git"}, {"name": "builder-token-mine"}],
            "imagePullSecrets": [{"name": "builder-dockercfg-y"}]});
        clean(&mut sa, &facts);
        assert_eq!(
            sa["secrets"],
            json!([{"name": "git"}, {"name": "builder-token-mine"}])
        );
        assert!(sa.get("imagePullSecrets").is_none());
    }

    #[test]
    fn jobs_pods_and_routes_lose_what_the_old_cluster_generated() {
        let facts = ProjectFacts::of(
            &[generated(
                "default-token-a",
                "kubernetes.io/service-account-token",
            )],
            PlanOptions::default(),
        );
        let mut job = json!({"kind": "Job", "metadata": {"name": "m",
                "labels": {"controller-uid": "u1", "job-name": "m", "app": "x"}},
            "spec": {"selector": {"matchLabels": {"controller-uid": "u1"}},
                "template": {"metadata": {"labels": {"controller-uid": "u1", "job-name": "m"}}}}});
        clean(&mut job, &facts);
        assert_eq!(
            job,
            json!({"kind": "Job", "metadata": {"name": "m", "labels": {"app": "x"}},
                "spec": {"template": {"metadata": {}}}})
        );
        let mut manual = json!({"kind": "Job", "spec": {"manualSelector": true,
            "selector": {"matchLabels": {"controller-uid": "mine"}}}});
        let before = manual.clone();
        clean(&mut manual, &facts);
        assert_eq!(manual, before);

        let mut pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "nodeName": "node-1.example.com",
            "imagePullSecrets": [{"name": "default-token-a"}, {"name": "quay"}],
            "volumes": [{"name": "default-token-a", "secret": {"secretName": "default-token-a"}},
                {"name": "data", "emptyDir": {}}],
            "containers": [{"name": "c", "volumeMounts": [
                {"name": "default-token-a", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                {"name": "data", "mountPath": "/data"}]}]}});
        clean(&mut pod, &facts);
        assert_eq!(
            pod["spec"],
            json!({"imagePullSecrets": [{"name": "quay"}],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]})
        );

        let route = |ann: &str| {
            json!({"kind": "Route", "metadata": {"name": "r", "annotations": {"openshift.io/host.generated": ann}},
                "spec": {"host": "r-p.apps.old.example.com"}})
        };
        let mut generated_host = route("true");
        clean(&mut generated_host, &facts);
        assert_eq!(
            generated_host,
            json!({"kind": "Route", "metadata": {"name": "r"}, "spec": {}})
        );
        let mut explicit = route("false");
        clean(&mut explicit, &facts);
        assert_eq!(explicit, route("false"));
    }

    #[test]
    fn finished_jobs_and_debug_pods_are_left_out_unless_asked_for() {
        let job = json!({"kind": "Job", "metadata": {"name": "m"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        let running = json!({"kind": "Job", "metadata": {"name": "r"}, "status": {"active": 1}});
        let debug = json!({"kind": "Pod", "metadata": {"name": "web-debug",
            "annotations": {"debug.openshift.io/source-container": "web"}}, "status": {"phase": "Running"}});
        let ended =
            json!({"kind": "Pod", "metadata": {"name": "once"}, "status": {"phase": "Succeeded"}});
        let bare =
            json!({"kind": "Pod", "metadata": {"name": "bare"}, "status": {"phase": "Running"}});
        let default = ProjectFacts::of(&[], PlanOptions::default());
        assert!(
            skip_reason(&job, &default)
                .unwrap()
                .starts_with("a finished job (Complete)")
        );
        assert!(skip_reason(&running, &default).is_none());
        assert!(skip_reason(&debug, &default).unwrap().contains("oc debug"));
        assert!(skip_reason(&ended, &default).unwrap().contains("Succeeded"));
        assert!(skip_reason(&bare, &default).is_none());
        let all = ProjectFacts::of(
            &[],
            PlanOptions {
                include_finished: true,
                include_debug_pods: true,
            },
        );
        for o in [&job, &debug, &ended] {
            assert!(skip_reason(o, &all).is_none(), "{o}");
        }
    }

    #[test]
    fn generated_objects_are_skipped() {
        let facts = ProjectFacts::of(
            &[
                json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}),
                json!({"kind": "Service", "metadata": {"name": "db"}, "spec": {}}),
            ],
            PlanOptions::default(),
        );
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
        clean(&mut dc, &ProjectFacts::default());
        assert_eq!(
            dc["spec"]["triggers"][1]["imageChangeParams"],
            json!({"automatic": true})
        );
        let mut pv = json!({"kind": "PersistentVolume", "spec": {"claimRef": {"name": "data", "namespace": "p", "uid": "u", "resourceVersion": "1"}}});
        clean(&mut pv, &ProjectFacts::default());
        assert_eq!(
            pv["spec"]["claimRef"],
            json!({"name": "data", "namespace": "p"})
        );
    }
}
