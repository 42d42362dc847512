//! Archive verification: reads everything and collects every finding instead of
//! stopping at the first (rustic's `check` model).
//!
//! Checks: the container's members match the index (names, offsets, lengths, no
//! strays, no duplicates); every object decompresses to bytes with its SHA-256 and
//! size; every manifest entry is well formed, sorted, unique, and refers to objects
//! and hard-link targets that exist.

use crate::{
    ArchiveReader, DISCARDED_PREFIX, EntryType, FIXED_MEMBERS, IndexObject, ObjectId, PACK_MAX,
    PLAIN_INDEX_MEMBER, ScannedMember, discarded_member, entry_chunk_member,
    expected_member_header, magic_bytes, object_chunk_member, object_member, pack_member,
};
use std::collections::{HashMap, HashSet};
use std::io;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One problem, naming the entry or member it is about.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub level: Level,
    pub subject: String,
    pub message: String,
}

/// The outcome of a verify run.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    pub objects_checked: u64,
    pub bytes_checked: u64,
    pub entries_checked: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Records a finding. A message that repeats its subject at the start (errors
    /// from the reader name their object) loses the repetition, so a line reads
    /// `object <id>: fails its SHA-256 check`, not `object <id>: object <id> fails ...`.
    fn push(&mut self, level: Level, subject: impl Into<String>, message: impl Into<String>) {
        let subject = subject.into();
        let message = message.into();
        let message = match message.strip_prefix(subject.as_str()) {
            Some(rest) if !rest.trim_start_matches([':', ' ']).is_empty() => {
                rest.trim_start_matches([':', ' ']).to_string()
            }
            _ => message,
        };
        self.findings.push(Finding {
            level,
            subject,
            message,
        });
    }

    /// True when nothing at all was found.
    pub fn is_sound(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies an open archive. `on_object` is called after each object with its size.
pub fn verify_archive(reader: &mut ArchiveReader, on_object: &dyn Fn(u64)) -> VerifyReport {
    let mut report = VerifyReport::default();
    check_container(reader, &mut report);
    check_objects(reader, &mut report, on_object);
    check_frames(reader, &mut report);
    check_packs(reader, &mut report);
    check_entries(reader, &mut report);
    report
}

/// Every frame of a framed object against its stored SHA-256 (spec §4.1): the
/// object's own check covers its content; this covers the table seeking readers use.
fn check_frames(reader: &mut ArchiveReader, report: &mut VerifyReport) {
    let index = reader.index().clone();
    let offsets: HashMap<ObjectId, u64> = index.objects.iter().map(|o| (o.id, o.offset)).collect();
    for t in &index.frames {
        let Some(mut at) = offsets.get(&t.id).copied() else {
            continue;
        };
        for (i, f) in t.frames.iter().enumerate() {
            match reader.hash_stored(at, f.length) {
                Ok(h) if h == f.stored_sha256 => {}
                Ok(_) => report.push(
                    Level::Error,
                    object_member(&t.id),
                    format!("frame {i}: stored bytes fail their SHA-256 check"),
                ),
                Err(e) => report.push(Level::Error, object_member(&t.id), e.to_string()),
            }
            at += f.length;
        }
    }
}

/// Every pack's content exactly covered by its objects (v2 §3): contiguous from 0,
/// nothing after the last, at most 1 MiB. The objects' own checks cover their bytes.
fn check_packs(reader: &mut ArchiveReader, report: &mut VerifyReport) {
    let mut packs: HashMap<u64, Vec<IndexObject>> = HashMap::new();
    for o in reader.index().objects.iter().filter(|o| o.pack.is_some()) {
        packs.entry(o.offset).or_default().push(*o);
    }
    let mut packs: Vec<_> = packs.into_values().collect();
    packs.sort_by_key(|rows| rows[0].offset);
    for mut rows in packs {
        rows.sort_by_key(|r| (r.start, r.size));
        let name = pack_member(rows[0].pack.unwrap_or(0));
        let mut at = 0u64;
        for r in &rows {
            if r.pack != rows[0].pack || r.start != Some(at) {
                report.push(
                    Level::Error,
                    name.clone(),
                    format!("object {} does not follow the one before it", r.id),
                );
            }
            at = r.start.unwrap_or(at).saturating_add(r.size);
        }
        match reader.pack_len(&rows[0]) {
            Ok(len) if len == at && len <= PACK_MAX => {}
            Ok(len) => report.push(
                Level::Error,
                name,
                format!("decompresses to {len} bytes, its objects cover {at}"),
            ),
            Err(e) => report.push(Level::Error, name, e.to_string()),
        }
    }
}

fn check_container(reader: &mut ArchiveReader, report: &mut VerifyReport) {
    let scan = match reader.scan_members() {
        Ok(m) => m,
        Err(e) => {
            report.push(Level::Error, "container", e.to_string());
            return;
        }
    };
    for p in &scan.problems {
        report.push(Level::Error, "container", p.clone());
    }
    let members = scan.members;
    check_headers(&members, report);
    check_fixed_contents(reader, &members, report);
    let mut by_name: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
    let mut discarded = Vec::new();
    for m in &members {
        let shown = String::from_utf8_lossy(&m.name).into_owned();
        if by_name
            .insert(m.name.clone(), (m.offset, m.length))
            .is_some()
        {
            report.push(Level::Error, shown.clone(), "member appears twice");
        }
        if m.name.starts_with(DISCARDED_PREFIX.as_bytes()) {
            discarded.push(m);
            continue;
        }
        let known = FIXED_MEMBERS
            .iter()
            .chain(std::iter::once(&PLAIN_INDEX_MEMBER))
            .any(|f| f.as_bytes() == m.name.as_slice())
            || (m.name.starts_with(b"objects/") && m.name.ends_with(b".zst"))
            || (reader.version() >= 2
                && [&b"packs/"[..], b"entries/", b"objects-index/"]
                    .iter()
                    .any(|p| m.name.starts_with(p)));
        if !known {
            report.push(Level::Error, shown, "unexpected member in the container");
        } else if m.typeflag != b'0' {
            report.push(Level::Error, shown, "member is not a regular file");
        }
    }
    if members.first().map(|m| m.name.as_slice()) != Some(FIXED_MEMBERS[0].as_bytes()) {
        report.push(Level::Error, "container", "first member is not OCPVAULT");
    }
    if members.last().map(|m| m.name.as_slice()) != Some(FIXED_MEMBERS[3].as_bytes()) {
        report.push(Level::Error, "container", "last member is not TRAILER");
    }
    check_discarded(reader, &discarded, report);
    let index = reader.index().clone();
    let mloc = (index.manifest.offset, index.manifest.length);
    if by_name.get(FIXED_MEMBERS[1].as_bytes()) != Some(&mloc) {
        report.push(
            Level::Error,
            "manifest.json.zst",
            "index location does not match the container",
        );
    }
    let mut in_index = HashSet::new();
    let entry_member: fn(u64) -> String = entry_chunk_member;
    for (list, member) in [
        (&index.entry_chunks, entry_member),
        (&index.object_chunks, object_chunk_member),
    ] {
        for (i, c) in list.iter().enumerate() {
            let name = member(i as u64 + 1);
            in_index.insert(name.clone().into_bytes());
            if by_name.get(name.as_bytes()) != Some(&(c.offset, c.length)) {
                report.push(
                    Level::Error,
                    name,
                    "index entry does not match a container member",
                );
            }
        }
    }
    // Packs are numbered from 1 in archive order (v2 §1).
    let mut packs_seen = 0u64;
    for m in members.iter().filter(|m| m.name.starts_with(b"packs/")) {
        packs_seen += 1;
        if m.name != pack_member(packs_seen).into_bytes() {
            report.push(
                Level::Error,
                String::from_utf8_lossy(&m.name).into_owned(),
                format!("pack is not numbered {packs_seen} (v2 §1)"),
            );
        }
    }
    for o in &index.objects {
        let name = match o.pack {
            Some(n) => pack_member(n),
            None => object_member(&o.id),
        };
        in_index.insert(name.clone().into_bytes());
        if by_name.get(name.as_bytes()) != Some(&(o.offset, o.length)) {
            report.push(
                Level::Error,
                name,
                "index entry does not match a container member",
            );
        }
    }
    for m in &members {
        let indexed = [&b"objects/"[..], b"packs/", b"entries/", b"objects-index/"];
        if indexed.iter().any(|p| m.name.starts_with(p)) && !in_index.contains(&m.name) {
            report.push(
                Level::Error,
                String::from_utf8_lossy(&m.name).into_owned(),
                "object member missing from the index",
            );
        }
    }
}

/// Discarded members (spec §3.3): only in an encrypted archive, named for their own
/// data offset, and where no indexed member lies. Their data is not checked.
fn check_discarded(
    reader: &ArchiveReader,
    discarded: &[&ScannedMember],
    report: &mut VerifyReport,
) {
    if discarded.is_empty() {
        return;
    }
    let encrypted = is_age_file(reader.path());
    // Every indexed member's span [header, end of padding), sorted by start.
    let index = reader.index();
    let span = |offset: u64, length: u64| {
        let start = offset.saturating_sub(512);
        let end = offset
            .saturating_add(length)
            .saturating_add((512 - length % 512) % 512);
        (start, end)
    };
    let mut spans: Vec<(u64, u64)> = index
        .objects
        .iter()
        .map(|o| span(o.offset, o.length))
        .chain(std::iter::once(span(
            index.manifest.offset,
            index.manifest.length,
        )))
        .collect();
    spans.sort_unstable();
    for m in discarded {
        let shown = String::from_utf8_lossy(&m.name).into_owned();
        if !encrypted {
            report.push(
                Level::Error,
                shown.clone(),
                "discarded member in an archive that is not encrypted",
            );
        }
        if m.name != discarded_member(m.offset).as_bytes() {
            report.push(
                Level::Error,
                shown.clone(),
                "discarded member is not named for its data offset",
            );
        }
        if m.typeflag != b'0' {
            report.push(Level::Error, shown.clone(), "member is not a regular file");
        }
        let (start, end) = span(m.offset, m.length);
        // The last indexed span starting before `end` is the only one that can reach
        // into this member (spans of a sound archive do not overlap).
        let before = spans.partition_point(|s| s.0 < end);
        if before > 0 && spans[before - 1].1 > start {
            report.push(
                Level::Error,
                shown,
                "discarded member overlaps an indexed member",
            );
        }
    }
}

/// True when the file at `path` starts with the age magic. An archive read from
/// anything but a file counts as plain.
fn is_age_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    const MAGIC: &[u8] = b"age-encryption.org/";
    let mut head = Vec::with_capacity(MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
        .is_ok()
        && head == MAGIC
}

/// Every header must be byte for byte what the writer produces (spec §3.1), which
/// catches any change to a header, including fields no reader looks at.
fn check_headers(members: &[ScannedMember], report: &mut VerifyReport) {
    let Some(first) = members.first() else {
        return;
    };
    let mtime = tar::Header::from_byte_slice(&first.header)
        .mtime()
        .unwrap_or(0);
    for m in members {
        let name = String::from_utf8_lossy(&m.name);
        if expected_member_header(&name, m.length, mtime) != Some(m.header) {
            report.push(
                Level::Error,
                name.into_owned(),
                "tar header differs from the one this format writes",
            );
        }
    }
}

/// The magic member and the stored manifest bytes must match exactly.
fn check_fixed_contents(
    reader: &mut ArchiveReader,
    members: &[ScannedMember],
    report: &mut VerifyReport,
) {
    if let Some(m) = members.first() {
        let magic = magic_bytes(reader.version());
        let ok = m.length == magic.len() as u64
            && reader
                .hash_stored(m.offset, m.length)
                .is_ok_and(|h| h == ObjectId::of_bytes(&magic));
        if !ok {
            report.push(
                Level::Error,
                "OCPVAULT",
                "magic member is not exactly the magic line of its version",
            );
        }
    }
    let loc = reader.index().manifest.clone();
    if let Some(expect) = loc.stored_sha256 {
        match reader.hash_stored(loc.offset, loc.length) {
            Ok(h) if h == expect => {}
            Ok(_) => report.push(
                Level::Error,
                "manifest.json.zst",
                "stored bytes fail their SHA-256 check",
            ),
            Err(e) => report.push(Level::Error, "manifest.json.zst", e.to_string()),
        }
    }
}

/// The paths of the entries whose content is each object (files, and hard links
/// through the file they share content with), so a damaged object names the files
/// it breaks.
/// Only the objects in `of` are looked up: verify calls this after the objects were
/// read, for the damaged ones, so a sound archive of 200,000 files builds no map.
fn users_of_objects(
    reader: &ArchiveReader,
    of: &HashSet<ObjectId>,
) -> HashMap<ObjectId, Vec<String>> {
    let m = reader.manifest();
    let mut users: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for e in &m.entries {
        let object = match e.kind {
            EntryType::Hardlink => e
                .link
                .as_ref()
                .and_then(|l| m.entry(l.as_bytes()))
                .and_then(|t| t.object),
            _ => e.object,
        };
        if let Some(id) = object.filter(|id| of.contains(id)) {
            users.entry(id).or_default().push(e.path.to_string());
        }
    }
    users
}

fn check_objects(reader: &mut ArchiveReader, report: &mut VerifyReport, on_object: &dyn Fn(u64)) {
    let mut failed: Vec<(ObjectId, usize)> = Vec::new();
    let ids: Vec<(ObjectId, u64)> = reader
        .index()
        .objects
        .iter()
        .map(|o| (o.id, o.size))
        .collect();
    for (id, size) in ids {
        let result = reader
            .open_object(&id)
            .map_err(|e| e.to_string())
            .and_then(|mut r| io::copy(&mut r, &mut io::sink()).map_err(|e| e.to_string()));
        match result {
            Ok(n) => {
                report.objects_checked += 1;
                report.bytes_checked += n;
            }
            Err(e) => {
                let subject = format!("object {id}");
                failed.push((id, report.findings.len()));
                report.push(Level::Error, subject, e);
            }
        }
        on_object(size);
    }
    if failed.is_empty() {
        return;
    }
    let users = users_of_objects(reader, &failed.iter().map(|f| f.0).collect());
    for (id, finding) in failed {
        if let Some(paths) = users.get(&id) {
            const SHOWN: usize = 5;
            let more = paths.len().saturating_sub(SHOWN);
            let mut list = paths[..paths.len().min(SHOWN)].join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            report.findings[finding]
                .message
                .push_str(&format!("; used by {list}"));
        }
    }
}

fn check_entries(reader: &ArchiveReader, report: &mut VerifyReport) {
    let m = reader.manifest();
    // The rules of spec §5.2 are the reader's own (validate.rs): an archive that breaks
    // them does not open; run them again here so verify states them as findings too.
    for p in crate::manifest_problems(m, reader.index()) {
        report.push(Level::Error, p.subject, p.why);
    }
    report.entries_checked += m.entries.len() as u64;
    let referenced: HashSet<ObjectId> = m.entries.iter().filter_map(|e| e.object).collect();
    for o in &reader.index().objects {
        if !referenced.contains(&o.id) {
            report.push(
                Level::Warning,
                format!("object {}", o.id),
                "no entry refers to this object",
            );
        }
    }
}
