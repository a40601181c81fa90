//! S3 through `Service::call`, without a socket: bucket configuration subresources and object
//! versions against an in-memory store (an on-disk one for the restart test), checking the
//! statuses, headers and documents a client sees.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use http_body_util::BodyExt as _;
use tributary_model::ManualClock;
use tributary_s3::S3;
use tributary_service::{Caller, Config, Protocol, Route, Service as _};
use tributary_store::Store;

const T0: i64 = 1_700_000_000_000;

fn config() -> Arc<Config> {
    Arc::new(Config {
        region: "us-east-1".to_owned(),
        account_id: "000000000000".to_owned(),
        endpoint_url: "http://127.0.0.1:4566".to_owned(),
        work_dir: std::env::temp_dir(),
        stream_shards: 1,
        shard_rollover_ms: 4 * 3_600_000,
        log_retention_days: None,
        stream_retention_ms: 24 * 3_600_000,
        metrics_retention_ms: 3_600_000,
    })
}

fn s3(dir: Option<&Path>) -> (S3, Store) {
    let store = Store::open(dir, ManualClock::new(T0)).expect("a store");
    (S3::new(config(), store.clone()), store)
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The texts of the body's `<name>` elements, in order.
    fn elems(&self, name: &str) -> Vec<&str> {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        self.body
            .split(open.as_str())
            .skip(1)
            .filter_map(|rest| rest.split_once(close.as_str()).map(|(text, _)| text))
            .collect()
    }

    /// The text of the first `<name>` element of the body.
    fn elem(&self, name: &str) -> Option<&str> {
        self.elems(name).first().copied()
    }

    fn error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.elem("Code")),
            (status, Some(code)),
            "{}",
            self.body
        );
    }
}

async fn call(s3: &S3, method: Method, path: &str, body: &str) -> Answer {
    call_with(s3, method, path, body, &[]).await
}

async fn call_with(
    s3: &S3,
    method: Method,
    path: &str,
    body: &str,
    headers: &[(&'static str, &str)],
) -> Answer {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    for (name, value) in headers {
        h.insert(*name, HeaderValue::from_str(value).expect("a header value"));
    }
    let req = tributary_service::Request {
        method,
        uri: path.parse::<Uri>().expect("a path"),
        headers: h,
        body: Bytes::from(body.to_owned()),
        route: Route {
            service: "s3".to_owned(),
            protocol: Protocol::RestXml,
        },
        caller: Some(Caller {
            access_key: "test".to_owned(),
            account_id: "000000000000".to_owned(),
            session_token: None,
            arn: Some("arn:aws:iam::000000000000:user/dev".to_owned()),
        }),
    };
    let resp = s3.call(req).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

const ENABLED: &str = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";

#[tokio::test]
async fn versions_delete_markers_and_the_null_version() {
    let (s3, _store) = s3(None);
    assert_eq!(call(&s3, Method::PUT, "/vbkt", "").await.status, 200);
    // An object from before versioning is the null version.
    call(&s3, Method::PUT, "/vbkt/k", "zero").await;
    assert_eq!(
        call(&s3, Method::PUT, "/vbkt?versioning", ENABLED)
            .await
            .status,
        200
    );
    let got = call(&s3, Method::GET, "/vbkt?versioning", "").await;
    assert_eq!(got.elem("Status"), Some("Enabled"));

    let v1 = call(&s3, Method::PUT, "/vbkt/k", "one").await;
    let v1 = v1
        .header("x-amz-version-id")
        .expect("a version id")
        .to_owned();
    let got = call(&s3, Method::GET, "/vbkt/k", "").await;
    assert_eq!(
        (got.body.as_str(), got.header("x-amz-version-id")),
        ("one", Some(v1.as_str()))
    );
    let null = call(&s3, Method::GET, "/vbkt/k?versionId=null", "").await;
    assert_eq!(
        (null.body.as_str(), null.header("x-amz-version-id")),
        ("zero", Some("null"))
    );

    let d = call(&s3, Method::DELETE, "/vbkt/k", "").await;
    assert_eq!(
        (d.status, d.header("x-amz-delete-marker")),
        (204, Some("true"))
    );
    let marker = d
        .header("x-amz-version-id")
        .expect("the marker's id")
        .to_owned();
    let gone = call(&s3, Method::GET, "/vbkt/k", "").await;
    gone.error(404, "NoSuchKey");
    assert_eq!(gone.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(gone.header("x-amz-version-id"), Some(marker.as_str()));
    let head = call(
        &s3,
        Method::HEAD,
        &format!("/vbkt/k?versionId={marker}"),
        "",
    )
    .await;
    assert_eq!((head.status, head.body.as_str()), (405, ""));
    assert_eq!(head.header("x-amz-delete-marker"), Some("true"));

    let listed = call(&s3, Method::GET, "/vbkt?versions", "").await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.elems("VersionId"),
        [marker.as_str(), v1.as_str(), "null"]
    );
    // S3 writes a marker's Owner before its Key, as the model orders them.
    let marker_xml = listed
        .body
        .split("<DeleteMarker>")
        .nth(1)
        .and_then(|rest| rest.split("</DeleteMarker>").next())
        .expect("a DeleteMarker element");
    assert!(marker_xml.starts_with("<Owner>"), "{marker_xml}");
    assert!(marker_xml.contains("<Key>k</Key>"), "{marker_xml}");
    assert_eq!(listed.elem("IsLatest"), Some("true"));

    // Listings show no key whose latest version is a delete marker.
    let objects = call(&s3, Method::GET, "/vbkt?list-type=2", "").await;
    assert_eq!(objects.elem("KeyCount"), Some("0"));
    call(&s3, Method::DELETE, "/vbkt", "")
        .await
        .error(409, "BucketNotEmpty");

    // Suspended: a put replaces the null version and keeps the others.
    let suspend = "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>";
    call(&s3, Method::PUT, "/vbkt?versioning", suspend).await;
    let put = call(&s3, Method::PUT, "/vbkt/k", "two").await;
    assert_eq!(put.header("x-amz-version-id"), None);
    let listed = call(&s3, Method::GET, "/vbkt?versions", "").await;
    assert_eq!(listed.body.matches("<Version>").count(), 2);
    assert_eq!(listed.body.matches("<DeleteMarker>").count(), 1);

    for v in ["null", v1.as_str(), marker.as_str()] {
        assert_eq!(
            call(&s3, Method::DELETE, &format!("/vbkt/k?versionId={v}"), "")
                .await
                .status,
            204
        );
    }
    assert_eq!(call(&s3, Method::DELETE, "/vbkt", "").await.status, 204);
}

#[tokio::test]
async fn configuration_subresources_route_by_method() {
    let (s3, _store) = s3(None);
    call(&s3, Method::PUT, "/cbkt", "").await;
    call(&s3, Method::POST, "/cbkt?tagging", "")
        .await
        .error(405, "MethodNotAllowed");
    call(&s3, Method::PUT, "/cbkt?versions", "")
        .await
        .error(405, "MethodNotAllowed");
    call(&s3, Method::DELETE, "/cbkt?versioning", "")
        .await
        .error(405, "MethodNotAllowed");
    call(&s3, Method::PUT, "/cbkt/obj?tagging", "")
        .await
        .error(501, "NotImplemented");
    call(&s3, Method::GET, "/cbkt?cors", "")
        .await
        .error(501, "NotImplemented");
    call(&s3, Method::PUT, "/cbkt?tagging", "<Nope/>")
        .await
        .error(400, "MalformedXML");
    call(&s3, Method::GET, "/missing?encryption", "")
        .await
        .error(404, "NoSuchBucket");

    // A public policy names the caller when BlockPublicPolicy refuses it.
    let public = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cbkt/*"}]}"#;
    let refused = call(&s3, Method::PUT, "/cbkt?policy", public).await;
    refused.error(403, "AccessDenied");
    assert!(refused.elem("Message").is_some_and(
        |m| m.starts_with("User: arn:aws:iam::000000000000:user/dev is not authorized")
    ));
    assert_eq!(s3.bucket_policy("cbkt"), None);
    let private = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3:*","Resource":"arn:aws:s3:::cbkt"}]}"#;
    assert_eq!(
        call(&s3, Method::PUT, "/cbkt?policy", private).await.status,
        204
    );
    assert_eq!(s3.bucket_policy("cbkt").as_deref(), Some(private));
    assert_eq!(
        s3.bucket_policy("arn:aws:s3:::cbkt").as_deref(),
        Some(private)
    );

    // A wrong Content-MD5 is refused before anything is stored.
    let tags = "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>";
    call_with(
        &s3,
        Method::PUT,
        "/cbkt?tagging",
        tags,
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
    )
    .await
    .error(400, "BadDigest");
    call(&s3, Method::GET, "/cbkt?tagging", "")
        .await
        .error(404, "NoSuchTagSet");
}

#[tokio::test]
async fn configuration_and_versions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let v1 = {
        let (s3, store) = s3(Some(dir.path()));
        call(&s3, Method::PUT, "/rbkt", "").await;
        call(&s3, Method::PUT, "/rbkt?versioning", ENABLED).await;
        let tags = "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>";
        assert_eq!(
            call(&s3, Method::PUT, "/rbkt?tagging", tags).await.status,
            204
        );
        let kms = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
                   <SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>\
                   </ServerSideEncryptionConfiguration>";
        assert_eq!(
            call(&s3, Method::PUT, "/rbkt?encryption", kms).await.status,
            200
        );
        let v1 = call(&s3, Method::PUT, "/rbkt/k", "one").await;
        call(&s3, Method::PUT, "/rbkt/k", "two").await;
        store.close();
        v1.header("x-amz-version-id")
            .expect("a version id")
            .to_owned()
    };
    let (s3, _store) = s3(Some(dir.path()));
    let got = call(&s3, Method::GET, &format!("/rbkt/k?versionId={v1}"), "").await;
    assert_eq!(got.body, "one");
    assert_eq!(got.header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert_eq!(
        call(&s3, Method::GET, "/rbkt?tagging", "")
            .await
            .elem("Key"),
        Some("a")
    );
    assert_eq!(
        call(&s3, Method::GET, "/rbkt?versioning", "")
            .await
            .elem("Status"),
        Some("Enabled")
    );
    call(&s3, Method::DELETE, "/rbkt", "")
        .await
        .error(409, "BucketNotEmpty");
}
