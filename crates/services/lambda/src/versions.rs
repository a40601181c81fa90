//! Versions (PublishVersion, ListVersionsByFunction, DeleteFunction with a version) and aliases
//! (Create/Get/Update/Delete/ListAliases), with AWS's messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_model::AwsError;

use super::{
    check_description, check_revision, docs_with_prefix, is_version_number, resolve_function,
    to_json, version_id, FunctionDoc, ALIAS_KIND, FUNCTION_KIND, VERSION_KIND,
};
use crate::types::{
    AliasConfiguration, AliasRoutingConfiguration, CreateAliasRequest, DeleteAliasRequest,
    FunctionConfiguration, GetAliasRequest, ListAliasesRequest, ListAliasesResponse,
    ListVersionsByFunctionRequest, ListVersionsByFunctionResponse, PublishVersionRequest,
    UpdateAliasRequest,
};
use crate::Lambda;
use tributary_service::json::{constraint, lambda_err};

const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
const VERSION_PATTERN: &str = r"(\$LATEST|[0-9]+)";

/// An alias as stored (`name:alias` in [`ALIAS_KIND`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasDoc {
    pub function: String,
    pub name: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`: version → share of invocations (0..1).
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

impl AliasDoc {
    pub fn load(app: &Lambda, function: &str, alias: &str) -> Option<AliasDoc> {
        let cat = app.store.catalog();
        cat.doc(ALIAS_KIND, &format!("{function}:{alias}"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    fn arn(&self, app: &Lambda) -> String {
        format!(
            "{}:{}",
            super::function_arn_of(app, &self.function),
            self.name
        )
    }

    /// `AliasConfiguration`.
    fn render(&self, app: &Lambda) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: Some(self.arn(app)),
            name: Some(self.name.clone()),
            function_version: Some(self.function_version.clone()),
            description: Some(self.description.clone()),
            routing_config: (!self.weights.is_empty()).then(|| AliasRoutingConfiguration {
                additional_version_weights: Some(self.weights.clone()),
            }),
            revision_id: Some(self.revision_id.clone()),
        }
    }

    /// The version one invocation through this alias runs: an additional version with its
    /// weight's probability, the primary version otherwise.
    pub fn pick_version(&self) -> &str {
        let roll: f64 = rand::random();
        let mut acc = 0.0;
        for (version, weight) in &self.weights {
            acc += weight;
            if roll < acc {
                return version;
            }
        }
        &self.function_version
    }

    /// Whether this alias sends any invocation to `version`.
    fn references(&self, version: &str) -> bool {
        self.function_version == version || self.weights.contains_key(version)
    }
}

/// Publishes `$LATEST` of `name` as a new version, or answers the newest version when nothing
/// changed since it was published (as AWS does). `code_sha256` and `revision_id`, when given,
/// must match `$LATEST`.
pub async fn publish(
    app: &Lambda,
    name: &str,
    description: Option<String>,
    revision_id: Option<String>,
    code_sha256: Option<String>,
) -> Result<FunctionDoc, AwsError> {
    let name = name.to_owned();
    let arn = super::function_arn_of(app, &name);
    app.store
        .write(move |tx| {
            let latest: FunctionDoc = tx
                .catalog()
                .doc(FUNCTION_KIND, &name)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(|| lambda_err::not_found(format!("Function not found: {arn}")))?;
            check_revision(revision_id.as_deref(), &latest.revision_id)?;
            if let Some(sha) = &code_sha256 {
                if *sha != latest.code_sha256 {
                    return Err(lambda_err::invalid_parameter(format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                        latest.code_sha256
                    )));
                }
            }
            let newest: Option<FunctionDoc> = tx
                .catalog()
                .doc(VERSION_KIND, &version_id(&name, latest.last_version))
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            if let Some(newest) = newest {
                if newest.config_revision() == latest.config_revision() {
                    return Ok(newest);
                }
            }
            let n = latest.last_version + 1;
            let version = super::new_version(&latest, n, description.as_deref());
            let mut latest = latest;
            latest.last_version = n;
            tx.put_doc(VERSION_KIND, &version_id(&name, n), to_json(&version)?)?;
            tx.put_doc(FUNCTION_KIND, &name, to_json(&latest)?)?;
            Ok(version)
        })
        .await
}

pub async fn publish_version(
    app: &Lambda,
    req: PublishVersionRequest,
) -> Result<FunctionConfiguration, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    check_description(req.description.as_deref())?;
    let arn = function.arn(app);
    app.state.check_idle(&function, &arn)?;
    // `PublishTo` (Lambda managed instances) is not served: versions publish as usual.
    let version = publish(
        app,
        &function.name,
        req.description,
        req.revision_id,
        req.code_sha256,
    )
    .await?;
    Ok(version.configuration_as(app, format!("{arn}:{}", version.version)))
}

/// ListVersionsByFunction: `$LATEST` first, then the versions in order, each under its
/// qualified ARN and without state members. `MaxItems` is read from the query string: a value that
/// is not a number is not in the typed request, and AWS's message quotes it.
pub fn list_versions(
    app: &Lambda,
    req: ListVersionsByFunctionRequest,
    query: &BTreeMap<String, String>,
) -> Result<ListVersionsByFunctionResponse, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    let max = tributary_service::json::max_items(query, 50)?;
    let arn = function.arn(app);
    let mut all = vec![function.clone()];
    all.extend(FunctionDoc::versions(app, &function.name));
    let start = match &req.marker {
        Some(m) => all
            .iter()
            .position(|d| &d.version == m)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<&FunctionDoc> = all.iter().skip(start).take(max).collect();
    let next_marker = if start + page.len() < all.len() {
        page.last().map(|last| last.version.clone())
    } else {
        None
    };
    Ok(ListVersionsByFunctionResponse {
        next_marker,
        versions: Some(
            page.iter()
                .map(|d| d.listed_as(app, format!("{arn}:{}", d.version)))
                .collect(),
        ),
    })
}

/// DeleteFunction with a version qualifier: refused while aliases route to it.
pub async fn delete_version(app: &Lambda, version: &FunctionDoc) -> Result<(), AwsError> {
    let name = version.name.clone();
    let number: u64 = version.version.parse().unwrap_or_default();
    let label = version.version.clone();
    let blob = version.code_blob.clone();
    app.store
        .write(move |tx| {
            let cat = tx.catalog();
            let referencing: Vec<String> = docs_with_prefix(cat, ALIAS_KIND, &name)
                .filter_map(|(_, v)| serde_json::from_value::<AliasDoc>(v.clone()).ok())
                .filter(|a| a.references(&label))
                .map(|a| a.name)
                .collect();
            if !referencing.is_empty() {
                return Err(lambda_err::conflict(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    referencing.join(", ")
                )));
            }
            tx.delete_doc(VERSION_KIND, &version_id(&name, number))?;
            if !super::blob_in_use(tx.catalog(), &name, &blob) {
                tx.delete_blob(&blob)?;
            }
            Ok(())
        })
        .await?;
    app.forget_spec(&version.name, &version.version);
    app.state.forget_version(&version.name, &version.version);
    app.host
        .retire_version(&version.name, &version.version)
        .await;
    Ok(())
}

fn check_alias_name(alias: &str) -> Result<(), AwsError> {
    let ok = !alias.is_empty()
        && alias.len() <= 128
        && !is_version_number(alias)
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(constraint(
            &Value::String(alias.into()),
            "name",
            &format!("Member must satisfy regular expression pattern: {ALIAS_PATTERN}"),
        ))
    }
}

fn check_function_version(version: &str) -> Result<(), AwsError> {
    if version == "$LATEST" || (is_version_number(version) && version.len() <= 1024) {
        Ok(())
    } else {
        Err(constraint(
            &Value::String(version.into()),
            "functionVersion",
            &format!("Member must satisfy regular expression pattern: {VERSION_PATTERN}"),
        ))
    }
}

/// A number as AWS's (Java) validator prints it: `2.0`, `0.5`, `-1.0`.
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.is_finite() {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Parses and validates `RoutingConfig.AdditionalVersionWeights` for an alias whose primary
/// version is `primary`, in the order AWS checks: value ranges and key patterns, then the
/// count, then the versions themselves.
fn parse_weights(
    app: &Lambda,
    function: &FunctionDoc,
    primary: &str,
    weights: Option<&BTreeMap<String, f64>>,
) -> Result<BTreeMap<String, f64>, AwsError> {
    let Some(weights) = weights else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (version, &w) in weights {
        let shown = format!("{{{version}={}}}", java_double(w));
        if !(0.0..=1.0).contains(&w) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{shown}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
            )));
        }
        if !is_version_number(version) || version.len() > 1024 {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{shown}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]"
            )));
        }
        out.insert(version.clone(), w);
    }
    if out.len() > 1 {
        return Err(lambda_err::invalid_parameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    if out.contains_key(primary) {
        return Err(lambda_err::invalid_parameter(format!(
            "Invalid function version {primary}. Function version {primary} is already included in routing configuration."
        )));
    }
    if !out.is_empty() && primary == "$LATEST" {
        return Err(lambda_err::invalid_parameter(
            "$LATEST is not supported for an alias pointing to more than 1 version",
        ));
    }
    for version in out.keys() {
        version_exists(app, function, version)?;
    }
    Ok(out)
}

/// `Function not found: <arn>:<version>` unless `version` of `function` exists.
fn version_exists(app: &Lambda, function: &FunctionDoc, version: &str) -> Result<(), AwsError> {
    let exists =
        version == "$LATEST" || FunctionDoc::load_version(app, &function.name, version).is_some();
    if exists {
        Ok(())
    } else {
        Err(lambda_err::not_found(format!(
            "Function not found: {}:{version}",
            function.arn(app)
        )))
    }
}

pub async fn create_alias(
    app: &Lambda,
    req: CreateAliasRequest,
) -> Result<AliasConfiguration, AwsError> {
    // Name and FunctionVersion are required: the validator has refused a request without them.
    let alias_name = req.name.as_str();
    check_alias_name(alias_name)?;
    let version = req.function_version.as_str();
    check_function_version(version)?;
    let description = req.description.as_deref();
    check_description(description)?;
    let function = resolve_function(app, &req.function_name)?;
    version_exists(app, &function, version)?;
    let weights = parse_weights(
        app,
        &function,
        version,
        req.routing_config
            .as_ref()
            .and_then(|r| r.additional_version_weights.as_ref()),
    )?;
    let alias = AliasDoc {
        function: function.name.clone(),
        name: alias_name.to_owned(),
        function_version: version.to_owned(),
        description: description.unwrap_or("").to_owned(),
        weights,
        revision_id: uuid::Uuid::new_v4().to_string(),
    };
    let stored = alias.clone();
    let arn = alias.arn(app);
    app.store
        .write(move |tx| {
            let id = format!("{}:{}", stored.function, stored.name);
            if tx.catalog().doc(ALIAS_KIND, &id).is_some() {
                return Err(lambda_err::conflict(format!("Alias already exists: {arn}")));
            }
            if tx.catalog().doc(FUNCTION_KIND, &stored.function).is_none() {
                return Err(lambda_err::not_found(format!(
                    "Function not found: {}",
                    arn.rsplit_once(':').map_or(arn.as_str(), |(f, _)| f)
                )));
            }
            tx.put_doc(ALIAS_KIND, &id, to_json(&stored)?)
        })
        .await?;
    Ok(alias.render(app))
}

pub fn get_alias(app: &Lambda, req: GetAliasRequest) -> Result<AliasConfiguration, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    let alias = req.name.as_str();
    check_alias_name(alias)?;
    AliasDoc::load(app, &function.name, alias)
        .map(|a| a.render(app))
        .ok_or_else(|| {
            lambda_err::not_found(format!(
                "Cannot find alias arn: {}:{alias}",
                function.arn(app)
            ))
        })
}

pub async fn update_alias(
    app: &Lambda,
    req: UpdateAliasRequest,
) -> Result<AliasConfiguration, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    let alias = req.name.as_str();
    check_alias_name(alias)?;
    let version = req.function_version.as_deref();
    if let Some(v) = version {
        check_function_version(v)?;
    }
    let description = req.description.as_deref();
    check_description(description)?;
    let mut doc = AliasDoc::load(app, &function.name, alias).ok_or_else(|| {
        lambda_err::not_found(format!("Alias not found: {}:{alias}", function.arn(app)))
    })?;
    check_revision(req.revision_id.as_deref(), &doc.revision_id)?;
    if let Some(v) = version {
        version_exists(app, &function, v)?;
        doc.function_version = v.to_owned();
    }
    if let Some(d) = description {
        doc.description = d.to_owned();
    }
    if let Some(routing) = &req.routing_config {
        doc.weights = parse_weights(
            app,
            &function,
            &doc.function_version,
            routing.additional_version_weights.as_ref(),
        )?;
    } else if !doc.weights.is_empty() {
        // The kept weights must still make sense with a new primary version.
        let kept = std::mem::take(&mut doc.weights);
        doc.weights = parse_weights(app, &function, &doc.function_version, Some(&kept))?;
    }
    let expected = doc.revision_id.clone();
    doc.revision_id = uuid::Uuid::new_v4().to_string();
    let stored = doc.clone();
    let arn = doc.arn(app);
    app.store
        .write(move |tx| {
            let id = format!("{}:{}", stored.function, stored.name);
            let current = tx
                .catalog()
                .doc(ALIAS_KIND, &id)
                .and_then(|v| v.get("revision_id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match current {
                None => Err(lambda_err::not_found(format!("Alias not found: {arn}"))),
                Some(r) if r != expected => Err(AwsError::new(
                    "PreconditionFailedException",
                    412,
                    super::REVISION_MISMATCH,
                )),
                Some(_) => tx.put_doc(ALIAS_KIND, &id, to_json(&stored)?),
            }
        })
        .await?;
    Ok(doc.render(app))
}

/// DeleteAlias: deleting an alias that does not exist succeeds, as on AWS.
pub async fn delete_alias(app: &Lambda, req: DeleteAliasRequest) -> Result<(), AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    let alias = req.name.as_str();
    check_alias_name(alias)?;
    let id = format!("{}:{alias}", function.name);
    app.store
        .write(move |tx| {
            if tx.catalog().doc(ALIAS_KIND, &id).is_some() {
                tx.delete_doc(ALIAS_KIND, &id)?;
            }
            Ok(())
        })
        .await
}

/// ListAliases. `MaxItems` is read from the query string: a value that is not a number is not in
/// the typed request, and AWS's message quotes it.
pub fn list_aliases(
    app: &Lambda,
    req: ListAliasesRequest,
    query: &BTreeMap<String, String>,
) -> Result<ListAliasesResponse, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    let max = tributary_service::json::max_items(query, 50)?;
    let version = req.function_version.as_ref();
    if let Some(v) = version {
        check_function_version(v)?;
    }
    let marker = req.marker.as_ref();
    let cat = app.store.catalog();
    let aliases: Vec<AliasDoc> = docs_with_prefix(&cat, ALIAS_KIND, &function.name)
        .filter_map(|(_, v)| serde_json::from_value::<AliasDoc>(v.clone()).ok())
        .filter(|a| version.is_none_or(|v| &a.function_version == v))
        .filter(|a| marker.is_none_or(|m| a.name.as_str() > m.as_str()))
        .take(max + 1)
        .collect();
    drop(cat);
    let more = aliases.len() > max;
    let page: Vec<AliasConfiguration> = aliases.iter().take(max).map(|a| a.render(app)).collect();
    Ok(ListAliasesResponse {
        next_marker: more.then(|| aliases[max - 1].name.clone()),
        aliases: Some(page),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(-1.0), "-1.0");
        assert_eq!(java_double(0.5), "0.5");
    }

    #[test]
    fn alias_names_cannot_be_numbers() {
        assert!(check_alias_name("live").is_ok());
        assert!(check_alias_name("blue-green_2").is_ok());
        let e = check_alias_name("12").unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value '12' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        );
    }

    #[test]
    fn weighted_aliases_pick_both_versions() {
        let alias = AliasDoc {
            function: "f".into(),
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            weights: [("2".to_string(), 0.5)].into_iter().collect(),
            revision_id: String::new(),
        };
        let picks: Vec<&str> = (0..200).map(|_| alias.pick_version()).collect();
        assert!(picks.contains(&"1") && picks.contains(&"2"));
        let all_primary = AliasDoc {
            weights: BTreeMap::new(),
            ..alias.clone()
        };
        assert!((0..50).all(|_| all_primary.pick_version() == "1"));
    }
}
