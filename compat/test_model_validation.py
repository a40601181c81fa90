"""Model-driven request validation: for every JSON operation we serve, a request missing each
required member and one breaking a constraint, checked against what AWS's validator answers
(code, HTTP status, message). The expected messages are computed here from the same vendored
models (data/models/) the server's tables are generated from, with AWS's conventions:
`N validation error(s) detected: Value <v> at '<lowerFirst path>' failed to satisfy constraint:
<rule>` parts joined by `; `, at most 10, in model member order.

boto3 validates client-side, so these clients have `parameter_validation=False`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from harness import client, error_of, signed_request, unique

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"

# The operations each service module dispatches (the rest answer UnknownOperationException).
DYNAMODB_OPS = [
    "CreateTable", "DescribeTable", "ListTables", "DeleteTable", "UpdateTable", "DescribeTimeToLive",
    "UpdateTimeToLive", "TagResource", "UntagResource", "ListTagsOfResource", "DescribeLimits",
    "DescribeEndpoints", "PutItem", "GetItem", "DeleteItem", "UpdateItem", "Scan", "Query",
    "BatchWriteItem", "BatchGetItem", "TransactWriteItems", "TransactGetItems",
]  # fmt: skip
STREAMS_OPS = ["ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"]
LOGS_OPS = [
    "CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "CreateLogStream", "DeleteLogStream",
    "DescribeLogStreams", "PutLogEvents", "GetLogEvents", "FilterLogEvents", "PutRetentionPolicy",
    "DeleteRetentionPolicy", "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup", "TagResource",
    "UntagResource", "ListTagsForResource",
]  # fmt: skip

# (boto3 service, model dir, version, error code, ops)
SERVICES = {
    "dynamodb": ("dynamodb", "2012-08-10", "ValidationException", DYNAMODB_OPS),
    "dynamodbstreams": ("dynamodbstreams", "2012-08-10", "ValidationException", STREAMS_OPS),
    # CloudWatch Logs answers the same messages as InvalidParameterException.
    "logs": ("logs", "2014-03-28", "InvalidParameterException", LOGS_OPS),
}

# Members the server checks with AWS's hand-written texts instead (see the service modules).
SKIP = {("Tag", "Key"), ("Tag", "Value")}
# DynamoDB: a TableName that is not an ARN is checked as a TableName (3..255, a pattern).
NAME_OR_ARN = {"TableArn": "TableName"}


def load(service: str) -> dict:
    d, v, _, _ = SERVICES[service]
    return json.loads((MODELS / d / v / "service-2.json").read_text())


def lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def null_part(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def message(parts: list[str]) -> str:
    parts = parts[:10]
    return f"{len(parts)} validation error{'' if len(parts) == 1 else 's'} detected: " + "; ".join(parts)


def violation(model: dict, shape_name: str) -> tuple[object, list[str]] | None:
    """A value of the shape that breaks one of its constraints, and the rules AWS then names
    (in the server's order: length, pattern, enum, range), or None if it has no simple one."""
    shapes = model["shapes"]
    if model["metadata"].get("targetPrefix", "").startswith("DynamoDB_"):
        shape_name = NAME_OR_ARN.get(shape_name, shape_name)
    shape = shapes[shape_name]
    t = shape["type"]
    if t in ("integer", "long") and "min" in shape and shape["min"] > -(2**62):
        v = int(shape["min"]) - 1
        rules = [f"Member must have value greater than or equal to {shape['min']}"]
        if "max" in shape and v > shape["max"]:
            rules.append(f"Member must have value less than or equal to {shape['max']}")
        return v, rules
    if t == "string" and shape.get("enum"):
        return "NOT_A_MEMBER_OF_THE_ENUM", ["Member must satisfy enum value set: ["]
    if t == "string" and "max" in shape and shape["max"] < 5000:
        v = "a" * (int(shape["max"]) + 1)
        rules = [f"Member must have length less than or equal to {shape['max']}"]
        if "pattern" in shape:
            try:
                if not re.fullmatch(shape["pattern"], v):
                    rules.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
            except re.error:
                return None
        return v, rules
    return None


def expected_parts(model: dict, input_shape: str, given: dict, bad_member: str | None, bad_rules: list[str], value):
    parts = []
    shape = model["shapes"][input_shape]
    required = set(shape.get("required", []))
    for name, m in shape["members"].items():
        if (input_shape, name) in SKIP:
            continue
        path = lower_first(name)
        if name == bad_member:
            parts += [f"Value '{value}' at '{path}' failed to satisfy constraint: {r}" for r in bad_rules]
        elif name in required and name not in given:
            parts.append(null_part(path))
    return parts


def first_violation(model: dict, op: str):
    """The first top-level member of the operation's input with a simple constraint, a value
    breaking it, and the parts AWS's message then has; skips the test if there is none."""
    input_shape = model["operations"][op].get("input", {}).get("shape")
    if not input_shape:
        pytest.skip(f"{op} has no input")
    for name, m in model["shapes"][input_shape]["members"].items():
        if (input_shape, name) in SKIP:
            continue
        found = violation(model, m["shape"])
        if found:
            value, rules = found
            return input_shape, name, value, expected_parts(model, input_shape, {name: value}, name, rules, value)
    pytest.skip(f"{op} has no top-level member with a simple constraint")


def fails(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    return error_of(e.value)


def same(got: str, want: str) -> bool:
    """Equal, except that an enum list (AWS prints its own order) is compared as a set."""
    if "enum value set: [" not in want:
        return got == want
    pat = re.escape(want).replace(re.escape("enum value set: ["), r"enum value set: \[[^\]]*")
    return re.fullmatch(pat + r".*", got) is not None or re.fullmatch(pat, got) is not None


@pytest.fixture(scope="module")
def raw(server):
    return {name: client(name, server.endpoint, validate=False) for name in SERVICES}


def send(server, service: str, op: str, params: dict) -> tuple[str, int, str]:
    """POST the raw JSON (botocore itself cannot serialize some invalid inputs: BatchWriteItem's
    endpoint parameters read `keys(RequestItems)`); returns (code, status, message)."""
    model = load(service)
    target = f"{model['metadata']['targetPrefix']}.{op}"
    signing = model["metadata"].get("signingName", model["metadata"]["endpointPrefix"])
    status, _, body = signed_request(server.endpoint, target, json.dumps(params).encode(), service=signing)
    err = json.loads(body)
    return err["__type"].rsplit("#", 1)[-1], status, err.get("message") or err.get("Message", "")


def operations():
    for service, (_, _, _, ops) in SERVICES.items():
        for op in ops:
            yield pytest.param(service, op, id=f"{service}.{op}")


@pytest.mark.parametrize("service,op", list(operations()))
def test_missing_required_members(server, service, op):
    model = load(service)
    code = SERVICES[service][2]
    input_shape = model["operations"][op].get("input", {}).get("shape")
    required = model["shapes"][input_shape].get("required", []) if input_shape else []
    if not required:
        pytest.skip(f"{op} has no required member")
    parts = expected_parts(model, input_shape, {}, None, [], None)
    got = send(server, service, op, {})
    assert got == (code, 400, message(parts)), got


@pytest.mark.parametrize("service,op", list(operations()))
def test_constraint_violation(server, service, op):
    model = load(service)
    code = SERVICES[service][2]
    _, name, value, parts = first_violation(model, op)
    got_code, status, msg = send(server, service, op, {name: value})
    assert (got_code, status) == (code, 400), (got_code, status, msg)
    assert same(msg, message(parts)), (msg, message(parts))


def test_table_arn_is_a_table_name(env):
    """The model types every TableName as TableArn: an ARN names the table."""
    c = env.c.ddb
    name = unique("arn")
    desc = c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]
    arn = desc["TableArn"]
    assert c.describe_table(TableName=arn)["Table"]["TableName"] == name
    c.put_item(TableName=arn, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    assert c.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "1"}
    got = c.batch_get_item(RequestItems={arn: {"Keys": [{"pk": {"S": "a"}}]}})["Responses"]
    assert [item["v"] for items in got.values() for item in items] == [{"N": "1"}]
    assert c.query(
        TableName=arn, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}
    )["Count"] == 1
    c.delete_table(TableName=arn)


def test_several_violations_in_one_message(raw):
    """Each failed rule is a part: an empty name fails the minimum length and the pattern
    (recorded on AWS for DescribeTable)."""
    got = fails(lambda: raw["dynamodb"].describe_table(TableName=""))
    assert got == (
        "ValidationException", 400,
        "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: Member must have "
        "length greater than or equal to 3; Value '' at 'tableName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    )  # fmt: skip


def test_nested_paths(raw):
    got = fails(lambda: raw["dynamodb"].create_table(
        TableName="abc", AttributeDefinitions=[{}], KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    ))  # fmt: skip
    assert got == (
        "ValidationException", 400,
        "2 validation errors detected: Value null at 'attributeDefinitions.1.member.attributeName' failed to "
        "satisfy constraint: Member must not be null; Value null at 'attributeDefinitions.1.member.attributeType' "
        "failed to satisfy constraint: Member must not be null",
    )  # fmt: skip
    got = fails(lambda: raw["dynamodb"].update_table(
        TableName="abc", StreamSpecification={"StreamEnabled": True, "StreamViewType": ""},
    ))  # fmt: skip
    assert got == (
        "ValidationException", 400,
        "1 validation error detected: Value '' at 'streamSpecification.streamViewType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE]",
    )  # fmt: skip


def test_tag_texts_are_aws_hand_written_ones(raw):
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/whatever"
    assert fails(lambda: raw["dynamodb"].tag_resource(ResourceArn=arn, Tags=[{}])) == (
        "ValidationException", 400, "The Tag Key provided is invalid, Key: null")  # fmt: skip
    assert fails(lambda: raw["dynamodb"].tag_resource(ResourceArn=arn, Tags=[{"Key": "k"}])) == (
        "ValidationException", 400, "The Tag Value provided is invalid, Value: null")  # fmt: skip


def test_query_protocol_services_keep_missing_parameter(server):
    sqs = client("sqs", server.endpoint, validate=False)
    url = sqs.create_queue(QueueName=unique("mv"))["QueueUrl"]
    code, status, msg = fails(lambda: sqs.send_message(QueueUrl=url))
    assert (code, status, msg) == ("MissingParameter", 400, "The request must contain the parameter MessageBody.")


# --------------------------------------------------------------------------------------------
# query-protocol services: the request's dotted parameters are read as the input shape and
# validated the same way; the code is the service's `ValidationError`.

SNS_OPS = [
    "CreateTopic", "GetTopicAttributes", "SetTopicAttributes", "DeleteTopic", "ListTopics",
    "Subscribe", "ConfirmSubscription", "Unsubscribe", "ListSubscriptions",
    "ListSubscriptionsByTopic", "GetSubscriptionAttributes", "SetSubscriptionAttributes", "Publish",
    "PublishBatch", "TagResource", "UntagResource", "ListTagsForResource",
]  # fmt: skip
CLOUDFORMATION_OPS = [
    "ValidateTemplate", "GetTemplateSummary", "CreateStack", "UpdateStack", "DeleteStack",
    "DescribeStacks", "ListStacks", "DescribeStackEvents", "DescribeStackResource",
    "DescribeStackResources", "ListStackResources", "GetTemplate", "ListExports",
    "UpdateTerminationProtection", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet",
    "DeleteChangeSet", "ListChangeSets",
]  # fmt: skip
IAM_OPS = ["CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "AttachRolePolicy", "CreatePolicy", "CreateUser"]
STS_OPS = ["AssumeRole", "GetCallerIdentity", "GetSessionToken"]

# boto3 service: (model dir, version, ops)
QUERY_SERVICES = {
    "sns": ("sns", "2010-03-31", SNS_OPS),
    "cloudformation": ("cloudformation", "2010-05-15", CLOUDFORMATION_OPS),
    "iam": ("iam", "2010-05-08", IAM_OPS),
    "sts": ("sts", "2011-06-15", STS_OPS),
}


def load_query(service: str) -> dict:
    d, v, _ = QUERY_SERVICES[service]
    return json.loads((MODELS / d / v / "service-2.json").read_text())


def query_operations():
    for service, (_, _, ops) in QUERY_SERVICES.items():
        for op in ops:
            yield pytest.param(service, op, id=f"{service}.{op}")


@pytest.fixture(scope="module")
def raw_query(server):
    return {name: client(name, server.endpoint, validate=False) for name in QUERY_SERVICES}


@pytest.mark.parametrize("service,op", list(query_operations()))
def test_query_missing_required_members(raw_query, service, op):
    model = load_query(service)
    input_shape = model["operations"][op].get("input", {}).get("shape")
    required = model["shapes"][input_shape].get("required", []) if input_shape else []
    if not required:
        pytest.skip(f"{op} has no required member")
    parts = expected_parts(model, input_shape, {}, None, [], None)
    got = fails(lambda: getattr(raw_query[service], snake(op))())
    assert got == ("ValidationError", 400, message(parts)), got


@pytest.mark.parametrize("service,op", list(query_operations()))
def test_query_constraint_violation(raw_query, service, op):
    model = load_query(service)
    _, name, value, parts = first_violation(model, op)
    code, status, msg = fails(lambda: getattr(raw_query[service], snake(op))(**{name: value}))
    assert (code, status) == ("ValidationError", 400), (code, status, msg)
    assert same(msg, message(parts)), (msg, message(parts))


def test_query_nested_members_and_counts(raw_query):
    """Members inside lists and maps are checked at AWS's paths, and several parts are counted."""
    sns = raw_query["sns"]
    got = fails(lambda: sns.create_topic(Name="t", Tags=[{"Key": "", "Value": "v"}, {"Key": "k"}]))
    assert got == (
        "ValidationError", 400,
        "2 validation errors detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must "
        "have length greater than or equal to 1; Value null at 'tags.2.member.value' failed to satisfy "
        "constraint: Member must not be null",
    )  # fmt: skip
    cfn = raw_query["cloudformation"]
    got = fails(lambda: cfn.create_change_set(StackName="1bad", ChangeSetName="also_bad"))
    assert got[:2] == ("ValidationError", 400), got
    assert got[2].startswith("2 validation errors detected: Value '1bad' at 'stackName' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: "), got  # fmt: skip
    assert "Value 'also_bad' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular " \
           "expression pattern: [a-zA-Z][-a-zA-Z0-9]*" in got[2], got  # fmt: skip


def test_sns_semantic_checks_still_answer_after_the_model(raw_query):
    """What the model allows, SNS still checks in its own words."""
    sns = raw_query["sns"]
    arn = sns.create_topic(Name=unique("mv"))["TopicArn"]
    assert fails(lambda: sns.publish(TopicArn=arn, Message="")) == (
        "InvalidParameter", 400, "Invalid parameter: Empty message")  # fmt: skip
    got = fails(lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={"a": {"StringValue": "x"}}))
    assert got == (
        "ParameterValueInvalid", 400,
        "The message attribute 'a' must contain non-empty message attribute type.",
    ), got


def test_s3_answers_its_own_errors_not_the_model_validators(server):
    """S3 is the exception: a bad value gets S3's own code (see crates/services/s3/src/lib.rs)."""
    s3 = client("s3", server.endpoint, validate=False)
    bucket = unique("mv")
    s3.create_bucket(Bucket=bucket)
    code, status, msg = fails(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="NOPE"))
    assert (code, status, msg) == ("InvalidStorageClass", 400, "The storage class you specified is not valid")
    code, status, _ = fails(lambda: s3.create_bucket(Bucket="Not_A_Bucket"))
    assert (code, status) == ("InvalidBucketName", 400)
