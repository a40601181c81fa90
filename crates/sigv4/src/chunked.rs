//! `aws-chunked` bodies (`x-amz-content-sha256: STREAMING-...`): each chunk's signature is
//! an HMAC over the previous signature and the chunk's hash, chained from the request's
//! (seed) signature, so chunks can be neither changed, dropped nor reordered; the trailer
//! signature chains from the final, empty chunk's.

use crate::canonical::{hmac, scope, sha256_hex, signatures_match, signing_key};
use crate::error::AuthError;
use crate::{Authorization, PayloadHash, Streaming};

/// The SHA-256 of nothing, which every chunk string to sign carries.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Checks the chunk signatures of one request, in order. Build it after [`crate::verify`]
/// accepted the request, so the seed signature is known good.
#[derive(Clone)]
pub struct ChunkVerifier {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
    trailer_required: bool,
}

impl std::fmt::Debug for ChunkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signing key stays out of logs.
        f.debug_struct("ChunkVerifier")
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChunkVerifier {
    /// A verifier chained from the request's signature, with the secret of its access key.
    pub fn new(auth: &Authorization, secret: &str) -> ChunkVerifier {
        ChunkVerifier {
            key: signing_key(secret, &auth.date, &auth.region, &auth.service),
            amz_date: auth.amz_date.clone(),
            scope: scope(&auth.date, &auth.region, &auth.service),
            previous: auth.signature.clone(),
            trailer_required: auth.payload == PayloadHash::Streaming(Streaming::SignedWithTrailer),
        }
    }

    fn chained(&self, algorithm: &str, hash: &str) -> [u8; 32] {
        let string_to_sign = format!(
            "{algorithm}\n{}\n{}\n{}\n{hash}",
            self.amz_date, self.scope, self.previous
        );
        hmac(&self.key, string_to_sign.as_bytes())
    }

    /// The signature the next chunk must carry.
    fn chunk_signature(&self, data: &[u8]) -> [u8; 32] {
        let hash = format!("{EMPTY_SHA256}\n{}", sha256_hex(data));
        self.chained("AWS4-HMAC-SHA256-PAYLOAD", &hash)
    }

    /// The signature the trailer must carry: over `name:value\n` of each trailing header
    /// (lowercased, trimmed, sorted by name), `x-amz-trailer-signature` excluded.
    fn trailer_signature(&self, trailers: &[(&str, &str)]) -> [u8; 32] {
        let mut lines: Vec<(String, &str)> = trailers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-trailer-signature"))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim()))
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canonical = String::new();
        for (n, v) in lines {
            canonical.push_str(&n);
            canonical.push(':');
            canonical.push_str(v);
            canonical.push('\n');
        }
        self.chained(
            "AWS4-HMAC-SHA256-TRAILER",
            &sha256_hex(canonical.as_bytes()),
        )
    }

    /// Checks the next chunk (the final one has empty `data`) and its `chunk-signature`.
    pub fn verify_chunk(&mut self, data: &[u8], signature: &str) -> Result<(), AuthError> {
        if !signatures_match(&self.chunk_signature(data), signature) {
            return Err(AuthError::ChunkSignatureMismatch);
        }
        self.previous = signature.to_owned();
        Ok(())
    }

    /// Checks the trailing headers against `x-amz-trailer-signature`, after the final chunk.
    pub fn verify_trailer(
        &mut self,
        trailers: &[(&str, &str)],
        signature: &str,
    ) -> Result<(), AuthError> {
        if !signatures_match(&self.trailer_signature(trailers), signature) {
            return Err(AuthError::ChunkSignatureMismatch);
        }
        self.previous = signature.to_owned();
        Ok(())
    }
}

/// A decoded `aws-chunked` body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecodedBody {
    /// The payload, chunks concatenated.
    pub data: Vec<u8>,
    /// The trailing headers (names lowercased), `x-amz-trailer-signature` included.
    pub trailers: Vec<(String, String)>,
}

/// Decodes a whole `aws-chunked` body (`<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`
/// ... a zero-size chunk, then optional `name:value` trailer lines), checking each chunk's
/// signature and the trailer's with `verifier` when given (signed streaming payloads;
/// pass `None` for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
pub fn decode_chunked(
    body: &[u8],
    mut verifier: Option<&mut ChunkVerifier>,
) -> Result<DecodedBody, AuthError> {
    let mut out = DecodedBody::default();
    let mut pos = 0;
    loop {
        let line = read_line(body, &mut pos).ok_or(AuthError::MalformedChunkedBody)?;
        let line = std::str::from_utf8(line).map_err(|_| AuthError::MalformedChunkedBody)?;
        let mut fields = line.split(';');
        let size_hex = fields.next().unwrap_or_default().trim();
        let signature = fields.find_map(|f| f.trim().strip_prefix("chunk-signature="));
        if size_hex.is_empty() || size_hex.len() > 16 {
            return Err(AuthError::MalformedChunkedBody);
        }
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| AuthError::MalformedChunkedBody)?;
        let end = pos
            .checked_add(size)
            .ok_or(AuthError::MalformedChunkedBody)?;
        let data = body.get(pos..end).ok_or(AuthError::MalformedChunkedBody)?;
        if let Some(v) = verifier.as_deref_mut() {
            v.verify_chunk(data, signature.ok_or(AuthError::ChunkSignatureMismatch)?)?;
        }
        if size == 0 {
            break;
        }
        out.data.extend_from_slice(data);
        pos = end;
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return Err(AuthError::MalformedChunkedBody);
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
        let line = std::str::from_utf8(line).map_err(|_| AuthError::MalformedChunkedBody)?;
        let (name, value) = line
            .split_once(':')
            .ok_or(AuthError::MalformedChunkedBody)?;
        out.trailers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if let Some(v) = verifier {
        let signature = out
            .trailers
            .iter()
            .find(|(n, _)| n == "x-amz-trailer-signature")
            .map(|(_, s)| s.as_str());
        match signature {
            Some(sig) => {
                let trailers: Vec<(&str, &str)> = out
                    .trailers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                v.verify_trailer(&trailers, sig)?;
            }
            // Signed chunks with trailers the signature does not cover: refused, since a
            // checksum trailer could otherwise be swapped.
            None if v.trailer_required || !out.trailers.is_empty() => {
                return Err(AuthError::ChunkSignatureMismatch)
            }
            None => {}
        }
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
    use crate::{parse, verify, RequestParts, Signed};
    use std::time::{Duration, UNIX_EPOCH};

    // The example of the S3 docs, "Signature Calculations for the Authorization Header:
    // Transferring Payload in Multiple Chunks": a 66560-byte object of 'a' sent as a 64 KiB
    // chunk, a 1 KiB chunk and the final empty one. The trailer signature is the CRT's
    // (aws-crt-swift ChunkSignerTests) for trailers first/second/third after that final
    // chunk.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const CHUNK_1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    const CHUNK_2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    const FINAL: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
    const TRAILER: &str = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c";

    const HEADERS: [(&str, &str); 8] = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ];

    fn example() -> (RequestParts<'static>, Authorization) {
        let parts = RequestParts {
            method: "PUT",
            path: "/examplebucket/chunkObject.txt",
            query: "",
            headers: &HEADERS,
        };
        let Ok(Some(Signed::V4(auth))) = parse(&parts) else {
            panic!("the example parses")
        };
        (parts, auth)
    }

    fn body(signatures: [&str; 3], tamper: bool) -> Vec<u8> {
        let mut b = Vec::new();
        for (size, sig) in [
            (65536, signatures[0]),
            (1024, signatures[1]),
            (0, signatures[2]),
        ] {
            b.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
            b.extend(std::iter::repeat_n(b'a', size));
            b.extend_from_slice(b"\r\n");
        }
        if tamper {
            b[66_000] = b'b';
        }
        b
    }

    #[test]
    fn the_documented_seed_signature_verifies() {
        let (parts, auth) = example();
        assert_eq!(auth.payload, PayloadHash::Streaming(Streaming::Signed));
        let now = UNIX_EPOCH + Duration::from_secs(auth.time + 60);
        verify(&parts, &auth, SECRET, || unreachable!("not hashed"), now).unwrap();
        assert_eq!(auth.signature, SEED);
    }

    #[test]
    fn reproduces_the_documented_chunk_signatures() {
        let (_, auth) = example();
        let mut v = ChunkVerifier::new(&auth, SECRET);
        assert_eq!(hex::encode(v.chunk_signature(&[b'a'; 65536])), CHUNK_1);
        v.verify_chunk(&[b'a'; 65536], CHUNK_1).unwrap();
        assert_eq!(hex::encode(v.chunk_signature(&[b'a'; 1024])), CHUNK_2);
        v.verify_chunk(&[b'a'; 1024], CHUNK_2).unwrap();
        assert_eq!(hex::encode(v.chunk_signature(b"")), FINAL);
        v.verify_chunk(b"", FINAL).unwrap();
        let trailers = [("first", "1st"), ("second", "2nd"), ("third", "3rd")];
        assert_eq!(hex::encode(v.trailer_signature(&trailers)), TRAILER);
        // Order and case of the trailer names do not matter; the signature line is ignored.
        let shuffled = [
            ("Third", "3rd"),
            ("x-amz-trailer-signature", TRAILER),
            ("first", " 1st"),
            ("second", "2nd"),
        ];
        v.verify_trailer(&shuffled, TRAILER).unwrap();
    }

    #[test]
    fn decodes_and_verifies_the_documented_body() {
        let (_, auth) = example();
        let mut v = ChunkVerifier::new(&auth, SECRET);
        let decoded =
            decode_chunked(&body([CHUNK_1, CHUNK_2, FINAL], false), Some(&mut v)).unwrap();
        assert_eq!(decoded.data, vec![b'a'; 66560]);
        assert!(decoded.trailers.is_empty());
    }

    #[test]
    fn refuses_changed_reordered_or_unsigned_chunks() {
        let (_, auth) = example();
        let check = |b: &[u8]| decode_chunked(b, Some(&mut ChunkVerifier::new(&auth, SECRET)));
        let err = Err(AuthError::ChunkSignatureMismatch);
        assert_eq!(check(&body([CHUNK_1, CHUNK_2, FINAL], true)), err);
        assert_eq!(check(&body([CHUNK_2, CHUNK_1, FINAL], false)), err);
        assert_eq!(check(&body([CHUNK_1, CHUNK_2, CHUNK_2], false)), err);
        let unsigned = String::from_utf8(body([CHUNK_1, CHUNK_2, FINAL], false))
            .unwrap()
            .replace(&format!(";chunk-signature={CHUNK_2}"), "");
        assert_eq!(check(unsigned.as_bytes()), err);
        // Dropping the final chunk breaks the framing.
        let b = body([CHUNK_1, CHUNK_2, FINAL], false);
        assert_eq!(
            check(&b[..b.len() - 86]),
            Err(AuthError::MalformedChunkedBody)
        );
        // A wrong secret fails on the first chunk.
        let mut wrong = ChunkVerifier::new(&auth, "other");
        assert_eq!(
            decode_chunked(&body([CHUNK_1, CHUNK_2, FINAL], false), Some(&mut wrong)),
            err
        );
    }

    #[test]
    fn checks_the_trailer_signature() {
        let (_, mut auth) = example();
        auth.payload = PayloadHash::Streaming(Streaming::SignedWithTrailer);
        let mut b = body([CHUNK_1, CHUNK_2, FINAL], false);
        b.truncate(b.len() - 2); // the final chunk's CRLF: trailers follow it directly
        let with = |trailer: &str| {
            let mut b = b.clone();
            b.extend_from_slice(trailer.as_bytes());
            decode_chunked(&b, Some(&mut ChunkVerifier::new(&auth, SECRET)))
        };
        let good = format!(
            "first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:{TRAILER}\r\n\r\n"
        );
        let decoded = with(&good).unwrap();
        assert_eq!(decoded.trailers.len(), 4);
        assert_eq!(decoded.data.len(), 66560);
        let err = Err(AuthError::ChunkSignatureMismatch);
        assert_eq!(with(&good.replace("2nd", "2nD")), err);
        assert_eq!(with("first:1st\r\nsecond:2nd\r\nthird:3rd\r\n\r\n"), err);
        assert_eq!(with("\r\n"), err);
    }

    #[test]
    fn decodes_unsigned_trailer_bodies_without_a_verifier() {
        let b = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:abc=\r\n\r\n";
        let d = decode_chunked(b, None).unwrap();
        assert_eq!(d.data, b"hello world");
        assert_eq!(
            d.trailers,
            vec![("x-amz-checksum-crc32".into(), "abc=".into())]
        );
    }

    #[test]
    fn garbage_bodies_are_malformed_not_panics() {
        for b in [
            &b""[..],
            b"zz\r\n",
            b"5\r\nhel",
            b"5\r\nhelloXX0\r\n\r\n",
            b"ffffffffffffffff\r\n",
            b"fffffffffffffffff\r\n",
            b"\r\n",
            b"0\r\nno-colon\r\n",
            b"\xff\r\n",
        ] {
            assert!(decode_chunked(b, None).is_err(), "{b:?}");
        }
    }
}
