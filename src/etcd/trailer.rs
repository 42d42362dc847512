//! etcd's snapshot integrity trailer.
//!
//! The Maintenance Snapshot RPC streams the bolt db and then one more message holding
//! the SHA-256 of everything sent before it (etcd 3.3 and later; 3.4 is what Debian and
//! RHEL 7 ship). `etcdctl snapshot save` writes that stream as it is, so a saved
//! snapshot is the db followed by 32 bytes of hash, and because a bolt db is a whole
//! number of pages its size is `512 * n + 32` (etcdctl's own `hasChecksum` rule).
//! `etcdctl snapshot restore` checks that hash unless told `--skip-hash-check`.
//!
//! [`TrailerChecker`] checks the trailer on a stream without holding it: it hashes
//! every byte except the last 32 seen so far, which it keeps in a fixed window.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// The trailer's length: one SHA-256.
pub const TRAILER_LEN: usize = 32;
/// A db is a whole number of pages; every page size is a multiple of this.
const BLOCK_ALIGN: u64 = 512;

/// A snapshot stream that ended with a valid trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailerOk {
    /// The SHA-256 the trailer states (and the data matches).
    pub sha256: [u8; 32],
    /// Bytes of db before the trailer.
    pub db_size: u64,
}

/// Why a snapshot stream's trailer is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailerError {
    #[error("no etcd integrity trailer: {size} bytes is not 32 bytes more than a multiple of 512")]
    Missing { size: u64 },
    #[error(
        "etcd integrity trailer mismatch: the last 32 bytes say sha256 {stated}, the {db_size} bytes before them hash to {computed}"
    )]
    Mismatch {
        stated: String,
        computed: String,
        db_size: u64,
    },
}

/// Checks the trailer of a stream fed to it piece by piece.
#[derive(Clone, Default)]
pub struct TrailerChecker {
    hasher: Sha256,
    window: [u8; TRAILER_LEN],
    window_len: usize,
    total: u64,
}

impl TrailerChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes seen so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Feeds the next piece of the stream.
    pub fn update(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        if data.len() >= TRAILER_LEN {
            self.hasher.update(&self.window[..self.window_len]);
            let split = data.len() - TRAILER_LEN;
            self.hasher.update(&data[..split]);
            self.window.copy_from_slice(&data[split..]);
            self.window_len = TRAILER_LEN;
            return;
        }
        // The window overflows by `spill` bytes: hash them, shift, append.
        let spill = (self.window_len + data.len()).saturating_sub(TRAILER_LEN);
        self.hasher.update(&self.window[..spill]);
        self.window.copy_within(spill..self.window_len, 0);
        self.window_len -= spill;
        self.window[self.window_len..self.window_len + data.len()].copy_from_slice(data);
        self.window_len += data.len();
    }

    /// Checks the size rule and the hash once the stream has ended.
    pub fn finish(self) -> Result<TrailerOk, TrailerError> {
        if self.total < TRAILER_LEN as u64 || self.total % BLOCK_ALIGN != TRAILER_LEN as u64 {
            return Err(TrailerError::Missing { size: self.total });
        }
        let computed: [u8; 32] = self.hasher.finalize().into();
        if computed != self.window {
            return Err(TrailerError::Mismatch {
                stated: hex::encode(self.window),
                computed: hex::encode(computed),
                db_size: self.total - TRAILER_LEN as u64,
            });
        }
        Ok(TrailerOk {
            sha256: computed,
            db_size: self.total - TRAILER_LEN as u64,
        })
    }
}

impl Write for TrailerChecker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that checks the trailer of what passes through it. At the end of the
/// stream it returns an `InvalidData` error instead of EOF when the trailer is not
/// valid, so a consumer such as `Store::prepare_object` never accepts a bad snapshot.
pub struct TrailerReader<R> {
    inner: R,
    checker: Option<TrailerChecker>,
    verdict: Option<Result<TrailerOk, TrailerError>>,
}

impl<R: Read> TrailerReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            checker: Some(TrailerChecker::new()),
            verdict: None,
        }
    }

    /// The result, once the stream has been read to its end.
    pub fn verdict(&self) -> Option<&Result<TrailerOk, TrailerError>> {
        self.verdict.as_ref()
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: Read> Read for TrailerReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(verdict) = &self.verdict {
            return match verdict {
                Ok(_) => Ok(0),
                Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())),
            };
        }
        let n = self.inner.read(buf)?;
        let checker = self.checker.as_mut().expect("checker present until EOF");
        if n > 0 || buf.is_empty() {
            checker.update(&buf[..n]);
            return Ok(n);
        }
        let verdict = self.checker.take().expect("checked above").finish();
        self.verdict = Some(verdict);
        self.read(buf)
    }
}

/// Builds a stream the way etcd does: `db` followed by its SHA-256. For tests.
pub fn with_trailer(db: &[u8]) -> Vec<u8> {
    let mut out = db.to_vec();
    out.extend_from_slice(&Sha256::digest(db));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(pages: usize) -> Vec<u8> {
        (0..pages * 4096).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn check_in_pieces(stream: &[u8], piece: usize) -> Result<TrailerOk, TrailerError> {
        let mut c = TrailerChecker::new();
        for chunk in stream.chunks(piece) {
            c.update(chunk);
        }
        c.finish()
    }

    #[test]
    fn accepts_a_valid_stream_whatever_the_chunking() {
        let data = db(3);
        let stream = with_trailer(&data);
        for piece in [1, 5, 31, 32, 33, 4096, 32 * 1024, stream.len()] {
            let ok = check_in_pieces(&stream, piece).unwrap();
            assert_eq!(ok.db_size, data.len() as u64);
            assert_eq!(ok.sha256[..], Sha256::digest(&data)[..]);
        }
    }

    #[test]
    fn rejects_a_flipped_byte_in_trailer_or_data() {
        let stream = with_trailer(&db(2));
        for pos in [0, 4096, stream.len() - 32, stream.len() - 1] {
            let mut bad = stream.clone();
            bad[pos] ^= 0x40;
            let err = check_in_pieces(&bad, 1000).unwrap_err();
            assert!(matches!(err, TrailerError::Mismatch { .. }), "{pos}: {err}");
            assert!(err.to_string().contains("trailer mismatch"));
        }
    }

    #[test]
    fn rejects_a_db_without_trailer_or_truncated() {
        let data = db(2);
        assert_eq!(
            check_in_pieces(&data, 4096).unwrap_err(),
            TrailerError::Missing { size: 8192 }
        );
        let stream = with_trailer(&data);
        let cut = &stream[..stream.len() - 1];
        assert!(matches!(
            check_in_pieces(cut, 100).unwrap_err(),
            TrailerError::Missing { .. }
        ));
        assert!(matches!(
            TrailerChecker::new().finish().unwrap_err(),
            TrailerError::Missing { size: 0 }
        ));
    }

    #[test]
    fn reader_fails_at_eof_on_a_bad_trailer() {
        let mut bad = with_trailer(&db(1));
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut r = TrailerReader::new(&bad[..]);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            r.verdict(),
            Some(Err(TrailerError::Mismatch { .. }))
        ));

        let good = with_trailer(&db(1));
        let mut r = TrailerReader::new(&good[..]);
        assert_eq!(
            io::copy(&mut r, &mut io::sink()).unwrap(),
            good.len() as u64
        );
        assert!(matches!(r.verdict(), Some(Ok(_))));
    }
}
