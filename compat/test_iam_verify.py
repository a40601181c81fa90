"""Keys IAM and STS hand out, under `--auth verify` (issue 14): a created access key signs
requests at once, an inactive or deleted one does not, and temporary credentials need their
session token and stop at their expiry."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from test_iam_sts import TRUST_ACCOUNT, boto

SERVER_ARGS = ["--auth", "verify"]


def error_code(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def test_a_created_key_is_accepted_at_once(server):
    iam = boto("iam", server.endpoint)
    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    ddb = boto("dynamodb", server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    assert "TableNames" in ddb.list_tables()
    sts = boto("sts", server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/carol"
    # A wrong secret for a known key is a signature mismatch.
    wrong = boto("dynamodb", server.endpoint, key["AccessKeyId"], "x" * 40)
    assert error_code(wrong.list_tables) == "InvalidSignatureException"
    # Inactive keys stop working, and work again when reactivated.
    iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_code(ddb.list_tables) == "UnrecognizedClientException"
    iam.update_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"], Status="Active")
    ddb.list_tables()
    iam.delete_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"])
    assert error_code(ddb.list_tables) == "UnrecognizedClientException"
    assert error_code(sts.get_caller_identity) == "InvalidClientTokenId"


def test_session_credentials_need_their_token(server, env):
    iam = boto("iam", server.endpoint)
    iam.create_role(RoleName="verify-role", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    creds = boto("sts", server.endpoint).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/verify-role", RoleSessionName="verify", DurationSeconds=900
    )["Credentials"]
    good = boto("sqs", server.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    good.list_queues()
    no_token = boto("sqs", server.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"])
    assert error_code(no_token.list_queues) == "InvalidClientTokenId"
    forged = boto("sqs", server.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], "forged")
    assert error_code(forged.list_queues) == "InvalidClientTokenId"
    env.advance_clock(900)
    assert error_code(good.list_queues) == "ExpiredToken"


def test_unknown_keys_are_refused(server):
    sts = boto("sts", server.endpoint, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."
