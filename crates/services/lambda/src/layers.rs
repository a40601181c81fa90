//! Layers (`/2018-10-31/layers`): PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
//! ListLayerVersions and DeleteLayerVersion. A function's `Layers` (at most 5 version ARNs)
//! are merged in order, later ones overwriting earlier ones, into one folder the runtime
//! sees where Lambda mounts `/opt` (`python/`, `nodejs/node_modules/`, `bin/`, `lib/` on
//! its search paths).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tributary_model::AwsError;
use tributary_service::json::lambda_err;

use crate::types::{
    DeleteLayerVersionRequest, GetLayerVersionByArnRequest, GetLayerVersionRequest,
    GetLayerVersionResponse, Layer, LayerVersionContentOutput, LayerVersionsListItem,
    LayersListItem, ListLayerVersionsRequest, ListLayerVersionsResponse, ListLayersRequest,
    ListLayersResponse, PublishLayerVersionRequest, PublishLayerVersionResponse,
};
use crate::Lambda;

/// Document kinds: one per version (`<name>:<number, 10 digits>`), and the name's counter.
pub const VERSION_KIND: &str = "layer-version";
pub const LAYER_KIND: &str = "layer";
/// The most layers a function may use.
const MAX_LAYERS: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerVersionDoc {
    pub name: String,
    pub version: u64,
    #[serde(default)]
    pub description: String,
    pub created_ms: i64,
    #[serde(default)]
    pub compatible_runtimes: Vec<String>,
    #[serde(default)]
    pub compatible_architectures: Vec<String>,
    #[serde(default)]
    pub license_info: Option<String>,
    pub code_sha256: String,
    pub code_size: i64,
    /// Blob id of the zip.
    pub blob: String,
}

/// The members of a whole layer version's answer.
struct Rendered {
    content: LayerVersionContentOutput,
    layer_arn: String,
    item: LayerVersionsListItem,
}

macro_rules! layer_version_output {
    ($t:ty) => {
        impl From<Rendered> for $t {
            fn from(r: Rendered) -> $t {
                Self {
                    content: Some(r.content),
                    layer_arn: Some(r.layer_arn),
                    layer_version_arn: r.item.layer_version_arn,
                    description: r.item.description,
                    created_date: r.item.created_date,
                    version: r.item.version,
                    compatible_architectures: r.item.compatible_architectures,
                    compatible_runtimes: r.item.compatible_runtimes,
                    license_info: r.item.license_info,
                }
            }
        }
    };
}
layer_version_output!(PublishLayerVersionResponse);
layer_version_output!(GetLayerVersionResponse);

fn version_id(name: &str, n: u64) -> String {
    format!("{name}:{n:010}")
}

fn layer_arn(app: &Lambda, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:layer:{name}",
        app.cfg.region, app.cfg.account_id
    )
}

impl LayerVersionDoc {
    pub fn arn(&self, app: &Lambda) -> String {
        format!("{}:{}", layer_arn(app, &self.name), self.version)
    }

    /// The whole version, as PublishLayerVersion and GetLayerVersion(ByArn) answer it (two
    /// output structures with the same members).
    fn render<T: From<Rendered>>(&self, app: &Lambda) -> T {
        T::from(Rendered {
            content: LayerVersionContentOutput {
                location: Some(format!(
                    "{}/_tributary/layers/{}/{}/content",
                    app.cfg.endpoint_url.trim_end_matches('/'),
                    self.name,
                    self.version
                )),
                code_sha256: Some(self.code_sha256.clone()),
                code_size: Some(self.code_size),
                // Layers are not signed, and their content is this server's own blob.
                ..Default::default()
            },
            layer_arn: layer_arn(app, &self.name),
            item: self.summary(app),
        })
    }

    /// The version as ListLayerVersions and ListLayers list it.
    fn summary(&self, app: &Lambda) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: Some(self.arn(app)),
            version: Some(i64::try_from(self.version).unwrap_or(i64::MAX)),
            description: Some(self.description.clone()),
            created_date: Some(tributary_model::clock::lambda_timestamp(self.created_ms)),
            compatible_architectures: Some(self.compatible_architectures.clone()),
            compatible_runtimes: Some(self.compatible_runtimes.clone()),
            license_info: self.license_info.clone(),
        }
    }

    /// A version by name and number.
    pub fn load(app: &Lambda, name: &str, n: u64) -> Option<LayerVersionDoc> {
        app.store
            .catalog()
            .doc(VERSION_KIND, &version_id(name, n))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A version by its ARN (this account and region only).
    pub fn by_arn(app: &Lambda, arn: &str) -> Option<LayerVersionDoc> {
        let rest = arn.strip_prefix(&layer_arn(app, ""))?;
        let (name, n) = rest.rsplit_once(':')?;
        LayerVersionDoc::load(app, name, n.parse().ok()?)
    }

    fn all_of(app: &Lambda, name: &str) -> Vec<LayerVersionDoc> {
        let prefix = format!("{name}:");
        app.store
            .catalog()
            .docs_of(VERSION_KIND)
            .filter(|(id, _)| id.starts_with(&prefix))
            .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(tributary_service::json::constraint(
        &Value::String(name.into()),
        "layerName",
        "Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
    ))
}

/// PublishLayerVersion; `bad_zip` is the refusal of a `Content.ZipFile` that is not base64
/// (left out of the request).
pub async fn publish(
    app: &Lambda,
    req: PublishLayerVersionRequest,
    bad_zip: Option<AwsError>,
) -> Result<PublishLayerVersionResponse, AwsError> {
    let name = req.layer_name.as_str();
    check_name(name)?;
    // `Content` is required: the validator has refused a request without it. `ZipFile` is
    // decoded already.
    let content = req.content;
    if let Some(refusal) = bad_zip {
        return Err(refusal);
    }
    let zip = match content.zip_file {
        Some(zip) => zip.0,
        None if content.s3_bucket.is_some() => {
            let bucket = content.s3_bucket.as_deref().unwrap_or_default();
            let key = content.s3_key.as_deref().unwrap_or_default();
            let version = content.s3_object_version.as_deref();
            app.objects.get(bucket, key, version).map_err(|e| {
                lambda_err::invalid_parameter(format!(
                    "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                    e.code, e.message
                ))
            })?
        }
        None => {
            return Err(lambda_err::invalid_parameter(
                "Please provide a source for layer content.",
            ))
        }
    };
    if zip::ZipArchive::new(std::io::Cursor::new(&zip)).is_err() {
        return Err(lambda_err::invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ));
    }
    let runtimes = req.compatible_runtimes.unwrap_or_default();
    if runtimes.len() > 15 {
        return Err(lambda_err::invalid_parameter(
            "CompatibleRuntimes can have at most 15 entries",
        ));
    }
    let architectures = req.compatible_architectures.unwrap_or_default();
    let sha = Sha256::digest(&zip);
    let sha_hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let mut doc = LayerVersionDoc {
        name: name.to_owned(),
        version: 0,
        description: req.description.unwrap_or_default(),
        created_ms: app.store.clock().now_millis(),
        compatible_runtimes: runtimes,
        compatible_architectures: architectures,
        license_info: req.license_info,
        code_sha256: base64::engine::general_purpose::STANDARD.encode(sha),
        code_size: zip.len() as i64,
        blob: format!("layer/{name}/{sha_hex}"),
    };
    let layer = name.to_owned();
    let template = doc.clone();
    let stored = app
        .store
        .write(move |tx| {
            // Numbers are never reused, even after a version is deleted.
            let last = tx
                .catalog()
                .doc(LAYER_KIND, &layer)
                .and_then(|v| v.get("LastVersion").and_then(Value::as_u64))
                .unwrap_or(0);
            let mut d = template.clone();
            d.version = last + 1;
            tx.put_blob(&d.blob, &zip)?;
            tx.put_doc(LAYER_KIND, &layer, json!({"LastVersion": d.version}))?;
            tx.put_doc(
                VERSION_KIND,
                &version_id(&layer, d.version),
                serde_json::to_value(&d).unwrap_or_default(),
            )?;
            Ok(d)
        })
        .await?;
    doc.version = stored.version;
    Ok(doc.render(app))
}

fn not_found(name: &str, n: &str) -> AwsError {
    lambda_err::not_found(format!(
        "The resource you requested does not exist. (Layer {name} version {n})"
    ))
}

fn number(n: &str) -> Result<u64, AwsError> {
    n.parse()
        .map_err(|_| lambda_err::invalid_parameter(format!("Invalid layer version number: {n}")))
}

/// GetLayerVersion; `n` is the version number as the path gave it (AWS's messages quote it).
pub fn get(
    app: &Lambda,
    req: GetLayerVersionRequest,
    n: &str,
) -> Result<GetLayerVersionResponse, AwsError> {
    let name = req.layer_name.as_str();
    let v = LayerVersionDoc::load(app, name, number(n)?).ok_or_else(|| not_found(name, n))?;
    Ok(v.render(app))
}

pub fn get_by_arn(
    app: &Lambda,
    req: GetLayerVersionByArnRequest,
) -> Result<GetLayerVersionResponse, AwsError> {
    let v = LayerVersionDoc::by_arn(app, &req.arn)
        .ok_or_else(|| lambda_err::not_found("The resource you requested does not exist."))?;
    Ok(v.render(app))
}

/// Whether a version is compatible with the runtime and architecture a list asks for.
fn matches(v: &LayerVersionDoc, runtime: Option<&String>, architecture: Option<&String>) -> bool {
    runtime.is_none_or(|r| v.compatible_runtimes.contains(r))
        && architecture.is_none_or(|a| v.compatible_architectures.contains(a))
}

/// ListLayerVersions: every version, newest first (`Marker` and `MaxItems` are not served:
/// one page).
pub fn list_versions(
    app: &Lambda,
    req: ListLayerVersionsRequest,
) -> Result<ListLayerVersionsResponse, AwsError> {
    let mut all = LayerVersionDoc::all_of(app, &req.layer_name);
    all.retain(|v| {
        matches(
            v,
            req.compatible_runtime.as_ref(),
            req.compatible_architecture.as_ref(),
        )
    });
    all.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(ListLayerVersionsResponse {
        next_marker: None,
        layer_versions: Some(all.iter().map(|v| v.summary(app)).collect()),
    })
}

/// ListLayers: each layer with its newest matching version (`Marker` and `MaxItems` are not
/// served: one page).
pub fn list(app: &Lambda, req: ListLayersRequest) -> Result<ListLayersResponse, AwsError> {
    let mut latest: BTreeMap<String, LayerVersionDoc> = BTreeMap::new();
    for (_, v) in app.store.catalog().docs_of(VERSION_KIND) {
        let Ok(d) = serde_json::from_value::<LayerVersionDoc>(v.clone()) else {
            continue;
        };
        if !matches(
            &d,
            req.compatible_runtime.as_ref(),
            req.compatible_architecture.as_ref(),
        ) {
            continue;
        }
        match latest.get(&d.name) {
            Some(cur) if cur.version >= d.version => {}
            _ => {
                latest.insert(d.name.clone(), d);
            }
        }
    }
    let layers: Vec<LayersListItem> = latest
        .values()
        .map(|d| LayersListItem {
            layer_name: Some(d.name.clone()),
            layer_arn: Some(layer_arn(app, &d.name)),
            latest_matching_version: Some(d.summary(app)),
        })
        .collect();
    Ok(ListLayersResponse {
        next_marker: None,
        layers: Some(layers),
    })
}

/// DeleteLayerVersion; `n` is the version number as the path gave it (AWS's messages quote
/// it).
pub async fn delete(app: &Lambda, req: DeleteLayerVersionRequest, n: &str) -> Result<(), AwsError> {
    let name = req.layer_name.as_str();
    let n = number(n)?;
    // Deleting a version that does not exist succeeds, as on AWS.
    if LayerVersionDoc::load(app, name, n).is_none() {
        return Ok(());
    }
    let id = version_id(name, n);
    // The content stays for the functions that still use it, as on Lambda.
    app.store
        .write(move |tx| tx.delete_doc(VERSION_KIND, &id))
        .await
}

/// Checks a function's `Layers`: version ARNs of this server's layers, at most five.
pub fn check_function_layers(app: &Lambda, arns: &[String]) -> Result<(), AwsError> {
    if arns.len() > MAX_LAYERS {
        return Err(lambda_err::invalid_parameter(format!(
            "Cannot reference more than {MAX_LAYERS} layers."
        )));
    }
    for arn in arns {
        if LayerVersionDoc::by_arn(app, arn).is_none() {
            return Err(lambda_err::invalid_parameter(format!(
                "Layer version {arn} does not exist."
            )));
        }
    }
    Ok(())
}

/// `Layers` of a function configuration.
pub fn configuration(app: &Lambda, arns: &[String]) -> Vec<Layer> {
    arns.iter()
        .map(|a| Layer {
            arn: Some(a.clone()),
            code_size: Some(LayerVersionDoc::by_arn(app, a).map_or(0, |v| v.code_size)),
            // Layers are not signed.
            signing_profile_version_arn: None,
            signing_job_arn: None,
        })
        .collect()
}

/// The folder of a function's layers merged in order (later layers overwrite earlier ones'
/// files), unpacked once per combination.
pub async fn merged_dir(app: &Lambda, arns: &[String]) -> Result<Option<PathBuf>, AwsError> {
    if arns.is_empty() {
        return Ok(None);
    }
    let docs: Vec<LayerVersionDoc> = arns
        .iter()
        .map(|a| {
            LayerVersionDoc::by_arn(app, a)
                .ok_or_else(|| lambda_err::service(format!("Layer version {a} is missing")))
        })
        .collect::<Result<_, _>>()?;
    let mut h = Sha256::new();
    for d in &docs {
        h.update(d.blob.as_bytes());
        h.update(b"\0");
    }
    let key: String = h
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = app.cfg.work_dir.join("layers").join(key);
    if dir.exists() {
        return Ok(Some(dir));
    }
    let mut zips = Vec::new();
    for d in &docs {
        zips.push(
            app.store
                .get_blob(&d.blob)?
                .ok_or_else(|| lambda_err::service("Layer content is missing"))?,
        );
    }
    let target = dir.clone();
    tokio::task::spawn_blocking(move || merge(zips, &target))
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?
        .map_err(|e| lambda_err::service(format!("Could not unpack the function's layers: {e}")))?;
    Ok(Some(dir))
}

fn merge(zips: Vec<Vec<u8>>, dir: &Path) -> Result<(), String> {
    let tmp = dir.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        for (i, zip) in zips.iter().enumerate() {
            let one = tmp.with_extension(format!("layer{i}"));
            tributary_functions::unpack_zip(zip, &one).map_err(|e| format!("{e:?}"))?;
            move_into(&one, &tmp).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_dir_all(&one);
        }
        std::fs::rename(&tmp, dir).map_err(|e| e.to_string())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if result.is_err() && dir.exists() {
        return Ok(());
    }
    result
}

/// Moves every entry of `from` into `to`, replacing files already there.
fn move_into(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        if meta.is_dir() && std::fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
            move_into(&src, &dst)?;
        } else {
            if let Ok(m) = std::fs::symlink_metadata(&dst) {
                if m.is_dir() {
                    std::fs::remove_dir_all(&dst)?;
                } else {
                    std::fs::remove_file(&dst)?;
                }
            }
            std::fs::rename(&src, &dst)?;
        }
    }
    Ok(())
}
