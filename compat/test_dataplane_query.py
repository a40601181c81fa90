"""Query and Scan through the real binary: key conditions, sort order (numeric, bytewise),
ScanIndexForward, Limit / ExclusiveStartKey / LastEvaluatedKey, Select (COUNT, projections),
FilterExpression, the 1 MB page limit, parallel Scan segments, boto3 paginators, the high-level
`Table` resource, secondary indexes (GSI / LSI, KEYS_ONLY / INCLUDE / ALL, sparse, maintained on
update and delete) and the AWS CLI."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from harness import CLIENT_CONFIG, REGION, Env, error_of, unique

S = lambda x: {"S": x}  # noqa: E731
N = lambda x: {"N": str(x)}  # noqa: E731


def validation(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    code, status, message = error_of(e.value)
    assert (code, status) == ("ValidationException", 400), (code, status, message)
    return message


def create(c, name: str, attrs: dict[str, str], hash_key: str, range_key: str | None = None, **kw) -> str:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()],
        KeySchema=schema,
        BillingMode="PAY_PER_REQUEST",
        **kw,
    )
    return name


def query_all(c, **kw) -> tuple[list[dict], int]:
    """Every item of a query (or scan, with `op`), following LastEvaluatedKey; returns (items, pages)."""
    op = kw.pop("op", "query")
    items: list[dict] = []
    pages = 0
    while True:
        page = getattr(c, op)(**kw)
        pages += 1
        items.extend(page.get("Items", []))
        lek = page.get("LastEvaluatedKey")
        if not lek:
            return items, pages
        kw["ExclusiveStartKey"] = lek
        assert pages < 1000


NUM_SORT = ["10", "-5", "1.5", "2", "-10.5", "0", "1e3", "-1e-2", "99.99", "100"]
NUM_ORDER = ["-10.5", "-5", "-0.01", "0", "1.5", "2", "10", "99.99", "100", "1000"]


@pytest.fixture(scope="module")
def numtable(server, clients):
    """pk S / sk N with partition "p" holding NUM_SORT and a few other partitions."""
    env = Env(server, clients, None)
    c = clients.ddb
    name = create(c, unique("q-num"), {"pk": "S", "sk": "N"}, "pk", "sk")
    env.wait_table_active(name)
    for i, sk in enumerate(NUM_SORT):
        c.put_item(TableName=name, Item={"pk": S("p"), "sk": N(sk), "i": N(i), "odd": {"BOOL": i % 2 == 1}})
    for other in ("a", "z"):
        c.put_item(TableName=name, Item={"pk": S(other), "sk": N(1)})
    return name


def sks(items):
    return [it["sk"]["N"] for it in items]


def test_query_numeric_sort_order_and_direction(env, numtable):
    c = env.c.ddb
    kc = dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")})
    page = c.query(TableName=numtable, **kc)
    assert sks(page["Items"]) == NUM_ORDER
    assert page["Count"] == page["ScannedCount"] == len(NUM_ORDER)
    assert "LastEvaluatedKey" not in page
    page = c.query(TableName=numtable, ScanIndexForward=False, **kc)
    assert sks(page["Items"]) == NUM_ORDER[::-1]
    # Other partitions are not included.
    assert all(it["pk"] == S("p") for it in page["Items"])


@pytest.mark.parametrize(
    "cond,values,expected",
    [
        ("sk = :a", {":a": N("1.50")}, ["1.5"]),
        ("sk < :a", {":a": N(0)}, ["-10.5", "-5", "-0.01"]),
        ("sk <= :a", {":a": N(0)}, ["-10.5", "-5", "-0.01", "0"]),
        ("sk > :a", {":a": N(99.99)}, ["100", "1000"]),
        ("sk >= :a", {":a": N("99.99")}, ["99.99", "100", "1000"]),
        ("sk BETWEEN :a AND :b", {":a": N(-5), ":b": N(2)}, ["-5", "-0.01", "0", "1.5", "2"]),
        ("#s BETWEEN :a AND :b", {":a": N(1001), ":b": N(2000)}, []),
    ],
)
def test_query_sort_key_conditions(env, numtable, cond, values, expected):
    c = env.c.ddb
    kw: dict[str, Any] = {}
    if "#s" in cond:
        kw["ExpressionAttributeNames"] = {"#s": "sk", "#p": "pk"}
        expr = f"#p = :p AND {cond}"
    else:
        expr = f"pk = :p AND {cond}"
    page = c.query(
        TableName=numtable, KeyConditionExpression=expr, ExpressionAttributeValues={":p": S("p"), **values}, **kw
    )
    assert sks(page["Items"]) == expected
    # Reversed key order in the expression is accepted too.
    page = c.query(
        TableName=numtable,
        KeyConditionExpression=f"{cond} AND " + ("#p = :p" if "#s" in cond else "pk = :p"),
        ExpressionAttributeValues={":p": S("p"), **values},
        ScanIndexForward=False,
        **kw,
    )
    assert sks(page["Items"]) == expected[::-1]


def test_query_string_and_binary_sort_order_is_bytewise(env):
    c = env.c.ddb
    ts = create(c, unique("q-str"), {"pk": "S", "sk": "S"}, "pk", "sk")
    tb = create(c, unique("q-bin"), {"pk": "S", "sk": "B"}, "pk", "sk")
    env.wait_table_active(ts)
    env.wait_table_active(tb)
    strings = ["a", "B", "é", "\uffff", "\U0001f600", "ab", "a b", "Z", "aa"]
    for s in strings:
        c.put_item(TableName=ts, Item={"pk": S("p"), "sk": S(s)})
    got = [it["sk"]["S"] for it in c.query(
        TableName=ts, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")}
    )["Items"]]  # fmt: skip
    # UTF-8 byte order: U+FFFF (EF BF BF) sorts before U+1F600 (F0 9F 98 80), unlike UTF-16.
    assert got == sorted(strings, key=lambda x: x.encode("utf-8"))
    assert got.index("\uffff") < got.index("\U0001f600")
    page = c.query(
        TableName=ts, KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues={":p": S("p"), ":a": S("a")},
    )  # fmt: skip
    assert [it["sk"]["S"] for it in page["Items"]] == ["a", "a b", "aa", "ab"]

    blobs = [b"\x00", b"\x7f", b"\x80", b"\xff", b"\x00\x01", b"\x80\x00", b"\x01"]
    for b in blobs:
        c.put_item(TableName=tb, Item={"pk": S("p"), "sk": {"B": b}})
    got = [bytes(it["sk"]["B"]) for it in c.query(
        TableName=tb, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")}
    )["Items"]]  # fmt: skip
    assert got == sorted(blobs)  # unsigned bytes: 0x80 after 0x7f
    page = c.query(
        TableName=tb, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": S("p"), ":b": {"B": b"\x80"}},
    )  # fmt: skip
    assert [bytes(it["sk"]["B"]) for it in page["Items"]] == [b"\x80", b"\x80\x00"]


def test_query_pagination_with_limit(env, numtable):
    c = env.c.ddb
    for forward in (True, False):
        kw = dict(
            TableName=numtable, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")},
            Limit=3, ScanIndexForward=forward,
        )  # fmt: skip
        first = c.query(**kw)
        assert first["Count"] == 3 and first["ScannedCount"] == 3
        assert first["LastEvaluatedKey"] == {"pk": S("p"), "sk": first["Items"][-1]["sk"]}
        items, pages = query_all(c, **kw)
        assert sks(items) == (NUM_ORDER if forward else NUM_ORDER[::-1])
        assert pages >= 4
    # ExclusiveStartKey resumes after the given key.
    page = c.query(
        TableName=numtable, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")},
        ExclusiveStartKey={"pk": S("p"), "sk": N(2)},
    )  # fmt: skip
    assert sks(page["Items"]) == NUM_ORDER[NUM_ORDER.index("2") + 1 :]


def test_query_select_count_filter_and_projection(env, numtable):
    c = env.c.ddb
    kc = dict(TableName=numtable, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")})
    page = c.query(Select="COUNT", **kc)
    assert page["Count"] == page["ScannedCount"] == len(NUM_ORDER)
    assert "Items" not in page
    # The filter runs after the read: ScannedCount counts what was read, Count what matched.
    page = c.query(
        TableName=numtable, KeyConditionExpression="pk = :p", FilterExpression="odd = :t",
        ExpressionAttributeValues={":p": S("p"), ":t": {"BOOL": True}},
    )  # fmt: skip
    assert page["ScannedCount"] == len(NUM_ORDER) and page["Count"] == len(NUM_ORDER) // 2
    assert all(it["odd"] == {"BOOL": True} for it in page["Items"])
    # Limit caps what is read, before the filter.
    page = c.query(
        TableName=numtable, KeyConditionExpression="pk = :p", FilterExpression="odd = :t", Limit=4,
        ExpressionAttributeValues={":p": S("p"), ":t": {"BOOL": True}},
    )  # fmt: skip
    assert page["ScannedCount"] == 4 and page["Count"] <= 4 and "LastEvaluatedKey" in page
    page = c.query(
        TableName=numtable, KeyConditionExpression="pk = :p", FilterExpression="odd = :t", Select="COUNT",
        ExpressionAttributeValues={":p": S("p"), ":t": {"BOOL": True}},
    )  # fmt: skip
    assert page["Count"] == len(NUM_ORDER) // 2 and "Items" not in page
    # Projection: only the named attributes; SPECIFIC_ATTRIBUTES says the same.
    page = c.query(ProjectionExpression="i", **kc)
    assert all(set(it) == {"i"} for it in page["Items"]) and page["Count"] == len(NUM_ORDER)
    page = c.query(ProjectionExpression="sk, i", Select="SPECIFIC_ATTRIBUTES", **kc)
    assert all(set(it) == {"sk", "i"} for it in page["Items"])
    # A key attribute in the filter is refused.
    msg = validation(
        lambda: c.query(
            TableName=numtable, KeyConditionExpression="pk = :p", FilterExpression="sk > :z",
            ExpressionAttributeValues={":p": S("p"), ":z": N(0)},
        )
    )  # fmt: skip
    assert msg == "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    validation(lambda: c.query(Select="COUNT", ProjectionExpression="i", **kc))
    validation(lambda: c.query(Select="ALL_PROJECTED_ATTRIBUTES", **kc))  # only for an index


def test_query_key_condition_errors(env, numtable):
    c = env.c.ddb

    def q(expr, values=None, names=None):
        kw: dict[str, Any] = {"KeyConditionExpression": expr}
        if values:
            kw["ExpressionAttributeValues"] = values
        if names:
            kw["ExpressionAttributeNames"] = names
        return lambda: c.query(TableName=numtable, **kw)

    assert validation(q("sk = :a", {":a": N(1)})) == "Query condition missed key schema element: pk"
    assert validation(q("pk = :p OR sk = :a", {":p": S("p"), ":a": N(1)})) == (
        "Invalid operator used in KeyConditionExpression: OR"
    )
    assert validation(q("pk = :n", {":n": N(1)})) == (
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    )
    validation(q("pk < :p", {":p": S("p")}))
    validation(q("pk = :p AND other = :a", {":p": S("p"), ":a": N(1)}))
    validation(q("pk = :p AND sk = :a AND sk = :b", {":p": S("p"), ":a": N(1), ":b": N(2)}))
    validation(q("pk = :p AND begins_with(sk, :a)", {":p": S("p"), ":a": N(1)}))  # begins_with on a number
    validation(q("pk = :p AND sk <> :a", {":p": S("p"), ":a": N(1)}))
    validation(q("pk = :p AND NOT sk = :a", {":p": S("p"), ":a": N(1)}))
    msg = validation(q("pk = :p", {":p": S("p"), ":x": N(1)}))
    assert msg == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
    msg = validation(q("pk = :p AND", {":p": S("p")}))
    assert msg.startswith("Invalid KeyConditionExpression: Syntax error; token: "), msg
    msg = validation(q("pk = :nope", {":p": S("p")}))
    assert msg == (
        "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; "
        "attribute value: :nope"
    )
    validation(lambda: c.query(TableName=numtable))  # no key condition at all


def test_scan_pagination_and_segments(env):
    c = env.c.ddb
    t = create(c, unique("scan"), {"pk": "S"}, "pk")
    env.wait_table_active(t)
    keys = {f"k{i:03d}" for i in range(60)}
    for k in keys:
        c.put_item(TableName=t, Item={"pk": S(k), "v": N(len(k))})
    everything = c.scan(TableName=t)
    assert {it["pk"]["S"] for it in everything["Items"]} == keys
    assert everything["Count"] == everything["ScannedCount"] == 60 and "LastEvaluatedKey" not in everything

    items, pages = query_all(c, op="scan", TableName=t, Limit=7)
    assert [it["pk"]["S"] for it in items] == [it["pk"]["S"] for it in everything["Items"]]  # same order
    assert pages >= 9

    seen: list[str] = []
    for total in (1, 4, 7):
        seen = []
        for seg in range(total):
            part, _ = query_all(c, op="scan", TableName=t, Segment=seg, TotalSegments=total, Limit=5)
            seen.extend(it["pk"]["S"] for it in part)
        assert sorted(seen) == sorted(keys), f"TotalSegments={total}"  # a partition, no duplicates
    cnt = c.scan(TableName=t, Select="COUNT", FilterExpression="begins_with(pk, :k)", ExpressionAttributeValues={
        ":k": S("k00")})  # fmt: skip
    assert cnt["Count"] == 10 and cnt["ScannedCount"] == 60

    msg = validation(lambda: c.scan(TableName=t, Segment=4, TotalSegments=4))
    assert "Segment" in msg, msg
    msg = validation(lambda: c.scan(TableName=t, Segment=0))
    assert "TotalSegments" in msg, msg
    validation(lambda: c.scan(TableName=t, TotalSegments=1000001))


def test_one_megabyte_page_limit(env):
    c = env.c.ddb
    t = create(c, unique("mb"), {"pk": "S", "sk": "N"}, "pk", "sk")
    env.wait_table_active(t)
    blob = "x" * 100_000
    for i in range(15):
        c.put_item(TableName=t, Item={"pk": S("p"), "sk": N(i), "d": S(blob)})
    kc = dict(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")})
    first = c.query(**kc)
    assert 10 <= first["Count"] <= 11, first["Count"]  # 1 MB of ~100 KB items
    assert "LastEvaluatedKey" in first
    items, pages = query_all(c, **kc)
    assert sks(items) == [str(i) for i in range(15)] and pages == 2
    # COUNT reads the same data, so it stops at 1 MB too.
    cnt = c.query(Select="COUNT", **kc)
    assert cnt["Count"] == first["Count"] and "LastEvaluatedKey" in cnt
    # Projecting a small attribute does not change what is read.
    proj = c.query(ProjectionExpression="sk", **kc)
    assert proj["Count"] == first["Count"] and "LastEvaluatedKey" in proj
    scan_first = c.scan(TableName=t)
    assert 10 <= scan_first["Count"] <= 11 and "LastEvaluatedKey" in scan_first
    items, _ = query_all(c, op="scan", TableName=t)
    assert len(items) == 15


def test_paginators(env, numtable):
    c = env.c.ddb
    pages = list(
        c.get_paginator("query").paginate(
            TableName=numtable, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")},
            PaginationConfig={"PageSize": 3},
        )
    )  # fmt: skip
    assert [sk for p in pages for sk in sks(p["Items"])] == NUM_ORDER
    assert len(pages) >= 4
    result = (
        c.get_paginator("query")
        .paginate(
            TableName=numtable, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")},
            ScanIndexForward=False, PaginationConfig={"PageSize": 4},
        )
        .build_full_result()
    )  # fmt: skip
    assert sks(result["Items"]) == NUM_ORDER[::-1]
    scanned = list(c.get_paginator("scan").paginate(TableName=numtable, PaginationConfig={"PageSize": 5}))
    assert sum(p["Count"] for p in scanned) == len(NUM_ORDER) + 2
    # MaxItems stops early and hands back a resumption token.
    limited = (
        c.get_paginator("scan").paginate(TableName=numtable, PaginationConfig={"MaxItems": 4, "PageSize": 3})
        .build_full_result()
    )  # fmt: skip
    assert len(limited["Items"]) == 4 and "NextToken" in limited


def test_table_resource(env):
    res = boto3.resource(
        "dynamodb", endpoint_url=env.server.endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=CLIENT_CONFIG,
    )  # fmt: skip
    name = unique("res")
    table = res.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"}, {"AttributeName": "ts", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    table.wait_until_exists()
    table.reload()
    assert table.table_status == "ACTIVE"
    with table.batch_writer() as bw:
        for i in range(30):
            bw.put_item(
                Item={
                    "user": "alice" if i % 3 else "bob", "ts": Decimal(i), "price": Decimal("9.99") * i,
                    "tags": {"x", "even"} if i % 2 == 0 else {"x"}, "info": {"n": i, "label": f"L{i}"},
                    "status": "new" if i < 10 else "old",
                }
            )  # fmt: skip
    got = table.get_item(Key={"user": "bob", "ts": 3}, ConsistentRead=True)["Item"]
    assert got["price"] == Decimal("29.97") and got["tags"] == {"x"} and got["info"] == {"n": 3, "label": "L3"}

    resp = table.query(KeyConditionExpression=Key("user").eq("alice") & Key("ts").between(4, 11))
    assert [int(it["ts"]) for it in resp["Items"]] == [4, 5, 7, 8, 10, 11]
    resp = table.query(
        KeyConditionExpression=Key("user").eq("alice") & Key("ts").gt(20),
        FilterExpression=Attr("tags").contains("even") & Attr("status").is_in(["old", "gone"]),
        ScanIndexForward=False,
    )
    assert [int(it["ts"]) for it in resp["Items"]] == [28, 26, 22]
    resp = table.scan(FilterExpression=Attr("info.n").lt(5) & Attr("price").exists() & ~Attr("status").eq("old"))
    assert sorted(int(it["ts"]) for it in resp["Items"]) == [0, 1, 2, 3, 4]
    resp = table.scan(FilterExpression=Attr("info.label").begins_with("L2") | Attr("tags").size().eq(2) & Attr("ts").lt(3))
    assert sorted(int(it["ts"]) for it in resp["Items"]) == [0, 2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]
    resp = table.query(KeyConditionExpression=Key("user").eq("bob"), Select="COUNT")
    assert resp["Count"] == 10

    upd = table.update_item(
        Key={"user": "bob", "ts": 3}, UpdateExpression="SET #s = :s ADD price :p REMOVE info.label",
        ConditionExpression=Attr("status").eq("new"), ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "done", ":p": Decimal("0.03")}, ReturnValues="ALL_NEW",
    )["Attributes"]  # fmt: skip
    assert upd["status"] == "done" and upd["price"] == Decimal("30") and upd["info"] == {"n": 3}
    with pytest.raises(ClientError) as e:
        table.delete_item(Key={"user": "bob", "ts": 3}, ConditionExpression=Attr("status").eq("new"))
    assert error_of(e.value)[0] == "ConditionalCheckFailedException"
    table.delete_item(Key={"user": "bob", "ts": 3})
    assert "Item" not in table.get_item(Key={"user": "bob", "ts": 3})
    total = 0
    kwargs: dict[str, Any] = {"Limit": 7}
    while True:
        page = table.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert total == 29


# --------------------------------------------------------------------------------------------
# secondary indexes


@pytest.fixture(scope="module")
def indexed(server, clients):
    """A table with three GSIs (ALL / KEYS_ONLY / INCLUDE) and two LSIs (KEYS_ONLY / INCLUDE)."""
    env = Env(server, clients, None)
    c = clients.ddb
    name = unique("idx")
    create(
        c, name, {"pk": "S", "sk": "S", "status": "S", "ts": "N", "gk": "S", "lk": "N"}, "pk", "sk",
        GlobalSecondaryIndexes=[
            {"IndexName": "by_status", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                                     {"AttributeName": "ts", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "keys", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "incl", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"},
                                                {"AttributeName": "ts", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["color"]}},
        ],
        LocalSecondaryIndexes=[
            {"IndexName": "by_lk", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                 {"AttributeName": "lk", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "by_ts", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                 {"AttributeName": "ts", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["color", "size"]}},
        ],
    )  # fmt: skip
    t = env.wait_table_active(name)
    for g in t.get("GlobalSecondaryIndexes", []):
        assert g["IndexStatus"] == "ACTIVE", g
    return name


def index_item(i: int, **over) -> dict:
    item = {
        "pk": S(f"p{i % 2}"), "sk": S(f"s{i:02d}"), "status": S("open" if i % 3 else "closed"), "ts": N(100 - i),
        "gk": S("g"), "lk": N(i), "color": S(f"c{i}"), "size": N(i * 10), "other": S("o"),
    }  # fmt: skip
    item.update(over)
    return {k: v for k, v in item.items() if v is not None}


def test_describe_table_shows_indexes(env, indexed):
    t = env.c.ddb.describe_table(TableName=indexed)["Table"]
    gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
    lsis = {x["IndexName"]: x for x in t["LocalSecondaryIndexes"]}
    assert set(gsis) == {"by_status", "keys", "incl"} and set(lsis) == {"by_lk", "by_ts"}
    assert gsis["incl"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["color"]}
    assert gsis["keys"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    for g in gsis.values():
        assert g["IndexArn"] == f"{t['TableArn']}/index/{g['IndexName']}"
        assert g["IndexStatus"] == "ACTIVE"
    for x in lsis.values():
        assert x["IndexArn"] == f"{t['TableArn']}/index/{x['IndexName']}"
        assert x["KeySchema"][0] == {"AttributeName": "pk", "KeyType": "HASH"}


def test_index_queries_and_projections(env, indexed):
    c = env.c.ddb
    base = unique("ix")
    items = [index_item(i, gk=S(base)) for i in range(12)]
    # A sparse item: no status, no gk -> absent from by_status, keys and incl.
    items.append(index_item(50, gk=None, status=None, sk=S(f"{base}-sparse")))
    for it in items:
        c.put_item(TableName=indexed, Item=it)
    dense = items[:12]

    # ALL projection, numeric range key order, both directions.
    page = c.query(
        TableName=indexed, IndexName="incl", KeyConditionExpression="gk = :g",
        ExpressionAttributeValues={":g": S(base)}, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert [it["ts"]["N"] for it in page["Items"]] == sorted((it["ts"]["N"] for it in dense), key=int)
    # INCLUDE: table keys + index keys + the included attribute only.
    assert all(set(it) == {"pk", "sk", "gk", "ts", "color"} for it in page["Items"])
    # KEYS_ONLY: table keys + index keys.
    page = c.query(
        TableName=indexed, IndexName="keys", KeyConditionExpression="gk = :g",
        ExpressionAttributeValues={":g": S(base)}, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert page["Count"] == 12 and all(set(it) == {"pk", "sk", "gk"} for it in page["Items"])
    # Select=ALL_ATTRIBUTES is refused on a GSI that does not project everything.
    msg = validation(
        lambda: c.query(
            TableName=indexed, IndexName="keys", KeyConditionExpression="gk = :g", Select="ALL_ATTRIBUTES",
            ExpressionAttributeValues={":g": S(base)},
        )
    )  # fmt: skip
    assert "ALL_ATTRIBUTES" in msg, msg
    # ...but allowed on an LSI (fetched from the table).
    page = c.query(
        TableName=indexed, IndexName="by_lk", KeyConditionExpression="pk = :p AND lk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": S("p0"), ":a": N(2), ":b": N(6)}, Select="ALL_ATTRIBUTES",
    )  # fmt: skip
    assert [it["lk"]["N"] for it in page["Items"]] == ["2", "4", "6"]
    assert page["Items"][0] == index_item(2, gk=S(base))
    page = c.query(
        TableName=indexed, IndexName="by_lk", KeyConditionExpression="pk = :p AND lk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": S("p0"), ":a": N(2), ":b": N(6)}, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert all(set(it) == {"pk", "sk", "lk"} for it in page["Items"])
    page = c.query(
        TableName=indexed, IndexName="by_ts", KeyConditionExpression="pk = :p AND ts > :t",
        ExpressionAttributeValues={":p": S("p1"), ":t": N(94)}, ScanIndexForward=False, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert [it["ts"]["N"] for it in page["Items"]] == ["99", "97", "95"]
    assert all(set(it) == {"pk", "sk", "ts", "color", "size"} for it in page["Items"])

    # Pagination over an index: LastEvaluatedKey carries table and index keys.
    first = c.query(
        TableName=indexed, IndexName="incl", KeyConditionExpression="gk = :g",
        ExpressionAttributeValues={":g": S(base)}, Limit=5, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert set(first["LastEvaluatedKey"]) == {"pk", "sk", "gk", "ts"}
    all_items, _ = query_all(
        c, TableName=indexed, IndexName="incl", KeyConditionExpression="gk = :g",
        ExpressionAttributeValues={":g": S(base)}, Limit=5, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert len(all_items) == 12

    # Index scans: sparse items are missing.
    scanned, _ = query_all(
        c, op="scan", TableName=indexed, IndexName="keys", FilterExpression="gk = :g",
        ExpressionAttributeValues={":g": S(base)},
    )  # fmt: skip
    assert len(scanned) == 12
    assert not any(it["sk"]["S"].endswith("-sparse") for it in c.scan(TableName=indexed, IndexName="by_status")["Items"])
    assert any(it["sk"]["S"].endswith("-sparse") for it in c.scan(TableName=indexed, IndexName="by_lk")["Items"])

    # GSI errors.
    msg = validation(
        lambda: c.query(
            TableName=indexed, IndexName="keys", KeyConditionExpression="gk = :g", ConsistentRead=True,
            ExpressionAttributeValues={":g": S(base)},
        )
    )  # fmt: skip
    assert msg == "Consistent reads are not supported on global secondary indexes"
    msg = validation(
        lambda: c.query(
            TableName=indexed, IndexName="nope", KeyConditionExpression="gk = :g",
            ExpressionAttributeValues={":g": S(base)},
        )
    )  # fmt: skip
    assert msg == "The table does not have the specified index: nope"
    msg = validation(
        lambda: c.query(
            TableName=indexed, IndexName="by_status", KeyConditionExpression="ts = :t",
            ExpressionAttributeValues={":t": N(1)},
        )
    )  # fmt: skip
    assert msg == "Query condition missed key schema element: status"

    # An LSI fetches attributes it does not project from the table when they are asked for.
    page = c.query(
        TableName=indexed, IndexName="by_lk", KeyConditionExpression="pk = :p AND lk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": S("p0"), ":a": N(2), ":b": N(6)}, ProjectionExpression="color, lk",
    )  # fmt: skip
    assert page["Items"] == [{"color": S(f"c{i}"), "lk": N(i)} for i in (2, 4, 6)]


def test_index_query_default_select_is_all_projected(env, indexed):
    """Without Select or ProjectionExpression, an index query returns the projected attributes
    (ALL_PROJECTED_ATTRIBUTES), whatever the projection type."""
    c = env.c.ddb
    base = unique("dflt")
    c.put_item(TableName=indexed, Item=index_item(4, gk=S(base), pk=S(base)))
    for index, cond, values, attrs in (
        ("incl", "gk = :g", {":g": S(base)}, {"pk", "sk", "gk", "ts", "color"}),
        ("keys", "gk = :g", {":g": S(base)}, {"pk", "sk", "gk"}),
        ("by_status", "#s = :s AND ts = :t", {":s": S("open"), ":t": N(96)}, None),
        ("by_lk", "pk = :g", {":g": S(base)}, {"pk", "sk", "lk"}),
        ("by_ts", "pk = :g", {":g": S(base)}, {"pk", "sk", "ts", "color", "size"}),
    ):
        kw = {"ExpressionAttributeNames": {"#s": "status"}} if "#s" in cond else {}
        page = c.query(
            TableName=indexed, IndexName=index, KeyConditionExpression=cond, ExpressionAttributeValues=values, **kw
        )
        assert page["Count"] >= 1, index
        for it in page["Items"]:
            assert set(it) == (attrs if attrs is not None else set(index_item(4))), (index, it)


def test_index_maintenance_on_update_and_delete(env, indexed):
    c = env.c.ddb
    status = unique("st")
    key = {"pk": S("m"), "sk": S(unique("s"))}
    c.put_item(TableName=indexed, Item={**key, "status": S(status), "ts": N(1), "color": S("red")})

    def in_status(st):
        return c.query(
            TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": S(st)},
        )["Items"]  # fmt: skip

    assert [it["color"] for it in in_status(status)] == [S("red")]
    # Changing a non-key attribute updates the projection in place.
    c.update_item(TableName=indexed, Key=key, UpdateExpression="SET color = :c", ExpressionAttributeValues={":c": S("blue")})
    assert [it["color"] for it in in_status(status)] == [S("blue")]
    # Changing the index key moves the entry.
    c.update_item(
        TableName=indexed, Key=key, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": S(status + "-2")},
    )  # fmt: skip
    assert in_status(status) == [] and len(in_status(status + "-2")) == 1
    # Removing the index key takes the item out (sparse); putting it back re-adds it.
    c.update_item(TableName=indexed, Key=key, UpdateExpression="REMOVE ts")
    assert in_status(status + "-2") == []
    c.update_item(TableName=indexed, Key=key, UpdateExpression="SET ts = :t", ExpressionAttributeValues={":t": N(5)})
    assert [it["ts"] for it in in_status(status + "-2")] == [N(5)]
    # PutItem replacing the item without the key removes it from the index.
    c.put_item(TableName=indexed, Item={**key, "color": S("green")})
    assert in_status(status + "-2") == []
    c.put_item(TableName=indexed, Item={**key, "status": S(status), "ts": N(2)})
    assert len(in_status(status)) == 1
    c.delete_item(TableName=indexed, Key=key)
    assert in_status(status) == []


def test_index_key_validation(env, indexed):
    c = env.c.ddb
    key = {"pk": S("v"), "sk": S(unique("s"))}
    msg = validation(lambda: c.put_item(TableName=indexed, Item={**key, "status": N(1)}))
    assert msg == (
        "One or more parameter values were invalid: Type mismatch for Index Key status Expected: S Actual: N "
        "IndexName: by_status"
    )
    msg = validation(lambda: c.put_item(TableName=indexed, Item={**key, "status": S("")}))
    assert "IndexName: by_status" in msg and "empty string" in msg, msg
    msg = validation(
        lambda: c.update_item(
            TableName=indexed, Key=key, UpdateExpression="SET lk = :v", ExpressionAttributeValues={":v": S("x")}
        )
    )
    assert "Type mismatch for Index Key lk" in msg, msg
    assert "Item" not in c.get_item(TableName=indexed, Key=key, ConsistentRead=True)


def test_query_with_the_aws_cli(env, aws, numtable):
    out = aws(
        "dynamodb", "query", "--table-name", numtable,
        "--key-condition-expression", "pk = :p AND sk BETWEEN :lo AND :hi",
        "--expression-attribute-values", '{":p": {"S": "p"}, ":lo": {"N": "-5"}, ":hi": {"N": "10"}}',
        "--no-scan-index-forward",
    )  # fmt: skip
    assert sks(out["Items"]) == ["10", "2", "1.5", "0", "-0.01", "-5"]
    assert out["Count"] == 6 and out["ScannedCount"] == 6
    # The CLI paginates by itself (page size 2) and merges the pages.
    out = aws(
        "dynamodb", "query", "--table-name", numtable, "--key-condition-expression", "pk = :p",
        "--expression-attribute-values", '{":p": {"S": "p"}}', "--page-size", "2",
        "--projection-expression", "sk",
    )  # fmt: skip
    assert sks(out["Items"]) == NUM_ORDER and all(set(it) == {"sk"} for it in out["Items"])
    out = aws("dynamodb", "scan", "--table-name", numtable, "--select", "COUNT")
    assert out["Count"] == len(NUM_ORDER) + 2
    op, msg = aws(
        "dynamodb", "query", "--table-name", numtable, "--key-condition-expression", "sk = :s",
        "--expression-attribute-values", '{":s": {"N": "1"}}', expect_error="ValidationException",
    )  # fmt: skip
    assert op == "Query" and msg == "Query condition missed key schema element: pk"
