//! DynamoDB (JSON 1.0, `DynamoDB_20120810.*`): tables and the item API.

use serde_json::{Map, Value};
use tributary_model::AwsError;

use crate::protocol::{constraint, Req};
use crate::App;

mod batch;
mod exprs;
mod items;
mod keys;
mod query;
mod tables;
mod transact;
mod ttl;

pub(crate) use tables::key_schema_to_json;
pub(crate) use ttl::run_ttl_sweeper;

pub async fn dispatch(app: &App, op: &str, body: &Map<String, Value>) -> Result<Value, AwsError> {
    let req = Req(body);
    match op {
        "CreateTable" => tables::create_table(app, req).await,
        "DescribeTable" => tables::describe_table(app, req),
        "ListTables" => tables::list_tables(app, req),
        "DeleteTable" => tables::delete_table(app, req).await,
        "UpdateTable" => tables::update_table(app, req).await,
        "DescribeTimeToLive" => tables::describe_time_to_live(app, req),
        "UpdateTimeToLive" => tables::update_time_to_live(app, req).await,
        "TagResource" => tables::tag_resource(app, req).await,
        "UntagResource" => tables::untag_resource(app, req).await,
        "ListTagsOfResource" => tables::list_tags_of_resource(app, req),
        "DescribeLimits" => Ok(tables::describe_limits()),
        "DescribeEndpoints" => Ok(tables::describe_endpoints(app)),
        "PutItem" => items::put_item(app, req).await,
        "GetItem" => items::get_item(app, req),
        "DeleteItem" => items::delete_item(app, req).await,
        "UpdateItem" => items::update_item(app, req).await,
        "Scan" => items::scan(app, req),
        "Query" => query::query(app, req),
        "BatchWriteItem" => batch::batch_write_item(app, req).await,
        "BatchGetItem" => batch::batch_get_item(app, req),
        "TransactWriteItems" => transact::transact_write_items(app, req, body).await,
        "TransactGetItems" => transact::transact_get_items(app, req),
        _ => Err(unknown_operation(op)),
    }
}

pub fn unknown_operation(op: &str) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        400,
        format!("Unknown operation: {op}"),
    )
}

pub(super) fn table_not_found(name: &str) -> AwsError {
    AwsError::ddb_not_found(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

pub(super) fn invalid(msg: impl AsRef<str>) -> AwsError {
    AwsError::validation(format!(
        "One or more parameter values were invalid: {}",
        msg.as_ref()
    ))
}

/// `TableName` as the caller gave it: a table name or a table ARN (AWS accepts either wherever
/// a table is named). Responses that name the table (ConsumedCapacity, BatchGetItem's
/// Responses) use this form; [`resolve_table_name`] finds the table.
pub(super) fn table_name<'a>(req: &Req<'a>) -> Result<&'a str, AwsError> {
    let name = req.str_req("TableName", "tableName")?;
    validate_table_name(name)?;
    Ok(name)
}

/// The table name inside a table ARN, `arn:<partition>:dynamodb:<region>:<account>:table/<name>`,
/// with the ARN's region and account; `None` for anything else (an index or stream ARN too).
fn split_table_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix != "arn" || !partition.starts_with("aws") || service != "dynamodb" {
        return None;
    }
    let name = resource.strip_prefix("table/")?;
    (!name.contains('/')).then_some((region, account, name))
}

/// The name of the table `given` (a name or a table ARN) refers to in this server's region and
/// account; `None` for the ARN of a table elsewhere. Every table lookup goes through this.
pub(super) fn resolve_table_name<'a>(app: &App, given: &'a str) -> Option<&'a str> {
    match split_table_arn(given) {
        None => Some(given),
        Some((region, account, name)) => {
            (region == app.cfg.region && account == app.cfg.account_id).then_some(name)
        }
    }
}

/// Checks a `TableName`: a table ARN (at most 1024 characters, as the model's `TableArn`)
/// whose table part is a valid name, or a valid name.
pub(super) fn validate_table_name(given: &str) -> Result<(), AwsError> {
    if let Some((_, _, name)) = split_table_arn(given) {
        if given.len() > 1024 {
            return Err(constraint(
                &Value::String(given.to_owned()),
                "tableName",
                "Member must have length less than or equal to 1024",
            ));
        }
        return validate_plain_table_name(name);
    }
    validate_plain_table_name(given)
}

fn validate_plain_table_name(name: &str) -> Result<(), AwsError> {
    let v = Value::String(name.to_owned());
    if name.len() < 3 {
        return Err(constraint(
            &v,
            "tableName",
            "Member must have length greater than or equal to 3",
        ));
    }
    if name.len() > 255 {
        return Err(constraint(
            &v,
            "tableName",
            "Member must have length less than or equal to 255",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(constraint(
            &v,
            "tableName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_arns_are_split_into_region_account_and_name() {
        assert_eq!(
            split_table_arn("arn:aws:dynamodb:us-east-1:000000000000:table/orders"),
            Some(("us-east-1", "000000000000", "orders"))
        );
        assert_eq!(
            split_table_arn("arn:aws-cn:dynamodb:cn-north-1:1:table/t.1-x"),
            Some(("cn-north-1", "1", "t.1-x"))
        );
        for not_a_table in [
            "orders",
            "arn:aws:dynamodb:us-east-1:000000000000:table/orders/index/by-x",
            "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2024-01-01T00:00:00.000",
            "arn:aws:lambda:us-east-1:000000000000:function:orders",
            "arn:aws:dynamodb:us-east-1:000000000000:orders",
        ] {
            assert_eq!(split_table_arn(not_a_table), None, "{not_a_table}");
        }
    }

    #[test]
    fn an_arn_is_a_valid_table_name_when_its_table_part_is() {
        assert!(
            validate_table_name("arn:aws:dynamodb:us-east-1:000000000000:table/orders").is_ok()
        );
        assert!(validate_table_name("arn:aws:dynamodb:us-east-1:000000000000:table/x").is_err());
        assert!(validate_table_name("arn:aws:dynamodb:us-east-1:000000000000:orders").is_err());
        assert!(validate_table_name("orders").is_ok());
    }
}
