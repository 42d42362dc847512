//! The order objects are created in, so that what an object needs exists first, and
//! the numbered file names that carry that order to `oc create -f DIR` (which reads a
//! directory in name order).

/// The creation order, by kind: the project, service accounts, secrets, config maps,
/// limit ranges and quotas, persistent volumes and their claims, roles and role
/// bindings, image streams, build configs, deployment configs and deployments, stateful
/// sets and daemon sets, services, routes, then everything else.
const ORDER: &[&[&str]] = &[
    &["Namespace", "Project"],
    &["ServiceAccount"],
    &["Secret"],
    &["ConfigMap"],
    &["LimitRange", "ResourceQuota"],
    // Cluster-scoped volumes come just before the claims that bind to them.
    &["PersistentVolume"],
    &["PersistentVolumeClaim"],
    &["Role", "RoleBinding"],
    &["ImageStream"],
    &["BuildConfig"],
    &["DeploymentConfig", "Deployment"],
    &["StatefulSet", "DaemonSet"],
    &["Service"],
    &["Route"],
];

/// The position of a kind in the creation order; unknown kinds come last.
pub fn rank(kind: &str) -> usize {
    ORDER
        .iter()
        .position(|group| group.contains(&kind))
        .unwrap_or(ORDER.len())
}

/// Numbered file names for objects in creation order: `010-project.yaml`,
/// `020-serviceaccount-builder.yaml`, ... Numbers step by 10 so files can be added by
/// hand, and have at least 3 digits, more when there are 100 objects or more, so that
/// name order is creation order.
pub fn file_names<'a>(objects: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let width = (objects.len() * 10).to_string().len().max(3);
    objects
        .enumerate()
        .map(|(i, (kind, name))| {
            let label = if rank(kind) == 0 {
                "project".to_string()
            } else {
                format!("{}-{}", kind.to_ascii_lowercase(), file_safe(name))
            };
            format!("{:0width$}-{label}.yaml", (i + 1) * 10)
        })
        .collect()
}

/// A name as a file name part: letters, digits, '.', '-' and '_' kept, anything else
/// (':' in `system:deployers`) becomes '_'; at most 100 characters.
fn file_safe(name: &str) -> String {
    name.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_documented_order() {
        let kinds = [
            "HorizontalPodAutoscaler",
            "Route",
            "Service",
            "DaemonSet",
            "Deployment",
            "BuildConfig",
            "ImageStream",
            "RoleBinding",
            "PersistentVolumeClaim",
            "PersistentVolume",
            "ResourceQuota",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Namespace",
        ];
        let mut sorted = kinds.to_vec();
        sorted.sort_by_key(|k| rank(k));
        let expected: Vec<&str> = kinds.iter().rev().copied().collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn file_names_sort_in_creation_order() {
        let objs = [
            ("Namespace", "p"),
            ("RoleBinding", "system:deployers"),
            ("Secret", "../x"),
        ];
        assert_eq!(
            file_names(objs.into_iter()),
            [
                "010-project.yaml",
                "020-rolebinding-system_deployers.yaml",
                "030-secret-.._x.yaml"
            ]
        );
        let many: Vec<(&str, &str)> = (0..150).map(|_| ("Secret", "s")).collect();
        let names = file_names(many.into_iter());
        assert_eq!(names[0], "0010-secret-s.yaml");
        assert_eq!(names[149], "1500-secret-s.yaml");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names);
    }
}
