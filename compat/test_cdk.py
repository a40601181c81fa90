"""A CDK app deployed through the CloudFormation API (issue 15): examples/cdk-dynamodb (npm's
aws-cdk-lib: a TableV2 with a stream, a function and a DynamoEventSource) is synthesized with
node, its assets published to S3 as `cdk deploy` publishes them (the zip of the handler folder and
the template itself, per the assets manifest), and the stack created from the template's URL.
Afterwards a put reaches the function."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from harness import REPO, client, unique, wait_for

APP = REPO / "examples" / "cdk-dynamodb"


def synth(out: Path, bucket: str, table: str | None = None) -> Path:
    if not (APP / "node_modules" / "aws-cdk-lib").is_dir():
        raise AssertionError(f"{APP}/node_modules missing: run the tests through scripts/test.sh (it runs npm ci)")
    env = dict(os.environ, CDK_OUTDIR=str(out), CDK_ASSETS_BUCKET=bucket)
    if table:
        env["CDK_TABLE"] = table
    p = subprocess.run([shutil.which("node") or "node", "app.js"], cwd=APP, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return out


def zip_dir(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(path.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(path).as_posix())
    return buf.getvalue()


def publish(s3, out: Path) -> dict[str, str]:
    """Uploads every file asset of the manifest; answers object key by source path."""
    manifest = json.loads((out / "CdkDdbApp.assets.json").read_text())
    keys = {}
    for asset in manifest["files"].values():
        src = out / asset["source"]["path"]
        body = zip_dir(src) if asset["source"]["packaging"] == "zip" else src.read_bytes()
        for dest in asset["destinations"].values():
            s3.put_object(Bucket=dest["bucketName"], Key=dest["objectKey"], Body=body)
            keys[asset["source"]["path"]] = dest["objectKey"]
    return keys


@pytest.mark.parametrize("table", ["TableV2", "Table"])
def test_a_cdk_app_deploys_through_the_cloudformation_api(server, tmp_path, table):
    s3 = client("s3", server.endpoint)
    cfn = client("cloudformation", server.endpoint)
    bucket = unique("cdk-assets")
    s3.create_bucket(Bucket=bucket)
    out = synth(tmp_path / "cdk.out", bucket, table="table" if table == "Table" else None)
    template = json.loads((out / "CdkDdbApp.template.json").read_text())
    expected = "AWS::DynamoDB::GlobalTable" if table == "TableV2" else "AWS::DynamoDB::Table"
    types = {r["Type"] for r in template["Resources"].values()}
    assert types == {expected, "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Lambda::Function",
                     "AWS::Lambda::EventSourceMapping"}
    keys = publish(s3, out)
    stack = unique("cdk")
    url = f"{server.endpoint}/{bucket}/{keys['CdkDdbApp.template.json']}"
    cfn.create_stack(StackName=stack, TemplateURL=url, Capabilities=["CAPABILITY_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    logical = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert set(logical) == set(template["Resources"])
    assert cfn.get_template(StackName=stack)["TemplateBody"] == template

    ddb = client("dynamodb", server.endpoint)
    desc = ddb.describe_table(TableName=outputs["TableName"])["Table"]
    assert desc["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert desc["LatestStreamArn"] == outputs["TableStreamArn"]
    ddb.put_item(TableName=outputs["TableName"], Item={"id": {"S": "from-cdk"}})
    logs = client("logs", server.endpoint)

    def printed():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{outputs['FunctionName']}")["events"]
        except Exception:
            return None
        lines = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        return lines or None

    assert wait_for(printed, "the CDK function's output") == [
        {"eventName": "INSERT", "NewImage": {"id": {"S": "from-cdk"}}}]
    cfn.delete_stack(StackName=stack)
    assert cfn.describe_stacks(StackName=s["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
