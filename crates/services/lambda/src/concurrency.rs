//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and GetAccountSettings. The limits
//! themselves are enforced by the function host; this is their control plane.

use tributary_model::arn::parse_function_ref;
use tributary_model::AwsError;

use super::{resolve_function, to_json, validate_name, FunctionDoc, FUNCTION_KIND, VERSION_KIND};
use crate::types::{
    AccountLimit, AccountUsage, Concurrency, DeleteFunctionConcurrencyRequest,
    GetAccountSettingsResponse, GetFunctionConcurrencyRequest, GetFunctionConcurrencyResponse,
    PutFunctionConcurrencyRequest,
};
use crate::Lambda;
use tributary_service::json::{check_range, lambda_err};

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

pub async fn put(
    app: &Lambda,
    req: PutFunctionConcurrencyRequest,
) -> Result<Concurrency, AwsError> {
    // Required: the validator has refused a request without it (`Member must not be null`).
    let reserved = i64::from(req.reserved_concurrent_executions);
    check_range(
        reserved,
        0,
        i64::from(i32::MAX),
        "reservedConcurrentExecutions",
    )?;
    let reserved = reserved as u32;
    let function = unqualified_function(app, &req.function_name).map_err(|e| {
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
    Ok(Concurrency {
        reserved_concurrent_executions: Some(req.reserved_concurrent_executions),
    })
}

pub fn get(
    app: &Lambda,
    req: GetFunctionConcurrencyRequest,
) -> Result<GetFunctionConcurrencyResponse, AwsError> {
    let function = resolve_function(app, &req.function_name)?;
    // No reservation: `{}`.
    Ok(GetFunctionConcurrencyResponse {
        reserved_concurrent_executions: function.reserved_concurrency.map(clamp_i32),
    })
}

/// A count the host keeps as `u32` (at most `i32::MAX`, as PutFunctionConcurrency checks), as
/// the model's integer.
fn clamp_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

pub async fn delete(app: &Lambda, req: DeleteFunctionConcurrencyRequest) -> Result<(), AwsError> {
    let function = unqualified_function(app, &req.function_name)?;
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
pub fn account_settings(app: &Lambda) -> GetAccountSettingsResponse {
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
    GetAccountSettingsResponse {
        account_limit: Some(AccountLimit {
            total_code_size: Some(80_530_636_800),
            code_size_unzipped: Some(clamp_i64(tributary_functions::MAX_UNZIPPED_BYTES)),
            code_size_zipped: Some(clamp_i64(super::MAX_ZIPPED_BYTES)),
            concurrent_executions: Some(clamp_i32(limit)),
            unreserved_concurrent_executions: Some(clamp_i32(
                u64::from(limit).saturating_sub(reserved),
            )),
        }),
        account_usage: Some(AccountUsage {
            total_code_size: Some(clamp_i64(total_code)),
            function_count: Some(clamp_i64(functions)),
        }),
    }
}

/// A size or count as the model's long.
fn clamp_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
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
