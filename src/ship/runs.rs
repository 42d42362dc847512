//! Cluster runs at a destination: the run record `runs/<run_id>.json` that
//! `run seal` writes, the grouping `list` shows, and retention by whole runs.
//!
//! Guarantees: a record is written atomically (directory: temporary file, fsync,
//! rename; S3: one PUT); archives are grouped by the run id in their names, so
//! encrypted archives are grouped without a key; prune plans keep or delete a run as
//! one unit, and its record is deleted only after its last archive.

use super::{ArchiveName, Destination, RemoteArchive, Retention, ShipError, parse_archive_name};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Where run records live under a destination.
pub const RUNS_DIR: &str = "runs";
/// Largest run record read (a few hundred hosts fit in a fraction of this).
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024; // 1 MiB
const RECORD_FORMAT: &str = "ocpvault-run";
const RECORD_VERSION: u32 = 1;

/// The record of one sealed run: which hosts it holds, and when it was sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub format: String,
    pub version: u32,
    pub run_id: String,
    pub hosts: Vec<String>,
    /// RFC 3339 UTC.
    pub sealed: String,
}

impl RunRecord {
    /// A record for `hosts` (sorted, without duplicates).
    pub fn new(run_id: &str, hosts: &[String], sealed: DateTime<Utc>) -> Self {
        let hosts: BTreeSet<&String> = hosts.iter().collect();
        Self {
            format: RECORD_FORMAT.into(),
            version: RECORD_VERSION,
            run_id: run_id.into(),
            hosts: hosts.into_iter().cloned().collect(),
            sealed: sealed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Parses a record read from `key`; the run id must match the key's name.
    fn parse(bytes: &[u8], key: &str) -> Result<Self, String> {
        let r: Self = serde_json::from_slice(bytes).map_err(|e| format!("{key}: {e}"))?;
        if r.format != RECORD_FORMAT {
            return Err(format!("{key}: not a run record (format {:?})", r.format));
        }
        if r.version > RECORD_VERSION {
            return Err(format!(
                "{key}: run record version {} is newer than this ocpvault supports ({RECORD_VERSION})",
                r.version
            ));
        }
        if run_record_key(&r.run_id) != key {
            return Err(format!(
                "{key}: records run {:?}, not its own name",
                r.run_id
            ));
        }
        Ok(r)
    }
}

/// The record's key under a destination: `runs/<run_id>.json`.
pub fn run_record_key(run_id: &str) -> String {
    format!("{RUNS_DIR}/{run_id}.json")
}

/// Writes (or replaces) the record of its run, atomically.
pub fn write_run_record(dest: &dyn Destination, record: &RunRecord) -> Result<(), ShipError> {
    if !crate::archive::is_valid_run_id(&record.run_id) {
        return Err(ShipError::Dest {
            dest: dest.describe(),
            why: format!("{:?} is not a valid run id", record.run_id),
        });
    }
    let mut json = serde_json::to_vec_pretty(record).map_err(|e| ShipError::Dest {
        dest: dest.describe(),
        why: e.to_string(),
    })?;
    json.push(b'\n');
    dest.put_small(&run_record_key(&record.run_id), &json)
}

/// Every run record at `dest`, and one message per record that could not be used.
pub fn read_run_records(
    dest: &dyn Destination,
) -> Result<(Vec<RunRecord>, Vec<String>), ShipError> {
    let (mut records, mut problems) = (Vec::new(), Vec::new());
    for name in dest.list_small(RUNS_DIR)? {
        let Some(id) = name.strip_suffix(".json") else {
            continue;
        };
        if !crate::archive::is_valid_run_id(id) {
            continue;
        }
        let key = run_record_key(id);
        match dest.get_small(&key, MAX_RECORD_BYTES)? {
            Some(bytes) => match RunRecord::parse(&bytes, &key) {
                Ok(r) => records.push(r),
                Err(why) => problems.push(why),
            },
            None => {}
        }
    }
    Ok((records, problems))
}

/// One run as `list` shows it.
#[derive(Debug, Clone)]
pub struct RunGroup {
    pub run_id: String,
    pub record: Option<RunRecord>,
    /// The run's archives, sorted by host, newest first.
    pub archives: Vec<(ArchiveName, RemoteArchive)>,
    /// Hosts that have an archive of the run.
    pub hosts: Vec<String>,
    /// Recorded hosts without an archive of the run.
    pub missing: Vec<String>,
}

impl RunGroup {
    /// Sealed, and every recorded host has an archive of the run.
    pub fn is_complete(&self) -> bool {
        self.record.is_some() && self.missing.is_empty() && !self.archives.is_empty()
    }

    /// The time of the run's newest archive (the run's time for retention).
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        self.archives.iter().map(|(n, _)| n.time).max()
    }
}

/// Splits `archives` into runs (with their records; a record whose run has no
/// archive is a run too) and the archives without a run id. Runs come newest first.
pub fn group_runs(
    archives: &[RemoteArchive],
    records: &[RunRecord],
) -> (Vec<RunGroup>, Vec<RemoteArchive>) {
    let mut by_run: BTreeMap<String, Vec<(ArchiveName, RemoteArchive)>> = BTreeMap::new();
    let mut loose = Vec::new();
    for a in archives {
        match parse_archive_name(&a.name) {
            Some(n) => match n.run_id.clone() {
                Some(id) => by_run.entry(id).or_default().push((n, a.clone())),
                None => loose.push(a.clone()),
            },
            None => {}
        }
    }
    for r in records {
        by_run.entry(r.run_id.clone()).or_default();
    }
    let mut runs: Vec<RunGroup> = by_run
        .into_iter()
        .map(|(run_id, mut archives)| {
            archives.sort_by(|(a, _), (b, _)| {
                a.host
                    .cmp(&b.host)
                    .then(b.time.cmp(&a.time))
                    .then(b.seq.cmp(&a.seq))
            });
            let hosts: BTreeSet<String> = archives.iter().map(|(n, _)| n.host.clone()).collect();
            let record = records.iter().find(|r| r.run_id == run_id).cloned();
            let missing = record
                .as_ref()
                .map(|r| {
                    r.hosts
                        .iter()
                        .filter(|h| !hosts.contains(*h))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            RunGroup {
                run_id,
                record,
                archives,
                hosts: hosts.into_iter().collect(),
                missing,
            }
        })
        .collect();
    runs.sort_by(|a, b| b.newest().cmp(&a.newest()).then(a.run_id.cmp(&b.run_id)));
    (runs, loose)
}

/// What prune keeps and deletes: archive names, and whole runs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PrunePlan {
    pub keep: Vec<String>,
    /// Archives to delete, run by run (a run's archives next to each other).
    pub delete: Vec<String>,
    pub runs_kept: Vec<String>,
    pub runs_deleted: Vec<String>,
}

/// Plans retention over whole runs and, for archives without a run id, per host
/// ([`super::plan_prune`]). A run is one unit keyed by its newest archive's time:
/// the newest run and the newest complete run are always kept, then `policy` picks
/// runs as it picks archives of one host. A record whose run has no archive left (a
/// prune stopped between the last archive and the record) is deleted.
pub fn plan_prune_runs(runs: &[RunGroup], loose: &[RemoteArchive], policy: Retention) -> PrunePlan {
    let (keep, delete) = super::plan_prune(loose, policy);
    let mut plan = PrunePlan {
        keep,
        delete,
        ..Default::default()
    };
    // `runs` is newest first; record-only runs (no time) sort last.
    let units: Vec<&RunGroup> = runs.iter().filter(|r| !r.archives.is_empty()).collect();
    let mut kept: BTreeSet<usize> = BTreeSet::new();
    if !units.is_empty() {
        kept.insert(0);
    }
    if let Some(i) = units.iter().position(|r| r.is_complete()) {
        kept.insert(i);
    }
    kept.extend(super::retained_indices(
        &units.iter().filter_map(|r| r.newest()).collect::<Vec<_>>(),
        policy,
    ));
    for (i, run) in units.iter().enumerate() {
        let names = run.archives.iter().map(|(n, _)| n.file_name.clone());
        if kept.contains(&i) {
            plan.keep.extend(names);
            plan.runs_kept.push(run.run_id.clone());
        } else {
            plan.delete.extend(names);
            plan.runs_deleted.push(run.run_id.clone());
        }
    }
    for run in runs.iter().filter(|r| r.archives.is_empty()) {
        plan.runs_deleted.push(run.run_id.clone());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str) -> RemoteArchive {
        RemoteArchive {
            name: name.into(),
            size: 1,
            sha256: None,
            encrypted: false,
        }
    }

    fn record(id: &str, hosts: &[&str]) -> RunRecord {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        RunRecord::new(id, &hosts, Utc::now())
    }

    #[test]
    fn runs_group_by_name_and_know_what_is_missing() {
        let list: Vec<_> = [
            "m0@r1-20261120T010000Z.ocpvault",
            "n1@r1-20261120T010500Z.ocpvault.age",
            "m0@r2-20261121T010000Z.ocpvault",
            "m0@r3-20261122T010000Z.ocpvault",
            "m0-20261101T000000Z.ocpvault",
            "notes.txt",
        ]
        .iter()
        .map(|n| remote(n))
        .collect();
        let records = [record("r1", &["n1", "m0"]), record("r2", &["m0", "n1"])];
        let (runs, loose) = group_runs(&list, &records);
        let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["r3", "r2", "r1"], "newest first");
        assert!(runs[2].is_complete() && runs[2].hosts == ["m0", "n1"]);
        assert!(!runs[1].is_complete());
        assert_eq!(runs[1].missing, ["n1"]);
        assert!(!runs[0].is_complete() && runs[0].record.is_none());
        assert_eq!(loose.len(), 1);
    }

    #[test]
    fn prune_keeps_or_deletes_whole_runs() {
        // r1 spans two days; a per-host daily policy would split it.
        let list: Vec<_> = [
            "m0@r1-20261120T235900Z.ocpvault",
            "n1@r1-20261121T000100Z.ocpvault",
            "m0@r2-20261122T010000Z.ocpvault",
            "n1@r2-20261122T010100Z.ocpvault",
            "m0@r3-20261123T010000Z.ocpvault",
        ]
        .iter()
        .map(|n| remote(n))
        .collect();
        let records = [
            record("r1", &["m0", "n1"]),
            record("r2", &["m0", "n1"]),
            record("gone", &["m0"]),
        ];
        let (runs, loose) = group_runs(&list, &records);
        let policy = Retention {
            keep_last: 1,
            ..Default::default()
        };
        let plan = plan_prune_runs(&runs, &loose, policy);
        // r3 is newest (unsealed), r2 the newest complete run: both stay.
        assert_eq!(plan.runs_kept, ["r3", "r2"]);
        assert_eq!(plan.runs_deleted, ["r1", "gone"]);
        assert_eq!(
            plan.delete,
            [
                "m0@r1-20261120T235900Z.ocpvault",
                "n1@r1-20261121T000100Z.ocpvault"
            ]
        );
        let policy = Retention {
            keep_daily: 3,
            ..Default::default()
        };
        let plan = plan_prune_runs(&runs, &loose, policy);
        assert_eq!(plan.runs_kept, ["r3", "r2", "r1"]);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn records_must_match_their_key() {
        let r = record("r1", &["b", "a", "b"]);
        assert_eq!(r.hosts, ["a", "b"]);
        let bytes = serde_json::to_vec(&r).unwrap();
        assert!(RunRecord::parse(&bytes, "runs/r1.json").is_ok());
        assert!(RunRecord::parse(&bytes, "runs/r2.json").is_err());
        assert!(RunRecord::parse(b"{}", "runs/r1.json").is_err());
    }
}
