//! Protobuf values (`k8s\0` + `runtime.Unknown`) as the API object: the schema of
//! the Kubernetes 1.11 and OpenShift 3.11 API types (`schema`), the wire reader
//! (`wire`), and the rendering to the JSON the API server writes (`render`).
//! formats/etcd-types.md says which types and fields are covered and how they look.
//!
//! The entry point for callers is `etcd::object::to_api_object`.

pub mod render;
pub mod schema;
pub mod wire;

use super::values::Envelope;
use render::Renderer;
use schema::{Message, Package, Registry};
use serde_json::Value;

/// Where OpenShift stores its own resources in etcd.
const OPENSHIFT_ROOT: &str = "/openshift.io/";

/// An object decoded from a protobuf envelope, and the notes on what was shown by
/// field number.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub object: Value,
    pub notes: Vec<String>,
}

/// The package and message of a stored `apiVersion` and `kind`.
///
/// OpenShift 3.11 stores its types with the legacy group-less `v1`: a kind the core
/// group does not have is looked up in the OpenShift groups; under `/openshift.io/`
/// keys the OpenShift groups are looked at first (Role, RoleBinding, ClusterRole and
/// ClusterRoleBinding exist in both `authorization.openshift.io` and, by group,
/// `rbac.authorization.k8s.io`).
pub fn resolve<'r>(
    reg: &'r Registry,
    key: &str,
    api_version: &str,
    kind: &str,
) -> Option<(&'r Package, &'r Message)> {
    let find = |pkg: &'r Package| reg.kind(pkg, kind).map(|m| (pkg, m));
    if api_version.contains('/') {
        return reg
            .packages
            .iter()
            .filter(|p| p.group_version == api_version)
            .find_map(find);
    }
    let legacy_openshift = |p: &&Package| {
        p.name.starts_with("github.com.openshift.api.")
            && p.group_version.ends_with(&format!("/{api_version}"))
    };
    let core = reg
        .packages
        .iter()
        .filter(|p| p.group_version == api_version)
        .find_map(find);
    let openshift = || reg.packages.iter().filter(legacy_openshift).find_map(find);
    if key.starts_with(OPENSHIFT_ROOT) {
        openshift().or(core)
    } else {
        core.or_else(openshift)
    }
}

/// Decodes the payload of an envelope stored under `key`.
pub fn decode(key: &str, env: &Envelope) -> Result<Rendered, String> {
    let reg = Registry::get();
    let mut r = Renderer::new(reg);
    let object = render_envelope(reg, key, env, &mut r, 0)?;
    Ok(Rendered {
        object,
        notes: r.notes,
    })
}

/// The object of an envelope, with `apiVersion` (the API group's, for OpenShift's
/// legacy `v1`) and `kind`.
pub fn render_envelope(
    reg: &Registry,
    key: &str,
    env: &Envelope,
    r: &mut Renderer<'_>,
    depth: usize,
) -> Result<Value, String> {
    if !env.content_encoding.is_empty() {
        return Err(format!(
            "content encoding {:?} is not supported",
            env.content_encoding
        ));
    }
    let (api_version, mut object) = match resolve(reg, key, &env.api_version, &env.kind) {
        Some((pkg, msg)) => (
            pkg.group_version.clone(),
            r.message(&env.raw, msg, "", depth)?,
        ),
        None => {
            let fields = wire::fields(&env.raw)?;
            r.notes.push(format!(
                "no schema for {} {}; its fields are shown by number",
                env.api_version, env.kind
            ));
            (env.api_version.clone(), r.generic_fields(fields, depth + 1))
        }
    };
    let Some(obj) = object.as_object_mut() else {
        return Err(format!("{} is not a message type", env.kind));
    };
    obj.insert("apiVersion".into(), Value::String(api_version));
    obj.insert("kind".into(), Value::String(env.kind.clone()));
    Ok(object)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
