"""CloudFormation stacks end to end (issue 15): the DynamoDB guide's SAM template deployed by
`aws cloudformation package` + `deploy` and by CreateStack, a put reaching the function, updates
in place and by replacement, rollbacks that leave nothing behind, change sets, exports, and
DeleteStack removing everything in reverse order."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError, WaiterError
from harness import REGION, RecordLog, client, unique, wait_for, zip_bytes

SERVER_ARGS = ["--iam", "enforce"]

RECORDER = """\
import json
import os


def handler(event, context):
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps({"event": event}) + "\\n")
    return {"processed": len(event.get("Records", []))}
"""


def guide_template(code_uri: str, records: str, batch_size: int = 100) -> str:
    """The DynamoDB guide's SAM template with a real handler and runtime."""
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  ProcessDynamoDBStream:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: {code_uri}
      Environment:
        Variables:
          RECORDS_FILE: {records}
      Policies: AWSLambdaDynamoDBExecutionRole
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DynamoDBTable.StreamArn
            BatchSize: {batch_size}
            StartingPosition: TRIM_HORIZON
  DynamoDBTable:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      ProvisionedThroughput:
        ReadCapacityUnits: 5
        WriteCapacityUnits: 5
      StreamSpecification:
        StreamViewType: NEW_IMAGE
Outputs:
  TableName:
    Value: !Ref DynamoDBTable
  StreamArn:
    Value: !GetAtt DynamoDBTable.StreamArn
"""


@pytest.fixture(scope="module")
def cfn(server):
    return client("cloudformation", server.endpoint)


def next_second() -> None:
    """Waits for the wall clock's next second. The AWS CLI names a deploy's change set by the
    second, and an empty one stays (as on AWS), so two deploys within one second would collide."""
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.02)


def resources(cfn, stack: str) -> dict[str, dict]:
    out = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r for r in out}


def stack_of(cfn, stack: str) -> dict:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]


def events(cfn, stack: str) -> list[tuple[str, str]]:
    """(logical id, status) of every event, oldest first."""
    evs = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(evs)]


def test_the_guides_template_deploys_with_package_and_deploy(server, aws, tmp_path, cfn, clients):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(RECORDER)
    records = tmp_path / "records.jsonl"
    (tmp_path / "template.yaml").write_text(guide_template("src/", str(records)))
    bucket = unique("artifacts")
    aws("s3", "mb", f"s3://{bucket}", "--output", "text")
    # The CLI's S3 client for package/deploy only follows AWS_ENDPOINT_URL.
    aws.env["AWS_ENDPOINT_URL"] = server.endpoint
    aws("cloudformation", "package", "--template-file", "template.yaml", "--s3-bucket", bucket,
        "--output-template-file", "packaged.yaml", "--output", "text")
    packaged = (tmp_path / "packaged.yaml").read_text()
    assert f"s3://{bucket}/" in packaged
    stack = unique("guide")
    started = time.monotonic()
    aws("cloudformation", "deploy", "--template-file", "packaged.yaml", "--stack-name", stack,
        "--capabilities", "CAPABILITY_IAM", "--output", "text")
    # Every operation ends within its request, so the CLI's waiters never sleep.
    assert time.monotonic() - started < 20
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}

    res = resources(cfn, stack)
    # The logical ids SAM generates.
    assert set(res) == {"ProcessDynamoDBStream", "ProcessDynamoDBStreamRole",
                        "ProcessDynamoDBStreamStream", "DynamoDBTable"}
    assert {r["ResourceStatus"] for r in res.values()} == {"CREATE_COMPLETE"}
    assert res["DynamoDBTable"]["ResourceType"] == "AWS::DynamoDB::Table"
    table = res["DynamoDBTable"]["PhysicalResourceId"]
    assert table == outputs["TableName"]
    assert table.startswith(f"{stack}-DynamoDBTable-")
    desc = clients.ddb.describe_table(TableName=table)["Table"]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert desc["LatestStreamArn"] == outputs["StreamArn"]

    function = res["ProcessDynamoDBStream"]["PhysicalResourceId"]
    # By a resource's physical id: the stack it belongs to, with all its resources.
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=table)["StackResources"]
    assert {r["LogicalResourceId"] for r in by_physical} == set(res)
    assert {r["StackName"] for r in by_physical} == {stack}
    config = clients.lam.get_function_configuration(FunctionName=function)
    assert config["Runtime"] == "python3.11"
    role = res["ProcessDynamoDBStreamRole"]["PhysicalResourceId"]
    assert config["Role"].endswith(f":role/{role}")
    iam = client("iam", server.endpoint)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [a["PolicyName"] for a in attached] == ["AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole"]
    mapping = clients.lam.get_event_source_mapping(UUID=res["ProcessDynamoDBStreamStream"]["PhysicalResourceId"])
    assert mapping["BatchSize"] == 100
    assert mapping["EventSourceArn"] == outputs["StreamArn"]

    # A put reaches the function.
    clients.ddb.put_item(TableName=table, Item={"id": {"S": "hello"}})
    got = RecordLog(records).wait_records(1)
    assert got[0]["dynamodb"]["NewImage"] == {"id": {"S": "hello"}}
    assert got[0]["eventSourceARN"] == outputs["StreamArn"]

    # Events: the stack's first and last, each resource created after what it depends on.
    evs = events(cfn, stack)
    assert evs[0] == (stack, "REVIEW_IN_PROGRESS")
    assert evs[-1] == (stack, "CREATE_COMPLETE")
    done = [lid for lid, st in evs if st == "CREATE_COMPLETE" and lid != stack]
    assert done.index("DynamoDBTable") < done.index("ProcessDynamoDBStreamStream")
    assert done.index("ProcessDynamoDBStreamRole") < done.index("ProcessDynamoDBStream")

    # Deploying the same template again changes nothing: the CLI reads the empty change set's
    # reason and stops (exit 255, or 0 with --no-fail-on-empty-changeset), as against AWS.
    next_second()
    p = aws.run("cloudformation", "deploy", "--template-file", "packaged.yaml", "--stack-name", stack,
                "--capabilities", "CAPABILITY_IAM")
    assert p.returncode == 255 and "No changes to deploy" in p.stderr, p.stdout + p.stderr
    next_second()
    p = aws.run("cloudformation", "deploy", "--template-file", "packaged.yaml", "--stack-name", stack,
                "--capabilities", "CAPABILITY_IAM", "--no-fail-on-empty-changeset")
    assert p.returncode == 0, p.stdout + p.stderr

    # An update of BatchSize updates the mapping in place: same UUID, checkpoint kept.
    (tmp_path / "template.yaml").write_text(guide_template("src/", str(records), batch_size=10))
    aws("cloudformation", "package", "--template-file", "template.yaml", "--s3-bucket", bucket,
        "--output-template-file", "packaged.yaml", "--output", "text")
    next_second()
    aws("cloudformation", "deploy", "--template-file", "packaged.yaml", "--stack-name", stack,
        "--capabilities", "CAPABILITY_IAM", "--output", "text")
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    after = resources(cfn, stack)
    assert after["ProcessDynamoDBStreamStream"]["PhysicalResourceId"] == mapping["UUID"]
    assert clients.lam.get_event_source_mapping(UUID=mapping["UUID"])["BatchSize"] == 10
    clients.ddb.put_item(TableName=table, Item={"id": {"S": "second"}})
    got = RecordLog(records).wait_records(2)
    # The first record is not delivered again: the checkpoint survived the update.
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in got] == ["hello", "second"]

    # DeleteStack removes everything, in reverse order.
    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    with pytest.raises(ClientError) as e:
        clients.ddb.describe_table(TableName=table)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        clients.lam.get_function(FunctionName=function)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert any(s["StackName"] == stack for s in summaries)
    deleted = [lid for lid, st in events(cfn, s["StackId"]) if st == "DELETE_COMPLETE" and lid != stack]
    assert deleted.index("ProcessDynamoDBStreamStream") < deleted.index("DynamoDBTable")
    assert deleted.index("ProcessDynamoDBStream") < deleted.index("ProcessDynamoDBStreamRole")
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName=stack)
    assert e.value.response["Error"]["Message"] == f"Stack with id {stack} does not exist"


QUEUES = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Retention": {"Type": "Number", "Default": "345600"}},
    "Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue"},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": {"Ref": "Retention"},
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3},
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "alerts"}},
        "Sub": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "sqs",
                           "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}, "RawMessageDelivery": "true"},
        },
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
    },
    "Outputs": {
        "QueueUrl": {"Value": {"Ref": "Queue"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-queue"}}},
        "QueueName": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
        "TopicName": {"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}},
    },
}


def test_queues_topics_and_exports(server, cfn):
    stack = unique("msg")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(QUEUES))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    s = stack_of(cfn, stack)
    outputs = {o["OutputKey"]: o for o in s["Outputs"]}
    assert s["Parameters"] == [{"ParameterKey": "Retention", "ParameterValue": "345600"}]
    url = outputs["QueueUrl"]["OutputValue"]
    assert outputs["QueueUrl"]["ExportName"] == f"{stack}-queue"
    sqs = client("sqs", server.endpoint)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert url.endswith("/" + outputs["QueueName"]["OutputValue"])
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 3
    sns = client("sns", server.endpoint)
    topic = resources(cfn, stack)["Topic"]["PhysicalResourceId"]
    assert topic.endswith(":" + outputs["TopicName"]["OutputValue"])
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "alerts"
    # The subscription works: a publish lands in the queue, raw.
    sns.publish(TopicArn=topic, Message="ping")
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), "message")
    assert msgs[0]["Body"] == "ping"
    logs = client("logs", server.endpoint)
    group = resources(cfn, stack)["Logs"]["PhysicalResourceId"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7

    exports = {e["Name"]: e for e in cfn.list_exports()["Exports"]}
    assert exports[f"{stack}-queue"]["Value"] == url
    assert exports[f"{stack}-queue"]["ExportingStackId"] == s["StackId"]

    # Another stack imports it; the exporter can't be deleted while it does.
    importer = unique("imp")
    cfn.create_stack(StackName=importer, TemplateBody=json.dumps({
        "Resources": {"P": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            # The export's name is computed: what is imported is what resolves.
            "Queues": [{"Fn::ImportValue": {"Fn::Join": ["-", [stack, "queue"]]}}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": "*"}]}}}},
    }))
    assert stack_of(cfn, importer)["StackStatus"] == "CREATE_COMPLETE"
    assert "sns.amazonaws.com" in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    with pytest.raises(ClientError) as e:
        cfn.delete_stack(StackName=stack)
    assert e.value.response["Error"]["Message"] == f"Export {stack}-queue cannot be deleted as it is in use by {importer}"

    # An update of a parameter updates the queue in place.
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(QUEUES),
                     Parameters=[{"ParameterKey": "Retention", "ParameterValue": "86400"}])
    cfn.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert attrs["MessageRetentionPeriod"] == "86400"
    with pytest.raises(ClientError) as e:
        cfn.update_stack(StackName=stack, UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "Retention", "UsePreviousValue": True}])
    assert e.value.response["Error"]["Message"] == "No updates are to be performed."

    cfn.delete_stack(StackName=importer)
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError):
        sqs.get_queue_attributes(QueueUrl=url)


def test_a_failing_resource_rolls_the_create_back(server, cfn, clients):
    stack = unique("fail")
    table = unique("kept-nothing")
    template = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "TableName": table, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
            # Depends on the table, and fails: a queue name with a bad character.
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": {"Fn::Sub": "${Table}!bad"}}},
        }
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "ROLLBACK_COMPLETE"
    evs = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    failed = [e for e in evs if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Queue"]
    assert "Resource handler returned message" in failed[0]["ResourceStatusReason"]
    rollback = next(e for e in evs if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rollback["ResourceStatusReason"] == (
        "The following resource(s) failed to create: [Queue]. Rollback requested by user.")
    # Nothing half-created is left.
    with pytest.raises(ClientError):
        clients.ddb.describe_table(TableName=table)
    assert resources(cfn, stack)["Table"]["ResourceStatus"] == "DELETE_COMPLETE"
    # A stack in ROLLBACK_COMPLETE can only be deleted.
    with pytest.raises(ClientError) as e:
        cfn.update_stack(StackName=stack, TemplateBody=json.dumps(template))
    assert "ROLLBACK_COMPLETE state and can not be updated" in e.value.response["Error"]["Message"]
    cfn.delete_stack(StackName=stack)
    assert cfn.describe_stacks(StackName=s["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_an_unsupported_resource_type_fails_cleanly(cfn):
    stack = unique("unsupported")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps({
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}, "DependsOn": "Q"},
        }}))
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Vpc"
    assert failed[0]["ResourceStatusReason"] == "Resource type AWS::EC2::VPC is not supported by this Tributary server"
    assert resources(cfn, stack)["Q"]["ResourceStatus"] == "DELETE_COMPLETE"


def test_a_failing_update_rolls_back_and_replacement_makes_a_new_resource(server, cfn):
    stack = unique("upd")
    sqs = client("sqs", server.endpoint)

    def template(visibility, name_suffix=None, bad=False):
        props = {"VisibilityTimeout": visibility}
        if name_suffix:
            props["QueueName"] = f"{stack}-{name_suffix}"
        res = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": props}}
        if bad:
            res["Broken"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "no spaces allowed"},
                             "DependsOn": "Queue"}
        return json.dumps({"Resources": res, "Outputs": {"Url": {"Value": {"Ref": "Queue"}}}})

    cfn.create_stack(StackName=stack, TemplateBody=template(30))
    url = resources(cfn, stack)["Queue"]["PhysicalResourceId"]
    # A failing update rolls the queue back to its old settings.
    cfn.update_stack(StackName=stack, TemplateBody=template(60, bad=True))
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "30"}
    statuses = [st for lid, st in events(cfn, stack) if lid == stack]
    assert statuses[-4:] == ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                             "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    assert set(resources(cfn, stack)) == {"Queue"}
    # A change of QueueName replaces the queue: the new one first, the old one in cleanup.
    cfn.update_stack(StackName=stack, TemplateBody=template(30, name_suffix="renamed"))
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "UPDATE_COMPLETE"
    new_url = resources(cfn, stack)["Queue"]["PhysicalResourceId"]
    assert new_url.endswith(f"/{stack}-renamed") and new_url != url
    assert s["Outputs"][0]["OutputValue"] == new_url
    with pytest.raises(ClientError):
        sqs.get_queue_attributes(QueueUrl=url)
    statuses = [st for lid, st in events(cfn, stack) if lid == stack]
    assert statuses[-2:] == ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    # A custom-named resource can't be replaced under the same name.
    cfn.update_stack(StackName=stack, TemplateBody=template(30, name_suffix="renamed").replace(
        '"VisibilityTimeout": 30', '"VisibilityTimeout": 30, "FifoQueue": true'))
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
               if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert reasons[0].startswith("CloudFormation cannot update a stack when a custom-named resource requires replacing")
    cfn.delete_stack(StackName=stack)


def test_change_sets(cfn):
    stack = unique("cs")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 1}}}})
    cs = cfn.create_change_set(StackName=stack, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body)
    assert cs["Id"].startswith(f"arn:aws:cloudformation:{REGION}:")
    assert stack_of(cfn, stack)["StackStatus"] == "REVIEW_IN_PROGRESS"
    d = cfn.describe_change_set(StackName=stack, ChangeSetName="first")
    assert (d["Status"], d["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert d["Changes"] == [{"Type": "Resource", "ResourceChange": {
        "Action": "Add", "LogicalResourceId": "Q", "ResourceType": "AWS::SQS::Queue", "Scope": [], "Details": []}}]
    assert [c["ChangeSetName"] for c in cfn.list_change_sets(StackName=stack)["Summaries"]] == ["first"]
    with pytest.raises(ClientError) as e:
        cfn.create_change_set(StackName=stack, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body)
    assert e.value.response["Error"]["Code"] == "AlreadyExistsException"
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    assert stack_of(cfn, stack)["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.describe_change_set(ChangeSetName=cs["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"

    # An update change set describes the change and what it replaces.
    body2 = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": 2}}}})
    cfn.create_change_set(StackName=stack, ChangeSetName="second", TemplateBody=body2)
    change = cfn.describe_change_set(StackName=stack, ChangeSetName="second")["Changes"][0]["ResourceChange"]
    assert change["Action"] == "Modify" and change["Replacement"] == "False"
    assert change["Scope"] == ["Properties"]
    assert change["Details"][0]["Target"] == {"Attribute": "Properties", "Name": "DelaySeconds",
                                              "RequiresRecreation": "Never"}
    # One without changes fails with the reason the CLIs look for.
    cfn.create_change_set(StackName=stack, ChangeSetName="same", TemplateBody=body)
    same = cfn.describe_change_set(StackName=stack, ChangeSetName="same")
    assert same["Status"] == "FAILED" and same["ExecutionStatus"] == "UNAVAILABLE"
    assert same["StatusReason"].startswith("The submitted information didn't contain changes.")
    with pytest.raises(ClientError) as e:
        cfn.execute_change_set(StackName=stack, ChangeSetName="same")
    assert e.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    cfn.delete_change_set(StackName=stack, ChangeSetName="same")
    with pytest.raises(ClientError) as e:
        cfn.describe_change_set(StackName=stack, ChangeSetName="same")
    assert e.value.response["Error"]["Code"] == "ChangeSetNotFound"
    cfn.execute_change_set(StackName=stack, ChangeSetName="second")
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName=stack)


def test_capabilities_and_request_errors(cfn):
    role = json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}}})
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=unique("caps"), TemplateBody=role)
    assert e.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert e.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    named = role.replace('"Properties": {', '"Properties": {"RoleName": "x", ', 1)
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=unique("caps"), TemplateBody=named, Capabilities=["CAPABILITY_IAM"])
    assert e.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    stack = unique("caps")
    cfn.create_stack(StackName=stack, TemplateBody=role, Capabilities=["CAPABILITY_IAM"])
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=stack, TemplateBody=role, Capabilities=["CAPABILITY_IAM"])
    assert e.value.response["Error"]["Code"] == "AlreadyExistsException"
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName="no-such-stack")
    assert e.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError",
                                         "Message": "Stack with id no-such-stack does not exist"}
    # Deleting a stack that does not exist succeeds.
    cfn.delete_stack(StackName="no-such-stack")
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="1-bad", TemplateBody=role)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    # A SAM template through CreateStack needs CAPABILITY_AUTO_EXPAND.
    sam = "Transform: AWS::Serverless-2016-10-31\nResources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n"
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=unique("sam"), TemplateBody=sam)
    assert e.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    simple = unique("sam")
    cfn.create_stack(StackName=simple, TemplateBody=sam, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert stack_of(cfn, simple)["StackStatus"] == "CREATE_COMPLETE"
    t = cfn.get_template(StackName=simple)
    assert t["TemplateBody"] == sam
    processed = cfn.get_template(StackName=simple, TemplateStage="Processed")["TemplateBody"]
    assert processed["Resources"]["T"]["Type"] == "AWS::DynamoDB::Table"
    cfn.delete_stack(StackName=simple)
    cfn.delete_stack(StackName=stack)


def test_stacks_survive_a_restart(server, cfn):
    stack = unique("durable")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    before = stack_of(cfn, stack)
    server.restart()
    cfn2 = client("cloudformation", server.endpoint)
    after = stack_of(cfn2, stack)
    assert after["StackStatus"] == "CREATE_COMPLETE"
    assert after["StackId"] == before["StackId"]
    assert events(cfn2, stack)[-1] == (stack, "CREATE_COMPLETE")
    cfn2.delete_stack(StackName=stack)
    assert cfn2.describe_stacks(StackName=before["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_inline_code_function_with_version_alias_and_permission(server, cfn, clients, tmp_path):
    stack = unique("fn")
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}]}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.11", "Handler": "index.handler", "Timeout": "5",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return {'echo': event}\n"}}},
            "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Name": "live",
                "FunctionVersion": {"Fn::GetAtt": ["V1", "Version"]}}},
            "Allow": {"Type": "AWS::Lambda::Permission", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction",
                "Principal": "sns.amazonaws.com"}},
        },
        "Outputs": {"Alias": {"Value": {"Ref": "Live"}}, "Version": {"Value": {"Fn::GetAtt": ["V1", "Version"]}}},
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    assert outputs["Version"] == "1"
    assert outputs["Alias"].endswith(":live")
    name = resources(cfn, stack)["Fn"]["PhysicalResourceId"]
    out = clients.lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"a": 1}')
    assert json.loads(out["Payload"].read()) == {"echo": {"a": 1}}
    policy = json.loads(clients.lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    tags = clients.lam.list_tags(Resource=clients.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    assert tags["Tags"]["aws:cloudformation:stack-name"] == stack
    assert tags["Tags"]["aws:cloudformation:logical-id"] == "Fn"
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError):
        clients.lam.get_function(FunctionName=name)


def test_a_service_role_is_what_the_stack_acts_as(server, cfn):
    """With RoleARN, CloudFormation calls the services as that role (under --iam enforce here):
    what its policy allows is created, what it does not fails with AccessDenied."""
    iam = client("iam", server.endpoint)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = unique("cfn-role")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="queues", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    queue = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    ok = unique("as-role")
    cfn.create_stack(StackName=ok, TemplateBody=queue, RoleARN=arn)
    s = stack_of(cfn, ok)
    assert s["StackStatus"] == "CREATE_COMPLETE" and s["RoleARN"] == arn
    table = json.dumps({"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}}})
    denied = unique("as-role")
    cfn.create_stack(StackName=denied, TemplateBody=table, RoleARN=arn)
    assert stack_of(cfn, denied)["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(e["ResourceStatusReason"] for e in cfn.describe_stack_events(StackName=denied)["StackEvents"]
                  if e["ResourceStatus"] == "CREATE_FAILED")
    assert "is not authorized to perform: dynamodb:CreateTable" in reason, reason
    assert f"assumed-role/{role}/" in reason
    # A role CloudFormation may not assume is refused up front.
    other = unique("not-cfn")
    lambda_trust = json.dumps({**trust, "Statement": [{**trust["Statement"][0],
                                                         "Principal": {"Service": "lambda.amazonaws.com"}}]})
    other_arn = iam.create_role(RoleName=other, AssumeRolePolicyDocument=lambda_trust)["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=unique("as-role"), TemplateBody=queue, RoleARN=other_arn)
    assert e.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError",
                                         "Message": f"Role {other_arn} is invalid or cannot be assumed"}
    cfn.delete_stack(StackName=ok)
    cfn.delete_stack(StackName=denied)


CUSTOM_HANDLER = """\
import json
import os

import cfnresponse


def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    props = event["ResourceProperties"]
    if props.get("Fail") == "true" and event["RequestType"] != "Delete":
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="asked to fail")
        return
    name = props["Name"]
    cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Greeting": "hello " + name},
                     physicalResourceId="greeting-" + name)
"""


def test_custom_resources_backed_by_a_function(server, cfn, tmp_path):
    log = tmp_path / "requests.jsonl"

    def template(name: str, fail: bool = False) -> str:
        return json.dumps({
            "Resources": {
                "Role": {"Type": "AWS::IAM::Role", "Properties": {
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}}},
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Runtime": "python3.11", "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Environment": {"Variables": {"LOG": str(log)}},
                    "Code": {"ZipFile": CUSTOM_HANDLER}}},
                "Greeting": {"Type": "Custom::Greeting", "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "Name": name, "Count": 3,
                    "Fail": fail}},
            },
            "Outputs": {"Greeting": {"Value": {"Fn::GetAtt": ["Greeting", "Greeting"]}},
                        "Id": {"Value": {"Ref": "Greeting"}}},
        })

    def requests():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    stack = unique("custom")
    cfn.create_stack(StackName=stack, TemplateBody=template("world"), Capabilities=["CAPABILITY_IAM"])
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    assert outputs == {"Greeting": "hello world", "Id": "greeting-world"}
    create = requests()[0]
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::Greeting"
    assert create["LogicalResourceId"] == "Greeting" and create["StackId"] == s["StackId"]
    # Every property arrives as a string, ServiceToken included.
    assert create["ResourceProperties"]["Count"] == "3"
    assert create["ResourceProperties"]["Fail"] == "false"
    assert create["ResourceProperties"]["ServiceToken"].endswith(":function:" + resources(cfn, stack)["Fn"]["PhysicalResourceId"])

    # A new physical id on update is a replacement: the old one gets its Delete in the cleanup.
    cfn.update_stack(StackName=stack, TemplateBody=template("there"), Capabilities=["CAPABILITY_IAM"])
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE", events(cfn, stack)
    kinds = [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests()]
    assert kinds == [("Create", None), ("Update", "greeting-world"), ("Delete", "greeting-world")]
    assert requests()[1]["OldResourceProperties"]["Name"] == "world"

    # A FAILED response fails the resource with its reason, and the update rolls back.
    cfn.update_stack(StackName=stack, TemplateBody=template("again", fail=True), Capabilities=["CAPABILITY_IAM"])
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reason = next(e["ResourceStatusReason"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
                  if e["ResourceStatus"] == "UPDATE_FAILED")
    assert reason.startswith("Received response status [FAILED] from custom resource. Message returned: asked to fail")

    # The response URL takes one answer to a waiting request, and never one from a web page.
    import urllib.error
    import urllib.request
    url = create["ResponseURL"]
    assert url.startswith(server.endpoint + "/_tributary/cloudformation/custom-resource/")
    for headers, refusal in [({}, "no custom resource request waits"), ({"Origin": "http://evil.example"}, None)]:
        req = urllib.request.Request(url, data=b"{}", method="PUT", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code == 403
        body = e.value.read().decode()
        assert (refusal in body) if refusal else ("no custom resource request waits" not in body), body

    # Deleting the stack sends the Delete.
    before = len(requests())
    cfn.delete_stack(StackName=stack)
    assert cfn.describe_stacks(StackName=s["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert [r["RequestType"] for r in requests()[before:]] == ["Delete"]


SAM_FEATURES = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, prod]
Globals:
  Function:
    Runtime: python3.11
    Timeout: 7
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Dlq:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
  Items:
    Type: AWS::Serverless::SimpleTable
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"stage": os.environ["STAGE"], "table": os.environ["TABLE"]}
      AutoPublishAlias: live
      DeadLetterQueue:
        Type: SQS
        TargetArn: !GetAtt Dlq.Arn
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt Dlq.Arn
      Environment:
        Variables:
          TABLE: !Ref Items
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Items
Outputs:
  Function:
    Value: !Ref Fn
  Queue:
    Value: !Ref Dlq
"""


def test_sam_features_through_a_stack(server, cfn, clients):
    stack = unique("sam-features")
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName=stack, TemplateBody=SAM_FEATURES,
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                         Parameters=[{"ParameterKey": "Stage", "ParameterValue": "qa"}])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Stage" in e.value.response["Error"]["Message"]
    cfn.create_stack(StackName=stack, TemplateBody=SAM_FEATURES,
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                     Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}])
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack)
    out = {o["OutputKey"]: o["OutputValue"] for o in s["Outputs"]}
    res = resources(cfn, stack)
    kinds = {lid: r["ResourceType"] for lid, r in res.items()}
    version = next(lid for lid in kinds if lid.startswith("FnVersion"))
    assert kinds == {"Dlq": "AWS::SQS::Queue", "Items": "AWS::DynamoDB::Table", "FnRole": "AWS::IAM::Role",
                     "Fn": "AWS::Lambda::Function", version: "AWS::Lambda::Version",
                     "FnAliaslive": "AWS::Lambda::Alias", "FnEventInvokeConfig": "AWS::Lambda::EventInvokeConfig"}
    function = out["Function"]
    config = clients.lam.get_function_configuration(FunctionName=function, Qualifier="live")
    assert config["Timeout"] == 7 and config["Version"] == "1"
    sqs = client("sqs", server.endpoint)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=out["Queue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert config["DeadLetterConfig"] == {"TargetArn": dlq_arn}
    eic = clients.lam.get_function_event_invoke_config(FunctionName=function, Qualifier="live")
    assert eic["MaximumRetryAttempts"] == 1
    assert eic["DestinationConfig"]["OnFailure"] == {"Destination": dlq_arn}
    got = json.loads(clients.lam.invoke(FunctionName=function, Qualifier="live")["Payload"].read())
    assert got == {"stage": "prod", "table": res["Items"]["PhysicalResourceId"]}
    # DeletionPolicy: Retain keeps the queue after the stack is gone.
    cfn.delete_stack(StackName=stack)
    statuses = {e["LogicalResourceId"]: e["ResourceStatus"]
                for e in reversed(cfn.describe_stack_events(StackName=s["StackId"])["StackEvents"])}
    assert statuses["Dlq"] == "DELETE_SKIPPED" and statuses["Items"] == "DELETE_COMPLETE"
    sqs.get_queue_attributes(QueueUrl=out["Queue"])
    with pytest.raises(ClientError):
        clients.lam.get_function(FunctionName=function)


def test_an_operation_a_crash_interrupted_ends_failed_and_can_be_deleted(server, clients):
    import threading

    cfn = client("cloudformation", server.endpoint)
    stack = unique("crash")
    template = json.dumps({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
        # Never answers: the stack waits on the custom resource.
        "Silent": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.11", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"}}},
        "Waiting": {"Type": "Custom::Waiting", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Silent", "Arn"]}, "ServiceTimeout": 600}},
    }})
    threading.Thread(target=lambda: _ignore(lambda: cfn.create_stack(
        StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_IAM"])), daemon=True).start()
    wait_for(lambda: ("Waiting", "CREATE_IN_PROGRESS") in _events_or_empty(cfn, stack) or None,
             "the custom resource to be waited on")
    function = resources(cfn, stack)["Silent"]["PhysicalResourceId"]
    server.kill()
    server.start()
    cfn = client("cloudformation", server.endpoint)
    s = stack_of(cfn, stack)
    assert s["StackStatus"] == "CREATE_FAILED"
    assert s["StackStatusReason"] == "The server stopped while this operation was in progress"
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=s["StackId"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    with pytest.raises(ClientError):
        clients.lam.get_function(FunctionName=function)


def _ignore(call):
    try:
        call()
    except Exception:  # the server is killed under this request
        pass


def _events_or_empty(cfn, stack):
    try:
        return events(cfn, stack)
    except ClientError:
        return []


def test_iam_resources_update_in_place(server, cfn):
    iam = client("iam", server.endpoint)

    def template(managed: list[str], doc_action: str, tags: dict[str, str]) -> str:
        return json.dumps({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": managed,
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}},
            "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": doc_action, "Resource": "*"}]}}},
        }})

    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ddb = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    stack = unique("iam-upd")
    cfn.create_stack(StackName=stack, TemplateBody=template([basic], "sqs:SendMessage", {"team": "a"}),
                     Capabilities=["CAPABILITY_IAM"])
    assert stack_of(cfn, stack)["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack)
    res = resources(cfn, stack)
    role, profile, policy = (res[k]["PhysicalResourceId"] for k in ("Role", "Profile", "Managed"))
    assert [r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]] == [role]
    cfn.update_stack(StackName=stack, TemplateBody=template([ddb], "sqs:ReceiveMessage", {"team": "b", "env": "x"}),
                     Capabilities=["CAPABILITY_IAM"])
    assert stack_of(cfn, stack)["StackStatus"] == "UPDATE_COMPLETE", events(cfn, stack)
    attached = {a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {ddb, policy}
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]} == {"team": "b", "env": "x"}
    default = iam.get_policy(PolicyArn=policy)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=policy, VersionId=default)["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == "sqs:ReceiveMessage"
    assert resources(cfn, stack)["Role"]["PhysicalResourceId"] == role
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)
    with pytest.raises(ClientError):
        iam.get_policy(PolicyArn=policy)
