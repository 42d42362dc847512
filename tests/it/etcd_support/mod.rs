//! A real etcd for the tests: certificates made with openssl, a server started on
//! free 127.0.0.1 ports and killed when dropped, and etcdctl to write and read keys.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when etcd, etcdctl and openssl are installed (skips locally, fails in CI).
pub fn have_etcd() -> bool {
    crate::common::have_tool("etcd", "etcd-server")
        && crate::common::have_tool("etcdctl", "etcd-client")
        && crate::common::have_tool("openssl", "openssl")
}

/// A CA, a server and a client ("peer") certificate signed by it, plus a second CA
/// and a "rogue" client certificate signed by that one.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let pki = Self {
            dir: dir.to_path_buf(),
        };
        pki.ca("ca");
        pki.ca("otherca");
        pki.leaf("server", "ca");
        pki.leaf("peer", "ca");
        pki.leaf("rogue", "otherca");
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ca(&self, name: &str) {
        let (key, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={name}"),
        );
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }

    fn leaf(&self, name: &str, ca: &str) {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let ext = format!("{name}.ext");
        std::fs::write(
            self.dir.join(&ext),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n\
             basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
        )
        .unwrap();
        let subj = format!("/CN={name}");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subj,
        ]);
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; etcd binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to start one etcd member.
#[derive(Clone)]
pub struct ServerConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub client_port: u16,
    pub peer_port: u16,
    /// With TLS: server certificate and client-certificate auth against ca.crt.
    pub tls: Option<PathBuf>,
    pub log: PathBuf,
}

impl ServerConfig {
    pub fn new(dir: &Path, name: &str, tls: Option<&Pki>) -> Self {
        Self {
            name: name.into(),
            data_dir: dir.join(format!("{name}.etcd")),
            client_port: free_port(),
            peer_port: free_port(),
            tls: tls.map(|p| p.dir.clone()),
            log: dir.join(format!("{name}.log")),
        }
    }

    pub fn client_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// The etcd.conf openshift-ansible would write for this member.
    pub fn etcd_conf(&self) -> String {
        let mut conf = format!(
            "ETCD_NAME={name}\nETCD_LISTEN_PEER_URLS={peer}\nETCD_DATA_DIR=/var/lib/etcd/\n\
             ETCD_LISTEN_CLIENT_URLS={client}\nETCD_INITIAL_ADVERTISE_PEER_URLS={peer}\n\
             ETCD_INITIAL_CLUSTER={name}={peer}\nETCD_INITIAL_CLUSTER_STATE=new\n\
             ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster-1\nETCD_ADVERTISE_CLIENT_URLS={client}\n",
            name = self.name,
            peer = self.peer_url(),
            client = self.client_url()
        );
        if self.tls.is_some() {
            conf.push_str(
                "ETCD_TRUSTED_CA_FILE=/etc/etcd/ca.crt\nETCD_CLIENT_CERT_AUTH=true\n\
                 ETCD_CERT_FILE=/etc/etcd/server.crt\nETCD_KEY_FILE=/etc/etcd/server.key\n\
                 ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt\nETCD_PEER_KEY_FILE=/etc/etcd/peer.key\n",
            );
        }
        conf
    }
}

/// A running etcd, killed when dropped.
pub struct EtcdServer {
    pub config: ServerConfig,
    child: Option<Child>,
}

impl EtcdServer {
    pub fn start(config: &ServerConfig) -> Self {
        let c = config;
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", &c.name, "--data-dir"])
            .arg(&c.data_dir)
            .args(["--listen-client-urls", &c.client_url()])
            .args(["--advertise-client-urls", &c.client_url()])
            .args(["--listen-peer-urls", &c.peer_url()])
            .args(["--initial-advertise-peer-urls", &c.peer_url()])
            .args(["--initial-cluster", &format!("{}={}", c.name, c.peer_url())])
            .args(["--initial-cluster-token", "etcd-cluster-1"])
            .args(["--max-txn-ops", "10000"]);
        if let Some(dir) = &c.tls {
            cmd.arg("--cert-file").arg(dir.join("server.crt"));
            cmd.arg("--key-file").arg(dir.join("server.key"));
            cmd.arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(dir.join("ca.crt"));
        }
        let log = std::fs::File::create(&c.log).expect("etcd log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let server = Self {
            config: c.clone(),
            child: Some(child),
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.etcdctl(&["endpoint", "health"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "etcd did not become healthy; log:\n{}",
            std::fs::read_to_string(&self.config.log).unwrap_or_default()
        );
    }

    /// Runs etcdctl (API v3) against this server with the good client certificate.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_stdin(args, b"")
    }

    pub fn etcdctl_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new("etcdctl");
        cmd.env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.config.client_url())
            .args(["--command-timeout", "20s"]);
        if let Some(dir) = &self.config.tls {
            cmd.arg("--cacert").arg(dir.join("ca.crt"));
            cmd.arg("--cert").arg(dir.join("peer.crt"));
            cmd.arg("--key").arg(dir.join("peer.key"));
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run etcdctl");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().expect("etcdctl output")
    }

    /// Writes `keys` in transactions of up to 1000 operations and 512 KiB.
    pub fn put_all(&self, keys: &BTreeMap<String, String>) {
        let mut batch: Vec<(&String, &String)> = Vec::new();
        let mut bytes = 0;
        for (k, v) in keys {
            if batch.len() == 1000 || bytes + v.len() > 512 * 1024 {
                self.txn_put(&batch);
                batch.clear();
                bytes = 0;
            }
            bytes += k.len() + v.len();
            batch.push((k, v));
        }
        self.txn_put(&batch);
    }

    fn txn_put(&self, batch: &[(&String, &String)]) {
        if batch.is_empty() {
            return;
        }
        // etcdctl txn: compares, blank line, success ops, blank line, failure ops.
        let mut script = String::from("\n");
        for (k, v) in batch {
            script.push_str(&format!("put {k} {v}\n"));
        }
        script.push_str("\n\n");
        let out = self.etcdctl_stdin(&["txn"], script.as_bytes());
        assert!(
            out.status.success(),
            "etcdctl txn: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every key under `prefix` with its value.
    pub fn get_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        let out = self.etcdctl(&["get", "--prefix", prefix]);
        assert!(
            out.status.success(),
            "etcdctl get: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .chunks(2)
            .map(|kv| (kv[0].to_string(), kv.get(1).unwrap_or(&"").to_string()))
            .collect()
    }

    /// Stops etcd with SIGTERM and waits for it, so its data directory is consistent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let _ = child.wait();
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A few thousand keys with distinct values, and a few large ones so that the db
/// spans several MiB and the snapshot stream many messages.
pub fn test_keys() -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for i in 0..3000 {
        keys.insert(
            format!("/ocpvault-test/key-{i:05}"),
            format!("value-{i}-{:x}", i * 7919),
        );
    }
    for i in 0..16 {
        let big: String = (0..96 * 1024)
            .map(|j| (b'a' + ((i + j) % 26) as u8) as char)
            .collect();
        keys.insert(format!("/ocpvault-test/big-{i:02}"), big);
    }
    keys
}

/// A host root whose /etc/etcd holds `conf` and the certificates it names.
pub fn host_root(dir: &Path, conf: &str, pki: Option<&Pki>) -> PathBuf {
    let root = dir.join("root");
    let etc = root.join("etc/etcd");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("etcd.conf"), conf).unwrap();
    std::fs::write(root.join("etc/hostname"), "master-0.example.com\n").unwrap();
    if let Some(pki) = pki {
        for f in ["ca.crt", "peer.crt", "peer.key", "server.crt", "server.key"] {
            std::fs::copy(pki.path(f), etc.join(f)).unwrap();
        }
    }
    root
}
