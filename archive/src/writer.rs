//! The streaming archive writer (spec §3, §4, §10).
//!
//! Guarantees: members are written in the order of spec §1; each object is stored
//! once; memory stays bounded (small objects are compressed in memory; large ones are
//! compressed straight into the archive, plain or encrypted, as a tentative member
//! whose header is patched on commit; one that is not committed is cut off again in
//! a plain archive, and turned into a discarded member (spec §3.3) in an encrypted
//! one); the archive appears under its final name only after it is complete and
//! fsynced, never replacing an existing file.

use super::container::{
    self, INDEX_MEMBER, MAGIC_MEMBER, MANIFEST_MEMBER, TRAILER_MEMBER, member_header, padding,
};
use super::{
    ArchiveError, ByteString, CHUNK_ITEMS, Chunk, ChunkRow, Entry, FORMAT_VERSION, Frame,
    FrameTable, HostFacts, Index, IndexObject, Manifest, ManifestLocation, ObjectId,
    PACK_OBJECT_MAX, PACK_TARGET, PackLocation, SourceReport,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Objects up to this size are compressed in memory; larger ones are compressed
/// straight into the archive, frame by frame.
pub const SMALL_OBJECT_MAX: usize = 1024 * 1024; // 1 MiB
/// Large objects are written as independent zstd frames of this many uncompressed
/// bytes (spec §4.1), so that a reader can seek in them.
pub const FRAME_SIZE: u64 = 4 * 1024 * 1024; // 4 MiB
const IO_BUF: usize = 256 * 1024; // 256 KiB
/// Most threads compressing frames of one large object: each holds a frame in
/// flight (up to 8 MiB with its output), so this bounds memory on many-core hosts.
const MAX_WORKERS: usize = 6;

/// A layer the archive stream is written through (plain file, or age encryption).
/// `finish` flushes and closes the layer and returns the underlying file.
///
/// Every layer can patch: large objects are written once, straight into the
/// archive, as a tentative member whose placeholder header is patched afterwards.
/// The writer first announces such a region with [`hold`](Self::hold), then
/// overwrites it exactly once with [`patch`](Self::patch), which releases it. A
/// layer that transforms the bytes (age encryption) keeps only the held region's
/// chunks in plaintext until then; everything else it may transform and write at
/// once. Cutting the stream back ([`truncate_to`](Self::truncate_to)) is only
/// possible where [`can_truncate`](Self::can_truncate) says so (the plain file): an
/// encrypting layer cannot, since rewriting an encrypted chunk would reuse its nonce.
pub trait Sink: Write + Send {
    fn finish(self: Box<Self>) -> io::Result<File>;
    /// Announces that the `len` bytes from stream offset `at` (at or after the last
    /// bytes written, not yet patched) will be patched once. Until that
    /// [`patch`](Self::patch) the layer keeps them patchable.
    fn hold(&mut self, at: u64, len: u64) -> io::Result<()>;
    /// Overwrites `bytes` at stream offset `at`: all of it already written and inside
    /// a region announced with [`hold`](Self::hold). Releases every hold the patched
    /// range overlaps.
    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()>;
    /// True when [`truncate_to`](Self::truncate_to) works.
    fn can_truncate(&self) -> bool {
        false
    }
    /// Drops everything from stream offset `at` on; writing continues there.
    fn truncate_to(&mut self, _at: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "layer cannot truncate",
        ))
    }
}

impl Sink for BufWriter<File> {
    fn finish(self: Box<Self>) -> io::Result<File> {
        self.into_inner().map_err(|e| e.into_error())
    }
    fn hold(&mut self, _at: u64, _len: u64) -> io::Result<()> {
        // Bytes land unchanged at their offsets: any of them can be patched.
        Ok(())
    }
    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.flush()?;
        self.get_ref().write_all_at(bytes, at)
    }
    fn can_truncate(&self) -> bool {
        true
    }
    fn truncate_to(&mut self, at: u64) -> io::Result<()> {
        self.flush()?;
        let f = self.get_mut();
        f.set_len(at)?;
        f.seek(io::SeekFrom::Start(at))?;
        Ok(())
    }
}

/// How to write.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// zstd level (1..=19).
    pub level: i32,
    /// Threads compressing the frames of a large object (spec §4.1) in parallel,
    /// beside one thread hashing its content and one hashing its stored bytes; 0 does
    /// all of it on the calling thread.
    pub threads: u32,
    /// Capture time as seconds and nanoseconds since the epoch.
    pub created: (i64, u32),
}

/// Counters for the snapshot summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WriteStats {
    pub entries: u64,
    pub objects: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub dedup_saved: u64,
    pub archive_size: u64,
}

/// An object that has been read and hashed but not yet written.
pub struct PreparedObject {
    pub id: ObjectId,
    pub size: u64,
    data: Prepared,
    /// The frames of a large object written as more than one (spec §4.1).
    frames: Vec<Frame>,
}

enum Prepared {
    /// A small object's content, to be added to the open pack (v2 §3).
    Packed(Vec<u8>),
    /// A compressed object of its own member, held in memory.
    Memory(Vec<u8>),
    /// Already in the archive as the tentative member at `header_at` (placeholder
    /// header; compressed data of `length` bytes at `data_at`, whose SHA-256 is
    /// `stored`; padding).
    Direct {
        header_at: u64,
        data_at: u64,
        length: u64,
        stored: ObjectId,
        /// Which direct write this is: a stale object prepared earlier, whose space a
        /// later one reused, must not be committed over it.
        generation: u64,
    },
}

/// A large member written but not committed: its placeholder header is held in the
/// sink (see [`Sink::hold`]).
#[derive(Debug, Clone, Copy)]
struct Tentative {
    header_at: u64,
    generation: u64,
    /// The data length once the member is complete (data and padding written); None
    /// while it is being written, or when writing it stopped half-way.
    length: Option<u64>,
}

struct Counting {
    inner: Box<dyn Sink>,
    pos: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes one archive. Call [`ArchiveWriter::finish`]; dropping it leaves only an
/// unlinked temporary file.
pub struct ArchiveWriter {
    out: Counting,
    opts: WriterOptions,
    dir: PathBuf,
    final_path: PathBuf,
    tmp: tempfile::TempPath,
    /// Every committed object: compact, so 200,000 of them take a few MiB.
    objects: HashMap<ObjectId, Slot>,
    /// Rows of the objects with a member of their own, in archive order.
    own: Vec<IndexObject>,
    /// Where each written pack is (pack `n` at `n - 1`).
    pack_locs: Vec<PackLocation>,
    frame_tables: HashMap<ObjectId, FrameTable>,
    /// Framed objects in archive order.
    framed: Vec<ObjectId>,
    /// The entries, spilled as JSON (see [`EntrySpill`]).
    entries: EntrySpill,
    sources: Vec<SourceReport>,
    stats: WriteStats,
    small: zstd::bulk::Compressor<'static>,
    /// A directly written member not committed yet; the next write cuts it off or
    /// discards it (see [`Prepared::Direct`]).
    tentative: Option<Tentative>,
    generation: u64,
    /// Set when writing the archive itself failed; every later call fails with it, so
    /// an archive with a hole or a half-written member can never be finished.
    broken: Option<String>,
    /// (dev, ino) of the file being written, which a collector must not read back.
    own_file: Option<(u64, u64)>,
    /// The cluster run id the manifest records (spec §5), if any.
    run_id: Option<String>,
    /// The open pack (v2 §3): the content of its objects.
    pack: Vec<u8>,
    /// True when the open pack holds at least one object.
    pack_open: bool,
}

impl ArchiveWriter {
    /// Starts an archive that will be renamed to `final_path` (or `final_path` with a
    /// `-N` suffix if that name is taken when it finishes). `wrap` puts a layer such as
    /// encryption between the archive stream and the file.
    pub fn create(
        final_path: &Path,
        opts: WriterOptions,
        wrap: impl FnOnce(BufWriter<File>) -> io::Result<Box<dyn Sink>>,
    ) -> Result<Self, ArchiveError> {
        let dir = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // tempfile creates with O_EXCL and mode 0600.
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(&dir)
            .map_err(|e| ArchiveError::io(&dir, e))?;
        let (file, tmp) = tmp.into_parts();
        let own_file = {
            use std::os::unix::fs::MetadataExt;
            file.metadata().ok().map(|m| (m.dev(), m.ino()))
        };
        let inner = wrap(BufWriter::with_capacity(IO_BUF, file))
            .map_err(|e| ArchiveError::io(final_path, e))?;
        let opts_level = opts.level;
        let dir_for_spill = dir.clone();
        let mut w = Self {
            out: Counting { inner, pos: 0 },
            opts,
            dir,
            final_path: final_path.to_path_buf(),
            tmp,
            objects: HashMap::new(),
            own: Vec::new(),
            pack_locs: Vec::new(),
            frame_tables: HashMap::new(),
            framed: Vec::new(),
            entries: EntrySpill::new(&dir_for_spill)
                .map_err(|e| ArchiveError::io(&dir_for_spill, e))?,
            sources: Vec::new(),
            stats: WriteStats::default(),
            small: zstd::bulk::Compressor::new(opts_level)
                .map_err(|e| ArchiveError::io(final_path, e))?,
            tentative: None,
            generation: 0,
            broken: None,
            own_file,
            run_id: None,
            pack: Vec::with_capacity(PACK_TARGET as usize),
            pack_open: false,
        };
        let magic = format!("{}{}\n", container::MAGIC_PREFIX, FORMAT_VERSION);
        w.write_member(MAGIC_MEMBER, magic.as_bytes())
            .map_err(|e| w.io_err(e))?;
        Ok(w)
    }

    fn io_err(&self, e: io::Error) -> ArchiveError {
        ArchiveError::io(&self.final_path, e)
    }

    fn mtime(&self) -> u64 {
        self.opts.created.0.max(0) as u64
    }

    /// Settles a directly written member that was prepared but never committed (its
    /// file changed while read, or it is a duplicate): a plain archive cuts it off, so
    /// the archive holds only committed members; an encrypted one cannot rewrite what
    /// it encrypted and keeps it as a discarded member (spec §3.3).
    fn settle(&mut self) -> io::Result<()> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(format!(
                "writing the archive failed earlier: {why}"
            )));
        }
        if let Some(t) = self.tentative.take() {
            let done = if self.out.inner.can_truncate() {
                self.out.inner.truncate_to(t.header_at).map(|()| {
                    self.out.pos = t.header_at;
                })
            } else {
                self.discard(t)
            };
            if let Err(e) = done {
                return Err(self.poison(e));
            }
        }
        Ok(())
    }

    /// Completes an uncommitted member (padding, if writing it stopped half-way) and
    /// patches its placeholder into the header of a discarded member.
    fn discard(&mut self, t: Tentative) -> io::Result<()> {
        let data_at = t.header_at + container::BLOCK;
        let length = match t.length {
            Some(length) => length,
            None => {
                let length = self.out.pos - data_at;
                self.write_padding(length)?;
                length
            }
        };
        let header = member_header(&container::discarded_member(data_at), length, self.mtime());
        self.out.inner.patch(t.header_at, &header)
    }

    /// Records that the archive itself could not be written; returns the error.
    fn poison(&mut self, e: io::Error) -> io::Error {
        self.broken.get_or_insert_with(|| e.to_string());
        e
    }

    /// (dev, ino) of the temporary file the archive is written to: a collector that
    /// walks the output directory must skip it.
    pub fn own_file(&self) -> Option<(u64, u64)> {
        self.own_file
    }

    fn write_member(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.settle()?;
        let header = member_header(name, data.len() as u64, self.mtime());
        let written = (|| {
            self.out.write_all(&header)?;
            let offset = self.out.pos;
            self.out.write_all(data)?;
            self.write_padding(data.len() as u64)?;
            Ok(offset)
        })();
        written.map_err(|e| self.poison(e))
    }

    fn write_padding(&mut self, len: u64) -> io::Result<()> {
        let zeros = [0u8; 512];
        self.out.write_all(&zeros[..padding(len) as usize])
    }

    /// True when an object with this id is already stored.
    pub fn has_object(&self, id: &ObjectId) -> bool {
        self.objects.contains_key(id)
    }

    /// Reads `reader` to its end, hashing and compressing it, without writing to the
    /// archive yet. The caller decides with [`commit_object`](Self::commit_object)
    /// (for instance only if the file did not change while it was read).
    /// Large objects are written during this call, as a tentative member that
    /// [`commit_object`](Self::commit_object) confirms and that any other write cuts
    /// off again (plain) or discards (encrypted).
    pub fn prepare_object(&mut self, reader: &mut dyn Read) -> io::Result<PreparedObject> {
        self.settle()?;
        // Read up to SMALL_OBJECT_MAX + 1 bytes straight into `head`: no zeroed
        // scratch buffer per file (zeroing one dominated snapshots of many small
        // files in a callgrind profile).
        // Spare capacity up front: read_to_end then needs one read plus the EOF read
        // for a typical config file, instead of growing from a small probe.
        let mut head = Vec::with_capacity(64 * 1024);
        reader
            .take(SMALL_OBJECT_MAX as u64 + 1)
            .read_to_end(&mut head)?;
        let mut hasher = Sha256::new();
        hasher.update(&head);
        if head.len() as u64 <= PACK_OBJECT_MAX {
            // Packed: compressed with its neighbours when the pack is closed.
            return Ok(PreparedObject {
                id: ObjectId::from_hasher(hasher),
                size: head.len() as u64,
                data: Prepared::Packed(head),
                frames: Vec::new(),
            });
        }
        if head.len() <= SMALL_OBJECT_MAX {
            // One compression context for all small objects: creating a context
            // per file is costly.
            let compressed = self.small.compress(&head)?;
            return Ok(PreparedObject {
                id: ObjectId::from_hasher(hasher),
                size: head.len() as u64,
                data: Prepared::Memory(compressed),
                frames: Vec::new(),
            });
        }
        // Large: `compress_large` hashes the content (head included) itself.
        self.prepare_direct(head, reader)
    }

    /// Compresses a large object straight into the archive: a placeholder header (a
    /// zero block the sink holds patchable), the zstd frames, their padding. Nothing
    /// is spooled or copied.
    /// A read error concerns the source only (the member is cut off or discarded at
    /// the next write); any other error means the archive could not be written, and
    /// poisons it.
    fn prepare_direct(
        &mut self,
        head: Vec<u8>,
        reader: &mut dyn Read,
    ) -> io::Result<PreparedObject> {
        self.generation += 1;
        let generation = self.generation;
        let header_at = self.out.pos;
        let (level, threads) = (self.opts.level, self.opts.threads);
        if let Err(e) = self.out.inner.hold(header_at, container::BLOCK) {
            return Err(self.poison(e));
        }
        self.tentative = Some(Tentative {
            header_at,
            generation,
            length: None,
        });
        self.out
            .write_all(&[0u8; 512])
            .map_err(|e| self.poison(e))?;
        let data_at = self.out.pos;
        let done = match compress_large(&mut self.out, head, reader, level, threads) {
            Ok(done) => done,
            Err(StreamError::Source(e)) => return Err(e),
            Err(StreamError::Output(e)) => return Err(self.poison(e)),
        };
        let length = self.out.pos - data_at;
        self.write_padding(length).map_err(|e| self.poison(e))?;
        if let Some(t) = self.tentative.as_mut() {
            t.length = Some(length);
        }
        Ok(PreparedObject {
            id: done.content,
            size: done.size,
            data: Prepared::Direct {
                header_at,
                data_at,
                length,
                stored: done.stored,
                generation,
            },
            frames: done.frames,
        })
    }

    /// Stores a prepared object unless an object with its id is already stored.
    pub fn commit_object(&mut self, obj: PreparedObject) -> Result<ObjectId, ArchiveError> {
        let direct = match obj.data {
            Prepared::Direct {
                header_at,
                generation,
                ..
            } => Some((header_at, generation)),
            _ => None,
        };
        if let Some(why) = &self.broken {
            return Err(self.io_err(io::Error::other(format!(
                "writing the archive failed earlier: {why}"
            ))));
        }
        if direct.is_some() && direct != self.tentative.map(|t| (t.header_at, t.generation)) {
            return Err(self.io_err(io::Error::other(
                "a large object was committed after another write",
            )));
        }
        self.stats.bytes_read += obj.size;
        if self.objects.contains_key(&obj.id) {
            self.stats.dedup_saved += obj.size;
            // A duplicate written directly is cut off again (or discarded).
            self.settle().map_err(|e| self.io_err(e))?;
            return Ok(obj.id);
        }
        if let Prepared::Packed(bytes) = obj.data {
            return self.add_to_pack(obj.id, bytes);
        }
        if direct.is_none() {
            self.settle().map_err(|e| self.io_err(e))?;
        }
        let name = container::object_member(&obj.id);
        let (offset, length, stored) = match obj.data {
            Prepared::Direct {
                header_at,
                data_at,
                length,
                stored,
                ..
            } => {
                let header = member_header(&name, length, self.mtime());
                if let Err(e) = self.out.inner.patch(header_at, &header) {
                    let e = self.poison(e);
                    return Err(self.io_err(e));
                }
                self.tentative = None;
                (data_at, length, stored)
            }
            Prepared::Packed(_) => unreachable!("packed objects returned above"),
            Prepared::Memory(bytes) => {
                let off = self
                    .write_member(&name, &bytes)
                    .map_err(|e| self.io_err(e))?;
                (off, bytes.len() as u64, ObjectId::of_bytes(&bytes))
            }
        };
        self.stats.bytes_stored += length;
        self.stats.objects += 1;
        self.objects.insert(obj.id, Slot::Own(self.own.len()));
        self.own.push(IndexObject {
            id: obj.id,
            offset,
            length,
            size: obj.size,
            stored_sha256: Some(stored),
            pack: None,
            start: None,
        });
        if !obj.frames.is_empty() {
            self.framed.push(obj.id);
            self.frame_tables.insert(
                obj.id,
                FrameTable {
                    id: obj.id,
                    frame_size: FRAME_SIZE,
                    frames: obj.frames,
                },
            );
        }
        Ok(obj.id)
    }

    /// Appends a small object to the open pack, closing the pack first when the
    /// object would take it over [`PACK_TARGET`] (v2 §3).
    fn add_to_pack(&mut self, id: ObjectId, bytes: Vec<u8>) -> Result<ObjectId, ArchiveError> {
        if self.pack.len() as u64 + bytes.len() as u64 > PACK_TARGET {
            self.close_pack().map_err(|e| self.io_err(e))?;
        }
        // An empty object still opens a pack (it is stored in one, at its end).
        self.pack_open = true;
        // Both fit in u32: a pack holds at most PACK_MAX bytes.
        self.objects.insert(
            id,
            Slot::Packed {
                pack: self.pack_locs.len() + 1,
                start: self.pack.len() as u32,
                size: bytes.len() as u32,
            },
        );
        self.pack.extend_from_slice(&bytes);
        self.stats.objects += 1;
        Ok(id)
    }

    /// Compresses the open pack into one zstd frame, writes it as the next pack
    /// member and records where it is.
    fn close_pack(&mut self) -> io::Result<()> {
        if !self.pack_open {
            return Ok(());
        }
        let compressed = self.small.compress(&self.pack)?;
        let n = self.pack_locs.len() as u64 + 1;
        let offset = self.write_member(&container::pack_member(n), &compressed)?;
        self.pack_locs.push(PackLocation {
            offset,
            length: compressed.len() as u64,
            stored_sha256: ObjectId::of_bytes(&compressed),
        });
        self.pack_open = false;
        self.pack.clear();
        self.stats.bytes_stored += compressed.len() as u64;
        Ok(())
    }

    /// Writes one chunk member (v2 §4, §5) holding the JSON array `json` of `count`
    /// items from `first` to `last`, and returns its index entry.
    fn write_chunk(
        &mut self,
        name: &str,
        json: &[u8],
        (first, last, count): (ByteString, ByteString, usize),
    ) -> io::Result<Chunk> {
        let compressed = self.small.compress(json)?;
        let offset = self.write_member(name, &compressed)?;
        Ok(Chunk {
            first,
            last,
            count: count as u64,
            offset,
            length: compressed.len() as u64,
            size: json.len() as u64,
            sha256: ObjectId::of_bytes(json),
            stored_sha256: ObjectId::of_bytes(&compressed),
        })
    }

    /// Writes the entries, sorted by path (the first added wins a duplicate path),
    /// as chunks of [`CHUNK_ITEMS`] (v2 §4).
    fn write_entry_chunks(&mut self) -> io::Result<Vec<Chunk>> {
        let (file, mut keys) = self.entries.take()?;
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        keys.dedup_by(|a, b| a.0 == b.0);
        self.stats.entries = keys.len() as u64;
        let mut out = Vec::with_capacity(keys.len().div_ceil(CHUNK_ITEMS));
        let mut json = Vec::new();
        for (i, chunk) in keys.chunks(CHUNK_ITEMS).enumerate() {
            // serde_json writes a slice as `[a,b,...]`: the spilled items joined.
            json.clear();
            json.push(b'[');
            for (k, (_, at, len)) in chunk.iter().enumerate() {
                if k > 0 {
                    json.push(b',');
                }
                let from = json.len();
                json.resize(from + *len as usize, 0);
                file.read_exact_at(&mut json[from..], *at)?;
            }
            json.push(b']');
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let keys = (first.0.clone(), last.0.clone(), chunk.len());
            let name = container::entry_chunk_member(i as u64 + 1);
            let c = self.write_chunk(&name, &json, keys)?;
            out.push(c);
        }
        Ok(out)
    }

    /// Writes the object rows, sorted by id, as chunks of [`CHUNK_ITEMS`] (v2 §5).
    fn write_object_chunks(&mut self) -> io::Result<Vec<Chunk>> {
        let mut ids: Vec<ObjectId> = self.objects.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(ids.len().div_ceil(CHUNK_ITEMS));
        for (i, chunk) in ids.chunks(CHUNK_ITEMS).enumerate() {
            let rows: Vec<ChunkRow> = chunk.iter().map(|id| self.row(id)).collect();
            let json = serde_json::to_vec(&rows)?;
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let hex = |id: &ObjectId| ByteString(id.to_hex().into_bytes());
            let keys = (hex(first), hex(last), chunk.len());
            let name = container::object_chunk_member(i as u64 + 1);
            out.push(self.write_chunk(&name, &json, keys)?);
        }
        Ok(out)
    }

    /// The stored row of a committed object (v2 §5).
    fn row(&self, id: &ObjectId) -> ChunkRow {
        let mut row = ChunkRow {
            id: *id,
            offset: None,
            length: None,
            size: 0,
            stored_sha256: None,
            pack: None,
            start: None,
        };
        match self.objects.get(id) {
            Some(Slot::Packed { pack, start, size }) => {
                row.pack = Some(*pack as u64);
                row.start = Some(u64::from(*start));
                row.size = u64::from(*size);
            }
            Some(Slot::Own(i)) => {
                let o = &self.own[*i];
                row.offset = Some(o.offset);
                row.length = Some(o.length);
                row.size = o.size;
                row.stored_sha256 = o.stored_sha256;
            }
            None => {}
        }
        row
    }

    /// Reads, hashes and stores an object in one step.
    pub fn add_object(&mut self, reader: &mut dyn Read) -> Result<ObjectId, ArchiveError> {
        let prepared = self.prepare_object(reader).map_err(|e| self.io_err(e))?;
        self.commit_object(prepared)
    }

    /// Adds a manifest entry. A `file` entry must name an object already committed.
    pub fn add_entry(&mut self, entry: Entry) {
        if let Err(e) = self.entries.push(&entry) {
            // Reported by the next write or by finish.
            self.poison(e);
        }
    }

    /// Records the cluster run this archive belongs to (spec §5). The caller checks
    /// the id with [`crate::is_valid_run_id`]; readers refuse an invalid one.
    pub fn set_run_id(&mut self, run_id: &str) {
        self.run_id = Some(run_id.to_string());
    }

    /// True when an entry with exactly this path was added.
    pub fn has_entry(&self, path: &[u8]) -> bool {
        self.entries.keys.iter().any(|k| k.0.as_bytes() == path)
    }

    /// Records what a source did.
    pub fn add_source(&mut self, report: SourceReport) {
        self.sources.push(report);
    }

    /// Writes manifest, index and trailer, closes the layers, fsyncs and renames the
    /// file into place without replacing anything. Returns the final path.
    pub fn finish(
        mut self,
        host: HostFacts,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(PathBuf, WriteStats), ArchiveError> {
        self.settle().map_err(|e| self.io_err(e))?;
        self.close_pack().map_err(|e| self.io_err(e))?;
        let entry_chunks = self.write_entry_chunks().map_err(|e| self.io_err(e))?;
        let object_chunks = self.write_object_chunks().map_err(|e| self.io_err(e))?;
        let manifest = Manifest {
            format: "ocpvault-manifest".into(),
            version: FORMAT_VERSION,
            ocpvault_version: env!("CARGO_PKG_VERSION").into(),
            created: super::format_time(self.opts.created.0, self.opts.created.1),
            host,
            run_id: self.run_id.take(),
            options,
            sources: std::mem::take(&mut self.sources),
            // Version 2: the entries are in the chunks (v2 §4).
            entries: Vec::new(),
        };
        let json = serde_json::to_vec(&manifest).map_err(|e| self.io_err(e.into()))?;
        let compressed =
            zstd::bulk::compress(&json, self.opts.level).map_err(|e| self.io_err(e))?;
        let moff = self
            .write_member(MANIFEST_MEMBER, &compressed)
            .map_err(|e| self.io_err(e))?;
        let index = Index {
            format: "ocpvault-index".into(),
            version: FORMAT_VERSION,
            manifest: ManifestLocation {
                offset: moff,
                length: compressed.len() as u64,
                size: json.len() as u64,
                sha256: ObjectId::of_bytes(&json),
                stored_sha256: Some(ObjectId::of_bytes(&compressed)),
            },
            // Version 2: the rows are in the object chunks (v2 §5).
            objects: Vec::new(),
            frames: self
                .framed
                .iter()
                .filter_map(|id| self.frame_tables.remove(id))
                .collect(),
            packs: std::mem::take(&mut self.pack_locs),
            entry_chunks,
            object_chunks,
        };
        let ijson = serde_json::to_vec(&index).map_err(|e| self.io_err(e.into()))?;
        // Compressed: every command reads the index, so its size is the floor of
        // what reading one file costs (spec §6).
        let ijson = zstd::bulk::compress(&ijson, self.opts.level).map_err(|e| self.io_err(e))?;
        let ioff = self
            .write_member(INDEX_MEMBER, &ijson)
            .map_err(|e| self.io_err(e))?;
        let trailer = container::trailer_bytes(
            FORMAT_VERSION,
            ioff,
            ijson.len() as u64,
            &ObjectId::of_bytes(&ijson),
        );
        self.write_member(TRAILER_MEMBER, &trailer)
            .map_err(|e| self.io_err(e))?;
        self.out
            .write_all(&[0u8; 1024])
            .map_err(|e| self.io_err(e))?;
        self.stats.archive_size = self.out.pos;
        let Self {
            out,
            final_path,
            tmp,
            dir,
            stats,
            ..
        } = self;
        let file = out
            .inner
            .finish()
            .map_err(|e| ArchiveError::io(&final_path, e))?;
        file.sync_all()
            .map_err(|e| ArchiveError::io(&final_path, e))?;
        drop(file);
        let placed = rename_noreplace(&tmp, &final_path)?;
        // The file now lives under its final name; do not let TempPath delete it.
        let _ = tmp.keep();
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ArchiveError::io(&dir, e))?;
        Ok((placed, stats))
    }
}

/// Where a committed object is, in 16 bytes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// In pack number `pack` (from 1), `size` bytes at `start`.
    Packed { pack: usize, start: u32, size: u32 },
    /// In a member of its own: position in `ArchiveWriter::own`.
    Own(usize),
}

/// The entries of an archive being written, kept out of memory: each entry's JSON is
/// appended to an unlinked 0600 temporary file in the destination directory, and only
/// its path and place are kept, so 200,000 entries take a few tens of MiB. The
/// entry chunks are then the spilled JSON joined in path order.
struct EntrySpill {
    file: BufWriter<File>,
    len: u64,
    keys: Vec<SpillKey>,
}

/// An entry's path, and the offset and length of its JSON in the spill file.
type SpillKey = (ByteString, u64, u32);

impl EntrySpill {
    fn new(dir: &Path) -> io::Result<Self> {
        Ok(Self {
            file: BufWriter::with_capacity(IO_BUF, tempfile::tempfile_in(dir)?),
            len: 0,
            keys: Vec::new(),
        })
    }

    fn push(&mut self, e: &Entry) -> io::Result<()> {
        let json = serde_json::to_vec(e)?;
        let len = u32::try_from(json.len()).map_err(io::Error::other)?;
        self.file.write_all(&json)?;
        self.keys.push((e.path.clone(), self.len, len));
        self.len += u64::from(len);
        Ok(())
    }

    /// The spill file, flushed, and the keys.
    fn take(&mut self) -> io::Result<(File, Vec<SpillKey>)> {
        self.file.flush()?;
        let file = self.file.get_ref().try_clone()?;
        Ok((file, std::mem::take(&mut self.keys)))
    }
}

/// Where compressing a large object failed.
enum StreamError {
    /// Reading the source (that file failed; the output may be cut back).
    Source(io::Error),
    /// Compressing or writing the output.
    Output(io::Error),
}

/// What [`compress_large`] wrote.
struct Compressed {
    /// Uncompressed size.
    size: u64,
    /// SHA-256 of the uncompressed content: the object id.
    content: ObjectId,
    /// SHA-256 of the bytes written.
    stored: ObjectId,
    /// The frames when there is more than one (spec §4.1).
    frames: Vec<Frame>,
}

/// One compressed frame and the SHA-256 of its bytes.
type FrameResult = io::Result<(Vec<u8>, ObjectId)>;

/// Compresses one frame of a large object: one zstd frame that records its content
/// size (which `zstd -l` shows and readers may check).
fn compress_frame(zc: &mut zstd::bulk::Compressor<'static>, data: &[u8]) -> FrameResult {
    let bytes = zc.compress(data)?;
    let sha = ObjectId::of_bytes(&bytes);
    Ok((bytes, sha))
}

fn frame_compressor(level: i32) -> io::Result<zstd::bulk::Compressor<'static>> {
    let mut zc = zstd::bulk::Compressor::new(level)?;
    zc.include_contentsize(true)?;
    Ok(zc)
}

/// Reads the next frame's uncompressed bytes: `first` (the head already read) topped
/// up from `reader`, or a new buffer; at most [`FRAME_SIZE`] bytes, fewer only at
/// the end of the source.
fn next_frame(first: &mut Option<Vec<u8>>, reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut buf = first
        .take()
        .unwrap_or_else(|| Vec::with_capacity(FRAME_SIZE as usize));
    let want = FRAME_SIZE - buf.len() as u64;
    let mut limited = reader.take(want);
    loop {
        match limited.read_to_end(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => {
                other?;
                return Ok(buf);
            }
        }
    }
}

/// Compresses `head` and then the rest of `reader` into `out` as independent zstd
/// frames of [`FRAME_SIZE`] uncompressed bytes each (the last one shorter), hashing
/// the content and the bytes written.
///
/// With `threads` > 0 the work runs in a pipeline: the calling thread reads frames
/// and writes finished ones in order; `threads` workers (at most [`MAX_WORKERS`])
/// compress frames (each
/// independent, so they run in parallel); one thread hashes the content, another the
/// stored bytes. A few frames are in flight at once, so memory stays bounded.
/// With 0 everything runs on the calling thread.
fn compress_large<W: Write>(
    out: &mut W,
    head: Vec<u8>,
    reader: &mut dyn Read,
    level: i32,
    threads: u32,
) -> Result<Compressed, StreamError> {
    if threads == 0 {
        return compress_serial(out, head, reader, level);
    }
    compress_parallel(
        out,
        head,
        reader,
        level,
        (threads as usize).min(MAX_WORKERS),
    )
}

/// Collects frames and the size as they are written.
#[derive(Default)]
struct FrameLog {
    size: u64,
    frames: Vec<Frame>,
}

impl FrameLog {
    /// The result; a single frame has no table.
    fn finish(mut self, content: ObjectId, stored: ObjectId) -> Compressed {
        if self.frames.len() == 1 {
            self.frames.clear();
        }
        Compressed {
            size: self.size,
            content,
            stored,
            frames: self.frames,
        }
    }
}

fn compress_serial<W: Write>(
    out: &mut W,
    head: Vec<u8>,
    reader: &mut dyn Read,
    level: i32,
) -> Result<Compressed, StreamError> {
    let mut zc = frame_compressor(level).map_err(StreamError::Output)?;
    let mut content = Sha256::new();
    let mut stored = Sha256::new();
    let mut log = FrameLog::default();
    let mut first = Some(head);
    loop {
        let data = next_frame(&mut first, reader).map_err(StreamError::Source)?;
        if data.is_empty() && log.size > 0 {
            break;
        }
        content.update(&data);
        let (bytes, sha) = compress_frame(&mut zc, &data).map_err(StreamError::Output)?;
        out.write_all(&bytes).map_err(StreamError::Output)?;
        stored.update(&bytes);
        log.size += data.len() as u64;
        log.frames.push(Frame {
            length: bytes.len() as u64,
            stored_sha256: sha,
        });
        if (data.len() as u64) < FRAME_SIZE {
            break;
        }
    }
    Ok(log.finish(
        ObjectId::from_hasher(content),
        ObjectId::from_hasher(stored),
    ))
}

/// A thread that hashes the buffers it is sent, in order.
fn spawn_hasher<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
) -> (
    SyncSender<Arc<Vec<u8>>>,
    std::thread::ScopedJoinHandle<'s, Sha256>,
) {
    let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(2);
    let handle = scope.spawn(move || {
        let mut h = Sha256::new();
        for buf in rx {
            h.update(&buf[..]);
        }
        h
    });
    (tx, handle)
}

fn compress_parallel<W: Write>(
    out: &mut W,
    head: Vec<u8>,
    reader: &mut dyn Read,
    level: i32,
    workers: usize,
) -> Result<Compressed, StreamError> {
    let gone = || StreamError::Output(io::Error::other("a compression thread stopped"));
    type Job = (Arc<Vec<u8>>, SyncSender<FrameResult>);
    let (job_tx, job_rx) = sync_channel::<Job>(workers);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        let (content_tx, content_thread) = spawn_hasher(scope);
        let (stored_tx, stored_thread) = spawn_hasher(scope);
        let mut started = Vec::new();
        for _ in 0..workers {
            let mut zc = frame_compressor(level).map_err(StreamError::Output)?;
            let job_rx = &job_rx;
            started.push(scope.spawn(move || {
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((data, reply)) = job else { return };
                    // The receiver is gone only when the pipeline stopped early.
                    let _ = reply.send(compress_frame(&mut zc, &data));
                }
            }));
        }
        // Frames being compressed, oldest first: written in this order.
        let mut pending: VecDeque<Receiver<FrameResult>> = VecDeque::new();
        let mut log = FrameLog::default();
        let mut write_oldest = |pending: &mut VecDeque<Receiver<FrameResult>>,
                                log: &mut FrameLog|
         -> Result<(), StreamError> {
            let Some(rx) = pending.pop_front() else {
                return Ok(());
            };
            let (bytes, sha) = rx
                .recv()
                .map_err(|_| gone())?
                .map_err(StreamError::Output)?;
            out.write_all(&bytes).map_err(StreamError::Output)?;
            log.frames.push(Frame {
                length: bytes.len() as u64,
                stored_sha256: sha,
            });
            stored_tx.send(Arc::new(bytes)).map_err(|_| gone())
        };
        let mut first = Some(head);
        let run = (|| {
            loop {
                let data = next_frame(&mut first, reader).map_err(StreamError::Source)?;
                if data.is_empty() && log.size > 0 {
                    break;
                }
                let last = (data.len() as u64) < FRAME_SIZE;
                log.size += data.len() as u64;
                let data = Arc::new(data);
                content_tx.send(Arc::clone(&data)).map_err(|_| gone())?;
                let (reply, result) = sync_channel(1);
                job_tx.send((data, reply)).map_err(|_| gone())?;
                pending.push_back(result);
                // One frame per worker plus one being read: bounded memory.
                while pending.len() > workers {
                    write_oldest(&mut pending, &mut log)?;
                }
                if last {
                    break;
                }
            }
            while !pending.is_empty() {
                write_oldest(&mut pending, &mut log)?;
            }
            Ok(())
        })();
        // Stop the threads: closing the channels ends their loops.
        drop(pending);
        drop(job_tx);
        drop(content_tx);
        drop(stored_tx);
        let mut panicked = false;
        for t in started {
            panicked |= t.join().is_err();
        }
        let content = content_thread.join();
        let stored = stored_thread.join();
        run?;
        match (content, stored) {
            (Ok(c), Ok(s)) if !panicked => {
                Ok(log.finish(ObjectId::from_hasher(c), ObjectId::from_hasher(s)))
            }
            _ => Err(gone()),
        }
    })
}

/// Renames without replacing: `name`, then `name-1`, `name-2`, ... before the
/// extension (`.ocpvault` or `.ocpvault.age`).
fn rename_noreplace(tmp: &Path, wanted: &Path) -> Result<PathBuf, ArchiveError> {
    let file_name = wanted
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match file_name.find(".ocpvault") {
        Some(i) => file_name.split_at(i),
        None => (file_name.as_str(), ""),
    };
    for n in 0..1000 {
        let candidate = if n == 0 {
            wanted.to_path_buf()
        } else {
            wanted.with_file_name(format!("{stem}-{n}{ext}"))
        };
        use rustix::io::Errno;
        match place_noreplace(tmp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(ArchiveError::io(&candidate, e.into())),
        }
    }
    Err(ArchiveError::io(
        wanted,
        io::Error::new(io::ErrorKind::AlreadyExists, "no free archive name"),
    ))
}

/// Renames `tmp` to `wanted` unless `wanted` exists (then `Errno::EXIST`):
/// renameat2(RENAME_NOREPLACE), or link + unlink where the filesystem lacks it. The
/// one no-replace primitive for every file ocpvault places (archives, shipped copies).
pub fn place_noreplace(tmp: &Path, wanted: &Path) -> rustix::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use rustix::io::Errno;
    match renameat_with(CWD, tmp, CWD, wanted, RenameFlags::NOREPLACE) {
        // Filesystems without RENAME_NOREPLACE (some NFS servers, older FUSE):
        // a hard link refuses an existing name just the same.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => place_by_link(tmp, wanted),
        other => other,
    }
}

/// Gives `tmp` the name `wanted` unless that name exists (EEXIST), by link + unlink.
fn place_by_link(tmp: &Path, wanted: &Path) -> rustix::io::Result<()> {
    use rustix::fs::{AtFlags, CWD, linkat, unlinkat};
    linkat(CWD, tmp, CWD, wanted, AtFlags::empty())?;
    match unlinkat(CWD, tmp, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => {
            // Leave the archive under one name only: undo the link.
            let _ = unlinkat(CWD, wanted, AtFlags::empty());
            Err(e)
        }
    }
}

/// The narrow interface a collector writes through: objects first, then the entries
/// that refer to them, then one report per source.
pub trait Store {
    /// Reads, hashes and compresses a stream without storing it yet.
    fn prepare_object(&mut self, reader: &mut dyn Read) -> io::Result<PreparedObject>;
    /// Stores a prepared object (once per id).
    fn commit_object(&mut self, obj: PreparedObject) -> Result<ObjectId, ArchiveError>;
    /// Adds a manifest entry.
    fn add_entry(&mut self, entry: Entry);
    /// Records what a source did.
    fn add_source(&mut self, report: SourceReport);
    /// (dev, ino) of the archive file being written, if any: never read it back.
    fn own_file(&self) -> Option<(u64, u64)> {
        None
    }
}

impl Store for ArchiveWriter {
    fn prepare_object(&mut self, reader: &mut dyn Read) -> io::Result<PreparedObject> {
        ArchiveWriter::prepare_object(self, reader)
    }
    fn commit_object(&mut self, obj: PreparedObject) -> Result<ObjectId, ArchiveError> {
        ArchiveWriter::commit_object(self, obj)
    }
    fn add_entry(&mut self, entry: Entry) {
        ArchiveWriter::add_entry(self, entry)
    }
    fn add_source(&mut self, report: SourceReport) {
        ArchiveWriter::add_source(self, report)
    }
    fn own_file(&self) -> Option<(u64, u64)> {
        ArchiveWriter::own_file(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_by_link_never_replaces_and_leaves_one_name() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".a.tmp");
        let taken = dir.path().join("taken.ocpvault");
        let free = dir.path().join("free.ocpvault");
        std::fs::write(&tmp, b"new").unwrap();
        std::fs::write(&taken, b"old").unwrap();
        assert_eq!(place_by_link(&tmp, &taken), Err(rustix::io::Errno::EXIST));
        assert_eq!(std::fs::read(&taken).unwrap(), b"old");
        assert!(tmp.exists());
        place_by_link(&tmp, &free).unwrap();
        assert_eq!(std::fs::read(&free).unwrap(), b"new");
        assert!(!tmp.exists(), "the temporary name is gone");
    }
}
