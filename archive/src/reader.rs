//! The random-access archive reader (spec §2, §6, §7).
//!
//! Opening reads the magic, the trailer, the index and the manifest; reading a file
//! then seeks to its object. The byte source is any `Read + Seek`, so a decrypting
//! layer that seeks in chunks works the same as a plain file.

use super::container::{
    self, BLOCK, INDEX_MEMBER, MAGIC_MEMBER, MANIFEST_MEMBER, TAIL_LEN, TRAILER_LEN, TRAILER_MEMBER,
};
use super::{
    ArchiveError, CHUNK_ITEMS, Chunk, ChunkRow, Entry, EntryType, FORMAT_VERSION, FrameTable,
    Index, IndexObject, MAX_CHUNK_LEN, MAX_ITEMS, Manifest, ObjectId, PACK_MAX, PackLocation,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAX_INDEX_LEN: u64 = 256 * 1024 * 1024; // 256 MiB
const MAX_MANIFEST_LEN: u64 = 1024 * 1024 * 1024; // 1 GiB

/// A byte source the reader can seek in.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An open archive: index and manifest in memory, objects read on demand.
pub struct ArchiveReader {
    path: PathBuf,
    inner: Box<dyn ReadSeek>,
    len: u64,
    index: Index,
    /// Object id -> position of its row in `index.objects`.
    by_id: HashMap<ObjectId, u32>,
    /// Object id -> position of its table in `index.frames`.
    frames: HashMap<ObjectId, usize>,
    manifest: Manifest,
    /// The format version of the archive (spec §2).
    version: u32,
    /// Decompressed packs read last (v2 §3), by member offset, newest last.
    packs: Vec<(u64, Arc<Vec<u8>>)>,
}

/// How many decompressed packs a reader keeps (v2 §3).
const PACK_CACHE: usize = 4;

/// What an open reads of a version 2 archive (v2 §6). Version 1 archives are always
/// read whole.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every entry and object row.
    All,
    /// Only the entries of these paths and whatever lies beneath them, plus the
    /// files their hard links name, read from the chunks that hold them, and the
    /// object rows those entries need: the manifest then holds that sorted subset.
    Paths(Vec<Vec<u8>>),
}

/// Smallest and largest frame size a reader accepts (spec §4.1, §9).
const MIN_FRAME_SIZE: u64 = 64 * 1024;
const MAX_FRAME_SIZE: u64 = 64 * 1024 * 1024;

/// Checks every frame table against its object (spec §4.1): a known object, a frame
/// size within limits, as many frames as the size needs, stored lengths that add up
/// to the member's and none beyond what zstd can produce from one frame.
fn frame_tables(
    path: &Path,
    index: &Index,
    by_id: &HashMap<ObjectId, u32>,
) -> Result<HashMap<ObjectId, usize>, ArchiveError> {
    let mut out = HashMap::with_capacity(index.frames.len());
    for (i, t) in index.frames.iter().enumerate() {
        let bad =
            |why: String| ArchiveError::malformed(path, format!("frame table of {}: {why}", t.id));
        let Some(loc) = by_id.get(&t.id).map(|i| &index.objects[*i as usize]) else {
            return Err(bad("no such object".into()));
        };
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&t.frame_size) {
            return Err(bad(format!("frame size {} is out of range", t.frame_size)));
        }
        if t.frames.len() < 2 || loc.size.div_ceil(t.frame_size) != t.frames.len() as u64 {
            return Err(bad(format!(
                "{} frames do not fit a {}-byte object",
                t.frames.len(),
                loc.size
            )));
        }
        let bound = max_stored_frame(t.frame_size);
        if t.frames.iter().any(|f| f.length == 0 || f.length > bound) {
            return Err(bad("a frame's stored length is out of range".into()));
        }
        let total = t
            .frames
            .iter()
            .try_fold(0u64, |a, f| a.checked_add(f.length));
        if total != Some(loc.length) {
            return Err(bad("frame lengths do not add up to the object's".into()));
        }
        if out.insert(t.id, i).is_some() {
            return Err(bad("listed twice".into()));
        }
    }
    Ok(out)
}

/// The most stored bytes one frame of `frame_size` bytes may take: zstd's bound for
/// incompressible input (a block header per 128 KiB block) plus the frame header.
fn max_stored_frame(frame_size: u64) -> u64 {
    frame_size + frame_size / 128 + 1024
}

/// A seekable reader of one object stored as independent frames; see
/// [`ArchiveReader::into_framed_object`]. One decompressed frame is kept.
pub struct FramedObject {
    id: ObjectId,
    size: u64,
    frame_size: u64,
    frames: Vec<super::Frame>,
    /// Stream offset of each frame's first stored byte.
    starts: Vec<u64>,
    path: PathBuf,
    inner: Box<dyn ReadSeek>,
    pos: u64,
    cache: Option<(usize, Vec<u8>)>,
    stored_read: u64,
}

impl FramedObject {
    /// The object's uncompressed size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Stored (compressed) bytes read from the archive so far.
    pub fn stored_bytes_read(&self) -> u64 {
        self.stored_read
    }

    /// The archive's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn frame(&mut self, i: usize) -> io::Result<&[u8]> {
        if self.cache.as_ref().is_none_or(|(c, _)| *c != i) {
            let f = self.frames[i];
            let bad = |why: String| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("object {} frame {i}: {why}", self.id),
                )
            };
            self.inner.seek(SeekFrom::Start(self.starts[i]))?;
            let mut stored = vec![0u8; f.length as usize];
            self.inner.read_exact(&mut stored)?;
            self.stored_read += f.length;
            if ObjectId::of_bytes(&stored) != f.stored_sha256 {
                return Err(bad("stored bytes fail their SHA-256 check".into()));
            }
            let want = if i + 1 == self.frames.len() {
                self.size - self.frame_size * i as u64
            } else {
                self.frame_size
            };
            let plain = zstd::bulk::decompress(&stored, want as usize)
                .map_err(|e| bad(format!("does not decompress: {e}")))?;
            if plain.len() as u64 != want {
                return Err(bad(format!("holds {} bytes, not {want}", plain.len())));
            }
            self.cache = Some((i, plain));
        }
        Ok(self
            .cache
            .as_ref()
            .map(|(_, b)| b.as_slice())
            .unwrap_or(&[]))
    }
}

impl Read for FramedObject {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let i = (self.pos / self.frame_size) as usize;
        let within = (self.pos - self.frame_size * i as u64) as usize;
        let frame = self.frame(i)?;
        let n = buf.len().min(frame.len() - within);
        buf[..n].copy_from_slice(&frame[within..within + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FramedObject {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let p = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = p;
        Ok(p)
    }
}

/// The result of a sequential scan: the members, and every structural problem found
/// (non-zero padding, a damaged end marker, bytes after it).
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub members: Vec<ScannedMember>,
    pub problems: Vec<String>,
}

/// One member found by a sequential scan of the container.
#[derive(Debug, Clone)]
pub struct ScannedMember {
    pub header: [u8; 512],
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub offset: u64,
    pub length: u64,
}

impl ArchiveReader {
    /// Opens a plain archive file.
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let file = File::open(path).map_err(|e| ArchiveError::io(path, e))?;
        Self::from_source(path, Box::new(BufReader::with_capacity(64 * 1024, file)))
    }

    /// Opens a plain archive file, reading only what `scope` needs.
    pub fn open_scoped(path: &Path, scope: &Scope) -> Result<Self, ArchiveError> {
        let file = File::open(path).map_err(|e| ArchiveError::io(path, e))?;
        Self::from_source_scoped(
            path,
            Box::new(BufReader::with_capacity(64 * 1024, file)),
            scope,
        )
    }

    /// Opens an archive from any seekable byte source; `path` names it in messages.
    pub fn from_source(path: &Path, inner: Box<dyn ReadSeek>) -> Result<Self, ArchiveError> {
        Self::from_source_scoped(path, inner, &Scope::All)
    }

    /// Like [`from_source`](Self::from_source), reading only what `scope` needs.
    pub fn from_source_scoped(
        path: &Path,
        mut inner: Box<dyn ReadSeek>,
        scope: &Scope,
    ) -> Result<Self, ArchiveError> {
        let io = |e| ArchiveError::io(path, e);
        let len = inner.seek(SeekFrom::End(0)).map_err(io)?;
        let version = check_magic(path, &mut inner, len)?;
        if len < 2 * BLOCK + TAIL_LEN {
            return Err(ArchiveError::corrupt(path, "archive is truncated"));
        }
        // Trailer (spec §7).
        let mut tail = vec![0u8; 2 * BLOCK as usize];
        inner.seek(SeekFrom::Start(len - TAIL_LEN)).map_err(io)?;
        inner.read_exact(&mut tail).map_err(io)?;
        let header = header_block(&tail[..512]);
        let th = container::parse_header(&header)
            .map_err(|w| {
                ArchiveError::corrupt(
                    path,
                    format!("archive is truncated or damaged (no trailer at the end: {w})"),
                )
            })?
            .ok_or_else(|| ArchiveError::corrupt(path, "archive is truncated (no trailer)"))?;
        if th.name != TRAILER_MEMBER.as_bytes() || th.size != TRAILER_LEN as u64 {
            return Err(ArchiveError::corrupt(
                path,
                "archive is truncated or damaged (no trailer at the end)",
            ));
        }
        let trailer_raw = &tail[512..512 + TRAILER_LEN];
        let trailer =
            container::parse_trailer(trailer_raw).map_err(|w| ArchiveError::corrupt(path, w))?;
        // Only the exact bytes the writer produces are accepted (no upper-case hex, no
        // other padding), so any change to the trailer is caught.
        let canonical = container::trailer_bytes(
            trailer.version,
            trailer.index_offset,
            trailer.index_length,
            &trailer.index_sha256,
        );
        if trailer.version <= FORMAT_VERSION && canonical != trailer_raw {
            return Err(ArchiveError::corrupt(
                path,
                "trailer is not in canonical form",
            ));
        }
        if trailer.version > FORMAT_VERSION {
            return Err(ArchiveError::NewerVersion {
                path: path.into(),
                found: trailer.version,
                supported: FORMAT_VERSION,
            });
        }
        if trailer.index_length > MAX_INDEX_LEN
            || trailer.index_offset.saturating_add(trailer.index_length) > len
        {
            return Err(ArchiveError::corrupt(path, "index location out of range"));
        }
        // Index.
        let mut ijson = vec![0u8; trailer.index_length as usize];
        inner
            .seek(SeekFrom::Start(trailer.index_offset))
            .map_err(io)?;
        inner.read_exact(&mut ijson).map_err(io)?;
        if ObjectId::of_bytes(&ijson) != trailer.index_sha256 {
            return Err(ArchiveError::corrupt(
                path,
                "index does not match the trailer's SHA-256",
            ));
        }
        // The index matched the trailer's SHA-256: what fails to parse was written so.
        let index = parse_index(path, &ijson).map_err(|e| match e {
            ArchiveError::Corrupt { path, why } => ArchiveError::Malformed { path, why },
            other => other,
        })?;
        drop(ijson);
        if index.version > FORMAT_VERSION {
            return Err(ArchiveError::NewerVersion {
                path: path.into(),
                found: index.version,
                supported: FORMAT_VERSION,
            });
        }
        if index.version != version || trailer.version != version {
            return Err(ArchiveError::malformed(
                path,
                format!(
                    "the magic says version {version}, the trailer {} and the index {}",
                    trailer.version, index.version
                ),
            ));
        }
        let mut index = index;
        let mut manifest = read_manifest(path, &mut inner, &index, len)?;
        if manifest.version != version {
            return Err(ArchiveError::malformed(
                path,
                format!("the manifest says version {}", manifest.version),
            ));
        }
        if version >= 2 {
            if !index.objects.is_empty() || !manifest.entries.is_empty() {
                return Err(ArchiveError::malformed(
                    path,
                    "a version 2 index and manifest head list no objects or entries (v2 §4, §6)",
                ));
            }
            let mut chunks = Chunks {
                path,
                inner: &mut inner,
                len,
            };
            let (entries, rows) = chunks.load(&index, scope)?;
            manifest.entries = entries;
            index.objects = rows;
        } else if !index.entry_chunks.is_empty() || !index.object_chunks.is_empty() {
            return Err(ArchiveError::malformed(
                path,
                "a version 1 index has no chunks",
            ));
        }
        if index.objects.len() > MAX_ITEMS {
            return Err(ArchiveError::malformed(path, "too many objects in index"));
        }
        let mut by_id = HashMap::with_capacity(index.objects.len());
        for (i, o) in index.objects.iter().enumerate() {
            if o.offset.saturating_add(o.length) > len {
                return Err(ArchiveError::corrupt(
                    path,
                    format!("object {} lies outside the archive", o.id),
                ));
            }
            // MAX_ITEMS (checked above) fits in u32.
            by_id.insert(o.id, i as u32);
        }
        if matches!(scope, Scope::Paths(_)) {
            // A scoped open loads some rows only: the frame tables of the others are
            // not this read's to check (a whole open checks every one).
            index.frames.retain(|t| by_id.contains_key(&t.id));
        }
        let frames = frame_tables(path, &index, &by_id)?;
        // Spec §5.2 and §9: what a writer cannot produce is refused before any
        // command acts on it.
        let problems = super::manifest_problems(&manifest, &index);
        if let Some(first) = problems.first() {
            return Err(ArchiveError::malformed(
                path,
                format!(
                    "manifest breaks the format rules ({} problem(s)); first: {first}",
                    problems.len()
                ),
            ));
        }
        Ok(Self {
            path: path.into(),
            inner,
            len,
            index,
            by_id,
            frames,
            manifest,
            version,
            packs: Vec::new(),
        })
    }

    /// The archive's format version (spec §2).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The frame table of an object stored as several independent zstd frames
    /// (spec §4.1), or None when it is one frame.
    pub fn frame_table(&self, id: &ObjectId) -> Option<&FrameTable> {
        self.frames.get(id).map(|i| &self.index.frames[*i])
    }

    /// Turns the reader into a seekable reader of one framed object: reading at any
    /// position reads and decompresses only the frame that holds it, after checking
    /// the SHA-256 of its stored bytes against the frame table. The whole object's
    /// content hash cannot be checked by a partial read; `verify` checks it.
    pub fn into_framed_object(self, id: &ObjectId) -> Result<FramedObject, ArchiveError> {
        let (Some(loc), Some(table)) = (self.object_location(id), self.frame_table(id)) else {
            return Err(ArchiveError::malformed(
                &self.path,
                format!("object {id} has no frame table"),
            ));
        };
        let mut starts = Vec::with_capacity(table.frames.len());
        let mut at = loc.offset;
        for f in &table.frames {
            starts.push(at);
            at += f.length;
        }
        Ok(FramedObject {
            id: *id,
            size: loc.size,
            frame_size: table.frame_size,
            frames: table.frames.clone(),
            starts,
            path: self.path,
            inner: self.inner,
            pos: 0,
            cache: None,
            stored_read: 0,
        })
    }

    /// The archive's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of the plain archive stream in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: an open archive has at least its magic and trailer.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Location of an object, if the index lists it.
    pub fn object_location(&self, id: &ObjectId) -> Option<&IndexObject> {
        self.by_id.get(id).map(|i| &self.index.objects[*i as usize])
    }

    /// Opens an object for reading. The reader decompresses, and at the end checks the
    /// size and SHA-256; a mismatch is an `InvalidData` error from `read`.
    pub fn open_object(&mut self, id: &ObjectId) -> Result<ObjectReader<'_>, ArchiveError> {
        let loc = *self
            .object_location(id)
            .ok_or_else(|| ArchiveError::MissingObject {
                path: self.path.clone(),
                id: id.to_hex(),
            })?;
        if let (Some(_), Some(start)) = (loc.pack, loc.start) {
            let pack = self.pack(&loc)?;
            let end = start
                .checked_add(loc.size)
                .filter(|e| *e <= pack.len() as u64)
                .ok_or_else(|| {
                    ArchiveError::corrupt(&self.path, format!("object {id} lies outside its pack"))
                })?;
            return Ok(ObjectReader {
                source: Source::Slice {
                    data: pack,
                    pos: start as usize,
                    end: end as usize,
                },
                hasher: Sha256::new(),
                expect: *id,
                expect_size: loc.size,
                expect_stored: None,
                seen: 0,
                done: false,
            });
        }
        self.inner
            .seek(SeekFrom::Start(loc.offset))
            .map_err(|e| ArchiveError::io(&self.path, e))?;
        let raw = RawHashing {
            inner: (&mut self.inner).take(loc.length),
            hasher: Sha256::new(),
        };
        let decoder =
            zstd::stream::read::Decoder::new(raw).map_err(|e| ArchiveError::io(&self.path, e))?;
        Ok(ObjectReader {
            source: Source::Stream(Box::new(decoder)),
            hasher: Sha256::new(),
            expect: *id,
            expect_size: loc.size,
            expect_stored: loc.stored_sha256,
            seen: 0,
            done: false,
        })
    }

    /// The decompressed content of the pack an object row names (v2 §3): from the
    /// cache, or read whole, checked against its stored SHA-256 and decompressed
    /// to at most [`PACK_MAX`] bytes.
    fn pack(&mut self, loc: &IndexObject) -> Result<Arc<Vec<u8>>, ArchiveError> {
        if let Some(i) = self.packs.iter().position(|(at, _)| *at == loc.offset) {
            let hit = self.packs.remove(i);
            let data = Arc::clone(&hit.1);
            self.packs.push(hit);
            return Ok(data);
        }
        let corrupt = |why: String| ArchiveError::corrupt(&self.path, why);
        let name = loc.pack.map(container::pack_member).unwrap_or_default();
        if loc.length > max_stored_frame(PACK_MAX) {
            return Err(corrupt(format!("{name}: stored length out of range")));
        }
        let mut stored = vec![0u8; loc.length as usize];
        self.inner
            .seek(SeekFrom::Start(loc.offset))
            .and_then(|_| self.inner.read_exact(&mut stored))
            .map_err(|e| ArchiveError::io(&self.path, e))?;
        if Some(ObjectId::of_bytes(&stored)) != loc.stored_sha256 {
            return Err(corrupt(format!(
                "{name}: stored bytes fail their SHA-256 check"
            )));
        }
        let mut data = Vec::with_capacity(PACK_MAX as usize + 1);
        zstd::stream::read::Decoder::new(&stored[..])
            .and_then(|d| d.take(PACK_MAX + 1).read_to_end(&mut data))
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        if data.len() as u64 > PACK_MAX {
            return Err(corrupt(format!("{name}: decompresses to more than 1 MiB")));
        }
        let data = Arc::new(data);
        if self.packs.len() >= PACK_CACHE {
            self.packs.remove(0);
        }
        self.packs.push((loc.offset, Arc::clone(&data)));
        Ok(data)
    }

    /// The decompressed length of the pack an object row names (v2 §3).
    pub fn pack_len(&mut self, loc: &IndexObject) -> Result<u64, ArchiveError> {
        Ok(self.pack(loc)?.len() as u64)
    }

    /// Reads the container from the start, header by header (spec §3), returning
    /// every member. Used by verify to check the index against the real layout.
    pub fn scan_members(&mut self) -> Result<Scan, ArchiveError> {
        let io = |e| ArchiveError::io(&self.path, e);
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let mut pos = 0u64;
        let mut block = [0u8; 512];
        loop {
            if pos + BLOCK > self.len {
                return Err(ArchiveError::corrupt(
                    &self.path,
                    format!("container ends without an end marker at byte {pos}"),
                ));
            }
            self.inner.seek(SeekFrom::Start(pos)).map_err(io)?;
            self.inner.read_exact(&mut block).map_err(io)?;
            let Some(h) = container::parse_header(&block)
                .map_err(|w| ArchiveError::corrupt(&self.path, format!("at byte {pos}: {w}")))?
            else {
                break;
            };
            let offset = pos + BLOCK;
            let next = offset
                .checked_add(h.size)
                .and_then(|v| v.checked_add(container::padding(h.size)))
                .filter(|v| *v <= self.len)
                .ok_or_else(|| {
                    ArchiveError::corrupt(&self.path, format!("member at byte {pos} overruns"))
                })?;
            if out.len() >= MAX_ITEMS {
                return Err(ArchiveError::corrupt(&self.path, "too many members"));
            }
            let pad = container::padding(h.size) as usize;
            let mut padding = [0u8; 512];
            self.inner
                .seek(SeekFrom::Start(offset + h.size))
                .map_err(io)?;
            self.inner.read_exact(&mut padding[..pad]).map_err(io)?;
            if padding[..pad].iter().any(|b| *b != 0) {
                problems.push(format!(
                    "member {} has non-zero padding",
                    String::from_utf8_lossy(&h.name)
                ));
            }
            out.push(ScannedMember {
                header: block,
                name: h.name,
                typeflag: h.typeflag,
                offset,
                length: h.size,
            });
            pos = next;
        }
        // Exactly two zero blocks end the stream (spec §1).
        if self.len != pos + 2 * BLOCK {
            problems.push(format!(
                "the end marker at byte {pos} is followed by {} bytes instead of 512",
                self.len.saturating_sub(pos + BLOCK)
            ));
        } else {
            self.inner.seek(SeekFrom::Start(pos + BLOCK)).map_err(io)?;
            self.inner.read_exact(&mut block).map_err(io)?;
            if block.iter().any(|b| *b != 0) {
                problems.push("the second end-of-archive block is not zero".into());
            }
        }
        Ok(Scan {
            members: out,
            problems,
        })
    }

    /// SHA-256 of `length` stored bytes at `offset`, streamed.
    pub fn hash_stored(&mut self, offset: u64, length: u64) -> Result<ObjectId, ArchiveError> {
        let io = |e| ArchiveError::io(&self.path, e);
        self.inner.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = length;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.inner.read_exact(&mut buf[..n]).map_err(io)?;
            h.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(ObjectId::from_hasher(h))
    }
}

/// Parses the index member: zstd-compressed JSON, or plain JSON in archives written
/// before the index was compressed (spec §6). Decompression is bounded.
fn parse_index(path: &Path, stored: &[u8]) -> Result<Index, ArchiveError> {
    let corrupt = |e: String| ArchiveError::corrupt(path, format!("index: {e}"));
    if stored.starts_with(&container::ZSTD_MAGIC) {
        // Sized from the frame header when it records the content size (the writer's
        // does), so the buffer is not regrown and copied while decompressing.
        let hint = zstd::zstd_safe::get_frame_content_size(stored)
            .ok()
            .flatten()
            .unwrap_or(0)
            .min(MAX_INDEX_LEN)
            // The header is not trusted yet: a tiny member must not reserve 256 MiB.
            .min(stored.len() as u64 * 32);
        let mut json = Vec::with_capacity(hint as usize + 1);
        zstd::stream::read::Decoder::new(stored)
            .map_err(|e| corrupt(e.to_string()))?
            .take(MAX_INDEX_LEN + 1)
            .read_to_end(&mut json)
            .map_err(|e| corrupt(e.to_string()))?;
        if json.len() as u64 > MAX_INDEX_LEN {
            return Err(corrupt("larger than 256 MiB".into()));
        }
        json_from_bytes(&json).map_err(corrupt)
    } else {
        json_from_bytes(stored).map_err(corrupt)
    }
}

/// Parses JSON after checking UTF-8 once for the whole buffer: `from_slice` checks
/// each string on its own, which a profile of a single-file restore put at 5%.
fn json_from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn header_block(bytes: &[u8]) -> [u8; 512] {
    let mut b = [0u8; 512];
    b.copy_from_slice(&bytes[..512]);
    b
}

fn check_magic(path: &Path, inner: &mut Box<dyn ReadSeek>, len: u64) -> Result<u32, ArchiveError> {
    let not = |why: &str| ArchiveError::NotAnArchive {
        path: path.into(),
        why: why.into(),
    };
    if len < 2 * BLOCK {
        return Err(not("file is too short"));
    }
    let mut head = [0u8; 1024];
    inner
        .seek(SeekFrom::Start(0))
        .map_err(|e| ArchiveError::io(path, e))?;
    inner
        .read_exact(&mut head)
        .map_err(|e| ArchiveError::io(path, e))?;
    if head.starts_with(b"age-encryption.org/") {
        return Err(not(
            "it is age-encrypted; decrypt it with an identity or passphrase",
        ));
    }
    let h = container::parse_header(&header_block(&head))
        .ok()
        .flatten()
        .ok_or_else(|| not("no tar header at the start"))?;
    if h.name != MAGIC_MEMBER.as_bytes() {
        return Err(not("first member is not OCPVAULT"));
    }
    let data = &head[512..512 + (h.size.min(512) as usize)];
    let text = std::str::from_utf8(data).map_err(|_| not("magic is not text"))?;
    let version = text
        .strip_prefix(container::MAGIC_PREFIX)
        .and_then(|v| v.trim_end().parse::<u32>().ok())
        .ok_or_else(|| not("bad magic line"))?;
    if version > FORMAT_VERSION {
        return Err(ArchiveError::NewerVersion {
            path: path.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(not("format version 0 does not exist"));
    }
    Ok(version)
}

fn read_manifest(
    path: &Path,
    inner: &mut Box<dyn ReadSeek>,
    index: &Index,
    len: u64,
) -> Result<Manifest, ArchiveError> {
    let loc = &index.manifest;
    if loc.length > MAX_MANIFEST_LEN || loc.size > MAX_MANIFEST_LEN {
        return Err(ArchiveError::malformed(
            path,
            "manifest size out of range: larger than 1 GiB (spec §9 limit)",
        ));
    }
    if loc.offset.saturating_add(loc.length) > len {
        return Err(ArchiveError::corrupt(
            path,
            "manifest location out of range",
        ));
    }
    inner
        .seek(SeekFrom::Start(loc.offset))
        .map_err(|e| ArchiveError::io(path, e))?;
    let limited = inner.take(loc.length);
    let mut decoder =
        zstd::stream::read::Decoder::new(limited).map_err(|e| ArchiveError::io(path, e))?;
    // Bounded by loc.size, which was checked against the limit above.
    // One spare byte: read_to_end must see EOF without regrowing (and copying) the
    // buffer.
    let mut json = Vec::with_capacity(loc.size.min(64 * 1024 * 1024) as usize + 1);
    (&mut decoder as &mut dyn Read)
        .take(loc.size + 1)
        .read_to_end(&mut json)
        .map_err(|e| ArchiveError::corrupt(path, format!("manifest: {e}")))?;
    if json.len() as u64 != loc.size || ObjectId::of_bytes(&json) != loc.sha256 {
        return Err(ArchiveError::corrupt(
            path,
            "manifest does not match the index's SHA-256",
        ));
    }
    // The bytes hash correctly, so a parse failure is how they were written.
    let manifest: Manifest = json_from_bytes(&json)
        .map_err(|e| ArchiveError::malformed(path, format!("manifest: {e}")))?;
    if manifest.version > FORMAT_VERSION {
        return Err(ArchiveError::NewerVersion {
            path: path.into(),
            found: manifest.version,
            supported: FORMAT_VERSION,
        });
    }
    if manifest.entries.len() > MAX_ITEMS {
        return Err(ArchiveError::malformed(path, "too many entries"));
    }
    Ok(manifest)
}

/// Hashes the stored (compressed) bytes as the decoder pulls them.
pub struct RawHashing<'a> {
    inner: io::Take<&'a mut Box<dyn ReadSeek>>,
    hasher: Sha256,
}

impl Read for RawHashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Streams one object's bytes and checks them at the end: the SHA-256 and size of
/// the content, and (when the index records it) the SHA-256 of the stored bytes.
pub struct ObjectReader<'a> {
    source: Source<'a>,
    hasher: Sha256,
    expect: ObjectId,
    expect_size: u64,
    expect_stored: Option<ObjectId>,
    seen: u64,
    done: bool,
}

/// Where an object reader's bytes come from.
enum Source<'a> {
    /// An object member, decompressed as it is read.
    Stream(Box<zstd::stream::read::Decoder<'static, io::BufReader<RawHashing<'a>>>>),
    /// A slice of a decompressed pack (v2 §3).
    Slice {
        data: Arc<Vec<u8>>,
        pos: usize,
        end: usize,
    },
}

impl Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Stream(d) => d.read(buf),
            Source::Slice { data, pos, end } => {
                let n = buf.len().min(*end - *pos);
                buf[..n].copy_from_slice(&data[*pos..*pos + n]);
                *pos += n;
                Ok(n)
            }
        }
    }
}

impl ObjectReader<'_> {
    /// Hashes whatever stored bytes the decoder left unread, then compares. A pack's
    /// stored bytes were checked when it was read.
    fn check_stored(&mut self) -> io::Result<()> {
        let (Some(expect), Source::Stream(decoder)) = (self.expect_stored, &mut self.source) else {
            return Ok(());
        };
        let raw = decoder.get_mut().get_mut();
        io::copy(raw, &mut io::sink())?;
        let got = ObjectId::from_hasher(std::mem::take(&mut raw.hasher));
        if got != expect {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "object {}: stored bytes fail their SHA-256 check",
                    self.expect
                ),
            ));
        }
        Ok(())
    }

    /// The size the index promises.
    pub fn size(&self) -> u64 {
        self.expect_size
    }
}

impl Read for ObjectReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.source.read(buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("object {}: {e}", self.expect),
            )
        })?;
        self.seen += n as u64;
        if self.seen > self.expect_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("object {} is longer than recorded", self.expect),
            ));
        }
        if n == 0 {
            self.done = true;
            let got = ObjectId::from_hasher(std::mem::take(&mut self.hasher));
            if got != self.expect || self.seen != self.expect_size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("object {} fails its SHA-256 check (got {got})", self.expect),
                ));
            }
            self.check_stored()?;
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

// Re-exported for verify, which compares member names with these.
pub use container::object_member;
/// Names of the fixed members, for verify.
pub const FIXED_MEMBERS: [&str; 4] = [MAGIC_MEMBER, MANIFEST_MEMBER, INDEX_MEMBER, TRAILER_MEMBER];
/// The index member's name in archives written before it was compressed.
pub const PLAIN_INDEX_MEMBER: &str = container::PLAIN_INDEX_MEMBER;

/// Reads the chunks of a version 2 archive (v2 §4-§6).
struct Chunks<'a> {
    path: &'a Path,
    inner: &'a mut Box<dyn ReadSeek>,
    len: u64,
}

impl Chunks<'_> {
    /// The entries and object rows `scope` needs; rows in archive order.
    fn load(
        &mut self,
        index: &Index,
        scope: &Scope,
    ) -> Result<(Vec<Entry>, Vec<IndexObject>), ArchiveError> {
        self.check_list(&index.entry_chunks, "entry")?;
        for (i, p) in index.packs.iter().enumerate() {
            if p.length > max_stored_frame(PACK_MAX) || p.offset.saturating_add(p.length) > self.len
            {
                return Err(ArchiveError::corrupt(
                    self.path,
                    format!("{} is out of range", container::pack_member(i as u64 + 1)),
                ));
            }
        }
        self.check_list(&index.object_chunks, "object")?;
        let mut entries: Vec<Entry> = Vec::new();
        match scope {
            Scope::All => {
                for (i, c) in index.entry_chunks.iter().enumerate() {
                    entries.extend(self.read_entries(i, c)?);
                }
            }
            Scope::Paths(paths) => {
                let mut wanted = BTreeSet::new();
                for p in paths {
                    let p = trim_slashes(p);
                    // Everything under `p/` sorts before `p0` ('/' + 1 == '0').
                    let mut end = p.to_vec();
                    end.push(b'0');
                    for (i, c) in index.entry_chunks.iter().enumerate() {
                        if c.last.as_bytes() >= p && c.first.as_bytes() < end.as_slice() {
                            wanted.insert(i);
                        }
                    }
                }
                let trimmed: Vec<&[u8]> = paths.iter().map(|p| trim_slashes(p)).collect();
                let matches = |e: &Entry| {
                    let ep = e.path.as_bytes();
                    trimmed.iter().any(|p| {
                        ep == *p
                            || *p == b"/"
                            || (ep.starts_with(p) && ep.get(p.len()) == Some(&b'/'))
                    })
                };
                let mut links = BTreeSet::new();
                for &i in &wanted {
                    let got = self.read_entries(i, &index.entry_chunks[i])?;
                    for e in got.into_iter().filter(|e| matches(e)) {
                        if let (EntryType::Hardlink, Some(l)) = (e.kind, &e.link) {
                            links.insert(l.as_bytes().to_vec());
                        }
                        entries.push(e);
                    }
                }
                // Hard links name files that may sit in other chunks (a link never
                // names a link, so one round settles it).
                entries.sort_by(|a, b| a.path.cmp(&b.path));
                let missing: Vec<Vec<u8>> = links
                    .into_iter()
                    .filter(|l| {
                        entries
                            .binary_search_by(|e| e.path.as_bytes().cmp(l.as_slice()))
                            .is_err()
                    })
                    .collect();
                let mut extra = BTreeSet::new();
                for l in &missing {
                    if let Some(j) = find_chunk(&index.entry_chunks, l) {
                        extra.insert(j);
                    }
                }
                for j in extra {
                    let got = self.read_entries(j, &index.entry_chunks[j])?;
                    entries.extend(got.into_iter().filter(|e| {
                        missing
                            .binary_search_by(|l| l.as_slice().cmp(e.path.as_bytes()))
                            .is_ok()
                    }));
                }
                entries.sort_by(|a, b| a.path.cmp(&b.path));
            }
        }
        let mut rows: Vec<IndexObject> = Vec::new();
        match scope {
            Scope::All => {
                for (i, c) in index.object_chunks.iter().enumerate() {
                    rows.extend(self.read_rows(i, c, &index.packs)?);
                }
            }
            Scope::Paths(_) => {
                let mut want = BTreeSet::new();
                for e in &entries {
                    if let Some(id) = e.object {
                        if let Some(i) = find_chunk(&index.object_chunks, id.to_hex().as_bytes()) {
                            want.insert(i);
                        }
                    }
                }
                for i in want {
                    rows.extend(self.read_rows(i, &index.object_chunks[i], &index.packs)?);
                }
            }
        }
        rows.sort_by_key(|r| (r.offset, r.start.unwrap_or(0)));
        Ok((entries, rows))
    }

    /// The chunk list itself: keys in order without overlap, counts and locations
    /// in range (v2 §6).
    fn check_list(&self, list: &[Chunk], what: &str) -> Result<(), ArchiveError> {
        let bad = |why: String| ArchiveError::malformed(self.path, format!("{what} chunks: {why}"));
        if list.len() > MAX_ITEMS / CHUNK_ITEMS + 1 {
            return Err(bad("too many".into()));
        }
        for (i, c) in list.iter().enumerate() {
            if c.count == 0 || c.count > CHUNK_ITEMS as u64 {
                return Err(bad(format!("chunk {} holds {} items", i + 1, c.count)));
            }
            if i + 1 < list.len() && c.count != CHUNK_ITEMS as u64 {
                return Err(bad(format!("chunk {} is short but not last", i + 1)));
            }
            if c.first > c.last || (i > 0 && list[i - 1].last >= c.first) {
                return Err(bad(format!("chunk {} is out of order", i + 1)));
            }
            if c.size > MAX_CHUNK_LEN || c.offset.saturating_add(c.length) > self.len {
                return Err(ArchiveError::corrupt(
                    self.path,
                    format!("{what} chunk {} is out of range", i + 1),
                ));
            }
        }
        Ok(())
    }

    /// Reads one chunk's JSON and checks it against its index entry.
    fn read_json(&mut self, c: &Chunk, name: &str) -> Result<Vec<u8>, ArchiveError> {
        let corrupt = |why: &str| ArchiveError::corrupt(self.path, format!("{name}: {why}"));
        let mut stored = vec![0u8; c.length as usize];
        self.inner
            .seek(SeekFrom::Start(c.offset))
            .and_then(|_| self.inner.read_exact(&mut stored))
            .map_err(|e| ArchiveError::io(self.path, e))?;
        if ObjectId::of_bytes(&stored) != c.stored_sha256 {
            return Err(corrupt("stored bytes fail their SHA-256 check"));
        }
        let mut json = Vec::with_capacity(c.size as usize + 1);
        zstd::stream::read::Decoder::new(&stored[..])
            .and_then(|d| d.take(c.size + 1).read_to_end(&mut json))
            .map_err(|e| corrupt(&e.to_string()))?;
        if json.len() as u64 != c.size || ObjectId::of_bytes(&json) != c.sha256 {
            return Err(corrupt("content does not match the index's SHA-256"));
        }
        Ok(json)
    }

    fn read_entries(&mut self, i: usize, c: &Chunk) -> Result<Vec<Entry>, ArchiveError> {
        let name = container::entry_chunk_member(i as u64 + 1);
        let json = self.read_json(c, &name)?;
        let entries: Vec<Entry> = json_from_bytes(&json)
            .map_err(|e| ArchiveError::malformed(self.path, format!("{name}: {e}")))?;
        check_keys(
            self.path,
            &name,
            c,
            entries.iter().map(|e| e.path.as_bytes()),
        )?;
        Ok(entries)
    }

    /// Reads one object chunk; a packed row gets its pack member's location from
    /// the index's pack table (v2 §5, §6).
    fn read_rows(
        &mut self,
        i: usize,
        c: &Chunk,
        packs: &[PackLocation],
    ) -> Result<Vec<IndexObject>, ArchiveError> {
        let name = container::object_chunk_member(i as u64 + 1);
        let json = self.read_json(c, &name)?;
        let rows: Vec<ChunkRow> = json_from_bytes(&json)
            .map_err(|e| ArchiveError::malformed(self.path, format!("{name}: {e}")))?;
        let hex: Vec<String> = rows.iter().map(|r| r.id.to_hex()).collect();
        check_keys(self.path, &name, c, hex.iter().map(|h| h.as_bytes()))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let bad = || {
                ArchiveError::malformed(
                    self.path,
                    format!("{name}: object {} has a bad location", r.id),
                )
            };
            let row = match r {
                ChunkRow {
                    offset: Some(offset),
                    length: Some(length),
                    stored_sha256: Some(stored),
                    pack: None,
                    start: None,
                    ..
                } => IndexObject {
                    id: r.id,
                    offset,
                    length,
                    size: r.size,
                    stored_sha256: Some(stored),
                    pack: None,
                    start: None,
                },
                ChunkRow {
                    offset: None,
                    length: None,
                    stored_sha256: None,
                    pack: Some(n),
                    start: Some(start),
                    ..
                } => {
                    let loc = n
                        .checked_sub(1)
                        .and_then(|k| packs.get(k as usize))
                        .ok_or_else(bad)?;
                    if start.checked_add(r.size).is_none_or(|e| e > PACK_MAX) {
                        return Err(bad());
                    }
                    IndexObject {
                        id: r.id,
                        offset: loc.offset,
                        length: loc.length,
                        size: r.size,
                        stored_sha256: Some(loc.stored_sha256),
                        pack: Some(n),
                        start: Some(start),
                    }
                }
                _ => return Err(bad()),
            };
            out.push(row);
        }
        Ok(out)
    }
}

/// The items of a chunk: as many as its index entry says, strictly increasing,
/// from its first key to its last.
fn check_keys<'k>(
    path: &Path,
    name: &str,
    c: &Chunk,
    keys: impl Iterator<Item = &'k [u8]>,
) -> Result<(), ArchiveError> {
    let mut n = 0u64;
    let mut prev: Option<&[u8]> = None;
    let mut first = None;
    for k in keys {
        if prev.is_some_and(|p| p >= k) {
            return Err(ArchiveError::malformed(
                path,
                format!("{name}: items are not sorted and unique"),
            ));
        }
        first.get_or_insert(k);
        prev = Some(k);
        n += 1;
    }
    if n != c.count || first != Some(c.first.as_bytes()) || prev != Some(c.last.as_bytes()) {
        return Err(ArchiveError::malformed(
            path,
            format!("{name}: does not match its index entry"),
        ));
    }
    Ok(())
}

/// A path without trailing slashes ("/" stays "/").
fn trim_slashes(mut p: &[u8]) -> &[u8] {
    while p.len() > 1 && p.ends_with(b"/") {
        p = &p[..p.len() - 1];
    }
    p
}

/// The chunk whose key range holds `key`, by binary search.
fn find_chunk(list: &[Chunk], key: &[u8]) -> Option<usize> {
    let i = list.partition_point(|c| c.last.as_bytes() < key);
    (i < list.len() && list[i].first.as_bytes() <= key).then_some(i)
}
