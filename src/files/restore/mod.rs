//! The verifying restorer: replays any part of an archive onto the host or under a
//! target directory, as select -> plan -> apply.
//!
//! Guarantees: the reader refused at open any manifest that breaks the format rules;
//! the plan (`plan`) is computed once and is what `--dry-run` prints and the real run
//! executes; no operation ever follows a symlink (every node is named relative to a
//! directory opened component by component with O_NOFOLLOW, see `dirs` and `paths`);
//! file contents are hash-checked in a temporary file in the destination directory
//! and only then renamed into place, so a bad object never replaces a good file and
//! leaves nothing behind; an existing node that differs is kept as
//! `<name>.ocpvault-old` unless `overwrite`; a hard link is made only to a file this
//! run wrote, and metadata is never applied to an inode that names outside the
//! selection share; each file is read back through its descriptor and hashed again
//! as it is written, and after the rename its name must be that inode (`pipeline`).

mod apply;
pub mod dirs;
pub mod meta;
pub mod paths;
mod pipeline;
pub mod plan;

use crate::accounts::Accounts;
use crate::archive::{ArchiveReader, EntryType, ObjectId, RESERVED_PREFIX};
use meta::MetaOptions;
use plan::{Step, StepKind};
use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// What to restore and how.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Archive paths (files or subtrees); empty means every host file. Overlapping
    /// and repeated paths are fine.
    pub paths: Vec<String>,
    /// Directory to restore under; None restores in place (to `/`).
    pub target: Option<PathBuf>,
    pub dry_run: bool,
    pub numeric_owner: bool,
    pub no_xattrs: bool,
    pub overwrite: bool,
    pub strict: bool,
    /// Read and hash-check every selected object before writing anything.
    pub verify_first: bool,
}

/// What happens (or, in a dry run, would happen) to one entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Action {
    /// The archive path.
    pub path: String,
    /// The host path written.
    pub dest: String,
    /// create, replace, update, unchanged, error
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A metadata step that needs privileges this run does not have.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetaWarning {
    pub path: String,
    pub what: String,
    pub error: String,
}

/// An entry restored with privileges attached: setuid/setgid bits, file
/// capabilities, or a device node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Privileged {
    /// The archive path.
    pub path: String,
    /// The host path written.
    pub dest: String,
    pub why: String,
}

/// The outcome of a restore.
#[derive(Debug, Default, serde::Serialize)]
pub struct RestoreReport {
    pub target: String,
    pub dry_run: bool,
    pub actions: Vec<Action>,
    pub warnings: Vec<String>,
    /// Owners, labels or other xattrs that could not be set for lack of privilege
    /// (warnings unless --strict).
    pub metadata_warnings: Vec<MetaWarning>,
    pub privileged: Vec<Privileged>,
    pub errors: Vec<String>,
    pub files_written: u64,
    pub bytes_written: u64,
}

impl RestoreReport {
    /// True when the run should exit 1.
    pub fn has_warnings(&self) -> bool {
        !self.warnings.is_empty() || !self.metadata_warnings.is_empty()
    }
}

/// Errors that stop a restore before it writes anything.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}: not in the archive")]
    NotInArchive(String),
    #[error(
        "{0}: paths under {RESERVED_PREFIX} are not host files; restore them with --target DIR"
    )]
    ReservedInPlace(String),
    #[error("{0}: the target exists and is not a directory")]
    TargetNotDir(String),
    #[error("{count} damaged object(s), nothing restored; first: {first}")]
    Damaged { count: usize, first: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Restores the selected entries of `reader`.
pub fn restore(
    reader: &mut ArchiveReader,
    opts: &RestoreOptions,
) -> Result<RestoreReport, RestoreError> {
    restore_with_progress(reader, opts, &crate::progress::NoProgress)
}

/// Like [`restore`], reporting each entry (and its size) to `progress` as it is done.
pub fn restore_with_progress(
    reader: &mut ArchiveReader,
    opts: &RestoreOptions,
    progress: &dyn crate::progress::Progress,
) -> Result<RestoreReport, RestoreError> {
    let selected = select(reader, opts)?;
    let target = opts.target.clone().unwrap_or_else(|| PathBuf::from("/"));
    let io_err = |source| RestoreError::Io {
        path: target.display().to_string(),
        source,
    };
    match std::fs::metadata(&target) {
        Ok(m) if !m.is_dir() => {
            return Err(RestoreError::TargetNotDir(target.display().to_string()));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound && !opts.dry_run => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&target)
                .map_err(io_err)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    if opts.verify_first {
        check_objects(reader, &selected)?;
    }
    let accounts = Accounts::host();
    let meta_opts = MetaOptions {
        numeric_owner: opts.numeric_owner,
        no_xattrs: opts.no_xattrs,
    };
    let mut dirs = if target.is_dir() {
        Some(dirs::Dirs::new(
            dirs::open_target(&target).map_err(io_err)?,
            &target,
        ))
    } else {
        None
    };
    let steps = plan::plan(reader, &selected, dirs.as_mut(), &accounts, meta_opts);
    let mut report = RestoreReport {
        target: target.display().to_string(),
        dry_run: opts.dry_run,
        privileged: privileged(reader, &selected, &target),
        ..Default::default()
    };
    match dirs {
        Some(dirs) if !opts.dry_run => {
            let targets = link_targets(reader, &steps);
            let mut applier =
                apply::Applier::new(dirs, opts, &accounts, meta_opts, targets).map_err(io_err)?;
            execute(reader, &steps, &mut applier, &mut report, progress, &target);
        }
        _ => {
            for s in &steps {
                report.actions.push(action(reader, s, &target, None));
                progress.item(reader.manifest().entries[s.index].size);
            }
            collect_refusals(&mut report);
        }
    }
    Ok(report)
}

/// Runs the plan: entries in path order (hard links after their files), then the
/// sweep of stale temporaries, then directory metadata deepest first (writing
/// children changes a directory's time), then the fsync of every changed directory.
///
/// File contents are written by the pipeline's threads while later steps go on; a
/// step waits for them when an unfinished file's path is a prefix of its own, hard
/// links wait for every file (they link to inodes this run wrote), and everything
/// after the entries runs once all files are finished.
fn execute(
    reader: &mut ArchiveReader,
    steps: &[Step],
    applier: &mut apply::Applier,
    report: &mut RestoreReport,
    progress: &dyn crate::progress::Progress,
    target: &Path,
) {
    let is_link = |s: &Step| {
        reader.manifest().entries[s.index].kind == EntryType::Hardlink && s.copy_of.is_none()
    };
    let order: Vec<(&Step, bool)> = steps
        .iter()
        .filter(|s| !is_link(s))
        .map(|s| (s, false))
        .chain(steps.iter().filter(|s| is_link(s)).map(|s| (s, true)))
        .collect();
    let by_index: std::collections::HashMap<usize, &Step> =
        steps.iter().map(|s| (s.index, s)).collect();
    let mut done = Vec::with_capacity(steps.len());
    let mut finish = |reader: &ArchiveReader, results: Vec<(usize, apply::StepResult)>| {
        for (i, result) in results {
            let s = by_index[&i];
            done.push((i, action_after(reader, s, target, result)));
            progress.item(reader.manifest().entries[i].size);
        }
    };
    for (s, link) in order {
        let path = reader.manifest().entries[s.index].path.as_bytes();
        if applier.has_pending() && (link || applier.must_wait(path)) {
            finish(reader, applier.collect(true, report));
        }
        if let apply::Applied::Done(result) = applier.apply(reader, s, report) {
            finish(reader, vec![(s.index, result)]);
        }
        finish(reader, applier.collect(false, report));
    }
    finish(reader, applier.collect(true, report));
    done.sort_by_key(|(i, _)| *i);
    report.actions = done.into_iter().map(|(_, a)| a).collect();
    applier.sweep(reader, report);
    for s in steps.iter().rev() {
        let e = reader.manifest().entries[s.index].clone();
        if e.kind == EntryType::Dir && s.kind != StepKind::Refuse {
            applier.finish_dir(&e, report);
        }
    }
    applier.sync_dirs(report);
    collect_refusals(report);
}

fn action_after(
    reader: &ArchiveReader,
    s: &Step,
    target: &Path,
    result: apply::StepResult,
) -> Action {
    match result {
        Ok(extra) => action(reader, s, target, extra),
        Err(msg) => Action {
            action: "error",
            detail: Some(msg),
            ..action(reader, s, target, None)
        },
    }
}

/// The report line of a step; `extra` is what the run adds (the kept-old name).
fn action(reader: &ArchiveReader, s: &Step, target: &Path, extra: Option<String>) -> Action {
    let e = &reader.manifest().entries[s.index];
    let mut details: Vec<String> = Vec::new();
    if let Some(n) = &s.note {
        details.push(n.clone());
    }
    if let Some(f) = s.copy_of {
        details.push(format!(
            "a copy of {}, which is not selected",
            reader.manifest().entries[f].path
        ));
    }
    details.extend(s.changes.iter().map(|c| c.to_string()));
    if s.kind == StepKind::Replace && extra.is_none() && details.is_empty() {
        details.push("replaced".into());
    }
    details.extend(extra);
    Action {
        path: e.path.to_string(),
        dest: paths::dest_path(target, e.path.as_bytes())
            .display()
            .to_string(),
        action: s.kind.as_str(),
        detail: (!details.is_empty()).then(|| details.join("; ")),
    }
}

/// Every `error` action is also an error of the run.
fn collect_refusals(report: &mut RestoreReport) {
    for a in &report.actions {
        if a.action == "error" {
            let why = a.detail.as_deref().unwrap_or("failed");
            report.errors.push(format!("{}: {why}", a.dest));
        }
    }
}

/// The files that selected hard links join (their written inode is kept open).
fn link_targets(reader: &ArchiveReader, steps: &[Step]) -> std::collections::HashSet<usize> {
    let m = reader.manifest();
    steps
        .iter()
        .filter(|s| s.copy_of.is_none() && m.entries[s.index].kind == EntryType::Hardlink)
        .filter_map(|s| {
            let link = m.entries[s.index].link.as_ref()?;
            m.entries
                .binary_search_by(|x| x.path.as_bytes().cmp(link.as_bytes()))
                .ok()
        })
        .collect()
}

/// Entries that carry privileges: setuid/setgid files, file capabilities, devices.
fn privileged(reader: &ArchiveReader, selected: &[usize], target: &Path) -> Vec<Privileged> {
    let mut out = Vec::new();
    for &i in selected {
        let e = &reader.manifest().entries[i];
        let mut why = Vec::new();
        if matches!(e.kind, EntryType::File | EntryType::Hardlink) {
            if e.mode & 0o4000 != 0 {
                why.push("setuid");
            }
            if e.mode & 0o2000 != 0 {
                why.push("setgid");
            }
        }
        if e.xattr(b"security.capability").is_some() {
            why.push("file capabilities");
        }
        if matches!(e.kind, EntryType::Char | EntryType::Block) {
            why.push("device node");
        }
        if !why.is_empty() {
            out.push(Privileged {
                path: e.path.to_string(),
                dest: paths::dest_path(target, e.path.as_bytes())
                    .display()
                    .to_string(),
                why: why.join(", "),
            });
        }
    }
    out
}

/// The manifest indices to restore, in path order. Paths may overlap or repeat; a
/// path that matches nothing is an error.
fn select(reader: &ArchiveReader, opts: &RestoreOptions) -> Result<Vec<usize>, RestoreError> {
    let entries = &reader.manifest().entries;
    if opts.paths.is_empty() {
        return Ok((0..entries.len())
            .filter(|i| !entries[*i].is_reserved())
            .collect());
    }
    let mut chosen = BTreeSet::new();
    for p in &opts.paths {
        let p = if p.len() > 1 {
            p.trim_end_matches('/')
        } else {
            p.as_str()
        };
        if p.starts_with(RESERVED_PREFIX.trim_end_matches('/')) && opts.target.is_none() {
            return Err(RestoreError::ReservedInPlace(p.to_string()));
        }
        let prefix = if p == "/" {
            "/".to_string()
        } else {
            format!("{p}/")
        };
        let mut matched = false;
        for (i, e) in entries.iter().enumerate() {
            let ep = e.path.as_bytes();
            if ep == p.as_bytes() || ep.starts_with(prefix.as_bytes()) {
                matched = true;
                if !(e.is_reserved() && opts.target.is_none()) {
                    chosen.insert(i);
                }
            }
        }
        if !matched {
            return Err(RestoreError::NotInArchive(p.to_string()));
        }
    }
    Ok(chosen.into_iter().collect())
}

/// Reads every object the selection needs and checks its SHA-256.
fn check_objects(reader: &mut ArchiveReader, selected: &[usize]) -> Result<(), RestoreError> {
    let m = reader.manifest();
    let ids: BTreeSet<ObjectId> = selected
        .iter()
        .filter_map(|i| {
            let e = &m.entries[*i];
            e.object.or_else(|| {
                let link = e.link.as_ref()?;
                m.entry(link.as_bytes()).and_then(|f| f.object)
            })
        })
        .collect();
    let mut bad = Vec::new();
    for id in ids {
        let result = reader
            .open_object(&id)
            .map_err(|e| e.to_string())
            .and_then(|mut r| io::copy(&mut r, &mut io::sink()).map_err(|e| e.to_string()));
        if let Err(e) = result {
            bad.push(e);
        }
    }
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(RestoreError::Damaged {
            count: bad.len(),
            first: first.clone(),
        }),
    }
}

/// SHA-256 of a file on disk, streamed.
pub fn hash_file(path: &Path) -> io::Result<ObjectId> {
    ObjectId::of_reader(&mut File::open(path)?)
}

use std::os::unix::fs::DirBuilderExt;
