"""The real SAM CLI against the endpoint (issue 15): `sam build`, then `sam deploy --resolve-s3`
(which first creates SAM's managed stack and bucket through this API, uploads the code and the
template there, and deploys from the template's URL), a put reaching the function, and
`sam delete`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from harness import REGION, REPO, client, unique, wait_for

EXAMPLE = REPO / "examples" / "sam-dynamodb"
SAM = Path(os.environ.get("SAM_CLI", REPO / ".venv-sam" / "bin" / "sam"))


@pytest.fixture
def sam(server, tmp_path):
    if not SAM.is_file():
        raise AssertionError(f"{SAM} missing: run the tests through scripts/test.sh (it installs the SAM CLI)")
    app_dir = tmp_path / "sam-home"
    app_dir.mkdir()
    # No telemetry, and no weekly look at PyPI for a newer SAM CLI.
    (app_dir / "metadata.json").write_text(json.dumps({"lastVersionCheck": 4102444800, "telemetryEnabled": False}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAM_"))}
    env.update(
        AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, SAM_CLI_TELEMETRY="0", SAM_CLI_POLL_DELAY="0.1",
        __SAM_CLI_APP_DIR=str(app_dir), AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(SAM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)

    return run


def test_sam_build_deploy_and_delete(server, sam, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns(".aws-sam"))
    p = sam("build", cwd=app)
    assert p.returncode == 0, p.stdout + p.stderr
    stack = unique("sam-app")
    p = sam("deploy", "--stack-name", stack, "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
            "--no-progressbar", cwd=app)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"Successfully created/updated stack - {stack}" in p.stdout, p.stdout

    cfn = client("cloudformation", server.endpoint)
    managed = cfn.describe_stacks(StackName="aws-sam-cli-managed-default")["Stacks"][0]
    assert managed["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "ManagedStackSource", "Value": "AwsSamCli"} in managed["Tags"]
    bucket = next(o["OutputValue"] for o in managed["Outputs"] if o["OutputKey"] == "SourceBucket")
    s3 = client("s3", server.endpoint)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(".template") for k in keys), keys

    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert s["StackStatus"] == "CREATE_COMPLETE"
    resources = {r["LogicalResourceId"]: r["ResourceType"]
                 for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert resources == {
        "DynamoDBTable": "AWS::DynamoDB::Table",
        "ProcessDynamoDBStreamRole": "AWS::IAM::Role",
        "ProcessDynamoDBStream": "AWS::Lambda::Function",
        "ProcessDynamoDBStreamStream": "AWS::Lambda::EventSourceMapping",
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    ddb = client("dynamodb", server.endpoint)
    ddb.put_item(TableName=outputs["TableName"], Item={"id": {"S": "from-sam"}})
    logs = client("logs", server.endpoint)

    def printed():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{outputs['FunctionName']}")["events"]
        except ClientError:
            return None
        return [json.loads(e["message"]) for e in events if e["message"].startswith("{")] or None

    assert wait_for(printed, "the function's output") == [
        {"eventName": "INSERT", "NewImage": {"id": {"S": "from-sam"}}}]

    # Deploying again without changes: SAM reads the empty change set's reason.
    p = sam("deploy", "--stack-name", stack, "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
            "--no-fail-on-empty-changeset", "--no-progressbar", cwd=app)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No changes to deploy" in p.stdout + p.stderr

    p = sam("delete", "--stack-name", stack, "--no-prompts", cwd=app)
    assert p.returncode == 0, p.stdout + p.stderr
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName=stack)
    with pytest.raises(ClientError):
        ddb.describe_table(TableName=outputs["TableName"])
