//! `ocpvault etcd ls|get|audit` against snapshots of a real etcd (Debian's etcd-server
//! and etcdctl, TLS with client certificates) filled with values in the exact wire
//! formats the OpenShift 3.11 API server writes: JSON, the `k8s\0` protobuf envelope,
//! and aescbc/aesgcm encryption at rest made here with the documented algorithm.

use crate::common::ocpvault;
use crate::etcd_support::{EtcdServer, Pki, ServerConfig, have_etcd, host_root};
use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const CBC_KEY: [u8; 32] = [0x11; 32];
const GCM_KEY: [u8; 16] = [0x22; 16];
// base64 of CBC_KEY and GCM_KEY.
const ENCRYPTION_CONFIG: &str = "kind: EncryptionConfig
apiVersion: v1
resources:
  - resources:
      - secrets
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ERERERERERERERERERERERERERERERERERERERERERE=
      - aesgcm:
          keys:
            - name: gcm1
              secret: IiIiIiIiIiIiIiIiIiIiIg==
      - identity: {}
";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// Puts `value` (any bytes, through stdin) and returns the revision of the put.
fn put(server: &EtcdServer, key: &str, value: &[u8]) -> i64 {
    let out = server.etcdctl_stdin(&["put", key, "-w", "json"], value);
    assert!(out.status.success(), "put {key}: {}", stderr(&out));
    json_of(&out)["header"]["revision"].as_i64().unwrap()
}

fn del(server: &EtcdServer, key: &str) -> i64 {
    let out = server.etcdctl(&["del", key, "-w", "json"]);
    assert!(out.status.success(), "del {key}: {}", stderr(&out));
    json_of(&out)["header"]["revision"].as_i64().unwrap()
}

/// Protobuf `runtime.Unknown` after the `k8s\0` magic, as the API server stores objects.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    fn field(n: u8, b: &[u8]) -> Vec<u8> {
        assert!(b.len() < 128);
        let mut v = vec![(n << 3) | 2, b.len() as u8];
        v.extend_from_slice(b);
        v
    }
    let mut type_meta = field(1, api_version.as_bytes());
    type_meta.extend(field(2, kind.as_bytes()));
    let mut v = b"k8s\0".to_vec();
    v.extend(field(1, &type_meta));
    v.extend(field(2, raw));
    v.extend(field(3, b""));
    v.extend(field(4, b""));
    v
}

/// aescbc: `k8s:enc:aescbc:v1:<name>:` + 16-byte IV + AES-256-CBC(PKCS#7).
fn aescbc(plain: &[u8]) -> Vec<u8> {
    let iv = [0x5a; 16];
    let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&CBC_KEY, &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut v = b"k8s:enc:aescbc:v1:key1:".to_vec();
    v.extend_from_slice(&iv);
    v.extend(ct);
    v
}

/// aesgcm: `k8s:enc:aesgcm:v1:<name>:` + 12-byte nonce + AES-GCM, the etcd key as AAD.
fn aesgcm(etcd_key: &str, plain: &[u8]) -> Vec<u8> {
    let nonce = [0x3c; 12];
    let ct = aes_gcm::Aes128Gcm::new_from_slice(&GCM_KEY)
        .unwrap()
        .encrypt(
            aes_gcm::Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: etcd_key.as_bytes(),
            },
        )
        .unwrap();
    let mut v = b"k8s:enc:aesgcm:v1:gcm1:".to_vec();
    v.extend_from_slice(&nonce);
    v.extend(ct);
    v
}

fn take_snapshot(root: &Path, dir: &Path, extra: &[&str]) -> PathBuf {
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut args = vec!["snapshot", "--root", s(root), "--output", s(&out_dir)];
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("archive: ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("no archive line: {}", stderr(&out)))
}

fn run(args: &[&str]) -> (Option<i32>, Output) {
    let out = ocpvault(args);
    (out.status.code(), out)
}

struct Fixture {
    _dir: tempfile::TempDir,
    archive: PathBuf,
    /// etcdctl's view of every key at the end: key -> (create, mod, version, value).
    expect: BTreeMap<String, (i64, i64, i64, Vec<u8>)>,
    compact_rev: i64,
    before_overwrite: i64,
    route_deleted: i64,
}

const CM: &str = "/kubernetes.io/configmaps/proj-a/settings";
const BIG: &str = "/kubernetes.io/configmaps/proj-a/big";
const DC: &str = "/openshift.io/deploymentconfigs/proj-a/web";
const CBC_SECRET: &str = "/kubernetes.io/secrets/proj-a/db-password";
const GCM_SECRET: &str = "/kubernetes.io/secrets/proj-a/tls";
const PLAIN_SECRET: &str = "/kubernetes.io/secrets/proj-b/plain";
const KMS_SECRET: &str = "/kubernetes.io/secrets/proj-b/kms";
const ROUTE: &str = "/openshift.io/routes/proj-a/old";
const NS: &str = "/kubernetes.io/namespaces/proj-a";

fn cm_json(data: &str) -> String {
    format!(
        r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"settings","namespace":"proj-a"}},"data":{{"k":"{data}"}}}}"#
    )
}

fn fixture() -> Option<Fixture> {
    if !have_etcd() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let server = EtcdServer::start(&cfg);

    put(&server, NS, &envelope("v1", "Namespace", b"ns"));
    put(&server, CM, cm_json("one").as_bytes());
    put(&server, ROUTE, &envelope("v1", "Route", b"route"));
    let compact_rev = put(
        &server,
        DC,
        &envelope("v1", "DeploymentConfig", b"\x0a\x03web"),
    );
    let out = server.etcdctl(&["compact", &compact_rev.to_string()]);
    assert!(out.status.success(), "compact: {}", stderr(&out));
    let before_overwrite = compact_rev;
    put(&server, CM, cm_json("two").as_bytes());
    let route_deleted = del(&server, ROUTE);
    let secret = envelope("v1", "Secret", b"\x0a\x08password");
    put(&server, CBC_SECRET, &aescbc(&secret));
    put(
        &server,
        GCM_SECRET,
        &aesgcm(GCM_SECRET, &envelope("v1", "Secret", b"tls")),
    );
    put(
        &server,
        PLAIN_SECRET,
        br#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"plain"}}"#,
    );
    put(&server, KMS_SECRET, b"k8s:enc:kms:v1:vault:\x00\x01opaque");
    let big = format!(
        r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"big"}},"data":{{"blob":"{}"}}}}"#,
        "z".repeat(20 * 1024)
    );
    put(&server, BIG, big.as_bytes());

    let out = server.etcdctl(&["get", "--prefix", "/", "-w", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap()
    };
    let mut expect = BTreeMap::new();
    for kv in json_of(&out)["kvs"].as_array().unwrap() {
        let key = String::from_utf8(b64(&kv["key"])).unwrap();
        let n = |f: &str| kv[f].as_i64().unwrap_or(0);
        expect.insert(
            key,
            (
                n("create_revision"),
                n("mod_revision"),
                n("version"),
                b64(&kv["value"]),
            ),
        );
    }
    assert_eq!(expect.len(), 8, "{expect:?}");

    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let master = root.join("etc/origin/master");
    std::fs::create_dir_all(&master).unwrap();
    std::fs::write(master.join("encryption-config.yaml"), ENCRYPTION_CONFIG).unwrap();
    let archive = take_snapshot(&root, dir.path(), &[]);
    Some(Fixture {
        _dir: dir,
        archive,
        expect,
        compact_rev,
        before_overwrite,
        route_deleted,
    })
}

#[test]
fn ls_get_audit_read_every_wire_format_from_the_archive() {
    let Some(f) = fixture() else { return };
    let a = s(&f.archive);

    // ls --json: every key etcd has, field by field.
    let (code, out) = run(&["etcd", "ls", a, "--json"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let ls = json_of(&out);
    check_doc("ls", &ls);
    assert_eq!(ls["source"], "index");
    assert_eq!(ls["compacted_revision"], f.compact_rev);
    // The index says exactly what a scan of the db says.
    let current = ls["revision"].to_string();
    let (code, out) = run(&["etcd", "ls", a, "--json", "--revision", &current]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let scanned = json_of(&out);
    assert_eq!(scanned["source"], "scan");
    assert_eq!(scanned["objects"], ls["objects"]);
    assert_eq!(scanned["compacted_revision"], ls["compacted_revision"]);
    let objects = ls["objects"].as_array().unwrap();
    let got: Vec<&str> = objects.iter().map(|o| o["key"].as_str().unwrap()).collect();
    let want: Vec<&str> = f.expect.keys().map(String::as_str).collect();
    assert_eq!(got, want);
    for o in objects {
        let (create, modr, version, value) = &f.expect[o["key"].as_str().unwrap()];
        assert_eq!(o["create_revision"], *create, "{o}");
        assert_eq!(o["mod_revision"], *modr, "{o}");
        assert_eq!(o["version"], *version, "{o}");
        assert_eq!(o["size"], value.len(), "{o}");
    }
    let by_key = |k: &str| objects.iter().find(|o| o["key"] == k).unwrap().clone();
    let cm = by_key(CM);
    assert_eq!(cm["version"], 2);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["resource"], "configmaps");
    assert_eq!(cm["namespace"], "proj-a");
    assert_eq!(cm["name"], "settings");
    assert_eq!(cm["encoding"], "json");
    let dc = by_key(DC);
    assert_eq!(
        (dc["kind"].as_str(), dc["encoding"].as_str()),
        (Some("DeploymentConfig"), Some("protobuf"))
    );
    let cbc = by_key(CBC_SECRET);
    assert_eq!(cbc["encrypted"], true);
    assert_eq!(cbc["encryption"], "aescbc:key1");
    assert_eq!(cbc["kind"], Value::Null);
    assert_eq!(by_key(GCM_SECRET)["encryption"], "aesgcm:gcm1");
    assert_eq!(by_key(KMS_SECRET)["encryption"], "kms:vault");
    assert_eq!(by_key(PLAIN_SECRET)["encrypted"], false);
    assert_eq!(by_key(NS)["namespace"], Value::Null);

    // ls TYPE -n PROJECT and PREFIX.
    let (_, out) = run(&["etcd", "ls", a, "secrets", "-n", "proj-a", "--json"]);
    let keys: Vec<Value> = json_of(&out)["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].clone())
        .collect();
    assert_eq!(keys, [Value::from(CBC_SECRET), Value::from(GCM_SECRET)]);
    let (_, out) = run(&["etcd", "ls", a, "/openshift.io/"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(DC) && !text.contains(CM), "{text}");
    assert!(text.contains("1 object(s) at revision"), "{text}");

    // get -o json of a JSON value sets resourceVersion from the mod revision.
    let (code, out) = run(&["etcd", "get", a, "configmaps/settings", "-n", "proj-a"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["data"]["k"], "two");
    assert_eq!(v["metadata"]["resourceVersion"], f.expect[CM].1.to_string());

    // Protobuf whose payload is not a DeploymentConfig message (metadata holds "web",
    // not an ObjectMeta): a one-line error naming the type, nothing on stdout.
    // Real payloads: protobuf_objects_print_as_oc_get_json_and_yaml.
    let (code, out) = run(&["etcd", "get", a, "deploymentconfigs/web", "-n", "proj-a"]);
    assert_eq!(code, Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("protobuf DeploymentConfig (v1): metadata:") && out.stdout.is_empty(),
        "{err}"
    );

    // aescbc and aesgcm decrypt with the archived encryption config; raw is the plaintext,
    // stored the bytes as etcd holds them.
    let (code, out) = run(&["etcd", "get", a, CBC_SECRET, "-o", "raw"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, envelope("v1", "Secret", b"\x0a\x08password"));
    let (_, out) = run(&["etcd", "get", a, CBC_SECRET, "-o", "stored"]);
    assert_eq!(out.stdout, f.expect[CBC_SECRET].3);
    // Decrypted, then decoded: its payload ("tls") is not a Secret message.
    let (code, out) = run(&["etcd", "get", a, "secrets/tls", "-n", "proj-a"]);
    assert_eq!(code, Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("protobuf Secret (v1)"),
        "{}",
        stderr(&out)
    );
    let (code, out) = run(&["etcd", "get", a, GCM_SECRET, "-o", "raw"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.stdout, envelope("v1", "Secret", b"tls"));

    // A wrong key is an error that shows no secret material.
    let wrong = f._dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        ENCRYPTION_CONFIG.replace("ERERERERERER", "AAAAAAAAAAAA"),
    )
    .unwrap();
    let (code, out) = run(&[
        "etcd",
        "get",
        a,
        CBC_SECRET,
        "--encryption-config",
        s(&wrong),
    ]);
    assert_eq!(code, Some(2));
    let err = stderr(&out);
    assert!(err.contains("aescbc key key1 does not decrypt"), "{err}");
    assert!(!err.contains("AAAAAAAA") && out.stdout.is_empty(), "{err}");

    // kms cannot be decrypted offline; stored bytes still can be had.
    let (code, out) = run(&["etcd", "get", a, KMS_SECRET]);
    assert_eq!(code, Some(2));
    assert!(
        stderr(&out).contains("kms values cannot be decrypted offline"),
        "{}",
        stderr(&out)
    );

    // Deleted, older revisions, compaction.
    let (code, out) = run(&["etcd", "get", a, "routes/old", "-n", "proj-a"]);
    assert_eq!(code, Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("was deleted at revision {}", f.route_deleted)),
        "{err}"
    );
    let at = f.before_overwrite.to_string();
    let (code, out) = run(&["etcd", "get", a, CM, "--revision", &at]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    assert_eq!(json_of(&out)["data"]["k"], "one");
    let (code, out) = run(&["etcd", "get", a, ROUTE, "--revision", &at, "-o", "raw"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, envelope("v1", "Route", b"route"));
    let old = (f.compact_rev - 1).to_string();
    let (code, out) = run(&["etcd", "ls", a, "--revision", &old]);
    assert_eq!(code, Some(2));
    assert!(stderr(&out).contains("is compacted"), "{}", stderr(&out));
    let (code, out) = run(&["etcd", "ls", a, "--revision", "999999"]);
    assert_eq!(code, Some(2));
    assert!(stderr(&out).contains("is newer than"), "{}", stderr(&out));

    // audit: counts per type, JSON vs protobuf, secrets not encrypted.
    let (code, out) = run(&["etcd", "audit", a, "--json"]);
    assert_eq!(code, Some(1), "{}", stderr(&out));
    let au = json_of(&out);
    check_doc("audit", &au);
    let secrets = &au["types"]["secrets"];
    assert_eq!(secrets["objects"], 4);
    assert_eq!(secrets["encrypted"], 3);
    assert_eq!(secrets["json"], 1);
    assert_eq!(au["types"]["configmaps"]["json"], 2);
    assert_eq!(au["types"]["deploymentconfigs"]["protobuf"], 1);
    assert_eq!(
        au["secrets_not_encrypted"],
        serde_json::json!([PLAIN_SECRET])
    );
    assert_eq!(au["json_objects"].as_array().unwrap().len(), 3);
    assert!(au["bolt"]["overflow_pages"].as_u64().unwrap() >= 1, "{au}");
}

/// Tens of thousands of keys (several levels of branch pages), a value larger than
/// the 4 KiB page (overflow pages), read from the db file itself; then the same db
/// cut in the middle.
/// A protobuf message written from the wire facts of the 1.11 / 3.11 API types.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(buf: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
    }
    fn int(mut self, n: u64, v: i64) -> Self {
        Self::varint(&mut self.0, n << 3);
        Self::varint(&mut self.0, v as u64);
        self
    }
    fn bytes(mut self, n: u64, b: &[u8]) -> Self {
        Self::varint(&mut self.0, (n << 3) | 2);
        Self::varint(&mut self.0, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, n: u64, v: &str) -> Self {
        self.bytes(n, v.as_bytes())
    }
    fn msg(self, n: u64, m: Pb) -> Self {
        self.bytes(n, &m.0)
    }
    fn entry(self, n: u64, k: &str, v: &[u8]) -> Self {
        self.msg(n, Pb::default().str(1, k).bytes(2, v))
    }
    /// `k8s\0` + runtime.Unknown {1 TypeMeta {1 apiVersion, 2 kind}, 2 raw, 3, 4}.
    fn stored(self, api_version: &str, kind: &str) -> Vec<u8> {
        let tm = Pb::default().str(1, api_version).str(2, kind);
        let unknown = Pb::default()
            .msg(1, tm)
            .bytes(2, &self.0)
            .str(3, "")
            .str(4, "");
        let mut v = b"k8s\0".to_vec();
        v.extend(unknown.0);
        v
    }
}

/// ObjectMeta {1 name, 3 namespace, 5 uid, 7 generation, 8 creationTimestamp {1 s, 2 ns},
/// 11 labels}, with the zero fields Go writes.
fn pb_meta(name: &str) -> Pb {
    Pb::default()
        .str(1, name)
        .str(2, "")
        .str(3, "proj-pb")
        .str(5, "6f1c2a4e-c5a4-11e8-9d6c-525400c0ffee")
        .int(7, 0)
        .msg(8, Pb::default().int(1, 1_538_395_200).int(2, 0))
        .entry(11, "app", b"web")
}

#[test]
fn protobuf_objects_print_as_oc_get_json_and_yaml() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let server = EtcdServer::start(&cfg);

    // Secret {1 metadata, 2 data map<string, bytes>, 3 type}.
    let secret = Pb::default()
        .msg(1, pb_meta("db"))
        .entry(2, "password", b"s3cret\xff")
        .str(3, "Opaque");
    let secret_rev = put(
        &server,
        "/kubernetes.io/secrets/proj-pb/db",
        &secret.stored("v1", "Secret"),
    );
    // ConfigMap {1 metadata, 2 data map<string, string>}.
    let cm = Pb::default()
        .msg(1, pb_meta("settings"))
        .entry(2, "mode", b"prod");
    put(
        &server,
        "/kubernetes.io/configmaps/proj-pb/settings",
        &cm.stored("v1", "ConfigMap"),
    );
    // DeploymentConfig {1 metadata, 2 spec {1 strategy {1 type}, 2 triggers {1 items
    // {1 type}}, 3 replicas, 5 test, 7 selector, 8 template {1 metadata, 2 spec {2
    // containers {1 name, 2 image, 6 ports {3 containerPort, 4 protocol}}}}}}.
    let container = Pb::default()
        .str(1, "web")
        .str(2, "registry.example.com/proj-pb/web:1.0")
        .msg(6, Pb::default().int(2, 0).int(3, 8080).str(4, "TCP"));
    let dc = Pb::default().msg(1, pb_meta("web")).msg(
        2,
        Pb::default()
            .msg(1, Pb::default().str(1, "Rolling"))
            .msg(
                2,
                Pb::default().msg(1, Pb::default().str(1, "ConfigChange")),
            )
            .int(3, 0)
            .int(5, 0)
            .int(6, 0)
            .entry(7, "app", b"web")
            .msg(
                8,
                Pb::default()
                    .msg(1, Pb::default().entry(11, "app", b"web"))
                    .msg(2, Pb::default().msg(2, container)),
            ),
    );
    put(
        &server,
        "/openshift.io/deploymentconfigs/proj-pb/web",
        &dc.stored("v1", "DeploymentConfig"),
    );
    // Route {1 metadata, 2 spec {1 host, 3 to {1 kind, 2 name, 3 weight}, 5 port {1
    // targetPort IntOrString {1 type, 2 intVal, 3 strVal}}, 6 tls {1 termination}}}.
    let route = Pb::default().msg(1, pb_meta("web")).msg(
        2,
        Pb::default()
            .str(1, "web-proj-pb.apps.example.com")
            .str(2, "")
            .msg(3, Pb::default().str(1, "Service").str(2, "web").int(3, 100))
            .msg(
                5,
                Pb::default().msg(1, Pb::default().int(1, 1).int(2, 0).str(3, "http")),
            )
            .msg(6, Pb::default().str(1, "edge")),
    );
    let route_rev = put(
        &server,
        "/openshift.io/routes/proj-pb/web",
        &route.stored("v1", "Route"),
    );

    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let archive = take_snapshot(&root, dir.path(), &[]);
    let a = s(&archive);
    let get = |target: &str, format: &str| -> Value {
        let (code, out) = run(&["etcd", "get", a, target, "-n", "proj-pb", "-o", format]);
        assert_eq!(code, Some(0), "{target}: {}", stderr(&out));
        if format == "json" {
            json_of(&out)
        } else {
            serde_norway::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
        }
    };
    for format in ["json", "yaml"] {
        let v = get("secrets/db", format);
        assert_eq!(v["apiVersion"], "v1", "{v}");
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["type"], "Opaque");
        assert_eq!(v["data"]["password"], "czNjcmV0/w==");
        assert_eq!(v["metadata"]["name"], "db");
        assert_eq!(v["metadata"]["namespace"], "proj-pb");
        assert_eq!(v["metadata"]["creationTimestamp"], "2018-10-01T12:00:00Z");
        assert_eq!(v["metadata"]["resourceVersion"], secret_rev.to_string());
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["metadata"].get("generation"), None, "{v}");

        let v = get("configmaps/settings", format);
        assert_eq!(v["data"], serde_json::json!({"mode": "prod"}));

        let v = get("deploymentconfigs/web", format);
        assert_eq!(v["apiVersion"], "apps.openshift.io/v1", "{v}");
        assert_eq!(v["spec"]["replicas"], 0);
        assert_eq!(v["spec"]["test"], false);
        assert_eq!(v["spec"].get("paused"), None);
        assert_eq!(v["spec"]["strategy"]["type"], "Rolling");
        assert_eq!(
            v["spec"]["triggers"],
            serde_json::json!([{"type": "ConfigChange"}])
        );
        assert_eq!(v["spec"]["selector"]["app"], "web");
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0],
            serde_json::json!({"name": "web", "image": "registry.example.com/proj-pb/web:1.0",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}]})
        );

        let v = get("routes/web", format);
        assert_eq!(v["apiVersion"], "route.openshift.io/v1", "{v}");
        assert_eq!(v["metadata"]["resourceVersion"], route_rev.to_string());
        assert_eq!(
            v["spec"],
            serde_json::json!({"host": "web-proj-pb.apps.example.com",
                "to": {"kind": "Service", "name": "web", "weight": 100},
                "port": {"targetPort": "http"}, "tls": {"termination": "edge"}})
        );
    }
    // YAML is the same object as JSON, and reads like `oc get -o yaml`.
    let (_, out) = run(&[
        "etcd",
        "get",
        a,
        "routes/web",
        "-n",
        "proj-pb",
        "-o",
        "yaml",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("apiVersion: route.openshift.io/v1\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  host: web-proj-pb.apps.example.com\n"),
        "{text}"
    );
}

#[test]
fn deep_tree_overflow_and_truncated_db() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig::new(dir.path(), "m", None);
    let server = EtcdServer::start(&cfg);
    let mut keys = BTreeMap::new();
    for i in 0..30_000 {
        keys.insert(
            format!("/kubernetes.io/configmaps/p{}/cm-{i:05}", i % 7),
            format!("v{i}"),
        );
    }
    keys.insert("/big".to_string(), "b".repeat(9000));
    server.put_all(&keys);
    let db = dir.path().join("snap.db");
    let out = server.etcdctl(&["snapshot", "save", s(&db)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (code, out) = run(&["etcd", "audit", s(&db), "--json"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let au = json_of(&out);
    assert_eq!(au["objects"], 30_001);
    assert_eq!(au["types"]["configmaps"]["objects"], 30_000);
    assert!(
        au["bolt"]["max_branch_depth"].as_u64().unwrap() >= 2,
        "{}",
        au["bolt"]
    );
    assert!(
        au["bolt"]["overflow_pages"].as_u64().unwrap() >= 2,
        "{}",
        au["bolt"]
    );
    let (code, out) = run(&["etcd", "get", s(&db), "/big", "-o", "raw"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.stdout, keys["/big"].as_bytes());
    let (_, out) = run(&[
        "etcd",
        "get",
        s(&db),
        "configmaps/cm-12345",
        "-n",
        "p4",
        "-o",
        "raw",
    ]);
    assert_eq!(out.stdout, b"v12345");

    // Cut in the middle: a clear error naming a page, and --salvage reads the rest.
    let bytes = std::fs::read(&db).unwrap();
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // Meta page 0 torn as well: meta page 1 still identifies the file.
    let torn = dir.path().join("torn.db");
    let mut t = bytes[..bytes.len() / 2].to_vec();
    t[..4096].fill(0);
    std::fs::write(&torn, &t).unwrap();
    let (code, out) = run(&["etcd", "ls", s(&torn), "--salvage", "--json"]);
    assert_eq!(code, Some(1), "{}", stderr(&out));
    assert!(json_of(&out)["objects"].as_array().unwrap().len() > 1000);
    let (code, out) = run(&["etcd", "ls", s(&cut)]);
    assert_eq!(code, Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(": page ") && err.contains("truncated db"),
        "{err}"
    );
    assert!(err.contains("hint: --salvage"), "{err}");
    let (code, out) = run(&["etcd", "ls", s(&cut), "--salvage", "--json"]);
    assert_eq!(code, Some(1), "{}", stderr(&out));
    let ls = json_of(&out);
    check_doc("ls", &ls);
    let skipped = ls["skipped_pages"].as_array().unwrap();
    assert!(!skipped.is_empty());
    assert!(
        skipped[0]["error"]
            .as_str()
            .unwrap()
            .contains("truncated db")
    );
    let objects = ls["objects"].as_array().unwrap();
    assert!(
        objects.len() > 1000 && objects.len() < 30_001,
        "{}",
        objects.len()
    );
    for o in objects {
        let key = o["key"].as_str().unwrap();
        assert_eq!(o["size"], keys[key].len(), "{key}");
    }
}

/// The field tables of formats/etcd-browse.md §6, by `<!-- etcd-browse-json: NAME -->`:
/// (path, types, optional).
fn doc_tables() -> BTreeMap<String, Vec<(String, Vec<String>, bool)>> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/etcd-browse.md"),
    )
    .unwrap();
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut current = None;
    for line in doc.lines() {
        if let Some(n) = line
            .strip_prefix("<!-- etcd-browse-json: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            current = Some(n.to_string());
            continue;
        }
        let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let path = cells[0].trim_end_matches('`').to_string();
        let (types, optional) = match cells[1].strip_suffix(", optional") {
            Some(t) => (t, true),
            None => (cells[1], false),
        };
        let types = types.split(" or ").map(str::to_string).collect();
        out.entry(name.clone())
            .or_default()
            .push((path, types, optional));
    }
    out
}

fn type_ok(v: &Value, types: &[String]) -> bool {
    types.iter().any(|t| match t.as_str() {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "array of string" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        "object" => v.is_object(),
        "null" => v.is_null(),
        other => panic!("unknown type {other} in formats/etcd-browse.md"),
    })
}

/// The values at `path` (`a.b`, `a[].b`, `.`), and whether the path exists at all.
fn at_path<'a>(root: &'a Value, path: &str) -> Vec<Option<&'a Value>> {
    if path == "." {
        return vec![Some(root)];
    }
    let mut cur = vec![Some(root)];
    for seg in path.split('.') {
        let (name, each) = match seg.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (seg, false),
        };
        let mut next = Vec::new();
        for v in cur.into_iter().flatten() {
            let child = v.get(name);
            if each {
                next.extend(
                    child
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(Some),
                );
            } else {
                next.push(child);
            }
        }
        cur = next;
    }
    cur
}

/// Checks `value` against table `name`: every documented field present (unless
/// optional) with its type, and no undocumented top-level or array-element field.
fn check_doc(name: &str, value: &Value) {
    let tables = doc_tables();
    let rows = tables
        .get(name)
        .unwrap_or_else(|| panic!("formats/etcd-browse.md has no table {name}"));
    for (path, types, optional) in rows {
        for v in at_path(value, path) {
            match v {
                Some(v) => assert!(type_ok(v, types), "{name}: {path} is {v}, not {types:?}"),
                None => assert!(optional, "{name}: {path} missing"),
            }
        }
    }
    let documented: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let check_keys = |prefix: &str, v: &Value| {
        for k in v.as_object().into_iter().flat_map(|o| o.keys()) {
            let p = format!("{prefix}{k}");
            assert!(
                documented.contains(&p.as_str()) || prefix.starts_with("types."),
                "{name}: field {p} is not documented"
            );
        }
    };
    check_keys("", value);
    for (k, v) in value.as_object().into_iter().flatten() {
        if let Some(first) = v.as_array().and_then(|a| a.first()) {
            check_keys(&format!("{k}[]."), first);
        }
    }
}

/// A data-dir capture (etcd stopped) stores member/snap/db without a trailer; the
/// commands read it the same way.
#[test]
fn data_dir_capture_is_read_too() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig::new(dir.path(), "m", None);
    let mut server = EtcdServer::start(&cfg);
    put(&server, CM, cm_json("one").as_bytes());
    let rev = put(&server, CM, cm_json("two").as_bytes());
    server.stop();
    let root = host_root(dir.path(), &cfg.etcd_conf(), None);
    let archive = take_snapshot(&root, dir.path(), &["--etcd-data-dir", s(&cfg.data_dir)]);
    // The private copy of the db goes under TMPDIR and is gone afterwards.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = crate::common::bin()
        .args(["etcd", "get", s(&archive), CM])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let v = json_of(&out);
    assert_eq!(v["data"]["k"], "two");
    assert_eq!(v["metadata"]["resourceVersion"], rev.to_string());
    let (_, out) = run(&["etcd", "ls", s(&archive), "--json"]);
    let ls = json_of(&out);
    assert!(
        ls["db"]
            .as_str()
            .unwrap()
            .ends_with("/.ocpvault/etcd/data-dir/member/snap/db"),
        "{ls}"
    );
    assert_eq!(ls["objects"][0]["version"], 2);
    assert_eq!(ls["source"], "scan");
}

/// When the key index cannot be built (here: no usable TMPDIR for the copy of the
/// stream) the snapshot is still stored, the source lists the index as failed
/// (exit 1), and `etcd ls` scans the db instead.
#[test]
fn snapshot_without_an_index_still_lists() {
    if !have_etcd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig::new(dir.path(), "m", None);
    let server = EtcdServer::start(&cfg);
    put(&server, CM, cm_json("one").as_bytes());
    let root = host_root(dir.path(), &cfg.etcd_conf(), None);
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = crate::common::bin()
        .args([
            "snapshot",
            "--root",
            s(&root),
            "--output",
            s(&out_dir),
            "--json",
        ])
        .env("TMPDIR", dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json_of(&out);
    let text = report.to_string();
    assert!(text.contains("/.ocpvault/etcd/keys.json.zst"), "{text}");
    let archive = report["archive"].as_str().unwrap().to_string();
    let (code, out) = run(&["etcd", "ls", &archive, "--json"]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let ls = json_of(&out);
    assert_eq!(ls["source"], "scan");
    assert_eq!(ls["objects"][0]["key"], CM);
}

/// A real etcd (TLS) holding project "shop" as the API server stores it in JSON, and
/// what a dump must leave alone; snapshotted by `ocpvault snapshot` on a host with no
/// admin kubeconfig, so the archive has no `oc` export of any project.
pub struct ProjectFixture {
    pub dir: tempfile::TempDir,
    pub archive: PathBuf,
    /// The mod revision of each key of "shop" that a dump writes.
    pub revisions: BTreeMap<String, i64>,
    /// The revision at which the (later deleted) route was stored.
    pub route_put: i64,
}

pub const SHOP_NS: &str = "/kubernetes.io/namespaces/shop";
pub const SHOP_CM: &str = "/kubernetes.io/configmaps/shop/settings";
pub const SHOP_SECRET: &str = "/kubernetes.io/secrets/shop/db";
pub const SHOP_SVC: &str = "/kubernetes.io/services/specs/shop/web";
pub const SHOP_DC: &str = "/openshift.io/deploymentconfigs/shop/web";
pub const SHOP_ROUTE: &str = "/openshift.io/routes/shop/gone";
pub const SHOP_EVENT: &str = "/kubernetes.io/events/shop/web.1";
pub const SHOP_BROKEN: &str = "/kubernetes.io/configmaps/shop/broken";
pub const OTHER_CM: &str = "/kubernetes.io/configmaps/other/settings";
/// Keys no API server writes, that a naive dump would turn into paths outside DIR.
pub const HOSTILE: [&str; 3] = [
    "/kubernetes.io/configmaps/shop/../../escaped",
    "/kubernetes.io/../shop/escaped",
    "/kubernetes.io/configmaps/shop/a/b",
];
/// The secret's value, base64 ("s3cr3t-value"): it must reach the files and nothing else.
pub const SHOP_PASSWORD: &str = "czNjcjN0LXZhbHVl";

fn meta(name: &str, ns: Option<&str>) -> String {
    let ns = ns.map_or(String::new(), |n| format!(r#""namespace":"{n}","#));
    format!(
        r#""metadata":{{"name":"{name}",{ns}"selfLink":"/x/{name}","uid":"0b7c{name}","creationTimestamp":"2026-11-30T02:00:00Z"}}"#
    )
}

pub fn project_fixture() -> Option<ProjectFixture> {
    if !have_etcd() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let server = EtcdServer::start(&cfg);
    let mut revisions = BTreeMap::new();
    let mut keep = |key: &str, rev: i64| {
        revisions.insert(key.to_string(), rev);
    };

    let ns = format!(
        r#"{{"kind":"Namespace","apiVersion":"v1",{},"spec":{{"finalizers":["kubernetes","openshift.io/origin"]}},"status":{{"phase":"Active"}}}}"#,
        meta("shop", None).replace(
            r#""selfLink""#,
            r#""annotations":{"openshift.io/sa.scc.uid-range":"1000170000/10000"},"selfLink""#
        )
    );
    keep(SHOP_NS, put(&server, SHOP_NS, ns.as_bytes()));
    let cm = |v: &str| {
        format!(
            r#"{{"kind":"ConfigMap","apiVersion":"v1",{},"data":{{"mode":"{v}"}}}}"#,
            meta("settings", Some("shop"))
        )
    };
    put(&server, SHOP_CM, cm("old").as_bytes());
    keep(SHOP_CM, put(&server, SHOP_CM, cm("on").as_bytes()));
    let secret = format!(
        r#"{{"kind":"Secret","apiVersion":"v1",{},"data":{{"password":"{SHOP_PASSWORD}"}},"type":"Opaque"}}"#,
        meta("db", Some("shop"))
    );
    keep(
        SHOP_SECRET,
        put(&server, SHOP_SECRET, &aescbc(secret.as_bytes())),
    );
    let svc = format!(
        r#"{{"kind":"Service","apiVersion":"v1",{},"spec":{{"selector":{{"app":"web"}},"clusterIP":"172.30.12.7","ports":[{{"port":8080,"protocol":"TCP"}}]}},"status":{{"loadBalancer":{{}}}}}}"#,
        meta("web", Some("shop"))
    );
    keep(SHOP_SVC, put(&server, SHOP_SVC, svc.as_bytes()));
    let dc = format!(
        r#"{{"kind":"DeploymentConfig","apiVersion":"v1",{},"spec":{{"replicas":1,"selector":{{"app":"web"}},"template":{{"metadata":{{"labels":{{"app":"web"}}}},"spec":{{"containers":[{{"name":"web","image":"nginx:1.14"}}]}}}}}},"status":{{"latestVersion":3}}}}"#,
        meta("web", Some("shop"))
    );
    keep(SHOP_DC, put(&server, SHOP_DC, dc.as_bytes()));
    let route = format!(
        r#"{{"kind":"Route","apiVersion":"v1",{},"spec":{{"to":{{"kind":"Service","name":"web"}}}}}}"#,
        meta("gone", Some("shop"))
    );
    let route_put = put(&server, SHOP_ROUTE, route.as_bytes());
    del(&server, SHOP_ROUTE);
    let event = format!(
        r#"{{"kind":"Event","apiVersion":"v1",{},"reason":"Scheduled"}}"#,
        meta("web.1", Some("shop"))
    );
    put(&server, SHOP_EVENT, event.as_bytes());
    // A protobuf value whose bytes end inside a field: not decoded, whatever the decoder.
    put(
        &server,
        SHOP_BROKEN,
        &envelope("v1", "ConfigMap", b"\x0a\x7fbroken"),
    );
    let other = cm("other").replace(r#""namespace":"shop""#, r#""namespace":"other""#);
    put(&server, OTHER_CM, other.as_bytes());
    for key in HOSTILE {
        let hostile = cm("x").replace(r#""name":"settings""#, r#""name":"../../escaped""#);
        put(&server, key, hostile.as_bytes());
    }

    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let master = root.join("etc/origin/master");
    std::fs::create_dir_all(&master).unwrap();
    std::fs::write(master.join("encryption-config.yaml"), ENCRYPTION_CONFIG).unwrap();
    let archive = take_snapshot(&root, dir.path(), &[]);
    Some(ProjectFixture {
        dir,
        archive,
        revisions,
        route_put,
    })
}

/// Reads a dumped file as oc 3.11 would (YAML 1.1).
fn read_dumped(path: &Path) -> Value {
    ocpvault::projects::restore::yaml11::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn dump_writes_one_project_in_the_export_layout() {
    use std::os::unix::fs::PermissionsExt;
    let Some(f) = project_fixture() else { return };
    let a = s(&f.archive);
    let out_dir = f.dir.path().join("dumps/shop");
    let (code, out) = run(&[
        "etcd",
        "dump",
        a,
        "--project",
        "shop",
        "--output",
        s(&out_dir),
        "--json",
    ]);
    // Exit 1: one value was not decoded and the hostile keys were skipped.
    assert_eq!(code, Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        !err.contains(SHOP_PASSWORD) && !err.contains("s3cr3t"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{SHOP_BROKEN}: not decoded")),
        "{err}"
    );
    let report = json_of(&out);
    check_doc("dump", &report);
    assert_eq!(report["project"], "shop");
    assert_eq!(report["objects"], 5);

    // The files and their counts, as `project list` would show an export.
    let files: Vec<(String, u64)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["objects"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("_cluster/namespace.yaml", 1),
        ("configmaps.yaml", 1),
        ("deploymentconfigs.apps.openshift.io.yaml", 1),
        ("secrets.yaml", 1),
        ("services.yaml", 1),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|(p, n)| (p.to_string(), *n)).collect();
    assert_eq!(files, want);
    let mut on_disk: Vec<String> = walk(&out_dir);
    on_disk.sort();
    let mut listed: Vec<String> = want.iter().map(|w| w.0.clone()).collect();
    listed.push("_cluster".into());
    listed.sort();
    assert_eq!(on_disk, listed);
    // Nothing outside DIR: its parent holds DIR alone.
    let siblings: Vec<_> = std::fs::read_dir(out_dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, [std::ffi::OsString::from("shop")]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out_dir), 0o700);
    assert_eq!(mode(&out_dir.join("_cluster")), 0o700);
    for (p, _) in &want {
        assert_eq!(mode(&out_dir.join(p)), 0o600, "{p}");
    }

    // Field by field: each value as etcd held it, with resourceVersion = mod revision.
    let items =
        |rel: &str| ocpvault::projects::restore::split_list(read_dumped(&out_dir.join(rel)));
    let ns = read_dumped(&out_dir.join("_cluster/namespace.yaml"));
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["metadata"]["name"], "shop");
    assert_eq!(
        ns["metadata"]["resourceVersion"],
        f.revisions[SHOP_NS].to_string()
    );
    assert_eq!(ns["status"]["phase"], "Active");
    let cm = items("configmaps.yaml");
    assert_eq!(cm.len(), 1);
    assert_eq!(cm[0]["data"]["mode"], "on");
    assert_eq!(
        cm[0]["metadata"]["resourceVersion"],
        f.revisions[SHOP_CM].to_string()
    );
    assert_eq!(cm[0]["metadata"]["uid"], "0b7csettings");
    let secrets = items("secrets.yaml");
    assert_eq!(secrets[0]["data"]["password"], SHOP_PASSWORD);
    assert_eq!(secrets[0]["type"], "Opaque");
    let svc = items("services.yaml");
    assert_eq!(svc[0]["spec"]["clusterIP"], "172.30.12.7");
    assert_eq!(svc[0]["spec"]["ports"][0]["port"], 8080);
    let dc = items("deploymentconfigs.apps.openshift.io.yaml");
    assert_eq!(dc[0]["apiVersion"], "apps.openshift.io/v1");
    assert_eq!(
        dc[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.14"
    );

    // The report says what was not written and why.
    let keys = |field: &str| -> Vec<String> {
        report[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys("not_decoded"), [SHOP_BROKEN]);
    assert_eq!(keys("left_out"), [SHOP_EVENT]);
    let mut skipped = keys("skipped");
    skipped.sort();
    let mut hostile = HOSTILE.map(String::from).to_vec();
    hostile.sort();
    assert_eq!(skipped, hostile);

    // A non-empty DIR is refused; an older revision reads the route before its delete.
    let (code, out) = run(&["etcd", "dump", a, "--project", "shop", "-o", s(&out_dir)]);
    assert_eq!(code, Some(2));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    let older = f.route_put.to_string();
    let old_dir = f.dir.path().join("old");
    let (code, out) = run(&[
        "etcd",
        "dump",
        a,
        "-n",
        "shop",
        "-o",
        s(&old_dir),
        "--revision",
        &older,
    ]);
    assert_eq!(code, Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("routes.route.openshift.io.yaml"), "{text}");
    let routes = read_dumped(&old_dir.join("routes.route.openshift.io.yaml"));
    assert_eq!(routes["items"][0]["metadata"]["name"], "gone");

    // A wrong key: the secret is not decoded (named, with no key material), the rest is
    // written; a config file that cannot be read is an error before anything is written.
    let wrong = f.dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        ENCRYPTION_CONFIG.replace("ERERERERERER", "AAAAAAAAAAAA"),
    )
    .unwrap();
    let wrong_dir = f.dir.path().join("wrong");
    let (code, out) = run(&[
        "etcd",
        "dump",
        a,
        "-n",
        "shop",
        "-o",
        s(&wrong_dir),
        "--json",
        "--encryption-config",
        s(&wrong),
    ]);
    assert_eq!(code, Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{SHOP_SECRET}: not decoded: aescbc key key1 does not decrypt"
        )),
        "{err}"
    );
    assert!(!err.contains("AAAAAAAA"), "{err}");
    let report = json_of(&out);
    assert_eq!(report["objects"], 4);
    assert!(!wrong_dir.join("secrets.yaml").exists());
    let missing_dir = f.dir.path().join("missing");
    let (code, _) = run(&[
        "etcd",
        "dump",
        a,
        "-n",
        "shop",
        "-o",
        s(&missing_dir),
        "--encryption-config",
        s(&f.dir.path().join("no-such.yaml")),
    ]);
    assert_eq!(code, Some(2));
    assert!(!missing_dir.exists());

    // A project that is not there, and a name that is not a project name.
    let (code, out) = run(&[
        "etcd",
        "dump",
        a,
        "-n",
        "nope",
        "-o",
        s(&f.dir.path().join("n")),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr(&out).contains("project nope is not in"),
        "{}",
        stderr(&out)
    );
    let (code, _) = run(&[
        "etcd",
        "dump",
        a,
        "-n",
        "../x",
        "-o",
        s(&f.dir.path().join("x")),
    ]);
    assert_eq!(code, Some(2));
    assert!(!f.dir.path().join("x").exists());
}

/// Paths under `dir`, relative, directories included.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()).into_iter().map(|p| format!("{name}/{p}")));
        }
        out.push(name);
    }
    out
}
