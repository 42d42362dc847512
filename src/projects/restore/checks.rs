//! Warnings about objects that will be created but may not work in the restored
//! cluster: workloads pinned to an image digest in the internal registry (the Day Two
//! guide's ruby-ex example), and volumes whose storage was deleted with their claim.

use super::clean::{kind, name};
use serde_json::Value;
use std::collections::BTreeSet;

/// Host names the OpenShift 3.x internal registry is reached by.
const INTERNAL_REGISTRIES: &[&str] = &[
    "docker-registry.default.svc:5000",
    "docker-registry.default.svc.cluster.local:5000",
];

/// Registry hosts that are internal: the well-known service names plus every host the
/// project's image streams were served from (before cleaning; it is in their status).
pub fn internal_registry_hosts(objects: &[Value]) -> BTreeSet<String> {
    let mut hosts: BTreeSet<String> = INTERNAL_REGISTRIES.iter().map(|h| h.to_string()).collect();
    for o in objects.iter().filter(|o| kind(o) == "ImageStream") {
        for field in ["dockerImageRepository", "publicDockerImageRepository"] {
            if let Some(repo) = o
                .pointer(&format!("/status/{field}"))
                .and_then(Value::as_str)
            {
                hosts.insert(registry_host(repo).to_string());
            }
        }
    }
    hosts.retain(|h| !h.is_empty());
    hosts
}

/// `host:5000/project/name@sha256:...` -> `host:5000`; empty for images without a
/// registry host (`centos/ruby-22-centos7`).
fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') => first,
        _ => "",
    }
}

/// True for a service-IP registry such as `172.30.1.1:5000` (the guide shows
/// `10.111.255.221:5000`).
fn is_ip_registry(host: &str) -> bool {
    host.split_once(':')
        .is_some_and(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().is_ok())
}

/// Warnings for one object, checked before it is cleaned.
pub fn warnings(obj: &Value, internal: &BTreeSet<String>) -> Vec<String> {
    match kind(obj) {
        "DeploymentConfig" | "Deployment" | "StatefulSet" | "DaemonSet" => {
            digest_warnings(obj, internal)
        }
        "PersistentVolume" => volume_warning(obj).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn digest_warnings(obj: &Value, internal: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for list in ["containers", "initContainers"] {
        let Some(containers) = obj
            .pointer(&format!("/spec/template/spec/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for c in containers {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let host = registry_host(image);
            let pinned = image.contains("@sha256:");
            if pinned && (internal.contains(host) || is_ip_registry(host)) {
                out.push(format!(
                    "{}/{}: container {} runs {image}, an image digest in the internal registry that a restored cluster does not have; it deploys only once the image is built or pushed again (oc start-build, oc import-image)",
                    kind(obj).to_ascii_lowercase(),
                    name(obj),
                    c.get("name").and_then(Value::as_str).unwrap_or("?"),
                ));
            }
        }
    }
    out
}

fn volume_warning(pv: &Value) -> Option<String> {
    let policy = pv
        .pointer("/spec/persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)?;
    (policy == "Delete").then(|| {
        format!(
            "persistentvolume/{}: reclaim policy Delete: if its claim was deleted, so was its storage, and the restored volume points at nothing; leave its file out and drop spec.volumeName from the claim to get a new, empty volume",
            name(pv)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dc(image: &str) -> Value {
        json!({"kind": "DeploymentConfig", "metadata": {"name": "ruby-ex"},
            "spec": {"template": {"spec": {"containers": [{"name": "ruby-ex", "image": image}]}}}})
    }

    #[test]
    fn internal_digests_warn_and_external_images_do_not() {
        let is = json!({"kind": "ImageStream", "status": {"dockerImageRepository": "172.30.1.1:5000/p/ruby-ex"}});
        let hosts = internal_registry_hosts(&[is]);
        assert!(hosts.contains("172.30.1.1:5000"));
        let w = warnings(
            &dc("docker-registry.default.svc:5000/myproject/ruby-ex@sha256:880c"),
            &hosts,
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("deploymentconfig/ruby-ex: container ruby-ex runs docker-registry.default.svc:5000/myproject/ruby-ex@sha256:880c,"), "{}", w[0]);
        assert_eq!(
            warnings(
                &dc("10.111.255.221:5000/myproject/ruby-ex@sha256:880c"),
                &hosts
            )
            .len(),
            1
        );
        assert!(warnings(&dc("docker.io/centos/ruby@sha256:1"), &hosts).is_empty());
        assert!(warnings(&dc("docker-registry.default.svc:5000/p/x:latest"), &hosts).is_empty());
        assert!(warnings(&dc("centos/ruby-22-centos7"), &hosts).is_empty());
    }

    #[test]
    fn deleted_volumes_warn() {
        let pv = |p: &str| json!({"kind": "PersistentVolume", "metadata": {"name": "pv1"}, "spec": {"persistentVolumeReclaimPolicy": p}});
        assert_eq!(warnings(&pv("Delete"), &BTreeSet::new()).len(), 1);
        assert!(warnings(&pv("Retain"), &BTreeSet::new()).is_empty());
    }
}
