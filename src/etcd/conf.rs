//! Reading `/etc/etcd/etcd.conf` (a shell-style `KEY=value` file sourced by the etcd
//! unit and the static pod) and finding the client endpoint in the static pod
//! manifest the way the 3.11 guide does (`grep https etcd.yaml | cut -d/ -f3`).

use std::collections::BTreeMap;

/// The variables of an etcd.conf file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdConf {
    vars: BTreeMap<String, String>,
}

impl EtcdConf {
    /// Parses `KEY=value` lines. Blank lines, comments and `export ` prefixes are
    /// handled like the shell does for the simple files the installer writes; quotes
    /// around a value are removed; an unquoted value ends at ` #`.
    pub fn parse(text: &str) -> Self {
        let mut vars = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            vars.insert(key.to_string(), unquote(value.trim()));
        }
        Self { vars }
    }

    /// The value of `key`, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The URLs a client should use: `ETCD_LISTEN_CLIENT_URLS`, with wildcard
    /// listeners (0.0.0.0, [::]) replaced by `ETCD_ADVERTISE_CLIENT_URLS`; https first.
    pub fn client_urls(&self) -> Vec<String> {
        let listen = split_urls(self.get("ETCD_LISTEN_CLIENT_URLS"));
        let advertise = split_urls(self.get("ETCD_ADVERTISE_CLIENT_URLS"));
        let mut urls: Vec<String> = Vec::new();
        for url in listen {
            if is_wildcard(&url) {
                urls.extend(advertise.iter().cloned());
            } else {
                urls.push(url);
            }
        }
        if urls.is_empty() {
            urls = advertise;
        }
        let mut seen = std::collections::BTreeSet::new();
        urls.retain(|u| seen.insert(u.clone()));
        urls.sort_by_key(|u| !u.starts_with("https://"));
        urls
    }
}

fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q) {
            if let Some(end) = inner.find(q) {
                return inner[..end].to_string();
            }
        }
    }
    match value.find(" #") {
        Some(i) => value[..i].trim_end().to_string(),
        None => value.to_string(),
    }
}

fn split_urls(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_wildcard(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url);
    host.starts_with("0.0.0.0") || host.starts_with("[::]")
}

/// The `https://host:port` client URLs named in a static pod manifest, in order.
pub fn manifest_client_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("https://") {
        let tail = &rest[i + "https://".len()..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"',]}/".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        // The client port; peer URLs (2380) are not endpoints for a client.
        if !authority.is_empty() && !authority.ends_with(":2380") {
            let url = format!("https://{authority}");
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        rest = &tail[end..];
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "\
# etcd.conf written by openshift-ansible
ETCD_NAME=master-0.example.com
ETCD_LISTEN_CLIENT_URLS=https://192.168.55.8:2379
ETCD_DATA_DIR=/var/lib/etcd/
export ETCD_INITIAL_CLUSTER_TOKEN=\"etcd-cluster-1\"
ETCD_INITIAL_CLUSTER='master-0.example.com=https://192.168.55.8:2380'
ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt # installer default
ETCD_QUOTA=
not a variable
";

    #[test]
    fn parses_installer_conf() {
        let c = EtcdConf::parse(CONF);
        assert_eq!(c.get("ETCD_NAME"), Some("master-0.example.com"));
        assert_eq!(c.get("ETCD_INITIAL_CLUSTER_TOKEN"), Some("etcd-cluster-1"));
        assert_eq!(
            c.get("ETCD_INITIAL_CLUSTER"),
            Some("master-0.example.com=https://192.168.55.8:2380")
        );
        assert_eq!(c.get("ETCD_PEER_CERT_FILE"), Some("/etc/etcd/peer.crt"));
        assert_eq!(c.get("ETCD_QUOTA"), None);
        assert_eq!(c.client_urls(), vec!["https://192.168.55.8:2379"]);
    }

    #[test]
    fn wildcard_listeners_use_advertised_urls() {
        let c = EtcdConf::parse(
            "ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379,https://0.0.0.0:2379\n\
             ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.5:2379\n",
        );
        assert_eq!(
            c.client_urls(),
            vec!["https://10.0.0.5:2379", "http://127.0.0.1:2379"]
        );
    }

    #[test]
    fn finds_client_url_in_static_pod_manifest() {
        let yaml = r#"
    command: ["etcdctl", "--cert-file", "/etc/etcd/peer.crt", "-C", "https://192.168.55.8:2379", "cluster-health"]
    peer: https://192.168.55.8:2380
"#;
        assert_eq!(
            manifest_client_urls(yaml),
            vec!["https://192.168.55.8:2379"]
        );
        assert!(manifest_client_urls("no urls here").is_empty());
    }
}
