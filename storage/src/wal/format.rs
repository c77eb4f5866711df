//! The on-disk format of WAL segment files, a contract between versions.
//!
//! A segment file is named `{first_lsn:020}.wal` and holds:
//!
//! ```text
//! header:  "VIGILWAL" (8 bytes) | format version u32 LE (= 1)
//! records: body_len u32 LE | crc32c(body) u32 LE | body
//! body:    lsn u64 LE | signal u8 | tenant_len u16 LE | tenant bytes | payload bytes
//! ```
//!
//! Records carry consecutive LSNs; the first record of a file has the LSN in its name.

use common::Signal;

/// Bytes every segment file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"VIGILWAL";
/// The format version this code writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Length of the file header: magic and version.
pub(crate) const HEADER_LEN: u64 = 12;
/// Length of a record's frame: body length and CRC.
pub(crate) const FRAME_LEN: usize = 8;
/// Length of a body without tenant and payload: lsn, signal and tenant length.
pub(crate) const MIN_BODY_LEN: usize = 8 + 1 + 2;
/// Larger bodies are refused on append and taken as corruption on replay.
pub(crate) const MAX_BODY_LEN: usize = 1 << 30;

/// The file header of a new segment.
pub(crate) fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// What a complete file header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// A header of this format version.
    Valid,
    /// Not our magic: a torn or zero-filled header.
    BadMagic,
    /// Our magic with a version this code does not know.
    UnknownVersion(u32),
}

/// Checks a complete file header.
pub(crate) fn check_header(h: &[u8; HEADER_LEN as usize]) -> Header {
    if &h[..8] != MAGIC {
        return Header::BadMagic;
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&h[8..]);
    match u32::from_le_bytes(v) {
        FORMAT_VERSION => Header::Valid,
        other => Header::UnknownVersion(other),
    }
}

/// The body length of a record.
pub(crate) fn body_len(tenant: &str, payload: &[u8]) -> usize {
    MIN_BODY_LEN + tenant.len() + payload.len()
}

/// The bytes a record takes in a file.
#[cfg(test)]
pub(crate) fn record_len(tenant: &str, payload: &[u8]) -> usize {
    FRAME_LEN + body_len(tenant, payload)
}

/// Appends one framed record to `buf`. The caller keeps `body_len` at most [`MAX_BODY_LEN`]
/// and the tenant at most `u16::MAX` bytes (tenant ids are at most 150).
pub(crate) fn encode_record(
    buf: &mut Vec<u8>,
    lsn: u64,
    signal: Signal,
    tenant: &str,
    payload: &[u8],
) {
    let len = body_len(tenant, payload);
    buf.reserve(FRAME_LEN + len);
    // Both casts are lossless under the caller's bounds stated above.
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    let crc_at = buf.len();
    buf.extend_from_slice(&[0u8; 4]);
    let body_at = buf.len();
    buf.extend_from_slice(&lsn.to_le_bytes());
    buf.push(signal.to_byte());
    buf.extend_from_slice(&(tenant.len() as u16).to_le_bytes());
    buf.extend_from_slice(tenant.as_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c(&buf[body_at..]);
    buf[crc_at..body_at].copy_from_slice(&crc.to_le_bytes());
}

/// A record's frame: the body length and its CRC.
pub(crate) fn decode_frame(frame: &[u8; FRAME_LEN]) -> (usize, u32) {
    let mut len = [0u8; 4];
    let mut crc = [0u8; 4];
    len.copy_from_slice(&frame[..4]);
    crc.copy_from_slice(&frame[4..]);
    (u32::from_le_bytes(len) as usize, u32::from_le_bytes(crc))
}

/// Whether a body length from a frame is possible at all.
pub(crate) fn plausible_body_len(len: usize) -> bool {
    (MIN_BODY_LEN..=MAX_BODY_LEN).contains(&len)
}

/// The fields of a body whose CRC already matched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Body<'a> {
    pub(crate) lsn: u64,
    pub(crate) signal: Signal,
    pub(crate) tenant: &'a [u8],
    pub(crate) payload: &'a [u8],
}

/// Splits a body into its fields; fails with what is wrong. Tenant validation is left to the
/// caller, which can reuse an equal tenant it already holds.
pub(crate) fn decode_body(body: &[u8]) -> Result<Body<'_>, &'static str> {
    if body.len() < MIN_BODY_LEN {
        return Err("record body too short");
    }
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&body[..8]);
    let signal = Signal::from_byte(body[8]).ok_or("unknown signal byte")?;
    let tenant_len = u16::from_le_bytes([body[9], body[10]]) as usize;
    let rest = &body[MIN_BODY_LEN..];
    if tenant_len > rest.len() {
        return Err("tenant length past the end of the record");
    }
    let (tenant, payload) = rest.split_at(tenant_len);
    Ok(Body {
        lsn: u64::from_le_bytes(lsn),
        signal,
        tenant,
        payload,
    })
}

/// Decodes the framed record at the start of `buf` and returns it with its length, or `None`
/// when `buf` does not start with a complete valid record.
#[cfg(test)]
pub(crate) fn decode_record(buf: &[u8]) -> Option<(Body<'_>, usize)> {
    let frame: &[u8; FRAME_LEN] = buf.get(..FRAME_LEN)?.try_into().ok()?;
    let (len, crc) = decode_frame(frame);
    if !plausible_body_len(len) {
        return None;
    }
    let body = buf.get(FRAME_LEN..FRAME_LEN + len)?;
    if crc32c::crc32c(body) != crc {
        return None;
    }
    Some((decode_body(body).ok()?, FRAME_LEN + len))
}

/// The file name of the segment whose first record has `first_lsn`.
pub(crate) fn file_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.wal")
}

/// The first LSN encoded in a segment file name, or `None` for other files.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
