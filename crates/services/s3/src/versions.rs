//! Object versions: what a write or a delete does to a key's versions under the bucket's
//! versioning state (never configured, `Enabled`, `Suspended`), the reads that name a
//! `versionId`, and ListObjectVersions (`GET /<bucket>?versions`). Storage layout: see
//! [`storage`](super::storage).

use std::ops::Bound;

use axum::response::Response;
use rand::Rng as _;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;
use tributary_store::{Store, Tx};

use super::list::{self, prefix_end};
use super::storage::{
    self, BucketDoc, DeleteMarker, History, ObjectMeta, Segment, Version, Versioning,
};
use super::{buckets, invalid_argument, timestamp, types, xml, xml_response, Request};
use tributary_shapes::xml::ToXml as _;

/// Version ids Tributary makes: 32 characters, like S3's.
const VERSION_ID_LEN: usize = 32;

/// A fresh version id.
pub(super) fn new_version_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..VERSION_ID_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether a `versionId` could name a version: `null`, or an id shaped like S3's. Anything
/// else is S3's `InvalidArgument` ("Invalid version id specified") rather than a version that
/// does not exist.
pub(super) fn well_formed(v: &str) -> bool {
    v == "null"
        || (v.len() == VERSION_ID_LEN
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'))
}

/// The stored form of a well-formed `versionId`: `None` is the `null` version.
pub(super) fn stored_id(v: &str) -> Option<&str> {
    (v != "null").then_some(v)
}

/// How a version id is shown: `null` for the null version.
pub(super) fn shown_id(v: Option<&str>) -> &str {
    v.unwrap_or("null")
}

/// What a delete did, as DeleteObject reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Deleted {
    /// The version removed or the delete marker made (`null` for the null version); `None`
    /// when the bucket is not versioned and no version was named.
    pub version_id: Option<String>,
    /// Whether a delete marker was made, or the version removed was one.
    pub delete_marker: bool,
}

/// One key's versions inside a write transaction: loaded, changed in memory, then written
/// back by [`KeyVersions::store`], which also frees the bytes of the versions that went and
/// keeps the bucket's counts.
pub(super) struct KeyVersions {
    bucket: String,
    key: String,
    /// The latest version when it is an object (the key's entry in `OBJECTS`).
    pub current: Option<ObjectMeta>,
    /// Older versions and delete markers, newest first.
    pub history: History,
    had_current: bool,
    had_history: usize,
    freed: Vec<Segment>,
}

impl KeyVersions {
    pub fn load(tx: &mut Tx<'_>, bucket: &str, key: &str) -> Result<KeyVersions, AwsError> {
        let current = storage::tx_meta(tx, bucket, key)?;
        let history = storage::tx_history(tx, bucket, key)?;
        Ok(KeyVersions {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            had_current: current.is_some(),
            had_history: history.versions.len(),
            current,
            history,
            freed: Vec::new(),
        })
    }

    fn free(&mut self, v: Version) {
        if let Version::Object(m) = v {
            self.freed.extend(m.segments);
        }
    }

    /// Moves the current object out of the way of a new latest version: into the history,
    /// or gone when it is the null version and `keep_null` is false (a suspended bucket
    /// replaces its null version).
    fn retire_current(&mut self, keep_null: bool) {
        if let Some(old) = self.current.take() {
            if old.version_id.is_none() && !keep_null {
                self.freed.extend(old.segments);
            } else {
                self.history
                    .versions
                    .insert(0, Version::Object(Box::new(old)));
            }
        }
    }

    /// Removes the null version from the history (a suspended bucket keeps one at most).
    fn drop_null_history(&mut self) {
        let versions = std::mem::take(&mut self.history.versions);
        for v in versions {
            if v.version_id().is_none() {
                self.free(v);
            } else {
                self.history.versions.push(v);
            }
        }
    }

    /// After the latest version went: the next version becomes the latest, and if it is an
    /// object it moves back to `OBJECTS` (a delete marker stays where it is).
    fn promote(&mut self) {
        if self.current.is_none()
            && matches!(self.history.versions.first(), Some(Version::Object(_)))
        {
            if let Version::Object(m) = self.history.versions.remove(0) {
                self.current = Some(*m);
            }
        }
    }

    /// Makes `meta` the latest version; returns it with its version id.
    pub fn put(&mut self, versioning: Option<Versioning>, mut meta: ObjectMeta) -> ObjectMeta {
        match versioning {
            None => {
                meta.version_id = None;
                if let Some(old) = self.current.take() {
                    self.freed.extend(old.segments);
                }
            }
            Some(Versioning::Enabled) => {
                meta.version_id = Some(new_version_id());
                self.retire_current(true);
            }
            Some(Versioning::Suspended) => {
                meta.version_id = None;
                self.retire_current(false);
                self.drop_null_history();
            }
        }
        self.current = Some(meta.clone());
        meta
    }

    /// DeleteObject without a version id: the object goes in a bucket never versioned;
    /// otherwise a delete marker becomes the latest version (the null one when suspended).
    pub fn delete_latest(&mut self, versioning: Option<Versioning>, now_ms: i64) -> Deleted {
        let marker_id = match versioning {
            None => {
                if let Some(old) = self.current.take() {
                    self.freed.extend(old.segments);
                }
                return Deleted {
                    version_id: None,
                    delete_marker: false,
                };
            }
            Some(Versioning::Enabled) => {
                self.retire_current(true);
                Some(new_version_id())
            }
            Some(Versioning::Suspended) => {
                self.retire_current(false);
                self.drop_null_history();
                None
            }
        };
        let shown = shown_id(marker_id.as_deref()).to_owned();
        self.history.versions.insert(
            0,
            Version::DeleteMarker(DeleteMarker {
                version_id: marker_id,
                modified_ms: now_ms,
            }),
        );
        Deleted {
            version_id: Some(shown),
            delete_marker: true,
        }
    }

    /// DeleteObject with a version id (`None` is the null version): that version goes for
    /// good. `None` when the key has no such version.
    pub fn delete_version(&mut self, version: Option<&str>) -> Option<Deleted> {
        let shown = shown_id(version).to_owned();
        if let Some(old) = self.current.take_if(|c| c.version_id.as_deref() == version) {
            self.freed.extend(old.segments);
            self.promote();
            return Some(Deleted {
                version_id: Some(shown),
                delete_marker: false,
            });
        }
        let i = self
            .history
            .versions
            .iter()
            .position(|v| v.version_id() == version)?;
        let v = self.history.versions.remove(i);
        let delete_marker = matches!(v, Version::DeleteMarker(_));
        self.free(v);
        self.promote();
        Some(Deleted {
            version_id: Some(shown),
            delete_marker,
        })
    }

    /// Writes the key's versions back, frees the bytes of the versions that went, and
    /// updates (and stores, when they changed) the bucket's counts.
    pub fn store(self, tx: &mut Tx<'_>, b: &mut BucketDoc) -> Result<(), AwsError> {
        match &self.current {
            Some(m) => storage::put_meta(tx, &self.bucket, &self.key, m)?,
            None if self.had_current => {
                tx.kv_delete(
                    storage::OBJECTS,
                    &storage::object_key(&self.bucket, &self.key),
                )?;
            }
            None => {}
        }
        if self.had_history > 0 || !self.history.versions.is_empty() {
            storage::put_history(tx, &self.bucket, &self.key, &self.history)?;
        }
        storage::delete_segments(tx, &self.freed)?;
        let objects = (b.objects + u64::from(self.current.is_some()))
            .saturating_sub(u64::from(self.had_current));
        let versions = (b.versions + self.history.versions.len() as u64)
            .saturating_sub(self.had_history as u64);
        if (objects, versions) != (b.objects, b.versions) {
            b.objects = objects;
            b.versions = versions;
            b.put(tx)?;
        }
        Ok(())
    }
}

/// What a read that names a version found.
pub(super) enum Found {
    Object(Box<ObjectMeta>),
    DeleteMarker(DeleteMarker),
    Nothing,
}

/// Finds one version of a key (`None` is the null version) outside a transaction. A write
/// that moves the current object into the history between the two reads is caught by
/// looking at the current object again.
pub(super) fn find(
    store: &Store,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Found, AwsError> {
    let is_it = |m: &ObjectMeta| m.version_id.as_deref() == version;
    if let Some(m) = storage::read_meta(store, bucket, key)?.filter(is_it) {
        return Ok(Found::Object(Box::new(m)));
    }
    let history = storage::read_history(store, bucket, key)?;
    if let Some(v) = history
        .versions
        .into_iter()
        .find(|v| v.version_id() == version)
    {
        return Ok(match v {
            Version::Object(m) => Found::Object(m),
            Version::DeleteMarker(d) => Found::DeleteMarker(d),
        });
    }
    Ok(
        match storage::read_meta(store, bucket, key)?.filter(is_it) {
            Some(m) => Found::Object(Box::new(m)),
            None => Found::Nothing,
        },
    )
}

/// The delete marker that is the latest version of a key without a current object, if any.
pub(super) fn latest_marker(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<DeleteMarker>, AwsError> {
    Ok(
        match storage::read_history(store, bucket, key)?
            .versions
            .into_iter()
            .next()
        {
            Some(Version::DeleteMarker(d)) => Some(d),
            _ => None,
        },
    )
}

// ---- ListObjectVersions --------------------------------------------------------------------

/// Entries read from each space per scan step.
const SCAN_BATCH: usize = 500;

/// One listed entry.
enum Entry {
    Version {
        key: String,
        version: Version,
        latest: bool,
    },
    Prefix(String),
}

/// One key's versions, newest first, as a listing sees them.
fn versions_of(current: Option<ObjectMeta>, history: History) -> Vec<Version> {
    let mut all: Vec<Version> = current
        .map(|m| Version::Object(Box::new(m)))
        .into_iter()
        .collect();
    all.extend(history.versions);
    all
}

/// Reads the keys from `lo` up to `hi` in both spaces, merged in key order: at most one
/// batch per space, cut where the first full batch ends (beyond it a space's keys are not
/// known yet). Returns the keys and whether the range is exhausted.
#[allow(clippy::type_complexity)]
fn merged_batch(
    store: &Store,
    bucket: &str,
    lo: Bound<&[u8]>,
    hi: &[u8],
) -> Result<(Vec<(Vec<u8>, Option<ObjectMeta>, History)>, bool), AwsError> {
    let current = store.kv_range(storage::OBJECTS, lo, Bound::Excluded(hi), false, SCAN_BATCH)?;
    let older = store.kv_range(
        storage::VERSIONS,
        lo,
        Bound::Excluded(hi),
        false,
        SCAN_BATCH,
    )?;
    let cut = [&current, &older]
        .iter()
        .filter(|b| b.len() == SCAN_BATCH)
        .filter_map(|b| b.last().map(|(k, _)| k.clone()))
        .min();
    let mut out: Vec<(Vec<u8>, Option<ObjectMeta>, History)> = Vec::new();
    let (mut a, mut b) = (current.into_iter().peekable(), older.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some((ka, _)), Some((kb, _))) if ka < kb => Some(true),
            (Some((ka, _)), Some((kb, _))) if ka > kb => Some(false),
            _ => None,
        };
        let (k, meta, history) = match take_a {
            Some(true) => {
                let Some((k, v)) = a.next() else { break };
                let (_, m) = storage::listed(bucket, &k, &v)?;
                (k, Some(m), History::default())
            }
            Some(false) => {
                let Some((k, v)) = b.next() else { break };
                let (_, h) = storage::listed_history(bucket, &k, &v)?;
                (k, None, h)
            }
            None => {
                let (Some((k, v)), Some((_, hv))) = (a.next(), b.next()) else {
                    break;
                };
                let (_, m) = storage::listed(bucket, &k, &v)?;
                let (_, h) = storage::listed_history(bucket, &k, &hv)?;
                (k, Some(m), h)
            }
        };
        if cut.as_ref().is_some_and(|c| &k > c) {
            break;
        }
        out.push((k, meta, history));
    }
    Ok((out, cut.is_none()))
}

/// ListObjectVersions: every version and delete marker, by key and newest first within a
/// key, with `prefix`, `delimiter`, `key-marker` / `version-id-marker` and `max-keys`.
pub(super) fn list(req: &Request<'_>) -> Result<Response, AwsError> {
    let (input, unparsed): (types::ListObjectVersionsRequest, _) =
        req.input_and_unparsed(Operation::ListObjectVersions)?;
    let c = list::common(req, &list::listing!(input, unparsed))?;
    let bucket = req.bucket();
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let version_marker = input.version_id_marker.clone().filter(|v| !v.is_empty());
    if let Some(v) = &version_marker {
        if key_marker.is_empty() {
            return Err(invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                v,
            ));
        }
        if !well_formed(v) {
            return Err(invalid_argument(
                "Invalid version id specified",
                "version-id-marker",
                v,
            ));
        }
    }
    let store = &req.app.store;
    let key_of = |k: &str| storage::object_key(bucket, k);
    let upper = match prefix_end(c.prefix.as_bytes()) {
        Some(end) => {
            let mut u = storage::object_key(bucket, "");
            u.extend(end);
            u
        }
        None => storage::bucket_end(bucket),
    };
    let mut lower: (Vec<u8>, bool) = (key_of(&c.prefix), true);
    if !key_marker.is_empty() && key_marker >= c.prefix {
        lower = (key_of(&key_marker), version_marker.is_some());
    }
    let want = c.max_keys + 1;
    let mut entries: Vec<Entry> = Vec::new();
    'scan: loop {
        if c.max_keys == 0 {
            break;
        }
        let lo = if lower.1 {
            Bound::Included(lower.0.as_slice())
        } else {
            Bound::Excluded(lower.0.as_slice())
        };
        let (batch, exhausted) = merged_batch(store, bucket, lo, &upper)?;
        let mut seek = None;
        for (k, current, history) in batch {
            let key = storage::strip_bucket(bucket, &k);
            lower = (k, false);
            let rolled = c.delimiter.as_deref().and_then(|d| {
                let rest = key.get(c.prefix.len()..).unwrap_or_default();
                rest.find(d)
                    .map(|i| key[..c.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(cp) = rolled {
                // Every key under this common prefix is skipped with one seek.
                seek = Some(match prefix_end(cp.as_bytes()) {
                    Some(end) => {
                        let mut s = storage::object_key(bucket, "");
                        s.extend(end);
                        s
                    }
                    None => upper.clone(),
                });
                if key_marker.is_empty() || cp > key_marker {
                    entries.push(Entry::Prefix(cp));
                }
                if entries.len() >= want {
                    break 'scan;
                }
                break;
            }
            let mut versions = versions_of(current, history);
            // Version ids are unique within a key (there is one null version at most).
            let latest_id = versions.first().map(|v| v.version_id().map(str::to_owned));
            if key == key_marker {
                if let Some(m) = &version_marker {
                    let at = versions.iter().position(|v| v.version_id() == stored_id(m));
                    versions.drain(..at.map_or(versions.len(), |i| i + 1));
                }
            }
            for version in versions {
                let latest = latest_id
                    .as_ref()
                    .is_some_and(|l| l.as_deref() == version.version_id());
                entries.push(Entry::Version {
                    key: key.clone(),
                    version,
                    latest,
                });
                if entries.len() >= want {
                    break 'scan;
                }
            }
        }
        match seek {
            Some(s) => lower = (s, true),
            None if exhausted => break,
            None => {}
        }
    }
    let truncated = entries.len() > c.max_keys;
    entries.truncate(c.max_keys);
    let owner = buckets::owner(&req.app.cfg.account_id);
    let enc = |s: &str| list::enc(&c, s);
    let (next_key_marker, next_version_id_marker) = match entries.last().filter(|_| truncated) {
        Some(Entry::Version { key, version, .. }) => (
            Some(enc(key)),
            Some(shown_id(version.version_id()).to_owned()),
        ),
        Some(Entry::Prefix(p)) => (Some(enc(p)), None),
        None => (None, None),
    };
    let (mut versions, mut delete_markers, mut prefixes) = (Vec::new(), Vec::new(), Vec::new());
    // Whether each listed version, in order, is a delete marker.
    let mut markers = Vec::new();
    for e in entries {
        let (key, version, latest) = match e {
            Entry::Version {
                key,
                version,
                latest,
            } => (key, version, latest),
            Entry::Prefix(p) => {
                prefixes.push(list::common_prefix(&c, &p));
                continue;
            }
        };
        let version_id = Some(shown_id(version.version_id()).to_owned());
        markers.push(matches!(version, Version::DeleteMarker(_)));
        match version {
            Version::Object(m) => versions.push(types::ObjectVersion {
                e_tag: Some(format!("\"{}\"", m.etag)),
                checksum_algorithm: m
                    .checksum
                    .as_ref()
                    .map(|ck| vec![ck.algorithm.name().to_owned()]),
                checksum_type: m.checksum.as_ref().map(|ck| ck.kind.name().to_owned()),
                size: Some(m.size as i64),
                storage_class: Some(m.storage_class.clone()),
                key: Some(enc(&key)),
                version_id,
                is_latest: Some(latest),
                last_modified: Some(timestamp(m.modified_ms)),
                owner: Some(owner.clone()),
                // Only asked for with `x-amz-optional-object-attributes`.
                restore_status: None,
            }),
            Version::DeleteMarker(d) => delete_markers.push(types::DeleteMarkerEntry {
                owner: Some(owner.clone()),
                key: Some(enc(&key)),
                version_id,
                is_latest: Some(latest),
                last_modified: Some(timestamp(d.modified_ms)),
            }),
        }
    }
    let out = types::ListObjectVersionsOutput {
        is_truncated: Some(truncated),
        key_marker: Some(enc(&key_marker)),
        version_id_marker: Some(version_marker.unwrap_or_default()),
        next_key_marker,
        next_version_id_marker,
        versions: (!versions.is_empty()).then_some(versions),
        delete_markers: (!delete_markers.is_empty()).then_some(delete_markers),
        name: Some(bucket.to_owned()),
        prefix: Some(enc(&c.prefix)),
        delimiter: c.delimiter.as_deref().map(enc),
        max_keys: Some(c.max_keys_shown as i32),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        encoding_type: c.url.then(|| "url".to_owned()),
        request_charged: None,
    };
    Ok(xml_response(versions_document(out, &markers)))
}

/// A ListObjectVersions answer. The model keeps versions and delete markers in two lists
/// (`Versions`, `DeleteMarkers`); S3 lists them together, by key and newest first within a
/// key, so they are written in the listing's order (`markers`: whether each next one is a
/// delete marker), between the members the model puts before and after them.
fn versions_document(out: types::ListObjectVersionsOutput, markers: &[bool]) -> Vec<u8> {
    let types::ListObjectVersionsOutput {
        is_truncated,
        key_marker,
        version_id_marker,
        next_key_marker,
        next_version_id_marker,
        versions,
        delete_markers,
        name,
        prefix,
        delimiter,
        max_keys,
        common_prefixes,
        encoding_type,
        request_charged,
    } = out;
    let mut x = xml::start("ListVersionsResult");
    types::ListObjectVersionsOutput {
        is_truncated,
        key_marker,
        version_id_marker,
        next_key_marker,
        next_version_id_marker,
        ..Default::default()
    }
    .write_xml(&mut x);
    let (mut versions, mut delete_markers) = (
        versions.unwrap_or_default().into_iter(),
        delete_markers.unwrap_or_default().into_iter(),
    );
    for &marker in markers {
        if marker {
            if let Some(d) = delete_markers.next() {
                x.open("DeleteMarker");
                d.write_xml(&mut x);
                x.close("DeleteMarker");
            }
        } else if let Some(v) = versions.next() {
            x.open("Version");
            v.write_xml(&mut x);
            x.close("Version");
        }
    }
    types::ListObjectVersionsOutput {
        name,
        prefix,
        delimiter,
        max_keys,
        common_prefixes,
        encoding_type,
        request_charged,
        ..Default::default()
    }
    .write_xml(&mut x);
    x.close("ListVersionsResult");
    xml::finish(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn object(tag: &str) -> ObjectMeta {
        ObjectMeta {
            size: 1,
            etag: tag.to_owned(),
            modified_ms: 0,
            content_type: "text/plain".to_owned(),
            headers: BTreeMap::new(),
            metadata: BTreeMap::new(),
            storage_class: "STANDARD".to_owned(),
            checksum: None,
            segments: vec![Segment {
                data: format!("data-{tag}"),
                size: 1,
            }],
            parts: None,
            version_id: None,
            sse: None,
        }
    }

    fn empty() -> KeyVersions {
        KeyVersions {
            bucket: "b".to_owned(),
            key: "k".to_owned(),
            current: None,
            history: History::default(),
            had_current: false,
            had_history: 0,
            freed: Vec::new(),
        }
    }

    fn etags(kv: &KeyVersions) -> Vec<String> {
        let mut out: Vec<String> = kv.current.iter().map(|m| m.etag.clone()).collect();
        for v in &kv.history.versions {
            out.push(match v {
                Version::Object(m) => m.etag.clone(),
                Version::DeleteMarker(_) => "marker".to_owned(),
            });
        }
        out
    }

    fn freed(kv: &KeyVersions) -> Vec<&str> {
        kv.freed.iter().map(|s| s.data.as_str()).collect()
    }

    #[test]
    fn unversioned_buckets_replace_and_delete() {
        let mut kv = empty();
        assert_eq!(kv.put(None, object("a")).version_id, None);
        kv.put(None, object("b"));
        assert_eq!(etags(&kv), ["b"]);
        assert_eq!(freed(&kv), ["data-a"]);
        let d = kv.delete_latest(None, 5);
        assert_eq!(d.version_id, None);
        assert!(!d.delete_marker);
        assert!(etags(&kv).is_empty());
        assert_eq!(freed(&kv), ["data-a", "data-b"]);
    }

    #[test]
    fn enabled_buckets_keep_versions_and_make_markers() {
        let mut kv = empty();
        let v1 = kv.put(Some(Versioning::Enabled), object("a"));
        let v2 = kv.put(Some(Versioning::Enabled), object("b"));
        let (id1, id2) = (v1.version_id.unwrap(), v2.version_id.unwrap());
        assert!(well_formed(&id1) && id1 != id2);
        assert_eq!(etags(&kv), ["b", "a"]);
        assert!(kv.freed.is_empty());
        let d = kv.delete_latest(Some(Versioning::Enabled), 5);
        assert!(d.delete_marker);
        let marker = d.version_id.unwrap();
        assert_eq!(etags(&kv), ["marker", "b", "a"]);
        // Removing the marker brings the last object back.
        let d = kv.delete_version(Some(&marker)).unwrap();
        assert!(d.delete_marker);
        assert_eq!(etags(&kv), ["b", "a"]);
        assert_eq!(kv.current.as_ref().unwrap().etag, "b");
        // Removing the current version promotes the one before it.
        assert!(!kv.delete_version(Some(&id2)).unwrap().delete_marker);
        assert_eq!(
            kv.current.as_ref().unwrap().version_id.as_deref(),
            Some(id1.as_str())
        );
        assert_eq!(freed(&kv), ["data-b"]);
        assert_eq!(kv.delete_version(Some(&id2)), None);
        assert_eq!(kv.delete_version(None), None);
    }

    #[test]
    fn suspended_buckets_replace_only_the_null_version() {
        let mut kv = empty();
        kv.put(None, object("null-before"));
        let v1 = kv.put(Some(Versioning::Enabled), object("a"));
        assert_eq!(etags(&kv), ["a", "null-before"]);
        // Suspended: the new object is the null version and replaces the old null version.
        assert_eq!(
            kv.put(Some(Versioning::Suspended), object("b")).version_id,
            None
        );
        assert_eq!(etags(&kv), ["b", "a"]);
        assert_eq!(freed(&kv), ["data-null-before"]);
        kv.put(Some(Versioning::Suspended), object("c"));
        assert_eq!(etags(&kv), ["c", "a"]);
        // A delete makes a null delete marker in place of the null version.
        let d = kv.delete_latest(Some(Versioning::Suspended), 9);
        assert_eq!(d.version_id.as_deref(), Some("null"));
        assert!(d.delete_marker);
        assert_eq!(etags(&kv), ["marker", "a"]);
        assert_eq!(freed(&kv), ["data-null-before", "data-b", "data-c"]);
        // The null version is addressable: deleting it removes the marker.
        assert!(kv.delete_version(None).unwrap().delete_marker);
        assert_eq!(kv.current.as_ref().unwrap().version_id, v1.version_id);
    }

    #[test]
    fn version_ids_are_checked() {
        assert!(well_formed("null"));
        assert!(well_formed(&new_version_id()));
        assert!(!well_formed("3HL4kqtJlcpXroDTDmJ"));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a/".repeat(16)));
        assert_eq!(stored_id("null"), None);
        assert_eq!(shown_id(None), "null");
    }
}
