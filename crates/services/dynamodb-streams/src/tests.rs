//! Streams through `Service::call`, with DynamoDB beside it on one in-memory store and a manual
//! clock: the answers of every operation, and the errors the handlers word themselves (the
//! model validator's own are its tests' business).

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Value};
use tributary_dynamodb::DynamoDb;
use tributary_model::attr::{AttributeValue, Item};
use tributary_model::stream::{StreamViewType, SEQUENCE_BASE};
use tributary_model::ManualClock;
use tributary_service::{Config, Protocol, Request, Route, Service};
use tributary_store::Store;

use super::*;

const T0: i64 = 1_700_000_000_000;

struct H {
    ddb: DynamoDb,
    streams: Streams,
    clock: Arc<ManualClock>,
}

fn harness() -> H {
    let clock = ManualClock::new(T0);
    let store = Store::open(None, clock.clone()).expect("a store");
    let cfg = Arc::new(Config {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        endpoint_url: "http://127.0.0.1:4566".into(),
        work_dir: std::env::temp_dir(),
        stream_shards: 2,
        shard_rollover_ms: 4 * 3600 * 1000,
        log_retention_days: None,
        stream_retention_ms: 24 * 3600 * 1000,
        metrics_retention_ms: 15 * 24 * 3600 * 1000,
    });
    let ddb = DynamoDb::new(
        cfg.clone(),
        store.clone(),
        tributary_model::SystemClock::new(),
    );
    let streams = Streams::new(cfg, store, Arc::new(tokio::sync::Notify::new()));
    H {
        ddb,
        streams,
        clock,
    }
}

async fn call(svc: &dyn Service, target: &str, body: &Value) -> (u16, Value) {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-amz-target", target.parse().unwrap());
    headers.insert(
        "content-type",
        "application/x-amz-json-1.0".parse().unwrap(),
    );
    let req = Request {
        method: axum::http::Method::POST,
        uri: "/".parse().unwrap(),
        headers,
        body: Bytes::from(serde_json::to_vec(body).unwrap()),
        route: Route {
            service: "dynamodb".into(),
            protocol: Protocol::AwsJson10,
        },
        caller: None,
    };
    let r = svc.call(req).await;
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

impl H {
    async fn ddb(&self, op: &str, body: Value) -> Value {
        let (status, v) = call(&self.ddb, &format!("DynamoDB_20120810.{op}"), &body).await;
        assert_eq!(status, 200, "{op}: {v}");
        v
    }

    async fn call(&self, op: &str, body: &Value) -> (u16, Value) {
        call(
            &self.streams,
            &format!("DynamoDBStreams_20120810.{op}"),
            body,
        )
        .await
    }

    /// A successful answer.
    async fn ok(&self, op: &str, body: Value) -> Value {
        let (status, v) = self.call(op, &body).await;
        assert_eq!(status, 200, "{op} {body}: {v}");
        v
    }

    /// Every record of the stream's shards, each read from its start.
    async fn all_records(&self, arn: &str) -> Vec<Value> {
        let d = self.ok("DescribeStream", json!({"StreamArn": arn})).await;
        let mut records = Vec::new();
        for s in d["StreamDescription"]["Shards"].as_array().unwrap() {
            let it = self
                .ok(
                    "GetShardIterator",
                    json!({"StreamArn": arn, "ShardId": s["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await;
            let page = self
                .ok("GetRecords", json!({"ShardIterator": it["ShardIterator"]}))
                .await;
            records.extend(page["Records"].as_array().unwrap().iter().cloned());
        }
        records.sort_by_key(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned());
        records
    }
}

/// Tables `tbl` (pk S, sk N; NEW_AND_OLD_IMAGES) and `uuu` (id S; KEYS_ONLY), a second apart,
/// with six items put in `tbl`, one updated and one deleted, and one item put in `uuu`.
async fn populated() -> (H, String, String) {
    let h = harness();
    h.ddb(
        "CreateTable",
        json!({
            "TableName": "tbl",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"}
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"}
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }),
    )
    .await;
    h.clock.advance_millis(1234);
    h.ddb(
        "CreateTable",
        json!({
            "TableName": "uuu",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}
        }),
    )
    .await;
    for i in 0..6 {
        h.clock.advance_millis(1500);
        h.ddb(
            "PutItem",
            json!({"TableName": "tbl", "Item": {
                "pk": {"S": format!("k{i}")}, "sk": {"N": "1"},
                "s": {"S": "x"}, "n": {"N": "1.50"}, "b": {"B": "aGk="},
                "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["aGk="]},
                "m": {"M": {"z": {"NULL": true}, "a": {"BOOL": false}}},
                "l": {"L": [{"S": "q"}, {"N": "3"}]}
            }}),
        )
        .await;
    }
    h.ddb(
        "UpdateItem",
        json!({"TableName": "tbl", "Key": {"pk": {"S": "k1"}, "sk": {"N": "1"}},
            "UpdateExpression": "SET s = :v", "ExpressionAttributeValues": {":v": {"S": "y"}}}),
    )
    .await;
    h.ddb(
        "DeleteItem",
        json!({"TableName": "tbl", "Key": {"pk": {"S": "k2"}, "sk": {"N": "1"}}}),
    )
    .await;
    h.ddb(
        "PutItem",
        json!({"TableName": "uuu", "Item": {"id": {"S": "one"}}}),
    )
    .await;
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tbl/stream/2023-11-14T22:13:20.000";
    let arn_u = "arn:aws:dynamodb:us-east-1:000000000000:table/uuu/stream/2023-11-14T22:13:21.234";
    (h, arn.to_owned(), arn_u.to_owned())
}

#[tokio::test]
async fn streams_are_listed_in_pages() {
    let (h, arn, arn_u) = populated().await;
    let stream = |arn: &str, table: &str| json!({"StreamArn": arn, "TableName": table, "StreamLabel": arn.rsplit('/').next().unwrap()});
    assert_eq!(
        h.ok("ListStreams", json!({})).await,
        json!({"Streams": [stream(&arn, "tbl"), stream(&arn_u, "uuu")]})
    );
    assert_eq!(
        h.ok("ListStreams", json!({"TableName": "uuu", "Limit": null}))
            .await,
        json!({"Streams": [stream(&arn_u, "uuu")]})
    );
    assert_eq!(
        h.ok("ListStreams", json!({"TableName": "nope"})).await,
        json!({"Streams": []})
    );
    assert_eq!(
        h.ok("ListStreams", json!({"Limit": 1})).await,
        json!({"Streams": [stream(&arn, "tbl")], "LastEvaluatedStreamArn": arn})
    );
    assert_eq!(
        h.ok(
            "ListStreams",
            json!({"Limit": 1, "ExclusiveStartStreamArn": arn})
        )
        .await,
        json!({"Streams": [stream(&arn_u, "uuu")]})
    );
}

#[tokio::test]
async fn a_stream_is_described_with_its_shards() {
    let (h, _, arn_u) = populated().await;
    let d = h.ok("DescribeStream", json!({"StreamArn": arn_u})).await;
    let shards = d["StreamDescription"]["Shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    let ids: Vec<&str> = shards
        .iter()
        .map(|s| s["ShardId"].as_str().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted: {ids:?}");
    for s in shards {
        assert_eq!(
            s,
            &json!({"ShardId": s["ShardId"], "SequenceNumberRange": {"StartingSequenceNumber": "100000000000000000001"}})
        );
    }
    assert_eq!(
        d,
        json!({"StreamDescription": {
            "StreamArn": arn_u,
            "StreamLabel": "2023-11-14T22:13:21.234",
            "StreamStatus": "ENABLED",
            "StreamViewType": "KEYS_ONLY",
            "CreationRequestDateTime": 1_700_000_001.234,
            "TableName": "uuu",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "Shards": shards,
        }})
    );
    let page = h
        .ok("DescribeStream", json!({"StreamArn": arn_u, "Limit": 1}))
        .await;
    assert_eq!(page["StreamDescription"]["Shards"], json!([shards[0]]));
    assert_eq!(page["StreamDescription"]["LastEvaluatedShardId"], ids[0]);
    let rest = h
        .ok(
            "DescribeStream",
            json!({"StreamArn": arn_u, "ExclusiveStartShardId": ids[0], "ShardFilter": null}),
        )
        .await;
    assert_eq!(rest["StreamDescription"]["Shards"], json!([shards[1]]));
    assert!(rest["StreamDescription"]
        .get("LastEvaluatedShardId")
        .is_none());
}

#[tokio::test]
async fn records_carry_their_images_and_iterators_page_through_them() {
    let (h, arn, arn_u) = populated().await;
    let records = h.all_records(&arn).await;
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE"]
    );
    let image = |pk: &str, s: &str| {
        json!({
            "pk": {"S": pk}, "sk": {"N": "1"}, "s": {"S": s}, "n": {"N": "1.5"},
            "b": {"B": "aGk="}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
            "bs": {"BS": ["aGk="]}, "m": {"M": {"z": {"NULL": true}, "a": {"BOOL": false}}},
            "l": {"L": [{"S": "q"}, {"N": "3"}]}
        })
    };
    let modify = &records[6];
    assert!(modify["eventID"].is_string());
    assert_eq!(
        modify,
        &json!({
            "eventID": modify["eventID"],
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_010.0,
                "Keys": {"pk": {"S": "k1"}, "sk": {"N": "1"}},
                "NewImage": image("k1", "y"),
                "OldImage": image("k1", "x"),
                "SequenceNumber": "100000000000000000007",
                "SizeBytes": 108,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        })
    );
    // Whole seconds, written as a float.
    assert!(modify["dynamodb"]["ApproximateCreationDateTime"].is_f64());
    let remove = &records[7]["dynamodb"];
    assert_eq!(remove["OldImage"], image("k2", "x"));
    assert!(remove.get("NewImage").is_none());
    assert_eq!(records[0]["dynamodb"]["NewImage"], image("k0", "x"));
    assert!(records[0]["dynamodb"].get("OldImage").is_none());

    let keys_only = h.all_records(&arn_u).await;
    assert_eq!(keys_only.len(), 1);
    assert_eq!(
        keys_only[0]["dynamodb"],
        json!({
            "ApproximateCreationDateTime": 1_700_000_010.0,
            "Keys": {"id": {"S": "one"}},
            "SequenceNumber": "100000000000000000009",
            "SizeBytes": 5,
            "StreamViewType": "KEYS_ONLY"
        })
    );

    // One record at a time, from a sequence number on, through NextShardIterator.
    let first = &records[0];
    let d = h.ok("DescribeStream", json!({"StreamArn": arn})).await;
    let seq = first["dynamodb"]["SequenceNumber"].as_str().unwrap();
    let mut found = None;
    for s in d["StreamDescription"]["Shards"].as_array().unwrap() {
        let it = h
            .ok(
                "GetShardIterator",
                json!({"StreamArn": arn, "ShardId": s["ShardId"], "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": seq}),
            )
            .await;
        let page = h
            .ok(
                "GetRecords",
                json!({"ShardIterator": it["ShardIterator"], "Limit": 1}),
            )
            .await;
        if page["Records"][0] == *first {
            found = Some((s["ShardId"].clone(), page));
        }
    }
    let (shard_id, page) = found.expect("the shard holding the first record");
    assert_eq!(page["Records"].as_array().unwrap().len(), 1);
    let next = h
        .ok(
            "GetRecords",
            json!({"ShardIterator": page["NextShardIterator"]}),
        )
        .await;
    assert!(next["Records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap() > seq));
    let after = h
        .ok(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq}),
        )
        .await;
    let after = h
        .ok(
            "GetRecords",
            json!({"ShardIterator": after["ShardIterator"]}),
        )
        .await;
    assert_eq!(after["Records"], next["Records"]);
    let latest = h
        .ok(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "LATEST"}),
        )
        .await;
    let latest = h
        .ok(
            "GetRecords",
            json!({"ShardIterator": latest["ShardIterator"]}),
        )
        .await;
    assert_eq!(latest["Records"], json!([]));
    assert!(latest["NextShardIterator"].is_string());
}

#[tokio::test]
async fn rolled_over_shards_close_and_name_their_parents() {
    let (h, arn, _) = populated().await;
    let before = h.ok("DescribeStream", json!({"StreamArn": arn})).await;
    let parent = before["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let latest = h
        .ok(
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": parent, "ShardIteratorType": "LATEST"}),
        )
        .await;
    let r = rollover_endpoint(
        &h.streams,
        &serde_json::to_vec(&json!({"StreamArn": arn, "split": true})).unwrap(),
    )
    .await
    .unwrap();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let rolled: Value = serde_json::from_slice(&bytes).unwrap();
    let children = rolled["Shards"].as_array().unwrap();
    assert_eq!(children.len(), 4);
    for c in children {
        assert_eq!(
            c,
            &json!({
                "ShardId": c["ShardId"],
                "ParentShardId": c["ParentShardId"],
                "SequenceNumberRange": {"StartingSequenceNumber": "100000000000000000010"}
            })
        );
    }
    let d = h.ok("DescribeStream", json!({"StreamArn": arn})).await;
    let closed = d["StreamDescription"]["Shards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ShardId"] == parent)
        .unwrap()
        .clone();
    assert_eq!(
        closed["SequenceNumberRange"],
        json!({"StartingSequenceNumber": "100000000000000000001", "EndingSequenceNumber": "100000000000000000009"})
    );
    let filtered = h
        .ok(
            "DescribeStream",
            json!({"StreamArn": arn, "ShardFilter": {"Type": "CHILD_SHARDS", "ShardId": parent}}),
        )
        .await;
    let filtered = filtered["StreamDescription"]["Shards"].as_array().unwrap();
    assert_eq!(filtered.len(), 2);
    assert!(filtered.iter().all(|s| s["ParentShardId"] == parent));
    // A closed shard read to its end hands out no further iterator.
    assert_eq!(
        h.ok(
            "GetRecords",
            json!({"ShardIterator": latest["ShardIterator"]})
        )
        .await,
        json!({"Records": []})
    );
}

#[tokio::test]
async fn expired_iterators_and_trimmed_records() {
    let (h, _, arn_u) = populated().await;
    let d = h.ok("DescribeStream", json!({"StreamArn": arn_u})).await;
    let records = h.all_records(&arn_u).await;
    let seq = records[0]["dynamodb"]["SequenceNumber"].clone();
    let mut shard = None;
    let mut horizon = None;
    for s in d["StreamDescription"]["Shards"].as_array().unwrap() {
        let it = h
            .ok(
                "GetShardIterator",
                json!({"StreamArn": arn_u, "ShardId": s["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
            )
            .await;
        let page = h
            .ok("GetRecords", json!({"ShardIterator": it["ShardIterator"]}))
            .await;
        if !page["Records"].as_array().unwrap().is_empty() {
            shard = Some(s["ShardId"].clone());
            horizon = Some(it["ShardIterator"].clone());
        }
    }
    let (shard, horizon) = (shard.unwrap(), horizon.unwrap());
    h.clock.advance_millis(16 * 60 * 1000);
    assert_eq!(
        h.call("GetRecords", &json!({"ShardIterator": horizon}))
            .await,
        (
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException",
                "message": "The provided iterator exceeds the maximum age allowed."})
        )
    );
    h.clock.advance_millis(25 * 3600 * 1000);
    assert_eq!(
        h.call(
            "GetShardIterator",
            &json!({"StreamArn": arn_u, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": seq})
        )
        .await,
        (
            400,
            json!({"__type": "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException",
                "message": "The data you are trying to access has been trimmed."})
        )
    );
    let it = h
        .ok(
            "GetShardIterator",
            json!({"StreamArn": arn_u, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
    let page = h
        .ok("GetRecords", json!({"ShardIterator": it["ShardIterator"]}))
        .await;
    assert_eq!(page["Records"], json!([]));
}

const VALIDATION_ERROR: &str = "com.amazon.coral.validate#ValidationException";
const SERIALIZATION_ERROR: &str = "com.amazon.coral.service#SerializationException";
const NOT_FOUND: &str = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException";
const NOT_AN_OBJECT: &str = "Unexpected value type in payload: ShardFilter must be an object";
const NOT_A_STREAM: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/xxxxx";

fn wrong(member: &str) -> Option<(&'static str, String)> {
    Some((
        SERIALIZATION_ERROR,
        format!("Unexpected value type in payload for member {member}"),
    ))
}

fn invalid(message: impl Into<String>) -> Option<(&'static str, String)> {
    Some((VALIDATION_ERROR, message.into()))
}

fn over(value: &str, max: i64) -> Option<(&'static str, String)> {
    invalid(format!(
        "1 validation error detected: Value '{value}' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to {max}"
    ))
}

fn null_at(path: &str) -> Option<(&'static str, String)> {
    invalid(format!(
        "1 validation error detected: Value null at '{path}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

fn with(mut v: Value, member: &str, x: Value) -> Value {
    v[member] = x;
    v
}

impl H {
    /// `op` answers `body` with the error `(type, message)`, or succeeds for `None`.
    async fn expect(&self, op: &str, body: Value, error: Option<(&str, String)>) {
        let (status, v) = self.call(op, &body).await;
        match error {
            None => assert_eq!(status, 200, "{op} {body}: {v}"),
            Some((ty, message)) => assert_eq!(
                (status, v),
                (400, json!({"__type": ty, "message": message})),
                "{op} {body}"
            ),
        }
    }
}

/// The errors the handlers answer themselves, worded as they have always been; among them
/// the members of the wrong JSON type, which the validator leaves alone.
#[tokio::test]
async fn handler_errors_keep_their_wording() {
    let (h, arn, _) = populated().await;
    let d = h.ok("DescribeStream", json!({"StreamArn": arn})).await;
    let shard = d["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let seq = "100000000000000000001";
    let gsi = |ty: &str| json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": ty});
    let filter = |f: Value| json!({"StreamArn": arn, "ShardFilter": f});

    h.expect("ListStreams", json!({"Limit": 101}), over("101", 100))
        .await;
    // Beyond the model's integer: still the range check's answer.
    let big = 5_000_000_000_i64;
    h.expect(
        "ListStreams",
        json!({"Limit": big}),
        over("5000000000", 100),
    )
    .await;
    for limit in [json!(u64::MAX), json!("x"), json!(1.5)] {
        h.expect("ListStreams", json!({"Limit": limit}), wrong("Limit"))
            .await;
    }
    h.expect("ListStreams", json!({"TableName": 5}), wrong("TableName"))
        .await;
    let start = "ExclusiveStartStreamArn";
    h.expect("ListStreams", json!({start: 5}), wrong(start))
        .await;
    h.expect(
        "ListStreams",
        json!({start: NOT_A_STREAM}),
        invalid(format!("Invalid {start}: {NOT_A_STREAM}")),
    )
    .await;

    let op = "DescribeStream";
    let not_a_stream = invalid(format!("Invalid StreamArn: {NOT_A_STREAM}"));
    h.expect(op, json!({"StreamArn": NOT_A_STREAM}), not_a_stream.clone())
        .await;
    h.expect(op, json!({"StreamArn": 5}), wrong("StreamArn"))
        .await;
    let gone = "arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/abc";
    h.expect(
        op,
        json!({"StreamArn": gone}),
        Some((
            NOT_FOUND,
            format!("Requested resource not found: Stream: {gone} not found"),
        )),
    )
    .await;
    h.expect(
        op,
        with(filter(json!(null)), "Limit", json!(1000)),
        over("1000", 100),
    )
    .await;
    h.expect(
        op,
        with(filter(json!(5)), "Limit", json!(big)),
        over("5000000000", 100),
    )
    .await;
    let start = "ExclusiveStartShardId";
    h.expect(op, with(filter(json!(null)), start, json!(5)), wrong(start))
        .await;
    // serde would read a structure from an array.
    for f in [
        json!(5),
        json!("x"),
        json!([]),
        json!(["CHILD_SHARDS", shard]),
        json!([5]),
    ] {
        h.expect(
            op,
            filter(f),
            Some((SERIALIZATION_ERROR, NOT_AN_OBJECT.into())),
        )
        .await;
    }
    h.expect(op, filter(json!({})), null_at("shardFilter.type"))
        .await;
    h.expect(
        op,
        filter(json!({"Type": "CHILD_SHARDS"})),
        null_at("shardFilter.shardId"),
    )
    .await;
    // A nested member is named by itself.
    h.expect(
        op,
        filter(json!({"Type": 5, "ShardId": shard})),
        wrong("Type"),
    )
    .await;
    h.expect(
        op,
        filter(json!({"Type": "CHILD_SHARDS", "ShardId": 5})),
        wrong("ShardId"),
    )
    .await;

    let op = "GetShardIterator";
    for ty in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"] {
        let message = format!("Must provide a sequence number for iterator type {ty}");
        h.expect(op, gsi(ty), invalid(message)).await;
    }
    for ty in ["TRIM_HORIZON", "LATEST"] {
        let message = format!("Cannot provide a sequence number for iterator type {ty}");
        h.expect(
            op,
            with(gsi(ty), "SequenceNumber", json!(seq)),
            invalid(message),
        )
        .await;
    }
    let odd = format!("{seq}x");
    let at = gsi("AT_SEQUENCE_NUMBER");
    h.expect(
        op,
        with(at.clone(), "SequenceNumber", json!(odd)),
        invalid(format!("Invalid SequenceNumber: {odd}")),
    )
    .await;
    h.expect(
        op,
        with(at, "SequenceNumber", json!(5)),
        wrong("SequenceNumber"),
    )
    .await;
    h.expect(
        op,
        gsi("AT_TIMESTAMP"),
        invalid(
            "1 validation error detected: Value 'AT_TIMESTAMP' at 'shardIteratorType' failed to \
             satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, \
             LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
        ),
    )
    .await;
    for member in ["StreamArn", "ShardId", "ShardIteratorType"] {
        h.expect(op, with(gsi("LATEST"), member, json!(5)), wrong(member))
            .await;
    }
    h.expect(
        op,
        with(gsi("LATEST"), "StreamArn", json!(NOT_A_STREAM)),
        not_a_stream,
    )
    .await;
    let unknown = "shardId-00000000000000000000-00000000";
    h.expect(
        op,
        with(gsi("LATEST"), "ShardId", json!(unknown)),
        Some((
            NOT_FOUND,
            format!("Requested resource not found: Shard does not exist: {unknown}"),
        )),
    )
    .await;
    // Timestamp is never read, whatever its type.
    for t in [json!(true), json!("yesterday"), json!(1.5)] {
        h.expect(op, with(gsi("LATEST"), "Timestamp", t), None)
            .await;
    }

    let op = "GetRecords";
    let it = |limit: Value| json!({"ShardIterator": "x", "Limit": limit});
    h.expect(op, it(json!(null)), invalid("Invalid ShardIterator"))
        .await;
    h.expect(op, json!({"ShardIterator": 5}), wrong("ShardIterator"))
        .await;
    h.expect(op, it(json!(1001)), over("1001", 1000)).await;
    h.expect(op, it(json!(big)), over("5000000000", 1000)).await;
    h.expect(op, it(json!("x")), wrong("Limit")).await;

    let unknown = Some((
        "com.amazon.coral.service#UnknownOperationException",
        "Unknown operation: Nope".to_owned(),
    ));
    h.expect("Nope", json!({}), unknown).await;

    for (body, error) in [
        (
            json!({"StreamArn": "bad"}),
            invalid("Invalid StreamArn: bad"),
        ),
        (json!({"StreamArn": 5}), wrong("StreamArn")),
        (json!({}), null_at("streamArn")),
    ] {
        let e = rollover_endpoint(&h.streams, &serde_json::to_vec(&body).unwrap())
            .await
            .unwrap_err();
        let (ty, message) = error.unwrap();
        assert!(ty.ends_with(&format!("#{}", e.code)), "{body}: {}", e.code);
        assert_eq!((e.status, e.message), (400, message), "{body}");
    }
}

/// GetRecords renders a stored record as the model crate's `to_streams_json` does.
#[test]
fn records_render_as_the_stored_record_describes_them() {
    let s = |v: &str| AttributeValue::S(v.into());
    let keys: Item = [("pk".to_owned(), s("a"))].into();
    let old: Item = [
        ("pk".to_owned(), s("a")),
        ("n".to_owned(), AttributeValue::N("-1.5".into())),
        ("bs".to_owned(), AttributeValue::Bs(vec![vec![0, 255]])),
    ]
    .into();
    let new: Item = [
        ("pk".to_owned(), s("a")),
        (
            "m".to_owned(),
            AttributeValue::M(
                [(
                    "l".to_owned(),
                    AttributeValue::L(vec![AttributeValue::Null]),
                )]
                .into(),
            ),
        ),
    ]
    .into();
    for view in [
        StreamViewType::KeysOnly,
        StreamViewType::NewImage,
        StreamViewType::OldImage,
        StreamViewType::NewAndOldImages,
    ] {
        for (old, new) in [
            (None, Some(&new)),
            (Some(&old), Some(&new)),
            (Some(&old), None),
        ] {
            for (arrival, ttl) in [(1_764_085_660_123, false), (999, true), (-1500, true)] {
                let mut r = StreamRecord::describe(
                    "e-1".into(),
                    SEQUENCE_BASE + 42,
                    arrival,
                    view,
                    keys.clone(),
                    old,
                    new,
                );
                r.ttl_delete = ttl;
                let want = r.to_streams_json("eu-west-1");
                let got = record_json(record(r, "eu-west-1"));
                assert_eq!(
                    serde_json::to_string(&got).unwrap(),
                    serde_json::to_string(&want).unwrap()
                );
            }
        }
    }
}
