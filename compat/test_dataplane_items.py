"""DynamoDB item API through the real binary: PutItem / GetItem / UpdateItem / DeleteItem, the
expression language (conditions, updates, projections, names and values), every ReturnValues
option, ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure, AWS's
validation messages, and the value rules (exact numbers, canonical output, sets, sizes, keys).

Expected messages are DynamoDB's own wording where it is well established (recorded by tests
that run against DynamoDB: dynalite, ScyllaDB's alternator suite, moto); elsewhere a test checks
the error code, the status and a distinctive substring."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import error_of, signed_request, unique

# --------------------------------------------------------------------------------------------
# helpers


def make_table(env, hash_key=("pk", "S"), range_key=None) -> str:
    name = unique("items")
    attrs = [{"AttributeName": hash_key[0], "AttributeType": hash_key[1]}]
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": range_key[0], "AttributeType": range_key[1]})
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    env.c.ddb.create_table(
        TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST"
    )
    env.wait_table_active(name)
    return name


def norm(v: Any) -> Any:
    """An item / attribute value with set members sorted, for comparison."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("SS", "NS") and isinstance(x, list):
                out[k] = sorted(x)
            elif k == "BS" and isinstance(x, list):
                out[k] = sorted(bytes(b) for b in x)
            else:
                out[k] = norm(x)
        return out
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def validation(call) -> str:
    """Run `call`, assert it fails with ValidationException / 400; return the message."""
    with pytest.raises(ClientError) as e:
        call()
    code, status, message = error_of(e.value)
    assert (code, status) == ("ValidationException", 400), (code, status, message)
    return message


def only_used(expr_text: str, names: dict, values: dict) -> dict:
    """ExpressionAttributeNames/Values restricted to the placeholders `expr_text` uses (DynamoDB
    rejects unused ones)."""
    kw: dict[str, Any] = {}
    used_names = {n: names[n] for n in re.findall(r"#\w+", expr_text)}
    used_values = {v: values[v] for v in re.findall(r":\w+", expr_text)}
    if used_names:
        kw["ExpressionAttributeNames"] = used_names
    if used_values:
        kw["ExpressionAttributeValues"] = used_values
    return kw


N = lambda x: {"N": str(x)}  # noqa: E731
S = lambda x: {"S": x}  # noqa: E731


@pytest.fixture(scope="module")
def shared_table(server, clients):
    """One hash-key table shared by the read-only tests of this module."""
    from harness import Env

    env = Env(server, clients, None)
    return make_table(env)


# --------------------------------------------------------------------------------------------
# round trips, projections


ALL_TYPES = {
    "pk": S("types"),
    "s": S("hello"),
    "n": N("42.5"),
    "b": {"B": b"\x00\x01\xfe\xff"},
    "ss": {"SS": ["x", "y", "z"]},
    "ns": {"NS": ["1", "-2.5", "300"]},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "m": {"M": {"inner": {"M": {"deep": S("v")}}, "num": N("1")}},
    "l": {"L": [S("a"), N("2"), {"BOOL": False}, {"NULL": True}, {"L": []}, {"M": {}}]},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nul": {"NULL": True},
    "empty_s": S(""),
    "empty_b": {"B": b""},
    "unicode": S("grüße 😀"),
}


def test_every_attribute_type_round_trips(env, shared_table):
    c = env.c.ddb
    c.put_item(TableName=shared_table, Item=ALL_TYPES)
    got = c.get_item(TableName=shared_table, Key={"pk": S("types")}, ConsistentRead=True)["Item"]
    assert norm(got) == norm(ALL_TYPES)
    # GetItem of a missing key: no Item member at all.
    assert "Item" not in c.get_item(TableName=shared_table, Key={"pk": S("absent")})


def test_projection_expression_nested_paths(env, shared_table):
    c = env.c.ddb
    item = {
        "pk": S("proj"),
        "a": {"M": {"b": {"L": [N(0), N(1), {"M": {"c": S("C"), "d": S("D")}}, N(3)]}, "x": S("X")}},
        "name": S("reserved word as attribute"),
        "top": S("T"),
        "dot.ted": S("literal dot"),
    }
    c.put_item(TableName=shared_table, Item=item)
    key = {"pk": S("proj")}

    got = c.get_item(TableName=shared_table, Key=key, ProjectionExpression="a.b[2].c")["Item"]
    assert got == {"a": {"M": {"b": {"L": [{"M": {"c": S("C")}}]}}}}

    # Several list elements keep their order; the key is not added unless asked for.
    got = c.get_item(TableName=shared_table, Key=key, ProjectionExpression="a.b[3], a.b[0], top")["Item"]
    assert got == {"a": {"M": {"b": {"L": [N(0), N(3)]}}}, "top": S("T")}

    # Names: a reserved word and an attribute whose name contains a dot.
    got = c.get_item(
        TableName=shared_table, Key=key, ProjectionExpression="#n, #d, pk",
        ExpressionAttributeNames={"#n": "name", "#d": "dot.ted"},
    )["Item"]  # fmt: skip
    assert got == {"name": S("reserved word as attribute"), "dot.ted": S("literal dot"), "pk": S("proj")}

    # Paths that match nothing give an empty item (no Item member would mean "no such key").
    got = c.get_item(TableName=shared_table, Key=key, ProjectionExpression="nothing, a.b[9]")
    assert got["Item"] == {}

    # Overlapping paths.
    msg = validation(lambda: c.get_item(TableName=shared_table, Key=key, ProjectionExpression="a, a.b"))
    assert msg == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a], path two: [a, b]"
    )
    # A reserved word used bare.
    msg = validation(lambda: c.get_item(TableName=shared_table, Key=key, ProjectionExpression="name"))
    assert msg == "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    # An undefined name; an unused name.
    msg = validation(lambda: c.get_item(TableName=shared_table, Key=key, ProjectionExpression="#zz"))
    assert msg == (
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; "
        "attribute name: #zz"
    )
    msg = validation(
        lambda: c.get_item(
            TableName=shared_table, Key=key, ProjectionExpression="top", ExpressionAttributeNames={"#u": "x"}
        )
    )
    assert msg == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}"
    msg = validation(lambda: c.get_item(TableName=shared_table, Key=key, ProjectionExpression="top,"))
    assert msg.startswith("Invalid ProjectionExpression: Syntax error; token: "), msg


# --------------------------------------------------------------------------------------------
# conditions

COND_ITEM = {
    "pk": S("cond"),
    "n": N("10"),
    "s": S("hello world"),
    "b": {"B": b"\x01\x02"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"\x01"]},
    "l": {"L": [N("1"), S("x"), {"M": {"c": S("deep")}}]},
    "m": {"M": {"a": {"M": {"b": {"L": [N("0"), N("1"), {"M": {"c": S("v")}}]}}}}},
    "t": {"BOOL": True},
    "nul": {"NULL": True},
    "e": S(""),
    "dot.name": S("dotted"),
}
COND_VALUES = {
    ":zero": N(0), ":one": N(1), ":two": N(2), ":three": N(3), ":nine": N(9), ":ten": N("10.0"),
    ":eleven": N(11), ":twenty": N(20), ":sten": S("10"), ":hel": S("hel"), ":ow": S("o w"),
    ":a": S("a"), ":x": S("x"), ":deep": S("deep"), ":b01": {"B": b"\x01"}, ":tN": S("N"),
    ":tSS": S("SS"), ":tNULL": S("NULL"), ":tS": S("S"), ":tM": S("M"), ":true": {"BOOL": True},
    ":empty": S(""), ":ss_ba": {"SS": ["b", "a"]}, ":dotted": S("dotted"),
}  # fmt: skip
COND_NAMES = {"#dn": "dot.name", "#n": "n"}

CONDITIONS = [
    ("n = :ten", True),  # 10 = 10.0: numbers compare by value
    ("n <> :ten", False),
    ("n < :eleven", True),
    ("n <= :ten", True),
    ("n > :ten", False),
    ("n >= :ten", True),
    ("#n = :ten", True),
    ("n = :sten", False),  # N 10 is not S "10"
    ("n < :hel", False),  # different types: false, not an error
    ("s < :x", True),
    ("n BETWEEN :nine AND :eleven", True),
    ("n BETWEEN :eleven AND :twenty", False),
    ("s BETWEEN :hel AND :x", True),
    ("n IN (:nine, :ten, :eleven)", True),
    ("n IN (:nine, :eleven)", False),
    ("attribute_exists(m.a.b[2].c)", True),
    ("attribute_exists(m.a.b[3])", False),
    ("attribute_exists(nul)", True),
    ("attribute_not_exists(nosuch)", True),
    ("attribute_not_exists(n)", False),
    ("attribute_type(n, :tN)", True),
    ("attribute_type(ss, :tSS)", True),
    ("attribute_type(nul, :tNULL)", True),
    ("attribute_type(m, :tM)", True),
    ("attribute_type(n, :tS)", False),
    ("begins_with(s, :hel)", True),
    ("begins_with(s, :ow)", False),
    ("begins_with(b, :b01)", True),
    ("contains(s, :ow)", True),
    ("contains(ss, :a)", True),
    ("contains(ss, :x)", False),
    ("contains(ns, :two)", True),
    ("contains(l, :x)", True),
    ("contains(l, :one)", True),
    ("contains(bs, :b01)", True),
    ("size(s) = :eleven", True),
    ("size(ss) = :two", True),
    ("size(l) = :three", True),
    ("size(m) = :one", True),
    ("size(b) = :two", True),
    ("size(e) = :zero", True),
    ("size(m.a.b) > :two", True),
    ("NOT n = :nine", True),
    ("n = :nine OR n = :ten", True),
    ("n = :nine AND n = :ten", False),
    ("n = :ten OR n = :nine AND s = :x", True),  # AND binds tighter than OR
    ("(n = :ten OR n = :nine) AND s = :x", False),
    ("NOT n = :nine AND n = :nine", False),  # NOT binds tighter than AND
    ("NOT (n = :nine AND n = :nine)", True),
    ("m.a.b[1] = :one", True),
    ("l[2].c = :deep", True),
    ("l[0] = :one", True),
    ("#dn = :dotted", True),
    ("t = :true", True),
    ("e = :empty", True),
    ("ss = :ss_ba", True),  # set equality ignores order
    ("m.a.b[1] = l[0]", True),  # path against path
    ("l[0] < s", False),
]


@pytest.fixture(scope="module")
def cond_table(server, clients):
    from harness import Env

    name = make_table(Env(server, clients, None))
    clients.ddb.put_item(TableName=name, Item=COND_ITEM)
    return name


@pytest.mark.parametrize("expr,expected", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition_expression(env, cond_table, expr, expected):
    """The same expression as ConditionExpression (PutItem of the identical item) and as Scan's
    FilterExpression must agree with DynamoDB's semantics."""
    c = env.c.ddb
    kw = only_used(expr, COND_NAMES, COND_VALUES)
    try:
        c.put_item(TableName=cond_table, Item=COND_ITEM, ConditionExpression=expr, **kw)
        passed = True
    except ClientError as e:
        code, status, message = error_of(e)
        assert (code, status, message) == ("ConditionalCheckFailedException", 400, "The conditional request failed")
        passed = False
    assert passed is expected, f"ConditionExpression {expr!r}"
    page = c.scan(TableName=cond_table, FilterExpression=expr, **kw)
    assert page["ScannedCount"] == 1
    assert page["Count"] == (1 if expected else 0), f"FilterExpression {expr!r}"


COND_ERRORS = [
    # (condition, names, values, exact message or ("prefix", text) / ("sub", text))
    ("n = ", {}, {}, ("prefix", "Invalid ConditionExpression: Syntax error; token: ")),
    ("n == :one", {}, {":one": N(1)}, ("prefix", "Invalid ConditionExpression: Syntax error; token: ")),
    ("n = :nope", {}, {":one": N(1)}, None),  # undefined (checked below, message includes :nope)
    ("#nope = :one", {}, {":one": N(1)},
     "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
     "attribute name: #nope"),
    ("n = :one", {}, {":one": N(1), ":unused": N(2)},
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"),
    ("n = :one", {"#unused": "x"}, {":one": N(1)},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"),
    ("name = :one", {}, {":one": N(1)},
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ("attribute_exists(:one)", {}, {":one": N(1)},
     "Invalid ConditionExpression: Operator or function requires a document path; operator or function: "
     "attribute_exists"),
    ("frobnicate(n)", {}, {}, "Invalid ConditionExpression: Invalid function name; function: frobnicate"),
    ("begins_with(s, :one)", {}, {":one": N(1)},
     "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: "
     "begins_with, operand type: N"),
    ("n BETWEEN :two AND :one", {}, {":one": N(1), ":two": N(2)}, ("sub", "BETWEEN")),
    ("n = :one", {}, {}, "ExpressionAttributeValues must not be empty"),
    ("n = :one", {"a": "b"}, {":one": N(1)}, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"'),
    ("n = :one", {}, {":one": N(1), "b": N(2)},
     'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"'),
    ("n = :one", {}, {":one": {"SS": []}}, ("sub", "may not be empty")),
    ("", {}, {}, "Invalid ConditionExpression: The expression can not be empty;"),
    ("n = n", {}, {},
     "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this "
     "operator or function; operator: =, first operand: [n]"),
]  # fmt: skip


@pytest.mark.parametrize("case", COND_ERRORS, ids=[f"{i}:{c[0]}" for i, c in enumerate(COND_ERRORS)])
def test_condition_expression_errors(env, cond_table, case):
    expr, names, values, expected = case
    c = env.c.ddb
    kw: dict[str, Any] = {"ConditionExpression": expr}
    if names:
        kw["ExpressionAttributeNames"] = names
    if values or expected == "ExpressionAttributeValues must not be empty":
        kw["ExpressionAttributeValues"] = values
    msg = validation(lambda: c.put_item(TableName=cond_table, Item={"pk": S("cond-err")}, **kw))
    if expected is None:
        assert msg == (
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
            "attribute value: :nope"
        )
    elif isinstance(expected, tuple):
        how, text = expected
        assert (msg.startswith(text) if how == "prefix" else text in msg), msg
    else:
        assert msg == expected
    # Nothing was written.
    assert "Item" not in c.get_item(TableName=cond_table, Key={"pk": S("cond-err")}, ConsistentRead=True)


def test_conditional_check_failed_return_values(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("ccf"))}
    old = {**key, "s": S("dog"), "n": N(1)}

    # On a missing item: no Item member even with ALL_OLD.
    with pytest.raises(ClientError) as e:
        c.put_item(
            TableName=shared_table, Item={**key, "s": S("cat")}, ConditionExpression="attribute_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )  # fmt: skip
    assert error_of(e.value) == ("ConditionalCheckFailedException", 400, "The conditional request failed")
    assert "Item" not in e.value.response

    c.put_item(TableName=shared_table, Item=old)
    calls = {
        "PutItem": lambda **kw: c.put_item(TableName=shared_table, Item={**key, "s": S("cow")}, **kw),
        "UpdateItem": lambda **kw: c.update_item(
            TableName=shared_table, Key=key, UpdateExpression="SET n = n + :inc",
            **{**kw, "ExpressionAttributeValues": {**kw["ExpressionAttributeValues"], ":inc": N(1)}},
        ),
        "DeleteItem": lambda **kw: c.delete_item(TableName=shared_table, Key=key, **kw),
    }  # fmt: skip
    for op, call in calls.items():
        cond = dict(ConditionExpression="s = :v", ExpressionAttributeValues={":v": S("rat")})
        with pytest.raises(ClientError) as e:
            call(ReturnValuesOnConditionCheckFailure="ALL_OLD", **cond)
        assert error_of(e.value)[:2] == ("ConditionalCheckFailedException", 400), op
        assert e.value.response["Item"] == old, op
        with pytest.raises(ClientError) as e:
            call(ReturnValuesOnConditionCheckFailure="NONE", **cond)
        assert "Item" not in e.value.response, op
        with pytest.raises(ClientError) as e:
            call(**cond)
        assert "Item" not in e.value.response, op
        # Nothing changed.
        assert c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"] == old, op

    # A passing condition returns neither Item nor Attributes.
    ok = c.put_item(
        TableName=shared_table, Item={**old, "s": S("cat")}, ConditionExpression="s = :v",
        ExpressionAttributeValues={":v": S("dog")}, ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )  # fmt: skip
    assert "Item" not in ok and "Attributes" not in ok

    msg = validation(
        lambda: c.put_item(
            TableName=shared_table, Item=old, ConditionExpression="attribute_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_NEW",
        )
    )  # fmt: skip
    assert "ReturnValuesOnConditionCheckFailure" in msg or "ALL_NEW" in msg, msg


def test_put_if_absent_and_conditional_delete(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("once"))}
    c.put_item(TableName=shared_table, Item={**key, "v": N(1)}, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as e:
        c.put_item(TableName=shared_table, Item={**key, "v": N(2)}, ConditionExpression="attribute_not_exists(pk)")
    assert error_of(e.value)[0] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        c.delete_item(
            TableName=shared_table, Key=key, ConditionExpression="v > :v", ExpressionAttributeValues={":v": N(1)}
        )
    assert error_of(e.value)[0] == "ConditionalCheckFailedException"
    deleted = c.delete_item(
        TableName=shared_table, Key=key, ConditionExpression="v = :v", ExpressionAttributeValues={":v": N(1)},
        ReturnValues="ALL_OLD",
    )  # fmt: skip
    assert deleted["Attributes"] == {**key, "v": N(1)}
    assert "Item" not in c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)


# --------------------------------------------------------------------------------------------
# update expressions


def test_update_expression_actions(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("upd"))}
    c.put_item(
        TableName=shared_table,
        Item={
            **key, "n": N(10), "l": {"L": [N(1), N(2), N(3)]}, "ss": {"SS": ["a", "b", "c"]},
            "ns": {"NS": ["1", "2"]}, "m": {"M": {"a": {"M": {"b": {"L": [N(0), N(1), {"M": {"c": S("v")}}]}}}}},
            "gone": S("x"), "gone2": S("y"),
        },
    )  # fmt: skip

    def upd(expr, values=None, names=None, rv="ALL_NEW"):
        kw: dict[str, Any] = {"UpdateExpression": expr, "ReturnValues": rv}
        if values:
            kw["ExpressionAttributeValues"] = values
        if names:
            kw["ExpressionAttributeNames"] = names
        return c.update_item(TableName=shared_table, Key=key, **kw).get("Attributes")

    a = upd("SET n = n + :five, d = n - :five", {":five": N(5)})
    assert a["n"] == N(15) and a["d"] == N(5)  # the right-hand side reads the old item
    a = upd("SET l = list_append(l, :tail)", {":tail": {"L": [N(4)]}})
    assert a["l"] == {"L": [N(1), N(2), N(3), N(4)]}
    a = upd("SET l = list_append(:head, l)", {":head": {"L": [N(0)]}})
    assert a["l"] == {"L": [N(0), N(1), N(2), N(3), N(4)]}
    a = upd("SET cnt = if_not_exists(cnt, :zero) + :one, n = if_not_exists(n, :zero)", {":zero": N(0), ":one": N(1)})
    assert a["cnt"] == N(1) and a["n"] == N(15)
    a = upd("SET cnt = if_not_exists(cnt, :zero) + :one", {":zero": N(0), ":one": N(1)})
    assert a["cnt"] == N(2)
    a = upd("SET m.a.b[2].c = :w, m.a.#new = :w", {":w": S("w")}, {"#new": "new"})
    assert a["m"] == {"M": {"a": {"M": {"b": {"L": [N(0), N(1), {"M": {"c": S("w")}}]}, "new": S("w")}}}}
    # SET past the end of a list appends.
    a = upd("SET l[10] = :x", {":x": S("end")})
    assert a["l"]["L"][-1] == S("end") and len(a["l"]["L"]) == 6
    # REMOVE list elements shifts the rest; REMOVE several attributes at once.
    a = upd("REMOVE l[0], l[1], gone, gone2")
    assert a["l"] == {"L": [N(2), N(3), N(4), S("end")]}
    assert "gone" not in a and "gone2" not in a
    # ADD to numbers (existing and missing) and to sets.
    a = upd("ADD n :d, fresh :d, ss :more, ns :nums", {":d": N("-2.5"), ":more": {"SS": ["c", "d"]}, ":nums": {"NS": ["3"]}})
    assert a["n"] == N("12.5") and a["fresh"] == N("-2.5")
    assert sorted(a["ss"]["SS"]) == ["a", "b", "c", "d"] and sorted(a["ns"]["NS"]) == ["1", "2", "3"]
    a = upd("ADD newset :s", {":s": {"SS": ["only"]}})
    assert a["newset"] == {"SS": ["only"]}
    # DELETE from sets; deleting the last element removes the attribute; deleting absent ones is fine.
    a = upd("DELETE ss :rm, newset :all", {":rm": {"SS": ["a", "zzz"]}, ":all": {"SS": ["only"]}})
    assert sorted(a["ss"]["SS"]) == ["b", "c", "d"] and "newset" not in a
    # All four clauses in one expression, any order.
    a = upd("REMOVE d ADD n :one DELETE ns :two SET z = :one", {":one": N(1), ":two": {"NS": ["2"]}})
    assert a["n"] == N("13.5") and "d" not in a and sorted(a["ns"]["NS"]) == ["1", "3"] and a["z"] == N(1)
    # Lower-case keywords work too.
    a = upd("set z = z + :one remove fresh", {":one": N(1)})
    assert a["z"] == N(2) and "fresh" not in a

    # ADD / SET on an item that does not exist creates it.
    k2 = {"pk": S(unique("upd-new"))}
    r = c.update_item(
        TableName=shared_table, Key=k2, UpdateExpression="ADD hits :one", ExpressionAttributeValues={":one": N(1)},
        ReturnValues="ALL_NEW",
    )  # fmt: skip
    assert r["Attributes"] == {**k2, "hits": N(1)}
    # REMOVE on an item that does not exist creates nothing.
    k3 = {"pk": S(unique("upd-none"))}
    r = c.update_item(TableName=shared_table, Key=k3, UpdateExpression="REMOVE x", ReturnValues="ALL_NEW")
    assert "Attributes" not in r
    assert "Item" not in c.get_item(TableName=shared_table, Key=k3, ConsistentRead=True)


def test_update_item_return_values(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("rv"))}
    c.put_item(TableName=shared_table, Item={**key, "a": S("hi"), "b": S("dog")})

    def upd(rv, expr, values=None):
        kw: dict[str, Any] = {"UpdateExpression": expr}
        if rv:
            kw["ReturnValues"] = rv
        if values:
            kw["ExpressionAttributeValues"] = values
        return c.update_item(TableName=shared_table, Key=key, **kw)

    assert "Attributes" not in upd(None, "SET b = :v", {":v": S("cat")})
    assert "Attributes" not in upd("NONE", "SET b = :v", {":v": S("cow")})
    assert upd("ALL_OLD", "SET b = :v", {":v": S("cat")})["Attributes"] == {**key, "a": S("hi"), "b": S("cow")}
    assert upd("UPDATED_OLD", "SET b = :v, c = :w", {":v": S("dog"), ":w": S("new")})["Attributes"] == {"b": S("cat")}
    assert upd("UPDATED_NEW", "SET b = :v REMOVE c", {":v": S("eel")})["Attributes"] == {"b": S("eel")}
    assert upd("ALL_NEW", "REMOVE b")["Attributes"] == {**key, "a": S("hi")}
    assert "Attributes" not in upd("UPDATED_NEW", "REMOVE a")
    # Nested: UPDATED_* return only the touched sub-paths, inside their hierarchy.
    c.put_item(TableName=shared_table, Item={**key, "a": {"M": {"b": S("dog"), "c": {"L": [N(1), N(2), N(3)]}}}})
    assert upd("UPDATED_OLD", "SET a.b = :v", {":v": S("hi")})["Attributes"] == {"a": {"M": {"b": S("dog")}}}
    assert upd("UPDATED_NEW", "SET a.c[1] = :v", {":v": N(7)})["Attributes"] == {"a": {"M": {"c": {"L": [N(7)]}}}}
    assert upd("UPDATED_OLD", "SET a.c[1] = :v, a.b = :w", {":v": N(8), ":w": S("yo")})["Attributes"] == {
        "a": {"M": {"b": S("hi"), "c": {"L": [N(7)]}}}
    }
    assert upd("ALL_NEW", "SET a.b = :v", {":v": S("z")})["Attributes"] == {
        **key, "a": {"M": {"b": S("z"), "c": {"L": [N(1), N(8), N(3)]}}}
    }
    # A new item: UPDATED_NEW has no key attributes, ALL_OLD has nothing.
    k2 = {"pk": S(unique("rv-new"))}
    r = c.update_item(
        TableName=shared_table, Key=k2, UpdateExpression="SET x = :v", ExpressionAttributeValues={":v": N(1)},
        ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    assert r["Attributes"] == {"x": N(1)}
    for bad in ("DOG", "none"):
        msg = validation(lambda: upd(bad, "SET b = :v", {":v": S("x")}))
        assert "returnValues" in msg or "ReturnValues" in msg or "Return values" in msg, msg


def test_put_and_delete_return_values(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("prv"))}
    assert "Attributes" not in c.put_item(TableName=shared_table, Item={**key, "a": N(1)}, ReturnValues="ALL_OLD")
    r = c.put_item(TableName=shared_table, Item={**key, "a": N(2)}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {**key, "a": N(1)}
    assert "Attributes" not in c.put_item(TableName=shared_table, Item={**key, "a": N(3)}, ReturnValues="NONE")
    for bad in ("UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", "DOG"):
        validation(lambda: c.put_item(TableName=shared_table, Item={**key, "a": N(9)}, ReturnValues=bad))
        validation(lambda: c.delete_item(TableName=shared_table, Key=key, ReturnValues=bad))
    assert c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"] == {**key, "a": N(3)}
    r = c.delete_item(TableName=shared_table, Key=key, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {**key, "a": N(3)}
    assert "Attributes" not in c.delete_item(TableName=shared_table, Key=key, ReturnValues="ALL_OLD")


UPDATE_ERRORS = [
    # (update expression, values, names, exact message or ("prefix"/"sub", text))
    ("SET a = ", {}, {}, ("prefix", "Invalid UpdateExpression: Syntax error; token: ")),
    ("SET a", {}, {}, ("prefix", "Invalid UpdateExpression: Syntax error; token: ")),
    ("SET a = b * :one", {":one": N(1)}, {}, ("prefix", "Invalid UpdateExpression: Syntax error; token: ")),
    ("UPSERT a = :one", {":one": N(1)}, {}, ("prefix", "Invalid UpdateExpression: Syntax error; token: ")),
    ("SET a = :nope", {":one": N(1)}, {},
     "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
    ("SET #nope = :one", {":one": N(1)}, {},
     "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; "
     "attribute name: #nope"),
    ("SET a = :one", {":one": N(1), ":extra": N(2)}, {},
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:extra}"),
    ("SET a = :one", {":one": N(1)}, {"#extra": "x"},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#extra}"),
    ("SET name = :one", {":one": N(1)}, {},
     "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ("SET a.b = :one REMOVE a", {":one": N(1)}, {},
     "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
     "paths; path one: [a, b], path two: [a]"),
    ("SET a = :one, a = :two", {":one": N(1), ":two": N(2)}, {}, ("sub", "Two document paths overlap with each other")),
    ("REMOVE a.c SET a[1] = :one", {":one": N(1)}, {},
     "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these "
     "paths; path one: [a, c], path two: [a, [1]]"),
    ("SET a = :one SET b = :one", {":one": N(1)}, {},
     'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
    ("ADD a :s", {":s": S("x")}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
    ("ADD a :l", {":l": {"L": [N(1)]}}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: LIST"),
    ("DELETE a :m", {":m": {"M": {}}}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: MAP"),
    ("DELETE a :n", {":n": N(1)}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"),
    ("SET a = :s + :one", {":s": S("x"), ":one": N(1)}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, "
     "operand type: S"),
    ("SET a = list_append(:s, a)", {":s": S("x")}, {},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: "
     "list_append, operand type: S"),
    ("SET a = if_not_exists(a)", {}, {},
     "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: "
     "if_not_exists, number of operands: 1"),
    ("SET a = if_not_exists(:one, a)", {":one": N(1)}, {},
     "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"),
    ("SET a = frob(b)", {}, {}, "Invalid UpdateExpression: Invalid function name; function: frob"),
    ("SET pk = :s", {":s": S("x")}, {},
     "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
    ("REMOVE pk", {}, {},
     "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
    # Runtime checks against the stored item {"s": "str", "n": 1, "m": {}}.
    ("SET x = s + :one", {":one": N(1)}, {}, "An operand in the update expression has an incorrect data type"),
    ("ADD s :one", {":one": N(1)}, {}, "An operand in the update expression has an incorrect data type"),
    ("DELETE n :set", {":set": {"SS": ["a"]}}, {}, "An operand in the update expression has an incorrect data type"),
    ("SET x = nosuch + :one", {":one": N(1)}, {},
     "The provided expression refers to an attribute that does not exist in the item"),
    ("SET nosuch.a = :one", {":one": N(1)}, {},
     "The document path provided in the update expression is invalid for update"),
    ("SET s[0] = :one", {":one": N(1)}, {},
     "The document path provided in the update expression is invalid for update"),
    ("", {}, {}, "Invalid UpdateExpression: The expression can not be empty;"),
]  # fmt: skip


@pytest.mark.parametrize("case", UPDATE_ERRORS, ids=[f"{i}:{c[0]}" for i, c in enumerate(UPDATE_ERRORS)])
def test_update_expression_errors(env, shared_table, case):
    expr, values, names, expected = case
    c = env.c.ddb
    key = {"pk": S("upd-err")}
    stored = {**key, "s": S("str"), "n": N(1), "m": {"M": {}}}
    c.put_item(TableName=shared_table, Item=stored)
    kw: dict[str, Any] = {"UpdateExpression": expr}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    msg = validation(lambda: c.update_item(TableName=shared_table, Key=key, **kw))
    if isinstance(expected, tuple):
        how, text = expected
        assert (msg.startswith(text) if how == "prefix" else text in msg), msg
    else:
        assert msg == expected
    assert c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"] == stored


def test_update_item_too_large(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("grow"))}
    c.put_item(TableName=shared_table, Item={**key, "a": S("x" * 300_000)})
    msg = validation(
        lambda: c.update_item(
            TableName=shared_table, Key=key, UpdateExpression="SET b = :big",
            ExpressionAttributeValues={":big": S("y" * 200_000)},
        )
    )  # fmt: skip
    assert msg == "Item size to update has exceeded the maximum allowed size"
    assert set(c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"]) == {"pk", "a"}


# --------------------------------------------------------------------------------------------
# values and limits


def test_numbers_are_exact_and_canonical(env, shared_table):
    c = env.c.ddb
    key = {"pk": S(unique("num"))}
    given = {
        "e2": "1e2", "trail": "1.50", "negzero": "-0", "zeros": "0.000", "padded": "00012.3400",
        "small": "-1.0E-3", "big": "1.5e10", "tiny": "1e-5", "digits38": "12345678901234567890123456789012345678",
        "frac38": "0.12345678901234567890123456789012345678", "neg": "-7.250",
    }  # fmt: skip
    expected = {
        "e2": "100", "trail": "1.5", "negzero": "0", "zeros": "0", "padded": "12.34", "small": "-0.001",
        "big": "15000000000", "tiny": "0.00001", "digits38": "12345678901234567890123456789012345678",
        "frac38": "0.12345678901234567890123456789012345678", "neg": "-7.25",
    }  # fmt: skip
    c.put_item(TableName=shared_table, Item={**key, **{k: N(v) for k, v in given.items()}})
    got = c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"]
    assert {k: v["N"] for k, v in got.items() if k != "pk"} == expected

    # Arithmetic is decimal, not binary floating point.
    r = c.update_item(
        TableName=shared_table, Key=key, UpdateExpression="SET p = :a + :b, q = digits38 - :one, r = :nines + :one",
        ExpressionAttributeValues={":a": N("0.1"), ":b": N("0.2"), ":one": N("1"), ":nines": N("9" * 38)},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]  # fmt: skip
    assert r == {"p": N("0.3"), "q": N("12345678901234567890123456789012345677"), "r": N("1" + "0" * 38)}
    # Number sets come back canonical too.
    c.put_item(TableName=shared_table, Item={**key, "ns": {"NS": ["1.0", "2e1", "-0.50"]}})
    got = c.get_item(TableName=shared_table, Key=key, ConsistentRead=True)["Item"]
    assert sorted(got["ns"]["NS"]) == sorted(["1", "20", "-0.5"])


@pytest.mark.parametrize(
    "value,needle",
    [
        ("123456789012345678901234567890123456789", "Attempting to store more than 38 significant digits in a Number"),
        ("-1.23456789012345678901234567890123456789", "Attempting to store more than 38 significant digits in a Number"),
        ("1e126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        ("-1e126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        ("1e-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
        ("abc", "The parameter cannot be converted to a numeric value"),
        ("", "The parameter cannot be converted to a numeric value"),
    ],
)
def test_invalid_numbers(env, shared_table, value, needle):
    c = env.c.ddb
    msg = validation(lambda: c.put_item(TableName=shared_table, Item={"pk": S("badnum"), "n": {"N": value}}))
    assert needle in msg, msg


def test_sets_reject_duplicates_and_empty(env, shared_table):
    c = env.c.ddb
    put = lambda v: c.put_item(TableName=shared_table, Item={"pk": S("badset"), "x": v})  # noqa: E731
    assert "contains duplicates" in validation(lambda: put({"SS": ["a", "a"]}))
    assert "contains duplicates" in validation(lambda: put({"NS": ["1", "1.0"]}))  # equal numbers
    assert "contains duplicates" in validation(lambda: put({"BS": [b"x", b"x"]}))
    assert validation(lambda: put({"SS": []})) == (
        "One or more parameter values were invalid: An string set  may not be empty"
    )
    assert validation(lambda: put({"NS": []})) == (
        "One or more parameter values were invalid: An number set  may not be empty"
    )
    assert "empty" in validation(lambda: put({"BS": []}))
    # Also nested inside a map.
    assert "may not be empty" in validation(lambda: put({"M": {"inner": {"SS": []}}}))
    assert "Item" not in c.get_item(TableName=shared_table, Key={"pk": S("badset")}, ConsistentRead=True)


def test_item_size_limit(env, shared_table):
    c = env.c.ddb
    # 400 KB = 409,600 bytes, counting attribute names and values.
    ok = {"pk": S("size-ok"), "d": S("x" * (409_600 - len("pk") - len("size-ok") - len("d") - 64))}
    c.put_item(TableName=shared_table, Item=ok)
    assert c.get_item(TableName=shared_table, Key={"pk": S("size-ok")}, ConsistentRead=True)["Item"] == ok
    # Exactly 409,600 bytes is allowed, one more byte is not.
    exact = {"pk": S("size-at"), "d": S("x" * (409_600 - len("pk") - len("size-at") - len("d")))}
    c.put_item(TableName=shared_table, Item=exact)
    assert c.get_item(TableName=shared_table, Key={"pk": S("size-at")}, ConsistentRead=True)["Item"] == exact
    over_by_one = {"pk": S("size-at"), "d": S("x" * (409_601 - len("pk") - len("size-at") - len("d")))}
    assert validation(lambda: c.put_item(TableName=shared_table, Item=over_by_one)) == (
        "Item size has exceeded the maximum allowed size"
    )
    big = {"pk": S("size-big"), "d": S("x" * 409_600)}
    assert validation(lambda: c.put_item(TableName=shared_table, Item=big)) == (
        "Item size has exceeded the maximum allowed size"
    )
    # The attribute name counts: a long name pushes the same value over.
    name = "n" * 200
    over = {"pk": S("size-name"), name: S("x" * (409_600 - 150))}
    assert validation(lambda: c.put_item(TableName=shared_table, Item=over)) == (
        "Item size has exceeded the maximum allowed size"
    )
    for k in ("size-big", "size-name"):
        assert "Item" not in c.get_item(TableName=shared_table, Key={"pk": S(k)}, ConsistentRead=True)


def test_key_limits_and_empty_values(env):
    c = env.c.ddb
    t = make_table(env, range_key=("sk", "S"))
    # Hash key up to 2048 bytes, range key up to 1024 bytes (UTF-8 bytes, not characters).
    c.put_item(TableName=t, Item={"pk": S("h" * 2048), "sk": S("r" * 1024)})
    c.put_item(TableName=t, Item={"pk": S("é" * 1024), "sk": S("é" * 512)})
    msg = validation(lambda: c.put_item(TableName=t, Item={"pk": S("h" * 2049), "sk": S("r")}))
    assert msg == (
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    )
    msg = validation(lambda: c.put_item(TableName=t, Item={"pk": S("é" * 1025), "sk": S("r")}))
    assert "Size of hashkey has exceeded" in msg
    msg = validation(lambda: c.put_item(TableName=t, Item={"pk": S("h"), "sk": S("r" * 1025)}))
    assert msg == (
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit "
        "of 1024 bytes"
    )
    validation(lambda: c.get_item(TableName=t, Key={"pk": S("h" * 2049), "sk": S("r")}))

    # Empty strings / binaries: fine outside keys (top level and nested), rejected in keys.
    item = {"pk": S("e"), "sk": S("e"), "s": S(""), "b": {"B": b""}, "m": {"M": {"x": S("")}}, "l": {"L": [S("")]}}
    c.put_item(TableName=t, Item=item)
    assert c.get_item(TableName=t, Key={"pk": S("e"), "sk": S("e")}, ConsistentRead=True)["Item"] == item
    for bad_key, attr in (({"pk": S(""), "sk": S("x")}, "pk"), ({"pk": S("x"), "sk": S("")}, "sk")):
        msg = validation(lambda: c.put_item(TableName=t, Item=bad_key))
        assert msg == (
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
            f"empty string value. Key: {attr}"
        )
        validation(lambda: c.get_item(TableName=t, Key=bad_key))
        validation(lambda: c.delete_item(TableName=t, Key=bad_key))
    tb = make_table(env, hash_key=("pk", "B"))
    msg = validation(lambda: c.put_item(TableName=tb, Item={"pk": {"B": b""}}))
    assert "empty" in msg and "Key: pk" in msg, msg


def test_key_schema_mismatch(env):
    c = env.c.ddb
    t = make_table(env, range_key=("sk", "N"))
    for key in ({"pk": S("a")}, {"pk": S("a"), "sk": S("1")}, {"pk": S("a"), "sk": N(1), "extra": S("x")}, {}):
        msg = validation(lambda: c.get_item(TableName=t, Key=key))
        assert msg == "The provided key element does not match the schema", (key, msg)
        validation(lambda: c.delete_item(TableName=t, Key=key))
    msg = validation(lambda: c.put_item(TableName=t, Item={"pk": S("a")}))
    assert msg == "One or more parameter values were invalid: Missing the key sk in the item"
    msg = validation(lambda: c.put_item(TableName=t, Item={"pk": S("a"), "sk": S("1")}))
    assert msg == (
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    )


def test_attribute_value_shape_errors(env, shared_table):
    """Malformed AttributeValues (boto3 refuses to send some of them, so these go raw)."""

    def raw_put(item: dict) -> str:
        body = json.dumps({"TableName": shared_table, "Item": item}).encode()
        status, _, resp = signed_request(env.server.endpoint, "DynamoDB_20120810.PutItem", body)
        err = json.loads(resp)
        assert status == 400 and err["__type"].endswith("#ValidationException"), (status, err)
        return err.get("message") or err.get("Message")

    msg = raw_put({"pk": {"S": "x"}, "a": {"S": "a", "N": "1"}})
    assert msg == (
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    )
    msg = raw_put({"pk": {"S": "x"}, "a": {}})
    assert msg == "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    msg = raw_put({"pk": {"S": "x"}, "a": {"NULL": False}})
    assert "Null attribute value types must have the value of true" in msg, msg
