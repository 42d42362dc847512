//! `etcd status`: what the archive recorded about etcd, and a check of the stored
//! snapshot: its archive SHA-256 and, for live snapshots, etcd's integrity trailer.
//! The JSON form is specified in formats/etcd-json.md.

use crate::archive::ArchiveReader;
use crate::etcd::SOURCE_NAME;
use crate::etcd::record::{CaptureKind, EtcdDetails, SnapshotRecord};
use crate::etcd::trailer::TrailerChecker;
use std::io::Read;

/// The report of `etcd status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EtcdStatusReport {
    pub archive: String,
    /// The etcd source's status: captured, partial, skipped, failed, or absent when
    /// the archive has no etcd source.
    pub source: String,
    /// True when a snapshot is stored and every check passed.
    pub ok: bool,
    /// The source's details as recorded (formats/etcd-json.md).
    pub details: EtcdDetails,
    /// The check of the stored snapshot, when there is one.
    pub check: Option<SnapshotCheck>,
}

/// The result of reading the stored snapshot back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotCheck {
    pub path: String,
    pub object: String,
    pub size: u64,
    /// `ok` or `failed`: the object's SHA-256 in the archive.
    pub archive_hash: &'static str,
    /// `ok`, `failed`, or `absent` (data-dir captures have none).
    pub trailer: &'static str,
    /// The db size the trailer check found (bytes before the trailer).
    pub db_size: Option<u64>,
    /// What failed, when something did.
    pub error: Option<String>,
}

/// Reads the recorded details and checks the stored snapshot.
pub fn inspect(reader: &mut ArchiveReader) -> EtcdStatusReport {
    let archive = reader.path().display().to_string();
    let Some(report) = reader.manifest().source(SOURCE_NAME).cloned() else {
        return EtcdStatusReport {
            archive,
            source: "absent".into(),
            ok: false,
            details: EtcdDetails::default(),
            check: None,
        };
    };
    let details = EtcdDetails::from_report(&report).unwrap_or_else(|e| EtcdDetails {
        error: Some(format!("unreadable etcd details: {e}")),
        ..Default::default()
    });
    let check = details.snapshot.as_ref().map(|s| {
        let live = details.capture != Some(CaptureKind::DataDir);
        check_snapshot(reader, s, live)
    });
    let ok = check
        .as_ref()
        .is_some_and(|c| c.error.is_none() && c.archive_hash == "ok");
    EtcdStatusReport {
        archive,
        source: report.status.as_str().into(),
        ok,
        details,
        check,
    }
}

fn check_snapshot(reader: &mut ArchiveReader, s: &SnapshotRecord, live: bool) -> SnapshotCheck {
    let mut check = SnapshotCheck {
        path: s.path.clone(),
        object: s.object.to_hex(),
        size: s.size,
        archive_hash: "failed",
        trailer: if live { "failed" } else { "absent" },
        db_size: None,
        error: None,
    };
    let mut trailer = TrailerChecker::new();
    let read = reader
        .open_object(&s.object)
        .map_err(|e| e.to_string())
        .and_then(|mut obj| {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                match obj.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => trailer.update(&buf[..n]),
                    Err(e) => return Err(format!("{}: {e}", s.path)),
                }
            }
        });
    if let Err(e) = read {
        check.error = Some(e);
        return check;
    }
    check.archive_hash = "ok";
    if !live {
        return check;
    }
    match trailer.finish() {
        Ok(t) => {
            let recorded = s.trailer_sha256.as_deref();
            if recorded.is_some_and(|r| r != hex::encode(t.sha256)) {
                check.error = Some(format!(
                    "{}: trailer sha256 differs from the one recorded at capture",
                    s.path
                ));
            } else {
                check.trailer = "ok";
                check.db_size = Some(t.db_size);
            }
        }
        Err(e) => check.error = Some(format!("{}: {e}", s.path)),
    }
    check
}
