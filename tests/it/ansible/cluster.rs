//! A five-host OpenShift 3.11 test cluster on this one machine, for the Ansible
//! tests: one host tree per inventory host (`ocpvault_root`, `ansible_connection=local`),
//! a real three-member etcd cluster with TLS client connections on loopback whose
//! members' etcd.conf sit in the master trees, and moto as the S3 store.

use crate::common::*;
use crate::etcd_support::{Pki, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const MASTERS: [&str; 3] = [
    "master-0.example.com",
    "master-1.example.com",
    "master-2.example.com",
];
pub const NODES: [&str; 2] = ["infra-0.example.com", "node-0.example.com"];
pub const VENV: &str = "/opt/ocpvault-test-venv";

/// The ansible-playbook of the test virtualenv, or None (skip) outside CI.
pub fn ansible_playbook() -> Option<PathBuf> {
    let p = Path::new(VENV).join("bin/ansible-playbook");
    if p.exists() {
        return Some(p);
    }
    assert!(
        !in_ci(),
        "{} missing in CI; .ci/install-deps installs ansible-core",
        p.display()
    );
    eprintln!("SKIP: {} not found (run .ci/install-deps)", p.display());
    None
}

/// moto's S3 server with bucket `backups`, killed when dropped.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let moto = Moto {
            child: Command::new(Path::new(VENV).join("bin/moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server"),
            endpoint: endpoint.clone(),
        };
        let ok = wait_for(std::time::Duration::from_secs(20), || {
            Command::new("curl")
                .args(["-sf", "-X", "PUT", &format!("{endpoint}/backups")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        assert!(ok, "moto server did not start");
        moto
    }
}

/// One etcd member: its tree and ports.
pub struct Member {
    pub name: String,
    pub root: PathBuf,
    pub client_port: u16,
    pub peer_port: u16,
}

impl Member {
    pub fn client_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.client_port)
    }
    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// The whole test cluster.
pub struct Cluster {
    pub dir: PathBuf,
    pub members: Vec<Member>,
    pub key: PathBuf,
    pub recipient: String,
    pub moto: Moto,
    pub script: PathBuf,
}

const MEMBER_SCRIPT: &str = r#"#!/bin/bash
# start|stop ROOT: runs the etcd member whose etcd.conf is in ROOT/etc/etcd, with
# the paths of that file read under ROOT (the test's stand-in for the static pod).
set -eu
root=$2
. "$root/etc/etcd/etcd.conf"
pidfile="$root.etcd.pid"
case $1 in
start)
  setsid etcd --name "$ETCD_NAME" --data-dir "$root$ETCD_DATA_DIR" \
    --listen-client-urls "$ETCD_LISTEN_CLIENT_URLS" --advertise-client-urls "$ETCD_ADVERTISE_CLIENT_URLS" \
    --listen-peer-urls "$ETCD_LISTEN_PEER_URLS" --initial-advertise-peer-urls "$ETCD_INITIAL_ADVERTISE_PEER_URLS" \
    --initial-cluster "$ETCD_INITIAL_CLUSTER" --initial-cluster-token "$ETCD_INITIAL_CLUSTER_TOKEN" \
    --initial-cluster-state new --cert-file "$root$ETCD_CERT_FILE" --key-file "$root$ETCD_KEY_FILE" \
    --client-cert-auth --trusted-ca-file "$root$ETCD_TRUSTED_CA_FILE" \
    </dev/null >>"$root.etcd.log" 2>&1 &
  echo $! >"$pidfile"
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$pidfile"
  fi
  ;;
esac
"#;

fn sh(cmd: &str) {
    let out = Command::new("bash").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    /// Builds the five trees and starts the etcd cluster with `keys` keys.
    pub fn new(dir: &Path) -> Cluster {
        let base = demo_tree(&dir.join("base"));
        let pki = Pki::new(&dir.join("pki"));
        let script = dir.join("etcd-member.sh");
        std::fs::write(&script, MEMBER_SCRIPT).unwrap();
        let members: Vec<Member> = MASTERS
            .iter()
            .map(|m| Member {
                name: m.to_string(),
                root: dir.join("hosts").join(m),
                client_port: free_port(),
                peer_port: free_port(),
            })
            .collect();
        let initial: Vec<String> = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect();
        std::fs::create_dir_all(dir.join("hosts")).unwrap();
        for (i, m) in members.iter().enumerate() {
            let r = m.root.display();
            sh(&format!("cp -a {} {r}", base.display()));
            std::fs::write(m.root.join("etc/hostname"), format!("{}\n", m.name)).unwrap();
            if i > 0 {
                // The CA material exists only on the first master.
                sh(&format!(
                    "rm -rf {r}/etc/origin/master/ca.serial.txt {r}/etc/etcd/ca {r}/etc/etcd/generated_certs"
                ));
            }
            for f in ["ca.crt", "peer.crt", "peer.key", "server.crt", "server.key"] {
                std::fs::copy(pki.path(f), m.root.join("etc/etcd").join(f)).unwrap();
            }
            let conf = format!(
                "ETCD_NAME={name}\nETCD_LISTEN_PEER_URLS={peer}\nETCD_DATA_DIR=/var/lib/etcd/\n\
                 ETCD_LISTEN_CLIENT_URLS={client}\nETCD_INITIAL_ADVERTISE_PEER_URLS={peer}\n\
                 ETCD_INITIAL_CLUSTER={initial}\nETCD_INITIAL_CLUSTER_STATE=new\n\
                 ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster-1\nETCD_ADVERTISE_CLIENT_URLS={client}\n\
                 ETCD_TRUSTED_CA_FILE=/etc/etcd/ca.crt\nETCD_CLIENT_CERT_AUTH=true\n\
                 ETCD_CERT_FILE=/etc/etcd/server.crt\nETCD_KEY_FILE=/etc/etcd/server.key\n\
                 ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt\nETCD_PEER_KEY_FILE=/etc/etcd/peer.key\n",
                name = m.name,
                peer = m.peer_url(),
                client = m.client_url(),
                initial = initial.join(",")
            );
            std::fs::write(m.root.join("etc/etcd/etcd.conf"), conf).unwrap();
            std::fs::create_dir_all(m.root.join("var/lib/etcd")).unwrap();
        }
        for n in NODES {
            let r = dir.join("hosts").join(n);
            let r = r.display();
            sh(&format!("cp -a {} {r}", base.display()));
            std::fs::write(format!("{r}/etc/hostname"), format!("{n}\n")).unwrap();
            sh(&format!(
                "rm -rf {r}/etc/origin/master {r}/etc/etcd {r}/etc/origin/node/pods/*"
            ));
        }
        let (key, recipient) = age_key(dir);
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            members,
            key,
            recipient,
            moto: Moto::start(),
            script,
        };
        for i in 0..3 {
            cluster.start_member(i);
        }
        cluster.wait_healthy();
        cluster
    }

    pub fn host_root(&self, host: &str) -> PathBuf {
        self.dir.join("hosts").join(host)
    }

    pub fn start_member(&self, i: usize) {
        sh(&format!(
            "bash {} start {}",
            self.script.display(),
            self.members[i].root.display()
        ));
    }

    pub fn stop_member(&self, i: usize) {
        sh(&format!(
            "bash {} stop {}",
            self.script.display(),
            self.members[i].root.display()
        ));
    }

    /// etcdctl (v3) against every member with member 0's client certificate.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        let m = &self.members[0];
        let etc = m.root.join("etc/etcd");
        let endpoints: Vec<String> = self.members.iter().map(Member::client_url).collect();
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(endpoints.join(","))
            .arg("--cacert")
            .arg(etc.join("ca.crt"))
            .arg("--cert")
            .arg(etc.join("peer.crt"))
            .arg("--key")
            .arg(etc.join("peer.key"))
            .args(args)
            .output()
            .unwrap()
    }

    pub fn wait_healthy(&self) {
        let ok = wait_for(std::time::Duration::from_secs(60), || {
            self.etcdctl(&["endpoint", "health"]).status.success()
        });
        assert!(ok, "etcd cluster not healthy");
    }

    /// The inventory in the openshift-ansible 3.11 shape, plus `extra` lines.
    pub fn inventory(&self, dest: &str, extra_nodes: &str) -> PathBuf {
        let bin = env!("CARGO_BIN_EXE_ocpvault");
        let d = self.dir.display();
        let mut inv = format!(
            "[OSEv3:children]\nmasters\nnodes\netcd\n\n[all:vars]\nansible_user=root\n\
             openshift_deployment_type=openshift-enterprise\n\
             ansible_connection=local\nansible_python_interpreter={VENV}/bin/python\n\
             ocpvault_dest={dest}\nocpvault_binary={bin}\nocpvault_install_path={d}/bin/ocpvault\n\
             ocpvault_recipients=[\"{rcpt}\"]\nocpvault_identity={key}\n\
             ocpvault_snapshot_args=[\"--projects\",\"skip\",\"--packages\",\"skip\"]\n\
             ocpvault_restore_args=[\"--numeric-owner\"]\n\
             ocpvault_report_dir={d}/report\nocpvault_host_tmp={d}/hosttmp\n\
             ocpvault_etcd_stop_command=\"bash {script} stop {{{{ ocpvault_root }}}}\"\n\
             ocpvault_etcd_start_command=\"bash {script} start {{{{ ocpvault_root }}}}\"\n\n",
            rcpt = self.recipient,
            key = self.key.display(),
            script = self.script.display(),
        );
        let host = |h: &str, group: &str| {
            let r = self.host_root(h);
            format!(
                "{h} ocpvault_root={r} ocpvault_output={o} ocpvault_config_path={r}.config.toml openshift_node_group_name={group}\n",
                r = r.display(),
                o = self.dir.join("out").join(h).display(),
            )
        };
        inv.push_str("[masters]\n");
        for m in MASTERS {
            inv.push_str(&host(m, "node-config-master"));
        }
        inv.push_str("\n[etcd]\n");
        for m in MASTERS {
            inv.push_str(&host(m, "node-config-master"));
        }
        inv.push_str("\n[nodes]\n");
        for m in MASTERS {
            inv.push_str(&host(m, "node-config-master"));
        }
        inv.push_str(&host(NODES[0], "node-config-infra"));
        inv.push_str(&host(NODES[1], "node-config-compute"));
        inv.push_str(extra_nodes);
        std::fs::create_dir_all(self.dir.join("report")).unwrap();
        std::fs::create_dir_all(self.dir.join("hosttmp")).unwrap();
        let path = self.dir.join("hosts.ini");
        std::fs::write(&path, inv).unwrap();
        path
    }

    /// Runs a playbook of ansible/ with the moto credentials in the environment.
    pub fn playbook(&self, playbook: &str, inventory: &Path, extra: &[&str]) -> Output {
        let pb = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ansible")
            .join(playbook);
        let out = Command::new(Path::new(VENV).join("bin/ansible-playbook"))
            .arg("-i")
            .arg(inventory)
            .arg(pb)
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_LOCAL_TEMP", self.dir.join("ansible-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", self.dir.join("ansible-tmp"))
            .output()
            .expect("run ansible-playbook");
        let log = self.dir.join(format!("{playbook}.log"));
        let _ = std::fs::write(&log, [&out.stdout[..], &out.stderr[..]].concat());
        out
    }

    /// The ocpvault binary with the store's environment.
    pub fn ocpvault(&self, args: &[&str]) -> Output {
        bin()
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            let _ = Command::new("bash")
                .arg(&self.script)
                .arg("stop")
                .arg(&self.members[i].root)
                .output();
        }
    }
}

fn age_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("backup-key.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = stdout_ok(
        &Command::new("age-keygen")
            .arg("-y")
            .arg(&key)
            .output()
            .unwrap(),
    );
    (key, public.trim().to_string())
}

/// Both streams of a command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
