"""The gateway (issue 13): SigV4 authentication in its three modes, AWS's errors for every
refusal in each service's own shape, presigned S3 URLs, services we do not serve, and the
protection from web pages of other origins and from DNS rebinding."""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import AWS_CLI, REGION, ROLE, Tributary, unique, wait_for, zip_bytes
from test_metrics import chromium, headless

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def boto(service: str, endpoint: str, key: str = "test", secret: str = "test", **config):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret,
        config=NO_RETRY.merge(Config(**config)) if config else NO_RETRY,
    )  # fmt: skip


def raw(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """An HTTP request as given (unsigned unless the headers sign it): (status, headers, body)."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def signed(endpoint: str, service: str, target: str | None, body: bytes, key="test", secret="test",
           path="/", method="POST", content_type="application/x-amz-json-1.0", extra=None):  # fmt: skip
    headers = {"Content-Type": content_type, **(extra or {})}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), service, REGION).add_auth(req)
    return raw(endpoint, method, path, body, dict(req.headers.items()))


@contextmanager
def signing_time(delta: datetime.timedelta):
    """botocore signs as if the clock were `delta` away from now."""
    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real() + delta
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = real


def error_code(e: ClientError) -> tuple[str, int, str]:
    err = e.response["Error"]
    return err["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")


@pytest.fixture(scope="module")
def verify_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("verify")
    creds = base / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    srv = Tributary(
        data_dir=base / "data", log_path=base / "tributary.log",
        extra_args=["--auth", "verify", "--credentials", str(creds), "--in-memory"],
    )  # fmt: skip
    srv.start()
    yield srv
    srv.stop_cleanly()


# --------------------------------------------------------------------------------------------
# open (the default on loopback): any credentials, but signed


def test_open_accepts_any_credentials(server):
    for key, secret in [("test", "test"), ("fake", "fake"), ("AKIAIOSFODNN7EXAMPLE", "whatever")]:
        assert "TableNames" in boto("dynamodb", server.endpoint, key, secret).list_tables()
        boto("sqs", server.endpoint, key, secret).list_queues()
        boto("s3", server.endpoint, key, secret).list_buckets()
        boto("lambda", server.endpoint, key, secret).list_functions()


def test_open_refuses_unsigned_requests_in_each_protocol(server):
    ep = server.endpoint
    status, h, body = raw(ep, "POST", "/", b"{}", {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})  # fmt: skip
    assert status == 400, body
    assert json.loads(body) == {
        "__type": "MissingAuthenticationTokenException", "message": "Request is missing Authentication Token"}  # fmt: skip
    assert "x-amz-crc32" in h

    status, _, body = raw(ep, "POST", "/", b"Action=ListQueues&Version=2012-11-05",
                          {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in body and b"<ErrorResponse" in body

    status, _, body = raw(ep, "GET", "/2015-03-31/functions/")
    assert status == 403
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"

    status, _, body = raw(ep, "GET", "/some-bucket/key")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body

    # Admin endpoints are not AWS and need no signature.
    assert raw(ep, "GET", "/_tributary/health")[0] == 200


def test_open_refuses_a_malformed_signature(server):
    status, _, body = raw(server.endpoint, "POST", "/", b"{}", {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request",
        "X-Amz-Date": "20240101T000000Z",
    })  # fmt: skip
    assert status == 400
    err = json.loads(body)
    assert err["__type"] == "IncompleteSignatureException", err
    assert "Signature" in err["message"] and "SignedHeaders" in err["message"]


# --------------------------------------------------------------------------------------------
# verify


def test_verify_accepts_known_credentials(verify_server):
    ep = verify_server.endpoint
    boto("dynamodb", ep).list_tables()
    c = boto("dynamodb", ep, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    name = unique("t")
    c.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    c.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x" * 2000}})
    assert c.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]["v"]["S"] == "x" * 2000
    boto("sns", ep).list_topics()
    boto("sqs", ep).list_queues()
    boto("logs", ep).describe_log_groups()
    boto("cloudwatch", ep).list_metrics()


def test_verify_refuses_a_wrong_secret_in_each_shape(verify_server):
    ep = verify_server.endpoint
    with pytest.raises(ClientError) as e:
        boto("dynamodb", ep, "test", "wrong").list_tables()
    code, status, msg = error_code(e.value)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert msg.startswith("The request signature we calculated does not match the signature you provided.")

    with pytest.raises(ClientError) as e:
        boto("sns", ep, "test", "wrong").list_topics()
    assert error_code(e.value)[:2] == ("SignatureDoesNotMatch", 403)

    with pytest.raises(ClientError) as e:
        boto("s3", ep, "test", "wrong").list_buckets()
    assert error_code(e.value)[:2] == ("SignatureDoesNotMatch", 403)

    with pytest.raises(ClientError) as e:
        boto("lambda", ep, "test", "wrong").list_functions()
    assert error_code(e.value)[:2] == ("InvalidSignatureException", 403)


def test_verify_refuses_an_unknown_key_in_each_shape(verify_server):
    ep = verify_server.endpoint
    with pytest.raises(ClientError) as e:
        boto("dynamodb", ep, "AKIANOTKNOWN", "x").list_tables()
    assert error_code(e.value) == ("UnrecognizedClientException", 400, "The security token included in the request is invalid.")
    with pytest.raises(ClientError) as e:
        boto("sqs", ep, "AKIANOTKNOWN", "x").list_queues()
    assert error_code(e.value)[1] in (400, 403)
    assert "InvalidClientTokenId" in error_code(e.value)[0]
    with pytest.raises(ClientError) as e:
        boto("s3", ep, "AKIANOTKNOWN", "x").list_buckets()
    assert error_code(e.value)[:2] == ("InvalidAccessKeyId", 403)


def test_verify_refuses_expired_and_future_signatures(verify_server):
    ep = verify_server.endpoint
    with signing_time(datetime.timedelta(minutes=-20)):
        with pytest.raises(ClientError) as e:
            boto("dynamodb", ep).list_tables()
    code, status, msg = error_code(e.value)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert msg.startswith("Signature expired: ") and "15 min." in msg, msg
    with signing_time(datetime.timedelta(minutes=20)):
        with pytest.raises(ClientError) as e:
            boto("dynamodb", ep).list_tables()
    assert error_code(e.value)[2].startswith("Signature not yet current: ")
    with signing_time(datetime.timedelta(minutes=10)):  # inside the 15 minutes of skew
        boto("dynamodb", ep).list_tables()


def test_verify_refuses_unsigned_requests(verify_server):
    status, _, body = raw(verify_server.endpoint, "POST", "/", b"{}", {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})  # fmt: skip
    assert status == 400 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"


def test_verify_checks_the_body(verify_server):
    """A body changed after signing fails the signature."""
    ep = verify_server.endpoint
    body = json.dumps({"Limit": 5}).encode()
    req = AWSRequest(method="POST", url=ep + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})  # fmt: skip
    SigV4Auth(Credentials("test", "test"), "dynamodb", REGION).add_auth(req)
    assert raw(ep, "POST", "/", body, dict(req.headers.items()))[0] == 200
    status, _, out = raw(ep, "POST", "/", json.dumps({"Limit": 6}).encode(), dict(req.headers.items()))
    assert status == 400 and json.loads(out)["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_presigned_s3_get_works_and_a_tampered_one_is_refused(verify_server, signature_version):
    ep = verify_server.endpoint
    s3 = boto("s3", ep, signature_version=signature_version, s3={"addressing_style": "path"})
    bucket = unique("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello world.txt", Body=b"presigned!")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello world.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"presigned!"
    tampered = url.replace("hello%20world.txt", "hello%20world.txu")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    wrong = boto("s3", ep, "test", "nope", signature_version=signature_version, s3={"addressing_style": "path"})
    bad = wrong.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello world.txt"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=10)
    assert e.value.code == 403


def test_presigned_s3_url_expires(verify_server):
    ep = verify_server.endpoint
    s3 = boto("s3", ep, signature_version="s3v4", s3={"addressing_style": "path"})
    bucket = unique("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with signing_time(datetime.timedelta(minutes=-10)):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 403
    body = e.value.read()
    assert b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_s3_uploads_with_signed_chunks_verify(verify_server):
    """The AWS CLI and boto3 upload with aws-chunked bodies (signed or with checksum
    trailers); both must pass under verify."""
    ep = verify_server.endpoint
    s3 = boto("s3", ep, s3={"addressing_style": "path"})
    bucket = unique("b")
    s3.create_bucket(Bucket=bucket)
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


def test_the_aws_cli_works_under_verify(verify_server, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}  # fmt: skip
    ep = f"--endpoint-url={verify_server.endpoint}"
    out = subprocess.run([str(AWS_CLI), ep, "dynamodb", "list-tables"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    (tmp_path / "f.txt").write_text("from the cli\n" * 1000)
    bucket = unique("cli")
    for args in (["s3", "mb", f"s3://{bucket}"], ["s3", "cp", str(tmp_path / "f.txt"), f"s3://{bucket}/f.txt"]):
        out = subprocess.run([str(AWS_CLI), ep, *args], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
    bad = {**env, "AWS_SECRET_ACCESS_KEY": "wrong"}
    out = subprocess.run([str(AWS_CLI), ep, "dynamodb", "list-tables"], capture_output=True, text=True, env=bad, timeout=60)
    assert out.returncode != 0 and "InvalidSignatureException" in out.stderr, out.stderr


# --------------------------------------------------------------------------------------------
# the JavaScript SDK v3

JS_CACHE = Path(os.environ.get("TRIBUTARY_TEST_CACHE", Path.home() / ".cache" / "tributary-tests")) / "aws-sdk-js-v3"
JS_PACKAGES = ["@aws-sdk/client-dynamodb@3", "@aws-sdk/client-lambda@3", "@aws-sdk/client-s3@3"]

JS_SCRIPT = """
const { DynamoDBClient, CreateTableCommand, PutItemCommand, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const { LambdaClient, ListFunctionsCommand } = require("@aws-sdk/client-lambda");
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");
const [endpoint, secret, table, bucket] = process.argv.slice(2);
const cfg = { endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: secret }, maxAttempts: 1 };
(async () => {
  const ddb = new DynamoDBClient(cfg);
  try {
    await ddb.send(new CreateTableCommand({ TableName: table, BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }] }));
    await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: "js" }, n: { N: "7" } } }));
    const got = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: "js" } } }));
    const fns = await new LambdaClient(cfg).send(new ListFunctionsCommand({}));
    const s3 = new S3Client({ ...cfg, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "from js" }));
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }));
    console.log(JSON.stringify({ n: got.Item.n.N, functions: Array.isArray(fns.Functions), body: await obj.Body.transformToString() }));
  } catch (e) {
    console.log(JSON.stringify({ error: e.name, status: e.$metadata && e.$metadata.httpStatusCode }));
  }
})();
"""


@pytest.fixture(scope="module")
def aws_sdk_js() -> Path:
    """The JavaScript SDK v3 clients, installed once from npm into a cache dir."""
    stamp = JS_CACHE / "installed"
    if stamp.is_file() and stamp.read_text() == " ".join(JS_PACKAGES):
        return JS_CACHE
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH, so the JavaScript SDK cannot be installed")
    JS_CACHE.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([npm, "install", "--prefix", str(JS_CACHE), "--no-audit", "--no-fund", *JS_PACKAGES],
                       capture_output=True, text=True, timeout=900)  # fmt: skip
    assert p.returncode == 0, f"npm install of the JavaScript SDK failed:\n{p.stderr[-3000:]}"
    stamp.write_text(" ".join(JS_PACKAGES))
    return JS_CACHE


@pytest.mark.timeout(1200)  # room for npm to install the SDK on a fresh machine
def test_the_javascript_sdk_v3_works_under_verify(verify_server, aws_sdk_js, tmp_path):
    script = aws_sdk_js / "gateway_check.js"
    script.write_text(JS_SCRIPT)

    def run(secret: str) -> dict:
        p = subprocess.run(["node", str(script), verify_server.endpoint, secret, unique("js"), unique("js")],
                           capture_output=True, text=True, timeout=120, cwd=aws_sdk_js)  # fmt: skip
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    assert run("test") == {"n": "7", "functions": True, "body": "from js"}
    assert run("wrong") == {"error": "InvalidSignatureException", "status": 400}


# --------------------------------------------------------------------------------------------
# services and operations we do not serve


def test_services_we_do_not_serve_answer_in_their_own_protocol(server):
    ep = server.endpoint
    cases = [
        # Query-protocol services (IAM was one until issue 14 served it).
        ("rds", lambda c: c.describe_db_instances()),
        ("elasticache", lambda c: c.describe_cache_clusters()),
        ("kinesis", lambda c: c.list_streams()),
        ("ec2", lambda c: c.describe_instances()),
        ("route53", lambda c: c.list_hosted_zones()),
        ("secretsmanager", lambda c: c.list_secrets()),
    ]
    for service, call in cases:
        c = boto3.client(service, endpoint_url=ep, region_name=REGION, aws_access_key_id="test",
                         aws_secret_access_key="test")  # fmt: skip
        with pytest.raises(ClientError) as e:
            call(c)
        code, status, msg = error_code(e.value)
        assert (code, status) == ("NotImplemented", 501), (service, e.value.response)
        assert f"'{service}'" in msg and "not served" in msg, msg
        assert e.value.response["ResponseMetadata"]["RetryAttempts"] == 0, service


def test_unknown_operations_of_served_services(server):
    ep = server.endpoint
    status, _, body = signed(ep, "dynamodb", "DynamoDB_20120810.Frobnicate", b"{}")
    assert status == 400 and "UnknownOperationException" in json.loads(body)["__type"]
    status, _, body = signed(ep, "sqs", None, b"Action=Frobnicate&Version=2012-11-05",
                             content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert status == 400 and b"<Code>InvalidAction</Code>" in body, body
    status, _, body = signed(ep, "iam", None, b"Action=Frobnicate&Version=2010-05-08",
                             content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert status == 400 and b"<Code>InvalidAction</Code>" in body, body


# --------------------------------------------------------------------------------------------
# web pages of other origins, and DNS rebinding


def test_a_foreign_origin_is_refused_before_any_service_runs(server):
    ep = server.endpoint
    name = unique("evil")
    body = json.dumps({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "h.h",
                       "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}).encode()  # fmt: skip
    req = AWSRequest(method="POST", url=ep + "/2015-03-31/functions", data=body,
                     headers={"Content-Type": "text/plain", "Origin": "http://127.0.0.1:8000"})  # fmt: skip
    SigV4Auth(Credentials("test", "test"), "lambda", REGION).add_auth(req)
    status, headers, out = raw(ep, "POST", "/2015-03-31/functions", body, dict(req.headers.items()))
    assert status == 403, out
    assert "access-control-allow-origin" not in headers
    with pytest.raises(ClientError):
        boto("lambda", ep).get_function(FunctionName=name)
    # A preflight from that origin is refused too, without CORS headers.
    status, headers, _ = raw(ep, "OPTIONS", "/", headers={
        "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target,authorization"})  # fmt: skip
    assert status == 403 and "access-control-allow-origin" not in headers
    # A cross-site request without Origin (an <img>, a form GET) is refused as well.
    status, _, _ = raw(ep, "GET", "/_tributary/status", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403


def test_a_rebinding_host_is_refused(server):
    status, _, body = raw(server.endpoint, "GET", "/_tributary/status", headers={"Host": "attacker.example:4566"})
    assert status == 403 and b"attacker.example" in body
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})  # fmt: skip
    SigV4Auth(Credentials("test", "test"), "dynamodb", REGION).add_auth(req)
    headers = {**dict(req.headers.items()), "Host": "rebind.attacker.example"}
    assert raw(server.endpoint, "POST", "/", b"{}", headers)[0] == 403
    for ok in ("localhost", "127.0.0.1", "bucket.localhost"):
        assert raw(server.endpoint, "GET", "/_tributary/health", headers={"Host": f"{ok}:{server.port}"})[0] == 200


def test_an_allowed_origin_gets_cors_answers(tmp_path):
    srv = Tributary(data_dir=tmp_path / "d", log_path=tmp_path / "log",
                    extra_args=["--in-memory", "--cors-origin", "http://localhost:3000"])  # fmt: skip
    srv.start()
    try:
        status, headers, _ = raw(srv.endpoint, "OPTIONS", "/", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,authorization,content-type"})  # fmt: skip
        assert status == 200
        assert headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "x-amz-target" in headers["access-control-allow-headers"]
        status, headers, _ = signed(srv.endpoint, "dynamodb", "DynamoDB_20120810.ListTables", b"{}",
                                    extra={"Origin": "http://localhost:3000"})  # fmt: skip
        assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "x-amzn-requestid" in headers["access-control-expose-headers"]
        status, _, _ = signed(srv.endpoint, "dynamodb", "DynamoDB_20120810.ListTables", b"{}",
                              extra={"Origin": "http://localhost:3001"})  # fmt: skip
        assert status == 403
    finally:
        srv.stop_cleanly()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


EVIL_PAGE = """<!doctype html><html><body><pre id="out">running</pre><script>
const target = "%(endpoint)s";
const results = {};
async function attempt(name, url, init) {
  try { const r = await fetch(url, init); results[name] = "status " + r.status; }
  catch (e) { results[name] = "blocked"; }
}
(async () => {
  // A "simple" cross-origin request: no preflight, so only the server can stop it.
  await attempt("create", target + "/2015-03-31/functions", {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"},
    body: JSON.stringify({FunctionName: "%(name)s", Runtime: "python3.12", Role: "%(role)s",
      Handler: "h.h", Code: {ZipFile: "%(zip)s"}})});
  // With the headers a real SDK call needs: a preflight, which must fail.
  await attempt("read", target + "/", {method: "POST",
    headers: {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem",
      "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"},
    body: JSON.stringify({TableName: "%(table)s", Key: {pk: {S: "secret"}}})});
  document.getElementById("out").textContent = "done " + JSON.stringify(results);
})();
</script></body></html>"""


@pytest.mark.timeout(1500)  # room to install chromium on a fresh machine
def test_a_page_on_another_local_port_cannot_create_a_function_or_read_an_item(server, tmp_path):
    browser = chromium()
    ddb = boto("dynamodb", server.endpoint)
    table = unique("secret")
    ddb.create_table(
        TableName=table, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    ddb.put_item(TableName=table, Item={"pk": {"S": "secret"}, "v": {"S": "the secret value"}})
    name = unique("evil")
    page = EVIL_PAGE % {
        "endpoint": server.endpoint, "name": name, "role": ROLE, "table": table,
        "zip": base64.b64encode(zip_bytes({"h.py": "def h(e, c):\n    return 1\n"})).decode(),
    }  # fmt: skip
    (tmp_path / "index.html").write_text(page)
    handler = partial(_QuietHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        p = headless(browser, tmp_path / "profile", "--dump-dom", url)
        assert p.returncode == 0, p.stderr[-2000:]
        assert "done " in p.stdout, p.stdout[-2000:]
        assert "the secret value" not in p.stdout
    finally:
        httpd.shutdown()
    lam = boto("lambda", server.endpoint)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert error_code(e.value)[0] == "ResourceNotFoundException"
