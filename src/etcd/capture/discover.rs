//! Where etcd is and how to reach it: `<root>/etc/etcd/etcd.conf` (client URLs, the
//! peer certificate the guide uses, the trusted CA), else the static pod manifest,
//! else only flags. Flags override what was found, one by one.

use super::EtcdOptions;
use crate::etcd::conf::{EtcdConf, manifest_client_urls};
use crate::etcd::record::{CaptureKind, EtcdDetails};
use crate::etcd::{DEFAULT_DATA_DIR, ETCD_CONF_PATH, STATIC_POD_MANIFEST};
use std::path::{Path, PathBuf};

/// The certificate the guide's `etcdctl3` alias uses when etcd.conf does not say.
const DEFAULT_CA: &str = "/etc/etcd/ca.crt";
const DEFAULT_CERT: &str = "/etc/etcd/peer.crt";
const DEFAULT_KEY: &str = "/etc/etcd/peer.key";

/// A member to snapshot.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the report records about the attempt (settings and their origin).
    pub details: EtcdDetails,
    pub endpoints: Vec<String>,
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The member's data directory as configured (`ETCD_DATA_DIR`).
    pub data_dir: String,
    /// The same directory under the root, to record its owner and label.
    pub data_dir_on_host: PathBuf,
}

/// The outcome of discovery.
#[derive(Debug)]
pub enum Discovery {
    /// Nothing says this host runs etcd; the reason for the report.
    NotConfigured(String),
    Found(Box<Target>),
}

/// Discovery failed: what was found so far, and why.
#[derive(Debug)]
pub struct DiscoveryError {
    pub details: Box<EtcdDetails>,
    pub error: String,
}

/// A path from the host's configuration, read under the root.
pub fn under_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Finds the member to snapshot. An error carries what was found so far.
pub fn discover(opts: &EtcdOptions) -> Result<Discovery, DiscoveryError> {
    let conf_path = under_root(&opts.root, ETCD_CONF_PATH);
    let pod_path = under_root(&opts.root, STATIC_POD_MANIFEST);
    let mut found = if conf_path.exists() {
        from_conf(opts, &conf_path)?
    } else if pod_path.exists() {
        from_manifest(opts, &pod_path)?
    } else if !opts.endpoints.is_empty() {
        Found::flags_only()
    } else {
        return Ok(Discovery::NotConfigured(format!(
            "no etcd configuration ({ETCD_CONF_PATH} and {STATIC_POD_MANIFEST} not found under {})",
            opts.root.display()
        )));
    };
    found.apply_flags(opts);
    let details = EtcdDetails {
        capture: Some(CaptureKind::Snapshot),
        config: Some(found.origin.clone()),
        endpoints: found.endpoints.clone(),
        cacert: found.cacert.as_ref().map(|p| p.display().to_string()),
        cert: found.cert.as_ref().map(|p| p.display().to_string()),
        key: found.key.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    if found.endpoints.is_empty() {
        let error = format!(
            "{} names no client URL (ETCD_LISTEN_CLIENT_URLS); pass --etcd-endpoints",
            found.origin
        );
        return Err(DiscoveryError {
            details: Box::new(details),
            error,
        });
    }
    let data_dir = found.data_dir.trim_end_matches('/').to_string();
    Ok(Discovery::Found(Box::new(Target {
        details,
        endpoints: found.endpoints,
        cacert: found.cacert,
        cert: found.cert,
        key: found.key,
        data_dir_on_host: under_root(&opts.root, &data_dir),
        data_dir,
    })))
}

struct Found {
    origin: String,
    endpoints: Vec<String>,
    cacert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    data_dir: String,
}

impl Found {
    fn flags_only() -> Self {
        Self {
            origin: "--etcd-endpoints".into(),
            endpoints: Vec::new(),
            cacert: None,
            cert: None,
            key: None,
            data_dir: DEFAULT_DATA_DIR.into(),
        }
    }

    fn apply_flags(&mut self, opts: &EtcdOptions) {
        if !opts.endpoints.is_empty() {
            self.endpoints = opts.endpoints.clone();
        }
        for (slot, flag) in [
            (&mut self.cacert, &opts.cacert),
            (&mut self.cert, &opts.cert),
            (&mut self.key, &opts.key),
        ] {
            if let Some(path) = flag {
                *slot = Some(path.clone());
            }
        }
    }
}

fn read_text(path: &Path) -> Result<String, DiscoveryError> {
    std::fs::read_to_string(path).map_err(|e| {
        let details = EtcdDetails {
            config: Some(path.display().to_string()),
            ..Default::default()
        };
        DiscoveryError {
            details: Box::new(details),
            error: format!("cannot read {}: {e}", path.display()),
        }
    })
}

fn from_conf(opts: &EtcdOptions, path: &Path) -> Result<Found, DiscoveryError> {
    let conf = EtcdConf::parse(&read_text(path)?);
    let file = |key: &str, default: Option<&str>| {
        conf.get(key).or(default).map(|p| under_root(&opts.root, p))
    };
    Ok(Found {
        origin: path.display().to_string(),
        endpoints: conf.client_urls(),
        cacert: file("ETCD_TRUSTED_CA_FILE", Some(DEFAULT_CA)),
        cert: file("ETCD_PEER_CERT_FILE", None),
        key: file("ETCD_PEER_KEY_FILE", None),
        data_dir: conf
            .get("ETCD_DATA_DIR")
            .unwrap_or(DEFAULT_DATA_DIR)
            .to_string(),
    })
}

fn from_manifest(opts: &EtcdOptions, path: &Path) -> Result<Found, DiscoveryError> {
    let text = read_text(path)?;
    Ok(Found {
        origin: path.display().to_string(),
        endpoints: manifest_client_urls(&text),
        cacert: Some(under_root(&opts.root, DEFAULT_CA)),
        cert: Some(under_root(&opts.root, DEFAULT_CERT)),
        key: Some(under_root(&opts.root, DEFAULT_KEY)),
        data_dir: DEFAULT_DATA_DIR.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{EtcdMode, Timeouts};
    use super::*;

    fn opts(root: &Path) -> EtcdOptions {
        EtcdOptions {
            mode: EtcdMode::Auto,
            root: root.to_path_buf(),
            endpoints: Vec::new(),
            cacert: None,
            cert: None,
            key: None,
            data_dir: None,
            created: (0, 0),
            timeouts: Timeouts::default(),
        }
    }

    fn write(root: &Path, path: &str, text: &str) {
        let p = under_root(root, path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn nothing_configured_is_a_skip_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        match discover(&opts(dir.path())).unwrap() {
            Discovery::NotConfigured(r) => assert!(r.starts_with("no etcd configuration")),
            Discovery::Found(t) => panic!("found {t:?}"),
        }
    }

    #[test]
    fn etcd_conf_gives_urls_and_peer_certificates_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            ETCD_CONF_PATH,
            "ETCD_LISTEN_CLIENT_URLS=https://10.0.0.8:2379\nETCD_PEER_CERT_FILE=/etc/etcd/peer.crt\n\
             ETCD_PEER_KEY_FILE=/etc/etcd/peer.key\nETCD_DATA_DIR=/var/lib/etcd/\n",
        );
        let Discovery::Found(t) = discover(&opts(dir.path())).unwrap() else {
            panic!("not found")
        };
        assert_eq!(t.endpoints, vec!["https://10.0.0.8:2379"]);
        assert_eq!(t.cacert, Some(dir.path().join("etc/etcd/ca.crt")));
        assert_eq!(t.cert, Some(dir.path().join("etc/etcd/peer.crt")));
        assert_eq!(t.data_dir, "/var/lib/etcd");
    }

    #[test]
    fn flags_override_and_a_conf_without_urls_fails() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ETCD_CONF_PATH, "ETCD_NAME=m0\n");
        let err = discover(&opts(dir.path())).unwrap_err();
        assert!(err.error.contains("names no client URL"), "{}", err.error);
        assert!(err.details.config.unwrap().ends_with("etc/etcd/etcd.conf"));
        let mut o = opts(dir.path());
        o.endpoints = vec!["https://127.0.0.1:2379".into()];
        o.key = Some("/k.key".into());
        let Discovery::Found(t) = discover(&o).unwrap() else {
            panic!("not found")
        };
        assert_eq!(t.endpoints, o.endpoints);
        assert_eq!(t.key, Some(PathBuf::from("/k.key")));
    }

    #[test]
    fn static_pod_manifest_alone_is_enough() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            STATIC_POD_MANIFEST,
            "command: [\"etcdctl\", \"-C\", \"https://192.168.55.8:2379\"]\n",
        );
        let Discovery::Found(t) = discover(&opts(dir.path())).unwrap() else {
            panic!("not found")
        };
        assert_eq!(t.endpoints, vec!["https://192.168.55.8:2379"]);
        assert_eq!(t.key, Some(dir.path().join("etc/etcd/peer.key")));
    }
}
