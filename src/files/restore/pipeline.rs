//! The data path of a restore, on more than one thread.
//!
//! The thread that runs the plan also decodes: it owns the archive reader, whose
//! object reader decompresses and checks the SHA-256 (and size) at the end of each
//! object. The bytes go, in fixed buffers over bounded channels, to a pool of writer
//! threads. A writer takes one file at a time: it writes each buffer into the
//! temporary file (created by the plan thread relative to its pinned directory),
//! reads the same range back through the descriptor and compares it with the
//! buffer, which is what the object reader hashed; at the end it fsyncs. While it waits for the disk the decoder moves on to the
//! next file, so the decoding of one file overlaps the writing and fsync of others.
//!
//! A file is reported good only when both checks passed: the object reader's, which
//! arrives as the end marker of the stream, and the writer's, that the bytes read
//! back are those bytes. Nothing here names a path; renaming into place, metadata and directory
//! fsyncs stay with the plan thread (see `apply`), after this verdict.

use crate::archive::{ArchiveReader, ObjectId};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes per buffer handed from the decoder to a writer.
const CHUNK_SIZE: usize = 256 * 1024; // 256 KiB
/// Buffers queued for one file before the decoder waits for its writer.
const CHUNKS_QUEUED: usize = 4;
/// Writer threads: enough that fsyncs of several files overlap; writing is cheap
/// in CPU next to decoding, so more threads than cores is right here.
const WRITERS: usize = 4;
/// Buffers in circulation (bounds the memory of the pipeline: 6 MiB).
const BUFFERS: usize = WRITERS * CHUNKS_QUEUED + 8;
/// A large file's pages are handed to writeback every this many bytes, so its
/// final fsync waits only for the tail instead of the whole file.
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024; // 8 MiB

/// What the decoder sends a writer for one file.
enum Chunk {
    Data(Vec<u8>, usize),
    /// The object reader's verdict: Ok only after its SHA-256 and size checks.
    End(Result<(), String>),
}

/// One file for a writer.
struct WriteJob {
    seq: u64,
    size: u64,
    file: File,
    chunks: Receiver<Chunk>,
    /// Set by the writer when it gave up (a failed write): the decoder stops early.
    abandoned: Arc<AtomicBool>,
}

/// A file the writers are done with: written, read back, checked and fsynced, or
/// the first reason it is not.
pub struct Written {
    pub seq: u64,
    pub file: File,
    pub result: Result<(), String>,
}

/// The decoder's handle on the writer pool.
pub struct Pipeline {
    jobs: Option<SyncSender<WriteJob>>,
    done: Receiver<Written>,
    free: Receiver<Vec<u8>>,
    allocated: usize,
    /// A buffer the decoder took and did not send (the end of an object).
    spare: Option<Vec<u8>>,
    writers: Vec<JoinHandle<()>>,
    next_seq: u64,
}

impl Pipeline {
    /// Starts the writer threads.
    pub fn start() -> io::Result<Self> {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<WriteJob>(WRITERS);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let (done_tx, done) = mpsc::channel();
        let (free_tx, free) = mpsc::channel();
        let mut writers = Vec::with_capacity(WRITERS);
        for n in 0..WRITERS {
            let (jobs, done, free) = (jobs_rx.clone(), done_tx.clone(), free_tx.clone());
            let handle = std::thread::Builder::new()
                .name(format!("restore-writer-{n}"))
                .spawn(move || run_writer(&jobs, &done, &free))?;
            writers.push(handle);
        }
        Ok(Self {
            jobs: Some(jobs_tx),
            done,
            free,
            allocated: 0,
            spare: None,
            writers,
            next_seq: 0,
        })
    }

    /// Decodes object `id` (of `size` bytes) and streams it to a writer that fills
    /// `file`. Returns the sequence number its [`Written`] will carry, or the file
    /// back with the reason when no writer could take it.
    pub fn send_file(
        &mut self,
        reader: &mut ArchiveReader,
        id: ObjectId,
        size: u64,
        file: File,
    ) -> Result<u64, (File, String)> {
        self.next_seq += 1;
        let seq = self.next_seq;
        let (tx, chunks) = mpsc::sync_channel(CHUNKS_QUEUED);
        let abandoned = Arc::new(AtomicBool::new(false));
        let job = WriteJob {
            seq,
            size,
            file,
            chunks,
            abandoned: abandoned.clone(),
        };
        let Some(jobs) = &self.jobs else {
            return Err((job.file, "the writer threads have stopped".into()));
        };
        if let Err(mpsc::SendError(job)) = jobs.send(job) {
            return Err((job.file, "the writer threads have stopped".into()));
        }
        let verdict = self.decode(reader, &id, size, &tx, &abandoned);
        // A writer that gave up has its own reason, which it reports.
        let _ = tx.send(Chunk::End(verdict));
        Ok(seq)
    }

    /// Streams the object into `tx`, never more than `size` bytes, and returns the
    /// object reader's verdict (its final read runs the size and SHA-256 checks).
    fn decode(
        &mut self,
        reader: &mut ArchiveReader,
        id: &ObjectId,
        size: u64,
        tx: &SyncSender<Chunk>,
        abandoned: &AtomicBool,
    ) -> Result<(), String> {
        let obj = reader.open_object(id).map_err(|x| x.to_string())?;
        let mut limited = obj.take(size + 1);
        let mut total = 0u64;
        loop {
            if abandoned.load(Ordering::Relaxed) {
                return Err("abandoned".into());
            }
            let mut buf = self.buffer();
            let n = match fill(&mut limited, &mut buf) {
                Ok(0) => {
                    self.spare = Some(buf);
                    break;
                }
                Ok(n) => n,
                Err(x) => {
                    self.spare = Some(buf);
                    return Err(x.to_string());
                }
            };
            total += n as u64;
            if total > size {
                self.spare = Some(buf);
                return Err(format!("object {id} is longer than its entry"));
            }
            if tx.send(Chunk::Data(buf, n)).is_err() {
                return Err("abandoned".into());
            }
        }
        if total != size {
            return Err(format!(
                "object {id} holds {total} bytes, the entry says {size}"
            ));
        }
        Ok(())
    }

    /// A free buffer: a returned one, a new one while under the limit, else wait.
    fn buffer(&mut self) -> Vec<u8> {
        if let Some(b) = self.spare.take() {
            return b;
        }
        if let Ok(b) = self.free.try_recv() {
            return b;
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return vec![0; CHUNK_SIZE];
        }
        self.free.recv().unwrap_or_else(|_| vec![0; CHUNK_SIZE])
    }

    /// Files the writers have finished, without waiting.
    pub fn finished(&self) -> Vec<Written> {
        self.done.try_iter().collect()
    }

    /// Waits for the next finished file; None when no writer is left.
    pub fn wait(&self) -> Option<Written> {
        self.done.recv().ok()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn run_writer(jobs: &Mutex<Receiver<WriteJob>>, done: &Sender<Written>, free: &Sender<Vec<u8>>) {
    let mut back = vec![0u8; CHUNK_SIZE];
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let result = write_job(&job, free, &mut back);
        let written = Written {
            seq: job.seq,
            file: job.file,
            result,
        };
        if done.send(written).is_err() {
            return;
        }
    }
}

/// Writes one file: every buffer is written, then read back from the same range
/// and compared; at the end the decoder's verdict (the object's SHA-256 over the
/// very bytes compared) and the size must hold, and then the file is fsynced.
fn write_job(job: &WriteJob, free: &Sender<Vec<u8>>, back: &mut [u8]) -> Result<(), String> {
    let mut offset = 0u64;
    let mut kicked = 0u64;
    let mut failed: Option<String> = None;
    let verdict = loop {
        match job.chunks.recv() {
            Ok(Chunk::Data(buf, n)) => {
                if failed.is_none() {
                    match write_back(&job.file, offset, &buf[..n], back) {
                        Ok(()) => {
                            offset += n as u64;
                            if offset - kicked >= WRITEBACK_STEP {
                                start_writeback(&job.file, kicked, offset - kicked);
                                kicked = offset;
                            }
                        }
                        Err(x) => {
                            failed = Some(x);
                            job.abandoned.store(true, Ordering::Relaxed);
                        }
                    }
                }
                let _ = free.send(buf);
            }
            Ok(Chunk::End(v)) => break v,
            Err(_) => break Err("the decoder stopped".into()),
        }
    };
    if let Some(x) = failed {
        return Err(x);
    }
    verdict?;
    if offset != job.size {
        return Err(format!("wrote {offset} bytes, the entry says {}", job.size));
    }
    job.file.sync_all().map_err(|x| format!("fsync: {x}"))
}

/// Writes `data` at `offset`, reads the range back into `back` and compares: the
/// kernel must return exactly the bytes the object reader hashed.
fn write_back(file: &File, offset: u64, data: &[u8], back: &mut [u8]) -> Result<(), String> {
    file.write_all_at(data, offset)
        .map_err(|x| format!("write: {x}"))?;
    let back = &mut back[..data.len()];
    file.read_exact_at(back, offset)
        .map_err(|x| format!("read back: {x}"))?;
    if back != data {
        return Err(format!(
            "read back at offset {offset} differs from what was written"
        ));
    }
    Ok(())
}

/// Starts writeback of a range already written and read back, without waiting:
/// POSIX_FADV_DONTNEED on Linux starts asynchronous writeback of the range's dirty
/// pages (and drops only pages already clean). The fsync at the end still waits
/// for every byte; this only lets the disk work while later bytes are decoded. A
/// failure is harmless (the fsync does the work), so it is ignored.
fn start_writeback(file: &File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        offset,
        std::num::NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}
