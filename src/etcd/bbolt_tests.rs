//! Hand-built bbolt files: the layout written here is the one the reader documents,
//! so these tests pin the reader's checks; the real-etcd tests in tests/it/etcd_browse.rs
//! pin the layout itself.

use super::*;
use std::io::Cursor;

const PS: usize = 1024;

fn header(id: u64, flags: u16, count: usize, overflow: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&id.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&(count as u16).to_le_bytes());
    h.extend_from_slice(&overflow.to_le_bytes());
    h
}

/// A page's bytes, padded to whole pages, with the overflow count set.
fn pad(mut p: Vec<u8>) -> Vec<u8> {
    let pages = p.len().div_ceil(PS).max(1);
    p.resize(pages * PS, 0);
    p[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
    p
}

fn leaf_raw(id: u64, entries: &[(&[u8], &[u8], bool)]) -> Vec<u8> {
    let mut p = header(id, LEAF_PAGE, entries.len(), 0);
    let mut data = Vec::new();
    let data_start = PAGE_HEADER_SIZE + entries.len() * ELEMENT_SIZE;
    for (i, (k, v, bucket)) in entries.iter().enumerate() {
        let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        let pos = data_start + data.len() - e;
        p.extend_from_slice(&u32::from(*bucket).to_le_bytes());
        p.extend_from_slice(&(pos as u32).to_le_bytes());
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(&(v.len() as u32).to_le_bytes());
        data.extend_from_slice(k);
        data.extend_from_slice(v);
    }
    p.extend_from_slice(&data);
    p
}

fn leaf(id: u64, entries: &[(&[u8], &[u8], bool)]) -> Vec<u8> {
    pad(leaf_raw(id, entries))
}

fn branch(id: u64, children: &[(&[u8], u64)]) -> Vec<u8> {
    let mut p = header(id, BRANCH_PAGE, children.len(), 0);
    let mut data = Vec::new();
    let data_start = PAGE_HEADER_SIZE + children.len() * ELEMENT_SIZE;
    for (i, (k, c)) in children.iter().enumerate() {
        let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        p.extend_from_slice(&((data_start + data.len() - e) as u32).to_le_bytes());
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(&c.to_le_bytes());
        data.extend_from_slice(k);
    }
    p.extend_from_slice(&data);
    pad(p)
}

fn meta(id: u64, root: u64, pgid: u64, txid: u64) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&MAGIC.to_le_bytes());
    m.extend_from_slice(&VERSION.to_le_bytes());
    m.extend_from_slice(&(PS as u32).to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&root.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&2u64.to_le_bytes());
    m.extend_from_slice(&pgid.to_le_bytes());
    m.extend_from_slice(&txid.to_le_bytes());
    let sum = fnv64a(&m);
    m.extend_from_slice(&sum.to_le_bytes());
    let mut p = header(id, META_PAGE, 0, 0);
    p.extend_from_slice(&m);
    pad(p)
}

fn bucket_value(root: u64) -> Vec<u8> {
    let mut v = root.to_le_bytes().to_vec();
    v.extend_from_slice(&0u64.to_le_bytes());
    v
}

/// Root leaf (page 3): bucket "big" at page 4 (a branch over leaves 5 and 6, where 6
/// overflows) and an inline bucket "small". Page 2 is the freelist.
fn sample() -> Vec<u8> {
    let mut inline = bucket_value(0);
    inline.extend_from_slice(&leaf_raw(0, &[(b"a", b"1", false), (b"b", b"2", false)]));
    let big_value = vec![b'x'; 3 * PS];
    let mut db = Vec::new();
    db.extend(meta(0, 3, 8, 4));
    db.extend(meta(1, 3, 8, 5));
    db.extend(pad(header(2, 0x10, 0, 0)));
    db.extend(leaf(
        3,
        &[(b"big", &bucket_value(4), true), (b"small", &inline, true)],
    ));
    db.extend(branch(4, &[(b"k1", 5), (b"k3", 6)]));
    db.extend(leaf(5, &[(b"k1", b"v1", false), (b"k2", b"v2", false)]));
    let six = leaf(6, &[(b"k3", &big_value, false), (b"k4", b"v4", false)]);
    assert_eq!(six.len(), 4 * PS, "page 6 must overflow");
    db.extend(six);
    db
}

fn open(bytes: Vec<u8>, salvage: bool) -> Result<BoltDb<Cursor<Vec<u8>>>, BoltError> {
    let len = bytes.len() as u64;
    BoltDb::open(Cursor::new(bytes), len, salvage)
}

fn keys(db: &mut BoltDb<Cursor<Vec<u8>>>, b: &Bucket) -> Result<Vec<(Vec<u8>, usize)>, BoltError> {
    let mut out = Vec::new();
    db.for_each(b, &mut |k, v, _| {
        out.push((k.to_vec(), v.len()));
        true
    })?;
    Ok(out)
}

#[test]
fn reads_nested_inline_and_overflow() {
    let mut db = open(sample(), false).unwrap();
    assert_eq!(db.meta().txid, 5);
    assert_eq!(db.meta().page, 1);
    let root = db.root();
    let big = db.bucket(&root, b"big").unwrap().unwrap();
    let got = keys(&mut db, &big).unwrap();
    let names: Vec<&[u8]> = got.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(names, [&b"k1"[..], b"k2", b"k3", b"k4"]);
    assert_eq!(got[2].1, 3 * PS);
    assert_eq!(db.stats().max_branch_depth, 1);
    assert_eq!(db.stats().overflow_pages, 3);
    assert_eq!(db.get(&big, b"k2").unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(db.get(&big, b"k3").unwrap().map(|v| v.len()), Some(3 * PS));
    assert_eq!(db.get(&big, b"k0").unwrap(), None);
    assert_eq!(db.get(&big, b"k5").unwrap(), None);
    let small = db.bucket(&root, b"small").unwrap().unwrap();
    assert_eq!(db.get(&small, b"b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(keys(&mut db, &small).unwrap().len(), 2);
    // A bucket is not a value, and a value is not a bucket.
    assert_eq!(db.get(&root, b"big").unwrap(), None);
    assert_eq!(db.bucket(&big, b"k1").unwrap(), None);
}

#[test]
fn newer_meta_with_a_bad_checksum_falls_back_to_the_older() {
    let mut bytes = sample();
    bytes[PS + PAGE_HEADER_SIZE + 48] ^= 1; // txid of meta 1
    let db = open(bytes, false).unwrap();
    assert_eq!(db.meta().page, 0);
    assert_eq!(db.meta().txid, 4);
}

#[test]
fn meta_1_found_when_meta_0_is_garbage() {
    let mut bytes = sample();
    bytes[..PS].fill(0xAB);
    let db = open(bytes, false).unwrap();
    assert_eq!(db.meta().page, 1);
}

#[test]
fn no_valid_meta_is_an_error() {
    let mut bytes = sample();
    bytes[..2 * PS].fill(0);
    let err = open(bytes, false).err().unwrap().to_string();
    assert!(err.contains("not a readable bbolt db"), "{err}");
    assert!(open(vec![1, 2, 3], false).is_err());
    assert!(open(Vec::new(), false).is_err());
}

#[test]
fn truncation_names_the_page_and_salvage_reads_the_rest() {
    let mut bytes = sample();
    bytes.truncate(6 * PS + 100); // page 6 and its overflow are cut
    let mut db = open(bytes.clone(), false).unwrap();
    let big = db.bucket(&db.root(), b"big").unwrap().unwrap();
    let err = keys(&mut db, &big).unwrap_err().to_string();
    assert!(err.starts_with("page 6:"), "{err}");
    assert!(err.contains("truncated db"), "{err}");

    let mut db = open(bytes, true).unwrap();
    let got = keys(&mut db, &big).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(db.skipped().len(), 1);
    assert_eq!(db.skipped()[0].page, 6);
}

#[test]
fn torn_page_and_hostile_offsets_are_errors() {
    // A page whose header names another page.
    let mut bytes = sample();
    bytes[5 * PS..5 * PS + 8].copy_from_slice(&9u64.to_le_bytes());
    let mut db = open(bytes, false).unwrap();
    let big = db.bucket(&db.root(), b"big").unwrap().unwrap();
    let err = keys(&mut db, &big).unwrap_err().to_string();
    assert!(err.contains("page 5: header names page 9"), "{err}");

    // A key position far past the page.
    let mut bytes = sample();
    let e = 5 * PS + PAGE_HEADER_SIZE;
    bytes[e + 4..e + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut db = open(bytes, false).unwrap();
    let err = keys(&mut db, &big).unwrap_err().to_string();
    assert!(err.contains("page 5: element 0: key runs past"), "{err}");

    // A child beyond the high-water mark, and a huge overflow count.
    let mut bytes = sample();
    let e = 4 * PS + PAGE_HEADER_SIZE;
    bytes[e + 8..e + 16].copy_from_slice(&1000u64.to_le_bytes());
    bytes[6 * PS + 12..6 * PS + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut db = open(bytes, true).unwrap();
    let got = keys(&mut db, &big).unwrap();
    assert!(got.is_empty(), "{got:?}");
    let skipped: Vec<u64> = db.skipped().iter().map(|s| s.page).collect();
    assert_eq!(skipped, [1000, 6]);
    assert!(db.skipped()[1].error.contains("overflow pages exceed"));
}

#[test]
fn fnv64a_known_vector() {
    assert_eq!(fnv64a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv64a(b"a"), 0xaf63_dc4c_8601_ec8c);
}
