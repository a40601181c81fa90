//! CloudWatch Logs through its JSON 1.1 envelope, on an in-memory store: inputs read as the
//! generated request types, answers written from the generated response types.

use tributary_model::ManualClock;

use super::*;

const NOW: i64 = 1_700_000_000_000;

fn app() -> CloudWatchLogs {
    let clock = ManualClock::new(NOW);
    let store = Store::open(None, clock).expect("a store");
    let cfg = tributary_service::Config {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        endpoint_url: "http://127.0.0.1:4566".into(),
        work_dir: std::env::temp_dir(),
        stream_shards: 1,
        shard_rollover_ms: 1,
        log_retention_days: None,
        stream_retention_ms: 1,
        metrics_retention_ms: 1,
    };
    CloudWatchLogs::new(
        &cfg,
        store,
        Arc::new(tokio::sync::Notify::new()),
        CancellationToken::new(),
    )
}

/// The status and the body (JSON, `null` when empty) of one call.
async fn call(app: &CloudWatchLogs, op: &str, body: Value) -> (u16, Value) {
    let Value::Object(body) = body else {
        panic!("an object")
    };
    let bytes = serde_json::to_vec(&body).unwrap();
    let r = respond(app, op, body, &bytes).await;
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, v)
}

async fn ok(app: &CloudWatchLogs, op: &str, body: Value) -> Value {
    let (status, v) = call(app, op, body).await;
    assert_eq!(status, 200, "{op}: {v}");
    v
}

async fn err(app: &CloudWatchLogs, op: &str, body: Value) -> (String, String) {
    let (status, v) = call(app, op, body).await;
    assert_eq!(status, 400, "{op}: {v}");
    (
        v["__type"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn groups_streams_and_tags() {
    let a = app();
    let v = ok(
        &a,
        "CreateLogGroup",
        json!({"logGroupName": "/g/one", "tags": {"k": "v"}}),
    )
    .await;
    assert_eq!(v, Value::Null);
    let (code, msg) = err(&a, "CreateLogGroup", json!({"logGroupName": "/g/one"})).await;
    assert_eq!(code, "ResourceAlreadyExistsException");
    assert_eq!(msg, "The specified log group already exists");
    ok(&a, "CreateLogGroup", json!({"logGroupName": "/g/two"})).await;

    let v = ok(&a, "DescribeLogGroups", json!({"limit": 1})).await;
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:/g/one";
    assert_eq!(
        v,
        json!({"logGroups": [{
            "logGroupName": "/g/one", "creationTime": NOW, "metricFilterCount": 0,
            "arn": format!("{arn}:*"), "storedBytes": 0, "logGroupClass": "STANDARD",
            "logGroupArn": arn,
        }], "nextToken": hex_token(b"/g/one")})
    );
    let v = ok(
        &a,
        "DescribeLogGroups",
        json!({"nextToken": v["nextToken"], "logGroupNamePattern": "two"}),
    )
    .await;
    assert_eq!(
        v,
        json!({"logGroups": [{
            "logGroupName": "/g/two", "creationTime": NOW,
            "arn": "arn:aws:logs:us-east-1:000000000000:log-group:/g/two:*",
        }]})
    );
    let (_, msg) = err(&a, "DescribeLogGroups", json!({"limit": "1"})).await;
    assert_eq!(msg, "Unexpected value type in payload for member limit");

    let v = ok(&a, "ListTagsLogGroup", json!({"logGroupName": "/g/one"})).await;
    assert_eq!(v, json!({"tags": {"k": "v"}}));
    ok(
        &a,
        "TagResource",
        json!({"resourceArn": arn, "tags": {"a": "b"}}),
    )
    .await;
    ok(
        &a,
        "UntagLogGroup",
        json!({"logGroupName": "/g/one", "tags": ["k"]}),
    )
    .await;
    let v = ok(&a, "ListTagsForResource", json!({"resourceArn": arn})).await;
    assert_eq!(v, json!({"tags": {"a": "b"}}));
    let (_, msg) = err(
        &a,
        "TagLogGroup",
        json!({"logGroupName": "/g/one", "tags": {"a": 1}}),
    )
    .await;
    assert_eq!(msg, "Unexpected value type in payload for member tags");

    ok(
        &a,
        "PutRetentionPolicy",
        json!({"logGroupName": "/g/one", "retentionInDays": 7}),
    )
    .await;
    let v = ok(
        &a,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/g/o"}),
    )
    .await;
    assert_eq!(v["logGroups"][0]["retentionInDays"], json!(7));
    for days in [8_i64, 1 << 40] {
        let (code, msg) = err(
            &a,
            "PutRetentionPolicy",
            json!({"logGroupName": "/g/one", "retentionInDays": days}),
        )
        .await;
        assert_eq!(code, "InvalidParameterException");
        assert!(
            msg.contains("Member must satisfy enum value set: [1, 3, 5, 7, 14,"),
            "{msg}"
        );
    }
    ok(
        &a,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/g/one"}),
    )
    .await;
    let v = ok(
        &a,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/g/o"}),
    )
    .await;
    assert_eq!(v["logGroups"][0].get("retentionInDays"), None);

    for s in ["b", "a"] {
        ok(
            &a,
            "CreateLogStream",
            json!({"logGroupName": "/g/one", "logStreamName": s}),
        )
        .await;
    }
    let v = ok(
        &a,
        "DescribeLogStreams",
        json!({"logGroupIdentifier": arn, "limit": 1}),
    )
    .await;
    assert_eq!(
        v["logStreams"],
        json!([{
            "logStreamName": "a", "creationTime": NOW,
            "uploadSequenceToken": format!("{:028}{:028}", 2, 1),
            "arn": format!("{arn}:log-stream:a"), "storedBytes": 0,
        }])
    );
    assert!(v["nextToken"].is_string());
    let (_, msg) = err(
        &a,
        "DescribeLogStreams",
        json!({"logGroupName": "/g/one", "logGroupIdentifier": arn}),
    )
    .await;
    assert_eq!(
        msg,
        "LogGroup name and LogGroup ARN are mutually exclusive parameters."
    );
    ok(
        &a,
        "DeleteLogStream",
        json!({"logGroupName": "/g/one", "logStreamName": "a"}),
    )
    .await;
    let (code, msg) = err(
        &a,
        "DeleteLogStream",
        json!({"logGroupName": "/g/one", "logStreamName": "a"}),
    )
    .await;
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(msg, "The specified log stream does not exist.");
    ok(&a, "DeleteLogGroup", json!({"logGroupName": "/g/one"})).await;
    let (_, msg) = err(&a, "DeleteLogGroup", json!({"logGroupName": "/g/one"})).await;
    assert_eq!(msg, "The specified log group does not exist.");
}

#[tokio::test]
async fn events_in_and_out() {
    let a = app();
    ok(&a, "CreateLogGroup", json!({"logGroupName": "g"})).await;
    ok(
        &a,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    let events = json!([
        {"timestamp": NOW - 20 * DAY_MS, "message": "old"},
        {"timestamp": NOW - 1000, "message": "hello world"},
        {"timestamp": NOW, "message": "bye"},
        {"timestamp": NOW + 3 * 3_600_000, "message": "future"},
    ]);
    let v = ok(
        &a,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "logEvents": events}),
    )
    .await;
    assert_eq!(
        v,
        json!({
            "nextSequenceToken": format!("{:028}{:028}", 1, 2),
            "rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 3},
        })
    );
    let (_, msg) = err(
        &a,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s",
               "logEvents": [{"timestamp": NOW, "message": 5}]}),
    )
    .await;
    assert_eq!(msg, "Unexpected value type in payload for member message");
    let (_, msg) = err(
        &a,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [5]}),
    )
    .await;
    assert_eq!(msg, "Unexpected value type in payload for member logEvents");
    let (_, msg) = err(
        &a,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s",
               "logEvents": [{"timestamp": NOW, "message": "b"}, {"timestamp": NOW - 1, "message": "a"}]}),
    )
    .await;
    assert_eq!(
        msg,
        "Log events in a single PutLogEvents request must be in chronological order."
    );

    let v = ok(
        &a,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true}),
    )
    .await;
    assert_eq!(
        v["events"],
        json!([
            {"timestamp": NOW - 1000, "message": "hello world", "ingestionTime": NOW},
            {"timestamp": NOW, "message": "bye", "ingestionTime": NOW},
        ])
    );
    assert_eq!(
        v["nextForwardToken"],
        json!(position_token(true, Pos { ts: NOW, seq: 2 }, 1))
    );
    assert_eq!(
        v["nextBackwardToken"],
        json!(position_token(
            false,
            Pos {
                ts: NOW - 1000,
                seq: 0
            },
            1
        ))
    );
    let (_, msg) = err(
        &a,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "nextToken": "x"}),
    )
    .await;
    assert_eq!(msg, "The specified nextToken is invalid.");

    let v = ok(
        &a,
        "FilterLogEvents",
        json!({"logGroupName": "g", "filterPattern": "hello"}),
    )
    .await;
    assert_eq!(
        v,
        json!({"events": [{
            "logStreamName": "s", "timestamp": NOW - 1000, "message": "hello world",
            "ingestionTime": NOW, "eventId": format!("{:020}{:018}{:018}", NOW - 1000, 1, 0),
        }], "searchedLogStreams": []})
    );
    let v = ok(
        &a,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logStreamNames": ["s"], "limit": 1}),
    )
    .await;
    assert_eq!(v["events"][0]["message"], json!("hello world"));
    assert!(v["nextToken"].is_string());
    let (_, msg) = err(
        &a,
        "FilterLogEvents",
        json!({"logGroupName": "g", "logStreamNames": ["s"], "logStreamNamePrefix": "s"}),
    )
    .await;
    assert_eq!(
        msg,
        "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
    );
}
