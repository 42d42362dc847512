//! The reading side of the live snapshot: the worker's events become a `Read` that
//! checks etcd's integrity trailer on the way into `Store::prepare_object` (which
//! spools large objects to disk), so memory does not grow with the db size and a
//! snapshot whose trailer does not match is never committed.

use super::keyindex::SpoolTee;
use crate::archive::{ArchiveError, Store};
use crate::collect::generated_entry;
use crate::etcd::record::{EndpointStatus, MemberRecord, SnapshotRecord};
use crate::etcd::trailer::{TrailerOk, TrailerReader};
use crate::etcd::{SNAPSHOT_PATH, SOURCE_NAME};
use crate::progress::Progress;
use std::io::{self, Read};
use tokio::sync::mpsc::Receiver;

/// What the worker tells the reading side.
#[derive(Debug)]
pub(super) enum Event {
    /// Connected and healthy; the stream follows.
    Ready {
        status: EndpointStatus,
        members: Vec<MemberRecord>,
    },
    Chunk(Vec<u8>),
    /// The stream ended normally.
    End,
    /// Connecting, the health check or the stream failed; the message names the endpoint.
    Failed(String),
}

/// What a completed stream left in the store.
#[derive(Debug)]
pub(super) struct Stored {
    pub status: EndpointStatus,
    pub members: Vec<MemberRecord>,
    pub record: SnapshotRecord,
    /// Whether the key index was stored, or why not.
    pub index: Result<(), String>,
}

/// Reads the worker's events into one object at [`SNAPSHOT_PATH`]. The inner error is
/// the source's failure; the outer one a failure to write the archive.
pub(super) fn store_stream(
    store: &mut dyn Store,
    mut rx: Receiver<Event>,
    created: (i64, u32),
    progress: &dyn Progress,
) -> Result<Result<Stored, String>, ArchiveError> {
    let (status, members) = match rx.blocking_recv() {
        Some(Event::Ready { status, members }) => (status, members),
        Some(Event::Failed(e)) => return Ok(Err(e)),
        _ => return Ok(Err("the etcd client stopped before it connected".into())),
    };
    progress.begin("etcd snapshot", Some(status.db_size));
    let mut reader = SpoolTee::new(TrailerReader::new(ChannelReader::new(rx, progress)));
    let prepared = store.prepare_object(&mut reader);
    progress.end();
    let ep = &status.endpoint;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            let why = match (reader.inner.verdict(), &reader.inner.get_ref().failure) {
                (Some(Err(t)), _) => format!("{ep}: {SNAPSHOT_PATH}: {t}"),
                (_, Some(f)) => f.clone(),
                _ => format!("{ep}: writing the snapshot into the archive: {e}"),
            };
            return Ok(Err(why));
        }
    };
    let trailer: TrailerOk = match reader.inner.verdict() {
        Some(Ok(t)) => *t,
        _ => {
            return Ok(Err(format!(
                "{ep}: snapshot stream ended without a verdict"
            )));
        }
    };
    let size = prepared.size;
    let id = store.commit_object(prepared)?;
    store.add_entry(generated_entry(
        SOURCE_NAME,
        SNAPSHOT_PATH,
        id,
        size,
        created,
    ));
    let record = SnapshotRecord {
        path: SNAPSHOT_PATH.into(),
        object: id,
        size,
        trailer_sha256: Some(hex::encode(trailer.sha256)),
    };
    let index = reader.store_index(store, created);
    Ok(Ok(Stored {
        status,
        members,
        record,
        index,
    }))
}

/// The snapshot stream as a `Read`, fed by the worker's bounded channel.
struct ChannelReader<'a> {
    rx: Receiver<Event>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    failure: Option<String>,
    progress: &'a dyn Progress,
}

impl<'a> ChannelReader<'a> {
    fn new(rx: Receiver<Event>, progress: &'a dyn Progress) -> Self {
        Self {
            rx,
            buf: Vec::new(),
            pos: 0,
            done: false,
            failure: None,
            progress,
        }
    }
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if let Some(f) = &self.failure {
                return Err(io::Error::other(f.clone()));
            }
            match self.rx.blocking_recv() {
                Some(Event::Chunk(c)) => {
                    self.progress.advance(c.len() as u64);
                    self.buf = c;
                    self.pos = 0;
                }
                Some(Event::End) => self.done = true,
                Some(Event::Failed(e)) => self.failure = Some(e),
                Some(Event::Ready { .. }) => self.failure = Some("unexpected second status".into()),
                None => {
                    self.failure =
                        Some("the etcd client stopped in the middle of the stream".into())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::failed;
    use super::*;
    use crate::archive::{ArchiveReader, ArchiveWriter, HostFacts, Sink, WriterOptions};
    use crate::etcd::record::EtcdDetails;
    use crate::etcd::trailer::with_trailer;
    use crate::progress::NoProgress;
    use std::path::Path;

    const EP: &str = "https://127.0.0.1:2379";

    fn writer(dir: &Path) -> ArchiveWriter {
        let opts = WriterOptions {
            level: 1,
            threads: 0,
            created: (1_700_000_000, 0),
        };
        ArchiveWriter::create(&dir.join("a.ocpvault"), opts, |f| {
            Ok(Box::new(f) as Box<dyn Sink>)
        })
        .unwrap()
    }

    fn status(db_size: u64) -> EndpointStatus {
        EndpointStatus {
            endpoint: EP.into(),
            version: "3.4.23".into(),
            db_size,
            revision: 1,
            raft_index: 1,
            raft_term: 1,
            leader: "1".into(),
            member_id: "1".into(),
            cluster_id: "2".into(),
            is_learner: false,
            errors: Vec::new(),
        }
    }

    /// Feeds `stream` in etcd's 32 KiB pieces from another thread, then `last`.
    fn events(stream: Vec<u8>, last: Option<Event>) -> Receiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        std::thread::spawn(move || {
            let size = stream.len() as u64;
            let _ = tx.blocking_send(Event::Ready {
                status: status(size),
                members: Vec::new(),
            });
            for piece in stream.chunks(32 * 1024) {
                let _ = tx.blocking_send(Event::Chunk(piece.to_vec()));
            }
            if let Some(last) = last {
                let _ = tx.blocking_send(last);
            }
        });
        rx
    }

    fn finish(w: ArchiveWriter) -> ArchiveReader {
        let facts = HostFacts {
            hostname: "h".into(),
            os_release: None,
            root: "/".into(),
        };
        let (path, _) = w.finish(facts, Default::default()).unwrap();
        ArchiveReader::open(&path).unwrap()
    }

    fn db(bytes: usize) -> Vec<u8> {
        (0..bytes).map(|i| (i % 253) as u8).collect()
    }

    #[test]
    fn a_good_stream_over_one_mib_is_spooled_and_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        let stream = with_trailer(&db(3 * 1024 * 1024));
        let rx = events(stream.clone(), Some(Event::End));
        let stored = store_stream(&mut w, rx, (0, 0), &NoProgress)
            .unwrap()
            .unwrap();
        assert_eq!(stored.record.size, stream.len() as u64);
        assert_eq!(
            stored.record.object,
            crate::archive::ObjectId::of_bytes(&stream)
        );
        let mut r = finish(w);
        let entry = r
            .manifest()
            .entry(SNAPSHOT_PATH.as_bytes())
            .cloned()
            .unwrap();
        let mut back = Vec::new();
        r.open_object(&entry.object.unwrap())
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == stream);
    }

    #[test]
    fn an_altered_trailer_fails_the_source_and_the_archive_still_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        let mut stream = with_trailer(&db(64 * 1024));
        let at = stream.len() - 5;
        stream[at] ^= 0xff;
        let rx = events(stream, Some(Event::End));
        let err = store_stream(&mut w, rx, (0, 0), &NoProgress)
            .unwrap()
            .unwrap_err();
        assert!(err.starts_with(EP), "{err}");
        assert!(
            err.contains(SNAPSHOT_PATH) && err.contains("trailer mismatch"),
            "{err}"
        );
        w.add_source(failed(EtcdDetails::default(), err));
        let mut r = finish(w);
        assert!(r.manifest().entry(SNAPSHOT_PATH.as_bytes()).is_none());
        assert!(
            r.index().objects.is_empty(),
            "a rejected snapshot was stored"
        );
        assert!(crate::verify::verify_archive(&mut r, &|_| {}).is_sound());
    }

    #[test]
    fn stream_errors_and_a_vanished_worker_fail_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        let stream = with_trailer(&db(8192));
        let boom = format!("{EP}: snapshot stream: connection reset");
        let rx = events(stream.clone(), Some(Event::Failed(boom.clone())));
        let err = store_stream(&mut w, rx, (0, 0), &NoProgress).unwrap();
        assert_eq!(err.unwrap_err(), boom);
        let rx = events(stream, None);
        let err = store_stream(&mut w, rx, (0, 0), &NoProgress).unwrap();
        assert!(err.unwrap_err().contains("stopped in the middle"));
    }
}
