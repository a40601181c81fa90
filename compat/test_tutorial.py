"""Issue #2: AWS's "Using AWS Lambda with Amazon DynamoDB streams" tutorial works against
Tributary — driven with the AWS CLI exactly as examples/python-tutorial/README.md shows it, and
again with boto3 with every stream-record detail checked."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from datetime import datetime, timezone

from harness import (
    client,
    HEX32,
    REGION,
    REPO,
    ROLE,
    SEQ,
    STREAM_LABEL,
    RecordLog,
    function_arn,
    table_arn,
    unique,
    wait_for,
    zip_bytes,
)

TUTORIAL = REPO / "examples" / "python-tutorial"

# The execution role is checked as on AWS: the walkthrough creates it first.
SERVER_ARGS = ["--iam", "enforce"]

# The walkthrough, command for command as in the README (`$VAR` is substituted; `NAME=$(cmd)`
# captures the command's output). The README check below keeps the two identical.
WALKTHROUGH = {
    "create_role": """aws iam create-role --role-name lambda-dynamodb-role \\
    --assume-role-policy-document '{"Version": "2012-10-17","Statement": [{ "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'""",
    "attach_policy": """aws iam attach-role-policy --role-name lambda-dynamodb-role \\
    --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole""",
    "create_function": """aws lambda create-function --function-name ProcessDynamoDBRecords \\
    --runtime python3.13 --handler lambda_function.lambda_handler \\
    --role arn:aws:iam::000000000000:role/lambda-dynamodb-role \\
    --zip-file fileb://function.zip \\
    --environment "Variables={RECORDS_FILE=$PWD/records.jsonl}\"""",
    "function_state": """aws lambda get-function --function-name ProcessDynamoDBRecords \\
    --query Configuration.State --output text""",
    "invoke": """aws lambda invoke --function-name ProcessDynamoDBRecords \\
    --payload fileb://input.txt outputfile.txt""",
    "create_table": """aws dynamodb create-table --table-name lambda-dynamodb-stream \\
    --attribute-definitions AttributeName=id,AttributeType=S \\
    --key-schema AttributeName=id,KeyType=HASH \\
    --billing-mode PAY_PER_REQUEST \\
    --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES""",
    "table_status": """aws dynamodb describe-table --table-name lambda-dynamodb-stream \\
    --query Table.TableStatus --output text""",
    "stream_arn": """STREAM_ARN=$(aws dynamodb describe-table --table-name lambda-dynamodb-stream \\
    --query Table.LatestStreamArn --output text)""",
    "create_mapping": """aws lambda create-event-source-mapping --function-name ProcessDynamoDBRecords \\
    --batch-size 100 --starting-position LATEST --event-source-arn $STREAM_ARN""",
    "list_mappings": """aws lambda list-event-source-mappings --function-name ProcessDynamoDBRecords \\
    --event-source-arn $STREAM_ARN""",
    "uuid": """UUID=$(aws lambda list-event-source-mappings --function-name ProcessDynamoDBRecords \\
    --event-source-arn $STREAM_ARN --query 'EventSourceMappings[0].UUID' --output text)""",
    "mapping_state": """aws lambda get-event-source-mapping --uuid $UUID --query State --output text""",
    "put_item": """aws dynamodb put-item --table-name lambda-dynamodb-stream \\
    --item '{"id": {"S": "101"}, "greeting": {"S": "New item!"}}'""",
    "update_item": """aws dynamodb update-item --table-name lambda-dynamodb-stream --key '{"id": {"S": "101"}}' \\
    --update-expression "SET greeting = :g" \\
    --expression-attribute-values '{":g": {"S": "This item has changed"}}'""",
    "delete_item": """aws dynamodb delete-item --table-name lambda-dynamodb-stream --key '{"id": {"S": "101"}}'""",
    "last_result": """aws lambda get-event-source-mapping --uuid $UUID --query LastProcessingResult --output text""",
    "delete_mapping": """aws lambda delete-event-source-mapping --uuid $UUID""",
    "delete_function": """aws lambda delete-function --function-name ProcessDynamoDBRecords""",
    "delete_table": """aws dynamodb delete-table --table-name lambda-dynamodb-stream""",
}


def _normalize(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def test_readme_shows_the_walkthrough_the_test_runs():
    readme = _normalize((TUTORIAL / "README.md").read_text())
    for step, command in WALKTHROUGH.items():
        assert _normalize(command) in readme, f"README.md lacks step {step!r}: {_normalize(command)}"
    assert "zip function.zip lambda_function.py" in readme


class Walkthrough:
    """Runs WALKTHROUGH steps through the `aws` fixture, with shell-style variables."""

    def __init__(self, aws, cwd):
        self.aws = aws
        self.vars = {"PWD": str(cwd)}

    def __call__(self, step: str, expect_error: str | None = None):
        text = WALKTHROUGH[step].replace("\\\n", " ")
        m = re.fullmatch(r"\s*(\w+)=\$\((.*)\)\s*", text, re.S)
        target, text = (m.group(1), m.group(2)) if m else (None, text)
        argv = shlex.split(text)
        assert argv[0] == "aws"
        argv = [re.sub(r"\$(\w+)", lambda v: self.vars[v.group(1)], a) for a in argv[1:]]
        out = self.aws(*argv, expect_error=expect_error)
        if target:
            assert out and isinstance(out, str), f"{step}: no output to capture"
            self.vars[target] = out
        return out

    def until(self, step: str, want: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self(step) == want, f"`{step}` to print {want}", timeout=timeout, interval=0.1)


def test_tutorial_walkthrough_with_aws_cli(aws, tmp_path):
    shutil.copy(TUTORIAL / "input.txt", tmp_path / "input.txt")
    (tmp_path / "function.zip").write_bytes(
        zip_bytes({"lambda_function.py": (TUTORIAL / "lambda_function.py").read_text()})
    )
    run = Walkthrough(aws, tmp_path)
    log = RecordLog(tmp_path / "records.jsonl")

    # Create the execution role (the server runs with --iam enforce).
    role = run("create_role")["Role"]
    assert role["Arn"] == ROLE and role["RoleName"] == "lambda-dynamodb-role"
    assert run("attach_policy") is None

    # Create the function.
    fn = run("create_function")
    assert fn["FunctionName"] == "ProcessDynamoDBRecords"
    assert fn["FunctionArn"] == function_arn("ProcessDynamoDBRecords")
    assert fn["Runtime"] == "python3.13"
    assert fn["Handler"] == "lambda_function.lambda_handler"
    assert fn["Role"] == ROLE
    assert fn["Environment"] == {"Variables": {"RECORDS_FILE": str(tmp_path / "records.jsonl")}}
    run.until("function_state", "Active")

    # Test the function with the sample event.
    out = run("invoke")
    assert out == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}, out
    assert json.loads((tmp_path / "outputfile.txt").read_text()) == "Successfully processed 3 records."

    # Create a table with a stream.
    created = run("create_table")["TableDescription"]
    assert created["TableName"] == "lambda-dynamodb-stream"
    assert created["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    run.until("table_status", "ACTIVE")
    run("stream_arn")
    stream_arn = run.vars["STREAM_ARN"]
    prefix = table_arn("lambda-dynamodb-stream") + "/stream/"
    assert stream_arn.startswith(prefix) and STREAM_LABEL.match(stream_arn[len(prefix) :]), stream_arn

    # Map the stream to the function.
    esm = run("create_mapping")
    assert esm["State"] == "Creating"
    assert esm["BatchSize"] == 100
    assert esm["StartingPosition"] == "LATEST"
    assert esm["EventSourceArn"] == stream_arn
    assert esm["FunctionArn"] == function_arn("ProcessDynamoDBRecords")
    listed = run("list_mappings")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [esm["UUID"]]
    run("uuid")
    assert run.vars["UUID"] == esm["UUID"]
    run.until("mapping_state", "Enabled")

    # Test the setup: one INSERT, one MODIFY, one REMOVE reach the function, in order.
    run("put_item")
    run("update_item")
    run("delete_item")

    def stream_events():
        return [r for inv in log.invocations() for r in inv["Records"] if r["eventSourceARN"] == stream_arn]

    records = wait_for(lambda: (lambda rs: rs if len(rs) >= 3 else None)(stream_events()), "3 stream records")
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    item_v1 = {"id": {"S": "101"}, "greeting": {"S": "New item!"}}
    item_v2 = {"id": {"S": "101"}, "greeting": {"S": "This item has changed"}}
    ins, mod, rem = (r["dynamodb"] for r in records)
    assert ins["Keys"] == mod["Keys"] == rem["Keys"] == {"id": {"S": "101"}}
    assert ins["NewImage"] == item_v1 and "OldImage" not in ins
    assert mod["OldImage"] == item_v1 and mod["NewImage"] == item_v2
    assert rem["OldImage"] == item_v2 and "NewImage" not in rem
    assert [d["SizeBytes"] for d in (ins, mod, rem)] == [27, 61, 39]  # as in input.txt
    for r in records:
        assert r["eventVersion"] == "1.1" and r["eventSource"] == "aws:dynamodb" and r["awsRegion"] == REGION
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    run.until("last_result", "OK")
    time.sleep(0.3)  # nothing else may arrive (the sample invoke aside)
    assert len(stream_events()) == 3

    # Clean up.
    deleted = run("delete_mapping")
    assert deleted["UUID"] == esm["UUID"] and deleted["State"] == "Deleting"
    # Empty 204 as recorded on AWS; botocore's newer model surfaces the status as StatusCode.
    assert run("delete_function") in (None, {"StatusCode": 204}, {"StatusCode": 200})
    assert run("delete_table")["TableDescription"]["TableStatus"] == "DELETING"
    op, msg = aws("lambda", "get-function", "--function-name", "ProcessDynamoDBRecords",
                  expect_error="ResourceNotFoundException")  # fmt: skip
    assert op == "GetFunction"
    assert msg == f"Function not found: {function_arn('ProcessDynamoDBRecords')}"
    wait_for(
        lambda: aws.run("lambda", "get-event-source-mapping", "--uuid", esm["UUID"]).returncode != 0,
        "the deleted mapping to disappear",
        timeout=20,
        interval=0.2,
    )
    op, msg = aws("lambda", "get-event-source-mapping", "--uuid", esm["UUID"],
                  expect_error="ResourceNotFoundException")  # fmt: skip
    assert (op, msg) == ("GetEventSourceMapping", "The resource you requested does not exist.")


TUTORIAL_HANDLER_RECORDING = """
import json, os
from lambda_function import lambda_handler as tutorial_handler


def handler(event, context):
    result = tutorial_handler(event, context)
    with open(os.environ["RESULTS_FILE"], "a") as f:
        f.write(json.dumps({"requestId": context.aws_request_id, "result": result}) + "\\n")
    return result
"""


def ensure_tutorial_role(endpoint: str) -> None:
    """The tutorial's execution role, for a test that runs without the walkthrough before it."""
    iam = client("iam", endpoint)
    try:
        iam.get_role(RoleName="lambda-dynamodb-role")
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName="lambda-dynamodb-role", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName="lambda-dynamodb-role",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")


def test_tutorial_flow_with_boto3(env, tmp_path):
    """The same flow with boto3, checking the records the function gets against what the
    Streams API returns for the same changes."""
    ensure_tutorial_role(env.server.endpoint)
    c = env.c
    records_file = tmp_path / "records.jsonl"
    results_file = tmp_path / "results.jsonl"
    code = zip_bytes({
        "lambda_function.py": (TUTORIAL / "lambda_function.py").read_text(),
        "recording.py": TUTORIAL_HANDLER_RECORDING,
    })  # fmt: skip
    name = env.create_function(
        code, runtime="python3.12", handler="recording.handler",
        env={"RECORDS_FILE": str(records_file), "RESULTS_FILE": str(results_file)},
    )  # fmt: skip

    resp = c.lam.invoke(FunctionName=name, Payload=(TUTORIAL / "input.txt").read_bytes())
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) == "Successfully processed 3 records."

    table = unique("tutorial")
    desc = c.ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert desc["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    stream_arn = env.wait_table_active(table)["LatestStreamArn"]
    assert stream_arn == desc["LatestStreamArn"]

    esm = c.lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST", BatchSize=100
    )
    assert esm["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert esm["State"] == "Creating"
    env.wait_mapping_state(esm["UUID"], "Enabled")

    key = {"id": {"S": "101"}}
    c.ddb.put_item(TableName=table, Item={**key, "greeting": {"S": "New item!"}, "n": {"N": "42"}})
    c.ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET greeting = :g",
        ExpressionAttributeValues={":g": {"S": "This item has changed"}},
    )  # fmt: skip
    c.ddb.delete_item(TableName=table, Key=key)

    log = RecordLog(records_file)

    def stream_events():
        return [r for inv in log.invocations() for r in inv["Records"] if r["eventSourceARN"] == stream_arn]

    delivered = wait_for(lambda: (lambda rs: rs if len(rs) >= 3 else None)(stream_events()), "3 records")
    assert [r["eventName"] for r in delivered] == ["INSERT", "MODIFY", "REMOVE"]

    # What the function got equals what GetRecords returns, plus eventSourceARN.
    from_api = env.stream_records(stream_arn)
    assert len(from_api) == 3
    now = datetime.now(timezone.utc).timestamp()
    for got, api in zip(delivered, from_api):
        assert set(got) == {
            "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"
        }  # fmt: skip
        assert got["eventSourceARN"] == stream_arn
        assert HEX32.match(got["eventID"]) and got["eventID"] == api["eventID"]
        assert got["eventName"] == api["eventName"]
        assert got["eventVersion"] == "1.1" and got["eventSource"] == "aws:dynamodb"
        assert got["awsRegion"] == REGION
        d, a = got["dynamodb"], api["dynamodb"]
        assert SEQ.match(d["SequenceNumber"]) and d["SequenceNumber"] == a["SequenceNumber"]
        assert isinstance(d["ApproximateCreationDateTime"], float)
        assert now - 120 <= d["ApproximateCreationDateTime"] <= now + 5
        assert d["ApproximateCreationDateTime"] == a["ApproximateCreationDateTime"].timestamp()
        for k in ("Keys", "NewImage", "OldImage", "SizeBytes", "StreamViewType"):
            assert d.get(k) == a.get(k), k
    # Keys {id:"101"} = 5 bytes; images add name + value sizes (N "42" counts 2 bytes).
    assert [r["dynamodb"]["SizeBytes"] for r in delivered] == [5 + 25, 5 + 37 + 25, 5 + 37]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in delivered]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3

    # The handler's answer for the stream batches, as the tutorial prints it.
    results = [json.loads(line) for line in results_file.read_text().splitlines()]
    n_stream = sum(1 for inv in log.invocations() if inv["Records"][0]["eventSourceARN"] == stream_arn)
    stream_results = [r["result"] for r in results[1:]]
    assert len(stream_results) == n_stream
    assert sum(int(re.search(r"\d+", s).group()) for s in stream_results) == 3
    assert all(re.fullmatch(r"Successfully processed \d+ records\.", s) for s in stream_results)

    wait_for(lambda: c.lam.get_event_source_mapping(UUID=esm["UUID"])["LastProcessingResult"] == "OK",
             "LastProcessingResult OK")  # fmt: skip

    deleted = c.lam.delete_event_source_mapping(UUID=esm["UUID"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    assert c.lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    assert c.ddb.delete_table(TableName=table)["TableDescription"]["TableStatus"] == "DELETING"
