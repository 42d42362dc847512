//! Everything etcd, both directions: capturing a member's data (`capture`: a live
//! v3 snapshot over TLS, or an offline copy of the data directory), reading it back
//! (`record`, `trailer`, `conf`), and restoring it (`restore`: the guide's
//! single- and multi-member etcd restore). The reserved archive paths, the
//! `etcd.conf` reader, the snapshot integrity trailer and the schema of the source
//! report's `details` live here too.
//!
//! Imports: the archive library and `collect` (the source helpers); never the CLI.

pub mod bbolt;
pub mod capture;
pub mod conf;
pub mod index;
pub mod mvcc;
pub mod object;
pub mod proto;
pub mod record;
pub mod restore;
pub mod trailer;
pub mod values;

/// Where a live snapshot is stored: one object, byte for byte what
/// `etcdctl snapshot save` writes, integrity trailer included.
pub const SNAPSHOT_PATH: &str = "/.ocpvault/etcd/snapshot.db";

/// Where an offline data-dir capture is stored; `member/snap/db` and the v2 store
/// (`member/snap/*.snap`, `member/wal/*`) keep their relative paths below it.
pub const DATA_DIR_PREFIX: &str = "/.ocpvault/etcd/data-dir";

/// The archive path of the db of a data-dir capture.
pub const DATA_DIR_DB_PATH: &str = "/.ocpvault/etcd/data-dir/member/snap/db";

/// The etcd configuration file of an RPM-installed or static-pod etcd.
pub const ETCD_CONF_PATH: &str = "/etc/etcd/etcd.conf";

/// The static pod manifest of etcd on an OpenShift 3.10+ master.
pub const STATIC_POD_MANIFEST: &str = "/etc/origin/node/pods/etcd.yaml";

/// The data directory etcd uses when etcd.conf does not say.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/etcd";

/// The source name in the manifest.
pub const SOURCE_NAME: &str = "etcd";
