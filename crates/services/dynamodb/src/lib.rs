//! DynamoDB (JSON 1.0, `DynamoDB_20120810.*`): tables and the item API.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use serde_json::{Map, Value};
use tributary_model::AwsError;

use tributary_shapes::generated::dynamodb as model;
use tributary_shapes::validate::{validate_object, MapStyle, Options};

use std::sync::Arc;

use serde::de::DeserializeOwned;
use tributary_service::json::{output, typed};
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
mod render;
mod tables;
mod transact;
mod ttl;

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
    let Some(o) = model::Operation::from_name(op) else {
        return Err(unknown_operation(op));
    };
    // The model's constraints first, as AWS's request validator runs before any handler.
    validate_object(&model::SERVICE, o.def(), body, &VALIDATION)
        .map_err(|v| AwsError::validation(v.message()))?;
    use model::Operation as O;
    match o {
        O::CreateTable => Ok(output(
            &tables::create_table(app, input(body)?, body).await?,
        )),
        O::DescribeTable => Ok(output(&tables::describe_table(app, input(body)?)?)),
        O::ListTables => Ok(output(&tables::list_tables(app, input(body)?)?)),
        O::DeleteTable => Ok(output(&tables::delete_table(app, input(body)?).await?)),
        O::UpdateTable => Ok(output(&tables::update_table(app, input(body)?).await?)),
        O::DescribeTimeToLive => Ok(output(&tables::describe_time_to_live(app, input(body)?)?)),
        O::UpdateTimeToLive => Ok(output(
            &tables::update_time_to_live(app, input(body)?).await?,
        )),
        // TagResource and UntagResource have no output shape: their answer is `{}`.
        O::TagResource => {
            tables::tag_resource(app, input(body)?, body).await?;
            Ok(Value::Object(Map::new()))
        }
        O::UntagResource => {
            tables::untag_resource(app, input(body)?).await?;
            Ok(Value::Object(Map::new()))
        }
        O::ListTagsOfResource => Ok(output(&tables::list_tags_of_resource(app, input(body)?)?)),
        O::DescribeLimits => Ok(output(&tables::describe_limits())),
        O::DescribeEndpoints => Ok(output(&tables::describe_endpoints(app))),
        O::PutItem => Ok(items::put_item(app, input(body)?, body).await?.into_json()),
        O::GetItem => Ok(items::get_item(app, input(body)?, body)?.into_json()),
        O::DeleteItem => Ok(items::delete_item(app, input(body)?, body)
            .await?
            .into_json()),
        O::UpdateItem => Ok(items::update_item(app, input(body)?, body)
            .await?
            .into_json()),
        O::Scan => Ok(items::scan(app, input(body)?, body)?.into_json()),
        O::Query => Ok(query::query(app, input(body)?, body)?.into_json()),
        O::BatchWriteItem => Ok(output(
            &batch::batch_write_item(app, input(body)?, body).await?,
        )),
        O::BatchGetItem => Ok(batch::batch_get_item(app, input(body)?, body)?.into_json()),
        O::TransactWriteItems => Ok(output(
            &transact::transact_write_items(app, input(body)?, body).await?,
        )),
        O::TransactGetItems => {
            Ok(transact::transact_get_items(app, input(body)?, body)?.into_json())
        }
        _ => Err(unknown_operation(op)),
    }
}

/// The operation's generated input, read from the validated request object. `json::typed`
/// records the path of every member it reads (a string per key) to name a member of the wrong
/// type; on this hot path the object is read plainly first, and only a failure is read again
/// for `typed`'s error.
fn input<T: DeserializeOwned>(body: &Map<String, Value>) -> Result<T, AwsError> {
    T::deserialize(body).or_else(|_| typed(body))
}

/// A member the generated types leave to the handlers (an item, a key, attribute values),
/// borrowed from its request object; `null` is absent.
pub(crate) fn raw<'a>(obj: &'a Map<String, Value>, member: &str) -> Option<&'a Value> {
    obj.get(member).filter(|v| !v.is_null())
}

/// [`raw`] of the object `v` (a nested request structure).
pub(crate) fn raw_in<'a>(v: Option<&'a Value>, member: &str) -> Option<&'a Value> {
    v.and_then(Value::as_object).and_then(|o| raw(o, member))
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
/// a table is named; also the keys of `RequestItems`). Responses that name the table
/// (ConsumedCapacity, BatchGetItem's Responses) use this form; [`resolve_table_name`] finds the
/// table. The validator already checked its length and pattern; an ARN must be a table's.
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
