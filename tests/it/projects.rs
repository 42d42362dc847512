//! End-to-end tests of project exports: the `projects` snapshot source, `project
//! list` and `project restore --output/--apply`, through the built binary.
//!
//! STAND-IN: no OpenShift API server can run on this machine, so these tests run
//! ocpvault against testdata/stand-in-oc/oc, a script that replays responses recorded
//! in the shape an OpenShift 3.11 cluster gives (the Day Two guide's ruby-ex example in
//! project "myproject") and logs every command it receives to $STAND_IN_OC_LOG. What is
//! tested is ocpvault's side: which calls it makes, in which order, what it stores, how
//! it cleans and orders objects, and how it reports refusals and failures.

use crate::common::{demo_tree, ocpvault, stdout_ok, testdata};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stand_in_oc() -> PathBuf {
    testdata().join("stand-in-oc/oc")
}

fn responses() -> PathBuf {
    testdata().join("stand-in-oc/responses")
}

/// Runs ocpvault with the stand-in's log in `dir` and extra environment.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = crate::common::bin();
    cmd.args(args).env("STAND_IN_OC_LOG", dir.join("oc.log"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ocpvault")
}

/// The command lines the stand-in received.
fn oc_log(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("oc.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A root with only the master's admin kubeconfig, enough for the projects source.
fn master_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let k = root.join("etc/origin/master/admin.kubeconfig");
    fs::create_dir_all(k.parent().unwrap()).unwrap();
    fs::write(&k, "apiVersion: v1\nkind: Config\n").unwrap();
    root
}

/// Snapshots `root` with the stand-in oc and `extra` args; returns (exit code,
/// summary, archive).
fn snapshot_with_oc(
    dir: &Path,
    root: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let out_dir = dir.join("archives");
    fs::create_dir_all(&out_dir).unwrap();
    let oc = stand_in_oc();
    let mut args = vec![
        "snapshot",
        "--json",
        "--root",
        root.to_str().unwrap(),
        "--output",
        out_dir.to_str().unwrap(),
        "--oc",
        oc.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(dir, &args, env);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "snapshot --json: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let archive = summary["archive"].as_str().unwrap().to_string();
    (out.status.code().unwrap(), summary, archive)
}

fn projects_source(summary: &Value) -> &Value {
    summary["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "projects")
        .expect("a projects source report")
}

const MYPROJECT_FILES: &[&str] = &[
    "_cluster/namespace",
    "_cluster/persistentvolumes",
    "buildconfigs.build.openshift.io",
    "builds.build.openshift.io",
    "configmaps",
    "deploymentconfigs.apps.openshift.io",
    "endpoints",
    "imagestreams.image.openshift.io",
    "limitranges",
    "persistentvolumeclaims",
    "pods",
    "replicationcontrollers",
    "rolebindings.authorization.openshift.io",
    "rolebindings.rbac.authorization.k8s.io",
    "routes.route.openshift.io",
    "secrets",
    "serviceaccounts",
    "services",
];

const METHOD_NOT_ALLOWED: &str = "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource";

#[test]
fn snapshot_on_a_master_exports_every_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    // --projects defaults to auto: the demo tree is a master with an admin kubeconfig.
    let (code, summary, archive) = snapshot_with_oc(dir.path(), &root, &[], &[]);
    // The demo tree's etcd member cannot be reached here (exit 1); the projects
    // source itself has nothing to report: no refusal, nothing skipped or failed.
    assert_eq!(code, 1, "{summary}");
    let src = projects_source(&summary);
    assert_eq!(src["status"], "captured", "{src}");
    assert_eq!(src["skipped"], serde_json::json!([]), "{src}");
    assert_eq!(src["failed"], serde_json::json!([]), "{src}");
    // Types whose objects a restore always leaves out are not exported, and the
    // report says so.
    let not_exported = src["details"]["not_exported"].as_object().unwrap();
    for t in [
        "events",
        "events.events.k8s.io",
        "imagestreamtags.image.openshift.io",
        "pods.metrics.k8s.io",
    ] {
        assert!(not_exported.contains_key(t), "{t}: {src}");
    }
    assert!(
        src["details"]["secret_files"]
            .as_array()
            .unwrap()
            .contains(&Value::from("/.ocpvault/projects/myproject/secrets.yaml"))
    );

    // Every non-empty list is its own entry; empty lists are not stored.
    let listed = stdout_ok(&ocpvault(&["ls", &archive, "/.ocpvault/projects"]));
    let mut expected: Vec<String> = MYPROJECT_FILES
        .iter()
        .map(|f| format!("/.ocpvault/projects/myproject/{f}.yaml"))
        .collect();
    for p in ["default", "kube-system", "openshift"] {
        expected.push(format!("/.ocpvault/projects/{p}/_cluster/namespace.yaml"));
    }
    expected.sort();
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);

    // Stored exactly as the client printed them.
    let cat = |p: &str| ocpvault(&["cat", &archive, p]).stdout;
    assert_eq!(
        cat("/.ocpvault/projects/myproject/services.yaml"),
        fs::read(responses().join("myproject/services.yaml")).unwrap()
    );
    assert_eq!(
        cat("/.ocpvault/projects/myproject/_cluster/persistentvolumes.yaml"),
        fs::read(responses().join("_cluster/pv-pv0003.yaml")).unwrap()
    );
    stdout_ok(&ocpvault(&["verify", &archive]));

    let log = oc_log(dir.path());
    assert_eq!(log[0], "api-resources --namespaced=true -o wide");
    assert_eq!(log[1], "get namespaces -o name");
    assert!(log.contains(&"get deploymentconfigs.apps.openshift.io -n myproject -o yaml".into()));
    assert!(log.contains(&"get persistentvolumes pv0003 -o yaml".into()));
    // Types that do not support list are never asked for, nor those not exported.
    assert!(!log.iter().any(|l| l.starts_with("get bindings ")
        || l.starts_with("get imagestreamimages.")
        || l.starts_with("get localsubjectaccessreviews.")
        || l.starts_with("get events ")
        || l.starts_with("get events.events.k8s.io ")
        || l.starts_with("get imagestreamtags.")
        || l.starts_with("get pods.metrics.k8s.io ")));
    assert!(log.contains(&"get pods -n myproject -o yaml".into()));
}

#[test]
fn project_list_counts_objects_per_type() {
    let dir = tempfile::tempdir().unwrap();
    let root = master_root(dir.path());
    let (_, _, archive) =
        snapshot_with_oc(dir.path(), &root, &["--projects", "myproject,default"], &[]);
    let out = stdout_ok(&ocpvault(&["project", "list", &archive, "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "captured");
    let projects = v["projects"].as_array().unwrap();
    let names: Vec<&str> = projects
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "myproject"]);
    let my = &projects[1];
    assert_eq!(my["objects"], 36);
    let count = |t: &str| {
        my["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == t)
            .map(|f| f["objects"].clone())
    };
    assert_eq!(count("secrets"), Some(10.into()));
    assert_eq!(count("serviceaccounts"), Some(4.into()));
    assert_eq!(count("_cluster/namespace"), Some(1.into()));
    assert_eq!(count("deployments.apps"), None);
    assert_eq!(my["skipped"], serde_json::json!([]));

    let text = stdout_ok(&ocpvault(&["project", "list", &archive]));
    assert!(
        text.contains("myproject: 36 objects in 18 files\n"),
        "{text}"
    );
}

/// The numbered files `project restore --output` writes for myproject, in order.
const RESTORE_ORDER: &[&str] = &[
    "010-project.yaml",
    "020-serviceaccount-builder.yaml",
    "030-serviceaccount-default.yaml",
    "040-serviceaccount-deployer.yaml",
    "050-serviceaccount-pipeline.yaml",
    "060-secret-git-credentials.yaml",
    "070-secret-quay-pull.yaml",
    "080-configmap-ruby-ex-config.yaml",
    "090-limitrange-myproject-core-resource-limits.yaml",
    "100-persistentvolume-pv0003.yaml",
    "110-persistentvolumeclaim-ruby-ex-data.yaml",
    "120-rolebinding-admin.yaml",
    "130-rolebinding-system_deployers.yaml",
    "140-imagestream-ruby-22-centos7.yaml",
    "150-imagestream-ruby-ex.yaml",
    "160-buildconfig-ruby-ex.yaml",
    "170-deploymentconfig-ruby-ex.yaml",
    "180-service-external-db.yaml",
    "190-service-ruby-ex.yaml",
    "200-route-ruby-ex.yaml",
    "210-endpoints-external-db.yaml",
];

fn myproject_archive(dir: &Path) -> String {
    let root = master_root(dir);
    snapshot_with_oc(dir, &root, &["--projects", "myproject,openshift"], &[]).2
}

/// Reads a written file the way oc 3.11 reads it (go-yaml v2, YAML 1.1 rules).
fn read_yaml(path: &Path) -> Value {
    ocpvault::projects::restore::yaml11::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn restore_output_is_cleaned_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let archive = myproject_archive(dir.path());
    let out_dir = dir.path().join("restore");
    let out = ocpvault(&[
        "project",
        "restore",
        &archive,
        "myproject",
        "--output",
        out_dir.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The digest warning makes it exit 1.
    assert_eq!(out.status.code(), Some(1), "{text}");
    let mut files: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, RESTORE_ORDER);

    assert!(text.contains("warning: deploymentconfig/ruby-ex: container ruby-ex runs docker-registry.default.svc:5000/myproject/ruby-ex@sha256:880c720b23c8d15a53b01db52f7abdcbb2280e03f686a5c8edfef1a2a7b21cee, an image digest in the internal registry"), "{text}");
    for left_out in [
        "left out Secret builder-token-x7k2p: token of service account builder; the cluster creates a new one",
        "left out Secret builder-dockercfg-5lvbh: image pull secret of service account builder",
        "left out Pod ruby-ex-1-rxc74: created by ReplicationController ruby-ex-1",
        "left out Pod ruby-ex-1-build: created by Build ruby-ex-1",
        "left out ReplicationController ruby-ex-1: created by DeploymentConfig ruby-ex",
        "left out Build ruby-ex-1: created by BuildConfig ruby-ex",
        "left out Endpoints ruby-ex: the cluster maintains it",
        "duplicate RoleBinding admin: listed again as rolebindings.authorization.openshift.io; the copy from rolebindings.rbac.authorization.k8s.io is used\n",
        "duplicate RoleBinding system:deployers: listed again as rolebindings.authorization.openshift.io;",
    ] {
        assert!(text.contains(left_out), "missing {left_out:?} in\n{text}");
    }
    // Every object project list counts is accounted for once: written, left out or a
    // named duplicate.
    let lines = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(lines("left out "), 13, "{text}");
    assert_eq!(lines("duplicate "), 2, "{text}");
    assert_eq!(RESTORE_ORDER.len() + 13 + 2, 36);
    assert!(
        text.contains(&format!(
            "project myproject: 36 objects listed: 21 written to {}, 13 left out, 2 duplicates;",
            out_dir.display()
        )),
        "{text}"
    );

    let obj = |name: &str| read_yaml(&out_dir.join(name));
    for f in RESTORE_ORDER {
        let v = obj(f);
        assert!(v.get("status").is_none(), "{f}: {v}");
        let meta = v["metadata"].as_object().unwrap();
        for dropped in [
            "uid",
            "resourceVersion",
            "selfLink",
            "creationTimestamp",
            "generation",
            "ownerReferences",
        ] {
            assert!(!meta.contains_key(dropped), "{f} keeps {dropped}: {v}");
        }
    }
    let ns = obj("010-project.yaml");
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(
        ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"],
        "1000110000/10000"
    );
    // The router generated this host: dropped, so the new router generates it.
    let route = obj("200-route-ruby-ex.yaml");
    assert!(route["spec"].get("host").is_none(), "{route}");
    assert!(route["metadata"].get("annotations").is_none(), "{route}");
    assert_eq!(route["spec"]["to"]["name"], "ruby-ex");
    let svc = obj("190-service-ruby-ex.yaml");
    assert!(svc["spec"].get("clusterIP").is_none(), "{svc}");
    assert_eq!(svc["spec"]["selector"]["app"], "ruby-ex");
    let pvc = obj("110-persistentvolumeclaim-ruby-ex-data.yaml");
    assert!(pvc["metadata"].get("annotations").is_none(), "{pvc}");
    assert_eq!(pvc["spec"]["volumeName"], "pv0003");
    let pv = obj("100-persistentvolume-pv0003.yaml");
    assert!(pv["metadata"].get("annotations").is_none(), "{pv}");
    assert_eq!(
        pv["spec"]["claimRef"],
        serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "name": "ruby-ex-data", "namespace": "myproject"})
    );
    assert!(
        obj("020-serviceaccount-builder.yaml")
            .get("secrets")
            .is_none()
    );
    assert_eq!(
        obj("050-serviceaccount-pipeline.yaml")["secrets"],
        serde_json::json!([{"name": "git-credentials"}])
    );
    let cm = obj("080-configmap-ruby-ex-config.yaml");
    assert_eq!(cm["data"]["WEB_CONCURRENCY"], "on");
    let raw = fs::read_to_string(out_dir.join("080-configmap-ruby-ex-config.yaml")).unwrap();
    assert!(raw.contains("WEB_CONCURRENCY: \"on\"\n"), "{raw}");
    let is = obj("140-imagestream-ruby-22-centos7.yaml");
    assert_eq!(
        is["metadata"]["annotations"],
        serde_json::json!({"openshift.io/generated-by": "OpenShiftNewApp"})
    );
    let dc = obj("170-deploymentconfig-ruby-ex.yaml");
    assert!(
        dc["spec"]["triggers"][1]["imageChangeParams"]
            .get("lastTriggeredImage")
            .is_none()
    );
    let bc = obj("160-buildconfig-ruby-ex.yaml");
    assert!(
        bc["spec"]["triggers"][3]["imageChange"]
            .get("lastTriggeredImageID")
            .is_none()
    );
    // The RBAC copy of a role binding wins over the OpenShift one.
    assert_eq!(
        obj("120-rolebinding-admin.yaml")["apiVersion"],
        "rbac.authorization.k8s.io/v1"
    );

    // Never into a directory that has files.
    let again = ocpvault(&[
        "project",
        "restore",
        &archive,
        "myproject",
        "--output",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn apply_creates_in_order_and_skips_existing_objects() {
    let dir = tempfile::tempdir().unwrap();
    let archive = myproject_archive(dir.path());
    fs::remove_file(dir.path().join("oc.log")).unwrap();
    let oc = stand_in_oc();
    let out = run(
        dir.path(),
        &[
            "project",
            "restore",
            &archive,
            "myproject",
            "--apply",
            "--oc",
            oc.to_str().unwrap(),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // No object failed; the digest warning alone makes it exit 1.
    assert_eq!(out.status.code(), Some(1), "{text}");
    let created: Vec<String> = oc_log(dir.path())
        .iter()
        .map(|l| {
            let file = l.strip_prefix("create -f ").expect("only creates");
            Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(created, RESTORE_ORDER);
    assert!(text.contains("created namespace/myproject\n"), "{text}");
    assert!(
        text.contains("skipped serviceaccount/builder: already exists\n"),
        "{text}"
    );
    assert!(text.contains("created serviceaccount/pipeline\n"), "{text}");
    assert!(
        text.contains(
            "project myproject: 36 objects listed: 18 created, 3 skipped (already exist), 0 failed, 13 left out, 2 duplicates\n"
        ),
        "{text}"
    );
}

#[test]
fn apply_exits_1_when_an_object_fails() {
    let dir = tempfile::tempdir().unwrap();
    let archive = myproject_archive(dir.path());
    let oc = stand_in_oc();
    let args = [
        "project",
        "restore",
        &archive,
        "openshift",
        "--apply",
        "--oc",
        oc.to_str().unwrap(),
    ];
    // The openshift project has no warnings: a clean restore exits 0.
    let ok = run(dir.path(), &args, &[]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = run(
        dir.path(),
        &args,
        &[("STAND_IN_OC_FAIL_CREATE", "namespace/openshift")],
    );
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("failed  namespace/openshift: The namespace \"openshift\" is invalid"),
        "{text}"
    );
    let missing = ocpvault(&["project", "restore", &archive, "nope", "--apply"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("project nope is not in the archive (it holds: myproject, openshift)")
    );
}

#[test]
fn missing_oc_fails_the_source_and_the_archive_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = master_root(dir.path());
    let empty_path = dir.path().join("empty-path");
    fs::create_dir(&empty_path).unwrap();
    let out_dir = dir.path().join("archives");
    fs::create_dir(&out_dir).unwrap();
    // The default client, `oc`, looked up on a PATH that does not have it.
    let out = Command::new(env!("CARGO_BIN_EXE_ocpvault"))
        .args(["snapshot", "--json", "--projects", "all", "--root"])
        .arg(&root)
        .arg("--output")
        .arg(&out_dir)
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let src = projects_source(&summary);
    assert_eq!(src["status"], "failed");
    assert_eq!(
        src["details"]["error"],
        "cannot run oc: not found; install the OpenShift client (oc) or pass --oc PATH, or --projects skip"
    );
    let archive = summary["archive"].as_str().unwrap();
    stdout_ok(&ocpvault(&["verify", archive]));
    let listed = stdout_ok(&ocpvault(&["ls", archive]));
    assert!(
        listed.contains("/etc/origin/master/admin.kubeconfig"),
        "{listed}"
    );
    assert!(!listed.contains("/.ocpvault/projects"));
}

#[test]
fn unreachable_api_fails_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let root = master_root(dir.path());
    let (code, summary, archive) =
        snapshot_with_oc(dir.path(), &root, &[], &[("STAND_IN_OC_UNREACHABLE", "1")]);
    assert_eq!(code, 1);
    let src = projects_source(&summary);
    assert_eq!(src["status"], "failed");
    assert!(src["details"]["error"].as_str().unwrap().starts_with(
        "API server unreachable: The connection to the server master-0.example.com:8443 was refused"
    ));
    // It stopped at the first call instead of failing every type of every project.
    assert_eq!(oc_log(dir.path()).len(), 1);
    stdout_ok(&ocpvault(&["verify", &archive]));
}

#[test]
fn auto_skips_hosts_without_an_admin_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    fs::create_dir_all(root.join("etc/origin/node")).unwrap();
    fs::write(
        root.join("etc/origin/node/node-config.yaml"),
        "kind: NodeConfig\n",
    )
    .unwrap();
    let (code, summary, _) = snapshot_with_oc(dir.path(), &root, &[], &[]);
    assert_eq!(code, 0, "{summary}");
    let src = projects_source(&summary);
    assert_eq!(src["status"], "skipped");
    assert!(
        src["details"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("no admin kubeconfig at ")
    );
    assert!(oc_log(dir.path()).is_empty());
    // Asking explicitly without a kubeconfig is an error of the source.
    let (code, summary, _) = snapshot_with_oc(dir.path(), &root, &["--projects", "all"], &[]);
    assert_eq!(code, 1);
    assert_eq!(projects_source(&summary)["status"], "failed");
    let bad = ocpvault(&[
        "snapshot",
        "--projects",
        "../etc",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// An archive of the stand-in's "edgecases" project: YAML 1.1 values, a user secret
/// named like a token, Jobs, bare and debug pods, an explicit route host.
fn edgecases_archive(dir: &Path) -> String {
    let root = master_root(dir);
    let (code, summary, archive) = snapshot_with_oc(dir, &root, &["--projects", "edgecases"], &[]);
    assert_eq!(code, 0, "{summary}");
    archive
}

/// Runs `project restore --output` with `extra` args; returns (exit code, stdout, dir).
fn restore_to(dir: &Path, archive: &str, name: &str, extra: &[&str]) -> (i32, String, PathBuf) {
    let out_dir = dir.join(name);
    let mut args = vec![
        "project",
        "restore",
        archive,
        "edgecases",
        "--output",
        out_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap(), text, out_dir)
}

fn written_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn values_mean_to_oc_what_the_server_returned() {
    let dir = tempfile::tempdir().unwrap();
    let archive = edgecases_archive(dir.path());
    let (code, text, out_dir) = restore_to(dir.path(), &archive, "out", &[]);
    assert_eq!(code, 0, "{text}");
    let file = out_dir.join("040-configmap-yaml11.yaml");
    let raw = fs::read_to_string(&file).unwrap();
    // oc 3.11 printed `mode: 0o644` unquoted: a string to its YAML 1.1 reader, an
    // octal number (420) to a YAML 1.2 one. It must stay the string.
    for line in [
        "  mode: \"0o644\"\n",
        "  exp: \"1e3\"\n",
        "  \"8080\": \"port\"\n",
        "  \"on\": \"yes\"\n",
        "  \"no\": \"off\"\n",
        "  crlf: \"line one\\r\\nline two\\r\\n\"\n",
        "  tab: \"a\\tb\"\n",
    ] {
        assert!(raw.contains(line), "missing {line:?} in\n{raw}");
    }
    assert!(!raw.contains("420"), "{raw}");
    // Read as oc 3.11 reads it, every value is the string the server returned.
    let cm = read_yaml(&file);
    assert_eq!(
        cm["data"],
        serde_json::json!({"8080": "port", "crlf": "line one\r\nline two\r\n", "exp": "1e3",
            "half": ".5", "hex": "0x1F", "mode": "0o644", "no": "off", "octal": "0644",
            "on": "yes", "tab": "a\tb"})
    );
    assert_eq!(
        cm["binaryData"],
        serde_json::json!({"logo.bin": "AAECA/8K"})
    );
    // Numbers stay numbers.
    let job = read_yaml(&out_dir.join("060-job-reindex.yaml"));
    assert_eq!(job["spec"]["backoffLimit"], 6);
    let pod = read_yaml(&out_dir.join("070-pod-toolbox.yaml"));
    assert_eq!(pod["spec"]["containers"][0]["name"], "toolbox");
}

#[test]
fn service_accounts_keep_references_to_restored_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let archive = edgecases_archive(dir.path());
    let (_, text, out_dir) = restore_to(dir.path(), &archive, "out", &[]);
    let sa = read_yaml(&out_dir.join("020-serviceaccount-app.yaml"));
    // app-token-manual is the user's own Opaque secret, restored: its reference
    // stays although its name looks like a token's.
    assert_eq!(
        sa["secrets"],
        serde_json::json!([{"name": "app-token-manual"}])
    );
    assert!(sa.get("imagePullSecrets").is_none(), "{sa}");
    assert!(out_dir.join("030-secret-app-token-manual.yaml").exists());
    assert!(
        text.contains("left out Secret app-token-abcde: token of service account app;"),
        "{text}"
    );
}

#[test]
fn jobs_and_bare_pods_are_cleaned_or_left_out_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let archive = edgecases_archive(dir.path());
    let (code, text, out_dir) = restore_to(dir.path(), &archive, "out", &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        written_files(&out_dir),
        [
            "010-project.yaml",
            "020-serviceaccount-app.yaml",
            "030-secret-app-token-manual.yaml",
            "040-configmap-yaml11.yaml",
            "050-route-explicit.yaml",
            "060-job-reindex.yaml",
            "070-pod-toolbox.yaml",
        ]
    );
    for left_out in [
        "left out Job db-migrate: a finished job (Complete); re-creating it runs it again (--include-finished restores it)\n",
        "left out Pod once: a bare pod that had ended (Succeeded); re-creating it runs it again (--include-finished restores it)\n",
        "left out Pod web-debug: a pod left by oc debug (--include-debug-pods restores it)\n",
        "left out Pod reindex-x2b7q: created by Job reindex\n",
    ] {
        assert!(text.contains(left_out), "missing {left_out:?} in\n{text}");
    }
    assert!(
        text.contains("project edgecases: 15 objects listed: 7 written to"),
        "{text}"
    );
    assert!(text.contains(", 8 left out, 0 duplicates;"), "{text}");

    // The server generated the selector and these labels from the old Job's uid; a
    // real server refuses a new Job that carries them.
    let job = read_yaml(&out_dir.join("060-job-reindex.yaml"));
    assert!(job["spec"].get("selector").is_none(), "{job}");
    assert!(job["metadata"].get("labels").is_none(), "{job}");
    assert!(
        job["spec"]["template"]["metadata"].get("labels").is_none(),
        "{job}"
    );
    // A bare pod: no old node, no generated token volume or pull secret.
    let pod = read_yaml(&out_dir.join("070-pod-toolbox.yaml"));
    let spec = &pod["spec"];
    assert!(spec.get("nodeName").is_none(), "{pod}");
    assert!(spec.get("volumes").is_none(), "{pod}");
    assert!(spec.get("imagePullSecrets").is_none(), "{pod}");
    assert!(spec["containers"][0].get("volumeMounts").is_none(), "{pod}");
    assert_eq!(spec["serviceAccountName"], "default");

    // Asked for, they are restored, cleaned the same way.
    let (code, text, all_dir) = restore_to(
        dir.path(),
        &archive,
        "all",
        &["--include-finished", "--include-debug-pods"],
    );
    assert_eq!(code, 0, "{text}");
    let files = written_files(&all_dir);
    for f in ["job-db-migrate.yaml", "pod-once.yaml", "pod-web-debug.yaml"] {
        assert!(files.iter().any(|n| n.ends_with(f)), "{f}: {files:?}");
    }
    assert!(text.contains("15 objects listed: 10 written to"), "{text}");
    let migrate = files
        .iter()
        .find(|n| n.ends_with("job-db-migrate.yaml"))
        .unwrap();
    let migrate = read_yaml(&all_dir.join(migrate));
    assert!(migrate["spec"].get("selector").is_none(), "{migrate}");
}

#[test]
fn explicit_route_hosts_stay() {
    let dir = tempfile::tempdir().unwrap();
    let archive = edgecases_archive(dir.path());
    let (_, _, out_dir) = restore_to(dir.path(), &archive, "out", &[]);
    let route = read_yaml(&out_dir.join("050-route-explicit.yaml"));
    assert_eq!(route["spec"]["host"], "www.example.com");
}

#[test]
fn types_the_server_cannot_list_are_recorded_once_and_forbidden_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let root = master_root(dir.path());
    let refuse = [(
        "STAND_IN_OC_REFUSE",
        "templateinstances.template.openshift.io=MethodNotAllowed",
    )];
    let (code, summary, _) = snapshot_with_oc(
        dir.path(),
        &root,
        &["--projects", "myproject,edgecases"],
        &refuse,
    );
    // By design, not a gap: exit 0, the source is complete.
    assert_eq!(code, 0, "{summary}");
    let src = projects_source(&summary);
    assert_eq!(src["status"], "captured", "{src}");
    assert_eq!(src["skipped"], serde_json::json!([]), "{src}");
    assert_eq!(
        src["details"]["not_listable"],
        serde_json::json!({"templateinstances.template.openshift.io": METHOD_NOT_ALLOWED})
    );
    let asked = oc_log(dir.path())
        .iter()
        .filter(|l| l.starts_with("get templateinstances.template.openshift.io "))
        .count();
    assert_eq!(asked, 1, "asked once per snapshot, not once per project");

    let dir = tempfile::tempdir().unwrap();
    let root = master_root(dir.path());
    let forbid = [(
        "STAND_IN_OC_REFUSE",
        "templateinstances.template.openshift.io=Forbidden",
    )];
    let (code, summary, _) =
        snapshot_with_oc(dir.path(), &root, &["--projects", "edgecases"], &forbid);
    assert_eq!(code, 1, "{summary}");
    let src = projects_source(&summary);
    assert_eq!(src["status"], "partial", "{src}");
    assert_eq!(
        src["failed"][0]["path"],
        "/.ocpvault/projects/edgecases/templateinstances.template.openshift.io.yaml"
    );
}

/// `project restore --from-etcd`: project "shop" from the snapshot of a real etcd
/// (filled in tests/it/etcd_browse.rs as the API server stores objects), in an archive
/// with no `oc` export at all. STAND-IN: the creates go to testdata/stand-in-oc/oc.
#[test]
fn restore_from_etcd_cleans_and_orders_the_snapshot_objects() {
    use crate::etcd_browse::{SHOP_PASSWORD, project_fixture};
    let Some(f) = project_fixture() else { return };
    let dir = f.dir.path();
    let a = f.archive.to_str().unwrap();
    let dest = |n: &str| dir.join(n).to_str().unwrap().to_string();

    // Without --from-etcd there is nothing to restore from.
    let out = ocpvault(&["project", "restore", a, "shop", "--output", &dest("x")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the archive"));

    let out = ocpvault(&[
        "project",
        "restore",
        "--from-etcd",
        a,
        "--project",
        "shop",
        "--output",
        &dest("files"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // Exit 1: a value not decoded and hostile keys skipped, each warned about.
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(
        err.contains("/kubernetes.io/configmaps/shop/broken: not decoded"),
        "{err}"
    );
    assert!(err.contains("skipped: the name \"../../escaped\""), "{err}");
    assert!(
        !err.contains(SHOP_PASSWORD) && !text.contains(SHOP_PASSWORD),
        "{err}"
    );
    let order = [
        "010-project.yaml",
        "020-secret-db.yaml",
        "030-configmap-settings.yaml",
        "040-deploymentconfig-web.yaml",
        "050-service-web.yaml",
    ];
    let files_dir = dir.join("files");
    assert_eq!(written_files(&files_dir), order);
    assert!(text.contains("left out Event web.1: "), "{text}");
    assert!(
        text.contains(&format!(
            "project shop: 6 objects listed: 5 written to {}, 1 left out, 0 duplicates",
            files_dir.display()
        )),
        "{text}"
    );
    // Cleaned as an export is: no server-owned metadata, no status, no cluster IP.
    let objects: Vec<Value> = order
        .iter()
        .map(|f| read_yaml(&files_dir.join(f)))
        .collect();
    for (o, file) in objects.iter().zip(order) {
        for field in ["uid", "resourceVersion", "selfLink", "creationTimestamp"] {
            assert!(o["metadata"].get(field).is_none(), "{file}: {field}");
        }
        assert!(o.get("status").is_none(), "{file}");
        assert_eq!(
            o["metadata"]["namespace"].as_str().unwrap_or("shop"),
            "shop"
        );
    }
    let [ns, secret, cm, dc, svc] = &objects[..] else {
        unreachable!()
    };
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(
        ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"],
        "1000170000/10000"
    );
    assert_eq!(secret["data"]["password"], SHOP_PASSWORD);
    // "on" stays a string for oc's YAML 1.1 reader.
    assert_eq!(cm["data"]["mode"], "on");
    assert_eq!(dc["apiVersion"], "apps.openshift.io/v1");
    assert!(svc["spec"].get("clusterIP").is_none());
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);

    // --apply: the stand-in oc is given the same objects in the same order.
    let oc = stand_in_oc();
    let out = run(
        dir,
        &[
            "project",
            "restore",
            a,
            "shop",
            "--from-etcd",
            "--apply",
            "--oc",
            oc.to_str().unwrap(),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let created: Vec<String> = oc_log(dir)
        .iter()
        .map(|l| {
            let file = l.strip_prefix("create -f ").expect("only creates");
            Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(created, order);
    assert!(text.contains("created namespace/shop\n"), "{text}");
    assert!(text.contains("created deploymentconfig/web\n"), "{text}");
}

/// An archive without any etcd snapshot: a clear error, exit 2, for both commands.
#[test]
fn from_etcd_needs_an_etcd_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let archive = myproject_archive(dir.path());
    let out_dir = dir.path().join("out");
    for args in [
        vec![
            "project",
            "restore",
            "--from-etcd",
            &archive,
            "myproject",
            "--output",
        ],
        vec![
            "etcd",
            "dump",
            &archive,
            "--project",
            "myproject",
            "--output",
        ],
    ] {
        let mut args = args.clone();
        args.push(out_dir.to_str().unwrap());
        let out = ocpvault(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the archive holds no etcd snapshot"), "{err}");
        assert!(!out_dir.exists());
    }
}
