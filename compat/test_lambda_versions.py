"""Lambda versions, aliases, qualifiers, code and configuration updates, State/LastUpdateStatus,
GetFunction's Code.Location and tags, against the real binary with boto3."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from harness import (
    ROLE,
    UUID_RE,
    code_sha256,
    error_of,
    function_arn,
    raw_responses,
    unique,
    wait_for,
    zip_bytes,
)

HANDLER = """\
import os
import sys

TAG = {tag!r}


def handler(event, context):
    return {{
        "tag": TAG,
        "functionVersion": context.function_version,
        "invokedArn": context.invoked_function_arn,
        "envVersion": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
        "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "python": "%d.%d" % sys.version_info[:2],
    }}
"""


def code(tag: str, handler_file: str = "handler.py") -> bytes:
    return zip_bytes({handler_file: HANDLER.format(tag=tag)})


def invoke(c, name, **kw):
    resp = c.lam.invoke(FunctionName=name, Payload=b"{}", **kw)
    assert "FunctionError" not in resp, resp["Payload"].read()
    return resp, json.loads(resp["Payload"].read())


def client_error(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    return error_of(e.value)


def wait_updated(c, name: str, qualifier: str | None = None) -> dict:
    def check():
        kw = {"Qualifier": qualifier} if qualifier else {}
        cfg = c.lam.get_function(FunctionName=name, **kw)["Configuration"]
        done = cfg["State"] == "Active" and cfg.get("LastUpdateStatus") == "Successful"
        return cfg if done else None

    return wait_for(check, f"{name} to settle")


def test_publish_version_and_invoke_each_version(env):
    c = env.c
    v1_code = code("one")
    name = env.create_function(v1_code, Description="base")
    arn = function_arn(name)

    listed = c.lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST"]
    assert listed[0]["FunctionArn"] == f"{arn}:$LATEST"
    assert "State" not in listed[0] and "LastUpdateStatus" not in listed[0]

    with raw_responses(c.lam) as raw:
        v1 = c.lam.publish_version(FunctionName=name, Description="first")
    assert raw[-1][0] == 201
    assert v1["Version"] == "1" and v1["FunctionArn"] == f"{arn}:1"
    assert v1["Description"] == "first" and v1["CodeSha256"] == code_sha256(v1_code)
    assert v1["State"] == "Active" and v1["LastUpdateStatus"] == "Successful"
    assert UUID_RE.match(v1["RevisionId"])

    # Nothing changed since: the same version comes back.
    again = c.lam.publish_version(FunctionName=name)
    assert again["Version"] == "1" and again["RevisionId"] == v1["RevisionId"]

    v2_code = code("two")
    updated = c.lam.update_function_code(FunctionName=name, ZipFile=v2_code)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    assert updated["CodeSha256"] == code_sha256(v2_code) and updated["CodeSize"] == len(v2_code)
    assert updated["FunctionArn"] == arn and updated["Version"] == "$LATEST"
    settled = wait_updated(c, name)
    assert settled["RevisionId"] != updated["RevisionId"]
    v2 = c.lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2" and v2["Description"] == "base"

    resp, out = invoke(c, name)
    assert resp["ExecutedVersion"] == "$LATEST" and out["tag"] == "two"
    assert out["functionVersion"] == "$LATEST" and out["invokedArn"] == arn
    with raw_responses(c.lam) as raw:
        resp, out = invoke(c, name, Qualifier="1")
    assert raw[-1][1]["x-amz-executed-version"] == "1"
    assert resp["ExecutedVersion"] == "1" and out["tag"] == "one"
    assert out["functionVersion"] == "1" and out["envVersion"] == "1"
    assert out["invokedArn"] == f"{arn}:1"
    resp, out = invoke(c, f"{name}:2")
    assert resp["ExecutedVersion"] == "2" and out["tag"] == "two" and out["invokedArn"] == f"{arn}:2"
    resp, out = invoke(c, name, Qualifier="$LATEST")
    assert resp["ExecutedVersion"] == "$LATEST" and out["invokedArn"] == f"{arn}:$LATEST"

    got = c.lam.get_function(FunctionName=name, Qualifier="1")
    cfg = got["Configuration"]
    assert cfg["FunctionArn"] == f"{arn}:1" and cfg["Version"] == "1"
    assert cfg["CodeSha256"] == code_sha256(v1_code) and cfg["State"] == "Active"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as r:
        assert r.read() == v1_code
    latest = c.lam.get_function(FunctionName=name, Qualifier="$LATEST")["Configuration"]
    assert latest["FunctionArn"] == f"{arn}:$LATEST" and latest["Version"] == "$LATEST"
    assert c.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn
    by_name = c.lam.get_function_configuration(FunctionName=f"{name}:2")
    assert by_name["FunctionArn"] == f"{arn}:2" and by_name["CodeSha256"] == code_sha256(v2_code)
    by_arn = c.lam.get_function_configuration(FunctionName=f"{arn}:1")
    assert by_arn["Version"] == "1"

    versions = c.lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [f"{arn}:$LATEST", f"{arn}:1", f"{arn}:2"]
    page = c.lam.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = c.lam.list_versions_by_function(FunctionName=name, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"] and "NextMarker" not in rest


def test_qualifier_errors_and_version_deletion(env):
    c = env.c
    name = env.create_function(code("x"))
    arn = function_arn(name)
    c.lam.publish_version(FunctionName=name)
    c.lam.update_function_configuration(FunctionName=name, Description="changed")
    wait_updated(c, name)
    assert c.lam.publish_version(FunctionName=name)["Version"] == "2"

    for call in (
        lambda: c.lam.get_function(FunctionName=name, Qualifier="9"),
        lambda: c.lam.invoke(FunctionName=f"{name}:9", Payload=b"{}"),
        lambda: c.lam.get_function_configuration(FunctionName=name, Qualifier="9"),
    ):
        assert client_error(call) == ("ResourceNotFoundException", 404, f"Function not found: {arn}:9")
    assert client_error(lambda: c.lam.get_function(FunctionName=name, Qualifier="nosuchalias")) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn}:nosuchalias",
    )
    assert client_error(lambda: c.lam.invoke(FunctionName=f"{name}:1", Qualifier="2", Payload=b"{}")) == (
        "InvalidParameterValueException",
        400,
        "The derived qualifier from the function name does not match the specified qualifier.",
    )
    assert client_error(lambda: c.lam.delete_function(FunctionName=name, Qualifier="$LATEST")) == (
        "InvalidParameterValueException",
        400,
        "$LATEST version cannot be deleted without deleting the function.",
    )

    with raw_responses(c.lam) as raw:
        c.lam.delete_function(FunctionName=name, Qualifier="2")
    assert raw[-1][0] in (200, 204)
    assert client_error(lambda: c.lam.get_function(FunctionName=name, Qualifier="2"))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    assert [v["Version"] for v in c.lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST",
        "1",
    ]
    # Version numbers are never reused.
    assert c.lam.publish_version(FunctionName=name)["Version"] == "3"
    _, out = invoke(c, name, Qualifier="1")
    assert out["functionVersion"] == "1"

    c.lam.delete_function(FunctionName=name)
    assert client_error(lambda: c.lam.get_function(FunctionName=name, Qualifier="1")) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn}:1",
    )


def test_publish_checks_code_sha256_and_revision_id(env):
    c = env.c
    zipped = code("sha")
    name = env.create_function(zipped)
    current = c.lam.get_function(FunctionName=name)["Configuration"]
    assert client_error(lambda: c.lam.publish_version(FunctionName=name, CodeSha256="somenonexistentsha256")) == (
        "InvalidParameterValueException",
        400,
        f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({code_sha256(zipped)}). Please try again with the CodeSHA256 in $LATEST.",
    )
    mismatch = (
        "PreconditionFailedException",
        412,
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    assert client_error(lambda: c.lam.publish_version(FunctionName=name, RevisionId=unique("rev"))) == mismatch
    assert (
        client_error(lambda: c.lam.update_function_configuration(FunctionName=name, Timeout=4, RevisionId="x"))
        == mismatch
    )
    assert client_error(lambda: c.lam.update_function_code(FunctionName=name, ZipFile=zipped, RevisionId="x")) == mismatch
    v = c.lam.publish_version(
        FunctionName=name, CodeSha256=current["CodeSha256"], RevisionId=current["RevisionId"]
    )
    assert v["Version"] == "1"
    assert client_error(lambda: c.lam.publish_version(FunctionName=unique("nofn"))) [:2] == (
        "ResourceNotFoundException",
        404,
    )


def test_aliases(env):
    c = env.c
    name = env.create_function(code("one"))
    arn = function_arn(name)
    c.lam.publish_version(FunctionName=name)
    c.lam.update_function_code(FunctionName=name, ZipFile=code("two"))
    wait_updated(c, name)
    c.lam.publish_version(FunctionName=name)

    with raw_responses(c.lam) as raw:
        live = c.lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert raw[-1][0] == 201
    assert live["AliasArn"] == f"{arn}:live" and live["Name"] == "live"
    assert live["FunctionVersion"] == "1" and live["Description"] == "prod"
    assert UUID_RE.match(live["RevisionId"]) and "RoutingConfig" not in live
    got = c.lam.get_alias(FunctionName=name, Name="live")
    assert {k: got[k] for k in live if k != "ResponseMetadata"} == {
        k: live[k] for k in live if k != "ResponseMetadata"
    }

    resp, out = invoke(c, name, Qualifier="live")
    assert resp["ExecutedVersion"] == "1" and out["tag"] == "one"
    assert out["invokedArn"] == f"{arn}:live" and out["functionVersion"] == "1"
    resp, out = invoke(c, f"{arn}:live")
    assert resp["ExecutedVersion"] == "1"
    cfg = c.lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert cfg["FunctionArn"] == f"{arn}:live" and cfg["Version"] == "1"

    c.lam.create_alias(FunctionName=name, Name="edge", FunctionVersion="$LATEST")
    listed = c.lam.list_aliases(FunctionName=name)["Aliases"]
    assert [a["Name"] for a in listed] == ["edge", "live"]
    only_v1 = c.lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_v1] == ["live"]
    first = c.lam.list_aliases(FunctionName=name, MaxItems=1)
    assert [a["Name"] for a in first["Aliases"]] == ["edge"]
    assert [a["Name"] for a in c.lam.list_aliases(FunctionName=name, Marker=first["NextMarker"])["Aliases"]] == [
        "live"
    ]

    moved = c.lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert moved["FunctionVersion"] == "2" and moved["RevisionId"] != live["RevisionId"]
    assert moved["Description"] == "prod"
    resp, out = invoke(c, name, Qualifier="live")
    assert resp["ExecutedVersion"] == "2" and out["tag"] == "two"

    # Weighted routing: version 1 primary, half the traffic to version 2.
    weighted = c.lam.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    assert weighted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    seen = {invoke(c, name, Qualifier="live")[0]["ExecutedVersion"] for _ in range(30)}
    assert seen == {"1", "2"}
    cleared = c.lam.update_alias(FunctionName=name, Name="live", RoutingConfig={})
    assert "RoutingConfig" not in cleared
    assert {invoke(c, name, Qualifier="live")[0]["ExecutedVersion"] for _ in range(5)} == {"1"}

    assert client_error(lambda: c.lam.update_alias(FunctionName=name, Name="live", RevisionId=live["RevisionId"])) == (
        "PreconditionFailedException",
        412,
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    assert client_error(lambda: c.lam.delete_function(FunctionName=name, Qualifier="1")) == (
        "ResourceConflictException",
        409,
        "Unable to delete version because the following aliases reference it: [live]",
    )

    with raw_responses(c.lam) as raw:
        c.lam.delete_alias(FunctionName=name, Name="edge")
    assert raw[-1][0] == 204
    c.lam.delete_alias(FunctionName=name, Name="edge")  # deleting a missing alias succeeds
    assert [a["Name"] for a in c.lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]


def test_alias_errors(env):
    c = env.c
    name = env.create_function(code("one"))
    arn = function_arn(name)
    c.lam.publish_version(FunctionName=name)
    c.lam.update_function_configuration(FunctionName=name, Description="second")
    wait_updated(c, name)
    c.lam.publish_version(FunctionName=name)
    c.lam.create_alias(FunctionName=name, Name="custom", FunctionVersion="1")

    cases = [
        (
            dict(Name="custom", FunctionVersion="1"),
            ("ResourceConflictException", 409, f"Alias already exists: {arn}:custom"),
        ),
        (
            dict(Name="x", FunctionVersion="10"),
            ("ResourceNotFoundException", 404, f"Function not found: {arn}:10"),
        ),
        (
            dict(Name="x", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.2}}),
            ("InvalidParameterValueException", 400, "Number of items in AdditionalVersionWeights cannot be greater than 1"),
        ),
        (
            dict(Name="x", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 2.0}}),
            (
                "ValidationException",
                400,
                "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed "
                "to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or "
                "equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]",
            ),
        ),
        (
            dict(Name="x", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}),
            (
                "InvalidParameterValueException",
                400,
                "Invalid function version 1. Function version 1 is already included in routing configuration.",
            ),
        ),
        (
            dict(Name="x", FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}),
            ("InvalidParameterValueException", 400, "$LATEST is not supported for an alias pointing to more than 1 version"),
        ),
        (
            dict(Name="x", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}}),
            ("ResourceNotFoundException", 404, f"Function not found: {arn}:10"),
        ),
        (
            dict(Name="123", FunctionVersion="1"),
            (
                "ValidationException",
                400,
                "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
            ),
        ),
    ]
    for kwargs, expected in cases:
        assert client_error(lambda: c.lam.create_alias(FunctionName=name, **kwargs)) == expected, kwargs

    assert client_error(lambda: c.lam.get_alias(FunctionName=name, Name="non-existent")) == (
        "ResourceNotFoundException",
        404,
        f"Cannot find alias arn: {arn}:non-existent",
    )
    assert client_error(lambda: c.lam.update_alias(FunctionName=name, Name="non-existent", FunctionVersion="1")) == (
        "ResourceNotFoundException",
        404,
        f"Alias not found: {arn}:non-existent",
    )
    missing = unique("nofn")
    assert client_error(lambda: c.lam.create_alias(FunctionName=missing, Name="a", FunctionVersion="1")) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {function_arn(missing)}",
    )


def test_code_and_configuration_updates(env):
    c = env.c
    name = env.create_function(code("before"), env={"GREETING": "hi"}, Timeout=3, MemorySize=128)
    _, before = invoke(c, name)
    assert before["tag"] == "before"
    warm = invoke(c, name)[1]
    assert warm["pid"] == before["pid"]  # warm reuse

    new_code = code("after", handler_file="other.py")
    c.lam.update_function_code(FunctionName=name, ZipFile=new_code)
    wait_updated(c, name)
    resp = c.lam.update_function_configuration(
        FunctionName=name,
        Handler="other.handler",
        Runtime="python3.11",
        Environment={"Variables": {"GREETING": "hello"}},
        Timeout=7,
        MemorySize=256,
        Description="reconfigured",
    )
    assert resp["LastUpdateStatus"] == "InProgress"
    assert resp["LastUpdateStatusReason"] == "The function is being created."
    assert resp["LastUpdateStatusReasonCode"] == "Creating"
    assert resp["State"] == "Active"
    assert resp["Handler"] == "other.handler" and resp["Runtime"] == "python3.11"
    assert resp["Timeout"] == 7 and resp["MemorySize"] == 256 and resp["Description"] == "reconfigured"
    cfg = wait_updated(c, name)
    assert cfg["RevisionId"] != resp["RevisionId"]
    assert "LastUpdateStatusReason" not in cfg
    assert cfg["CodeSha256"] == code_sha256(new_code)

    _, after = invoke(c, name)
    assert after["tag"] == "after" and after["greeting"] == "hello"
    assert after["memory"] == "256" and 5000 < after["remaining"] <= 7000
    assert after["python"] == "3.11"
    assert after["pid"] != before["pid"]  # the old revision's warm environment is not reused

    # Publishing with the update: the answer describes the new, still Pending, version.
    published = c.lam.update_function_code(FunctionName=name, ZipFile=code("third", "other.py"), Publish=True)
    assert published["Version"] == "1" and published["FunctionArn"] == f"{function_arn(name)}:1"
    assert published["State"] == "Pending" and published["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in published
    wait_for(
        lambda: c.lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["State"] == "Active",
        "version 1 Active",
    )
    wait_updated(c, name)
    assert invoke(c, name, Qualifier="1")[1]["tag"] == "third"


def test_create_is_pending_until_the_code_is_ready(env):
    """A package with many files takes a while to unpack: the function is Pending meanwhile
    and refuses invocations with AWS's conflict, then becomes Active with a new RevisionId."""
    c = env.c
    files = {f"data/f{i:05d}.txt": "x" for i in range(10000)}
    files["handler.py"] = HANDLER.format(tag="big")
    name = unique("fn")
    created = c.lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": zip_bytes(files)}
    )
    assert created["State"] == "Pending"
    assert created["StateReason"] == "The function is being created."
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created
    assert client_error(lambda: c.lam.invoke(FunctionName=name, Payload=b"{}")) == (
        "ResourceConflictException",
        409,
        "The operation cannot be performed at this time. The function is currently in the following state: Pending",
    )
    assert client_error(lambda: c.lam.update_function_configuration(FunctionName=name, Timeout=5))[:2] == (
        "ResourceConflictException",
        409,
    )
    cfg = env.wait_function_active(name)
    assert cfg["LastUpdateStatus"] == "Successful" and "StateReason" not in cfg
    assert cfg["RevisionId"] != created["RevisionId"]
    assert invoke(c, name)[1]["tag"] == "big"


def test_code_location_serves_the_zip(env):
    c = env.c
    zipped = code("loc")
    name = env.create_function(zipped)
    got = c.lam.get_function(FunctionName=name)
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as r:
        assert r.status == 200 and r.read() == zipped


def test_tags_on_functions_and_mappings(env):
    c = env.c
    name = env.create_function(code("t"), Tags={"team": "data", "env": "test"})
    arn = function_arn(name)
    assert c.lam.get_function(FunctionName=name)["Tags"] == {"team": "data", "env": "test"}
    assert c.lam.list_tags(Resource=arn)["Tags"] == {"team": "data", "env": "test"}

    with raw_responses(c.lam) as raw:
        c.lam.tag_resource(Resource=arn, Tags={"env": "prod", "owner": "me"})
    assert raw[-1][0] == 204
    assert c.lam.list_tags(Resource=arn)["Tags"] == {"team": "data", "env": "prod", "owner": "me"}
    with raw_responses(c.lam) as raw:
        c.lam.untag_resource(Resource=arn, TagKeys=["team", "owner", "nonexisting"])
    assert raw[-1][0] == 204
    assert c.lam.list_tags(Resource=arn)["Tags"] == {"env": "prod"}

    assert client_error(lambda: c.lam.list_tags(Resource=f"{arn}:1")) == (
        "InvalidParameterValueException",
        400,
        "Tagging operations are permitted on Lambda functions only. Tags on aliases and versions are not "
        "supported. Please specify either a function name or a function ARN.",
    )
    missing = function_arn(unique("nofn"))
    for call in (
        lambda: c.lam.list_tags(Resource=missing),
        lambda: c.lam.tag_resource(Resource=missing, Tags={"a": "b"}),
        lambda: c.lam.untag_resource(Resource=missing, TagKeys=["a"]),
    ):
        assert client_error(call) == ("ResourceNotFoundException", 404, f"Function not found: {missing}")
    assert client_error(lambda: c.lam.list_tags(Resource="arn:aws:s3:::bucket"))[:2] == ("ValidationException", 400)

    table = env.create_table()
    esm = env.create_mapping(name, table["LatestStreamArn"])
    esm_arn = esm["EventSourceMappingArn"]
    assert c.lam.list_tags(Resource=esm_arn)["Tags"] == {}
    c.lam.tag_resource(Resource=esm_arn, Tags={"pipeline": "orders"})
    assert c.lam.list_tags(Resource=esm_arn)["Tags"] == {"pipeline": "orders"}
    c.lam.untag_resource(Resource=esm_arn, TagKeys=["pipeline"])
    assert c.lam.list_tags(Resource=esm_arn)["Tags"] == {}
    unknown = esm_arn.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    assert client_error(lambda: c.lam.list_tags(Resource=unknown))[:2] == ("ResourceNotFoundException", 404)

    # Deleting the function drops its tags.
    c.lam.delete_function(FunctionName=name)
    c.lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": code("t")}
    )
    env.wait_function_active(name)
    assert c.lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in c.lam.get_function(FunctionName=name)
