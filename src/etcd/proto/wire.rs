//! The protobuf wire format, read: a message is a run of (tag, value) with
//! tag = field number << 3 | wire type; 0 varint, 1 fixed 64-bit, 2 length-delimited,
//! 5 fixed 32-bit (groups, 3 and 4, are not used by the API types).

use crate::etcd::mvcc::read_varint;

/// One value on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl Wire<'_> {
    /// The wire type's name, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Varint(_) => "varint",
            Self::Fixed64(_) => "fixed64",
            Self::Fixed32(_) => "fixed32",
            Self::Bytes(_) => "length-delimited",
        }
    }
}

/// The fields of a message, in wire order; an error says where the message is cut
/// short or malformed.
pub fn fields(b: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let start = at;
        let tag = read_varint(b, &mut at).map_err(|e| format!("at byte {start}: {e}"))?;
        let number = u32::try_from(tag >> 3)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("at byte {start}: invalid field number {}", tag >> 3))?;
        let value = match tag & 7 {
            0 => Wire::Varint(read_varint(b, &mut at).map_err(|e| format!("field {number}: {e}"))?),
            1 => Wire::Fixed64(u64::from_le_bytes(take::<8>(b, &mut at, number)?)),
            5 => Wire::Fixed32(u32::from_le_bytes(take::<4>(b, &mut at, number)?)),
            2 => {
                let len = read_varint(b, &mut at).map_err(|e| format!("field {number}: {e}"))?;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| at.checked_add(l))
                    .filter(|e| *e <= b.len())
                    .ok_or_else(|| {
                        format!(
                            "field {number}: a length of {len} runs past the end ({} bytes left)",
                            b.len() - at
                        )
                    })?;
                let v = Wire::Bytes(&b[at..end]);
                at = end;
                v
            }
            w => return Err(format!("field {number}: unsupported wire type {w}")),
        };
        out.push((number, value));
    }
    Ok(out)
}

fn take<const N: usize>(b: &[u8], at: &mut usize, number: u32) -> Result<[u8; N], String> {
    let bytes = b
        .get(*at..*at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| format!("field {number}: fixed value runs past the end"))?;
    *at += N;
    Ok(bytes)
}

/// The varints of a packed repeated field.
pub fn packed_varints(b: &[u8]) -> Result<Vec<u64>, String> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        out.push(read_varint(b, &mut at)?);
    }
    Ok(out)
}
