//! How S3 state lives in the store.
//!
//! - Buckets are documents of kind [`BUCKET_KIND`]; each keeps a count of its objects so that
//!   DeleteBucket can decide "empty" inside its write transaction.
//! - Object metadata lives in key-value space [`OBJECTS`] under `<bucket>\0<key>`, so a listing
//!   is a range scan in S3's (UTF-8 byte) order and never touches object bytes.
//! - Object bytes live in space [`DATA`] in chunks of [`CHUNK`] bytes under
//!   `<data id><chunk number, u32 BE>`. An object is a list of segments, each naming a data
//!   id: one for a plain upload, one per part for a multipart upload (completing an upload
//!   re-uses the parts' bytes instead of copying them). Data ids are never reused, so bytes
//!   of an id never change once written; replacing an object deletes its old ids in the same
//!   transaction that writes the new metadata.
//! - Multipart uploads live in space [`UPLOADS`] under `<bucket>\0<upload id>`, with their parts
//!   inside the document, so every part change is one read-modify-write in the writer.
//! - Versions: [`OBJECTS`] holds only the latest version of a key, and only when it is an
//!   object (never a delete marker), so listings and plain reads are unchanged by versioning.
//!   Every older version and every delete marker of a key lives in one [`History`] document in
//!   space [`VERSIONS`] under the same `<bucket>\0<key>`, newest first. Invariant: when a key
//!   has no entry in [`OBJECTS`] but a history, the history's first entry is a delete marker
//!   (the latest version); removing the latest version promotes the next object back into
//!   [`OBJECTS`]. A version's bytes are freed when the version itself goes.
//! - A bucket's configuration (policy, tags, default encryption, public access block,
//!   ownership controls, versioning state) lives in its [`BucketDoc`], so it persists with
//!   the bucket and goes with it.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use tributary_model::AwsError;
use tributary_store::{Catalog, Store, Tx};

use super::checksum::{Algorithm, Checksum, ChecksumType};

pub const BUCKET_KIND: &str = "s3-bucket";
pub const OBJECTS: &str = "s3";
pub const DATA: &str = "s3-data";
pub const UPLOADS: &str = "s3-uploads";
pub const VERSIONS: &str = "s3-versions";
/// Bytes per stored chunk: big enough to keep the key count low, small enough that a ranged
/// read loads little more than it returns.
pub const CHUNK: usize = 1024 * 1024;

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketDoc {
    pub name: String,
    pub region: String,
    pub created_ms: i64,
    /// How many keys have a current (latest, not deleted) object: entries in [`OBJECTS`].
    #[serde(default)]
    pub objects: u64,
    /// How many older versions and delete markers the bucket keeps: entries of the
    /// [`History`] documents in [`VERSIONS`]. The bucket is empty when both counts are 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub versions: u64,
    /// `None` for a bucket whose versioning was never configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// `Disabled` once a PutBucketVersioning named `MfaDelete` (it is never `Enabled` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_delete: Option<String>,
    /// The bucket policy, as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Tags in the order they were given; `None` when the bucket has no tag set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<(String, String)>>,
    /// The default encryption; `None` is S3's own default, SSE-S3 (`AES256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// The `ObjectOwnership` of the bucket's ownership controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The versioning state of a bucket that was ever configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn name(self) -> &'static str {
        match self {
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
        }
    }
}

/// How an object is encrypted at rest (as reported; Tributary stores bytes as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sse {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// S3 Bucket Keys; only meaningful with KMS.
    #[serde(default)]
    pub bucket_key: bool,
}

impl Sse {
    /// SSE-S3, every bucket's default since January 2023.
    pub fn s3() -> Sse {
        Sse {
            algorithm: "AES256".to_owned(),
            kms_key_id: None,
            bucket_key: false,
        }
    }

    pub fn is_kms(&self) -> bool {
        self.algorithm.starts_with("aws:kms")
    }
}

/// A bucket's default encryption rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    pub default: Sse,
    /// `BlockedEncryptionTypes` as given (`NONE`, `SSE-C`); empty when not given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
}

/// The four Block Public Access settings of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl BucketDoc {
    pub fn get(catalog: &Catalog, name: &str) -> Option<BucketDoc> {
        catalog
            .doc(BUCKET_KIND, name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    pub fn put(&self, tx: &mut Tx<'_>) -> Result<(), AwsError> {
        let doc = serde_json::to_value(self).map_err(|e| AwsError::internal(e.to_string()))?;
        tx.put_doc(BUCKET_KIND, &self.name, doc)
    }

    /// A new bucket with S3's defaults for new buckets since April 2023: all Block Public
    /// Access settings on and ACLs disabled (`BucketOwnerEnforced`).
    pub fn new(name: String, region: String, created_ms: i64, ownership: String) -> BucketDoc {
        BucketDoc {
            name,
            region,
            created_ms,
            objects: 0,
            versions: 0,
            versioning: None,
            mfa_delete: None,
            policy: None,
            tags: None,
            encryption: None,
            public_access_block: Some(PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }),
            ownership: Some(ownership),
        }
    }

    /// The encryption a new object gets when its request names none.
    pub fn default_sse(&self) -> Sse {
        self.encryption
            .as_ref()
            .map_or_else(Sse::s3, |e| e.default.clone())
    }

    pub fn all(catalog: &Catalog) -> Vec<BucketDoc> {
        catalog
            .docs_of(BUCKET_KIND)
            .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}

/// A run of an object's bytes stored under one data id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub data: String,
    pub size: u64,
}

/// Everything about an object except its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub modified_ms: i64,
    pub content_type: String,
    /// Stored representation headers (`content-encoding`, `cache-control`, ...), lowercased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// User metadata (`x-amz-meta-<name>`), names lowercased and without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    pub segments: Vec<Segment>,
    /// The part sizes of a multipart object (`None` for a plain upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<u64>>,
    /// `None` is the `null` version: objects written while versioning was never enabled, or
    /// while it is suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `None` for objects stored before encryption was recorded: SSE-S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Sse>,
}

/// A delete marker: the latest version of a deleted key in a versioned bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMarker {
    /// `None` is the `null` version (a marker made while versioning is suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub modified_ms: i64,
}

/// One version of a key that is not its current object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Version {
    Object(Box<ObjectMeta>),
    DeleteMarker(DeleteMarker),
}

impl Version {
    pub fn version_id(&self) -> Option<&str> {
        match self {
            Version::Object(m) => m.version_id.as_deref(),
            Version::DeleteMarker(d) => d.version_id.as_deref(),
        }
    }
}

/// The older versions and delete markers of one key, newest first (see the module notes).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    pub versions: Vec<Version>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadDoc {
    pub key: String,
    pub initiated_ms: i64,
    pub content_type: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub storage_class: String,
    #[serde(default)]
    pub checksum_algorithm: Option<Algorithm>,
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    /// The encryption the object gets, fixed when the upload starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Sse>,
    /// By part number.
    #[serde(default)]
    pub parts: BTreeMap<u32, PartInfo>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    pub size: u64,
    /// MD5 hex, without quotes.
    pub etag: String,
    pub data: String,
    pub modified_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

pub fn upload_key(bucket: &str, upload_id: &str) -> Vec<u8> {
    object_key(bucket, upload_id)
}

/// The exclusive upper bound of every `<bucket>\0...` key.
pub fn bucket_end(bucket: &str) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.push(1);
    k
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AwsError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(error = %e, "corrupt stored s3 document");
        AwsError::new(
            "InternalError",
            500,
            "We encountered an internal error. Please try again.",
        )
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, AwsError> {
    serde_json::to_vec(v).map_err(|e| AwsError::internal(e.to_string()))
}

pub fn read_meta(store: &Store, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
    match store.kv_get(OBJECTS, &object_key(bucket, key))? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

pub fn tx_meta(tx: &mut Tx<'_>, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, AwsError> {
    match tx.kv_get(OBJECTS, &object_key(bucket, key))? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

pub fn put_meta(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    meta: &ObjectMeta,
) -> Result<(), AwsError> {
    tx.kv_put(OBJECTS, &object_key(bucket, key), &encode(meta)?)
}

/// The object key (or upload id) of a stored `<bucket>\0<key>`.
pub fn strip_bucket(bucket: &str, k: &[u8]) -> String {
    let key = k.get(bucket.len() + 1..).unwrap_or_default();
    String::from_utf8_lossy(key).into_owned()
}

/// Decodes one listed entry: its key (without the bucket) and metadata.
pub fn listed(bucket: &str, k: &[u8], v: &[u8]) -> Result<(String, ObjectMeta), AwsError> {
    Ok((strip_bucket(bucket, k), decode(v)?))
}

pub fn read_history(store: &Store, bucket: &str, key: &str) -> Result<History, AwsError> {
    match store.kv_get(VERSIONS, &object_key(bucket, key))? {
        Some(v) => decode(&v),
        None => Ok(History::default()),
    }
}

pub fn tx_history(tx: &mut Tx<'_>, bucket: &str, key: &str) -> Result<History, AwsError> {
    match tx.kv_get(VERSIONS, &object_key(bucket, key))? {
        Some(v) => decode(&v),
        None => Ok(History::default()),
    }
}

/// Writes a key's history, or removes it when it is empty.
pub fn put_history(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    history: &History,
) -> Result<(), AwsError> {
    let k = object_key(bucket, key);
    if history.versions.is_empty() {
        tx.kv_delete(VERSIONS, &k)?;
        Ok(())
    } else {
        tx.kv_put(VERSIONS, &k, &encode(history)?)
    }
}

/// Decodes one listed history: its key (without the bucket) and versions.
pub fn listed_history(bucket: &str, k: &[u8], v: &[u8]) -> Result<(String, History), AwsError> {
    Ok((strip_bucket(bucket, k), decode(v)?))
}

pub fn read_upload(store: &Store, bucket: &str, id: &str) -> Result<Option<UploadDoc>, AwsError> {
    match store.kv_get(UPLOADS, &upload_key(bucket, id))? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

pub fn tx_upload(tx: &mut Tx<'_>, bucket: &str, id: &str) -> Result<Option<UploadDoc>, AwsError> {
    match tx.kv_get(UPLOADS, &upload_key(bucket, id))? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

pub fn put_upload(
    tx: &mut Tx<'_>,
    bucket: &str,
    id: &str,
    doc: &UploadDoc,
) -> Result<(), AwsError> {
    tx.kv_put(UPLOADS, &upload_key(bucket, id), &encode(doc)?)
}

/// Every upload of a bucket: (upload id, document), in upload-id order.
pub fn uploads_of(store: &Store, bucket: &str) -> Result<Vec<(String, UploadDoc)>, AwsError> {
    let lo = object_key(bucket, "");
    let hi = bucket_end(bucket);
    let entries = store.kv_range(
        UPLOADS,
        Bound::Included(&lo),
        Bound::Excluded(&hi),
        false,
        usize::MAX,
    )?;
    entries
        .iter()
        .map(|(k, v)| Ok((strip_bucket(bucket, k), decode(v)?)))
        .collect()
}

/// A fresh data id.
pub fn new_data_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn chunk_key(id: &str, n: u32) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// Writes `bytes` under data id `id`.
pub fn write_data(tx: &mut Tx<'_>, id: &str, bytes: &[u8]) -> Result<(), AwsError> {
    for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
        tx.kv_put(DATA, &chunk_key(id, n as u32), chunk)?;
    }
    Ok(())
}

/// Removes the bytes of data id `id`.
pub fn delete_data(tx: &mut Tx<'_>, id: &str) -> Result<(), AwsError> {
    let lo = chunk_key(id, 0);
    let hi = chunk_key(id, u32::MAX);
    tx.kv_delete_range(DATA, Bound::Included(&lo), Bound::Included(&hi))?;
    Ok(())
}

pub fn delete_segments(tx: &mut Tx<'_>, segments: &[Segment]) -> Result<(), AwsError> {
    for s in segments {
        delete_data(tx, &s.data)?;
    }
    Ok(())
}

/// Reads bytes `start..end` of an object made of `segments`. `None` when some chunk is gone:
/// the object was replaced after its metadata was read, and the caller reads it again.
pub fn read_data(
    store: &Store,
    segments: &[Segment],
    start: u64,
    end: u64,
) -> Result<Option<Vec<u8>>, AwsError> {
    let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
    let mut seg_start = 0u64;
    for seg in segments {
        let seg_end = seg_start + seg.size;
        let (lo, hi) = (start.max(seg_start), end.min(seg_end));
        if lo < hi {
            let (from, to) = (lo - seg_start, hi - seg_start);
            let first = (from / CHUNK as u64) as u32;
            let last = ((to - 1) / CHUNK as u64) as u32;
            let chunks = store.kv_range(
                DATA,
                Bound::Included(&chunk_key(&seg.data, first)),
                Bound::Included(&chunk_key(&seg.data, last)),
                false,
                (last - first + 1) as usize,
            )?;
            if chunks.len() != (last - first + 1) as usize {
                return Ok(None);
            }
            let mut bytes = Vec::with_capacity((to - from) as usize);
            for (_, c) in &chunks {
                bytes.extend_from_slice(c);
            }
            let skip = (from - first as u64 * CHUNK as u64) as usize;
            let want = (to - from) as usize;
            match bytes.get(skip..skip + want) {
                Some(b) => out.extend_from_slice(b),
                None => return Ok(None),
            }
        }
        seg_start = seg_end;
        if seg_start >= end {
            break;
        }
    }
    Ok(Some(out))
}

/// The canonical user id S3 shows as owner: stable per account.
pub fn owner_id(account: &str) -> String {
    use sha2::Digest as _;
    super::checksum::hex(&sha2::Sha256::digest(format!(
        "tributary-s3-owner/{account}"
    )))
}
