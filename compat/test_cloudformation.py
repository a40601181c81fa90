"""CloudFormation's template checks through the AWS CLI (issue 15): ValidateTemplate and
GetTemplateSummary of the DynamoDB guide's SAM template, and CloudFormation's errors for a
malformed one. Stacks are in test_cloudformation_stacks.py."""

from __future__ import annotations

import json

from harness import REPO

GUIDE = REPO / "crates" / "cfn" / "tests" / "data" / "dynamodb-guide.yaml"


def test_validate_the_guides_sam_template(aws, tmp_path):
    (tmp_path / "template.yaml").write_text(GUIDE.read_text())
    out = aws("cloudformation", "validate-template", "--template-body", "file://template.yaml")
    assert out["Parameters"] == []
    assert out["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    assert out["Capabilities"] == ["CAPABILITY_IAM"]
    assert out["CapabilitiesReason"] == "The following resource(s) require capabilities: [AWS::IAM::Role]"
    summary = aws("cloudformation", "get-template-summary", "--template-body", "file://template.yaml")
    assert set(summary["ResourceTypes"]) == {
        "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping",
    }
    assert summary["Version"] == "2010-09-09"


def test_parameters_and_errors(aws, tmp_path):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "a queue",
        "Parameters": {"Name": {"Type": "String", "Default": "q", "Description": "queue name",
                                "AllowedValues": ["q", "r"]},
                       "Secret": {"Type": "String", "NoEcho": True}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}},
    }
    (tmp_path / "t.json").write_text(json.dumps(template))
    out = aws("cloudformation", "validate-template", "--template-body", "file://t.json")
    assert out["Description"] == "a queue"
    assert out["Parameters"] == [
        {"ParameterKey": "Name", "DefaultValue": "q", "NoEcho": False, "Description": "queue name"},
        {"ParameterKey": "Secret", "NoEcho": True},
    ]
    assert "Capabilities" not in out
    summary = aws("cloudformation", "get-template-summary", "--template-body", "file://t.json")
    assert summary["Parameters"][0]["ParameterConstraints"] == {"AllowedValues": ["q", "r"]}
    assert summary["Parameters"][0]["ParameterType"] == "String"

    bad = {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Missing"}}}}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    _, msg = aws("cloudformation", "validate-template", "--template-body", "file://bad.json",
                 expect_error="ValidationError")
    assert msg.startswith("Template format error: Unresolved resource dependencies [Missing]"), msg
    (tmp_path / "garbage.yaml").write_text("Resources: [\n")
    _, msg = aws("cloudformation", "validate-template", "--template-body", "file://garbage.yaml",
                 expect_error="ValidationError")
    assert msg.startswith("Template format error"), msg
