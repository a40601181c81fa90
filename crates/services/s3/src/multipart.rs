//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts and ListMultipartUploads. `aws s3 cp` uploads files above
//! 8 MiB this way. A completed object references its parts' bytes (see [`storage`]).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;

use super::checksum::{self, checksum_members, Algorithm, Checksum, ChecksumType};
use super::input::sent;
use super::objects::{
    attrs, check_key, receive, requested_sse, sse_headers, unsupported_algorithm, upload,
};
use super::storage::{self, BucketDoc, ObjectMeta, PartInfo, Segment, UploadDoc};
use super::versions::KeyVersions;
use super::{
    buckets, empty_response, entity_too_large, extra, invalid_argument, invalid_request,
    no_such_bucket, not_implemented, set_header, timestamp, types, xml, xml_response, Request,
    MAX_OBJECT_BYTES,
};

/// Every part but the last must be at least this big.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
const MAX_PARTS_LISTED: usize = 1000;

fn no_such_upload(id: &str) -> AwsError {
    extra(
        AwsError::new(
            "NoSuchUpload",
            404,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        "UploadId",
        id,
    )
}

/// The upload `id` names, checked against the request's key.
fn require_upload(req: &Request<'_>, id: &str) -> Result<UploadDoc, AwsError> {
    match storage::read_upload(&req.app.store, req.bucket(), id)? {
        Some(u) if u.key == req.key() => Ok(u),
        _ => Err(no_such_upload(id)),
    }
}

/// UploadPart's `partNumber`: `number` as read, or the text that is not one.
fn part_number(number: i32, unparsed: Option<&str>) -> Result<u32, AwsError> {
    match (number, unparsed) {
        (n, None) if (1..=10000).contains(&n) => Ok(n as u32),
        (n, text) => Err(invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            &text.map_or_else(|| n.to_string(), str::to_owned),
        )),
    }
}

/// CreateMultipartUpload (`POST /<bucket>/<key>?uploads`).
pub(super) async fn create(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::CreateMultipartUploadRequest = req.input(Operation::CreateMultipartUpload)?;
    check_key(&input.key)?;
    let bucket_doc = buckets::require(req.app, &input.bucket)?;
    let upload = upload!(input);
    let attrs = attrs(&upload)?;
    // The object gets the encryption in force when the upload starts.
    let sse = requested_sse(&upload)?.unwrap_or_else(|| bucket_doc.default_sse());
    let algorithm = match &input.checksum_algorithm {
        Some(a) => Some(Algorithm::parse(a).ok_or_else(unsupported_algorithm)?),
        None => None,
    };
    let kind =
        match &input.checksum_type {
            Some(t) => Some(ChecksumType::parse(t).ok_or_else(|| {
                invalid_request("Value for x-amz-checksum-type header is invalid.")
            })?),
            None => None,
        };
    let kind = match (algorithm, kind) {
        (None, Some(_)) => {
            return Err(invalid_request("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."))
        }
        (None, None) => None,
        (Some(a), Some(ChecksumType::FullObject)) if !a.is_crc() => {
            return Err(invalid_request(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                a.name().to_ascii_lowercase()
            )))
        }
        (Some(Algorithm::Crc64Nvme), Some(ChecksumType::Composite)) => {
            return Err(invalid_request(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ))
        }
        (Some(_), Some(k)) => Some(k),
        (Some(Algorithm::Crc64Nvme), None) => Some(ChecksumType::FullObject),
        (Some(_), None) => Some(ChecksumType::Composite),
    };
    let id = {
        let raw: [u8; 48] = rand::random();
        checksum::b64(&raw).replace('+', "-").replace('/', "_")
    };
    let (bucket, doc_id) = (req.bucket().to_owned(), id.clone());
    let doc = UploadDoc {
        key: req.key().to_owned(),
        initiated_ms: 0,
        content_type: attrs.content_type,
        headers: attrs.headers,
        metadata: attrs.metadata,
        storage_class: attrs.storage_class,
        checksum_algorithm: algorithm,
        checksum_type: kind,
        sse: Some(sse.clone()),
        parts: BTreeMap::new(),
    };
    req.app
        .store
        .write(move |tx| {
            BucketDoc::get(tx.catalog(), &bucket).ok_or_else(|| no_such_bucket(&bucket))?;
            let doc = UploadDoc {
                initiated_ms: tx.now_ms(),
                ..doc.clone()
            };
            storage::put_upload(tx, &bucket, &doc_id, &doc)
        })
        .await?;
    let (checksum_algorithm, checksum_type) = checksum::upload_members(algorithm, kind);
    let out = types::CreateMultipartUploadOutput {
        bucket: Some(req.bucket().to_owned()),
        key: Some(req.key().to_owned()),
        upload_id: Some(id),
        checksum_algorithm,
        checksum_type,
        // The encryption headers are written from the upload's `Sse`, as for every object
        // answer; lifecycle abort rules and SSE-C are not implemented.
        ..Default::default()
    };
    let mut r = xml_response(xml::document("InitiateMultipartUploadResult", &out));
    sse_headers(&mut r, Some(&sse));
    if let (Some(a), Some(k)) = (&out.checksum_algorithm, &out.checksum_type) {
        set_header(&mut r, "x-amz-checksum-algorithm", a);
        set_header(&mut r, "x-amz-checksum-type", k);
    }
    Ok(r)
}

/// UploadPart (`PUT /<bucket>/<key>?partNumber=N&uploadId=ID`). Re-uploading a part number
/// replaces it.
pub(super) async fn upload_part(req: &Request<'_>) -> Result<Response, AwsError> {
    if req.headers.contains_key("x-amz-copy-source") {
        return Err(not_implemented("UploadPartCopy"));
    }
    let (input, unparsed): (types::UploadPartRequest, _) =
        req.input_and_unparsed(Operation::UploadPart)?;
    buckets::require(req.app, &input.bucket)?;
    let number = part_number(input.part_number, sent(&unparsed, "PartNumber"))?;
    let id = input.upload_id;
    let upload = require_upload(req, &id)?;
    let got = receive(req)?;
    // A part of an upload created with a checksum algorithm carries that algorithm's checksum
    // (computed here when the client sent none). Uploads created without one still accept
    // (verified) part checksums, which current SDKs send by default, but do not keep them.
    let checksum = match (upload.checksum_algorithm, &got.checksum) {
        (Some(expected), Some(c)) if expected != c.algorithm => {
            return Err(invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                expected.name().to_ascii_lowercase(),
                c.algorithm.name().to_ascii_lowercase()
            )))
        }
        (Some(_), Some(c)) => Some(c.value.clone()),
        (Some(a), None) => Some(a.b64(&got.data)),
        (None, _) => None,
    };
    let part = PartInfo {
        size: got.data.len() as u64,
        etag: checksum::hex(&got.md5),
        data: storage::new_data_id(),
        modified_ms: 0,
        checksum,
    };
    let (bucket, key, data) = (req.bucket().to_owned(), req.key().to_owned(), got.data);
    let stored = part.clone();
    req.app
        .store
        .write(move |tx| {
            let mut upload = match storage::tx_upload(tx, &bucket, &id)? {
                Some(u) if u.key == key => u,
                _ => return Err(no_such_upload(&id)),
            };
            storage::write_data(tx, &part.data, &data)?;
            let part = PartInfo {
                modified_ms: tx.now_ms(),
                ..part.clone()
            };
            if let Some(old) = upload.parts.insert(number, part) {
                storage::delete_data(tx, &old.data)?;
            }
            storage::put_upload(tx, &bucket, &id, &upload)
        })
        .await?;
    let mut r = empty_response(StatusCode::OK);
    set_header(&mut r, "etag", &format!("\"{}\"", stored.etag));
    sse_headers(&mut r, upload.sse.as_ref());
    if let (Some(a), Some(v)) = (upload.checksum_algorithm, &stored.checksum) {
        set_header(&mut r, a.header(), v);
    }
    Ok(r)
}

/// One `<Part>` of a CompleteMultipartUpload body.
struct ListedPart {
    number: u32,
    etag: String,
    checksums: Vec<(Algorithm, String)>,
}

/// The parts a CompleteMultipartUpload body lists; each needs its number and ETag.
fn listed_parts(doc: types::CompletedMultipartUpload) -> Result<Vec<ListedPart>, AwsError> {
    let mut parts = Vec::new();
    for p in doc.parts.unwrap_or_default() {
        let number = p
            .part_number
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(xml::malformed)?;
        let etag = p.e_tag.as_deref().ok_or_else(xml::malformed)?;
        let checksums = checksum_members!(p)
            .into_iter()
            .filter_map(|(a, v)| Some((a, v?.trim().to_owned())))
            .collect();
        parts.push(ListedPart {
            number,
            etag: etag.trim().trim_matches('"').to_owned(),
            checksums,
        });
    }
    if parts.is_empty() {
        return Err(xml::malformed());
    }
    Ok(parts)
}

fn invalid_part(id: &str, p: &ListedPart) -> AwsError {
    let e = AwsError::new(
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
    );
    extra(
        extra(extra(e, "UploadId", id), "PartNumber", p.number.to_string()),
        "ETag",
        p.etag.clone(),
    )
}

/// CompleteMultipartUpload (`POST /<bucket>/<key>?uploadId=ID`): the listed parts, in order,
/// become the object; parts not listed are dropped.
pub(super) async fn complete(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::CompleteMultipartUploadRequest =
        req.input(Operation::CompleteMultipartUpload)?;
    buckets::require(req.app, &input.bucket)?;
    let id = input.upload_id.clone();
    let upload = require_upload(req, &id)?;
    let listed = listed_parts(req.document(Operation::CompleteMultipartUpload, &req.body)?)?;
    if listed.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(extra(
            AwsError::new(
                "InvalidPartOrder",
                400,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ),
            "UploadId",
            id,
        ));
    }
    let mut chosen: Vec<PartInfo> = Vec::with_capacity(listed.len());
    for p in &listed {
        let part = upload
            .parts
            .get(&p.number)
            .filter(|u| u.etag == p.etag)
            .ok_or_else(|| invalid_part(&id, p))?;
        if let Some(a) = upload.checksum_algorithm {
            match p.checksums.iter().find(|(alg, _)| *alg == a) {
                Some((_, v)) if Some(v) != part.checksum.as_ref() => {
                    return Err(invalid_part(&id, p))
                }
                Some(_) => {}
                None if upload.checksum_type == Some(ChecksumType::Composite) => {
                    return Err(invalid_request(format!(
                        "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                        a.name().to_ascii_lowercase(),
                        p.number
                    )))
                }
                None => {}
            }
        }
        chosen.push(part.clone());
    }
    for (i, (p, part)) in listed.iter().zip(&chosen).enumerate() {
        if i + 1 < listed.len() && part.size < MIN_PART_BYTES {
            let e = AwsError::new(
                "EntityTooSmall",
                400,
                "Your proposed upload is smaller than the minimum allowed size",
            );
            return Err(extra(
                extra(
                    extra(
                        extra(e, "ProposedSize", part.size.to_string()),
                        "MinSizeAllowed",
                        MIN_PART_BYTES.to_string(),
                    ),
                    "PartNumber",
                    p.number.to_string(),
                ),
                "ETag",
                p.etag.clone(),
            ));
        }
    }
    let total: u64 = chosen.iter().map(|p| p.size).sum();
    if total > MAX_OBJECT_BYTES {
        return Err(entity_too_large(total));
    }
    let segments: Vec<Segment> = chosen
        .iter()
        .map(|p| Segment {
            data: p.data.clone(),
            size: p.size,
        })
        .collect();
    let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
    let etag = checksum::multipart_etag(&etags)
        .ok_or_else(|| AwsError::internal("stored part etag is not hex"))?;
    let object_checksum = match (upload.checksum_algorithm, upload.checksum_type) {
        (Some(a), Some(ChecksumType::Composite)) => {
            let values: Vec<&str> = chosen
                .iter()
                .map(|p| p.checksum.as_deref().unwrap_or_default())
                .collect();
            let value = checksum::composite(a, &values)
                .ok_or_else(|| AwsError::internal("stored part checksum is not base64"))?;
            Checksum {
                algorithm: a,
                value,
                kind: ChecksumType::Composite,
            }
        }
        (algorithm, _) => {
            // A full-object checksum covers the assembled bytes.
            let algorithm = algorithm.unwrap_or(Algorithm::Crc64Nvme);
            let data = storage::read_data(&req.app.store, &segments, 0, total)?
                .ok_or_else(|| invalid_part(&id, &listed[0]))?;
            let full = Checksum::full(algorithm, &data);
            let sent = checksum_members!(input)
                .into_iter()
                .find_map(|(a, v)| v.filter(|_| a == algorithm));
            if let Some(sent) = sent {
                if sent != full.value {
                    return Err(AwsError::new(
                        "BadDigest",
                        400,
                        format!(
                            "The {} you specified did not match the calculated checksum.",
                            algorithm.name()
                        ),
                    ));
                }
            }
            full
        }
    };
    let meta = ObjectMeta {
        size: total,
        etag,
        modified_ms: 0,
        content_type: upload.content_type.clone(),
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
        storage_class: upload.storage_class.clone(),
        checksum: Some(object_checksum),
        segments,
        parts: Some(chosen.iter().map(|p| p.size).collect()),
        version_id: None,
        sse: upload.sse.clone(),
    };
    let (bucket, key, tx_id) = (req.bucket().to_owned(), req.key().to_owned(), id.clone());
    let meta = req
        .app
        .store
        .write(move |tx| {
            let mut b =
                BucketDoc::get(tx.catalog(), &bucket).ok_or_else(|| no_such_bucket(&bucket))?;
            let current = match storage::tx_upload(tx, &bucket, &tx_id)? {
                Some(u) if u.key == key => u,
                _ => return Err(no_such_upload(&tx_id)),
            };
            // A part re-uploaded since the checks above changes what was validated.
            for (p, part) in listed.iter().zip(&chosen) {
                if current.parts.get(&p.number) != Some(part) {
                    return Err(invalid_part(&tx_id, p));
                }
            }
            let mut kv = KeyVersions::load(tx, &bucket, &key)?;
            let meta = ObjectMeta {
                modified_ms: tx.now_ms(),
                ..meta.clone()
            };
            let meta = kv.put(b.versioning, meta);
            let kept: Vec<&str> = chosen.iter().map(|p| p.data.as_str()).collect();
            for part in current.parts.values() {
                if !kept.contains(&part.data.as_str()) {
                    storage::delete_data(tx, &part.data)?;
                }
            }
            tx.kv_delete(storage::UPLOADS, &storage::upload_key(&bucket, &tx_id))?;
            kv.store(tx, &mut b)?;
            Ok(meta)
        })
        .await?;
    let location = format!(
        "{}/{}/{}",
        req.app.cfg.endpoint_url.trim_end_matches('/'),
        req.bucket(),
        req.key()
            .split('/')
            .map(|s| s
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' =>
                        (b as char).to_string(),
                    b => format!("%{b:02X}"),
                })
                .collect::<String>())
            .collect::<Vec<_>>()
            .join("/")
    );
    let found = meta
        .checksum
        .as_ref()
        .map(|c| (c.algorithm, c.value.as_str()));
    let checksum = |a| checksum::member_value(found, a);
    let out = types::CompleteMultipartUploadOutput {
        location: Some(location),
        bucket: Some(req.bucket().to_owned()),
        key: Some(req.key().to_owned()),
        e_tag: Some(format!("\"{}\"", meta.etag)),
        checksum_crc32: checksum(Algorithm::Crc32),
        checksum_crc32_c: checksum(Algorithm::Crc32c),
        checksum_crc64_nvme: checksum(Algorithm::Crc64Nvme),
        checksum_sha1: checksum(Algorithm::Sha1),
        checksum_sha256: checksum(Algorithm::Sha256),
        checksum_type: meta.checksum.as_ref().map(|c| c.kind.name().to_owned()),
        version_id: meta.version_id.clone(),
        // The encryption headers are written from the object's `Sse`, as for every object
        // answer; lifecycle expiration is not implemented.
        ..Default::default()
    };
    let mut r = xml_response(xml::document("CompleteMultipartUploadResult", &out));
    sse_headers(&mut r, meta.sse.as_ref());
    if let Some(v) = &out.version_id {
        set_header(&mut r, "x-amz-version-id", v);
    }
    Ok(r)
}

/// AbortMultipartUpload: the upload and its parts go; 204.
pub(super) async fn abort(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::AbortMultipartUploadRequest = req.input(Operation::AbortMultipartUpload)?;
    buckets::require(req.app, &input.bucket)?;
    let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
    req.app
        .store
        .write(move |tx| {
            let upload = match storage::tx_upload(tx, &bucket, &id)? {
                Some(u) if u.key == key => u,
                _ => return Err(no_such_upload(&id)),
            };
            for part in upload.parts.values() {
                storage::delete_data(tx, &part.data)?;
            }
            tx.kv_delete(storage::UPLOADS, &storage::upload_key(&bucket, &id))?;
            Ok(())
        })
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// `max-parts` or `max-uploads`: at most [`MAX_PARTS_LISTED`]; a negative one is refused as S3
/// refuses one that is no integer.
fn max_param(max: Option<i32>, name: &str) -> Result<usize, AwsError> {
    match max {
        None => Ok(MAX_PARTS_LISTED),
        Some(n) if n >= 0 => Ok((n as usize).min(MAX_PARTS_LISTED)),
        Some(n) => Err(invalid_argument(
            &format!("Provided {name} not an integer or within integer range"),
            name,
            &n.to_string(),
        )),
    }
}

/// ListParts (`GET /<bucket>/<key>?uploadId=ID`).
pub(super) fn list_parts(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::ListPartsRequest = req.input(Operation::ListParts)?;
    buckets::require(req.app, &input.bucket)?;
    let id = input.upload_id;
    let upload = require_upload(req, &id)?;
    let max = max_param(input.max_parts, "max-parts")?;
    let marker: u32 = match input.part_number_marker {
        None => 0,
        Some(n) => u32::try_from(n).map_err(|_| {
            invalid_argument(
                "Provided part-number-marker not an integer or within integer range",
                "part-number-marker",
                &n.to_string(),
            )
        })?,
    };
    let after: Vec<(&u32, &PartInfo)> = upload.parts.range(marker + 1..).collect();
    let shown = &after[..max.min(after.len())];
    let truncated = shown.len() < after.len();
    let owner = buckets::owner(&req.app.cfg.account_id);
    let parts: Vec<types::Part> = shown
        .iter()
        .map(|(n, p)| {
            let found = upload.checksum_algorithm.zip(p.checksum.as_deref());
            let checksum = |a| checksum::member_value(found, a);
            types::Part {
                part_number: Some(**n as i32),
                last_modified: Some(timestamp(p.modified_ms)),
                e_tag: Some(format!("\"{}\"", p.etag)),
                size: Some(p.size as i64),
                checksum_crc32: checksum(Algorithm::Crc32),
                checksum_crc32_c: checksum(Algorithm::Crc32c),
                checksum_crc64_nvme: checksum(Algorithm::Crc64Nvme),
                checksum_sha1: checksum(Algorithm::Sha1),
                checksum_sha256: checksum(Algorithm::Sha256),
                ..Default::default()
            }
        })
        .collect();
    let (checksum_algorithm, checksum_type) =
        checksum::upload_members(upload.checksum_algorithm, upload.checksum_type);
    let out = types::ListPartsOutput {
        bucket: Some(req.bucket().to_owned()),
        key: Some(req.key().to_owned()),
        upload_id: Some(id),
        part_number_marker: Some(marker as i32),
        next_part_number_marker: shown.last().map(|(n, _)| **n as i32),
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        parts: (!parts.is_empty()).then_some(parts),
        initiator: Some(types::Initiator {
            id: owner.id.clone(),
            display_name: None,
        }),
        owner: Some(owner),
        storage_class: Some(upload.storage_class.clone()),
        checksum_algorithm,
        checksum_type,
        // No lifecycle abort rules (AbortDate, AbortRuleId), no requester pays, no
        // directory buckets (VersionId).
        ..Default::default()
    };
    Ok(xml_response(xml::document("ListPartsResult", &out)))
}

/// ListMultipartUploads (`GET /<bucket>?uploads`): by key, then initiation time; `prefix`,
/// `key-marker`/`upload-id-marker` and `max-uploads` (no delimiter roll-up).
pub(super) fn list_uploads(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::ListMultipartUploadsRequest = req.input(Operation::ListMultipartUploads)?;
    buckets::require(req.app, &input.bucket)?;
    let max = max_param(input.max_uploads, "max-uploads")?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let key_marker = input.key_marker.unwrap_or_default();
    let id_marker = input.upload_id_marker.unwrap_or_default();
    let mut uploads = storage::uploads_of(&req.app.store, req.bucket())?;
    uploads.retain(|(_, u)| u.key.starts_with(&prefix));
    uploads.sort_by(|(ia, a), (ib, b)| {
        (&a.key, a.initiated_ms, ia).cmp(&(&b.key, b.initiated_ms, ib))
    });
    let skip = if key_marker.is_empty() {
        0
    } else {
        let resume_at = uploads
            .iter()
            .position(|(id, u)| u.key == key_marker && *id == id_marker)
            .map(|i| i + 1);
        resume_at.unwrap_or_else(|| {
            uploads
                .iter()
                .position(|(_, u)| u.key > key_marker)
                .unwrap_or(uploads.len())
        })
    };
    let rest = &uploads[skip..];
    let shown = &rest[..max.min(rest.len())];
    let truncated = shown.len() < rest.len();
    let owner = buckets::owner(&req.app.cfg.account_id);
    let listed: Vec<types::MultipartUpload> = shown
        .iter()
        .map(|(id, u)| {
            let (checksum_algorithm, checksum_type) =
                checksum::upload_members(u.checksum_algorithm, u.checksum_type);
            types::MultipartUpload {
                upload_id: Some(id.clone()),
                key: Some(u.key.clone()),
                initiated: Some(timestamp(u.initiated_ms)),
                storage_class: Some(u.storage_class.clone()),
                owner: Some(owner.clone()),
                initiator: Some(types::Initiator {
                    id: owner.id.clone(),
                    display_name: None,
                }),
                checksum_algorithm,
                checksum_type,
                // Directory buckets only.
                version_id: None,
            }
        })
        .collect();
    let next = shown.last().filter(|_| truncated);
    let out = types::ListMultipartUploadsOutput {
        bucket: Some(req.bucket().to_owned()),
        key_marker: Some(key_marker),
        upload_id_marker: Some(id_marker),
        next_key_marker: next.map(|(_, u)| u.key.clone()),
        prefix: input.prefix.is_some().then_some(prefix),
        next_upload_id_marker: next.map(|(id, _)| id.clone()),
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        uploads: (!listed.is_empty()).then_some(listed),
        // No delimiter roll-up, so no common prefixes; keys are not URL-encoded.
        ..Default::default()
    };
    Ok(xml_response(xml::document(
        "ListMultipartUploadsResult",
        &out,
    )))
}
