//! A read-only reader of bbolt files, the etcd v3 backend (`member/snap/db`, and what
//! `etcdctl snapshot save` writes), in safe Rust.
//!
//! Facts of the format (go.etcd.io/bbolt, little-endian as on every etcd host):
//! pages of `page_size` bytes, page `n` at offset `n * page_size`; a 16-byte page
//! header (id u64, flags u16, count u16, overflow u32) and `overflow` more pages when
//! one page does not hold the content; meta pages 0 and 1 (magic, version 2, page
//! size, root bucket, freelist, high-water page id, txid, FNV-64a checksum), the valid
//! one with the higher txid wins; branch elements (pos u32, ksize u32, child u64) and
//! leaf elements (flags u32, pos u32, ksize u32, vsize u32), each key at its element's
//! offset plus `pos`; a bucket value is a 16-byte header (root page, sequence), and an
//! inline bucket (root 0) carries its one leaf page right after the header.
//!
//! Guarantees: pages are read on demand through `Read + Seek` into buffers of at most
//! [`MAX_PAGE_SPAN`] bytes; the input is never mapped nor read whole. Every offset and
//! length read from the file is checked, so a torn or truncated db yields an error that
//! names the page, never a panic. In salvage mode an unreadable page is recorded in
//! [`BoltDb::skipped`] and the walk goes on with the rest.

use std::io::{self, Read, Seek, SeekFrom};

/// The magic number of a bbolt meta page.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only data format version bbolt writes.
pub const VERSION: u32 = 2;
/// The largest page with its overflow pages this reader allocates: 64 MiB.
pub const MAX_PAGE_SPAN: u64 = 64 * 1024 * 1024;

const PAGE_HEADER_SIZE: usize = 16;
const ELEMENT_SIZE: usize = 16;
const META_SIZE: usize = 64;
const META_CHECKSUM_OFFSET: usize = 56;
const BUCKET_HEADER_SIZE: usize = 16;
const MIN_PAGE_SIZE: u32 = 512;
const MAX_PAGE_SIZE: u32 = 1 << 24; // 16 MiB, the largest bbolt probes for
const MAX_DEPTH: u32 = 64;

const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const BUCKET_LEAF_FLAG: u32 = 0x01;

/// Why a db cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BoltError {
    #[error("page {page}: read failed")]
    Io {
        page: u64,
        #[source]
        source: io::Error,
    },
    #[error("page {page}: {why}")]
    Page { page: u64, why: String },
    #[error("not a readable bbolt db: {0}")]
    NoMeta(String),
}

impl BoltError {
    fn page(page: u64, why: impl Into<String>) -> Self {
        Self::Page {
            page,
            why: why.into(),
        }
    }
}

/// The meta page in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// 0 or 1.
    pub page: u64,
    pub page_size: u32,
    pub root: u64,
    pub freelist: u64,
    /// The high-water mark: every page id is below it.
    pub pgid: u64,
    pub txid: u64,
}

/// Called with (key, value, is_bucket) for each element; returning false stops the walk.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8], bool) -> bool + 'a;

/// A page the salvage walk could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPage {
    pub page: u64,
    pub error: String,
}

/// What the walks have read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub pages_read: u64,
    pub overflow_pages: u64,
    /// The most branch pages seen above one leaf.
    pub max_branch_depth: u32,
}

/// A bucket: a B+tree rooted at a page, or an inline leaf page held in its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    root: u64,
    /// The inline page, and the page that holds it (for messages).
    inline: Option<(Vec<u8>, u64)>,
}

/// One page in memory, header included.
struct Page {
    id: u64,
    flags: u16,
    count: usize,
    overflow: u64,
    buf: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parses the meta of page `page` from `buf` (the page from its header on).
fn parse_meta(page: u64, buf: &[u8]) -> Result<Meta, String> {
    if buf.len() < PAGE_HEADER_SIZE + META_SIZE {
        return Err(format!("meta page {page} is cut short"));
    }
    if u16_at(buf, 8) & META_PAGE == 0 {
        return Err(format!("meta page {page} is not flagged as a meta page"));
    }
    let m = &buf[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + META_SIZE];
    if u32_at(m, 0) != MAGIC {
        return Err(format!("meta page {page} has no bbolt magic"));
    }
    let version = u32_at(m, 4);
    if version != VERSION {
        return Err(format!(
            "meta page {page} has format version {version}, this reader knows version {VERSION}"
        ));
    }
    if u64_at(m, META_CHECKSUM_OFFSET) != fnv64a(&m[..META_CHECKSUM_OFFSET]) {
        return Err(format!("meta page {page} fails its checksum"));
    }
    let meta = Meta {
        page,
        page_size: u32_at(m, 8),
        root: u64_at(m, 16),
        freelist: u64_at(m, 32),
        pgid: u64_at(m, 40),
        txid: u64_at(m, 48),
    };
    if !meta.page_size.is_power_of_two()
        || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&meta.page_size)
    {
        return Err(format!("meta page {page} has page size {}", meta.page_size));
    }
    if meta.root < 2 || meta.root >= meta.pgid {
        return Err(format!(
            "meta page {page} has root page {} outside 2..{}",
            meta.root, meta.pgid
        ));
    }
    Ok(meta)
}

/// One leaf element.
pub struct LeafEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub is_bucket: bool,
}

impl Page {
    fn parse(id: u64, buf: Vec<u8>) -> Result<Self, BoltError> {
        if buf.len() < PAGE_HEADER_SIZE {
            return Err(BoltError::page(id, "shorter than a page header"));
        }
        let flags = u16_at(&buf, 8);
        let count = usize::from(u16_at(&buf, 10));
        if flags != BRANCH_PAGE && flags != LEAF_PAGE {
            return Err(BoltError::page(
                id,
                format!("flags {flags:#04x} where a branch or leaf page was expected"),
            ));
        }
        if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > buf.len() {
            return Err(BoltError::page(
                id,
                format!("{count} elements do not fit in {} bytes", buf.len()),
            ));
        }
        Ok(Self {
            id,
            flags,
            count,
            overflow: u64::from(u32_at(&buf, 12)),
            buf,
        })
    }

    fn is_leaf(&self) -> bool {
        self.flags == LEAF_PAGE
    }

    fn slice(&self, at: usize, len: usize, what: &str, i: usize) -> Result<&[u8], BoltError> {
        at.checked_add(len)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| {
                BoltError::page(
                    self.id,
                    format!("element {i}: {what} runs past the end of the page"),
                )
            })
    }

    fn leaf(&self, i: usize) -> Result<LeafEntry<'_>, BoltError> {
        let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        let flags = u32_at(&self.buf, e);
        let pos = u32_at(&self.buf, e + 4) as usize;
        let ksize = u32_at(&self.buf, e + 8) as usize;
        let vsize = u32_at(&self.buf, e + 12) as usize;
        let key = self.slice(e + pos, ksize, "key", i)?;
        let value = self.slice(e + pos + ksize, vsize, "value", i)?;
        Ok(LeafEntry {
            key,
            value,
            is_bucket: flags & BUCKET_LEAF_FLAG != 0,
        })
    }

    fn branch(&self, i: usize) -> Result<(&[u8], u64), BoltError> {
        let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        let pos = u32_at(&self.buf, e) as usize;
        let ksize = u32_at(&self.buf, e + 4) as usize;
        let child = u64_at(&self.buf, e + 8);
        Ok((self.slice(e + pos, ksize, "key", i)?, child))
    }
}

/// A bbolt db opened for reading.
pub struct BoltDb<R> {
    src: R,
    len: u64,
    meta: Meta,
    salvage: bool,
    skipped: Vec<SkippedPage>,
    stats: Stats,
}

impl<R: Read + Seek> BoltDb<R> {
    /// Opens the db in `src`, `len` bytes long, from its newest valid meta page.
    /// With `salvage`, unreadable pages are skipped and listed in [`Self::skipped`].
    pub fn open(mut src: R, len: u64, salvage: bool) -> Result<Self, BoltError> {
        let meta = read_meta(&mut src, len)?;
        Ok(Self {
            src,
            len,
            meta,
            salvage,
            skipped: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// The byte source the db is read from.
    pub fn source(&self) -> &R {
        &self.src
    }

    pub fn meta(&self) -> Meta {
        self.meta
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The pages a salvage walk skipped, with why.
    pub fn skipped(&self) -> &[SkippedPage] {
        &self.skipped
    }

    /// The root bucket, whose keys are the top-level buckets.
    pub fn root(&self) -> Bucket {
        Bucket {
            root: self.meta.root,
            inline: None,
        }
    }

    fn read_page(&mut self, id: u64) -> Result<Page, BoltError> {
        if id < 2 || id >= self.meta.pgid {
            return Err(BoltError::page(
                id,
                format!(
                    "page id outside 2..{} (the high-water mark of meta page {})",
                    self.meta.pgid, self.meta.page
                ),
            ));
        }
        let ps = u64::from(self.meta.page_size);
        let off = id
            .checked_mul(ps)
            .ok_or_else(|| BoltError::page(id, "offset overflows"))?;
        if off.saturating_add(PAGE_HEADER_SIZE as u64) > self.len {
            return Err(BoltError::page(
                id,
                format!(
                    "starts at byte {off}, past the end of the {}-byte file (truncated db)",
                    self.len
                ),
            ));
        }
        let io = |source| BoltError::Io { page: id, source };
        self.src.seek(SeekFrom::Start(off)).map_err(io)?;
        let mut header = [0u8; PAGE_HEADER_SIZE];
        self.src.read_exact(&mut header).map_err(io)?;
        let header_id = u64_at(&header, 0);
        if header_id != id {
            return Err(BoltError::page(
                id,
                format!("header names page {header_id} (torn or overwritten page)"),
            ));
        }
        let overflow = u64::from(u32_at(&header, 12));
        let span = (overflow + 1).saturating_mul(ps);
        if span > MAX_PAGE_SPAN {
            return Err(BoltError::page(
                id,
                format!("{overflow} overflow pages exceed the {MAX_PAGE_SPAN}-byte limit"),
            ));
        }
        if off + span > self.len {
            return Err(BoltError::page(
                id,
                format!(
                    "with {overflow} overflow pages it runs past the end of the {}-byte file (truncated db)",
                    self.len
                ),
            ));
        }
        let mut buf = vec![0u8; span as usize];
        buf[..PAGE_HEADER_SIZE].copy_from_slice(&header);
        self.src
            .read_exact(&mut buf[PAGE_HEADER_SIZE..])
            .map_err(io)?;
        self.stats.pages_read += 1;
        self.stats.overflow_pages += overflow;
        Page::parse(id, buf)
    }

    fn bucket_root(&mut self, bucket: &Bucket) -> Result<Page, BoltError> {
        match &bucket.inline {
            Some((buf, holder)) => Page::parse(*holder, buf.clone()).map_err(|e| match e {
                BoltError::Page { page, why } => {
                    BoltError::page(page, format!("inline bucket: {why}"))
                }
                other => other,
            }),
            None => self.read_page(bucket.root),
        }
    }

    /// The value of `key` in `bucket`, or None; a nested bucket is not a value.
    pub fn get(&mut self, bucket: &Bucket, key: &[u8]) -> Result<Option<Vec<u8>>, BoltError> {
        Ok(self
            .find(bucket, key)?
            .and_then(|(v, is_bucket)| (!is_bucket).then_some(v)))
    }

    /// The nested bucket `name` of `parent`, or None.
    pub fn bucket(&mut self, parent: &Bucket, name: &[u8]) -> Result<Option<Bucket>, BoltError> {
        let holder = parent.root;
        let Some((value, true)) = self.find(parent, name)? else {
            return Ok(None);
        };
        if value.len() < BUCKET_HEADER_SIZE {
            return Err(BoltError::page(
                holder,
                format!(
                    "bucket {} has a {}-byte header",
                    String::from_utf8_lossy(name),
                    value.len()
                ),
            ));
        }
        let root = u64_at(&value, 0);
        let inline = (root == 0).then(|| (value[BUCKET_HEADER_SIZE..].to_vec(), holder));
        Ok(Some(Bucket { root, inline }))
    }

    fn find(&mut self, bucket: &Bucket, key: &[u8]) -> Result<Option<(Vec<u8>, bool)>, BoltError> {
        let mut page = self.bucket_root(bucket)?;
        for _ in 0..MAX_DEPTH {
            if page.is_leaf() {
                for i in 0..page.count {
                    let e = page.leaf(i)?;
                    if e.key == key {
                        return Ok(Some((e.value.to_vec(), e.is_bucket)));
                    }
                }
                return Ok(None);
            }
            let mut child = None;
            for i in 0..page.count {
                let (k, c) = page.branch(i)?;
                if i == 0 || k <= key {
                    child = Some(c);
                } else {
                    break;
                }
            }
            let Some(child) = child else {
                return Ok(None);
            };
            page = self.read_page(child)?;
        }
        Err(BoltError::page(bucket.root, "deeper than 64 levels"))
    }

    /// Calls `f(key, value, is_bucket)` for every element of `bucket` in key order,
    /// until it returns false. In salvage mode an unreadable page is recorded and
    /// skipped; otherwise its error ends the walk.
    pub fn for_each(&mut self, bucket: &Bucket, f: &mut Visitor<'_>) -> Result<(), BoltError> {
        let page = match self.bucket_root(bucket) {
            Ok(p) => p,
            Err(e) => return self.skip_or_fail(e),
        };
        self.walk(page, 0, &[], f).map(|_| ())
    }

    /// Like [`for_each`](Self::for_each), from the first key at or after `from`:
    /// only the pages on the way to it and after it are read.
    pub fn for_each_from(
        &mut self,
        bucket: &Bucket,
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), BoltError> {
        let page = match self.bucket_root(bucket) {
            Ok(p) => p,
            Err(e) => return self.skip_or_fail(e),
        };
        self.walk(page, 0, from, f).map(|_| ())
    }

    /// Records an error as a skipped page (salvage mode), or returns it.
    pub fn skip_or_fail(&mut self, e: BoltError) -> Result<(), BoltError> {
        if !self.salvage {
            return Err(e);
        }
        let page = match &e {
            BoltError::Io { page, .. } | BoltError::Page { page, .. } => *page,
            BoltError::NoMeta(_) => 0,
        };
        self.skipped.push(SkippedPage {
            page,
            error: e.to_string(),
        });
        Ok(())
    }

    /// The last resort of salvage, when a tree cannot be walked from its root: reads
    /// every page in file order and calls `f(key, value, is_bucket)` for each element
    /// of each readable leaf page, live or freed, of any bucket, until `f` returns
    /// false. Callers must recognise their records and order them themselves.
    pub fn scan_leaves(&mut self, f: &mut Visitor<'_>) -> Result<(), BoltError> {
        let in_file = self.len / u64::from(self.meta.page_size);
        if in_file < self.meta.pgid {
            self.skip_or_fail(BoltError::page(
                in_file,
                format!(
                    "pages {in_file}..{} are past the end of the file (truncated db)",
                    self.meta.pgid
                ),
            ))?;
        }
        let end = self.meta.pgid.min(in_file);
        let mut id = 2;
        while id < end {
            let Ok(page) = self.read_page(id) else {
                id += 1;
                continue;
            };
            id += 1 + page.overflow;
            if !page.is_leaf() {
                continue;
            }
            for i in 0..page.count {
                let Ok(e) = page.leaf(i) else { break };
                if !f(e.key, e.value, e.is_bucket) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Returns false when `f` asked to stop.
    fn walk(
        &mut self,
        page: Page,
        depth: u32,
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<bool, BoltError> {
        if depth > MAX_DEPTH {
            self.skip_or_fail(BoltError::page(page.id, "deeper than 64 levels"))?;
            return Ok(true);
        }
        if page.is_leaf() {
            self.stats.max_branch_depth = self.stats.max_branch_depth.max(depth);
            for i in 0..page.count {
                match page.leaf(i) {
                    Ok(e) if e.key < from => {}
                    Ok(e) => {
                        if !f(e.key, e.value, e.is_bucket) {
                            return Ok(false);
                        }
                    }
                    Err(e) => {
                        self.skip_or_fail(e)?;
                        return Ok(true);
                    }
                }
            }
            return Ok(true);
        }
        for i in 0..page.count {
            // Child i holds the keys from its own first key up to the next child's:
            // none of them is wanted when the next child starts at or before `from`.
            if !from.is_empty()
                && i + 1 < page.count
                && page.branch(i + 1).is_ok_and(|(next, _)| next <= from)
            {
                continue;
            }
            let child = match page.branch(i) {
                Ok((_, c)) => self.read_page(c),
                Err(e) => Err(e),
            };
            match child {
                Ok(c) => {
                    if !self.walk(c, depth + 1, from, f)? {
                        return Ok(false);
                    }
                }
                Err(e) => self.skip_or_fail(e)?,
            }
        }
        Ok(true)
    }
}

/// Reads both meta pages and returns the valid one with the higher txid.
fn read_meta<R: Read + Seek>(src: &mut R, len: u64) -> Result<Meta, BoltError> {
    let mut errors = Vec::new();
    let first =
        read_at(src, 0, 4096, len).map_err(|e| BoltError::NoMeta(format!("meta page 0: {e}")))?;
    let meta0 = parse_meta(0, &first).map_err(|e| errors.push(e)).ok();
    // Page 1 sits one page size in; without a valid page 0 try the sizes bbolt tries.
    let sizes: Vec<u64> = match meta0 {
        Some(m) => vec![u64::from(m.page_size)],
        None => (0..=14).map(|i| 1024u64 << i).collect(),
    };
    let mut meta1 = None;
    for size in sizes {
        if size + (PAGE_HEADER_SIZE + META_SIZE) as u64 > len {
            errors.push("meta page 1 is past the end of the file".into());
            break;
        }
        match read_at(src, size, PAGE_HEADER_SIZE + META_SIZE, len)
            .map_err(|e| e.to_string())
            .and_then(|b| parse_meta(1, &b))
        {
            Ok(m) if u64::from(m.page_size) == size => {
                meta1 = Some(m);
                break;
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    let best = match (meta0, meta1) {
        (Some(a), Some(b)) => Some(if b.txid > a.txid { b } else { a }),
        (a, b) => a.or(b),
    };
    best.ok_or_else(|| BoltError::NoMeta(errors.join("; ")))
}

fn read_at<R: Read + Seek>(src: &mut R, off: u64, want: usize, len: u64) -> io::Result<Vec<u8>> {
    let n = want.min(len.saturating_sub(off) as usize);
    let mut buf = vec![0u8; n];
    src.seek(SeekFrom::Start(off))?;
    src.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
#[path = "bbolt_tests.rs"]
mod tests;
