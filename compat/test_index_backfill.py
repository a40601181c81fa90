"""A global secondary index added to a table with data is filled in the background, in bounded
steps: the index is CREATING with Backfilling true and the table UPDATING meanwhile, a Query on
the index is refused as AWS refuses it, writes go on (also to the table being indexed), and the
index ends ACTIVE with every item.

The 200k-item case also measures PutItem on another table during the backfill and prints the
latencies (a measurement, not an assertion of time)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from harness import client, error_of, unique, wait_for


def create(ddb, name: str, attrs=(("pk", "S"),)) -> None:
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attrs],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def load(endpoint: str, table: str, n: int) -> None:
    def batch(start: int) -> None:
        c = client("dynamodb", endpoint)
        for s in range(start, min(start + 5000, n), 25):
            req = {table: [{"PutRequest": {"Item": {"pk": {"S": f"k{i:06}"}, "g": {"S": "all"}, "n": {"N": str(i)}}}}
                           for i in range(s, min(s + 25, n))]}  # fmt: skip
            while req:
                req = c.batch_write_item(RequestItems=req).get("UnprocessedItems") or None

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batch, range(0, n, 5000)))


def add_index(ddb, table: str) -> dict:
    return ddb.update_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "byG",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }}],
    )["TableDescription"]  # fmt: skip


def index_count(ddb, table: str) -> int:
    pages = ddb.get_paginator("query").paginate(
        TableName=table, IndexName="byG", KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "all"}}, Select="COUNT",
    )  # fmt: skip
    return sum(p["Count"] for p in pages)


def index_status(ddb, table: str) -> tuple[str, str, bool | None]:
    t = ddb.describe_table(TableName=table)["Table"]
    g = t["GlobalSecondaryIndexes"][0]
    return t["TableStatus"], g["IndexStatus"], g.get("Backfilling")


def test_a_small_table_is_indexed_within_its_update_table(server):
    ddb = client("dynamodb", server.endpoint)
    name = unique("bf-small")
    create(ddb, name)
    load(server.endpoint, name, 500)
    desc = add_index(ddb, name)
    assert desc["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    assert index_status(ddb, name) == ("ACTIVE", "ACTIVE", None)
    assert index_count(ddb, name) == 500


def test_a_large_backfill_runs_in_steps_while_writes_go_on(server):
    ddb = client("dynamodb", server.endpoint)
    name, other = unique("bf-large"), unique("bf-other")
    create(ddb, name)
    create(ddb, other)
    n = 200_000
    load(server.endpoint, name, n)

    add_index(ddb, name)
    seen_creating = None
    refused = None
    latencies = []
    i = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = index_status(ddb, name)
        if status[1] == "ACTIVE":
            break
        seen_creating = seen_creating or status
        if refused is None:
            with pytest.raises(ClientError) as e:
                index_count(ddb, name)
            refused = error_of(e.value)
        # A write to the table being indexed, and timed writes to another table.
        ddb.put_item(TableName=name, Item={"pk": {"S": f"new{i}"}, "g": {"S": "all"}})
        for _ in range(20):
            t0 = time.perf_counter()
            ddb.put_item(TableName=other, Item={"pk": {"S": f"p{i}"}})
            latencies.append((time.perf_counter() - t0) * 1000)
            i += 1
    else:
        pytest.fail("the backfill did not finish")

    assert seen_creating == ("UPDATING", "CREATING", True), seen_creating
    assert refused == (
        "ValidationException", 400, "Cannot read from backfilling global secondary index: byG"
    ), refused  # fmt: skip
    written = i // 20 + (1 if i % 20 else 0)
    assert index_status(ddb, name) == ("ACTIVE", "ACTIVE", None)
    assert index_count(ddb, name) == n + written
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print(
            f"\nPutItem on another table during a {n}-item backfill: {len(latencies)} puts, "
            f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(latencies):.2f} ms"
        )
