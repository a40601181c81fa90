"""SQS on the shared endpoint, as boto3 (JSON protocol), the AWS CLI and older SDKs (query
protocol, XML) use it: queues and their attributes, send / receive / delete, visibility timeouts
and delays under the server clock, long polling woken by sends, batches, FIFO queues, dead-letter
redrive, AWS's error codes and messages, and persistence across a restart."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import ACCOUNT, REGION, client, raw_responses, unique

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture
def sqs(server):
    return client("sqs", server.endpoint)


def qarn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def md5(s: str | bytes) -> str:
    return hashlib.md5(s.encode() if isinstance(s, str) else s).hexdigest()


def md5_of_attributes(attrs: dict) -> str:
    """SQS's MD5 of message attributes, computed independently of the server."""
    buf = b""

    def put(b: bytes):
        nonlocal buf
        buf += struct.pack(">I", len(b)) + b

    for name in sorted(attrs):
        v = attrs[name]
        put(name.encode())
        put(v["DataType"].encode())
        if "BinaryValue" in v:
            buf += b"\x02"
            put(v["BinaryValue"])
        else:
            buf += b"\x01"
            put(v["StringValue"].encode())
    return hashlib.md5(buf).hexdigest()


def error(exc: ClientError) -> dict:
    return {**exc.response["Error"], "Status": exc.response["ResponseMetadata"]["HTTPStatusCode"]}


def attrs(sqs, url, *names) -> dict:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]


def query(endpoint: str, params: dict, path: str = "/", service: str = "sqs") -> tuple[int, ET.Element]:
    """A signed query-protocol POST (form body), as pre-JSON SDKs send it; answers the status and
    the parsed XML."""
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_req, timeout=30) as r:
            assert r.headers["Content-Type"] == "text/xml"
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


# --------------------------------------------------------------------------------------------
# queues


def test_queue_lifecycle_and_attributes(sqs, server, env):
    name = unique("orders")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40", "DelaySeconds": "0"})["QueueUrl"]
    assert url == f"{server.endpoint}/{ACCOUNT}/{name}"
    # Same name, same attributes (defaults included): the same queue.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "5"})
    assert error(e.value) == {
        "Code": "QueueAlreadyExists",
        "QueryErrorCode": "QueueNameExists",
        "Type": "Sender",
        "Message": "A queue already exists with the same name and a different value for attribute DelaySeconds",
        "Status": 400,
    }
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url

    a = attrs(sqs, url)
    now = env.clock()
    assert abs(int(a.pop("CreatedTimestamp")) - now) < 60
    assert abs(int(a.pop("LastModifiedTimestamp")) - now) < 60
    assert a == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "DelaySeconds": "0",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "QueueArn": qarn(name),
        "ReceiveMessageWaitTimeSeconds": "0",
        "SqsManagedSseEnabled": "true",
        "VisibilityTimeout": "40",
    }
    assert attrs(sqs, url, "QueueArn", "VisibilityTimeout") == {"QueueArn": qarn(name), "VisibilityTimeout": "40"}

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "MaximumMessageSize": "2048"})
    assert attrs(sqs, url, "VisibilityTimeout", "MaximumMessageSize") == {
        "VisibilityTimeout": "5",
        "MaximumMessageSize": "2048",
    }
    sqs.tag_queue(QueueUrl=url, Tags={"team": "a", "env": "test"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName=name)
    assert error(e.value) == {
        "Code": "AWS.SimpleQueueService.NonExistentQueue",
        "QueryErrorCode": "QueueDoesNotExist",
        "Type": "Sender",
        "Message": "The specified queue does not exist.",
        "Status": 400,
    }
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    # AWS makes a deleted queue's name wait 60 seconds before it can be used again.
    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as e:
        sqs.create_queue(QueueName=name)
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.QueueDeletedRecently"
    assert e.value.response["Error"]["Message"] == (
        "You must wait 60 seconds after deleting a queue before you can create another with the same name."
    )


def test_queue_name_may_be_reused_after_a_minute(sqs, env):
    name = unique("reuse")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sqs.delete_queue(QueueUrl=url)
    env.advance_clock(61)
    assert sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})["QueueUrl"] == url
    # A new queue: no messages of the old one, the new attributes.
    assert attrs(sqs, url, "ApproximateNumberOfMessages", "DelaySeconds") == {
        "ApproximateNumberOfMessages": "0",
        "DelaySeconds": "1",
    }


def test_list_queues_prefix_and_pages(sqs, server):
    prefix = unique("list")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        sqs.create_queue(QueueName=n)
    urls = [f"{server.endpoint}/{ACCOUNT}/{n}" for n in names]
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))
    seen, token = [], None
    while True:
        kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = sqs.list_queues(**kw)
        assert len(page["QueueUrls"]) <= 2
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == urls
    with pytest.raises(ClientError) as e:
        sqs.list_queues(MaxResults=0)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_queue_url_in_any_host_form(sqs, server):
    name = unique("hosts")
    sqs.create_queue(QueueName=name)
    # The URL follows the host the client addressed.
    local = client("sqs", server.endpoint.replace("127.0.0.1", "localhost"))
    port = server.port
    assert local.get_queue_url(QueueName=name)["QueueUrl"] == f"http://localhost:{port}/{ACCOUNT}/{name}"
    # Any host form of the URL names the same queue.
    for url in (
        f"http://localhost:{port}/{ACCOUNT}/{name}",
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
        f"http://localhost:4566/queue/{REGION}/{ACCOUNT}/{name}",
    ):
        sqs.send_message(QueueUrl=url, MessageBody=url)
    assert attrs(sqs, f"{server.endpoint}/{ACCOUNT}/{name}", "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": "3"
    }
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"http://localhost:{port}/123456789012/{name}", MessageBody="other account")


# --------------------------------------------------------------------------------------------
# messages


def test_send_receive_delete(sqs, env):
    url = sqs.create_queue(QueueName=unique("msgs"))["QueueUrl"]
    mattrs = {
        "General": {"DataType": "String", "StringValue": "Kenobi"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=mattrs)
    assert sent["MD5OfMessageBody"] == md5("msg") == "6e2baaf3b97dbeef01c0043275f9a0e7"
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(mattrs)
    before = env.clock() * 1000

    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == "msg" and m["MD5OfBody"] == md5("msg")
    assert m["MessageAttributes"] == mattrs
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(mattrs)
    a = m["Attributes"]
    assert set(a) == {"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"}
    assert a["ApproximateReceiveCount"] == "1"
    assert abs(int(a["SentTimestamp"]) - before) < 60_000
    assert int(a["ApproximateFirstReceiveTimestamp"]) >= int(a["SentTimestamp"])

    # In flight now: not received again, counted as not visible.
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # Deleting again succeeds, as on AWS.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert attrs(sqs, url, "ApproximateNumberOfMessagesNotVisible") == {"ApproximateNumberOfMessagesNotVisible": "0"}
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert error(e.value)["Message"] == 'The input receipt handle "not-a-handle" is not a valid receipt handle.'


def test_message_attribute_name_filters(sqs):
    url = sqs.create_queue(QueueName=unique("filters"))["QueueUrl"]
    mattrs = {
        "General": {"DataType": "String", "StringValue": "Kenobi"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=mattrs)

    def receive(names):
        m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)["Messages"][0]
        return m.get("MessageAttributes"), m.get("MD5OfMessageAttributes")

    assert receive([]) == (None, None)
    assert receive(["All"]) == (mattrs, "4c360f3fdafd970e05fae2f149d997f5")  # recorded on AWS
    assert receive([".*"]) == (mattrs, "4c360f3fdafd970e05fae2f149d997f5")
    only = {k: mattrs[k] for k in ("Hello",)}
    assert receive(["Hello", "Nope"]) == (only, "a311262e065454b75da111d535b8dacd")  # recorded on AWS
    prefixed = {k: mattrs[k] for k in ("Help.Me",)}
    assert receive(["Help.*"]) == (prefixed, md5_of_attributes(prefixed))
    assert receive(["Nope"]) == (None, None)


def test_visibility_timeout_follows_the_server_clock(sqs, env):
    url = sqs.create_queue(QueueName=unique("vis"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    env.advance_clock(31)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert second["ReceiptHandle"] != first["ReceiptHandle"]

    # ChangeMessageVisibility to 0 makes it receivable at once; a per-receive timeout applies.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=100)["Messages"][0]
    env.advance_clock(31)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    env.advance_clock(70)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"] == third["MessageId"]

    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=43201)
    assert error(e.value) == {
        "Code": "InvalidParameterValue",
        "QueryErrorCode": "InvalidParameterValueException",
        "Type": "Sender",
        "Message": "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, "
        "if provided.",
        "Status": 400,
    }
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=10)
    assert error(e.value)["Code"] == "InvalidParameterValue"
    assert error(e.value)["Message"] == (
        f"Value {third['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
        "or is not available for visibility timeout change."
    )


def test_delay_seconds_follow_the_server_clock(sqs, env):
    url = sqs.create_queue(QueueName=unique("delay"), Attributes={"DelaySeconds": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="long delay", DelaySeconds=600)
    assert attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesDelayed": "2",
    }
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["no delay"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    env.advance_clock(61)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["queue delay"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error(e.value)["Code"] == "InvalidParameterValue"


def test_long_poll_is_woken_by_a_send(sqs):
    url = sqs.create_queue(QueueName=unique("poll"))["QueueUrl"]
    result: dict = {}

    def poll():
        t0 = time.monotonic()
        result["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15).get("Messages", [])
        result["took"] = time.monotonic() - t0

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the long poll returned before anything was sent"
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(timeout=10)
    assert not t.is_alive()
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    assert result["took"] < 5, result

    # Without messages, the poll lasts WaitTimeSeconds (also as the queue's default).
    t0 = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert 0.9 <= time.monotonic() - t0 < 5
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    t0 = time.monotonic()
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert 0.9 <= time.monotonic() - t0 < 5


def test_long_poll_is_woken_by_the_clock(sqs, env):
    url = sqs.create_queue(QueueName=unique("pollclock"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=300)
    result: dict = {}
    t = threading.Thread(
        target=lambda: result.update(r=sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15).get("Messages", []))
    )
    t.start()
    time.sleep(0.5)
    assert t.is_alive()
    env.advance_clock(301)
    t.join(timeout=5)
    assert not t.is_alive()
    assert [m["Body"] for m in result["r"]] == ["later"]


def test_concurrent_receivers_never_share_a_message(sqs, server):
    url = sqs.create_queue(QueueName=unique("race"), Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    for start in range(0, 60, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)]
        )
    got: list[str] = []
    lock = threading.Lock()

    def consume():
        c = client("sqs", server.endpoint)
        while True:
            msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=7).get("Messages", [])
            if not msgs:
                return
            with lock:
                got.extend(m["Body"] for m in msgs)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(got) == sorted(f"m{i}" for i in range(60))


def test_purge_queue(sqs, env):
    url = sqs.create_queue(QueueName=unique("purge"))["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.receive_message(QueueUrl=url)
    sqs.purge_queue(QueueUrl=url)
    assert attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as e:
        sqs.purge_queue(QueueUrl=url)
    name = url.rsplit("/", 1)[1]
    assert error(e.value) == {
        "Code": "AWS.SimpleQueueService.PurgeQueueInProgress",
        "QueryErrorCode": "PurgeQueueInProgress",
        "Type": "Sender",
        "Message": f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.",
        "Status": 403,
    }
    env.advance_clock(61)
    sqs.purge_queue(QueueUrl=url)


def test_a_purge_hides_every_earlier_message_and_keeps_later_ones(sqs):
    """A purge takes effect at once, though the store clears the messages in the background:
    the purged ones are never received again, their handles are gone, and messages sent after
    the purge are served as usual."""
    url = sqs.create_queue(QueueName=unique("purge2"), Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    for i in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=f"old{i}")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    got = []
    for _ in range(5):
        got += [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert set(got) == {"new"}, got
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    assert error(e.value)["Code"] == "InvalidParameterValue"
    assert error(e.value)["Message"] == (
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
        "or is not available for visibility timeout change."
    )
    assert attrs(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"


def test_batches(sqs):
    url = sqs.create_queue(QueueName=unique("batch"))["QueueUrl"]
    res = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "first", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "b", "MessageBody": "second"},
            {"Id": "bad", "MessageBody": "x", "MessageAttributes": {"e": {"DataType": "String", "StringValue": ""}}},
        ],
    )
    assert [s["Id"] for s in res["Successful"]] == ["a", "b"]
    assert res["Successful"][0]["MD5OfMessageBody"] == md5("first")
    assert res["Successful"][0]["MD5OfMessageAttributes"] == md5_of_attributes(
        {"k": {"DataType": "String", "StringValue": "v"}}
    )
    assert "MD5OfMessageAttributes" not in res["Successful"][1]
    assert res["Failed"] == [
        {
            "Id": "bad",
            "SenderFault": True,
            "Code": "InvalidParameterValue",
            "Message": "Message (user) attribute 'e' must contain a non-empty value of type 'String'.",
        }
    ]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["first", "second"]
    handles = {m["Body"]: m["ReceiptHandle"] for m in got}

    res = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "ReceiptHandle": handles["first"], "VisibilityTimeout": 0},
            {"Id": "2", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert res["Successful"] == [{"Id": "1"}]
    assert res["Failed"] == [
        {
            "Id": "2",
            "SenderFault": True,
            "Code": "ReceiptHandleIsInvalid",
            "Message": 'The input receipt handle "garbage" is not a valid receipt handle.',
        }
    ]
    again = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert again["Body"] == "first"
    res = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "x", "ReceiptHandle": again["ReceiptHandle"]},
            {"Id": "y", "ReceiptHandle": handles["second"]},
            {"Id": "z", "ReceiptHandle": "garbage"},
        ],
    )
    assert sorted(s["Id"] for s in res["Successful"]) == ["x", "y"]
    assert [f["Code"] for f in res["Failed"]] == ["ReceiptHandleIsInvalid"]
    assert attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_batch_request_errors(sqs):
    url = sqs.create_queue(QueueName=unique("batcherr"))["QueueUrl"]
    cases = [
        (
            [{"Id": str(i), "MessageBody": "m"} for i in range(20)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            "TooManyEntriesInBatchRequest",
            "Maximum number of entries per request are 10. You have sent 20.",
        ),
        (
            [{"Id": "same", "MessageBody": "m"}, {"Id": "same", "MessageBody": "n"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "BatchEntryIdsNotDistinct",
            "Id same repeated.",
        ),
        (
            [{"Id": "invalid:id", "MessageBody": "m"}],
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
            "It can be at most 80 letters long.",
        ),
        (
            [{"Id": "big1", "MessageBody": "x" * 600_000}, {"Id": "big2", "MessageBody": "y" * 600_000}],
            "AWS.SimpleQueueService.BatchRequestTooLong",
            "BatchRequestTooLong",
            "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes.",
        ),
    ]
    for entries, code, query_code, message in cases:
        with pytest.raises(ClientError) as e:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert error(e.value) == {
            "Code": code,
            "QueryErrorCode": query_code,
            "Type": "Sender",
            "Message": message,
            "Status": 400,
        }
    with pytest.raises(sqs.exceptions.EmptyBatchRequest) as e:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    assert error(e.value)["Message"] == "There should be at least one DeleteMessageBatchRequestEntry in the request."
    # Nothing was enqueued by the failed requests.
    assert attrs(sqs, url, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_request_errors(sqs):
    url = sqs.create_queue(QueueName=unique("errs"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with raw_responses(sqs) as seen:
        with pytest.raises(ClientError) as e:
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error(e.value) == {
        "Code": "InvalidParameterValue",
        "QueryErrorCode": "InvalidParameterValueException",
        "Type": "Sender",
        "Message": "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
        "if provided.",
        "Status": 400,
    }
    status, headers, body = seen[-1]
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert json.loads(body)["__type"].endswith("#InvalidParameterValueException")

    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert error(e.value)["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    )
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char")
    assert error(e.value)["Code"] == "InvalidMessageContents"
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert error(e.value)["Message"] == (
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
    )
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Foo"])
    assert error(e.value) == {
        "Code": "InvalidAttributeName",
        "QueryErrorCode": "InvalidAttributeName",
        "Type": "Sender",
        "Message": "Unknown Attribute Foo.",
        "Status": 400,
    }
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert error(e.value)["Code"] == "InvalidAttributeValue"
    assert error(e.value)["Message"] == "Invalid value for the parameter VisibilityTimeout."
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert error(e.value)["Message"] == "Unknown Attribute FifoQueue."
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="bad name!")
    assert error(e.value)["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}}
        )
    assert error(e.value)["Message"] == (
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    )


def test_oversized_message_default_limit(sqs):
    url = sqs.create_queue(QueueName=unique("big"))["QueueUrl"]
    ok = "x" * 1_048_576
    assert sqs.send_message(QueueUrl=url, MessageBody=ok)["MD5OfMessageBody"] == md5(ok)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody=ok + "x")
    assert error(e.value)["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )


# --------------------------------------------------------------------------------------------
# FIFO queues and dead-letter queues


def test_fifo_queue_order_groups_and_deduplication(sqs):
    name = unique("jobs") + ".fifo"
    url = sqs.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    a = attrs(sqs, url)
    assert a["FifoQueue"] == "true" and a["ContentBasedDeduplication"] == "true"
    assert a["DeduplicationScope"] == "queue" and a["FifoThroughputLimit"] == "perQueue"

    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A") for i in range(3)]
    sent.append(sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B"))
    seqs = [int(s["SequenceNumber"]) for s in sent]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    # A duplicate (same content) within 5 minutes is accepted but not enqueued again.
    dup = sqs.send_message(QueueUrl=url, MessageBody="a0", MessageGroupId="A")
    assert dup["MessageId"] == sent[0]["MessageId"]
    assert attrs(sqs, url, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "4"}

    # One message of group A in flight holds back the rest of A, but not B.
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert first["Body"] == "a0"
    assert first["Attributes"]["MessageGroupId"] == "A"
    assert first["Attributes"]["SequenceNumber"] == sent[0]["SequenceNumber"]
    assert first["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a0").hexdigest()
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b0"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["a1", "a2"]

    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert error(e.value) == {
        "Code": "MissingParameter",
        "QueryErrorCode": "MissingRequiredParameterException",
        "Type": "Sender",
        "Message": "The request must contain the parameter MessageGroupId.",
        "Status": 400,
    }
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="A", DelaySeconds=2)
    assert error(e.value)["Message"] == (
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid "
        "for this queue type."
    )
    plain = sqs.create_queue(QueueName=unique("plainfifo") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g")
    assert error(e.value)["Message"] == (
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
        "explicitly"
    )
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=unique("nofifo"), Attributes={"FifoQueue": "true"})
    assert error(e.value)["Code"] == "InvalidParameterValue"


def test_dead_letter_queue_redrive(sqs, env, server):
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = qarn(dlq.rsplit("/", 1)[1])
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    src = sqs.create_queue(
        QueueName=unique("src"), Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "10"}
    )["QueueUrl"]
    assert json.loads(attrs(sqs, src, "RedrivePolicy")["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 2,
    }
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src)["Messages"][0]["Body"] == "poison"
        env.advance_clock(11)
    # Received maxReceiveCount times: the next receive moves it to the dead-letter queue.
    assert sqs.receive_message(QueueUrl=src).get("Messages", []) == []
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"] and moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == qarn(src.rsplit("/", 1)[1])

    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(
            QueueUrl=src,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": qarn("nope"), "maxReceiveCount": 1})},
        )
    assert error(e.value)["Code"] == "InvalidParameterValue"
    assert error(e.value)["Message"].endswith("Reason: Dead letter target does not exist.")


# --------------------------------------------------------------------------------------------
# the AWS CLI and the query protocol


def test_aws_cli(aws, server):
    name = unique("cli")
    url = aws("sqs", "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=45")["QueueUrl"]
    assert url == f"{server.endpoint}/{ACCOUNT}/{name}"
    assert aws("sqs", "get-queue-url", "--queue-name", name)["QueueUrl"] == url
    assert url in aws("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    assert sent["MD5OfMessageBody"] == md5("from the cli")
    got = aws(
        "sqs", "receive-message", "--queue-url", url, "--attribute-names", "All", "--wait-time-seconds", "1"
    )["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in got] == [(sent["MessageId"], "from the cli")]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    a = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert a["VisibilityTimeout"] == "45" and a["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got[0]["ReceiptHandle"]) is None
    op, msg = aws("sqs", "get-queue-url", "--queue-name", unique("nope"), expect_error="AWS.SimpleQueueService.NonExistentQueue")
    assert (op, msg) == ("GetQueueUrl", "The specified queue does not exist.")
    assert aws("sqs", "delete-queue", "--queue-url", url) is None


def test_query_protocol(server):
    ep = server.endpoint
    name = unique("query")
    status, x = query(
        ep,
        {
            "Action": "CreateQueue",
            "Version": "2012-11-05",
            "QueueName": name,
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "20",
        },
    )
    assert status == 200 and x.tag == "{%s}CreateQueueResponse" % NS["q"]
    url = x.find("q:CreateQueueResult/q:QueueUrl", NS).text
    assert url == f"{ep}/{ACCOUNT}/{name}"
    assert x.find("q:ResponseMetadata/q:RequestId", NS).text

    body = "<b>tags & \"quotes\"</b>\r\nline two"
    status, x = query(
        ep,
        {
            "Action": "SendMessage",
            "Version": "2012-11-05",
            "QueueUrl": url,
            "MessageBody": body,
            "MessageAttribute.1.Name": "color",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "red",
        },
    )
    assert status == 200
    r = x.find("q:SendMessageResult", NS)
    assert r.find("q:MD5OfMessageBody", NS).text == md5(body)
    assert r.find("q:MD5OfMessageAttributes", NS).text == md5_of_attributes(
        {"color": {"DataType": "String", "StringValue": "red"}}
    )
    message_id = r.find("q:MessageId", NS).text

    # Older SDKs address the queue by the request path instead of a QueueUrl parameter.
    status, x = query(
        ep,
        {
            "Action": "ReceiveMessage",
            "Version": "2012-11-05",
            "AttributeName.1": "All",
            "MessageAttributeName.1": "All",
            "MaxNumberOfMessages": "5",
        },
        path=f"/{ACCOUNT}/{name}",
    )
    assert status == 200
    msgs = x.findall("q:ReceiveMessageResult/q:Message", NS)
    assert len(msgs) == 1
    m = msgs[0]
    assert m.find("q:MessageId", NS).text == message_id
    assert m.find("q:Body", NS).text == body  # \r survives the XML round trip
    got_attrs = {a.find("q:Name", NS).text: a.find("q:Value", NS).text for a in m.findall("q:Attribute", NS)}
    assert got_attrs["ApproximateReceiveCount"] == "1" and "SentTimestamp" in got_attrs
    ma = m.find("q:MessageAttribute", NS)
    assert ma.find("q:Name", NS).text == "color"
    assert ma.find("q:Value/q:StringValue", NS).text == "red"
    assert ma.find("q:Value/q:DataType", NS).text == "String"
    handle = m.find("q:ReceiptHandle", NS).text

    status, x = query(
        ep,
        {"Action": "GetQueueAttributes", "Version": "2012-11-05", "QueueUrl": url, "AttributeName.1": "All"},
    )
    a = {e.find("q:Name", NS).text: e.find("q:Value", NS).text for e in x.findall("q:GetQueueAttributesResult/q:Attribute", NS)}
    assert a["VisibilityTimeout"] == "20" and a["ApproximateNumberOfMessagesNotVisible"] == "1"

    status, x = query(
        ep,
        {
            "Action": "SendMessageBatch",
            "Version": "2012-11-05",
            "QueueUrl": url,
            "SendMessageBatchRequestEntry.1.Id": "one",
            "SendMessageBatchRequestEntry.1.MessageBody": "b1",
            "SendMessageBatchRequestEntry.2.Id": "two",
            "SendMessageBatchRequestEntry.2.MessageBody": "b2",
            "SendMessageBatchRequestEntry.2.DelaySeconds": "1000",
        },
    )
    assert status == 200
    ok = x.findall("q:SendMessageBatchResult/q:SendMessageBatchResultEntry", NS)
    assert [e.find("q:Id", NS).text for e in ok] == ["one"]
    bad = x.findall("q:SendMessageBatchResult/q:BatchResultErrorEntry", NS)
    assert [(e.find("q:Id", NS).text, e.find("q:Code", NS).text, e.find("q:SenderFault", NS).text) for e in bad] == [
        ("two", "InvalidParameterValue", "true")
    ]

    status, x = query(ep, {"Action": "DeleteMessage", "Version": "2012-11-05", "QueueUrl": url, "ReceiptHandle": handle})
    assert status == 200 and x.tag == "{%s}DeleteMessageResponse" % NS["q"]
    assert x.find("q:DeleteMessageResult", NS) is None

    # The query protocol's error envelope and wording.
    status, x = query(ep, {"Action": "GetQueueUrl", "Version": "2012-11-05", "QueueName": unique("missing")})
    assert status == 400 and x.tag == "{%s}ErrorResponse" % NS["q"]
    assert x.find("q:Error/q:Type", NS).text == "Sender"
    assert x.find("q:Error/q:Code", NS).text == "AWS.SimpleQueueService.NonExistentQueue"
    assert x.find("q:Error/q:Message", NS).text == "The specified queue does not exist for this wsdl version."
    assert x.find("q:RequestId", NS).text
    status, x = query(ep, {"Action": "NoSuchAction", "Version": "2012-11-05"})
    assert status == 400 and x.find("q:Error/q:Code", NS).text == "InvalidAction"

    status, x = query(ep, {"Action": "ListQueues", "Version": "2012-11-05", "QueueNamePrefix": name})
    assert [u.text for u in x.findall("q:ListQueuesResult/q:QueueUrl", NS)] == [url]
    status, x = query(ep, {"Action": "DeleteQueue", "Version": "2012-11-05", "QueueUrl": url})
    assert status == 200


# --------------------------------------------------------------------------------------------
# persistence


def test_queues_and_messages_survive_a_restart(sqs, env, server):
    name = unique("durable")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    sqs.send_message(QueueUrl=url, MessageBody="two")
    inflight = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert inflight["Body"] == "one"
    before = env.clock()

    server.restart()
    # The clock offset is not persisted; put the server clock back where it was.
    after = env.clock()
    if after < before:
        env.advance_clock(before - after)

    sqs = client("sqs", server.endpoint)
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert attrs(sqs, url, "VisibilityTimeout", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "VisibilityTimeout": "60",
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in other] == ["two"]
    # Receipt handles stay valid across the restart.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=other[0]["ReceiptHandle"])
    env.advance_clock(61)
    back = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["ApproximateReceiveCount"])[
        "Messages"
    ]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in back] == [("one", "2")]
    assert back[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
