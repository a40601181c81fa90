//! DynamoDB (JSON 1.0, `DynamoDB_20120810.*`): tables and the item API.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use serde_json::{Map, Value};
use tributary_model::AwsError;

use tributary_shapes::generated::dynamodb as model;
use tributary_shapes::validate::{validate_object, MapStyle, Options};

use std::sync::Arc;

use tributary_service::json::Req;
use tributary_service::{Config, Request, Response};
use tributary_store::Store;

/// DynamoDB: tables and items in the store, and the TTL sweeper.
pub struct DynamoDb {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) clock: Arc<tributary_model::SystemClock>,
    /// Wakes the TTL sweeper early (TTL enabled, clock moved).
    pub(crate) ttl_wake: tokio::sync::Notify,
    /// Wakes the index backfiller (an index was added).
    pub(crate) backfill_wake: tokio::sync::Notify,
}

impl DynamoDb {
    pub fn new(
        cfg: Arc<Config>,
        store: Store,
        clock: Arc<tributary_model::SystemClock>,
    ) -> DynamoDb {
        DynamoDb {
            cfg,
            store,
            clock,
            ttl_wake: tokio::sync::Notify::new(),
            backfill_wake: tokio::sync::Notify::new(),
        }
    }

    /// Asks the TTL sweeper to look for expired items now.
    pub fn ttl_changed(&self) {
        self.ttl_wake.notify_one();
    }

    /// Starts the TTL sweeper and the index backfiller (which resumes any backfill a restart
    /// interrupted); they stop when `cancel` is cancelled.
    pub fn start(self: &Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        tokio::spawn(run_ttl_sweeper(self.clone(), cancel.clone()));
        tokio::spawn(backfill::run_backfills(self.clone(), cancel));
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for DynamoDb {
    async fn call(&self, req: Request) -> Response {
        tributary_service::json::serve_json10(&req, "DynamoDB_20120810", |op, body| async move {
            dispatch(self, op, &body).await
        })
        .await
    }
}

mod backfill;
mod batch;
mod exprs;
mod items;
mod keys;
mod query;
mod tables;
mod transact;
mod ttl;

pub use tables::key_schema_to_json;
use ttl::run_ttl_sweeper;

/// Where DynamoDB's validator differs from a plain reading of its model.
const VALIDATION: Options<'static> = Options {
    map_style: MapStyle::PerEntry,
    // Tags=[{}] answers `The Tag Key provided is invalid, Key: null` (recorded on AWS), not
    // the generic message: `parse_tags` words it.
    skip: &[("Tag", "Key"), ("Tag", "Value")],
    // Every TableName is typed `TableArn` (1..1024 characters) since tables take ARNs, but a
    // plain name is still checked as a `TableName`: `Value '' at 'tableName'` fails the
    // minimum length 3 and the pattern [a-zA-Z0-9_.-]+ (recorded on AWS).
    name_or_arn: &[("TableArn", "TableName")],
    // AWS prints these enums in an order of its own (a Java hash set), recorded on AWS.
    enum_text: &[
        (
            "ReturnValue",
            "[ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
        ),
        ("ReturnValuesOnConditionCheckFailure", "[ALL_OLD, NONE]"),
        ("ReturnConsumedCapacity", "[INDEXES, TOTAL, NONE]"),
        (
            "Select",
            "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
        ),
        ("ScalarAttributeType", "[B, N, S]"),
        ("KeyType", "[HASH, RANGE]"),
        ("ProjectionType", "[ALL, INCLUDE, KEYS_ONLY]"),
        (
            "StreamViewType",
            "[OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE]",
        ),
    ],
    max_errors: 10,
};

async fn dispatch(app: &DynamoDb, op: &str, body: &Map<String, Value>) -> Result<Value, AwsError> {
    // The model's constraints first, as AWS's request validator runs before any handler.
    if let Some(o) = model::Operation::from_name(op) {
        validate_object(&model::SERVICE, o.def(), body, &VALIDATION)
            .map_err(|v| AwsError::validation(v.message()))?;
    }
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

pub(crate) fn table_not_found(name: &str) -> AwsError {
    AwsError::ddb_not_found(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

pub(crate) fn invalid(msg: impl AsRef<str>) -> AwsError {
    AwsError::validation(format!(
        "One or more parameter values were invalid: {}",
        msg.as_ref()
    ))
}

/// `TableName` as the caller gave it: a table name or a table ARN (AWS accepts either wherever
/// a table is named). Responses that name the table (ConsumedCapacity, BatchGetItem's
/// Responses) use this form; [`resolve_table_name`] finds the table. The validator already
/// checked its length and pattern.
pub(crate) fn table_name<'a>(req: &Req<'a>) -> Result<&'a str, AwsError> {
    table_name_of(req.str_req("TableName", "tableName")?)
}

/// A table named by name or ARN (also the keys of `RequestItems`): an ARN must be a table's.
pub(crate) fn table_name_of(given: &str) -> Result<&str, AwsError> {
    if given.starts_with("arn:") && split_table_arn(given).is_none() {
        return Err(invalid_table_arn());
    }
    Ok(given)
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
    (!name.is_empty() && !name.contains('/')).then_some((region, account, name))
}

/// The name of the table `given` (a name or a table ARN) refers to in this server's region and
/// account; `None` for the ARN of a table elsewhere. Every table lookup goes through this.
pub(crate) fn resolve_table_name<'a>(app: &DynamoDb, given: &'a str) -> Option<&'a str> {
    match split_table_arn(given) {
        None => Some(given),
        Some((region, account, name)) => {
            (region == app.cfg.region && account == app.cfg.account_id).then_some(name)
        }
    }
}

fn invalid_table_arn() -> AwsError {
    AwsError::validation("Invalid TableArn: Invalid Table ARN")
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
    fn a_table_is_named_by_its_name_or_its_arn() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";
        assert_eq!(table_name_of(arn).unwrap(), arn);
        assert_eq!(table_name_of("orders").unwrap(), "orders");
        for not_a_table in [
            "arn:aws:dynamodb:us-east-1:000000000000:orders",
            "arn:aws:dynamodb:us-east-1:000000000000:table/orders/index/by-x",
        ] {
            let e = table_name_of(not_a_table).unwrap_err();
            assert_eq!(e.message, "Invalid TableArn: Invalid Table ARN");
        }
    }
}
