//! Finding `added` paths: walks each path the `files` source captured (its
//! `details.paths`) and reports what is on disk but not in the archive. Paths the
//! snapshot skipped for a reason other than "missing" (excluded, permission denied,
//! changed while read, unsupported type) are not reported, nor anything under them:
//! their absence from the archive is not drift.

use super::{Change, DiffOptions, DiffReport, host_path, is_selected, is_under};
use crate::archive::{Entry, Manifest};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Reports every selected path on disk under a captured path that the archive lacks.
pub(super) fn find_added(
    manifest: &Manifest,
    entries: &BTreeMap<&[u8], &Entry>,
    opts: &DiffOptions,
    report: &mut DiffReport,
) {
    let Some(files) = manifest.source("files") else {
        return;
    };
    let captured: Vec<String> = files
        .details
        .get("paths")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ignored: Vec<&[u8]> = files
        .skipped
        .iter()
        .filter(|s| s.reason != "missing")
        .map(|s| s.path.as_bytes())
        .collect();
    let mut seen = BTreeSet::new();
    for top in walk_tops(&captured, &opts.paths) {
        let walker = walkdir::WalkDir::new(host_path(&opts.root, top.as_bytes()))
            .follow_links(false)
            .sort_by_file_name();
        let mut it = walker.into_iter();
        while let Some(next) = it.next() {
            let dent = match next {
                Ok(d) => d,
                Err(e) => {
                    if let Some(p) = e.path().filter(|_| !is_not_found(&e)) {
                        report.error(&archive_path(&opts.root, p), e);
                    }
                    continue;
                }
            };
            let apath = archive_path(&opts.root, dent.path());
            if ignored.iter().any(|i| is_under(&apath, i)) {
                if dent.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            if !entries.contains_key(apath.as_slice()) && seen.insert(apath.clone()) {
                let kind = super::disk_type(dent.file_type());
                report.push(Change::Added, &apath, None, Some(kind.into()));
            }
        }
    }
}

fn is_not_found(e: &walkdir::Error) -> bool {
    e.io_error()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
}

/// The paths to walk: each captured path that the selection covers whole, and each
/// selected path that lies inside a captured path.
fn walk_tops(captured: &[String], selection: &[String]) -> Vec<String> {
    let mut tops = BTreeSet::new();
    for c in captured {
        if is_selected(c.as_bytes(), selection) {
            tops.insert(c.clone());
            continue;
        }
        for s in selection {
            let s = s.trim_end_matches('/');
            if is_under(s.as_bytes(), c.as_bytes()) {
                tops.insert(s.to_string());
            }
        }
    }
    tops.into_iter().collect()
}

/// `/` plus the path relative to `root`.
fn archive_path(root: &Path, host: &Path) -> Vec<u8> {
    let rel = host.strip_prefix(root).unwrap_or(host);
    let mut out = b"/".to_vec();
    out.extend_from_slice(rel.as_os_str().as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tops_follow_the_selection() {
        let captured = vec!["/etc/origin".to_string(), "/etc/etcd".to_string()];
        assert_eq!(
            walk_tops(&captured, &[]),
            captured.iter().rev().cloned().collect::<Vec<_>>()
        );
        assert_eq!(walk_tops(&captured, &["/etc".into()]).len(), 2);
        assert_eq!(
            walk_tops(&captured, &["/etc/origin/master/".into()]),
            vec!["/etc/origin/master".to_string()]
        );
        assert!(walk_tops(&captured, &["/var".into()]).is_empty());
    }

    #[test]
    fn archive_paths_are_rooted() {
        let p = archive_path(Path::new("/tmp/r"), Path::new("/tmp/r/etc/origin"));
        assert_eq!(p, b"/etc/origin");
    }
}
