//! An own age v1 writer (age-encryption.org/v1) that can patch a region it was told
//! about in advance, so large objects are compressed straight into an encrypted
//! archive, without a spool file.
//!
//! The file: the text header (version line, one `-> ` stanza per wrapped file key,
//! `---` and the header MAC), a random 16-byte nonce, then the payload in STREAM
//! chunks of 64 KiB of plaintext, each sealed with ChaCha20-Poly1305 under the
//! payload key and a 12-byte nonce: the chunk's 11-byte big-endian counter and a
//! last-chunk flag byte (1 only on the final chunk). Every chunk but the last has the
//! same size on disk, so chunk `i` lands at a fixed offset and chunks can be sealed
//! in any order.
//!
//! Nonce rule: each chunk is sealed exactly once, with its own counter. The writer
//! therefore keeps in plaintext only the tail chunk (not known to be full and
//! followed by more, so not known to be non-final) and the chunks that hold a region
//! announced with [`Sink::hold`] and not yet patched; all others are sealed as soon
//! as they are complete, on a thread of their own, and written at their offset.
//! Nothing is ever cut back ([`Sink::can_truncate`] is false): rewriting a sealed
//! chunk would seal other plaintext under the same nonce.

use crate::Sink;
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::Mac;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Plaintext bytes per STREAM chunk.
pub const CHUNK: u64 = 64 * 1024;
/// Bytes of a Poly1305 tag.
pub const TAG: u64 = 16;
/// Bytes of the payload nonce after the header.
pub const PAYLOAD_NONCE: u64 = 16;
/// The version line of an age v1 header.
const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// Chunks queued for the sealing thread (1 MiB of plaintext).
const QUEUE: usize = 16;

/// The nonce of chunk `counter`: 11-byte big-endian counter, then the last flag.
pub fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// HKDF-SHA-256 with the file key as input keying material.
fn derive(file_key: &FileKey, salt: &[u8], info: &[u8]) -> [u8; 32] {
    age_core::primitives::hkdf(salt, info, file_key.expose_secret())
}

/// The payload key of a file with this file key and payload nonce.
pub fn payload_key(file_key: &FileKey, nonce: &[u8; 16]) -> [u8; 32] {
    derive(file_key, nonce, b"payload")
}

/// Wraps a new random file key for every recipient; refuses recipients that
/// declare themselves incompatible (different label sets), as age does.
fn wrap_for(recipients: &[&dyn age::Recipient], file_key: &FileKey) -> io::Result<Vec<Stanza>> {
    let mut labels: Option<HashSet<String>> = None;
    let mut stanzas = Vec::new();
    for r in recipients {
        let (mut s, l) = r.wrap_file_key(file_key).map_err(io::Error::other)?;
        match &labels {
            Some(first) if *first != l => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "these recipients cannot be combined in one file (a passphrase, or keys of incompatible kinds)",
                ));
            }
            Some(_) => {}
            None => labels = Some(l),
        }
        stanzas.append(&mut s);
    }
    if stanzas.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no recipients to encrypt to",
        ));
    }
    Ok(stanzas)
}

/// The age v1 text header for these stanzas, with its MAC.
pub fn header_bytes(stanzas: &[Stanza], file_key: &FileKey) -> Vec<u8> {
    let mut h = VERSION_LINE.to_vec();
    for s in stanzas {
        h.extend_from_slice(b"-> ");
        h.extend_from_slice(s.tag.as_bytes());
        for a in &s.args {
            h.push(b' ');
            h.extend_from_slice(a.as_bytes());
        }
        h.push(b'\n');
        // Body lines of 64 columns; the last one is shorter, empty if need be.
        let body = BASE64.encode(&s.body);
        let mut rest = body.as_bytes();
        while rest.len() >= 64 {
            h.extend_from_slice(&rest[..64]);
            h.push(b'\n');
            rest = &rest[64..];
        }
        h.extend_from_slice(rest);
        h.push(b'\n');
    }
    // The MAC covers the header up to and including `---`.
    h.extend_from_slice(b"---");
    let mac_key = derive(file_key, &[], b"header");
    let mut mac = <hmac::Hmac<sha2_v010::Sha256> as Mac>::new_from_slice(&mac_key)
        .expect("HMAC takes keys of any length");
    mac.update(&h);
    let tag = mac.finalize().into_bytes();
    h.push(b' ');
    h.extend_from_slice(BASE64.encode(tag).as_bytes());
    h.push(b'\n');
    h
}

/// A chunk for the sealing thread: its counter, plaintext, and last flag.
type Job = (u64, Vec<u8>, bool);

/// The age v1 writer (see the module documentation).
pub struct AgeStreamWriter {
    /// Sends chunks to the sealing thread, which writes them at their offsets.
    jobs: Option<SyncSender<Job>>,
    sealer: Option<JoinHandle<io::Result<File>>>,
    /// Plaintext bytes written so far.
    len: u64,
    /// Index of the tail chunk and its plaintext (`len - tail_index * CHUNK` bytes,
    /// 1..=CHUNK of them unless nothing was written).
    tail_index: u64,
    tail: Vec<u8>,
    /// Complete, non-final chunks kept in plaintext for a hold.
    held: BTreeMap<u64, Vec<u8>>,
    /// Regions announced with `hold` and not patched yet: [start, end).
    holds: Vec<(u64, u64)>,
}

impl AgeStreamWriter {
    /// Starts an age file in `file` (written from offset 0, positionally), encrypted
    /// to `recipients` (several of any kind, or one passphrase recipient).
    pub fn new(file: File, recipients: &[&dyn age::Recipient]) -> io::Result<Self> {
        let file_key = FileKey::try_init_with_mut(|k: &mut [u8; FILE_KEY_BYTES]| {
            getrandom::getrandom(k).map_err(io::Error::other)
        })?;
        let stanzas = wrap_for(recipients, &file_key)?;
        let mut head = header_bytes(&stanzas, &file_key);
        let mut nonce = [0u8; PAYLOAD_NONCE as usize];
        getrandom::getrandom(&mut nonce).map_err(io::Error::other)?;
        head.extend_from_slice(&nonce);
        file.write_all_at(&head, 0)?;
        let key = payload_key(&file_key, &nonce);
        let base = head.len() as u64;
        let (jobs, rx) = sync_channel::<Job>(QUEUE);
        let sealer = std::thread::Builder::new()
            .name("age-seal".into())
            .spawn(move || {
                let aead = ChaCha20Poly1305::new(Key::from_slice(&key));
                for (counter, mut chunk, last) in rx {
                    let nonce = chunk_nonce(counter, last);
                    let tag = aead
                        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &[], &mut chunk)
                        .map_err(|_| io::Error::other("chunk encryption failed"))?;
                    chunk.extend_from_slice(&tag);
                    file.write_all_at(&chunk, base + counter * (CHUNK + TAG))?;
                }
                Ok(file)
            })?;
        Ok(Self {
            jobs: Some(jobs),
            sealer: Some(sealer),
            len: 0,
            tail_index: 0,
            tail: Vec::with_capacity(CHUNK as usize),
            held: BTreeMap::new(),
            holds: Vec::new(),
        })
    }

    /// The sealing thread's error, once it stopped (a write failed).
    fn sealer_error(&mut self) -> io::Error {
        self.jobs = None;
        match self.sealer.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the encryption thread panicked"),
            _ => io::Error::other("the encryption thread stopped"),
        }
    }

    fn seal(&mut self, counter: u64, chunk: Vec<u8>, last: bool) -> io::Result<()> {
        let sent = match &self.jobs {
            Some(tx) => tx.send((counter, chunk, last)).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.sealer_error())
        }
    }

    fn is_held(&self, index: u64) -> bool {
        let (start, end) = (index * CHUNK, (index + 1) * CHUNK);
        self.holds.iter().any(|&(s, e)| s < end && start < e)
    }

    /// The tail chunk is complete and more follows: seal it, or keep it for a hold.
    fn retire_tail(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK as usize));
        let index = self.tail_index;
        self.tail_index += 1;
        if self.is_held(index) {
            self.held.insert(index, chunk);
            Ok(())
        } else {
            self.seal(index, chunk, false)
        }
    }
}

impl Write for AgeStreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.tail.len() as u64 == CHUNK {
            self.retire_tail()?;
        }
        let n = buf.len().min(CHUNK as usize - self.tail.len());
        self.tail.extend_from_slice(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for AgeStreamWriter {
    fn finish(mut self: Box<Self>) -> io::Result<File> {
        // Held chunks come before the tail, so none of them is the last.
        for (index, chunk) in std::mem::take(&mut self.held) {
            self.seal(index, chunk, false)?;
        }
        // The final chunk is empty only when the whole payload is.
        let tail = std::mem::take(&mut self.tail);
        self.seal(self.tail_index, tail, true)?;
        self.jobs = None;
        match self.sealer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the encryption thread panicked")),
        }
    }

    fn hold(&mut self, at: u64, len: u64) -> io::Result<()> {
        if at < self.tail_index * CHUNK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot hold bytes already encrypted",
            ));
        }
        self.holds.push((at, at + len));
        Ok(())
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        let end = at + bytes.len() as u64;
        if end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "patch beyond the bytes written",
            ));
        }
        if !self.holds.iter().any(|&(s, e)| s <= at && end <= e) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "patch outside a held region",
            ));
        }
        let mut pos = at;
        while pos < end {
            let index = pos / CHUNK;
            let within = (pos - index * CHUNK) as usize;
            let n = ((index + 1) * CHUNK).min(end) - pos;
            let from = (pos - at) as usize;
            let chunk = if index == self.tail_index {
                &mut self.tail
            } else {
                self.held.get_mut(&index).ok_or_else(|| {
                    io::Error::other("a held chunk was encrypted before its patch")
                })?
            };
            chunk[within..within + n as usize].copy_from_slice(&bytes[from..from + n as usize]);
            pos += n;
        }
        self.holds.retain(|&(s, e)| !(s < end && at < e));
        let free: Vec<u64> = self
            .held
            .keys()
            .copied()
            .filter(|i| !self.is_held(*i))
            .collect();
        for index in free {
            if let Some(chunk) = self.held.remove(&index) {
                self.seal(index, chunk, false)?;
            }
        }
        Ok(())
    }
}

/// Starts an encrypted archive file.
pub fn age_sink(file: File, recipients: &[&dyn age::Recipient]) -> io::Result<Box<dyn Sink>> {
    Ok(Box::new(AgeStreamWriter::new(file, recipients)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{EncryptKey, encrypting_sink};
    use crate::{ArchiveWriter, HostFacts, WriterOptions};
    use std::io::Read;

    /// Pseudo-random bytes zstd cannot shrink.
    fn noise(len: usize, mut x: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Parses the header with an own reading of the format; returns the stanzas and
    /// the header length (up to and including the MAC line).
    fn parse_header(file: &[u8]) -> (Vec<Stanza>, usize) {
        let mut lines = Vec::new();
        let mut at = 0;
        loop {
            let nl = at + file[at..].iter().position(|b| *b == b'\n').unwrap();
            let line = std::str::from_utf8(&file[at..nl]).unwrap().to_string();
            at = nl + 1;
            let done = line.starts_with("--- ");
            lines.push(line);
            if done {
                break;
            }
        }
        assert_eq!(lines[0], "age-encryption.org/v1");
        let mut stanzas = Vec::new();
        let mut i = 1;
        while let Some(rest) = lines[i].strip_prefix("-> ") {
            let mut words = rest.split(' ').map(String::from);
            let tag = words.next().unwrap();
            let args = words.collect();
            let mut body = String::new();
            loop {
                i += 1;
                assert!(lines[i].len() <= 64);
                body.push_str(&lines[i]);
                if lines[i].len() < 64 {
                    break;
                }
            }
            i += 1;
            stanzas.push(Stanza {
                tag,
                args,
                body: BASE64.decode(body).unwrap(),
            });
        }
        (stanzas, at)
    }

    #[test]
    fn every_chunk_is_sealed_once_under_its_own_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let key = EncryptKey::Recipients(vec![Box::new(id.to_public())]);
        let opts = WriterOptions {
            level: 1,
            threads: 2,
            created: (1_700_000_000, 0),
        };
        let mut w = ArchiveWriter::create(&dir.path().join("a.ocpvault.age"), opts, |f| {
            encrypting_sink(f, &key)
        })
        .unwrap();
        let big = noise(5 << 20, 7);
        // A committed large object, its duplicate and an uncommitted one (discarded):
        // three held and patched placeholder headers.
        for _ in 0..2 {
            let p = w.prepare_object(&mut &big[..]).unwrap();
            w.commit_object(p).unwrap();
        }
        drop(w.prepare_object(&mut &noise(2 << 20, 9)[..]).unwrap());
        let host = HostFacts {
            hostname: "h".into(),
            os_release: None,
            root: "/".into(),
        };
        let (path, _) = w.finish(host, Default::default()).unwrap();
        let file = std::fs::read(&path).unwrap();

        let (stanzas, header_len) = parse_header(&file);
        let file_key = age::Identity::unwrap_stanzas(&id, &stanzas)
            .expect("a stanza for this identity")
            .unwrap();
        let nonce: [u8; 16] = file[header_len..header_len + 16].try_into().unwrap();
        let aead = ChaCha20Poly1305::new(Key::from_slice(&payload_key(&file_key, &nonce)));
        let payload = &file[header_len + 16..];
        let on_disk = (CHUNK + TAG) as usize;
        let chunks: Vec<&[u8]> = payload.chunks(on_disk).collect();
        assert!(chunks.len() > 150, "{} chunks", chunks.len());
        let mut nonces = HashSet::new();
        let mut last_flags = 0;
        let mut plain = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            // Which nonce opens this chunk proves which one sealed it.
            let open = |last: bool| {
                let mut buf = c[..c.len() - 16].to_vec();
                let n = chunk_nonce(i as u64, last);
                aead.decrypt_in_place_detached(
                    Nonce::from_slice(&n),
                    &[],
                    &mut buf,
                    chacha20poly1305::Tag::from_slice(&c[c.len() - 16..]),
                )
                .ok()
                .map(|()| (n, buf))
            };
            let (n, buf) = match (open(false), open(true)) {
                (Some(x), None) => x,
                (None, Some(x)) => {
                    last_flags += 1;
                    assert_eq!(i, chunks.len() - 1, "last flag on chunk {i}");
                    x
                }
                other => panic!(
                    "chunk {i} opens with {} nonces",
                    other.0.is_some() as u8 + other.1.is_some() as u8
                ),
            };
            assert!(nonces.insert(n), "nonce of chunk {i} repeats");
            plain.extend_from_slice(&buf);
        }
        assert_eq!(last_flags, 1);
        // The same plaintext the age crate reads.
        let dec = age::Decryptor::new(&file[..]).unwrap();
        let mut r = dec
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap();
        let mut expect = Vec::new();
        r.read_to_end(&mut expect).unwrap();
        assert!(plain == expect);
        assert!(plain.windows(10).any(|w| w == b"discarded/"));
    }

    #[test]
    fn an_empty_payload_is_one_empty_final_chunk_and_patches_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let path = dir.path().join("e.age");
        let r = id.to_public();
        let sink = age_sink(File::create(&path).unwrap(), &[&r]).unwrap();
        sink.finish().unwrap();
        let dec = age::Decryptor::new(File::open(&path).unwrap()).unwrap();
        let mut out = Vec::new();
        dec.decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());

        // A patch needs a hold, and a hold cannot reach back into sealed chunks.
        let mut sink = age_sink(File::create(&path).unwrap(), &[&r]).unwrap();
        sink.write_all(&[1u8; 100]).unwrap();
        assert!(sink.patch(0, b"x").is_err());
        sink.hold(100, 10).unwrap();
        sink.write_all(&vec![2u8; 3 * CHUNK as usize]).unwrap();
        assert!(sink.hold(0, 1).is_err());
        sink.patch(100, b"0123456789").unwrap();
        assert!(
            sink.patch(100, b"again").is_err(),
            "a hold is released by its patch"
        );
        sink.finish().unwrap();
        let dec = age::Decryptor::new(File::open(&path).unwrap()).unwrap();
        let mut out = Vec::new();
        dec.decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 100 + 3 * CHUNK as usize);
        assert_eq!(&out[100..110], b"0123456789");
        assert!(out[..100].iter().all(|b| *b == 1));
    }

    #[test]
    fn a_payload_of_whole_chunks_ends_in_a_full_final_chunk_the_age_cli_reads() {
        use age::secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let path = dir.path().join("full.age");
        let r = id.to_public();
        let data = noise(2 * CHUNK as usize, 3);
        let mut sink = age_sink(File::create(&path).unwrap(), &[&r]).unwrap();
        sink.write_all(&data).unwrap();
        sink.finish().unwrap();
        let file = std::fs::read(&path).unwrap();
        let (_, header_len) = parse_header(&file);
        assert_eq!(
            file.len() as u64,
            header_len as u64 + PAYLOAD_NONCE + 2 * (CHUNK + TAG),
            "no empty chunk after full ones"
        );
        let dec = age::Decryptor::new(&file[..]).unwrap();
        let mut out = Vec::new();
        dec.decrypt(std::iter::once(&id as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data);
        let have_age = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("age").is_file()));
        if !have_age {
            eprintln!("skipped the age CLI check: age is not installed");
            return;
        }
        let key = dir.path().join("key.txt");
        std::fs::write(&key, id.to_string().expose_secret()).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&key)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == data);
    }
}
