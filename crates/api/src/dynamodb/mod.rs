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

pub(super) fn table_name<'a>(req: &Req<'a>) -> Result<&'a str, AwsError> {
    let name = req.str_req("TableName", "tableName")?;
    validate_table_name(name)?;
    Ok(name)
}

pub(super) fn validate_table_name(name: &str) -> Result<(), AwsError> {
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
