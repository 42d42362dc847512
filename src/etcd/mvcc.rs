//! etcd's MVCC layer on top of the bbolt reader: the `key` bucket maps revisions to
//! `mvccpb.KeyValue` records, the `meta` bucket holds the compaction revision.
//!
//! A revision key is 17 bytes: the main revision (8 bytes, big-endian), `_`, the sub
//! revision (8 bytes, big-endian); an 18th byte `t` marks a tombstone (a delete).
//! Keys sort in revision order, so one in-order walk replays the history: the latest
//! record of each key at or below the revision read wins, a tombstone removes the key.
//! Memory holds one [`Object`] per live key (its first [`HEAD_BYTES`] value bytes),
//! and the whole value only for keys the caller asks for.

use super::bbolt::{BoltDb, BoltError};
use std::collections::BTreeMap;
use std::io::{Read, Seek};

/// How many bytes of each value are kept for sniffing its kind.
pub const HEAD_BYTES: usize = 256;

const KEY_BUCKET: &[u8] = b"key";
const META_BUCKET: &[u8] = b"meta";
const SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";

/// Why the MVCC state cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MvccError {
    #[error(transparent)]
    Bolt(#[from] BoltError),
    #[error("the db has no `key` bucket (not an etcd v3 db)")]
    NoKeyBucket,
    #[error("revision {revision} is compacted: the db keeps revisions from {compacted} on")]
    Compacted { revision: i64, compacted: i64 },
    #[error("revision {revision} is newer than the db's last revision {current}")]
    Future { revision: i64, current: i64 },
    #[error("record {record}: {why}")]
    BadRecord { record: String, why: String },
}

/// A revision: main (the transaction) and sub (the operation within it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
    pub tombstone: bool,
}

/// Parses a `key` bucket key: 17 bytes, or 18 with a trailing `t`.
pub fn parse_revision(b: &[u8]) -> Option<Revision> {
    let tombstone = match b.len() {
        17 => false,
        18 if b[17] == b't' => true,
        _ => return None,
    };
    if b[8] != b'_' {
        return None;
    }
    let mut main = [0u8; 8];
    let mut sub = [0u8; 8];
    main.copy_from_slice(&b[..8]);
    sub.copy_from_slice(&b[9..17]);
    Some(Revision {
        main: i64::from_be_bytes(main),
        sub: i64::from_be_bytes(sub),
        tombstone,
    })
}

/// `mvccpb.KeyValue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: Vec<u8>,
    pub lease: i64,
}

/// A protobuf field: its number and its varint or length-delimited payload.
pub enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
    /// Fixed 32 or 64-bit fields, which the messages read here do not use.
    Other(u32),
}

/// Reads a base-128 varint at `*at`.
pub fn read_varint(b: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).ok_or("varint runs past the end")?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// Walks the fields of one protobuf message.
pub fn for_each_field<'a>(
    b: &'a [u8],
    mut f: impl FnMut(Field<'a>) -> Result<(), String>,
) -> Result<(), String> {
    let mut at = 0;
    while at < b.len() {
        let tag = read_varint(b, &mut at)?;
        let number = u32::try_from(tag >> 3).map_err(|_| "field number too large")?;
        match tag & 7 {
            0 => f(Field::Varint(number, read_varint(b, &mut at)?))?,
            1 | 5 => {
                at += if tag & 7 == 1 { 8 } else { 4 };
                if at > b.len() {
                    return Err(format!("field {number} runs past the end"));
                }
                f(Field::Other(number))?;
            }
            2 => {
                let len = usize::try_from(read_varint(b, &mut at)?).map_err(|_| "length")?;
                let end = at
                    .checked_add(len)
                    .filter(|e| *e <= b.len())
                    .ok_or_else(|| format!("field {number} runs past the end"))?;
                f(Field::Bytes(number, &b[at..end]))?;
                at = end;
            }
            w => return Err(format!("field {number} has unsupported wire type {w}")),
        }
    }
    Ok(())
}

/// Decodes `mvccpb.KeyValue` (1 key, 2 create_revision, 3 mod_revision, 4 version,
/// 5 value, 6 lease).
pub fn decode_key_value(b: &[u8]) -> Result<KeyValue, String> {
    let mut kv = KeyValue::default();
    for_each_field(b, |field| {
        match field {
            Field::Bytes(1, k) => kv.key = k.to_vec(),
            Field::Bytes(5, v) => kv.value = v.to_vec(),
            Field::Varint(2, v) => kv.create_revision = v as i64,
            Field::Varint(3, v) => kv.mod_revision = v as i64,
            Field::Varint(4, v) => kv.version = v as i64,
            Field::Varint(6, v) => kv.lease = v as i64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(kv)
}

/// One live key at the revision read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes of the value.
    pub head: Vec<u8>,
    /// The whole value, for keys the caller asked for.
    pub value: Option<Vec<u8>>,
}

/// The keyspace at one revision.
#[derive(Debug, Default)]
pub struct State {
    pub objects: BTreeMap<Vec<u8>, Object>,
    /// The revision read.
    pub revision: i64,
    /// The newest revision in the db.
    pub current_revision: i64,
    /// Revisions below this are compacted away (0: never compacted).
    pub compacted: i64,
    /// Records that could not be decoded (salvage mode only).
    pub bad_records: Vec<String>,
    /// Keys the caller asked for that a delete removed, with the revision of the delete.
    pub deleted: BTreeMap<Vec<u8>, i64>,
}

/// What to read.
pub struct ReadOptions<'a> {
    /// Read the state at this revision instead of the newest.
    pub at: Option<i64>,
    /// Keep the whole value of the keys for which this is true.
    pub want_value: &'a dyn Fn(&[u8]) -> bool,
    /// Skip undecodable records instead of failing.
    pub salvage: bool,
}

/// The compaction revision: the larger of the finished and scheduled ones, since
/// a scheduled compaction may have removed part of the history already.
pub fn compacted_revision<R: Read + Seek>(db: &mut BoltDb<R>) -> Result<i64, MvccError> {
    let root = db.root();
    let Some(meta) = db.bucket(&root, META_BUCKET)? else {
        return Ok(0);
    };
    let mut rev = 0;
    for name in [SCHEDULED_COMPACT, FINISHED_COMPACT] {
        if let Some(v) = db.get(&meta, name)? {
            let r = parse_revision(&v).ok_or_else(|| MvccError::BadRecord {
                record: String::from_utf8_lossy(name).into_owned(),
                why: format!("{} bytes where a revision was expected", v.len()),
            })?;
            rev = rev.max(r.main);
        }
    }
    Ok(rev)
}

/// Replays the `key` bucket up to the revision asked for. In salvage mode, a db
/// whose `key` bucket cannot be walked from its root is read by scanning every leaf
/// page (see [`BoltDb::scan_leaves`]); that may show keys whose delete was compacted
/// away if an old page still holds them.
pub fn read_state<R: Read + Seek>(
    db: &mut BoltDb<R>,
    opts: &ReadOptions<'_>,
) -> Result<State, MvccError> {
    let compacted = match compacted_revision(db) {
        Ok(c) => c,
        Err(MvccError::Bolt(e)) if opts.salvage => {
            db.skip_or_fail(e)?;
            0
        }
        Err(e) => return Err(e),
    };
    let root = db.root();
    let keys = match db.bucket(&root, KEY_BUCKET) {
        Ok(Some(b)) => Some(b),
        Ok(None) => return Err(MvccError::NoKeyBucket),
        Err(e) => {
            db.skip_or_fail(e)?;
            None
        }
    };
    if let Some(at) = opts.at
        && at < compacted
    {
        return Err(MvccError::Compacted {
            revision: at,
            compacted,
        });
    }
    let mut replay = Replay {
        opts,
        limit: opts.at.unwrap_or(i64::MAX),
        state: State {
            compacted,
            ..State::default()
        },
        problems: Vec::new(),
    };
    match keys {
        Some(keys) => db.for_each(&keys, &mut |k, v, _| replay.record(k, v))?,
        None => {
            // File order is not revision order: gather, then replay in order. Only
            // the head of each value is kept, unless the caller wants the value.
            let mut found: BTreeMap<Vec<u8>, (KeyValue, u64)> = BTreeMap::new();
            db.scan_leaves(&mut |k, v, is_bucket| {
                if is_bucket || parse_revision(k).is_none() {
                    return true;
                }
                if let Ok(mut kv) = decode_key_value(v) {
                    let size = kv.value.len() as u64;
                    if !(opts.want_value)(&kv.key) {
                        kv.value.truncate(HEAD_BYTES);
                    }
                    found.insert(k.to_vec(), (kv, size));
                }
                true
            })?;
            for (k, (kv, size)) in found {
                if let Some(rev) = parse_revision(&k) {
                    replay.apply(rev, kv, size);
                }
            }
        }
    }
    let mut state = replay.state;
    for e in replay.problems {
        if !opts.salvage {
            return Err(e);
        }
        state.bad_records.push(e.to_string());
    }
    if let Some(at) = opts.at
        && at > state.current_revision
    {
        return Err(MvccError::Future {
            revision: at,
            current: state.current_revision,
        });
    }
    state.revision = opts.at.unwrap_or(state.current_revision);
    Ok(state)
}

/// Reads the put of `key` at main revision `mod_revision` (the key index's latest
/// revision of that key) without replaying the db: a seek in the `key` bucket to the
/// first record of that revision, reading only the pages on the way. None when no
/// put of `key` is stored at that revision.
pub fn read_put_at<R: Read + Seek>(
    db: &mut BoltDb<R>,
    key: &[u8],
    mod_revision: i64,
) -> Result<Option<Object>, MvccError> {
    let root = db.root();
    let Some(keys) = db.bucket(&root, KEY_BUCKET)? else {
        return Err(MvccError::NoKeyBucket);
    };
    let mut from = mod_revision.to_be_bytes().to_vec();
    from.push(b'_');
    from.extend_from_slice(&0i64.to_be_bytes());
    let mut found = None;
    let mut problem = None;
    db.for_each_from(&keys, &from, &mut |k, v, _| {
        let Some(rev) = parse_revision(k) else {
            problem = Some(bad(k, "not a revision key".into()));
            return false;
        };
        if rev.main != mod_revision {
            return false;
        }
        if rev.tombstone {
            return true;
        }
        match decode_key_value(v) {
            Ok(kv) if kv.key == key => {
                found = Some(Object {
                    create_revision: kv.create_revision,
                    mod_revision: kv.mod_revision,
                    version: kv.version,
                    lease: kv.lease,
                    size: kv.value.len() as u64,
                    head: kv.value[..kv.value.len().min(HEAD_BYTES)].to_vec(),
                    value: Some(kv.value),
                    key: kv.key,
                });
                false
            }
            Ok(_) => true,
            Err(why) => {
                problem = Some(bad(k, why));
                false
            }
        }
    })?;
    match problem {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// The state being rebuilt, record by record in revision order.
struct Replay<'a, 'b> {
    opts: &'a ReadOptions<'b>,
    limit: i64,
    state: State,
    /// Undecodable records: the first ends the walk unless salvaging.
    problems: Vec<MvccError>,
}

impl Replay<'_, '_> {
    /// Applies one `key` bucket record; false stops the walk (an error, not salvaging).
    fn record(&mut self, k: &[u8], v: &[u8]) -> bool {
        let Some(rev) = parse_revision(k) else {
            self.problems.push(bad(k, "not a revision key".into()));
            return self.opts.salvage;
        };
        let state = &mut self.state;
        state.current_revision = state.current_revision.max(rev.main);
        if rev.main > self.limit {
            // Later records are newer still; only the current revision is wanted.
            return true;
        }
        let kv = match decode_key_value(v) {
            Ok(kv) => kv,
            Err(why) => {
                self.problems.push(bad(k, why));
                return self.opts.salvage;
            }
        };
        let size = kv.value.len() as u64;
        self.apply(rev, kv, size);
        true
    }

    /// Applies one decoded record whose value was `size` bytes.
    fn apply(&mut self, rev: Revision, kv: KeyValue, size: u64) {
        let state = &mut self.state;
        state.current_revision = state.current_revision.max(rev.main);
        if rev.main > self.limit {
            return;
        }
        let wanted = (self.opts.want_value)(&kv.key);
        if rev.tombstone {
            state.objects.remove(&kv.key);
            if wanted {
                state.deleted.insert(kv.key, rev.main);
            }
            return;
        }
        if wanted {
            state.deleted.remove(&kv.key);
        }
        let value = wanted.then(|| kv.value.clone());
        let obj = Object {
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            size,
            head: kv.value[..kv.value.len().min(HEAD_BYTES)].to_vec(),
            value,
            key: kv.key,
        };
        state.objects.insert(obj.key.clone(), obj);
    }
}

fn bad(k: &[u8], why: String) -> MvccError {
    let record = match parse_revision(k) {
        Some(r) => format!("revision {}.{}", r.main, r.sub),
        None => format!("key 0x{}", hex::encode(&k[..k.len().min(32)])),
    };
    MvccError::BadRecord { record, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev_key(main: i64, sub: i64, tomb: bool) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&sub.to_be_bytes());
        if tomb {
            k.push(b't');
        }
        k
    }

    #[test]
    fn revision_keys() {
        let r = parse_revision(&rev_key(300, 2, false)).unwrap();
        assert_eq!((r.main, r.sub, r.tombstone), (300, 2, false));
        assert!(parse_revision(&rev_key(7, 0, true)).unwrap().tombstone);
        let mut bad = rev_key(7, 0, false);
        bad[8] = b'-';
        assert_eq!(parse_revision(&bad), None);
        let mut bad = rev_key(7, 0, false);
        bad.push(b'x');
        assert_eq!(parse_revision(&bad), None);
        assert_eq!(parse_revision(b"short"), None);
        assert!(rev_key(255, 9, false) < rev_key(256, 0, false));
    }

    #[test]
    fn key_value_decodes_and_rejects_garbage() {
        // key "/a", create 5, mod 300 (two-byte varint), version 2, value "xyz", lease 1.
        let b = [
            0x0a, 2, b'/', b'a', 0x10, 5, 0x18, 0xac, 0x02, 0x20, 2, 0x2a, 3, b'x', b'y', b'z',
            0x30, 1,
        ];
        let kv = decode_key_value(&b).unwrap();
        assert_eq!(kv.key, b"/a");
        assert_eq!(
            (kv.create_revision, kv.mod_revision, kv.version, kv.lease),
            (5, 300, 2, 1)
        );
        assert_eq!(kv.value, b"xyz");
        assert!(decode_key_value(&[0x0a, 10, b'x']).is_err());
        assert!(decode_key_value(&[0x18, 0xff]).is_err());
        assert!(decode_key_value(&[0x0b]).is_err());
    }
}
