"""`tributary deploy` (issue 15): examples/sam-dynamodb deployed straight from its folder, a put
reaching the function, `--watch` hot reload (edit the handler and the next record runs the new
code, the table and its data kept), a failing deploy exiting non-zero, and `--delete`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from harness import REPO, TRIBUTARY_BIN, client, unique, wait_for

EXAMPLE = REPO / "examples" / "sam-dynamodb"


def deploy(server, *args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run([str(TRIBUTARY_BIN), "deploy", "--endpoint", server.endpoint, *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def outputs(cfn, stack: str) -> dict[str, str]:
    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}


def log_lines(logs, function: str) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except ClientError:
        return []
    return [e["message"].strip() for e in events]


def printed_records(logs, function: str) -> list[dict]:
    out = []
    for line in log_lines(logs, function):
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture
def app(tmp_path):
    """A copy of the example to edit."""
    dest = tmp_path / "sam-dynamodb"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".aws-sam"))
    return dest


def test_deploy_the_example_from_its_folder_then_watch_and_delete(server, app):
    cfn = client("cloudformation", server.endpoint)
    ddb = client("dynamodb", server.endpoint)
    logs = client("logs", server.endpoint)
    stack = unique("ddb-app")
    p = deploy(server, "--stack-name", stack, cwd=app)
    assert p.returncode == 0, p.stdout + p.stderr
    # Events as they happen, numbered by resource, then the outputs.
    assert "[4/4] CREATE_COMPLETE" in p.stdout
    assert f"Successfully deployed {stack} (CREATE_COMPLETE)" in p.stdout
    out = outputs(cfn, stack)
    assert f"  TableName = {out['TableName']}" in p.stdout
    resources = {r["LogicalResourceId"]: r["ResourceType"]
                 for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert resources == {
        "DynamoDBTable": "AWS::DynamoDB::Table",
        "ProcessDynamoDBStreamRole": "AWS::IAM::Role",
        "ProcessDynamoDBStream": "AWS::Lambda::Function",
        "ProcessDynamoDBStreamStream": "AWS::Lambda::EventSourceMapping",
    }
    table, function = out["TableName"], out["FunctionName"]
    ddb.put_item(TableName=table, Item={"id": {"S": "first"}})
    got = wait_for(lambda: printed_records(logs, function) or None, "the handler's output")
    assert got == [{"eventName": "INSERT", "NewImage": {"id": {"S": "first"}}}]

    # Deploying again without changes changes nothing.
    p = deploy(server, "--stack-name", stack, cwd=app)
    assert p.returncode == 0 and f"No changes to deploy. Stack {stack} is up to date" in p.stdout, p.stdout + p.stderr

    # --watch: an edit of the handler is deployed within a second, and the next record runs it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    watcher = subprocess.Popen(
        [str(TRIBUTARY_BIN), "deploy", "--endpoint", server.endpoint, "--stack-name", stack, "--watch"],
        cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines: list[str] = []

        def read_until(text: str, timeout: float = 30.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = watcher.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if text in line:
                    return
            raise AssertionError(f"no {text!r} in the watcher's output:\n{''.join(lines)}")

        read_until("Watching")
        handler = app / "src" / "app.py"
        handler.write_text(handler.read_text().replace('"eventName": record.get("eventName"),',
                                                       '"eventName": record.get("eventName"), "version": 2,'))
        edited = time.monotonic()
        read_until("Successfully deployed")
        assert time.monotonic() - edited < 5
        assert "Modify   ProcessDynamoDBStream " in "".join(lines)
        # Only the function changed: the table (and its data) stayed.
        redeploy = "".join(lines[lines.index(next(l for l in lines if "Change detected" in l)):])
        assert "AWS::DynamoDB::Table" not in redeploy
        ddb.put_item(TableName=table, Item={"id": {"S": "second"}})
        got = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(printed_records(logs, function)),
                       "the new handler's output")
        assert got[-1] == {"eventName": "INSERT", "version": 2, "NewImage": {"id": {"S": "second"}}}
        assert ddb.get_item(TableName=table, Key={"id": {"S": "first"}})["Item"] == {"id": {"S": "first"}}
    finally:
        os.killpg(watcher.pid, signal.SIGINT)
        watcher.wait(timeout=10)

    # --delete removes the stack and what it made.
    p = deploy(server, "--stack-name", stack, "--delete", cwd=app)
    assert p.returncode == 0 and f"Deleted {stack}" in p.stdout, p.stdout + p.stderr
    with pytest.raises(ClientError):
        ddb.describe_table(TableName=table)


def test_a_failing_deploy_exits_non_zero(server, tmp_path):
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: 'not a valid name'\n")
    stack = unique("bad")
    p = deploy(server, "--stack-name", stack, cwd=tmp_path)
    assert p.returncode != 0
    assert "CREATE_FAILED" in p.stdout and "ROLLBACK_COMPLETE" in p.stdout, p.stdout
    assert f"Deploying {stack} failed: ROLLBACK_COMPLETE" in p.stderr
    # Fixed, it deploys: the rolled-back stack is replaced.
    (tmp_path / "template.yaml").write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    p = deploy(server, "--stack-name", stack, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ROLLBACK_COMPLETE; deleting it" in p.stdout


def test_parameter_overrides(server, tmp_path):
    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  Delay:\n    Type: Number\n    Default: '0'\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: !Ref Delay\n"
        "Outputs:\n  Url:\n    Value: !Ref Q\n")
    stack = unique("params")
    p = deploy(server, "--stack-name", stack, "--parameter-overrides", "Delay=5", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    cfn = client("cloudformation", server.endpoint)
    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert s["Parameters"] == [{"ParameterKey": "Delay", "ParameterValue": "5"}]
    url = s["Outputs"][0]["OutputValue"]
    sqs = client("sqs", server.endpoint)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"] == {"DelaySeconds": "5"}
    p = deploy(server, "--stack-name", stack, "--parameter-overrides", "Nope=1", cwd=tmp_path)
    assert p.returncode != 0 and "Parameters: [Nope] do not exist in the template" in p.stderr, p.stderr
    p = deploy(server, "--stack-name", stack, "--parameter-overrides", "Delay", cwd=tmp_path)
    assert p.returncode != 0 and "Key=Value" in p.stderr
