"""SNS on the shared endpoint (query protocol, XML) with boto3, the AWS CLI and raw requests:
topics, `sqs` subscriptions, Publish / PublishBatch delivering the standard notification envelope
(or the raw message with RawMessageDelivery), FIFO topics, AWS's errors, and persistence across a
restart."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import ACCOUNT, REGION, UUID_RE, client, unique

NS = {"s": "http://sns.amazonaws.com/doc/2010-03-31/"}
ENVELOPE_KEYS = [
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "UnsubscribeURL",
    "MessageAttributes",
]


@pytest.fixture
def sns(server):
    return client("sns", server.endpoint)


@pytest.fixture
def sqs(server):
    return client("sqs", server.endpoint)


def tarn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def qarn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def error(exc: ClientError) -> tuple[str, int, str]:
    r = exc.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def md5_of_attributes(attrs: dict) -> str:
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


def new_queue(sqs, name: str | None = None, **attrs) -> tuple[str, str]:
    name = name or unique("subq")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url, qarn(name)


def receive_all(sqs, url: str, **kw) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kw).get("Messages", [])


def query(endpoint: str, params: dict) -> tuple[int, ET.Element]:
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), "sns", REGION).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_req, timeout=30) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


# --------------------------------------------------------------------------------------------
# topics


def test_topic_lifecycle(sns):
    name = unique("topic")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Orders"})["TopicArn"]
    assert arn == tarn(name)
    # Idempotent with the same attributes; an error with different ones.
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=name, Attributes={"DisplayName": "Other"})
    assert error(e.value) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )

    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    policy = json.loads(a.pop("Policy"))
    assert policy["Statement"][0]["Resource"] == arn
    assert json.loads(a.pop("EffectiveDeliveryPolicy"))["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert a == {
        "DisplayName": "Orders",
        "Owner": ACCOUNT,
        "SubscriptionsConfirmed": "0",
        "SubscriptionsDeleted": "0",
        "SubscriptionsPending": "0",
        "TopicArn": arn,
    }
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Renamed")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Renamed"
    with pytest.raises(ClientError) as e:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
    assert error(e.value) == ("InvalidParameter", 400, "Invalid parameter: AttributeName")

    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["k1"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k2", "Value": "v2"}]

    listed = []
    kw: dict = {}
    while True:
        page = sns.list_topics(**kw)
        listed += [t["TopicArn"] for t in page["Topics"]]
        if "NextToken" not in page:
            break
        kw = {"NextToken": page["NextToken"]}
    assert arn in listed

    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting again succeeds
    with pytest.raises(sns.exceptions.NotFoundException) as e:
        sns.get_topic_attributes(TopicArn=arn)
    assert error(e.value) == ("NotFound", 404, "Topic does not exist")
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    assert error(e.value) == (
        "InvalidParameter",
        400,
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
    )
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="bad name")
    assert error(e.value) == ("InvalidParameter", 400, "Invalid parameter: Topic Name")


# --------------------------------------------------------------------------------------------
# subscriptions and delivery


def test_publish_delivers_the_notification_envelope(sns, sqs, server):
    topic = sns.create_topic(Name=unique("notify"))["TopicArn"]
    url, queue_arn = new_queue(sqs)
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    assert sub.startswith(topic + ":") and UUID_RE.match(sub.rsplit(":", 1)[1])
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a.pop("SubscriptionPrincipal").startswith(f"arn:aws:iam::{ACCOUNT}:")
    assert a == {
        "ConfirmationWasAuthenticated": "true",
        "Endpoint": queue_arn,
        "Owner": ACCOUNT,
        "PendingConfirmation": "false",
        "Protocol": "sqs",
        "RawMessageDelivery": "false",
        "SubscriptionArn": sub,
        "TopicArn": topic,
    }
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"

    published = sns.publish(
        TopicArn=topic,
        Message='{"hello": "world"}',
        Subject="greeting",
        MessageAttributes={
            "attr1": {"DataType": "Number", "StringValue": "99.12"},
            "bin": {"DataType": "Binary", "BinaryValue": b"\x02\x03\x04"},
        },
    )
    assert UUID_RE.match(published["MessageId"])
    msgs = receive_all(sqs, url, MessageAttributeNames=["All"])
    assert len(msgs) == 1
    raw_body = msgs[0]["Body"]
    assert "MessageAttributes" not in msgs[0]
    # SNS formats the envelope with " : " separators, one member per line.
    assert raw_body.startswith('{\n  "Type" : "Notification",\n  "MessageId" : ')
    body = json.loads(raw_body)
    assert list(body) == ENVELOPE_KEYS
    assert body["MessageId"] == published["MessageId"]
    assert body["TopicArn"] == topic
    assert body["Subject"] == "greeting"
    assert body["Message"] == '{"hello": "world"}'
    assert body["SignatureVersion"] == "1"
    assert base64.b64decode(body["Signature"])
    assert body["SigningCertURL"].endswith(".pem")
    assert body["UnsubscribeURL"].endswith(f"/?Action=Unsubscribe&SubscriptionArn={sub}")
    assert body["MessageAttributes"] == {
        "attr1": {"Type": "Number", "Value": "99.12"},
        "bin": {"Type": "Binary", "Value": "AgME"},
    }
    assert body["Timestamp"].endswith("Z") and len(body["Timestamp"]) == 24

    # Without subject or attributes those members are left out.
    sns.publish(TopicArn=topic, Message="plain")
    body = json.loads(receive_all(sqs, url)[0]["Body"])
    assert list(body) == [k for k in ENVELOPE_KEYS if k not in ("Subject", "MessageAttributes")]


def test_raw_message_delivery(sns, sqs):
    topic = sns.create_topic(Name=unique("raw"))["TopicArn"]
    url, queue_arn = new_queue(sqs)
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "wrongvalue"})
    assert error(e.value) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [wrongvalue]. Must be true or false.",
    )
    sub = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
    mattrs = {
        "attr1": {"DataType": "Number", "StringValue": "99.12"},
        "store": {"DataType": "Binary", "BinaryValue": b"\x02\x03\x04"},
    }
    sns.publish(TopicArn=topic, Message="Test msg", MessageAttributes=mattrs)
    m = receive_all(sqs, url, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "Test msg"
    assert m["MessageAttributes"] == mattrs
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(mattrs)
    # AWS-recorded digest of the single Number attribute.
    sns.publish(TopicArn=topic, Message="again", MessageAttributes={"attr1": mattrs["attr1"]})
    m = receive_all(sqs, url, MessageAttributeNames=["All"])[0]
    assert m["MD5OfMessageAttributes"] == "d302007e9aa062660afc85fd0a482472"

    # Switching raw delivery off brings the envelope back.
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="")
    assert error(e.value)[2] == "Invalid parameter: RawMessageDelivery: Invalid value []. Must be true or false."
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="false")
    sns.publish(TopicArn=topic, Message="wrapped")
    assert json.loads(receive_all(sqs, url)[0]["Body"])["Message"] == "wrapped"


def test_subscriptions_list_and_unsubscribe(sns, sqs):
    topic = sns.create_topic(Name=unique("subs"))["TopicArn"]
    url1, arn1 = new_queue(sqs)
    url2, arn2 = new_queue(sqs)
    s1 = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn1)["SubscriptionArn"]
    s2 = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn2)["SubscriptionArn"]
    # Subscribing the same endpoint again answers the same subscription.
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn1)["SubscriptionArn"] == s1
    by_topic = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(by_topic, key=lambda s: s["SubscriptionArn"]) == sorted(
        [
            {"SubscriptionArn": s1, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": arn1, "TopicArn": topic},
            {"SubscriptionArn": s2, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": arn2, "TopicArn": topic},
        ],
        key=lambda s: s["SubscriptionArn"],
    )
    everything = [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    assert s1 in everything and s2 in everything

    sns.publish(TopicArn=topic, Message="to both")
    assert [json.loads(m["Body"])["Message"] for m in receive_all(sqs, url1)] == ["to both"]
    assert [json.loads(m["Body"])["Message"] for m in receive_all(sqs, url2)] == ["to both"]

    sns.unsubscribe(SubscriptionArn=s1)
    sns.unsubscribe(SubscriptionArn=s1)  # unsubscribing again succeeds
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [s2]
    sns.publish(TopicArn=topic, Message="only two")
    assert receive_all(sqs, url1) == []
    assert [json.loads(m["Body"])["Message"] for m in receive_all(sqs, url2)] == ["only two"]
    with pytest.raises(sns.exceptions.NotFoundException) as e:
        sns.get_subscription_attributes(SubscriptionArn=s1)
    assert error(e.value) == ("NotFound", 404, "Subscription does not exist")

    # Deleting the topic removes its subscriptions.
    sns.delete_topic(TopicArn=topic)
    assert s2 not in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]


def test_subscribe_and_publish_errors(sns, sqs):
    topic = sns.create_topic(Name=unique("errs"))["TopicArn"]
    _, queue_arn = new_queue(sqs)
    cases = [
        (
            dict(TopicArn=topic, Protocol="test-protocol", Endpoint=queue_arn),
            "Invalid parameter: Amazon SNS does not support this protocol string: test-protocol",
        ),
        (
            dict(TopicArn=topic, Protocol="sqs", Endpoint=f"http://localhost/{ACCOUNT}/q"),
            "Invalid parameter: SQS endpoint ARN",
        ),
        (
            dict(TopicArn=topic, Protocol="sqs", Endpoint=qarn("q.fifo")),
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to "
            "standard SNS topics",
        ),
    ]
    for kw, message in cases:
        with pytest.raises(ClientError) as e:
            sns.subscribe(**kw)
        assert error(e.value) == ("InvalidParameter", 400, message)
    with pytest.raises(sns.exceptions.NotFoundException) as e:
        sns.subscribe(TopicArn=tarn(unique("missing")), Protocol="sqs", Endpoint=queue_arn)
    assert error(e.value) == ("NotFound", 404, "Topic does not exist")

    publish_cases = [
        (dict(TopicArn=topic, Message=""), "InvalidParameter", "Invalid parameter: Empty message"),
        (dict(TopicArn=topic, Message="m", Subject=""), "InvalidParameter", "Invalid parameter: Subject"),
        (dict(TopicArn=topic, Message="x" * 262_145), "InvalidParameter", "Invalid parameter: Message too long"),
        (
            dict(TopicArn=topic, Message="m", MessageStructure="json"),
            "InvalidParameter",
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ),
        (
            dict(TopicArn=topic, Message='{"sqs": "x"}', MessageStructure="json"),
            "InvalidParameter",
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (
            dict(TopicArn=topic, Message="m", MessageAttributes={"attr1": {"DataType": "String", "StringValue": ""}}),
            "ParameterValueInvalid",
            "The message attribute 'attr1' must contain non-empty message attribute value for message attribute "
            "type 'String'.",
        ),
        (
            dict(TopicArn=topic, Message="m", MessageAttributes={"attr1": {"DataType": "Binary", "StringValue": "s"}}),
            "ParameterValueInvalid",
            "The message attribute 'attr1' with type 'Binary' must use field 'Binary'.",
        ),
        (
            dict(TopicArn="arn:aws:sns:us-east", Message="m"),
            "InvalidParameter",
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 4",
        ),
    ]
    for kw, code, message in publish_cases:
        with pytest.raises(ClientError) as e:
            sns.publish(**kw)
        assert error(e.value) == (code, 400, message), kw
    with pytest.raises(sns.exceptions.NotFoundException) as e:
        sns.publish(TopicArn=tarn(unique("missing")), Message="m")
    assert error(e.value) == ("NotFound", 404, "Topic does not exist")


def test_message_structure_json_picks_the_sqs_entry(sns, sqs):
    topic = sns.create_topic(Name=unique("structure"))["TopicArn"]
    url, queue_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "d", "sqs": "for queues"}), MessageStructure="json")
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "only default"}), MessageStructure="json")
    assert [m["Body"] for m in receive_all(sqs, url)] == ["for queues", "only default"]


def test_delivery_to_a_missing_queue_goes_to_the_subscription_dlq(sns, sqs):
    topic = sns.create_topic(Name=unique("redrive"))["TopicArn"]
    dlq_url, dlq_arn = new_queue(sqs)
    sub = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=qarn(unique("gone")),
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn
    }
    msg_id = sns.publish(TopicArn=topic, Message="undeliverable")["MessageId"]
    body = json.loads(receive_all(sqs, dlq_url)[0]["Body"])
    assert (body["MessageId"], body["Message"]) == (msg_id, "undeliverable")


def test_fifo_topic(sns, sqs):
    name = unique("orders") + ".fifo"
    topic = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})[
        "TopicArn"
    ]
    assert topic == tarn(name)
    a = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert a["FifoTopic"] == "true" and a["ContentBasedDeduplication"] == "true"
    url, queue_arn = new_queue(
        sqs, unique("fifoq") + ".fifo", FifoQueue="true", ContentBasedDeduplication="false"
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=topic, Message="one", MessageGroupId="g1")
    second = sns.publish(TopicArn=topic, Message="two", MessageGroupId="g1")
    assert int(first["SequenceNumber"]) < int(second["SequenceNumber"])
    # A duplicate within five minutes is accepted, answered with the first id, and not delivered.
    assert sns.publish(TopicArn=topic, Message="one", MessageGroupId="g1")["MessageId"] == first["MessageId"]
    msgs = receive_all(sqs, url, AttributeNames=["MessageGroupId"])
    assert [(m["Body"], m["Attributes"]["MessageGroupId"]) for m in msgs] == [("one", "g1"), ("two", "g1")]

    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="no group")
    assert error(e.value) == (
        "InvalidParameter",
        400,
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
    )
    plain = sns.create_topic(Name=unique("plain") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=plain, Message="m", MessageGroupId="g")
    assert error(e.value)[2] == (
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=unique("nofifo"), Attributes={"FifoTopic": "true"})
    assert error(e.value)[0] == "InvalidParameter"


def test_publish_batch(sns, sqs):
    topic = sns.create_topic(Name=unique("batch"))["TopicArn"]
    url, queue_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    res = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "1", "Message": "first", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x"}}},
            {"Id": "2", "Message": "second"},
            {"Id": "3", "Message": ""},
        ],
    )
    assert [s["Id"] for s in res["Successful"]] == ["1", "2"]
    assert all(UUID_RE.match(s["MessageId"]) for s in res["Successful"])
    assert res["Failed"] == [
        {"Id": "3", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message", "SenderFault": True}
    ]
    msgs = receive_all(sqs, url, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in msgs) == ["first", "second"]
    with pytest.raises(ClientError) as e:
        sns.publish_batch(
            TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)]
        )
    assert error(e.value) == (
        "TooManyEntriesInBatchRequest",
        400,
        "The batch request contains more entries than permissible.",
    )
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "s", "Message": "m"}] * 2)
    assert error(e.value) == (
        "BatchEntryIdsNotDistinct",
        400,
        "Two or more batch entries in the request have the same Id.",
    )
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish_batch(TopicArn=tarn(unique("nope")), PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}])


# --------------------------------------------------------------------------------------------
# the AWS CLI and raw query requests


def test_aws_cli(aws, sqs):
    name = unique("clitopic")
    topic = aws("sns", "create-topic", "--name", name)["TopicArn"]
    assert topic == tarn(name)
    url, queue_arn = new_queue(sqs)
    sub = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", queue_arn)[
        "SubscriptionArn"
    ]
    assert sub.startswith(topic + ":")
    subs = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Endpoint"]) for s in subs] == [(sub, queue_arn)]
    msg_id = aws("sns", "publish", "--topic-arn", topic, "--message", "from the cli", "--subject", "cli")["MessageId"]
    body = json.loads(receive_all(sqs, url)[0]["Body"])
    assert (body["MessageId"], body["Message"], body["Subject"]) == (msg_id, "from the cli", "cli")
    op, msg = aws("sns", "publish", "--topic-arn", tarn(unique("nope")), "--message", "m", expect_error="NotFound")
    assert (op, msg) == ("Publish", "Topic does not exist")
    assert aws("sns", "unsubscribe", "--subscription-arn", sub) is None
    assert aws("sns", "delete-topic", "--topic-arn", topic) is None


def test_raw_query_requests(server, sqs):
    ep = server.endpoint
    name = unique("rawtopic")
    status, x = query(
        ep,
        {
            "Action": "CreateTopic",
            "Version": "2010-03-31",
            "Name": name,
            "Attributes.entry.1.key": "DisplayName",
            "Attributes.entry.1.value": "Raw & <Display>",
        },
    )
    assert status == 200 and x.tag == "{%s}CreateTopicResponse" % NS["s"]
    topic = x.find("s:CreateTopicResult/s:TopicArn", NS).text
    assert topic == tarn(name)
    assert x.find("s:ResponseMetadata/s:RequestId", NS).text

    status, x = query(ep, {"Action": "GetTopicAttributes", "Version": "2010-03-31", "TopicArn": topic})
    entries = {
        e.find("s:key", NS).text: e.find("s:value", NS).text
        for e in x.findall("s:GetTopicAttributesResult/s:Attributes/s:entry", NS)
    }
    assert entries["DisplayName"] == "Raw & <Display>"

    url, queue_arn = new_queue(sqs)
    status, x = query(
        ep,
        {
            "Action": "Subscribe",
            "Version": "2010-03-31",
            "TopicArn": topic,
            "Protocol": "sqs",
            "Endpoint": queue_arn,
            "Attributes.entry.1.key": "RawMessageDelivery",
            "Attributes.entry.1.value": "true",
        },
    )
    assert status == 200
    assert x.find("s:SubscribeResult/s:SubscriptionArn", NS).text.startswith(topic + ":")
    status, x = query(
        ep,
        {
            "Action": "Publish",
            "Version": "2010-03-31",
            "TopicArn": topic,
            "Message": "raw query message",
            "MessageAttributes.entry.1.Name": "color",
            "MessageAttributes.entry.1.Value.DataType": "String",
            "MessageAttributes.entry.1.Value.StringValue": "blue",
        },
    )
    assert status == 200
    assert UUID_RE.match(x.find("s:PublishResult/s:MessageId", NS).text)
    m = receive_all(sqs, url, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "raw query message"
    assert m["MessageAttributes"] == {"color": {"DataType": "String", "StringValue": "blue"}}

    status, x = query(ep, {"Action": "GetTopicAttributes", "Version": "2010-03-31", "TopicArn": tarn(unique("no"))})
    assert status == 404 and x.tag == "{%s}ErrorResponse" % NS["s"]
    assert x.find("s:Error/s:Type", NS).text == "Sender"
    assert x.find("s:Error/s:Code", NS).text == "NotFound"
    assert x.find("s:Error/s:Message", NS).text == "Topic does not exist"
    assert x.find("s:RequestId", NS).text
    status, x = query(ep, {"Action": "NoSuchAction", "Version": "2010-03-31"})
    assert status == 400 and x.find("s:Error/s:Code", NS).text == "InvalidAction"


# --------------------------------------------------------------------------------------------
# persistence


def test_topics_and_subscriptions_survive_a_restart(sns, sqs, server):
    topic = sns.create_topic(Name=unique("durable"), Attributes={"DisplayName": "Durable"})["TopicArn"]
    url, queue_arn = new_queue(sqs)
    sub = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True
    )["SubscriptionArn"]

    server.restart()

    sns = client("sns", server.endpoint)
    sqs = client("sqs", server.endpoint)
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Durable"
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
    sns.publish(TopicArn=topic, Message="after restart")
    assert [m["Body"] for m in receive_all(sqs, url)] == ["after restart"]
