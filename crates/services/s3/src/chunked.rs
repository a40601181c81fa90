//! The `aws-chunked` content encoding: SDKs stream uploads as `<hex size>[;chunk-signature=…]\r\n
//! <bytes>\r\n` chunks ending in a zero-size chunk, optionally followed by trailing headers
//! (`x-amz-checksum-crc32:…`, `x-amz-trailer-signature:…`). This decodes every variant
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, the
//! ECDSA ones); signatures are not verified, like every other signature on this endpoint.

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

/// Decodes a whole `aws-chunked` body; `limit` caps the decoded size (the caller reports
/// what is too large).
pub fn decode(body: &[u8], limit: usize) -> Result<Decoded, Malformed> {
    let mut out = Decoded::default();
    let mut pos = 0;
    loop {
        let line = read_line(body, &mut pos).ok_or(Malformed)?;
        let size_hex = line.split(|b| *b == b';').next().unwrap_or_default();
        let size_hex = std::str::from_utf8(size_hex).map_err(|_| Malformed)?.trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| Malformed)?;
        if size == 0 {
            break;
        }
        let end = pos.checked_add(size).ok_or(Malformed)?;
        let chunk = body.get(pos..end).ok_or(Malformed)?;
        if out.data.len() + size > limit {
            // Keep counting, but stop copying: the caller only needs the size.
            out.data.resize(limit + 1, 0);
        } else {
            out.data.extend_from_slice(chunk);
        }
        pos = end;
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return Err(Malformed);
        }
        pos += 2;
    }
    // Trailing headers until an empty line or the end of the body.
    while pos < body.len() {
        let line = read_line(body, &mut pos).unwrap_or_else(|| {
            let rest = &body[pos..];
            pos = body.len();
            rest
        });
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).map_err(|_| Malformed)?;
        let (name, value) = line.split_once(':').ok_or(Malformed)?;
        out.trailers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(out)
}

/// The bytes up to the next CRLF (excluded); moves `pos` past the CRLF.
fn read_line<'a>(body: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = body.get(*pos..)?;
    let n = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += n + 2;
    Some(&rest[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_signed_chunks() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=000\r\n\r\n";
        let d = decode(body, 100).unwrap();
        assert_eq!(d.data, b"hello world");
        assert!(d.trailers.is_empty());
    }

    #[test]
    fn decodes_unsigned_trailer_variant() {
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let d = decode(body, 100).unwrap();
        assert_eq!(d.data, b"hello world");
        assert_eq!(
            d.trailers,
            vec![("x-amz-checksum-crc32".to_owned(), "DUoRhQ==".to_owned())]
        );
        // A signed trailer, without the final empty line.
        let body =
            b"0;chunk-signature=x\r\nx-amz-checksum-sha256:abc\r\nx-amz-trailer-signature:f00";
        let d = decode(body, 100).unwrap();
        assert!(d.data.is_empty());
        assert_eq!(d.trailers.len(), 2);
        assert_eq!(d.trailers[1].0, "x-amz-trailer-signature");
    }

    #[test]
    fn rejects_truncated_and_garbled_bodies() {
        assert_eq!(decode(b"5\r\nhel", 100), Err(Malformed));
        assert_eq!(decode(b"zz\r\nhello\r\n", 100), Err(Malformed));
        assert_eq!(decode(b"5\r\nhelloXX0\r\n\r\n", 100), Err(Malformed));
        assert_eq!(decode(b"", 100), Err(Malformed));
        assert_eq!(decode(b"ffffffffffffffff\r\nx", 100), Err(Malformed));
    }

    #[test]
    fn caps_what_it_copies() {
        let d = decode(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 7).unwrap();
        assert_eq!(d.data.len(), 8);
    }

    #[test]
    fn recognises_chunked_requests() {
        assert!(is_chunked(Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), None));
        assert!(is_chunked(None, Some("gzip, aws-chunked")));
        assert!(!is_chunked(Some("UNSIGNED-PAYLOAD"), Some("gzip")));
    }
}
