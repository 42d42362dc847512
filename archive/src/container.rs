//! The tar container (spec §3): building and checking 512-byte ustar headers and the
//! fixed member names. Offsets are tracked by the writer; nothing here buffers data.

use super::ObjectId;

/// Tar block size.
pub const BLOCK: u64 = 512;
/// Name of member 0 (spec §2).
pub const MAGIC_MEMBER: &str = "OCPVAULT";
/// Prefix of the magic line.
pub const MAGIC_PREFIX: &str = "ocpvault-archive ";
/// Name of the compressed manifest member.
pub const MANIFEST_MEMBER: &str = "manifest.json.zst";
/// Name of the index member.
pub const INDEX_MEMBER: &str = "index.json.zst";
/// Name of the plain index member written before the index was compressed (spec §6).
pub const PLAIN_INDEX_MEMBER: &str = "index.json";
/// The first bytes of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Name of the last member.
pub const TRAILER_MEMBER: &str = "TRAILER";
/// Exact size of the trailer content (spec §7).
pub const TRAILER_LEN: usize = 126;
/// Bytes from the trailer header to the end of the stream (spec §7).
pub const TAIL_LEN: u64 = 4 * BLOCK;

/// The member name of an object.
pub fn object_member(id: &ObjectId) -> String {
    format!("objects/{}.zst", id.to_hex())
}

/// The member name of pack `n` (v2 §3).
pub fn pack_member(n: u64) -> String {
    format!("packs/{n:08}.zst")
}

/// The member name of entry chunk `n` (v2 §4).
pub fn entry_chunk_member(n: u64) -> String {
    format!("entries/{n:08}.json.zst")
}

/// The member name of object chunk `n` (v2 §5).
pub fn object_chunk_member(n: u64) -> String {
    format!("objects-index/{n:08}.json.zst")
}

/// The directory of discarded members (spec §3.3).
pub const DISCARDED_PREFIX: &str = "discarded/";

/// The member name of a discarded member whose data starts at `offset` (spec §3.3).
pub fn discarded_member(offset: u64) -> String {
    format!("{DISCARDED_PREFIX}{offset:016x}")
}

/// Builds a ustar header for a regular-file member (spec §3.1).
pub fn member_header(name: &str, size: u64, mtime: u64) -> [u8; 512] {
    // The writer's names are its own, ASCII and < 100 bytes.
    try_member_header(name, size, mtime).expect("member names are short ASCII")
}

/// Like [`member_header`], but None for a name no writer produces (too long, or not
/// representable in a ustar header): used on names read from an archive.
pub fn try_member_header(name: &str, size: u64, mtime: u64) -> Option<[u8; 512]> {
    if name.len() >= 100 || !name.is_ascii() {
        return None;
    }
    let mut h = tar::Header::new_ustar();
    h.set_path(name).ok()?;
    h.set_size(size);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_username("root").ok()?;
    h.set_groupname("root").ok()?;
    h.set_cksum();
    Some(*h.as_bytes())
}

/// Number of zero bytes that pad `len` bytes of data to a block boundary.
pub fn padding(len: u64) -> u64 {
    (BLOCK - len % BLOCK) % BLOCK
}

/// A parsed member header: name bytes, data size and type flag.
#[derive(Debug, Clone)]
pub struct MemberHeader {
    pub name: Vec<u8>,
    pub size: u64,
    pub typeflag: u8,
}

/// Parses and checks one header block. Returns `Ok(None)` for an all-zero block.
pub fn parse_header(block: &[u8; 512]) -> Result<Option<MemberHeader>, String> {
    if block.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let stored = parse_octal(&block[148..156]).ok_or("unreadable header checksum")?;
    let computed: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u64
            }
        })
        .sum();
    if stored != computed {
        return Err(format!(
            "header checksum mismatch (stored {stored}, computed {computed})"
        ));
    }
    let header = tar::Header::from_byte_slice(block);
    let size = header
        .entry_size()
        .map_err(|e| format!("bad size field: {e}"))?;
    let name = header.path_bytes().into_owned();
    Ok(Some(MemberHeader {
        name,
        size,
        typeflag: block[156],
    }))
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    u64::from_str_radix(text, 8).ok()
}

/// The trailer content (spec §7).
pub fn trailer_bytes(version: u32, offset: u64, length: u64, sha: &ObjectId) -> Vec<u8> {
    let text = format!("ocpvault-trailer {version} {offset:020} {length:020} {sha}\n");
    text.into_bytes()
}

/// A parsed trailer.
#[derive(Debug, PartialEq, Eq)]
pub struct Trailer {
    pub version: u32,
    pub index_offset: u64,
    pub index_length: u64,
    pub index_sha256: ObjectId,
}

/// Parses the trailer content.
pub fn parse_trailer(bytes: &[u8]) -> Result<Trailer, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "trailer is not ASCII")?;
    let text = text
        .strip_suffix('\n')
        .ok_or("trailer does not end in a newline")?;
    let parts: Vec<&str> = text.split(' ').collect();
    if parts.len() != 5 || parts[0] != "ocpvault-trailer" {
        return Err("trailer has the wrong shape".into());
    }
    let num = |s: &str, what: &str| -> Result<u64, String> {
        s.parse::<u64>()
            .map_err(|_| format!("trailer {what} is not a number"))
    };
    Ok(Trailer {
        version: num(parts[1], "version")? as u32,
        index_offset: num(parts[2], "index offset")?,
        index_length: num(parts[3], "index length")?,
        index_sha256: parts[4].parse().map_err(|e| format!("trailer: {e}"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_checksum_is_checked() {
        let mut block = member_header("objects/ab.zst", 1234, 1_700_000_000);
        let parsed = parse_header(&block).unwrap().unwrap();
        assert_eq!(parsed.name, b"objects/ab.zst");
        assert_eq!(parsed.size, 1234);
        assert_eq!(parsed.typeflag, b'0');
        block[0] ^= 1;
        assert!(parse_header(&block).unwrap_err().contains("checksum"));
        assert!(parse_header(&[0u8; 512]).unwrap().is_none());
    }

    #[test]
    fn trailer_round_trips() {
        let sha = ObjectId::of_bytes(b"index");
        let bytes = trailer_bytes(1, 1536, 77, &sha);
        assert_eq!(bytes.len(), TRAILER_LEN);
        let t = parse_trailer(&bytes).unwrap();
        assert_eq!(t.index_offset, 1536);
        assert_eq!(t.index_length, 77);
        assert_eq!(t.index_sha256, sha);
        assert!(parse_trailer(b"ocpvault-trailer 1 x y z\n").is_err());
    }

    #[test]
    fn padding_fills_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
