//! The `details` of the etcd source report (formats/etcd-json.md): what was captured,
//! from where, the endpoint's status and the member list. Member and cluster ids are
//! 16-digit lowercase hex, as `etcdctl member list` shows them.

use crate::archive::{ObjectId, SourceReport};
use serde::{Deserialize, Serialize};

/// How the etcd data was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureKind {
    /// A live v3 snapshot over the Maintenance API, with etcd's hash trailer.
    Snapshot,
    /// Files copied from a stopped member's data directory; the db has no trailer.
    DataDir,
}

impl CaptureKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::DataDir => "data-dir",
        }
    }
}

/// The Maintenance Status of the endpoint the snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatus {
    pub endpoint: String,
    pub version: String,
    pub db_size: u64,
    pub revision: i64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub leader: String,
    pub member_id: String,
    pub cluster_id: String,
    pub is_learner: bool,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One member of the cluster, as the member list reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// The stored db or snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// Archive path of the entry.
    pub path: String,
    pub object: ObjectId,
    /// Bytes stored, trailer included.
    pub size: u64,
    /// The SHA-256 in etcd's trailer (snapshot captures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailer_sha256: Option<String>,
}

/// Owner, mode and SELinux label of the member's data directory, for restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataDirRecord {
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
    pub group: Option<String>,
    pub mode: String,
    pub selinux: Option<String>,
}

/// Everything the etcd source records in its report's `details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureKind>,
    /// Where the connection settings came from (a file under the root, or flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EndpointStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<DataDirRecord>,
    /// Archive paths holding cluster secrets (the snapshot holds every Secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_files: Vec<String>,
    /// Why the source was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the source failed: endpoint, certificate paths and the server's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl EtcdDetails {
    /// The JSON object stored as the report's `details`.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Reads the details back from a report; unknown fields are ignored.
    pub fn from_report(report: &SourceReport) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::Value::Object(report.details.clone()))
    }
}

/// An id as etcdctl shows it.
pub fn hex_id(id: u64) -> String {
    format!("{id:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_through_a_report() {
        let d = EtcdDetails {
            capture: Some(CaptureKind::DataDir),
            endpoints: vec!["https://10.0.0.1:2379".into()],
            error: Some("boom".into()),
            ..Default::default()
        };
        let mut report = SourceReport::new("etcd");
        report.details = d.to_map();
        assert_eq!(report.details["capture"], "data-dir");
        assert!(!report.details.contains_key("status"));
        assert_eq!(EtcdDetails::from_report(&report).unwrap(), d);
        assert_eq!(hex_id(0x8e9e05c52164694d), "8e9e05c52164694d");
        assert_eq!(hex_id(1), "0000000000000001");
    }
}
