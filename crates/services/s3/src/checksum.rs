//! Object integrity: the MD5 behind ETags and `Content-MD5`, and the additional checksums
//! (`x-amz-checksum-*`) that current SDKs send with every upload and validate on download.

use base64::Engine as _;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
const CRC64NVME: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_NVME);

/// The checksum algorithms S3 accepts (`ChecksumAlgorithm` in the service model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "CRC32")]
    Crc32,
    #[serde(rename = "CRC32C")]
    Crc32c,
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// Parses a name as clients send it (`CRC32`, `crc32`, ...).
    pub fn parse(name: &str) -> Option<Algorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The name on the wire: `CRC32`, `CRC64NVME`, ...
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header (and trailer) carrying a value: `x-amz-checksum-crc32`, ...
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Whether the algorithm is a CRC (only those have full-object multipart checksums).
    pub fn is_crc(self) -> bool {
        matches!(
            self,
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme
        )
    }

    /// The raw digest of `data` (big-endian for the CRCs, as S3 encodes them).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Crc32 => CRC32.checksum(data).to_be_bytes().to_vec(),
            Algorithm::Crc32c => CRC32C.checksum(data).to_be_bytes().to_vec(),
            Algorithm::Crc64Nvme => CRC64NVME.checksum(data).to_be_bytes().to_vec(),
            Algorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Algorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    /// The base64 digest of `data`, as headers carry it.
    pub fn b64(self, data: &[u8]) -> String {
        B64.encode(self.digest(data))
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Whether `value` is a well-formed base64 digest of this algorithm.
    pub fn well_formed(self, value: &str) -> bool {
        B64.decode(value.trim())
            .is_ok_and(|d| d.len() == self.digest_len())
    }
}

/// How an object's checksum covers it (`ChecksumType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    /// A checksum of the whole object's bytes.
    #[serde(rename = "FULL_OBJECT")]
    FullObject,
    /// A checksum of the parts' checksums, with a `-<parts>` suffix.
    #[serde(rename = "COMPOSITE")]
    Composite,
}

impl ChecksumType {
    pub fn parse(s: &str) -> Option<ChecksumType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            "COMPOSITE" => Some(ChecksumType::Composite),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

/// An object's (or part's) stored checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: Algorithm,
    /// Base64, with `-<n>` for composite checksums.
    pub value: String,
    #[serde(rename = "type")]
    pub kind: ChecksumType,
}

impl Checksum {
    pub fn full(algorithm: Algorithm, data: &[u8]) -> Checksum {
        Checksum {
            algorithm,
            value: algorithm.b64(data),
            kind: ChecksumType::FullObject,
        }
    }
}

/// The composite checksum of a multipart object: the checksum of the concatenated raw part
/// checksums, base64, then `-<number of parts>`.
pub fn composite(algorithm: Algorithm, part_values: &[&str]) -> Option<String> {
    let mut raw = Vec::new();
    for v in part_values {
        raw.extend(B64.decode(v.trim()).ok()?);
    }
    Some(format!("{}-{}", algorithm.b64(&raw), part_values.len()))
}

/// The model's `Checksum<ALGORITHM>` member for `algorithm` (`ChecksumCRC32`, ...): the value
/// The checksum members (`ChecksumCRC32`, ...) of a generated structure, by algorithm.
macro_rules! checksum_members {
    ($x:expr) => {{
        let x = &$x;
        [
            (
                $crate::checksum::Algorithm::Crc32,
                x.checksum_crc32.as_deref(),
            ),
            (
                $crate::checksum::Algorithm::Crc32c,
                x.checksum_crc32_c.as_deref(),
            ),
            (
                $crate::checksum::Algorithm::Crc64Nvme,
                x.checksum_crc64_nvme.as_deref(),
            ),
            (
                $crate::checksum::Algorithm::Sha1,
                x.checksum_sha1.as_deref(),
            ),
            (
                $crate::checksum::Algorithm::Sha256,
                x.checksum_sha256.as_deref(),
            ),
        ]
    }};
}
pub(crate) use checksum_members;

/// of `found` when it is of that algorithm.
pub fn member_value(found: Option<(Algorithm, &str)>, algorithm: Algorithm) -> Option<String> {
    found
        .filter(|(a, _)| *a == algorithm)
        .map(|(_, v)| v.to_owned())
}

/// An upload's checksum as the model's `ChecksumAlgorithm` and `ChecksumType` members: both,
/// or neither.
pub fn upload_members(
    algorithm: Option<Algorithm>,
    kind: Option<ChecksumType>,
) -> (Option<String>, Option<String>) {
    match algorithm.zip(kind) {
        Some((a, k)) => (Some(a.name().to_owned()), Some(k.name().to_owned())),
        None => (None, None),
    }
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    md5::Md5::digest(data).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok().filter(|p| p.len() == 2)?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn from_b64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s.trim()).ok()
}

/// Decodes a `Content-MD5` header: base64 of exactly 16 bytes.
pub fn decode_content_md5(value: &str) -> Option<[u8; 16]> {
    B64.decode(value.trim()).ok()?.try_into().ok()
}

/// The ETag of a multipart object: the MD5 of the parts' binary MD5s, then `-<parts>`.
pub fn multipart_etag(part_etags: &[&str]) -> Option<String> {
    let mut raw = Vec::with_capacity(16 * part_etags.len());
    for e in part_etags {
        raw.extend(from_hex(e)?);
    }
    Some(format!("{}-{}", hex(&md5(&raw)), part_etags.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        // The CRC catalogue's check value: the checksum of "123456789".
        let check = b"123456789";
        assert_eq!(Algorithm::Crc32.digest(check), 0xcbf4_3926u32.to_be_bytes());
        assert_eq!(
            Algorithm::Crc32c.digest(check),
            0xe306_9283u32.to_be_bytes()
        );
        assert_eq!(
            Algorithm::Crc64Nvme.digest(check),
            0xae8b_1486_0a79_9888u64.to_be_bytes()
        );
        // What botocore sends for b"hello world".
        assert_eq!(Algorithm::Crc32.b64(b"hello world"), "DUoRhQ==");
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert!(Algorithm::Sha256.well_formed(&Algorithm::Sha256.b64(b"x")));
        assert!(!Algorithm::Crc32.well_formed("AAAAAAAA"));
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        let a = hex(&md5(b"a"));
        let b = hex(&md5(b"b"));
        let mut raw = md5(b"a").to_vec();
        raw.extend(md5(b"b"));
        assert_eq!(
            multipart_etag(&[&a, &b]).as_deref(),
            Some(format!("{}-2", hex(&md5(&raw))).as_str())
        );
        assert_eq!(multipart_etag(&["zz"]), None);
    }

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!(Algorithm::parse("crc32c"), Some(Algorithm::Crc32c));
        assert_eq!(Algorithm::parse("MD5"), None);
        assert_eq!(
            decode_content_md5("1B2M2Y8AsgTpgAmY7PhCfg=="),
            Some(md5(b""))
        );
        assert_eq!(decode_content_md5("abc"), None);
    }
}
