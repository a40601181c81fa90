"""BatchWriteItem / BatchGetItem and TransactWriteItems / TransactGetItems through the real binary:
limits (25 writes, 100 keys, 100 actions), duplicate detection, all-or-nothing validation,
TransactionCanceledException with CancellationReasons, ClientRequestToken idempotency, stream
records of batched and transactional writes, and the AWS CLI."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import Env, error_of, unique

S = lambda x: {"S": x}  # noqa: E731
N = lambda x: {"N": str(x)}  # noqa: E731


def validation(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    code, status, message = error_of(e.value)
    assert (code, status) == ("ValidationException", 400), (code, status, message)
    return message


def make_table(env, stream: str | None = None, range_key: tuple[str, str] | None = None) -> str:
    return env.create_table(view_type=stream, sort_key=range_key)["TableName"]


@pytest.fixture(scope="module")
def tables(server, clients):
    """Two tables with NEW_AND_OLD_IMAGES streams: (hash-only, hash+range N)."""
    env = Env(server, clients, None)
    return make_table(env, "NEW_AND_OLD_IMAGES"), make_table(env, "NEW_AND_OLD_IMAGES", ("sk", "N"))


def get(c, table, key):
    return c.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def stream_arn(c, table):
    return c.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def records_for(env, table, prefix: str) -> list[dict]:
    return [
        r for r in env.stream_records(stream_arn(env.c.ddb, table))
        if r["dynamodb"]["Keys"]["pk"]["S"].startswith(prefix)
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# BatchWriteItem


def test_batch_write_25_items_across_tables(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("bw")
    c.put_item(TableName=t2, Item={"pk": S(p), "sk": N(99), "old": {"BOOL": True}})
    reqs = {
        t1: [{"PutRequest": {"Item": {"pk": S(f"{p}-{i}"), "v": N(i)}}} for i in range(15)],
        t2: [{"PutRequest": {"Item": {"pk": S(p), "sk": N(i)}}} for i in range(9)]
        + [{"DeleteRequest": {"Key": {"pk": S(p), "sk": N(99)}}}],
    }
    resp = c.batch_write_item(RequestItems=reqs, ReturnConsumedCapacity="TOTAL")
    assert resp["UnprocessedItems"] == {}
    caps = {cc["TableName"]: cc["CapacityUnits"] for cc in resp["ConsumedCapacity"]}
    assert caps == {t1: 15.0, t2: 10.0}
    for i in range(15):
        assert get(c, t1, {"pk": S(f"{p}-{i}")}) == {"pk": S(f"{p}-{i}"), "v": N(i)}
    q = c.query(TableName=t2, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S(p)})
    assert [it["sk"]["N"] for it in q["Items"]] == [str(i) for i in range(9)]
    # One stream record per written item.
    recs = records_for(env, t1, p)
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in recs) == sorted(f"{p}-{i}" for i in range(15))
    assert all(r["eventName"] == "INSERT" for r in recs)
    recs = records_for(env, t2, p)
    assert sorted(r["eventName"] for r in recs) == ["INSERT"] * 10 + ["REMOVE"]


def test_batch_write_validation_writes_nothing(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("bwv")

    def puts(n, table=t1, start=0):
        return [{"PutRequest": {"Item": {"pk": S(f"{p}-{i}")}}} for i in range(start, start + n)]

    msg = validation(lambda: c.batch_write_item(RequestItems={t1: puts(26)}))
    assert msg == "Too many items requested for the BatchWriteItem call" or "less than or equal to 25" in msg, msg
    # The limit is 25 per request, not per table.
    validation(lambda: c.batch_write_item(RequestItems={t1: puts(13), t2: [
        {"PutRequest": {"Item": {"pk": S(p), "sk": N(i)}}} for i in range(13)]}))  # fmt: skip
    msg = validation(lambda: c.batch_write_item(RequestItems={t1: puts(3) + puts(1)}))
    assert msg == "Provided list of item keys contains duplicates"
    msg = validation(
        lambda: c.batch_write_item(
            RequestItems={t1: puts(2) + [{"DeleteRequest": {"Key": {"pk": S(f"{p}-0")}}}]}
        )
    )
    assert msg == "Provided list of item keys contains duplicates"
    # One bad item among good ones: nothing at all is written.
    bad_items = [
        {"pk": N(1)},  # wrong key type
        {"other": S("x")},  # missing key
        {"pk": S("x"), "big": S("x" * 409_600)},  # too large
        {"pk": S("x"), "set": {"SS": []}},  # empty set
        {"pk": S("")},  # empty key
    ]
    for bad in bad_items:
        validation(lambda: c.batch_write_item(RequestItems={t1: puts(20) + [{"PutRequest": {"Item": bad}}]}))
    validation(
        lambda: c.batch_write_item(
            RequestItems={t1: puts(5), t2: [{"DeleteRequest": {"Key": {"pk": S(p)}}}]}  # sk missing
        )
    )
    with pytest.raises(ClientError) as e:
        c.batch_write_item(RequestItems={t1: puts(5), unique("no-such"): puts(1)})
    assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)
    validation(lambda: c.batch_write_item(RequestItems={}))
    assert c.scan(TableName=t1, FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={
        ":p": S(p)}, Select="COUNT")["Count"] == 0  # fmt: skip
    assert records_for(env, t1, p) == []


# --------------------------------------------------------------------------------------------
# BatchGetItem


def test_batch_get_item(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("bg")
    with_writes = [{"PutRequest": {"Item": {"pk": S(f"{p}-{i}"), "v": N(i), "name": S(f"n{i}")}}} for i in range(60)]
    for chunk in range(0, 60, 25):
        c.batch_write_item(RequestItems={t1: with_writes[chunk : chunk + 25]})
    for i in range(0, 30, 10):
        c.batch_write_item(RequestItems={t2: [
            {"PutRequest": {"Item": {"pk": S(p), "sk": N(j), "x": S("y")}}} for j in range(i, i + 10)]})  # fmt: skip

    keys1 = [{"pk": S(f"{p}-{i}")} for i in range(70)]  # 10 of them do not exist
    keys2 = [{"pk": S(p), "sk": N(j)} for j in range(30)]
    resp = c.batch_get_item(
        RequestItems={
            t1: {"Keys": keys1, "ProjectionExpression": "pk, #n", "ExpressionAttributeNames": {"#n": "name"}},
            t2: {"Keys": keys2, "ConsistentRead": True},
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert resp["UnprocessedKeys"] == {}
    got1 = resp["Responses"][t1]
    assert sorted(it["pk"]["S"] for it in got1) == sorted(f"{p}-{i}" for i in range(60))
    assert all(set(it) == {"pk", "name"} for it in got1)
    assert sorted(int(it["sk"]["N"]) for it in resp["Responses"][t2]) == list(range(30))
    caps = {cc["TableName"]: cc["CapacityUnits"] for cc in resp["ConsumedCapacity"]}
    assert set(caps) == {t1, t2} and caps[t2] == 30.0 and caps[t1] > 0

    msg = validation(lambda: c.batch_get_item(RequestItems={t1: {"Keys": keys1 + keys1[:31]}}))
    assert msg in ("Too many items requested for the BatchGetItem call",) or "100" in msg, msg
    msg = validation(lambda: c.batch_get_item(RequestItems={t1: {"Keys": keys1[:60]}, t2: {"Keys": keys2 + [
        {"pk": S(p), "sk": N(j)} for j in range(30, 41)]}}))  # fmt: skip
    assert msg == "Too many items requested for the BatchGetItem call"
    msg = validation(lambda: c.batch_get_item(RequestItems={t1: {"Keys": [keys1[0], keys1[1], keys1[0]]}}))
    assert msg == "Provided list of item keys contains duplicates"
    msg = validation(lambda: c.batch_get_item(RequestItems={t2: {"Keys": [{"pk": S(p)}]}}))
    assert msg == "The provided key element does not match the schema"
    validation(lambda: c.batch_get_item(RequestItems={}))
    with pytest.raises(ClientError) as e:
        c.batch_get_item(RequestItems={unique("no-such"): {"Keys": [{"pk": S("x")}]}})
    assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)


# --------------------------------------------------------------------------------------------
# TransactWriteItems / TransactGetItems


def test_transact_write_all_actions(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("tx")
    c.put_item(TableName=t1, Item={"pk": S(f"{p}-upd"), "n": N(1)})
    c.put_item(TableName=t1, Item={"pk": S(f"{p}-del"), "x": S("bye")})
    c.put_item(TableName=t2, Item={"pk": S(p), "sk": N(1), "state": S("ready")})
    resp = c.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-new"), "v": S("hi")},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": t1, "Key": {"pk": S(f"{p}-upd")}, "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": N(1)}}},
            {"Delete": {"TableName": t1, "Key": {"pk": S(f"{p}-del")}, "ConditionExpression": "x = :x",
                        "ExpressionAttributeValues": {":x": S("bye")}}},
            {"ConditionCheck": {"TableName": t2, "Key": {"pk": S(p), "sk": N(1)},
                                "ConditionExpression": "#s = :r", "ExpressionAttributeNames": {"#s": "state"},
                                "ExpressionAttributeValues": {":r": S("ready")}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    caps = {cc["TableName"]: cc["CapacityUnits"] for cc in resp["ConsumedCapacity"]}
    assert caps[t1] == 6.0 and caps[t2] > 0  # transactional writes cost double
    assert get(c, t1, {"pk": S(f"{p}-new")}) == {"pk": S(f"{p}-new"), "v": S("hi")}
    assert get(c, t1, {"pk": S(f"{p}-upd")})["n"] == N(2)
    assert get(c, t1, {"pk": S(f"{p}-del")}) is None
    recs = records_for(env, t1, p)
    assert sorted((r["dynamodb"]["Keys"]["pk"]["S"], r["eventName"]) for r in recs if r["eventName"] != "INSERT" or
                  r["dynamodb"]["Keys"]["pk"]["S"].endswith("-new")) == sorted(
        [(f"{p}-new", "INSERT"), (f"{p}-upd", "MODIFY"), (f"{p}-del", "REMOVE")])  # fmt: skip
    # The ConditionCheck wrote nothing to t2's stream beyond the setup INSERT.
    assert [r["eventName"] for r in records_for(env, t2, p)] == ["INSERT"]


def test_transaction_cancelled_changes_nothing(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("txc")
    c.put_item(TableName=t1, Item={"pk": S(f"{p}-a"), "n": N(1)})
    c.put_item(TableName=t2, Item={"pk": S(p), "sk": N(1), "state": S("busy")})
    before = len(records_for(env, t1, p))
    items = [
        {"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-new")}}},
        {"Update": {"TableName": t1, "Key": {"pk": S(f"{p}-a")}, "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": N(100)}}},
        {"ConditionCheck": {"TableName": t2, "Key": {"pk": S(p), "sk": N(1)}, "ConditionExpression": "#s = :r",
                            "ExpressionAttributeNames": {"#s": "state"}, "ExpressionAttributeValues": {":r": S("ready")},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": t1, "Key": {"pk": S(f"{p}-zzz")}, "ConditionExpression": "attribute_exists(pk)"}},
    ]  # fmt: skip
    with pytest.raises(ClientError) as e:
        c.transact_write_items(TransactItems=items)
    code, status, message = error_of(e.value)
    assert (code, status) == ("TransactionCanceledException", 400)
    assert message == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, None, ConditionalCheckFailed, ConditionalCheckFailed]"
    )
    reasons = e.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"} and reasons[1] == {"Code": "None"}
    assert reasons[2] == {
        "Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
        "Item": {"pk": S(p), "sk": N(1), "state": S("busy")},
    }  # fmt: skip
    assert reasons[3] == {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    assert get(c, t1, {"pk": S(f"{p}-new")}) is None
    assert get(c, t1, {"pk": S(f"{p}-a")}) == {"pk": S(f"{p}-a"), "n": N(1)}
    assert len(records_for(env, t1, p)) == before

    # A runtime failure inside an action cancels the transaction with a ValidationError reason.
    with pytest.raises(ClientError) as e:
        c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-new2")}}},
                {"Update": {"TableName": t1, "Key": {"pk": S(f"{p}-a")}, "UpdateExpression": "SET n = pk + :one",
                            "ExpressionAttributeValues": {":one": N(1)}}},
            ]
        )  # fmt: skip
    assert error_of(e.value)[0] == "TransactionCanceledException"
    reasons = e.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ValidationError"
    assert reasons[1]["Message"] == "An operand in the update expression has an incorrect data type"
    assert get(c, t1, {"pk": S(f"{p}-new2")}) is None
    assert len(records_for(env, t1, p)) == before


def test_transaction_validation(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("txv")
    msg = validation(
        lambda: c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t1, "Item": {"pk": S(p)}}},
                {"Update": {"TableName": t1, "Key": {"pk": S(p)}, "UpdateExpression": "SET a = :a",
                            "ExpressionAttributeValues": {":a": N(1)}}},
            ]
        )
    )  # fmt: skip
    assert msg == "Transaction request cannot include multiple operations on one item"
    msg = validation(
        lambda: c.transact_write_items(
            TransactItems=[{"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-{i}")}}} for i in range(101)]
        )
    )
    assert "100" in msg, msg
    # Static errors are ValidationExceptions, not cancellations, and nothing is written.
    for bad in (
        {"Put": {"TableName": t1, "Item": {"pk": N(1)}}},
        {"Update": {"TableName": t1, "Key": {"pk": S("x")}, "UpdateExpression": "SET a = :undefined"}},
        {"Put": {"TableName": t1, "Item": {"pk": S("x"), "big": S("x" * 409_600)}}},
    ):
        validation(
            lambda: c.transact_write_items(TransactItems=[{"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-ok")}}}, bad])
        )
    with pytest.raises(ClientError) as e:
        c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-ok")}}},
                {"Put": {"TableName": unique("no-such"), "Item": {"pk": S("x")}}},
            ]
        )
    assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)
    assert get(c, t1, {"pk": S(f"{p}-ok")}) is None
    msg = validation(
        lambda: c.transact_get_items(
            TransactItems=[{"Get": {"TableName": t1, "Key": {"pk": S(p)}}}, {"Get": {"TableName": t1, "Key": {"pk": S(p)}}}]
        )
    )  # fmt: skip
    assert msg == "Transaction request cannot include multiple operations on one item"


def test_client_request_token_idempotency(env, tables):
    c = env.c.ddb
    t1, _ = tables
    p = unique("idem")
    token = str(uuid.uuid4())
    items = [
        {"Update": {"TableName": t1, "Key": {"pk": S(p)}, "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": N(1)}}},
    ]  # fmt: skip
    c.transact_write_items(TransactItems=items, ClientRequestToken=token)
    c.transact_write_items(TransactItems=items, ClientRequestToken=token)  # replay: success, no effect
    assert get(c, t1, {"pk": S(p)})["n"] == N(1)
    assert len(records_for(env, t1, p)) == 1
    other = [{**items[0]["Update"], "ExpressionAttributeValues": {":one": N(2)}}]
    with pytest.raises(ClientError) as e:
        c.transact_write_items(TransactItems=[{"Update": other[0]}], ClientRequestToken=token)
    assert error_of(e.value)[:2] == ("IdempotentParameterMismatchException", 400)
    assert get(c, t1, {"pk": S(p)})["n"] == N(1)
    # A different token applies again.
    c.transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
    assert get(c, t1, {"pk": S(p)})["n"] == N(2)
    # boto3 fills in a fresh token itself when none is given: two calls, two effects.
    c.transact_write_items(TransactItems=items)
    c.transact_write_items(TransactItems=items)
    assert get(c, t1, {"pk": S(p)})["n"] == N(4)


def test_transact_get_items(env, tables):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("tg")
    c.put_item(TableName=t1, Item={"pk": S(p), "a": S("A"), "b": S("B")})
    c.put_item(TableName=t2, Item={"pk": S(p), "sk": N(5), "c": S("C")})
    resp = c.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": t2, "Key": {"pk": S(p), "sk": N(5)}}},
            {"Get": {"TableName": t1, "Key": {"pk": S(f"{p}-missing")}}},
            {"Get": {"TableName": t1, "Key": {"pk": S(p)}, "ProjectionExpression": "#a",
                     "ExpressionAttributeNames": {"#a": "a"}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert resp["Responses"] == [
        {"Item": {"pk": S(p), "sk": N(5), "c": S("C")}},
        {},
        {"Item": {"a": S("A")}},
    ]
    caps = {cc["TableName"]: cc["CapacityUnits"] for cc in resp["ConsumedCapacity"]}
    assert caps[t2] == 2.0 and caps[t1] in (2.0, 4.0)  # transactional reads cost double
    validation(
        lambda: c.transact_get_items(TransactItems=[{"Get": {"TableName": t2, "Key": {"pk": S(p)}}}])
    )
    validation(
        lambda: c.transact_get_items(
            TransactItems=[{"Get": {"TableName": t1, "Key": {"pk": S(f"{p}-{i}")}}} for i in range(101)]
        )
    )


def test_transact_and_batch_with_the_aws_cli(env, aws, tables, tmp_path):
    c = env.c.ddb
    t1, t2 = tables
    p = unique("cli")
    c.put_item(TableName=t1, Item={"pk": S(f"{p}-c"), "n": N(5)})
    tx = [
        {"Put": {"TableName": t1, "Item": {"pk": S(f"{p}-a"), "v": S("from the cli")}}},
        {"Update": {"TableName": t1, "Key": {"pk": S(f"{p}-c")}, "UpdateExpression": "SET n = n - :d",
                    "ConditionExpression": "n >= :d", "ExpressionAttributeValues": {":d": N(5)}}},
    ]  # fmt: skip
    path = tmp_path / "tx.json"
    path.write_text(json.dumps(tx))
    assert aws("dynamodb", "transact-write-items", "--transact-items", f"file://{path}") in (None, {})
    assert get(c, t1, {"pk": S(f"{p}-a")})["v"] == S("from the cli")
    assert get(c, t1, {"pk": S(f"{p}-c")})["n"] == N(0)
    # Again: the condition n >= 5 now fails.
    op, msg = aws(
        "dynamodb", "transact-write-items", "--transact-items", f"file://{path}",
        expect_error="TransactionCanceledException",
    )  # fmt: skip
    assert op == "TransactWriteItems"
    assert "[None, ConditionalCheckFailed]" in msg, msg

    out = aws(
        "dynamodb", "transact-get-items", "--transact-items",
        json.dumps([{"Get": {"TableName": t1, "Key": {"pk": S(f"{p}-c")}}}]),
    )  # fmt: skip
    assert out["Responses"] == [{"Item": {"pk": S(f"{p}-c"), "n": N(0)}}]
    batch = {t1: [{"PutRequest": {"Item": {"pk": S(f"{p}-b{i}")}}} for i in range(3)]}
    out = aws("dynamodb", "batch-write-item", "--request-items", json.dumps(batch))
    assert out["UnprocessedItems"] == {}
    out = aws(
        "dynamodb", "batch-get-item", "--request-items",
        json.dumps({t1: {"Keys": [{"pk": S(f"{p}-b{i}")} for i in range(3)]}}),
    )  # fmt: skip
    assert sorted(it["pk"]["S"] for it in out["Responses"][t1]) == [f"{p}-b{i}" for i in range(3)]
