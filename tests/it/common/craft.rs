//! A generator of hand-made archives for the hostile-archive tests (issue #12).
//!
//! The container is assembled byte by byte from formats/archive-v1.md (§1 member order,
//! §3.1 headers, §4 objects, §5 manifest, §6 index, §7 trailer), never with
//! ocpvault's writer, so a test can say exactly what an attacker would put in a file:
//! entries are given as JSON, objects as bytes, and every hash, offset and length is
//! computed here so that the archive is consistent unless a test asks for a lie.
#![allow(dead_code)]

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Capture time of every crafted archive (whole seconds, also the tar mtime).
const MTIME: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Lowercase hex SHA-256.
pub fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A §3.1 member header: ustar, regular file, mode 0600, root:root.
fn header(name: &str, size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).expect("member name");
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(MTIME);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root").expect("uname");
    h.set_groupname("root").expect("gname");
    h.set_cksum();
    *h.as_bytes()
}

/// Appends one member (header, data, zero padding); returns its data offset (§3.2).
fn push_member(out: &mut Vec<u8>, name: &str, data: &[u8]) -> u64 {
    out.extend_from_slice(&header(name, data.len() as u64));
    let offset = out.len() as u64;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    offset
}

/// One object member as it will be stored.
#[derive(Clone)]
pub struct CraftedObject {
    /// The id written in the member name and the index.
    pub id: String,
    /// The member data exactly as stored (zstd frames).
    pub stored: Vec<u8>,
    /// The uncompressed size written in the index.
    pub size: u64,
}

impl CraftedObject {
    /// An honest object: `content` compressed, its true id and size.
    pub fn honest(content: &[u8]) -> Self {
        CraftedObject {
            id: sha_hex(content),
            stored: zstd::bulk::compress(content, 3).expect("zstd"),
            size: content.len() as u64,
        }
    }

    /// An object tampered after hashing: named and sized as `claimed`, but holding
    /// `actual` (of the same length), with a consistent `stored_sha256`.
    pub fn tampered(claimed: &[u8], actual: &[u8]) -> Self {
        CraftedObject {
            id: sha_hex(claimed),
            stored: zstd::bulk::compress(actual, 3).expect("zstd"),
            size: claimed.len() as u64,
        }
    }

    /// A decompression bomb: a few KiB of zstd frames that expand to `frames` times
    /// 8 MiB of zero bytes, named as the SHA-256 of `claimed_size` zero bytes and sized
    /// `claimed_size` in the index (the lie), so nothing at open can tell.
    pub fn bomb(frames: usize, claimed_size: u64) -> Self {
        let frame = zstd::bulk::compress(&vec![0u8; 8 << 20], 19).expect("zstd");
        CraftedObject {
            id: sha_hex(&vec![0u8; claimed_size as usize]),
            stored: frame.repeat(frames),
            size: claimed_size,
        }
    }

    /// Overrides the uncompressed size written in the index.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }
}

/// An edit of the index JSON.
type IndexTweak = Box<dyn Fn(&mut Value)>;

/// Builds one archive. Entries are sorted by path bytes and objects deduplicated unless
/// the test says otherwise.
#[derive(Default)]
pub struct ArchiveBuilder {
    entries: Vec<Value>,
    objects: Vec<CraftedObject>,
    sort: bool,
    manifest_extra: Vec<(String, Value)>,
    /// Raw manifest JSON replacing the generated one.
    manifest_json: Option<Vec<u8>>,
    /// Raw compressed manifest member data and the size the index declares for it.
    manifest_stored: Option<(Vec<u8>, u64)>,
    index_tweak: Option<IndexTweak>,
}

impl ArchiveBuilder {
    pub fn new() -> Self {
        ArchiveBuilder {
            sort: true,
            ..Default::default()
        }
    }

    /// Adds an entry as given (see the `*_entry` helpers).
    pub fn entry(mut self, e: Value) -> Self {
        self.entries.push(e);
        self
    }

    /// Adds an honest object for `content` (once per id).
    pub fn object(self, content: &[u8]) -> Self {
        self.crafted_object(CraftedObject::honest(content))
    }

    /// Adds a crafted object (once per id; a later one with the same id is dropped).
    pub fn crafted_object(mut self, o: CraftedObject) -> Self {
        if !self.objects.iter().any(|x| x.id == o.id) {
            self.objects.push(o);
        }
        self
    }

    /// A file entry and its honest object.
    pub fn file(self, path: &str, content: &[u8]) -> Self {
        self.entry(file_entry(path, content)).object(content)
    }

    pub fn dir(self, path: &str) -> Self {
        self.entry(dir_entry(path))
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(symlink_entry(path, target))
    }

    /// Keeps the entries in the order given (spec §5.2 forbids this).
    pub fn unsorted(mut self) -> Self {
        self.sort = false;
        self
    }

    /// Sets a top-level manifest field (e.g. `options`).
    pub fn manifest_field(mut self, key: &str, v: Value) -> Self {
        self.manifest_extra.push((key.into(), v));
        self
    }

    /// Uses these bytes as the (uncompressed) manifest, hashed honestly.
    pub fn raw_manifest(mut self, json: Vec<u8>) -> Self {
        self.manifest_json = Some(json);
        self
    }

    /// Stores these bytes as the manifest member and declares `size` uncompressed
    /// bytes in the index; the index's manifest sha256 is then of nothing real.
    pub fn stored_manifest(mut self, stored: Vec<u8>, size: u64) -> Self {
        self.manifest_stored = Some((stored, size));
        self
    }

    /// Edits the index JSON before it is hashed into the trailer.
    pub fn tweak_index(mut self, f: impl Fn(&mut Value) + 'static) -> Self {
        self.index_tweak = Some(Box::new(f));
        self
    }

    /// The manifest JSON the builder would write.
    pub fn manifest_bytes(&self) -> Vec<u8> {
        if let Some(m) = &self.manifest_json {
            return m.clone();
        }
        let mut entries = self.entries.clone();
        if self.sort {
            entries.sort_by_key(path_bytes);
        }
        let mut manifest = json!({
            "format": "ocpvault-manifest", "version": 1, "ocpvault_version": "0.0.0",
            "created": "2026-01-01T00:00:00.000000000Z",
            "host": {"hostname": "evil", "os_release": null, "root": "/"},
            "options": {"compression_level": 3},
            "sources": [], "entries": entries
        });
        for (k, v) in &self.manifest_extra {
            manifest[k] = v.clone();
        }
        serde_json::to_vec(&manifest).expect("manifest json")
    }

    /// The whole archive as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        push_member(&mut out, "OCPVAULT", b"ocpvault-archive 1\n");
        let mut objects = Vec::new();
        for o in &self.objects {
            let offset = push_member(&mut out, &format!("objects/{}.zst", o.id), &o.stored);
            objects.push(json!({
                "id": o.id, "offset": offset, "length": o.stored.len(), "size": o.size,
                "stored_sha256": sha_hex(&o.stored)
            }));
        }
        let (mstored, msize, msha) = match &self.manifest_stored {
            Some((stored, size)) => (stored.clone(), *size, sha_hex(b"")),
            None => {
                let m = self.manifest_bytes();
                let z = zstd::bulk::compress(&m, 3).expect("zstd");
                (z, m.len() as u64, sha_hex(&m))
            }
        };
        let moff = push_member(&mut out, "manifest.json.zst", &mstored);
        let mut index = json!({
            "format": "ocpvault-index", "version": 1,
            "manifest": {"offset": moff, "length": mstored.len(), "size": msize,
                         "sha256": msha, "stored_sha256": sha_hex(&mstored)},
            "objects": objects
        });
        if let Some(t) = &self.index_tweak {
            t(&mut index);
        }
        let ijson = serde_json::to_vec(&index).expect("index json");
        let iz = zstd::bulk::compress(&ijson, 3).expect("zstd");
        let ioff = push_member(&mut out, "index.json.zst", &iz);
        let trailer = format!(
            "ocpvault-trailer 1 {ioff:020} {:020} {}\n",
            iz.len(),
            sha_hex(&iz)
        );
        assert_eq!(trailer.len(), 126);
        push_member(&mut out, "TRAILER", trailer.as_bytes());
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    /// Writes the archive to `dir/name` and returns its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, self.bytes()).expect("write archive");
        p
    }
}

fn path_bytes(e: &Value) -> Vec<u8> {
    e["path"].as_str().unwrap_or_default().as_bytes().to_vec()
}

/// Fields every entry has, with owner root and a fixed mtime.
fn base(path: &str, kind: &str, mode: &str) -> Value {
    json!({"path": path, "type": kind, "source": "files", "mode": mode, "uid": 0, "gid": 0,
           "user": "root", "group": "root", "mtime": "2026-01-01T00:00:00.000000000Z",
           "size": 0, "xattrs": []})
}

pub fn file_entry(path: &str, content: &[u8]) -> Value {
    let mut e = base(path, "file", "0644");
    e["size"] = json!(content.len());
    e["object"] = json!(sha_hex(content));
    e
}

pub fn dir_entry(path: &str) -> Value {
    base(path, "dir", "0755")
}

pub fn symlink_entry(path: &str, target: &str) -> Value {
    let mut e = base(path, "symlink", "0777");
    e["target"] = json!(target);
    e
}

/// A hard link to `link` whose content has `size` bytes.
pub fn hardlink_entry(path: &str, link: &str, size: u64) -> Value {
    let mut e = base(path, "hardlink", "0644");
    e["link"] = json!(link);
    e["size"] = json!(size);
    e
}

pub fn special_entry(path: &str, kind: &str, major: u32, minor: u32) -> Value {
    let mut e = base(path, kind, "0600");
    e["rdev"] = json!({"major": major, "minor": minor});
    e
}

/// Returns `e` with `key` set to `v`.
pub fn with(mut e: Value, key: &str, v: Value) -> Value {
    e[key] = v;
    e
}

/// An xattr list item (value base64-encoded).
pub fn xattr(name: &str, value: &[u8]) -> Value {
    use base64_engine::encode;
    json!({"name": name, "value": encode(value)})
}

/// A tiny standard base64 encoder (with padding), so the tests need no base64 crate.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// A manifest whose `entries` array holds `count` copies of one compact entry,
/// compressed as concatenated zstd frames (one frame reused), so a multi-GiB manifest
/// costs a few KiB to build. Returns (stored bytes, uncompressed size).
pub fn huge_manifest(count: u64) -> (Vec<u8>, u64) {
    let head = br#"{"format":"ocpvault-manifest","version":1,"ocpvault_version":"0.0.0","created":"2026-01-01T00:00:00.000000000Z","host":{"hostname":"evil","os_release":null,"root":"/"},"sources":[],"entries":["#;
    let one: &[u8] = br#"{"path":"/a","type":"dir","source":"files","mode":"0755","uid":0,"gid":0,"user":null,"group":null,"mtime":"2026-01-01T00:00:00Z"},"#;
    let per_frame: u64 = 65536;
    let chunk = one.repeat(per_frame as usize);
    let frame = zstd::bulk::compress(&chunk, 3).expect("zstd");
    let mut stored = zstd::bulk::compress(head, 3).expect("zstd");
    let mut size = head.len() as u64;
    let full = count.saturating_sub(1) / per_frame;
    for _ in 0..full {
        stored.extend_from_slice(&frame);
        size += chunk.len() as u64;
    }
    let rest = count - 1 - full * per_frame;
    let mut tail = one.repeat(rest as usize);
    tail.extend_from_slice(&one[..one.len() - 1]);
    tail.extend_from_slice(b"]}");
    size += tail.len() as u64;
    stored.extend_from_slice(&zstd::bulk::compress(&tail, 3).expect("zstd"));
    (stored, size)
}

/// The manifest of `b` with `options` holding `depth` nested JSON arrays, built as
/// text (a `Value` that deep would overflow the test's own stack).
pub fn deeply_nested_manifest(b: &ArchiveBuilder, depth: usize) -> Vec<u8> {
    let text = String::from_utf8(b.manifest_bytes()).expect("utf-8 manifest");
    let deep = format!(
        r#""options":{{"x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let out = text.replacen(r#""options":{"compression_level":3}"#, &deep, 1);
    assert_ne!(out, text, "options field not found");
    out.into_bytes()
}
