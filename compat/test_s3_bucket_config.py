"""S3 bucket configuration, driven by boto3 and the AWS CLI against the real binary: bucket policy,
tags, default encryption (and what objects report), Block Public Access, ownership controls,
versioning with version ids, delete markers, null versions and ListObjectVersions; AWS's error
codes, statuses and messages; persistence across a restart; configuration going with the bucket.
Unserved subresources still answer NotImplemented."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from harness import client, error_of, raw_responses, unique

VERSION_ID = re.compile(r"^[A-Za-z0-9._-]{32}$")


@pytest.fixture(scope="module")
def s3(server):
    return client("s3", server.endpoint)


@pytest.fixture(scope="module")
def s3_raw(server):
    """A client that sends what boto3's own validation would refuse (empty tag keys, ...)."""
    return client("s3", server.endpoint, validate=False)


def new_bucket(s3, **kwargs) -> str:
    name = unique("cfg")
    s3.create_bucket(Bucket=name, **kwargs)
    return name


def status(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(exc) -> dict:
    return exc.response["ResponseMetadata"]["HTTPHeaders"]


def fails(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value


def sam_policy(bucket: str) -> dict:
    """The bucket policy of SAM CLI's managed stack (aws-sam-cli-managed-default)."""
    return {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Principal": {"Service": "serverlessrepo.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"],
                "Principal": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def delete_all_versions(s3, bucket: str) -> None:
    """What `sam delete` and CloudFormation do before deleting a versioned bucket."""
    listed = s3.list_object_versions(Bucket=bucket)
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in listed.get("Versions", [])]
    objects += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in listed.get("DeleteMarkers", [])]
    if objects:
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        assert "Errors" not in r, r


# --------------------------------------------------------------------------------------------
# bucket policy


def test_bucket_policy_round_trip(s3):
    b = new_bucket(s3)
    e = fails(s3.get_bucket_policy, Bucket=b)
    assert error_of(e) == ("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
    assert e.response["Error"]["BucketName"] == b

    text = json.dumps(sam_policy(b), indent=2)
    assert status(s3.put_bucket_policy(Bucket=b, Policy=text)) == 204
    assert s3.get_bucket_policy(Bucket=b)["Policy"] == text
    replaced = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                        "Action": ["s3:Get*", "s3:ListBucket"], "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}]}
    )  # fmt: skip
    s3.put_bucket_policy(Bucket=b, Policy=replaced)
    assert json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]) == json.loads(replaced)

    assert status(s3.delete_bucket_policy(Bucket=b)) == 204
    assert error_of(fails(s3.get_bucket_policy, Bucket=b))[0] == "NoSuchBucketPolicy"
    assert status(s3.delete_bucket_policy(Bucket=b)) == 204  # deleting nothing is fine too

    missing = unique("nobkt")
    for call in (s3.get_bucket_policy, s3.delete_bucket_policy):
        assert error_of(fails(call, Bucket=missing)) == ("NoSuchBucket", 404, "The specified bucket does not exist")
    assert error_of(fails(s3.put_bucket_policy, Bucket=missing, Policy=text))[0] == "NoSuchBucket"


def test_bucket_policy_validation(s3):
    b = new_bucket(s3)

    def statement(**overrides):
        st = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}  # fmt: skip
        st.update(overrides)
        return json.dumps({"Version": "2012-10-17", "Statement": [st]})

    cases = [
        ("not json at all", "Policies must be valid JSON and the first byte must be '{'"),
        (" {}", "Policies must be valid JSON and the first byte must be '{'"),
        ("{\"Statement\": [", "This policy contains invalid Json"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (json.dumps({"Statement": []}), "Could not parse the policy: Statement is empty!"),
        (json.dumps({"Version": "2099-01-01", "Statement": []}), "The policy must contain a valid version string"),
        (statement(Resource="arn:aws:s3:::some-other-bucket/*"), "Policy has invalid resource"),
        (statement(Resource=[f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}x/*"]), "Policy has invalid resource"),
        (statement(Action="sqs:SendMessage"), "Policy has invalid action"),
        (statement(Effect="Perhaps"), "Invalid effect: Perhaps"),
    ]
    for text, message in cases:
        e = fails(s3.put_bucket_policy, Bucket=b, Policy=text)
        assert error_of(e) == ("MalformedPolicy", 400, message), text
    no_principal = json.loads(statement())
    del no_principal["Statement"][0]["Principal"]
    e = fails(s3.put_bucket_policy, Bucket=b, Policy=json.dumps(no_principal))
    assert error_of(e) == ("MalformedPolicy", 400, "Missing required field Principal")
    # Nothing was stored by the refused requests.
    assert error_of(fails(s3.get_bucket_policy, Bucket=b))[0] == "NoSuchBucketPolicy"
    # Wildcards that can match the bucket are fine.
    s3.put_bucket_policy(Bucket=b, Policy=statement(Resource=f"arn:aws:s3:::{b[:4]}*"))


def test_block_public_policy_refuses_public_policies(s3):
    b = new_bucket(s3)
    public = json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]}
    )  # fmt: skip
    # New buckets have BlockPublicPolicy on.
    e = fails(s3.put_bucket_policy, Bucket=b, Policy=public)
    assert error_of(e) == (
        "AccessDenied", 403,
        f'User: arn:aws:iam::000000000000:root is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::{b}" '
        "because public policies are blocked by the BlockPublicPolicy block public access setting.",
    )  # fmt: skip
    # SAM's policy is not public (a Deny for everyone, an Allow for one service principal).
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(sam_policy(b)))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"] == {"IsPublic": False}
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    s3.put_bucket_policy(Bucket=b, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"] == {"IsPublic": True}
    s3.delete_bucket_policy(Bucket=b)
    e = fails(s3.get_bucket_policy_status, Bucket=b)
    assert error_of(e) == ("NoSuchBucketPolicy", 404, "The bucket policy does not exist")


def test_bucket_policy_with_the_cli(aws, s3, tmp_path):
    b = new_bucket(s3)
    (tmp_path / "policy.json").write_text(json.dumps(sam_policy(b)))
    aws("s3api", "put-bucket-policy", "--bucket", b, "--policy", "file://policy.json")
    got = aws("s3api", "get-bucket-policy", "--bucket", b)
    assert json.loads(got["Policy"]) == sam_policy(b)
    aws("s3api", "delete-bucket-policy", "--bucket", b)
    _, msg = aws("s3api", "get-bucket-policy", "--bucket", b, expect_error="NoSuchBucketPolicy")
    assert msg == "The bucket policy does not exist"


# --------------------------------------------------------------------------------------------
# tags


def test_bucket_tagging(s3):
    b = new_bucket(s3)
    e = fails(s3.get_bucket_tagging, Bucket=b)
    assert error_of(e) == ("NoSuchTagSet", 404, "The TagSet does not exist")
    tags = [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "data eng/@:+-=._"}, {"Key": "empty", "Value": ""}]
    assert status(s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": tags})) == 204
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == tags
    # A put replaces the whole set.
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "only", "Value": "1"}]})
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "only", "Value": "1"}]
    # 50 tags is the limit; keys up to 128 characters, values up to 256.
    fifty = [{"Key": f"k{i:02}" + "x" * 124, "Value": "v" * 256} for i in range(50)]
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": fifty})
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == fifty
    assert status(s3.delete_bucket_tagging(Bucket=b)) == 204
    assert error_of(fails(s3.get_bucket_tagging, Bucket=b))[0] == "NoSuchTagSet"
    assert error_of(fails(s3.get_bucket_tagging, Bucket=unique("nobkt")))[0] == "NoSuchBucket"


def test_bucket_tagging_validation(s3, s3_raw):
    b = new_bucket(s3)
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "keep", "Value": "me"}]})
    cases = [
        ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "Cannot provide multiple Tags with the same key"),
        ([{"Key": f"k{i}", "Value": ""} for i in range(51)], "Bucket tags cannot be greater than 50"),
        ([{"Key": "k" * 129, "Value": "v"}], "The TagKey you have provided is invalid"),
        ([{"Key": "", "Value": "v"}], "The TagKey you have provided is invalid"),
        ([{"Key": "bad!", "Value": "v"}], "The TagKey you have provided is invalid"),
        ([{"Key": "k", "Value": "v" * 257}], "The TagValue you have provided is invalid"),
    ]
    for tag_set, message in cases:
        e = fails(s3_raw.put_bucket_tagging, Bucket=b, Tagging={"TagSet": tag_set})
        assert error_of(e) == ("InvalidTag", 400, message), tag_set
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "keep", "Value": "me"}]


# --------------------------------------------------------------------------------------------
# default encryption


def test_default_encryption_is_sse_s3(s3):
    b = new_bucket(s3)
    default = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"] == default
    put = s3.put_object(Bucket=b, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in put
    assert s3.head_object(Bucket=b, Key="k")["ServerSideEncryption"] == "AES256"
    assert status(s3.delete_bucket_encryption(Bucket=b)) == 204
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"] == default


def test_kms_default_encryption_applies_to_new_objects(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="before", Body=b"old")
    key_arn = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
    config = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                   "BucketKeyEnabled": True}]
    }  # fmt: skip
    assert status(s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=config)) == 200
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"] == config

    put = s3.put_object(Bucket=b, Key="after", Body=b"new")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == ("aws:kms", key_arn, True)
    for read in (s3.get_object, s3.head_object):
        got = read(Bucket=b, Key="after")
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"], got["BucketKeyEnabled"]) == ("aws:kms", key_arn, True)
        # An object keeps the encryption it was written with.
        old = read(Bucket=b, Key="before")
        assert old["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in old
    # The request's own encryption wins over the bucket default.
    put = s3.put_object(Bucket=b, Key="explicit", Body=b"x", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in put
    copied = s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "explicit"})
    assert copied["ServerSideEncryption"] == "aws:kms" and copied["SSEKMSKeyId"] == key_arn
    up = s3.create_multipart_upload(Bucket=b, Key="multi")
    assert up["ServerSideEncryption"] == "aws:kms" and up["SSEKMSKeyId"] == key_arn
    part = s3.upload_part(Bucket=b, Key="multi", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
    assert part["ServerSideEncryption"] == "aws:kms"
    done = s3.complete_multipart_upload(
        Bucket=b, Key="multi", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == key_arn
    assert s3.head_object(Bucket=b, Key="multi")["SSEKMSKeyId"] == key_arn

    # Without a key id, aws:kms is reported without one.
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=sse_rules(SSEAlgorithm="aws:kms"))
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    assert got == {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": False}]}
    put = s3.put_object(Bucket=b, Key="kms-no-key", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms" and "SSEKMSKeyId" not in put and "BucketKeyEnabled" not in put

    s3.delete_bucket_encryption(Bucket=b)
    assert s3.put_object(Bucket=b, Key="reset", Body=b"x")["ServerSideEncryption"] == "AES256"


def sse_rules(**by_default) -> dict:
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": by_default}]}


def test_encryption_validation(s3, s3_raw):
    b = new_bucket(s3)
    e = fails(
        s3.put_bucket_encryption, Bucket=b,
        ServerSideEncryptionConfiguration=sse_rules(SSEAlgorithm="AES256", KMSMasterKeyID="k"),
    )  # fmt: skip
    assert error_of(e) == (
        "InvalidArgument", 400,
        "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
    )  # fmt: skip
    assert e.response["Error"]["ArgumentName"] == "ApplyServerSideEncryptionByDefault"
    malformed = [
        {"Rules": []},
        {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}] * 2},
        {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES512"}}]},
    ]
    for config in malformed:
        e = fails(s3_raw.put_bucket_encryption, Bucket=b, ServerSideEncryptionConfiguration=config)
        assert error_of(e)[:2] == ("MalformedXML", 400), config
    e = fails(s3_raw.put_object, Bucket=b, Key="k", Body=b"x", ServerSideEncryption="AES512")
    assert error_of(e) == ("InvalidArgument", 400, "The encryption method specified is not supported")
    e = fails(
        s3.put_bucket_encryption, Bucket=unique("nobkt"), ServerSideEncryptionConfiguration=sse_rules(SSEAlgorithm="AES256")
    )
    assert error_of(e)[0] == "NoSuchBucket"


# --------------------------------------------------------------------------------------------
# Block Public Access and ownership controls


def test_public_access_block(s3):
    b = new_bucket(s3)
    # New buckets block public access (AWS's default since April 2023).
    all_on = dict.fromkeys(["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True)
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == all_on
    assert status(s3.delete_public_access_block(Bucket=b)) == 204
    e = fails(s3.get_public_access_block, Bucket=b)
    assert error_of(e) == ("NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found")
    assert e.response["Error"]["BucketName"] == b
    # Settings left out are false.
    r = s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "RestrictPublicBuckets": True})
    assert status(r) == 200
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert error_of(fails(s3.get_public_access_block, Bucket=unique("nobkt")))[0] == "NoSuchBucket"


def test_ownership_controls(s3):
    b = new_bucket(s3)
    rules = lambda o: {"Rules": [{"ObjectOwnership": o}]}  # noqa: E731
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == rules("BucketOwnerEnforced")
    assert status(s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls=rules("ObjectWriter"))) == 200
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == rules("ObjectWriter")
    assert status(s3.delete_bucket_ownership_controls(Bucket=b)) == 204
    e = fails(s3.get_bucket_ownership_controls, Bucket=b)
    assert error_of(e) == ("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found")
    e = fails(s3.put_bucket_ownership_controls, Bucket=b, OwnershipControls=rules("Nobody"))
    assert error_of(e)[:2] == ("MalformedXML", 400)
    # CreateBucket can choose the ownership the bucket starts with.
    preferred = new_bucket(s3, ObjectOwnership="BucketOwnerPreferred")
    assert s3.get_bucket_ownership_controls(Bucket=preferred)["OwnershipControls"] == rules("BucketOwnerPreferred")


# --------------------------------------------------------------------------------------------
# versioning


def test_versioning_status(s3):
    b = new_bucket(s3)
    got = s3.get_bucket_versioning(Bucket=b)
    assert "Status" not in got and "MFADelete" not in got
    assert status(s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})) == 200
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"})
    got = s3.get_bucket_versioning(Bucket=b)
    assert (got["Status"], got["MFADelete"]) == ("Suspended", "Disabled")

    e = fails(
        s3.put_bucket_versioning, Bucket=b, MFA="arn:aws:iam::000000000000:mfa/root 123456",
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
    )  # fmt: skip
    code, st, msg = error_of(e)
    assert (code, st) == ("NotImplemented", 501) and "MFA delete" in msg
    e = fails(s3.put_bucket_versioning, Bucket=b, VersioningConfiguration={"Status": "Sometimes"})
    assert error_of(e)[:2] == ("MalformedXML", 400)
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    assert error_of(fails(s3.get_bucket_versioning, Bucket=unique("nobkt")))[0] == "NoSuchBucket"


def test_unversioned_buckets_answer_no_version_ids(s3):
    b = new_bucket(s3)
    put = s3.put_object(Bucket=b, Key="k", Body=b"1")
    assert "VersionId" not in put
    assert "VersionId" not in s3.get_object(Bucket=b, Key="k")
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"1"
    d = s3.delete_object(Bucket=b, Key="k")
    assert "DeleteMarker" not in d and "VersionId" not in d
    listed = s3.list_object_versions(Bucket=b)
    assert "Versions" not in listed and "DeleteMarkers" not in listed
    s3.put_object(Bucket=b, Key="k", Body=b"2")
    [v] = s3.list_object_versions(Bucket=b)["Versions"]
    assert (v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) == ("k", "null", True, 1)


def test_versioned_objects_and_delete_markers(s3):
    b = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="doc", Body=b"two!")["VersionId"]
    assert VERSION_ID.match(v1) and VERSION_ID.match(v2) and v1 != v2

    latest = s3.get_object(Bucket=b, Key="doc")
    assert (latest["Body"].read(), latest["VersionId"]) == (b"two!", v2)
    old = s3.get_object(Bucket=b, Key="doc", VersionId=v1)
    assert (old["Body"].read(), old["VersionId"]) == (b"one", v1)
    head = s3.head_object(Bucket=b, Key="doc", VersionId=v1)
    assert (head["ContentLength"], head["VersionId"]) == (3, v1)
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v1, Range="bytes=1-")["Body"].read() == b"ne"

    # A plain delete makes a delete marker: the key is gone from listings and reads.
    d = s3.delete_object(Bucket=b, Key="doc")
    assert d["DeleteMarker"] is True and VERSION_ID.match(d["VersionId"])
    marker = d["VersionId"]
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    e = fails(s3.get_object, Bucket=b, Key="doc")
    assert error_of(e) == ("NoSuchKey", 404, "The specified key does not exist.")
    assert headers_of(e)["x-amz-delete-marker"] == "true" and headers_of(e)["x-amz-version-id"] == marker
    e = fails(s3.head_object, Bucket=b, Key="doc")
    assert error_of(e)[:2] == ("404", 404) and headers_of(e)["x-amz-delete-marker"] == "true"
    e = fails(s3.get_object, Bucket=b, Key="doc", VersionId=marker)
    assert error_of(e) == ("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
    assert e.response["Error"]["ResourceType"] == "DeleteMarker"
    assert headers_of(e)["x-amz-delete-marker"] == "true" and headers_of(e)["x-amz-version-id"] == marker
    assert error_of(fails(s3.head_object, Bucket=b, Key="doc", VersionId=marker))[:2] == ("405", 405)
    # Older versions are still there.
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v2)["Body"].read() == b"two!"

    listed = s3.list_object_versions(Bucket=b)
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == [(v2, False, 4), (v1, False, 3)]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("doc", marker, True)]
    assert all(v["ETag"].startswith('"') and v["StorageClass"] == "STANDARD" and v["Owner"]["ID"] for v in listed["Versions"])

    # Removing the delete marker brings the last version back.
    d = s3.delete_object(Bucket=b, Key="doc", VersionId=marker)
    assert (d["DeleteMarker"], d["VersionId"]) == (True, marker)
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"two!"
    # Removing a version for good; removing the current one promotes the one before.
    d = s3.delete_object(Bucket=b, Key="doc", VersionId=v2)
    assert d["VersionId"] == v2 and "DeleteMarker" not in d
    got = s3.get_object(Bucket=b, Key="doc")
    assert (got["Body"].read(), got["VersionId"]) == (b"one", v1)
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=b)["Contents"]] == ["doc"]

    unknown = "A" * 32
    e = fails(s3.get_object, Bucket=b, Key="doc", VersionId=unknown)
    assert error_of(e) == ("NoSuchVersion", 404, "The specified version does not exist.")
    assert (e.response["Error"]["Key"], e.response["Error"]["VersionId"]) == ("doc", unknown)
    e = fails(s3.get_object, Bucket=b, Key="doc", VersionId="not-a-version")
    assert error_of(e) == ("InvalidArgument", 400, "Invalid version id specified")
    e = fails(s3.delete_object, Bucket=b, Key="doc", VersionId="not-a-version")
    assert error_of(e) == ("InvalidArgument", 400, "Invalid version id specified")

    # A versioned bucket is empty only when every version and marker is gone.
    s3.delete_object(Bucket=b, Key="doc")
    e = fails(s3.delete_bucket, Bucket=b)
    assert error_of(e) == (
        "BucketNotEmpty", 409, "The bucket you tried to delete is not empty. You must delete all versions in the bucket.",
    )  # fmt: skip
    delete_all_versions(s3, b)
    assert s3.list_object_versions(Bucket=b).get("Versions") is None
    assert status(s3.delete_bucket(Bucket=b)) == 204


def test_suspended_versioning_uses_the_null_version(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"before")  # the null version
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"enabled")["VersionId"]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"before"
    assert s3.head_object(Bucket=b, Key="k", VersionId="null")["VersionId"] == "null"

    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=b, Key="k", Body=b"suspended")
    assert "VersionId" not in put
    # The new null version replaced the old one; the enabled-era version is kept.
    listed = s3.list_object_versions(Bucket=b)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True), (v1, False)]
    got = s3.get_object(Bucket=b, Key="k")
    assert (got["Body"].read(), got["VersionId"]) == (b"suspended", "null")

    d = s3.delete_object(Bucket=b, Key="k")
    assert (d["DeleteMarker"], d["VersionId"]) == (True, "null")
    listed = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in listed["Versions"]] == [v1]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("null", True)]
    s3.delete_object(Bucket=b, Key="k", VersionId="null")
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"enabled"


def test_list_object_versions_pages_and_rolls_up(s3):
    b = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    ids: dict[str, list[str]] = {}
    for key in ["a", "b", "dir/x", "dir/y", "c"]:
        for n in range(2):
            ids.setdefault(key, []).insert(0, s3.put_object(Bucket=b, Key=key, Body=f"{key}{n}".encode())["VersionId"])
    marker = s3.delete_object(Bucket=b, Key="c")["VersionId"]
    everything = [("a", i) for i in ids["a"]] + [("b", i) for i in ids["b"]] + [("c", marker)]
    everything += [("c", i) for i in ids["c"]] + [("dir/x", i) for i in ids["dir/x"]] + [("dir/y", i) for i in ids["dir/y"]]

    def entries(page):
        found = [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        return found + [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]

    # Everything at once: by key, newest first within a key (boto3 splits markers out).
    page = s3.list_object_versions(Bucket=b)
    assert entries(page) == [e for e in everything if e[1] != marker] + [("c", marker)]
    assert [(v["Key"], v["IsLatest"]) for v in page["Versions"]][4:6] == [("c", False), ("c", False)]
    # Pages of three, each resuming at the markers of the one before: every entry once.
    seen, kwargs, pages = [], {}, 0
    while True:
        page = s3.list_object_versions(Bucket=b, MaxKeys=3, **kwargs)
        assert page["MaxKeys"] == 3 and len(entries(page)) <= 3
        seen += entries(page)
        pages += 1
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert sorted(seen) == sorted(everything) and pages == 4

    page = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in page["Versions"]} == {"a", "b", "c"}
    page = s3.list_object_versions(Bucket=b, Prefix="dir/", KeyMarker="dir/x")
    assert [(v["Key"], v["IsLatest"]) for v in page["Versions"]] == [("dir/y", True), ("dir/y", False)]

    e = fails(s3.list_object_versions, Bucket=b, VersionIdMarker=ids["a"][0])
    assert error_of(e) == ("InvalidArgument", 400, "A version-id marker cannot be specified without a key marker.")
    # Paginators work the same.
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 4})
    assert sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) for p in pages) == len(everything)


def test_copy_and_multipart_in_a_versioned_bucket(s3):
    b = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"first")["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"second")
    r = s3.copy_object(Bucket=b, Key="restored", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and VERSION_ID.match(r["VersionId"])
    assert s3.get_object(Bucket=b, Key="restored")["Body"].read() == b"first"
    # Copying an old version onto its own key restores it as a new version.
    s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=b, Key="src")["Body"].read() == b"first"
    assert len(s3.list_object_versions(Bucket=b, Prefix="src")["Versions"]) == 3
    marker = s3.delete_object(Bucket=b, Key="src")["VersionId"]
    e = fails(s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src", "VersionId": marker})
    assert error_of(e) == (
        "InvalidRequest", 400, "The source of a copy request may not specifically refer to a delete marker by version id.",
    )  # fmt: skip
    assert error_of(fails(s3.copy_object, Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src"}))[0] == "NoSuchKey"

    up = s3.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=b"only part")
    done = s3.complete_multipart_upload(
        Bucket=b, Key="big", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    assert VERSION_ID.match(done["VersionId"])
    assert s3.head_object(Bucket=b, Key="big")["VersionId"] == done["VersionId"]


def test_delete_objects_with_version_ids(s3):
    b = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"]
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k"}, {"Key": "never"}]})
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["k"]["DeleteMarker"] is True and VERSION_ID.match(deleted["k"]["DeleteMarkerVersionId"])
    assert deleted["never"]["DeleteMarker"] is True  # a marker even for a key that never existed
    markers = {m["Key"]: m["VersionId"] for m in s3.list_object_versions(Bucket=b)["DeleteMarkers"]}
    assert markers == {"k": deleted["k"]["DeleteMarkerVersionId"], "never": deleted["never"]["DeleteMarkerVersionId"]}
    r = s3.delete_objects(
        Bucket=b,
        Delete={"Objects": [{"Key": "k", "VersionId": markers["k"]}, {"Key": "k", "VersionId": v1},
                            {"Key": "x", "VersionId": "bad"}]},
    )  # fmt: skip
    assert sorted((d["Key"], d["VersionId"], d.get("DeleteMarker", False)) for d in r["Deleted"]) == sorted(
        [("k", markers["k"], True), ("k", v1, False)]
    )
    assert r["Errors"] == [
        {"Key": "x", "VersionId": "bad", "Code": "NoSuchVersion", "Message": "The specified version does not exist."}
    ]
    assert [m["Key"] for m in s3.list_object_versions(Bucket=b)["DeleteMarkers"]] == ["never"]
    delete_all_versions(s3, b)
    s3.delete_bucket(Bucket=b)


def test_cli_versioning_workflow(aws, s3, tmp_path):
    b = new_bucket(s3)
    aws("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    assert aws("s3api", "get-bucket-versioning", "--bucket", b) == {"Status": "Enabled"}
    for text in ["v1", "v2"]:
        (tmp_path / "f.txt").write_text(text)
        aws("s3", "cp", "f.txt", f"s3://{b}/f.txt", "--no-progress", "--output", "text")
    aws("s3", "rm", f"s3://{b}/f.txt", "--output", "text")
    listed = aws("s3api", "list-object-versions", "--bucket", b)
    assert len(listed["Versions"]) == 2 and len(listed["DeleteMarkers"]) == 1
    first = listed["Versions"][-1]["VersionId"]  # newest first
    got = aws("s3api", "get-object", "--bucket", b, "--key", "f.txt", "--version-id", first, str(tmp_path / "out"))
    assert got["VersionId"] == first and (tmp_path / "out").read_text() == "v1"
    # `aws s3 rb --force` deletes the current objects only; the versions keep the bucket.
    aws("s3", "rb", f"s3://{b}", "--force", expect_error="BucketNotEmpty")
    aws("s3api", "put-bucket-tagging", "--bucket", b, "--tagging", "TagSet=[{Key=stack,Value=demo}]")
    assert aws("s3api", "get-bucket-tagging", "--bucket", b) == {"TagSet": [{"Key": "stack", "Value": "demo"}]}


# --------------------------------------------------------------------------------------------
# what is not served, persistence, lifetime


def test_unserved_subresources_still_answer_not_implemented(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    calls = [
        lambda: s3.get_object_tagging(Bucket=b, Key="k"),
        lambda: s3.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
        lambda: s3.get_bucket_cors(Bucket=b),
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=b),
        lambda: s3.get_bucket_website(Bucket=b),
        lambda: s3.get_bucket_acl(Bucket=b),
    ]
    for call in calls:
        e = fails(call)
        assert error_of(e)[:2] == ("NotImplemented", 501), e.response
    with raw_responses(s3) as seen:
        fails(s3.get_object_tagging, Bucket=b, Key="k")
    assert b"<Code>NotImplemented</Code>" in seen[-1][2].encode()


def test_configuration_survives_a_restart_and_goes_with_the_bucket(s3, server):
    b = new_bucket(s3)
    policy = json.dumps(sam_policy(b))
    s3.put_bucket_policy(Bucket=b, Policy=policy)
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "ManagedStackSource", "Value": "AwsSamCli"}]})
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/sam"},
                      "BucketKeyEnabled": False}]}  # fmt: skip
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=kms)
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="artifact.zip", Body=b"old")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="artifact.zip", Body=b"new")["VersionId"]
    marker = s3.delete_object(Bucket=b, Key="gone")["VersionId"]

    server.restart()

    assert s3.get_bucket_policy(Bucket=b)["Policy"] == policy
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "ManagedStackSource", "Value": "AwsSamCli"}]
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"] == kms
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    got = s3.get_object(Bucket=b, Key="artifact.zip", VersionId=v1)
    assert (got["Body"].read(), got["ServerSideEncryption"], got["SSEKMSKeyId"]) == (b"old", "aws:kms", "alias/sam")
    listed = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker]
    # The versions counted before the restart still keep the bucket from being deleted.
    assert error_of(fails(s3.delete_bucket, Bucket=b))[0] == "BucketNotEmpty"

    delete_all_versions(s3, b)
    s3.delete_bucket(Bucket=b)
    # A new bucket of the same name starts from the defaults.
    s3.create_bucket(Bucket=b)
    assert error_of(fails(s3.get_bucket_policy, Bucket=b))[0] == "NoSuchBucketPolicy"
    assert error_of(fails(s3.get_bucket_tagging, Bucket=b))[0] == "NoSuchTagSet"
    assert s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    assert s3.list_object_versions(Bucket=b).get("Versions") is None
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
