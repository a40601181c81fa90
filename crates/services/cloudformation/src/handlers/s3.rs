//! `AWS::S3::Bucket` and `AWS::S3::BucketPolicy`, over S3's REST-XML API. A bucket's
//! configurations are set with their own subresource calls after CreateBucket, as
//! CloudFormation sets them; a configuration S3 here does not serve fails the resource.

use bytes::Bytes;
use http::Method;
use serde_json::Value;
use tributary_cfn::Replacement;
use tributary_service::query::{escape, Xml};

use super::*;

const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Properties set through a subresource after the bucket exists.
const CONFIGURATIONS: &[&str] = &[
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "Tags",
];

async fn s3(
    cx: &Cx<'_>,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Bytes, ApiError> {
    let headers = if body.is_some() {
        vec![("content-type", "application/xml".to_owned())]
    } else {
        Vec::new()
    };
    cx.calls
        .rest_xml(
            "s3",
            method,
            path,
            &headers,
            body.map(Bytes::from).unwrap_or_default(),
        )
        .await
}

fn doc(root: &str, inner: impl FnOnce(&mut Xml)) -> String {
    let mut x = Xml::new();
    x.raw(&format!("<{root} xmlns=\"{}\">", escape(NS)));
    inner(&mut x);
    x.close(root);
    x.into_string()
}

fn flag(v: &Value, key: &str) -> String {
    as_bool(v.get(key).unwrap_or(&Value::Bool(false)))
        .unwrap_or(false)
        .to_string()
}

/// The subresource call that sets one configuration property (`None`: remove it).
fn configuration(
    property: &str,
    v: Option<&Value>,
) -> Option<(Method, &'static str, Option<String>)> {
    let Some(v) = v else {
        return Some(match property {
            "VersioningConfiguration" => (
                Method::PUT,
                "versioning",
                Some(doc("VersioningConfiguration", |x| {
                    x.elem("Status", "Suspended");
                })),
            ),
            "BucketEncryption" => (Method::DELETE, "encryption", None),
            "PublicAccessBlockConfiguration" => (Method::DELETE, "publicAccessBlock", None),
            "OwnershipControls" => (Method::DELETE, "ownershipControls", None),
            "Tags" => (Method::DELETE, "tagging", None),
            _ => return None,
        });
    };
    Some(match property {
        "VersioningConfiguration" => (
            Method::PUT,
            "versioning",
            Some(doc("VersioningConfiguration", |x| {
                x.elem("Status", &string(v, "Status").unwrap_or_default());
            })),
        ),
        "BucketEncryption" => (
            Method::PUT,
            "encryption",
            Some(doc("ServerSideEncryptionConfiguration", |x| {
                let rules = v
                    .get("ServerSideEncryptionConfiguration")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for rule in rules {
                    x.open("Rule");
                    if let Some(d) = rule.get("ServerSideEncryptionByDefault") {
                        x.open("ApplyServerSideEncryptionByDefault");
                        x.elem(
                            "SSEAlgorithm",
                            &string(d, "SSEAlgorithm").unwrap_or_default(),
                        );
                        if let Some(k) = string(d, "KMSMasterKeyID") {
                            x.elem("KMSMasterKeyID", &k);
                        }
                        x.close("ApplyServerSideEncryptionByDefault");
                    }
                    if rule.get("BucketKeyEnabled").is_some() {
                        x.elem("BucketKeyEnabled", &flag(&rule, "BucketKeyEnabled"));
                    }
                    x.close("Rule");
                }
            })),
        ),
        "PublicAccessBlockConfiguration" => (
            Method::PUT,
            "publicAccessBlock",
            Some(doc("PublicAccessBlockConfiguration", |x| {
                for key in [
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                ] {
                    x.elem(key, &flag(v, key));
                }
            })),
        ),
        "OwnershipControls" => (
            Method::PUT,
            "ownershipControls",
            Some(doc("OwnershipControls", |x| {
                for rule in v
                    .get("Rules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    x.open("Rule");
                    x.elem(
                        "ObjectOwnership",
                        &string(&rule, "ObjectOwnership").unwrap_or_default(),
                    );
                    x.close("Rule");
                }
            })),
        ),
        "Tags" => {
            let list = tags(&serde_json::json!({ "Tags": v }), "Tags");
            (
                Method::PUT,
                "tagging",
                Some(doc("Tagging", |x| {
                    x.open("TagSet");
                    for (k, val) in &list {
                        x.open("Tag").elem("Key", k).elem("Value", val).close("Tag");
                    }
                    x.close("TagSet");
                })),
            )
        }
        _ => return None,
    })
}

fn bucket_attrs(cx: &Cx<'_>, name: &str) -> Created {
    let region = cx.region;
    Created::new(name)
        .with_ref(name)
        .attr("Arn", format!("arn:aws:s3:::{name}"))
        .attr("DomainName", format!("{name}.s3.amazonaws.com"))
        .attr(
            "RegionalDomainName",
            format!("{name}.s3.{region}.amazonaws.com"),
        )
        .attr(
            "DualStackDomainName",
            format!("{name}.s3.dualstack.{region}.amazonaws.com"),
        )
        .attr(
            "WebsiteURL",
            format!("http://{name}.s3-website-{region}.amazonaws.com"),
        )
}

fn unsupported(props: &Value) -> Option<String> {
    props
        .as_object()?
        .keys()
        .find(|k| !CONFIGURATIONS.contains(&k.as_str()) && *k != "BucketName")
        .cloned()
}

pub struct Bucket;

#[async_trait::async_trait]
impl Handler for Bucket {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "BucketName" | "ObjectLockEnabled" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("BucketName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        if let Some(p) = unsupported(props) {
            return Err(Failure(format!(
                "The property {p} of AWS::S3::Bucket is not supported by this server"
            )));
        }
        let name = string(props, "BucketName")
            .unwrap_or_else(|| cx.physical_name(logical_id, 63).to_ascii_lowercase());
        let path = format!("/{}", segment(&name));
        s3(cx, Method::PUT, &path, None).await?;
        let all_tags: Vec<Value> = cx
            .resource_tags(props)
            .iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        for property in CONFIGURATIONS {
            let value = if *property == "Tags" {
                (!all_tags.is_empty()).then(|| Value::Array(all_tags.clone()))
            } else {
                props.get(*property).cloned()
            };
            let Some(value) = value else { continue };
            if let Some((method, sub, body)) = configuration(property, Some(&value)) {
                if let Err(e) = s3(cx, method, &format!("{path}?{sub}"), body).await {
                    let _ = s3(cx, Method::DELETE, &path, None).await;
                    return Err(e.into());
                }
            }
        }
        Ok(bucket_attrs(cx, &name))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        if let Some(p) = unsupported(props) {
            return Err(Failure(format!(
                "The property {p} of AWS::S3::Bucket is not supported by this server"
            )));
        }
        let name = current.physical_id;
        let path = format!("/{}", segment(name));
        for property in CONFIGURATIONS {
            let (was, now) = (current.properties.get(*property), props.get(*property));
            if was == now {
                continue;
            }
            if let Some((method, sub, body)) = configuration(property, now) {
                match s3(cx, method, &format!("{path}?{sub}"), body).await {
                    Ok(_) => {}
                    Err(e) if now.is_none() && gone(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(bucket_attrs(cx, name))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        match s3(
            cx,
            Method::DELETE,
            &format!("/{}", segment(current.physical_id)),
            None,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == "NoSuchBucket" => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub struct BucketPolicy;

#[async_trait::async_trait]
impl Handler for BucketPolicy {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "Bucket" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let bucket = required(props, "Bucket")?;
        let policy = props
            .get("PolicyDocument")
            .map(document)
            .ok_or_else(|| Failure::property("#: required key [PolicyDocument] not found"))?;
        s3(
            cx,
            Method::PUT,
            &format!("/{}?policy", segment(&bucket)),
            Some(policy),
        )
        .await?;
        Ok(Created::new(bucket.clone()).with_ref(bucket))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let policy = props
            .get("PolicyDocument")
            .map(document)
            .unwrap_or_default();
        s3(
            cx,
            Method::PUT,
            &format!("/{}?policy", segment(current.physical_id)),
            Some(policy),
        )
        .await?;
        Ok(Created::new(current.physical_id).with_ref(current.physical_id))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        match s3(
            cx,
            Method::DELETE,
            &format!("/{}?policy", segment(current.physical_id)),
            None,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) || e.code == "NoSuchBucketPolicy" => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
