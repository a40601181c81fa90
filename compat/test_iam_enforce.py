"""The execution role checked as on AWS, under `--iam enforce` (issue 14): AWS's DynamoDB
streams tutorial from `aws iam create-role` to the function's log, a role that cannot read the
stream refused until a policy gives it the four stream actions, a role Lambda may not assume,
and a function whose boto3 call its role does not allow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from harness import ROLE, unique, wait_for, zip_bytes
from test_iam_sts import TRUST_ACCOUNT, TRUST_LAMBDA

SERVER_ARGS = ["--iam", "enforce"]

STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
CANNOT_ACCESS = (
    "Cannot access stream {}. Please ensure the role can perform the GetRecords, GetShardIterator, "
    "DescribeStream, and ListStreams Actions on your stream in IAM."
)

PRINTER = """
def lambda_handler(event, context):
    for record in event['Records']:
        print(record['eventID'], record['eventName'])
    return 'Successfully processed {} records.'.format(len(event['Records']))
"""

# Calls DynamoDB with the credentials Lambda put in its environment, and reports the outcome.
CALLER = """
import os, boto3
from botocore.exceptions import ClientError

def handler(event, context):
    ddb = boto3.client('dynamodb', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
    try:
        ddb.put_item(TableName=event['table'], Item={'pk': {'S': 'x'}})
        return {'ok': True, 'key': os.environ['AWS_ACCESS_KEY_ID']}
    except ClientError as e:
        return {'ok': False, 'code': e.response['Error']['Code'], 'message': e.response['Error']['Message'],
                'key': os.environ['AWS_ACCESS_KEY_ID']}
"""


def make_role(aws, name: str, trust=TRUST_LAMBDA) -> str:
    return aws("iam", "create-role", "--role-name", name, "--assume-role-policy-document", json.dumps(trust))["Role"]["Arn"]


def stream_table(aws, name: str) -> str:
    aws(
        "dynamodb", "create-table", "--table-name", name,
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH",
        "--provisioned-throughput", "ReadCapacityUnits=5,WriteCapacityUnits=5",
        "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE",
    )
    return aws("dynamodb", "describe-table", "--table-name", name, "--query", "Table.LatestStreamArn", "--output", "text")


def create_function(aws, tmp: Path, name: str, role: str, source: str = PRINTER, handler="lambda_function.lambda_handler",
                    expect_error=None, env: dict | None = None):
    (tmp / "function.zip").write_bytes(zip_bytes({f"{handler.split('.')[0]}.py": source}))
    args = [
        "lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
        "--handler", handler, "--role", role, "--zip-file", "fileb://function.zip",
    ]
    if env:
        args += ["--environment", json.dumps({"Variables": env})]
    out = aws(*args, expect_error=expect_error)
    if expect_error is None:
        wait_for(
            lambda: aws("lambda", "get-function", "--function-name", name, "--query", "Configuration.State",
                        "--output", "text") == "Active",
            f"{name} Active",
        )
    return out


def test_the_tutorial_under_enforce(aws, env, tmp_path):
    role = make_role(aws, "lambda-dynamodb-role")
    assert role == ROLE
    aws(
        "iam", "attach-role-policy", "--role-name", "lambda-dynamodb-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    )
    create_function(aws, tmp_path, "ProcessDynamoDBRecords", role)
    stream = stream_table(aws, "lambda-dynamodb-stream")
    esm = aws(
        "lambda", "create-event-source-mapping", "--function-name", "ProcessDynamoDBRecords",
        "--batch-size", "100", "--starting-position", "TRIM_HORIZON", "--event-source-arn", stream,
    )
    aws("dynamodb", "put-item", "--table-name", "lambda-dynamodb-stream", "--item", '{"id": {"S": "101"}}')
    env.drain(esm["UUID"])
    assert aws("lambda", "get-event-source-mapping", "--uuid", esm["UUID"])["LastProcessingResult"] == "OK"

    def logged():
        events = aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/ProcessDynamoDBRecords")["events"]
        return [e["message"] for e in events if "INSERT" in e["message"]]

    assert wait_for(logged, "the record in the function's log")
    denials = env.get_json("/_tributary/iam/denials")
    assert denials["Mode"] == "enforce"
    assert not [d for d in denials["Denials"] if d["resource"] == stream], denials


def test_a_role_without_the_stream_actions_is_refused_until_a_policy_adds_them(aws, tmp_path):
    role = make_role(aws, "no-stream-role")
    aws(
        "iam", "attach-role-policy", "--role-name", "no-stream-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    fn = unique("fn")
    create_function(aws, tmp_path, fn, role)
    stream = stream_table(aws, unique("tbl"))
    _, msg = aws(
        "lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position", "LATEST",
        "--event-source-arn", stream, expect_error="InvalidParameterValueException",
    )
    assert msg == CANNOT_ACCESS.format(stream)
    assert aws("lambda", "list-event-source-mappings", "--function-name", fn)["EventSourceMappings"] == []
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": stream}]}
    aws("iam", "put-role-policy", "--role-name", "no-stream-role", "--policy-name", "read-stream",
        "--policy-document", json.dumps(policy))
    esm = aws("lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position", "LATEST",
              "--event-source-arn", stream)
    assert esm["EventSourceArn"] == stream


def test_the_destination_needs_its_action(aws, tmp_path):
    role = make_role(aws, "no-send-role")
    aws(
        "iam", "attach-role-policy", "--role-name", "no-send-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    )
    fn = unique("fn")
    create_function(aws, tmp_path, fn, role)
    stream = stream_table(aws, unique("tbl"))
    queue = aws("sqs", "create-queue", "--queue-name", unique("dlq"))["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", queue, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    _, msg = aws(
        "lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position", "LATEST",
        "--event-source-arn", stream, "--destination-config", json.dumps({"OnFailure": {"Destination": queue_arn}}),
        expect_error="InvalidParameterValueException",
    )
    assert msg == "The provided execution role does not have permissions to call SendMessage on SQS"
    # A queue policy that lets the role send is enough (same account).
    queue_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "sqs:SendMessage", "Resource": queue_arn}]}
    aws("sqs", "set-queue-attributes", "--queue-url", queue, "--attributes", json.dumps({"Policy": json.dumps(queue_policy)}))
    esm = aws(
        "lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position", "LATEST",
        "--event-source-arn", stream, "--destination-config", json.dumps({"OnFailure": {"Destination": queue_arn}}),
    )
    assert esm["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def test_dead_letter_queues_and_async_destinations_need_their_action(aws, tmp_path):
    role = make_role(aws, "no-send-async-role")
    fn = unique("fn")
    create_function(aws, tmp_path, fn, role)
    queue = aws("sqs", "create-queue", "--queue-name", unique("dlq"))["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", queue, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    _, msg = aws("lambda", "update-function-configuration", "--function-name", fn,
                 "--dead-letter-config", json.dumps({"TargetArn": queue_arn}),
                 expect_error="InvalidParameterValueException")
    assert msg == "The provided execution role does not have permissions to call SendMessage on SQS"
    _, msg = aws("lambda", "put-function-event-invoke-config", "--function-name", fn,
                 "--destination-config", json.dumps({"OnFailure": {"Destination": queue_arn}}),
                 expect_error="InvalidParameterValueException")
    assert msg == "The provided execution role does not have permissions to call SendMessage on SQS"
    aws("iam", "put-role-policy", "--role-name", "no-send-async-role", "--policy-name", "send",
        "--policy-document", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]}))
    out = aws("lambda", "put-function-event-invoke-config", "--function-name", fn,
              "--destination-config", json.dumps({"OnFailure": {"Destination": queue_arn}}))
    assert out["DestinationConfig"]["OnFailure"] == {"Destination": queue_arn}


def test_a_role_lambda_cannot_assume(aws, tmp_path):
    _, msg = create_function(
        aws, tmp_path, unique("fn"), "arn:aws:iam::000000000000:role/made-up",
        expect_error="InvalidParameterValueException",
    )
    assert msg == "The role defined for the function cannot be assumed by Lambda."
    not_lambda = make_role(aws, "not-for-lambda", trust=TRUST_ACCOUNT)
    _, msg = create_function(aws, tmp_path, unique("fn"), not_lambda, expect_error="InvalidParameterValueException")
    assert msg == "The role defined for the function cannot be assumed by Lambda."


def test_a_function_call_its_role_does_not_allow(aws, env, tmp_path):
    role = make_role(aws, "basic-only")
    aws(
        "iam", "attach-role-policy", "--role-name", "basic-only",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    table = unique("tbl")
    env.create_table(table, key="pk")
    fn = unique("caller")
    site = os.path.dirname(os.path.dirname(boto3.__file__))
    create_function(aws, tmp_path, fn, role, source=CALLER, handler="handler.handler", env={"PYTHONPATH": site})

    def invoke() -> dict:
        (tmp_path / "payload.json").write_text(json.dumps({"table": table}))
        aws("lambda", "invoke", "--function-name", fn, "--payload", "fileb://payload.json", "out.json")
        return json.loads((tmp_path / "out.json").read_text())

    out = invoke()
    assert out["key"].startswith("ASIA"), out
    assert out["ok"] is False, out
    assert out["code"] == "AccessDeniedException"
    assert out["message"] == (
        f"User: arn:aws:sts::000000000000:assumed-role/basic-only/{fn} is not authorized to perform: "
        f"dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/{table} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}
    aws("iam", "put-role-policy", "--role-name", "basic-only", "--policy-name", "put", "--policy-document", json.dumps(policy))
    assert invoke()["ok"] is True


def test_a_mapping_whose_role_loses_the_stream_actions_waits_and_resumes(aws, env, tmp_path):
    """The permission is taken away after the mapping was created: the mapping stops delivering
    and says so, then delivers everything once the permission is back."""
    from harness import RECORDER_PY, RecordLog

    role = make_role(aws, "revocable-role")
    aws(
        "iam", "attach-role-policy", "--role-name", "revocable-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    table = unique("tbl")
    stream = stream_table(aws, table)
    read = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": stream}]}
    aws("iam", "put-role-policy", "--role-name", "revocable-role", "--policy-name", "read",
        "--policy-document", json.dumps(read))
    fn = unique("rec")
    log = RecordLog(tmp_path / "records.jsonl")
    create_function(aws, tmp_path, fn, role, source=RECORDER_PY, handler="handler.handler",
                    env={"RECORDS_FILE": str(log.path)})
    esm = aws("lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position",
              "TRIM_HORIZON", "--event-source-arn", stream)
    uuid_ = esm["UUID"]

    def put(key: str):
        aws("dynamodb", "put-item", "--table-name", table, "--item", json.dumps({"id": {"S": key}}))

    put("a")
    env.drain(uuid_)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in log.records()] == ["a"]

    aws("iam", "delete-role-policy", "--role-name", "revocable-role", "--policy-name", "read")
    put("b")
    put("c")
    state = wait_for(
        lambda: (m := aws("lambda", "get-event-source-mapping", "--uuid", uuid_))["LastProcessingResult"].startswith("PROBLEM")
        and m,
        "the mapping to report the lost permission",
    )
    assert state["LastProcessingResult"] == "PROBLEM: " + CANNOT_ACCESS.format(stream)
    shards = env.get_json(f"/_tributary/event-source-mappings/{uuid_}/shards")
    assert any(s.get("LastError") == CANNOT_ACCESS.format(stream) for s in shards["Shards"]), shards
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in log.records()] == ["a"]
    denials = [d for d in env.get_json("/_tributary/iam/denials")["Denials"] if d["resource"] == stream]
    assert denials and denials[-1]["enforced"] is True and denials[-1]["principal"] == role

    aws("iam", "put-role-policy", "--role-name", "revocable-role", "--policy-name", "read",
        "--policy-document", json.dumps(read))
    env.advance_clock(11)  # past the longest backoff (10 s): the mapping retries now, not after it
    env.drain(uuid_)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in log.records()] == ["a", "b", "c"]
    assert aws("lambda", "get-event-source-mapping", "--uuid", uuid_)["LastProcessingResult"] == "OK"


def test_function_resource_policy(aws, server, tmp_path):
    """AddPermission, GetPolicy and RemovePermission as AWS renders them; the policy lets a user
    without identity policies invoke the function (same account)."""
    from botocore.exceptions import ClientError
    from test_iam_sts import boto

    role = make_role(aws, "policy-fn-role")
    fn = unique("fn")
    create_function(aws, tmp_path, fn, role)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fn}"
    lam = boto("lambda", server.endpoint)
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=fn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "The resource you requested does not exist."

    out = lam.add_permission(
        FunctionName=fn, StatementId="s3-invoke", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket", SourceAccount="000000000000",
    )
    assert json.loads(out["Statement"]) == {
        "Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": arn,
        "Condition": {"StringEquals": {"AWS:SourceAccount": "000000000000"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"}},
    }
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=fn, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == (
        "The statement id (s3-invoke) provided already exists. Please provide a new statement id, "
        "or remove the existing statement."
    )

    iam = boto("iam", server.endpoint)
    iam.create_user(UserName="invoker")
    user_arn = iam.get_user(UserName="invoker")["User"]["Arn"]
    key = iam.create_access_key(UserName="invoker")["AccessKey"]
    as_user = boto("lambda", server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        as_user.invoke(FunctionName=fn, Payload=b'{"Records": []}')
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["Error"]["Message"] == (
        f"User: {user_arn} is not authorized to perform: lambda:InvokeFunction on resource: {arn} "
        "because no identity-based policy allows the lambda:InvokeFunction action"
    )
    lam.add_permission(FunctionName=fn, StatementId="user", Action="lambda:InvokeFunction", Principal=user_arn)
    policy = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
    assert policy["Version"] == "2012-10-17" and [s["Sid"] for s in policy["Statement"]] == ["s3-invoke", "user"]
    assert policy["Statement"][1]["Principal"] == {"AWS": user_arn}
    assert as_user.invoke(FunctionName=fn, Payload=b'{"Records": []}')["StatusCode"] == 200

    lam.remove_permission(FunctionName=fn, StatementId="user")
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=fn, StatementId="user")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "Statement user is not found in resource policy."
    with pytest.raises(ClientError) as e:
        as_user.invoke(FunctionName=fn, Payload=b'{"Records": []}')
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
