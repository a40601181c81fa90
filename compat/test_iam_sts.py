"""IAM and STS through the AWS CLI and boto3 (issue 14): AWS's DynamoDB-streams tutorial's
first commands, GetCallerIdentity for the default keys, a created user and a role session, and
temporary credentials that expire on the server clock. The server runs with the default
`--auth open`; `test_iam_verify.py` covers `--auth verify`."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from harness import CLIENT_CONFIG, REGION

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}
    ],
}


def boto(service: str, endpoint: str, key: str = "test", secret: str = "test", token: str | None = None):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=CLIENT_CONFIG,
    )


def test_caller_identity_of_the_default_keys(aws):
    out = aws("sts", "get-caller-identity")
    assert out == {"UserId": "000000000000", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root"}


def test_the_tutorial_creates_the_execution_role(aws):
    # AWS's "Tutorial: Using AWS Lambda with Amazon DynamoDB streams", its first two commands.
    role = aws(
        "iam", "create-role", "--role-name", "lambda-dynamodb-role",
        "--assume-role-policy-document", json.dumps(TRUST_LAMBDA),
    )["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/lambda-dynamodb-role"
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    assert role["Path"] == "/"
    assert aws(
        "iam", "attach-role-policy", "--role-name", "lambda-dynamodb-role",
        "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    ) is None
    attached = aws("iam", "list-attached-role-policies", "--role-name", "lambda-dynamodb-role")
    assert attached["AttachedPolicies"] == [
        {
            "PolicyName": "AWSLambdaDynamoDBExecutionRole",
            "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        }
    ]
    got = aws("iam", "get-role", "--role-name", "lambda-dynamodb-role")["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST_LAMBDA
    assert got["MaxSessionDuration"] == 3600
    policy = aws(
        "iam", "get-policy", "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    )["Policy"]
    version = aws(
        "iam", "get-policy-version", "--policy-arn", policy["Arn"], "--version-id", policy["DefaultVersionId"]
    )["PolicyVersion"]
    actions = {a for s in version["Document"]["Statement"] for a in s["Action"]}
    assert {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"} <= actions


def test_aws_managed_policies_are_listed(aws):
    names = set()
    args = ["iam", "list-policies", "--scope", "AWS"]
    for p in aws(*args)["Policies"]:
        assert p["Arn"].startswith("arn:aws:iam::aws:policy/")
        names.add(p["PolicyName"])
    for expected in [
        "AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole", "AWSLambdaInvocation-DynamoDB",
        "AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole", "AWSLambdaRole",
        "AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess", "AmazonSQSFullAccess",
        "AmazonSNSFullAccess", "AmazonS3FullAccess", "CloudWatchLogsFullAccess", "AdministratorAccess",
    ]:
        assert expected in names
    local = aws("iam", "list-policies", "--scope", "Local")["Policies"]
    assert all(not p["Arn"].startswith("arn:aws:iam::aws:") for p in local)


def test_iam_errors_are_aws_errors(aws):
    _, msg = aws("iam", "get-role", "--role-name", "no-such-role", expect_error="NoSuchEntity")
    assert msg == "The role with name no-such-role cannot be found."
    aws("iam", "create-role", "--role-name", "twice", "--assume-role-policy-document", json.dumps(TRUST_LAMBDA))
    _, msg = aws(
        "iam", "create-role", "--role-name", "twice", "--assume-role-policy-document", json.dumps(TRUST_LAMBDA),
        expect_error="EntityAlreadyExists",
    )
    assert msg == "Role with name twice already exists."
    aws(
        "iam", "put-role-policy", "--role-name", "twice", "--policy-name", "bad",
        "--policy-document", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
        expect_error="MalformedPolicyDocument",
    )
    aws(
        "iam", "put-role-policy", "--role-name", "twice", "--policy-name", "bad",
        "--policy-document", "{not json", expect_error="MalformedPolicyDocument",
    )
    aws(
        "iam", "attach-role-policy", "--role-name", "twice",
        "--policy-arn", "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
    )
    aws("iam", "delete-role", "--role-name", "twice", expect_error="DeleteConflict")
    aws(
        "iam", "detach-role-policy", "--role-name", "twice",
        "--policy-arn", "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
    )
    assert aws("iam", "delete-role", "--role-name", "twice") is None
    aws("iam", "get-role", "--role-name", "twice", expect_error="NoSuchEntity")


def test_inline_and_managed_policies_round_trip(aws):
    aws("iam", "create-role", "--role-name", "inline-role", "--assume-role-policy-document", json.dumps(TRUST_LAMBDA))
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    aws("iam", "put-role-policy", "--role-name", "inline-role", "--policy-name", "send", "--policy-document", json.dumps(doc))
    assert aws("iam", "list-role-policies", "--role-name", "inline-role")["PolicyNames"] == ["send"]
    got = aws("iam", "get-role-policy", "--role-name", "inline-role", "--policy-name", "send")
    assert got["PolicyDocument"] == doc and got["RoleName"] == "inline-role"
    created = aws("iam", "create-policy", "--policy-name", "mine", "--policy-document", json.dumps(doc))["Policy"]
    assert created["Arn"] == "arn:aws:iam::000000000000:policy/mine"
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    doc2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}
    v2 = aws(
        "iam", "create-policy-version", "--policy-arn", created["Arn"], "--policy-document", json.dumps(doc2),
        "--set-as-default",
    )["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True
    aws("iam", "attach-role-policy", "--role-name", "inline-role", "--policy-arn", created["Arn"])
    assert aws("iam", "get-policy", "--policy-arn", created["Arn"])["Policy"]["AttachmentCount"] == 1
    aws("iam", "delete-policy", "--policy-arn", created["Arn"], expect_error="DeleteConflict")


def test_caller_identity_of_a_created_user(aws, server):
    user = aws("iam", "create-user", "--user-name", "alice")["User"]
    assert user["Arn"] == "arn:aws:iam::000000000000:user/alice"
    assert user["UserId"].startswith("AIDA")
    key = aws("iam", "create-access-key", "--user-name", "alice")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    ident = boto("sts", server.endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert ident["Arn"] == user["Arn"]
    assert ident["UserId"] == user["UserId"]
    assert ident["Account"] == "000000000000"
    listed = aws("iam", "list-access-keys", "--user-name", "alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]


def test_assumed_role_credentials_expire_on_the_server_clock(aws, server, env):
    aws("iam", "create-role", "--role-name", "assumable", "--assume-role-policy-document", json.dumps(TRUST_ACCOUNT))
    out = aws(
        "sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/assumable",
        "--role-session-name", "s1", "--duration-seconds", "900",
    )
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/assumable/s1"
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":s1")
    sts = boto("sts", server.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    ident = sts.get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/assumable/s1"
    assert ident["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    ddb = boto("dynamodb", server.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    ddb.list_tables()
    env.advance_clock(901)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "ExpiredToken"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is expired"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        ddb.list_tables()
    assert e.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_assume_role_checks_the_trust_policy(aws):
    aws("iam", "create-role", "--role-name", "lambda-only", "--assume-role-policy-document", json.dumps(TRUST_LAMBDA))
    aws("iam", "create-user", "--user-name", "bob")
    # The account root is not named by a Lambda-only trust policy.
    _, msg = aws(
        "sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/lambda-only",
        "--role-session-name", "sess", expect_error="AccessDenied",
    )
    assert "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/lambda-only" in msg
    _, msg = aws(
        "sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/nope",
        "--role-session-name", "sess", expect_error="AccessDenied",
    )
    assert "sts:AssumeRole on resource: arn:aws:iam::000000000000:role/nope" in msg


def test_get_session_token(aws, server):
    out = aws("sts", "get-session-token", "--duration-seconds", "900")["Credentials"]
    assert out["AccessKeyId"].startswith("ASIA") and out["SessionToken"]
    ident = boto("sts", server.endpoint, out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"]).get_caller_identity()
    assert ident["Account"] == "000000000000"


def test_warn_mode_records_what_aws_would_deny(aws, env, tmp_path):
    """The default `--iam warn`: calls AWS would refuse go through, and say so."""
    from test_iam_enforce import CANNOT_ACCESS, create_function, make_role, stream_table

    assert env.get_json("/_tributary/iam/denials")["Mode"] == "warn"
    made_up = "arn:aws:iam::000000000000:role/quickstart-made-up"
    fn = "warned-fn"
    create_function(aws, tmp_path, fn, made_up)
    role = make_role(aws, "warn-no-stream")
    aws("lambda", "update-function-configuration", "--function-name", fn, "--role", role)
    stream = stream_table(aws, "warned-table")
    esm = aws("lambda", "create-event-source-mapping", "--function-name", fn, "--starting-position", "LATEST",
              "--event-source-arn", stream)
    assert esm["EventSourceArn"] == stream
    denials = env.get_json("/_tributary/iam/denials")["Denials"]
    assume = [d for d in denials if d["resource"] == made_up]
    assert assume and assume[0]["action"] == "sts:AssumeRole" and assume[0]["enforced"] is False
    assert assume[0]["reason"] == "The role defined for the function cannot be assumed by Lambda."
    assert assume[0]["error"] == "InvalidParameterValueException"
    read = [d for d in denials if d["resource"] == stream]
    assert read and read[0]["principal"] == role and read[0]["action"] == "dynamodb:GetRecords"
    assert read[0]["reason"] == CANNOT_ACCESS.format(stream)


def test_status_shows_the_denials(server, env, tmp_path):
    """`tributary status` lists what IAM would have denied (after the warn-mode test above)."""
    import subprocess

    doc = env.get_json("/_tributary/status")["Iam"]
    assert doc["Mode"] == "warn" and doc["DenialCount"] >= 1
    assert {"Principal", "Action", "Resource", "Error", "Reason", "Enforced"} <= set(doc["RecentDenials"][0])
    out = subprocess.run(
        [str(server.binary), "status", "--endpoint", server.endpoint], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "IAM (--iam warn):" in out.stdout
    assert "sts:AssumeRole" in out.stdout


def test_operations_without_output_members_parse_in_boto3(server):
    """Operations whose result has no members still answer with their `<...Result>` element,
    which boto3's parser looks for (UpdateRole and friends)."""
    iam = boto("iam", server.endpoint)
    iam.create_role(RoleName="quiet", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA), Tags=[{"Key": "a", "Value": "1"}])
    iam.update_role(RoleName="quiet", MaxSessionDuration=7200, Description="now described")
    assert iam.get_role(RoleName="quiet")["Role"]["MaxSessionDuration"] == 7200
    assert iam.update_role_description(RoleName="quiet", Description="again")["Role"]["Description"] == "again"
    iam.update_assume_role_policy(RoleName="quiet", PolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert iam.get_role(RoleName="quiet")["Role"]["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    iam.untag_role(RoleName="quiet", TagKeys=["a"])
    assert iam.list_role_tags(RoleName="quiet")["Tags"] == []
    iam.create_user(UserName="quiet-user")
    iam.update_user(UserName="quiet-user", NewUserName="renamed-user")
    assert iam.get_user(UserName="renamed-user")["User"]["UserName"] == "renamed-user"
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_caller_identity_through_the_cli_for_a_user_and_a_role_session(aws, env):
    """`aws sts get-caller-identity` with a created user's keys and with assumed-role
    credentials; the session's credentials stop at their expiry on the server clock."""
    import copy

    aws("iam", "create-user", "--user-name", "cli-user")
    key = aws("iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    as_user = copy.copy(aws)
    as_user.env = dict(aws.env, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    assert as_user("sts", "get-caller-identity")["Arn"] == "arn:aws:iam::000000000000:user/cli-user"

    aws("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", json.dumps(TRUST_ACCOUNT))
    creds = aws("sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/cli-role",
                "--role-session-name", "cli-session")["Credentials"]
    as_role = copy.copy(aws)
    as_role.env = dict(aws.env, AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                       AWS_SESSION_TOKEN=creds["SessionToken"])
    ident = as_role("sts", "get-caller-identity")
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/cli-role/cli-session"
    assert ident["Account"] == "000000000000"
    env.advance_clock(3600)
    _, msg = as_role("sts", "get-caller-identity", expect_error="ExpiredToken")
    assert msg == "The security token included in the request is expired"


def test_groups_and_their_policies_count_for_members(server, aws):
    iam = boto("iam", server.endpoint)
    g = iam.create_group(GroupName="readers", Path="/team/")["Group"]
    assert g["Arn"] == "arn:aws:iam::000000000000:group/team/readers" and g["GroupId"].startswith("AGPA")
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName="readers")
    assert e.value.response["Error"]["Code"] == "EntityAlreadyExists"
    iam.create_user(UserName="member")
    iam.add_user_to_group(GroupName="readers", UserName="member")
    got = iam.get_group(GroupName="readers")
    assert [u["UserName"] for u in got["Users"]] == ["member"]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="member")["Groups"]] == ["readers"]
    assert [x["GroupName"] for x in iam.list_groups(PathPrefix="/team/")["Groups"]] == ["readers"]
    iam.attach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess")
    assert iam.list_attached_group_policies(GroupName="readers")["AttachedPolicies"][0]["PolicyName"] == "AmazonDynamoDBReadOnlyAccess"
    entities = iam.list_entities_for_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess")
    assert [x["GroupName"] for x in entities["PolicyGroups"]] == ["readers"]
    assert entities["PolicyGroups"][0]["GroupId"] == g["GroupId"]
    iam.put_group_policy(GroupName="readers", PolicyName="inline",
                         PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                             {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}]}))
    assert iam.list_group_policies(GroupName="readers")["PolicyNames"] == ["inline"]
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName="readers")
    assert e.value.response["Error"]["Code"] == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="member")
    assert e.value.response["Error"]["Code"] == "DeleteConflict"
    # The group's policies are the member's: visible in the denial log of warn mode as allowed
    # calls leave no record, denied ones do.
    key = iam.create_access_key(UserName="member")["AccessKey"]
    ddb = boto("dynamodb", server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    ddb.list_tables()
    ddb.create_table(TableName="group-denied", AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    import urllib.request
    with urllib.request.urlopen(server.endpoint + "/_tributary/iam/denials") as r:
        denials = json.loads(r.read())["Denials"]
    mine = [d for d in denials if d["principal"] == "arn:aws:iam::000000000000:user/member"]
    assert [d["action"] for d in mine] == ["dynamodb:CreateTable"], mine
    iam.remove_user_from_group(GroupName="readers", UserName="member")
    iam.delete_group_policy(GroupName="readers", PolicyName="inline")
    iam.detach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess")
    iam.delete_group(GroupName="readers")
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName="readers")
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    assert e.value.response["Error"]["Message"] == "The group with name readers cannot be found."
