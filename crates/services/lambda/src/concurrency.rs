//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and GetAccountSettings. The limits
//! themselves are enforced by the function host; this is their control plane.

use serde_json::{json, Value};
use tributary_model::arn::parse_function_ref;
use tributary_model::AwsError;

use super::{resolve_function, to_json, validate_name, FunctionDoc, FUNCTION_KIND, VERSION_KIND};
use crate::Lambda;
use tributary_service::json::{check_range, constraint, lambda_err, Req};

/// The unreserved concurrency an account always keeps (AWS: 100, or the whole limit of an
/// account whose limit is lower).
fn minimum_unreserved(limit: u32) -> u64 {
    u64::from(limit.min(100))
}

/// The sum of all reservations, except `except`'s.
fn reserved_total(cat: &tributary_store::Catalog, except: Option<&str>) -> u64 {
    cat.docs_of(FUNCTION_KIND)
        .filter(|(name, _)| Some(*name) != except)
        .filter_map(|(_, v)| v.get("reserved_concurrency")?.as_u64())
        .sum()
}

/// The function named by a Put/Delete request, which must not be qualified.
fn unqualified_function(app: &Lambda, name: &str) -> Result<FunctionDoc, AwsError> {
    validate_name(name)?;
    if parse_function_ref(name).is_some_and(|r| r.qualifier.is_some()) {
        return Err(lambda_err::invalid_parameter(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
        ));
    }
    resolve_function(app, name)
}

pub async fn put(app: &Lambda, name: &str, req: Req<'_>) -> Result<Value, AwsError> {
    let reserved = match req.get("ReservedConcurrentExecutions") {
        None => {
            return Err(constraint(
                &Value::Null,
                "reservedConcurrentExecutions",
                "Member must not be null",
            ))
        }
        Some(_) => req.int_opt("ReservedConcurrentExecutions")?.unwrap_or(0),
    };
    check_range(
        reserved,
        0,
        i64::from(i32::MAX),
        "reservedConcurrentExecutions",
    )?;
    let reserved = reserved as u32;
    let function = unqualified_function(app, name).map_err(|e| {
        // AWS names the function with `:$LATEST` here.
        if e.code == "ResourceNotFoundException" {
            lambda_err::not_found(format!("{}:$LATEST", e.message))
        } else {
            e
        }
    })?;
    let limit = app.host.concurrency_limit();
    let fname = function.name.clone();
    app.store
        .write(move |tx| {
            let others = reserved_total(tx.catalog(), Some(&fname));
            let minimum = minimum_unreserved(limit);
            let unreserved = u64::from(limit).saturating_sub(others + u64::from(reserved));
            if others + u64::from(reserved) > u64::from(limit) || unreserved < minimum {
                return Err(lambda_err::invalid_parameter(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                )));
            }
            let mut doc: FunctionDoc = tx
                .catalog()
                .doc(FUNCTION_KIND, &fname)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(|| lambda_err::not_found("Function not found"))?;
            doc.reserved_concurrency = Some(reserved);
            tx.put_doc(FUNCTION_KIND, &fname, to_json(&doc)?)
        })
        .await?;
    app.host
        .set_reserved_concurrency(&function.name, Some(reserved));
    Ok(json!({ "ReservedConcurrentExecutions": reserved }))
}

pub fn get(app: &Lambda, name: &str) -> Result<Value, AwsError> {
    let function = resolve_function(app, name)?;
    Ok(match function.reserved_concurrency {
        Some(r) => json!({ "ReservedConcurrentExecutions": r }),
        None => json!({}),
    })
}

pub async fn delete(app: &Lambda, name: &str) -> Result<(), AwsError> {
    let function = unqualified_function(app, name)?;
    let fname = function.name.clone();
    app.store
        .write(move |tx| {
            let doc: Option<FunctionDoc> = tx
                .catalog()
                .doc(FUNCTION_KIND, &fname)
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            match doc {
                Some(mut doc) if doc.reserved_concurrency.is_some() => {
                    doc.reserved_concurrency = None;
                    tx.put_doc(FUNCTION_KIND, &fname, to_json(&doc)?)
                }
                _ => Ok(()),
            }
        })
        .await?;
    app.host.set_reserved_concurrency(&function.name, None);
    Ok(())
}

/// GetAccountSettings: AWS's code-size limits, the concurrency limit this server enforces and
/// what is left unreserved, and the account's usage.
pub fn account_settings(app: &Lambda) -> Value {
    let limit = app.host.concurrency_limit();
    let cat = app.store.catalog();
    let reserved = reserved_total(&cat, None);
    let code_size = |kind: &str| -> u64 {
        cat.docs_of(kind)
            .filter_map(|(_, v)| v.get("code_size")?.as_u64())
            .sum()
    };
    let total_code = code_size(FUNCTION_KIND) + code_size(VERSION_KIND);
    let functions = cat.docs_of(FUNCTION_KIND).count();
    json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800u64,
            "CodeSizeUnzipped": tributary_functions::MAX_UNZIPPED_BYTES,
            "CodeSizeZipped": super::MAX_ZIPPED_BYTES,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": u64::from(limit).saturating_sub(reserved),
        },
        "AccountUsage": {
            "TotalCodeSize": total_code,
            "FunctionCount": functions,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_follows_small_limits() {
        assert_eq!(minimum_unreserved(1000), 100);
        assert_eq!(minimum_unreserved(10), 10);
    }
}
