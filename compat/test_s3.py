"""S3 on the shared endpoint (REST-XML), driven by boto3, the AWS CLI (`aws s3`, `aws s3api`) and
raw signed requests: buckets, objects with metadata, ranges and conditions, listings with
delimiters and pagination, multipart uploads, aws-chunked bodies, virtual-host addressing, AWS's
error codes and documents, and persistence across a restart."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import os
import re
import urllib.request
import zlib

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import CLIENT_CONFIG, REGION, client, error_of, raw_responses, unique

MIB = 1024 * 1024
REQUEST_ID = re.compile(r"^[A-Z0-9]{16}$")


@pytest.fixture(scope="module")
def s3(server):
    return client("s3", server.endpoint)


def new_bucket(s3) -> str:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    return name


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def crc64nvme(data: bytes) -> int:
    """CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), bit by bit: small inputs only."""
    crc = 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x9A6C9329AC4BC9B5 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def multipart_etag(parts: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}"'


def signed(server, method: str, path: str, host: str | None = None, body: bytes = b"", headers=None):
    """Sends a SigV4-signed (service s3) request to the server, optionally with another Host
    header (virtual-host style); returns (status, lowercased headers, body)."""
    host = host or f"127.0.0.1:{server.port}"
    headers = dict(headers or {})
    headers.setdefault("X-Amz-Content-SHA256", hashlib.sha256(body).hexdigest())
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=headers)
    # Plain SigV4 signs the X-Amz-Content-SHA256 given here (S3SigV4Auth would replace it).
    SigV4Auth(Credentials("test", "test"), "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **dict(req.headers)})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# buckets


def test_bucket_lifecycle_and_region_rules(s3, server):
    name = unique("bkt")
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    # In us-east-1 S3 answers 200 when you re-create a bucket you own (legacy behaviour).
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    head = s3.head_bucket(Bucket=name)
    assert head["BucketRegion"] == "us-east-1"
    listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
    assert listed[name]["BucketRegion"] == "us-east-1"
    assert isinstance(listed[name]["CreationDate"], datetime.datetime)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None

    for bad in ["Bad_Name", "ab", "a..b", "-leading", "192.168.5.4"]:
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert error_of(e.value) == ("InvalidBucketName", 400, "The specified bucket is not valid.")
        assert e.value.response["Error"]["BucketName"] == bad

    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=unique("bkt"), CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error_of(e.value) == ("InvalidLocationConstraint", 400, "The specified location-constraint is not valid")

    # Through us-east-1 a bucket may go to any region; through another region only there.
    eu_name = unique("bkt")
    s3.create_bucket(Bucket=eu_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=eu_name)["LocationConstraint"] == "eu-west-1"
    assert s3.head_bucket(Bucket=eu_name)["BucketRegion"] == "eu-west-1"
    eu = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=CLIENT_CONFIG.merge(Config(region_name="eu-west-1")),
    )
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=unique("bkt"))
    assert error_of(e.value) == (
        "IllegalLocationConstraintException",
        400,
        "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
    )
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=eu_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_of(e.value) == (
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )

    s3.put_object(Bucket=name, Key="keep", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e.value) == ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
    s3.delete_object(Bucket=name, Key="keep")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    s3.delete_bucket(Bucket=eu_name)

    # HEAD has no body: boto3 shows the status as the code.
    with raw_responses(s3) as seen:
        with pytest.raises(ClientError) as e:
            s3.head_bucket(Bucket=name)
    assert error_of(e.value)[:2] == ("404", 404)
    assert seen[-1][2] == ""
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e.value) == ("NoSuchBucket", 404, "The specified bucket does not exist")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_list_buckets_pages_and_filters(s3):
    prefix = unique("pg")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for n in names:
        s3.create_bucket(Bucket=n)
    seen = []
    kwargs = {"Prefix": prefix, "MaxBuckets": 2}
    while True:
        page = s3.list_buckets(**kwargs)
        assert page["Prefix"] == prefix
        seen += [b["Name"] for b in page["Buckets"]]
        if "ContinuationToken" not in page:
            break
        kwargs["ContinuationToken"] = page["ContinuationToken"]
    assert seen == names
    for n in names:
        s3.delete_bucket(Bucket=n)


# --------------------------------------------------------------------------------------------
# objects


def test_object_round_trip_with_metadata(s3, env):
    b = new_bucket(s3)
    body = b"hello world"
    put = s3.put_object(
        Bucket=b,
        Key="docs/hello.txt",
        Body=body,
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="hello.txt"',
        Metadata={"owner": "team-a", "Run-Id": "42"},
    )
    assert put["ETag"] == f'"{md5_hex(body)}"'
    assert put["ChecksumCRC32"] == crc32_b64(body)  # botocore sends CRC32 by default
    assert put["ServerSideEncryption"] == "AES256"

    got = s3.get_object(Bucket=b, Key="docs/hello.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == put["ETag"]
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="hello.txt"'
    assert got["Metadata"] == {"owner": "team-a", "run-id": "42"}
    assert got["ChecksumCRC32"] == crc32_b64(body)
    assert abs(got["LastModified"].timestamp() - env.clock()) < 60
    assert got["AcceptRanges"] == "bytes"

    head = s3.head_object(Bucket=b, Key="docs/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"] == got["Metadata"]
    assert head["LastModified"] == got["LastModified"]

    # Response header overrides.
    got = s3.get_object(Bucket=b, Key="docs/hello.txt", ResponseContentType="application/json")
    assert got["ContentType"] == "application/json"

    # Without a checksum from the client, S3 stores a CRC64NVME of the object; no type given
    # means binary/octet-stream.
    plain = client("s3", env.server.endpoint)
    plain.meta.config.request_checksum_calculation = "when_required"
    plain.put_object(Bucket=b, Key="raw", Body=b"123456789")
    head = s3.head_object(Bucket=b, Key="raw", ChecksumMode="ENABLED")
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert head["ChecksumCRC64NVME"] == b64(crc64nvme(b"123456789").to_bytes(8, "big"))
    assert head["ContentType"] == "binary/octet-stream"

    # Overwrite replaces bytes and metadata; the clock the server uses is the server clock.
    env.advance_clock(3600)
    s3.put_object(Bucket=b, Key="docs/hello.txt", Body=b"v2")
    got = s3.get_object(Bucket=b, Key="docs/hello.txt")
    assert got["Body"].read() == b"v2"
    assert got["Metadata"] == {}
    assert got["LastModified"].timestamp() - head["LastModified"].timestamp() >= 3590

    empty = s3.put_object(Bucket=b, Key="empty", Body=b"")
    assert empty["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=b, Key="empty")["Body"].read() == b""


def test_integrity_checks(s3, server):
    b = new_bucket(s3)
    body = b"integrity matters"
    s3.put_object(Bucket=b, Key="ok", Body=body, ContentMD5=b64(hashlib.md5(body).digest()))

    wrong = hashlib.md5(b"something else").digest()
    with raw_responses(s3) as seen:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=b, Key="bad", Body=body, ContentMD5=b64(wrong))
    assert error_of(e.value) == ("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
    assert f"<ExpectedDigest>{wrong.hex()}</ExpectedDigest>" in seen[-1][2]
    assert f"<CalculatedDigest>{b64(hashlib.md5(body).digest())}</CalculatedDigest>" in seen[-1][2]

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=body, ContentMD5="not-an-md5")
    assert error_of(e.value) == ("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=body, ChecksumCRC32=crc32_b64(b"other"))
    assert error_of(e.value) == ("BadDigest", 400, "The CRC32 you specified did not match the calculated checksum.")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=body, ChecksumCRC32="abc")
    assert error_of(e.value) == ("InvalidRequest", 400, "Value for x-amz-checksum-crc32 header is invalid.")

    put = s3.put_object(Bucket=b, Key="sha", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == b64(hashlib.sha256(body).digest())
    head = s3.head_object(Bucket=b, Key="sha", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert head["ChecksumType"] == "FULL_OBJECT"

    with pytest.raises(ClientError):
        s3.head_object(Bucket=b, Key="bad")  # nothing was stored by the failed puts

    # A payload hash that does not match the body.
    status, _, raw = signed(
        server, "PUT", f"/{b}/tampered", body=b"abc", headers={"X-Amz-Content-SHA256": "0" * 64}
    )
    assert status == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in raw


def test_ranges(s3):
    b = new_bucket(s3)
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=b, Key="r", Body=body)

    def get(rng):
        r = s3.get_object(Bucket=b, Key="r", Range=rng)
        return r["ResponseMetadata"]["HTTPStatusCode"], r.get("ContentRange"), r["Body"].read()

    assert get("bytes=0-9") == (206, "bytes 0-9/1024", body[:10])
    assert get("bytes=1000-") == (206, "bytes 1000-1023/1024", body[1000:])
    assert get("bytes=-24") == (206, "bytes 1000-1023/1024", body[-24:])
    assert get("bytes=1020-5000") == (206, "bytes 1020-1023/1024", body[1020:])
    # Several ranges, or a malformed one, are ignored: the whole object comes back.
    assert get("bytes=0-1,5-6") == (200, None, body)
    assert get("bytes=9-3") == (200, None, body)
    head = s3.head_object(Bucket=b, Key="r", Range="bytes=10-19")
    assert head["ContentLength"] == 10 and head["ContentRange"] == "bytes 10-19/1024"

    with raw_responses(s3) as seen:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="r", Range="bytes=2000-")
    assert error_of(e.value) == ("InvalidRange", 416, "The requested range is not satisfiable")
    assert "<RangeRequested>bytes=2000-</RangeRequested>" in seen[-1][2]
    assert "<ActualObjectSize>1024</ActualObjectSize>" in seen[-1][2]


def test_conditional_requests(s3):
    b = new_bucket(s3)
    etag = s3.put_object(Bucket=b, Key="c", Body=b"conditional")["ETag"]
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)

    assert s3.get_object(Bucket=b, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    for kwargs in ({"IfNoneMatch": etag}, {"IfModifiedSince": future}):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="c", **kwargs)
        assert error_of(e.value)[:2] == ("304", 304)
    for kwargs in ({"IfMatch": '"0123"'}, {"IfUnmodifiedSince": past}):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="c", **kwargs)
        assert error_of(e.value) == (
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        )
    assert s3.get_object(Bucket=b, Key="c", IfNoneMatch='"other"')["ContentLength"] == 11

    # Conditional writes.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="c", Body=b"again", IfNoneMatch="*")
    assert error_of(e.value)[:2] == ("PreconditionFailed", 412)
    s3.put_object(Bucket=b, Key="new", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="c", Body=b"again", IfMatch='"0123"')
    assert error_of(e.value)[:2] == ("PreconditionFailed", 412)
    s3.put_object(Bucket=b, Key="c", Body=b"again", IfMatch=etag)
    assert s3.get_object(Bucket=b, Key="c")["Body"].read() == b"again"


def test_errors_are_s3_error_documents(s3):
    b = new_bucket(s3)
    with raw_responses(s3) as seen:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="missing/key")
    assert error_of(e.value) == ("NoSuchKey", 404, "The specified key does not exist.")
    assert e.value.response["Error"]["Key"] == "missing/key"
    status, headers, text = seen[-1]
    assert headers["content-type"] == "application/xml"
    assert REQUEST_ID.match(headers["x-amz-request-id"])
    assert headers["x-amz-id-2"]
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f"<RequestId>{headers['x-amz-request-id']}</RequestId>" in text
    assert "<Error><Code>NoSuchKey</Code>" in text

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=unique("nobkt"), Key="k")
    assert error_of(e.value) == ("NoSuchBucket", 404, "The specified bucket does not exist")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=unique("nobkt"), Key="k", Body=b"x")
    assert error_of(e.value)[0] == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=unique("nobkt"))
    assert error_of(e.value)[0] == "NoSuchBucket"

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k" * 1025, Body=b"x")
    assert error_of(e.value) == ("KeyTooLongError", 400, "Your key is too long")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="meta", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_of(e.value) == (
        "MetadataTooLarge",
        400,
        "Your metadata headers exceed the maximum allowed metadata size.",
    )
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="huge", Body=b"\0" * (64 * MIB + 1))
    assert error_of(e.value) == ("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ")
    assert error_of(e.value) == ("InvalidArgument", 400, "Invalid version id specified")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert error_of(e.value)[:2] == ("NotImplemented", 501)


def test_typed_members_are_read_as_the_model_types_them(s3, server):
    """Query and header members are read by their model types: a number that is not one (or
    does not fit the model's 32 bits) is S3's InvalidArgument naming the parameter, a date
    that does not parse is ignored as HTTP says, and a request document that does not fit its
    shape (a required element missing, a number that is none) is MalformedXML."""
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"x")

    def arg_error(raw: bytes) -> tuple[str, str, str]:
        text = raw.decode()
        pick = lambda tag: text.split(f"<{tag}>")[1].split(f"</{tag}>")[0]
        return pick("Code"), pick("Message"), pick("ArgumentValue")

    for value in ["abc", "3000000000"]:
        status, _, raw = signed(server, "GET", f"/{b}?list-type=2&max-keys={value}")
        assert status == 400
        assert arg_error(raw) == (
            "InvalidArgument",
            "Provided max-keys not an integer or within integer range",
            value,
        )
    status, _, raw = signed(server, "GET", f"/{b}?list-type=2&max-keys=-1")
    assert (status, arg_error(raw)[:2]) == (
        400,
        ("InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647"),
    )
    status, _, raw = signed(server, "GET", f"/{b}/k?partNumber=x")
    assert (status, arg_error(raw)) == (
        400,
        ("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", "x"),
    )
    # A date that is no date is no condition.
    status, _, body = signed(server, "GET", f"/{b}/k", headers={"If-Modified-Since": "yesterday"})
    assert (status, body) == (200, b"x")
    status, _, _ = signed(
        server, "GET", f"/{b}/k", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    assert status == 304
    # Metadata headers sent twice are one value, joined as HTTP joins them.
    conn_headers = [("x-amz-meta-color", "red"), ("x-amz-meta-color", "blue")]
    body = b"m"
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:{server.port}/{b}/meta", data=body,
                     headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(Credentials("test", "test"), "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("PUT", f"/{b}/meta", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{server.port}")
        for k, v in req.headers.items():
            conn.putheader(k, v)
        for k, v in conn_headers:
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert s3.head_object(Bucket=b, Key="meta")["Metadata"] == {"color": "red,blue"}

    def delete(doc: str) -> tuple[int, bytes]:
        data = doc.encode()
        status, _, raw = signed(server, "POST", f"/{b}?delete", body=data,
                                headers={"Content-MD5": b64(hashlib.md5(data).digest())})
        return status, raw

    for doc in [
        "<Delete><Object><VersionId>v</VersionId></Object></Delete>",  # no Key
        "<Delete><Object><Key>k</Key><Size>big</Size></Object></Delete>",  # Size is a number
        "<Delete><Object><Key>k</Key></Object><Quiet>yes</Quiet></Delete>",  # Quiet a boolean
        "<Remove><Object><Key>k</Key></Object></Remove>",  # another root
    ]:
        status, raw = delete(doc)
        assert status == 400 and b"<Code>MalformedXML</Code>" in raw, doc
    status, raw = delete("<Delete><Object><Key>k</Key></Object><Quiet>true</Quiet></Delete>")
    assert status == 200 and b"<Deleted>" not in raw
    assert "Contents" not in s3.list_objects_v2(Bucket=b, Prefix="k")


# --------------------------------------------------------------------------------------------
# listings

LIST_KEYS = ["a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d e+f/1", "z", "é/x"]


@pytest.fixture(scope="module")
def listing_bucket(s3):
    b = new_bucket(s3)
    for k in LIST_KEYS:
        s3.put_object(Bucket=b, Key=k, Body=k.encode())
    return b


def test_list_objects_v2_with_delimiter_and_prefix(s3, listing_bucket):
    b = listing_bucket
    with raw_responses(s3) as seen:
        r = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["b", "z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/", "d e+f/", "é/"]
    assert r["KeyCount"] == 6 and r["IsTruncated"] is False and r["MaxKeys"] == 1000
    # botocore asks for encoding-type=url and decodes; on the wire the keys are encoded.
    assert "<Prefix>d+e%2Bf/</Prefix>" in seen[-1][2] and "<Prefix>%C3%A9/</Prefix>" in seen[-1][2]
    assert 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in seen[-1][2]

    r = s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    contents = r["Contents"][0]
    assert contents["Size"] == 3 and contents["ETag"] == f'"{md5_hex(b"a/1")}"'
    assert contents["StorageClass"] == "STANDARD" and "Owner" not in contents

    r = s3.list_objects_v2(Bucket=b, StartAfter="b")
    assert [c["Key"] for c in r["Contents"]] == ["c/1", "c/2", "d e+f/1", "z", "é/x"]
    assert r["StartAfter"] == "b"
    r = s3.list_objects_v2(Bucket=b, Prefix="c/", FetchOwner=True)
    assert all(c["Owner"]["ID"] for c in r["Contents"])
    r = s3.list_objects_v2(Bucket=b, MaxKeys=0)
    assert r["KeyCount"] == 0 and r["IsTruncated"] is False and "Contents" not in r
    r = s3.list_objects_v2(Bucket=b, Prefix="nothing-here")
    assert r["KeyCount"] == 0 and "Contents" not in r

    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=b, ContinuationToken="bm90IGEgdG9rZW4=")
    assert error_of(e.value) == ("InvalidArgument", 400, "The continuation token provided is incorrect")


def test_list_objects_v2_pagination(s3, listing_bucket):
    b = listing_bucket
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=b, PaginationConfig={"PageSize": 2}))
    assert [c["Key"] for p in pages for c in p["Contents"]] == LIST_KEYS
    assert [p["KeyCount"] for p in pages] == [2, 2, 2, 2, 1]
    assert [p["IsTruncated"] for p in pages] == [True] * 4 + [False]
    assert all("NextContinuationToken" in p for p in pages[:-1]) and "NextContinuationToken" not in pages[-1]

    # With a delimiter, a common prefix is one entry and never repeats across pages.
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 2})
    )
    entries = [
        sorted([c["Key"] for c in p.get("Contents", [])] + [x["Prefix"] for x in p.get("CommonPrefixes", [])])
        for p in pages
    ]
    assert entries == [["a/", "b"], ["c/", "d e+f/"], ["z", "é/"]]


def test_list_objects_v1(s3, listing_bucket):
    b = listing_bucket
    r = s3.list_objects(Bucket=b, Delimiter="/", MaxKeys=2)
    assert [c["Key"] for c in r["Contents"]] == ["b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    assert r["IsTruncated"] is True and r["NextMarker"] == "b"
    assert r["Contents"][0]["Owner"]["ID"]
    r = s3.list_objects(Bucket=b, Delimiter="/", Marker="b")
    assert [c["Key"] for c in r["Contents"]] == ["z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/", "d e+f/", "é/"]
    assert r["Marker"] == "b" and r["IsTruncated"] is False
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 4}))
    assert [c["Key"] for p in pages for c in p["Contents"]] == LIST_KEYS
    assert "NextMarker" not in pages[0]  # only with a delimiter, as on S3


# --------------------------------------------------------------------------------------------
# deleting and copying


def test_delete_object_and_delete_objects(s3):
    b = new_bucket(s3)
    for k in ["one", "two", "three"]:
        s3.put_object(Bucket=b, Key=k, Body=k.encode())
    assert s3.delete_object(Bucket=b, Key="never-there")["ResponseMetadata"]["HTTPStatusCode"] == 204
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "one"}, {"Key": "two"}, {"Key": "ghost"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["ghost", "one", "two"]
    assert "Errors" not in r
    r = s3.delete_objects(
        Bucket=b, Delete={"Objects": [{"Key": "three"}, {"Key": "x", "VersionId": "v1"}], "Quiet": True}
    )
    assert "Deleted" not in r
    assert r["Errors"] == [
        {"Key": "x", "VersionId": "v1", "Code": "NoSuchVersion", "Message": "The specified version does not exist."}
    ]
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    s3.delete_bucket(Bucket=b)  # the bucket is empty again


def test_copy_object(s3):
    b = new_bucket(s3)
    src_key = "src dir/é.txt"
    s3.put_object(Bucket=b, Key=src_key, Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"})
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": src_key})
    assert r["CopyObjectResult"]["ETag"] == f'"{md5_hex(b"copy me")}"'
    got = s3.get_object(Bucket=b, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"copy me", "text/plain", {"a": "1"})

    s3.copy_object(
        Bucket=b,
        Key="dst",
        CopySource={"Bucket": b, "Key": src_key},
        MetadataDirective="REPLACE",
        ContentType="application/x-new",
        Metadata={"b": "2"},
    )
    got = s3.head_object(Bucket=b, Key="dst")
    assert (got["ContentType"], got["Metadata"]) == ("application/x-new", {"b": "2"})

    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "dst"})
    assert error_of(e.value) == (
        "InvalidRequest",
        400,
        "This copy request is illegal because it is trying to copy an object to itself without changing the "
        "object's metadata, storage class, website redirect location or encryption attributes.",
    )
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": b, "Key": "missing"})
    assert error_of(e.value)[:2] == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": b, "Key": src_key}, CopySourceIfMatch='"zz"')
    assert error_of(e.value)[:2] == ("PreconditionFailed", 412)


# --------------------------------------------------------------------------------------------
# multipart uploads


def test_multipart_upload_with_boto3(s3):
    b = new_bucket(s3)
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ContentType="application/x-mp", Metadata={"m": "1"})
    uid = up["UploadId"]
    etags = [
        s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)
    ]
    assert etags == [f'"{md5_hex(p)}"' for p in parts]
    listed = s3.list_parts(Bucket=b, Key="mp", UploadId=uid)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, 5 * MIB, etags[0]),
        (2, 1000, etags[1]),
    ]
    assert uid in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]]

    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=b,
            Key="mp",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]},
        )
    assert error_of(e.value) == (
        "InvalidPartOrder",
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=b, Key="mp", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]}
        )
    assert error_of(e.value)[:2] == ("InvalidPart", 400)

    done = s3.complete_multipart_upload(
        Bucket=b,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    assert done["ETag"] == multipart_etag(parts)
    assert done["Key"] == "mp" and done["Bucket"] == b
    got = s3.get_object(Bucket=b, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert (got["ETag"], got["ContentType"], got["Metadata"]) == (done["ETag"], "application/x-mp", {"m": "1"})
    part2 = s3.get_object(Bucket=b, Key="mp", PartNumber=2)
    assert part2["Body"].read() == parts[1] and part2["PartsCount"] == 2
    assert part2["ContentRange"] == f"bytes {5 * MIB}-{5 * MIB + 999}/{5 * MIB + 1000}"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)

    # The upload is gone once completed.
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=b, Key="mp", UploadId=uid)
    assert error_of(e.value) == (
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or "
        "completed.",
    )

    # Parts other than the last must be at least 5 MiB.
    uid = s3.create_multipart_upload(Bucket=b, Key="small")["UploadId"]
    small = [s3.upload_part(Bucket=b, Key="small", UploadId=uid, PartNumber=n, Body=b"x" * 10)["ETag"] for n in (1, 2)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=b,
            Key="small",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), small)]},
        )
    assert error_of(e.value) == (
        "EntityTooSmall",
        400,
        "Your proposed upload is smaller than the minimum allowed size",
    )
    assert s3.abort_multipart_upload(Bucket=b, Key="small", UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="small", UploadId=uid, PartNumber=1, Body=b"late")
    assert error_of(e.value)[:2] == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="small")
    assert error_of(e.value)[:2] == ("404", 404)


def test_multipart_composite_checksum(s3):
    b = new_bucket(s3)
    parts = [os.urandom(5 * MIB), b"tail"]
    uid = s3.create_multipart_upload(Bucket=b, Key="ck", ChecksumAlgorithm="CRC32")["UploadId"]
    uploaded = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key="ck", UploadId=uid, PartNumber=n, Body=p, ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == crc32_b64(p)
        uploaded.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    done = s3.complete_multipart_upload(Bucket=b, Key="ck", UploadId=uid, MultipartUpload={"Parts": uploaded})
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    assert done["ChecksumCRC32"] == f"{crc32_b64(raw)}-2"
    assert done["ChecksumType"] == "COMPOSITE"
    assert s3.get_object(Bucket=b, Key="ck", ChecksumMode="ENABLED")["Body"].read() == b"".join(parts)


# --------------------------------------------------------------------------------------------
# the AWS CLI


def test_cli_mb_cp_ls_rb(aws, tmp_path):
    b = unique("cli")
    assert f"make_bucket: {b}" in aws("s3", "mb", f"s3://{b}", "--output", "text")
    src = tmp_path / "hello.txt"
    src.write_text("hello from the cli\n")
    out = aws("s3", "cp", str(src), f"s3://{b}/docs/hello.txt", "--no-progress", "--output", "text")
    assert out.startswith("upload: ") and out.endswith(f" to s3://{b}/docs/hello.txt")
    assert re.search(r"^\s*PRE docs/$", aws("s3", "ls", f"s3://{b}/", "--output", "text"), re.M)
    assert re.search(r"\s19 hello\.txt$", aws("s3", "ls", f"s3://{b}/docs/", "--output", "text"), re.M)
    assert re.search(rf"\s{b}$", aws("s3", "ls", "--output", "text"), re.M)

    listed = aws("s3api", "list-objects-v2", "--bucket", b)
    assert [c["Key"] for c in listed["Contents"]] == ["docs/hello.txt"]
    got = aws("s3api", "get-object", "--bucket", b, "--key", "docs/hello.txt", str(tmp_path / "out.txt"))
    assert got["ContentLength"] == 19 and got["ContentType"] == "text/plain"
    assert (tmp_path / "out.txt").read_text() == "hello from the cli\n"
    aws("s3api", "get-object", "--bucket", b, "--key", "nope", str(tmp_path / "x"), expect_error="NoSuchKey")
    aws("s3api", "head-object", "--bucket", b, "--key", "nope", expect_error="404")

    aws("s3", "rb", f"s3://{b}", expect_error="BucketNotEmpty")
    out = aws("s3", "rb", f"s3://{b}", "--force", "--output", "text")
    assert f"remove_bucket: {b}" in out
    aws("s3api", "head-bucket", "--bucket", b, expect_error="404")


def test_cli_copies_a_10mb_file_both_ways(aws, s3, tmp_path):
    b = unique("cli")
    aws("s3", "mb", f"s3://{b}", "--output", "text")
    data = os.urandom(10 * MIB + 12345)
    src, dst = tmp_path / "big.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    aws("s3", "cp", str(src), f"s3://{b}/big.bin", "--no-progress", "--output", "text")
    head = s3.head_object(Bucket=b, Key="big.bin")
    # The CLI uploads files above 8 MiB in 8 MiB parts.
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == multipart_etag([data[: 8 * MIB], data[8 * MIB :]])
    # ... and downloads them with ranged GETs.
    aws("s3", "cp", f"s3://{b}/big.bin", str(dst), "--no-progress", "--output", "text")
    assert dst.read_bytes() == data
    aws("s3", "rb", f"s3://{b}", "--force", "--output", "text")


# --------------------------------------------------------------------------------------------
# addressing and body encodings


def test_virtual_host_style_requests(s3, server):
    b = new_bucket(s3)
    for host in (f"{b}.localhost:{server.port}", f"{b}.s3.localhost.localstack.cloud:{server.port}"):
        status, headers, _ = signed(server, "PUT", "/vhost/key.txt", host=host, body=b"virtual")
        assert status == 200 and headers["etag"] == f'"{md5_hex(b"virtual")}"'
        status, headers, body = signed(server, "GET", "/vhost/key.txt", host=host)
        assert (status, body) == (200, b"virtual")
        status, _, body = signed(server, "GET", "/?list-type=2&prefix=vhost%2F", host=host)
        assert status == 200 and b"<Key>vhost/key.txt</Key>" in body and f"<Name>{b}</Name>".encode() in body
        status, headers, body = signed(server, "HEAD", "/", host=host)
        assert status == 200 and headers["x-amz-bucket-region"] == "us-east-1"
    # The same object, path style.
    assert s3.get_object(Bucket=b, Key="vhost/key.txt")["Body"].read() == b"virtual"
    # A Host that is only the service, or an IP address, is path style.
    status, _, body = signed(server, "GET", f"/{b}/vhost/key.txt", host=f"s3.localhost:{server.port}")
    assert (status, body) == (200, b"virtual")


def test_presigned_urls(s3, server):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="shared/file.txt", Body=b"presigned", ContentType="text/plain")
    # SigV4 query authentication (boto3 presigns with the older SigV2 scheme unless told).
    v4 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=CLIENT_CONFIG.merge(Config(signature_version="s3v4")),
    )
    url = v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "shared/file.txt"}, ExpiresIn=300)
    assert "X-Amz-Credential=" in url and "Authorization" not in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert (r.status, r.read(), r.headers["Content-Type"]) == (200, b"presigned", "text/plain")
    url = v4.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(urllib.request.Request(url, data=b"uploaded", method="PUT"), timeout=10) as r:
        assert r.status == 200
    assert s3.get_object(Bucket=b, Key="up.txt")["Body"].read() == b"uploaded"


def test_aws_chunked_uploads(s3, server):
    b = new_bucket(s3)
    data = os.urandom(3 * MIB + 7)

    # botocore sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer over https; make it
    # do the same here (s3transfer flips the same switch the other way).
    def use_trailer(context, **_):
        context["checksum"]["request_algorithm"]["in"] = "trailer"

    sent = []
    s3.meta.events.register("before-call.s3.PutObject", use_trailer)
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers)))
    try:
        s3.put_object(Bucket=b, Key="streamed", Body=data)
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", use_trailer)
    h = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in sent[-1].items()}
    assert h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert h["content-encoding"] == "aws-chunked" and h["x-amz-trailer"] == "x-amz-checksum-crc32"
    got = s3.get_object(Bucket=b, Key="streamed", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == crc32_b64(data)
    assert "ContentEncoding" not in got  # aws-chunked described the request, not the object

    def chunked(chunks, trailer=b"", signed_chunks=False):
        ext = b";chunk-signature=" + b"0" * 64 if signed_chunks else b""
        out = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext, c) for c in chunks)
        return out + b"0%s\r\n%s\r\n" % (ext, trailer)

    # The signed-chunk variant (the Java and Go SDKs send it over plain HTTP).
    body = chunked([b"hello ", b"signed ", b"chunks"], signed_chunks=True)
    status, _, _ = signed(
        server,
        "PUT",
        f"/{b}/signed",
        body=body,
        headers={
            "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": "19",
        },
    )
    assert status == 200
    assert s3.get_object(Bucket=b, Key="signed")["Body"].read() == b"hello signed chunks"

    trailer_headers = {
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": "5",
    }
    bad = chunked([b"hello"], b"x-amz-checksum-crc32:%s\r\n" % crc32_b64(b"other").encode())
    status, _, raw = signed(server, "PUT", f"/{b}/bad", body=bad, headers=trailer_headers)
    assert status == 400 and b"<Code>BadDigest</Code>" in raw
    assert b"<Message>The CRC32 you specified did not match the calculated checksum.</Message>" in raw
    status, _, raw = signed(server, "PUT", f"/{b}/bad", body=b"5\r\nhel", headers=trailer_headers)
    assert status == 400 and b"<Code>IncompleteBody</Code>" in raw
    with pytest.raises(ClientError):
        s3.head_object(Bucket=b, Key="bad")


# --------------------------------------------------------------------------------------------
# durability


def test_buckets_and_objects_survive_a_restart(s3, server):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="small.txt", Body=b"kept", ContentType="text/plain", Metadata={"k": "v"})
    parts = [os.urandom(5 * MIB), os.urandom(321)]
    uid = s3.create_multipart_upload(Bucket=b, Key="multi.bin")["UploadId"]
    etags = [s3.upload_part(Bucket=b, Key="multi.bin", UploadId=uid, PartNumber=n, Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(
        Bucket=b,
        Key="multi.bin",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    pending = s3.create_multipart_upload(Bucket=b, Key="pending")["UploadId"]
    s3.upload_part(Bucket=b, Key="pending", UploadId=pending, PartNumber=1, Body=b"p1")

    server.restart()

    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    got = s3.get_object(Bucket=b, Key="small.txt")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"kept", "text/plain", {"k": "v"})
    got = s3.get_object(Bucket=b, Key="multi.bin")
    assert got["Body"].read() == b"".join(parts) and got["ETag"] == multipart_etag(parts)
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=b)["Contents"]] == ["multi.bin", "small.txt"]
    assert [p["Size"] for p in s3.list_parts(Bucket=b, Key="pending", UploadId=pending)["Parts"]] == [2]
    # The object count survived too: the bucket is not empty until both objects are gone.
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert error_of(e.value)[0] == "BucketNotEmpty"
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "small.txt"}, {"Key": "multi.bin"}]})
    s3.delete_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=b, Key="pending", UploadId=pending)
    assert error_of(e.value)[0] == "NoSuchBucket"


def test_default_presigned_url_downloads_the_object(env):
    """boto3 presigns S3 URLs with SigV2 unless told otherwise; such links work too."""
    import urllib.request

    from harness import client

    s3 = client("s3", env.server.endpoint)
    bucket = unique("presign")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a/b.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"hello presigned"
