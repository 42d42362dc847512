//! The `packages` source: the installed rpm set, as the 3.11 guide's
//! `rpm -qa | sort | tee packages.txt` (section 4.1) but with epochs.
//!
//! Stores `/.ocpvault/packages/packages.json` (formats/packages-json.md) and
//! `/.ocpvault/packages/packages.txt`, byte-identical to `rpm -qa | LC_ALL=C sort`
//! run against the same root and database.
//!
//! Guarantees: the two files describe the same database state (the pair of queries is
//! repeated, up to three times, until both return the same number of packages); a host
//! without rpm or without an rpm database is recorded as skipped, not as an error,
//! unless the source was required; an rpm failure fails this source only, and the
//! rest of the snapshot is still written.

use crate::archive::{ArchiveError, SourceReport, SourceStatus, Store};
use crate::collect::add_generated_file;
use crate::packages::{PACKAGES_JSON, PACKAGES_TXT, Package, RpmError, RpmOptions};
use crate::packages::{sort_packages, to_json};

/// Whether the source runs, and whether its absence is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackagesMode {
    /// Run; a host without rpm or an rpm database is skipped.
    Auto,
    /// Run; a host without rpm or an rpm database fails the source.
    Require,
    /// Do not run.
    Skip,
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct PackagesOptions {
    pub mode: PackagesMode,
    pub rpm: RpmOptions,
    pub created: (i64, u32),
}

/// How many times the pair of rpm queries is tried while the database changes.
const QUERY_ATTEMPTS: usize = 3;

/// Runs rpm and stores the package list; returns the `packages` source report.
/// Only archive write errors are returned as errors.
pub fn collect_packages(
    store: &mut dyn Store,
    opts: &PackagesOptions,
) -> Result<SourceReport, ArchiveError> {
    let mut report = SourceReport::new("packages");
    if opts.mode == PackagesMode::Skip {
        return Ok(skipped(report, "turned off (--packages skip)".into()));
    }
    let details = &mut report.details;
    details.insert("rpm".into(), opts.rpm.rpm.display().to_string().into());
    details.insert("root".into(), opts.rpm.root.display().to_string().into());
    let result = opts.rpm.resolved().and_then(|rpm| {
        if let Some(db) = &rpm.dbpath {
            details.insert("dbpath".into(), db.display().to_string().into());
        }
        query(&rpm)
    });
    match result {
        Ok((packages, listing)) => {
            report.captured = packages.len() as u64;
            report
                .details
                .insert("packages".into(), packages.len().into());
            add_generated_file(
                store,
                "packages",
                PACKAGES_JSON,
                &mut &to_json(&packages)[..],
                opts.created,
            )?;
            add_generated_file(
                store,
                "packages",
                PACKAGES_TXT,
                &mut &listing[..],
                opts.created,
            )?;
            Ok(report)
        }
        Err(e) if e.is_unavailable() && opts.mode == PackagesMode::Auto => {
            Ok(skipped(report, e.to_string()))
        }
        Err(e) => {
            report.status = SourceStatus::Failed;
            report.details.insert("error".into(), e.to_string().into());
            Ok(report)
        }
    }
}

fn skipped(mut report: SourceReport, reason: String) -> SourceReport {
    report.status = SourceStatus::Skipped;
    report.details.insert("reason".into(), reason.into());
    report
}

/// The sorted structured list and the sorted plain listing, from one database state.
fn query(rpm: &RpmOptions) -> Result<(Vec<Package>, Vec<u8>), RpmError> {
    for _ in 0..QUERY_ATTEMPTS {
        let mut packages = rpm.query_packages()?;
        let (listing, lines) = rpm.query_listing()?;
        if lines == packages.len() {
            sort_packages(&mut packages);
            return Ok((packages, listing));
        }
    }
    Err(RpmError::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, ObjectId, PreparedObject};
    use std::path::PathBuf;

    /// A store that records entries; no package is ever stored in these tests.
    #[derive(Default)]
    struct NoStore {
        entries: Vec<Entry>,
    }

    impl Store for NoStore {
        fn prepare_object(&mut self, _: &mut dyn std::io::Read) -> std::io::Result<PreparedObject> {
            Err(std::io::Error::other("not expected"))
        }
        fn commit_object(&mut self, _: PreparedObject) -> Result<ObjectId, ArchiveError> {
            unreachable!("no object is prepared")
        }
        fn add_entry(&mut self, entry: Entry) {
            self.entries.push(entry);
        }
        fn add_source(&mut self, _: SourceReport) {}
    }

    fn options(mode: PackagesMode, rpm: &str, root: PathBuf) -> PackagesOptions {
        PackagesOptions {
            mode,
            rpm: RpmOptions {
                rpm: PathBuf::from(rpm),
                root,
                dbpath: Some(PathBuf::from("/var/lib/rpm")),
            },
            created: (0, 0),
        }
    }

    #[test]
    fn skip_mode_records_turned_off() {
        let mut store = NoStore::default();
        let opts = options(PackagesMode::Skip, "rpm", PathBuf::from("/"));
        let r = collect_packages(&mut store, &opts).unwrap();
        assert_eq!(r.status, SourceStatus::Skipped);
        assert_eq!(r.details["reason"], "turned off (--packages skip)");
        assert!(store.entries.is_empty());
    }

    #[test]
    fn no_database_is_skipped_in_auto_and_failed_when_required() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = NoStore::default();
        let want = format!("no rpm database at {}/var/lib/rpm", dir.path().display());
        let auto = options(PackagesMode::Auto, "rpm", dir.path().into());
        let r = collect_packages(&mut store, &auto).unwrap();
        assert_eq!(
            (r.status, r.details["reason"].as_str()),
            (SourceStatus::Skipped, Some(&*want))
        );
        assert!(!r.has_warnings());
        let require = options(PackagesMode::Require, "rpm", dir.path().into());
        let r = collect_packages(&mut store, &require).unwrap();
        assert_eq!(
            (r.status, r.details["error"].as_str()),
            (SourceStatus::Failed, Some(&*want))
        );
        assert!(r.has_warnings());
        assert!(store.entries.is_empty());
    }

    #[test]
    fn an_rpm_that_fails_fails_the_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/rpm")).unwrap();
        let mut store = NoStore::default();
        let opts = options(PackagesMode::Auto, "false", dir.path().into());
        let r = collect_packages(&mut store, &opts).unwrap();
        assert_eq!(r.status, SourceStatus::Failed);
        let err = r.details["error"].as_str().unwrap();
        assert!(err.starts_with("false --root "), "{err}");
        assert!(err.contains("failed (exit status: 1)"), "{err}");
    }
}
