//! Bucket operations: CreateBucket, ListBuckets, HeadBucket, DeleteBucket and
//! GetBucketLocation (the configuration subresources are in [`config`](super::config)).

use std::ops::Bound;

use axum::http::StatusCode;
use axum::response::Response;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;

use super::input::sent;
use super::storage::{self, BucketDoc};
use super::{
    empty_response, extra, invalid_argument, no_such_bucket, set_header, timestamp, types, xml,
    xml_response, Request,
};
use crate::S3 as App;

/// Whether a bucket exists; takes a bucket name or its ARN (`arn:aws:s3:::name`).
pub fn bucket_exists(app: &App, name_or_arn: &str) -> bool {
    BucketDoc::get(&app.store.catalog(), bucket_name(name_or_arn)).is_some()
}

/// The bucket name of a name or a bucket ARN.
pub(super) fn bucket_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(rest) if rest.contains(":s3:::") => rest.split(":s3:::").nth(1).unwrap_or_default(),
        _ => name_or_arn,
    }
}

/// The bucket, or `NoSuchBucket`.
pub(super) fn require(app: &App, name: &str) -> Result<BucketDoc, AwsError> {
    BucketDoc::get(&app.store.catalog(), name).ok_or_else(|| no_such_bucket(name))
}

/// AWS's naming rules for general purpose buckets.
pub(super) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && edge_ok(b.first())
        && edge_ok(b.last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Whether a `LocationConstraint` names a region (or `EU`, the legacy name of eu-west-1).
fn known_region(c: &str) -> bool {
    if c == "EU" {
        return true;
    }
    let parts: Vec<&str> = c.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// CreateBucket. The region rules follow S3's: through us-east-1 a bucket goes to the region
/// its `LocationConstraint` names (us-east-1 when there is none, and naming `us-east-1`
/// explicitly is invalid); through any other region the constraint must name that region.
/// Re-creating an own bucket is `BucketAlreadyOwnedByYou`, except in us-east-1, where S3 answers
/// 200 for legacy compatibility.
pub(super) async fn create(req: &Request<'_>) -> Result<Response, AwsError> {
    let name = req.bucket().to_owned();
    if !valid_name(&name) {
        return Err(extra(
            AwsError::new(
                "InvalidBucketName",
                400,
                "The specified bucket is not valid.",
            ),
            "BucketName",
            name,
        ));
    }
    let input: types::CreateBucketRequest = req.input(Operation::CreateBucket)?;
    let constraint = location_constraint(req)?;
    let ownership = super::config::requested_ownership(input.object_ownership.as_deref())?;
    let existing = BucketDoc::get(&req.app.store.catalog(), &name);
    let endpoint = req.region.as_str();
    if let Some(b) = existing {
        if b.region == "us-east-1" && endpoint == "us-east-1" && constraint.is_none() {
            return Ok(created(&name));
        }
        return Err(already_owned(&name));
    }
    let region = match constraint.as_deref() {
        Some(c) if c == "us-east-1" || !known_region(c) => {
            return Err(extra(
                AwsError::new(
                    "InvalidLocationConstraint",
                    400,
                    "The specified location-constraint is not valid",
                ),
                "LocationConstraint",
                c,
            ))
        }
        Some("EU") => "eu-west-1".to_owned(),
        Some(c) if endpoint == "us-east-1" || c == endpoint => c.to_owned(),
        None if endpoint == "us-east-1" => "us-east-1".to_owned(),
        other => {
            let what = other.unwrap_or("unspecified");
            return Err(AwsError::new(
                "IllegalLocationConstraintException",
                400,
                format!("The {what} location constraint is incompatible for the region specific endpoint this request was sent to."),
            ));
        }
    };
    let doc_name = name.clone();
    req.app
        .store
        .write(move |tx| {
            if BucketDoc::get(tx.catalog(), &doc_name).is_some() {
                return Err(already_owned(&doc_name));
            }
            BucketDoc::new(
                doc_name.clone(),
                region.clone(),
                tx.now_ms(),
                ownership.clone(),
            )
            .put(tx)
        })
        .await?;
    Ok(created(&name))
}

fn created(name: &str) -> Response {
    let mut r = empty_response(StatusCode::OK);
    set_header(&mut r, "location", &format!("/{name}"));
    r
}

fn already_owned(name: &str) -> AwsError {
    extra(
        AwsError::new(
            "BucketAlreadyOwnedByYou",
            409,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        "BucketName",
        name,
    )
}

/// The `LocationConstraint` of a CreateBucket body, if any.
fn location_constraint(req: &Request<'_>) -> Result<Option<String>, AwsError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let config: types::CreateBucketConfiguration =
        req.document(Operation::CreateBucket, &req.body)?;
    Ok(config
        .location_constraint
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty()))
}

/// ListBuckets, with the optional `prefix`, `bucket-region`, `max-buckets` and
/// `continuation-token` of the current API.
pub(super) fn list(req: &Request<'_>) -> Result<Response, AwsError> {
    let (input, unparsed): (types::ListBucketsRequest, _) =
        req.input_and_unparsed(Operation::ListBuckets)?;
    let max = match (input.max_buckets, sent(&unparsed, "MaxBuckets")) {
        (Some(n), _) if (1..=10000).contains(&n) => Some(n as usize),
        (None, None) => None,
        (n, text) => {
            let shown = text.map_or_else(|| n.unwrap_or_default().to_string(), str::to_owned);
            return Err(invalid_argument(
                "Argument max-buckets must be an integer between 1 and 10000",
                "max-buckets",
                &shown,
            ));
        }
    };
    let after = match &input.continuation_token {
        None => None,
        Some(t) => Some(
            super::checksum::from_b64(t)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    invalid_argument(
                        "The continuation token provided is incorrect",
                        "continuation-token",
                        t,
                    )
                })?,
        ),
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    let region = input.bucket_region.as_ref();
    let buckets: Vec<BucketDoc> = BucketDoc::all(&req.app.store.catalog())
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .filter(|b| region.is_none_or(|r| &b.region == r))
        .filter(|b| after.as_ref().is_none_or(|a| &b.name > a))
        .collect();
    let shown = max.unwrap_or(usize::MAX).min(buckets.len());
    let out = types::ListBucketsOutput {
        buckets: Some(
            buckets[..shown]
                .iter()
                // BucketArn is only returned for directory buckets.
                .map(|b| types::Bucket {
                    name: Some(b.name.clone()),
                    creation_date: Some(timestamp(b.created_ms)),
                    bucket_region: Some(b.region.clone()),
                    bucket_arn: None,
                })
                .collect(),
        ),
        owner: Some(owner(&req.app.cfg.account_id)),
        continuation_token: (shown < buckets.len())
            .then(|| super::checksum::b64(buckets[shown - 1].name.as_bytes())),
        prefix: input.prefix.is_some().then_some(prefix),
    };
    Ok(xml_response(xml::document("ListAllMyBucketsResult", &out)))
}

/// The owner of every bucket and object: the account's canonical id (S3 no longer returns
/// display names).
pub(super) fn owner(account_id: &str) -> types::Owner {
    types::Owner {
        id: Some(storage::owner_id(account_id)),
        display_name: None,
    }
}

/// HeadBucket: 200 with the bucket's region, or a body-less 404.
pub(super) fn head(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = require(req.app, req.bucket())?;
    let mut r = empty_response(StatusCode::OK);
    set_header(&mut r, "x-amz-bucket-region", &b.region);
    set_header(&mut r, "x-amz-access-point-alias", "false");
    Ok(r)
}

/// GetBucketLocation: the region, empty for us-east-1 (S3's legacy convention).
pub(super) fn location(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = require(req.app, req.bucket())?;
    let out = types::GetBucketLocationOutput {
        location_constraint: (b.region != "us-east-1").then_some(b.region),
    };
    // The member is the root element's text (`<LocationConstraint xmlns="…">eu-west-1
    // </LocationConstraint>`), not a child element as the generated `write_xml` writes it.
    let mut x = xml::start("LocationConstraint");
    if let Some(c) = &out.location_constraint {
        x.raw(&tributary_shapes::xml::escape(c));
    }
    x.close("LocationConstraint");
    Ok(xml_response(xml::finish(x)))
}

/// DeleteBucket: only an empty bucket goes, one without objects, older versions or delete
/// markers (`BucketNotEmpty` otherwise); multipart uploads still in progress and the bucket's
/// configuration go with it.
pub(super) async fn delete(req: &Request<'_>) -> Result<Response, AwsError> {
    let name = req.bucket().to_owned();
    require(req.app, &name)?;
    let uploads: Vec<String> = storage::uploads_of(&req.app.store, &name)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    req.app
        .store
        .write(move |tx| {
            let b = BucketDoc::get(tx.catalog(), &name).ok_or_else(|| no_such_bucket(&name))?;
            if b.objects > 0 || b.versions > 0 {
                let message = if b.versioning.is_some() {
                    "The bucket you tried to delete is not empty. You must delete all versions in the bucket."
                } else {
                    "The bucket you tried to delete is not empty"
                };
                return Err(extra(
                    AwsError::new("BucketNotEmpty", 409, message),
                    "BucketName",
                    name.clone(),
                ));
            }
            for id in &uploads {
                if let Some(u) = storage::tx_upload(tx, &name, id)? {
                    for p in u.parts.values() {
                        storage::delete_data(tx, &p.data)?;
                    }
                }
            }
            let lo = storage::object_key(&name, "");
            let hi = storage::bucket_end(&name);
            tx.kv_delete_range(storage::UPLOADS, Bound::Included(&lo), Bound::Excluded(&hi))?;
            tx.kv_delete_range(storage::VERSIONS, Bound::Included(&lo), Bound::Excluded(&hi))?;
            tx.delete_doc(storage::BUCKET_KIND, &name)
        })
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_bucket_naming_rules() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "my_bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--ol-s3",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn recognises_regions_and_arns() {
        assert!(known_region("eu-west-1"));
        assert!(known_region("us-gov-west-1"));
        assert!(known_region("EU"));
        assert!(!known_region("moon-base"));
        assert!(!known_region("eu-west"));
        assert_eq!(bucket_name("arn:aws:s3:::logs"), "logs");
        assert_eq!(bucket_name("logs"), "logs");
    }
}
