//! Payloads written here from the wire facts (field numbers and types of the 1.11 /
//! 3.11 API types) with a small protobuf writer, decoded, and compared field by field
//! with the JSON the API server writes for them.

use super::*;
use serde_json::json;

/// A protobuf message being written.
#[derive(Default, Clone)]
struct W(Vec<u8>);

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl W {
    fn new() -> Self {
        Self::default()
    }
    fn tag(&mut self, n: u32, wire: u8) {
        put_varint(&mut self.0, (u64::from(n) << 3) | u64::from(wire));
    }
    fn varint(mut self, n: u32, v: u64) -> Self {
        self.tag(n, 0);
        put_varint(&mut self.0, v);
        self
    }
    fn int(self, n: u32, v: i64) -> Self {
        self.varint(n, v as u64)
    }
    fn bytes(mut self, n: u32, b: &[u8]) -> Self {
        self.tag(n, 2);
        put_varint(&mut self.0, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, n: u32, s: &str) -> Self {
        self.bytes(n, s.as_bytes())
    }
    fn msg(self, n: u32, m: W) -> Self {
        self.bytes(n, &m.0)
    }
    /// A `map<string, string>` entry.
    fn entry(self, n: u32, k: &str, v: &str) -> Self {
        self.msg(n, W::new().str(1, k).str(2, v))
    }
    /// A `map<string, Message>` entry.
    fn entry_msg(self, n: u32, k: &str, v: W) -> Self {
        self.msg(n, W::new().str(1, k).msg(2, v))
    }
    fn fixed64(mut self, n: u32, v: u64) -> Self {
        self.tag(n, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// metav1.Time {1 seconds, 2 nanos}.
fn time(secs: i64) -> W {
    W::new().int(1, secs).int(2, 0)
}

/// resource.Quantity {1 string}.
fn quantity(s: &str) -> W {
    W::new().str(1, s)
}

/// intstr.IntOrString {1 type, 2 intVal, 3 strVal}, as Go writes it (all three).
fn int_or_string_int(i: i32) -> W {
    W::new().int(1, 0).int(2, i64::from(i)).str(3, "")
}
fn int_or_string_str(s: &str) -> W {
    W::new().int(1, 1).int(2, 0).str(3, s)
}

/// 2018-10-01T12:00:00Z.
const T0: i64 = 1_538_395_200;

/// ObjectMeta as Go writes it: every non-pointer field, zero or not.
fn meta(name: &str, namespace: &str) -> W {
    W::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "0b7c7e5e-c5a4-11e8-9d6c-525400c0ffee")
        .str(6, "")
        .int(7, 0)
        .msg(8, time(T0))
        .entry(11, "app", "web")
        .str(15, "")
}

fn envelope(api_version: &str, kind: &str, raw: &W) -> Envelope {
    Envelope {
        api_version: api_version.into(),
        kind: kind.into(),
        raw: raw.0.clone(),
        content_encoding: String::new(),
        content_type: String::new(),
    }
}

fn decode_at(key: &str, api_version: &str, kind: &str, raw: &W) -> Rendered {
    decode(key, &envelope(api_version, kind, raw)).unwrap()
}

/// Asserts each (JSON pointer, value) of `want`, and that `absent` pointers are not there.
fn check(got: &Value, want: &[(&str, Value)], absent: &[&str]) {
    for (ptr, v) in want {
        assert_eq!(
            got.pointer(ptr),
            Some(v),
            "{ptr} in {}",
            serde_json::to_string_pretty(got).unwrap()
        );
    }
    for ptr in absent {
        assert_eq!(
            got.pointer(ptr),
            None,
            "{ptr} should be left out of {}",
            serde_json::to_string_pretty(got).unwrap()
        );
    }
}

#[test]
fn the_table_parses_and_every_field_type_resolves() {
    let reg = Registry::parse(include_str!("schema/types.tbl")).unwrap();
    assert!(reg.len() > 700, "{} messages", reg.len());
    for m in reg.messages() {
        for f in &m.fields {
            let mut tys = vec![&f.ty];
            if let schema::Ty::Map(k, v) = &f.ty {
                tys = vec![k, v];
            }
            for t in tys {
                if let schema::Ty::Message(name) = t {
                    assert!(reg.message(name).is_some(), "{}.{}: {name}", m.name, f.json);
                }
            }
        }
    }
    assert_eq!(Registry::get().len(), reg.len());
}

#[test]
fn every_listed_type_resolves_to_its_group() {
    let reg = Registry::get();
    let k = "/kubernetes.io/x";
    let o = "/openshift.io/x";
    let cases = [
        (k, "v1", "Pod", "v1"),
        (k, "v1", "Service", "v1"),
        (k, "v1", "Endpoints", "v1"),
        (k, "v1", "ConfigMap", "v1"),
        (k, "v1", "Secret", "v1"),
        (k, "v1", "ServiceAccount", "v1"),
        (k, "v1", "PersistentVolumeClaim", "v1"),
        (k, "v1", "PersistentVolume", "v1"),
        (k, "v1", "ReplicationController", "v1"),
        (k, "v1", "Namespace", "v1"),
        (k, "v1", "LimitRange", "v1"),
        (k, "v1", "ResourceQuota", "v1"),
        (k, "v1", "Event", "v1"),
        (k, "apps/v1", "Deployment", "apps/v1"),
        (k, "apps/v1", "ReplicaSet", "apps/v1"),
        (k, "apps/v1", "StatefulSet", "apps/v1"),
        (k, "apps/v1", "DaemonSet", "apps/v1"),
        (k, "extensions/v1beta1", "Deployment", "extensions/v1beta1"),
        (k, "batch/v1", "Job", "batch/v1"),
        (k, "batch/v1beta1", "CronJob", "batch/v1beta1"),
        (
            k,
            "autoscaling/v1",
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
        ),
        (
            k,
            "rbac.authorization.k8s.io/v1",
            "Role",
            "rbac.authorization.k8s.io/v1",
        ),
        (
            k,
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
        ),
        (
            k,
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "rbac.authorization.k8s.io/v1",
        ),
        (
            k,
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1",
        ),
        (
            k,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networking.k8s.io/v1",
        ),
        (k, "extensions/v1beta1", "Ingress", "extensions/v1beta1"),
        (o, "v1", "DeploymentConfig", "apps.openshift.io/v1"),
        (o, "v1", "Route", "route.openshift.io/v1"),
        (o, "v1", "BuildConfig", "build.openshift.io/v1"),
        (o, "v1", "Build", "build.openshift.io/v1"),
        (o, "v1", "ImageStream", "image.openshift.io/v1"),
        (o, "v1", "ImageStreamTag", "image.openshift.io/v1"),
        (o, "v1", "Image", "image.openshift.io/v1"),
        (o, "v1", "Project", "project.openshift.io/v1"),
        (o, "v1", "RoleBinding", "authorization.openshift.io/v1"),
        (o, "v1", "Role", "authorization.openshift.io/v1"),
        (o, "v1", "ClusterRole", "authorization.openshift.io/v1"),
        (
            o,
            "v1",
            "ClusterRoleBinding",
            "authorization.openshift.io/v1",
        ),
        (o, "v1", "Template", "template.openshift.io/v1"),
        (
            o,
            "v1",
            "SecurityContextConstraints",
            "security.openshift.io/v1",
        ),
        (o, "v1", "ClusterResourceQuota", "quota.openshift.io/v1"),
        (o, "v1", "OAuthClient", "oauth.openshift.io/v1"),
        (o, "v1", "OAuthAccessToken", "oauth.openshift.io/v1"),
        (o, "v1", "User", "user.openshift.io/v1"),
        (o, "v1", "Group", "user.openshift.io/v1"),
        (o, "v1", "Identity", "user.openshift.io/v1"),
        (o, "v1", "NetNamespace", "network.openshift.io/v1"),
        (o, "v1", "HostSubnet", "network.openshift.io/v1"),
        (o, "v1", "ClusterNetwork", "network.openshift.io/v1"),
        (o, "v1", "EgressNetworkPolicy", "network.openshift.io/v1"),
        // Stored with the group (newer writers) works too.
        (o, "route.openshift.io/v1", "Route", "route.openshift.io/v1"),
        // A legacy kind under a /kubernetes.io/ key: not in the core group.
        (k, "v1", "DeploymentConfig", "apps.openshift.io/v1"),
    ];
    for (key, av, kind, want) in cases {
        let (pkg, msg) = resolve(reg, key, av, kind).unwrap_or_else(|| panic!("{av} {kind}"));
        assert_eq!(pkg.group_version, want, "{av} {kind}");
        assert!(msg.name.ends_with(&format!(".{kind}")));
    }
    assert!(resolve(reg, k, "v1", "NoSuchKind").is_none());
    assert!(resolve(reg, k, "nosuch.group/v1", "Pod").is_none());
}

#[test]
fn object_meta_renders_like_the_api_server() {
    let raw = W::new().msg(
        1,
        meta("cm1", "p1")
            .int(10, 0)
            .entry(12, "note", "kept")
            .msg(
                13,
                W::new()
                    .str(5, "apps/v1")
                    .str(1, "ReplicaSet")
                    .str(3, "rs1")
                    .str(4, "u1")
                    .varint(6, 1),
            )
            .str(14, "orphan"),
    );
    let r = decode_at("/kubernetes.io/configmaps/p1/cm1", "v1", "ConfigMap", &raw);
    check(
        &r.object,
        &[
            ("/apiVersion", json!("v1")),
            ("/kind", json!("ConfigMap")),
            ("/metadata/name", json!("cm1")),
            ("/metadata/namespace", json!("p1")),
            (
                "/metadata/uid",
                json!("0b7c7e5e-c5a4-11e8-9d6c-525400c0ffee"),
            ),
            ("/metadata/creationTimestamp", json!("2018-10-01T12:00:00Z")),
            ("/metadata/labels", json!({"app": "web"})),
            ("/metadata/annotations", json!({"note": "kept"})),
            // A pointer: a zero on the wire was set, and is shown.
            ("/metadata/deletionGracePeriodSeconds", json!(0)),
            (
                "/metadata/ownerReferences",
                json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1",
                        "uid": "u1", "controller": true}]),
            ),
            ("/metadata/finalizers", json!(["orphan"])),
        ],
        &[
            "/metadata/generateName",
            "/metadata/selfLink",
            "/metadata/resourceVersion",
            "/metadata/generation",
            "/metadata/clusterName",
            "/metadata/deletionTimestamp",
            "/data",
        ],
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[test]
fn zero_time_is_null() {
    let raw = W::new().msg(1, W::new().str(1, "a").msg(8, W::new()));
    let r = decode_at("/kubernetes.io/configmaps/p/a", "v1", "ConfigMap", &raw);
    assert_eq!(r.object["metadata"]["creationTimestamp"], Value::Null);
}

fn container() -> W {
    W::new()
        .str(1, "web")
        .str(2, "registry.example.com/p1/web:1.0")
        .str(3, "/bin/web")
        .str(3, "--serve")
        .msg(
            6,
            W::new().str(1, "http").int(2, 0).int(3, 8080).str(4, "TCP"),
        )
        .msg(6, W::new().str(1, "").int(2, 0).int(3, 0).str(4, "UDP"))
        .msg(7, W::new().str(1, "MODE").str(2, "prod"))
        .msg(
            7,
            W::new().str(1, "PASSWORD").str(2, "").msg(
                3,
                W::new().msg(
                    4,
                    W::new()
                        .msg(1, W::new().str(1, "db-secret"))
                        .str(2, "password"),
                ),
            ),
        )
        .msg(
            8,
            W::new()
                .entry_msg(1, "memory", quantity("512Mi"))
                .entry_msg(2, "cpu", quantity("100m")),
        )
        .msg(9, W::new().str(1, "data").varint(2, 0).str(3, "/data"))
        .msg(
            10,
            W::new()
                .msg(
                    1,
                    W::new().msg(
                        2,
                        W::new()
                            .str(1, "/healthz")
                            .msg(2, int_or_string_int(8080))
                            .str(4, "HTTP"),
                    ),
                )
                .int(2, 10)
                .int(3, 1),
        )
        .msg(
            11,
            W::new().msg(
                1,
                W::new().msg(2, W::new().msg(2, int_or_string_str("http"))),
            ),
        )
        .str(13, "/dev/termination-log")
        .str(14, "IfNotPresent")
        .varint(16, 0)
}

fn pod_spec() -> W {
    W::new()
        .msg(
            1,
            W::new()
                .str(1, "data")
                .msg(2, W::new().msg(6, W::new().str(1, "db-secret").int(3, 420))),
        )
        .msg(
            1,
            W::new()
                .str(1, "conf")
                .msg(2, W::new().msg(19, W::new().msg(1, W::new().str(1, "cm1")))),
        )
        .msg(2, container())
        .str(3, "Always")
        .int(4, 30)
        .str(6, "ClusterFirst")
        .entry(7, "region", "primary")
        .str(8, "default")
        .varint(11, 0)
        .msg(14, W::new())
        .str(19, "default-scheduler")
}

#[test]
fn pod_spec_container_volume_probe_resources_env() {
    let raw = W::new()
        .msg(1, meta("web-1-abcde", "p1"))
        .msg(2, pod_spec())
        .msg(3, W::new().str(1, "Running"));
    let r = decode_at("/kubernetes.io/pods/p1/web-1-abcde", "v1", "Pod", &raw);
    let c = "/spec/containers/0";
    check(
        &r.object,
        &[
            ("/kind", json!("Pod")),
            ("/status/phase", json!("Running")),
            ("/spec/restartPolicy", json!("Always")),
            ("/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/nodeSelector", json!({"region": "primary"})),
            ("/spec/securityContext", json!({})),
            (
                "/spec/volumes/0",
                json!({"name": "data", "secret": {"secretName": "db-secret", "defaultMode": 420}}),
            ),
            (
                "/spec/volumes/1",
                json!({"name": "conf", "configMap": {"name": "cm1"}}),
            ),
            (&format!("{c}/name"), json!("web")),
            (&format!("{c}/command"), json!(["/bin/web", "--serve"])),
            (
                &format!("{c}/ports/0"),
                json!({"name": "http", "containerPort": 8080, "protocol": "TCP"}),
            ),
            // containerPort has no omitempty: a zero stays.
            (
                &format!("{c}/ports/1"),
                json!({"containerPort": 0, "protocol": "UDP"}),
            ),
            (
                &format!("{c}/env/0"),
                json!({"name": "MODE", "value": "prod"}),
            ),
            (
                &format!("{c}/env/1"),
                json!({"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-secret", "key": "password"}}}),
            ),
            (
                &format!("{c}/resources"),
                json!({"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m"}}),
            ),
            (
                &format!("{c}/volumeMounts/0"),
                json!({"name": "data", "mountPath": "/data"}),
            ),
            (
                &format!("{c}/livenessProbe"),
                json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                       "initialDelaySeconds": 10, "timeoutSeconds": 1}),
            ),
            (&format!("{c}/readinessProbe/httpGet/port"), json!("http")),
            (&format!("{c}/imagePullPolicy"), json!("IfNotPresent")),
        ],
        &[
            "/spec/hostNetwork",
            &format!("{c}/stdin"),
            &format!("{c}/workingDir"),
        ],
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[test]
fn secret_data_is_base64_and_configmap_data_a_map() {
    let raw = W::new()
        .msg(1, meta("s1", "p1"))
        .msg(2, W::new().str(1, "password").bytes(2, b"s3cr\xffet"))
        .str(3, "Opaque");
    let r = decode_at("/kubernetes.io/secrets/p1/s1", "v1", "Secret", &raw);
    check(
        &r.object,
        &[
            ("/data/password", json!("czNjcv9ldA==")),
            ("/type", json!("Opaque")),
        ],
        &["/stringData"],
    );
}

#[test]
fn service_target_port_and_endpoints() {
    let raw = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new()
            .msg(
                1,
                W::new()
                    .str(1, "http")
                    .str(2, "TCP")
                    .int(3, 80)
                    .msg(4, int_or_string_int(8080))
                    .int(5, 0),
            )
            .entry(2, "app", "web")
            .str(3, "172.30.12.34")
            .str(4, "ClusterIP")
            .str(7, "None"),
    );
    let r = decode_at(
        "/kubernetes.io/services/specs/p1/web",
        "v1",
        "Service",
        &raw,
    );
    check(
        &r.object,
        &[(
            "/spec",
            json!({"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                   "selector": {"app": "web"}, "clusterIP": "172.30.12.34", "type": "ClusterIP",
                   "sessionAffinity": "None"}),
        )],
        &[],
    );
}

#[test]
fn event_with_micro_time() {
    let raw = W::new()
        .msg(1, meta("web.155", "p1"))
        .msg(
            2,
            W::new()
                .str(1, "Pod")
                .str(2, "p1")
                .str(3, "web-1")
                .str(7, "spec.containers{web}"),
        )
        .str(3, "Pulled")
        .msg(6, time(T0))
        .msg(10, W::new().int(1, T0).int(2, 123_456_000))
        .int(8, 3);
    let r = decode_at("/kubernetes.io/events/p1/web.155", "v1", "Event", &raw);
    check(
        &r.object,
        &[
            (
                "/involvedObject",
                json!({"kind": "Pod", "namespace": "p1", "name": "web-1", "fieldPath": "spec.containers{web}"}),
            ),
            ("/firstTimestamp", json!("2018-10-01T12:00:00Z")),
            ("/eventTime", json!("2018-10-01T12:00:00.123456Z")),
            ("/count", json!(3)),
        ],
        &["/lastTimestamp"],
    );
}

fn label_selector() -> W {
    W::new().entry(1, "app", "web").msg(
        2,
        W::new()
            .str(1, "tier")
            .str(2, "In")
            .str(3, "front")
            .str(3, "back"),
    )
}

fn template() -> W {
    W::new()
        .msg(1, W::new().entry(11, "app", "web").msg(8, W::new()))
        .msg(2, pod_spec())
}

#[test]
fn apps_deployment_with_selector_template_and_zero_replicas() {
    let raw = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new()
            .int(1, 0)
            .msg(2, label_selector())
            .msg(3, template())
            .msg(
                4,
                W::new().str(1, "RollingUpdate").msg(
                    2,
                    W::new()
                        .msg(1, int_or_string_str("25%"))
                        .msg(2, int_or_string_int(1)),
                ),
            )
            .int(6, 10),
    );
    let r = decode_at(
        "/kubernetes.io/deployments/p1/web",
        "apps/v1",
        "Deployment",
        &raw,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("apps/v1")),
            // *int32: zero replicas (scaled down) are shown.
            ("/spec/replicas", json!(0)),
            (
                "/spec/selector",
                json!({"matchLabels": {"app": "web"},
                       "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
            ),
            (
                "/spec/template/metadata",
                json!({"labels": {"app": "web"}, "creationTimestamp": null}),
            ),
            ("/spec/template/spec/containers/0/name", json!("web")),
            (
                "/spec/strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
        ],
        &[],
    );
}

#[test]
fn batch_cronjob_and_job() {
    let job_spec = W::new().int(7, 1).msg(6, template());
    let raw = W::new().msg(1, meta("nightly", "p1")).msg(
        2,
        W::new()
            .str(1, "0 2 * * *")
            .str(3, "Forbid")
            .varint(4, 0)
            .msg(5, W::new().msg(1, W::new()).msg(2, job_spec.clone())),
    );
    let r = decode_at(
        "/kubernetes.io/cronjobs/p1/nightly",
        "batch/v1beta1",
        "CronJob",
        &raw,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("batch/v1beta1")),
            ("/spec/schedule", json!("0 2 * * *")),
            ("/spec/concurrencyPolicy", json!("Forbid")),
            ("/spec/suspend", json!(false)),
            ("/spec/jobTemplate/spec/backoffLimit", json!(1)),
            (
                "/spec/jobTemplate/spec/template/spec/containers/0/image",
                json!("registry.example.com/p1/web:1.0"),
            ),
        ],
        &[],
    );
    let job = decode_at(
        "/kubernetes.io/jobs/p1/j",
        "batch/v1",
        "Job",
        &W::new().msg(1, meta("j", "p1")).msg(2, job_spec),
    );
    check(&job.object, &[("/spec/backoffLimit", json!(1))], &[]);
}

#[test]
fn autoscaling_hpa() {
    let raw = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new()
            .msg(
                1,
                W::new()
                    .str(1, "DeploymentConfig")
                    .str(2, "web")
                    .str(3, "apps.openshift.io/v1"),
            )
            .int(2, 1)
            .int(3, 4)
            .int(4, 80),
    );
    let r = decode_at(
        "/kubernetes.io/horizontalpodautoscalers/p1/web",
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        &raw,
    );
    check(
        &r.object,
        &[(
            "/spec",
            json!({"scaleTargetRef": {"kind": "DeploymentConfig", "name": "web", "apiVersion": "apps.openshift.io/v1"},
                   "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 80}),
        )],
        &[],
    );
}

#[test]
fn rbac_role_binding_and_role() {
    let raw = W::new()
        .msg(1, meta("admin", "p1"))
        .msg(
            2,
            W::new()
                .str(1, "User")
                .str(2, "rbac.authorization.k8s.io")
                .str(3, "alice")
                .str(4, ""),
        )
        .msg(
            3,
            W::new()
                .str(1, "rbac.authorization.k8s.io")
                .str(2, "ClusterRole")
                .str(3, "admin"),
        );
    let r = decode_at(
        "/kubernetes.io/rolebindings/p1/admin",
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &raw,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("rbac.authorization.k8s.io/v1")),
            (
                "/subjects",
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]),
            ),
            (
                "/roleRef",
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}),
            ),
        ],
        &[],
    );
    let role = W::new().msg(1, meta("r", "p1")).msg(
        2,
        W::new()
            .str(1, "get")
            .str(1, "list")
            .str(2, "")
            .str(3, "pods"),
    );
    let r = decode_at(
        "/kubernetes.io/roles/p1/r",
        "rbac.authorization.k8s.io/v1",
        "Role",
        &role,
    );
    check(
        &r.object,
        &[(
            "/rules",
            json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]),
        )],
        &[],
    );
}

#[test]
fn networking_network_policy_and_extensions_ingress() {
    let np = W::new().msg(1, meta("allow", "p1")).msg(
        2,
        W::new()
            .msg(1, label_selector())
            .msg(
                2,
                W::new()
                    .msg(1, W::new().str(1, "TCP").msg(2, int_or_string_int(8080)))
                    .msg(2, W::new().msg(2, W::new().entry(1, "name", "p2"))),
            )
            .str(4, "Ingress"),
    );
    let r = decode_at(
        "/kubernetes.io/networkpolicies/p1/allow",
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &np,
    );
    check(
        &r.object,
        &[
            (
                "/spec/ingress/0/ports/0",
                json!({"protocol": "TCP", "port": 8080}),
            ),
            (
                "/spec/ingress/0/from/0",
                json!({"namespaceSelector": {"matchLabels": {"name": "p2"}}}),
            ),
            ("/spec/policyTypes", json!(["Ingress"])),
        ],
        &[],
    );
    let ing = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new().msg(
            3,
            W::new().str(1, "web.example.com").msg(
                2,
                W::new().msg(
                    1,
                    W::new().msg(
                        1,
                        W::new()
                            .str(1, "/")
                            .msg(2, W::new().str(1, "web").msg(2, int_or_string_str("http"))),
                    ),
                ),
            ),
        ),
    );
    let r = decode_at(
        "/kubernetes.io/ingress/p1/web",
        "extensions/v1beta1",
        "Ingress",
        &ing,
    );
    check(
        &r.object,
        &[(
            "/spec/rules/0",
            json!({"host": "web.example.com", "http": {"paths": [
                {"path": "/", "backend": {"serviceName": "web", "servicePort": "http"}}]}}),
        )],
        &[],
    );
}

fn deployment_config() -> W {
    W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new()
            .msg(1, W::new().str(1, "Rolling").msg(5, W::new()))
            .msg(
                2,
                W::new().msg(1, W::new().str(1, "ConfigChange")).msg(
                    1,
                    W::new().str(1, "ImageChange").msg(
                        2,
                        W::new()
                            .varint(1, 1)
                            .str(2, "web")
                            .msg(3, W::new().str(1, "ImageStreamTag").str(3, "web:latest"))
                            .str(4, ""),
                    ),
                ),
            )
            .int(3, 0)
            .varint(5, 0)
            .varint(6, 0)
            .entry(7, "app", "web")
            .msg(8, template()),
    )
}

#[test]
fn openshift_deployment_config_legacy_v1() {
    let r = decode_at(
        "/openshift.io/deploymentconfigs/p1/web",
        "v1",
        "DeploymentConfig",
        &deployment_config(),
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("apps.openshift.io/v1")),
            ("/kind", json!("DeploymentConfig")),
            // Not omitempty in the Go type: zero replicas and test: false are shown.
            ("/spec/replicas", json!(0)),
            ("/spec/test", json!(false)),
            (
                "/spec/strategy",
                json!({"type": "Rolling", "resources": {}}),
            ),
            (
                "/spec/triggers",
                json!([{"type": "ConfigChange"},
                       {"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["web"],
                        "from": {"kind": "ImageStreamTag", "name": "web:latest"}}}]),
            ),
            ("/spec/selector", json!({"app": "web"})),
            ("/spec/template/spec/containers/0/name", json!("web")),
        ],
        &["/spec/paused", "/spec/minReadySeconds"],
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

fn route() -> W {
    W::new()
        .msg(1, meta("web", "p1"))
        .msg(
            2,
            W::new()
                .str(1, "web-p1.apps.example.com")
                .str(2, "")
                .msg(3, W::new().str(1, "Service").str(2, "web").int(3, 100))
                .msg(5, W::new().msg(1, int_or_string_str("http")))
                .msg(6, W::new().str(1, "edge").str(6, "Redirect"))
                .str(7, "None"),
        )
        .msg(3, W::new())
}

#[test]
fn openshift_route_legacy_v1() {
    let r = decode_at("/openshift.io/routes/p1/web", "v1", "Route", &route());
    check(
        &r.object,
        &[
            ("/apiVersion", json!("route.openshift.io/v1")),
            (
                "/spec",
                json!({"host": "web-p1.apps.example.com",
                       "to": {"kind": "Service", "name": "web", "weight": 100},
                       "port": {"targetPort": "http"},
                       "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                       "wildcardPolicy": "None"}),
            ),
            ("/status", json!({})),
        ],
        &[],
    );
}

#[test]
fn openshift_build_config_inline_common_spec() {
    let raw = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new()
            .msg(1, W::new().str(1, "ConfigChange"))
            .str(2, "Serial")
            .msg(
                3,
                W::new()
                    .str(1, "builder")
                    .msg(
                        2,
                        W::new().str(1, "Git").msg(
                            4,
                            W::new()
                                .str(1, "https://git.example.com/web.git")
                                .str(2, "master"),
                        ),
                    )
                    .msg(
                        4,
                        W::new().str(1, "Source").msg(
                            3,
                            W::new().msg(
                                1,
                                W::new()
                                    .str(1, "ImageStreamTag")
                                    .str(2, "openshift")
                                    .str(3, "nodejs:10"),
                            ),
                        ),
                    )
                    .msg(
                        5,
                        W::new().msg(1, W::new().str(1, "ImageStreamTag").str(3, "web:latest")),
                    )
                    .msg(9, W::new().entry(1, "region", "build")),
            ),
    );
    let r = decode_at(
        "/openshift.io/buildconfigs/p1/web",
        "v1",
        "BuildConfig",
        &raw,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("build.openshift.io/v1")),
            ("/spec/triggers", json!([{"type": "ConfigChange"}])),
            ("/spec/runPolicy", json!("Serial")),
            // CommonSpec is inline: its fields are spec's.
            ("/spec/serviceAccount", json!("builder")),
            (
                "/spec/source",
                json!({"type": "Git", "git": {"uri": "https://git.example.com/web.git", "ref": "master"}}),
            ),
            (
                "/spec/strategy/sourceStrategy/from/name",
                json!("nodejs:10"),
            ),
            ("/spec/output/to/name", json!("web:latest")),
            // OptionalNodeSelector: a Go map type stored as {1 items map}.
            ("/spec/nodeSelector", json!({"region": "build"})),
        ],
        &["/spec/commonSpec"],
    );
}

#[test]
fn openshift_image_stream_project_template() {
    let is = W::new().msg(1, meta("web", "p1")).msg(
        2,
        W::new().msg(3, W::new().varint(3, 0)).msg(
            2,
            W::new()
                .str(1, "latest")
                .msg(
                    3,
                    W::new()
                        .str(1, "DockerImage")
                        .str(3, "docker.io/library/nginx:1.15"),
                )
                .varint(4, 0)
                .int(5, 2)
                .msg(6, W::new().varint(1, 0).varint(2, 1))
                .msg(7, W::new().str(1, "Source")),
        ),
    );
    let r = decode_at(
        "/openshift.io/imagestreams/p1/web",
        "v1",
        "ImageStream",
        &is,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("image.openshift.io/v1")),
            (
                "/spec/tags/0",
                json!({"name": "latest", "from": {"kind": "DockerImage", "name": "docker.io/library/nginx:1.15"},
                       "generation": 2, "importPolicy": {"scheduled": true},
                       "referencePolicy": {"type": "Source"}}),
            ),
            ("/spec/lookupPolicy", json!({"local": false})),
        ],
        &[],
    );

    let project = W::new()
        .msg(1, meta("p1", ""))
        .msg(2, W::new().str(1, "kubernetes"))
        .msg(3, W::new().str(1, "Active"));
    let r = decode_at("/openshift.io/projects/p1", "v1", "Project", &project);
    check(
        &r.object,
        &[
            ("/apiVersion", json!("project.openshift.io/v1")),
            ("/spec/finalizers", json!(["kubernetes"])),
            ("/status/phase", json!("Active")),
        ],
        &[],
    );

    let tmpl = W::new()
        .msg(1, meta("web-template", "openshift"))
        .msg(
            3,
            W::new().bytes(
                1,
                br#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"${NAME}"}}"#,
            ),
        )
        .msg(
            4,
            W::new()
                .str(1, "NAME")
                .str(3, "")
                .str(4, "web")
                .varint(7, 1),
        )
        .entry(5, "template", "web");
    // Template.objects is repeated RawExtension {1 raw}: the objects' JSON.
    let tmpl = tmpl.msg(
        3,
        W::new().bytes(1, br#"{"kind":"Route","apiVersion":"v1"}"#),
    );
    let r = decode_at(
        "/openshift.io/templates/openshift/web-template",
        "v1",
        "Template",
        &tmpl,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("template.openshift.io/v1")),
            ("/objects/1", json!({"kind": "Route", "apiVersion": "v1"})),
            (
                "/parameters/0",
                json!({"name": "NAME", "value": "web", "required": true}),
            ),
            ("/labels", json!({"template": "web"})),
        ],
        &[],
    );
}

#[test]
fn openshift_authorization_security_quota_oauth_user_network() {
    let rb = W::new()
        .msg(1, meta("admin", "p1"))
        .msg(2, W::new().str(1, "alice"))
        .msg(3, W::new())
        .msg(4, W::new().str(1, "User").str(3, "alice"))
        .msg(5, W::new().str(3, "admin"));
    let r = decode_at(
        "/openshift.io/authorization/local/rolebindings/p1/admin",
        "v1",
        "RoleBinding",
        &rb,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("authorization.openshift.io/v1")),
            ("/userNames", json!(["alice"])),
            ("/groupNames", json!([])),
            ("/subjects", json!([{"kind": "User", "name": "alice"}])),
            ("/roleRef", json!({"name": "admin"})),
        ],
        &[],
    );

    let scc = W::new()
        .msg(1, meta("restricted", ""))
        .varint(3, 0)
        .str(5, "KILL")
        .str(8, "configMap")
        .str(8, "secret")
        .msg(13, W::new().str(1, "MustRunAs"))
        .msg(14, W::new().str(1, "MustRunAsRange"))
        .str(19, "system:authenticated");
    let r = decode_at(
        "/kubernetes.io/securitycontextconstraints/restricted",
        "v1",
        "SecurityContextConstraints",
        &scc,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("security.openshift.io/v1")),
            ("/allowPrivilegedContainer", json!(false)),
            ("/requiredDropCapabilities", json!(["KILL"])),
            ("/volumes", json!(["configMap", "secret"])),
            ("/seLinuxContext", json!({"type": "MustRunAs"})),
            ("/runAsUser", json!({"type": "MustRunAsRange"})),
            ("/groups", json!(["system:authenticated"])),
        ],
        &["/priority"],
    );

    let crq = W::new().msg(1, meta("team-a", "")).msg(
        2,
        W::new()
            .msg(1, W::new().entry(2, "openshift.io/requester", "alice"))
            .msg(2, W::new().entry_msg(1, "pods", quantity("10"))),
    );
    let r = decode_at(
        "/openshift.io/clusterresourcequotas/team-a",
        "v1",
        "ClusterResourceQuota",
        &crq,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("quota.openshift.io/v1")),
            (
                "/spec/selector",
                json!({"annotations": {"openshift.io/requester": "alice"}}),
            ),
            ("/spec/quota/hard", json!({"pods": "10"})),
        ],
        &[],
    );

    let oc = W::new()
        .msg(1, meta("ci", ""))
        .str(2, "not-shown-here")
        .str(5, "https://ci.example.com/cb")
        .str(6, "auto")
        .int(8, 0);
    let r = decode_at("/openshift.io/oauth/clients/ci", "v1", "OAuthClient", &oc);
    check(
        &r.object,
        &[
            ("/apiVersion", json!("oauth.openshift.io/v1")),
            ("/redirectURIs", json!(["https://ci.example.com/cb"])),
            ("/grantMethod", json!("auto")),
            ("/accessTokenMaxAgeSeconds", json!(0)),
        ],
        &["/respondWithChallenges"],
    );

    let user = W::new()
        .msg(1, meta("alice", ""))
        .str(2, "Alice A")
        .str(3, "htpasswd:alice");
    let r = decode_at("/openshift.io/users/alice", "v1", "User", &user);
    check(
        &r.object,
        &[
            ("/apiVersion", json!("user.openshift.io/v1")),
            ("/fullName", json!("Alice A")),
            ("/identities", json!(["htpasswd:alice"])),
        ],
        &[],
    );
    let group = W::new()
        .msg(1, meta("devs", ""))
        .msg(2, W::new().str(1, "alice").str(1, "bob"));
    let r = decode_at("/openshift.io/groups/devs", "v1", "Group", &group);
    check(&r.object, &[("/users", json!(["alice", "bob"]))], &[]);

    let nn = W::new().msg(1, meta("p1", "")).str(2, "p1").varint(3, 0);
    let r = decode_at(
        "/openshift.io/registry/sdnnetnamespaces/p1",
        "v1",
        "NetNamespace",
        &nn,
    );
    check(
        &r.object,
        &[
            ("/apiVersion", json!("network.openshift.io/v1")),
            ("/netname", json!("p1")),
            // The global namespace has netid 0; the Go type does not omit it.
            ("/netid", json!(0)),
        ],
        &[],
    );
}

#[test]
fn unknown_fields_and_types_are_shown_by_number_with_a_note() {
    let raw = W::new()
        .msg(1, W::new().str(1, "c").int(99, 7))
        .entry(2, "k", "v")
        .str(42, "future");
    let r = decode_at("/kubernetes.io/configmaps/p/c", "v1", "ConfigMap", &raw);
    check(
        &r.object,
        &[
            ("/metadata/99", json!(7)),
            ("/42", json!("future")),
            ("/data", json!({"k": "v"})),
        ],
        &[],
    );
    assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
    assert!(r.notes[0].contains("metadata: field 99"), "{:?}", r.notes);

    let raw = W::new()
        .msg(1, W::new().str(1, "x").int(2, 5))
        .fixed64(3, 7)
        .str(3, "y");
    let r = decode_at("/acme.io/widgets/p/x", "acme.io/v2", "Widget", &raw);
    check(
        &r.object,
        &[
            ("/apiVersion", json!("acme.io/v2")),
            ("/kind", json!("Widget")),
            ("/1", json!({"1": "x", "2": 5})),
            ("/3", json!([7, "y"])),
        ],
        &[],
    );
    assert!(
        r.notes[0].contains("no schema for acme.io/v2 Widget"),
        "{:?}",
        r.notes
    );
}

#[test]
fn malformed_payloads_are_errors_not_panics() {
    // Cut short inside metadata.
    let mut raw = W::new().msg(1, meta("c", "p")).0;
    raw.truncate(raw.len() - 3);
    let err = decode("/k", &envelope("v1", "ConfigMap", &W(raw))).unwrap_err();
    assert!(err.contains("runs past the end"), "{err}");

    // A varint where the schema has a message.
    let err = decode("/k", &envelope("v1", "ConfigMap", &W::new().int(1, 5))).unwrap_err();
    assert!(
        err.contains("metadata: a varint value where the schema has"),
        "{err}"
    );

    // Not UTF-8 in a string field.
    let bad = W::new().msg(1, W::new().bytes(1, b"\xff\xfe"));
    let err = decode("/k", &envelope("v1", "ConfigMap", &bad)).unwrap_err();
    assert!(
        err.contains("metadata.name: the string is not UTF-8"),
        "{err}"
    );

    // Nested without end: each level a field-1 message.
    let mut deep = W::new().str(1, "x");
    for _ in 0..200 {
        deep = W::new().msg(1, deep);
    }
    // Without a schema, nesting is followed to MAX_DEPTH and the rest shown as base64.
    let r = decode("/k", &envelope("x/v1", "X", &deep)).unwrap();
    let mut v = &r.object["1"];
    let mut levels = 1;
    while let Some(inner) = v.get("1") {
        v = inner;
        levels += 1;
    }
    assert!(v.is_string() && levels < 200, "{levels}");
}

#[test]
fn durations_read_like_go() {
    use render::go_duration;
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500), "1.5µs");
    assert_eq!(go_duration(300_000_000), "300ms");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(-2_000_000_000), "-2s");
}
