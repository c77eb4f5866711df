//! Reading OTLP/HTTP request bodies under a size limit that holds both for the bytes as sent and
//! for the bytes once gunzipped, so that neither a huge upload nor a gzip bomb can exhaust memory.

use std::io::Read;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use futures::StreamExt;
use http::HeaderMap;

use crate::error::{Error, Result};

/// The `Content-Encoding` of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentEncoding {
    /// Not compressed.
    Identity,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
}

impl ContentEncoding {
    /// Reads `Content-Encoding`; anything but `gzip` or `identity` is refused with 415.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self> {
        let Some(value) = headers.get(http::header::CONTENT_ENCODING) else {
            return Ok(ContentEncoding::Identity);
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text.eq_ignore_ascii_case("gzip") || text.eq_ignore_ascii_case("x-gzip") {
            Ok(ContentEncoding::Gzip)
        } else if text.is_empty() || text.eq_ignore_ascii_case("identity") {
            Ok(ContentEncoding::Identity)
        } else {
            Err(Error::UnsupportedMediaType {
                what: "content encoding",
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
        }
    }
}

/// Reads the whole body, decompressing it if needed. Fails with [`Error::TooLarge`] as soon as
/// more than `limit` bytes arrive or come out of the decompressor, and with
/// [`Error::InvalidArgument`] when the gzip stream is corrupt.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    encoding: ContentEncoding,
    limit: usize,
) -> Result<Bytes> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::TooLarge { limit });
    }
    let wire = read_limited(body, limit, declared.unwrap_or(0) as usize).await?;
    match encoding {
        ContentEncoding::Identity => Ok(wire),
        ContentEncoding::Gzip => tokio::task::spawn_blocking(move || gunzip(&wire, limit))
            .await
            .map_err(|e| Error::Internal(format!("gunzip task failed: {e}")))?,
    }
}

async fn read_limited(body: Body, limit: usize, size_hint: usize) -> Result<Bytes> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::with_capacity(size_hint.min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| Error::InvalidArgument(format!("failed to read request body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(Error::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Decompresses `compressed`, stopping as soon as the output passes `limit` bytes.
pub(crate) fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let mut decoder = MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| Error::InvalidArgument(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn content_encoding_is_parsed() {
        let ce = |v: &str| ContentEncoding::from_headers(&headers(&[("content-encoding", v)]));
        assert_eq!(
            ContentEncoding::from_headers(&HeaderMap::new()).unwrap(),
            ContentEncoding::Identity
        );
        assert_eq!(ce("gzip").unwrap(), ContentEncoding::Gzip);
        assert_eq!(ce("GZIP").unwrap(), ContentEncoding::Gzip);
        assert_eq!(ce("identity").unwrap(), ContentEncoding::Identity);
        let err = ce("zstd").unwrap_err();
        assert_eq!(err.http_status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(err.to_string().contains("zstd"), "{err}");
    }

    #[test]
    fn gunzip_round_trips_and_limits() {
        let data = b"hello otlp".repeat(100);
        assert_eq!(
            gunzip(&gzip(&data), data.len()).unwrap(),
            Bytes::from(data.clone())
        );
        assert!(matches!(
            gunzip(&gzip(&data), data.len() - 1),
            Err(Error::TooLarge { .. })
        ));
        let err = gunzip(b"definitely not gzip", 1000).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        // 64 members of 2 MiB of zeros: 128 MiB once inflated, a few hundred KiB compressed.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![0u8; 2 << 20]).unwrap();
        let bomb = e.finish().unwrap().repeat(64);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let err = gunzip(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit } if limit == 1 << 20));
    }

    #[tokio::test]
    async fn wire_limit_applies_with_and_without_content_length() {
        let body = Body::from(vec![1u8; 100]);
        let err = read_body(&HeaderMap::new(), body, ContentEncoding::Identity, 99)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 99 }));

        let declared = headers(&[("content-length", "1000000")]);
        let err = read_body(&declared, Body::empty(), ContentEncoding::Identity, 99)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }));

        let ok = read_body(
            &HeaderMap::new(),
            Body::from(vec![1u8; 99]),
            ContentEncoding::Identity,
            99,
        )
        .await
        .unwrap();
        assert_eq!(ok.len(), 99);
    }

    #[tokio::test]
    async fn gzip_body_is_inflated() {
        let data = b"abc".repeat(100);
        let compressed = gzip(&data);
        assert!(compressed.len() < 100);
        let out = read_body(
            &HeaderMap::new(),
            Body::from(compressed.clone()),
            ContentEncoding::Gzip,
            300,
        )
        .await
        .unwrap();
        assert_eq!(out, Bytes::from(data));
        // The limit holds for the inflated size too.
        let err = read_body(
            &HeaderMap::new(),
            Body::from(compressed),
            ContentEncoding::Gzip,
            299,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 299 }));
    }
}
