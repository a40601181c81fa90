//! The `aws-chunked` content encoding: SDKs stream uploads as `<hex size>[;chunk-signature=…]\r\n
//! <bytes>\r\n` chunks ending in a zero-size chunk, optionally followed by trailing headers
//! (`x-amz-checksum-crc32:…`, `x-amz-trailer-signature:…`). This decodes every variant
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, the
//! ECDSA ones); the gateway has verified the chunk signatures where `--auth verify` asks.

/// A decoded body and its trailing headers (names lowercased).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub data: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

/// The body ended early or is not in the chunked framing.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// Whether a request's body is `aws-chunked` encoded.
pub fn is_chunked(content_sha256: Option<&str>, content_encoding: Option<&str>) -> bool {
    content_sha256.is_some_and(|v| v.starts_with("STREAMING-"))
        || content_encoding.is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().eq_ignore_ascii_case("aws-chunked"))
        })
}

/// Decodes a whole `aws-chunked` body with the gateway's decoder (`tributary_sigv4`, which
/// verified the chunk signatures already where it checks signatures). The decoded data is
/// never larger than the body, which the gateway bounds.
pub fn decode(body: &[u8]) -> Result<Decoded, Malformed> {
    let d = tributary_sigv4::decode_chunked(body, None).map_err(|_| Malformed)?;
    Ok(Decoded {
        data: d.data,
        trailers: d.trailers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_signed_chunks() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=000\r\n\r\n";
        let d = decode(body).unwrap();
        assert_eq!(d.data, b"hello world");
        assert!(d.trailers.is_empty());
    }

    #[test]
    fn decodes_unsigned_trailer_variant() {
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let d = decode(body).unwrap();
        assert_eq!(d.data, b"hello world");
        assert_eq!(
            d.trailers,
            vec![("x-amz-checksum-crc32".to_owned(), "DUoRhQ==".to_owned())]
        );
        // A signed trailer, without the final empty line.
        let body =
            b"0;chunk-signature=x\r\nx-amz-checksum-sha256:abc\r\nx-amz-trailer-signature:f00";
        let d = decode(body).unwrap();
        assert!(d.data.is_empty());
        assert_eq!(d.trailers.len(), 2);
        assert_eq!(d.trailers[1].0, "x-amz-trailer-signature");
    }

    #[test]
    fn rejects_truncated_and_garbled_bodies() {
        assert_eq!(decode(b"5\r\nhel"), Err(Malformed));
        assert_eq!(decode(b"zz\r\nhello\r\n"), Err(Malformed));
        assert_eq!(decode(b"5\r\nhelloXX0\r\n\r\n"), Err(Malformed));
        assert_eq!(decode(b""), Err(Malformed));
        assert_eq!(decode(b"ffffffffffffffff\r\nx"), Err(Malformed));
    }

    #[test]
    fn recognises_chunked_requests() {
        assert!(is_chunked(Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), None));
        assert!(is_chunked(None, Some("gzip, aws-chunked")));
        assert!(!is_chunked(Some("UNSIGNED-PAYLOAD"), Some("gzip")));
    }
}
