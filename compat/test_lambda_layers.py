"""Lambda layers: PublishLayerVersion and friends with AWS's shapes and errors, functions that
import from their layers (Python and Node, later layers overwriting earlier ones), and SAM's
`LayerVersion` with a function's `Layers` deployed through a stack."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from harness import REGION, ROLE, client, error_of, unique, wait_for, zip_bytes

PY_HANDLER = """\
import shared


def handler(event, context):
    return {"from": shared.WHO}
"""

NODE_HANDLER = """\
const shared = require('shared');
exports.handler = async () => ({ from: shared.who });
"""


def updated(lam, fn):
    """Waits for the update to finish: until then, invocations run the previous configuration."""
    wait_for(lambda: lam.get_function_configuration(FunctionName=fn)["LastUpdateStatus"] == "Successful" or None,
             f"{fn}'s update")


def publish(lam, name, files, **kw):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes(files)}, **kw)


def test_layer_versions_and_functions_that_use_them(env):
    lam = env.c.lam
    name = unique("shared")
    v1 = publish(lam, name, {"python/shared.py": "WHO = 'layer one'\n"}, CompatibleRuntimes=["python3.12"],
                 Description="first")
    assert v1["Version"] == 1
    assert v1["LayerArn"] == f"arn:aws:lambda:{REGION}:000000000000:layer:{name}"
    assert v1["LayerVersionArn"] == v1["LayerArn"] + ":1"
    assert v1["Content"]["CodeSize"] > 0 and v1["Description"] == "first"
    v2 = publish(lam, name, {"python/shared.py": "WHO = 'layer two'\n"})
    assert v2["Version"] == 2
    assert lam.get_layer_version(LayerName=name, VersionNumber=1)["Description"] == "first"
    assert lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])["Version"] == 2
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    only = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")["LayerVersions"]
    assert [v["Version"] for v in only] == [1]
    layers = {l["LayerName"]: l for l in lam.list_layers()["Layers"]}
    assert layers[name]["LatestMatchingVersion"]["Version"] == 2

    # A function imports from its layers; a later layer overwrites an earlier one's files.
    fn = env.create_function(zip_bytes({"handler.py": PY_HANDLER}), Layers=[v1["LayerVersionArn"]])
    out = json.loads(lam.invoke(FunctionName=fn)["Payload"].read())
    assert out == {"from": "layer one"}
    config = lam.get_function_configuration(FunctionName=fn)
    assert config["Layers"] == [{"Arn": v1["LayerVersionArn"], "CodeSize": v1["Content"]["CodeSize"]}]
    lam.update_function_configuration(FunctionName=fn, Layers=[v1["LayerVersionArn"], v2["LayerVersionArn"]])
    updated(lam, fn)
    assert json.loads(lam.invoke(FunctionName=fn)["Payload"].read()) == {"from": "layer two"}

    # Node finds nodejs/node_modules.
    node_layer = publish(lam, unique("nodeshared"), {"nodejs/node_modules/shared/index.js": "exports.who = 'node layer';\n"})
    node_fn = env.create_function(zip_bytes({"index.js": NODE_HANDLER}), runtime="nodejs20.x",
                                  handler="index.handler", Layers=[node_layer["LayerVersionArn"]])
    assert json.loads(lam.invoke(FunctionName=node_fn)["Payload"].read()) == {"from": "node layer"}

    # Errors.
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Layers=[v1["LayerArn"] + ":9"])
    assert error_of(e.value) == ("InvalidParameterValueException", 400,
                                 f"Layer version {v1['LayerArn']}:9 does not exist.")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Layers=[v1["LayerVersionArn"]] * 6)
    assert error_of(e.value)[2] == "Cannot reference more than 5 layers."
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=7)
    assert error_of(e.value)[0] == "ResourceNotFoundException"

    # A deleted version is gone from the API; numbers are not reused; functions keep running.
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]
    assert publish(lam, name, {"python/shared.py": "WHO = 3\n"})["Version"] == 3
    assert json.loads(lam.invoke(FunctionName=fn)["Payload"].read()) == {"from": "layer two"}


def test_sam_layer_version_and_function_layers(server, env, tmp_path):
    content = tmp_path / "layer"
    (content / "python").mkdir(parents=True)
    (content / "python" / "shared.py").write_text("WHO = 'sam layer'\n")
    template = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: {content}
      CompatibleRuntimes: [python3.11]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Layers: [!Ref Shared]
      InlineCode: |
        import shared
        def handler(event, context):
            return {{"from": shared.WHO}}
"""
    cfn = client("cloudformation", server.endpoint)
    stack = unique("layers")
    cfn.create_stack(StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    evs = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    assert s["StackStatus"] == "CREATE_COMPLETE", [(e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in evs]
    res = {r["ResourceType"]: r["PhysicalResourceId"]
           for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    layer_arn = res["AWS::Lambda::LayerVersion"]
    fn = res["AWS::Lambda::Function"]
    assert env.c.lam.get_function_configuration(FunctionName=fn)["Layers"][0]["Arn"] == layer_arn
    assert json.loads(env.c.lam.invoke(FunctionName=fn)["Payload"].read()) == {"from": "sam layer"}
    cfn.delete_stack(StackName=stack)


def test_code_and_layers_from_s3(server, env):
    """Code.S3Bucket/S3Key (and S3ObjectVersion of a versioned bucket) are read from this
    server's S3, for functions and layers; a missing object is Lambda's GetObject error."""
    lam = env.c.lam
    s3 = client("s3", server.endpoint)
    bucket = unique("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    one = zip_bytes({"handler.py": "def handler(e, c):\n    return 'one'\n"})
    two = zip_bytes({"handler.py": "def handler(e, c):\n    return 'two'\n"})
    v1 = s3.put_object(Bucket=bucket, Key="fn.zip", Body=one)["VersionId"]
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=two)
    name = unique("s3fn")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    env.wait_function_active(name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "two"
    lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="fn.zip", S3ObjectVersion=v1)
    updated(lam, name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "one"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="missing.zip")
    code, status, message = error_of(e.value)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey.")
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=zip_bytes({"python/shared.py": "WHO = 's3 layer'\n"}))
    layer = lam.publish_layer_version(LayerName=unique("s3layer"), Content={"S3Bucket": bucket, "S3Key": "layer.zip"})
    assert layer["Version"] == 1 and layer["Content"]["CodeSize"] > 0
