//! Checks a parsed manifest against the rules of spec §5.2 and §9 before any command
//! uses it.
//!
//! Every reader runs these checks at open, so `ls`, `cat`, `diff` and `restore` never
//! act on a manifest that a writer could not have produced: unsorted or duplicate
//! paths, paths that are not normalised, hard links that do not name a `file` entry,
//! sizes that disagree with the index, times that do not parse, oversized xattrs.
//! A hand-made archive with valid hashes is still refused here.

use super::{Entry, EntryType, Index, IndexObject, Manifest, ObjectId, is_normalized_path};
use std::collections::HashMap;

/// Largest xattr value a reader accepts (spec §9; the Linux VFS limit).
pub const MAX_XATTR_VALUE: usize = 64 * 1024; // 64 KiB
/// Largest number of xattrs on one entry.
pub const MAX_XATTRS_PER_ENTRY: usize = 1024;

/// One rule of the spec that the manifest breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    /// The entry's path (lossy), or `manifest` for archive-wide problems.
    pub subject: String,
    pub why: String,
}

impl std::fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.why)
    }
}

/// Every problem of `manifest`, in entry order. Objects are looked up in `index`.
pub fn manifest_problems(manifest: &Manifest, index: &Index) -> Vec<ManifestProblem> {
    let objects: HashMap<ObjectId, &IndexObject> =
        index.objects.iter().map(|o| (o.id, o)).collect();
    let mut problems = Vec::new();
    if let Some(id) = &manifest.run_id {
        if !super::is_valid_run_id(id) {
            problems.push(ManifestProblem {
                subject: "manifest".into(),
                why: "run_id is not 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit (spec §5)".into(),
            });
        }
    }
    let mut prev: Option<&[u8]> = None;
    for e in &manifest.entries {
        let p = e.path.as_bytes();
        let mut push = |why: String| {
            problems.push(ManifestProblem {
                subject: e.path.to_string(),
                why,
            })
        };
        if !is_normalized_path(p) {
            push("path is not absolute and normalised (spec §5.2)".into());
        }
        match prev {
            Some(q) if q == p => push("duplicate path (spec §5.2: paths are unique)".into()),
            Some(q) if q > p => push("entries are not sorted by path bytes (spec §5.2)".into()),
            _ => {}
        }
        prev = Some(p);
        if let Err(why) = check_fields(e, manifest, &objects) {
            push(why);
        }
    }
    problems
}

/// The type-specific fields, the time and the xattrs of one entry.
fn check_fields(
    e: &Entry,
    manifest: &Manifest,
    objects: &HashMap<ObjectId, &IndexObject>,
) -> Result<(), String> {
    if !is_utc_rfc3339(&e.mtime) {
        return Err("mtime is not an RFC 3339 UTC time".into());
    }
    if e.xattrs.len() > MAX_XATTRS_PER_ENTRY {
        return Err(format!("more than {MAX_XATTRS_PER_ENTRY} xattrs"));
    }
    for x in &e.xattrs {
        let name = x.name.as_bytes();
        if name.is_empty() || name.contains(&0) || name.len() > 255 {
            return Err("xattr name is empty, too long or holds NUL".into());
        }
        if x.value.len() > MAX_XATTR_VALUE {
            return Err(format!("xattr {} value is over 64 KiB (spec §9)", x.name));
        }
    }
    match e.kind {
        EntryType::File => {
            let id = e.object.ok_or("file entry has no object")?;
            let obj = objects
                .get(&id)
                .ok_or_else(|| format!("object {id} is not in the index"))?;
            if obj.size != e.size {
                return Err(format!(
                    "size {} differs from its object's size {}",
                    e.size, obj.size
                ));
            }
        }
        EntryType::Hardlink => {
            let link = e.link.as_ref().ok_or("hard link without link")?;
            let linked = manifest
                .entry(link.as_bytes())
                .filter(|l| l.kind == EntryType::File && is_normalized_path(l.path.as_bytes()))
                .ok_or_else(|| format!("hard link to {link}, which is not a file entry"))?;
            if linked.size != e.size {
                return Err(format!(
                    "size {} differs from the size {} of {link}",
                    e.size, linked.size
                ));
            }
        }
        EntryType::Symlink => {
            let t = e.target.as_ref().ok_or("symlink without target")?;
            if t.as_bytes().is_empty() || t.as_bytes().contains(&0) || t.as_bytes().len() > 4095 {
                return Err("symlink target is empty, too long or holds NUL".into());
            }
        }
        EntryType::Char | EntryType::Block if e.rdev.is_none() => {
            return Err("device entry without rdev".into());
        }
        _ => {}
    }
    if e.kind != EntryType::File && e.object.is_some() {
        return Err("only file entries have an object".into());
    }
    Ok(())
}

/// True for an RFC 3339 time in UTC (`Z` or `+00:00`) that names a real instant.
pub fn is_utc_rfc3339(text: &str) -> bool {
    let utc = text.ends_with('Z') || text.ends_with("+00:00");
    utc && text.is_ascii() && super::parse_time(text).is_some()
}

/// Deserializes a sequence, failing once it holds more than `MAX` items, so a huge
/// count is refused while parsing instead of after allocating it (spec §9).
pub mod bounded {
    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
    use std::marker::PhantomData;

    struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX} items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let hint = seq.size_hint().unwrap_or(0).min(4096);
            let mut out = Vec::with_capacity(hint);
            while let Some(item) = seq.next_element()? {
                if out.len() >= MAX {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX} items (spec §9)"
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    /// `#[serde(deserialize_with = "bounded::items")]` for the entries and objects.
    pub fn items<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(BoundedVisitor::<T, { super::super::MAX_ITEMS }>(
            PhantomData,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert!(is_utc_rfc3339("2026-01-01T00:00:00.123456789Z"));
        assert!(is_utc_rfc3339("2026-01-01T00:00:00+00:00"));
        assert!(!is_utc_rfc3339("2026-01-01T00:00:00+02:00"));
        assert!(!is_utc_rfc3339("2026-01-01T00:00:0é.1Z"));
        assert!(!is_utc_rfc3339("yesterday"));
        assert!(!is_utc_rfc3339(""));
    }
}
